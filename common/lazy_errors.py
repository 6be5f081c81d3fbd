"""`mcpfleet.common.errors`, imported on first use: `errors.ConfigError(...)` is the same class.

The fleet's errors build on FastMCP's ToolError, and importing FastMCP takes over a second. The
CLI's quick commands (`mcpfleet --help`, `mcpfleet k8s validate file.yaml`) raise none on the way
to a good answer, so modules on their path write `from mcpfleet.common import lazy_errors as
errors` and `raise errors.UserError(...)`: FastMCP loads only when an error is raised or caught.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    from mcpfleet.common import errors

    return getattr(errors, name)
