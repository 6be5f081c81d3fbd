"""The math tools through MCP (in memory, with the real worker pool): answers, refusals, limits."""

from __future__ import annotations

import pytest
import pytest_asyncio
import sympy as sp
from fastmcp.exceptions import ToolError

from fleet_testing import fleet_client
from mcpfleet.common.settings import load_settings
from mcpfleet.servers.math import SPEC
from mcpfleet.servers.math.parser import parse_expression
from mcpfleet.tokens import tool_definition, tools_tokens

TIMEOUT = 4.0
# tools/list in o200k_base tokens (what `mcpfleet list` prints): 1,936 before issue 20, then 1,408,
# 1,196 now (no outputSchema, the cheapest key order, chi2 inputs in data/data2/groups, shorter
# descriptions). Issue 20's per-server goal; tests/common/test_spec.py holds every server to it.
TOKEN_BUDGET = 1_200
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def math():
    settings = load_settings(
        workers={"size": 2, "cpu_seconds": TIMEOUT, "memory_mb": 1024},
        servers={"math": {"timeout": TIMEOUT}},
    )
    async with fleet_client(SPEC, settings) as client:
        yield client


def same(a: str, b: str) -> bool:
    return sp.simplify(parse_expression(a) - parse_expression(b)) == 0


async def test_eight_tools_with_short_descriptions(math):
    tools = {t.name: t for t in await math.list_tools()}
    assert set(tools) == {
        "math_solve",
        "math_simplify",
        "math_calculus",
        "math_ode",
        "math_matrix",
        "math_optimize",
        "math_stats",
        "math_distribution",
    }
    for tool in tools.values():
        assert 20 < len(tool.description) < 120
        assert tool.annotations.read_only_hint and tool.annotations.open_world_hint is False
        # The results are reports a model reads, shaped by the operation: no outputSchema (the
        # structured content is still sent, see the tests below).
        assert tool.output_schema is None


async def test_tool_definitions_fit_the_token_budget():
    """Every definition is paid on every turn; small open models run with 8k contexts."""
    # the definitions as written (no runtime): counting their tokens needs nothing around them
    tools = await SPEC.create(load_settings()).list_tools(run_middleware=False)
    assert tools_tokens(tools) <= TOKEN_BUDGET
    for tool in map(tool_definition, tools):
        # FastMCP's derived title ("Math Solve") and its empty-tags _meta tell a model nothing
        assert "title" not in tool and "_meta" not in tool, tool["name"]


async def test_the_listed_schemas_say_what_a_model_needs(math):
    schemas = {t.name: t.input_schema for t in await math.list_tools()}
    calculus = schemas["math_calculus"]
    assert calculus["required"] == ["expression", "operation"] and calculus["additionalProperties"] is False
    assert calculus["properties"]["operation"]["enum"] == ["diff", "integrate", "limit", "series", "sum"]
    assert calculus["properties"]["n"]["default"] == 6  # meaningful defaults stay, empty ones go
    assert "default" not in calculus["properties"]["lower"]
    assert schemas["math_solve"]["properties"]["equations"]["type"] == ["string", "array"]
    assert schemas["math_solve"]["properties"]["domain"]["default"] == "complex"
    assert schemas["math_stats"]["properties"]["mu"] == {"type": "number"}
    assert "e.g." in schemas["math_ode"]["properties"]["ics"]["description"]


@pytest.mark.parametrize(
    "tool,args,message",
    [
        ("math_simplify", {"expression": "pi", "operation": "evaluate", "digits": 0}, "between 1 and 1000, got 0"),
        ("math_calculus", {"expression": "exp(x)", "operation": "series", "n": 99}, "between 1 and 30, got 99"),
        ("math_stats", {"operation": "ttest_1samp", "data": [1, 2, 3], "alpha": 2}, "alpha must be between 0 and 1"),
        ("math_solve", {"equations": "x = 1", "unknowns": ["x"]}, "unknowns"),
    ],
)
async def test_bad_arguments_are_refused_with_a_reason(math, tool, args, message):
    # Ranges are checked by the logic modules (the schema leaves them out to stay short).
    with pytest.raises(ToolError, match=message):
        await math.call_tool(tool, args)


async def test_solve_returns_structured_solutions_and_text(math):
    result = await math.call_tool("math_solve", {"equations": "x^2 = 4"})
    solutions = result.structured_content["solutions"]
    values = sorted(str(s["x"]["result"] if isinstance(s, dict) else s["result"]) for s in solutions)
    assert sorted(values, key=int) == ["-2", "2"]
    assert "2" in result.content[0].text


