"""What a server process imports before it reports ready (issue 20, cold start).

The heavy libraries run in the worker processes (sympy, trafilatura, ruamel, jsonschema ...) or
only when a command needs them; the server process that answers /readyz must not load them, nor
FastMCP's parts the fleet never uses (its CLI, client, OpenAPI and contrib packages). Each case
runs in a fresh interpreter and reads `sys.modules`: no timing here (bench_coldstart.py measures).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from mcpfleet.common.session_state import SessionState, install

# Top-level packages (or dotted modules) no server process may hold when it is ready.
NEVER_BEFORE_READY = (
    "sympy",
    "scipy",
    "numpy",
    "mpmath",
    "matplotlib",
    "ruamel.yaml",
    "jsonschema",
    "kubernetes_validate",
    "trafilatura",
    "lxml",
    "pypdf",
    "fastmcp.cli",
    "fastmcp.client",
    "fastmcp.contrib",
    "fastmcp.experimental",
    "fastmcp.server.openapi",
    "key_value",  # FastMCP's session-state store: the fleet's own (common.session_state) is installed
    "beartype",
    "joserfc",  # JWT support: only when an issuer is configured
)
# The o200k tables (~0.6 s, 60-140 MB): only docs counts tokens per call, so only docs loads them.
TOKENIZERS = ("bpe_openai", "tiktoken")

# Builds the servers' HTTP app and runs its lifespan (pools started, tools/list pre-warmed): the
# same path as `mcpfleet serve NAME` up to the first 200 on /readyz.
PROBE = """
import asyncio, json, sys
from mcpfleet.common.app import build_http_app
from mcpfleet.common.settings import load_settings
from mcpfleet.registry import all_specs, select_specs

spec = select_specs(all_specs(), [sys.argv[1]])[0]
reason = spec.missing()
if reason:
    print(json.dumps({"missing": reason}))
    sys.exit(0)
app = build_http_app([spec], load_settings())

async def start():
    async with app.router.lifespan_context(app):
        pass

asyncio.run(start())
print(json.dumps({"modules": sorted(sys.modules)}))
"""


def loaded(modules: list[str], names: tuple[str, ...]) -> list[str]:
    present = set(modules)
    return [n for n in names if n in present or any(m.startswith(n + ".") for m in present)]


@pytest.mark.parametrize("server", ["web", "docs", "k8s", "npm", "ui", "math", "prolog"])
def test_a_server_is_ready_without_the_heavy_libraries(server, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCPFLEET_")}
    env.update(
        MCPFLEET_PLUGINS="[]",
        MCPFLEET_SERVERS=json.dumps({"docs": {"index_path": str(tmp_path / "docs.sqlite")}}),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
    )
    run = subprocess.run(
        [sys.executable, "-c", PROBE, server], capture_output=True, text=True, timeout=240, env=env, cwd=tmp_path
    )
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    if "missing" in report:
        pytest.skip(f"{server}: {report['missing']}")
    modules = report["modules"]
    assert f"mcpfleet.servers.{server}.server" in modules  # the probe did build it
    assert loaded(modules, NEVER_BEFORE_READY) == []
    tokenizers = loaded(modules, TOKENIZERS)
    if server == "docs":
        assert tokenizers  # loaded before ready on purpose: its first search counts tokens
    else:
        assert tokenizers == []


# --- the session-state store that keeps py-key-value (and beartype) out of start-up -------------

STATE_PROBE = """
import asyncio, sys
from fastmcp import FastMCP, Context
from mcp.client.client import Client
from mcpfleet.common.session_state import install

server = FastMCP("probe")

@server.tool
async def remember(ctx: Context, value: str) -> str:
    await ctx.set_state("k", {"value": value})
    got = await ctx.get_state("k")
    try:
        await ctx.set_state("bad", object())
    except TypeError:
        got["refused"] = True
    await ctx.delete_state("k")
    got["after_delete"] = await ctx.get_state("k")
    return repr(got)

print(install(server) if sys.argv[1] == "install" else "default")

async def main():
    async with Client(server._mcp_server) as client:  # mcp's own client: fastmcp.client imports py-key-value
        print([t.name for t in (await client.list_tools()).tools])
        print((await client.call_tool("remember", {"value": "a"})).content[0].text)

asyncio.run(main())
print(sorted({m.split(".")[0] for m in sys.modules} & {"key_value", "beartype"}))
"""


@pytest.mark.parametrize("mode", ["install", "default"])
def test_the_fleet_store_behaves_as_fastmcps_without_importing_key_value(mode):
    run = subprocess.run([sys.executable, "-c", STATE_PROBE, mode], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    lines = run.stdout.strip().splitlines()
    assert lines[1:3] == ["['remember']", "{'value': 'a', 'refused': True, 'after_delete': None}"]
    if mode == "install":
        assert lines[0] == "True"
        assert lines[3] == "[]"
    else:  # FastMCP's own store: the same answers, at the price of the import
        assert lines[3] == "['beartype', 'key_value']"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_state_expires_after_its_ttl_and_reads_are_copies():
    from fastmcp.server.server import StateValue

    clock = Clock()
    store = SessionState(clock=clock)
    await store.put("s:k", StateValue(value={"n": [1]}), ttl=10)
    first = await store.get("s:k")
    first.value["n"].append(2)
    assert (await store.get("s:k")).value == {"n": [1]}
    clock.now += 10
    assert await store.get("s:k") is None
    assert len(store) == 0
    await store.put("s:k", StateValue(value=1), collection="a")
    assert await store.get("s:k") is None  # another collection
    assert (await store.get("s:k", collection="a")).value == 1
    assert await store.delete("s:k", collection="a") is True
    assert await store.delete("s:k", collection="a") is False


async def test_the_store_is_bounded_and_drops_the_oldest_write():
    from fastmcp.server.server import StateValue

    store = SessionState(max_entries=3)
    for n in range(5):
        await store.put(f"k{n}", StateValue(value=n))
    await store.put("k3", StateValue(value="again"))  # a rewrite moves k3 to the newest place
    await store.put("k5", StateValue(value=5))
    assert len(store) == 3
    assert [await store.get(k) for k in ("k2", "k4")] == [None, StateValue(value=4)]
    assert (await store.get("k3")).value == "again"


def test_install_leaves_a_configured_or_existing_store_alone():
    from fastmcp import FastMCP

    server = FastMCP("x")
    assert install(server) is True
    assert isinstance(server._state_store, SessionState)  # what FastMCP's context reads
    assert install(server) is False
    configured = FastMCP("y", session_state_store=object())  # type: ignore[arg-type]
    assert install(configured) is False
