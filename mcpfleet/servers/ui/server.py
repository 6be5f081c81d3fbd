"""The ui server's tools: shadcn-compatible registries over HTTP, Tailwind v4 from its real compiler.

Registry fetches go through the runtime's OutboundClient; registry text is returned as untrusted
content. Tailwind runs in one long-lived Node worker (tailwind.py), warmed in the lifespan.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Annotated, Literal

from fastmcp import FastMCP
from fastmcp.tools.base import ToolResult
from pydantic import Field

from mcpfleet.common.app import READ_ONLY as LOCAL
from mcpfleet.common.app import READ_ONLY_REMOTE as REGISTRY
from mcpfleet.common.app import new_server, structured_answer
from mcpfleet.common.http import OutboundClient
from mcpfleet.common.settings import Settings
from mcpfleet.common.spec import add_ready_check
from mcpfleet.common.untrusted import untrusted_answer
from mcpfleet.servers.ui.registry import RegistryClient, get_component, list_components
from mcpfleet.servers.ui.settings import UiSettings
from mcpfleet.servers.ui.tailwind import TailwindWorker, compile_classes, theme_answer

OUTPUT = {"type": "object"}

RegistryArg = Annotated[str | None, Field(max_length=500, description="@namespace or URL; default shadcn/ui")]


def build(settings: Settings) -> FastMCP:
    section: UiSettings = settings.server_section("ui", UiSettings)
    worker = TailwindWorker(section)
    http = OutboundClient(settings.http, allow=section.allow)  # configured registries
    public = OutboundClient(settings.http)  # URLs that callers and registry items name
    registries = RegistryClient(http, section, public)

    @contextlib.asynccontextmanager
    async def lifespan(server: FastMCP) -> AsyncIterator[dict]:
        await worker.warm()
        yield {}

    mcp = new_server(
        "ui",
        "shadcn/ui registry items and Tailwind CSS v4 facts from the sources of truth, not memory.",
        lifespan=lifespan,
        closers=[worker.aclose, http.aclose, public.aclose],
    )

    add_ready_check(mcp, worker.ready)

    @mcp.tool(annotations=REGISTRY, output_schema=OUTPUT)
    async def ui_components(
        query: Annotated[str | None, Field(max_length=200, description="e.g. 'date picker'")] = None,
        registry: RegistryArg = None,
    ) -> ToolResult:
        """List or search shadcn registry items: components, blocks, hooks."""
        return untrusted_answer(await list_components(registries, query, registry))

    @mcp.tool(annotations=REGISTRY, output_schema=OUTPUT)
    async def ui_component(
        name: Annotated[str, Field(max_length=500, description="e.g. 'button', '@acme/login', item URL")],
        registry: RegistryArg = None,
        style: Annotated[str | None, Field(max_length=40, description="default new-york-v4")] = None,
        file: Annotated[str | None, Field(max_length=500, description="page this file")] = None,
        start_index: Annotated[int, Field(ge=0)] = 0,
    ) -> ToolResult:
        """One registry item as `shadcn add` writes it: files (imports rewritten), npm and registry deps,
        cssVars of the whole tree, add command. Long files: page with file, start_index."""
        return untrusted_answer(await get_component(registries, name, registry, style, file, start_index))

    @mcp.tool(annotations=LOCAL, output_schema=OUTPUT)
    async def ui_tailwind(
        classes: Annotated[str, Field(max_length=20_000, description="e.g. 'p-4 hover:bg-sky-500 md:flex'")],
        version: Literal["4"] = "4",
        theme: Annotated[str, Field(max_length=100_000, description="@theme {--color-x: #0af}")] = "",
        preset: Annotated[
            Literal["tailwind", "shadcn"], Field(description="shadcn: .dark class, bg-background...")
        ] = "tailwind",
    ) -> ToolResult:
        """Exact CSS from the real Tailwind v4 compiler; flags unknown classes, invalid CSS, v3 names and syntax."""
        return structured_answer(await compile_classes(worker, classes, theme, section, preset))

    @mcp.tool(annotations=LOCAL, output_schema=OUTPUT)
    async def ui_theme(
        prefix: Annotated[str | None, Field(max_length=100, description="e.g. 'color-sky', 'breakpoint'")] = None,
    ) -> ToolResult:
        """Tailwind v4 default theme tokens (--color-*, --spacing, --text-*...)."""
        return structured_answer(theme_answer(section, prefix))

    return mcp
