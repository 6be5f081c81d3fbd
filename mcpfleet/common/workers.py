"""Warm pools of sandboxed child processes for untrusted or unbounded computation.

A server that evaluates model-supplied input with sympy or SWI-Prolog runs it here, so that a
runaway computation, a segfault or an out-of-memory costs one call, never the server.

Process model
    `WorkerPool.start()` spawns `settings.size` processes (`python -I common/_worker_child.py`,
    a new session, `close_fds`, a scrubbed environment: see `_ENV_KEEP`) and waits until each has
    run the pool's `initializer` ("package.module:function", e.g. import sympy, load Prolog) and
    said it is ready. Calls then reuse these processes: steady state spawns nothing. Each worker
    runs one call at a time; requests and replies are pickles over its stdin/stdout pipes
    (the child moves the protocol off fds 0/1 so stray prints cannot corrupt it). A worker
    starts with the parent's `sys.path`, so any target the server can import, it can too.

Targets
    Only references "package.module:function" (ASCII identifiers) travel, never a pickled
    callable or code text; the child imports and caches them. Target strings come from server
    code, never from the model; `allowed_prefixes=("mcpfleet.servers.",)` adds a module allowlist
    (matched at module boundaries) as defence in depth. Arguments are pickled by the parent.
    Results come back through a restricted unpickler that admits only plain data (None, bool,
    int, float, complex, str, bytes, bytearray, list, tuple, dict, set, frozenset, Decimal,
    Fraction): a worker may be running compromised code, and a pickle from it must not be able
    to run code in the server. Convert sympy/Prolog objects to text in the worker.

Limits, set in the child with `setrlimit`
    RLIMIT_AS = memory_mb (soft = hard), RLIMIT_CORE = 0 (and not dumpable), RLIMIT_NOFILE = 256,
    RLIMIT_CPU soft = CPU used so far + cpu_seconds, rounded up to whole seconds, per call; the
    kernel then ends a runaway with SIGXCPU. RLIMIT_NPROC is not set: it counts every process of
    the user (the server's too) and is ignored for root, so it would break more than it guards.
    Workers ignore SIGINT and die with the parent (PR_SET_PDEATHSIG; note Linux ties it to the
    thread that spawned the worker, i.e. the event loop's thread).

What a call can end in
    - the result;
    - `TargetError` (a `WorkerError`): the target raised; `.kind` is the exception's class name,
      `.detail` its message (at most ~2000 characters, never a traceback). A MemoryError under
      RLIMIT_AS is such an ordinary exception; the worker stays;
    - `WorkerTimeout`: no reply within `timeout` (per call, default `settings.timeout`); the
      worker is SIGKILLed and replaced;
    - `WorkerCrashed`: the worker died - "killed by signal SIGSEGV", "CPU time limit exceeded",
      "exited with code 3", "killed by signal SIGKILL" (OOM killer) - and is replaced;
    - `WorkerBusy`: `size` calls are running and `max_queue` are waiting (immediately); the
      caller already has `max_per_caller` calls running or waiting (immediately: "you have N
      calls running or waiting"); or no worker became free within `timeout` plus a respawn's
      grace (the queue wait is bounded separately from the run);
    - `WorkerError`: result too large (`max_result_bytes`, default 16 MiB) or not plain data.
    A cancelled call (client gone, tool timeout) kills its worker too, so it stops burning CPU.
    Replacements start in the background.

Fair sharing between callers
    The caller is `common.auth.current_caller()` of the request that runs the call. One caller
    may have at most `running_cap` calls running (`max_running_per_caller`; by default one
    worker fewer than the pool has, so one caller's flood always leaves a worker for the others)
    and `max_per_caller` running or waiting (more are refused at once). A freed worker goes to
    the waiting call whose caller has the fewest calls running (the earliest among equals), so
    another caller's first call waits for at most one job. The in-process `local` user is not
    capped.

A worker found dead
    A call whose worker turns out to have died before the call was sent (killed while idle,
    before the pool noticed) is retried once on a fresh worker when the pool is `idempotent`
    (the default: every tool of the fleet is read-only or idempotent). A worker that dies
    during a call (segfault, CPU limit, the OOM killer) fails that call: it may be its doing.

Confinement (defence in depth; see `common/_sandbox.py`)
    Workers start with the scrubbed environment, in `/`, with no_new_privs and not dumpable;
    started by root they become `nobody` (or, where `nobody` cannot read the interpreter and
    the code, stay uid 0 without any capability); `network=False` gives each worker an empty
    network namespace. The server process itself is made non-dumpable when a pool starts, so
    a worker cannot read its `/proc/<pid>/environ` or memory.

The pool belongs to the asyncio event loop that started it (anyio on asyncio is fine; trio is not).
"""

