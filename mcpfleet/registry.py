"""The registry: the one list of the fleet's servers, plus configured plugins.

Every consumer (the CLI, `mcpfleet list`, client configs, LiteLLM config, manifests and evals)
reads `all_specs()`. Adding a server is one folder under `mcpfleet/servers/` (exporting `SPEC`) plus its
name in `NAMES`. Importing a server's package is cheap: heavy dependencies load only when the
server is built, and one whose dependencies are missing says so through `SPEC.missing()`.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from mcpfleet.common import errors
from mcpfleet.common.spec import ServerSpec

if TYPE_CHECKING:
    from mcpfleet.common.settings import Settings

NAMES: tuple[str, ...] = ("web", "docs", "k8s", "npm", "ui", "math", "prolog")


def servers() -> tuple[ServerSpec, ...]:
    """The product's servers, in `NAMES` order."""
    return tuple(importlib.import_module(f"mcpfleet.servers.{name}").SPEC for name in NAMES)


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
    specs = list(servers()) + [load_plugin(ref) for ref in plugins]
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
        import logging  # here: `mcpfleet --help` reads the registry and logs nothing

        log = logging.getLogger("mcpfleet.registry")
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


def check_sections(specs: Sequence[ServerSpec], settings: Settings) -> None:
    """Refuse a `[servers.<name>]` section that names no server (a typo would be ignored
    silently) or does not validate against its server's settings model."""
    by_name = {s.name: s for s in specs}
    for name in settings.servers:
        spec = by_name.get(name)
        if spec is None:
            known = ", ".join(by_name) or "(none installed)"
            raise errors.ConfigError(f"servers.{name}: there is no server {name!r}; known servers: {known}")
        model = spec.settings_model()
        if model is not None:
            settings.server_section(name, model)
