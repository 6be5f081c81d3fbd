"""shadcn-compatible registries: where items live, what a valid item is, and resolving one with its dependencies.

URLs used (the layout of the shadcn CLI, no components.json and no token needed):

- the official registry: index `https://ui.shadcn.com/r/index.json` (a JSON array of items) and
  items `https://ui.shadcn.com/r/styles/{style}/{name}.json` (style `new-york-v4` by default);
- a namespace from configuration (`@acme` → `https://acme.example/r/{name}.json`, the
  components.json `registries` format): items at the template, the index at `{name}` = `registry`;
- a registry given by URL: a template with `{name}`, a `.../registry.json` (items beside it), or
  a base URL (`{base}/registry.json`, `{base}/{name}.json`);
- a registry dependency written as a full URL is fetched as written.

Every fetch goes through the runtime's `OutboundClient` (SSRF guard, size caps, HTTP cache) and
validated items are kept for `cache_ttl` seconds.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

from mcpfleet.common.errors import OutboundError, UserError
from mcpfleet.common.http import OutboundClient
from mcpfleet.servers.ui.config import RegistrySource, UiSettings

ITEM_TYPES = frozenset(
    f"registry:{t}"
    for t in ("lib", "block", "component", "ui", "hook", "page", "file", "style", "theme", "example",
              "internal", "item", "base", "font")
)
NEEDS_TARGET = frozenset({"registry:page", "registry:file"})
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_NAMESPACED = re.compile(r"^(@[a-z0-9][a-z0-9._-]{0,60})/([A-Za-z0-9][A-Za-z0-9._-]{0,99})$")
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
MAX_REGISTRY_BYTES = 5_000_000
# The item cache's keys are URLs callers choose, each answer up to MAX_REGISTRY_BYTES: bounded by
# size as well as by cache_entries (512 x 5 MB would be gigabytes).
CACHE_BYTES = 64_000_000


class MalformedItem(UserError):
    """A registry answered JSON that is not a valid registry item."""


class ItemNotFound(UserError):
    """The registry has no item of that name (HTTP 404)."""


# --- where items live -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Registry:
    label: str  # what the caller and the text see: "shadcn", "@acme" or the URL given
    item_url: str  # template with {name} (and {style})
    index_url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    namespace: str | None = None
    official: bool = False
    # Configured by the operator (official, @namespace, or a URL on one of their origins): fetched with
    # the client that may reach `servers.ui.allow`. A URL a caller or a registry names is not.
    trusted: bool = False

    def url(self, name: str, style: str) -> str:
        return self.item_url.replace("{style}", quote(style, safe="")).replace("{name}", quote(name, safe=""))

    def add_ref(self, name: str, url: str) -> str:
        """How `npx shadcn add` names the item."""
        if self.official:
            return name
        if self.namespace:
            return f"{self.namespace}/{name}"
        return url


def official(section: UiSettings) -> Registry:
    return Registry("shadcn", section.official_item, section.official_index, official=True, trusted=True)


def _origin(url: str) -> str:
    try:
        parts = urlsplit(url.strip())
        return f"{parts.scheme.lower()}://{(parts.netloc or '').lower()}"
    except ValueError:
        return ""


def configured_origin(url: str, section: UiSettings) -> bool:
    """Is `url` on the origin of the official registry or of a configured namespace?"""
    urls = [section.official_index, section.official_item]
    urls += [s if isinstance(s, str) else s.url for s in section.registries.values()]
    origin = _origin(url)
    return bool(origin) and origin in {_origin(u) for u in urls}


def _from_url(url: str) -> Registry:
    if not re.match(r"^https?://", url, re.IGNORECASE):
        raise UserError(f"registry {url[:80]!r} is neither a URL nor a configured @namespace")
    if "{name}" in url:
        return Registry(url, url, url.replace("{name}", "registry"))
    if url.endswith("/registry.json"):
        return Registry(url, url[: -len("registry.json")] + "{name}.json", url)
    if url.endswith(".json"):
        raise UserError("give the registry as a URL template with {name}, a .../registry.json URL, or its base URL")
    base = url.rstrip("/")
    return Registry(url, base + "/{name}.json", base + "/registry.json")


def _expand(value: str, namespace: str) -> str:
    def variable(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise UserError(f"registry {namespace} needs the environment variable {name}, which is not set on the server")
        return os.environ[name]

    return _ENV.sub(variable, value)


def _namespaced(namespace: str, section: UiSettings) -> Registry:
    source = section.registries.get(namespace)
    if source is None:
        known = ", ".join(sorted(section.registries)) or "none are configured"
        raise UserError(f"unknown registry namespace {namespace!r} ({known}); or give the registry's URL")
    if isinstance(source, str):
        source = RegistrySource(url=source)
    headers = {k: _expand(v, namespace) for k, v in source.headers.items()}
    base = _from_url(source.url)
    return Registry(namespace, base.item_url, base.index_url, headers, namespace=namespace, trusted=True)


def pick_registry(registry: str | None, section: UiSettings) -> Registry:
    """The registry a caller named: None (official), `@namespace` from configuration, or a URL."""
    if registry is None or not registry.strip() or registry.strip() in ("shadcn", "@shadcn"):
        return official(section)
    registry = registry.strip()
    if registry.startswith("@"):
        return _namespaced(registry, section)
    return _from_url(registry)


@dataclass(frozen=True)
class ItemRef:
    name: str
    registry: Registry
    url: str


def resolve_ref(ref: str, within: Registry, section: UiSettings, style: str, from_trusted: bool = False) -> ItemRef:
    """An item reference as written in a registry (`button`, `@acme/card`, a URL) → where to fetch it.

    A URL is trusted (may reach `servers.ui.allow`) only when a trusted registry's item names it and
    it lies on a configured registry's origin; a caller's URL never is."""
    ref = ref.strip()
    if re.match(r"^https?://", ref, re.IGNORECASE):
        name = ref.rstrip("/").rsplit("/", 1)[-1].removesuffix(".json") or ref
        return ItemRef(name, Registry(ref, ref, ref, trusted=from_trusted and configured_origin(ref, section)), ref)
    match = _NAMESPACED.match(ref)
    if match:
        registry = _namespaced(match.group(1), section)
        return ItemRef(match.group(2), registry, registry.url(match.group(2), style))
    if not _NAME.match(ref) or ".." in ref:
        raise UserError(f"{ref[:80]!r} is not an item name (e.g. 'button', '@acme/login-form' or an item URL)")
    return ItemRef(ref, within, within.url(ref, style))


# --- what a valid item is -------------------------------------------------------------------------


def _string_list(item: dict, key: str, problems: list[str]) -> list[str]:
    value = item.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.append(f"'{key}' must be a list of strings")
        return []
    return value


def validate_item(data: Any) -> dict[str, Any]:
    """A registry item checked against the registry-item format; MalformedItem lists what is wrong."""
    if not isinstance(data, dict):
        raise MalformedItem(f"a registry item must be a JSON object, not {type(data).__name__}")
    problems: list[str] = []
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append("'name' is missing or not a string")
    kind = data.get("type")
    kind = kind if isinstance(kind, str) else repr(kind)  # a list or object here is not hashable
    if kind not in ITEM_TYPES:
        problems.append(f"'type' is {str(kind)[:40]!r}, not one of registry:ui, registry:component, "
                        "registry:block, registry:hook, registry:lib, ...")
    for key in ("title", "description", "docs", "author"):
        if key in data and not isinstance(data[key], str):
            problems.append(f"'{key}' must be a string")
    deps = {key: _string_list(data, key, problems) for key in ("dependencies", "devDependencies", "registryDependencies")}
    files = data.get("files", [])
    clean_files = []
    if not isinstance(files, list):
        problems.append("'files' must be a list")
        files = []
    for i, entry in enumerate(files):
        where = f"files[{i}]"
        if not isinstance(entry, dict):
            problems.append(f"{where} must be an object")
            continue
        path, ftype, target, content = entry.get("path"), entry.get("type"), entry.get("target"), entry.get("content")
        ftype = ftype if isinstance(ftype, str) or ftype is None else repr(ftype)  # unhashable: not a type
        if not isinstance(path, str) or not path:
            problems.append(f"{where}.path is missing")
        if ftype not in ITEM_TYPES:
            problems.append(f"{where}.type is {str(ftype)[:40]!r}, not a registry:* file type")
        if target is not None and not isinstance(target, str):
            problems.append(f"{where}.target must be a string")
        elif not target and ftype in NEEDS_TARGET:
            problems.append(f"{where}.target is required for {ftype} files")
        if content is None:
            problems.append(f"{where}.content is missing")
        elif content is not None and not isinstance(content, str):
            problems.append(f"{where}.content must be a string")
        clean_files.append({"path": path, "type": ftype, "target": target or None, "content": content})
    for key in ("cssVars", "css", "envVars", "meta", "tailwind"):
        if key in data and not isinstance(data[key], dict):
            problems.append(f"'{key}' must be an object")
    css_vars = data.get("cssVars") or {}
    if isinstance(css_vars, dict):
        for scope, values in css_vars.items():
            if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
                problems.append(f"cssVars.{scope} must map variable names to strings")
    if problems:
        shown = "; ".join(problems[:8]) + (f" (and {len(problems) - 8} more)" if len(problems) > 8 else "")
        label = f" {name!r}" if isinstance(name, str) else ""
        raise MalformedItem(f"malformed registry item{label}: {shown}")
    return {
        "name": name,
        "type": kind,
        "title": data.get("title"),
        "description": data.get("description"),
        "docs": data.get("docs"),
        **deps,
        "files": clean_files,
        "cssVars": css_vars,
        "css": data.get("css") or {},
        "envVars": data.get("envVars") or {},
    }


# --- fetching --------------------------------------------------------------------------------------


class RegistryClient:
    """Fetches registry indexes and items through the outbound client, keeping validated answers a while."""

    def __init__(self, client: OutboundClient, section: UiSettings, public: OutboundClient | None = None) -> None:
        """`client` may reach `section.allow` (operator-configured registries); `public` (default:
        `client`) serves URLs that callers or registry items name, so `allow` is no open door."""
        self.client = client
        self.public = public or client
        self.section = section
        self._cache: OrderedDict[str, tuple[float, Any, int]] = OrderedDict()
        self._cache_bytes = 0

    def _cached(self, url: str) -> Any | None:
        entry = self._cache.get(url)
        if entry is None:
            return None
        expires, value, _ = entry
        if expires < time.monotonic():
            self._drop(url)
            return None
        self._cache.move_to_end(url)
        return value

    def _drop(self, url: str) -> None:
        entry = self._cache.pop(url, None)
        if entry is not None:
            self._cache_bytes -= entry[2]

    def _remember(self, url: str, value: Any, size: int = 0) -> None:
        if self.section.cache_ttl <= 0 or self.section.cache_entries <= 0 or size > CACHE_BYTES:
            return
        self._drop(url)
        self._cache[url] = (time.monotonic() + self.section.cache_ttl, value, size)
        self._cache_bytes += size
        while len(self._cache) > self.section.cache_entries or self._cache_bytes > CACHE_BYTES:
            self._drop(next(iter(self._cache)))

    async def _json(self, url: str, headers: Mapping[str, str], what: str, trusted: bool = False) -> tuple[Any, int]:
        """The parsed answer and its size in bytes."""
        client = self.client if trusted else self.public
        result = await client.fetch(url, headers=dict(headers), max_bytes=MAX_REGISTRY_BYTES)
        if result.status == 404:
            raise ItemNotFound(f"{what} not found ({url} answered 404)")
        if result.status >= 400:
            raise OutboundError(f"{url} answered HTTP {result.status}")
        try:
            return json.loads(result.text()), len(result.content)
        except json.JSONDecodeError:
            raise MalformedItem(f"{what} at {url} is not JSON") from None

    async def item(self, ref: ItemRef) -> dict[str, Any]:
        key = f"{int(ref.registry.trusted)} {ref.url}"  # a trusted fetch never answers an untrusted ask
        cached = self._cached(key)
        if cached is not None:
            return cached
        data, size = await self._json(ref.url, ref.registry.headers, f"registry item {ref.name!r}",
                                      ref.registry.trusted)
        item = validate_item(data)
        self._remember(key, item, size)
        return item

    async def index(self, registry: Registry) -> tuple[list[dict[str, Any]], int]:
        """The registry's items (name, type, title, description...) and how many entries were malformed."""
        key = f"{int(registry.trusted)} {registry.index_url}"
        cached = self._cached(key)
        if cached is not None:
            return cached
        data, size = await self._json(registry.index_url, registry.headers,
                                      f"the index of registry {registry.label}", registry.trusted)
        entries = data.get("items") if isinstance(data, dict) else data
        if not isinstance(entries, list):
            raise MalformedItem(f"the index of registry {registry.label} has no 'items' list")
        items, bad = [], 0
        for entry in entries:
            # Index entries need only a name and a type; their files are paths without content.
            if isinstance(entry, dict) and isinstance(entry.get("name"), str) and isinstance(entry.get("type"), str) \
                    and entry["type"] in ITEM_TYPES:
                items.append({k: entry.get(k) for k in ("name", "type", "title", "description")})
            else:
                bad += 1
        self._remember(key, (items, bad), size)
        return items, bad


