"""`definitions.lean`: fewer tokens, the same meaning to a JSON Schema validator."""

from __future__ import annotations

import json
from typing import Annotated, Literal

import jsonschema
import pytest
from fastmcp.tools.function_tool import FunctionTool
from pydantic import Field

from mcpfleet.servers.math.definitions import LeanTool, lean
from mcpfleet.tokens import count_tokens


async def sample(
    equations: Annotated[str | list[str], Field(description="e.g. 'x=1'")],
    operation: Literal["diff", "integrate"],
    matrix: list | str = [],
    at: float | list[float] = [],
    bounds: dict[str, list[float | None]] = {},
    mu: float | None = None,
    variable: str = "",
    n: int = 6,
    method: Literal["pearson", "spearman"] = "pearson",
) -> dict:
    return {}


VALUES = {
    "equations": ["x=1", ["x=1", "y=2"], [], [1], 1, None, {"a": "b"}],
    "operation": ["diff", "integrate", "sum", 1, None],
    "matrix": [[[1, 2], [3, 4]], "[[1,2]]", [], 3, None, {}],
    "at": [1.5, 2, [0.1, 0.9], [], ["x"], "1", None],
    "bounds": [{"x": [0, None]}, {"x": [None, 1.5]}, {}, {"x": ["0"]}, {"x": 0}, [], None],
    "mu": [0, 1.5, "0", [], True],
    "variable": ["x", "", 1, None],
    "n": [6, 1, 2.5, "6", None],
    "method": ["pearson", "spearman", "kendall", 1],
}


def schemas() -> tuple[dict, dict]:
    original = FunctionTool.from_function(sample).parameters
    return original, lean(original)


@pytest.mark.parametrize("name", sorted(VALUES))
def test_every_value_is_valid_for_the_lean_schema_exactly_when_it_was_before(name):
    original, leaner = schemas()
    before = jsonschema.Draft202012Validator(original["properties"][name])
    after = jsonschema.Draft202012Validator(leaner["properties"][name])
    for value in VALUES[name]:
        if name == "mu" and value is None:
            continue
        assert before.is_valid(value) == after.is_valid(value), (name, value)


def test_lean_drops_only_what_means_absent_and_costs_fewer_tokens():
    original, leaner = schemas()
    props = leaner["properties"]
    assert props["equations"] == {"type": ["string", "array"], "items": {"type": "string"}, "description": "e.g. 'x=1'"}
    assert props["matrix"] == {"type": ["array", "string"]}
    assert props["mu"] == {"type": "number"}  # `float | None = None`: null only meant "not given"
    assert props["n"] == {"default": 6, "type": "integer"} and props["method"]["default"] == "pearson"
    assert "type" not in props["method"] and props["method"]["enum"] == ["pearson", "spearman"]
    assert props["bounds"]["additionalProperties"]["items"] == {"type": ["number", "null"]}
    assert leaner["required"] == original["required"] == ["equations", "operation"]
    assert leaner["additionalProperties"] is False
    tokens = lambda schema: count_tokens(json.dumps(schema, separators=(",", ":")))  # noqa: E731
    assert tokens(leaner) < 0.75 * tokens(original)


def test_a_lean_tool_is_listed_without_the_derived_title_and_empty_meta():
    plain = FunctionTool.from_function(sample).to_mcp_tool(name="sample")
    assert plain.title == "Sample" and plain.meta == {"fastmcp": {"tags": []}}  # FastMCP's own, today
    listed = LeanTool.from_function(sample).to_mcp_tool(name="sample")
    assert listed.title is None and listed.meta is None
    tagged = LeanTool.from_function(sample, title="Sample tool", tags={"x"}).to_mcp_tool()
    assert tagged.title == "Sample tool" and tagged.meta == {"fastmcp": {"tags": ["x"]}}
    annotated = LeanTool.from_function(sample, annotations={"title": "Sample tool"}).to_mcp_tool()
    assert annotated.title == "Sample tool"


def test_lean_writes_schema_keys_in_the_order_that_costs_fewest_tokens():
    _original, leaner = schemas()
    props = leaner["properties"]
    assert list(leaner)[:2] == ["type", "additionalProperties"] and list(leaner)[-2:] == ["properties", "required"]
    assert list(props["equations"]) == ["description", "type", "items"]
    assert list(props["bounds"]) == ["type", "additionalProperties"]
    assert list(props["bounds"]["additionalProperties"]) == ["type", "items"]
    assert list(props["n"]) == ["type", "default"] and list(props["method"]) == ["default", "enum"]
    compact = lambda schema, **kw: count_tokens(json.dumps(schema, separators=(",", ":"), **kw))  # noqa: E731
    # pydantic writes keys alphabetically ({"items": ..., "type": "array"}); the same schema costs more so
    assert compact(leaner) < compact(leaner, sort_keys=True)
