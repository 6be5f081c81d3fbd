"""The npm tests' registry: one real Verdaccio per session (see verdaccio_registry.py)."""

from __future__ import annotations

import pytest
from verdaccio_registry import running_verdaccio


@pytest.fixture(scope="session")
def verdaccio(tmp_path_factory):
    try:
        with running_verdaccio(tmp_path_factory.mktemp("verdaccio")) as registry:
            yield registry
    except RuntimeError as exc:
        pytest.fail(str(exc))
