"""What the tools and the CLI do: resolve a library name, search its docs, read a document, index.

Every function returns a plain dict whose `text` is the compact rendering; the server wraps
text from the repositories as untrusted.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

import anyio.to_thread

from mcpfleet.common.errors import FleetError, UserError
from mcpfleet.common.http import OutboundClient
from mcpfleet.common.settings import Settings
from mcpfleet.common.untrusted import page
from mcpfleet.servers.docs.catalog import fuzzy_lookup, library_match, lookup, name_key
from mcpfleet.servers.docs.indexer import Indexer, IndexResult, Progress, _no_progress
from mcpfleet.servers.docs.jobs import IndexJobs, Running
from mcpfleet.servers.docs.packing import pack
from mcpfleet.servers.docs.settings import DocsSettings
from mcpfleet.servers.docs.sources import Forges, Source, parse_source
from mcpfleet.servers.docs.store import DocsIndex, Version, open_index

MAX_CANDIDATES = 8
TOC_ENTRIES_CHARS = 12_000


@dataclass
class Found:
    version: Version
    indexed_now: bool = False


def open_librarian(settings: Settings) -> tuple[Librarian, OutboundClient]:
    """The Librarian the server and the CLI use, and its outbound client (the caller closes both)."""
    section: DocsSettings = settings.server_section("docs", DocsSettings)
    # Archives are bigger and slower than API answers: this client's cap and deadline are the docs'.
    http = settings.http.model_copy(
        update={
            "max_bytes": max(settings.http.max_bytes, section.max_archive_bytes),
            "timeout": max(settings.http.timeout, section.index_timeout),
        }
    )
    client = OutboundClient(http)
    forges = Forges(
        client,
        section.github_api,
        section.gitlab_url,
        section.github_token_env,
        section.gitlab_token_env,
        section.max_archive_bytes,
    )
    return Librarian(open_index(section.store, section.index_path), section, forges), client


class Librarian:
    def __init__(self, index: DocsIndex, settings: DocsSettings, forges: Forges | None) -> None:
        self.index = index
        self.settings = settings
        self.forges = forges
        self.indexer = Indexer(index, settings, forges)
        self.jobs = IndexJobs()
        self.catalog = settings.full_catalog()

    @staticmethod
    async def _call(read, *args):
        """An index read off the event loop: a database round trip (PostgreSQL) must not stall other calls."""
        return await anyio.to_thread.run_sync(read, *args)

    # -- resolve ----------------------------------------------------------------------------------

    async def resolve(self, name: str) -> dict:
        name = name.strip()
        if not name:
            raise UserError("give a library name, e.g. 'fastapi' or 'vercel/next.js'")
        candidates: dict[str, dict] = {}
        indexed = await self._call(self.index.versions)
        by_library: dict[str, list[Version]] = {}
        for v in indexed:
            by_library.setdefault(v.library.lower(), []).append(v)

        def add(library: str, origin: str, ref: str | None = None, **extra: object) -> None:
            key = library.lower()
            if key in candidates or len(candidates) >= MAX_CANDIDATES:
                return
            versions = by_library.get(key, [])
            known = versions[0] if versions else None
            candidates[key] = {
                "id": library + (f"@{ref}" if ref else ""),
                "description": extra.get("description") or (known.description if known else None),
                "stars": extra.get("stars") if extra.get("stars") is not None else (known.stars if known else None),
                "indexed": bool(versions),
                "versions": [v.ref for v in versions],
                "origin": origin,
            }

        # Offline first, most certain first: catalog names and aliases ('k8s'), indexed libraries
        # ('ollama docs' -> local/ollama), then names spelled alike; the forge only when none of
        # the certain ones matched.
        matches = {
            how: [v.library for v in indexed if library_match(name, v.library) == how]
            for how in ("exact", "near", "fuzzy")
        }
        certain = bool(lookup(self.catalog, name) or matches["exact"] or matches["near"])
        for n, (_, value) in enumerate(lookup(self.catalog, name)):
            source = parse_source(value)
            extra = {}
            if (
                n < 2
                and self.forges is not None
                and source.kind != "local"
                and source.library.lower() not in by_library
            ):
                try:  # best effort: the description and stars of the likeliest matches
                    info = await self.forges.info(source)
                    extra = {"description": info.description, "stars": info.stars}
                except FleetError:
                    pass
            add(source.library, "catalog", source.ref, **extra)
        for library in dict.fromkeys(matches["exact"] + matches["near"]):
            add(library, "index")
        for _, value in fuzzy_lookup(self.catalog, name):
            source = parse_source(value)
            add(source.library, "catalog", source.ref)
        for library in dict.fromkeys(matches["fuzzy"]):
            add(library, "index")
        if re.fullmatch(r"[\w.-]+/[\w.-]+", name):
            add(name, "id")
            certain = True
        note = None
        if not certain and len(candidates) < 3 and self.forges is not None:
            try:
                for info in await self.forges.search(name):
                    add(info.library, "github", description=info.description, stars=info.stars)
            except FleetError as exc:
                note = f"GitHub search unavailable: {exc}"
        items = list(candidates.values())
        lines = [_candidate_line(c) for c in items] or [f"no library found for {name!r}"]
        if note:
            lines.append(note)
        if items:
            lines.append("use an id with docs_search; docs_index indexes one that is not indexed yet")
        return {"name": name, "candidates": items, "note": note, "text": "\n".join(lines)}

    # -- finding an indexed version -----------------------------------------------------------------

    async def find(
        self, library: str, *, index_missing: bool, progress: Progress = _no_progress, wait: float | None = None
    ) -> Found:
        """The indexed version `library` names ('owner/repo', 'owner/repo@ref' or a catalog name)."""
        library = library.strip()
        base, _, ref_text = library.partition("@") if not library.startswith("/") else (library, "", "")
        ref = ref_text or None
        if not base.strip():  # the index would answer "" with every library's versions
            raise UserError(f"{library[:100]!r} names no library; give an id like 'owner/repo' or 'owner/repo@v2'")
        version = await self._call(self.index.find_version, base, ref)
        if version is not None:
            return Found(version)
        source = self._source_for(base, ref)
        if source is not None and source.kind != "local":
            version = await self._call(self.index.find_version, source.library, source.ref)
            if version is not None:
                return Found(version)
        if ref is None:  # a name ('ollama docs') that only one indexed library answers to: that one
            named: dict[str, Version] = {}
            for v in await self._call(self.index.versions):  # the default branch's version comes first
                if library_match(base, v.library) == "exact":
                    named.setdefault(v.library, v)
            if len(named) == 1:
                return Found(next(iter(named.values())))
        if source is not None and source.kind != "local":
            if index_missing and self.settings.index_on_demand and self.forges is not None:
                result = await self._index(source, self.settings.local_roots, progress, None, wait)
                if isinstance(result, Running):
                    raise UserError(
                        f"{source.library} is being indexed ({result.percent:g}%: {result.message}); "
                        "search again in a minute"
                    )
                return Found(result.version, indexed_now=True)
        indexed = [v.library for v in await self._call(self.index.versions)]
        close = difflib.get_close_matches(base, indexed, n=3, cutoff=0.5)
        hint = f"; indexed libraries like it: {', '.join(close)}" if close else ""
        which = f"{base}@{ref}" if ref else base
        raise UserError(f"{which} is not indexed; docs_resolve finds its id, docs_index indexes it{hint}")

    def _source_for(self, base: str, ref: str | None) -> Source | None:
        matches = lookup(self.catalog, base)
        if matches and matches[0][0] == name_key(base):
            source = parse_source(matches[0][1])
        else:
            try:
                source = parse_source(base)
            except UserError:
                return None
        if ref:
            source = Source(source.kind, source.path, ref, source.folders)
        return source

    # -- search / read ------------------------------------------------------------------------------

    async def search(
        self, library: str, query: str, tokens: int, progress: Progress = _no_progress, wait: float | None = None
    ) -> dict:
        if not query.strip():
            raise UserError("give a query, e.g. 'streaming responses'")
        found = await self.find(library, index_missing=True, progress=progress, wait=wait)
        version = found.version
        # BM25 and token counting are CPU work: off the event loop, so other calls keep flowing
        packed = await anyio.to_thread.run_sync(lambda: pack(self.index.search(version, query, limit=50), tokens))
        label = f"{version.library}@{version.ref}"
        if not packed.sections:
            text = (
                f"no section of {label} matches {query!r}; try other words, or docs_read with path '' for its contents"
            )
        else:
            text = packed.text
        header = f"{label}: {len(packed.sections)} section(s), {packed.tokens} tokens" + (
            f" ({packed.left_out} more matched but did not fit)" if packed.left_out else ""
        )
        return {
            "library": version.library,
            "ref": version.ref,
            "query": query,
            "tokens": packed.tokens,
            "sections": packed.sections,
            "left_out": packed.left_out,
            "indexed_now": found.indexed_now,
            "header": header,
            "text": text,
        }

    async def read(self, library: str, path: str, start_index: int) -> dict:
        version = (await self.find(library, index_missing=False)).version
        label = f"{version.library}@{version.ref}"
        path = path.strip().strip("/")
        doc = await self._call(self.index.document, version, path) if path else None
        if doc is not None:
            title, text, url = doc
            pg = page(text, start_index, self.settings.page_chars)
            where = f"{path} ({url})" if url else path
            return {
                "library": version.library,
                "ref": version.ref,
                "path": path,
                "title": title,
                "url": url,
                "kind": "document",
                "content": pg.text,
                **pg.as_dict(),
                "header": f"{label} {where} {pg.note()}",
                "text": pg.text,
            }
        entries = await self._call(self.index.paths, version, f"{path}/" if path else "")
        if not entries:
            every = [p for p, _ in await self._call(self.index.paths, version)]
            close = difflib.get_close_matches(path, every, n=3, cutoff=0.4)
            hint = f"; did you mean {', '.join(close)}?" if close else "; path '' lists every document"
            raise UserError(f"{label} has no document or folder {path!r}{hint}")
        toc = "\n".join(f"{p} — {t}" for p, t in entries)
        pg = page(toc, start_index, TOC_ENTRIES_CHARS)
        return {
            "library": version.library,
            "ref": version.ref,
            "path": path,
            "kind": "folder",
            "documents": len(entries),
            "content": pg.text,
            **pg.as_dict(),
            "header": f"{label} {path or '(root)'}: {len(entries)} document(s) {pg.note()}",
            "text": pg.text,
        }

    async def index_source(
        self,
        repo: str,
        ref: str | None,
        *,
        local_roots: list[str] | None,
        progress: Progress = _no_progress,
        name: str | None = None,
        wait: float | None = None,
    ) -> IndexResult | Running:
        """Index `repo`; with `wait`, past that many seconds answer `Running` and let the run go on."""
        source = self._source_for(repo.strip(), None) if not repo.strip().startswith(("/", ".", "~", "file:")) else None
        source = source or parse_source(repo)
        if ref:
            if source.kind == "local":
                raise UserError("a local folder has no refs; leave ref empty")
            source = Source(source.kind, source.path, ref, source.folders)
        return await self._index(source, local_roots, progress, name, wait)

    async def _index(
        self, source: Source, local_roots: list[str] | None, progress: Progress, name: str | None, wait: float | None
    ) -> IndexResult | Running:
        key = f"{source.kind}:{source.path}@{source.ref or ''}:{','.join(source.folders)}:{name or ''}"

        async def start(job_progress: Progress) -> IndexResult:
            return await self.indexer.run(source, local_roots=local_roots, progress=job_progress, name=name)

        return await self.jobs.run(key.lower(), start, progress, wait)


def _candidate_line(c: dict) -> str:
    parts = [c["id"]]
    if c.get("stars") is not None:
        parts.append(f"★{c['stars']}")
    parts.append(f"indexed: {', '.join(c['versions'])}" if c["indexed"] else "not indexed")
    line = " | ".join(parts)
    if c.get("description"):
        line += f" — {c['description'][:160]}"
    return line
