#!/usr/bin/env bash
# `npm run dev`: set-up on a fresh clone (toolchain, npm packages, a local signing key in
# the git-ignored .dev.vars, local D1 migrations, the demo user), then `wrangler dev` on
# http://127.0.0.1:8787.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/lib.sh
pick_node

if ! grep -q '^JWT_SIGNING_KEY=' .dev.vars 2>/dev/null; then
  key=$("$NODE" -e 'process.stdout.write(require("crypto").generateKeyPairSync("ed25519").privateKey.export({format:"jwk"}).d)')
  printf 'JWT_SIGNING_KEY=%s\n' "$key" >> .dev.vars
  chmod 600 .dev.vars
  echo "[dev] wrote a new local signing key to .dev.vars"
fi

if ! grep -q '^OIDC_SIGNING_KEY=' .dev.vars 2>/dev/null; then
  # The RS256 key of ID tokens, a private JWK in single quotes (dotenv keeps JSON as is).
  key=$("$NODE" -e 'process.stdout.write(JSON.stringify(require("crypto").generateKeyPairSync("rsa",{modulusLength:2048}).privateKey.export({format:"jwk"})))')
  printf "OIDC_SIGNING_KEY='%s'\n" "$key" >> .dev.vars
  chmod 600 .dev.vars
  echo "[dev] wrote a new local ID-token key (RS256) to .dev.vars"
fi

echo "[dev] applying D1 migrations to the local database"
CI=true wrangler d1 migrations apply DB --local >/dev/null
if [ -f scripts/user.mjs ]; then
  "$NODE" scripts/user.mjs seed-demo --local
fi

port=${PORT:-8787}
cat <<MSG

  MCP server URL (paste into a client):  http://127.0.0.1:$port/mcp
  Authorization server metadata:          http://127.0.0.1:$port/.well-known/oauth-authorization-server

MSG
# ISSUER is emptied for local work, so that after `npm run setup:cloudflare` (which sets it
# to the deployed https origin) the local server still names itself by its local origin.
exec env WRANGLER_SEND_METRICS=false "$NODE" node_modules/wrangler/bin/wrangler.js dev \
  --ip 127.0.0.1 --port "$port" --var "ISSUER:" --test-scheduled "$@"
