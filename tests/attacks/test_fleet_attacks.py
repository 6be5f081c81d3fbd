"""An attack run against the whole fleet as it is served: `mcpfleet serve all` over HTTP on
loopback, with API keys and a JWT issuer, and secrets in its environment.

Every attempt (sandbox escapes, SSRF, path tricks, parser bombs, another caller's data, forged
and malformed credentials) must be refused or stopped: no file is created, no secret appears in
any answer, and a bystander calling a cheap tool throughout is always answered. The bystander's
latencies are printed (speed is measured in benchmarks/, never asserted here); each of its calls
has a generous client timeout only so a hang fails the test instead of stalling it.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path

import httpx2
import pytest
from fastmcp import Client
from fastmcp.exceptions import ToolError
from fastmcp.server.auth.providers.jwt import RSAKeyPair
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from fleet_testing import KEYS, running_app, serving
from mcpfleet.common.auth import hash_key

ISSUER = "https://idp.attack.test/realms/fleet"
AUDIENCE = "mcpfleet"
CANARIES = {
    "GITHUB_TOKEN": "ghp_CANARY" + uuid.uuid4().hex,
    "GITLAB_TOKEN": "glpat-CANARY" + uuid.uuid4().hex,
    "NPM_TOKEN": "npm_CANARY" + uuid.uuid4().hex,
    "AWS_SECRET_ACCESS_KEY": "AWSCANARY" + uuid.uuid4().hex,
}
BYSTANDER_TIMEOUT = 20.0


@pytest.fixture(scope="module")
def idp():
    import jwt as pyjwt
    from cryptography.hazmat.primitives import serialization

    pair = RSAKeyPair.generate()
    jwk = pyjwt.algorithms.RSAAlgorithm.to_jwk(
        serialization.load_pem_public_key(pair.public_key.encode()), as_dict=True
    )
    jwk.update({"kid": "k1", "use": "sig", "alg": "RS256"})
    app = Starlette(routes=[Route("/jwks", lambda r: JSONResponse({"keys": [jwk]}))])
    with running_app(app) as url:
        yield pair, f"{url}/jwks"


def jwt_for(pair: RSAKeyPair, subject: str, **claims) -> str:
    import jwt as pyjwt

    now = int(time.time())
    body = {"sub": subject, "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 900, **claims}
    return pyjwt.encode(body, pair.private_key.get_secret_value(), algorithm="RS256", headers={"kid": "k1"})


@pytest.fixture(scope="module")
def marker_dir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("attack-markers")
    path.chmod(0o777)  # writable by anyone: only the sandboxes may stop a write here
    return path


@pytest.fixture(scope="module")
def fleet(tmp_path_factory, idp):
    pair, jwks = idp
    keys = [
        {"name": "alice", "hash": hash_key(KEYS["alice"])},
        {"name": "bob", "hash": hash_key(KEYS["bob"])},
    ]
    env = {
        "MCPFLEET_AUTH__API_KEYS": json.dumps(keys),
        "MCPFLEET_AUTH__JWT__JWKS_URL": jwks,
        "MCPFLEET_AUTH__JWT__ISSUER": ISSUER,
        "MCPFLEET_AUTH__JWT__AUDIENCE": AUDIENCE,
        "MCPFLEET_LIMITS__TOOL_TIMEOUT": "20",
        "MCPFLEET_LIMITS__RATE_LIMIT_PER_MINUTE": "6000",
        "MCPFLEET_LIMITS__RATE_LIMIT_BURST": "600",
        "MCPFLEET_PLUGINS": "[]",
        **CANARIES,
    }
    with serving(tmp_path_factory.mktemp("attacks"), "all", ready_timeout=180, **env) as (url, proc, log):
        yield {"url": url, "proc": proc, "log": log, "pair": pair}


def callers(fleet) -> dict[str, str]:
    """The two kinds of authentication, one attacker each."""
    return {"api key": KEYS["alice"], "jwt": jwt_for(fleet["pair"], "mallory@attack.test")}


def everything_said(result) -> str:
    parts = [getattr(block, "text", "") for block in result.content]
    parts.append(json.dumps(result.structured_content, default=str) if result.structured_content else "")
    return "\n".join(parts)


async def attempt(url: str, token: str, server: str, tool: str, args: dict) -> str:
    """Call a tool as an attacker; returns everything the answer said (an error's message too)."""
    async with Client(f"{url}/{server}/mcp", auth=token, timeout=60) as client:
        try:
            result = await client.call_tool(tool, args, raise_on_error=False)
        except ToolError as exc:
            return str(exc)
        return everything_said(result)


def attacks(marker: Path, fleet_url: str) -> list[tuple[str, str, str, dict]]:
    touch = f"touch {marker}/{{}}"
    port = fleet_url.rsplit(":", 1)[1]
    prolog = [
        "put_attr(X, freeze, shell('{}')), X = 1",
        "G = shell('{}'), put_attr(X, freeze, G), X = 1",
        "put_attr(X, freeze, '$and'(true, shell('{}'))), X = 1",
        "freeze(X, shell('{}')), X = 1",
        "when(nonvar(X), shell('{}')), X = 1",
        "atom_to_term('shell(\\'{}\\')', T, _), call(T)",
        "nb_setval(k, shell('{}')), nb_getval(k, G), call(G)",
        "catch(throw(x), _, shell('{}'))",
        "assertz((user:term_expansion(_, _) :- shell('{}')))",
        "process_create(path(touch), ['{}'], [])",
        "open('/proc/1/environ', read, S), read_term(S, T, [])",
        "read_file_to_string('/proc/self/environ', S, [])",
        "getenv('GITHUB_TOKEN', X)",
    ]
    found: list[tuple[str, str, str, dict]] = []
    for i, goal in enumerate(prolog):
        name = f"prolog{i}"
        found.append((name, "prolog", "prolog_query", {"query": goal.format(touch.format(name))}))
    found += [
        (
            "consult-init",
            "prolog",
            "prolog_consult",
            {"kb": "trap", "program": f":- initialization(shell('{touch.format('consult-init')}')).\np."},
        ),
        (
            "consult-freeze",
            "prolog",
            "prolog_consult",
            {"kb": "trap2", "program": f"p :- put_attr(X, freeze, shell('{touch.format('consult-freeze')}')), X = 1."},
        ),
        (
            "math-import",
            "math",
            "math_simplify",
            {"expression": f"__import__('os').system('{touch.format('math-import')}')"},
        ),
        ("math-dunder", "math", "math_simplify", {"expression": "().__class__.__base__.__subclasses__()"}),
        ("math-lambda", "math", "math_simplify", {"expression": "(lambda: 1)()"}),
        ("math-bomb", "math", "math_simplify", {"expression": "9**9**9**9", "operation": "evaluate"}),
        ("web-loopback", "web", "web_fetch", {"url": f"http://127.0.0.1:{port}/"}),
        ("web-metadata", "web", "web_fetch", {"url": "http://169.254.169.254/latest/meta-data/"}),
        ("web-translated", "web", "web_fetch", {"url": f"http://[::ffff:0:7f00:1]:{port}/"}),
        ("web-hex", "web", "web_fetch", {"url": f"http://0x7f000001:{port}/"}),
        ("web-file", "web", "web_fetch", {"url": "file:///etc/passwd"}),
        ("docs-local", "docs", "docs_index", {"repo": "/etc"}),
        ("docs-traversal", "docs", "docs_read", {"library": "ollama/ollama", "path": "../../../../etc/passwd"}),
        ("docs-loopback", "docs", "docs_index", {"repo": f"http://127.0.0.1:{port}/x/y"}),
        (
            "k8s-python-tag",
            "k8s",
            "k8s_validate",
            {"manifest": f"!!python/object/apply:os.system ['{touch.format('k8s')}']"},
        ),
        (
            "k8s-laughs",
            "k8s",
            "k8s_validate",
            {
                "manifest": "a: &a [x,x,x,x,x,x,x,x,x]\n"
                + "".join(
                    f"{c}: &{c} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]\n"
                    for p, c in zip("abcdefgh", "bcdefghi")
                )
            },
        ),
        ("k8s-deep", "k8s", "k8s_validate", {"manifest": "[" * 20_000 + "]" * 20_000}),
        ("npm-traversal", "npm", "npm_package", {"name": "../../../etc/passwd"}),
        ("npm-url", "npm", "npm_package", {"name": f"http://127.0.0.1:{port}/x"}),
        ("ui-loopback", "ui", "ui_components", {"registry": f"http://127.0.0.1:{port}/"}),
        ("ui-metadata", "ui", "ui_component", {"name": "button", "registry": "http://169.254.169.254/r/{name}.json"}),
        ("ui-theme-import", "ui", "ui_tailwind", {"classes": "p-2", "theme": "@import 'file:///etc/passwd';"}),
        ("ui-theme-plugin", "ui", "ui_tailwind", {"classes": "p-2", "theme": "@plugin 'child_process';"}),
    ]
    return found


async def bystander(url: str, stop: asyncio.Event, latencies: list[float], failures: list[str]) -> None:
    """bob calls cheap tools of three servers over and over while the attacks run."""
    calls = [
        ("k8s", "k8s_rules", {}),
        ("ui", "ui_theme", {"prefix": "--color-red"}),
        ("prolog", "prolog_query", {"query": "X = 1"}),
    ]
    i = 0
    while not stop.is_set():
        server, tool, args = calls[i % len(calls)]
        i += 1
        started = time.monotonic()
        try:
            async with Client(f"{url}/{server}/mcp", auth=KEYS["bob"], timeout=BYSTANDER_TIMEOUT) as client:
                result = await asyncio.wait_for(client.call_tool(tool, args, raise_on_error=False), BYSTANDER_TIMEOUT)
            if result.is_error:
                failures.append(f"{tool}: {everything_said(result)[:200]}")
        except Exception as exc:  # any failure of the bystander is the finding
            failures.append(f"{tool}: {type(exc).__name__}: {exc}"[:300])
        latencies.append(time.monotonic() - started)
        await asyncio.sleep(0.2)


def assert_clean(said: str, name: str) -> None:
    for variable, secret in CANARIES.items():
        assert secret not in said, f"{name}: {variable} leaked"
    assert "Traceback" not in said, f"{name}: a traceback reached the caller"
    assert "root:x:0:0" not in said, f"{name}: a local file was read"
    assert '"name": "mcpfleet"' not in said and '"name":"mcpfleet"' not in said, f"{name}: the fleet itself was fetched"


async def test_no_attempt_escapes_leaks_or_starves_anyone(fleet, marker_dir):
    url = fleet["url"]
    stop = asyncio.Event()
    latencies: list[float] = []
    failures: list[str] = []
    watcher = asyncio.create_task(bystander(url, stop, latencies, failures))
    try:
        for kind, token in callers(fleet).items():
            for name, server, tool, args in attacks(marker_dir, url):
                said = await attempt(url, token, server, tool, args)
                assert_clean(said, f"{kind}/{name}")
            # One caller floods the Prolog pool with slow queries; the bystander keeps its turn.
            flood = [
                attempt(url, token, "prolog", "prolog_query", {"query": "repeat, fail", "timeout": 3})
                for _ in range(12)
            ]
            for said in await asyncio.gather(*flood):
                assert_clean(said, f"{kind}/flood")
    finally:
        stop.set()
        await watcher
    created = sorted(p.name for p in marker_dir.iterdir())
    assert created == [], f"attacks created files: {created}"
    assert not failures, failures
    assert fleet["proc"].poll() is None, "the fleet died"
    latencies.sort()
    print(f"bystander: {len(latencies)} calls, p50 {latencies[len(latencies) // 2]:.3f} s, max {latencies[-1]:.3f} s")


async def test_another_callers_knowledge_bases_stay_out_of_reach(fleet):
    url = fleet["url"]
    secret = f"code({uuid.uuid4().int % 10**9})."
    tokens = {
        "key:alice": KEYS["alice"],
        "jwt alice": jwt_for(fleet["pair"], "alice"),  # same name, other proof: another caller
        "jwt mallory": jwt_for(fleet["pair"], "mallory@attack.test"),
    }
    said = await attempt(url, tokens["key:alice"], "prolog", "prolog_consult", {"kb": "secret", "program": secret})
    assert "stored" in said and '"ok": true' in said, said
    for who in ("jwt alice", "jwt mallory"):
        listing = await attempt(url, tokens[who], "prolog", "prolog_kb", {"action": "list"})
        assert "secret" not in listing, (who, listing)
        shown = await attempt(url, tokens[who], "prolog", "prolog_kb", {"action": "show", "kb": "secret"})
        assert secret not in shown, (who, shown)
        queried = await attempt(url, tokens[who], "prolog", "prolog_query", {"query": "code(X)", "kb": ["secret"]})
        assert secret.removesuffix(".").split("(")[1].rstrip(")") not in queried, (who, queried)
    # A clause planted by one caller is never seen by another's next query.
    await attempt(url, tokens["jwt mallory"], "prolog", "prolog_query", {"query": "assertz(planted(1))"})
    await attempt(url, tokens["jwt mallory"], "prolog", "prolog_query", {"query": "assertz(mcp_prelude:planted(1))"})
    planted = await attempt(url, tokens["key:alice"], "prolog", "prolog_query", {"query": "catch(planted(X), _, fail)"})
    assert "X = 1" not in planted and '"X": "1"' not in planted, planted


@pytest.mark.parametrize(
    "credential",
    ["none", "alg none", "other key", "expired", "no subject", "wrong audience", "duplicate header"],
)
def test_forged_and_malformed_credentials_are_refused(fleet, credential):
    import base64

    import jwt as pyjwt

    url = fleet["url"]
    pair = fleet["pair"]
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    headers = [("Accept", "application/json, text/event-stream"), ("Content-Type", "application/json")]
    now = int(time.time())
    if credential == "alg none":
        segment = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()  # noqa: E731
        forged = f"{segment({'alg': 'none', 'typ': 'JWT'})}.{segment({'sub': 'alice', 'iss': ISSUER, 'aud': AUDIENCE, 'exp': now + 60})}."
        headers.append(("Authorization", f"Bearer {forged}"))
    elif credential == "other key":
        headers.append(("Authorization", f"Bearer {jwt_for(RSAKeyPair.generate(), 'alice')}"))
    elif credential == "expired":
        headers.append(("Authorization", f"Bearer {jwt_for(pair, 'alice', exp=now - 120, iat=now - 600)}"))
    elif credential == "no subject":
        token = pyjwt.encode(
            {"iss": ISSUER, "aud": AUDIENCE, "exp": now + 60, "client_id": "app"},
            pair.private_key.get_secret_value(),
            algorithm="RS256",
            headers={"kid": "k1"},
        )
        headers.append(("Authorization", f"Bearer {token}"))
    elif credential == "wrong audience":
        headers.append(("Authorization", f"Bearer {jwt_for(pair, 'alice', aud='another-service')}"))
    elif credential == "duplicate header":
        headers += [("Authorization", f"Bearer {KEYS['bob']}"), ("Authorization", f"Bearer {KEYS['alice']}")]
    # two Authorization headers are a malformed request (the guard says which rule); every
    # other credential is a 401 with the Bearer challenge
    expected = 400 if credential == "duplicate header" else 401
    response = httpx2.post(f"{url}/prolog/mcp", content=json.dumps(body), headers=headers, timeout=30)
    assert response.status_code == expected, (credential, response.status_code, response.text[:200])
    assert "prolog_query" not in response.text
    if expected == 401:
        assert response.headers["www-authenticate"].startswith("Bearer"), credential
    else:
        assert "more than one Authorization header" in response.text
    index = httpx2.get(f"{url}/", headers=[h for h in headers if h[0] == "Authorization"], timeout=30)
    assert index.status_code == expected and "prolog" not in index.text, (credential, index.status_code)
