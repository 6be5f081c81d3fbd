"""The real client CLIs (Claude Code, OpenCode, Codex), run offline in a throwaway home.

scripts/client-clis.sh installs them, pinned, into .tools/clients. `cli(name)` finds one or skips
the test (fails it when MCPFLEET_REQUIRE_CLIENT_CLIS is set, as CI does). `ClientHome` gives each
CLI a home, XDG directories and a project folder under the test's tmp dir and an environment with
no account, no updates and no telemetry, so nothing reaches past 127.0.0.1 that matters to a test.
"""

from __future__ import annotations

import json
import os
import re
import selectors
import subprocess
import time
from pathlib import Path

import pytest

from fleet_testing import REPO
from processes import stop

BIN = REPO / ".tools" / "clients" / "node_modules" / ".bin"
REQUIRE = "MCPFLEET_REQUIRE_CLIENT_CLIS"
# Read at import (collection): the suite's autouse fixture clears MCPFLEET_* before each test runs.
REQUIRED = bool(os.environ.get(REQUIRE))
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

# Documented switches: Claude Code's (telemetry, error reporting, updater, and the umbrella for
# non-essential traffic) and OpenCode's (updates, the models.dev fetch, default plugins, LSP
# downloads, sharing). Codex's `mcp` commands and app-server run with no account and no switch.
QUIET = {
    "DISABLE_TELEMETRY": "1",
    "DISABLE_ERROR_REPORTING": "1",
    "DISABLE_AUTOUPDATER": "1",
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "OPENCODE_DISABLE_AUTOUPDATE": "1",
    "OPENCODE_DISABLE_MODELS_FETCH": "1",
    "OPENCODE_DISABLE_DEFAULT_PLUGINS": "1",
    "OPENCODE_DISABLE_LSP_DOWNLOAD": "1",
    "OPENCODE_DISABLE_SHARE": "1",
    "NO_COLOR": "1",
}


def cli(name: str) -> Path:
    path = BIN / name
    if not path.exists():
        reason = f"{name} is not installed in {BIN.parent.parent} (bash scripts/client-clis.sh)"
        if REQUIRED:
            pytest.fail(f"{REQUIRE} is set but {reason}")
        pytest.skip(reason)
    return path


class ClientHome:
    """A user's home for one CLI: HOME, XDG dirs, CODEX_HOME and a project folder, all under `root`."""

    def __init__(self, root: Path, **env: str) -> None:
        self.root = root
        self.home = root / "home"
        self.project = root / "project"
        self.codex_home = self.home / ".codex"
        for d in (
            self.project,
            self.codex_home,
            self.home / ".config",
            self.home / ".local" / "share",
            self.home / ".cache",
            self.home / ".local" / "state",
        ):
            d.mkdir(parents=True, exist_ok=True)
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "HOME": str(self.home),
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "XDG_DATA_HOME": str(self.home / ".local" / "share"),
            "XDG_CACHE_HOME": str(self.home / ".cache"),
            "XDG_STATE_HOME": str(self.home / ".local" / "state"),
            "CODEX_HOME": str(self.codex_home),
            **QUIET,
            **env,
        }

    def run(self, *cmd: str | Path, timeout: float = 120, **env: str | None) -> subprocess.CompletedProcess:
        """Run in the project folder; `env` adds variables (None removes one). Output without colours."""
        full = {**self.env, **{k: v for k, v in env.items() if v is not None}}
        for k in (k for k, v in env.items() if v is None):
            full.pop(k, None)
        result = subprocess.run(
            [str(c) for c in cmd],
            check=False,
            cwd=self.project,
            env=full,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        result.stdout, result.stderr = _ANSI.sub("", result.stdout), _ANSI.sub("", result.stderr)
        return result

    def files_containing(self, secret: str) -> list[Path]:
        """Every file under the home and the project whose bytes contain `secret`."""
        needle = secret.encode()
        return [p for p in self.root.rglob("*") if p.is_file() and not p.is_symlink() and needle in p.read_bytes()]


def codex_mcp_status(codex: Path, home: ClientHome, timeout: float = 90, **env: str | None) -> list[dict]:
    """Codex's own view of its MCP servers, tools included: `mcpServerStatus/list` on `codex app-server`.

    The app-server (JSON lines on stdio) connects to every configured server and lists its tools
    without a model or an account, as Codex does when a session starts.
    """
    full = {**home.env, **{k: v for k, v in env.items() if v is not None}}
    for k in (k for k, v in env.items() if v is None):
        full.pop(k, None)
    proc = subprocess.Popen(
        [str(codex), "app-server"],
        cwd=home.project,
        env=full,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + timeout
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    buffer = b""

    def send(message: dict) -> None:
        proc.stdin.write(json.dumps(message).encode() + b"\n")
        proc.stdin.flush()

    def answer(request_id: int) -> dict:
        nonlocal buffer
        while time.monotonic() < deadline:
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                message = json.loads(line)
                if message.get("id") == request_id and "method" not in message:
                    if "error" in message:
                        raise AssertionError(f"codex app-server refused request {request_id}: {message['error']}")
                    return message["result"]
            if selector.select(timeout=1):
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    raise AssertionError(f"codex app-server exited ({proc.wait(timeout=10)})")
                buffer += chunk
        raise AssertionError(f"codex app-server did not answer request {request_id} within {timeout}s")

    try:
        send({"id": 1, "method": "initialize", "params": {"clientInfo": {"name": "mcpfleet-tests", "version": "0"}}})
        answer(1)
        send({"method": "initialized"})
        send({"id": 2, "method": "mcpServerStatus/list", "params": {}})
        return answer(2)["data"]
    finally:
        selector.close()
        proc.stdin.close()
        stop(proc, timeout=10)