from __future__ import annotations

import asyncio
import collections
import io
import json
import logging
import math
import os
import pickle
import shutil
import signal
import sys
import weakref
from collections.abc import Coroutine, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from mcpfleet.common import _sandbox as sandbox
from mcpfleet.common import _worker_child as child
from mcpfleet.common.auth import current_caller, is_local
from mcpfleet.common.errors import TargetError, UserError, WorkerBusy, WorkerCrashed, WorkerError, WorkerTimeout

if TYPE_CHECKING:
    from mcpfleet.common.settings import WorkerSettings

log = logging.getLogger("mcpfleet.workers")

DEFAULT_MAX_RESULT_BYTES = 16 * 2**20

_CHILD_SCRIPT = str(Path(child.__file__).resolve())
_SANDBOX_SCRIPT = str(Path(sandbox.__file__).resolve())
# Only what the interpreter and native libraries need; the server's secrets stay in the server.
_ENV_KEEP = (
    "PATH", "HOME", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR",
    "LD_LIBRARY_PATH", "SWI_HOME_DIR", "LIBSWIPL_PATH",
)  # fmt: skip
# Single-threaded native libraries and few malloc arenas: every thread and arena reserves
# address space, which RLIMIT_AS counts.
_ENV_FIXED = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MALLOC_ARENA_MAX": "2"}
_PLAIN_GLOBALS = frozenset(
    {
        ("builtins", "complex"),
        ("builtins", "set"),
        ("builtins", "frozenset"),
        ("builtins", "bytearray"),
        ("decimal", "Decimal"),
        ("fractions", "Fraction"),
    }
)
_REPLY_SLACK = 16 * 1024  # an error reply (2000-char detail) may pass a tiny max_result_bytes
_STREAM_LIMIT = 2**20
_EXIT_WAIT = 2.0
_REAP_WAIT = 5.0
_RESPAWN_FIRST_DELAY = 0.1
_RESPAWN_MAX_DELAY = 30.0
_PIPE_ERRORS = (asyncio.IncompleteReadError, ConnectionError)
_RESPAWN_GRACE = 10.0  # a queued call also waits this long for a killed worker's replacement


def check_target(target: str, allowed_prefixes: Iterable[str] | None = None) -> None:
    """Raise ValueError unless `target` is "package.module:function" in an allowed module.

    A prefix matches at module boundaries: "mcpfleet.servers" (or "mcpfleet.servers.") allows
    mcpfleet.servers.math.work but not mcpfleet.serversx.
    """
    if not isinstance(target, str) or not child.TARGET_RE.fullmatch(target):
        raise ValueError(f"worker target must look like package.module:function, not {target!r}")
    if allowed_prefixes is None:
        return
    prefixes = tuple(p if p.endswith(".") else p + "." for p in allowed_prefixes)
    if not (target.partition(":")[0] + ".").startswith(prefixes):
        raise ValueError(f"worker target {target!r} is outside the allowed modules {list(prefixes)}")


# Every pool of this process, for /metrics (telemetry reads `live_pools()`); weak, so a pool that
# is gone is not kept alive by being counted.
_POOLS: weakref.WeakSet[WorkerPool] = weakref.WeakSet()


def live_pools() -> list[WorkerPool]:
    """The pools of this process that are not closed."""
    return [pool for pool in list(_POOLS) if not pool.closed]


