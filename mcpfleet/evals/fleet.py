"""The fleet as the eval sees it: every server's real tools/list, and a way to call the tools.

In process (default): each server is built with the runtime's middleware and reached through an
in-memory `fastmcp.Client`. With `fleet_url`: a running `mcpfleet serve` at `<url>/<name>/mcp`.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from mcpfleet.common.errors import ConfigError

log = logging.getLogger("mcpfleet.evals")
MAX_RESULT_CHARS = 8_000  # what a tool result may put back into the conversation


@dataclass
class Fleet:
    """Tools by name (OpenAI function form and MCP input schema) and the client serving each."""

    tools: dict[str, dict] = field(default_factory=dict)  # name -> {"type": "function", "function": {...}}
    schemas: dict[str, dict] = field(default_factory=dict)  # name -> inputSchema
    server_of: dict[str, str] = field(default_factory=dict)  # name -> server name
    clients: dict[str, Any] = field(default_factory=dict)  # server name -> connected fastmcp.Client
    skipped: dict[str, str] = field(default_factory=dict)  # server name -> why it is not here

    @property
    def servers(self) -> list[str]:
        return list(self.clients)

    def offered(self, selector: str | Sequence[str], server: str) -> list[dict]:
        """The OpenAI `tools` list for a case's `tools:` selector."""
        if selector == "fleet":
            return list(self.tools.values())
        if selector == "server":
            return [t for n, t in self.tools.items() if self.server_of[n] == server]
        return [self.tools[n] for n in selector if n in self.tools]

    async def call(self, name: str, arguments: dict) -> tuple[str, bool]:
        """Run a tool; returns (text for the model, is_error). Tool errors are answers, not crashes."""
        server = self.server_of.get(name)
        if server is None:
            return f"error: there is no tool named {name!r}", True
        try:
            result = await self.clients[server].call_tool(name, arguments, raise_on_error=False)
        except Exception as exc:  # a protocol-level refusal (e.g. invalid arguments) is still an answer
            return f"error: {exc}"[:MAX_RESULT_CHARS], True
        parts = [getattr(c, "text", "") for c in result.content if getattr(c, "text", None)]
        text = "\n".join(parts)
        if not text and result.structured_content:
            import json

            text = json.dumps(result.structured_content)
        return text[:MAX_RESULT_CHARS], bool(result.is_error)


def openai_tool(name: str, description: str | None, schema: dict) -> dict:
    """An MCP tool as a Chat Completions `tools` entry."""
    return {"type": "function", "function": {"name": name, "description": description or "", "parameters": schema}}


def available_specs(settings: Any) -> list[Any]:
    """The registry's specs, plugins included (servers that cannot run here are skipped later)."""
    from mcpfleet.registry import all_specs

    return all_specs(settings.plugins)


@contextlib.asynccontextmanager
async def open_fleet(
    settings: Any,
    servers: Sequence[str] = (),
    fleet_url: str | None = None,
    api_key_env: str | None = None,
    specs: Sequence[Any] | None = None,
) -> AsyncIterator[Fleet]:
    """Connect to the named servers (default: every server that can run here) and list their tools."""
    from fastmcp import Client
    from fastmcp.client.transports import ClientTransport, infer_transport

    specs = list(specs) if specs is not None else available_specs(settings)
    if servers:
        unknown = set(servers) - {s.name for s in specs}
        if unknown:
            raise ConfigError(f"unknown server {sorted(unknown)[0]!r}; known: {', '.join(s.name for s in specs)}")
        specs = [s for s in specs if s.name in servers]
    fleet = Fleet()
    async with contextlib.AsyncExitStack() as stack:
        for spec in specs:
            client: Client[ClientTransport]  # HTTP to the running fleet, or the server in memory
            if fleet_url:
                key = os.environ.get(api_key_env) if api_key_env else None
                client = Client(infer_transport(f"{fleet_url.rstrip('/')}/{spec.name}/mcp"), auth=key, timeout=120)
            else:
                reason = spec.missing()
                if reason:
                    log.warning("skipping server %s: %s", spec.name, reason)
                    fleet.skipped[spec.name] = reason
                    continue
                from mcpfleet.common.app import build_server

                try:
                    client = Client(infer_transport(build_server(spec, settings).server), timeout=120)
                except Exception as exc:
                    log.warning("skipping server %s: %s", spec.name, exc)
                    fleet.skipped[spec.name] = str(exc)
                    continue
            try:
                await stack.enter_async_context(client)
                listed = await client.list_tools()
            except Exception as exc:
                log.warning("skipping server %s: %s", spec.name, exc)
                fleet.skipped[spec.name] = str(exc)
                continue
            fleet.clients[spec.name] = client
            for tool in listed:
                fleet.tools[tool.name] = openai_tool(tool.name, tool.description, tool.input_schema)
                fleet.schemas[tool.name] = tool.input_schema
                fleet.server_of[tool.name] = spec.name
        yield fleet
