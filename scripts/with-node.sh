#!/usr/bin/env bash
# Runs a command on Node.js CUSTODY_NODE_MAJOR (default 22, the project's supported LTS) when the machine's own
# node is older or another major was asked for: the runtime comes from the npm registry (scripts/node-runtime.sh).
set -euo pipefail
want="${CUSTODY_NODE_MAJOR:-22}"
have="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if [ "$have" -lt 22 ] || [ -n "${CUSTODY_NODE_MAJOR:-}" ] && [ "$have" != "$want" ]; then
  PATH="$(bash "$(dirname "$0")/node-runtime.sh" "$want"):$PATH"
  export PATH
fi
exec "$@"
