#!/usr/bin/env bash
# mypy over the mcpfleet package as it is installed. The folders map onto mcpfleet.* (common/ ->
# mcpfleet.common, servers/ -> mcpfleet.servers, evals/ -> mcpfleet.evals), which mypy cannot
# follow from the checkout, so it checks a tree of links that has the installed layout:
# build/typecheck/mcpfleet. (An IDE resolves mcpfleet.common.* when pointed at build/typecheck
# as an extra path; an editable install in setuptools' strict mode would build the same tree,
# but the checkout's own mcpfleet/ folder then shadows it for `python -m`/`python -c` run here.)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

tree=build/typecheck
rm -rf "$tree"
mkdir -p "$tree/mcpfleet"
for f in mcpfleet/*; do ln -s "$PWD/$f" "$tree/mcpfleet/"; done
ln -s "$PWD/common" "$tree/mcpfleet/common"
ln -s "$PWD/servers" "$tree/mcpfleet/servers"
ln -s "$PWD/evals" "$tree/mcpfleet/evals"
cd "$tree"
../../.venv/bin/mypy --config-file ../../pyproject.toml -p mcpfleet "$@"
../../.venv/bin/mypy --config-file ../../pyproject.toml ../../manifests/generate.py "$@"
