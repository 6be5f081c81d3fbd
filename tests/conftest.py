"""Fixtures shared by every test tier."""

from __future__ import annotations

import logging

import pytest

from mcpfleet.common.auth import hash_key

from fleet_testing import KEYS


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
