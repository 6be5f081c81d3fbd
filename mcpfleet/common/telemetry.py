"""Metrics, logs and traces for every tool call, in one middleware.

- Prometheus: `mcpfleet_tool_calls_total` and `mcpfleet_tool_call_duration_seconds` by server,
  tool and outcome. Label values are bounded: a tool name the server does not have is counted as
  `_unknown`, and outcomes are a fixed set (`OUTCOMES`).
- Logs: one JSON line per call with request id, caller, server, tool, duration and outcome. Every
  log record emitted while a call runs carries its request id (a logging filter adds it).
- Traces: FastMCP already emits OpenTelemetry spans; `configure_tracing` only installs the SDK and
  an OTLP/HTTP exporter when an endpoint is configured.
- Internal errors: logged at ERROR with the request id; the caller sees only
  "internal error (request id …)", never a traceback or exception text.
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import logging
import os
import sys
import time
from collections.abc import Iterable
from typing import Any

import mcp_types as mt
from fastmcp.exceptions import FastMCPError, NotFoundError, ToolError, ValidationError
from fastmcp.server.middleware import CallNext, MiddlewareContext
from fastmcp.tools.base import ToolResult
from prometheus_client import CollectorRegistry, Counter, Histogram
from pydantic import ValidationError as PydanticValidationError

from mcpfleet.common.after_response import defer
from mcpfleet.common.auth import begin_call, current_caller, end_call, loggable
from mcpfleet.common.compat import (
    FASTMCP_CRASH_PREFIX,
    FASTMCP_INVALID_ARGUMENTS_PREFIX,
    FASTMCP_UNKNOWN_TOOL_PREFIX,
    SDK_TRANSPORT_LOGGER,
    flat_json_encoder,
)
from mcpfleet.common.errors import LimitExceeded
from mcpfleet.common.middleware import ToolCallMiddleware
from mcpfleet.common.settings import TelemetrySettings

log = logging.getLogger("mcpfleet.calls")
request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("mcpfleet_request_id", default=None)

OUTCOMES = ("ok", "error", "invalid", "unknown_tool", "limited", "internal", "cancelled")
UNKNOWN_TOOL = "_unknown"
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Metrics:
    """The fleet's Prometheus metrics, on a registry of their own (one per app)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        labels = ("server", "tool", "outcome")
        self.calls = Counter("mcpfleet_tool_calls", "Tool calls.", labels, registry=self.registry)
        self.latency = Histogram(
            "mcpfleet_tool_call_duration_seconds",
            "Tool call latency.",
            labels,
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )

        self.registry.register(_PoolCollector())
        # Label children per (server, tool, outcome), looked up once: `labels()` validates and
        # joins its arguments on every call. Bounded, as the label values are (see module doc).
        self._children: dict[tuple[str, str, str], tuple[Any, Any]] = {}

    def observe(self, server: str, tool: str, outcome: str, seconds: float) -> None:
        key = (server, tool, outcome)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (self.calls.labels(*key), self.latency.labels(*key))
        children[0].inc()
        children[1].observe(seconds)


