"""`npm`: packages, versions, READMEs, dependency trees and advisories from npm registries."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mcpfleet.common.spec import ServerSpec

if TYPE_CHECKING:
    from fastmcp import FastMCP

    from mcpfleet.common.settings import Settings


def _build(settings: Settings) -> FastMCP:
    from mcpfleet.servers.npm.server import build  # heavy imports only when the server is built

    return build(settings)


SPEC = ServerSpec(
    name="npm",
    title="npm registry",
    description="npm packages from the registry itself: versions, semver ranges, READMEs, dependencies, advisories.",
    build=_build,
    needs_network=True,
)
