"""The fleet behind a real LiteLLM proxy on 127.0.0.1.

`mcpfleet serve echo math` runs with API-key auth; LiteLLM (its own venv, `.tools/litellm`,
installed by scripts/litellm-env.sh) runs from the config `mcpfleet config litellm` prints. Through
LiteLLM's `/mcp` endpoint with a LiteLLM key we list the fleet's tools and call them, and check
that the fleet saw LiteLLM's bearer key (its caller name) and rejects calls without one.

Skipped only when `.tools/litellm` is absent and MCPFLEET_REQUIRE_LITELLM is unset; CI installs it
and sets the variable, so there it always runs.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator

import httpx2
import pytest
import pytest_asyncio
from fastmcp import Client
from fastmcp.client.transports import StreamableHttpTransport
from fastmcp.exceptions import ToolError
from mcp.shared.exceptions import MCPError
from mcp.types import INTERNAL_ERROR

from fleet_testing import free_port, mcpfleet_cmd, subprocess_env
from litellm_testing import GATEWAY_KEY, KEY_ENV, MASTER, proxy_cmd, proxy_config, proxy_env, require_litellm
from mcpfleet.common.auth import hash_key
from processes import running, wait_http

START_TIMEOUT = 120

require_litellm()

# The module fixture starts two servers inside the first test: allow for a slow LiteLLM start.
pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[dict]:
    tmp = tmp_path_factory.mktemp("litellm")
    fleet_port, proxy_port = free_port(), free_port()
    fleet_url = f"http://127.0.0.1:{fleet_port}"
    keys = [{"name": "litellm-gateway", "hash": hash_key(GATEWAY_KEY), "servers": ["*"]}]
    fleet_env = subprocess_env(MCPFLEET_AUTH__API_KEYS=json.dumps(keys), MCPFLEET_TELEMETRY__LOG_FORMAT="json")

    rendered = subprocess.run(
        mcpfleet_cmd("config", "litellm", "echo", "math", "--url", fleet_url, "--key-env", KEY_ENV),
        capture_output=True,
        text=True,
        timeout=60,
        env=subprocess_env(),
        check=True,
    ).stdout
    config = tmp / "litellm.yaml"
    config.write_text(proxy_config(rendered))
    fleet_log, proxy_log = tmp / "fleet.log", tmp / "litellm.log"
    fleet_cmd = mcpfleet_cmd("serve", "echo", "math", "--port", str(fleet_port))
    with (
        running(fleet_cmd, fleet_log, env=fleet_env, cwd=tmp) as fleet,
        running(proxy_cmd(config, proxy_port), proxy_log, env=proxy_env(tmp), cwd=tmp) as proxy,
    ):
        wait_http(f"{fleet_url}/readyz", fleet, fleet_log, timeout=START_TIMEOUT)
        wait_http(f"http://127.0.0.1:{proxy_port}/health/liveliness", proxy, proxy_log, timeout=START_TIMEOUT)
        yield {
            "fleet": fleet_url,
            "proxy": f"http://127.0.0.1:{proxy_port}",
            "fleet_log": fleet_log,
            "config": rendered,
        }


def gateway(stack: dict, key: str | None = MASTER) -> Client:
    headers = {"x-litellm-api-key": f"Bearer {key}"} if key else {}
    return Client(StreamableHttpTransport(f"{stack['proxy']}/mcp/", headers=headers), timeout=60)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def tools(stack) -> dict:
    async with gateway(stack) as client:
        return {t.name: t for t in await client.list_tools()}


async def test_lists_the_fleet_tools_with_litellm_prefixes(tools):
    assert {"math-math_solve", "echo-echo_whoami", "echo-echo_say"} <= set(tools)
    assert all(name.split("-", 1)[0] in ("echo", "math") for name in tools)
    assert tools["math-math_solve"].description  # descriptions pass through
    assert tools["math-math_solve"].input_schema["properties"]


async def test_calls_a_tool_through_the_gateway(stack, tools):
    async with gateway(stack) as client:
        result = await client.call_tool("math-math_solve", {"equations": ["x**2 - 4"], "variables": ["x"]})
    assert not result.is_error
    text = result.content[0].text
    assert re.search(r"x = -2\b", text) and re.search(r"x = 2\b", text), text


async def test_fleet_sees_the_gateway_bearer_key_as_the_caller(stack, tools):
    async with gateway(stack) as client:
        result = await client.call_tool("echo-echo_whoami", {})
    assert result.content[0].text == "key:litellm-gateway"
    # ...and the fleet's own call log names that caller for the gateway's calls
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        lines = [json.loads(line) for line in stack["fleet_log"].read_text().splitlines() if line.startswith("{")]
        calls = [r for r in lines if r.get("logger") == "mcpfleet.calls" and r.get("tool") == "echo_whoami"]
        if calls:
            break
        time.sleep(0.2)
    assert calls and {c["caller"] for c in calls} == {"key:litellm-gateway"} and calls[-1]["outcome"] == "ok"
    metrics = httpx2.get(f"{stack['fleet']}/metrics", timeout=10).text
    assert re.search(r'mcpfleet_tool_calls_total\{[^}]*server="echo"[^}]*tool="echo_whoami"[^}]*\} [1-9]', metrics)


async def test_tool_errors_come_back_as_tool_errors(stack, tools):
    async with gateway(stack) as client:
        with pytest.raises(ToolError, match="cannot do that: nope"):
            await client.call_tool("echo-echo_refuse", {"reason": "nope"})


async def test_gateway_rejects_callers_without_a_litellm_key(stack, tools):
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    no_key = {
        "detail": {
            "error": "authentication_required",
            "message": "Authenticate with the gateway to use the MCP endpoint.",
        }
    }
    # Any other key is looked up in LiteLLM's key table, and this LiteLLM has no database (the
    # master key alone): a key it does not know, or the fleet's key sent to it, is a 400.
    no_db = {"detail": "No connected db."}
    for auth, status, answer in (
        ({}, 401, no_key),
        ({"x-litellm-api-key": "Bearer sk-not-a-key"}, 400, no_db),
        ({"Authorization": f"Bearer {GATEWAY_KEY}"}, 400, no_db),
    ):
        r = httpx2.post(f"{stack['proxy']}/mcp/", json=body, headers={**headers, **auth}, timeout=30)
        assert (r.status_code, r.json()) == (status, answer), (auth, r.status_code, r.text[:300])
    challenge = httpx2.post(f"{stack['proxy']}/mcp/", json=body, headers=headers, timeout=30).headers[
        "WWW-Authenticate"
    ]
    assert challenge == f'Bearer resource_metadata="{stack["proxy"]}/.well-known/oauth-protected-resource"'
    # and an MCP client without a key cannot even initialize: the MCP client turns the 401 (a body
    # that is no JSON-RPC error) into its stand-in error for a failed HTTP status
    with pytest.raises(MCPError) as refused:
        async with gateway(stack, None) as client:
            await client.list_tools()
    assert (refused.value.error.code, refused.value.error.message) == (
        INTERNAL_ERROR,
        "Server returned an error response",
    )


async def test_fleet_rejects_calls_that_bypass_the_gateway(stack):
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    for auth in ({}, {"Authorization": "Bearer wrong-key"}, {"Authorization": f"Bearer {MASTER}"}):
        r = httpx2.post(f"{stack['fleet']}/math/mcp", json=body, headers={**headers, **auth}, timeout=10)
        assert r.status_code == 401, (auth, r.status_code)
    ok = httpx2.post(
        f"{stack['fleet']}/math/mcp",
        json=body,
        headers={**headers, "Authorization": f"Bearer {GATEWAY_KEY}"},
        timeout=10,
    )
    assert ok.status_code == 200


async def test_the_config_under_test_came_from_mcpfleet(stack):
    assert "mcpfleet_math:" in stack["config"] and f"auth_value: os.environ/{KEY_ENV}" in stack["config"]
    assert GATEWAY_KEY not in stack["config"]  # the key stays in the environment
