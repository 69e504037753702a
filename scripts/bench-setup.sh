#!/usr/bin/env bash
# Installs what `npm run bench:overhead` needs besides the repo's own packages, outside the
# repo's node_modules: wrk (Debian package) and Portkey's gateway under the git-ignored .bench/.
# Safe to run again: it skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

PORTKEY_VERSION=1.15.2

if ! command -v wrk >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then echo "bench-setup: wrk missing; run as root or: sudo apt-get install -y wrk" >&2; exit 1; fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
echo "wrk: $(wrk --version 2>&1 | head -1 | cut -c1-40)"

pk=.bench/portkey/node_modules/@portkey-ai/gateway/package.json
if [ ! -f "$pk" ] || ! grep -q "\"version\": \"$PORTKEY_VERSION\"" "$pk"; then
  mkdir -p .bench/portkey
  # --prefix keeps it out of the repo's node_modules; its postinstall (patch-package) is not needed.
  npm install --prefix .bench/portkey --no-audit --no-fund --ignore-scripts "@portkey-ai/gateway@$PORTKEY_VERSION" >/dev/null
fi
echo "portkey: $(node -p "require('./$pk').version")"
