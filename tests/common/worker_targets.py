"""Targets for tests/common/test_workers.py, run inside worker processes.

Importable as `worker_targets` because pytest puts tests/common on sys.path and workers start
with the parent's sys.path.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import time
from dataclasses import dataclass
from typing import Any

INITIALIZED_BY: int | None = None


class ParseFailure(Exception):
    """Stands for a library's own error class (a parser's, say)."""


@dataclass
class Point:
    x: int
    y: int


def mark_initialized() -> None:
    global INITIALIZED_BY
    INITIALIZED_BY = os.getpid()


def initialized_by() -> int | None:
    return INITIALIZED_BY


def broken_initializer() -> None:
    raise RuntimeError("no prolog here")


def echo(*args: Any, **kwargs: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    return args, kwargs


def pid() -> int:
    return os.getpid()


def sleep(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def spin() -> None:
    while True:
        pass


def segfault() -> None:
    ctypes.string_at(0)


def exit_with(code: int) -> None:
    os._exit(code)


def kill_self() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def allocate(nbytes: int) -> int:
    return len(bytearray(nbytes))


def fail(message: str) -> None:
    raise ParseFailure(message)


def exit_politely() -> None:
    raise SystemExit(4)


def blob(nbytes: int) -> bytes:
    return b"x" * nbytes


def point() -> Point:
    return Point(1, 2)


def unpicklable() -> Any:
    return lambda: None


def limits() -> dict[str, Any]:
    return {
        "as": resource.getrlimit(resource.RLIMIT_AS),
        "core": resource.getrlimit(resource.RLIMIT_CORE),
        "nofile": resource.getrlimit(resource.RLIMIT_NOFILE),
        "cpu": resource.getrlimit(resource.RLIMIT_CPU),
        "cpu_used": time.process_time(),
    }


def open_fds() -> list[str]:
    names = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            names.append(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            pass  # the directory listing's own fd
    return names


def environment() -> dict[str, str]:
    return dict(os.environ)


def sigint_ignored() -> bool:
    return signal.getsignal(signal.SIGINT) is signal.SIG_IGN


def shout() -> str:
    print("stray output must not corrupt the protocol" * 100)
    return "still fine"


def attempt_escape(parent_pid: int, secret_file: str, marker_dir: str, port: int) -> dict[str, str]:
    """What code that escaped a language sandbox could do from here: each attempt's outcome."""
    import socket

    outcomes: dict[str, str] = {}

    def attempt(name: str, action: Any) -> None:
        try:
            action()
            outcomes[name] = "done"
        except OSError as exc:
            outcomes[name] = type(exc).__name__

    def read(path: str) -> None:
        with open(path, "rb") as f:
            f.read(64)

    def create() -> None:
        with open(os.path.join(marker_dir, "escaped"), "w") as f:
            f.write("x")

    def connect() -> None:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            pass

    attempt("parent environ", lambda: read(f"/proc/{parent_pid}/environ"))
    attempt("parent memory", lambda: read(f"/proc/{parent_pid}/mem"))
    attempt("secret file", lambda: read(secret_file))
    attempt("create file", create)
    attempt("connect", connect)
    attempt("signal parent", lambda: os.kill(parent_pid, 0))
    outcomes["uid"] = str(os.getuid())
    return outcomes