# --- the tools' answers ------------------------------------------------------------------------------


def _matches(item: dict[str, Any], terms: list[str]) -> bool:
    hay = " ".join(str(item.get(k) or "") for k in ("name", "title", "description", "type")).lower()
    return all(t in hay for t in terms)


def _rank(item: dict[str, Any], query: str) -> tuple[int, str]:
    name = item["name"].lower()
    return (0 if name == query else 1 if name.startswith(query) else 2 if query in name else 3, name)


async def list_components(
    client: RegistryClient, query: str | None, registry: str | None, limit: int = 60
) -> dict[str, Any]:
    reg = pick_registry(registry, client.section)
    items, bad = await client.index(reg)
    q = (query or "").strip().lower()
    chosen = sorted((i for i in items if _matches(i, q.split())), key=lambda i: _rank(i, q)) if q else items
    shown = [{"name": i["name"], "type": i["type"], "description": str(i.get("description") or i.get("title") or "")[:160]}
             for i in chosen[:limit]]
    lines = [f"{i['name']} ({i['type'].removeprefix('registry:')})" + (f": {i['description']}" if i["description"] else "")
             for i in shown]
    if not shown:
        lines.append(f"no items match {query!r}" if q else f"registry {reg.label} lists no items")
    if len(chosen) > limit:
        lines.append(f"... {len(chosen) - limit} more; narrow the query")
    if bad:
        lines.append(f"({bad} malformed entries in the index were left out)")
    return {
        "text": "\n".join(lines),
        "registry": reg.label,
        "url": reg.index_url,
        "total": len(chosen),
        "items": shown,
        "malformed_entries": bad,
    }


