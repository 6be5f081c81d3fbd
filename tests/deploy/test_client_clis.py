"""`mcpfleet config <client>` output, read by the real client CLIs, offline.

A real `mcpfleet serve echo other` with an API key runs on 127.0.0.1. Each client's configuration
is written the way the README tells a user (`> .mcp.json`, `--write`, `> opencode.json`,
`>> ~/.codex/config.toml`) into a throwaway home, and the CLI itself reads it and connects:
`claude mcp list` / `claude mcp get` (its health check connects to each server), `opencode mcp
list`, and `codex mcp list --json` plus Codex's app-server `mcpServerStatus/list` (Codex fetches
each server's tools). No model account is used. The key only ever lives in the environment: every
file the CLIs leave in the home and project holds `${MCPFLEET_API_KEY}` (or the client's spelling),
never the key.

The CLIs come from scripts/client-clis.sh (.tools/clients, pinned); without them these tests skip,
or fail when MCPFLEET_REQUIRE_CLIENT_CLIS is set (CI).
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from client_clis import BIN, REQUIRED, ClientHome, cli, codex_mcp_status
from fleet_testing import mcpfleet_cmd, serving, subprocess_env
from mcpfleet.common.auth import hash_key

KEY = "client-cli-key-0123456789abcdef"
KEY_ENV = "MCPFLEET_API_KEY"
SERVERS = ("echo", "other")
IDS = tuple(f"mcpfleet-{s}" for s in SERVERS)

pytestmark = pytest.mark.timeout(300)

if not BIN.exists() and not REQUIRED:  # none installed: skip before starting a fleet
    pytest.skip(f"no client CLIs in {BIN.parent.parent} (bash scripts/client-clis.sh)", allow_module_level=True)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory) -> Iterator[str]:
    keys = json.dumps([{"name": "client-cli", "hash": hash_key(KEY), "servers": ["*"]}])
    with serving(tmp_path_factory.mktemp("fleet"), *SERVERS, MCPFLEET_AUTH__API_KEYS=keys) as (url, _proc, _log):
        yield url


def config(client: str, *args: str, stdout=subprocess.PIPE) -> subprocess.CompletedProcess:
    """`mcpfleet config CLIENT ...` as a shell runs it; pass an open file as `stdout` for `>` / `>>`."""
    return subprocess.run(
        mcpfleet_cmd("config", client, *args),
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
        env=subprocess_env(),
        check=True,
    )


def assert_key_never_stored(home: ClientHome) -> None:
    assert home.files_containing(KEY) == [], "the API key itself was written to a file"


def line_for(output: str, name: str) -> str:
    lines = [line for line in output.splitlines() if line.lstrip("●✓✗⚠ ").startswith(f"{name}")]
    assert lines, f"{name} not in:\n{output}"
    return lines[0]


# --- Claude Code ------------------------------------------------------------------------------


@pytest.fixture
def claude(tmp_path, fleet) -> tuple[Path, ClientHome]:
    home = ClientHome(tmp_path, **{KEY_ENV: KEY})
    with (home.project / ".mcp.json").open("w") as out:  # mcpfleet config claude-code > .mcp.json
        config("claude-code", *SERVERS, "--url", fleet, stdout=out)
    return cli("claude"), home


def trust_project(home: ClientHome) -> None:
    """What accepting Claude Code's "Do you trust the files in this folder?" prompt records."""
    state = home.home / ".claude.json"
    data = json.loads(state.read_text()) if state.exists() else {}
    data.setdefault("projects", {}).setdefault(str(home.project), {})["hasTrustDialogAccepted"] = True
    state.write_text(json.dumps(data))


def test_claude_code_lists_mcp_json_servers_pending_until_approved(claude, fleet):
    exe, home = claude
    listed = home.run(exe, "mcp", "list")
    assert listed.returncode == 0, listed.stderr
    for name, server in zip(IDS, SERVERS):
        line = line_for(listed.stdout, name)
        assert f"{fleet}/{server}/mcp (HTTP)" in line and "Pending approval" in line, line
    # .claude/settings.local.json alone does not approve them while the folder is not trusted
    approve_all(home)
    assert "Pending approval" in line_for(home.run(exe, "mcp", "list").stdout, IDS[0])


