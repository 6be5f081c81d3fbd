"""What installing an item adds across its whole registry-dependency tree, as `shadcn add` merges it.

The CLI orders the resolved items dependencies first (themes before everything), then deep-merges
their `cssVars`, `css` and `envVars` in that order (objects merge key by key, lists concatenate,
a later value wins) and joins their `docs`. `dashboard-01` itself has no cssVars; the 16 sidebar
variables it installs come from its dependency `sidebar`.
"""

from __future__ import annotations

from typing import Any


def deep_merge(base: Any, extra: Any) -> Any:
    """`extra` merged onto `base` like the npm package deepmerge: dicts recursively, lists appended."""
    if isinstance(base, dict) and isinstance(extra, dict):
        merged = dict(base)
        for key, value in extra.items():
            merged[key] = deep_merge(merged[key], value) if key in merged else value
        return merged
    if isinstance(base, list) and isinstance(extra, list):
        return base + extra
    return extra


def install_order(root: dict[str, Any], levels: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Root and its dependencies (breadth-first levels), dependencies before dependents, themes first."""
    ordered = [item for level in reversed(levels) for item in level] + [root]
    return sorted(ordered, key=lambda item: 0 if item.get("type") == "registry:theme" else 1)  # stable


def merged(items: list[dict[str, Any]]) -> dict[str, Any]:
    """cssVars, css, envVars and docs of `items` (in install order), merged as the CLI does,
    plus which items contributed cssVars."""
    css_vars: dict[str, Any] = {}
    css: dict[str, Any] = {}
    env: dict[str, Any] = {}
    docs: list[str] = []
    sources = []
    for item in items:
        if any(item.get("cssVars", {}).values()):
            sources.append(item["name"])
        css_vars = deep_merge(css_vars, item.get("cssVars") or {})
        css = deep_merge(css, item.get("css") or {})
        env = deep_merge(env, item.get("envVars") or {})
        if item.get("docs"):
            docs.append(item["docs"])
    return {"cssVars": css_vars, "css": css, "envVars": env, "docs": "\n".join(docs) or None, "cssVars_from": sources}
