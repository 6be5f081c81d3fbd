"""`ui`: shadcn/ui registry items and Tailwind CSS v4 facts from the sources of truth."""

from __future__ import annotations

from mcpfleet.common.spec import Resources, ServerSpec


def _missing() -> str | None:
    from mcpfleet.servers.ui.settings import missing_node_parts

    return missing_node_parts()


SPEC = ServerSpec(
    name="ui",
    title="shadcn/ui and Tailwind",
    description="shadcn/ui registry items and the exact CSS of Tailwind v4 classes from the real compiler.",
    build=f"{__name__}.server:build",  # heavy imports only when the server is built
    resources=Resources("250m", "512Mi", "2", "2Gi", "2Gi"),
    settings=f"{__name__}.settings:UiSettings",
    needs_network=True,
    tags=("frontend",),
    missing=_missing,
)