async def _resolve_dependencies(
    client: RegistryClient, item: dict[str, Any], root: ItemRef, style: str, problems: list[str]
) -> list[dict[str, Any]]:
    """The item's registryDependencies, recursively: breadth-first, each level fetched concurrently,
    every URL once (so cycles end), at most `max_dependencies` items."""
    section = client.section
    # As in the shadcn CLI, a bare name in registryDependencies is an official shadcn/ui item;
    # other registries' items are written `@namespace/name` or as a URL.
    shadcn = official(section)
    resolved: list[dict[str, Any]] = []
    seen = {root.url}
    level = [(dep, item["name"], root.registry.trusted) for dep in item["registryDependencies"]]
    full = False
    while level and not full:
        wanted: list[tuple[ItemRef, str, str]] = []
        for dep, parent, parent_trusted in level:
            try:
                ref = resolve_ref(dep, shadcn, section, style, parent_trusted)
            except UserError as exc:
                _problem(problems, f"{parent} → {dep[:80]}: {exc}")
                continue
            if ref.url in seen:
                continue  # already resolved, or a cycle back to an item on the way here
            if len(resolved) + len(wanted) >= section.max_dependencies:
                _problem(problems, f"stopped after {section.max_dependencies} registry dependencies")
                full = True
                break
            seen.add(ref.url)
            wanted.append((ref, dep, parent))
        answers = await asyncio.gather(*(client.item(ref) for ref, _, _ in wanted), return_exceptions=True)
        next_level = []
        for (ref, dep, parent), sub in zip(wanted, answers, strict=True):
            if isinstance(sub, (UserError, OutboundError)):
                _problem(problems, f"{parent} → {dep[:80]}: {sub}")
                continue
            if isinstance(sub, BaseException):
                raise sub
            resolved.append({
                "name": sub["name"], "type": sub["type"], "url": ref.url, "required_by": parent,
                "dependencies": sub["dependencies"], "registryDependencies": sub["registryDependencies"],
                "files": [f["path"] for f in sub["files"]],
            })
            next_level.extend((d, sub["name"], ref.registry.trusted) for d in sub["registryDependencies"])
        level = next_level
    return resolved


