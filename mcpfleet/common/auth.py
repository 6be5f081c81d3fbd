"""Who may call which server: API keys (stored hashed, scoped to servers) and JWTs (JWKS).

A bearer token is tried as an API key first (a hash lookup: cheap, no network), then as a JWT
when a JWKS URL or public key is configured. The verified caller becomes a FastMCP `AccessToken`
whose `client_id` is the caller's identity for stores, rate limits, logs and tool output.

Identities are namespaced by how they were proven, so no two methods can name the same caller:
`key:<key name>` for an API key, `jwt:<issuer>:<subject>` for a JWT, `local` only for the
in-process and stdio transports (the user who started the process), `anonymous` for HTTP with
auth off. A token whose identity claim is missing or empty is refused, never given a fallback
identity (`client_id`/`azp` would make every such user one caller). Anything stored per caller
is keyed by `caller_key()` (a hash of the whole identity), so long identities never collide.

Each server gets its own provider, so a key scoped to `math` is refused by `web` with the same
401 as an unknown key: a scoped key does not even learn which other servers exist.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import hmac
import secrets
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from fastmcp.server.auth import AccessToken, RemoteAuthProvider, TokenVerifier
from fastmcp.server.dependencies import get_access_token
from starlette.authentication import AuthCredentials, UnauthenticatedUser
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from mcpfleet.common.compat import (
    HTTP_TRANSPORTS,
    current_transport,
    sdk_auth_user,
    sdk_bearer_token,
    sdk_bearer_value,
)
from mcpfleet.common.errors import ConfigError, UserError
from mcpfleet.common.settings import ApiKey, AuthSettings, JwtSettings, Settings

if TYPE_CHECKING:
    from fastmcp.server.auth.providers.jwt import JWTVerifier

KEY_PREFIX = "mcpf_"
LOCAL_CALLER = "local"
ANONYMOUS_CALLER = "anonymous"
KEY_NAMESPACE = "key:"
JWT_NAMESPACE = "jwt:"
LOG_IDENTITY_CHARS = 128
_VERIFIED_TTL = 10.0
_VERIFIED_MAX = 1024
_MAX_SUBJECT_CHARS = 1024

# Set only by server code that acts for a caller outside a request (never from request data).
_caller_override: contextvars.ContextVar[str | None] = contextvars.ContextVar("mcpfleet_caller", default=None)
# The caller of the tool call running now and its token, looked up once when the call starts
# (`begin_call`); everything the call runs (limits, the tool, its threads) reads it from here.
_call_identity: contextvars.ContextVar[tuple[str, AccessToken | None] | None] = contextvars.ContextVar(
    "mcpfleet_call_identity", default=None
)
# The HTTP guard's verification of a request's bearer token, kept in the ASGI scope for the
# server's own auth layer: (the FleetTokenVerifier, the request's first Authorization header as
# the guard read it from the scope, the token verified, what verify_token returned).
VERIFIED_SCOPE_KEY = "mcpfleet.verified"
_AuthenticatedUser, _auth_context_var = sdk_auth_user()


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
        # API keys carry no scopes of their own: they are granted what JWTs must show.
        self._key_scopes = list(settings.jwt.required_scopes) if settings.jwt else []
        # What each key verifies to on this server, built once (None: not one of its servers):
        # the same answer for every request with that key, without a pydantic model built per request.
        self._keys: dict[str, tuple[ApiKey, AccessToken | None]] = {
            k.hash: (k, self._key_access(k) if k.allows(server) else None) for k in settings.api_keys
        }
        self._jwt = _jwt_verifier(settings) if settings.jwt else None
        self._jwt_settings = settings.jwt
        self._verified: dict[bytes, tuple[AccessToken, float]] = {}
        self._identity_claim = settings.jwt.identity_claim if settings.jwt else "sub"
        super().__init__(required_scopes=self._key_scopes or None)

    def _key_access(self, key: ApiKey) -> AccessToken:
        claims = {"auth": "api_key", "list_only": True} if key.list_only else {"auth": "api_key"}
        return AccessToken(token="", client_id=KEY_NAMESPACE + key.name, scopes=self._key_scopes, claims=claims)

    async def verify_token(self, token: str) -> AccessToken | None:
        found = self._lookup_key(token)
        if found is not None:
            return found[1]
        if self._jwt is None or token.count(".") != 2:
            return None
        digest = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
        cached = self._verified.get(digest)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        verified = await self._jwt.verify_token(token)
        if verified is None:
            return None
        identity = jwt_identity(verified.claims, self._identity_claim, self._jwt_settings)
        if identity is None:
            return None
        access = verified.model_copy(update={"client_id": identity})
        self._remember(digest, access)
        return access

    async def verify_request(self, scope: Scope, authorization: bytes, token: str) -> AccessToken | None:
        """`verify_token(token)`, `token` read from the request's first Authorization header
        `authorization`, with the answer kept in the request's scope: the server's auth layer
        (`BearerAuthMiddleware`) reuses it for the same token instead of verifying it again."""
        access = await self.verify_token(token)
        scope[VERIFIED_SCOPE_KEY] = (self, authorization, token, access)
        return access

    def get_middleware(self) -> list:
        return [Middleware(BearerAuthMiddleware, provider=self, verifier=self)]

    def _remember(self, digest: bytes, access: AccessToken) -> None:
        # A client sends the same token with every request (and the HTTP guard checks it once
        # before FastMCP does): a verified JWT is reused for a few seconds, never past its exp.
        ttl = _VERIFIED_TTL
        if access.expires_at is not None:
            ttl = min(ttl, access.expires_at - time.time())
        if ttl <= 0:
            return
        self._verified[digest] = (access, time.monotonic() + ttl)
        if len(self._verified) > _VERIFIED_MAX:
            self._verified.pop(next(iter(self._verified)))

    def _lookup_key(self, token: str) -> tuple[ApiKey, AccessToken | None] | None:
        digest = hash_key(token)
        found = self._keys.get(digest)
        # The dict lookup compares hashes, not secrets; compare_digest keeps it constant-time anyway.
        if found is not None and hmac.compare_digest(found[0].hash, digest):
            return found
        return None


class FleetRemoteAuthProvider(RemoteAuthProvider):
    """FastMCP's RemoteAuthProvider (RFC 9728 metadata, challenges naming the issuer) with the
    fleet's one-layer auth in front of the endpoint instead of FastMCP's two."""

    def get_middleware(self) -> list:
        return [Middleware(BearerAuthMiddleware, provider=self, verifier=self.token_verifier)]


class BearerAuthMiddleware:
    """FastMCP's auth layers (compat.fastmcp_auth_layers) in one, verifying a token once a request.

    What they do, as they do it: the token is read as the SDK reads it (compat.sdk_bearer_token);
    a verified, unexpired token puts an `AuthenticatedUser` in `scope["user"]` and its scopes in
    `scope["auth"]`, and sets the SDK's auth context for the request; anything else leaves an
    `UnauthenticatedUser`, which FastMCP's RequireAuthMiddleware (still behind this layer) answers
    with its 401 or 403. When the HTTP guard has already verified this very token with this
    server's verifier (`FleetTokenVerifier.verify_request`), its answer is used, not recomputed.
    """

    def __init__(self, app: ASGIApp, provider: TokenVerifier | RemoteAuthProvider, verifier: object) -> None:
        self.app = app
        self.provider = provider
        self.verifier = verifier

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        access = await self._authenticate(scope)
        if access is None:
            scope["auth"], scope["user"] = AuthCredentials(), UnauthenticatedUser()
            await self.app(scope, receive, send)
            return
        user = _AuthenticatedUser(access)
        scope["auth"], scope["user"] = AuthCredentials(access.scopes), user
        reset = _auth_context_var.set(user)
        try:
            await self.app(scope, receive, send)
        finally:
            _auth_context_var.reset(reset)

    async def _authenticate(self, scope: Scope) -> Any:
        verified = scope.get(VERIFIED_SCOPE_KEY)
        if verified is not None and verified[0] is self.verifier:
            token = sdk_bearer_value(verified[1])  # the header the guard found in this scope
        else:
            token, verified = sdk_bearer_token(scope), None
        if not token:
            return None
        if verified is not None and verified[2] == token:
            access = verified[3]
        else:
            access = await self.provider.verify_token(token)
        if not access or (access.expires_at and access.expires_at < int(time.time())):
            return None
        return access


def jwt_identity(
    claims: dict, identity_claim: str, settings: JwtSettings | None, now: float | None = None
) -> str | None:
    """`jwt:<issuer>:<subject>` for a signature-verified token's claims, or None to refuse it.

    Refused: no usable identity claim (missing, empty, not a string, over 1,024 characters); no
    `exp` when `require_exp` is on; a time claim that is not a number; `nbf` or `iat` in the
    future beyond `leeway` seconds.
    (FastMCP has already checked the signature, `exp`, issuer and audience.)
    """
    now = time.time() if now is None else now
    leeway = settings.leeway if settings else 0.0
    subject = claims.get(identity_claim)
    if not isinstance(subject, str) or not subject.strip() or len(subject) > _MAX_SUBJECT_CHARS:
        return None
    exp = claims.get("exp")
    if exp is None and (settings is None or settings.require_exp):
        return None
    times = [claims.get(name) for name in ("exp", "nbf", "iat")]
    if any(t is not None and (isinstance(t, bool) or not isinstance(t, (int, float))) for t in times):
        return None
    # exp itself is checked by FastMCP (strictly, no leeway); a token not yet valid or issued in
    # the future (beyond the clock skew allowed) is refused here.
    if any(t is not None and t > now + leeway for t in times[1:]):
        return None
    issuer = claims.get("iss")
    issuer = issuer if isinstance(issuer, str) else ""
    return f"{JWT_NAMESPACE}{issuer}:{subject}"


def _jwt_verifier(settings: AuthSettings) -> JWTVerifier:
    # Imported only in JWT mode: FastMCP's JWT verifier loads joserfc and cryptography (~0.35 s).
    from fastmcp.server.auth.providers.jwt import JWTVerifier

    jwt = settings.jwt
    assert jwt is not None
    if not jwt.jwks_url and not jwt.public_key:
        raise ConfigError("auth.jwt needs jwks_url or public_key")
    if not jwt.audience and not jwt.audience_optional:
        raise ConfigError(
            "auth.jwt.audience is not set: without it a token issued for any other service of the "
            "same identity provider would be accepted. Set auth.jwt.audience (e.g. the fleet's "
            "client id), or auth.jwt.audience_optional = true if the issuer mints tokens for the "
            "fleet alone."
        )
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


def build_auth(server: str, title: str, settings: Settings) -> FleetTokenVerifier | FleetRemoteAuthProvider | None:
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
    return FleetRemoteAuthProvider(
        token_verifier=verifier,
        authorization_servers=[jwt.issuer],  # type: ignore[list-item]
        base_url=settings.base_url,
        resource_base_url=f"{settings.base_url}/{server}",
        resource_name=title,
    )


def current_caller() -> str:
    """The verified, namespaced identity of the caller of the current request.

    `key:<name>` or `jwt:<issuer>:<subject>` for an authenticated caller, `local` for stdio and
    in-process use (the user who started the process), `anonymous` over HTTP without auth.
    """
    override = _caller_override.get()
    if override is not None:
        return override
    return _identity()[0]


def _identity() -> tuple[str, AccessToken | None]:
    """The running call's (caller, token): set once by `begin_call`, else looked up now."""
    return _call_identity.get() or _look_up_caller()


