"""A shadcn-compatible registry on 127.0.0.1 written for these tests (on the one fake remote,
tests/support/local_http.py), and ui settings pointing at it.

Layout, as the shadcn CLI expects it:
  /r/index.json                       official-style index (a JSON array)
  /r/styles/{style}/{name}.json       official-style items
  /acme/registry.json, /acme/{name}.json   a namespaced registry (@acme) that wants a bearer token
  /plain/{name}.json                  items reached by URL
"""

from __future__ import annotations

import collections
import json

import pytest
import pytest_asyncio

from local_http import Reply, Request, serving
from mcpfleet.servers.ui.settings import UiSettings
from mcpfleet.servers.ui.tailwind import TailwindWorker

ACME_TOKEN = "acme-test-token-123"


def ui_file(path: str, content: str, kind: str = "registry:ui", target: str | None = None) -> dict:
    entry = {"path": path, "type": kind, "content": content}
    if target:
        entry["target"] = target
    return entry


def item(name: str, kind: str = "registry:ui", deps=(), reg_deps=(), files=None, **extra) -> dict:
    return {
        "$schema": "https://ui.shadcn.com/schema/registry-item.json",
        "name": name,
        "type": kind,
        "description": f"The {name} item.",
        "dependencies": list(deps),
        "registryDependencies": list(reg_deps),
        "files": files
        if files is not None
        else [
            ui_file(f"registry/new-york-v4/ui/{name}.tsx", f"export function {name.title().replace('-', '')}() {{}}\n")
        ],
        **extra,
    }


def official_items(base: str) -> dict[str, dict]:
    items = [
        item(
            "button",
            deps=["@radix-ui/react-slot", "class-variance-authority"],
            cssVars={"light": {"primary": "oklch(0.205 0 0)"}, "dark": {"primary": "oklch(0.922 0 0)"}},
            docs="Use asChild to render a link as a button.",
        ),
        item(
            "button-demo",
            kind="registry:example",
            files=[
                ui_file(
                    "registry/new-york-v4/examples/button-demo.tsx",
                    'import { Button } from "@/components/ui/button"\nexport default function ButtonDemo() { return <Button>Button</Button> }\n',
                    "registry:example",
                )
            ],
        ),
        item("card"),
        item("dialog", deps=["@radix-ui/react-dialog"], reg_deps=["button"]),
        item(
            "login-form",
            kind="registry:block",
            reg_deps=["card", "dialog"],
            files=[
                ui_file(
                    "registry/new-york-v4/blocks/login-form/page.tsx",
                    "export default function Page() {}\n",
                    "registry:page",
                    target="app/login/page.tsx",
                ),
                ui_file(
                    "registry/new-york-v4/blocks/login-form/login-form.tsx",
                    "export function LoginForm() {}\n",
                    "registry:component",
                ),
            ],
        ),
        item("loop-a", reg_deps=["loop-b"]),
        item("loop-b", reg_deps=["loop-c"]),
        item("loop-c", reg_deps=["loop-a", "card"]),
        item(
            "use-mobile",
            kind="registry:hook",
            files=[
                ui_file(
                    "registry/new-york-v4/hooks/use-mobile.ts", "export function useIsMobile() {}\n", "registry:hook"
                )
            ],
        ),
        item("uses-broken", reg_deps=["broken-item", "no-such-item", "button"]),
        item("uses-url", reg_deps=[f"{base}/plain/extra.json", "@acme/cta"]),
        item("deep-0", reg_deps=["deep-1"]),
        *[item(f"deep-{i}", reg_deps=[f"deep-{i + 1}"]) for i in range(1, 60)],
    ]
    found = {i["name"]: i for i in items}
    # malformed: no type, a file without a path, a page without a target, dependencies not a list
    found["broken-item"] = {
        "name": "broken-item",
        "files": [{"type": "registry:ui", "content": "x"}, {"path": "p.tsx", "type": "registry:page", "content": "y"}],
        "dependencies": "react",
    }
    return found


def acme_items() -> dict[str, dict]:
    return {
        "hero": item("hero", kind="registry:block", deps=["motion"], reg_deps=["@acme/cta", "button"]),
        "cta": item("cta", kind="registry:component", deps=["lucide-react"]),
        "brand-theme": item(
            "brand-theme",
            kind="registry:theme",
            files=[],
            cssVars={"theme": {"font-heading": "Inter, sans-serif"}, "light": {"brand": "oklch(0.6 0.2 250)"}},
        ),
    }


def json_reply(value, status: int = 200) -> Reply:
    """JSON as a web framework sends it (compact, UTF-8)."""
    return Reply(
        status, json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode(), content_type="application/json"
    )


def text_reply(text: str, status: int = 200, kind: str = "text/plain") -> Reply:
    return Reply(status, text.encode(), content_type=f"{kind}; charset=utf-8")


