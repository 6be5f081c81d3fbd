"""The npm server's tools: answers from the registry itself, so models stop inventing packages.

Thin wrappers over registry.py (requests and the packument cache), packages.py (summaries,
versions, npm's version pick, name suggestions), deptree.py, readme.py and audit.py.
"""

from __future__ import annotations

import contextlib
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastmcp import FastMCP
from fastmcp.tools.base import ToolResult
from pydantic import Field

from mcpfleet.common.app import READ_ONLY_REMOTE as READ_ONLY
from mcpfleet.common.app import new_server
from mcpfleet.common.errors import FleetError, ResponseTooLarge, UserError
from mcpfleet.common.http import OutboundClient
from mcpfleet.common.settings import Settings
from mcpfleet.common.untrusted import OUTSIDE_KEYS, neutralise, page, untrusted_result
from mcpfleet.servers.npm import audit, deptree, semver
from mcpfleet.servers.npm import packages as pkgs
from mcpfleet.servers.npm.readme import readme_from_packument, readme_from_tarball
from mcpfleet.servers.npm.registry import PackageNotFound, RegistryClient
from mcpfleet.servers.npm.settings import NpmSettings, registry_config

OUTPUT = {"type": "object"}
# Everything a registry or advisory server says is outside text. These keys hold prose its authors
# wrote (wrapped in both content kinds); names, versions and ranges stay plain so they can be
# passed back as arguments, neutralised and wrapped only when they look addressed to a model.
NPM_OUTSIDE = OUTSIDE_KEYS | {"license", "maintainers", "deprecated", "keywords", "author"}
ADVISORY_OUTSIDE = NPM_OUTSIDE | {"url"}

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
        http, config, audit_url=section.audit_url, cache_ttl=section.cache_ttl, cache_entries=section.cache_entries,
        max_packument_bytes=section.max_packument_bytes, max_tarball_bytes=section.max_tarball_bytes,
    )

    mcp = new_server(
        "npm", "Facts about npm packages from the registry itself: check names, versions and ranges here instead of guessing.",
        closers=[http.aclose],
    )
    mcp.registry = registry  # type: ignore[attr-defined]  # tests and benchmarks read its counters

    async def packument(name: str, *, full: bool = False) -> dict[str, Any]:
        try:
            return await registry.packument(name, full=full)
        except PackageNotFound as exc:
            suggestions = await pkgs.suggest_names(registry, exc.name)
            hint = ""
            if suggestions:
                names = ", ".join(neutralise(s["name"]) + (" (lookalike!)" if s["lookalike"] else "") for s in suggestions)
                hint = f"; existing names close to it: {names}"
            raise UserError(f"{exc}{hint}. Do not guess package names: check them here.") from None

    async def full_or_abbreviated(name: str) -> tuple[dict[str, Any], bool]:
        try:
            return await packument(name, full=True), True
        except ResponseTooLarge:  # huge histories: the abbreviated form still answers most
            return await packument(name), False

    @mcp.tool(annotations=READ_ONLY, output_schema=OUTPUT)
    async def npm_search(
        query: Annotated[str, Field(min_length=1, max_length=200)],
        limit: Annotated[int, Field(ge=1, le=50)] = 10,
    ) -> ToolResult:
        """Search the registry for packages."""
        results = []
        for obj in await registry.search(query, limit):
            pkg = obj["package"]
            version = pkg.get("version") or (pkg.get("dist-tags") or {}).get("latest")
            score = obj.get("score") or {}
            results.append({
                "name": pkg.get("name"), "version": version,
                "description": str(pkg.get("description") or "")[:300],
                "keywords": [str(k) for k in (pkg.get("keywords") or [])][:10],
                "links": pkg.get("links") or {},
                "score": score.get("final") if isinstance(score, dict) else None,
            })
        text = "\n".join(f"{r['name']}@{r['version']}: {r['description']}" for r in results) or f"no packages match {query!r}"
        # Descriptions and keywords are written by package authors: outside text like a README.
        return untrusted_result(text, "npm registry search", {"query": query, "results": results}, outside_keys=NPM_OUTSIDE)

    @mcp.tool(annotations=READ_ONLY, output_schema=OUTPUT)
    async def npm_package(name: Name, version: Version = "") -> ToolResult:
        """A version's facts: license, repo, engines, types, ESM/CJS, deps, deprecation, dist-tags. Unknown names get close real names."""
        doc, full = await full_or_abbreviated(name)
        resolved = pkgs.resolve_version(doc, version or None)
        manifest = doc["versions"][resolved]
        types_from = "bundled" if pkgs.bundled_types(manifest) else None
        if types_from is None and not name.startswith("@types/"):
            candidate = pkgs.types_package_name(doc.get("name", name))
            with contextlib.suppress(FleetError):  # a failed @types lookup only leaves `types` unknown
                types_from = candidate if await registry.exists(candidate) else None
        result = pkgs.summary(doc, resolved, types_from)
        if not full:
            result["partial"] = "packument too large: maintainers and publish times left out"
        # Descriptions, licences, maintainers' names and deprecation messages are the publisher's words.
        return untrusted_result(pkgs.summary_text(result), f"npm:{result['name'] or name}@{resolved}", result,
                                outside_keys=NPM_OUTSIDE)

    @mcp.tool(annotations=READ_ONLY, output_schema=OUTPUT)
    async def npm_versions(
        name: Name,
        range: Annotated[str, Field(max_length=256, description="e.g. '^1.2.0'")] = "",
        limit: Annotated[int, Field(ge=1, le=500)] = 30,
    ) -> ToolResult:
        """Versions newest first with dates and deprecations; with a range, the matches and the one npm would install."""
        doc, _ = await full_or_abbreviated(name)
        versions = pkgs.sorted_versions(doc)
        out: dict[str, Any] = {"name": doc.get("name", name), "dist_tags": doc.get("dist-tags") or {}, "total": len(versions)}
        if range:
            try:
                rng = semver.parse_range(range)
            except ValueError:
                raise UserError(f"{range!r} is not a valid semver range (e.g. '^1.2.0', '~0.3', '>=2 <4', '1.x || 2.x')") from None
            versions = [v for v in versions if rng.test(semver.parse_version(v))]
            out |= {"range": range, "normalized": str(rng), "matching": len(versions),
                    "install": pkgs.pick_version(doc, range)}
        out["versions"] = pkgs.version_rows(doc, versions[:limit])
        head = f"{out['name']}: {len(versions)} version(s)" + (f" satisfy {range!r}; npm would install {out['install']}" if range else "")
        rows = [f"{r['version']}  {r['published'] or ''}" + (f"  DEPRECATED: {r['deprecated']}" if r.get("deprecated") else "")
                for r in out["versions"]]
        text = "\n".join(rows + ([f"... {len(versions) - limit} more"] if len(versions) > limit else [])) or "(none)"
        return untrusted_result(text, f"npm:{out['name']}", out, header=head, outside_keys=NPM_OUTSIDE)

    @mcp.tool(annotations=READ_ONLY, output_schema=OUTPUT)
    async def npm_readme(
        name: Name,
        version: Version = "",
        start_index: Annotated[int, Field(ge=0)] = 0,
        max_length: Annotated[int, Field(ge=100, le=100_000)] = 20_000,
    ) -> ToolResult:
        """A package's README (untrusted text), paged."""
        doc, _ = await full_or_abbreviated(name)
        resolved = pkgs.resolve_version(doc, version or None)
        text = readme_from_packument(doc, resolved)
        if text is None:
            tarball = (doc["versions"][resolved].get("dist") or {}).get("tarball")
            if tarball:
                data = await registry.tarball(tarball)
                text = readme_from_tarball(data, max_readme=section.max_readme_chars * 4)
        if not text:
            raise UserError(f"{name}@{resolved} has no README")
        text = text[: section.max_readme_chars]
        p = page(text, start_index, max_length)
        source = f"npm:{doc.get('name', name)}@{resolved}/README"
        return untrusted_result(p.text, source, {"name": doc.get("name", name), "version": resolved, "content": p.text, **p.as_dict()},
                                header=f"README of {doc.get('name', name)}@{resolved} {p.note()}", outside_keys=NPM_OUTSIDE)

    @mcp.tool(annotations=READ_ONLY, output_schema=OUTPUT)
    async def npm_dependencies(
        name: Name,
        version: Version = "",
        depth: Annotated[int, Field(ge=1, le=20)] = 1,
    ) -> ToolResult:
        """Dependencies, peer and optional dependencies; depth > 1 resolves a tree with the versions npm would pick."""
        doc = await packument(name)
        resolved = pkgs.resolve_version(doc, version or None)
        manifest = doc["versions"][resolved]
        out: dict[str, Any] = {"name": doc.get("name", name), "version": resolved, **deptree.direct_dependencies(manifest)}
        if depth > 1:
            tree = await deptree.resolve_tree(registry, out["name"], resolved, manifest,
                                              min(depth, section.max_depth), section.max_tree_nodes)
            out |= tree
            text = deptree.tree_text(tree["tree"])
        else:
            parts = [f"{out['name']}@{resolved}"]
            for kind in ("dependencies", "peerDependencies", "optionalDependencies"):
                deps = out.get(kind) or {}
                parts.append(f"{kind}: " + (", ".join(f"{k} {v}" for k, v in deps.items()) or "none"))
            text = "\n".join(parts)
        # Names and ranges are the publishers' (a range may be any dist-tag text): neutralised, flagged.
        note = "[truncated: depth or node limit]" if out.get("truncated") else ""
        return untrusted_result(text, f"npm:{out['name']}@{resolved}", out, header=note, outside_keys=NPM_OUTSIDE)

    @mcp.tool(annotations=READ_ONLY, output_schema=OUTPUT)
    async def npm_audit(
        packages: Annotated[dict[str, str] | str, Field(description="name→version map, or package-lock.json text")],
    ) -> ToolResult:
        """Known security advisories for exact package versions."""
        wanted = audit.wanted_versions(packages)
        answer = await registry.advisories(wanted)
        findings = audit.matching_advisories(wanted, answer)
        head, lines = audit.audit_text(len(wanted), findings)
        # Titles, URLs and ranges come from the advisory server: its words, inside the wrapper.
        return untrusted_result(lines, f"npm advisories ({urlsplit(registry.audit_url).netloc})", {"checked": len(wanted), "findings": findings},
                                header=head, outside_keys=ADVISORY_OUTSIDE)

    return mcp
