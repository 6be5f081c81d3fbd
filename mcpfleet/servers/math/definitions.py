"""Tool definitions that cost few tokens: every tools/list entry is paid on every turn of a chat.

`register(mcp, fn)` adds `fn` as a read-only tool whose input schema is rewritten by `lean` (same
meaning, fewer tokens) and whose tools/list entry leaves out what only FastMCP or a display reads:
the `title` derived from the name ("Math Solve" for math_solve), `_meta` holding empty tags, and
an outputSchema (math's results are reports a model reads; their shape varies by operation, so
the only honest schema was `{"type": "object"}`, which every structuredContent is anyway).
Nothing here knows about math; the budget is asserted in tests/math/test_math_server.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastmcp import FastMCP
from fastmcp.tools.function_tool import FunctionTool
from mcp.types import Tool as MCPTool
from mcp.types import ToolAnnotations

from mcpfleet.common.app import READ_ONLY

_ABSENT: tuple[Any, ...] = ("", [], {}, None)
# Keys in this order tokenize shortest (o200k_base, measured over math's eight tools: -28 tokens
# against pydantic's order); JSON objects are unordered, so the meaning is the same.
_KEY_ORDER = ("description", "type", "additionalProperties", "items", "default", "enum")


def lean(schema: dict[str, Any]) -> dict[str, Any]:
    """An input schema written with fewer tokens, meaning the same to a model and a validator.

    - A default that only means "absent" ("", [], {}, null) is dropped: a property outside
      `required` already says it may be left out. A `T | None = None` parameter reads as `T`.
    - `{"anyOf": [{"type": "string"}, {"type": "array", "items": S}]}` becomes
      `{"type": ["string", "array"], "items": S}` (`items` applies to arrays only).
    - An enum of strings needs no `"type": "string"`; `"items": {}` is no constraint.
    - Keys are written in the order that costs fewest tokens (`_KEY_ORDER`).

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
    return _ordered({**schema, "properties": properties})


def _ordered(node: Any) -> Any:
    """`node` with the keys of every schema object in `_KEY_ORDER` (others after, as they were)."""
    if isinstance(node, list):
        return [_ordered(item) for item in node]
    if not isinstance(node, dict):
        return node
    keys = sorted(node, key=lambda k: _KEY_ORDER.index(k) if k in _KEY_ORDER else len(_KEY_ORDER))
    out = {}
    for key in keys:
        value = node[key]
        if key == "properties":
            out[key] = {name: _ordered(prop) for name, prop in value.items()}
        elif key in ("items", "additionalProperties", "anyOf"):
            out[key] = _ordered(value)
        else:
            out[key] = value  # enum values, defaults, descriptions, required: data, not schemas
    return out


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
    """Add `fn` to `mcp` as a read-only tool with a lean definition; returns `fn` (a decorator).

    No outputSchema: the result's structured content is still sent (MCP allows it without one).
    """
    tool = LeanTool.from_function(fn, annotations=ToolAnnotations.model_validate(READ_ONLY), output_schema=None)
    mcp.add_tool(tool.model_copy(update={"parameters": lean(tool.parameters)}))
    return fn