def one_name(request: Request, prefix: str) -> str | None:
    """`{name}` of a route `<prefix>{name}.json`, or None when the path has another shape."""
    rest = request.route.removeprefix(prefix)
    return rest.removesuffix(".json") if rest.endswith(".json") and "/" not in rest and rest != ".json" else None


class RegistryServer:
    """The registry's routes on the one fake remote (tests/support/local_http.py); `hits` counts
    requests by path, `base` is set once it runs."""

    def __init__(self) -> None:
        self.hits: collections.Counter[str] = collections.Counter()
        self.base = ""

    def ui_section(self) -> dict:
        """`[servers.ui]` pointing the official registry and @acme (token in ACME_TEST_TOKEN) here."""
        base = self.base
        return {
            "official_index": f"{base}/r/index.json",
            "official_item": f"{base}/r/styles/{{style}}/{{name}}.json",
            "registries": {
                "@acme": {
                    "url": f"{base}/acme/{{name}}.json",
                    "headers": {"Authorization": "Bearer ${ACME_TEST_TOKEN}"},
                }
            },
        }

    def routes(self) -> dict:
        def official(request: Request) -> Reply:
            style, _, file = request.route.removeprefix("/r/styles/").partition("/")
            name = one_name(request, f"/r/styles/{style}/") if style and file else None
            if name is None:
                return text_reply("Not Found", 404)
            self.hits[request.route] += 1
            found = official_items(self.base).get(name)
            if style not in ("new-york-v4", "default") or found is None:
                return text_reply("not found", 404)
            if style == "default":
                found = {**found, "description": f"The {name} item (default style)."}
            return json_reply(found)

        def index(request: Request) -> Reply:
            self.hits[request.route] += 1
            # index entries carry file paths without content, and no examples
            entries = [
                {**i, "files": [{"path": f["path"], "type": f["type"]} for f in i.get("files", [])]}
                for i in official_items(self.base).values()
                if i.get("type") not in ("registry:example", None)
            ]
            entries.append({"name": "bad-entry", "type": "registry:nonsense"})
            return json_reply(entries)

        def acme(request: Request) -> Reply:
            name = one_name(request, "/acme/")
            if name is None:
                return text_reply("Not Found", 404)
            self.hits[request.route] += 1
            if request.headers.get("authorization") != f"Bearer {ACME_TOKEN}":
                return text_reply("unauthorized", 401)
            items = acme_items()
            if name == "registry":
                return json_reply({"name": "acme", "homepage": "https://acme.example", "items": list(items.values())})
            return json_reply(items[name]) if name in items else text_reply("nope", 404)

        def plain(request: Request) -> Reply:
            name = one_name(request, "/plain/")
            if name is None:
                return text_reply("Not Found", 404)
            self.hits[request.route] += 1
            if name == "extra":
                return json_reply(item("extra", kind="registry:lib", deps=["date-fns"], reg_deps=["card"]))
            if name == "notjson":
                return text_reply("<html>oops</html>", kind="text/html")
            if name == "registry":
                return json_reply({"name": "plain", "items": [item("extra", kind="registry:lib")]})
            return text_reply("nope", 404)

        return {"/r/index.json": index, "/r/styles/*": official, "/acme/*": acme, "/plain/*": plain}


@pytest.fixture(scope="session")
def registry_server():
    server = RegistryServer()
    with serving(server.routes(), default=text_reply("Not Found", 404)) as remote:
        server.base = str(remote)
        yield server


@pytest.fixture
def ui_config(registry_server):
    """`[servers.ui]` pointing the official registry and @acme at the local server."""
    return registry_server.ui_section()


@pytest.fixture
def acme_token(monkeypatch):
    monkeypatch.setenv("ACME_TEST_TOKEN", ACME_TOKEN)


# --- the official shadcn/ui registry (new-york-v4), read in place from ../shared ----------------------


@pytest.fixture(scope="session")
def shadcn_registry():
    """The real registry's `r/` tree (../shared/peer-data/shadcn-registry) served read-only on
    127.0.0.1 by a static file server, as ui.shadcn.com serves it. Yields (base URL, its folder)."""
    from shared_data import shared_path

    root = shared_path("peer-data", "shadcn-registry")
    with serving(static=root) as remote:  # the one fake remote; anything but GET/HEAD is refused (405)
        yield str(remote), root


@pytest.fixture
def shadcn_config(shadcn_registry):
    base, _ = shadcn_registry
    return {"official_index": f"{base}/r/index.json", "official_item": f"{base}/r/styles/{{style}}/{{name}}.json"}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def worker():
    """One Tailwind worker per test module (the module's tests share its event loop)."""
    w = TailwindWorker(UiSettings())
    await w.start()
    yield w
    await w.aclose()
