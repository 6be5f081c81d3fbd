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
the whole fleet or single servers.

Who the fleet sees as the caller (`--identity`):

- key (default): LiteLLM sends one static fleet key (`auth_type: bearer_token`); every user behind
  the gateway is that one caller.
- header / idp: LiteLLM's `mcp_jwt_signer` guardrail signs each user's MCP request with an RS256
  JWT whose `sub` is the user, and the fleet trusts LiteLLM's JWKS (`[auth.jwt]`). The user comes
  from LiteLLM's end-user header (header) or from the user's own IdP token, verified by LiteLLM
  (idp). The static key stays, marked `list_only` on the fleet: LiteLLM's start-up tools listing
  carries no user and uses it; it cannot call tools.
- delegate: `auth_type: oauth_delegate`, so the user's own fleet bearer rides through LiteLLM.
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
IDENTITY_MODES = ("key", "header", "idp", "delegate")
DEFAULT_AUDIENCE = "mcpfleet"
GATEWAY_KEY_NAME = "litellm-gateway"
SIGNING_KEY_ENV = "MCP_JWT_SIGNING_KEY"  # LiteLLM's variable: its signing key survives restarts
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


@dataclass(frozen=True)
class Identity:
    """How end users reach the fleet through the gateway (see the module docstring)."""

    mode: str = "key"
    gateway_url: str | None = None  # LiteLLM's base URL as the fleet reaches it (JWKS, issuer)
    audience: str = DEFAULT_AUDIENCE
    idp_discovery_url: str | None = None  # idp: the IdP's /.well-known/openid-configuration
    idp_issuer: str | None = None
    idp_audience: str | None = None

    def __post_init__(self) -> None:
        if self.mode not in IDENTITY_MODES:
            raise ConfigError(f"unknown identity mode {self.mode!r}; choose one of: {', '.join(IDENTITY_MODES)}")
        if self.signed and not self.gateway_url:
            raise ConfigError(f"--identity {self.mode} needs --gateway-url (LiteLLM's URL as the fleet reaches it)")
        if self.mode == "idp" and not (self.idp_discovery_url and self.idp_issuer):
            raise ConfigError(
                "--identity idp needs --idp-discovery-url and --idp-issuer (the users' identity provider)"
            )

    @property
    def signed(self) -> bool:
        """True when LiteLLM signs a JWT per user (header, idp)."""
        return self.mode in ("header", "idp")

    @property
    def issuer(self) -> str:
        return (self.gateway_url or "").rstrip("/")

    @property
    def jwks_url(self) -> str:
        return f"{self.issuer}/.well-known/jwks.json"


def guardrails(identity: Identity) -> list[dict[str, Any]]:
    """LiteLLM's `guardrails:` list for a signed identity mode (empty otherwise)."""
    if not identity.signed:
        return []
    params: dict[str, Any] = {
        "guardrail": "mcp_jwt_signer",
        "mode": "pre_mcp_call",
        "default_on": True,
        "issuer": identity.issuer,
        "audience": identity.audience,
        "ttl_seconds": 300,
    }
    if identity.mode == "header":
        # x-litellm-end-user-id / x-litellm-customer-id, else the LiteLLM key's user (with a database).
        params["end_user_claim_sources"] = ["litellm:end_user_id", "litellm:user_id"]
    else:
        params["access_token_discovery_uri"] = identity.idp_discovery_url
        params["verify_issuer"] = identity.idp_issuer
        if identity.idp_audience:
            params["verify_audience"] = identity.idp_audience
        params["end_user_claim_sources"] = ["token:sub"]
        # Without a verified IdP token LiteLLM would sign its key's hash as the user: refuse instead.
        params["required_claims"] = ["sub"]
    return [{"guardrail_name": "mcpfleet-identity", "litellm_params": params}]


