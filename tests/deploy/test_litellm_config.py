"""LiteLLM config rendering, and registration against an admin API speaking LiteLLM's shapes.

The admin API (`/v1/mcp/server`) needs LiteLLM's Postgres database, which CI does not run; the
stand-in below is a real HTTP server on 127.0.0.1 that checks what LiteLLM's request models check
(master key, server_name without '-', `transport` sent explicitly) and answers with its shapes.
"""

from __future__ import annotations

import subprocess
import uuid

import pytest
import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from fleet_testing import mcpfleet_cmd, running_app, subprocess_env
from mcpfleet import litellm
from mcpfleet.common.spec import ServerSpec

MASTER = "sk-master-0123456789"
FLEET_KEY = "fleet-key-0123456789"


def spec(name: str, network: bool = False) -> ServerSpec:
    return ServerSpec(
        name=name, title=name.title(), description=f"The {name} server.", build=lambda s: None, needs_network=network
    )


def cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(mcpfleet_cmd(*args), capture_output=True, text=True, timeout=60, env=subprocess_env(**env))


# --- config rendering ---------------------------------------------------------------------------


def test_config_block_is_streamable_http_with_bearer_from_env():
    items = litellm.entries([spec("math"), spec("web", True)], "http://fleet.mcp:8080/", {"math": ["math_solve"]})
    block = litellm.config_block(items, "FLEET_KEY")["mcp_servers"]
    assert list(block) == ["mcpfleet_math", "mcpfleet_web"]
    math = block["mcpfleet_math"]
    assert math["url"] == "http://fleet.mcp:8080/math/mcp"
    assert math["transport"] == "http"
    assert math["auth_type"] == "bearer_token" and math["auth_value"] == "os.environ/FLEET_KEY"
    assert math["alias"] == "math"  # tools appear as math-math_solve
    assert math["access_groups"] == ["mcpfleet", "mcpfleet_math"]
    assert math["allowed_tools"] == ["math_solve"]
    assert "allowed_tools" not in block["mcpfleet_web"]  # not pinned: everything it lists
    assert all("-" not in name for name in block)  # LiteLLM's tool-prefix separator


def test_config_without_auth_has_no_credentials():
    block = litellm.config_block(litellm.entries([spec("math")], "http://x:1"), None)["mcp_servers"]["mcpfleet_math"]
    assert "auth_type" not in block and "auth_value" not in block


def test_per_server_service_urls():
    items = litellm.entries([spec("math"), spec("npm")], "http://mcpfleet-{name}.mcpfleet.svc:8080")
    assert [e.url for e in items] == [
        "http://mcpfleet-math.mcpfleet.svc:8080/math/mcp",
        "http://mcpfleet-npm.mcpfleet.svc:8080/npm/mcp",
    ]


def test_admin_payload_sends_transport_and_credentials():
    [entry] = litellm.entries([spec("math")], "http://fleet:8080", groups=("team_a",))
    body = litellm.admin_payload(entry, "k", server_id="abc")
    assert body["transport"] == "http" and body["server_id"] == "abc"
    assert body["auth_type"] == "bearer_token" and body["credentials"] == {"auth_value": "k"}
    assert body["mcp_access_groups"] == ["team_a", "mcpfleet_math"]
    assert litellm.admin_payload(entry, None)["auth_type"] == "none"


def test_mcpfleet_config_litellm_cli():
    out = cli("config", "litellm", "echo", "other", "--url", "http://mcpfleet-{name}.ns.svc:8080", "--key-env", "K")
    assert out.returncode == 0, out.stderr
    data = yaml.safe_load(out.stdout)["mcp_servers"]
    assert data["mcpfleet_echo"]["url"] == "http://mcpfleet-echo.ns.svc:8080/echo/mcp"
    assert data["mcpfleet_other"]["auth_value"] == "os.environ/K"


def test_the_fleet_url_has_one_name_in_both_commands():
    """--fleet-url is the fleet everywhere (--url its short form); LiteLLM's own URL is --gateway-url."""
    url = "http://mcpfleet-{name}.ns.svc:8080"
    outputs = [
        cli(*cmd, "echo", flag, url, "--key-env", "K")
        for cmd in (("config", "litellm"), ("litellm", "config"))
        for flag in ("--url", "--fleet-url")
    ]
    assert all(o.returncode == 0 for o in outputs), [o.stderr for o in outputs]
    urls = {yaml.safe_load(o.stdout)["mcp_servers"]["mcpfleet_echo"]["url"] for o in outputs}
    assert urls == {"http://mcpfleet-echo.ns.svc:8080/echo/mcp"}
    missing = cli("litellm", "register", "echo", "--fleet-url", url, "--master-key-env", "M")
    assert missing.returncode == 2 and "--gateway-url" in missing.stderr


@pytest.mark.parametrize(("policy", "expected"), [("pin", None), ("read-only", ["echo_say"]), ("any", "absent")])
def test_litellm_config_tool_policies(policy, expected):
    out = cli("litellm", "config", "echo", "--fleet-url", "http://f:8080", "--tools", policy)
    assert out.returncode == 0, out.stderr
    entry = yaml.safe_load(out.stdout)["mcp_servers"]["mcpfleet_echo"]
    if expected == "absent":
        assert "allowed_tools" not in entry
    elif expected is None:  # pin: every tool the server lists today
        assert "echo_say" in entry["allowed_tools"] and "echo_whoami" in entry["allowed_tools"]
    else:
        assert entry["allowed_tools"] == expected


