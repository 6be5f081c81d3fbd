"""`docs`: current library documentation from Git repositories, indexed on disk and served in token budgets."""

from __future__ import annotations

from mcpfleet.common.spec import ServerSpec


SPEC = ServerSpec(
    name="docs",
    title="Docs",
    description="Up-to-date library docs from GitHub, GitLab or local repositories: resolve, search, read, index.",
    build=f"{__name__}.server:build",  # heavy imports only when the server is built
    needs_network=True,
)
