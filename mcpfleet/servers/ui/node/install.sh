#!/usr/bin/env bash
# Installs the ui server's Node parts (the tailwindcss compiler, exact versions from
# package-lock.json) into DIR/node_modules. DIR defaults to this folder, where the server looks
# first; elsewhere, set [servers.ui] node_modules = "DIR/node_modules".
#
#   bash mcpfleet/servers/ui/node/install.sh [DIR]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dir="${1:-$here}"

for tool in node npm; do
  command -v "$tool" >/dev/null || { echo "install.sh: $tool is not installed (Node.js 20 or later is needed)" >&2; exit 1; }
done
major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$major" -lt 20 ]; then
  echo "install.sh: Node.js $major is too old; Tailwind CSS v4 needs Node.js 20 or later" >&2
  exit 1
fi

mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
if [ "$dir" != "$here" ]; then
  cp "$here/package.json" "$here/package-lock.json" "$dir/"
fi
# --ignore-scripts: no install script of any package runs; tailwindcss needs none.
(cd "$dir" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error)
node -e 'const p = require(process.argv[1]); console.log(`tailwindcss ${p.version} installed in ${process.argv[2]}`)' \
  "$dir/node_modules/tailwindcss/package.json" "$dir/node_modules"
