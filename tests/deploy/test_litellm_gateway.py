"""The fleet behind a real LiteLLM proxy on 127.0.0.1.

`mcpfleet serve echo math` runs with API-key auth; LiteLLM (its own venv, `.tools/litellm`,
installed by scripts/litellm-env.sh) runs from the config `mcpfleet config litellm` prints. Through
LiteLLM's `/mcp` endpoint with a LiteLLM key we list the fleet's tools and call them, and check
that the fleet saw LiteLLM's bearer key (its caller name) and rejects calls without one.

Skipped only when `.tools/litellm` is absent and MCPFLEET_REQUIRE_LITELLM is unset; CI installs it
and sets the variable, so there it always runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
import pytest_asyncio
from fastmcp import Client
from fastmcp.client.transports import StreamableHttpTransport
from fastmcp.exceptions import ToolError
from mcp.shared.exceptions import MCPError
from mcp.types import INTERNAL_ERROR

from deploy_checks import ROOT
from fleet_testing import free_port, mcpfleet_cmd, subprocess_env
from mcpfleet.common.auth import hash_key

LITELLM = ROOT / ".tools" / "litellm" / "bin" / "litellm"
MASTER = "sk-litellm-master-0123456789"  # the LiteLLM key clients use (no database: the master key)
GATEWAY_KEY = "fleet-gateway-key-0123456789"  # the fleet API key LiteLLM sends upstream
KEY_ENV = "MCPFLEET_GATEWAY_KEY"
START_TIMEOUT = 120

if not LITELLM.exists():
    if os.environ.get("MCPFLEET_REQUIRE_LITELLM"):
        raise RuntimeError(f"MCPFLEET_REQUIRE_LITELLM is set but {LITELLM} is missing: run scripts/litellm-env.sh")
    pytest.skip("LiteLLM is not installed in .tools/litellm (bash scripts/litellm-env.sh)", allow_module_level=True)

# The module fixture starts two servers inside the first test: allow for a slow LiteLLM start.
pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(300)]


def _wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(httpx2.HTTPError):
            if httpx2.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.25)
    raise RuntimeError(f"{url} did not answer within {timeout}s:\n{log.read_text()[-3000:]}")


@contextlib.contextmanager
def _process(cmd: list[str], log: Path, env: dict[str, str], cwd: Path) -> Iterator[subprocess.Popen]:
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd)
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


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
    config.write_text(rendered + f"general_settings:\n  master_key: {MASTER}\nmodel_list: []\n")

    proxy_env = {k: v for k, v in os.environ.items() if not k.startswith(("MCPFLEET_", "PYTHON", "VIRTUAL_ENV"))}
    proxy_env.update({KEY_ENV: GATEWAY_KEY, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "HOME": str(tmp)})
    fleet_log, proxy_log = tmp / "fleet.log", tmp / "litellm.log"
    with (
        _process(mcpfleet_cmd("serve", "echo", "math", "--port", str(fleet_port)), fleet_log, fleet_env, tmp) as fleet,
        _process(
            [str(LITELLM), "--config", str(config), "--host", "127.0.0.1", "--port", str(proxy_port)],
            proxy_log,
            proxy_env,
            tmp,
        ) as proxy,
    ):
        _wait_http(f"{fleet_url}/readyz", fleet, fleet_log)
        _wait_http(f"http://127.0.0.1:{proxy_port}/health/liveliness", proxy, proxy_log)
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