# --- registration -------------------------------------------------------------------------------


class AdminApi:
    """LiteLLM's `/v1/mcp/server` as the proxy answers it, state in memory."""

    def __init__(self) -> None:
        self.servers: dict[str, dict] = {}
        self.calls: list[tuple[str, dict | None]] = []

        async def handle(request: Request) -> JSONResponse:
            if request.headers.get("authorization") != f"Bearer {MASTER}":
                return JSONResponse({"error": {"message": "Authentication Error, invalid key", "code": "401"}}, 401)
            if request.method == "GET":
                self.calls.append(("GET", None))
                return JSONResponse(list(self.servers.values()))
            body = await request.json()
            self.calls.append((request.method, body))
            if "transport" not in body:  # LiteLLM would silently default to SSE
                return JSONResponse({"detail": "transport must be sent"}, 422)
            if "-" in body.get("server_name", ""):
                return JSONResponse({"detail": "Server name cannot contain '-'"}, 400)
            if request.method == "POST":
                if any(s["server_name"] == body["server_name"] for s in self.servers.values()):
                    return JSONResponse({"detail": "already exists"}, 400)
                row = {**body, "server_id": str(uuid.uuid4())}
            else:
                if body.get("server_id") not in self.servers:
                    return JSONResponse({"detail": "not found"}, 404)
                row = {**self.servers[body["server_id"]], **body}
            row.pop("credentials", None)  # never echoed back
            self.servers[row["server_id"]] = row
            return JSONResponse(row)

        self.app = Starlette(routes=[Route("/v1/mcp/server", handle, methods=["GET", "POST", "PUT"])])


@pytest.fixture
def admin():
    api = AdminApi()
    with running_app(api.app) as url:
        yield api, url


def register(url: str, *extra: str, **env: str) -> subprocess.CompletedProcess:
    env = {"LITELLM_MASTER_KEY": MASTER, "FLEET_KEY": FLEET_KEY, **env}
    return cli(
        "litellm",
        "register",
        "echo",
        "other",
        "--gateway-url",
        url,
        "--master-key-env",
        "LITELLM_MASTER_KEY",
        "--key-env",
        "FLEET_KEY",
        "--fleet-url",
        "http://mcpfleet-{name}.mcpfleet.svc:8080",
        *extra,
        **env,
    )


def test_register_creates_then_updates(admin):
    api, url = admin
    first = register(url)
    assert first.returncode == 0, first.stderr
    assert [line.split()[:2] for line in first.stdout.splitlines()] == [
        ["created", "mcpfleet_echo"],
        ["created", "mcpfleet_other"],
    ]
    posts = [body for method, body in api.calls if method == "POST"]
    assert {b["server_name"] for b in posts} == {"mcpfleet_echo", "mcpfleet_other"}
    echo = next(b for b in posts if b["server_name"] == "mcpfleet_echo")
    assert echo["transport"] == "http" and echo["url"] == "http://mcpfleet-echo.mcpfleet.svc:8080/echo/mcp"
    assert echo["credentials"] == {"auth_value": FLEET_KEY} and echo["auth_type"] == "bearer_token"
    assert "echo_whoami" in echo["allowed_tools"]
    ids = {s["server_name"]: s["server_id"] for s in api.servers.values()}

    api.calls.clear()
    second = register(url, "--tools", "read-only")
    assert second.returncode == 0, second.stderr
    assert [line.split()[0] for line in second.stdout.splitlines()] == ["updated", "updated"]
    puts = [body for method, body in api.calls if method == "PUT"]
    assert {b["server_id"] for b in puts} == set(ids.values())  # same rows, not duplicates
    assert len(api.servers) == 2
    assert next(b for b in puts if b["server_name"] == "mcpfleet_echo")["allowed_tools"] == ["echo_say"]


def test_register_with_a_wrong_master_key_fails_cleanly(admin):
    api, url = admin
    result = register(url, LITELLM_MASTER_KEY="sk-wrong")
    assert result.returncode == 2
    assert "rejected the master key" in result.stderr and "Traceback" not in result.stderr
    assert not api.servers


def test_register_needs_the_keys_in_the_environment(admin):
    _, url = admin
    result = register(url, LITELLM_MASTER_KEY="")
    assert result.returncode == 2 and "LITELLM_MASTER_KEY" in result.stderr
    result = register(url, FLEET_KEY="")
    assert result.returncode == 2 and "FLEET_KEY" in result.stderr and "--no-auth" in result.stderr


def test_register_against_a_proxy_without_database(admin):
    """A LiteLLM without a database answers the admin API with an error; say what to do instead."""
    app = Starlette(
        routes=[Route("/v1/mcp/server", lambda r: JSONResponse({"error": {"message": "No connected db."}}, 500))]
    )
    with running_app(app) as url:
        result = register(url)
    assert result.returncode == 2
    assert "HTTP 500" in result.stderr and "mcpfleet config litellm" in result.stderr
