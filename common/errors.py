"""The fleet's exceptions, in one place.

`FleetError` and its subclasses carry messages written for the person (or model) that must act on
them; nothing here ever carries a traceback, a path on the server, or a secret.
"""

from __future__ import annotations

import logging

from fastmcp.exceptions import ToolError


class FleetError(ToolError):
    """Base of every error the fleet raises on purpose.

    It is a FastMCP `ToolError`, so raised inside a tool its message reaches the model as an
    `isError` result. It is logged at INFO: these are answers about the input or the outside
    world, not faults of the server (those are logged at ERROR with a request id).
    """

    def __init__(self, message: str, *, log_level: int = logging.INFO) -> None:
        super().__init__(message, log_level=log_level)


class UserError(FleetError):
    """The caller's input is wrong; the message says what and how to fix it."""


class LimitExceeded(FleetError):
    """A runtime limit stopped the call: timeout, rate limit, size."""


class ConfigError(FleetError):
    """The configuration is wrong; the message says which setting and why."""


class OutboundError(FleetError):
    """An outbound HTTP request failed (network, status, size)."""


class BlockedDestination(OutboundError):
    """The SSRF guard refused a URL (scheme, address range or redirect)."""


class ResponseTooLarge(OutboundError):
    """The response body passed the configured size cap."""


class MalformedResponse(OutboundError):
    """A response body that is not JSON, or not JSON of the shape asked for (`FetchResult.json`)."""


class WorkerError(FleetError):
    """A sandboxed computation failed: it raised, crashed, or hit a limit."""


class TargetError(WorkerError):
    """The computation raised: `kind` is the exception's class name, `detail` its (bounded) message."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind
        self.detail = detail


class WorkerTimeout(WorkerError):
    """The computation passed its wall-clock limit; its worker was killed and replaced."""


class WorkerCrashed(WorkerError):
    """The worker died (signal, CPU or memory limit); it was replaced.

    `found_dead` is True when the call did not kill it (dead before the call was sent, or
    SIGKILLed by someone else), so the call may be retried on a fresh worker.
    """

    found_dead: bool = False


class WorkerBusy(WorkerError):
    """The queue is full; try again later."""
