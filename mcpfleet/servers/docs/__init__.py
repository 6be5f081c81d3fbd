"""`docs`: current library documentation from Git repositories, indexed on disk and served in token budgets."""

from __future__ import annotations

from mcpfleet.common.spec import Resources, ServerSpec

SPEC = ServerSpec(
    name="docs",
    title="Docs",
    description="Up-to-date library docs from GitHub, GitLab or local repositories: resolve, search, read, index.",
    build=f"{__name__}.server:build",  # heavy imports only when the server is built
    resources=Resources("250m", "512Mi", "2", "2Gi", "6Gi"),
    data_volume=True,  # the index, at $XDG_DATA_HOME/mcpfleet
    cli=f"{__name__}.cli:register",
    cli_help="index and search library documentation (the docs server's index)",
    settings=f"{__name__}.settings:DocsSettings",
    needs_network=True,
)