def _problem(problems: list[str], text: str, limit: int = 30) -> None:
    if len(problems) < limit:
        problems.append(text)
    elif len(problems) == limit:
        problems.append("... more problems left out")


def _clip(text: str | None, limit: int) -> tuple[str | None, bool]:
    if text is None or len(text) <= limit:
        return text, False
    return text[:limit], True


async def get_component(client: RegistryClient, name: str, registry: str | None, style: str | None) -> dict[str, Any]:
    """One item with its files, npm and registry dependencies (resolved, cycle-safe), CSS variables,
    the `npx shadcn add` command and `{name}-demo` examples where the registry has them."""
    section = client.section
    style = style or section.default_style
    if not re.match(r"^[a-z0-9][a-z0-9-]{0,40}$", style):
        raise UserError(f"style {style[:40]!r} is not a style name, e.g. 'new-york-v4'")
    root_reg = pick_registry(registry, section)
    root = resolve_ref(name, root_reg, section, style)
    try:
        item = await client.item(root)
    except ItemNotFound:
        raise ItemNotFound(
            f"no item {root.name!r} in registry {root.registry.label} ({root.url}); ui_components lists them"
        ) from None

    problems: list[str] = []
    resolved = await _resolve_dependencies(client, item, root, style, problems)
    budget = section.max_output_chars
    files = []
    for f in item["files"]:
        content, cut = _clip(f["content"], min(section.max_file_chars, max(budget, 0)))
        budget -= len(content or "")
        files.append({**f, "content": content, "truncated": cut})

    examples = []
    if not item["name"].endswith("-demo") and "{name}" in root.registry.item_url:
        demo = ItemRef(f"{root.name}-demo", root.registry, root.registry.url(f"{root.name}-demo", style))
        try:
            example = await client.item(demo)
        except ItemNotFound:
            example = None
        except (UserError, OutboundError) as exc:
            _problem(problems, f"example {demo.name}: {exc}")
            example = None
        if example:
            for f in example["files"]:
                content, cut = _clip(f["content"], min(section.max_file_chars, max(budget, 0)))
                budget -= len(content or "")
                examples.append({"name": example["name"], "path": f["path"], "content": content, "truncated": cut})

    npm = sorted({d for d in item["dependencies"]} | {d for r in resolved for d in r["dependencies"]})
    command = "npx shadcn@latest add " + root.registry.add_ref(root.name, root.url)
    answer = {
        "name": item["name"], "type": item["type"], "title": item["title"], "description": item["description"],
        "registry": root.registry.label, "url": root.url, "command": command,
        "dependencies": item["dependencies"], "devDependencies": item["devDependencies"],
        "registryDependencies": item["registryDependencies"], "resolved": resolved, "npm_all": npm,
        "files": files, "cssVars": item["cssVars"], "css": item["css"], "envVars": item["envVars"],
        "docs": item["docs"], "examples": examples, "problems": problems,
    }
    answer["text"] = render_component(answer)
    return answer


