"""Budgets inside one worker call: how long a symbolic attempt may run, how big an input may be.

The worker pool's wall clock, CPU and memory limits are the hard stop for a whole call;
`time_budget` is the soft one inside it, so that a symbolic method that grinds (sympy may spend
minutes on an integral with no closed form) gives way to a numeric one before the pool kills
the worker and the answer is lost.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

SYMBOLIC_BUDGET = 5.0  # seconds a symbolic attempt may take where a numeric method can take over
MAX_EQUATIONS = 20  # equations, unknowns, unknown functions or initial conditions in one call


class SymbolicTimeout(BaseException):
    """A symbolic attempt ran past its budget. A BaseException, so that sympy's own broad
    `except Exception` blocks cannot swallow it."""


@contextlib.contextmanager
def time_budget(seconds: float) -> Iterator[None]:
    """Raise SymbolicTimeout in the block after `seconds` (wall clock), where a numeric method can
    take over from a symbolic one that is grinding (sympy may spend minutes on an integral that has
    no closed form). Uses SIGALRM, so only on the main thread; an outer timer that would fire
    sooner is left alone, and one that fires later is restored afterwards. Outside the main thread
    the block simply runs unbounded (the worker pool's own limit still applies)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    outer_remaining, outer_interval = signal.getitimer(signal.ITIMER_REAL)
    if 0 < outer_remaining <= seconds:
        yield
        return

    def on_alarm(signum: int, frame: Any) -> None:
        raise SymbolicTimeout()

    started = time.monotonic()
    previous = signal.signal(signal.SIGALRM, on_alarm)
    # Repeats every 0.2 s in case sympy catches the first one with a bare `except:`.
    signal.setitimer(signal.ITIMER_REAL, seconds, 0.2)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_remaining > 0:
            left = max(outer_remaining - (time.monotonic() - started), 0.001)
            signal.setitimer(signal.ITIMER_REAL, left, outer_interval)
