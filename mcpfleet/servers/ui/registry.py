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

The tools' answers are typed results (`ComponentList`, `Component`): `as_dict()` is the structured
content, `text()` what the model reads, and `source`, `header`, `outside_keys` tell
`common.untrusted.untrusted_answer` how to mark them (everything a registry says is outside text).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

from mcpfleet.common.cache import TTLCache
from mcpfleet.common.errors import MalformedResponse, OutboundError, UserError
from mcpfleet.common.http import OutboundClient
from mcpfleet.common.untrusted import OUTSIDE_KEYS, page
from mcpfleet.servers.ui.imports import rewrite_imports, unlisted_imports
from mcpfleet.servers.ui.item import ITEM_TYPES, MalformedItem, validate_item
from mcpfleet.servers.ui.search import search as search_items
from mcpfleet.servers.ui.settings import RegistrySource, UiSettings
from mcpfleet.servers.ui.tree import install_order, merged

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_NAMESPACED = re.compile(r"^(@[a-z0-9][a-z0-9._-]{0,60})/([A-Za-z0-9][A-Za-z0-9._-]{0,99})$")
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
MAX_REGISTRY_BYTES = 5_000_000
# The item cache's keys are URLs callers choose, each answer up to MAX_REGISTRY_BYTES: bounded by
# size as well as by cache_entries (512 x 5 MB would be gigabytes).
CACHE_BYTES = 64_000_000


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
    # The official registry's full catalogue (`{style}/registry.json`: blocks, charts, hooks,
    # themes...); `index_url` (`r/index.json`, the ui components only) answers when it is missing.
    catalog_url: str | None = None

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
    catalog = section.official_item.replace("{style}", quote(section.default_style, safe="")).replace(
        "{name}", "registry"
    )
    return Registry(
        "shadcn", section.official_item, section.official_index, official=True, trusted=True, catalog_url=catalog
    )


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
            raise UserError(
                f"registry {namespace} needs the environment variable {name}, which is not set on the server"
            )
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


# --- fetching --------------------------------------------------------------------------------------


