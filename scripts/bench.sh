#!/usr/bin/env bash
# `npm run bench`: builds the release Worker and the no-op floor Worker the same way, makes
# sure wrk is there (Debian's package), and runs tests/bench/bench.mjs, which writes
# tests/bench/RESULTS.md. BENCH_SECONDS (default 10) and BENCH_WARMUP_SECONDS (default 2)
# set the length of each run.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
bash scripts/setup.sh
pick_node
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
if ! command -v wrk >/dev/null 2>&1; then
  echo "[bench] installing Debian's wrk" >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi

echo "[bench] building the Worker" >&2
bash scripts/build.sh >/dev/null 2>&1 || bash scripts/build.sh
echo "[bench] building the floor Worker" >&2
# shellcheck source=/dev/null
source .tools/env.sh
(
  cd tests/bench/floor
  worker-build --release >/dev/null 2>&1 || worker-build --release
  "$WASM_OPT_BIN" build/index_bg.wasm -Oz --strip-debug --strip-producers -o build/index_bg.wasm
)
exec "$NODE" tests/bench/bench.mjs
