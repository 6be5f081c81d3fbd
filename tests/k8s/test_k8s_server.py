"""The k8s tools as models call them: in memory, and over real HTTP with API-key auth."""

from __future__ import annotations

import pytest
import pytest_asyncio
from fastmcp import Client
from fastmcp.exceptions import ToolError

from fleet_testing import KEYS, fleet_client, running_app
from mcpfleet.common.app import build_http_app
from mcpfleet.common.auth import hash_key
from mcpfleet.common.settings import load_settings
from mcpfleet.servers.k8s import SPEC
from mcpfleet.tokens import tools_tokens

pytestmark = pytest.mark.asyncio(loop_scope="module")

BROKEN = """\
# keep me
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: example/web:1.0
          resources: {requests: {cpu: 100m, memory: 64Mi}}
"""


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def local():
    async with fleet_client("k8s", load_settings()) as c:
        yield c


async def test_tools_and_budget(local):
    # the definitions as written: counting their tokens needs no runtime around them
    assert tools_tokens(await SPEC.create(load_settings()).list_tools()) <= 700
    tools = await local.list_tools()
    assert {t.name for t in tools} == {"k8s_validate", "k8s_fix", "k8s_example", "k8s_rules"}
    params = {t.name: set(t.input_schema["properties"]) for t in tools}
    assert params["k8s_validate"] == params["k8s_fix"] == {"manifest", "kubernetes_version", "profile"}
    assert params["k8s_example"] == {"topic"} and params["k8s_rules"] == {"profile", "rule"}
    assert all(t.annotations.read_only_hint and t.annotations.open_world_hint is False for t in tools)


async def test_validate(local):
    result = await local.call_tool("k8s_validate", {"manifest": BROKEN, "profile": "cerit"})
    data = result.structured_content
    assert data["errors"] == 7 and data["profile"] == "cerit" and data["kubernetes_version"] == "1.37"
    rules = {f["rule"] for f in data["findings"]}
    assert {"resources-limits", "run-as-user-numeric", "seccomp", "probes"} <= rules
    assert "7 error(s)" in result.content[0].text and "resources-limits" in result.content[0].text
    old = await local.call_tool(
        "k8s_validate", {"manifest": BROKEN, "kubernetes_version": "1.29", "profile": "best-practices"}
    )
    assert old.structured_content["kubernetes_version"] == "1.29" and old.structured_content["errors"] == 0


async def test_fix(local):
    result = await local.call_tool("k8s_fix", {"manifest": BROKEN, "profile": "cerit"})
    data = result.structured_content
    assert data["fixed"].startswith("# keep me\n")
    assert "limits" in data["fixed"] and data["diff"].startswith("--- original.yaml")
    assert {a["rule"] for a in data["applied"]} >= {"resources-limits", "seccomp", "run-as-non-root"}
    assert {f["rule"] for f in data["remaining"]} == {
        "run-as-user-numeric",
        "probes",
        "ephemeral-storage",
        "read-only-root-filesystem",
    }
    assert data["errors"] == 1
    text = result.content[0].text
    assert text.startswith("applied ") and "not fixed" in text and data["fixed"].rstrip("\n") in text


async def test_example_and_rules(local):
    listing = (await local.call_tool("k8s_example", {})).structured_content
    assert len(listing["topics"]) == 10
    vllm = await local.call_tool("k8s_example", {"topic": "vllm"})
    assert "vllm/vllm-openai" in vllm.structured_content["manifest"] and "kind: Deployment" in vllm.content[0].text
    rules = (await local.call_tool("k8s_rules", {"profile": "cerit"})).structured_content
    assert rules["extends"] == "restricted"
    one = (await local.call_tool("k8s_rules", {"rule": "gpu-shm"})).structured_content
    assert one["fixable"] is True


@pytest.mark.parametrize(
    "tool, args, message",
    [
        ("k8s_validate", {"manifest": "kind: Pod", "profile": "nope"}, "unknown profile"),
        ("k8s_validate", {"manifest": "kind: Pod", "kubernetes_version": "1.12"}, "not available"),
        ("k8s_fix", {"manifest": "a: [1\nb: 2"}, "YAML syntax error"),
        ("k8s_example", {"topic": "mainframe"}, "no example"),
        ("k8s_rules", {"rule": "nope"}, "unknown rule"),
    ],
)
async def test_bad_input_is_an_actionable_error(local, tool, args, message):
    with pytest.raises(ToolError, match=message):
        await local.call_tool(tool, args)


async def test_yaml_errors_are_findings_not_failures(local):
    result = await local.call_tool("k8s_validate", {"manifest": "a: 1\nb: [1\nc: 2\n"})
    [finding] = result.structured_content["findings"]
    assert finding["rule"] == "yaml-syntax" and finding["line"] == 3 and finding["column"] == 2


@pytest.fixture(scope="module")
def fleet():
    settings = load_settings(
        auth={"api_keys": [{"name": "alice", "hash": hash_key(KEYS["alice"])}]}, servers={"k8s": {"profile": "cerit"}}
    )
    with running_app(build_http_app([SPEC], settings)) as url:
        yield f"{url}/k8s/mcp"


async def test_over_http_with_auth(fleet):
    async with Client(fleet, auth=KEYS["alice"], timeout=60) as c:
        result = await c.call_tool("k8s_validate", {"manifest": BROKEN})
        assert result.structured_content["profile"] == "cerit"  # the configured default
        fixed = await c.call_tool("k8s_fix", {"manifest": BROKEN, "profile": "restricted"})
        assert fixed.structured_content["errors"] == 0
        example = await c.call_tool("k8s_example", {"topic": "web-app"})
        again = await c.call_tool("k8s_validate", {"manifest": example.structured_content["manifest"]})
        assert again.structured_content["errors"] == 0 and again.structured_content["warnings"] == 0


async def test_http_without_a_valid_key_is_refused(fleet):
    import httpx2

    assert httpx2.post(fleet, json={}).status_code == 401
    assert httpx2.post(fleet, json={}, headers={"Authorization": "Bearer wrong-key-0123456789"}).status_code == 401
