"""`mcpfleet eval run` and `report` as a user runs them: subprocesses against the scripted server,
then the HTML page checked for its structure and its numbers."""

from __future__ import annotations

import base64
import json
import subprocess
from html.parser import HTMLParser

import pytest

from fleet_testing import mcpfleet_cmd, running_app, subprocess_env
from mcpfleet.evals.cases import load_cases
from mcpfleet.evals.scoring import wilson_interval
from scripted_llm import ScriptedLLM, expected_outcome

CATEGORIES = ("simple", "parallel", "irrelevance", "multi_turn")
CASES = [c for c in load_cases(["math"], CATEGORIES)]


class Tables(HTMLParser):
    """Tables by id as lists of rows of cell text; images' src."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.images: list[str] = []
        self._table: list[list[str]] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self._table = self.tables.setdefault(a.get("id", f"t{len(self.tables)}"), [])
        elif tag == "tr" and self._table is not None:
            self._table.append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "img":
            self.images.append(a["src"])

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self._table is not None:
            self._table[-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def run(*args: str) -> subprocess.CompletedProcess:
    done = subprocess.run(mcpfleet_cmd(*args), capture_output=True, text=True, env=subprocess_env(MCPFLEET_WORKERS__SIZE="1"), timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def accuracy_text(successes: int, trials: int) -> str:
    lo, hi = wilson_interval(successes, trials)
    return f"{100 * successes / trials:.1f}% [{100 * lo:.1f}–{100 * hi:.1f}]"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    with running_app(ScriptedLLM(CASES).app) as url:
        base = ["--server", "math", "--no-progress", "--concurrency", "3"] + sum((["--category", c] for c in CATEGORIES), [])
        first = run("eval", "run", "--model", "perfect", "--base-url", f"{url}/v1", "--compare-stream",
                    "--out", str(tmp / "baseline.jsonl"), *base)
        models = tmp / "models.yaml"
        models.write_text(f"- {{name: sloppy, base_url: '{url}/v1'}}\n- {{name: broken, base_url: '{url}/v1', top_p: 1.0}}\n")
        run("eval", "run", "--models", str(models), "--repeats", "2", "--out", str(tmp / "candidates.jsonl"), *base)
    html_path, md_path = tmp / "report.html", tmp / "report.md"
    printed = run("eval", "report", str(tmp / "baseline.jsonl"), str(tmp / "candidates.jsonl"),
                  "--html", str(html_path), "--md", str(md_path))
    parser = Tables()
    parser.feed(html_path.read_text())
    return first, printed, parser, md_path.read_text(), tmp


def test_run_prints_a_summary_and_writes_rows(report):
    first, _, _, _, tmp = report
    n = len(CASES) * 2
    assert f"{n} new result(s)" in first.stdout and f"{n} succeeded" in first.stdout
    rows = [json.loads(line) for line in (tmp / "candidates.jsonl").read_text().splitlines()]
    assert len(rows) == 2 * len(CASES) * 2
    assert {r["params"].get("top_p") for r in rows if r["model"] == "broken"} == {1.0}


def test_summary_table_has_the_scripted_accuracies(report):
    _, _, tables, _, _ = report
    header, *rows = tables.tables["summary"]
    assert header[:4] == ["model", "accuracy [95% CI]", "pass^k", "k"]
    by_model = {r[0]: r for r in rows}
    assert set(by_model) == {"perfect (baseline)", "sloppy (candidates)", "broken (candidates)"}
    perfect = by_model["perfect (baseline)"]
    assert perfect[1] == accuracy_text(2 * len(CASES), 2 * len(CASES)) and perfect[2] == "100.0%"
    assert perfect[7] == f"0.0% (0/{len(CASES)})"  # streaming and not agree
    assert perfect[8] == "vllm 0.11.0"
    for persona in ("sloppy", "broken"):
        wins = sum(expected_outcome(persona, c, False, _schemas())["success"] for c in CASES)
        row = by_model[f"{persona} (candidates)"]
        assert row[1] == accuracy_text(2 * wins, 2 * len(CASES)), persona
        assert row[3] == "2" and row[5] == str(2 * len(CASES))
        assert row[2] == f"{100 * wins / len(CASES):.1f}%"  # deterministic personas: pass^2 == pass^1


def test_server_and_category_tables(report):
    _, _, tables, _, _ = report
    header, *rows = tables.tables["accuracy-by-server"]
    assert header == ["model", "math"]
    header, *rows = tables.tables["accuracy-by-category"]
    assert header == ["model", *CATEGORIES]
    perfect = next(r for r in rows if r[0].startswith("perfect"))
    assert all(cell.startswith("100.0%") for cell in perfect[1:])
    sloppy = dict(zip(header, next(r for r in rows if r[0].startswith("sloppy"))))
    irrelevance = [c for c in CASES if c.category == "irrelevance"]
    wins = sum(expected_outcome("sloppy", c, False, _schemas())["success"] for c in irrelevance)
    assert sloppy["irrelevance"] == accuracy_text(2 * wins, 2 * len(irrelevance))
    header, *rows = tables.tables["latency-per-case"]
    assert header == ["model", "p50", "p90", "p99", "max"] and all(c.endswith(" ms") for c in rows[0][1:])


def test_failures_show_expected_and_actual_calls(report):
    _, _, tables, _, _ = report
    header, *rows = tables.tables["failures"]
    assert header == ["model", "case", "expected", "actual", "why"]
    assert not any(r[0].startswith("perfect") for r in rows)
    wrong = [r for r in rows if r[0].startswith("broken") and "math_" in r[3] and "_v2" in r[3]]
    assert wrong and any("expected 'math_" in r[4] for r in wrong)


def test_plots_are_embedded_pngs_and_the_page_is_self_contained(report):
    _, _, tables, _, tmp = report
    assert len(tables.images) == 2
    for src in tables.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    page = (tmp / "report.html").read_text()
    assert "http://" not in page.replace("http://127.0.0.1", "") and "<script" not in page


def test_markdown_is_printed_and_written(report):
    _, printed, _, md, _ = report
    assert printed.stdout == md
    assert md.startswith("# Tool-calling eval") and "| perfect (baseline) |" in md and "## Failure examples" in md


def _schemas() -> dict:
    # the scripted personas consult tool schemas only for sloppy default/wrong values; read them from a row
    global _SCHEMAS
    if _SCHEMAS is None:
        import asyncio

        from mcpfleet.common.settings import load_settings
        from mcpfleet.evals.fleet import open_fleet
        from mcpfleet.servers.math import SPEC

        async def go():
            async with open_fleet(load_settings(workers={"size": 1}), specs=[SPEC]) as fleet:
                return fleet.schemas

        _SCHEMAS = asyncio.run(go())
    return _SCHEMAS


_SCHEMAS: dict | None = None
