#!/usr/bin/env bash
# `wrangler deploy --dry-run`: bundles the Worker exactly as a deployment would and prints
# the upload size that wrangler reports (the budget is 250 KiB gzipped).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
pick_node
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
wrangler deploy --dry-run --outdir "$out" 2>&1 | tee "$out/log" | grep -E 'Total Upload|--dry-run' || true
grep -q 'Total Upload' "$out/log" || { cat "$out/log"; exit 1; }
