"""The HTTP guard in front of every server: nothing is read or held for a caller who is not
authenticated, and no connection may take forever to send its headers or its body."""

from __future__ import annotations

import socket

import pytest

from fleet_testing import ECHO, KEYS, running_app
from mcpfleet.common.app import build_http_app
from mcpfleet.common.settings import load_settings

BODY = b'{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}'


@pytest.fixture(scope="module")
def fleet(api_keys):
    settings = load_settings(
        auth={"api_keys": api_keys},
        limits={"header_timeout": 1, "body_timeout": 1, "max_request_bytes": 1_000_000},
    )
    with running_app(build_http_app([ECHO], settings), settings=settings) as url:
        host, port = url.removeprefix("http://").split(":")
        yield host, int(port)


def connect(fleet) -> socket.socket:
    sock = socket.create_connection(fleet, timeout=20)
    return sock


def head(key: str | None, length: int) -> bytes:
    auth = f"Authorization: Bearer {key}\r\n" if key else ""
    return (
        "POST /echo/mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Accept: application/json, text/event-stream\r\n{auth}Content-Length: {length}\r\n\r\n"
    ).encode()


def read_status(sock: socket.socket) -> bytes:
    answer = b""
    while b"\r\n" not in answer:
        chunk = sock.recv(4096)
        if not chunk:
            break
        answer += chunk
    return answer.split(b"\r\n", 1)[0]


@pytest.mark.parametrize(
    "key", [None, "wrong-key", KEYS["bob"]], ids=["no key", "unknown key", "key for another server"]
)
def test_unauthenticated_requests_are_answered_before_their_body_is_sent(fleet, key):
    # The client announces 900 kB and sends none of it: a 401 arrives anyway, so the server
    # neither waited for nor held the body.
    with connect(fleet) as sock:
        sock.sendall(head(key, 900_000))
        assert read_status(sock) == b"HTTP/1.1 401 Unauthorized"


def test_an_authenticated_body_that_never_arrives_times_out(fleet):
    with connect(fleet) as sock:
        sock.sendall(head(KEYS["alice"], len(BODY)) + BODY[:10])
        assert read_status(sock) == b"HTTP/1.1 408 Request Timeout"


def test_the_whole_authenticated_body_is_served(fleet):
    with connect(fleet) as sock:
        sock.sendall(head(KEYS["alice"], len(BODY)) + BODY)
        assert read_status(sock) == b"HTTP/1.1 200 OK"


@pytest.mark.parametrize(
    "partial", [b"", b"POST /echo/mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n"], ids=["silent", "slow headers"]
)
def test_a_connection_that_does_not_finish_its_headers_is_closed(fleet, partial):
    with connect(fleet) as sock:
        sock.sendall(partial)
        # Closed by the server (an empty read), long before this socket's own 20 s timeout.
        assert sock.recv(4096) == b""


def test_many_slow_unauthenticated_connections_hold_nothing(fleet):
    socks = [connect(fleet) for _ in range(50)]
    try:
        for sock in socks:
            sock.sendall(head(None, 900_000) + b"x" * 1000)
        assert all(read_status(sock) == b"HTTP/1.1 401 Unauthorized" for sock in socks)
    finally:
        for sock in socks:
            sock.close()
    with connect(fleet) as sock:  # and the server still answers a real caller
        sock.sendall(head(KEYS["alice"], len(BODY)) + BODY)
        assert read_status(sock) == b"HTTP/1.1 200 OK"


@pytest.mark.parametrize("key", [None, "wrong-key"], ids=["no key", "wrong key"])
@pytest.mark.parametrize("method", ["POST", "GET"])
def test_with_api_keys_only_a_401_says_a_key_is_needed_and_points_at_no_oauth(fleet, key, method):
    import httpx2

    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    url = f"http://{fleet[0]}:{fleet[1]}/echo/mcp"
    response = httpx2.request(method, url, content=BODY if method == "POST" else None, headers=headers, timeout=20)
    assert response.status_code == 401
    assert "needs an API key" in response.json()["error_description"]
    assert "Authorization: Bearer <key>" in response.json()["error_description"]
    challenge = response.headers["www-authenticate"]
    assert "resource_metadata" not in challenge and "re-register" not in response.text
    assert ('error="invalid_token"' in challenge) == bool(key)
