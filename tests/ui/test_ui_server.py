"""The ui tools over real HTTP with auth: registry items from the local registry, Tailwind from the real compiler."""

from __future__ import annotations

import httpx2
import pytest
from fastmcp import Client
from fastmcp.exceptions import ToolError

from fleet_testing import KEYS, running_app
from mcpfleet.common.app import build_http_app
from mcpfleet.common.auth import hash_key
from mcpfleet.common.settings import load_settings
from mcpfleet.common.untrusted import META_UNTRUSTED
from mcpfleet.servers.ui import SPEC
from mcpfleet.tokens import tools_tokens

pytestmark = pytest.mark.skipif(SPEC.missing() is not None, reason=str(SPEC.missing()))
TOKEN_BUDGET = 780  # 650 before file, start_index (paging) and preset (shadcn dark mode) were added


@pytest.fixture(scope="module")
def fleet(registry_server):
    settings = load_settings(
        auth={"api_keys": [{"name": "alice", "hash": hash_key(KEYS["alice"])}]},
        http={"allow": ["127.0.0.1"]},
        servers={"ui": registry_server.ui_section()},
    )
    with running_app(build_http_app([SPEC], settings)) as url:
        yield f"{url}/ui/mcp"


def client(url: str, key: str = KEYS["alice"]) -> Client:
    return Client(url, auth=key, timeout=60)


async def test_tools_and_their_token_budget(fleet):
    async with client(fleet) as c:
        tools = await c.list_tools()
    assert sorted(t.name for t in tools) == ["ui_component", "ui_components", "ui_tailwind", "ui_theme"]
    params = {t.name: set(t.input_schema["properties"]) for t in tools}
    assert params["ui_components"] == {"query", "registry"}
    assert params["ui_component"] == {"name", "registry", "style", "file", "start_index"}
    assert {"classes", "version"} <= params["ui_tailwind"]
    assert params["ui_theme"] == {"prefix"}
    assert all(t.description for t in tools)
    # the definitions as written (no runtime): counting their tokens needs nothing around them
    assert tools_tokens(await SPEC.create(load_settings()).list_tools()) <= TOKEN_BUDGET


def test_calls_without_a_valid_key_are_refused(fleet):
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "ui_tailwind", "arguments": {"classes": "p-4"}},
    }
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    assert httpx2.post(fleet, json=body, headers=headers).status_code == 401
    forged = {**headers, "Authorization": "Bearer not-a-key-at-all"}
    assert httpx2.post(fleet, json=body, headers=forged).status_code == 401


async def test_tailwind_over_http(fleet):
    async with client(fleet) as c:
        result = await c.call_tool(
            "ui_tailwind", {"classes": "p-4 md:hover:bg-brand shadow-sm nope-x", "theme": "--color-brand: #0af;"}
        )
    data = result.structured_content
    assert "padding: calc(var(--spacing) * 4);" in data["css"]
    assert "background-color: var(--color-brand);" in data["css"] and "@media (width >= 48rem)" in data["css"]
    assert data["unknown"] == ["nope-x"]
    assert data["renamed"][0]["v4"] == "shadow-xs"
    assert "unknown (no CSS in Tailwind v4): nope-x" in result.content[0].text


async def test_tailwind_refusals_reach_the_model(fleet):
    async with client(fleet) as c:
        with pytest.raises(ToolError, match="'@import' is not allowed in the theme"):
            await c.call_tool("ui_tailwind", {"classes": "p-4", "theme": '@import "tailwindcss/preflight";'})
        with pytest.raises(ToolError):
            await c.call_tool("ui_tailwind", {"classes": "p-4", "version": "3"})


async def test_theme_over_http(fleet):
    async with client(fleet) as c:
        result = await c.call_tool("ui_theme", {"prefix": "breakpoint"})
        summary = await c.call_tool("ui_theme", {})
    assert result.structured_content["tokens"]["--breakpoint-sm"] == "40rem"
    assert "--breakpoint-2xl: 96rem;" in result.content[0].text
    assert "color" in summary.structured_content["namespaces"]


async def test_components_over_http(fleet, monkeypatch):
    monkeypatch.setenv("ACME_TEST_TOKEN", "acme-test-token-123")
    async with client(fleet) as c:
        listing = await c.call_tool("ui_components", {"query": "form"})
        item = await c.call_tool("ui_component", {"name": "dialog"})
        acme = await c.call_tool("ui_component", {"name": "hero", "registry": "@acme"})
        with pytest.raises(ToolError, match="malformed registry item 'broken-item'"):
            await c.call_tool("ui_component", {"name": "broken-item"})
    assert [i["name"] for i in listing.structured_content["items"]] == ["login-form"]
    data = item.structured_content
    assert data["command"] == "npx shadcn@latest add dialog"
    assert [r["name"] for r in data["resolved"]] == ["button"]
    assert "export function Dialog() {}" in data["files"][0]["content"]  # wrapped or not, as common/untrusted decides
    # registry text is marked as untrusted for the model and the client
    assert item.meta[META_UNTRUSTED] is True and data["untrusted"] is True
    assert '<untrusted-content source="http://127.0.0.1' in item.content[0].text
    assert acme.structured_content["command"] == "npx shadcn@latest add @acme/hero"


async def test_a_timed_out_worker_is_revived_by_the_readiness_check():
    # Every compile times out here; the worker is killed each time and /readyz starts it again.
    settings = load_settings(servers={"ui": {"compile_timeout": 0.001}})
    with running_app(build_http_app([SPEC], settings)) as url:
        assert httpx2.get(f"{url}/readyz").status_code == 200
        async with Client(f"{url}/ui/mcp", timeout=60) as c:
            with pytest.raises(ToolError, match="took longer than 0.001s"):
                await c.call_tool("ui_tailwind", {"classes": " ".join(f"p-{i}" for i in range(100))})
        ready = httpx2.get(f"{url}/readyz")
        assert ready.status_code == 200 and ready.json()["status"] == "ready"
