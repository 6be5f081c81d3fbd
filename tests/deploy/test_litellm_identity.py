"""Each end user is a distinct caller through a real LiteLLM proxy on 127.0.0.1.

`mcpfleet litellm config --identity header` writes both sides: LiteLLM's config.yaml (the fleet's
servers plus the `mcp_jwt_signer` guardrail) and the fleet's `[auth]` (LiteLLM's JWKS trusted,
LiteLLM's own key `list_only`). `mcpfleet serve echo prolog` runs from that fleet config, LiteLLM
from that config.yaml with a pinned signing key (`MCP_JWT_SIGNING_KEY`, as the README says to set).
Two users (named by `x-litellm-end-user-id`, the trusted front-end's header) must be two callers:
two `jwt:` identities, two sets of Prolog knowledge bases, two rate-limit buckets, both in the
fleet's JSON log. Requests around the gateway (no token, the master key, LiteLLM's key for a call,
a JWT signed by another key, a tampered, expired or wrong-audience JWT) are refused. LiteLLM
restarted with a new signing key (a rotation) does not lock users out: the fleet refetches
LiteLLM's JWKS on the unknown `kid`.

Skipped or failed exactly as test_litellm_gateway.py is (MCPFLEET_REQUIRE_LITELLM).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import jwt
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastmcp import Client
from fastmcp.client.transports import StreamableHttpTransport
from fastmcp.exceptions import ToolError

from fleet_testing import free_port, mcpfleet_cmd, subprocess_env
from litellm_testing import GATEWAY_KEY, KEY_ENV, MASTER, proxy_cmd, proxy_config, proxy_env, require_litellm
from processes import running, wait_http

# GATEWAY_KEY is LiteLLM's own fleet key: list_only on the fleet here
AUDIENCE = "mcpfleet"
BURST = 8  # per caller and server: small enough to exhaust in a few calls

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(420)]
require_litellm()


def _pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class Proxy:
    """LiteLLM as a restartable process (a new signing key on restart models a rotation)."""

    def __init__(self, config: Path, tmp: Path) -> None:
        self.config, self.tmp = config, tmp
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._stack = contextlib.ExitStack()
        self.starts = 0

    def start(self, signing_key: rsa.RSAPrivateKey) -> None:
        self.signing_key = signing_key
        env = proxy_env(self.tmp, MCP_JWT_SIGNING_KEY=_pem(signing_key))
        self.starts += 1
        self.log = self.tmp / f"litellm-{self.starts}.log"
        proc = self._stack.enter_context(running(proxy_cmd(self.config, self.port), self.log, env=env, cwd=self.tmp))
        wait_http(f"{self.url}/health/liveliness", proc, self.log, timeout=120)

    def stop(self) -> None:
        self._stack.close()
        self._stack = contextlib.ExitStack()


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[dict]:
    tmp = tmp_path_factory.mktemp("identity")
    fleet_port = free_port()
    fleet_url = f"http://127.0.0.1:{fleet_port}"
    fleet_toml = tmp / "fleet.toml"
    proxy = Proxy(tmp / "litellm.yaml", tmp)
    generated = subprocess.run(
        mcpfleet_cmd(
            "litellm",
            "config",
            "echo",
            "prolog",
            "--fleet-url",
            fleet_url,
            "--tools",
            "any",
            "--key-env",
            KEY_ENV,
            "--identity",
            "header",
            "--gateway-url",
            proxy.url,
            "--fleet-out",
            str(fleet_toml),
        ),
        capture_output=True,
        text=True,
        timeout=60,
        env=subprocess_env(**{KEY_ENV: GATEWAY_KEY}),
        check=True,
    ).stdout
    proxy.config.write_text(proxy_config(generated))
    fleet_env = subprocess_env(
        MCPFLEET_CONFIG=str(fleet_toml),
        MCPFLEET_TELEMETRY__LOG_FORMAT="json",
        MCPFLEET_LIMITS__RATE_LIMIT_BURST=str(BURST),
        MCPFLEET_LIMITS__RATE_LIMIT_PER_MINUTE="6",
    )
    fleet_log = tmp / "fleet.log"
    with running(
        mcpfleet_cmd("serve", "echo", "prolog", "--port", str(fleet_port)), fleet_log, env=fleet_env, cwd=tmp
    ) as fleet:
        wait_http(f"{fleet_url}/readyz", fleet, fleet_log, timeout=120)
        proxy.start(_new_key())
        try:
            yield {
                "fleet": fleet_url,
                "proxy": proxy,
                "fleet_log": fleet_log,
                "config": generated,
                "fleet_toml": fleet_toml.read_text(),
            }
        finally:
            proxy.stop()


def as_user(stack: dict, user: str | None) -> Client:
    headers = {"x-litellm-api-key": f"Bearer {MASTER}"}
    if user:
        headers["x-litellm-end-user-id"] = user
    return Client(StreamableHttpTransport(f"{stack['proxy'].url}/mcp/", headers=headers), timeout=60)


def direct(stack: dict, server: str, token: str) -> Client:
    return Client(StreamableHttpTransport(f"{stack['fleet']}/{server}/mcp", auth=token), timeout=30)


def mint(stack: dict, sub: str, key: rsa.RSAPrivateKey | None = None, kid: str | None = None, **claims) -> str:
    """A token shaped like LiteLLM's (iss, aud, sub, exp, kid), signed with `key` (default LiteLLM's)."""
    proxy = stack["proxy"]
    now = int(time.time())
    body = {"iss": proxy.url, "aud": AUDIENCE, "sub": sub, "iat": now, "nbf": now, "exp": now + 300, **claims}
    headers = {"kid": kid or gateway_kid(stack)}
    return jwt.encode(body, _pem(key or proxy.signing_key), algorithm="RS256", headers=headers)


def gateway_kid(stack: dict) -> str:
    keys = httpx2.get(f"{stack['proxy'].url}/.well-known/jwks.json", timeout=10).json()["keys"]
    assert len(keys) == 1 and keys[0]["kty"] == "RSA"
    return keys[0]["kid"]


def call_log(stack: dict, tool: str, want: int = 1) -> list[dict]:
    deadline = time.monotonic() + 10
    calls: list[dict] = []
    while time.monotonic() < deadline:
        lines = [json.loads(line) for line in stack["fleet_log"].read_text().splitlines() if line.startswith("{")]
        calls = [r for r in lines if r.get("logger") == "mcpfleet.calls" and r.get("tool") == tool]
        if len(calls) >= want:
            break
        time.sleep(0.2)
    return calls


async def whoami(stack: dict, user: str | None) -> str:
    async with as_user(stack, user) as client:
        result = await client.call_tool("echo-echo_whoami", {})
    return result.content[0].text


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def identities(stack) -> dict[str, str]:
    return {user: await whoami(stack, user) for user in ("alice", "bob")}


async def test_generated_configs_pair_litellms_signer_with_the_fleets_trust(stack):
    proxy = stack["proxy"]
    assert "guardrail: mcp_jwt_signer" in stack["config"] and "mode: pre_mcp_call" in stack["config"]
    assert f"issuer: {proxy.url}" in stack["config"] and "- litellm:end_user_id" in stack["config"]
    assert f'jwks_url = "{proxy.url}/.well-known/jwks.json"' in stack["fleet_toml"]
    assert "list_only = true" in stack["fleet_toml"] and GATEWAY_KEY not in stack["fleet_toml"]


async def test_two_users_are_two_jwt_identities(stack, identities):
    proxy = stack["proxy"]
    assert identities == {"alice": f"jwt:{proxy.url}:alice", "bob": f"jwt:{proxy.url}:bob"}
    calls = call_log(stack, "echo_whoami", want=2)
    assert {identities["alice"], identities["bob"]} <= {c["caller"] for c in calls}
    assert all(c["caller"] != "key:litellm-gateway" for c in calls)


async def test_knowledge_bases_are_kept_apart(stack, identities):
    async with as_user(stack, "alice") as alice, as_user(stack, "bob") as bob:
        await alice.call_tool("prolog-prolog_consult", {"program": "pet(cat).", "kb": "pets"})
        await bob.call_tool("prolog-prolog_consult", {"program": "pet(dog).", "kb": "pets"})
        await alice.call_tool("prolog-prolog_consult", {"program": "secret(42).", "kb": "diary"})
        a = await alice.call_tool("prolog-prolog_query", {"query": "pet(X)", "kb": ["pets"]})
        b = await bob.call_tool("prolog-prolog_query", {"query": "pet(X)", "kb": ["pets"]})
        with pytest.raises(ToolError, match="no knowledge base named 'diary'"):
            await bob.call_tool("prolog-prolog_query", {"query": "secret(X)", "kb": ["diary"]})
    assert [s["X"]["prolog"] for s in a.structured_content["solutions"]] == ["cat"]
    assert [s["X"]["prolog"] for s in b.structured_content["solutions"]] == ["dog"]
    callers = {c["caller"] for c in call_log(stack, "prolog_consult", want=2)}
    assert {identities["alice"], identities["bob"]} <= callers


async def test_rate_limits_are_per_user(stack, identities):
    async with as_user(stack, "rl-alice") as alice, as_user(stack, "rl-bob") as bob:
        limited = None
        for n in range(BURST + 4):  # bounded: the bucket holds BURST calls
            try:
                await alice.call_tool("echo-echo_say", {"text": "hi"})
            except ToolError as exc:
                limited = (n, str(exc))
                break
        assert limited is not None and "rate limit reached" in limited[1], limited
        assert limited[0] >= BURST - 1  # not refused early
        # ...while the other user, through the same gateway key, still has the whole bucket
        result = await bob.call_tool("echo-echo_say", {"text": "still here"})
    assert "still here" in result.content[0].text


async def test_a_request_without_an_end_user_is_the_litellm_keys_own_identity(stack, identities):
    # LiteLLM falls back to the key's user (the master key's is `default_user_id`), never a named user
    caller = await whoami(stack, None)
    assert caller.startswith(f"jwt:{stack['proxy'].url}:") and caller not in identities.values()


async def test_litellms_own_key_lists_tools_but_cannot_call(stack):
    async with direct(stack, "echo", GATEWAY_KEY) as client:
        names = {t.name for t in await client.list_tools()}
        assert "echo_whoami" in names
        with pytest.raises(ToolError, match="may list tools but not call them"):
            await client.call_tool("echo_whoami", {})
    refused = [c for c in call_log(stack, "echo_whoami") if c["caller"] == "key:litellm-gateway"]
    assert refused and refused[-1]["outcome"] != "ok"
    # and the gateway's start-up listing (no user) got through with that key
    assert "Failed to get tools from server" not in stack["proxy"].log.read_text()


async def test_requests_around_the_gateway_are_refused(stack):
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    stranger = _new_key()
    good = mint(stack, "mallory")
    head, _payload, sig = good.split(".")
    tampered_payload = jwt.utils.base64url_encode(
        json.dumps({**jwt.decode(good, options={"verify_signature": False}), "sub": "alice"}).encode()
    ).decode()
    refused = {
        "no token": None,
        "LiteLLM's master key": MASTER,
        "signed by another key": mint(stack, "alice", key=stranger),
        "signed by another key, no kid": jwt.encode(
            {"iss": stack["proxy"].url, "aud": AUDIENCE, "sub": "alice", "exp": int(time.time()) + 300},
            _pem(stranger),
            algorithm="RS256",
        ),
        "tampered sub": f"{head}.{tampered_payload}.{sig}",
        "expired": mint(
            stack, "alice", exp=int(time.time()) - 120, iat=int(time.time()) - 600, nbf=int(time.time()) - 600
        ),
        "wrong audience": mint(stack, "alice", aud="some-other-service"),
        "wrong issuer": mint(stack, "alice", iss="http://127.0.0.1:1"),
    }
    for what, token in refused.items():
        auth = {"Authorization": f"Bearer {token}"} if token else {}
        for server in ("echo", "prolog"):
            r = httpx2.post(f"{stack['fleet']}/{server}/mcp", json=body, headers={**headers, **auth}, timeout=10)
            assert r.status_code == 401, (what, server, r.status_code, r.text[:200])
    # the same shape, signed with LiteLLM's key, is accepted: the refusals above are for the flaw
    async with direct(stack, "echo", good) as client:
        assert (await client.call_tool("echo_whoami", {})).content[0].text == f"jwt:{stack['proxy'].url}:mallory"


async def test_gateway_latency_per_tool_call(stack):
    """Printed, never asserted: the gateway's added time per call (distinct users: no rate limit)."""
    n = 15
    via, straight = [], []
    for i in range(n):
        async with as_user(stack, f"bench-{i}") as client:
            t = time.perf_counter()
            await client.call_tool("echo-echo_say", {"text": "x"})
            via.append(time.perf_counter() - t)
        async with direct(stack, "echo", mint(stack, f"bench-direct-{i}")) as client:
            t = time.perf_counter()
            await client.call_tool("echo_say", {"text": "x"})
            straight.append(time.perf_counter() - t)
    same = []  # one user, one session: is the added time per call or per new user?
    async with as_user(stack, "bench-same") as client:
        for _ in range(BURST - 2):
            t = time.perf_counter()
            await client.call_tool("echo-echo_say", {"text": "x"})
            same.append(time.perf_counter() - t)
    fresh = []  # the same user again, a new session each call
    for _ in range(3):
        async with as_user(stack, "bench-again") as client:
            t = time.perf_counter()
            await client.call_tool("echo-echo_say", {"text": "x"})
            fresh.append(time.perf_counter() - t)
    gw, fl, sm, fr = (statistics.median(v) * 1000 for v in (via, straight, same, fresh))
    print(
        f"\ntool call p50 through LiteLLM: first call of a new session {gw:.1f} ms (a known user: {fr:.1f} ms), "
        f"later calls in a session {sm:.1f} ms; straight to the fleet {fl:.1f} ms (n={n})"
    )
    assert len(via) == len(straight) == n


