"""The prolog server's tools: sandboxed SWI-Prolog in worker processes, knowledge bases per caller.

Prolog runs only inside the worker pool (pyswip has one global, non-thread-safe engine per
process). Each query gets a fresh temporary module holding the caller's knowledge bases and the
inline program; goals and clause bodies pass SWI-Prolog's library(sandbox) before they run.
Knowledge-base texts live in a store keyed by the caller's verified identity.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastmcp import FastMCP
from fastmcp.tools.base import ToolResult
from pydantic import Field

from mcpfleet.common.app import DESTRUCTIVE, READ_ONLY, WRITES, new_pooled_server, structured_answer
from mcpfleet.common.auth import current_caller
from mcpfleet.common.settings import Settings
from mcpfleet.common.workers import WorkerPool, pool_settings, run_for_tool
from mcpfleet.servers.prolog.kbs import KnowledgeBases
from mcpfleet.servers.prolog.settings import PrologSettings
from mcpfleet.servers.prolog.store import open_store

MODULE = "mcpfleet.servers.prolog"
INPUT_ERRORS = {"PrologInputError"}
OUTPUT = {"type": "object"}


def build(settings: Settings) -> FastMCP:
    section: PrologSettings = settings.server_section("prolog", PrologSettings)
    # The pool is the last line behind Prolog's own limits: its wall clock and CPU budget sit above
    # the longest query allowed, and memory leaves room for SWI's stacks (~160 MB when warm).
    workers = pool_settings(
        settings.workers,
        size=section.pool_size,
        memory_mb=max(section.memory_mb or settings.workers.memory_mb, 1024),
        timeout=section.max_time_limit + 5,
        cpu_seconds=section.max_time_limit + 5,
    )
    pool = WorkerPool("prolog", workers, initializer=f"{MODULE}.engine:warm", allowed_prefixes=[MODULE], network=False)
    store = open_store(section.store, section.max_kbs, section.max_kb_bytes)
    mcp = new_pooled_server(
        "prolog",
        "Sandboxed SWI-Prolog: run goals against inline programs or your stored knowledge bases.",
        pool,
        ready=store.ping,
        closers=[store.aclose],
    )

    async def engine(target: str, *args: Any, timeout: float | None = None, **kwargs: Any) -> Any:
        return await run_for_tool(
            pool, f"{MODULE}.engine:{target}", *args, input_errors=INPUT_ERRORS, timeout=timeout, **kwargs
        )

    kbs = KnowledgeBases(store, engine, section)

    @mcp.tool(annotations=READ_ONLY, output_schema=OUTPUT)
    async def prolog_query(
        query: Annotated[str, Field(description="a goal, e.g. 'ancestor(tom, X)' (no final period needed)")],
        program: Annotated[str, Field(description="clauses to load for this query only")] = "",
        kb: Annotated[list[str], Field(description="your stored knowledge bases to load")] = [],
        max_solutions: Annotated[int, Field(ge=1, le=1000)] = 20,
        timeout: Annotated[float, Field(ge=0, le=600, description="seconds; 0 = default")] = 0,
    ) -> ToolResult:
        """Run a Prolog goal; returns variable bindings for each solution (no solution is a normal answer)."""
        return structured_answer(await kbs.query(current_caller(), query, program, kb, max_solutions, timeout))

    @mcp.tool(annotations=WRITES, output_schema=OUTPUT)
    async def prolog_consult(
        program: Annotated[str, Field(description="Prolog clauses")],
        kb: Annotated[str, Field(description="name to store it under, e.g. 'family'")],
    ) -> ToolResult:
        """Check a program and store it as one of your named knowledge bases (replacing one of the same name)."""
        return structured_answer(await kbs.consult(current_caller(), kb, program))

    @mcp.tool(annotations=DESTRUCTIVE, output_schema=OUTPUT)
    async def prolog_kb(
        action: Literal["list", "show", "delete"] = "list",
        kb: str = "",
    ) -> ToolResult:
        """List, show or delete your stored knowledge bases."""
        return structured_answer(await kbs.manage(current_caller(), action, kb))

    return mcp
