"""The two shared test helpers every server's tests build on: the fake remote (local_http.serving)
and the server under test (fleet_testing.fleet_client). A helper that silently stopped doing what
it says would make the tests built on it pass for the wrong reason."""

from __future__ import annotations

import threading

import httpx2
import pytest
from fastmcp.exceptions import ToolError

from fleet_testing import ECHO, KEYS, fleet_client, fleet_http, fleet_server, with_test_keys
from local_http import Reply, serving
from mcpfleet.common.settings import load_settings


def test_routes_bodies_and_the_request_log():
    routes = {
        "/json": {"a": 1},
        "/text": "héllo",
        "/bare": Reply(body=b"x", content_type=None),
        "/items/*": lambda request: Reply(201, request.route.removeprefix("/items/")),
    }
    with serving(routes) as remote, httpx2.Client() as client:
        answer = client.get(f"{remote}/json")
        assert (answer.status_code, answer.headers["content-type"], answer.json()) == (
            200,
            "application/json",
            {"a": 1},
        )
        assert client.get(remote.url("/text", host="localhost")).text == "héllo"
        assert "content-type" not in client.get(f"{remote}/bare").headers
        assert (client.get(f"{remote}/items/7?x=1").status_code, client.get(f"{remote}/items/8").text) == (201, "8")
        assert client.get(f"{remote}/nowhere").status_code == 404
        client.post(f"{remote}/json", json=[1], headers={"X-Probe": "p"})
        last = remote.requests[-1]
        assert (last.method, last.path, last.json(), last.headers["x-probe"]) == ("POST", "/json", [1], "p")
        assert remote.count("/json") == 2 and remote.paths()[:2] == ["/json", "/text"]
        remote.routes["/late"] = Reply(410)  # routes may change while it runs
        assert client.get(f"{remote}/late").status_code == 410


def test_etag_retry_after_drop_and_the_shorthand():
    routes = {"/e": Reply(body="v", etag='"1"'), "/busy": Reply(429, retry_after=7), "/drop": Reply(drop=True)}
    with serving(routes) as remote, httpx2.Client() as client:
        assert client.get(f"{remote}/e", headers={"If-None-Match": '"1"'}).status_code == 304
        fresh = client.get(f"{remote}/e", headers={"If-None-Match": '"0"'})
        assert (fresh.status_code, fresh.headers["etag"], fresh.text) == (200, '"1"', "v")
        assert client.get(f"{remote}/busy").headers["retry-after"] == "7"
        with pytest.raises(httpx2.HTTPError):
            client.get(f"{remote}/drop")
    seen: list[str] = []
    with serving(lambda path: (200, b"raw") if path == "/b?q" else (404, {"no": path}), record=seen) as base:
        assert httpx2.get(f"{base}/b?q").content == b"raw"
        assert httpx2.get(f"{base}/c").json() == {"no": "/c"}
    assert seen == ["/b?q", "/c"]


def test_a_hanging_reply_ends_when_the_remote_closes():
    def ask(url: str, out: list) -> None:
        try:
            out.append(httpx2.get(url, timeout=60).status_code)
        except httpx2.HTTPError as exc:
            out.append(type(exc).__name__)

    out: list = []
    with serving({"/hang": Reply(hang=True)}) as remote:
        thread = threading.Thread(target=ask, args=(f"{remote}/hang", out))
        thread.start()
        while remote.count("/hang") == 0 and thread.is_alive():
            thread.join(0.05)
    thread.join(30)  # a loop bound: the close shut the connection, the client saw it
    assert not thread.is_alive() and out and out[0] != 200


def test_a_static_folder_is_served_read_only(tmp_path):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "index.json").write_text("[]")
    (tmp_path.parent / "outside.txt").write_text("secret")
    with serving(static=tmp_path) as remote, httpx2.Client() as client:
        found = client.get(f"{remote}/r/index.json")
        assert (found.status_code, found.headers["content-type"], found.text) == (200, "application/json", "[]")
        assert client.get(f"{remote}/r/%2e%2e/%2e%2e/outside.txt").status_code == 404
        assert client.put(f"{remote}/r/index.json", content=b"x").status_code == 405


async def test_in_memory_the_server_has_the_runtime_around_it():
    async with fleet_client(ECHO) as client:
        assert (await client.call_tool("echo_say", {"text": "hi"})).content[0].text == "hi"
        with pytest.raises(ToolError) as crash:
            await client.call_tool("echo_crash", {})
    assert "internal error" in str(crash.value) and "/etc/passwd" not in str(crash.value)  # telemetry masked it
    built = fleet_server("echo")
    async with fleet_client(built) as client:
        await client.call_tool("echo_add", {"a": 1, "b": 2})
    assert built.tools == [] and built.limits is not None  # the object a test may read


async def test_over_http_with_a_key_the_caller_is_known_and_a_wrong_key_refused():
    async with fleet_client("echo", key="bob") as client:
        assert (await client.call_tool("echo_whoami", {})).content[0].text == "key:bob"
    with fleet_http("echo", with_test_keys(load_settings())) as url:
        hello = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
        accept = {"Accept": "application/json, text/event-stream"}
        wrong = httpx2.post(
            f"{url}/echo/mcp", json=hello, headers={**accept, "Authorization": "Bearer not-" + KEYS["alice"]}
        )
        assert wrong.status_code == 401 and wrong.headers["www-authenticate"].startswith("Bearer")
        assert httpx2.post(f"{url}/echo/mcp", json=hello, headers=accept).status_code == 401
