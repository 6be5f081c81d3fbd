"""`prolog`: logical inference with SWI-Prolog, sandboxed and isolated per caller."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mcpfleet.common.spec import ServerSpec, requires

if TYPE_CHECKING:
    from fastmcp import FastMCP

    from mcpfleet.common.settings import Settings


def _build(settings: Settings) -> FastMCP:
    from mcpfleet.servers.prolog.server import build  # heavy imports only when the server is built

    return build(settings)


SPEC = ServerSpec(
    name="prolog",
    title="Prolog",
    description="Sandboxed SWI-Prolog: goals against inline programs and per-caller knowledge bases.",
    build=_build,
    extra="prolog",
    missing=requires(("pyswip", "redis"), ("swipl",), "apt-get install swi-prolog-nox; pip install 'mcpfleet[prolog]'"),
)
