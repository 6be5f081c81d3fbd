"""The whole runtime over real HTTP: auth, limits, telemetry, bad input. Test servers from tests/support."""

from __future__ import annotations

import json

import httpx2
import pytest
from fastmcp import Client
from fastmcp.exceptions import ToolError

from fleet_testing import ECHO, KEYS, OTHER, running_app, set_other_ready
from mcpfleet.common.app import build_http_app
from mcpfleet.common.settings import load_settings

ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
LIST_TOOLS = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}


@pytest.fixture(scope="module")
def fleet(request):
    from mcpfleet.common.auth import hash_key

    keys = [
        {"name": "alice", "hash": hash_key(KEYS["alice"])},
        {"name": "bob", "hash": hash_key(KEYS["bob"]), "servers": ["other"]},
        {"name": "carol", "hash": hash_key(KEYS["carol"]), "servers": ["echo"]},
    ]
    settings = load_settings(
        auth={"api_keys": keys},
        limits={
            "tool_timeout": 5,
            "tool_timeouts": {"echo_sleep": 0.5},
            "rate_limit_per_minute": 600,
            "rate_limit_burst": 200,
            "max_request_bytes": 20_000,
            "max_output_chars": 5_000,
        },
    )
    app = build_http_app([ECHO, OTHER], settings)
    with running_app(app) as url:
        yield url


def client(url: str, server: str = "echo", key: str | None = KEYS["alice"]) -> Client:
    return Client(f"{url}/{server}/mcp", auth=key, timeout=10)


def post(url: str, body: bytes | str | dict, headers: dict | None = None, key: str | None = KEYS["alice"]):
    h = dict(ACCEPT)
    if key:
        h["Authorization"] = f"Bearer {key}"
    h.update(headers or {})
    content = json.dumps(body) if isinstance(body, (dict, list)) else body
    return httpx2.post(f"{url}/echo/mcp", content=content, headers=h, timeout=10)


async def test_tools_are_listed_and_called_with_structured_output(fleet):
    async with client(fleet) as c:
        names = {t.name for t in await c.list_tools()}
        assert {"echo_say", "echo_add", "echo_whoami"} <= names
        result = await c.call_tool("echo_add", {"a": 2, "b": 40})
        assert result.structured_content == {"total": 42.0, "terms": 2}


async def test_caller_identity_reaches_the_tool(fleet):
    async with client(fleet) as c:
        result = await c.call_tool("echo_whoami", {})
    assert result.content[0].text == "key:alice"


def test_missing_token_is_401_with_bearer_challenge(fleet):
    response = post(fleet, LIST_TOOLS, key=None)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_forged_token_is_401_invalid_token(fleet):
    response = post(fleet, LIST_TOOLS, key="key-alice-0123456789x")
    assert response.status_code == 401
    assert "invalid_token" in response.headers["www-authenticate"]


async def test_key_scoped_to_another_server_is_refused(fleet):
    assert post(fleet, LIST_TOOLS, key=KEYS["bob"]).status_code == 401
    async with client(fleet, "other", KEYS["bob"]) as c:
        result = await c.call_tool("other_ping", {})
    assert result.content[0].text == "pong"


def test_health_and_metrics_need_no_token(fleet):
    assert httpx2.get(f"{fleet}/healthz").json() == {"status": "ok"}
    assert httpx2.get(f"{fleet}/metrics").status_code == 200


def test_stateless_requests_need_no_session(fleet):
    # No initialize and no Mcp-Session-Id: any replica can answer any request.
    response = post(fleet, LIST_TOOLS)
    assert response.status_code == 200
    assert "echo_say" in response.text


async def test_unknown_tool_is_a_tool_error_not_an_error_log(fleet, error_logs):
    async with client(fleet) as c:
        with pytest.raises(ToolError, match="Unknown tool"):
            await c.call_tool("echo_nope", {})
    assert error_logs == []
    metrics = httpx2.get(f"{fleet}/metrics").text
    # Unknown names are counted under one bounded label value, never as a new label.
    assert 'tool="_unknown"' in metrics
    assert "echo_nope" not in metrics


async def test_wrong_argument_types_get_a_short_actionable_message(fleet, error_logs):
    async with client(fleet) as c:
        with pytest.raises(ToolError) as info:
            await c.call_tool("echo_add", {"a": "many"})
    message = str(info.value)
    assert message.startswith("invalid arguments for echo_add:")
    assert "a: Input should be a valid number" in message
    assert "b: Missing required argument" in message
    assert "pydantic.dev" not in message
    assert error_logs == []


async def test_internal_error_is_opaque_with_request_id_and_logged(fleet, error_logs):
    async with client(fleet) as c:
        with pytest.raises(ToolError) as info:
            await c.call_tool("echo_crash", {})
    message = str(info.value)
    assert message.startswith("internal error (request id ")
    assert "secret" not in message and "passwd" not in message and "Traceback" not in message
    request_id = message.split("request id ")[1].rstrip(")")
    logged = [r for r in error_logs if getattr(r, "request_id", None) == request_id]
    assert len(logged) == 1  # logged once, by the runtime, with the id the caller got
    assert "secret internal detail" in logged[0].exc_text or "secret internal detail" in str(logged[0].exc_info)


async def test_tool_errors_raised_on_purpose_reach_the_model(fleet, error_logs):
    async with client(fleet) as c:
        with pytest.raises(ToolError, match="cannot do that: because"):
            await c.call_tool("echo_refuse", {"reason": "because"})
    assert error_logs == []


