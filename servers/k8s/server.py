"""The k8s server's tools: thin wrappers over the engine (validation and fixes run in a thread).

Work per call is bounded by the manifest size cap (`max_bytes`), the document cap and the node
cap after alias expansion (documents.py), so no call can run away with the server.
"""

from __future__ import annotations

from typing import Annotated

import anyio
from fastmcp import FastMCP
from fastmcp.tools.base import ToolResult
from pydantic import Field

from mcpfleet.common.app import new_server, structured_answer
from mcpfleet.common.settings import Settings
from mcpfleet.servers.k8s.engine import Engine
from mcpfleet.servers.k8s.examples import example
from mcpfleet.servers.k8s.settings import K8sSettings

READ_ONLY = {"readOnlyHint": True, "openWorldHint": False, "idempotentHint": True}
OUTPUT = {"type": "object"}

Manifest = Annotated[str, Field(description="YAML, one or more documents", max_length=5_000_000)]
Version = Annotated[str | None, Field(description="e.g. '1.33'; default newest")]
ProfileName = Annotated[str | None, Field(description="baseline, restricted, cerit, best-practices or custom")]


def build(settings: Settings) -> FastMCP:
    section: K8sSettings = settings.server_section("k8s", K8sSettings)
    engine = Engine(section)
    mcp = new_server("k8s", "Validate Kubernetes manifests against the API schema and policy profiles; fix them; "
                            "get ready examples (vLLM, SGLang, KServe, LeaderWorkerSet, DRA, KEDA).")

    async def prefetch(manifest: str, version: str | None) -> None:
        if section.crd_url_template:
            from mcpfleet.servers.k8s.crds import fetch_catalog_schemas

            resolved, _ = engine.resolve(version, None)
            await fetch_catalog_schemas(engine, manifest, resolved, settings.http)

    @mcp.tool(annotations=READ_ONLY, output_schema=OUTPUT)
    async def k8s_validate(manifest: Manifest, kubernetes_version: Version = None,
                           profile: ProfileName = None) -> ToolResult:
        """Check manifests: schema (strict), removed APIs, security and GPU-serving rules; findings with lines."""
        await prefetch(manifest, kubernetes_version)
        report = await anyio.to_thread.run_sync(engine.validate_text, manifest, kubernetes_version, profile)
        return structured_answer({**report.as_dict(), "text": report.text()})

    @mcp.tool(annotations=READ_ONLY, output_schema=OUTPUT)
    async def k8s_fix(manifest: Manifest, kubernetes_version: Version = None,
                      profile: ProfileName = None) -> ToolResult:
        """Apply safe fixes keeping comments; returns fixed YAML, diff, fixes and what still needs you."""
        await prefetch(manifest, kubernetes_version)
        result = await anyio.to_thread.run_sync(engine.fix_text, manifest, kubernetes_version, profile)
        return structured_answer({**result.as_dict(), "text": result.text()})

    @mcp.tool(annotations=READ_ONLY, output_schema=OUTPUT)
    async def k8s_example(topic: Annotated[str | None, Field(description="omit to list topics")] = None) -> ToolResult:
        """Ready manifests that pass validation, e.g. 'vllm', 'sglang', 'kserve', 'keda'."""
        return structured_answer(example(topic))

    @mcp.tool(annotations=READ_ONLY, output_schema=OUTPUT)
    async def k8s_rules(profile: ProfileName = None,
                        rule: Annotated[str | None, Field(description="a rule id")] = None) -> ToolResult:
        """List profiles, a profile's rules and severities, or explain one rule."""
        return structured_answer(engine.rules_info(profile, rule))

    return mcp
