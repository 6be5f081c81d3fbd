"""k8s_validate and k8s_fix run in worker processes: a huge manifest is stopped by the tool's
timeout (or refused by the size cap) without the server, or another caller's call, suffering."""

from __future__ import annotations

import asyncio

import pytest
from fastmcp.exceptions import ToolError

from fleet_testing import fleet_client
from mcpfleet.common.settings import load_settings

SMALL = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: small}\ndata: {a: b}\n"
POD = """\
apiVersion: v1
kind: Pod
metadata: {name: p%d}
spec:
  containers:
    - name: c
      image: example/c:1
      ports: [{containerPort: 8080}]
      env: [{name: A, value: x}, {name: B, value: y}]
"""
# ~1.3 MB, ~5000 documents: seconds of parsing, schema checks and rules, far beyond a 1 s budget
HUGE = "---\n".join(POD % n for n in range(4_900))


def settings(timeout: float, max_bytes: int = 2_000_000):
    return load_settings(
        workers={"size": 2}, servers={"k8s": {"timeout": timeout, "max_bytes": max_bytes, "profile": "restricted"}}
    )


async def test_a_runaway_call_is_stopped_while_another_caller_is_served():
    async with fleet_client("k8s", settings(timeout=1.0)) as c:
        huge = asyncio.create_task(c.call_tool("k8s_validate", {"manifest": HUGE}))
        await asyncio.sleep(0.2)  # the huge call holds one worker now
        other = await c.call_tool("k8s_validate", {"manifest": SMALL})
        assert other.structured_content["errors"] == 0 and other.structured_content["documents"] == 1
        with pytest.raises(ToolError, match="longer than 1 s and was stopped"):
            await huge
        # the stopped worker was replaced: the server goes on serving every tool
        again = await c.call_tool("k8s_fix", {"manifest": SMALL})
        assert again.structured_content["applied"] == []


async def test_an_oversized_manifest_is_refused_with_a_clear_message():
    async with fleet_client("k8s", settings(timeout=30.0, max_bytes=100_000)) as c:
        with pytest.raises(ToolError, match="larger than 100000 bytes; split it"):
            await c.call_tool("k8s_validate", {"manifest": HUGE})
        assert (await c.call_tool("k8s_validate", {"manifest": SMALL})).structured_content["errors"] == 0


async def test_bad_arguments_are_user_errors_from_the_worker():
    async with fleet_client("k8s", settings(timeout=30.0)) as c:
        with pytest.raises(ToolError, match="Kubernetes version '1.99' is not available"):
            await c.call_tool("k8s_validate", {"manifest": SMALL, "kubernetes_version": "1.99"})
        with pytest.raises(ToolError, match="unknown profile 'nope'"):
            await c.call_tool("k8s_fix", {"manifest": SMALL, "profile": "nope"})