class WorkerPool:
    """A fixed number of warm, limited worker processes; see the module docstring."""

    def __init__(
        self,
        name: str,
        settings: WorkerSettings,
        *,
        initializer: str | None = None,
        allowed_prefixes: Iterable[str] | None = None,
        max_result_bytes: int = DEFAULT_MAX_RESULT_BYTES,
        start_timeout: float = 60.0,
        env: Mapping[str, str] | None = None,
        network: bool = True,
        readable_paths: Iterable[str] = (),
        idempotent: bool = True,
    ) -> None:
        """`env` adds variables to the workers' scrubbed environment (e.g. SWI_HOME_DIR).

        `network=False` puts each worker in a network namespace of its own (no network at all);
        `readable_paths` are files the workers need besides Python and `sys.path` (checked
        before a root-started worker drops to `nobody`); `idempotent=False` turns the retry of
        a call whose worker was found dead off.
        """
        if initializer is not None:
            check_target(initializer)
        self.name = name
        self.settings = settings
        self.initializer = initializer
        self.allowed_prefixes = None if allowed_prefixes is None else tuple(allowed_prefixes)
        self.max_result_bytes = max_result_bytes
        self.start_timeout = _positive("start_timeout", start_timeout, 60.0)
        self._env = _child_env(env)
        self.network = network
        self.readable_paths = tuple(readable_paths)
        self.idempotent = idempotent
        self._sandbox: dict[str, Any] = {}
        self.confinement_skipped: list[str] = []
        self._idle: collections.deque[_Worker] = collections.deque()
        self._waiters: list[_Waiter] = []
        self._per_caller: collections.Counter[str] = collections.Counter()  # running or waiting
        self._running: collections.Counter[str] = collections.Counter()
        self._workers: set[_Worker] = set()  # every process not yet reaped
        self._tasks: set[asyncio.Task[None]] = set()
        self._started = False
        self._closed = False
        self._counts = {"calls": 0, "restarts": 0, "timeouts": 0, "crashes": 0, "retries": 0}
        _POOLS.add(self)

    async def __aenter__(self) -> WorkerPool:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    @property
    def ready(self) -> bool:
        """Started, not closed, and at least one live worker."""
        return self._started and not self._closed and any(w.ready for w in self._workers)

    @property
    def pids(self) -> list[int]:
        """Process ids of the live workers."""
        return sorted(w.pid for w in self._workers if w.ready)

    @property
    def closed(self) -> bool:
        return self._closed

    def stats(self) -> dict[str, Any]:
        live = sum(w.ready for w in self._workers)
        return {
            "name": self.name,
            "size": self.settings.size,
            "live": live,
            "busy": live - len(self._idle),
            "queued": len(self._waiters),
            **self._counts,
        }

    async def start(self) -> None:
        """Spawn the workers and wait until each is ready; a pool that fails to start is closed."""
        if self._closed:
            raise WorkerError(f"worker pool {self.name!r} is closed")
        if self._started:
            return
        self._started = True
        self._sandbox = sandbox_policy(self.network, self.readable_paths)
        make_undumpable()
        spawned = await asyncio.gather(*(self._spawn() for _ in range(self.settings.size)), return_exceptions=True)
        failures = [r for r in spawned if isinstance(r, BaseException)]
        if failures:
            await self.aclose()
            raise failures[0]
        self._idle.extend(w for w in spawned if isinstance(w, _Worker))
        log.debug("worker pool %s: started pids %s", self.name, self.pids)

    async def aclose(self) -> None:
        """Kill every worker and wait until each is reaped; idempotent."""
        if self._closed:
            return
        self._closed = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for waiter in self._waiters:
            if not waiter.future.done():
                waiter.future.set_exception(WorkerError(f"worker pool {self.name!r} was closed"))
        self._waiters.clear()
        self._idle.clear()
        workers = list(self._workers)
        for worker in workers:
            worker.kill()
        await asyncio.gather(*(self._reap(w) for w in workers))

    async def run(
        self,
        target: str,
        /,
        *args: Any,
        timeout: float | None = None,
        cpu_seconds: float | None = None,
        **kwargs: Any,
    ) -> Any:
        """`target(*args, **kwargs)` in a worker; see the module docstring for what it may raise.

        `timeout` (wall seconds) and `cpu_seconds` override the settings for this call.
        """
        self._check_open()
        check_target(target, self.allowed_prefixes)
        wall = _positive("timeout", timeout, self.settings.timeout)
        cpu = _positive("cpu_seconds", cpu_seconds, self.settings.cpu_seconds)
        request = _request_frame(target, args, kwargs, cpu)
        caller = current_caller()
        self._admit(caller)
        try:
            for attempt in (1, 2):
                # A queued call waits for one job (at most `wall`) plus a replacement's start.
                worker = await self._acquire(wall + min(wall, _RESPAWN_GRACE), caller)
                self._counts["calls"] += 1
                try:
                    reply = await worker.call(request, wall, cpu)
                except BaseException as exc:  # cancellation included: the worker must not run on
                    self._discard(worker, target, exc)
                    if self._closed and isinstance(exc, WorkerError):
                        raise WorkerError(f"worker pool {self.name!r} was closed during the call") from None
                    self._ungrant(caller)
                    self._dispatch()  # another of this caller's calls may run now
                    if attempt == 1 and self.idempotent and isinstance(exc, WorkerCrashed) and exc.found_dead:
                        self._counts["retries"] += 1
                        continue
                    raise
                self._ungrant(caller)
                self._release(worker)
                return _decode_reply(reply)
            raise AssertionError("unreachable")
        finally:
            self._per_caller[caller] -= 1
            if not self._per_caller[caller]:
                del self._per_caller[caller]

    def _admit(self, caller: str) -> None:
        limit = self.settings.max_per_caller
        have = self._per_caller[caller]
        if limit and have >= limit and not is_local(caller):
            raise WorkerBusy(
                f"you have {have} calls running or waiting on {self.name!r} (the limit per caller is "
                f"{limit}); wait for one to finish, then retry"
            )
        self._per_caller[caller] += 1

    def _check_open(self) -> None:
        if self._closed:
            raise WorkerError(f"worker pool {self.name!r} is closed")
        if not self._started:
            raise WorkerError(f"worker pool {self.name!r} is not started")

    def _may_run(self, caller: str) -> bool:
        return self._running[caller] < self.running_cap or is_local(caller)

    @property
    def running_cap(self) -> int:
        """Calls one caller may have running at once: `max_running_per_caller`, by default one
        worker fewer than the pool has, so a flood from one caller leaves a worker for the rest."""
        return self.settings.max_running_per_caller or max(1, self.settings.size - 1)

    def _grant(self, caller: str) -> None:
        self._running[caller] += 1

    def _ungrant(self, caller: str) -> None:
        self._running[caller] -= 1
        if not self._running[caller]:
            del self._running[caller]

    async def _acquire(self, wait: float, caller: str) -> _Worker:
        # Invariant: while a worker is idle, no waiting call may run (each is at its caller's cap).
        if self._idle and self._may_run(caller):
            self._grant(caller)
            return self._idle.popleft()
        if len(self._waiters) >= self.settings.max_queue:
            raise WorkerBusy(f"all {self.settings.size} workers are busy and the queue is full; try again later")
        waiter = _Waiter(asyncio.get_running_loop().create_future(), caller)
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(wait):
                return await waiter.future
        except BaseException as exc:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
            future = waiter.future
            if future.done() and not future.cancelled() and future.exception() is None:
                self._ungrant(caller)
                self._release(future.result())  # handed over just as we gave up
            if isinstance(exc, TimeoutError):
                raise WorkerBusy(f"no worker became free within {wait:g}s; try again later") from None
            raise

    def _release(self, worker: _Worker) -> None:
        if self._closed or not worker.ready:
            worker.kill()
            return
        self._idle.append(worker)
        self._dispatch()

    def _dispatch(self) -> None:
        """Hand idle workers to waiting calls: among those whose caller is under its cap, the
        caller with the fewest calls running first; among equals, the earliest."""
        while self._idle and self._waiters:
            self._waiters = [w for w in self._waiters if not w.future.done()]
            ready = [w for w in self._waiters if self._may_run(w.caller)]
            if not ready:
                return
            waiter = min(ready, key=lambda w: self._running[w.caller])
            self._waiters.remove(waiter)
            self._grant(waiter.caller)
            waiter.future.set_result(self._idle.popleft())

    def _discard(self, worker: _Worker, target: str, exc: BaseException) -> None:
        worker.kill()
        if isinstance(exc, WorkerTimeout):
            self._counts["timeouts"] += 1
            log.info("worker pool %s: %s timed out; killed pid %d", self.name, target, worker.pid)
        elif isinstance(exc, WorkerCrashed):
            self._counts["crashes"] += 1
            log.warning("worker pool %s: %s crashed pid %d: %s", self.name, target, worker.pid, exc)
        else:
            log.info("worker pool %s: %s ended by %s; killed pid %d", self.name, target, type(exc).__name__, worker.pid)
        if not self._closed:
            self._counts["restarts"] += 1
            self._background(self._replace(worker))

    async def _replace(self, old: _Worker) -> None:
        await self._reap(old)
        delay = _RESPAWN_FIRST_DELAY
        while not self._closed:
            try:
                worker = await self._spawn()
            except Exception as exc:  # keep trying: a pool that silently shrinks is worse
                log.error("worker pool %s: cannot start a worker (%s); retrying in %gs", self.name, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, _RESPAWN_MAX_DELAY)
                continue
            self._release(worker)
            return

    async def _watch(self, worker: _Worker) -> None:
        # A worker that dies while idle (OOM killer, an operator's kill) is replaced now, rather
        # than failing the next, innocent call that would be sent to it.
        code = await worker.process.wait()
        if worker in self._idle:
            self._idle.remove(worker)
            worker.ready = False
            log.warning("worker pool %s: idle pid %d %s", self.name, worker.pid, _describe_exit(code, None))
            self._counts["restarts"] += 1
            self._background(self._replace(worker))

    async def _spawn(self) -> _Worker:
        self._check_open()
        try:
            process = await asyncio.create_subprocess_exec(
                *self._argv(),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                env=self._env,
                cwd="/",
                start_new_session=True,  # no terminal signals; one process group to kill
                limit=_STREAM_LIMIT,
            )
        except OSError as exc:
            raise WorkerError(f"cannot start a worker process: {exc}") from None
        worker = _Worker(process, self.max_result_bytes + _REPLY_SLACK)
        self._workers.add(worker)
        try:
            skipped = await worker.wait_ready(self.start_timeout)
            if skipped and skipped != self.confinement_skipped:
                self.confinement_skipped = skipped
                log.warning("worker pool %s: not available on this system: %s", self.name, ", ".join(skipped))
            self._check_open()  # aclose() ran while this worker was starting
        except BaseException:
            worker.kill()
            self._background(self._reap(worker))
            raise
        self._background(self._watch(worker))
        return worker

    def _argv(self) -> list[str]:
        config = {
            "sys_path": _child_sys_path(),
            "ppid": os.getpid(),
            "memory_mb": self.settings.memory_mb,
            "initializer": self.initializer,
            "max_result_bytes": self.max_result_bytes,
            "sandbox": self._sandbox,
        }
        # -I: no PYTHON* variables, no user site; sys.path comes from the config instead.
        return [sys.executable, "-I", _CHILD_SCRIPT, json.dumps(config)]

    async def _reap(self, worker: _Worker) -> None:
        await worker.reap()
        self._workers.discard(worker)

    def _background(self, coro: Coroutine[Any, Any, None]) -> None:
        if self._closed:
            coro.close()
            return
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