def _look_up_caller() -> tuple[str, AccessToken | None]:
    try:
        token = get_access_token()
    except RuntimeError:
        token = None
    if token is not None:
        return token.client_id, token
    return (ANONYMOUS_CALLER if current_transport() in HTTP_TRANSPORTS else LOCAL_CALLER), None


def begin_call() -> contextvars.Token:
    """Look up the caller of the tool call starting now, once, for everything the call runs;
    pass what it returns to `end_call` when the call ends (the outermost middleware does both)."""
    return _call_identity.set(_look_up_caller())


def end_call(token: contextvars.Token) -> None:
    _call_identity.reset(token)


@contextlib.contextmanager
def acting_for(caller: str) -> Iterator[None]:
    """Run server code as `caller` outside a request (background jobs, tests); never from input."""
    token = _caller_override.set(caller)
    try:
        yield
    finally:
        _caller_override.reset(token)


def is_local(caller: str) -> bool:
    """True only for the in-process/stdio user; no remote caller can be `local` (they are namespaced)."""
    return caller == LOCAL_CALLER


def caller_key(caller: str) -> str:
    """What stores and limiters key a caller by: a hash of the whole identity (fixed length)."""
    return hashlib.sha256(caller.encode("utf-8", "surrogatepass")).hexdigest()


def loggable(caller: str) -> str:
    """The identity for logs: whole when short, else a prefix plus a hash that tells it apart."""
    if len(caller) <= LOG_IDENTITY_CHARS:
        return caller
    return caller[: LOG_IDENTITY_CHARS - 18] + "…#" + caller_key(caller)[:16]


def refuse_list_only() -> None:
    """Refuse a tool call by an API key marked `list_only` (a gateway's service key: LiteLLM lists
    the tools at start-up with it, while every user's call carries that user's own token)."""
    token = _identity()[1]
    if token is not None and token.claims.get("list_only") is True:
        raise UserError(
            f"{loggable(token.client_id)} may list tools but not call them: call through the gateway "
            "as a user (the gateway signs each user's call with that user's identity)"
        )
