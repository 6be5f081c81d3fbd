"""`web`: web search (ddgs, SearXNG) and readable page fetching behind the fleet's SSRF guard."""

from __future__ import annotations

from mcpfleet.common.spec import ServerSpec, requires

SPEC = ServerSpec(
    name="web",
    title="Web",
    description="Web search (ddgs or your SearXNG) and page fetching as markdown, with an SSRF guard.",
    build=f"{__name__}.server:build",  # heavy imports only when the server is built
    settings=f"{__name__}.settings:WebSettings",
    extra="web",
    needs_network=True,
    missing=requires(("ddgs", "trafilatura", "lxml", "pypdf", "charset_normalizer"), (), "pip install 'mcpfleet[web]'"),
)
