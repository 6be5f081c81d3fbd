"""The dummy server's tools: thin wrappers around repeat.py."""

from __future__ import annotations

from typing import Annotated

from fastmcp import FastMCP
from fastmcp.tools.base import ToolResult
from pydantic import Field

from mcpfleet.common.app import READ_ONLY, new_server
from mcpfleet.common.settings import Settings
from mcpfleet.servers.dummy.repeat import repeat
from mcpfleet.servers.dummy.settings import DummySettings


def build(settings: Settings) -> FastMCP:
    section: DummySettings = settings.server_section("dummy", DummySettings)
    mcp = new_server("dummy", "Repeats a word.")

    @mcp.tool(annotations=READ_ONLY)
    def dummy_repeat(word: Annotated[str, Field(max_length=100, description="one word, e.g. 'hello'")]) -> ToolResult:
        """Repeat a word a configured number of times."""
        result = repeat(word, section.times)
        return ToolResult(content=result.text(), structured_content=result.as_dict())

    return mcp
