"""`dummy`: the smallest server folder, the worked example of the template.

tests/packaging/test_add_a_server.py copies this folder to `mcpfleet/servers/dummy/` in a copy of the
project, adds "dummy" to `mcpfleet.registry.NAMES`, builds the wheel and serves it. A new server
starts as a copy of this folder: the SPEC here, settings.py, server.py (thin tool wrappers) and
logic modules (here repeat.py) returning typed results.
"""

from __future__ import annotations

from mcpfleet.common.spec import ServerSpec

SPEC = ServerSpec(
    name="dummy",
    title="Dummy",
    description="Repeats a word: the smallest server the fleet ships.",
    build=f"{__name__}.server:build",  # heavy imports only when the server is built
    settings=f"{__name__}.settings:DummySettings",
)
