"""Outside processes for tests and benchmarks, written once: start one with its output in a log,
wait until an HTTP endpoint answers, stop it (TERM, then KILL).

    with running([litellm, "--port", port], tmp / "litellm.log", env=env) as proc:
        wait_http(f"http://127.0.0.1:{port}/health/liveliness", proc, tmp / "litellm.log")

Every wait is bounded: `wait_http` gives up after `timeout` seconds or as soon as the process
exits, and says why with the end of its log.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import httpx2

LOG_TAIL = 3000  # characters of a log quoted in a failure


def stop(proc: subprocess.Popen, timeout: float = 15) -> None:
    """Ask the process to stop (SIGTERM); kill it when it has not after `timeout` seconds."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


@contextlib.contextmanager
def running(
    cmd: Sequence[str],
    log: Path,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    stderr_only: bool = False,
) -> Iterator[subprocess.Popen]:
    """`cmd` running with its output (or only its stderr) in `log`; stopped on leaving the block."""
    with log.open("w") as out:
        proc = subprocess.Popen(
            list(cmd),
            stdout=subprocess.DEVNULL if stderr_only else out,
            stderr=out if stderr_only else subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
        )
    try:
        yield proc
    finally:
        stop(proc)


def tail(log: Path | None) -> str:
    if log is None or not log.exists():
        return ""
    return log.read_text(errors="replace")[-LOG_TAIL:]


def wait_http(
    url: str, proc: subprocess.Popen, log: Path | None = None, *, timeout: float = 90, interval: float = 0.1
) -> float:
    """Poll `url` until it answers 200; returns the time.time() it did. Raises RuntimeError (with
    the end of `log`) when the process exits first or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode}:\n{tail(log)}")
        with contextlib.suppress(httpx2.HTTPError):
            if httpx2.get(url, timeout=2).status_code == 200:
                return time.time()
        time.sleep(interval)
    raise RuntimeError(f"{url} did not answer within {timeout}s:\n{tail(log)}")