def approve_all(home: ClientHome) -> None:
    (home.project / ".claude").mkdir(exist_ok=True)
    (home.project / ".claude" / "settings.local.json").write_text('{"enableAllProjectMcpServers": true}\n')


def test_claude_code_connects_once_the_project_is_approved(claude, fleet):
    exe, home = claude
    approve_all(home)
    trust_project(home)
    listed = home.run(exe, "mcp", "list")
    for name in IDS:
        assert "✔ Connected" in line_for(listed.stdout, name), listed.stdout
    got = home.run(exe, "mcp", "get", IDS[0])
    assert got.returncode == 0, got.stderr
    assert "Status: ✔ Connected" in got.stdout and f"URL: {fleet}/echo/mcp" in got.stdout
    assert "Authorization: Bearer ${MCPFLEET_API_KEY}" in got.stdout  # shown as stored: unexpanded
    assert_key_never_stored(home)


def test_claude_code_shows_the_fleets_401_for_a_wrong_or_missing_key(claude):
    exe, home = claude
    approve_all(home)
    trust_project(home)
    wrong = line_for(home.run(exe, "mcp", "list", **{KEY_ENV: "not-the-key"}).stdout, IDS[0])
    assert "Failed to connect" in wrong and "HTTP 401" in wrong, wrong
    assert "This server needs an API key" in wrong  # the fleet's own words reach the user, not an OAuth flow
    missing = home.run(exe, "mcp", "list", **{KEY_ENV: None})
    assert "Missing environment variables: MCPFLEET_API_KEY" in missing.stdout + missing.stderr


def test_claude_mcp_add_lines_store_the_variable_not_the_key(tmp_path, fleet):
    exe = cli("claude")
    home = ClientHome(tmp_path, **{KEY_ENV: KEY})
    notes = config("claude-code", *SERVERS, "--url", fleet).stderr
    adds = [line for line in notes.splitlines() if line.startswith("claude mcp add ")]
    assert len(adds) == len(SERVERS), notes
    for line in adds:  # pasted into a shell, as the notes say
        argv = shlex.split(line)
        added = home.run(exe, *argv[1:])
        assert added.returncode == 0, added.stderr
    stored = json.loads((home.home / ".claude.json").read_text())["projects"][str(home.project)]["mcpServers"]
    assert stored[IDS[0]]["headers"] == {"Authorization": "Bearer ${MCPFLEET_API_KEY}"}
    listed = home.run(exe, "mcp", "list").stdout  # user-added servers need no approval
    assert all("✔ Connected" in line_for(listed, name) for name in IDS), listed
    assert_key_never_stored(home)


def test_claude_code_stdio_config_from_write_starts_the_server(tmp_path):
    exe = cli("claude")
    env = subprocess_env()
    home = ClientHome(
        tmp_path,
        PATH=f"{Path(sys.executable).parent}:{env['PATH']}",
        PYTHONPATH=env["PYTHONPATH"],
        MCPFLEET_PLUGINS=env["MCPFLEET_PLUGINS"],
    )
    result = config("claude-code", "echo", "--stdio", "--write", str(home.project / ".mcp.json"))
    assert result.stdout == "" and "wrote" in result.stderr
    (home.home / ".claude").mkdir()
    (home.home / ".claude" / "settings.json").write_text('{"enableAllProjectMcpServers": true}\n')  # user-wide
    listed = home.run(exe, "mcp", "list")
    line = line_for(listed.stdout, IDS[0])
    assert "mcpfleet serve echo --transport stdio" in line and "✔ Connected" in line, listed.stdout


# --- OpenCode ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def opencode(tmp_path_factory, fleet) -> tuple[Path, ClientHome]:
    home = ClientHome(tmp_path_factory.mktemp("opencode"), **{KEY_ENV: KEY})
    with (home.project / "opencode.json").open("w") as out:  # mcpfleet config opencode > opencode.json
        config("opencode", *SERVERS, "--url", fleet, stdout=out)
    return cli("opencode"), home