async def test_chi2_reads_its_counts_from_data_data2_and_groups(math):
    goodness = await math.call_tool(
        "math_stats",
        {"operation": "chi2_goodness", "data": [315, 108, 101, 32], "data2": [9 / 16, 3 / 16, 3 / 16, 1 / 16]},
    )
    assert goodness.structured_content["df"] == 3 and goodness.structured_content["chi2"] < 1
    table = await math.call_tool("math_stats", {"operation": "chi2_contingency", "groups": [[10, 20], [30, 40]]})
    assert [cell for row in table.structured_content["expected"] for cell in row] == [12, 18, 28, 42]
    with pytest.raises(ToolError, match="observed"):  # not a parameter of the tool (any more)
        await math.call_tool("math_stats", {"operation": "chi2_goodness", "observed": [1, 2, 3]})


async def test_evaluate_to_fifty_digits(math):
    result = await math.call_tool("math_simplify", {"expression": "pi", "operation": "evaluate", "digits": 50})
    assert result.structured_content["numeric"].startswith("3.1415926535897932384626433832795028841971693993751")


async def test_each_tool_answers(math):
    calls = [
        ("math_calculus", {"expression": "x^3", "operation": "diff"}, lambda r: same(r["result"], "3*x^2")),
        (
            "math_ode",
            {"equations": "y'' + y = 0", "function": "y", "ics": {"y(0)": "0", "y'(0)": "1"}},
            lambda r: "sin(x)" in str(r),
        ),
        ("math_matrix", {"matrix": [[1, 2], [3, 4]], "operation": "det"}, lambda r: r["determinant"]["result"] == "-2"),
        (
            "math_optimize",
            {
                "objective": "3x + 5y",
                "variables": ["x", "y"],
                "goal": "max",
                "constraints": ["x <= 4", "2y <= 12", "3x + 2y <= 18", "x >= 0", "y >= 0"],
            },
            lambda r: abs(float(r["value"]) - 36) < 1e-6,
        ),
        ("math_stats", {"operation": "describe", "data": [2, 4, 4, 4, 5, 5, 7, 9]}, lambda r: float(r["mean"]) == 5),
        (
            "math_distribution",
            {"name": "normal", "params": {"mu": 0, "sigma": 1}, "operation": "cdf", "at": [1.96]},
            lambda r: "0.975" in str(r),
        ),
    ]
    for name, args, check in calls:
        result = await math.call_tool(name, args)
        assert check(result.structured_content), (name, result.structured_content)


@pytest.mark.parametrize(
    "expression",
    [
        "__import__('os').system('touch /tmp/mcpfleet-pwned')",
        "().__class__.__bases__[0].__subclasses__()",
        "(lambda: 1)()",
        "getattr(x, '__class__')",
        "Symbol.__init__",
    ],
)
async def test_code_injection_is_a_clear_refusal(math, expression, tmp_path):
    with pytest.raises(ToolError) as info:
        await math.call_tool("math_simplify", {"expression": expression})
    assert "internal error" not in str(info.value)
    import os

    assert not os.path.exists("/tmp/mcpfleet-pwned")


@pytest.mark.parametrize(
    "expression,message",
    [
        ("9**9**9**9", "digits"),
        ("factorial(10**12)", "digits"),
        ("x" * 1_000_000, "limit is 10000"),
    ],
)
async def test_huge_inputs_are_refused_before_computing(math, expression, message):
    # The message is the up-front estimate's or the length check's, not the time or CPU limit's.
    with pytest.raises(ToolError, match=message) as info:
        await math.call_tool("math_simplify", {"expression": expression, "operation": "evaluate"})
    assert "took longer" not in str(info.value) and "CPU limit" not in str(info.value)


async def test_runaway_computation_is_stopped_and_the_server_keeps_serving(math):
    with pytest.raises(ToolError, match=r"took longer than|memory or CPU limit"):
        # About 1.4 million terms: sympy grinds on this far longer than the limit.
        await math.call_tool("math_simplify", {"expression": "(x + y + z + w + 1)^200", "operation": "expand"})
    result = await math.call_tool("math_simplify", {"expression": "2 + 2", "operation": "evaluate"})
    assert result.structured_content["result"] == "4"


async def test_big_integer_results_are_summarised(math):
    result = await math.call_tool("math_simplify", {"expression": "2^100000", "operation": "evaluate"})
    data = result.structured_content
    assert data["result"].startswith("integer with 30103 digits")
    assert len(result.content[0].text) < 2000
