"""`docs`: current library documentation from Git repositories, indexed on disk and served in token budgets."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mcpfleet.common.spec import ServerSpec

if TYPE_CHECKING:
    from fastmcp import FastMCP

    from mcpfleet.common.settings import Settings


def _build(settings: Settings) -> FastMCP:
    from mcpfleet.servers.docs.server import build  # heavy imports only when the server is built

    return build(settings)


SPEC = ServerSpec(
    name="docs",
    title="Docs",
    description="Up-to-date library docs from GitHub, GitLab or local repositories: resolve, search, read, index.",
    build=_build,
    needs_network=True,
)
