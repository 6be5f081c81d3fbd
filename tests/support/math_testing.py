"""Shared checks for the math tests."""

from __future__ import annotations

import contextlib
import json
import math
import pickle
import time
from collections.abc import Iterator

PLAIN = (str, int, float, bool, type(None))


def assert_plain(value) -> None:
    """Only plain, JSON-able types with finite floats: what crosses the worker boundary.

    Also round-trips through the worker pool's restricted unpickler, which refuses anything else.
    """
    from mcpfleet.common.workers import _load_plain

    def walk(v) -> None:
        if isinstance(v, dict):
            for key, item in v.items():
                assert type(key) is str
                walk(item)
        elif isinstance(v, list):
            for item in v:
                walk(item)
        else:
            assert type(v) in PLAIN, f"{type(v)} is not plain"
            if isinstance(v, float):
                assert math.isfinite(v)

    walk(value)
    json.dumps(value, allow_nan=False)
    assert _load_plain(pickle.dumps(value)) == value


@contextlib.contextmanager
def cpu_budget(seconds: float) -> Iterator[None]:
    """Fail if the block uses more than `seconds` of this process's CPU time.

    CPU time, not wall time: a busy machine stretches the wall clock but not the work, so the
    budget can be generous (10x what the work takes) and still catch a slow path (minutes).
    """
    started = time.process_time()
    yield
    used = time.process_time() - started
    assert used <= seconds, f"used {used:.1f} CPU seconds, budget {seconds:g}"
