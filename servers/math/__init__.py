"""`math`: exact and numeric mathematics (sympy, scipy) with no way to run code."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mcpfleet.common.spec import ServerSpec

if TYPE_CHECKING:
    from fastmcp import FastMCP

    from mcpfleet.common.settings import Settings


def _build(settings: Settings) -> FastMCP:
    from mcpfleet.common.errors import ConfigError

    try:
        import mpmath  # noqa: F401
        import scipy  # noqa: F401
        import sympy  # noqa: F401
    except ImportError as exc:
        raise ConfigError(f"the math server needs its extra: pip install 'mcpfleet[math]' ({exc.name} is missing)") from None
    from mcpfleet.servers.math.server import build

    return build(settings)


def _missing() -> str | None:
    import importlib.util

    for module in ("sympy", "scipy", "mpmath"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed (pip install 'mcpfleet[math]')"
    return None


SPEC = ServerSpec(
    name="math",
    title="Math",
    description="Exact and numeric mathematics: equations, calculus, ODEs, linear algebra, optimisation, statistics.",
    build=_build,
    extra="math",
    missing=_missing,
)
