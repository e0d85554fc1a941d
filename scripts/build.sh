#!/usr/bin/env bash
# Builds the release Worker into build/ (index.js + index_bg.wasm). wrangler.toml's
# [build] command runs this, so `wrangler dev` and `wrangler deploy` build the same way.
# A build whose inputs are all unchanged since the last one is skipped (FORCE_BUILD=1
# builds anyway), so a second `npm run dev` answers in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f .tools/env.sh ] || bash scripts/setup.sh
# shellcheck source=/dev/null
source .tools/env.sh

# Everything the build reads: the sources and pages (by content, tracked or not), the
# manifests, the toolchain and tools it runs, the build environment and its arguments.
inputs_hash() {
  {
    find src templates -type f -print0 | sort -z | xargs -0 sha256sum
    sha256sum Cargo.toml Cargo.lock scripts/build.sh .tools/env.sh
    rustc --version
    worker-build --version 2>/dev/null || true
    "$WASM_OPT_BIN" --version 2>/dev/null || true
    printf 'args:%s\n' "$*"
  } | sha256sum | cut -d' ' -f1
}
stamp=build/.inputs
hash=$(inputs_hash "$@")
if [ "${FORCE_BUILD:-}" != 1 ] && [ -f build/index.js ] && [ -f build/index_bg.wasm ] \
  && [ "$(cat "$stamp" 2>/dev/null)" = "$hash" ]; then
  echo "[build] nothing changed since the last build (build/.inputs); skipped (FORCE_BUILD=1 builds anyway)" >&2
  exit 0
fi
rm -f "$stamp"
worker-build --release "$@"
# worker-build's own wasm-opt pass keeps the name section (debug names, ~130 KB); strip
# it and the producers section, which nothing at run time reads.
"$WASM_OPT_BIN" build/index_bg.wasm -Oz --strip-debug --strip-producers -o build/index_bg.wasm
echo "$hash" > "$stamp"
