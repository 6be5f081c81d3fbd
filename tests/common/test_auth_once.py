"""A request's token is verified once (by the HTTP guard) and its caller looked up once per call,
with the same answers as when FastMCP's own auth layers verified it again."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import httpx2
import pytest
from fastmcp.server.auth import AccessToken
from starlette.authentication import UnauthenticatedUser

from fleet_testing import ECHO, KEYS, running_app
from mcpfleet.common import auth
from mcpfleet.common.app import build_http_app
from mcpfleet.common.auth import VERIFIED_SCOPE_KEY, BearerAuthMiddleware, FleetTokenVerifier
from mcpfleet.common.settings import AuthSettings, load_settings

ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json", "Host": "127.0.0.1"}
WHOAMI = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "echo_whoami", "arguments": {}}}


def test_a_tool_call_verifies_its_token_once_and_looks_up_its_caller_once(api_keys, monkeypatch):
    verified: list[str] = []
    looked_up: list[object] = []
    verify, look_up = FleetTokenVerifier.verify_token, auth.get_access_token

    async def counting_verify(self, token):
        verified.append(token)
        return await verify(self, token)

    def counting_look_up():
        token = look_up()
        looked_up.append(token)
        return token

    monkeypatch.setattr(FleetTokenVerifier, "verify_token", counting_verify)
    monkeypatch.setattr(auth, "get_access_token", counting_look_up)
    with running_app(build_http_app([ECHO], load_settings(auth={"api_keys": api_keys}))) as url:
        for _ in range(3):
            headers = dict(ACCEPT, Authorization=f"Bearer {KEYS['alice']}")
            answer = httpx2.post(f"{url}/echo/mcp", content=json.dumps(WHOAMI), headers=headers, timeout=10)
            assert answer.status_code == 200 and "key:alice" in answer.text
    # Once a request (the guard), not twice; the caller once a call, not once per middleware.
    assert verified == [KEYS["alice"]] * 3
    assert [t.client_id for t in looked_up] == ["key:alice"] * 3  # type: ignore[attr-defined]


def test_a_token_the_guard_reads_differently_is_refused_as_before(api_keys):
    # The guard strips what follows "Bearer "; FastMCP's layer takes it as sent, so "Bearer  <key>"
    # (two spaces) is not the key to it: refused with FastMCP's 401, as before the guard's answer
    # was reused.
    with running_app(build_http_app([ECHO], load_settings(auth={"api_keys": api_keys}))) as url:
        headers = dict(ACCEPT, Authorization=f"Bearer  {KEYS['alice']}")
        answer = httpx2.post(f"{url}/echo/mcp", content=json.dumps(WHOAMI), headers=headers, timeout=10)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith('Bearer error="invalid_token"')


async def _user_seen(middleware_verifier: FleetTokenVerifier, headers: list, verified: tuple | None):
    seen: dict = {}

    async def endpoint(scope, receive, send):
        seen["user"] = scope["user"]
        seen["scopes"] = scope["auth"].scopes

    layer = BearerAuthMiddleware(endpoint, provider=middleware_verifier, verifier=middleware_verifier)
    scope: dict = {"type": "http", "headers": headers}
    if verified is not None:
        scope[VERIFIED_SCOPE_KEY] = verified
    await layer(scope, None, None)  # type: ignore[arg-type]
    return seen["user"]


@pytest.fixture
def verifiers(api_keys):
    settings = AuthSettings.model_validate({"api_keys": api_keys})
    return FleetTokenVerifier("echo", settings), FleetTokenVerifier("other", settings)


async def test_the_servers_auth_layer_trusts_only_its_own_verifiers_answer(verifiers):
    echo, other = verifiers
    carol = f"Bearer {KEYS['carol']}".encode()  # carol's key is scoped to echo
    granted = await echo.verify_token(KEYS["carol"])
    headers = [(b"authorization", carol)]
    # echo's answer, given to other's layer, is not used: other verifies for itself and refuses.
    assert isinstance(await _user_seen(other, headers, (echo, carol, KEYS["carol"], granted)), UnauthenticatedUser)
    assert (await _user_seen(echo, headers, (echo, carol, KEYS["carol"], granted))).access_token is granted
    # Without the guard's answer the layer verifies the token itself, as FastMCP's did.
    assert (await _user_seen(echo, headers, None)).display_name == "key:carol"
    assert isinstance(await _user_seen(other, headers, None), UnauthenticatedUser)


async def test_the_guards_answer_is_used_only_for_the_token_it_verified(verifiers):
    echo, _ = verifiers
    spaced = f"Bearer  {KEYS['alice']}".encode()
    alice = await echo.verify_token(KEYS["alice"])
    # The guard read the key without the extra space; the SDK reads " <key>", which is no key.
    seen = await _user_seen(echo, [(b"authorization", spaced)], (echo, spaced, KEYS["alice"], alice))
    assert isinstance(seen, UnauthenticatedUser)


async def test_an_expired_answer_is_not_reused(verifiers):
    echo, _ = verifiers
    header = b"Bearer some.jwt.token"
    expired = AccessToken(token="", client_id="jwt:x:y", scopes=[], expires_at=int(time.time()) - 5)
    seen = await _user_seen(echo, [(b"authorization", header)], (echo, header, "some.jwt.token", expired))
    assert isinstance(seen, UnauthenticatedUser)


def test_jwt_support_is_imported_only_when_jwt_is_configured():
    program = """
import sys
from mcpfleet.common.auth import build_auth, hash_key
from mcpfleet.common.settings import load_settings
keys = {"api_keys": [{"name": "a", "hash": hash_key("k")}]}
build_auth("echo", "Echo", load_settings(auth=keys))
print("fastmcp.server.auth.providers.jwt" in sys.modules)
jwt = {"jwks_url": "http://127.0.0.1:9/jwks", "issuer": "https://idp.example", "audience": "fleet"}
build_auth("echo", "Echo", load_settings(auth=dict(keys, jwt=jwt)))
print("fastmcp.server.auth.providers.jwt" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.split() == ["False", "True"]