class _Waiter:
    __slots__ = ("caller", "future")

    def __init__(self, future: asyncio.Future[_Worker], caller: str) -> None:
        self.future = future
        self.caller = caller


class _Worker:
    """One child process and its pipes, used by one call at a time."""

    def __init__(self, process: asyncio.subprocess.Process, max_reply: int) -> None:
        self.process = process
        self.pid = process.pid
        self.max_reply = max_reply
        self.ready = False

    async def wait_ready(self, timeout: float) -> list[str]:
        """Wait for the greeting; returns the confinement steps the child could not take."""
        try:
            async with asyncio.timeout(timeout):
                message = _load_plain(await self._read_frame())
        except TimeoutError:
            raise WorkerError(f"a worker did not start within {timeout:g}s") from None
        except _PIPE_ERRORS:
            raise WorkerError(f"a worker failed to start: {await self.death_reason()}") from None
        match message:
            case ("ready", list() as skipped):
                self.ready = True
                return [str(s) for s in skipped]
            case ("init_error", str() as kind, str() as detail):
                raise WorkerError(f"the worker initializer failed: {kind}: {detail}")
        raise WorkerError("a worker sent a malformed greeting")

    async def call(self, request: bytes, timeout: float, cpu_seconds: float) -> bytes:
        stdin = self.process.stdin
        assert stdin is not None
        sent = False
        try:
            async with asyncio.timeout(timeout):
                if self.process.returncode is not None or not _alive(self.pid):
                    raise ConnectionResetError("the worker was dead before the call")
                stdin.write(request)
                await stdin.drain()
                sent = True
                return await self._read_frame()
        except TimeoutError:
            raise WorkerTimeout(f"the computation took longer than {timeout:g}s and was stopped") from None
        except _PIPE_ERRORS:
            code = await self.exit_code()
            reason = "it closed its pipe" if code is None else _describe_exit(code, cpu_seconds)
            crashed = WorkerCrashed(f"the computation crashed its worker ({reason})")
            # Dead before the call was sent: the call did not kill it. (A SIGKILL during the
            # call may be the OOM killer answering the call itself, so that is not retried.)
            crashed.found_dead = not sent
            raise crashed from None

    async def _read_frame(self) -> bytes:
        stdout = self.process.stdout
        assert stdout is not None
        (size,) = child.HEADER.unpack(await stdout.readexactly(child.HEADER.size))
        if size > self.max_reply:
            # Only a misbehaving child sends this; the rest of the frame is still in the pipe.
            raise WorkerCrashed(f"the worker sent a reply of {size:,} bytes, over the limit")
        return await stdout.readexactly(size)

    async def death_reason(self, cpu_seconds: float | None = None) -> str:
        code = await self.exit_code()
        return "it closed its pipe" if code is None else _describe_exit(code, cpu_seconds)

    async def exit_code(self) -> int | None:
        try:
            return await asyncio.wait_for(self.process.wait(), _EXIT_WAIT)
        except TimeoutError:
            return None

    def kill(self) -> None:
        """SIGKILL the worker's process group (whatever it forked, too); synchronous on purpose."""
        self.ready = False
        if self.process.returncode is not None:
            return
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        except PermissionError:
            self.process.kill()

    async def reap(self) -> None:
        try:
            await asyncio.wait_for(self.process.wait(), _REAP_WAIT)
        except TimeoutError:
            log.error("worker pid %d did not exit %gs after SIGKILL", self.pid, _REAP_WAIT)
        if self.process.stdin is not None:
            self.process.stdin.close()


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _PLAIN_GLOBALS:
            return super().find_class(module, name)
        raise _NotPlain(f"{module}.{name}")


