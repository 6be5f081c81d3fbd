"""The fleet's servers. Each subpackage exports a `SPEC`; list its name in `NAMES` to ship it.

The registry is a tuple of ServerSpec; `mcpfleet.common.spec.all_specs()` adds configured plugins.
Importing a subpackage is cheap: heavy dependencies load only when a server is built, and a server
whose dependencies are missing says so through `SPEC.missing()`.
"""

from __future__ import annotations

import importlib

from mcpfleet.common.spec import ServerSpec

NAMES: tuple[str, ...] = ("web", "docs", "k8s", "npm", "ui", "math", "prolog")

SERVERS: tuple[ServerSpec, ...] = tuple(importlib.import_module(f"{__name__}.{name}").SPEC for name in NAMES)
