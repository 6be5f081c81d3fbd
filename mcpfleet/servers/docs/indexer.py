"""Indexing one source: fetch (or read) it, pick its documentation, chunk it, store it atomically."""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

import anyio
import anyio.from_thread
import anyio.to_thread

from mcpfleet.common.errors import UserError
from mcpfleet.servers.docs.archive import Bounds, Tree, read_directory, read_tarball
from mcpfleet.servers.docs.chunking import parse_document
from mcpfleet.servers.docs.selection import RepoConfig, wanted
from mcpfleet.servers.docs.settings import DocsSettings
from mcpfleet.servers.docs.sources import LOCAL_REF, Forges, RepoInfo, Source, blob_url_base, check_local
from mcpfleet.servers.docs.store import DocsIndex, NewDocument, Version
from mcpfleet.servers.docs.weights import page_weight

Progress = Callable[[float, float, str], Coroutine[Any, Any, None]]  # anyio.from_thread.run needs a coroutine
STEPS = 100.0  # progress is reported as 0..100


async def _no_progress(done: float, total: float, message: str) -> None:
    return None


@dataclass(frozen=True)
class IndexResult:
    version: Version
    seconds: float
    skipped_large: int
    truncated: bool

    def as_dict(self) -> dict:
        v = self.version
        return {
            "library": v.library,
            "ref": v.ref,
            "commit": v.commit,
            "files": v.files,
            "chunks": v.chunks,
            "seconds": round(self.seconds, 2),
            "skipped_large_files": self.skipped_large,
            "truncated": self.truncated,
        }


class Indexer:
    def __init__(self, index: DocsIndex, settings: DocsSettings, forges: Forges | None) -> None:
        self.index = index
        self.settings = settings
        self.forges = forges
        self._locks: dict[str, anyio.Lock] = {}

    def _bounds(self) -> Bounds:
        s = self.settings
        return Bounds(s.max_unpacked_bytes, 200_000, s.max_files, s.max_file_bytes, time.monotonic() + s.index_timeout)

    async def run(
        self,
        source: Source,
        *,
        local_roots: list[str] | None,
        progress: Progress = _no_progress,
        name: str | None = None,
    ) -> IndexResult:
        """Index `source`; `local_roots` None means any local path (the CLI), else only below them."""
        started = time.monotonic()
        bounds = self._bounds()
        info: RepoInfo | None = None
        await progress(0, STEPS, f"reading {source.library}")
        if source.kind == "local":
            real = check_local(source.path, local_roots)
            ref, commit = LOCAL_REF, None
            library = f"local/{name}" if name else source.library
            if real.is_dir():
                tree = await anyio.to_thread.run_sync(read_directory, real, bounds)
            else:
                tree = await anyio.to_thread.run_sync(read_tarball, real, bounds, False)
                tree = _strip_common_top(tree)
        else:
            if self.forges is None:
                raise UserError("remote sources are not available here")
            with anyio.fail_after(max(1.0, bounds.seconds_left())):
                info = await self.forges.info(source)
                ref = source.ref or info.default_branch or "main"
                await progress(5, STEPS, f"downloading {info.library}@{ref}")
                data = await self.forges.archive(source, ref)
            library = info.library
            await progress(30, STEPS, f"unpacking {len(data)} bytes")
            tree = await anyio.to_thread.run_sync(read_tarball, data, bounds, True)
            commit = tree.top.rsplit("-", 1)[-1] if source.kind == "github" and "-" in tree.top else None
        lock = self._locks.setdefault(f"{library}@{ref}", anyio.Lock())
        async with lock:
            version = Version(
                library=library,
                ref=ref,
                is_default=source.ref is None or source.kind == "local",
                commit=commit,
                source=source.kind,
                url_base=blob_url_base(source, info, ref),
                description=info.description if info else None,
                stars=info.stars if info else None,
                files=0,
                chunks=0,
                indexed_at=0.0,
            )
            stored = await anyio.to_thread.run_sync(self._store, version, tree, source.folders, bounds, progress)
        return IndexResult(stored, time.monotonic() - started, tree.skipped_large, tree.truncated)

    def _store(
        self, version: Version, tree: Tree, folders: tuple[str, ...], bounds: Bounds, progress: Progress
    ) -> Version:
        paths = select_paths(tree, folders, bounds.max_files)
        if not paths:
            raise UserError(
                f"{version.library}@{version.ref}: no documentation files found (.md .mdx .rst .txt "
                ".ipynb in docs folders or a README)"
            )
        step = max(1, len(paths) // 20)

        def documents():
            for n, path in enumerate(paths):
                if n % step == 0:
                    bounds.check_time()
                    anyio.from_thread.run(progress, 40 + 55 * n / len(paths), STEPS, f"chunking {n}/{len(paths)} files")
                text = tree.files[path].decode("utf-8", errors="replace")
                doc = parse_document(path, text, self.settings.chunk_chars)
                if not doc.sections:
                    continue
                url = f"{version.url_base}{quote(path)}" if version.url_base else None
                yield NewDocument(
                    path,
                    doc.title,
                    url,
                    doc.text,
                    [(s.heading_path, s.body) for s in doc.sections],
                    about=doc.about,
                    weight=page_weight(path, doc.text, len(doc.sections), text[:3000]),
                )

        stored = self.index.replace_version(version, documents())
        anyio.from_thread.run(progress, STEPS, STEPS, f"indexed {stored.files} files, {stored.chunks} sections")
        return stored


def select_paths(tree: Tree, folders: tuple[str, ...], max_files: int) -> list[str]:
    """The files to index: by the repo's config (or catalog folders), else docs folders + README;
    a repository with no docs folder at all gets all its markdown/rst instead."""
    config = RepoConfig.parse(tree.config, folders)
    chosen = [p for p in tree.files if wanted(p, config)]
    if len(chosen) <= 1 and not config.folders:
        chosen = [
            p
            for p in tree.files
            if PurePosixPath(p).suffix.lower() != ".txt"
            and wanted(
                p, RepoConfig(folders=("",), exclude_folders=config.exclude_folders, exclude_files=config.exclude_files)
            )
        ]
    # READMEs and shallow files first, so a cut keeps the overview
    chosen.sort(key=lambda p: (not PurePosixPath(p).name.lower().startswith("readme"), p.count("/"), p))
    return chosen[:max_files]


def _strip_common_top(tree: Tree) -> Tree:
    """A local tarball with one top folder reads like a GitHub one: paths below that folder."""
    tops = {p.split("/", 1)[0] for p in tree.files if "/" in p}
    if len(tops) == 1 and all("/" in p for p in tree.files):
        top = tops.pop()
        tree.files = {p.split("/", 1)[1]: b for p, b in tree.files.items()}
        tree.configs = {p.split("/", 1)[1]: b for p, b in tree.configs.items() if p.startswith(top + "/")}
        tree.top = top
    return tree
