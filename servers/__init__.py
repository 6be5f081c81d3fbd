"""The fleet's servers. Each subpackage exports a `SPEC`; list it here to ship it.

The registry is a tuple of ServerSpec; `mcpfleet.common.spec.all_specs()` adds configured plugins.
"""

from __future__ import annotations

from mcpfleet.common.spec import ServerSpec
from mcpfleet.servers.math import SPEC as MATH
from mcpfleet.servers.prolog import SPEC as PROLOG

SERVERS: tuple[ServerSpec, ...] = (MATH, PROLOG)
