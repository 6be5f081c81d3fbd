#!/usr/bin/env bash
# Install the real client CLIs that tests/deploy/test_client_clis.py runs against the configs
# `mcpfleet config` prints: Claude Code, OpenCode and Codex, pinned, into .tools/clients
# (gitignored). Idempotent: a second run with the same pins does nothing.
#
#   bash scripts/client-clis.sh        # -> .tools/clients/node_modules/.bin/{claude,opencode,codex}
#
# Each npm package is a small wrapper plus a native binary for the platform (an optional
# dependency), so Node's version does not matter at run time; npm (any Node >= 18) installs them.
# Claude Code's package declares node >= 22 but only its postinstall runs under Node (it copies the
# native binary into place), which works on Node 20: npm's EBADENGINE warning is expected.
# Measured here: ~40 s with an empty npm cache, ~1.0 GB on disk (Claude Code 384 MB, Codex 424 MB,
# OpenCode 177 MB; the download is about a third of that).
set -euo pipefail
cd "$(dirname "$0")/.."
CLAUDE_CODE_VERSION="${CLAUDE_CODE_VERSION:-2.1.332}"
OPENCODE_VERSION="${OPENCODE_VERSION:-1.18.33}"
CODEX_VERSION="${CODEX_VERSION:-0.171.0}"
DEST=.tools/clients
BIN="$DEST/node_modules/.bin"

installed() {  # the three pinned versions answer --version (none of them touches the network for it)
  local home
  home="$(mktemp -d)"
  trap 'rm -rf "$home"' RETURN
  [ -x "$BIN/claude" ] && [ -x "$BIN/opencode" ] && [ -x "$BIN/codex" ] || return 1
  HOME="$home" "$BIN/claude" --version 2>/dev/null | grep -qx "$CLAUDE_CODE_VERSION (Claude Code)" || return 1
  HOME="$home" XDG_CONFIG_HOME="$home" XDG_DATA_HOME="$home" XDG_CACHE_HOME="$home" XDG_STATE_HOME="$home" \
    OPENCODE_DISABLE_AUTOUPDATE=1 "$BIN/opencode" --version 2>/dev/null | grep -qx "$OPENCODE_VERSION" || return 1
  HOME="$home" CODEX_HOME="$home" "$BIN/codex" --version 2>/dev/null | grep -qx "codex-cli $CODEX_VERSION" || return 1
}

if installed; then
  echo "client CLIs already in $DEST: claude-code $CLAUDE_CODE_VERSION, opencode $OPENCODE_VERSION, codex $CODEX_VERSION"
  exit 0
fi
command -v npm >/dev/null || { echo "npm is required to install the client CLIs (Node.js >= 18)" >&2; exit 1; }

rm -rf "$DEST"
mkdir -p "$DEST"
cat > "$DEST/package.json" <<JSON
{
  "private": true,
  "description": "client CLIs for tests/deploy/test_client_clis.py (scripts/client-clis.sh)",
  "dependencies": {
    "@anthropic-ai/claude-code": "$CLAUDE_CODE_VERSION",
    "opencode-ai": "$OPENCODE_VERSION",
    "@openai/codex": "$CODEX_VERSION"
  }
}
JSON
# Install scripts must run: Claude Code's and OpenCode's postinstall put the native binary in place.
(cd "$DEST" && npm install --no-audit --no-fund --loglevel=error --foreground-scripts=false --ignore-scripts=false)
installed || { echo "the client CLIs installed in $DEST but do not answer --version as pinned" >&2; exit 1; }
echo "client CLIs installed in $DEST: claude-code $CLAUDE_CODE_VERSION, opencode $OPENCODE_VERSION, codex $CODEX_VERSION"