class _NotPlain(pickle.UnpicklingError):
    pass


def _load_plain(data: bytes) -> Any:
    try:
        return _PlainUnpickler(io.BytesIO(data)).load()
    except _NotPlain as exc:
        raise WorkerError(
            f"the result contains a {exc}, but workers return only plain data "
            "(str, numbers, bytes, lists, tuples, dicts, sets); convert it in the worker"
        ) from None
    except Exception as exc:
        raise WorkerError(f"the worker sent an unreadable reply ({type(exc).__name__})") from None


def _decode_reply(reply: bytes) -> Any:
    match _load_plain(reply):
        case ("ok", value):
            return value
        case ("raised", str() as kind, str() as detail):
            raise TargetError(kind, detail)
        case ("error", str() as message):
            raise WorkerError(message)
    raise WorkerError("the worker sent a malformed reply")


def _request_frame(target: str, args: tuple[Any, ...], kwargs: dict[str, Any], cpu_seconds: float) -> bytes:
    try:
        body = pickle.dumps((target, args, kwargs, cpu_seconds), child.PICKLE_PROTOCOL)
    except Exception as exc:
        raise TypeError(f"the arguments for {target} cannot be sent to a worker: {exc}") from None
    if len(body) >= 2**32:
        raise ValueError(f"the arguments for {target} are too large to send to a worker")
    return child.HEADER.pack(len(body)) + body


