"""What the runtime's logging writes for a tool call served over HTTP: one call line, no noise."""

from __future__ import annotations

import json
import logging

import httpx2
import pytest

from fleet_testing import ECHO, KEYS, eventually, running_app, tool_call_post
from mcpfleet.common import telemetry
from mcpfleet.common.app import build_http_app
from mcpfleet.common.settings import TelemetrySettings, load_settings

NAMES = ("fastmcp", "mcp", "uvicorn", "uvicorn.error", "uvicorn.access", "mcp.server.streamable_http")


@pytest.fixture
def fleet_logging():
    """configure_logging as `mcpfleet serve` runs it, undone afterwards; yields the records it handles."""
    root = logging.getLogger()
    saved = root.level, {n: (logging.getLogger(n).handlers[:], logging.getLogger(n).propagate) for n in NAMES}
    levels = {n: logging.getLogger(n).level for n in NAMES}
    telemetry.configure_logging(TelemetrySettings(log_format="json", log_level="INFO"))
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    root.addHandler(handler)
    try:
        yield records
    finally:
        root.removeHandler(handler)
        if telemetry._configured_handler is not None:
            root.removeHandler(telemetry._configured_handler)
            telemetry._configured_handler = None
        root.setLevel(saved[0])
        for name, (handlers, propagate) in saved[1].items():
            logger = logging.getLogger(name)
            logger.handlers[:], logger.propagate = handlers, propagate
            logger.setLevel(levels[name])


def test_a_served_call_writes_its_call_line_and_nothing_else(api_keys, fleet_logging):
    body, headers = tool_call_post("echo_say", {"text": "hi"}, KEYS["alice"])
    with running_app(build_http_app([ECHO], load_settings(auth={"api_keys": api_keys}))) as url:
        before = len(fleet_logging)
        for _ in range(3):
            answer = httpx2.post(f"{url}/echo/mcp", content=body, headers=headers, timeout=10)
            assert answer.status_code == 200 and "hi" in answer.text
        # The server's records (this process's client, httpx2, logs its requests too). The call
        # line is written just after the answer has gone out (after_response), so by the server's
        # thread perhaps a moment after this one has read it: wait for it, boundedly.
        eventually(lambda: len([r for r in fleet_logging[before:] if r.name == "mcpfleet.calls"]) >= 3)
        during = [r for r in fleet_logging[before:] if not r.name.startswith(("httpx2", "httpcore2"))]
    # Not the SDK's "Terminating session: None" after each stateless request, nor anything else.
    assert [(r.name, r.getMessage()) for r in during] == [("mcpfleet.calls", "tool call")] * 3
    assert [r.caller for r in during] == ["key:alice"] * 3  # type: ignore[attr-defined]
    line = json.loads(telemetry.JsonFormatter().format(during[0]))
    assert line["tool"] == "echo_say" and line["outcome"] == "ok" and line["caller"] == "key:alice"
