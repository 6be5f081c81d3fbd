"""API keys and JWTs (against a real JWKS endpoint on 127.0.0.1), RFC 9728 metadata."""

from __future__ import annotations

import asyncio
import time

import httpx2
import pytest
from fastmcp import Client
from fastmcp.server.auth.providers.jwt import RSAKeyPair
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from fleet_testing import ECHO, KEYS, running_app
from mcpfleet.common.app import build_http_app
from mcpfleet.common.auth import FleetTokenVerifier, hash_key, new_key
from mcpfleet.common.settings import AuthSettings, load_settings

ISSUER = "https://idp.example.org/realms/ai"
AUDIENCE = "mcpfleet"


def test_hash_is_sha256_of_the_key_and_new_keys_are_unique():
    assert hash_key("abc") == "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    keys = {new_key() for _ in range(50)}
    assert len(keys) == 50 and all(k.startswith("mcpf_") and len(k) > 40 for k in keys)


async def test_api_key_scoping(api_keys):
    settings = AuthSettings.model_validate({"api_keys": api_keys})
    echo, other = FleetTokenVerifier("echo", settings), FleetTokenVerifier("other", settings)
    assert (await echo.verify_token(KEYS["alice"])).client_id == "key:alice"
    assert (await echo.verify_token(KEYS["carol"])).client_id == "key:carol"
    assert await other.verify_token(KEYS["carol"]) is None  # carol is scoped to echo
    assert (await other.verify_token(KEYS["bob"])).client_id == "key:bob"
    assert await echo.verify_token("") is None
    assert await echo.verify_token(KEYS["alice"] + " ") is None


def test_a_key_hash_must_be_well_formed():
    from mcpfleet.common.errors import ConfigError

    with pytest.raises(ConfigError, match="auth.api_keys.0.hash"):
        load_settings(auth={"api_keys": [{"name": "x", "hash": "plaintext-key"}]})


@pytest.fixture(scope="module")
def idp():
    """A JWKS endpoint serving one RSA key, as an identity provider would."""
    pair = RSAKeyPair.generate()
    import jwt as pyjwt
    from cryptography.hazmat.primitives import serialization
    from fastmcp.server.auth.providers.jwt import _jwk_to_pem  # noqa: F401  (ensures the module API we rely on)

    public = serialization.load_pem_public_key(pair.public_key.encode())
    jwk = pyjwt.algorithms.RSAAlgorithm.to_jwk(public, as_dict=True)
    jwk.update({"kid": "k1", "use": "sig", "alg": "RS256"})
    app = Starlette(routes=[Route("/jwks", lambda r: JSONResponse({"keys": [jwk]}))])
    with running_app(app) as url:
        yield pair, f"{url}/jwks"


def token(pair: RSAKeyPair, **overrides) -> str:
    claims = {
        "subject": "dana@example.org",
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "scopes": ["mcp"],
        "kid": "k1",
        "expires_in_seconds": 300,
    }
    claims.update(overrides)
    return pair.create_token(**claims)


def jwt_settings(jwks_url: str, api_keys=()):
    return load_settings(
        public_url="https://mcp.example.org",
        auth={
            "api_keys": list(api_keys),
            "jwt": {"jwks_url": jwks_url, "issuer": ISSUER, "audience": AUDIENCE, "required_scopes": ["mcp"]},
        },
    )


async def test_jwt_verified_against_jwks(idp):
    pair, jwks = idp
    verifier = FleetTokenVerifier("echo", jwt_settings(jwks).auth)
    ok = await verifier.verify_token(token(pair))
    assert ok is not None and ok.client_id == f"jwt:{ISSUER}:dana@example.org"
    assert await verifier.verify_token(token(pair, audience="someone-else")) is None
    assert await verifier.verify_token(token(pair, issuer="https://evil.example")) is None
    assert await verifier.verify_token(token(pair, expires_in_seconds=-60)) is None
    forged = RSAKeyPair.generate()
    assert await verifier.verify_token(token(forged)) is None


