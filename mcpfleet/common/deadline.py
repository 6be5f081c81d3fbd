"""A tool call's deadline: when its time is up the call's task is cancelled, as `asyncio.timeout`
cancels it, by a timer that holds nothing of the call.

Not anyio's `CancelScope` (what `anyio.fail_after` is), for two reasons:
- A scope's cancellation waits for any thread the call is waiting on: anyio shields
  `to_thread.run_sync`, so a call stuck in a thread ran past its limit for as long as the thread
  took, and then answered as if in time. The task's own cancellation ends the call at its
  deadline; the thread finishes on its own and its result is dropped.
- Cost: entering and leaving a scope walks the call's whole chain of scopes, about 800 Python
  bytecodes a call (a sixth of what the runtime adds to a call), against about 300 here.

Not `asyncio.timeout` itself: its timer runs in the context of the call (its request, session
and caller). An event loop keeps a cancelled timer, and the context it holds, until it leaves
the loop's heap, and asyncio removes cancelled timers only in batches; so each call's objects
stayed alive long enough to reach the collector's oldest generation, whose full collections then
ran two to three times as often (about 0.1 ms a call). This timer runs in an empty context.
"""

from __future__ import annotations

import asyncio
import contextvars


class Deadline:
    """Cancel the running asyncio task in `seconds`; `end` it once the call is over, whichever way.

    deadline = Deadline(seconds)
    try:
        result = await call()
    except BaseException as exc:
        if deadline.end(exc):
            ...  # the call ran out of time
        raise
    deadline.end(None)
    """

    __slots__ = ("_cancelling", "_handle", "_task", "expired")

    def __init__(self, seconds: float) -> None:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("a Deadline needs a running asyncio task")
        self._task = task
        self._cancelling = task.cancelling()  # cancel requests already pending from elsewhere
        self.expired = False
        loop = task.get_loop()
        self._handle = loop.call_at(loop.time() + seconds, self._expire, context=contextvars.Context())

    def _expire(self) -> None:
        self.expired = True
        self._task.cancel()

    def end(self, exc: BaseException | None) -> bool:
        """Stop the timer; True when `exc`, what the call raised, is this deadline's cancellation
        and no one else's (as `asyncio.timeout` decides: by the task's count of cancel requests)."""
        self._handle.cancel()
        if not self.expired:
            return False
        # Take back this deadline's cancel request, whether or not the call let it through.
        return self._task.uncancel() <= self._cancelling and isinstance(exc, asyncio.CancelledError)
