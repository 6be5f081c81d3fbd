"""The two docs index stores on the same corpus: SQLite FTS5 (embedded) and PostgreSQL (shared by replicas).

The corpus is ../shared/peer-data/docs/{ollama,kserve} (read in place; MCPFLEET_SHARED_DIR moves
it), the questions tests/docs/ranking_questions.json. Each store indexes both trees through the
Librarian, as docs_index does, then answers every question as docs_search does (4,000 tokens).

Printed per store: index time, hit@1, hit@5 and MRR, search p50/p95 over `--repeat` rounds; and
how much the two agree: the share of questions whose first section is the same, and the mean
overlap of the top-5 sections (same file and heading). PostgreSQL is a throwaway server started
here (tests/support/postgres_testing.py), or `--url` for one of yours (an empty database).
Nothing is asserted.

    python benchmarks/bench_docs_store.py [--repeat 3] [--url postgresql://…]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("MCPFLEET_SHARED_DIR") or REPO.parent / "shared")
TREES = ("ollama", "kserve")
QUESTIONS = REPO / "tests" / "docs" / "ranking_questions.json"
TOP = 5


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000


@contextlib.contextmanager
def throwaway_postgres():
    sys.path.insert(0, str(REPO / "tests" / "support"))
    from postgres_testing import new_database, postgres_server

    with postgres_server() as url:
        yield new_database(url, "bench_docs")


async def measure(name: str, index, roots: dict[str, Path], questions, repeat: int) -> dict:
    from mcpfleet.servers.docs.evaluation import Scores
    from mcpfleet.servers.docs.library import Librarian
    from mcpfleet.servers.docs.settings import DocsSettings

    librarian = Librarian(index, DocsSettings(default_catalog=False), forges=None)
    index_seconds = {}
    for tree, root in roots.items():
        t = time.perf_counter()
        result = await librarian.index_source(str(root), None, local_roots=None, name=tree)
        index_seconds[tree] = time.perf_counter() - t
        v = result.version
        print(f"{name}: {tree} {v.files} files, {v.chunks} sections, indexed in {index_seconds[tree]:.2f} s")
    scores, latency, tops = Scores(), [], {}
    for round_ in range(repeat):
        for q in questions:
            t = time.perf_counter()
            found = await librarian.search(f"local/{q.tree}", q.text, 4000)
            latency.append(time.perf_counter() - t)
            if round_ == 0:
                scores.add([s["path"] for s in found["sections"]], q.expect, found["tokens"])
                tops[q.text] = [(s["path"], s["heading"]) for s in found["sections"][:TOP]]
    index.close()
    return {"name": name, "scores": scores, "latency": latency, "index": index_seconds, "tops": tops}


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3, help="rounds over the questions for latency")
    parser.add_argument("--url", help="an empty PostgreSQL database to use instead of a throwaway server")
    args = parser.parse_args()

    from mcpfleet.servers.docs.evaluation import load_questions
    from mcpfleet.servers.docs.store_postgres import PostgresIndex
    from mcpfleet.servers.docs.store_sqlite import SqliteIndex

    roots = {tree: SHARED / "peer-data" / "docs" / tree for tree in TREES}
    missing = [str(p) for p in roots.values() if not p.is_dir()]
    if missing:
        print(f"skipped: the corpus is absent ({', '.join(missing)}); see the README's Testing section")
        return
    questions = load_questions(QUESTIONS)
    with tempfile.TemporaryDirectory(prefix="bench-docs-store-") as tmp:
        results = [await measure("sqlite", SqliteIndex(Path(tmp) / "docs.sqlite"), roots, questions, args.repeat)]
        with contextlib.nullcontext(args.url) if args.url else throwaway_postgres() as url:
            results.append(await measure("postgres", PostgresIndex(url), roots, questions, args.repeat))

    print(
        f"\n{len(questions)} questions over {', '.join(TREES)}; search latency over {args.repeat} rounds "
        "(docs_search: search + packing)"
    )
    print(f"{'store':10} {'index s':>8} {'hit@1':>6} {'hit@5':>6} {'MRR':>6} {'p50 ms':>8} {'p95 ms':>8}")
    for r in results:
        s = r["scores"]
        print(
            f"{r['name']:10} {sum(r['index'].values()):8.2f} {s.hit_at(1):6.3f} {s.hit_at(5):6.3f} {s.mrr:6.3f} "
            f"{pct(r['latency'], 0.5):8.2f} {pct(r['latency'], 0.95):8.2f}"
        )
    a, b = (r["tops"] for r in results)
    same_first = sum(1 for q in a if a[q][:1] == b[q][:1]) / len(a)
    overlap = sum(len(set(a[q]) & set(b[q])) / max(1, len(a[q]), len(b[q])) for q in a) / len(a)
    print(f"agreement: same first section {same_first:.3f}, top-{TOP} overlap {overlap:.3f}")


if __name__ == "__main__":
    asyncio.run(main())