class _PoolCollector:
    """The worker pools' own counters on /metrics, read when scraped: calls, restarts, timeouts,
    crashes and retries per pool (`mcpfleet_worker_events_total`), and its workers by state
    (`mcpfleet_workers`: live, busy, queued calls). Labels are pool names, set by code."""

    def describe(self) -> list[Any]:
        return []  # no collect() at registration: the workers module loads on the first scrape

    def collect(self) -> Iterable[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        from mcpfleet.common.workers import live_pools

        events = CounterMetricFamily("mcpfleet_worker_events", "Worker pool events.", labels=("pool", "event"))
        workers = GaugeMetricFamily("mcpfleet_workers", "Worker processes by state.", labels=("pool", "state"))
        totals: dict[tuple[str, str], int] = {}
        states: dict[tuple[str, str], int] = {}
        for pool in live_pools():
            stats = pool.stats()
            for event in ("calls", "restarts", "timeouts", "crashes", "retries"):
                totals[pool.name, event] = totals.get((pool.name, event), 0) + stats[event]
            for state in ("live", "busy", "queued"):
                states[pool.name, state] = states.get((pool.name, state), 0) + stats[state]
        for labels, value in totals.items():
            events.add_metric(labels, value)
        for labels, value in states.items():
            workers.add_metric(labels, value)
        yield events
        yield workers


def new_request_id() -> str:
    """16 hex characters (64 random bits): unique enough to find one call's log lines."""
    return os.urandom(8).hex()


class TelemetryMiddleware(ToolCallMiddleware):
    """Times, counts and logs each tool call; turns internal failures into opaque errors."""

    def __init__(self, server: str, metrics: Metrics | None, tools: Iterable[str] = ()) -> None:
        self.server = server
        self.metrics = metrics
        self.tools = frozenset(tools)
        self.log = log  # the call log (benchmarks/bench_runtime.py --split swaps in a silent one)

    def set_tools(self, tools: Iterable[str]) -> None:
        self.tools = frozenset(tools)

    async def on_call_tool(
        self,
        context: MiddlewareContext[mt.CallToolRequestParams],
        call_next: CallNext[mt.CallToolRequestParams, ToolResult],
    ) -> ToolResult:
        request_id = new_request_id()
        token = request_id_var.set(request_id)
        identity = begin_call()  # the caller, looked up once for the whole call
        name = context.message.name
        tool = name if name in self.tools else UNKNOWN_TOOL
        caller = loggable(current_caller())
        started = time.perf_counter()
        outcome = "ok"
        try:
            result = await call_next(context)
            if isinstance(result, ToolResult) and result.is_error:
                outcome = "error"
            return result
        except Exception as exc:
            outcome = _outcome_of(exc)
            if outcome == "internal":
                self.log.error(
                    "internal error in %s/%s",
                    self.server,
                    name,
                    exc_info=_root_cause(exc),
                    extra={"request_id": request_id, "caller": caller},
                )
                raise ToolError(f"internal error (request id {request_id})") from None
            if outcome == "invalid":
                raise ToolError(invalid_arguments_message(name, exc)) from None
            raise
        except asyncio.CancelledError:  # the client went away, or the server is stopping
            outcome = "cancelled"
            raise
        finally:
            seconds = time.perf_counter() - started
            # Counted and logged once the answer is out, off the caller's wait (after_response).
            defer(self._report, request_id, caller, name, tool, outcome, seconds, time.time())
            end_call(identity)
            request_id_var.reset(token)

    def _report(
        self, request_id: str, caller: str, name: str, tool: str, outcome: str, seconds: float, ended: float
    ) -> None:
        if self.log.isEnabledFor(logging.INFO):  # first: logging never raises, so the line is never lost
            fields = {
                "request_id": request_id,
                "caller": caller,
                "server": self.server,
                "tool": name[:64],
                "duration_ms": round(seconds * 1000, 2),
                "outcome": outcome,
            }
            self.log.handle(call_record(self.log.name, fields, ended))
        if self.metrics is not None:
            self.metrics.observe(self.server, tool, outcome, seconds)


# The call log's record, built from a template: `Logger.info(extra=...)` would look up the
# caller's frame, source file and module name for every call, none of which a call line prints.
_CALL_TEMPLATE = logging.LogRecord(
    "mcpfleet.calls", logging.INFO, __file__, 0, "tool call", None, None, "on_call_tool"
).__dict__
_CALL_TEMPLATE.update(thread=None, threadName=None, process=None, processName=None)  # as logThreads etc. off
_START = _CALL_TEMPLATE["created"] - _CALL_TEMPLATE["relativeCreated"] / 1000  # logging's start time


def call_record(logger: str, fields: dict[str, Any], now: float) -> logging.LogRecord:
    """The INFO record "tool call" of `logger` with `fields` as its extras, stamped `now` (a
    `time.time()`: when the call ended, not when its line is written)."""
    record = logging.LogRecord.__new__(logging.LogRecord)
    attributes = record.__dict__
    attributes.update(_CALL_TEMPLATE)
    attributes.update(fields)
    attributes["name"] = logger
    attributes["created"] = now
    attributes["msecs"] = int((now - int(now)) * 1000) + 0.0
    attributes["relativeCreated"] = (now - _START) * 1000
    return record


def _outcome_of(exc: BaseException) -> str:
    if isinstance(exc, LimitExceeded):
        return "limited"
    if isinstance(exc, NotFoundError):
        return "unknown_tool"
    if isinstance(exc, (ValidationError, PydanticValidationError)):
        return "invalid"
    if isinstance(exc, ToolError) and _is_masked_crash(exc):
        return "internal"
    if isinstance(exc, FastMCPError):
        return "error"
    return "internal"


def invalid_arguments_message(tool: str, exc: BaseException) -> str:
    """Pydantic's report, shortened for a model: one `field: problem` per error, no doc links."""
    cause = exc if isinstance(exc, PydanticValidationError) else exc.__cause__
    if not isinstance(cause, PydanticValidationError):
        return str(exc)
    problems = []
    for err in cause.errors(include_url=False)[:8]:
        where = ".".join(str(p) for p in err["loc"]) or "arguments"
        problems.append(f"{where}: {err['msg']}")
    return f"invalid arguments for {tool}: " + "; ".join(problems)


def _is_masked_crash(exc: ToolError) -> bool:
    """FastMCP wraps an unexpected exception in a ToolError whose cause is not a FastMCPError."""
    cause = exc.__cause__
    return cause is not None and not isinstance(cause, FastMCPError) and str(exc).startswith(FASTMCP_CRASH_PREFIX)


def _root_cause(exc: BaseException) -> BaseException:
    return exc.__cause__ if exc.__cause__ is not None else exc


# --- logs -------------------------------------------------------------------------------------

# uvicorn adds `color_message` (the message again, with ANSI escapes) to its records.
_STANDARD = logging.LogRecord("", 0, "", 0, "", None, None).__dict__
_STANDARD_ATTRIBUTES = len(_STANDARD)
_RESERVED = set(_STANDARD) | {"message", "asctime", "color_message"}


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    # A record's standard attributes come first (LogRecord.__init__ sets them in order); extras,
    # and anything a filter or another formatter adds, follow. Only those are looked at, in order.
    return {
        key: value if isinstance(value, (str, int, float, bool)) else str(value)
        for key, value in itertools.islice(record.__dict__.items(), _STANDARD_ATTRIBUTES, None)
        if key not in _RESERVED and not key.startswith("_") and value is not None
    }


_encode_json = flat_json_encoder()  # entries are flat: str/int/float/bool values (see _extras)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id and any extras."""

    converter = staticmethod(time.gmtime)  # the Z in the timestamp means UTC

    def __init__(self) -> None:
        super().__init__()
        self._second = -1
        self._stamp = ""

    def _time(self, record: logging.LogRecord) -> str:
        second = int(record.created)
        if second != self._second:  # strftime once a second, not once a line
            self._second, self._stamp = second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._stamp}.{int(record.msecs):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self._time(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(_extras(record))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return _encode_json(entry)


class TextFormatter(logging.Formatter):
    """Short lines for a person at a terminal: `12:04:31 INFO  tool call  math/math_solve ok 41ms key:alice`."""

    def format(self, record: logging.LogRecord) -> str:
        extras = _extras(record)
        line = f"{self.formatTime(record, '%H:%M:%S')} {record.levelname:<5} {record.getMessage()}"
        if "tool" in extras and "server" in extras:
            line += (
                f"  {extras.pop('server')}/{extras.pop('tool')} {extras.pop('outcome', '')}"
                f" {extras.pop('duration_ms', '')}ms {extras.pop('caller', '')}"
            )
        if extras:
            line += "  " + " ".join(f"{key}={value}" for key, value in extras.items())
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id_var.get()
        return True


_configured_handler: logging.Handler | None = None


def configure_logging(settings: TelemetrySettings) -> None:
    """Route the fleet's, FastMCP's, the MCP SDK's and uvicorn's logs to stderr in one format.

    stderr, because stdout belongs to the stdio transport. `log_format` auto: short text lines on a
    terminal, JSON lines otherwise (pods have no terminal).

    Lines are written on the caller's thread. A queue and a writer thread were measured slower
    (p50 of a trivial call 1.43× bare FastMCP against 1.23× written directly; the thread hand-off
    and the GIL cost more than a line written to a pipe), so they are not used. Records do not
    look up thread, process or multiprocessing names (no formatter here prints them).
    """
    global _configured_handler
    fmt = settings.log_format
    if fmt == "auto":
        fmt = "text" if sys.stderr.isatty() else "json"
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    if _configured_handler is not None:
        root.removeHandler(_configured_handler)
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    _configured_handler = handler
    for name in ("fastmcp", "mcp", "uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()  # FastMCP installs a rich handler of its own
        logger.propagate = True
    # The fleet serves stateless HTTP, where the SDK's transport logs "Terminating session: None"
    # at INFO after every request (there is no session): a line per call, and its cost, for nothing.
    logging.getLogger(SDK_TRANSPORT_LOGGER).setLevel(logging.WARNING)
    install_log_filters()


_FILTER = None


def install_log_filters() -> None:
    """FastMCP logs a client's bad arguments or unknown tool at WARNING/ERROR; they are not ours."""
    global _FILTER
    if _FILTER is None:
        _FILTER = _DemoteClientMistakes()
        logging.getLogger("fastmcp.server.server").addFilter(_FILTER)


class _DemoteClientMistakes(logging.Filter):
    """Client mistakes (unknown tool, bad arguments) must never be logged at ERROR level.

    FastMCP's own "Error calling tool" record is dropped inside a fleet call: TelemetryMiddleware
    logs the same failure once, with the request id the caller was given.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith(FASTMCP_CRASH_PREFIX) and request_id_var.get() is not None:
            return False
        if record.levelno >= logging.WARNING and message.startswith(
            (FASTMCP_INVALID_ARGUMENTS_PREFIX, FASTMCP_UNKNOWN_TOOL_PREFIX)
        ):
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


# --- traces -----------------------------------------------------------------------------------

_tracing_configured = False


def configure_tracing(settings: TelemetrySettings) -> bool:
    """Export FastMCP's spans over OTLP/HTTP when an endpoint is configured. Returns whether on."""
    global _tracing_configured
    endpoint = settings.otlp_endpoint
    if not endpoint or _tracing_configured:
        return _tracing_configured
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": settings.service_name}))
    url = endpoint.rstrip("/")
    if not url.endswith("/v1/traces"):
        url += "/v1/traces"
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=url, timeout=5)))
    trace.set_tracer_provider(provider)
    _tracing_configured = True
    return True


def shutdown_tracing() -> None:
    """Flush spans still buffered (on server shutdown)."""
    from opentelemetry import trace

    provider = trace.get_tracer_provider()
    shutdown = getattr(provider, "shutdown", None)
    if _tracing_configured and shutdown is not None:
        shutdown()
