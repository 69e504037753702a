#!/usr/bin/env bash
# Optional parts that the default install leaves out, needed by the test suite and by
# deployments that configure them. Run after `npm ci` / `npm install` (which remove them).
#  - node-llama-cpp 3.21.1 for the in-process `llama-cpp` backend kind: the CPU build for this
#    platform only (~79 MB; a plain install also pulls CUDA/Vulkan builds, ~720 MB). Its
#    postinstall is not needed: the prebuilt binary loads as is.
#    `--omit=optional` would also drop esbuild's platform binary (used by tsx), so it is named
#    explicitly at its installed version.
set -euo pipefail
cd "$(dirname "$0")/.."
case "$(node -p 'process.platform + "-" + process.arch')" in
  linux-x64) platform_pkg="@node-llama-cpp/linux-x64@3.21.1" ;;
  linux-arm64) platform_pkg="@node-llama-cpp/linux-arm64@3.21.1" ;;
  darwin-arm64) platform_pkg="@node-llama-cpp/mac-arm64-metal@3.21.1" ;;
  *) echo "install-optional: no prebuilt node-llama-cpp for this platform; skipping" >&2; exit 0 ;;
esac
extra=()
if [ -d node_modules/esbuild ]; then
  esbuild_version=$(node -p "require('esbuild/package.json').version")
  extra+=("@esbuild/$(node -p 'process.platform + "-" + process.arch')@${esbuild_version}")
fi
npm install --no-save --no-audit --no-fund --omit=optional node-llama-cpp@3.21.1 "$platform_pkg" "${extra[@]}"
