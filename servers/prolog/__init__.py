"""`prolog`: logical inference with SWI-Prolog, sandboxed and isolated per caller."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mcpfleet.common.spec import ServerSpec

if TYPE_CHECKING:
    from fastmcp import FastMCP

    from mcpfleet.common.settings import Settings


def _build(settings: Settings) -> FastMCP:
    from mcpfleet.common.errors import ConfigError

    try:
        import pyswip  # noqa: F401
    except Exception as exc:  # pyswip raises more than ImportError when libswipl is missing
        raise ConfigError(
            "the prolog server needs SWI-Prolog (apt-get install swi-prolog-nox) and its extra: "
            f"pip install 'mcpfleet[prolog]' ({exc})"
        ) from None
    from mcpfleet.servers.prolog.server import build

    return build(settings)


def _missing() -> str | None:
    import importlib.util

    import shutil

    if shutil.which("swipl") is None:
        return "SWI-Prolog is not installed (apt-get install swi-prolog-nox)"
    for module in ("pyswip", "redis"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed (pip install 'mcpfleet[prolog]')"
    return None


SPEC = ServerSpec(
    name="prolog",
    title="Prolog",
    description="Sandboxed SWI-Prolog: goals against inline programs and per-caller knowledge bases.",
    build=_build,
    extra="prolog",
    missing=_missing,
)
