#!/usr/bin/env bash
# One idempotent set-up step for every command of this project: makes a wasm32 build
# possible, installs the pinned build tools and the npm packages, and writes
# .tools/env.sh, which scripts/build.sh sources. Each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

WORKER_BUILD_VERSION=0.8.7
log() { printf '[setup] %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
mkdir -p .tools

# --- npm packages (wrangler, workerd, esbuild, binaryen, test tools) ---------------------
if [ ! -f node_modules/.package-lock.json ] || ! cmp -s <(node -e 'const l=require("./package-lock.json");console.log(JSON.stringify(l.packages))') .tools/npm.stamp 2>/dev/null; then
  log "installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  node -e 'const l=require("./package-lock.json");console.log(JSON.stringify(l.packages))' > .tools/npm.stamp
fi

# --- a Rust toolchain that can build wasm32-unknown-unknown ------------------------------
# rustup's own target when it is there or can be downloaded; otherwise Debian's rustc-web
# with its library source, building std from source (-Zbuild-std).
wasm_mode=$(cat .tools/wasm-mode 2>/dev/null || true)
if [ -z "$wasm_mode" ]; then
  if rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    wasm_mode=rustup
  elif timeout 45 rustup target add wasm32-unknown-unknown >/dev/null 2>&1; then
    wasm_mode=rustup
  else
    log "rustup cannot add wasm32-unknown-unknown here; using Debian's rustc-web and -Zbuild-std"
    wasm_mode=build-std
  fi
fi
if [ "$wasm_mode" = build-std ]; then
  if ! dpkg -s rustc-web cargo-web rust-web-src lld-22 >/dev/null 2>&1; then
    log "installing Debian's rustc-web, cargo-web, rust-web-src and lld-22"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rustc-web cargo-web rust-web-src lld-22 >/dev/null
  fi
  if ! rustup toolchain list | grep -q '^debian'; then
    rustup toolchain link debian "$(dirname "$(dirname "$(readlink -f /usr/bin/rustc)")")"
  fi
  # worker-build checks that the target's library folder exists; with build-std it is empty.
  libdir=$(rustc +debian --print target-libdir --target wasm32-unknown-unknown)
  [ -d "$libdir" ] || as_root mkdir -p "$libdir"
fi
echo "$wasm_mode" > .tools/wasm-mode

# --- worker-build and wasm-bindgen-cli, pinned -------------------------------------------
install_crate() { # name version binary
  if "$3" --version 2>/dev/null | grep -qE "(^| )$2( |\$)"; then return; fi
  log "installing $1 $2 (several minutes, once)"
  cargo install "$1" --version "$2" --locked --quiet 2>/dev/null \
    || cargo install "$1" --version "$2" --quiet
}
cargo_bin="${CARGO_HOME:-$HOME/.cargo}/bin"
install_crate worker-build "$WORKER_BUILD_VERSION" "$cargo_bin/worker-build"
bindgen_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
install_crate wasm-bindgen-cli "$bindgen_version" "$cargo_bin/wasm-bindgen"

# --- Chromium for the page tests: Debian's package (a test tool's own browser download
# cannot work here); tests/helpers/chromium.mjs finds it on PATH ------------------------
if ! command -v chromium >/dev/null 2>&1; then
  log "installing Debian's chromium (for the page tests)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

# --- the build environment ---------------------------------------------------------------
root=$(pwd)
{
  echo "# written by scripts/setup.sh; sourced by scripts/build.sh"
  echo "export PATH=\"$cargo_bin:\$PATH\""
  echo "export WASM_BINDGEN_BIN=\"$cargo_bin/wasm-bindgen\""
  echo "export WASM_OPT_BIN=\"$root/node_modules/.bin/wasm-opt\""
  echo "export ESBUILD_BIN=\"$root/node_modules/.bin/esbuild\""
  if [ "$wasm_mode" = build-std ]; then
    echo "export RUSTUP_TOOLCHAIN=debian RUSTC_BOOTSTRAP=1 CARGO_UNSTABLE_BUILD_STD=std,panic_abort"
  fi
} > .tools/env.sh
log "ready ($wasm_mode)"