async def test_jwt_over_http_with_scopes_and_rfc9728_metadata(idp, api_keys):
    pair, jwks = idp
    app = build_http_app([ECHO], jwt_settings(jwks, api_keys))
    with running_app(app) as url:
        async with Client(f"{url}/echo/mcp", auth=token(pair)) as c:
            assert (await c.call_tool("echo_whoami", {})).content[0].text == f"jwt:{ISSUER}:dana@example.org"
        # API keys keep working beside JWTs and are granted the required scopes.
        async with Client(f"{url}/echo/mcp", auth=KEYS["alice"]) as c:
            assert (await c.call_tool("echo_whoami", {})).content[0].text == "key:alice"

        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
        headers = {"Accept": "application/json, text/event-stream", "Host": "127.0.0.1"}
        no_scope = httpx2.post(
            f"{url}/echo/mcp", json=body, headers=dict(headers, Authorization=f"Bearer {token(pair, scopes=['other'])}")
        )
        assert no_scope.status_code == 403
        missing = httpx2.post(f"{url}/echo/mcp", json=body, headers=headers)
        assert missing.status_code == 401
        challenge = missing.headers["www-authenticate"]
        assert 'resource_metadata="https://mcp.example.org/.well-known/oauth-protected-resource/echo/mcp"' in challenge

        metadata = httpx2.get(f"{url}/.well-known/oauth-protected-resource/echo/mcp").json()
        assert metadata["resource"] == "https://mcp.example.org/echo/mcp"
        assert metadata["authorization_servers"] == [ISSUER]
        assert metadata["scopes_supported"] == ["mcp"]


async def test_jwks_outage_is_a_401_not_a_crash(error_logs):
    from fleet_testing import free_port

    settings = jwt_settings(f"http://127.0.0.1:{free_port()}/jwks")
    verifier = FleetTokenVerifier("echo", settings.auth)
    # Bounded (the test would time out), and a refusal rather than an exception.
    assert await asyncio.wait_for(verifier.verify_token(token(RSAKeyPair.generate())), 60) is None


# -- identities: one namespace per way of proving who you are (issue: multi-tenant safety) -------


def raw_token(pair: RSAKeyPair, **claims) -> str:
    """A token with exactly these claims (None removes one), signed by `pair`."""
    import jwt as pyjwt

    now = int(time.time())
    body = {"sub": "dana@example.org", "iss": ISSUER, "aud": AUDIENCE, "scope": "mcp", "iat": now, "exp": now + 300}
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None}
    return pyjwt.encode(body, pair.private_key.get_secret_value(), algorithm="RS256", headers={"kid": "k1"})


async def test_a_jwt_subject_never_gets_the_api_key_of_the_same_name(idp, api_keys):
    pair, jwks = idp
    app = build_http_app([ECHO], jwt_settings(jwks, api_keys))
    with running_app(app) as url:
        async with Client(f"{url}/echo/mcp", auth=raw_token(pair, sub="alice")) as c:
            as_jwt = (await c.call_tool("echo_whoami", {})).content[0].text
        async with Client(f"{url}/echo/mcp", auth=KEYS["alice"]) as c:
            as_key = (await c.call_tool("echo_whoami", {})).content[0].text
        async with Client(f"{url}/echo/mcp", auth=raw_token(pair, sub="local")) as c:
            claims_local = (await c.call_tool("echo_whoami", {})).content[0].text
    assert as_jwt == f"jwt:{ISSUER}:alice" and as_key == "key:alice"
    assert claims_local == f"jwt:{ISSUER}:local"  # no remote caller can be the reserved `local`


def _stable(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value > 1_000_000_000:
        return f"now{round((value - time.time()) / 60):+d}min"  # a second may tick between collections
    return str(value)


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": None},  # no identity claim: refused, not given client_id/azp
        {"sub": None, "client_id": "shared-app", "azp": "shared-app"},
        {"sub": ""},
        {"sub": "   "},
        {"sub": 42},
        {"sub": ["alice"]},
        {"sub": "x" * 1025},
        {"exp": None},  # exp required by default
        {"exp": "tomorrow"},
        {"nbf": int(time.time()) + 3600},  # not valid yet
        {"iat": int(time.time()) + 3600},  # issued in the future
        {"exp": int(time.time()) - 5},
        {"aud": "another-service"},
        {"iss": "https://evil.example.org"},
    ],
    # ids stay the same between collections (pytest-xdist workers must agree): times as offsets
    ids=lambda c: ",".join(f"{k}={_stable(v)[:12]}" for k, v in c.items()),
)
async def test_tokens_without_a_usable_identity_or_validity_are_refused(idp, claims):
    pair, jwks = idp
    verifier = FleetTokenVerifier("echo", jwt_settings(jwks).auth)
    assert await verifier.verify_token(raw_token(pair, **claims)) is None


