"""The docs server's tools: resolve a library, search and read its docs, index a repository.

Docs come from Git repositories (GitHub/GitLab tarballs, or local folders below configured
roots) into an index (a SQLite file, or PostgreSQL shared by replicas: store.py); see
library.py for what each tool does.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Annotated

import anyio.to_thread
from fastmcp import Context, FastMCP
from fastmcp.tools.base import ToolResult
from pydantic import Field

from mcpfleet import tokens
from mcpfleet.common.app import READ_ONLY_REMOTE, WRITES_REMOTE, new_server, structured_answer
from mcpfleet.common.settings import Settings
from mcpfleet.common.spec import add_ready_check
from mcpfleet.common.untrusted import untrusted_result
from mcpfleet.servers.docs.jobs import Running
from mcpfleet.servers.docs.library import open_librarian

READ = READ_ONLY_REMOTE  # docs_search may fetch and index a library it has not seen
INDEX = WRITES_REMOTE  # downloads from GitHub/GitLab
OUTPUT = {"type": "object"}
INDEX_WAIT_MARGIN = 3.0  # seconds left to answer "still indexing" before the tool timeout
Library = Annotated[
    str,
    Field(
        description="library id from docs_resolve, e.g. 'fastapi/fastapi' or 'owner/repo@v2'",
        min_length=1,
        max_length=200,
    ),
]


def build(settings: Settings) -> FastMCP:
    librarian, client = open_librarian(settings)
    section = librarian.settings
    index = librarian.index

    async def close_index() -> None:
        index.close()

    @contextlib.asynccontextmanager
    async def lifespan(server: FastMCP) -> AsyncIterator[dict]:
        # docs_search packs answers by tokens: the encoder's tables load before /readyz says
        # ready, not inside the first search while every other call waits (bench_load)
        await anyio.to_thread.run_sync(tokens.warm)
        yield {}

    mcp = new_server(
        "docs",
        "Current library documentation from Git repositories: resolve a library id, then search or read its docs.",
        lifespan=lifespan,
        closers=(librarian.jobs.aclose, client.aclose, close_index),
    )

    def wait_for(tool: str) -> float:
        """How long a call waits for indexing: until shortly before the runtime stops it."""
        return max(0.5, settings.limits.timeout_for(tool) - INDEX_WAIT_MARGIN)

    async def ready() -> bool:
        return await anyio.to_thread.run_sync(index.ping)

    add_ready_check(mcp, ready)

    @mcp.tool(annotations=READ, output_schema=OUTPUT)
    async def docs_resolve(
        name: Annotated[str, Field(description="library name, e.g. 'next.js'", min_length=1, max_length=200)],
    ) -> ToolResult:
        """Find a library's id (owner/repo) by its name, an alias or a near spelling ('k8s', 'Open WebUI'),
        with description, stars and indexed versions; answered from the catalog and the index first."""
        result = await librarian.resolve(name)
        return untrusted_result(result.pop("text"), f"docs:resolve:{name}", result)

    @mcp.tool(annotations=READ, output_schema=OUTPUT)
    async def docs_search(
        library: Library,
        query: Annotated[
            str, Field(description="what you need, e.g. 'middleware redirects'", min_length=1, max_length=500)
        ],
        ctx: Context,
        tokens: Annotated[int, Field(ge=200, le=20_000, description="token budget")] = 4000,
    ) -> ToolResult:
        """Best-matching doc sections for a query, with heading path and source URL, filling the token budget."""
        result = await librarian.search(
            library, query, tokens, progress=ctx.report_progress, wait=wait_for("docs_search")
        )
        header = result.pop("header")
        return untrusted_result(result.pop("text"), f"docs:{result['library']}@{result['ref']}", result, header=header)

    @mcp.tool(annotations=READ, output_schema=OUTPUT)
    async def docs_read(
        library: Library,
        path: Annotated[
            str, Field(description="file path from a search result; a folder or '' lists documents", max_length=1000)
        ],
        start_index: Annotated[int, Field(ge=0, description="character offset for the next page")] = 0,
    ) -> ToolResult:
        """Read one document of an indexed library, paged, or list a folder's documents."""
        result = await librarian.read(library, path, start_index)
        header = result.pop("header")
        return untrusted_result(
            result.pop("text"), f"docs:{result['library']}@{result['ref']}/{result['path']}", result, header=header
        )

    @mcp.tool(annotations=INDEX, output_schema=OUTPUT)
    async def docs_index(
        repo: Annotated[
            str, Field(description="owner/repo, gitlab:group/repo or a GitHub URL", min_length=1, max_length=300)
        ],
        ctx: Context,
        ref: Annotated[
            str | None, Field(description="branch or tag; default branch if omitted", max_length=200)
        ] = None,
    ) -> ToolResult:
        """Index or refresh a repository's docs (reports progress)."""
        result = await librarian.index_source(
            repo,
            ref or None,
            local_roots=section.local_roots,
            progress=ctx.report_progress,
            wait=wait_for("docs_index"),
        )
        if isinstance(result, Running):
            return structured_answer(
                {
                    "status": "running",
                    "repo": repo,
                    "percent": result.percent,
                    "message": result.message,
                    "text": f"still indexing {repo} ({result.percent:g}%: {result.message}); it continues in the "
                    "background: call docs_index again to wait for it, or search in a minute",
                }
            )
        answer = {"status": "done", **result.as_dict()}
        answer["text"] = (
            f"indexed {answer['library']}@{answer['ref']}: {answer['files']} files, "
            f"{answer['chunks']} sections in {answer['seconds']} s"
        )
        return structured_answer(answer)

    return mcp
