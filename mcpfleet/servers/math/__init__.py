"""`math`: exact and numeric mathematics (sympy, scipy) with no way to run code."""

from __future__ import annotations

from mcpfleet.common.spec import Resources, ServerSpec, requires

SPEC = ServerSpec(
    name="math",
    title="Math",
    description="Exact and numeric mathematics: equations, calculus, ODEs, linear algebra, optimisation, statistics.",
    build=f"{__name__}.server:build",  # heavy imports only when the server is built
    resources=Resources("250m", "512Mi", "2", "2Gi", "2Gi"),
    settings=f"{__name__}.settings:MathSettings",
    extra="math",
    missing=requires(("sympy", "scipy", "mpmath"), (), "pip install 'mcpfleet[math]'"),
)
