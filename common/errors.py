"""The fleet's exceptions, in one place.

`FleetError` and its subclasses carry messages written for the person (or model) that must act on
them; nothing here ever carries a traceback, a path on the server, or a secret.
"""

from __future__ import annotations


class FleetError(Exception):
    """Base of every error the fleet raises on purpose."""


class ConfigError(FleetError):
    """The configuration is wrong; the message says which setting and why."""


class OutboundError(FleetError):
    """An outbound HTTP request failed (network, status, size)."""


class BlockedDestination(OutboundError):
    """The SSRF guard refused a URL (scheme, address range or redirect)."""


class ResponseTooLarge(OutboundError):
    """The response body passed the configured size cap."""


class WorkerError(FleetError):
    """A sandboxed computation failed: it raised, crashed, or hit a limit."""


class WorkerTimeout(WorkerError):
    """The computation passed its wall-clock limit; its worker was killed and replaced."""


class WorkerCrashed(WorkerError):
    """The worker died (signal, CPU or memory limit); it was replaced."""


class WorkerBusy(WorkerError):
    """The queue is full; try again later."""
