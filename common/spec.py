"""What a server is to the runtime: a `ServerSpec` (the type) and its ready checks.

The registry that lists the fleet's servers is `mcpfleet.registry` (the composition root);
the runtime only ever receives specs, it never looks them up.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mcpfleet.common import lazy_errors as errors

if TYPE_CHECKING:
    from fastmcp import FastMCP

    from mcpfleet.common.settings import Settings

NAME_RE = re.compile(r"^[a-z][a-z0-9]{0,30}$")

ReadyCheck = Callable[[], Awaitable[bool]]


@dataclass(frozen=True)
class ServerSpec:
    """One MCP server of the fleet.

    `build(settings)` returns a FastMCP server holding only the server's own tools; the runtime
    adds auth, limits and telemetry around it. `build` may be given as "package.module:function",
    imported only when the server is built, so listing the registry stays cheap. `extra` names the pip extra with its heavy
    dependencies (`pip install mcpfleet[math]`).
    """

    name: str
    title: str
    description: str
    build: Callable[[Settings], FastMCP] | str
    extra: str | None = None
    needs_network: bool = False  # egress to the internet (used by NetworkPolicy generation)
    tags: tuple[str, ...] = field(default_factory=tuple)
    # Why the server cannot run here (a missing extra or system package), or None when it can.
    missing: Callable[[], str | None] = field(default=lambda: None)

    def __post_init__(self) -> None:
        if not NAME_RE.match(self.name):
            raise ValueError(f"server name {self.name!r} must be lowercase letters/digits")

    def create(self, settings: Settings) -> FastMCP:
        """Build the server, or say in one line what must be installed first."""
        reason = self.missing()
        if reason:
            raise errors.ConfigError(f"server {self.name!r} cannot run here: {reason}")
        build = self.build
        if isinstance(build, str):
            module, _, function = build.partition(":")
            build = getattr(importlib.import_module(module), function)
        return build(settings)


def requires(modules: Sequence[str] = (), commands: Sequence[str] = (), hint: str = "") -> Callable[[], str | None]:
    """A `ServerSpec.missing` check: Python modules and programs that must be installed."""

    def missing() -> str | None:
        import importlib.util
        import shutil

        for command in commands:
            if shutil.which(command) is None:
                return f"the program {command!r} is not installed ({hint})"
        for module in modules:
            if importlib.util.find_spec(module) is None:
                return f"the Python package {module!r} is not installed ({hint})"
        return None

    return missing


_READY_ATTR = "_mcpfleet_ready_checks"


def add_ready_check(server: FastMCP, check: ReadyCheck) -> None:
    """Register a readiness check (e.g. 'worker pool started') that /readyz will run."""
    checks = getattr(server, _READY_ATTR, None)
    if checks is None:
        checks = []
        setattr(server, _READY_ATTR, checks)
    checks.append(check)


def ready_checks(server: FastMCP) -> Sequence[ReadyCheck]:
    return getattr(server, _READY_ATTR, ())
