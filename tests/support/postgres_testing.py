"""A real PostgreSQL on 127.0.0.1 for tests (the docs index shared by replicas).

`initdb` into a temporary folder, then `postgres` on a free port with password (SCRAM) login,
run as an unprivileged user when the tests run as root (PostgreSQL refuses to run as root).
Without the binaries or the driver the tests skip with the reason; `.ci/run` sets
MCPFLEET_REQUIRE_POSTGRES=1, which turns that skip into a failure so CI never skips them.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleet_testing import free_port

PASSWORD = "fleet-test-" + uuid.uuid4().hex[:12]
USER = "fleet"
RUN_AS = "nobody"  # when root: PostgreSQL will not run as root


def _missing(reason: str) -> None:
    if os.environ.get("MCPFLEET_REQUIRE_POSTGRES"):
        pytest.fail(f"MCPFLEET_REQUIRE_POSTGRES is set but {reason}", pytrace=False)
    pytest.skip(reason)


def postgres_bin(name: str) -> str | None:
    """A PostgreSQL program: on PATH, or where Debian's postgresql-NN puts it."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    return candidates[0] if candidates else None


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """Run a throwaway PostgreSQL until the block ends; yields a postgresql:// URL of its `postgres` database."""
    initdb, postgres = postgres_bin("initdb"), postgres_bin("postgres")
    if initdb is None or postgres is None:
        _missing("PostgreSQL's initdb and postgres are needed (scripts/system-deps.sh installs postgresql)")
    try:
        import psycopg
    except ImportError:
        _missing("the psycopg driver is needed: pip install -e '.[docs]'")
    root = Path(tempfile.mkdtemp(prefix="mcpfleet-pg-"))  # not below pytest's 0700 folder: `nobody` must enter
    as_user: dict = {}
    if os.getuid() == 0:
        account = pwd.getpwnam(RUN_AS)
        os.chown(root, account.pw_uid, account.pw_gid)
        as_user = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
    data = root / "data"
    pwfile = root / "pw"
    pwfile.write_text(PASSWORD + "\n")
    if as_user:
        os.chown(pwfile, as_user["user"], as_user["group"])
    proc = None
    try:
        subprocess.run(
            [
                initdb,
                "-D",
                str(data),
                "-U",
                USER,
                "--auth=scram-sha-256",
                f"--pwfile={pwfile}",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
            timeout=120,
            **as_user,
        )
        port = free_port()
        log = (root / "postgres.log").open("w")
        proc = subprocess.Popen(
            [
                postgres,
                "-D",
                str(data),
                "-k",
                str(root),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=100",
                "-c",
                "shared_buffers=64MB",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            **as_user,
        )
        url = f"postgresql://{USER}:{PASSWORD}@127.0.0.1:{port}/postgres"
        deadline = time.monotonic() + 60
        while True:
            try:
                psycopg.connect(url, connect_timeout=2).close()
                break
            except psycopg.OperationalError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"postgres did not start: {(root / 'postgres.log').read_text()[-2000:]}"
                    ) from None
                time.sleep(0.2)
        yield url
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGINT)  # fast shutdown: a client a test left open does not hold it up
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(root, ignore_errors=True)


def new_database(url: str, name: str | None = None) -> str:
    """A fresh, empty database on the server `url` points at; returns its URL."""
    import psycopg

    name = name or "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """The session's PostgreSQL (its `postgres` database); tests take their own with `new_database`."""
    with postgres_server() as url:
        yield url
