"""Configuration snippets for the clients people connect to the fleet, each in its own format.

Secrets are never printed: configurations name an environment variable holding the key, in the
syntax each client expands (`${VAR}` for Claude Code, `bearer_token_env_var` for Codex,
`{env:VAR}` for OpenCode, `os.environ/VAR` for LiteLLM). Open WebUI stores the key itself, so its
entry carries a placeholder to replace in the admin UI.

A rendering is the file itself (`text`, exactly what the client reads, so `> .mcp.json` works)
plus `notes` for the person (where the file goes, shell alternatives), which the CLI prints on
stderr.
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
class Rendered:
    text: str  # the configuration file, nothing else
    notes: str = ""  # for the person: where it goes, what else to run


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


def render(
    client: str, specs: Sequence[ServerSpec], base_url: str, key_env: str | None, stdio: bool = False
) -> Rendered:
    """The configuration for `client`; `key_env=None` means the fleet runs without auth."""
    renderer = _STDIO if stdio else _HTTP
    if client not in renderer:
        supported = ", ".join(renderer)
        raise ValueError(f"{client!r} has no {'stdio' if stdio else 'HTTP'} configuration; choose one of: {supported}")
    return renderer[client](targets(specs, base_url), key_env)


def _stdio_args(target: Target) -> list[str]:
    return ["serve", target.spec.name, "--transport", "stdio"]


# --- Claude Code ------------------------------------------------------------------------------


_CLAUDE_APPROVAL = (
    "Claude Code asks before it uses servers from a project's .mcp.json: approve them when it asks,\n"
    'with /mcp, or set "enableAllProjectMcpServers": true in .claude/settings.local.json.'
)


def _claude_code(ts: list[Target], key_env: str | None) -> Rendered:
    servers = {}
    lines = []
    for t in ts:
        entry: dict = {"type": "http", "url": t.url}
        add = ["claude", "mcp", "add", "--transport", "http", t.id, t.url]
        if key_env:
            entry["headers"] = {"Authorization": f"Bearer ${{{key_env}}}"}
            add += ["--header", f"Authorization: Bearer ${{{key_env}}}"]
        servers[t.id] = entry
        # Single-quoted: Claude Code stores ${VAR} and expands it when it connects, so the key
        # itself never lands in ~/.claude.json.
        lines.append(" ".join(shlex.quote(a) for a in add))
    notes = (
        "Save as .mcp.json in the project (Claude Code expands ${VAR} from the environment).\n"
        + _CLAUDE_APPROVAL
        + "\nOr add them for yourself from a shell:\n"
        + "\n".join(lines)
    )
    return Rendered(json.dumps({"mcpServers": servers}, indent=2) + "\n", notes)


def _claude_code_stdio(ts: list[Target], key_env: str | None) -> Rendered:
    servers = {t.id: {"type": "stdio", "command": "mcpfleet", "args": _stdio_args(t)} for t in ts}
    lines = [f"claude mcp add {t.id} -- mcpfleet {' '.join(_stdio_args(t))}" for t in ts]
    notes = "Save as .mcp.json in the project.\n" + _CLAUDE_APPROVAL + "\nOr:\n" + "\n".join(lines)
    return Rendered(json.dumps({"mcpServers": servers}, indent=2) + "\n", notes)


# --- Codex ------------------------------------------------------------------------------------


def _toml_str(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


_CODEX_NOTE = "Add to ~/.codex/config.toml (or append: mcpfleet config codex >> ~/.codex/config.toml)."


def _codex(ts: list[Target], key_env: str | None) -> Rendered:
    blocks = []
    for t in ts:
        block = [f"[mcp_servers.{t.id}]", f"url = {_toml_str(t.url)}"]
        if key_env:
            block.append(f"bearer_token_env_var = {_toml_str(key_env)}")
        blocks.append("\n".join(block))
    return Rendered("\n\n".join(blocks) + "\n", _CODEX_NOTE)


def _codex_stdio(ts: list[Target], key_env: str | None) -> Rendered:
    blocks = []
    for t in ts:
        args = ", ".join(_toml_str(a) for a in _stdio_args(t))
        blocks.append(f'[mcp_servers.{t.id}]\ncommand = "mcpfleet"\nargs = [{args}]')
    return Rendered("\n\n".join(blocks) + "\n", _CODEX_NOTE)


# --- OpenCode ---------------------------------------------------------------------------------


def _opencode(ts: list[Target], key_env: str | None) -> Rendered:
    mcp = {}
    for t in ts:
        entry: dict = {"type": "remote", "url": t.url, "enabled": True}
        if key_env:
            entry["headers"] = {"Authorization": f"Bearer {{env:{key_env}}}"}
            # The key is the credential: without this OpenCode treats any 401 (a wrong or unset key)
            # as "needs authentication" and offers an OAuth flow the fleet does not run.
            entry["oauth"] = False
        mcp[t.id] = entry
    return Rendered(
        json.dumps({"$schema": "https://opencode.ai/config.json", "mcp": mcp}, indent=2) + "\n", _OPENCODE_NOTE
    )


_OPENCODE_NOTE = "Save as opencode.json in the project (or merge its mcp entries into your own)."


def _opencode_stdio(ts: list[Target], key_env: str | None) -> Rendered:
    mcp = {t.id: {"type": "local", "command": ["mcpfleet", *_stdio_args(t)], "enabled": True} for t in ts}
    return Rendered(
        json.dumps({"$schema": "https://opencode.ai/config.json", "mcp": mcp}, indent=2) + "\n", _OPENCODE_NOTE
    )


# --- Open WebUI -------------------------------------------------------------------------------


def _openwebui(ts: list[Target], key_env: str | None) -> Rendered:
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
    notes = (
        "Open WebUI >= 0.6.31: Admin Settings -> External Tools -> + -> Type 'MCP (Streamable HTTP)',\n"
        "or set TOOL_SERVER_CONNECTIONS to this JSON"
        + (f" (replace the key placeholder with the value of {key_env})." if key_env else ".")
    )
    return Rendered(json.dumps(connections, indent=2) + "\n", notes)


# --- LiteLLM ----------------------------------------------------------------------------------


def _litellm(ts: list[Target], key_env: str | None) -> Rendered:
    # Streamable HTTP, bearer key from LiteLLM's environment, alias + access groups: see
    # mcpfleet/litellm.py (`mcpfleet litellm config --tools pin|read-only` also sets allowed_tools).
    from mcpfleet.litellm import entries, render_config

    base = ts[0].url[: -len(f"/{ts[0].spec.name}/mcp")] if ts else ""
    return Rendered(render_config(entries([t.spec for t in ts], base), key_env), _LITELLM_NOTE)


_LITELLM_NOTE = (
    "Merge into the LiteLLM proxy's config.yaml (mcp_servers).\n"
    "The fleet serves tools only: set general_settings.mcp_disabled_capabilities: [prompts, resources]\n"
    "so LiteLLM stops listing prompts and resources upstream for every client session."
)


def _litellm_stdio(ts: list[Target], key_env: str | None) -> Rendered:
    servers = {
        t.id.replace("-", "_"): {"transport": "stdio", "command": "mcpfleet", "args": _stdio_args(t)} for t in ts
    }
    return Rendered(yaml.safe_dump({"mcp_servers": servers}, sort_keys=False), _LITELLM_NOTE)


Renderer = Callable[[list[Target], str | None], Rendered]
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
