"""How sections are ranked, the same for every index store: BM25, page weights, coverage, per-page decay.

Every section holding any query word is a candidate; BM25 (heading 4 : path and page description
2 : body 1) is scaled by the document's weight (generated references weigh less, see weights.py),
raised for sections that hold more of the query's words (all words is a boost, not a filter), and
a document's second, third... section counts a little less each, so one long page cannot fill a
whole answer. SQLite computes BM25 inside FTS5; stores without it call `bm25` here, which is
FTS5's formula (tested against it).
"""

from __future__ import annotations

import heapq
import math
import re
from collections.abc import Iterable
from pathlib import PurePosixPath

HEADING_WEIGHT = 4.0
PLACE_WEIGHT = 2.0
BODY_WEIGHT = 1.0
CANDIDATES = 400  # sections ranked per query (BM25 order) before boosts and the per-page decay
COVERAGE_BOOST = 0.5  # a section holding every query word scores (1 + this) times one holding few
SAME_PAGE_DECAY = 0.75  # the n-th section of one document counts DECAY**n
BM25_K1 = 1.2  # FTS5's constants
BM25_B = 0.75
STOPWORDS = frozenset(
    "a an and are as at be by do does for from how i in is it me my of on or the this to use using what "
    "when where which who why with can should".split()
)
MAX_TERMS = 16
# The words of a text as FTS5's unicode61 tokenizer sees them: runs of letters and digits
_TOKEN = re.compile(r"[^\W_]+")


def query_terms(text: str) -> list[str]:
    """The words of a query that count: stop words dropped (unless nothing else is left), at most 16."""
    words = re.findall(r"\w+", text.lower())
    terms = [w for w in dict.fromkeys(words) if w not in STOPWORDS] or list(dict.fromkeys(words))
    return terms[:MAX_TERMS]


def tokens(text: str) -> list[str]:
    """`text` split as unicode61 splits it (lower case): 'storage_uri' and 'storage-uri' are two words."""
    return _TOKEN.findall(text.lower())


def place(path: str, about: str) -> str:
    """The place column: the file path's words (folders and name) and what the page says of itself."""
    stem = str(PurePosixPath(path).with_suffix(""))
    words = re.sub(r"[/_.\-]+", " ", stem).strip()
    return f"{words} {about}".strip()


def idf(rows: int, rows_with_term: int) -> float:
    """FTS5's inverse document frequency, floored at a tiny positive value for very common words."""
    value = math.log((rows - rows_with_term + 0.5) / (rows_with_term + 0.5))
    return value if value > 0 else 1e-6


def bm25(freqs: Iterable[tuple[float, float]], length: int, avg_length: float) -> float:
    """FTS5's bm25() (positive): `freqs` holds (idf, column-weighted frequency) for each query word
    the section holds, `length` is its token count in all columns."""
    norm = BM25_K1 * (1 - BM25_B + BM25_B * length / avg_length) if avg_length > 0 else BM25_K1
    return sum(w * (f * (BM25_K1 + 1)) / (f + norm) for w, f in freqs)


def best_candidates(
    matches: Iterable[tuple[int, int, float]], weights: dict[int, float]
) -> list[tuple[float, int, int]]:
    """(score, chunk id, doc id) of the CANDIDATES best (chunk id, doc id, bm25) by BM25 × page weight."""
    return heapq.nlargest(CANDIDATES, ((bm25_ * weights.get(doc, 1.0), cid, doc) for cid, doc, bm25_ in matches))


def rank(best: list[tuple[float, int, int]], coverage: dict[int, float], limit: int) -> list[tuple[float, int]]:
    """(score, chunk id), best first: the coverage boost applied to the candidates, then diversified."""
    scored = [(score * (1 + COVERAGE_BOOST * coverage.get(cid, 0.0) ** 2), cid, doc) for score, cid, doc in best]
    return diversify(scored, limit)


def diversify(scored: list[tuple[float, int, int]], limit: int) -> list[tuple[float, int]]:
    """(score, chunk id) of `limit` picks from (score, chunk id, doc id), best first, a document's
    n-th section counting SAME_PAGE_DECAY**n of its score (greedy: the next pick is the best score
    after the decay of what was already picked). A heap with lazy updates: an entry pushed before
    its document gained a pick is re-pushed decayed."""
    heap = [(-score, n, 0) for n, (score, _, _) in enumerate(scored)]
    heapq.heapify(heap)
    picked: list[tuple[float, int]] = []
    seen: dict[int, int] = {}
    while heap and len(picked) < limit:
        neg, n, at = heapq.heappop(heap)
        score, cid, doc = scored[n]
        now = seen.get(doc, 0)
        if now != at:
            heapq.heappush(heap, (-score * SAME_PAGE_DECAY**now, n, now))
            continue
        picked.append((round(-neg, 4), cid))
        seen[doc] = now + 1
    return picked
