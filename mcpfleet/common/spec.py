"""What a server is to the runtime: a `ServerSpec` (the type) and its ready checks.

The registry that lists the fleet's servers is `mcpfleet.registry` (the composition root);
the runtime only ever receives specs, it never looks them up.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mcpfleet.common import errors

if TYPE_CHECKING:
    from fastmcp import FastMCP
    from pydantic import BaseModel

    from mcpfleet.common.settings import Settings

NAME_RE = re.compile(r"^[a-z][a-z0-9]{0,30}$")
REF_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")  # "package.module:name"
CPU_RE = re.compile(r"^(\d+(?:\.\d+)?)(m?)$")  # Kubernetes quantities as the fleet writes them
BYTES_RE = re.compile(r"^(\d+)(Ki|Mi|Gi|Ti)$")
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}

ReadyCheck = Callable[[], Awaitable[bool]]


@dataclass(frozen=True)
class Resources:
    """A server's Kubernetes requests (`cpu`, `memory`) and limits (`*_max`; `disk_max` is the
    ephemeral storage its emptyDirs may use), e.g. `Resources("250m", "512Mi", "2", "2Gi", "2Gi")`."""

    cpu: str
    memory: str
    cpu_max: str
    memory_max: str
    disk_max: str

    def __post_init__(self) -> None:
        cpu, cpu_max = _millicores(self.cpu), _millicores(self.cpu_max)
        memory, memory_max = _bytes(self.memory), _bytes(self.memory_max)
        _bytes(self.disk_max)
        # the API server refuses a pod whose request is above its limit
        if cpu > cpu_max:
            raise ValueError(f"cpu request {self.cpu} is above its limit {self.cpu_max}")
        if memory > memory_max:
            raise ValueError(f"memory request {self.memory} is above its limit {self.memory_max}")


def _millicores(quantity: str) -> float:
    match = CPU_RE.match(quantity)
    if not match:
        raise ValueError(f"cpu {quantity!r} must look like '250m' or '2'")
    return float(match[1]) * (1 if match[2] else 1000)


def _bytes(quantity: str) -> int:
    match = BYTES_RE.match(quantity)
    if not match:
        raise ValueError(f"size {quantity!r} must look like '512Mi' or '2Gi'")
    return int(match[1]) * _BINARY[match[2]]


def import_ref(ref: str) -> Any:
    """The object a "package.module:name" reference names (the module is imported now)."""
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class ServerSpec:
    """One MCP server of the fleet, and every fact about it the rest of the project needs.

    `build(settings)` returns a FastMCP server holding only the server's own tools; the runtime
    adds auth, limits and telemetry around it. `build`, `cli` and `settings` are given as
    "package.module:name" and imported only when used, so listing the registry stays cheap.

    - `extra`: the pip extra with its heavy dependencies (`pip install mcpfleet[math]`).
    - `needs_network`: egress to the internet (NetworkPolicies are generated from it).
    - `resources`: pod requests and limits; None takes the fleet's default.
    - `data_volume`: keeps data between requests on a volume at /var/lib/mcpfleet.
    - `cli`: the function `register(add)` adding the `mcpfleet <name>` command; `cli_help` is
      that command's one line in `mcpfleet --help` (shown without importing `cli`).
    - `settings`: the pydantic model of the `[servers.<name>]` section.
    - `missing`: why the server cannot run here (a missing extra or system package), or None.
    """

    name: str
    title: str
    description: str
    build: Callable[[Settings], FastMCP] | str
    extra: str | None = None
    needs_network: bool = False
    resources: Resources | None = None
    data_volume: bool = False
    cli: str | None = None
    cli_help: str | None = None
    settings: str | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)
    missing: Callable[[], str | None] = field(default=lambda: None)

    def __post_init__(self) -> None:
        if not NAME_RE.match(self.name):
            raise ValueError(f"server name {self.name!r} must be lowercase letters/digits")
        for attr in ("build", "cli", "settings"):
            ref = getattr(self, attr)
            if isinstance(ref, str) and not REF_RE.match(ref):
                raise ValueError(f"server {self.name!r}: {attr} {ref!r} must look like 'package.module:name'")
        if (self.cli is None) != (self.cli_help is None):
            raise ValueError(f"server {self.name!r}: cli and cli_help come together")

    def create(self, settings: Settings) -> FastMCP:
        """Build the server, or say in one line what must be installed first."""
        reason = self.missing()
        if reason:
            raise errors.ConfigError(f"server {self.name!r} cannot run here: {reason}")
        build = import_ref(self.build) if isinstance(self.build, str) else self.build
        return build(settings)

    def settings_model(self) -> type[BaseModel] | None:
        """The model of this server's settings section (imported now), or None if it has none."""
        return None if self.settings is None else import_ref(self.settings)


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
