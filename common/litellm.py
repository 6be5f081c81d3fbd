"""The fleet behind a LiteLLM gateway: its `mcp_servers:` config block, and registration through
LiteLLM's admin API.

Two ways to put the fleet in front of LiteLLM:

- static: `mcpfleet config litellm` (or `mcpfleet litellm config` with more options) prints the
  `mcp_servers:` block of LiteLLM's config.yaml. Works without LiteLLM's database.
- dynamic: `mcpfleet litellm register --url https://litellm --master-key-env LITELLM_MASTER_KEY`
  creates or updates each server with `POST`/`PUT /v1/mcp/server` (needs LiteLLM's database).

Naming: LiteLLM forbids '-' in server names and prefixes every tool with `<alias>-`, so each server
is registered as `mcpfleet_<name>` with alias `<name>`: models see `math-math_solve`. Each server
joins the access group `mcpfleet` and its own `mcpfleet_<name>`, so keys and teams can be granted
the whole fleet or single servers. LiteLLM calls the fleet with one static bearer key per server
(`auth_type: bearer_token`); the fleet logs and rate-limits that key's name as the caller.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import yaml

from mcpfleet.common.errors import ConfigError

if TYPE_CHECKING:
    from mcpfleet.common.settings import Settings
    from mcpfleet.common.spec import ServerSpec

FLEET_GROUP = "mcpfleet"
TOOL_POLICIES = ("pin", "read-only", "any")
_ADMIN_PATH = "/v1/mcp/server"
_MAX_ADMIN_RESPONSE = 5_000_000


def server_name(spec_name: str) -> str:
    """The server's name inside LiteLLM (no '-': LiteLLM uses it as the tool-prefix separator)."""
    return f"mcpfleet_{spec_name}"


def tool_prefix(spec_name: str) -> str:
    """How LiteLLM prefixes this server's tools: `math-math_solve`."""
    return f"{spec_name}-"


@dataclass(frozen=True)
class ServerEntry:
    """One fleet server as LiteLLM should know it."""

    name: str  # the spec name
    url: str
    description: str
    access_groups: tuple[str, ...]
    allowed_tools: tuple[str, ...] | None  # None: every tool the server lists

    @property
    def litellm_name(self) -> str:
        return server_name(self.name)


def entries(
    specs: Sequence[ServerSpec],
    base_url: str,
    tools: Mapping[str, Sequence[str]] | None = None,
    groups: Sequence[str] = (FLEET_GROUP,),
) -> list[ServerEntry]:
    """`tools` maps a server name to the tools LiteLLM may expose (absent: all of them).

    `base_url` may contain `{name}`, replaced by each server's name, for one Service per server
    (the Helm chart and the kustomize base): `http://mcpfleet-{name}.mcpfleet.svc:8080`."""
    out = []
    for spec in specs:
        base = base_url.replace("{name}", spec.name).rstrip("/")
        allowed = tuple(tools[spec.name]) if tools is not None and spec.name in tools else None
        out.append(
            ServerEntry(
                name=spec.name,
                url=f"{base}/{spec.name}/mcp",
                description=spec.description,
                access_groups=tuple(dict.fromkeys([*groups, server_name(spec.name)])),
                allowed_tools=allowed,
            )
        )
    return out


def config_block(items: Sequence[ServerEntry], key_env: str | None) -> dict[str, Any]:
    """The `mcp_servers:` mapping of LiteLLM's config.yaml (the key stays an env reference)."""
    servers: dict[str, Any] = {}
    for e in items:
        entry: dict[str, Any] = {
            "url": e.url,
            "transport": "http",  # streamable HTTP; LiteLLM's default would be SSE
            "alias": e.name,
            "description": e.description,
        }
        if key_env:
            entry["auth_type"] = "bearer_token"
            entry["auth_value"] = f"os.environ/{key_env}"
        entry["access_groups"] = list(e.access_groups)
        if e.allowed_tools is not None:
            entry["allowed_tools"] = list(e.allowed_tools)
        servers[e.litellm_name] = entry
    return {"mcp_servers": servers}


def render_config(items: Sequence[ServerEntry], key_env: str | None) -> str:
    header = (
        "# LiteLLM proxy config.yaml: mcp_servers for the mcpfleet servers (streamable HTTP).\n"
        "# Tools appear as <alias>-<tool>, e.g. math-math_solve. Grant keys the access group\n"
        f"# '{FLEET_GROUP}' (all servers) or 'mcpfleet_<name>' (one server).\n"
    )
    if key_env:
        header += f"# LiteLLM reads the fleet's API key from its environment variable {key_env}.\n"
    return header + yaml.safe_dump(config_block(items, key_env), sort_keys=False, width=1000)


