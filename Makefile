# One command to set up and serve, one to test. Everything installs into .venv and .tools/.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# pytest-xdist workers for make test and test-fast (auto: one per core; 0: no workers)
JOBS   ?= auto

.PHONY: setup run test test-fast lint conformance bench clean litellm client-clis manifests image test-image

setup: $(STAMP)

$(STAMP): pyproject.toml setup.py mcpfleet/servers/ui/node/package-lock.json
	bash scripts/system-deps.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e ".[all,test]"
	bash mcpfleet/servers/ui/node/install.sh
	touch $(STAMP)

## serve every server on http://127.0.0.1:8080/<name>/mcp with embedded defaults
run: setup
	$(BIN)/mcpfleet serve all

## the LiteLLM proxy in its own venv (.tools/litellm) for the gateway integration test
litellm: setup
	bash scripts/litellm-env.sh

## Claude Code, OpenCode and Codex, pinned, in .tools/clients for tests/deploy/test_client_clis.py
client-clis:
	bash scripts/client-clis.sh

## regenerate manifests/ and the chart's servers: block from the server registry (tests fail when they drift)
manifests: setup
	$(BIN)/python manifests/generate.py

## the whole test suite, the MCP conformance suite, the LiteLLM gateway and client CLI tests included
test: setup litellm client-clis
	$(BIN)/python -m pytest -n $(JOBS) --dist loadfile

## the quick tier for development: no slow tests (outside processes, corpora; see tests/conftest.py)
test-fast: setup
	$(BIN)/python -m pytest -m "not slow and not conformance" -n $(JOBS) --dist loadfile

## ruff (lint, import order, format) and mypy, as CI runs them
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	bash scripts/typecheck.sh

## the fleet image mcpfleet:dev with buildah on local debootstrap bases (root; no Docker engine needed)
image:
	bash scripts/build-image.sh

## build the image, run `mcpfleet serve all` from it read-only as UID 10001, call every server
test-image: setup
	MCPFLEET_IMAGE_TEST=1 $(BIN)/python -m pytest tests/deploy/test_image.py -p no:randomly -v -s

## every benchmark in benchmarks/ (numbers printed, nothing asserted)
bench: setup
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .tools .pytest_cache