async def test_a_restart_with_a_new_signing_key_does_not_lock_users_out(stack, identities):
    proxy = stack["proxy"]
    old_kid = gateway_kid(stack)
    proxy.stop()
    proxy.start(_new_key())
    assert gateway_kid(stack) != old_kid
    # The fleet refetches the JWKS on the unknown kid (at most once per 30 s), so a user may be
    # refused for up to that long after a rotation; bounded retries, then alice is alice again.
    deadline = time.monotonic() + 90
    caller, errors = None, []
    while time.monotonic() < deadline:
        try:
            caller = await whoami(stack, "alice")
            break
        except Exception as exc:  # the client's error type varies with LiteLLM's answer
            errors.append(type(exc).__name__)
            await asyncio.sleep(3)
    assert caller == identities["alice"], errors
    assert await whoami(stack, "bob") == identities["bob"]
    print(f"\nafter the rotation: {len(errors)} refused call(s) before the fleet refetched LiteLLM's JWKS")


# --- idp and delegate: two more LiteLLMs in front of one more fleet ------------------------------

IDP_AUDIENCE = "fleet-users"


@pytest.fixture(scope="module")
def modes(tmp_path_factory) -> Iterator[dict]:
    """A fake OIDC IdP (discovery + JWKS on 127.0.0.1, the wire format LiteLLM reads), one fleet,
    and two LiteLLMs: `--identity idp` and `--identity delegate`."""
    from local_http import serving

    tmp = tmp_path_factory.mktemp("modes")
    idp_key = _new_key()
    jwk = {**jwt.algorithms.RSAAlgorithm.to_jwk(idp_key.public_key(), as_dict=True), "kid": "idp-1", "alg": "RS256"}
    box: dict[str, str] = {}

    def answer(path: str):
        if path == "/.well-known/openid-configuration":
            return 200, {"issuer": box["idp"], "jwks_uri": box["idp"] + "/jwks.json"}
        if path == "/jwks.json":
            return 200, {"keys": [jwk]}
        return 404, {"error": "not found"}

    fleet_port = free_port()
    fleet_url = f"http://127.0.0.1:{fleet_port}"
    with serving(answer) as idp:
        box["idp"] = idp
        (tmp / "idp").mkdir()
        (tmp / "delegate").mkdir()
        idp_proxy = Proxy(tmp / "idp" / "litellm.yaml", tmp / "idp")
        delegate_proxy = Proxy(tmp / "delegate" / "litellm.yaml", tmp / "delegate")
        fleet_toml = tmp / "fleet.toml"
        base = ["litellm", "config", "echo", "--fleet-url", fleet_url, "--tools", "any", "--key-env", KEY_ENV]
        env = subprocess_env(**{KEY_ENV: GATEWAY_KEY})
        idp_yaml = subprocess.run(
            mcpfleet_cmd(
                *base,
                "--identity",
                "idp",
                "--gateway-url",
                idp_proxy.url,
                "--idp-discovery-url",
                f"{idp}/.well-known/openid-configuration",
                "--idp-issuer",
                idp,
                "--idp-audience",
                IDP_AUDIENCE,
                "--fleet-out",
                str(fleet_toml),
            ),
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            check=True,
        ).stdout
        delegate_yaml = subprocess.run(
            mcpfleet_cmd(*base, "--identity", "delegate"),
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            check=True,
        ).stdout
        idp_proxy.config.write_text(proxy_config(idp_yaml))
        delegate_proxy.config.write_text(proxy_config(delegate_yaml))
        # delegate: each user's own fleet key (hashes as `mcpfleet auth hash-key` prints them)
        from fleet_testing import KEYS
        from mcpfleet.common.auth import hash_key

        users = "".join(f'\n[[auth.api_keys]]\nname = "{u}"\nhash = "{hash_key(KEYS[u])}"\n' for u in ("alice", "bob"))
        fleet_toml.write_text(fleet_toml.read_text() + users)
        fleet_env = subprocess_env(MCPFLEET_CONFIG=str(fleet_toml), MCPFLEET_TELEMETRY__LOG_FORMAT="json")
        fleet_log = tmp / "fleet.log"
        with running(
            mcpfleet_cmd("serve", "echo", "--port", str(fleet_port)), fleet_log, env=fleet_env, cwd=tmp
        ) as fleet:
            wait_http(f"{fleet_url}/readyz", fleet, fleet_log, timeout=120)
            try:
                idp_proxy.start(_new_key())
                delegate_proxy.start(_new_key())
                yield {
                    "idp": idp,
                    "idp_key": idp_key,
                    "idp_proxy": idp_proxy,
                    "delegate_proxy": delegate_proxy,
                    "fleet": fleet_url,
                    "delegate_yaml": delegate_yaml,
                }
            finally:
                idp_proxy.stop()
                delegate_proxy.stop()


