"""The fleet's servers. Each subpackage exports a `SPEC`; list its name in `NAMES` to ship it.

The registry is a tuple of ServerSpec; `mcpfleet.common.spec.all_specs()` adds configured plugins.
Importing a subpackage is cheap: heavy dependencies load only when a server is built.
"""

from __future__ import annotations

import importlib

from mcpfleet.common.spec import ServerSpec

NAMES: tuple[str, ...] = ("web", "docs", "k8s", "npm", "ui", "math", "prolog")


def _load() -> tuple[ServerSpec, ...]:
    specs = []
    for name in NAMES:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            continue  # a server still being written; tests/common/test_spec.py insists on all of NAMES
        specs.append(module.SPEC)
    return tuple(specs)


SERVERS: tuple[ServerSpec, ...] = _load()
