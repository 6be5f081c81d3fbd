"""The `mcpfleet` command: serve servers, list their tools and token cost, print client configs."""

from __future__ import annotations

import argparse
import importlib
import asyncio
import json
import sys
from collections.abc import Sequence

from mcpfleet import __version__
from mcpfleet.common.errors import ConfigError, FleetError

# Modules adding their own subcommands: each has `register(sub)`, which adds a subparser with
# `set_defaults(handler=fn)`; `fn(args) -> int` runs it. Imported when the parser is built, so
# they keep heavy imports inside their handlers.
COMMAND_MODULES: tuple[str, ...] = (
    "mcpfleet.servers.k8s.cli",
    "mcpfleet.servers.docs.cli",
    "mcpfleet.evals.cli",
    "mcpfleet.common.litellm",
)

EXAMPLES = """\
examples:
  mcpfleet serve                           all servers over HTTP on 127.0.0.1:8080
  mcpfleet serve math web --port 9000      two servers: /math/mcp and /web/mcp
  mcpfleet serve math --transport stdio    one server for a local client
  mcpfleet list                            servers, tools and what their definitions cost in tokens
  mcpfleet config claude-code --url https://mcp.example.org
  mcpfleet auth new-key                    a new API key and the hash to configure
  mcpfleet k8s validate --profile cerit deploy.yaml
  mcpfleet docs index vllm-project/vllm    index a library's docs for the docs server
  mcpfleet eval run --model M --base-url http://vllm:8000/v1
  mcpfleet litellm register --url http://mcpfleet-{name}.mcpfleet.svc:8080 --master-key-env LITELLM_MASTER_KEY
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mcpfleet",
        description="MCP servers for self-hosted LLMs, on one runtime.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"mcpfleet {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        p.add_argument("--config", metavar="FILE", help="TOML or YAML settings file (also: MCPFLEET_CONFIG)")
        return p

    serve = add("serve", "run servers over streamable HTTP (default) or stdio")
    serve.add_argument("servers", nargs="*", metavar="NAME", help="servers to run (default: all)")
    serve.add_argument("--transport", choices=("http", "stdio"), default="http")
    serve.add_argument("--host", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 8080)")
    serve.add_argument(
        "--insecure-no-auth",
        action="store_true",
        default=None,
        help="allow a non-loopback address without auth (only behind an authenticating gateway)",
    )

    lst = add("list", "list servers and tools with the tokens their definitions cost")
    lst.add_argument("servers", nargs="*", metavar="NAME")
    lst.add_argument("--json", action="store_true", help="machine-readable output")

    cfg = add("config", "print configuration for a client")
    from mcpfleet.common.clients import CLIENTS, DEFAULT_KEY_ENV

    cfg.add_argument("client", choices=CLIENTS)
    cfg.add_argument("servers", nargs="*", metavar="NAME", help="servers to include (default: all)")
    cfg.add_argument("--url", help="the fleet's base URL (default: public_url, else http://HOST:PORT)")
    cfg.add_argument("--key-env", default=DEFAULT_KEY_ENV, help=f"variable holding the API key (default {DEFAULT_KEY_ENV})")
    cfg.add_argument("--no-auth", action="store_true", help="the fleet runs without auth")
    cfg.add_argument("--stdio", action="store_true", help="start servers locally over stdio instead of HTTP")

    for module in COMMAND_MODULES:
        importlib.import_module(module).register(add)

    auth = sub.add_parser("auth", help="API key tools", description="API key tools")
    auth_sub = auth.add_subparsers(dest="auth_command", metavar="ACTION", required=True)
    auth_sub.add_parser("new-key", help="generate a key and print it with its hash")
    hk = auth_sub.add_parser("hash-key", help="print the hash of a key (read from stdin when not given)")
    hk.add_argument("key", nargs="?", help="the key (prefer stdin: arguments end up in shell history)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return _dispatch(args)
    except (ConfigError, FleetError, ValueError) as exc:
        print(f"mcpfleet: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    handler = getattr(args, "handler", None)
    if handler is not None:
        return handler(args)
    if args.command == "auth":
        return _auth(args)
    from mcpfleet.common.settings import load_settings

    overrides = {}
    if args.command == "serve":
        overrides = {"host": args.host, "port": args.port, "insecure_no_auth": args.insecure_no_auth}
    settings = load_settings(args.config, **overrides)
    from mcpfleet.common.spec import all_specs, select_specs

    specs = select_specs(all_specs(settings.plugins), args.servers)
    if args.command == "serve":
        return _serve(args, settings, specs)
    if args.command == "list":
        return _list(args, settings, specs)
    return _config(args, settings, specs)


def _serve(args, settings, specs) -> int:
    from mcpfleet.common import app
    from mcpfleet.common.telemetry import configure_logging

    if not specs:
        raise ConfigError("no servers are installed; see README for the servers and their extras")
    configure_logging(settings.telemetry)
    if args.transport == "stdio":
        if len(specs) != 1:
            raise ConfigError("stdio serves exactly one server: name it, e.g. `mcpfleet serve math --transport stdio`")
        asyncio.run(app.serve_stdio(specs[0], settings))
    else:
        app.check_bind_safety(settings)
        asyncio.run(app.serve_http(specs, settings))
    return 0


def _list(args, settings, specs) -> int:
    rows = asyncio.run(_tool_rows(settings, specs))
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no servers installed")
        return 0
    total = 0
    for server in rows:
        print(f"{server['name']:<10} {server['title']}  ({server['tokens']} tokens)")
        for tool in server["tools"]:
            print(f"  {tool['name']:<28} {tool['tokens']:>5}  {tool['description']}")
        total += server["tokens"]
    print(f"total: {sum(len(s['tools']) for s in rows)} tools, {total} tokens (o200k_base, tools/list JSON)")
    return 0


async def _tool_rows(settings, specs) -> list[dict]:
    from mcpfleet.common.tokens import tools_tokens

    rows = []
    for spec in specs:
        tools = await spec.create(settings).list_tools(run_middleware=False)
        rows.append(
            {
                "name": spec.name,
                "title": spec.title,
                "tokens": tools_tokens(tools),
                "tools": [
                    {
                        "name": t.name,
                        "tokens": tools_tokens([t]),
                        "description": (t.description or "").strip().splitlines()[0][:70] if t.description else "",
                    }
                    for t in tools
                ],
            }
        )
    return rows


def _config(args, settings, specs) -> int:
    from mcpfleet.common.clients import render

    if not specs:
        raise ConfigError("no servers are installed")
    key_env = None if args.no_auth or args.stdio else args.key_env
    print(render(args.client, specs, args.url or settings.base_url, key_env, stdio=args.stdio), end="")
    return 0


def _auth(args) -> int:
    from mcpfleet.common.auth import hash_key, new_key

    if args.auth_command == "new-key":
        key = new_key()
        print(f"key:  {key}\nhash: {hash_key(key)}")
        print("Give the key to the caller; configure only the hash, e.g.\n"
              f"  MCPFLEET_AUTH__API_KEYS='[{{\"name\": \"alice\", \"hash\": \"{hash_key(key)}\", \"servers\": [\"*\"]}}]'",
              file=sys.stderr)
        return 0
    key = args.key if args.key is not None else sys.stdin.readline().strip()
    if not key:
        raise ConfigError("no key given (pass it on stdin)")
    print(hash_key(key))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
