"""The program each worker process of `mcpfleet.common.workers` runs; standard library only.

Started as `python -I _worker_child.py CONFIG_JSON` with the request pipe on fd 0 and the reply
pipe on fd 1. It is run by path and imports nothing from mcpfleet: `mcpfleet.common.errors` pulls
in fastmcp (~0.5 s, tens of MB), which would slow every restart and eat into the memory limit.

Protocol, both ways: frames of a 4-byte big-endian length and a pickle.
  parent -> child  (target, args, kwargs, cpu_seconds)
  child -> parent  ("ready", skipped) | ("init_error", kind, detail)      once, at start
                   (skipped: the confinement steps this kernel did not allow)
                   ("ok", result) | ("raised", kind, detail) | ("error", message)   per request
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import math
import os
import pickle
import re
import resource
import signal
import struct
import sys
import time
from collections.abc import Callable
from typing import IO, Any

HEADER = struct.Struct("!I")
TARGET_RE = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*:[A-Za-z_]\w*", re.ASCII)
PICKLE_PROTOCOL = 5
DETAIL_CHARS = 2000
MAX_OPEN_FILES = 256

_PR_SET_PDEATHSIG = 1
_PR_SET_DUMPABLE = 4


def main(config: dict[str, Any]) -> None:
    # The parent's sys.path, so that whatever the server can import, its workers can too.
    sys.path[:] = config["sys_path"]
    reader, writer = _claim_pipes()
    # Confinement first (it changes credentials, which clears PDEATHSIG), before anything runs.
    skipped = _sandbox().confine(config.get("sandbox") or {})
    _isolate(config["ppid"])
    _limit_process(config["memory_mb"])
    failure = _initialize(config["initializer"])
    try:
        _send(writer, _dump(failure or ("ready", skipped)))
        if failure is None:
            _serve(reader, writer, config["max_result_bytes"])
    except BrokenPipeError:
        pass  # the parent went away; nothing left to answer


def _sandbox():
    # Loaded by path, like this file: importing the mcpfleet package would pull in more than this.
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_sandbox.py")
    spec = importlib.util.spec_from_file_location("mcpfleet_worker_sandbox", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def resolve(ref: str, cache: dict[str, Callable[..., Any]]) -> Callable[..., Any]:
    """The function named by "package.module:function", imported once and cached."""
    function = cache.get(ref)
    if function is None:
        if not TARGET_RE.fullmatch(ref):
            raise ValueError(f"not a module:function reference: {ref!r}")
        module, _, name = ref.partition(":")
        function = getattr(importlib.import_module(module), name)
        if not callable(function):
            raise TypeError(f"{ref} is not callable")
        cache[ref] = function
    return function


def describe(exc: BaseException) -> str:
    """The exception's message, bounded; never a traceback."""
    try:
        text = str(exc)
    except BaseException:  # a broken __str__ must not take the worker down
        text = "(the error message could not be rendered)"
    if len(text) > DETAIL_CHARS:
        text = text[:DETAIL_CHARS] + " ...[truncated]"
    return text


def _claim_pipes() -> tuple[IO[bytes], IO[bytes]]:
    # Move the protocol off fds 0/1 so a target that prints (or a C library that writes to
    # stdout, like Prolog's user_output) cannot corrupt the frames.
    reader = os.fdopen(os.dup(0), "rb")
    writer = os.fdopen(os.dup(1), "wb")
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.close(null)
    return reader, writer


def _isolate(parent_pid: int) -> None:
    # Ctrl-C belongs to the server; a worker is stopped by closing its pipe or by SIGKILL.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGXCPU, signal.SIG_DFL)
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    # Not dumpable: no core even where core_pattern pipes to a helper (that ignores RLIMIT_CORE=0).
    _prctl(_PR_SET_DUMPABLE, 0)
    if os.getppid() != parent_pid:
        os._exit(0)  # the parent died before PDEATHSIG was armed


def _prctl(option: int, value: int) -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # best effort: the pool still kills its workers itself


def _limit_process(memory_mb: int) -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    _cap(resource.RLIMIT_NOFILE, MAX_OPEN_FILES)
    _cap(resource.RLIMIT_AS, memory_mb * 2**20)


def _cap(kind: int, value: int) -> None:
    # Soft and hard together: code running here cannot raise the limit back.
    _, hard = resource.getrlimit(kind)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(kind, (value, value))


def _limit_cpu(seconds: float) -> None:
    # RLIMIT_CPU counts the whole life of the process, so the budget is added to what is spent.
    # Only the soft limit moves (SIGXCPU kills, Python installs no handler): a lowered hard
    # limit could never be raised again for the next call.
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = math.ceil(time.process_time() + seconds)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def _unlimit_cpu() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    resource.setrlimit(resource.RLIMIT_CPU, (hard, hard))


def _initialize(ref: str | None) -> tuple[str, str, str] | None:
    if ref is not None:
        try:
            resolve(ref, {})()
        except BaseException as exc:
            return ("init_error", type(exc).__name__, describe(exc))
    # A library loaded by the initializer may have taken SIGXCPU; the CPU limit needs the default.
    signal.signal(signal.SIGXCPU, signal.SIG_DFL)
    return None


def _serve(reader: IO[bytes], writer: IO[bytes], max_result_bytes: int) -> None:
    targets: dict[str, Callable[..., Any]] = {}
    while (request := _receive(reader)) is not None:
        _send(writer, _answer(request, targets, max_result_bytes))


def _answer(request: bytes, targets: dict[str, Callable[..., Any]], max_result_bytes: int) -> bytes:
    try:
        target, args, kwargs, cpu_seconds = pickle.loads(request)
    except BaseException as exc:
        return _dump(("raised", type(exc).__name__, describe(exc)))
    _limit_cpu(cpu_seconds)
    try:
        return _call(target, targets, args, kwargs, max_result_bytes)
    finally:
        _unlimit_cpu()


def _call(
    target: str,
    targets: dict[str, Callable[..., Any]],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    max_result_bytes: int,
) -> bytes:
    try:
        result = resolve(target, targets)(*args, **kwargs)
    except BaseException as exc:  # SystemExit too: the worker outlives its targets
        return _dump(("raised", type(exc).__name__, describe(exc)))
    try:
        reply = _dump(("ok", result))
    except BaseException as exc:
        return _dump(("error", f"the result cannot be sent back ({type(exc).__name__}: {describe(exc)})"))
    if len(reply) > max_result_bytes:
        return _dump(("error", f"result too large ({len(reply):,} bytes; the limit is {max_result_bytes:,})"))
    return reply


def _dump(message: tuple[Any, ...]) -> bytes:
    return pickle.dumps(message, PICKLE_PROTOCOL)


def _receive(reader: IO[bytes]) -> bytes | None:
    head = reader.read(HEADER.size)
    if len(head) < HEADER.size:
        return None  # the parent closed the pipe: exit quietly
    (size,) = HEADER.unpack(head)
    body = reader.read(size)
    return body if len(body) == size else None


def _send(writer: IO[bytes], payload: bytes) -> None:
    writer.write(HEADER.pack(len(payload)))
    writer.write(payload)
    writer.flush()


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
