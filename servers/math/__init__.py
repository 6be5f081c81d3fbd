"""`math`: exact and numeric mathematics (sympy, scipy) with no way to run code."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mcpfleet.common.spec import ServerSpec, requires

if TYPE_CHECKING:
    from fastmcp import FastMCP

    from mcpfleet.common.settings import Settings


def _build(settings: Settings) -> FastMCP:
    from mcpfleet.servers.math.server import build  # heavy imports only when the server is built

    return build(settings)


SPEC = ServerSpec(
    name="math",
    title="Math",
    description="Exact and numeric mathematics: equations, calculus, ODEs, linear algebra, optimisation, statistics.",
    build=_build,
    extra="math",
    missing=requires(("sympy", "scipy", "mpmath"), (), "pip install 'mcpfleet[math]'"),
)
