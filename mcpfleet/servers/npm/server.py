"""The npm server's tools: answers from the registry itself, so models stop inventing packages.

Thin wrappers over lookup.py (the tools' logic and typed results), which asks registry.py
(requests and the packument cache) and shapes answers with packages.py, deptree.py, readme.py
and audit.py. Every answer holds the registry's words: `untrusted_answer` marks them.
"""

from __future__ import annotations

from typing import Annotated

from fastmcp import FastMCP
from fastmcp.tools.base import ToolResult
from pydantic import Field

from mcpfleet.common.app import READ_ONLY_REMOTE as READ_ONLY
from mcpfleet.common.app import new_server
from mcpfleet.common.http import OutboundClient
from mcpfleet.common.settings import Settings
from mcpfleet.common.untrusted import untrusted_answer
from mcpfleet.servers.npm.lookup import Lookup
from mcpfleet.servers.npm.registry import RegistryClient
from mcpfleet.servers.npm.settings import NpmSettings, registry_config

OUTPUT = {"type": "object"}

# Optional arguments default to "" rather than None: a shorter schema for small-context models.
Name = Annotated[str, Field(max_length=214, description="e.g. 'react', '@types/node'")]
Version = Annotated[str, Field(max_length=256, description="version, tag or range")]


def build(settings: Settings) -> FastMCP:
    section: NpmSettings = settings.server_section("npm", NpmSettings)
    config = registry_config(section)
    # Packuments of long-lived packages (typescript: >10 MB even abbreviated) pass the fleet-wide
    # body cap; this server's own caps apply to its requests instead.
    cap = max(settings.http.max_bytes, section.max_packument_bytes, section.max_tarball_bytes)
    http = OutboundClient(settings.http.model_copy(update={"max_bytes": cap}))
    registry = RegistryClient(
        http,
        config,
        audit_url=section.audit_url,
        cache_ttl=section.cache_ttl,
        cache_entries=section.cache_entries,
        max_packument_bytes=section.max_packument_bytes,
        max_tarball_bytes=section.max_tarball_bytes,
    )

    mcp = new_server(
        "npm",
        "Facts about npm packages from the registry itself: check names, versions and ranges here instead of guessing.",
        closers=[http.aclose],
    )
    mcp.registry = registry  # type: ignore[attr-defined]  # tests and benchmarks read its counters

    lookup = Lookup(registry, section)

    @mcp.tool(annotations=READ_ONLY, output_schema=OUTPUT)
    async def npm_search(
        query: Annotated[str, Field(min_length=1, max_length=200)],
        limit: Annotated[int, Field(ge=1, le=50)] = 10,
    ) -> ToolResult:
        """Search the registry for packages."""
        return untrusted_answer(await lookup.search(query, limit))

    @mcp.tool(annotations=READ_ONLY, output_schema=OUTPUT)
    async def npm_package(name: Name, version: Version = "") -> ToolResult:
        """A version's facts: license, repo, engines, types, ESM/CJS, deps, deprecation, dist-tags. Unknown names get close real names."""
        return untrusted_answer(await lookup.package(name, version))

    @mcp.tool(annotations=READ_ONLY, output_schema=OUTPUT)
    async def npm_versions(
        name: Name,
        range: Annotated[str, Field(max_length=256, description="e.g. '^1.2.0'")] = "",
        limit: Annotated[int, Field(ge=1, le=500)] = 30,
    ) -> ToolResult:
        """Versions newest first with dates and deprecations; with a range, the matches and the one npm would install."""
        return untrusted_answer(await lookup.versions(name, range, limit))

    @mcp.tool(annotations=READ_ONLY, output_schema=OUTPUT)
    async def npm_readme(
        name: Name,
        version: Version = "",
        start_index: Annotated[int, Field(ge=0)] = 0,
        max_length: Annotated[int, Field(ge=100, le=100_000)] = 20_000,
    ) -> ToolResult:
        """A package's README (untrusted text), paged."""
        return untrusted_answer(await lookup.readme(name, version, start_index, max_length))

    @mcp.tool(annotations=READ_ONLY, output_schema=OUTPUT)
    async def npm_dependencies(
        name: Name,
        version: Version = "",
        depth: Annotated[int, Field(ge=1, le=20)] = 1,
    ) -> ToolResult:
        """Dependencies, peer and optional dependencies; depth > 1 resolves a tree with the versions npm would pick."""
        return untrusted_answer(await lookup.dependencies(name, version, depth))

    @mcp.tool(annotations=READ_ONLY, output_schema=OUTPUT)
    async def npm_audit(
        packages: Annotated[dict[str, str] | str, Field(description="name→version map, or package-lock.json text")],
    ) -> ToolResult:
        """Known security advisories for exact package versions."""
        return untrusted_answer(await lookup.audit(packages))

    return mcp