class RegistryClient:
    """Fetches registry indexes and items through the outbound client, keeping validated answers a while."""

    def __init__(
        self,
        client: OutboundClient,
        section: UiSettings,
        public: OutboundClient | None = None,
        *,
        cache_bytes: int = CACHE_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`client` may reach `section.allow` (operator-configured registries); `public` (default:
        `client`) serves URLs that callers or registry items name, so `allow` is no open door."""
        self.client = client
        self.public = public or client
        self.section = section
        # "<trusted> <url>" -> validated item or index, sized by the bytes it was sent as
        self.cache: TTLCache[str, Any] = TTLCache(
            ttl=section.cache_ttl, max_entries=section.cache_entries, max_size=cache_bytes, clock=clock
        )

    async def _json(self, url: str, headers: Mapping[str, str], what: str, trusted: bool = False) -> tuple[Any, int]:
        """The parsed answer and its size in bytes."""
        client = self.client if trusted else self.public
        result = await client.fetch(url, headers=dict(headers), max_bytes=MAX_REGISTRY_BYTES)
        if result.status == 404:
            raise ItemNotFound(f"{what} not found ({url} answered 404)")
        try:
            return result.json(what=f"{what} at {url}"), len(result.content)
        except MalformedResponse as exc:
            raise MalformedItem(str(exc)) from None

    async def item(self, ref: ItemRef) -> dict[str, Any]:
        key = f"{int(ref.registry.trusted)} {ref.url}"  # a trusted fetch never answers an untrusted ask
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        data, size = await self._json(
            ref.url, ref.registry.headers, f"registry item {ref.name!r}", ref.registry.trusted
        )
        item = validate_item(data)
        self.cache.put(key, item, size=size)
        return item

    async def index(self, registry: Registry) -> tuple[list[dict[str, Any]], int, str]:
        """The registry's items (name, type, title, description...), how many entries were malformed,
        and the URL they came from (the full catalogue where there is one, else the index)."""
        if registry.catalog_url:
            try:
                return await self._index_at(registry, registry.catalog_url)
            except ItemNotFound:
                pass  # a mirror of r/index.json alone
        return await self._index_at(registry, registry.index_url)

    async def _index_at(self, registry: Registry, url: str) -> tuple[list[dict[str, Any]], int, str]:
        key = f"{int(registry.trusted)} {url}"
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        data, size = await self._json(
            url, registry.headers, f"the index of registry {registry.label}", registry.trusted
        )
        entries = data.get("items") if isinstance(data, dict) else data
        if not isinstance(entries, list):
            raise MalformedItem(f"the index of registry {registry.label} has no 'items' list")
        items, bad = [], 0
        for entry in entries:
            # Index entries need only a name and a type; their files are paths without content.
            if (
                isinstance(entry, dict)
                and isinstance(entry.get("name"), str)
                and isinstance(entry.get("type"), str)
                and entry["type"] in ITEM_TYPES
            ):
                items.append({k: entry.get(k) for k in ("name", "type", "title", "description")})
            else:
                bad += 1
        self.cache.put(key, (items, bad, url), size=size)
        return items, bad, url


# --- the tools' answers ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ComponentList:
    """A registry's catalogue, searched: the first items that match, how many there are in all."""

    registry: str  # the registry's label: "shadcn", "@acme" or the URL given
    url: str  # where the list came from: the full catalogue or the index
    query: str | None  # as asked
    total: int  # items that match (all of them without a query)
    items: list[dict[str, Any]]  # the first of them: name, type, description
    malformed_entries: int  # index entries left out
    header = ""
    # Item descriptions are the registry's words: outside text.
    outside_keys = OUTSIDE_KEYS

    @property
    def source(self) -> str:
        return self.url

    def as_dict(self) -> dict[str, Any]:
        return {
            "registry": self.registry,
            "url": self.url,
            "total": self.total,
            "items": self.items,
            "malformed_entries": self.malformed_entries,
        }

    def text(self) -> str:
        lines = [
            f"{i['name']} ({i['type'].removeprefix('registry:')})"
            + (f": {i['description']}" if i["description"] else "")
            for i in self.items
        ]
        if not self.items:
            searched = " ".join((self.query or "").split())
            lines.append(f"no items match {self.query!r}" if searched else f"registry {self.registry} lists no items")
        if self.total > len(self.items):
            lines.append(f"... {self.total - len(self.items)} more; narrow the query")
        if self.malformed_entries:
            lines.append(f"({self.malformed_entries} malformed entries in the index were left out)")
        return "\n".join(lines)


async def list_components(
    client: RegistryClient, query: str | None, registry: str | None, limit: int = 60
) -> ComponentList:
    """The registry's catalogue (the official one: `registry.json`, all 471 items), searched and ranked."""
    reg = pick_registry(registry, client.section)
    items, bad, url = await client.index(reg)
    q = " ".join((query or "").split())
    chosen = search_items(items, q) if q else items
    shown = [
        {"name": i["name"], "type": i["type"], "description": str(i.get("description") or i.get("title") or "")[:160]}
        for i in chosen[:limit]
    ]
    return ComponentList(reg.label, url, query, len(chosen), shown, bad)


async def _resolve_dependencies(
    client: RegistryClient, item: dict[str, Any], root: ItemRef, style: str, problems: list[str]
) -> tuple[list[dict[str, Any]], list[list[dict[str, Any]]]]:
    """The item's registryDependencies, recursively: breadth-first, each level fetched concurrently,
    every URL once (so cycles end), at most `max_dependencies` items. Returns the summaries for
    the answer and the full items level by level (for merging what the tree installs)."""
    section = client.section
    # As in the shadcn CLI, a bare name in registryDependencies is an official shadcn/ui item;
    # other registries' items are written `@namespace/name` or as a URL.
    shadcn = official(section)
    resolved: list[dict[str, Any]] = []
    levels: list[list[dict[str, Any]]] = []
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
        next_level: list[tuple[str, str, bool]] = []
        fetched: list[dict[str, Any]] = []
        for (ref, dep, parent), sub in zip(wanted, answers, strict=True):
            if isinstance(sub, (UserError, OutboundError)):
                _problem(problems, f"{parent} → {dep[:80]}: {sub}")
                continue
            if isinstance(sub, BaseException):
                raise sub
            fetched.append(sub)
            resolved.append(
                {
                    "name": sub["name"],
                    "type": sub["type"],
                    "url": ref.url,
                    "required_by": parent,
                    "dependencies": sub["dependencies"],
                    "registryDependencies": sub["registryDependencies"],
                    "files": [f["path"] for f in sub["files"]],
                }
            )
            next_level.extend((d, sub["name"], ref.registry.trusted) for d in sub["registryDependencies"])
        levels.append(fetched)
        level = next_level
    return resolved, levels


def _problem(problems: list[str], text: str, limit: int = 30) -> None:
    if len(problems) < limit:
        problems.append(text)
    elif len(problems) == limit:
        problems.append("... more problems left out")


def _find_file(files: list[dict[str, Any]], wanted: str) -> dict[str, Any]:
    """The file a caller named: its registry path, its target, or an unambiguous path ending."""
    wanted = wanted.strip().lstrip("./")
    for key in ("path", "target"):
        for f in files:
            if f.get(key) == wanted:
                return f
    ending = [f for f in files if f["path"].endswith("/" + wanted)]
    if len(ending) == 1:
        return ending[0]
    listed = ", ".join(f["path"] for f in files) or "none"
    what = "matches several files" if ending else "is not a file of this item"
    raise UserError(f"{wanted[:120]!r} {what}; its files: {listed}")


def _paged_file(f: dict[str, Any], start_index: int, limit: int) -> dict[str, Any]:
    part = page(f["content"] or "", start_index, limit)
    return {**f, "content": part.text, **part.as_dict(), "truncated": part.next_start_index is not None}


def _shown_files(files: list[dict[str, Any]], section: UiSettings, budget: int) -> tuple[list[dict[str, Any]], int]:
    """Each file's first page while the answer's budget lasts; the rest listed without content."""
    shown = []
    for f in files:
        total = len(f["content"] or "")
        room = max(1, min(section.max_file_chars, budget))
        if room < min(total, 500):  # no room for a useful page: say where it is instead of a sliver
            shown.append(
                {
                    **f,
                    "content": None,
                    "start_index": 0,
                    "total_length": total,
                    "next_start_index": 0,
                    "truncated": True,
                }
            )
            continue
        entry = _paged_file(f, 0, room)
        budget -= len(entry["content"])
        shown.append(entry)
    return shown, budget


def _prepared_files(item: dict[str, Any], aliases: Any) -> list[dict[str, Any]]:
    """The item's files as `shadcn add` writes them: imports rewritten onto the project's aliases."""
    out = []
    for f in item["files"]:
        content, changed = rewrite_imports(f["path"] or "", f["content"] or "", aliases)
        out.append({**f, "content": content, "imports_rewritten": changed})
    return out


@dataclass(frozen=True)
class Component:
    """One registry item as `shadcn add` installs it, with what its whole dependency tree adds."""

    name: str
    kind: str  # registry:ui, registry:block, ...
    title: str | None
    description: str | None
    registry: str  # the registry's label
    url: str  # where the item came from
    command: str  # the `npx shadcn add` line
    dependencies: list[str]  # the item's own npm dependencies
    dev_dependencies: list[str]
    registry_dependencies: list[str]  # as the item names them
    resolved: list[dict[str, Any]]  # the tree: name, type, url, required_by, dependencies, files
    npm_all: list[str]  # npm dependencies of the whole tree
    files: list[dict[str, Any]]  # imports rewritten, one page each (content None: the budget ran out)
    css_vars: dict[str, Any]  # merged over the tree, as the CLI merges them
    css_vars_from: list[str]  # the items that contributed cssVars
    css: dict[str, Any]
    env_vars: dict[str, Any]
    docs: str | None
    examples: list[dict[str, Any]]  # the `{name}-demo` item's files
    aliases: dict[str, Any]  # the import aliases the files were rewritten onto
    unlisted_imports: list[str]  # imports that no registryDependency installs
    problems: list[str]  # dependencies that failed, limits reached
    single_file: bool = False  # one page of one file was asked for: the text leaves the tree out
    header = ""
    # Titles, descriptions, docs and file contents are the registry's words: outside text.
    outside_keys = OUTSIDE_KEYS

    @property
    def source(self) -> str:
        return self.url

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.kind,
            "title": self.title,
            "description": self.description,
            "registry": self.registry,
            "url": self.url,
            "command": self.command,
            "dependencies": self.dependencies,
            "devDependencies": self.dev_dependencies,
            "registryDependencies": self.registry_dependencies,
            "resolved": self.resolved,
            "npm_all": self.npm_all,
            "files": self.files,
            "cssVars": self.css_vars,
            "cssVars_from": self.css_vars_from,
            "css": self.css,
            "envVars": self.env_vars,
            "docs": self.docs,
            "examples": self.examples,
            "aliases": self.aliases,
            "unlisted_imports": self.unlisted_imports,
            "problems": self.problems,
        }

    def text(self) -> str:
        lines = [f"# {self.name} ({self.kind})"]
        if self.description:
            lines.append(self.description)
        lines.append(f"install: {self.command}")
        if self.npm_all:
            lines.append("npm: " + " ".join(self.npm_all))
        if self.dev_dependencies:
            lines.append("npm dev: " + " ".join(self.dev_dependencies))
        if self.resolved and not self.single_file:
            lines.append("registry deps: " + ", ".join(f"{r['name']} (via {r['required_by']})" for r in self.resolved))
        if not self.single_file:
            for scope, values in (self.css_vars or {}).items():
                if values:
                    lines.append(f"cssVars.{scope}: " + "; ".join(f"--{k}: {v}" for k, v in values.items()))
            if self.css_vars_from and self.css_vars_from != [self.name]:
                lines.append("cssVars from: " + ", ".join(self.css_vars_from))
            if self.css:
                lines.append("css: " + json.dumps(self.css, ensure_ascii=False)[:2000])
            if self.env_vars:
                lines.append("env: " + ", ".join(self.env_vars))
            if self.docs:
                lines.append("docs: " + self.docs)
        for f in self.files:
            where = f" → {f['target']}" if f.get("target") else ""
            lines.append(f"\n## {f['path']} ({f['type']}){where}{_more(f)}")
            if f["content"] is not None:
                lines.append(f"```\n{f['content']}\n```")
        for e in self.examples:
            lines.append(f"\n## example {e['name']}: {e['path']}{_more(e)}")
            if e["content"] is not None:
                lines.append(f"```\n{e['content']}\n```")
        left = [f["path"] for f in self.files + self.examples if f["content"] is None]
        if left:
            lines.append(
                f"\n{len(left)} file(s) not shown (budget): "
                + ", ".join(left)
                + "; read each with ui_component(name, file=PATH)"
            )
        if self.problems:
            lines.append("\nproblems: " + "; ".join(self.problems))
        return "\n".join(lines)


