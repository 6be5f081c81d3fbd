"""Fixtures shared by every test tier."""

from __future__ import annotations

import logging

import pytest

from fleet_testing import KEYS
from mcpfleet.common.auth import hash_key


@pytest.fixture(scope="session")
def api_keys() -> list[dict]:
    """alice may call every server, bob only `other`, carol only `echo`."""
    return [
        {"name": "alice", "hash": hash_key(KEYS["alice"])},
        {"name": "bob", "hash": hash_key(KEYS["bob"]), "servers": ["other"]},
        {"name": "carol", "hash": hash_key(KEYS["carol"]), "servers": ["echo"]},
    ]


@pytest.fixture(autouse=True)
def _no_fleet_env(monkeypatch):
    """Tests configure the fleet explicitly; a developer's MCPFLEET_* variables must not leak in."""
    import os

    for name in list(os.environ):
        if name.startswith("MCPFLEET_"):
            monkeypatch.delenv(name)


class ErrorLogRecorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def error_logs():
    """Records logged at ERROR or above anywhere while the test runs."""
    recorder = ErrorLogRecorder()
    root = logging.getLogger()
    root.addHandler(recorder)
    try:
        yield recorder.records
    finally:
        root.removeHandler(recorder)


# --- tiers ---------------------------------------------------------------------
# `make test-fast` leaves out tests marked `slow`: those that start real outside processes (LiteLLM,
# the client CLIs, Verdaccio, PostgreSQL, Redis, `mcpfleet serve` subprocesses, a wheel build, an
# image) or run whole peer corpora. They are marked here, by module and by fixture, so a new test
# that uses such a fixture is slow without anyone remembering to say so.
SLOW_MODULES = {
    "test_fleet_attacks",
    "test_conformance",
    "test_client_clis",
    "test_image",
    "test_litellm_gateway",
    "test_litellm_identity",
    "test_litellm_identity_config",
    "test_add_a_server",
    "test_docs_replicas",
    "test_docs_store_postgres",
    "test_k8s_peer_conformance",
    "test_k8s_corpus",
    "test_eval_bfcl",
    "test_eval_bfcl_import",
    "test_docs_ranking",
    "test_k8s_fleet_manifests",
    # the `mcpfleet` command in subprocesses, many times over
    "test_cli",
    "test_docs_cli",
    "test_eval_report",
}
SLOW_FIXTURES = {"verdaccio", "postgres_url", "redis_url", "stack", "modes", "installed", "replicas"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        module = item.module.__name__.rpartition(".")[2] if item.module else ""
        if module in SLOW_MODULES or SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
