"""The `mcpfleet` command as a user runs it: real subprocesses, HTTP and stdio."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import threading
import time
import tomllib

import httpx2
import yaml
from fastmcp import Client
from fastmcp.client.transports import StdioTransport
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fleet_testing import KEYS, free_port, json_lines, mcpfleet_cmd, running_app, serving, subprocess_env
from mcpfleet.common.auth import hash_key
from mcpfleet.registry import all_specs

ALICE = json.dumps([{"name": "alice", "hash": hash_key(KEYS["alice"])}])


def run(*args: str, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        mcpfleet_cmd(*args), input=stdin, capture_output=True, text=True, timeout=60, env=subprocess_env(**env)
    )


async def test_serve_http_with_auth_logs_json_and_stops_cleanly(tmp_path):
    with serving(tmp_path, "echo", MCPFLEET_AUTH__API_KEYS=ALICE) as (url, proc, log):
        async with Client(f"{url}/echo/mcp", auth=KEYS["alice"]) as c:
            assert (await c.call_tool("echo_say", {"text": "hi"})).content[0].text == "hi"
        assert httpx2.post(f"{url}/echo/mcp", json={}).status_code == 401
        proc.send_signal(signal.SIGTERM)
        # uvicorn re-raises the signal after its graceful shutdown, so the exit status says SIGTERM.
        assert proc.wait(timeout=15) in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in log.read_text()
    calls = [r for r in json_lines(log.read_text()) if r.get("message") == "tool call"]
    assert len(calls) == 1
    call = calls[0]
    assert call["caller"] == "key:alice" and call["server"] == "echo" and call["tool"] == "echo_say"
    assert call["outcome"] == "ok" and call["duration_ms"] >= 0 and len(call["request_id"]) == 16
    assert "Traceback" not in log.read_text()


async def test_serve_stdio_for_local_clients():
    transport = StdioTransport(
        command=sys.executable,
        args=["-m", "mcpfleet", "serve", "echo", "--transport", "stdio"],
        env=subprocess_env(),
    )
    async with Client(transport, timeout=30) as c:
        names = {t.name for t in await c.list_tools()}
        assert "echo_say" in names
        assert (await c.call_tool("echo_whoami", {})).content[0].text == "local"


def test_stdio_needs_exactly_one_server():
    result = run("serve", "--transport", "stdio")
    assert result.returncode == 2 and "stdio serves exactly one server" in result.stderr


def test_non_loopback_without_auth_refuses_to_start():
    result = run("serve", "echo", "--host", "0.0.0.0", "--port", str(free_port()))
    assert result.returncode == 2
    assert "refusing to serve on 0.0.0.0 without authentication" in result.stderr
    assert "Traceback" not in result.stderr


def test_insecure_no_auth_overrides_the_refusal(tmp_path):
    with serving(tmp_path, "echo", "--insecure-no-auth", host="0.0.0.0") as (url, _, _):
        assert httpx2.get(f"{url}/healthz").status_code == 200


def test_unknown_server_lists_known_ones():
    result = run("serve", "nosuch")
    assert result.returncode == 2
    known = ", ".join(s.name for s in all_specs(["fleet_testing:ECHO", "fleet_testing:OTHER"]))
    assert f"unknown server 'nosuch'; known servers: {known}" in result.stderr
    assert known.endswith("echo, other")


def test_bad_config_is_one_clear_line(tmp_path):
    bad = tmp_path / "fleet.toml"
    bad.write_text("[limits]\ntool_timeout = 'soon'\n")
    result = run("list", "--config", str(bad))
    assert result.returncode == 2
    assert result.stderr.startswith("mcpfleet: error: invalid configuration: limits.tool_timeout")
    assert "Traceback" not in result.stderr


def test_list_shows_tools_and_token_costs():
    result = run("list", "--json")
    assert result.returncode == 0, result.stderr
    servers = {s["name"]: s for s in json.loads(result.stdout)}
    echo = servers["echo"]
    assert {t["name"] for t in echo["tools"]} >= {"echo_say", "echo_add"}
    assert all(t["tokens"] > 10 for t in echo["tools"])
    # The whole list costs the sum of its tools, less the brackets each one-tool list adds.
    assert abs(echo["tokens"] - sum(t["tokens"] for t in echo["tools"])) <= 2 * len(echo["tools"]) + 2
    text = run("list").stdout
    assert "echo_say" in text and "tokens (o200k_base" in text


def test_auth_hash_key_reads_stdin():
    result = run("auth", "hash-key", stdin="secret-key\n")
    assert result.stdout.strip() == hash_key("secret-key")
    new = run("auth", "new-key")
    key = new.stdout.split()[1]
    assert f"hash: {hash_key(key)}" in new.stdout


URL = "https://mcp.example.org"


def test_config_claude_code_stdout_is_exactly_mcp_json():
    result = run("config", "claude-code", "echo", "--url", URL)
    data = json.loads(result.stdout)  # the whole of stdout: `> .mcp.json` gives a file Claude Code reads
    entry = data["mcpServers"]["mcpfleet-echo"]
    assert entry == {
        "type": "http",
        "url": f"{URL}/echo/mcp",
        "headers": {"Authorization": "Bearer ${MCPFLEET_API_KEY}"},
    }
    # The shell form keeps ${MCPFLEET_API_KEY} unexpanded (single quotes): the key itself is never
    # written into ~/.claude.json.
    add = f"claude mcp add --transport http mcpfleet-echo {URL}/echo/mcp --header 'Authorization: Bearer ${{MCPFLEET_API_KEY}}'"
    assert add in result.stderr
    assert "enableAllProjectMcpServers" in result.stderr


def test_config_write_puts_the_file_where_asked(tmp_path):
    target = tmp_path / ".mcp.json"
    result = run("config", "claude-code", "echo", "--url", URL, "--write", str(target))
    assert result.returncode == 0 and result.stdout == ""
    assert json.loads(target.read_text())["mcpServers"]["mcpfleet-echo"]["url"] == f"{URL}/echo/mcp"
    missing = run("config", "claude-code", "echo", "--url", URL, "--write", str(tmp_path / "no" / "such" / "dir.json"))
    assert missing.returncode == 2 and "cannot write" in missing.stderr and "Traceback" not in missing.stderr


def test_config_codex_is_valid_toml():
    out = run("config", "codex", "--url", URL, "--key-env", "TEAM_KEY").stdout
    data = tomllib.loads(out)
    assert data["mcp_servers"]["mcpfleet-echo"] == {"url": f"{URL}/echo/mcp", "bearer_token_env_var": "TEAM_KEY"}
    every = {f"mcpfleet-{s.name}" for s in all_specs(["fleet_testing:ECHO", "fleet_testing:OTHER"])}
    assert set(data["mcp_servers"]) == every and "mcpfleet-echo" in every


def test_config_opencode_and_openwebui_are_valid_json():
    oc = json.loads(run("config", "opencode", "echo", "--url", URL).stdout)
    assert oc["mcp"]["mcpfleet-echo"]["type"] == "remote"
    assert oc["mcp"]["mcpfleet-echo"]["headers"]["Authorization"] == "Bearer {env:MCPFLEET_API_KEY}"
    out = run("config", "openwebui", "echo", "--url", URL).stdout
    conns = json.loads(out)  # TOOL_SERVER_CONNECTIONS=$(mcpfleet config openwebui) works
    assert conns[0]["type"] == "mcp" and conns[0]["url"] == f"{URL}/echo/mcp" and conns[0]["auth_type"] == "bearer"


def test_config_litellm_is_valid_yaml():
    data = yaml.safe_load(run("config", "litellm", "--url", URL).stdout)
    entry = data["mcp_servers"]["mcpfleet_echo"]
    assert entry["url"] == f"{URL}/echo/mcp" and entry["transport"] == "http"
    assert entry["auth_type"] == "bearer_token" and entry["auth_value"] == "os.environ/MCPFLEET_API_KEY"


def test_config_stdio_and_no_auth_variants():
    data = tomllib.loads(run("config", "codex", "echo", "--stdio").stdout)
    assert data["mcp_servers"]["mcpfleet-echo"] == {
        "command": "mcpfleet",
        "args": ["serve", "echo", "--transport", "stdio"],
    }
    plain = json.loads(run("config", "opencode", "echo", "--no-auth", "--url", URL).stdout)
    assert "headers" not in plain["mcp"]["mcpfleet-echo"]
    result = run("config", "openwebui", "--stdio")
    assert result.returncode == 2 and "no stdio configuration" in result.stderr


class OtlpReceiver:
    """An OTLP/HTTP trace endpoint on 127.0.0.1 that keeps what it receives."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.lock = threading.Lock()

        async def traces(request: Request) -> Response:
            body = await request.body()
            with self.lock:
                self.bodies.append(body)
            return Response(b"", media_type="application/x-protobuf")

        self.app = Starlette(routes=[Route("/v1/traces", traces, methods=["POST"])])

    def span_names(self) -> list[str]:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

        names = []
        for body in self.bodies:
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            for rs in request.resource_spans:
                for ss in rs.scope_spans:
                    names += [s.name for s in ss.spans]
        return names