def opencode_status(listing: str) -> dict[str, tuple[str, str]]:
    """`opencode mcp list` as {name: (status, the lines under it)}."""
    found: dict[str, tuple[str, str]] = {}
    blocks = re.split(r"\n[│\s]*\n", listing)
    for block in blocks:
        m = re.search(r"[✓✗⚠○]\s+(\S+)\s+(connected|failed|needs authentication|disabled|[a-z ]+)\n", block + "\n")
        if m:
            found[m.group(1)] = (m.group(2).strip(), block)
    return found


def test_opencode_connects_to_every_server(opencode, fleet):
    exe, home = opencode
    listed = home.run(exe, "mcp", "list")
    assert listed.returncode == 0, listed.stderr
    status = opencode_status(listed.stdout)
    for name, server in zip(IDS, SERVERS):
        assert name in status, listed.stdout
        assert status[name][0] == "connected" and f"{fleet}/{server}/mcp" in status[name][1], status[name]
    assert "{env:MCPFLEET_API_KEY}" in (home.project / "opencode.json").read_text()
    assert_key_never_stored(home)


def test_opencode_reports_a_wrong_key_as_a_failure_not_an_oauth_login(opencode):
    exe, home = opencode
    status = opencode_status(home.run(exe, "mcp", "list", **{KEY_ENV: "not-the-key"}).stdout)
    # without "oauth": false in the config OpenCode showed "needs authentication" (run: opencode mcp auth)
    assert status[IDS[0]][0] == "failed" and "401" in status[IDS[0]][1], status[IDS[0]]


# --- Codex ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def codex(tmp_path_factory, fleet) -> tuple[Path, ClientHome]:
    home = ClientHome(tmp_path_factory.mktemp("codex"), **{KEY_ENV: KEY})
    toml = home.codex_home / "config.toml"
    toml.write_text('# a user\'s own settings, kept\napproval_policy = "never"\n')
    with toml.open("a") as out:  # mcpfleet config codex >> ~/.codex/config.toml
        config("codex", *SERVERS, "--url", fleet, stdout=out)
    return cli("codex"), home


def test_codex_lists_the_appended_servers(codex, fleet):
    exe, home = codex
    listed = home.run(exe, "mcp", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    servers = {s["name"]: s for s in json.loads(listed.stdout)}
    assert set(IDS) <= set(servers)
    for name, server in zip(IDS, SERVERS):
        transport = servers[name]["transport"]
        assert transport["type"] == "streamable_http" and transport["url"] == f"{fleet}/{server}/mcp"
        assert transport["bearer_token_env_var"] == KEY_ENV and servers[name]["enabled"]
    got = home.run(exe, "mcp", "get", IDS[1])
    assert got.returncode == 0 and f"url: {fleet}/other/mcp" in got.stdout, got.stdout + got.stderr


def test_codex_fetches_each_servers_tools_with_the_key_from_the_environment(codex):
    exe, home = codex
    status = {s["name"]: s for s in codex_mcp_status(exe, home)}
    assert status[IDS[0]]["toolsError"] is None, status[IDS[0]]["toolsError"]
    assert {"echo_say", "echo_whoami"} <= set(status[IDS[0]]["tools"])
    assert set(status[IDS[1]]["tools"]) == {"other_ping"}
    assert status[IDS[0]]["serverInfo"]["name"] == "echo" and status[IDS[0]]["authStatus"] == "bearerToken"
    assert_key_never_stored(home)


def test_codex_gets_no_tools_with_a_wrong_or_missing_key(codex):
    exe, home = codex
    wrong = {s["name"]: s for s in codex_mcp_status(exe, home, **{KEY_ENV: "not-the-key"})}[IDS[0]]
    assert not wrong["tools"] and "Auth required" in wrong["toolsError"], wrong
    missing = {s["name"]: s for s in codex_mcp_status(exe, home, **{KEY_ENV: None})}[IDS[0]]
    assert not missing["tools"] and f"{KEY_ENV} for MCP server '{IDS[0]}' is not set" in missing["toolsError"]