def _describe_exit(code: int, cpu_seconds: float | None) -> str:
    if code >= 0:
        return f"exited with code {code}"
    number = -code
    if number == signal.SIGXCPU:
        return "CPU time limit exceeded" + (f" ({cpu_seconds:g}s)" if cpu_seconds else "")
    try:
        name = signal.Signals(number).name
    except ValueError:
        name = str(number)
    if number == signal.SIGKILL:
        return f"killed by signal {name}, most likely for running out of memory"
    return f"killed by signal {name}"


def _alive(pid: int) -> bool:
    """False once the process has exited (a zombie counts as dead), cheaply, without reaping."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rpartition(b")")[2][1:2] not in (b"Z", b"X")
    except FileNotFoundError:
        return False
    except OSError:
        return True  # no /proc: assume alive, the pipe will tell


def sandbox_policy(network: bool, readable_paths: Iterable[str] = ()) -> dict[str, Any]:
    """The confinement a worker applies to itself (see `common/_sandbox.py`).

    A worker may read the interpreter, `sys.path`, the mcpfleet packages and `readable_paths`
    (plus the system libraries); nothing else on disk.
    """
    read_paths = [
        sys.base_prefix,
        sys.prefix,
        sys.exec_prefix,
        os.path.realpath(sys.executable),
        sys.executable,
        str(Path(_CHILD_SCRIPT).parent),
        *_child_sys_path(),
        *_package_dirs(),
        *readable_paths,
    ]
    read_paths = sorted({p for p in read_paths if p and os.path.exists(p)})
    drop_to = None
    if os.geteuid() == 0:
        if sandbox.readable_by(sandbox.NOBODY, read_paths):
            drop_to = sandbox.NOBODY
        else:
            log.debug("workers stay uid 0 without capabilities: user nobody cannot read the interpreter or the code")
    return {"drop_to": drop_to, "network": network, "read_paths": read_paths}


def _child_sys_path() -> list[str]:
    # Absolute: workers run in / so that they hold no folder of the server's open.
    return [os.path.abspath(p or ".") for p in sys.path if isinstance(p, str)]


def _package_dirs() -> list[str]:
    import importlib.util

    dirs = []
    for name in ("mcpfleet", "mcpfleet.common", "mcpfleet.servers", "mcpfleet.evals"):
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            continue
        if spec is not None and spec.submodule_search_locations:
            dirs.extend(spec.submodule_search_locations)
    return dirs


def confined_command(argv: list[str], *, network: bool = False, readable_paths: Iterable[str] = ()) -> list[str]:
    """`argv` run under the workers' confinement (for worker programs that are not Python, like
    the ui server's Node process): a small Python launcher confines itself, then executes it.

    The program may read its own binary, `readable_paths` and the system libraries; nothing else.
    """
    make_undumpable()
    program = shutil.which(argv[0]) or argv[0]
    policy = sandbox_policy(network, [program, os.path.realpath(program), *readable_paths])
    return [sys.executable, "-I", _SANDBOX_SCRIPT, json.dumps(policy), "--", *argv]


def make_undumpable() -> None:
    """Make this process non-dumpable: its workers (or anything else of its user without
    CAP_SYS_PTRACE) can then not read its /proc/<pid>/environ or memory."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE
        except (OSError, AttributeError):
            pass