async def test_traces_are_exported_over_otlp_when_configured(tmp_path):
    receiver = OtlpReceiver()
    with running_app(receiver.app) as otlp:
        with serving(tmp_path, "echo", MCPFLEET_TELEMETRY__OTLP_ENDPOINT=otlp) as (url, proc, _):
            async with Client(f"{url}/echo/mcp") as c:
                await c.call_tool("echo_say", {"text": "traced"})
            proc.send_signal(signal.SIGTERM)  # shutdown flushes the batch
            proc.wait(timeout=15)
        assert "tools/call echo_say" in receiver.span_names()


def test_every_command_module_adds_its_subcommand_with_the_help_listed_for_it():
    """`mcpfleet --help` lists the added commands without importing their modules (the servers'
    from `ServerSpec.cli_help`); building them in full must give the same commands and lines."""
    from mcpfleet.cli import COMMAND_MODULES, build_parser, commands
    from mcpfleet.registry import servers

    added = commands()
    assert {s.name for s in servers() if s.cli} | set(COMMAND_MODULES) == set(added)
    full = build_parser()._subparsers._group_actions[0]
    helps = {a.dest: a.help for a in full._choices_actions}
    assert {name: help_ for name, (_, help_) in added.items()} == {name: helps[name] for name in added}
    quick = build_parser(only="")._subparsers._group_actions[0]
    assert {a.dest: a.help for a in quick._choices_actions} == helps


