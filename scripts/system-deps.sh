#!/usr/bin/env bash
# System packages the fleet needs beyond Python: SWI-Prolog (prolog server), redis-server (the
# prolog store's tests), npm (the MCP conformance suite, which brings its own Node 22), PostgreSQL
# (the docs index replicas share; its tests start a throwaway server).
# Installs what is missing with apt-get when run as root; otherwise says what to install.
set -euo pipefail

missing=()
command -v swipl >/dev/null 2>&1 || missing+=(swi-prolog-nox)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v npm >/dev/null 2>&1 || missing+=(npm)
# Debian puts initdb and postgres in /usr/lib/postgresql/NN/bin, off PATH
command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
    echo "mcpfleet: please install: ${missing[*]} (e.g. sudo apt-get install ${missing[*]})" >&2
    echo "          servers that need them are skipped by 'mcpfleet serve all' until then" >&2
fi
