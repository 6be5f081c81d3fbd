"""What a server is to the runtime: a `ServerSpec`, and the registry that lists them.

Every consumer (the CLI, the combined ASGI app, `mcpfleet list`, client configs, manifests and
evals) reads `all_specs()`; adding a server is one folder plus one line in `mcpfleet.servers`.
"""

from __future__ import annotations

import importlib
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mcpfleet.common import lazy_errors as errors

if TYPE_CHECKING:
    from fastmcp import FastMCP

    from mcpfleet.common.settings import Settings

log = logging.getLogger("mcpfleet.spec")
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


def load_plugin(ref: str) -> ServerSpec:
    """Import `package.module:ATTRIBUTE` and return the ServerSpec it names."""
    module_name, _, attr = ref.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise errors.ConfigError(f"plugin {ref!r}: cannot import {module_name!r} ({exc})") from None
    spec = getattr(module, attr, None)
    if not isinstance(spec, ServerSpec):
        raise errors.ConfigError(f"plugin {ref!r}: {attr!r} is not a ServerSpec")
    return spec


def all_specs(plugins: Iterable[str] = ()) -> list[ServerSpec]:
    """The product's servers followed by configured plugins; names must be unique."""
    from mcpfleet.servers import SERVERS

    specs = list(SERVERS) + [load_plugin(ref) for ref in plugins]
    seen: set[str] = set()
    for spec in specs:
        if spec.name in seen:
            raise errors.ConfigError(f"two servers are named {spec.name!r}")
        seen.add(spec.name)
    return specs


def select_specs(specs: Sequence[ServerSpec], names: Sequence[str]) -> list[ServerSpec]:
    """`names` may be empty or contain 'all'; unknown names are an error listing the known ones.

    'all' leaves out servers whose dependencies are missing here (with a warning); a server
    named explicitly fails in `ServerSpec.create` with the reason.
    """
    if not names or "all" in names:
        usable = []
        for spec in specs:
            reason = spec.missing()
            if reason:
                log.warning("not serving %s: %s", spec.name, reason)
            else:
                usable.append(spec)
        return usable
    by_name = {s.name: s for s in specs}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        known = ", ".join(by_name) or "(none installed)"
        raise errors.ConfigError(f"unknown server {unknown[0]!r}; known servers: {known}")
    return [by_name[n] for n in dict.fromkeys(names)]
