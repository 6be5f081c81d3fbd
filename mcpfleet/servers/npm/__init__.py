"""`npm`: packages, versions, READMEs, dependency trees and advisories from npm registries."""

from __future__ import annotations

from mcpfleet.common.spec import ServerSpec

SPEC = ServerSpec(
    name="npm",
    title="npm registry",
    description="npm packages from the registry itself: versions, semver ranges, READMEs, dependencies, advisories.",
    build=f"{__name__}.server:build",  # heavy imports only when the server is built
    settings=f"{__name__}.settings:NpmSettings",
    needs_network=True,
)
