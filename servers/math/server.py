"""The math server's tools: thin wrappers that run the logic modules in the sandboxed worker pool.

Every computation (parsing included) happens in a child process with CPU, memory and wall-clock
limits, so `9**9**9**9`, a pathological integral or a 1 MB expression costs one call, never the
server. Results come back as plain data (see render.py) and are returned as structured content
plus a compact text line.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastmcp import FastMCP
from fastmcp.tools.base import ToolResult
from pydantic import BaseModel, Field

from mcpfleet.common.app import new_pooled_server, structured_answer
from mcpfleet.common.settings import Settings
from mcpfleet.common.workers import WorkerPool, pool_settings, run_for_tool

MODULE = "mcpfleet.servers.math"
INPUT_ERRORS = {"MathInputError", "ZeroDivisionError", "NotImplementedError", "PolynomialError",
                "ValueError", "TypeError", "GeneratorsNeeded", "CoercionFailed"}
READ_ONLY = {"readOnlyHint": True, "openWorldHint": False, "idempotentHint": True}
OUTPUT = {"type": "object"}  # results vary by operation; the text content describes them


class MathSettings(BaseModel):
    """`[servers.math]`: the worker pool follows `[workers]`; these override it for math."""

    model_config = {"extra": "forbid"}
    pool_size: int | None = Field(default=None, ge=1, le=64)
    timeout: float = Field(default=20.0, gt=0, le=600, description="seconds per computation")
    memory_mb: int | None = Field(default=None, ge=256)


def build(settings: Settings) -> FastMCP:
    section: MathSettings = settings.server_section("math", MathSettings)
    workers = pool_settings(settings.workers, size=section.pool_size, memory_mb=section.memory_mb,
                            timeout=section.timeout)
    pool = WorkerPool("math", workers, initializer=f"{MODULE}.warm:warm", allowed_prefixes=[MODULE])
    mcp = new_pooled_server(
        "math", "Exact and numeric mathematics (sympy/scipy). Write math as text: x^2, 2x, sqrt(2), pi, e, oo.", pool
    )

    async def compute(target: str, *args: Any, **kwargs: Any) -> ToolResult:
        result = await run_for_tool(pool, f"{MODULE}.{target}", *args, input_errors=INPUT_ERRORS, **kwargs)
        return structured_answer(result, fallback_key="result")

    @mcp.tool(annotations=READ_ONLY, output_schema=OUTPUT)
    async def math_solve(
        equations: Annotated[str | list[str], Field(description="e.g. 'x^2 = 4', 'x^2 < 1' or ['x+y=3','x-y=1']")],
        variables: Annotated[list[str], Field(description="unknowns; default: all symbols")] = [],
        domain: Literal["complex", "real"] = "complex",
    ) -> ToolResult:
        """Solve equations, systems or inequalities exactly; numeric roots when no closed form exists (flagged)."""
        return await compute("algebra:solve", equations, variables or None, domain)

    @mcp.tool(annotations=READ_ONLY, output_schema=OUTPUT)
    async def math_simplify(
        expression: str,
        operation: Literal["simplify", "expand", "factor", "apart", "together", "trigsimp", "cancel", "evaluate"] = "simplify",
        digits: Annotated[int, Field(ge=1, le=1000, description="significant digits (evaluate)")] = 15,
        variable: Annotated[str, Field(description="main variable (apart)")] = "",
    ) -> ToolResult:
        """Transform an expression, or evaluate it exactly and to any precision, e.g. 'Sum(1/k^2,(k,1,oo))'."""
        return await compute("algebra:simplify", expression, operation, digits, variable=variable or None)

    @mcp.tool(annotations=READ_ONLY, output_schema=OUTPUT)
    async def math_calculus(
        expression: str,
        operation: Literal["diff", "integrate", "limit", "series", "sum"],
        variable: str = "",
        order: Annotated[int, Field(ge=1, le=20)] = 1,
        lower: Annotated[str, Field(description="bound for integrate/sum, e.g. '0', '-oo'")] = "",
        upper: str = "",
        point: Annotated[str, Field(description="limit/series point")] = "",
        direction: Literal["+-", "+", "-"] = "+-",
        n: Annotated[int, Field(ge=1, le=30, description="series order")] = 6,
    ) -> ToolResult:
        """Derivatives, integrals (numeric fallback for definite ones, flagged), limits, series, sums."""
        return await compute(
            "calculus:calculus", expression, operation, variable or None, order, lower or None, upper or None,
            point or None, direction, n,
        )

    @mcp.tool(annotations=READ_ONLY, output_schema=OUTPUT)
    async def math_ode(
        equations: Annotated[str | list[str], Field(description="e.g. \"y'' + y = 0\"")],
        function: Annotated[str | list[str], Field(description="e.g. 'y' or 'y(t)'")],
        ics: Annotated[dict[str, str], Field(description="e.g. {\"y(0)\": \"0\", \"y'(0)\": \"1\"}")] = {},
    ) -> ToolResult:
        """Solve an ordinary differential equation or a small system, with optional initial conditions."""
        return await compute("calculus:ode", equations, function, ics or None)

    @mcp.tool(annotations=READ_ONLY, output_schema=OUTPUT)
    async def math_matrix(
        matrix: Annotated[list | str, Field(description="rows, e.g. [[1,2],[3,4]]; numbers or expressions")],
        operation: Literal["det", "inverse", "rank", "rref", "nullspace", "eigenvalues", "eigenvectors",
                           "transpose", "multiply", "solve", "charpoly"],
        other: Annotated[list | str, Field(description="matrix (multiply) or b (solve)")] = [],
    ) -> ToolResult:
        """Exact linear algebra."""
        return await compute("linalg:matrix", matrix, operation, other or None)

    @mcp.tool(annotations=READ_ONLY, output_schema=OUTPUT)
    async def math_optimize(
        objective: str,
        variables: list[str],
        constraints: Annotated[list[str], Field(description="e.g. ['x + y <= 4', 'x >= 0']")] = [],
        goal: Literal["min", "max"] = "min",
        bounds: Annotated[dict[str, list[float | None]], Field(description="{'x': [0, null]}")] = {},
        integer: Annotated[list[str], Field(description="integer variables")] = [],
    ) -> ToolResult:
        """Minimise or maximise: linear/integer programs (HiGHS), nonlinear with constraints (SLSQP)."""
        return await compute(
            "optimize:optimize", objective, variables, constraints or None, goal, bounds or None, integer or None
        )

    @mcp.tool(annotations=READ_ONLY, output_schema=OUTPUT)
    async def math_stats(
        operation: Literal["describe", "ttest_1samp", "ttest_ind", "ttest_paired", "anova", "chi2_contingency",
                           "chi2_goodness", "correlation", "regression", "confidence_interval"],
        data: Annotated[list[float], Field(description="sample; x for correlation/regression")] = [],
        data2: Annotated[list[float], Field(description="second sample; y")] = [],
        groups: Annotated[list[list[float]], Field(description="anova")] = [],
        table: Annotated[list[list[float]], Field(description="contingency table")] = [],
        observed: list[float] = [],
        expected: list[float] = [],
        mu: Annotated[float | None, Field(description="hypothesised mean (default 0)")] = None,
        alpha: Annotated[float, Field(gt=0, lt=1)] = 0.05,
        confidence: Annotated[float, Field(gt=0, lt=1)] = 0.95,
        equal_var: bool = True,
        method: Literal["pearson", "spearman", "kendall"] = "pearson",
        alternative: Literal["two-sided", "less", "greater"] = "two-sided",
    ) -> ToolResult:
        """Descriptive statistics, t-tests, ANOVA, chi-square, correlation, regression, confidence intervals."""
        return await compute(
            "stats:stats", operation, data=data or None, data2=data2 or None, groups=groups or None,
            table=table or None, observed=observed or None, expected=expected or None, mu=mu,
            alpha=alpha, confidence=confidence, equal_var=equal_var, method=method, alternative=alternative,
        )

    @mcp.tool(annotations=READ_ONLY, output_schema=OUTPUT)
    async def math_distribution(
        name: Annotated[str, Field(description="normal, t, chi2, f, binomial, poisson, uniform, exponential, gamma, beta, ...")],
        params: Annotated[dict[str, float], Field(description="e.g. {'mu': 0, 'sigma': 1}")],
        operation: Literal["pdf", "pmf", "cdf", "sf", "ppf", "isf", "mean", "variance", "std", "median", "interval"],
        at: Annotated[float | list[float], Field(description="point(s), probability or confidence level")] = [],
    ) -> ToolResult:
        """Probabilities, quantiles and moments of common distributions."""
        value = at if not isinstance(at, list) else (at[0] if len(at) == 1 else at or None)
        return await compute("stats:distribution", name, params, operation, value)

    return mcp
