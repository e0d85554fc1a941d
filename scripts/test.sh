#!/usr/bin/env bash
# `npm test`: set-up, native checks and unit tests, the release build, then every
# end-to-end test against the built Worker in workerd. Each runner prints its summary.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/lib.sh
pick_node

echo "== cargo fmt --check"
cargo fmt --check
echo "== cargo clippy --all-targets --features differential -- -D warnings"
cargo clippy --quiet --all-targets --features differential -- -D warnings
echo "== cargo test --features differential (native unit, contract and differential tests)"
cargo test --quiet --features differential

echo "== release build (wasm32)"
bash scripts/build.sh >.tools/build.log 2>&1 || { cat .tools/build.log; exit 1; }
tail -n 3 .tools/build.log

echo "== wrangler deploy --dry-run"
bash scripts/dry-run.sh

echo "== end-to-end tests (node --test, workerd via Miniflare)"
"$NODE" --test --test-reporter=spec --test-concurrency=1 "tests/*.test.mjs"
