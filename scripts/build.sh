#!/usr/bin/env bash
# Builds the release Worker into build/ (index.js + index_bg.wasm). wrangler.toml's
# [build] command runs this, so `wrangler dev` and `wrangler deploy` build the same way.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f .tools/env.sh ] || bash scripts/setup.sh
# shellcheck source=/dev/null
source .tools/env.sh
worker-build --release "$@"
# worker-build's own wasm-opt pass keeps the name section (debug names, ~130 KB); strip
# it and the producers section, which nothing at run time reads.
"$WASM_OPT_BIN" build/index_bg.wasm -Oz --strip-debug --strip-producers -o build/index_bg.wasm
