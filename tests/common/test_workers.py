"""WorkerPool: warm sandboxed processes; limits, timeouts, crashes, queueing, cancellation, cleanup."""

from __future__ import annotations

import asyncio
import json
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from mcpfleet.common.errors import WorkerBusy, WorkerCrashed, WorkerError, WorkerTimeout
from mcpfleet.common.settings import WorkerSettings
from mcpfleet.common.workers import TargetError, WorkerPool, check_target

HERE = Path(__file__).resolve().parent
T = "worker_targets:"  # tests/common is on sys.path (pytest's prepend import mode)

MakePool = Callable[..., Awaitable[WorkerPool]]


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie (kill(pid, 0) succeeds on zombies)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def worker_children() -> set[int]:
    """Live worker processes whose parent is this test process."""
    mine = str(os.getpid())
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if fields[1] == mine and fields[0] != "Z" and b"_worker_child.py" in command:
            found.add(int(entry.name))
    return found


async def eventually(predicate: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


@pytest.fixture
async def make_pool() -> AsyncIterator[MakePool]:
    pools: list[WorkerPool] = []

    async def make(size: int = 1, **options: Any) -> WorkerPool:
        fields = {k: options.pop(k) for k in list(options) if k in WorkerSettings.model_fields}
        pool = WorkerPool("test", WorkerSettings(size=size, **fields), **options)
        pools.append(pool)
        await pool.start()
        return pool

    yield make
    for pool in pools:
        await pool.aclose()


# -- warm processes ------------------------------------------------------------------------


async def test_workers_are_warm_processes_reused_across_calls(make_pool: MakePool) -> None:
    pool = await make_pool(size=2)
    started = pool.pids
    assert len(started) == 2 and os.getpid() not in started

    seen = {await pool.run(T + "pid") for _ in range(20)}

    assert seen <= set(started)
    assert pool.pids == started
    assert pool.stats() == {
        "name": "test", "size": 2, "live": 2, "busy": 0, "queued": 0,
        "calls": 20, "restarts": 0, "timeouts": 0, "crashes": 0, "retries": 0,
    }  # fmt: skip


async def test_arguments_and_plain_results_round_trip(make_pool: MakePool) -> None:
    pool = await make_pool()
    args = (1, 2.5, "é", b"\x00", None, True, [1, (2, 3)], {"k": {1, 2}}, 3 + 4j)
    assert await pool.run(T + "echo", *args, target="kwarg named like the parameter") == (
        args,
        {"target": "kwarg named like the parameter"},
    )
    assert await pool.run("operator:add", 2, 3) == 5


async def test_initializer_runs_once_in_each_worker(make_pool: MakePool) -> None:
    pool = await make_pool(size=2, initializer=T + "mark_initialized")
    results = await asyncio.gather(*(pool.run(T + "sleep", 0.1) for _ in range(2)))
    assert sorted(results) == pool.pids
    for _ in range(4):
        assert await pool.run(T + "initialized_by") in pool.pids


async def test_failing_initializer_fails_start_and_leaves_no_process() -> None:
    pool = WorkerPool("test", WorkerSettings(size=2), initializer=T + "broken_initializer")
    with pytest.raises(WorkerError, match="initializer failed: RuntimeError: no prolog here"):
        await pool.start()
    assert not pool.ready
    await eventually(lambda: not worker_children())
    with pytest.raises(WorkerError, match="closed"):
        await pool.run(T + "pid")


# -- limits and isolation ------------------------------------------------------------------


async def test_rlimits_are_set_in_the_child(make_pool: MakePool) -> None:
    pool = await make_pool(memory_mb=300, cpu_seconds=7)
    got = await pool.run(T + "limits")
    assert got["as"] == (300 * 2**20, 300 * 2**20)
    assert got["core"] == (0, 0)
    assert got["nofile"][1] <= 256
    # soft = ceil(CPU used before the call + budget); the target reads its usage a little later
    soft, hard = got["cpu"]
    assert hard == resource.RLIM_INFINITY and 6.9 < soft - got["cpu_used"] <= 8
    got = await pool.run(T + "limits", cpu_seconds=2)
    assert 1.9 < got["cpu"][0] - got["cpu_used"] <= 3


async def test_child_gets_no_fds_secrets_or_sigint(make_pool: MakePool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCPFLEET_AUTH__API_KEYS", "secret")
    left, right = socket.socketpair()
    os.set_inheritable(left.fileno(), True)  # close_fds must still keep it out
    try:
        pool = await make_pool()
        fds = await pool.run(T + "open_fds")
        env = await pool.run(T + "environment")
    finally:
        left.close()
        right.close()
    assert not [name for name in fds if name.startswith("socket:")]
    assert "MCPFLEET_AUTH__API_KEYS" not in env
    assert await pool.run(T + "sigint_ignored") is True


async def test_stray_output_does_not_corrupt_the_protocol(make_pool: MakePool) -> None:
    pool = await make_pool()
    assert await pool.run(T + "shout") == "still fine"


# -- timeouts and crashes ------------------------------------------------------------------


async def test_timeout_kills_and_replaces_the_worker(make_pool: MakePool) -> None:
    pool = await make_pool()
    [old] = pool.pids
    with pytest.raises(WorkerTimeout, match="took longer than 0.5s"):  # not the 100 s sleep
        await pool.run(T + "sleep", 100, timeout=0.5)
    new = await pool.run(T + "pid")
    assert new != old and not alive(old)
    assert pool.stats()["timeouts"] == 1 and pool.stats()["restarts"] == 1


async def test_default_timeout_comes_from_settings(make_pool: MakePool) -> None:
    pool = await make_pool(timeout=0.3)
    with pytest.raises(WorkerTimeout, match="0.3s"):
        await pool.run(T + "sleep", 100)


@pytest.mark.parametrize(
    ("target", "args", "reason"),
    [
        ("segfault", (), "killed by signal SIGSEGV"),
        ("exit_with", (3,), "exited with code 3"),
        ("kill_self", (), "killed by signal SIGKILL"),
    ],
)
async def test_crash_raises_worker_crashed_and_replaces(
    make_pool: MakePool, target: str, args: tuple[Any, ...], reason: str
) -> None:
    pool = await make_pool()
    [old] = pool.pids
    with pytest.raises(WorkerCrashed, match=reason):
        await pool.run(T + target, *args)
    assert await pool.run(T + "pid") != old
    assert not alive(old)
    assert pool.stats()["crashes"] == 1


async def test_cpu_limit_ends_a_runaway(make_pool: MakePool) -> None:
    pool = await make_pool(timeout=20)
    # The CPU limit (whole-second rounding: ~2 CPU seconds), not the 20 s wall timeout, ended it.
    with pytest.raises(WorkerCrashed, match=r"CPU time limit exceeded \(1s\)"):
        await pool.run(T + "spin", cpu_seconds=1)
    assert await pool.run("operator:add", 1, 1) == 2


async def test_memory_limit_gives_memory_error_and_keeps_the_worker(make_pool: MakePool) -> None:
    pool = await make_pool(memory_mb=256)
    [worker] = pool.pids
    with pytest.raises(TargetError) as caught:
        await pool.run(T + "allocate", 2**30)
    assert caught.value.kind == "MemoryError"
    assert await pool.run(T + "allocate", 2**20) == 2**20
    assert pool.pids == [worker]


async def test_idle_worker_that_dies_is_replaced_before_the_next_call(make_pool: MakePool) -> None:
    pool = await make_pool(size=1)
    [old] = pool.pids
    os.kill(old, signal.SIGKILL)
    await eventually(lambda: pool.ready and pool.pids != [old])
    assert await pool.run(T + "pid") == pool.pids[0]
    assert pool.stats()["restarts"] == 1 and pool.stats()["crashes"] == 0


async def test_crash_does_not_disturb_a_concurrent_call(make_pool: MakePool) -> None:
    pool = await make_pool(size=2)
    slow, crash = await asyncio.gather(pool.run(T + "sleep", 0.3), pool.run(T + "segfault"), return_exceptions=True)
    assert slow in pool.pids
    assert isinstance(crash, WorkerCrashed)


# -- errors and results --------------------------------------------------------------------


async def test_target_exception_comes_back_with_kind_and_bounded_message(make_pool: MakePool) -> None:
    pool = await make_pool()
    with pytest.raises(TargetError) as caught:
        await pool.run(T + "fail", "unexpected token ')'")
    assert isinstance(caught.value, WorkerError)
    assert caught.value.kind == "ParseFailure"
    assert caught.value.detail == "unexpected token ')'"
    assert str(caught.value) == "ParseFailure: unexpected token ')'"

    with pytest.raises(TargetError) as caught:
        await pool.run(T + "fail", "x" * 50_000)
    assert len(caught.value.detail) < 2100
    assert "Traceback" not in str(caught.value)

    with pytest.raises(TargetError, match="SystemExit: 4"):
        await pool.run(T + "exit_politely")
    assert pool.stats()["restarts"] == 0


async def test_unknown_target_is_a_target_error(make_pool: MakePool) -> None:
    pool = await make_pool()
    with pytest.raises(TargetError) as caught:
        await pool.run(T + "no_such_function")
    assert caught.value.kind == "AttributeError"


async def test_result_size_is_capped(make_pool: MakePool) -> None:
    pool = await make_pool(max_result_bytes=10_000)
    assert len(await pool.run(T + "blob", 5_000)) == 5_000
    with pytest.raises(WorkerError, match="result too large"):
        await pool.run(T + "blob", 20_000)
    assert pool.stats()["restarts"] == 0


async def test_results_must_be_plain_data(make_pool: MakePool) -> None:
    pool = await make_pool()
    with pytest.raises(WorkerError, match=r"worker_targets\.Point.*plain data"):
        await pool.run(T + "point")
    with pytest.raises(WorkerError, match="cannot be sent back"):
        await pool.run(T + "unpicklable")
    assert await pool.run("fractions:Fraction", 1, 3) == Fraction(1, 3)


@pytest.mark.parametrize(
    "target",
    ["os.system", "os:system()", "os:path.join", ":f", "a..b:f", "exec:print('x')", "mod:f g", "modé:f", 42],
)
def test_malformed_targets_are_refused(target: Any) -> None:
    with pytest.raises(ValueError, match="package.module:function"):
        check_target(target)


async def test_allowed_prefixes_restrict_targets(make_pool: MakePool) -> None:
    check_target("mcpfleet.servers.math.work:solve", ["mcpfleet.servers."])
    check_target("mcpfleet.servers:solve", ["mcpfleet.servers"])
    with pytest.raises(ValueError, match="outside the allowed modules"):
        check_target("mcpfleet.serversx:solve", ["mcpfleet.servers"])
    pool = await make_pool(allowed_prefixes=["worker_targets"])
    assert await pool.run(T + "echo", 1) == ((1,), {})
    with pytest.raises(ValueError, match="outside the allowed modules"):
        await pool.run("os:getpid")


# -- queueing and cancellation -------------------------------------------------------------


async def test_queue_is_bounded_and_fifo(make_pool: MakePool) -> None:
    pool = await make_pool(size=1, max_queue=2)
    finished: list[str] = []

    async def call(label: str, seconds: float) -> None:
        await pool.run(T + "sleep", seconds)
        finished.append(label)

    running = asyncio.create_task(call("first", 0.3))
    await asyncio.sleep(0.05)
    queued = [asyncio.create_task(call(label, 0.01)) for label in ("second", "third")]
    await asyncio.sleep(0.05)
    assert pool.stats()["busy"] == 1 and pool.stats()["queued"] == 2
    with pytest.raises(WorkerBusy, match="queue is full"):
        await pool.run(T + "pid")
    await asyncio.gather(running, *queued)
    assert finished == ["first", "second", "third"]


async def test_queue_wait_is_bounded_by_the_timeout(make_pool: MakePool) -> None:
    # One job's length (the timeout) plus as long again for a killed worker's replacement.
    pool = await make_pool(size=1)
    running = asyncio.create_task(pool.run(T + "sleep", 0.9))
    await asyncio.sleep(0.05)
    with pytest.raises(WorkerBusy, match="no worker became free within 0.4s"):
        await pool.run(T + "pid", timeout=0.2)
    assert await running in pool.pids
    assert pool.stats()["queued"] == 0


async def test_no_queue_means_busy_at_once(make_pool: MakePool) -> None:
    pool = await make_pool(size=1, max_queue=0)
    running = asyncio.create_task(pool.run(T + "sleep", 0.2))
    await asyncio.sleep(0.05)
    with pytest.raises(WorkerBusy):
        await pool.run(T + "pid")
    await running


async def test_cancelled_call_kills_its_worker(make_pool: MakePool) -> None:
    pool = await make_pool(size=1)
    [old] = pool.pids
    task = asyncio.create_task(pool.run(T + "spin"))
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await eventually(lambda: not alive(old))
    assert await pool.run(T + "pid") != old
    assert pool.stats()["restarts"] == 1


async def test_cancelled_waiter_leaves_the_queue(make_pool: MakePool) -> None:
    pool = await make_pool(size=1)
    running = asyncio.create_task(pool.run(T + "sleep", 0.3))
    await asyncio.sleep(0.05)
    waiting = asyncio.create_task(pool.run(T + "pid"))
    await asyncio.sleep(0.05)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert pool.stats()["queued"] == 0
    worker = await running
    assert await pool.run(T + "pid") == worker  # a cancelled waiter kills nothing


# -- lifecycle -----------------------------------------------------------------------------


async def test_aclose_reaps_every_worker_and_is_idempotent() -> None:
    pool = WorkerPool("test", WorkerSettings(size=2))
    with pytest.raises(WorkerError, match="not started"):
        await pool.run(T + "pid")
    async with pool:
        assert pool.ready
        pids = pool.pids
        in_flight = asyncio.create_task(pool.run(T + "sleep", 100))
        await asyncio.sleep(0.1)
    assert not pool.ready
    assert not any(alive(pid) for pid in pids)
    with pytest.raises(WorkerError, match="closed during the call"):
        await in_flight
    await pool.aclose()
    with pytest.raises(WorkerError, match="closed"):
        await pool.run(T + "pid")
    assert not worker_children()


async def test_workers_die_with_their_parent() -> None:
    # Both workers are busy spinning, so only PR_SET_PDEATHSIG (not EOF on the pipe) ends them.
    script = (
        "import asyncio, json, os, sys\n"
        f"sys.path.insert(0, {str(HERE)!r})\n"
        "from mcpfleet.common.settings import WorkerSettings\n"
        "from mcpfleet.common.workers import WorkerPool\n"
        "async def main():\n"
        "    pool = WorkerPool('orphan', WorkerSettings(size=2))\n"
        "    await pool.start()\n"
        "    spinning = [asyncio.create_task(pool.run('worker_targets:spin')) for _ in range(2)]\n"
        "    print(json.dumps(pool.pids), flush=True)\n"
        "    await asyncio.sleep(0.2)\n"
        "    os._exit(0)\n"
        "asyncio.run(main())\n"
    )
    # Workers inherit stderr; DEVNULL so that nothing here waits on the workers' end of a pipe.
    with subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    ) as parent:
        assert parent.stdout is not None
        pids = json.loads(parent.stdout.readline())
        assert parent.wait(timeout=10) == 0
    assert len(pids) == 2
    await eventually(lambda: not any(alive(pid) for pid in pids))


# -- confinement (defence in depth behind the language sandboxes) -------------------------


async def test_an_escaped_worker_reaches_no_secret_no_file_and_no_network(make_pool: MakePool, tmp_path) -> None:
    import socket

    secret = tmp_path / "secret.env"
    secret.write_text("GITHUB_TOKEN=ghp_secret\n")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    port = listener.getsockname()[1]
    try:
        pool = await make_pool(network=False)
        outcomes = await pool.run(T + "attempt_escape", os.getpid(), str(secret), str(tmp_path), port)
    finally:
        listener.close()
    skipped = pool.confinement_skipped
    assert outcomes["parent environ"] != "done" and outcomes["parent memory"] != "done", outcomes
    if "Landlock filesystem sandbox" not in skipped:
        assert outcomes["secret file"] != "done" and outcomes["create file"] != "done", outcomes
        assert not (tmp_path / "escaped").exists()
        assert outcomes["signal parent"] != "done", outcomes
    if "network namespace" not in skipped or "Landlock filesystem sandbox" not in skipped:
        assert outcomes["connect"] != "done", outcomes
    # Everything else still works: the pool serves the next call.
    assert await pool.run(T + "echo", 1) == ((1,), {})


async def test_workers_with_network_may_connect(make_pool: MakePool, tmp_path) -> None:
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    try:
        pool = await make_pool()
        outcomes = await pool.run(
            T + "attempt_escape", os.getpid(), "/nonexistent", str(tmp_path), listener.getsockname()[1]
        )
    finally:
        listener.close()
    assert outcomes["connect"] == "done"
    assert outcomes["parent environ"] != "done"


# -- fair sharing between callers ---------------------------------------------------------


def sleeper(pool: WorkerPool, order: list[str]):
    """A call that sleeps in the pool as `caller`, then records its label in `order`."""
    from mcpfleet.common.auth import acting_for

    async def call(caller: str, label: str, seconds: float) -> None:
        with acting_for(caller):
            await pool.run(T + "sleep", seconds)
        order.append(label)

    return call


async def test_a_flooding_caller_cannot_delay_another_callers_first_call_by_more_than_one_job(
    make_pool: MakePool,
) -> None:

    pool = await make_pool(size=2, max_per_caller=0, max_running_per_caller=2)  # no caps: fairness alone
    order: list[str] = []
    call = sleeper(pool, order)
    flood = [asyncio.create_task(call("key:flooder", f"flood{i}", 0.4)) for i in range(8)]
    await asyncio.sleep(0.1)  # the flooder holds both workers and has six calls queued
    victim = asyncio.create_task(call("key:victim", "victim", 0.01))
    await asyncio.gather(victim, *flood)
    # The victim ran on the first worker to come free: after the two running jobs, before
    # every one of the flooder's queued calls.
    assert order.index("victim") <= 2, order


async def test_a_caller_over_its_share_is_told_how_many_calls_it_has(make_pool: MakePool) -> None:
    from mcpfleet.common.auth import LOCAL_CALLER, acting_for

    pool = await make_pool(size=1, max_per_caller=2)
    with acting_for("key:flooder"):
        running = [asyncio.create_task(pool.run(T + "sleep", 0.5)) for _ in range(2)]
        await asyncio.sleep(0.05)
        with pytest.raises(
            WorkerBusy, match=r"you have 2 calls running or waiting on 'test' \(the limit per caller is 2\)"
        ):
            await pool.run(T + "pid")
    with acting_for("key:someone-else"):
        assert await pool.run(T + "pid") in pool.pids  # another caller is not refused
    with acting_for(LOCAL_CALLER):
        local = [asyncio.create_task(pool.run(T + "sleep", 0.01)) for _ in range(3)]
        await asyncio.gather(*local)  # the in-process user is not capped
    await asyncio.gather(*running)
    assert pool.stats()["queued"] == 0


async def test_a_call_whose_worker_died_while_idle_is_retried_on_a_fresh_one(make_pool: MakePool) -> None:
    import time

    pool = await make_pool(size=1)
    [old] = pool.pids
    os.kill(old, signal.SIGKILL)
    # Block the loop (no await) so the pool cannot notice the death before the next call.
    deadline = time.monotonic() + 5
    while alive(old) and time.monotonic() < deadline:
        time.sleep(0.01)
    new = await pool.run(T + "pid")
    assert new != old and pool.stats()["retries"] == 1, pool.stats()


async def test_a_call_that_kills_its_own_worker_is_not_retried(make_pool: MakePool) -> None:
    pool = await make_pool(size=1)
    with pytest.raises(WorkerCrashed):
        await pool.run(T + "kill_self")
    assert pool.stats()["retries"] == 0 and pool.stats()["crashes"] == 1


def test_a_confined_program_reads_only_what_it_was_given(tmp_path) -> None:
    from mcpfleet.common.workers import confined_command

    secret = tmp_path / "secret"
    secret.write_text("GITHUB_TOKEN=ghp_x\n")
    given = tmp_path / "given"
    given.mkdir()
    (given / "data.txt").write_text("fine\n")

    def run(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            confined_command(list(argv), readable_paths=[str(given)]), capture_output=True, text=True, timeout=60
        )

    assert run("cat", str(given / "data.txt")).stdout == "fine\n"
    status = run("cat", "/proc/self/status").stdout
    assert re.search(r"^NoNewPrivs:\s+1$", status, re.MULTILINE)
    if os.geteuid() == 0:
        assert re.search(r"^CapEff:\s+0+$", status, re.MULTILINE)  # root without a capability
    if "Landlock" not in run("true").stderr:  # this kernel has Landlock: files outside are refused
        assert run("cat", str(secret)).returncode != 0
        assert run("touch", str(tmp_path / "created")).returncode != 0
        assert not (tmp_path / "created").exists()


async def test_one_callers_flood_always_leaves_a_worker_for_the_others(make_pool: MakePool) -> None:

    pool = await make_pool(size=2, max_per_caller=0)  # default running cap: size - 1
    assert pool.running_cap == 1
    order: list[str] = []
    call = sleeper(pool, order)
    flood = [asyncio.create_task(call("key:flooder", f"flood{i}", 0.3)) for i in range(4)]
    await asyncio.sleep(0.1)
    assert pool.stats()["busy"] == 1  # the flooder runs one call; the second worker stays free
    await call("key:victim", "victim", 0.01)
    assert order[0] == "victim", order  # served at once, before the flood's first call ended
    await asyncio.gather(*flood)
    assert sorted(order) == sorted(["victim", "flood0", "flood1", "flood2", "flood3"])


async def test_pool_counters_are_on_the_metrics_registry() -> None:
    from prometheus_client import generate_latest

    from mcpfleet.common.telemetry import Metrics

    name = f"metrics{os.getpid()}"  # no other test's pool has it
    async with WorkerPool(name, WorkerSettings(size=2)) as pool:
        for _ in range(3):
            await pool.run(T + "pid")
        text = generate_latest(Metrics().registry).decode()
        assert f'mcpfleet_worker_events_total{{event="calls",pool="{name}"}} 3.0' in text
        assert f'mcpfleet_worker_events_total{{event="restarts",pool="{name}"}} 0.0' in text
        assert f'mcpfleet_workers{{pool="{name}",state="live"}} 2.0' in text
    assert f'pool="{name}"' not in generate_latest(Metrics().registry).decode()  # a closed pool is gone