def _child_env(extra: Mapping[str, str] | None) -> dict[str, str]:
    env = {key: os.environ[key] for key in _ENV_KEEP if key in os.environ}
    env.update(_ENV_FIXED)
    env.update(extra or {})
    return env


def _positive(name: str, value: float | None, default: float) -> float:
    if value is None:
        return default
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive number of seconds, not {value!r}")
    return float(value)


async def run_for_tool(
    pool: WorkerPool, target: str, /, *args: Any, input_errors: Iterable[str] = (), **kwargs: Any
) -> Any:
    """`pool.run` for a tool: every failure becomes a message the model can act on.

    Exceptions of the kinds in `input_errors` (class names raised in the worker, e.g. a parser's
    own error) are the caller's mistake and are passed on as written; a timeout or a crash says
    which limit stopped the computation. The server keeps serving either way.
    """
    try:
        return await pool.run(target, *args, **kwargs)
    except TargetError as exc:
        if exc.kind in set(input_errors):
            raise UserError(exc.detail or exc.kind) from None
        raise UserError(f"could not compute this ({exc.kind}: {exc.detail[:300]})") from None
    except WorkerTimeout:
        timeout = kwargs.get("timeout") or pool.settings.timeout
        raise UserError(
            f"the computation took longer than {timeout:g} s and was stopped; try a smaller problem or a simpler form"
        ) from None
    except WorkerCrashed as exc:
        raise UserError(f"the computation exceeded its memory or CPU limit and was stopped ({exc})") from None


def pool_settings(base: WorkerSettings, **overrides: Any) -> WorkerSettings:
    """`base` (the `[workers]` section) with a server's overrides; None leaves a value as it is."""
    return base.model_copy(update={k: v for k, v in overrides.items() if v is not None})
