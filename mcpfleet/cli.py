"""The `mcpfleet` command: serve servers, list their tools and token cost, print client configs."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from mcpfleet import __version__
from mcpfleet.common.errors import FleetError
from mcpfleet.common.spec import import_ref

# Commands added by modules: each names `register(add)` as "module:function", which adds a
# subparser with `set_defaults(handler=fn)`; `fn(args) -> int` runs it. Servers add theirs through
# `ServerSpec.cli` (the command is named after the server); these two are the fleet's own. A
# module is imported only when its command runs (or the whole parser is built), so `mcpfleet
# --help` and `mcpfleet k8s validate` import nothing they do not use; the one-line help shown
# meanwhile (`ServerSpec.cli_help`, or here) must match what the module registers
# (tests/common/test_cli.py checks it).
COMMAND_MODULES: dict[str, tuple[str, str]] = {
    "eval": ("mcpfleet.evals.cli:register", "score models' tool calling against the fleet's real tools"),
    "litellm": ("mcpfleet.litellm:register", "put the fleet behind a LiteLLM gateway"),
}
BUILT_IN = ("serve", "list", "config", "auth")
CONFIG_HELP = "print configuration for a client"

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


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The `mcpfleet` parser. With `only`, the command of that name is built in full and the
    others are listed by name and help alone (their modules stay unimported)."""
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

    def wanted(name: str) -> bool:
        return only is None or only == name

    serve = add("serve", "run servers over streamable HTTP (default) or stdio")
    serve.add_argument("servers", nargs="*", metavar="NAME", help="servers to run (default: all)")
    serve.add_argument("--transport", choices=("http", "stdio"), default="http")
    serve.add_argument("--host", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 8080)")
    serve.add_argument(
        "--log-format",
        choices=("auto", "json", "text"),
        help="auto (default): short lines on a terminal, JSON lines otherwise",
    )
    serve.add_argument(
        "--insecure-no-auth",
        action="store_true",
        default=None,
        help="allow a non-loopback address without auth (only behind an authenticating gateway)",
    )

    lst = add("list", "list servers and tools with the tokens their definitions cost")
    lst.add_argument("servers", nargs="*", metavar="NAME")
    lst.add_argument("--json", action="store_true", help="machine-readable output")

    cfg = add("config", CONFIG_HELP)
    if wanted("config"):
        from mcpfleet.clients import CLIENTS, DEFAULT_KEY_ENV

        cfg.add_argument("client", choices=CLIENTS)
        cfg.add_argument("servers", nargs="*", metavar="NAME", help="servers to include (default: all)")
        cfg.add_argument(
            "--fleet-url", "--url", dest="url", help="the fleet's base URL (default: public_url, else http://HOST:PORT)"
        )
        cfg.add_argument(
            "--key-env", default=DEFAULT_KEY_ENV, help=f"variable holding the API key (default {DEFAULT_KEY_ENV})"
        )
        cfg.add_argument("--no-auth", action="store_true", help="the fleet runs without auth")
        cfg.add_argument("--stdio", action="store_true", help="start servers locally over stdio instead of HTTP")
        cfg.add_argument("--write", metavar="PATH", help="write the file there instead of printing it")

    for name, (ref, help_) in commands().items():
        if wanted(name):
            import_ref(ref)(add)
        else:
            sub.add_parser(name, help=help_, description=help_)

    auth = sub.add_parser("auth", help="API key tools", description="API key tools")
    auth_sub = auth.add_subparsers(dest="auth_command", metavar="ACTION", required=True)
    auth_sub.add_parser("new-key", help="generate a key and print it with its hash")
    hk = auth_sub.add_parser("hash-key", help="print the hash of a key (read from stdin when not given)")
    hk.add_argument("key", nargs="?", help="the key (prefer stdin: arguments end up in shell history)")
    return parser


def commands() -> dict[str, tuple[str, str]]:
    """The added commands, name -> ("module:function", help): the servers' in registry order,
    then the fleet's own."""
    from mcpfleet.registry import servers

    found = {spec.name: (spec.cli, spec.cli_help) for spec in servers() if spec.cli and spec.cli_help}
    for name in found:
        if name in BUILT_IN or name in COMMAND_MODULES:
            raise ValueError(f"server {name!r} cannot add a command: `mcpfleet {name}` is taken")
    return found | COMMAND_MODULES


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # the first word that is not an option names the command (top-level options take no value)
    command = next((a for a in argv if not a.startswith("-")), "")
    parser = build_parser(only=command)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return _dispatch(args)
    except KeyboardInterrupt:
        return 130
    except (ValueError, FleetError) as exc:
        print(f"mcpfleet: error: {exc}", file=sys.stderr)
        return 2


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
    from mcpfleet.registry import all_specs, check_sections, select_specs

    every = all_specs(settings.plugins)
    check_sections(every, settings)
    specs = select_specs(every, args.servers)
    if args.command == "serve":
        return _serve(args, settings, specs)
    if args.command == "list":
        return _list(args, settings, specs)
    return _config(args, settings, specs)


def _serve(args, settings, specs) -> int:
    import asyncio

    from mcpfleet.common import app
    from mcpfleet.common.errors import ConfigError
    from mcpfleet.common.telemetry import configure_logging

    if not specs:
        raise ConfigError("no servers are installed; see README for the servers and their extras")
    telemetry = settings.telemetry
    if args.log_format:
        telemetry = telemetry.model_copy(update={"log_format": args.log_format})
    configure_logging(telemetry)
    if args.transport == "stdio":
        if len(specs) != 1:
            raise ConfigError("stdio serves exactly one server: name it, e.g. `mcpfleet serve math --transport stdio`")
        asyncio.run(app.serve_stdio(specs[0], settings))
    else:
        app.check_bind_safety(settings)
        asyncio.run(app.serve_http(specs, settings))
    return 0


def _list(args, settings, specs) -> int:
    import asyncio
    import json

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
    from mcpfleet.tokens import tools_tokens

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
    from mcpfleet.clients import render
    from mcpfleet.common.errors import ConfigError

    if not specs:
        raise ConfigError("no servers are installed")
    key_env = None if args.no_auth or args.stdio else args.key_env
    rendered = render(args.client, specs, args.url or settings.base_url, key_env, stdio=args.stdio)
    if args.write:
        _write_atomically(Path(args.write), rendered.text)
        print(f"wrote {args.write}", file=sys.stderr)
    else:
        sys.stdout.write(rendered.text)  # exactly the file: `> .mcp.json` works
    if rendered.notes:
        print(rendered.notes, file=sys.stderr)
    return 0


def _write_atomically(path: Path, text: str) -> None:
    from mcpfleet.common.errors import ConfigError

    temporary = path.with_name(f".{path.name}.tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(path)
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror}") from None


def _auth(args) -> int:
    from mcpfleet.common.auth import hash_key, new_key
    from mcpfleet.common.errors import ConfigError

    if args.auth_command == "new-key":
        key = new_key()
        print(f"key:  {key}\nhash: {hash_key(key)}")
        print(
            "Give the key to the caller; configure only the hash, e.g.\n"
            f'  MCPFLEET_AUTH__API_KEYS=\'[{{"name": "alice", "hash": "{hash_key(key)}", "servers": ["*"]}}]\'',
            file=sys.stderr,
        )
        return 0
    key = args.key if args.key is not None else sys.stdin.readline().strip()
    if not key:
        raise ConfigError("no key given (pass it on stdin)")
    print(hash_key(key))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
