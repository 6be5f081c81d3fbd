"""The k8s server's tools: thin wrappers; validation and fixes run in a worker-process pool.

Parsing, schema checks and rules are CPU-bound and grow with the input, so they run in
`common.workers.WorkerPool` processes (servers/k8s/work.py) under the pool's memory and CPU
rlimits and the tool's wall-clock timeout: a huge or hostile manifest stops one worker, while
other callers' calls go on in the others. The text-size cap (`max_bytes`), the document cap and
the node cap after alias expansion (documents.py) still bound each call inside its worker.
Fetching CRD schemas (opt-in `crd_url_template`) happens here, through the SSRF-checked client;
the workers have no network and find the fetched schemas in the cache directory.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Annotated, Any

from fastmcp import FastMCP
from fastmcp.tools.base import ToolResult
from pydantic import Field

from mcpfleet.common.app import READ_ONLY, new_pooled_server, structured_answer
from mcpfleet.common.settings import Settings
from mcpfleet.common.workers import WorkerPool, pool_settings, run_for_tool
from mcpfleet.servers.k8s.engine import Engine
from mcpfleet.servers.k8s.examples import example
from mcpfleet.servers.k8s.settings import K8sSettings
from mcpfleet.servers.k8s.work import ENV

MODULE = "mcpfleet.servers.k8s"
INPUT_ERRORS = {"UserError"}  # too large, unknown profile or version: the caller's to fix
OUTPUT = {"type": "object"}

Manifest = Annotated[str, Field(description="YAML, one or more documents", max_length=5_000_000)]
Version = Annotated[str | None, Field(description="e.g. '1.33'; default newest")]
ProfileName = Annotated[str | None, Field(description="baseline, restricted, cerit, best-practices or custom")]


def worker_settings(section: K8sSettings, engine: Engine) -> dict[str, Any]:
    """The settings a worker's Engine is built from: no network (fetched schemas are read from
    the cache directory) and no cluster access (the server's cluster CRDs are handed over as files)."""
    crd_dirs = list(section.crd_dirs)
    if section.crd_cache_dir:
        crd_dirs.append(section.crd_cache_dir)
    if section.cluster_crds:
        crd_dirs.append(_write_crds(engine.cluster_crd_objects))
    return section.model_copy(
        update={"crd_dirs": crd_dirs, "crd_url_template": None, "crd_cache_dir": None, "cluster_crds": False}
    ).model_dump(mode="json")


def _write_crds(crds: list[dict]) -> str:
    """The cluster's CRDs as files the workers load (JSON is YAML); not secret, world-readable so
    a worker that dropped to `nobody` can read them."""
    directory = tempfile.mkdtemp(prefix="mcpfleet-k8s-crds-")
    os.chmod(directory, 0o755)
    for n, crd in enumerate(crds):
        path = os.path.join(directory, f"crd-{n}.yaml")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(crd, f)
        os.chmod(path, 0o644)
    return directory


def build(settings: Settings) -> FastMCP:
    section: K8sSettings = settings.server_section("k8s", K8sSettings)
    engine = Engine(section)  # checks the configuration at start; answers k8s_rules
    for_workers = worker_settings(section, engine)
    pool = WorkerPool(
        "k8s",
        # CPU may run as long as the wall clock allows: parsing is single-threaded, and the call's
        # `timeout` is what the operator chose for one manifest
        pool_settings(
            settings.workers,
            size=section.pool_size,
            memory_mb=section.memory_mb,
            timeout=section.timeout,
            cpu_seconds=section.timeout,
        ),
        initializer=f"{MODULE}.work:warm",
        allowed_prefixes=[MODULE],
        env={ENV: json.dumps(for_workers)},
        network=False,
        readable_paths=[*for_workers["crd_dirs"], *section.profile_dirs],
    )
    mcp = new_pooled_server(
        "k8s",
        "Validate Kubernetes manifests against the API schema and policy profiles; fix "
        "them; get ready examples (vLLM, SGLang, KServe, LeaderWorkerSet, DRA, KEDA).",
        pool,
    )

    async def work(target: str, *args: Any) -> Any:  # what work.<target> returns (a dict, or pairs)
        return await run_for_tool(pool, f"{MODULE}.work:{target}", for_workers, *args, input_errors=INPUT_ERRORS)

    async def prefetch(manifest: str, version: str | None) -> None:
        if section.crd_url_template:
            from mcpfleet.servers.k8s.crds import fetch_schemas

            await fetch_schemas(section, await work("missing_kinds", manifest, version), settings.http)

    @mcp.tool(annotations=READ_ONLY, output_schema=OUTPUT)
    async def k8s_validate(
        manifest: Manifest, kubernetes_version: Version = None, profile: ProfileName = None
    ) -> ToolResult:
        """Check manifests: schema (strict), removed APIs, security and GPU-serving rules; findings with lines."""
        await prefetch(manifest, kubernetes_version)
        return structured_answer(await work("validate", manifest, kubernetes_version, profile))

    @mcp.tool(annotations=READ_ONLY, output_schema=OUTPUT)
    async def k8s_fix(
        manifest: Manifest, kubernetes_version: Version = None, profile: ProfileName = None
    ) -> ToolResult:
        """Apply safe fixes keeping comments; returns fixed YAML, diff, fixes and what still needs you."""
        await prefetch(manifest, kubernetes_version)
        return structured_answer(await work("fix", manifest, kubernetes_version, profile))

    @mcp.tool(annotations=READ_ONLY, output_schema=OUTPUT)
    async def k8s_example(topic: Annotated[str | None, Field(description="omit to list topics")] = None) -> ToolResult:
        """Ready manifests that pass validation, e.g. 'vllm', 'sglang', 'kserve', 'keda'."""
        return structured_answer(example(topic))

    @mcp.tool(annotations=READ_ONLY, output_schema=OUTPUT)
    async def k8s_rules(
        profile: ProfileName = None, rule: Annotated[str | None, Field(description="a rule id")] = None
    ) -> ToolResult:
        """List profiles, a profile's rules and severities, or explain one rule."""
        return structured_answer(engine.rules_info(profile, rule))

    return mcp
