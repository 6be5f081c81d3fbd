"""The fleet's exceptions, in one place.

`FleetError` and its subclasses carry messages written for the person (or model) that must act on
them; nothing here ever carries a traceback, a path on the server, or a secret.

They are FastMCP `ToolError`s, yet importing this module does not import FastMCP (over a second),
so the CLI's quick commands (`mcpfleet --help`, `mcpfleet k8s validate`) raise and catch them
without it: until `fastmcp.exceptions` is imported, `FleetError` stands on `_Base`, a bare
exception of the same layout, and the moment it is, `FleetError` is re-based onto its `ToolError`.
FastMCP only ever meets the errors after it has been imported, so it always sees ToolErrors
(tests/common/test_errors.py checks both orders).
"""

from __future__ import annotations

import sys
from types import ModuleType
from typing import TYPE_CHECKING, Any

LOG_INFO = 20  # logging.INFO; the CLI's quick commands do not import logging

if TYPE_CHECKING:
    from fastmcp.exceptions import ToolError as _Base
else:

    class _Base(Exception):
        """FastMCP's ToolError until FastMCP is imported (then `FleetError` is re-based)."""


class FleetError(_Base):
    """Base of every error the fleet raises on purpose.

    It is a FastMCP `ToolError`, so raised inside a tool its message reaches the model as an
    `isError` result. It is logged at INFO: these are answers about the input or the outside
    world, not faults of the server (those are logged at ERROR with a request id).
    """

    def __init__(self, message: str, *, log_level: int = LOG_INFO) -> None:
        super().__init__(message)
        self.log_level = log_level


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


# --- becoming FastMCP's ToolError -------------------------------------------------------------

_FASTMCP_ERRORS = "fastmcp.exceptions"


def _adopt_tool_error(module: ModuleType) -> None:
    tool_error = module.ToolError
    if FleetError.__bases__ != (tool_error,):
        FleetError.__bases__ = (tool_error,)


class _AdoptWhenFastMCPLoads:  # a meta path finder (importlib.abc would import importlib.resources)
    """Finds `fastmcp.exceptions` as the finders after it would and re-bases `FleetError` right
    after the module has run (before any other module can use its ToolError)."""

    def find_spec(self, fullname: str, path: Any, target: ModuleType | None = None) -> Any:
        if fullname != _FASTMCP_ERRORS:
            return None
        spec = None
        for finder in sys.meta_path:
            if finder is not self and hasattr(finder, "find_spec"):
                spec = finder.find_spec(fullname, path, target)
                if spec is not None:
                    break
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        exec_module = spec.loader.exec_module

        def exec_and_adopt(module: ModuleType) -> None:
            exec_module(module)
            _adopt_tool_error(module)

        spec.loader.exec_module = exec_and_adopt  # type: ignore[method-assign]
        return spec


if _FASTMCP_ERRORS in sys.modules:
    _adopt_tool_error(sys.modules[_FASTMCP_ERRORS])
else:
    sys.meta_path.insert(0, _AdoptWhenFastMCPLoads())
