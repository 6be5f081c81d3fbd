"""Scoring a ranking against questions with known answers: hit@k and mean reciprocal rank.

A question's answer is one or more documents (file paths); a ranking is the list of document paths
of the returned sections, best first (a path may repeat). A hit at k means an expected document is
among the first k entries; the reciprocal rank is 1/position of the first expected one (0 if none).
Used by the ranking test and `benchmarks/bench_docs.py`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Question:
    tree: str  # which corpus (library) the question is about
    text: str
    expect: tuple[str, ...]  # paths of the documents that answer it


@dataclass
class Scores:
    ranks: list[int | None] = field(default_factory=list)  # 1-based rank of the first answer, per question
    tokens: list[int] = field(default_factory=list)

    def add(self, ranking: Sequence[str], expect: Sequence[str], tokens: int = 0) -> int | None:
        rank = first_rank(ranking, expect)
        self.ranks.append(rank)
        self.tokens.append(tokens)
        return rank

    def hit_at(self, k: int) -> float:
        return sum(1 for r in self.ranks if r is not None and r <= k) / max(1, len(self.ranks))

    @property
    def mrr(self) -> float:
        return sum(1 / r for r in self.ranks if r is not None) / max(1, len(self.ranks))

    @property
    def mean_tokens(self) -> float:
        return sum(self.tokens) / max(1, len(self.tokens))

    def summary(self) -> str:
        return (
            f"hit@1 {self.hit_at(1):.3f}  hit@5 {self.hit_at(5):.3f}  MRR {self.mrr:.3f}  "
            f"tokens/answer {self.mean_tokens:,.0f}  ({len(self.ranks)} questions)"
        )


def first_rank(ranking: Sequence[str], expect: Sequence[str]) -> int | None:
    """1-based position of the first path of `ranking` that is in `expect`, or None."""
    wanted = set(expect)
    return next((n for n, path in enumerate(ranking, 1) if path in wanted), None)


def load_questions(path: str | Path) -> list[Question]:
    """A question file: {"questions": [{"tree": ..., "q": ..., "expect": [paths]}]}."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return [Question(q["tree"], q["q"], tuple(q["expect"])) for q in data["questions"]]