def fleet_auth(identity: Identity, key_hash: str | None) -> str:
    """The fleet's side of `identity` as TOML for its config file (`[auth]`)."""
    hash_line = (
        f'hash = "{key_hash}"' if key_hash else 'hash = "sha256:<mcpfleet auth hash-key of the key LiteLLM sends>"'
    )
    if identity.mode == "delegate":
        return (
            "# Each user's own fleet key rides through LiteLLM (auth_type: oauth_delegate): issue one\n"
            "# per user with `mcpfleet auth new-key`, or trust your IdP in [auth.jwt] instead.\n"
            "[[auth.api_keys]]\n"
            'name = "alice"\n'
            'hash = "sha256:<hash of alice\'s key>"\n'
        )
    if not identity.signed:
        return f'[[auth.api_keys]]\nname = "{GATEWAY_KEY_NAME}"\n{hash_line}\n'
    return (
        "# LiteLLM's own start-up tools listing carries no user: its key may list, never call.\n"
        "[[auth.api_keys]]\n"
        f'name = "{GATEWAY_KEY_NAME}"\n'
        f"{hash_line}\n"
        "list_only = true\n"
        "\n"
        "# Each user's calls come signed by LiteLLM: the caller is jwt:<issuer>:<user>.\n"
        "[auth.jwt]\n"
        f'jwks_url = "{identity.jwks_url}"\n'
        f'issuer = "{identity.issuer}"\n'
        f'audience = "{identity.audience}"\n'
    )


def config_block(items: Sequence[ServerEntry], key_env: str | None, identity: Identity | None = None) -> dict[str, Any]:
    """The `mcp_servers:` mapping of LiteLLM's config.yaml (the key stays an env reference)."""
    delegate = identity is not None and identity.mode == "delegate"
    servers: dict[str, Any] = {}
    for e in items:
        entry: dict[str, Any] = {
            "url": e.url,
            "transport": "http",  # streamable HTTP; LiteLLM's default would be SSE
            "alias": e.name,
            "description": e.description,
        }
        if delegate:
            entry["auth_type"] = "oauth_delegate"  # the caller's own Authorization goes upstream
        elif key_env:
            entry["auth_type"] = "bearer_token"
            entry["auth_value"] = f"os.environ/{key_env}"
        entry["access_groups"] = list(e.access_groups)
        if e.allowed_tools is not None:
            entry["allowed_tools"] = list(e.allowed_tools)
        servers[e.litellm_name] = entry
    block: dict[str, Any] = {"mcp_servers": servers}
    if identity is not None and identity.signed:
        block["guardrails"] = guardrails(identity)
    return block


def render_config(items: Sequence[ServerEntry], key_env: str | None, identity: Identity | None = None) -> str:
    header = (
        "# LiteLLM proxy config.yaml: mcp_servers for the mcpfleet servers (streamable HTTP).\n"
        "# Tools appear as <alias>-<tool>, e.g. math-math_solve. Grant keys the access group\n"
        f"# '{FLEET_GROUP}' (all servers) or 'mcpfleet_<name>' (one server).\n"
    )
    if identity is not None and identity.mode == "delegate":
        header += (
            "# Identity: each user's own fleet key rides through. Clients send their LiteLLM key in\n"
            "# x-litellm-api-key and their fleet key in Authorization.\n"
        )
    elif key_env:
        header += f"# LiteLLM reads the fleet's API key from its environment variable {key_env}.\n"
    if identity is not None and identity.signed:
        header += (
            f"# Identity ({identity.mode}): mcp_jwt_signer signs each user's MCP request (sub = the user).\n"
            f"# Set {SIGNING_KEY_ENV} in LiteLLM's environment (an RSA private key PEM, or\n"
            f"# file:///path, from a Secret) so restarts keep the key: `openssl genrsa 2048`.\n"
        )
        if identity.mode == "header":
            header += "# Users are named by the x-litellm-end-user-id header: only for a trusted front-end.\n"
    return header + yaml.safe_dump(config_block(items, key_env, identity), sort_keys=False, width=1000)


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
    """Add `mcpfleet litellm config|register` (called by mcpfleet/cli.py)."""
    from mcpfleet.clients import DEFAULT_KEY_ENV

    parser = add("litellm", "put the fleet behind a LiteLLM gateway")
    sub = parser.add_subparsers(dest="litellm_command", metavar="ACTION", required=True)

    def common(p) -> None:
        p.add_argument("--config", metavar="FILE", help="TOML or YAML settings file (also: MCPFLEET_CONFIG)")
        p.add_argument("servers", nargs="*", metavar="NAME", help="servers to include (default: all)")
        # one name everywhere: --fleet-url is the fleet (as in `mcpfleet config`), --gateway-url is LiteLLM
        p.add_argument(
            "--fleet-url",
            "--url",
            dest="fleet_url",
            help="the fleet's base URL as LiteLLM reaches it (default: public_url)",
        )
        p.add_argument(
            "--key-env", default=DEFAULT_KEY_ENV, help=f"variable holding the fleet API key (default {DEFAULT_KEY_ENV})"
        )
        p.add_argument("--no-auth", action="store_true", help="the fleet runs without auth")
        p.add_argument(
            "--tools",
            choices=TOOL_POLICIES,
            default="pin",
            help="allowed_tools: pin the current tools (default), only read-only ones, or any",
        )
        p.add_argument(
            "--group",
            action="append",
            default=None,
            metavar="NAME",
            help=f"access group for every server (repeatable; default {FLEET_GROUP})",
        )

    cfg = sub.add_parser(
        "config", help="print LiteLLM's config.yaml (mcp_servers, identity guardrail) and the fleet's [auth]"
    )
    common(cfg)
    cfg.add_argument(
        "--identity",
        choices=IDENTITY_MODES,
        default="key",
        help="who the fleet sees: the gateway's key (default), each user by LiteLLM's end-user header, "
        "by the user's own IdP token, or the user's own fleet key passed through",
    )
    cfg.add_argument("--gateway-url", help="LiteLLM's base URL as the fleet reaches it (header, idp: JWKS and issuer)")
    cfg.add_argument("--audience", default=DEFAULT_AUDIENCE, help=f"aud of LiteLLM's JWTs (default {DEFAULT_AUDIENCE})")
    cfg.add_argument("--idp-discovery-url", help="idp: the IdP's /.well-known/openid-configuration URL")
    cfg.add_argument("--idp-issuer", help="idp: the iss of the users' IdP tokens")
    cfg.add_argument("--idp-audience", help="idp: the aud of the users' IdP tokens (checked when set)")
    cfg.add_argument("--fleet-out", metavar="FILE", help="write the fleet's [auth] TOML here (default: stderr)")
    cfg.set_defaults(handler=_config_handler)

    reg = sub.add_parser("register", help="create or update the servers through LiteLLM's admin API")
    common(reg)
    reg.add_argument("--gateway-url", required=True, help="LiteLLM's base URL, e.g. http://litellm.ai-gateway:4000")
    reg.add_argument("--master-key-env", required=True, metavar="VAR", help="variable holding LiteLLM's master key")
    reg.set_defaults(handler=_register_handler)


