#!/usr/bin/env bash
# mypy over the mcpfleet package and the manifest generator, from the checkout: the folders are
# the import paths (mcpfleet/common is mcpfleet.common), so mypy, IDEs and the installed package
# all see the same tree.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
.venv/bin/mypy -p mcpfleet "$@"
.venv/bin/mypy manifests/generate.py "$@"
