"""Docs index: build time and search latency on a corpus of real documentation found on this machine.

The corpus is every .md/.rst/.txt/.ipynb (and gzipped .md) under the Python packages of the venv,
/usr/lib/node_modules, .tools/ (node packages) and /usr/share/doc, copied into one folder as
`docs/<origin>/...` and indexed as one local library (the same code path as `mcpfleet docs index DIR`).

Reported: files, sections (chunks), index build time, index size on disk, and p50/p99 latency of
(a) the FTS5 BM25 query alone and (b) a full search (query + token-budget packing, 4,000 tokens),
over queries made of words taken from the corpus's own headings.

    python benchmarks/bench_docs_scale.py [--queries 500] [--keep DIR [--reuse]]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ORIGINS = {
    "python": Path(sys.prefix) / "lib",
    "node-global": Path("/usr/lib/node_modules"),
    "node-tools": REPO / ".tools",
    "debian": Path("/usr/share/doc"),
}
SUFFIXES = (".md", ".markdown", ".mdx", ".rst", ".txt", ".ipynb")


def build_corpus(target: Path, max_bytes: int = 2_000_000) -> tuple[int, int]:
    files = size = 0
    for origin, base in ORIGINS.items():
        if not base.is_dir():
            continue
        for dirpath, _dirs, names in os.walk(base, followlinks=False):
            for name in names:
                src = Path(dirpath) / name
                lower = name.lower()
                gz = lower.endswith(".md.gz") or lower.endswith(".rst.gz")
                if not (lower.endswith(SUFFIXES) or gz) or src.is_symlink():
                    continue
                try:
                    data = gzip.decompress(src.read_bytes()) if gz else src.read_bytes()
                except (OSError, EOFError, gzip.BadGzipFile):
                    continue
                if not data or len(data) > max_bytes:
                    continue
                # "node_modules", "dist"... would be skipped as vendored trees: flatten those names
                rel = str(src.relative_to(base)).removesuffix(".gz").replace("node_modules", "nm")
                rel = "/".join(
                    p if p not in ("dist", "build", "vendor", "out", "target") else f"_{p}" for p in rel.split("/")
                )
                rel = re.sub(r"/\.+", "/_", rel)
                dest = target / "docs" / origin / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(data)
                files += 1
                size += len(data)
    return files, size


def pct(samples: list[float], q: float) -> float:
    samples = sorted(samples)
    return samples[min(len(samples) - 1, int(len(samples) * q))] * 1000


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--keep", help="keep the corpus and index in this folder")
    parser.add_argument("--reuse", action="store_true", help="with --keep: search the index built last time")
    args = parser.parse_args()

    from mcpfleet.servers.docs.library import Librarian
    from mcpfleet.servers.docs.settings import DocsSettings
    from mcpfleet.servers.docs.store_sqlite import SqliteIndex

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-docs-"))
    try:
        corpus = work / "corpus"
        index_path = work / "docs.sqlite"
        settings = DocsSettings(
            index_path=str(index_path), max_files=100_000, index_timeout=3600, default_catalog=False
        )
        if args.reuse and args.keep and index_path.exists():
            librarian = Librarian(SqliteIndex(index_path), settings, forges=None)
            v = librarian.index.find_version("local/bench")
            print(f"index (reused): {v.files} files, {v.chunks} sections")
        else:
            shutil.rmtree(corpus, ignore_errors=True)
            t = time.perf_counter()
            files, size = build_corpus(corpus)
            print(f"corpus: {files} files, {size / 1e6:.1f} MB copied in {time.perf_counter() - t:.1f} s")
            for p in work.glob("docs.sqlite*"):
                p.unlink()
            librarian = Librarian(SqliteIndex(index_path), settings, forges=None)
            t = time.perf_counter()
            result = await librarian.index_source(str(corpus), None, local_roots=None, name="bench")
            build = time.perf_counter() - t
            v = result.version
            disk = sum(p.stat().st_size for p in work.glob("docs.sqlite*"))
            print(
                f"index: {v.files} files, {v.chunks} sections, built in {build:.1f} s "
                f"({v.chunks / build:,.0f} sections/s), {disk / 1e6:.1f} MB on disk"
            )
        if v.chunks < 10_000:
            print(f"WARNING: only {v.chunks} sections (< 10,000)")

        headings = [
            r[0]
            for r in librarian.index._reader.execute(
                "SELECT heading FROM chunks WHERE library = ? ORDER BY random() LIMIT 5000", (v.library,)
            )
        ]
        words = [w for h in headings for w in re.findall(r"[a-z]{4,}", h.lower())]
        rng = random.Random(7)
        queries = [" ".join(rng.sample(words, rng.choice((1, 2, 2, 3)))) for _ in range(args.queries)]

        raw, full, hits = [], [], 0
        for q in queries:
            t = time.perf_counter()
            found = librarian.index.search(v, q, limit=50)
            raw.append(time.perf_counter() - t)
            hits += bool(found)
        for q in queries:
            t = time.perf_counter()
            await librarian.search(v.library, q, 4000)
            full.append(time.perf_counter() - t)
        print(f"queries: {len(queries)} ({hits} with hits)")
        print(
            f"FTS5 BM25 query:           p50 {pct(raw, 0.5):7.2f} ms  p99 {pct(raw, 0.99):7.2f} ms  "
            f"mean {statistics.mean(raw) * 1000:.2f} ms"
        )
        print(
            f"search + pack (4k tokens): p50 {pct(full, 0.5):7.2f} ms  p99 {pct(full, 0.99):7.2f} ms  "
            f"mean {statistics.mean(full) * 1000:.2f} ms"
        )
        librarian.index.close()
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
