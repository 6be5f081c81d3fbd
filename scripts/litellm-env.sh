#!/usr/bin/env bash
# Install the LiteLLM proxy into its own virtualenv, .tools/litellm (outside the main venv:
# litellm pins mcp/fastmcp versions that conflict with ours). Used by tests/deploy's
# integration test; CI runs it and sets MCPFLEET_REQUIRE_LITELLM=1.
#
#   bash scripts/litellm-env.sh            # -> .tools/litellm/bin/litellm
#
# Pins: litellm is pinned to the version measured to install and work here; certifi and
# litellm-proxy-extras are overridden because litellm[proxy]'s own pins do not resolve on this
# package index.
set -euo pipefail
cd "$(dirname "$0")/.."
LITELLM_VERSION="${LITELLM_VERSION:-1.109.1}"
DEST=.tools/litellm
PY="${PYTHON:-python3}"
export LITELLM_LOCAL_MODEL_COST_MAP=True  # no fetch of the model cost map from GitHub on import
if [ -x "$DEST/bin/litellm" ] && "$DEST/bin/python" -c "import litellm.proxy.proxy_server" 2>/dev/null \
   && [ "$("$DEST/bin/python" -c 'import importlib.metadata as m; print(m.version("litellm"))')" = "$LITELLM_VERSION" ]; then
  echo "litellm $LITELLM_VERSION already in $DEST"; exit 0
fi
UV="$(command -v uv || echo .venv/bin/uv)"; [ -x "$UV" ] || { echo "uv is required (pip install uv)" >&2; exit 1; }
rm -rf "$DEST"
"$UV" venv --quiet --python "$PY" "$DEST"
overrides="$(mktemp)"; trap 'rm -f "$overrides"' EXIT
printf '%s\n' "certifi==2026.10.18" "litellm-proxy-extras==0.4.110" > "$overrides"
VIRTUAL_ENV="$PWD/$DEST" "$UV" pip install --quiet --python "$DEST/bin/python" --override "$overrides" \
  "litellm[proxy]==$LITELLM_VERSION"
"$DEST/bin/python" -c "import litellm.proxy.proxy_server" >/dev/null
echo "litellm $LITELLM_VERSION installed in $DEST"
