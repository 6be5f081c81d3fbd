"""A real redis-server on 127.0.0.1 for tests (prolog stores, shared rate limits; scripts/system-deps.sh installs it)."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleet_testing import free_port
from processes import stop


@contextlib.contextmanager
def redis_server(workdir: Path, password: str | None = None) -> Iterator[str]:
    """Run redis-server (no persistence) until the block ends; yields its redis:// URL."""
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is needed (scripts/system-deps.sh installs it)")
    port = free_port()
    args = [
        "redis-server",
        "--bind",
        "127.0.0.1",
        "--port",
        str(port),
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(workdir),
    ]
    if password:
        args += ["--requirepass", password]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)
        auth = f":{password}@" if password else ""
        yield f"redis://{auth}127.0.0.1:{port}/0"
    finally:
        stop(proc, timeout=10)
