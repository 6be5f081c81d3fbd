"""The fleet's errors load without FastMCP and are FastMCP ToolErrors whichever is imported first.

Each order runs in a fresh interpreter (this one imported FastMCP long ago): a UserError raised in
a tool of a masking server must reach the model as written, as an isError result.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
import asyncio, logging, sys
{first}
{second}
assert "fastmcp" in sys.modules
from fastmcp import Client, FastMCP
from fastmcp.exceptions import FastMCPError, ToolError

assert isinstance(early, ToolError) and isinstance(errors.BlockedDestination("x"), FastMCPError)
assert early.log_level == logging.INFO and errors.UserError("y", log_level=logging.WARNING).log_level == logging.WARNING
server = FastMCP("probe", mask_error_details=True)

@server.tool
def refuse(reason: str) -> str:
    raise errors.UserError(f"cannot do that: {{reason}}")

async def main():
    async with Client(server) as client:
        result = await client.call_tool("refuse", {{"reason": "because"}}, raise_on_error=False)
    assert result.is_error and result.content[0].text == "cannot do that: because", result
    print("ok")

asyncio.run(main())
"""
ERRORS_FIRST = (
    "from mcpfleet.common import errors\n"
    "assert 'fastmcp' not in sys.modules, 'importing the errors imported FastMCP'\n"
    "early = errors.UserError('made before FastMCP was imported')"
)
FASTMCP_FIRST = "import fastmcp.exceptions"
ERRORS_AFTER = "from mcpfleet.common import errors\nearly = errors.UserError('made after')"


@pytest.mark.parametrize(
    "first, second",
    [(ERRORS_FIRST, FASTMCP_FIRST), (FASTMCP_FIRST, ERRORS_AFTER)],
    ids=["errors-first", "fastmcp-first"],
)
def test_errors_are_tool_errors_in_either_import_order(first, second):
    code = PROBE.format(first=first, second=second)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stdout + run.stderr[-3000:]