def idp_token(modes: dict, sub: str, key: rsa.RSAPrivateKey | None = None) -> str:
    now = int(time.time())
    claims = {"iss": modes["idp"], "aud": IDP_AUDIENCE, "sub": sub, "iat": now, "exp": now + 300}
    return jwt.encode(claims, _pem(key or modes["idp_key"]), algorithm="RS256", headers={"kid": "idp-1"})


async def whoami_with(proxy: Proxy, bearer: str | None, **extra: str) -> str:
    headers = {"x-litellm-api-key": f"Bearer {MASTER}", **extra}
    if bearer:
        headers["Authorization"] = f"Bearer {bearer}"
    async with Client(StreamableHttpTransport(f"{proxy.url}/mcp/", headers=headers), timeout=60) as client:
        result = await client.call_tool("echo-echo_whoami", {})
    return result.content[0].text


async def test_idp_mode_names_users_by_their_own_verified_token(modes):
    proxy = modes["idp_proxy"]
    alice = await whoami_with(proxy, idp_token(modes, "alice"))
    bob = await whoami_with(proxy, idp_token(modes, "bob"))
    assert (alice, bob) == (f"jwt:{proxy.url}:alice", f"jwt:{proxy.url}:bob")
    # the end-user header cannot override the verified token
    spoofed = await whoami_with(proxy, idp_token(modes, "alice"), **{"x-litellm-end-user-id": "bob"})
    assert spoofed == alice


