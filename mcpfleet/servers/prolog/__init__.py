"""`prolog`: logical inference with SWI-Prolog, sandboxed and isolated per caller."""

from __future__ import annotations

from mcpfleet.common.spec import Resources, ServerSpec, requires

SPEC = ServerSpec(
    name="prolog",
    title="Prolog",
    description="Sandboxed SWI-Prolog: goals against inline programs and per-caller knowledge bases.",
    build=f"{__name__}.server:build",  # heavy imports only when the server is built
    resources=Resources("250m", "512Mi", "2", "2Gi", "2Gi"),
    settings=f"{__name__}.settings:PrologSettings",
    extra="prolog",
    missing=requires(("pyswip", "redis"), ("swipl",), "apt-get install swi-prolog-nox; pip install 'mcpfleet[prolog]'"),
)