def render_component(a: dict[str, Any]) -> str:
    lines = [f"# {a['name']} ({a['type']})"]
    if a.get("description"):
        lines.append(a["description"])
    lines.append(f"install: {a['command']}")
    if a["npm_all"]:
        lines.append("npm: " + " ".join(a["npm_all"]))
    if a["devDependencies"]:
        lines.append("npm dev: " + " ".join(a["devDependencies"]))
    if a["resolved"]:
        lines.append("registry deps: " + ", ".join(f"{r['name']} (via {r['required_by']})" for r in a["resolved"]))
    for scope, values in (a["cssVars"] or {}).items():
        if values:
            lines.append(f"cssVars.{scope}: " + "; ".join(f"--{k}: {v}" for k, v in values.items()))
    if a.get("envVars"):
        lines.append("env: " + ", ".join(a["envVars"]))
    if a.get("docs"):
        lines.append("docs: " + a["docs"])
    for f in a["files"]:
        where = f" → {f['target']}" if f.get("target") else ""
        lines.append(f"\n## {f['path']} ({f['type']}){where}{' [truncated]' if f['truncated'] else ''}")
        lines.append(f"```\n{f['content'] or ''}\n```")
    for e in a["examples"]:
        lines.append(f"\n## example {e['name']}: {e['path']}{' [truncated]' if e['truncated'] else ''}")
        lines.append(f"```\n{e['content'] or ''}\n```")
    if a["problems"]:
        lines.append("\nproblems: " + "; ".join(a["problems"]))
    return "\n".join(lines)
