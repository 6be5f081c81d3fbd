"""`mcpfleet litellm config --identity ...` and `list_only` keys, without LiteLLM installed.

The real-gateway behaviour is in test_litellm_identity.py; these run everywhere: the generated
LiteLLM side has the shapes LiteLLM's guardrail initializer reads, the generated fleet side loads as
the fleet's own config, and a `list_only` key lists tools over HTTP but cannot call them.
"""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml
from fastmcp import Client
from fastmcp.client.transports import StreamableHttpTransport
from fastmcp.exceptions import ToolError

from fleet_testing import KEYS, json_lines, mcpfleet_cmd, serving, subprocess_env
from mcpfleet import litellm
from mcpfleet.common.auth import hash_key
from mcpfleet.common.errors import ConfigError
from mcpfleet.common.settings import load_settings

GW = "http://litellm.gw.svc:4000"
IDP = "https://sso.example.org/realms/staff"


def cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        mcpfleet_cmd(*args), check=False, capture_output=True, text=True, timeout=60, env=subprocess_env(**env)
    )


def test_header_mode_signs_with_litellms_end_user_and_keeps_the_service_key():
    identity = litellm.Identity("header", gateway_url=GW + "/")
    items = litellm.entries([], "http://f:8080")
    block = litellm.config_block(items, "K", identity)
    [guard] = block["guardrails"]
    params = guard["litellm_params"]
    assert params["guardrail"] == "mcp_jwt_signer" and params["mode"] == "pre_mcp_call" and params["default_on"] is True
    assert params["issuer"] == GW and params["audience"] == "mcpfleet"  # trailing slash gone: iss must match
    assert params["end_user_claim_sources"][0] == "litellm:end_user_id"
    assert "access_token_discovery_uri" not in params


def test_idp_mode_verifies_the_users_token_and_requires_a_subject():
    identity = litellm.Identity(
        "idp",
        gateway_url=GW,
        idp_discovery_url=f"{IDP}/.well-known/openid-configuration",
        idp_issuer=IDP,
        idp_audience="fleet",
    )
    params = litellm.guardrails(identity)[0]["litellm_params"]
    assert params["access_token_discovery_uri"].startswith(IDP) and params["verify_issuer"] == IDP
    assert params["verify_audience"] == "fleet"
    assert params["end_user_claim_sources"] == ["token:sub"] and params["required_claims"] == ["sub"]


def test_delegate_and_key_modes_have_no_signer():
    from test_litellm_config import spec

    items = litellm.entries([spec("math")], "http://f:8080")
    delegate = litellm.config_block(items, "K", litellm.Identity("delegate"))
    assert delegate["mcp_servers"]["mcpfleet_math"]["auth_type"] == "oauth_delegate"
    assert "auth_value" not in delegate["mcp_servers"]["mcpfleet_math"] and "guardrails" not in delegate
    key = litellm.config_block(items, "K", litellm.Identity())
    assert key == litellm.config_block(items, "K")  # the default is what it always was


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "header"}, "needs --gateway-url"),
        ({"mode": "idp", "gateway_url": GW}, "needs --idp-discovery-url and --idp-issuer"),
        ({"mode": "users"}, "unknown identity mode"),
    ],
)
def test_incomplete_identities_are_refused_clearly(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        litellm.Identity(**kwargs)


def test_generated_fleet_side_loads_as_fleet_config(tmp_path):
    out = tmp_path / "fleet.toml"
    r = cli(
        "litellm",
        "config",
        "echo",
        "--fleet-url",
        "http://f:8080",
        "--tools",
        "any",
        "--identity",
        "header",
        "--gateway-url",
        GW,
        "--key-env",
        "GWKEY",
        "--fleet-out",
        str(out),
        GWKEY="the-gateway-key",
    )
    assert r.returncode == 0, r.stderr
    assert yaml.safe_load(r.stdout)["guardrails"][0]["guardrail_name"] == "mcpfleet-identity"  # stdout: YAML only
    settings = load_settings(out)
    [key] = settings.auth.api_keys
    assert key.list_only and key.hash == hash_key("the-gateway-key")
    assert settings.auth.jwt.jwks_url == f"{GW}/.well-known/jwks.json"
    assert (settings.auth.jwt.issuer, settings.auth.jwt.audience) == (GW, "mcpfleet")


def test_cli_reports_a_missing_gateway_url_without_a_traceback():
    r = cli("litellm", "config", "echo", "--fleet-url", "http://f:8080", "--identity", "idp")
    assert r.returncode != 0 and "needs --gateway-url" in r.stderr and "Traceback" not in r.stderr


async def test_a_list_only_key_lists_tools_but_cannot_call_them(tmp_path):
    keys = [
        {"name": "gateway", "hash": hash_key(KEYS["carol"]), "list_only": True},
        {"name": "alice", "hash": hash_key(KEYS["alice"])},
    ]
    env = {"MCPFLEET_AUTH__API_KEYS": json.dumps(keys), "MCPFLEET_TELEMETRY__LOG_FORMAT": "json"}
    with serving(tmp_path, "echo", **env) as (url, _, log):
        async with Client(StreamableHttpTransport(f"{url}/echo/mcp", auth=KEYS["carol"])) as gateway:
            assert "echo_whoami" in {t.name for t in await gateway.list_tools()}
            with pytest.raises(ToolError, match="may list tools but not call them"):
                await gateway.call_tool("echo_say", {"text": "hi"})
        async with Client(StreamableHttpTransport(f"{url}/echo/mcp", auth=KEYS["alice"])) as alice:
            assert (await alice.call_tool("echo_whoami", {})).content[0].text == "key:alice"
        calls = [r for r in json_lines(log.read_text()) if r.get("logger") == "mcpfleet.calls"]
    refused = [c for c in calls if c["caller"] == "key:gateway"]
    assert refused and all(c["outcome"] != "ok" for c in refused)
