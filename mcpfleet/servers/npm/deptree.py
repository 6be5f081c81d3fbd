"""Dependency trees resolved from abbreviated packuments, level by level, bounded and cycle-safe.

Each dependency range resolves to the version `npm install` would pick (packages.pick_tag_or_range).
Production and optional dependencies are followed; peer dependencies are listed at each node but
not followed (the consumer provides them). A package@version already on the path is a `cycle`; one
already expanded elsewhere is `deduped` (as `npm ls` shows it). The walk stops at `max_depth`
levels or `max_nodes` nodes and says so (`truncated`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from mcpfleet.common.errors import FleetError
from mcpfleet.servers.npm.packages import pick_tag_or_range
from mcpfleet.servers.npm.registry import RegistryClient

FOLLOW = ("dependencies", "optionalDependencies")
CONCURRENCY = 8


def direct_dependencies(manifest: dict[str, Any]) -> dict[str, Any]:
    peer_meta = _deps(manifest, "peerDependenciesMeta")
    out: dict[str, Any] = {}
    for kind in ("dependencies", "peerDependencies", "optionalDependencies"):
        deps = manifest.get(kind) or {}
        if isinstance(deps, dict):
            out[kind] = dict(sorted((str(k), str(v)) for k, v in deps.items()))
    optional_peers = sorted(k for k, v in peer_meta.items() if isinstance(v, dict) and v.get("optional"))
    if optional_peers:
        out["optional_peers"] = optional_peers
    return out


async def resolve_tree(
    registry: RegistryClient, name: str, version: str, manifest: dict[str, Any], depth: int, max_nodes: int
) -> dict[str, Any]:
    """The tree below name@version, `depth` levels deep; `nodes` counts resolved packages."""
    root: dict[str, Any] = {"name": name, "version": version, "dependencies": []}
    state = {"nodes": 1, "truncated": False}
    expanded: set[str] = {f"{name}@{version}"}
    semaphore = asyncio.Semaphore(CONCURRENCY)
    # (node dict, its manifest, the package@versions on its path)
    level: list[tuple[dict[str, Any], dict[str, Any], frozenset[str]]] = [(root, manifest, frozenset(expanded))]

    async def resolve(dep: str, spec: str) -> tuple[str, dict[str, Any]] | str:
        """(the version picked, its manifest), or why there is none."""
        if ":" in spec or "/" in spec:  # git, file, url, alias and github shorthand specs
            return f"{spec!r} is not a semver range or dist-tag (git, file, url or alias spec)"
        async with semaphore:
            try:
                packument = await registry.packument(dep)
                picked = pick_tag_or_range(packument, spec)
            except ValueError:
                return f"{spec!r} is not a semver range or dist-tag (git, file, url or alias spec)"
            except FleetError as exc:
                return str(exc)[:200]
        if picked is None:
            return f"no version satisfies {spec!r}"
        return picked, packument["versions"][picked]

    for _level in range(depth):
        next_level = []
        jobs = []
        for node, node_manifest, path in level:
            for kind in FOLLOW:
                for dep, spec in sorted(_deps(node_manifest, kind).items()):
                    if state["nodes"] >= max_nodes:
                        state["truncated"] = True
                        break
                    state["nodes"] += 1
                    child: dict[str, Any] = {"name": dep, "range": str(spec)}
                    if kind == "optionalDependencies":
                        child["optional"] = True
                    node["dependencies"].append(child)
                    jobs.append((child, path, resolve(dep, str(spec))))
        if not jobs:
            break
        results = await asyncio.gather(*(job for _, _, job in jobs))
        for (child, path, _), outcome in zip(jobs, results, strict=True):
            if isinstance(outcome, str):
                child["error"] = outcome
                continue
            picked, child_manifest = outcome
            child["version"] = picked
            key = f"{child['name']}@{picked}"
            peers = _deps(child_manifest, "peerDependencies")
            if peers:
                child["peer"] = dict(sorted(peers.items()))
            if key in path:
                child["cycle"] = True
            elif key in expanded:
                child["deduped"] = True
            else:
                expanded.add(key)
                child["dependencies"] = []
                next_level.append((child, child_manifest, path | {key}))
        level = next_level
    else:
        if any(_deps(m, "dependencies") or _deps(m, "optionalDependencies") for _, m, _ in level):
            state["truncated"] = True  # deeper levels exist past the depth asked for
    return {"tree": root, "nodes": state["nodes"], "truncated": state["truncated"]}


def _deps(manifest: Any, kind: str) -> dict[str, Any]:
    """A manifest's `kind` map; {} where a published manifest has a list, a string or nothing there."""
    deps = manifest.get(kind) if isinstance(manifest, dict) else None
    return deps if isinstance(deps, dict) else {}


def tree_text(tree: dict[str, Any], max_lines: int = 200) -> str:
    lines: list[str] = []

    def walk(node: dict[str, Any], indent: int) -> None:
        for child in node.get("dependencies", []):
            if len(lines) >= max_lines:
                return
            label = f"{child['name']}@{child.get('version', '?')} ({child['range']})"
            marks = [m for m in ("cycle", "deduped", "optional") if child.get(m)]
            if child.get("error"):
                marks.append("error: " + child["error"])
            lines.append("  " * indent + label + (f" [{', '.join(marks)}]" if marks else ""))
            walk(child, indent + 1)

    walk(tree, 1)
    return "\n".join([f"{tree['name']}@{tree['version']}"] + lines)