def admin_payload(entry: ServerEntry, key: str | None, server_id: str | None = None) -> dict[str, Any]:
    """The body of `POST` (or `PUT` with `server_id`) `/v1/mcp/server`."""
    body: dict[str, Any] = {
        "server_name": entry.litellm_name,
        "alias": entry.name,
        "description": entry.description,
        "url": entry.url,
        "transport": "http",  # must be explicit: the admin API defaults to SSE
        "mcp_access_groups": list(entry.access_groups),
        "mcp_info": {"server_name": entry.litellm_name, "description": entry.description},
    }
    if key:
        body["auth_type"] = "bearer_token"
        body["credentials"] = {"auth_value": key}
    else:
        body["auth_type"] = "none"
    if entry.allowed_tools is not None:
        body["allowed_tools"] = list(entry.allowed_tools)
    if server_id is not None:
        body["server_id"] = server_id
    return body


async def discover_tools(specs: Sequence[ServerSpec], settings: Settings, policy: str) -> dict[str, list[str]]:
    """Tool names per server for `allowed_tools`: all current tools (`pin`), only the read-only
    ones (`read-only`), or none listed (`any`: LiteLLM exposes whatever the server lists).
    Servers that cannot be built here (missing extras) are left unrestricted."""
    if policy not in TOOL_POLICIES:
        raise ConfigError(f"unknown tool policy {policy!r}; choose one of: {', '.join(TOOL_POLICIES)}")
    if policy == "any":
        return {}
    found: dict[str, list[str]] = {}
    for spec in specs:
        if spec.missing():
            print(f"mcpfleet: note: {spec.name} is not installed here, so its tools are not pinned", file=sys.stderr)
            continue
        tools = await spec.create(settings).list_tools(run_middleware=False)
        names = []
        for tool in tools:
            read_only = bool(tool.annotations and tool.annotations.read_only_hint)
            if policy == "pin" or read_only:
                names.append(tool.name)
        found[spec.name] = names
    return found


# --- registration through the admin API --------------------------------------------------------


@dataclass(frozen=True)
class Registered:
    name: str
    action: str  # "created" | "updated"
    server_id: str | None


async def register_servers(
    gateway_url: str,
    master_key: str,
    items: Sequence[ServerEntry],
    fleet_key: str | None,
    settings: Settings,
) -> list[Registered]:
    """Create or update each server in LiteLLM (matched by server_name); returns what was done."""
    from mcpfleet.common.http import OutboundClient
    from mcpfleet.common.settings import HttpSettings

    base = gateway_url.rstrip("/")
    host = urlsplit(base).hostname
    if not host or urlsplit(base).scheme not in ("http", "https"):
        raise ConfigError(f"--url must be the gateway's http(s) URL, not {gateway_url!r}")
    # The operator names the gateway, usually an in-cluster address: allow exactly that host.
    # No retries: a repeated POST would register a server twice.
    http = HttpSettings(**{**settings.http.model_dump(), "retries": 0, "cache_ttl": 0})
    headers = {"Authorization": f"Bearer {master_key}", "Content-Type": "application/json"}
    done: list[Registered] = []
    async with OutboundClient(http, allow=[host]) as client:
        existing = await _existing(client, base, headers)
        for entry in items:
            server_id = existing.get(entry.litellm_name)
            method = "PUT" if server_id else "POST"
            body = admin_payload(entry, fleet_key, server_id)
            result = await client.fetch(
                base + _ADMIN_PATH,
                method=method,
                headers=headers,
                content=json.dumps(body).encode(),
                cache=False,
                max_bytes=_MAX_ADMIN_RESPONSE,
            )
            if result.status >= 400:
                raise ConfigError(
                    f"LiteLLM refused to {'update' if server_id else 'create'} {entry.litellm_name}: "
                    f"HTTP {result.status} {_detail(result.text())}"
                )
            try:
                returned = json.loads(result.text())
            except ValueError:
                returned = {}
            new_id = returned.get("server_id") if isinstance(returned, dict) else None
            done.append(Registered(entry.litellm_name, "updated" if server_id else "created", new_id or server_id))
    return done


