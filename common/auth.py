"""Who may call which server: API keys (stored hashed, scoped to servers) and JWTs (JWKS).

A bearer token is tried as an API key first (a hash lookup: cheap, no network), then as a JWT
when a JWKS URL or public key is configured. The verified caller becomes a FastMCP `AccessToken`
whose `client_id` is the caller's identity for logs, metrics and rate limits.

Each server gets its own provider, so a key scoped to `math` is refused by `web` with the same
401 as an unknown key: a scoped key does not even learn which other servers exist.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastmcp.server.auth import AccessToken, RemoteAuthProvider, TokenVerifier
from fastmcp.server.auth.providers.jwt import JWTVerifier
from fastmcp.server.dependencies import get_access_token

from mcpfleet.common.errors import ConfigError
from mcpfleet.common.settings import ApiKey, AuthSettings, Settings

KEY_PREFIX = "mcpf_"
LOCAL_CALLER = "local"
ANONYMOUS_CALLER = "anonymous"


def hash_key(key: str) -> str:
    """The form a key is stored in: `sha256:<hex>` (keys are random, so no salt is needed)."""
    return "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> str:
    """A fresh API key with 256 bits of randomness."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


class FleetTokenVerifier(TokenVerifier):
    """Verifies API keys and JWTs for one server."""

    def __init__(self, server: str, settings: AuthSettings) -> None:
        self.server = server
        self._keys: dict[str, ApiKey] = {k.hash: k for k in settings.api_keys}
        self._jwt = _jwt_verifier(settings) if settings.jwt else None
        self._identity_claim = settings.jwt.identity_claim if settings.jwt else "sub"
        # API keys carry no scopes of their own: they are granted what JWTs must show.
        self._key_scopes = list(settings.jwt.required_scopes) if settings.jwt else []
        super().__init__(required_scopes=self._key_scopes or None)

    async def verify_token(self, token: str) -> AccessToken | None:
        key = self._lookup_key(token)
        if key is not None:
            if not key.allows(self.server):
                return None
            return AccessToken(
                token="", client_id=key.name, scopes=self._key_scopes, claims={"auth": "api_key"}
            )
        if self._jwt is None or token.count(".") != 2:
            return None
        verified = await self._jwt.verify_token(token)
        if verified is None:
            return None
        identity = str(verified.claims.get(self._identity_claim) or verified.client_id or "jwt")
        return verified.model_copy(update={"client_id": identity[:128]})

    def _lookup_key(self, token: str) -> ApiKey | None:
        digest = hash_key(token)
        key = self._keys.get(digest)
        # The dict lookup compares hashes, not secrets; compare_digest keeps it constant-time anyway.
        if key is not None and hmac.compare_digest(key.hash, digest):
            return key
        return None


def _jwt_verifier(settings: AuthSettings) -> JWTVerifier:
    jwt = settings.jwt
    assert jwt is not None
    if not jwt.jwks_url and not jwt.public_key:
        raise ConfigError("auth.jwt needs jwks_url or public_key")
    try:
        return JWTVerifier(
            jwks_uri=jwt.jwks_url,
            public_key=jwt.public_key,
            issuer=jwt.issuer,
            audience=jwt.audience,
            algorithm=jwt.algorithm,
            # Scopes are checked by the HTTP layer against this verifier's required_scopes, which
            # answers a token without them with 403 insufficient_scope rather than 401.
            required_scopes=None,
        )
    except ValueError as exc:
        raise ConfigError(f"auth.jwt: {exc}") from None


def build_auth(server: str, title: str, settings: Settings) -> TokenVerifier | RemoteAuthProvider | None:
    """The auth provider for one server, or None when auth is off.

    With a JWT issuer configured it serves RFC 9728 protected-resource metadata for
    `<base>/<server>/mcp` naming the issuer as authorization server, and 401 challenges point
    to it, so OAuth-capable clients discover where to log in. RFC 9728 metadata must name an
    authorization server, so with API keys alone there is no metadata document.
    """
    if not settings.auth.enabled:
        return None
    verifier = FleetTokenVerifier(server, settings.auth)
    jwt = settings.auth.jwt
    if not (jwt and jwt.issuer and jwt.issuer.startswith(("http://", "https://"))):
        return verifier
    return RemoteAuthProvider(
        token_verifier=verifier,
        authorization_servers=[jwt.issuer],  # type: ignore[list-item]
        base_url=settings.base_url,
        resource_base_url=f"{settings.base_url}/{server}",
        resource_name=title,
    )


def current_caller() -> str:
    """The verified identity of the caller of the current request.

    `local` for stdio and in-process use (the user who started the process), `anonymous` over
    HTTP without auth.
    """
    try:
        token = get_access_token()
    except RuntimeError:
        token = None
    if token is not None:
        return token.client_id
    from fastmcp.server.context import _current_transport

    return ANONYMOUS_CALLER if _current_transport.get() in ("streamable-http", "sse") else LOCAL_CALLER
