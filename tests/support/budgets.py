"""Budgets tests may assert without the wall clock: CPU time of this process (a busy machine
stretches wall time, not the work)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator


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