def _more(f: dict[str, Any]) -> str:
    """How to read the rest of a file, for the text rendering."""
    if f["content"] is None:
        return f" [not shown: the answer's budget ran out; read it with file={f['path']!r}]"
    if f["next_start_index"] is None:
        return (
            ""
            if f["start_index"] == 0
            else f" [characters {f['start_index']}-{f['total_length']} of {f['total_length']}]"
        )
    end = f["start_index"] + len(f["content"])
    return (
        f" [characters {f['start_index']}-{end} of {f['total_length']}; "
        f"more with file={f['path']!r}, start_index={f['next_start_index']}]"
    )


async def get_component(
    client: RegistryClient,
    name: str,
    registry: str | None,
    style: str | None,
    file: str | None = None,
    start_index: int = 0,
) -> Component:
    """One item with its files (imports rewritten as `shadcn add` writes them, paged per file), npm
    and registry dependencies (resolved, cycle-safe), the cssVars/css/envVars the whole tree
    installs, the `npx shadcn add` command and `{name}-demo` examples where the registry has them.

    `file` (a path, target or path ending) with `start_index` returns one page of that file."""
    section = client.section
    style = style or section.default_style
    if not re.match(r"^[a-z0-9][a-z0-9-]{0,40}$", style):
        raise UserError(f"style {style[:40]!r} is not a style name, e.g. 'new-york-v4'")
    if start_index and not file:
        raise UserError("start_index pages one file: give file as well (e.g. the path the last answer named)")
    root_reg = pick_registry(registry, section)
    root = resolve_ref(name, root_reg, section, style)
    try:
        item = await client.item(root)
    except ItemNotFound:
        raise ItemNotFound(
            f"no item {root.name!r} in registry {root.registry.label} ({root.url}); ui_components lists them"
        ) from None

    problems: list[str] = []
    resolved, levels = await _resolve_dependencies(client, item, root, style, problems)
    tree = merged(install_order(item, levels))
    item_files = _prepared_files(item, section.aliases)

    example_files: list[dict[str, Any]] = []
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
            example_files = [{**f, "name": example["name"]} for f in _prepared_files(example, section.aliases)]

    if file:
        chosen = _find_file(item_files + example_files, file)
        files = [_paged_file(chosen, start_index, section.max_file_chars)]
        examples: list[dict[str, Any]] = []
    else:
        files, budget = _shown_files(item_files, section, section.max_output_chars)
        examples, _ = _shown_files(example_files, section, budget)

    unlisted = unlisted_imports(item_files, {item["name"], *(r["name"] for r in resolved)}, section.aliases)
    for spec, path in unlisted:
        _problem(
            problems,
            f"{path.rsplit('/', 1)[-1]} imports {spec}, which no registryDependency installs "
            f"(add it too: npx shadcn@latest add {spec.rsplit('/', 1)[-1]})",
        )

    npm = sorted({d for d in item["dependencies"]} | {d for r in resolved for d in r["dependencies"]})
    return Component(
        name=item["name"],
        kind=item["type"],
        title=item["title"],
        description=item["description"],
        registry=root.registry.label,
        url=root.url,
        command="npx shadcn@latest add " + root.registry.add_ref(root.name, root.url),
        dependencies=item["dependencies"],
        dev_dependencies=item["devDependencies"],
        registry_dependencies=item["registryDependencies"],
        resolved=resolved,
        npm_all=npm,
        files=files,
        css_vars=tree["cssVars"],
        css_vars_from=tree["cssVars_from"],
        css=tree["css"],
        env_vars=tree["envVars"],
        docs=tree["docs"],
        examples=examples,
        aliases=section.aliases.model_dump(),
        unlisted_imports=[spec for spec, _ in unlisted],
        problems=problems,
        single_file=bool(file),
    )
