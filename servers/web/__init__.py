"""`web`: web search (ddgs, SearXNG) and readable page fetching behind the fleet's SSRF guard."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mcpfleet.common.spec import ServerSpec, requires

if TYPE_CHECKING:
    from fastmcp import FastMCP

    from mcpfleet.common.settings import Settings


def _build(settings: Settings) -> FastMCP:
    from mcpfleet.servers.web.server import build  # heavy imports only when the server is built

    return build(settings)


SPEC = ServerSpec(
    name="web",
    title="Web",
    description="Web search (ddgs or your SearXNG) and page fetching as markdown, with an SSRF guard.",
    build=_build,
    extra="web",
    needs_network=True,
    missing=requires(("ddgs", "trafilatura", "lxml", "pypdf", "charset_normalizer"), (), "pip install 'mcpfleet[web]'"),
)