async def test_per_tool_timeout_stops_the_call_and_server_keeps_serving(fleet):
    async with client(fleet) as c:
        with pytest.raises(ToolError, match=r"echo_sleep took longer than its 0.5 s limit"):
            await c.call_tool("echo_sleep", {"seconds": 30})
        result = await c.call_tool("echo_say", {"text": "still here"})
    assert result.content[0].text == "still here"


async def test_oversized_output_is_truncated_with_a_marker(fleet):
    async with client(fleet) as c:
        result = await c.call_tool("echo_big", {"chars": 100_000}, raise_on_error=False)
    text = result.content[0].text
    assert len(text) < 5_000
    assert "[output truncated by mcpfleet:" in text and "of 100000 characters shown" in text


def test_oversized_body_is_413_declared_or_streamed(fleet):
    big = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "tools/call",
        "params": {"name": "echo_say", "arguments": {"text": "y" * 30_000}},
    }
    assert post(fleet, big).status_code == 413

    def chunks():
        body = json.dumps(big).encode()
        for i in range(0, len(body), 4096):
            yield body[i : i + 4096]

    headers = dict(ACCEPT, Authorization=f"Bearer {KEYS['alice']}")
    response = httpx2.post(f"{fleet}/echo/mcp", content=chunks(), headers=headers, timeout=10)
    assert response.status_code == 413
    assert response.json()["error"]["message"].startswith("request body larger than")


def test_malformed_json_is_a_parse_error_not_a_500(fleet, error_logs):
    response = post(fleet, b"{not json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == -32700
    assert error_logs == []


def test_wrong_content_type_is_refused(fleet):
    response = post(fleet, json.dumps(LIST_TOOLS), headers={"Content-Type": "text/plain"})
    assert response.status_code in (400, 415)  # the SDK's transport guard answers 400
    assert "Content-Type" in response.text


def test_foreign_host_header_is_refused(fleet):
    response = post(fleet, LIST_TOOLS, headers={"Host": "evil.example:80"})
    assert response.status_code == 421


def test_readyz_reports_each_server(fleet):
    assert httpx2.get(f"{fleet}/readyz").json()["status"] == "ready"
    set_other_ready(False)
    try:
        response = httpx2.get(f"{fleet}/readyz")
        assert response.status_code == 503
        assert response.json()["problems"] == ["other: not ready"]
    finally:
        set_other_ready(True)


async def test_metrics_count_calls_by_server_tool_and_outcome(fleet):
    def count(tool: str, outcome: str) -> float:
        for line in httpx2.get(f"{fleet}/metrics").text.splitlines():
            if (
                line.startswith("mcpfleet_tool_calls_total{")
                and f'tool="{tool}"' in line
                and f'outcome="{outcome}"' in line
            ):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    before_ok, before_err = count("echo_say", "ok"), count("echo_refuse", "error")
    async with client(fleet) as c:
        await c.call_tool("echo_say", {"text": "a"})
        await c.call_tool("echo_say", {"text": "b"})
        await c.call_tool("echo_refuse", {"reason": "x"}, raise_on_error=False)
    assert count("echo_say", "ok") == before_ok + 2
    assert count("echo_refuse", "error") == before_err + 1
    assert "mcpfleet_tool_call_duration_seconds_bucket" in httpx2.get(f"{fleet}/metrics").text


def test_index_lists_only_the_servers_the_callers_token_may_use(fleet):
    def index(key: str | None = None) -> httpx2.Response:
        return httpx2.get(f"{fleet}/", headers={"Authorization": f"Bearer {key}"} if key else {})

    assert index().status_code == 401 and "echo" not in index().text
    assert index("not-a-key").status_code == 401
    everything = index(KEYS["alice"]).json()
    assert [s["endpoint"] for s in everything["servers"]] == ["/echo/mcp", "/other/mcp"]
    assert "echo_say" in everything["servers"][0]["tools"]
    assert [s["name"] for s in index(KEYS["carol"]).json()["servers"]] == ["echo"]  # carol: echo only
    assert [s["name"] for s in index(KEYS["bob"]).json()["servers"]] == ["other"]


async def test_rate_limit_per_caller():
    from mcpfleet.common.auth import hash_key

    settings = load_settings(
        auth={
            "api_keys": [
                {"name": "alice", "hash": hash_key(KEYS["alice"])},
                {"name": "carol", "hash": hash_key(KEYS["carol"])},
            ]
        },
        limits={"rate_limit_per_minute": 6, "rate_limit_burst": 3},
    )
    with running_app(build_http_app([ECHO], settings)) as url:
        async with client(url) as c:
            for _ in range(3):
                await c.call_tool("echo_say", {"text": "ok"})
            with pytest.raises(
                ToolError, match=r"rate limit reached for 'key:alice' on 'echo' \(6 calls/minute\); retry in \d+ s"
            ):
                await c.call_tool("echo_say", {"text": "one too many"})
        async with client(url, key=KEYS["carol"]) as c:  # another caller has its own budget
            result = await c.call_tool("echo_say", {"text": "fine"})
    assert result.content[0].text == "fine"


@pytest.mark.parametrize(
    "body,code",
    [
        ({}, -32600),
        ({"jsonrpc": "2.0", "id": 1}, -32600),
        ({"jsonrpc": "2.0", "id": 1, "method": "no/such/method"}, -32601),
        ([1, 2, 3], -32600),
        ({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": "not an object"}, -32602),
    ],
)
def test_malformed_json_rpc_gets_a_protocol_error(fleet, error_logs, body, code):
    response = post(fleet, body)
    assert response.status_code < 500
    text = response.text
    assert f'"code":{code}' in text.replace(" ", "") or response.status_code in (400, 422), text
    assert error_logs == []
