"""Shared checks for the math tests."""

from __future__ import annotations

import json
import math
import pickle

from budgets import cpu_budget  # noqa: F401  (re-exported for the math tests)

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
