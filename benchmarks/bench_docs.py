"""Docs search quality on real documentation: docs_search against a whole-file FTS baseline.

The corpus is ../shared/peer-data/docs/{ollama,kserve} (read in place; MCPFLEET_SHARED_DIR moves
it), the questions are tests/docs/ranking_questions.json (93, answers found by reading the files).
Both sides index the same files and get the same words:

- docs_search: the Librarian's search (sections, BM25 + page weights + boosts, token-budget
  packing) at its default 4,000-token budget and at 2,000;
- whole-file FTS: one FTS5 row per file (porter stemming, BM25, any word), the top 5 files
  returned whole, which is what pasting search hits into a prompt costs.

Printed: hit@1, hit@5, MRR (rank = the first result whose file answers), tokens returned per
answer (o200k_base), and p50/p95 latency per query over `--repeat` rounds. Nothing is asserted.

    python benchmarks/bench_docs.py [--repeat 3] [--misses]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("MCPFLEET_SHARED_DIR") or REPO.parent / "shared")
TREES = ("ollama", "kserve")
QUESTIONS = REPO / "tests" / "docs" / "ranking_questions.json"
BASELINE_FILES = 5


def tokens_of(text: str, piece: int = 50_000) -> int:
    """Tokens of a text of any size (the tokenizer refuses megabytes at once; cut lines cost ~0)."""
    from mcpfleet.tokens import count_tokens

    return sum(count_tokens(text[i : i + piece]) for i in range(0, len(text), piece))


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000


class WholeFileFTS:
    """The baseline: every indexed file as one FTS5 row, ranked by BM25 over any query word."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path)
        self.conn.execute(
            "CREATE VIRTUAL TABLE files USING fts5(tree UNINDEXED, path UNINDEXED, text, "
            "tokenize='porter unicode61 remove_diacritics 2')"
        )

    def add(self, tree: str, path: str, text: str) -> None:
        self.conn.execute("INSERT INTO files VALUES (?, ?, ?)", (tree, path, text))

    def search(self, tree: str, expr: str, limit: int) -> list[tuple[str, str]]:
        return self.conn.execute(
            "SELECT path, text FROM files WHERE files MATCH ? AND tree = ? ORDER BY bm25(files) LIMIT ?",
            (expr, tree, limit),
        ).fetchall()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3, help="rounds over the questions for latency")
    parser.add_argument("--misses", action="store_true", help="list the questions answered below rank 5")
    args = parser.parse_args()

    from mcpfleet.servers.docs.evaluation import Scores, load_questions
    from mcpfleet.servers.docs.library import Librarian
    from mcpfleet.servers.docs.ranking import query_terms
    from mcpfleet.servers.docs.settings import DocsSettings
    from mcpfleet.servers.docs.store_sqlite import SqliteIndex

    roots = {tree: SHARED / "peer-data" / "docs" / tree for tree in TREES}
    missing = [str(p) for p in roots.values() if not p.is_dir()]
    if missing:
        sys.exit(f"corpus not found: {', '.join(missing)} (set MCPFLEET_SHARED_DIR)")
    questions = load_questions(QUESTIONS)

    with tempfile.TemporaryDirectory(prefix="bench-docs-") as tmp:
        index_path = Path(tmp) / "docs.sqlite"
        librarian = Librarian(
            SqliteIndex(index_path), DocsSettings(index_path=str(index_path), default_catalog=False), forges=None
        )
        baseline = WholeFileFTS(Path(tmp) / "files.sqlite")
        for tree, root in roots.items():
            t = time.perf_counter()
            result = await librarian.index_source(str(root), None, local_roots=None, name=tree)
            v = result.version
            print(f"{tree}: {v.files} files, {v.chunks} sections, indexed in {time.perf_counter() - t:.2f} s")
            for path, _title in librarian.index.paths(v):  # the same files, as the index normalised them
                baseline.add(tree, path, librarian.index.document(v, path)[1])

        def expression(text: str) -> str | None:
            terms = query_terms(text)
            return " OR ".join(f'"{t}"' for t in terms) if terms else None

        rows = []
        for budget in (4000, 2000):
            scores, latency, misses = Scores(), [], []
            for round_ in range(args.repeat):
                for q in questions:
                    t = time.perf_counter()
                    found = await librarian.search(f"local/{q.tree}", q.text, budget)
                    latency.append(time.perf_counter() - t)
                    if round_ == 0:
                        rank = scores.add([s["path"] for s in found["sections"]], q.expect, found["tokens"])
                        if rank is None or rank > 5:
                            misses.append(f"  {rank}\t{q.tree}\t{q.text}")
            rows.append((f"docs_search ({budget:,} tokens)", scores, latency, misses))

        scores, latency, misses = Scores(), [], []
        for round_ in range(args.repeat):
            for q in questions:
                expr = expression(q.text)
                t = time.perf_counter()
                files = baseline.search(q.tree, expr, BASELINE_FILES) if expr else []
                latency.append(time.perf_counter() - t)
                if round_ == 0:
                    tokens = sum(tokens_of(text) for _, text in files)
                    rank = scores.add([p for p, _ in files], q.expect, tokens)
                    if rank is None or rank > 5:
                        misses.append(f"  {rank}\t{q.tree}\t{q.text}")
        rows.append((f"whole-file FTS (top {BASELINE_FILES} files)", scores, latency, misses))
        librarian.index.close()

    print(f"\n{len(questions)} questions over {', '.join(TREES)}; latency over {args.repeat} rounds")
    print(f"{'':32} {'hit@1':>6} {'hit@5':>6} {'MRR':>6} {'tokens/answer':>14} {'p50 ms':>8} {'p95 ms':>8}")
    for name, s, lat, _ in rows:
        print(
            f"{name:32} {s.hit_at(1):6.3f} {s.hit_at(5):6.3f} {s.mrr:6.3f} {s.mean_tokens:14,.0f} "
            f"{pct(lat, 0.5):8.2f} {pct(lat, 0.95):8.2f}"
        )
    if args.misses:
        for name, _, _, miss in rows:
            print(f"\nbelow rank 5, {name}:\n" + ("\n".join(miss) or "  none"))


if __name__ == "__main__":
    asyncio.run(main())
