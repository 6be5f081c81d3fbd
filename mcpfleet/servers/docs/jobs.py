"""Index runs that outlive the tool call that started them.

A big repository can take longer to index than a tool call may last (`limits.tool_timeout`).
Cancelling the work at that point would throw it away, and every retry would fail the same way.
So an index run is a task of its own: the call that starts it waits for it up to a deadline and
forwards its progress; past the deadline the call answers "still indexing" and the run goes on.
A later call for the same source joins the running task instead of starting a second one.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from mcpfleet.common.errors import UserError
from mcpfleet.servers.docs.indexer import IndexResult, Progress

log = logging.getLogger("mcpfleet.docs")
SHUTDOWN_WAIT = 5.0


@dataclass
class Job:
    key: str
    task: asyncio.Task[IndexResult] = field(init=False)  # set by Jobs.run right after creation
    done: float = 0.0
    total: float = 100.0
    message: str = "starting"
    listeners: set[Progress] = field(default_factory=set)

    async def progress(self, done: float, total: float, message: str) -> None:
        self.done, self.total, self.message = done, total, message
        for listener in list(self.listeners):
            try:
                await listener(done, total, message)
            except Exception:  # a caller that went away must not stop the run
                self.listeners.discard(listener)


@dataclass(frozen=True)
class Running:
    """The answer while a run continues in the background."""

    key: str
    percent: float
    message: str


class IndexJobs:
    # Runs outlive their calls and each holds an archive and its unpacked files in memory: without a
    # cap, a caller naming many repositories or refs in a row piles up runs until the pod is killed.
    MAX_RUNNING = 4

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}

    async def run(
        self,
        key: str,
        start: Callable[[Progress], Coroutine[Any, Any, IndexResult]],
        progress: Progress,
        wait: float | None,
    ) -> IndexResult | Running:
        """Run (or join) the job `key`; its result, or `Running` once `wait` seconds have passed."""
        job = self._jobs.get(key)
        if job is None:
            if len(self._jobs) >= self.MAX_RUNNING:
                raise UserError(
                    f"{len(self._jobs)} indexing runs are in progress, the most this server runs at once; "
                    "try again in a minute"
                )
            job = Job(key)
            job.task = asyncio.create_task(start(job.progress), name=f"docs-index {key}")
            job.task.add_done_callback(functools.partial(self._finished, job))
            self._jobs[key] = job
        job.listeners.add(progress)
        try:
            await asyncio.wait({job.task}, timeout=wait)
        finally:
            job.listeners.discard(progress)
        if job.task.done():
            return job.task.result()  # raises what the run raised
        return Running(key, round(100 * job.done / (job.total or 100), 1), job.message)

    def _finished(self, job: Job, task: asyncio.Task) -> None:
        if self._jobs.get(job.key) is job:
            del self._jobs[job.key]
        if not task.cancelled() and task.exception() is not None:  # retrieved: no "never retrieved" warning
            log.info("indexing %s failed: %s", job.key, task.exception())

    async def aclose(self) -> None:
        tasks = [j.task for j in self._jobs.values()]
        for task in tasks:
            task.cancel()
        if tasks:
            # a write already running in its thread finishes (or meets its deadline) first; no longer
            # than a few seconds is spent here, and an unfinished write is never committed
            await asyncio.wait(tasks, timeout=SHUTDOWN_WAIT)
