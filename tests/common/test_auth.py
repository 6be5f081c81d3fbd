"""API keys and JWTs (against a real JWKS endpoint on 127.0.0.1), RFC 9728 metadata."""

from __future__ import annotations

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
    from fastmcp.server.auth.providers.jwt import _jwk_to_pem  # noqa: F401  (ensures the module API we rely on)
    from cryptography.hazmat.primitives import serialization
    import jwt as pyjwt

    public = serialization.load_pem_public_key(pair.public_key.encode())
    jwk = pyjwt.algorithms.RSAAlgorithm.to_jwk(public, as_dict=True)
    jwk.update({"kid": "k1", "use": "sig", "alg": "RS256"})
    app = Starlette(routes=[Route("/jwks", lambda r: JSONResponse({"keys": [jwk]}))])
    with running_app(app) as url:
        yield pair, f"{url}/jwks"


def token(pair: RSAKeyPair, **overrides) -> str:
    claims = {"subject": "dana@example.org", "issuer": ISSUER, "audience": AUDIENCE, "scopes": ["mcp"],
              "kid": "k1", "expires_in_seconds": 300}
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
        no_scope = httpx2.post(f"{url}/echo/mcp", json=body, headers=dict(headers, Authorization=f"Bearer {token(pair, scopes=['other'])}"))
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
    started = time.monotonic()
    assert await verifier.verify_token(token(RSAKeyPair.generate())) is None
    assert time.monotonic() - started < 15