async def test_idp_mode_refuses_users_without_a_valid_idp_token(modes):
    # LiteLLM's mcp_jwt_signer refuses before anything reaches the fleet: a request without an IdP
    # token lacks the required claim `sub` (403), a token signed by another key fails verification
    # (401). LiteLLM answers the tools/call with an error result, a ToolError here, worded one of two
    # ways: the status while it builds its client for the server (a first call), the guardrail's
    # reason once that client exists.
    proxy = modes["idp_proxy"]
    for what, bearer, extra, status, reason in (
        (
            "no IdP token, only a name",
            None,
            {"x-litellm-end-user-id": "alice"},
            403,
            "MCPJWTSigner: incoming token is missing required claims: ['sub']. Configure the IdP to include these claims.",
        ),
        (
            "an IdP token signed by another key",
            idp_token(modes, "alice", key=_new_key()),
            {},
            401,
            "MCPJWTSigner: incoming token verification failed: Signature verification failed",
        ),
    ):
        with pytest.raises(ToolError) as refused:
            caller = await whoami_with(proxy, bearer, **extra)
            pytest.fail(f"{what}: got through as {caller}")
        assert str(refused.value) in (f"Error: upstream authentication required (HTTP {status})", f"Error: {reason}"), (
            what
        )


async def test_delegate_mode_passes_each_users_own_fleet_key(modes):
    from fleet_testing import KEYS

    proxy = modes["delegate_proxy"]
    assert "auth_type: oauth_delegate" in modes["delegate_yaml"] and "auth_value" not in modes["delegate_yaml"]
    assert await whoami_with(proxy, KEYS["alice"]) == "key:alice"
    assert await whoami_with(proxy, KEYS["bob"]) == "key:bob"
    # Without a key of their own the fleet answers 401, and LiteLLM answers the tools/call with an
    # error result (a ToolError here): the fleet's 401 relayed, or, when this call had LiteLLM list
    # the server for the caller first (a first call), that it knows no such tool (the listing got the 401).
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    assert httpx2.post(f"{modes['fleet']}/echo/mcp", json=body, headers=headers, timeout=10).status_code == 401
    with pytest.raises(ToolError) as refused:
        caller = await whoami_with(proxy, None)
        pytest.fail(f"no fleet key: got through as {caller}")
    assert str(refused.value) in (
        "Error: upstream authentication required (HTTP 401)",
        "Error: Tool 'echo_whoami' not found",
    )
