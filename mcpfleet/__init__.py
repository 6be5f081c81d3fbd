"""mcpfleet: MCP servers that share one runtime."""

__version__ = "0.1.0"