async def _existing(client, base: str, headers: dict[str, str]) -> dict[str, str]:
    result = await client.fetch(base + _ADMIN_PATH, headers=headers, cache=False, max_bytes=_MAX_ADMIN_RESPONSE)
    if result.status in (401, 403):
        raise ConfigError(f"LiteLLM rejected the master key (HTTP {result.status})")
    if result.status >= 400:
        hint = " (runtime registration needs LiteLLM's database; without one use `mcpfleet config litellm`)"
        raise ConfigError(f"LiteLLM answered HTTP {result.status} listing MCP servers: {_detail(result.text())}{hint}")
    try:
        data = json.loads(result.text())
    except ValueError:
        raise ConfigError(f"LiteLLM's {_ADMIN_PATH} did not answer JSON; is --url the proxy's base URL?") from None
    rows = data if isinstance(data, list) else data.get("data", []) if isinstance(data, dict) else []
    return {
        row["server_name"]: row["server_id"]
        for row in rows
        if isinstance(row, dict) and isinstance(row.get("server_name"), str) and row.get("server_id")
    }


def _detail(text: str) -> str:
    return " ".join(text.split())[:300]


# --- CLI ----------------------------------------------------------------------------------------


def register(add) -> None:
    """Add `mcpfleet litellm config|register` (called by common/cli.py)."""
    from mcpfleet.common.clients import DEFAULT_KEY_ENV

    parser = add("litellm", "put the fleet behind a LiteLLM gateway")
    sub = parser.add_subparsers(dest="litellm_command", metavar="ACTION", required=True)

    def common(p) -> None:
        p.add_argument("--config", metavar="FILE", help="TOML or YAML settings file (also: MCPFLEET_CONFIG)")
        p.add_argument("servers", nargs="*", metavar="NAME", help="servers to include (default: all)")
        p.add_argument("--fleet-url", help="the fleet's base URL as LiteLLM reaches it (default: public_url)")
        p.add_argument("--key-env", default=DEFAULT_KEY_ENV, help=f"variable holding the fleet API key (default {DEFAULT_KEY_ENV})")
        p.add_argument("--no-auth", action="store_true", help="the fleet runs without auth")
        p.add_argument("--tools", choices=TOOL_POLICIES, default="pin",
                       help="allowed_tools: pin the current tools (default), only read-only ones, or any")
        p.add_argument("--group", action="append", default=None, metavar="NAME",
                       help=f"access group for every server (repeatable; default {FLEET_GROUP})")

    cfg = sub.add_parser("config", help="print the mcp_servers block of LiteLLM's config.yaml")
    common(cfg)
    cfg.set_defaults(handler=_config_handler)

    reg = sub.add_parser("register", help="create or update the servers through LiteLLM's admin API")
    common(reg)
    reg.add_argument("--url", required=True, help="LiteLLM proxy base URL, e.g. http://litellm.ai-gateway:4000")
    reg.add_argument("--master-key-env", required=True, metavar="VAR", help="variable holding LiteLLM's master key")
    reg.set_defaults(handler=_register_handler)


def _prepare(args) -> tuple[list[ServerEntry], Settings]:
    import asyncio

    from mcpfleet.common.settings import load_settings
    from mcpfleet.common.spec import all_specs, select_specs

    settings = load_settings(args.config)
    specs = select_specs(all_specs(settings.plugins), args.servers)
    if not specs:
        raise ConfigError("no servers are installed")
    tools = asyncio.run(discover_tools(specs, settings, args.tools))
    groups = args.group or [FLEET_GROUP]
    return entries(specs, args.fleet_url or settings.base_url, tools, groups), settings


def _config_handler(args) -> int:
    items, _ = _prepare(args)
    print(render_config(items, None if args.no_auth else args.key_env), end="")
    return 0


def _register_handler(args) -> int:
    import asyncio

    master = os.environ.get(args.master_key_env, "")
    if not master:
        raise ConfigError(f"the variable {args.master_key_env} (LiteLLM's master key) is empty or unset")
    fleet_key = None
    if not args.no_auth:
        fleet_key = os.environ.get(args.key_env, "")
        if not fleet_key:
            raise ConfigError(f"the variable {args.key_env} (the fleet API key LiteLLM will send) is empty or unset; "
                              "pass --no-auth if the fleet runs without auth")
    items, settings = _prepare(args)
    done = asyncio.run(register_servers(args.url, master, items, fleet_key, settings))
    for r in done:
        print(f"{r.action:<8} {r.name}  server_id={r.server_id or '?'}")
    return 0
