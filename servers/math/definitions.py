"""Tool definitions that cost few tokens: every tools/list entry is paid on every turn of a chat.

`register(mcp, fn)` adds `fn` as a read-only tool whose input schema is rewritten by `lean` (same
meaning, fewer tokens) and whose tools/list entry leaves out what only FastMCP or a display reads:
the `title` derived from the name ("Math Solve" for math_solve) and `_meta` holding empty tags.
Nothing here knows about math; the budget is asserted in tests/math/test_math_server.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastmcp import FastMCP
from fastmcp.tools.function_tool import FunctionTool
from mcp.types import Tool as MCPTool

# MCP: idempotentHint (like destructiveHint) only means something when readOnlyHint is false.
READ_ONLY = {"readOnlyHint": True, "openWorldHint": False}
OUTPUT = {"type": "object"}  # results vary by operation; the text content describes them
_ABSENT: tuple[Any, ...] = ("", [], {}, None)


def lean(schema: dict[str, Any]) -> dict[str, Any]:
    """An input schema written with fewer tokens, meaning the same to a model and a validator.

    - A default that only means "absent" ("", [], {}, null) is dropped: a property outside
      `required` already says it may be left out. A `T | None = None` parameter reads as `T`.
    - `{"anyOf": [{"type": "string"}, {"type": "array", "items": S}]}` becomes
      `{"type": ["string", "array"], "items": S}` (`items` applies to arrays only).
    - An enum of strings needs no `"type": "string"`; `"items": {}` is no constraint.

    Arguments are still validated against the function's signature (pydantic), not this schema.
    """
    properties = {}
    for name, prop in schema.get("properties", {}).items():
        prop = dict(prop)
        if "default" in prop and prop["default"] in _ABSENT:
            if prop.pop("default") is None and "anyOf" in prop:
                kept = [branch for branch in prop.pop("anyOf") if branch != {"type": "null"}]
                prop = {**(kept[0] if len(kept) == 1 else {"anyOf": kept}), **prop}
        properties[name] = _compact(prop)
    return {**schema, "properties": properties}


def _compact(node: dict[str, Any]) -> dict[str, Any]:
    node = {key: value for key, value in node.items() if (key, value) != ("items", {})}
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            node[key] = _compact(node[key])
    if "anyOf" in node:
        branches = [_compact(branch) for branch in node.pop("anyOf")]
        simple = all(set(b) <= {"type", "items"} and isinstance(b.get("type"), str) for b in branches)
        if simple and sum("items" in b for b in branches) <= 1:
            merged: dict[str, Any] = {"type": [b["type"] for b in branches]}
            merged.update(*({"items": b["items"]} for b in branches if "items" in b))
            node = {**merged, **node}
        else:
            node["anyOf"] = branches
    if node.get("type") == "string" and "enum" in node and all(isinstance(v, str) for v in node["enum"]):
        del node["type"]
    return node


class LeanTool(FunctionTool):
    """A function tool listed without FastMCP's derived `title` and its empty-tags `_meta`.

    MCP clients display `name` when `title` is absent; the model never sees either field.
    """

    def to_mcp_tool(self, **overrides: Any) -> MCPTool:
        if self.title is None and (self.annotations is None or self.annotations.title is None):
            overrides.setdefault("title", None)
        if self.get_meta() == {"fastmcp": {"tags": []}}:
            overrides.setdefault("_meta", None)
        return super().to_mcp_tool(**overrides)


def register(mcp: FastMCP, fn: Callable[..., Any]) -> Callable[..., Any]:
    """Add `fn` to `mcp` as a read-only tool with a lean definition; returns `fn` (a decorator)."""
    tool = LeanTool.from_function(fn, annotations=READ_ONLY, output_schema=OUTPUT)
    mcp.add_tool(tool.model_copy(update={"parameters": lean(tool.parameters)}))
    return fn
