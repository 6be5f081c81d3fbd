"""The math server's tools: thin wrappers that run the logic modules in the sandboxed worker pool.

Every computation (parsing included) happens in a child process with CPU, memory and wall-clock
limits, so `9**9**9**9`, a pathological integral or a 1 MB expression costs one call, never the
server. Results come back as plain data (see render.py) and are returned as structured content
plus a compact text line.

Tool definitions are paid on every turn (tests/math/test_math_server.py holds them to a token
budget): descriptions say only what a model cannot guess from names and enums, with one example
where the format matters; `definitions.register` writes the schemas lean.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any, Literal

from fastmcp import FastMCP
from fastmcp.tools.base import ToolResult
from pydantic import Field

from mcpfleet.common.app import new_pooled_server, structured_answer
from mcpfleet.common.settings import Settings
from mcpfleet.common.workers import WorkerPool, pool_settings, run_for_tool
from mcpfleet.servers.math.definitions import register
from mcpfleet.servers.math.settings import MathSettings

MODULE = "mcpfleet.servers.math"
INPUT_ERRORS = {
    "MathInputError",
    "ZeroDivisionError",
    "NotImplementedError",
    "PolynomialError",
    "ValueError",
    "TypeError",
    "GeneratorsNeeded",
    "CoercionFailed",
}


def build(settings: Settings) -> FastMCP:
    section: MathSettings = settings.server_section("math", MathSettings)
    workers = pool_settings(
        settings.workers, size=section.pool_size, memory_mb=section.memory_mb, timeout=section.timeout
    )
    pool = WorkerPool("math", workers, initializer=f"{MODULE}.warm:warm", allowed_prefixes=[MODULE], network=False)
    mcp = new_pooled_server(
        "math", "Exact and numeric mathematics (sympy/scipy). Write math as text: x^2, 2x, sqrt(2), pi, e, oo.", pool
    )

    tool = functools.partial(register, mcp)

    async def compute(target: str, *args: Any, **kwargs: Any) -> ToolResult:
        result = await run_for_tool(pool, f"{MODULE}.{target}", *args, input_errors=INPUT_ERRORS, **kwargs)
        return structured_answer(result, fallback_key="result")

    @tool
    async def math_solve(
        equations: Annotated[str | list[str], Field(description="e.g. ['x+y=3','x-y=1']")],
        variables: list[str] = [],
        domain: Literal["complex", "real"] = "complex",
    ) -> ToolResult:
        """Solve equations, systems or inequalities exactly."""
        return await compute("algebra:solve", equations, variables or None, domain)

    @tool
    async def math_simplify(
        expression: str,
        operation: Literal[
            "simplify", "expand", "factor", "apart", "together", "trigsimp", "cancel", "evaluate"
        ] = "simplify",
        digits: int = 15,
        variable: str = "",
    ) -> ToolResult:
        """Rewrite or evaluate an expression."""
        return await compute("algebra:simplify", expression, operation, digits, variable=variable or None)

    @tool
    async def math_calculus(
        expression: str,
        operation: Literal["diff", "integrate", "limit", "series", "sum"],
        variable: str = "",
        order: int = 1,
        lower: str = "",
        upper: str = "",
        point: str = "",
        direction: Literal["+-", "+", "-"] = "+-",
        n: int = 6,
    ) -> ToolResult:
        """Derivative (order), integral or sum (lower, upper: '0', 'oo'), limit or series (point, n terms)."""
        return await compute(
            "calculus:calculus",
            expression,
            operation,
            variable or None,
            order,
            lower or None,
            upper or None,
            point or None,
            direction,
            n,
        )

    @tool
    async def math_ode(
        equations: Annotated[str | list[str], Field(description="e.g. y''+y=0")],
        function: str | list[str],
        ics: Annotated[dict[str, str], Field(description='e.g. {"y\'(0)":"1"}')] = {},
    ) -> ToolResult:
        """Solve an ODE or a small system."""
        return await compute("calculus:ode", equations, function, ics or None)

    @tool
    async def math_matrix(
        matrix: Annotated[list | str, Field(description="e.g. [[1,2],[3,4]]")],
        operation: Literal[
            "det",
            "inverse",
            "rank",
            "rref",
            "nullspace",
            "eigenvalues",
            "eigenvectors",
            "transpose",
            "multiply",
            "solve",
            "charpoly",
        ],
        other: Annotated[list | str, Field(description="multiply: matrix; solve: b")] = [],
    ) -> ToolResult:
        """Exact linear algebra; entries may be expressions."""
        return await compute("linalg:matrix", matrix, operation, other or None)

    @tool
    async def math_optimize(
        objective: str,
        variables: list[str],
        constraints: Annotated[list[str], Field(description="e.g. ['x+y<=4']")] = [],
        goal: Literal["min", "max"] = "min",
        bounds: Annotated[dict[str, list[float | None]], Field(description="e.g. {'x':[0,null]}")] = {},
        integer: list[str] = [],
    ) -> ToolResult:
        """Linear, integer or nonlinear optimisation."""
        return await compute(
            "optimize:optimize", objective, variables, constraints or None, goal, bounds or None, integer or None
        )

    @tool
    async def math_stats(
        operation: Literal[
            "describe",
            "ttest_1samp",
            "ttest_ind",
            "ttest_paired",
            "anova",
            "chi2_contingency",
            "chi2_goodness",
            "correlation",
            "regression",
            "confidence_interval",
        ],
        data: list[float] = [],
        data2: list[float] = [],
        groups: list[list[float]] = [],
        mu: float | None = None,
        alpha: float = 0.05,
        confidence: float = 0.95,
        equal_var: bool = True,
        method: Literal["pearson", "spearman", "kendall"] = "pearson",
        alternative: Literal["two-sided", "less", "greater"] = "two-sided",
    ) -> ToolResult:
        """Statistics of data, data2 (x, y or chi2 observed, expected), groups (anova, chi2 table)."""
        return await compute(
            "stats:stats",
            operation,
            data=data or None,
            data2=data2 or None,
            groups=groups or None,
            mu=mu,
            alpha=alpha,
            confidence=confidence,
            equal_var=equal_var,
            method=method,
            alternative=alternative,
        )

    @tool
    async def math_distribution(
        name: Annotated[str, Field(description="normal, t, chi2, f, binomial, poisson, gamma, beta, ...")],
        params: Annotated[dict[str, float], Field(description="e.g. {'mu':0,'sigma':1}")],
        operation: Literal["pdf", "pmf", "cdf", "sf", "ppf", "isf", "mean", "variance", "std", "median", "interval"],
        at: Annotated[float | list[float], Field(description="x, probability or confidence level")] = [],
    ) -> ToolResult:
        """Probabilities, quantiles and moments of distributions."""
        value = at if not isinstance(at, list) else (at[0] if len(at) == 1 else at or None)
        return await compute("stats:distribution", name, params, operation, value)

    return mcp
