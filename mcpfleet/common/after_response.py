"""Work a request leaves for after its response has gone out: a tool call's log line and metrics.

The HTTP guard wraps each request in a `Collecting`; what `defer` hands it runs as soon as the
last byte of the response has been handed to the connection, in the same step of the event loop,
so it is done before this process reads another request (a scrape of /metrics that follows a call
counts that call). The caller already has its answer while the line is formatted and written. A
response that never completes (the client went away, the app failed) runs what is left when the
request ends, and work deferred after that (the call the client gave up on, which ends later)
runs at once. Outside a request the guard sees (stdio, in process) `defer` runs the work at once."""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable
from typing import Any

from starlette.types import Message, Send

log = logging.getLogger("mcpfleet.runtime")

_current: contextvars.ContextVar[Collecting | None] = contextvars.ContextVar("mcpfleet_after_response", default=None)


def defer(work: Callable[..., None], *args: Any) -> None:
    """Run `work(*args)` once the current request's response is out, or now: outside a request,
    and once the response is out or the request has ended (a call the client gave up on ends
    after its request: its line is written then, not lost)."""
    collecting = _current.get()
    if collecting is None or collecting.done:
        work(*args)
    else:
        collecting.pending.append((work, args))


def run_pending(pending: list[tuple[Callable[..., None], tuple[Any, ...]]]) -> None:
    """Run and forget what was deferred; one failing piece of work does not stop the others."""
    while pending:
        work, args = pending.pop(0)
        try:
            work(*args)
        except Exception:  # reporting must never break serving
            log.exception("deferred %s failed", getattr(work, "__qualname__", work))


class Collecting:
    """A request's scope for `defer`, entered around the app with `send` (the server's): the app
    is given `self.send`, which runs the pending work right after the response's last body
    message; whatever is left runs on the way out. (A class, not a generator context manager:
    this is on every request's path.)"""

    __slots__ = ("_send", "_token", "done", "pending")

    def __init__(self, send: Send) -> None:
        self._send = send
        self.done = False  # the response is out, or the request is over: defer runs work at once
        self.pending: list[tuple[Callable[..., None], tuple[Any, ...]]] = []

    async def send(self, message: Message) -> None:
        await self._send(message)
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            self.done = True
            run_pending(self.pending)

    def __enter__(self) -> Collecting:
        self._token = _current.set(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.done = True
        _current.reset(self._token)
        run_pending(self.pending)