async def test_logs_are_json_lines_in_a_pipe_without_uvicorns_color_duplicate(tmp_path):
    with serving(tmp_path, "echo", MCPFLEET_AUTH__API_KEYS=ALICE) as (url, _proc, log):
        async with Client(f"{url}/echo/mcp", auth=KEYS["alice"]) as c:
            await c.call_tool("echo_say", {"text": "hi"})
    rows = json_lines(log.read_text())
    assert any(r.get("logger", "").startswith("uvicorn") for r in rows)
    assert rows and not any("color_message" in r for r in rows)
    assert all(r["time"].endswith("Z") for r in rows)


async def test_logs_are_short_lines_on_a_terminal(tmp_path):
    import os
    import pty

    from fleet_testing import subprocess_env

    port = free_port()
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        mcpfleet_cmd("serve", "echo", "--port", str(port)),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=secondary,
        env=subprocess_env(MCPFLEET_AUTH__API_KEYS=ALICE),
    )
    os.close(secondary)
    output = b""
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx2.HTTPError):
                if httpx2.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            time.sleep(0.2)
        async with Client(f"http://127.0.0.1:{port}/echo/mcp", auth=KEYS["alice"]) as c:
            await c.call_tool("echo_say", {"text": "hi"})
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
        with contextlib.suppress(OSError):
            while chunk := os.read(primary, 65536):
                output += chunk
        os.close(primary)
    text = output.decode("utf-8", "replace")
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines and not any(line.lstrip().startswith("{") for line in lines), text[-2000:]
    assert any("tool call" in line and "echo/echo_say ok" in line and "key:alice" in line for line in lines), text[
        -2000:
    ]
    assert "\x1b[" not in text  # no ANSI colour codes
