"""Configuration snippets for the clients people connect to the fleet, each in its own format.

Secrets are never printed: configurations name an environment variable holding the key, in the
syntax each client expands (`${VAR}` for Claude Code, `bearer_token_env_var` for Codex,
`{env:VAR}` for OpenCode, `os.environ/VAR` for LiteLLM). Open WebUI stores the key itself, so its
entry carries a placeholder to replace in the admin UI.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import yaml

from mcpfleet.common.spec import ServerSpec

CLIENTS = ("claude-code", "codex", "opencode", "openwebui", "litellm")
DEFAULT_KEY_ENV = "MCPFLEET_API_KEY"


@dataclass(frozen=True)
class Target:
    """One server as a client should reach it."""

    spec: ServerSpec
    url: str  # http(s)://host:port/<name>/mcp

    @property
    def id(self) -> str:
        return f"mcpfleet-{self.spec.name}"


def targets(specs: Sequence[ServerSpec], base_url: str) -> list[Target]:
    base = base_url.rstrip("/")
    return [Target(spec, f"{base}/{spec.name}/mcp") for spec in specs]


def render(client: str, specs: Sequence[ServerSpec], base_url: str, key_env: str | None, stdio: bool = False) -> str:
    """The configuration text for `client`; `key_env=None` means the fleet runs without auth."""
    renderer = _STDIO if stdio else _HTTP
    if client not in renderer:
        supported = ", ".join(renderer)
        raise ValueError(f"{client!r} has no {'stdio' if stdio else 'HTTP'} configuration; choose one of: {supported}")
    return renderer[client](targets(specs, base_url), key_env)


def _stdio_args(target: Target) -> list[str]:
    return ["serve", target.spec.name, "--transport", "stdio"]


# --- Claude Code ------------------------------------------------------------------------------


def _claude_code(ts: list[Target], key_env: str | None) -> str:
    servers = {}
    lines = []
    for t in ts:
        entry: dict = {"type": "http", "url": t.url}
        add = ["claude", "mcp", "add", "--transport", "http", t.id, t.url]
        if key_env:
            entry["headers"] = {"Authorization": f"Bearer ${{{key_env}}}"}
            add += ["--header", f"Authorization: Bearer ${key_env}"]
        servers[t.id] = entry
        # The header is double-quoted so the shell expands the variable when the line is run.
        lines.append(" ".join(shlex.quote(a) if "$" not in a else f'"{a}"' for a in add))
    return (
        "# .mcp.json (project scope; Claude Code expands ${VAR} from the environment)\n"
        + json.dumps({"mcpServers": servers}, indent=2)
        + "\n\n# or add them from a shell:\n"
        + "\n".join(lines)
        + "\n"
    )


def _claude_code_stdio(ts: list[Target], key_env: str | None) -> str:
    servers = {t.id: {"type": "stdio", "command": "mcpfleet", "args": _stdio_args(t)} for t in ts}
    lines = [f"claude mcp add {t.id} -- mcpfleet {' '.join(_stdio_args(t))}" for t in ts]
    return json.dumps({"mcpServers": servers}, indent=2) + "\n\n# or:\n" + "\n".join(lines) + "\n"


# --- Codex ------------------------------------------------------------------------------------


def _toml_str(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def _codex(ts: list[Target], key_env: str | None) -> str:
    blocks = ["# ~/.codex/config.toml"]
    for t in ts:
        block = [f"[mcp_servers.{t.id}]", f"url = {_toml_str(t.url)}"]
        if key_env:
            block.append(f"bearer_token_env_var = {_toml_str(key_env)}")
        blocks.append("\n".join(block))
    return "\n\n".join(blocks) + "\n"


def _codex_stdio(ts: list[Target], key_env: str | None) -> str:
    blocks = ["# ~/.codex/config.toml"]
    for t in ts:
        args = ", ".join(_toml_str(a) for a in _stdio_args(t))
        blocks.append(f'[mcp_servers.{t.id}]\ncommand = "mcpfleet"\nargs = [{args}]')
    return "\n\n".join(blocks) + "\n"


# --- OpenCode ---------------------------------------------------------------------------------


def _opencode(ts: list[Target], key_env: str | None) -> str:
    mcp = {}
    for t in ts:
        entry: dict = {"type": "remote", "url": t.url, "enabled": True}
        if key_env:
            entry["headers"] = {"Authorization": f"Bearer {{env:{key_env}}}"}
        mcp[t.id] = entry
    return json.dumps({"$schema": "https://opencode.ai/config.json", "mcp": mcp}, indent=2) + "\n"


def _opencode_stdio(ts: list[Target], key_env: str | None) -> str:
    mcp = {t.id: {"type": "local", "command": ["mcpfleet", *_stdio_args(t)], "enabled": True} for t in ts}
    return json.dumps({"$schema": "https://opencode.ai/config.json", "mcp": mcp}, indent=2) + "\n"


# --- Open WebUI -------------------------------------------------------------------------------


def _openwebui(ts: list[Target], key_env: str | None) -> str:
    connections = [
        {
            "type": "mcp",
            "url": t.url,
            "path": "",
            "auth_type": "bearer" if key_env else "none",
            "key": f"<value of {key_env}>" if key_env else "",
            "config": {"enable": True},
            "info": {"id": t.id, "name": t.spec.title, "description": t.spec.description},
        }
        for t in ts
    ]
    return (
        "# Open WebUI >= 0.6.31: Admin Settings -> External Tools -> + -> Type 'MCP (Streamable HTTP)',\n"
        "# or set TOOL_SERVER_CONNECTIONS to this JSON (replace the key placeholder):\n"
        + json.dumps(connections, indent=2)
        + "\n"
    )


# --- LiteLLM ----------------------------------------------------------------------------------


def _litellm(ts: list[Target], key_env: str | None) -> str:
    # Streamable HTTP, bearer key from LiteLLM's environment, alias + access groups: see
    # common/litellm.py (`mcpfleet litellm config --tools pin|read-only` also sets allowed_tools).
    from mcpfleet.common.litellm import entries, render_config

    base = ts[0].url[: -len(f"/{ts[0].spec.name}/mcp")] if ts else ""
    return render_config(entries([t.spec for t in ts], base), key_env)


def _litellm_stdio(ts: list[Target], key_env: str | None) -> str:
    servers = {
        t.id.replace("-", "_"): {"transport": "stdio", "command": "mcpfleet", "args": _stdio_args(t)} for t in ts
    }
    return "# LiteLLM proxy config.yaml\n" + yaml.safe_dump({"mcp_servers": servers}, sort_keys=False)


Renderer = Callable[[list[Target], str | None], str]
_HTTP: dict[str, Renderer] = {
    "claude-code": _claude_code,
    "codex": _codex,
    "opencode": _opencode,
    "openwebui": _openwebui,
    "litellm": _litellm,
}
_STDIO: dict[str, Renderer] = {
    "claude-code": _claude_code_stdio,
    "codex": _codex_stdio,
    "opencode": _opencode_stdio,
    "litellm": _litellm_stdio,
}
