"""Ranking on real documentation: the ollama and kserve trees in ../shared/peer-data/docs, indexed in
place once per session, against ranking_questions.json (93 questions, answers found by reading the
files). hit@k counts a question when an answering file is among the first k returned sections.
Both stores are measured: SQLite and PostgreSQL rank the same way (ranking.py) and must both
reach the bar."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from mcpfleet.servers.docs.evaluation import Scores, load_questions
from mcpfleet.servers.docs.library import Librarian
from mcpfleet.servers.docs.settings import DocsSettings
from mcpfleet.servers.docs.store import open_index
from postgres_testing import new_database
from shared_data import shared_path

QUESTIONS = load_questions(Path(__file__).with_name("ranking_questions.json"))
TREES = ("ollama", "kserve")
BUDGET = 4000  # docs_search's default
pytestmark = pytest.mark.timeout(300)  # the first test of each store waits for its index of both trees


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def answers(request, tmp_path_factory) -> dict[str, dict]:
    """Every question's docs_search answer, from one index of both trees, in each store."""
    roots = {tree: shared_path("peer-data", "docs", tree) for tree in TREES}
    index_path = tmp_path_factory.mktemp("ranking") / "docs.sqlite"
    store = "sqlite" if request.param == "sqlite" else new_database(request.getfixturevalue("postgres_url"))
    librarian = Librarian(
        open_index(store, index_path), DocsSettings(index_path=str(index_path), default_catalog=False), forges=None
    )

    async def run() -> dict[str, dict]:
        for tree, root in roots.items():
            await librarian.index_source(str(root), None, local_roots=[str(root.parent)], name=tree)
        return {q.text: await librarian.search(f"local/{q.tree}", q.text, BUDGET) for q in QUESTIONS}

    try:
        return asyncio.run(run())
    finally:
        librarian.index.close()


def test_the_question_set_is_big_enough_and_covers_both_trees():
    assert len(QUESTIONS) >= 60 and {q.tree for q in QUESTIONS} == set(TREES)
    assert len({q.text for q in QUESTIONS}) == len(QUESTIONS)
    for q in QUESTIONS:  # every expected answer is a real file of its tree
        root = shared_path("peer-data", "docs", q.tree)
        assert q.expect and all((root / p).is_file() for p in q.expect), q.text


def test_hit_at_5_and_mrr(answers):
    scores = Scores()
    misses = []
    for q in QUESTIONS:
        result = answers[q.text]
        rank = scores.add([s["path"] for s in result["sections"]], q.expect, result["tokens"])
        if rank is None or rank > 5:
            misses.append(f"{q.text!r}: {rank}")
    assert scores.hit_at(5) >= 0.97, (scores.summary(), misses)
    assert scores.mrr >= 0.90, scores.summary()


def test_every_answer_fills_its_budget(answers):
    # all-words matching used to return a single section when one held every word
    for q in QUESTIONS:
        result = answers[q.text]
        assert len(result["sections"]) >= 3, q.text
        assert BUDGET * 0.75 <= result["tokens"] <= BUDGET, (q.text, result["tokens"])


def test_generated_references_do_not_crowd_out_guides(answers):
    # the 1.5 MB generated client reference is 3,593 of kserve's sections; it answers none of these
    generated = "docs/reference/controlplane-client/controlplane-client-api.md"
    firsts = [answers[q.text]["sections"][0]["path"] for q in QUESTIONS if q.tree == "kserve"]
    assert generated not in firsts
    crowded = [
        q.text
        for q in QUESTIONS
        if q.tree == "kserve" and [s["path"] for s in answers[q.text]["sections"][:5]].count(generated) > 1
    ]
    assert not crowded