async def test_clock_skew_within_the_leeway_is_accepted(idp):
    pair, jwks = idp
    verifier = FleetTokenVerifier("echo", jwt_settings(jwks).auth)
    skewed = raw_token(pair, nbf=int(time.time()) + 10, iat=int(time.time()) + 10)
    assert (await verifier.verify_token(skewed)).client_id == f"jwt:{ISSUER}:dana@example.org"


async def test_tokens_without_exp_only_when_the_operator_allows_them(idp):
    pair, jwks = idp
    settings = load_settings(
        auth={"jwt": {"jwks_url": jwks, "issuer": ISSUER, "audience": AUDIENCE, "require_exp": False}}
    )
    verifier = FleetTokenVerifier("echo", settings.auth)
    assert (await verifier.verify_token(raw_token(pair, exp=None))) is not None


def test_a_jwt_issuer_without_an_audience_refuses_to_start():
    from mcpfleet.common.errors import ConfigError

    no_audience = {"jwks_url": "http://127.0.0.1:1/jwks", "issuer": ISSUER}
    with pytest.raises(ConfigError, match="audience is not set"):
        build_http_app([ECHO], load_settings(auth={"jwt": no_audience}))
    build_http_app([ECHO], load_settings(auth={"jwt": dict(no_audience, audience_optional=True)}))


def test_long_identities_are_told_apart_everywhere():
    from mcpfleet.common.auth import caller_key, loggable

    common = "jwt:https://idp/:" + "a" * 300
    first, second = common + "-first", common + "-second"
    assert caller_key(first) != caller_key(second) and len(caller_key(first)) == 64
    assert loggable(first) != loggable(second) and len(loggable(first)) <= 128
    assert loggable("key:alice") == "key:alice"


async def test_two_long_subjects_with_a_common_prefix_are_two_callers(idp):
    pair, jwks = idp
    verifier = FleetTokenVerifier("echo", jwt_settings(jwks).auth)
    prefix = "user-" + "p" * 200
    one = await verifier.verify_token(raw_token(pair, sub=prefix + "1"))
    two = await verifier.verify_token(raw_token(pair, sub=prefix + "2"))
    assert one.client_id != two.client_id and one.client_id.endswith("1") and two.client_id.endswith("2")


async def test_a_remote_caller_named_local_is_rate_limited(idp):
    from fastmcp.exceptions import ToolError

    pair, jwks = idp
    settings = load_settings(
        auth={"jwt": {"jwks_url": jwks, "issuer": ISSUER, "audience": AUDIENCE}},
        limits={"rate_limit_per_minute": 1, "rate_limit_burst": 2},
    )
    with running_app(build_http_app([ECHO], settings)) as url:
        async with Client(f"{url}/echo/mcp", auth=raw_token(pair, sub="local")) as c:
            await c.call_tool("echo_say", {"text": "1"})
            await c.call_tool("echo_say", {"text": "2"})
            with pytest.raises(ToolError, match="rate limit reached"):
                await c.call_tool("echo_say", {"text": "3"})


def test_duplicate_authorization_headers_are_refused(api_keys):
    import socket

    settings = load_settings(auth={"api_keys": api_keys})
    with running_app(build_http_app([ECHO], settings)) as url:
        host, port = url.removeprefix("http://").split(":")
        body = b'{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}'
        for second in (KEYS["bob"], KEYS["alice"]):
            request = (
                f"POST /echo/mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                f"Accept: application/json, text/event-stream\r\nAuthorization: Bearer {KEYS['alice']}\r\n"
                f"Authorization: Bearer {second}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            ).encode() + body
            with socket.create_connection((host, int(port)), timeout=10) as sock:
                sock.sendall(request)
                answer = b""
                while chunk := sock.recv(65536):
                    answer += chunk
            assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
            assert b"more than one Authorization header" in answer