def _prepare(args) -> tuple[list[ServerEntry], Settings]:
    import asyncio

    from mcpfleet.common.settings import load_settings
    from mcpfleet.registry import all_specs, select_specs

    settings = load_settings(args.config)
    specs = select_specs(all_specs(settings.plugins), args.servers)
    if not specs:
        raise ConfigError("no servers are installed")
    tools = asyncio.run(discover_tools(specs, settings, args.tools))
    groups = args.group or [FLEET_GROUP]
    return entries(specs, args.fleet_url or settings.base_url, tools, groups), settings


def _config_handler(args) -> int:
    from pathlib import Path

    from mcpfleet.common.auth import hash_key

    identity = Identity(
        args.identity, args.gateway_url, args.audience, args.idp_discovery_url, args.idp_issuer, args.idp_audience
    )
    if args.no_auth and identity.mode != "key":
        raise ConfigError(f"--identity {identity.mode} needs the fleet's auth on; drop --no-auth")
    items, _ = _prepare(args)
    # stdout is exactly LiteLLM's config.yaml; the fleet's side goes to stderr or --fleet-out.
    print(render_config(items, None if args.no_auth else args.key_env, identity), end="")
    if args.no_auth:
        return 0
    key = os.environ.get(args.key_env, "")
    fleet = fleet_auth(identity, hash_key(key) if key and identity.mode != "delegate" else None)
    if args.fleet_out:
        Path(args.fleet_out).write_text(fleet, encoding="utf-8")
    else:
        print(f"# --- the fleet's side (its config file, e.g. mcpfleet.toml) ---\n{fleet}", end="", file=sys.stderr)
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
            raise ConfigError(
                f"the variable {args.key_env} (the fleet API key LiteLLM will send) is empty or unset; "
                "pass --no-auth if the fleet runs without auth"
            )
    items, settings = _prepare(args)
    done = asyncio.run(register_servers(args.gateway_url, master, items, fleet_key, settings))
    for r in done:
        print(f"{r.action:<8} {r.name}  server_id={r.server_id or '?'}")
    return 0
