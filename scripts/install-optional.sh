#!/usr/bin/env bash
# Optional parts that the default install leaves out, needed by the test suite:
#  - node-llama-cpp (the in-process `llama-cpp` backend kind), CPU build for this platform only.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "optional: nothing to install yet"
