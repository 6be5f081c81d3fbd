"""Work left for after the response (a call's log line and metrics): when it runs, and that a
failure in it never reaches the caller."""

from __future__ import annotations

import asyncio
import logging
import socket
import time

import httpx2
import pytest

from fleet_testing import ECHO, KEYS, eventually, running_app, tool_call_post
from mcpfleet.common.after_response import Collecting, defer
from mcpfleet.common.app import build_http_app
from mcpfleet.common.settings import load_settings


def recorder(events: list):
    async def send(message: dict) -> None:
        events.append(("sent", message["type"], message.get("more_body", False)))

    return send


async def test_deferred_work_runs_right_after_the_last_body_message():
    events: list = []
    with Collecting(recorder(events)) as collecting:
        await collecting.send({"type": "http.response.start", "status": 200, "headers": []})
        defer(events.append, ("work", 1))
        defer(events.append, ("work", 2))
        await collecting.send({"type": "http.response.body", "body": b"a", "more_body": True})
        assert events[-1] == ("sent", "http.response.body", True)  # not yet: more body follows
        await collecting.send({"type": "http.response.body", "body": b"b"})
        assert events[-3:] == [("sent", "http.response.body", False), ("work", 1), ("work", 2)]
    assert events.count(("work", 1)) == 1  # run once, not again on the way out


async def test_work_of_a_response_that_never_finished_runs_when_the_request_ends():
    events: list = []
    with pytest.raises(RuntimeError), Collecting(recorder(events)):
        defer(events.append, "work")
        raise RuntimeError("the app failed before answering")
    assert events == ["work"]


def test_outside_a_request_work_runs_at_once():
    events: list = []
    defer(events.append, "now")
    assert events == ["now"]


async def test_a_failing_piece_of_work_is_logged_and_the_rest_still_runs(caplog):
    events: list = []

    def broken() -> None:
        raise ValueError("boom")

    with caplog.at_level(logging.ERROR, logger="mcpfleet.runtime"), Collecting(recorder(events)) as collecting:
        defer(broken)
        defer(events.append, "after")
        await collecting.send({"type": "http.response.body", "body": b""})  # must not raise
    assert events[-1] == "after"
    assert any("deferred" in r.getMessage() and r.exc_info for r in caplog.records)


def test_a_served_call_is_counted_before_the_next_request_is_read(api_keys):
    # The call's metrics are written after its answer, but before the server reads another
    # request: a scrape that follows a call always counts it.
    body, headers = tool_call_post("echo_say", {"text": "hi"}, KEYS["alice"])
    app = build_http_app([ECHO], load_settings(auth={"api_keys": api_keys}))
    line = 'mcpfleet_tool_calls_total{outcome="ok",server="echo",tool="echo_say"}'
    # One connection, requests in turn.
    with running_app(app) as url, httpx2.Client(base_url=url, timeout=10) as client:
        for n in range(1, 4):
            answer = client.post("/echo/mcp", content=body, headers=headers)
            assert answer.status_code == 200 and "hi" in answer.text
            assert f"{line} {n}.0" in client.get("/metrics").text


async def test_work_deferred_after_the_request_ended_runs_at_once():
    # A call the client gave up on runs on in its own task (with the request's context) and
    # ends after the request did: what it defers then must run, not wait in a list no one reads.
    events: list = []
    go = asyncio.Event()

    async def call_that_outlives_its_request() -> None:
        await go.wait()
        defer(events.append, "late")

    with Collecting(recorder(events)):
        task = asyncio.create_task(call_that_outlives_its_request())
        await asyncio.sleep(0)
    go.set()
    await task
    assert events == ["late"]


def test_a_call_whose_client_went_away_is_logged_and_counted_as_cancelled(api_keys):
    body, headers = tool_call_post("echo_sleep", {"seconds": 30}, KEYS["alice"])
    fields = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    head = f"POST /echo/mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n{fields}Content-Length: {len(body)}\r\n\r\n".encode()
    line = 'mcpfleet_tool_calls_total{outcome="cancelled",server="echo",tool="echo_sleep"} 1.0'
    app = build_http_app([ECHO], load_settings(auth={"api_keys": api_keys}))
    with running_app(app) as url, httpx2.Client(base_url=url, timeout=10) as client:
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(head + body)
            time.sleep(0.5)  # let the call start its 30 s sleep
        # The client has hung up: the SDK cancels the call, whose line is written as it ends.
        assert eventually(lambda: line in client.get("/metrics").text, seconds=20)
