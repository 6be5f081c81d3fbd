"""`mcpfleet eval run` and `report` as a user runs them: subprocesses against the scripted server,
then the HTML page checked for its structure and its numbers."""

from __future__ import annotations

import base64
import functools
import json
import operator
import subprocess
from html.parser import HTMLParser

import pytest

from fleet_testing import mcpfleet_cmd, running_app, subprocess_env
from mcpfleet.evals.cases import load_cases
from mcpfleet.evals.stats import mean_interval
from scripted_llm import ScriptedLLM, expected_outcome

CATEGORIES = ("simple", "parallel", "irrelevance", "multi_turn")
CASES = [c for c in load_cases(["math"], CATEGORIES)]
FAULTY = "faulty [vllm 0.11.0, hermes, via openai/faulty]"


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
    done = subprocess.run(
        mcpfleet_cmd(*args), capture_output=True, text=True, env=subprocess_env(MCPFLEET_WORKERS__SIZE="1"), timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def accuracy_text(rates: list[float]) -> str:
    """The report's cell for these per-case success rates (Wilson over cases)."""
    lo, hi = mean_interval(rates)
    return f"{100 * sum(rates) / len(rates):.1f}% [{100 * lo:.1f}–{100 * hi:.1f}]"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    with running_app(ScriptedLLM(CASES).app) as url:
        base = ["--server", "math", "--no-progress", "--concurrency", "3"] + functools.reduce(
            operator.iadd, (["--category", c] for c in CATEGORIES), []
        )
        first = run(
            "eval",
            "run",
            "--model",
            "perfect",
            "--base-url",
            f"{url}/v1",
            "--compare-stream",
            "--out",
            str(tmp / "baseline.jsonl"),
            *base,
        )
        models = tmp / "models.yaml"
        models.write_text(
            f"- {{name: sloppy, base_url: '{url}/v1'}}\n- {{name: broken, base_url: '{url}/v1', top_p: 1.0}}\n"
            f"- {{name: faulty, base_url: '{url}/v1', serving: {{engine: vllm, engine_version: 0.11.0, "
            "tool_call_parser: hermes, litellm_route: openai/faulty}}\n"
        )
        run(
            "eval",
            "run",
            "--models",
            str(models),
            "--repeats",
            "2",
            "--retries",
            "2",
            "--out",
            str(tmp / "candidates.jsonl"),
            *base,
        )
    html_path, md_path = tmp / "report.html", tmp / "report.md"
    printed = run(
        "eval",
        "report",
        str(tmp / "baseline.jsonl"),
        str(tmp / "candidates.jsonl"),
        "--html",
        str(html_path),
        "--md",
        str(md_path),
    )
    parser = Tables()
    parser.feed(html_path.read_text())
    return first, printed, parser, md_path.read_text(), tmp


def test_run_prints_a_summary_and_writes_rows(report):
    first, _, _, _, tmp = report
    n = len(CASES) * 2
    assert f"{n} new result(s)" in first.stdout and f"{n} succeeded" in first.stdout
    rows = [json.loads(line) for line in (tmp / "candidates.jsonl").read_text().splitlines()]
    assert len(rows) == 3 * len(CASES) * 2
    faulty = [r for r in rows if r["model"] == "faulty"]
    assert all(r["target"] == FAULTY and r["serving"]["tool_call_parser"] == "hermes" for r in faulty)
    assert {r["params"].get("top_p") for r in rows if r["model"] == "broken"} == {1.0}


def test_leaderboard_has_the_scripted_accuracies_and_fault_rates(report):
    _, _, tables, _, _ = report
    header, *rows = tables.tables["leaderboard"]
    assert header[:5] == ["model × serving", "accuracy [95% CI]", "pass^k [95% CI]", "k", "schema-valid"]
    col = {h: i for i, h in enumerate(header)}
    by_model = {r[0]: r for r in rows}
    assert set(by_model) == {
        "perfect (baseline)",
        "sloppy (candidates)",
        "broken (candidates)",
        f"{FAULTY} (candidates)",
    }
    assert rows[0][0] == "perfect (baseline)"  # ranked by accuracy
    perfect = by_model["perfect (baseline)"]
    assert perfect[1] == accuracy_text([1.0] * len(CASES)) and perfect[2].startswith("100.0%")
    assert perfect[col["stream disagreement"]] == f"0.0% (0/{len(CASES)})"  # streaming and not agree
    assert perfect[col["engine faults"]] == "0.0% (0)" and perfect[col["cases"]] == str(len(CASES))
    for persona, label in (("sloppy", "sloppy"), ("broken", "broken"), ("faulty", FAULTY)):
        outcomes = [expected_outcome(persona, c, False, _schemas()) for c in CASES]
        measured = [o for o in outcomes if o["fault"] is None]
        rates = [1.0 if o["success"] else 0.0 for o in measured]
        row = by_model[f"{label} (candidates)"]
        assert row[1] == accuracy_text(rates), persona
        assert (
            row[3] == "2" and row[col["trials"]] == str(2 * len(measured)) and row[col["cases"]] == str(len(measured))
        )
        assert row[2].startswith(f"{100 * sum(rates) / len(rates):.1f}% [")  # deterministic: pass^2 == pass^1
        for kind in ("engine", "endpoint"):
            n = 2 * sum(o["fault"] == kind for o in outcomes)
            assert (
                row[col[f"{kind} faults" if kind == "engine" else "endpoint errors"]]
                == f"{100 * n / (2 * len(CASES)):.1f}% ({n})"
            ), (persona, kind)
    faulty = by_model[f"{FAULTY} (candidates)"]
    assert faulty[1].startswith("100.0%") and faulty[col["engine faults"]] != "0.0% (0)"  # faults are not failures


def test_paired_comparison_names_the_leader_and_a_p_value(report):
    _, _, tables, _, _ = report
    header, *rows = tables.tables["paired-comparisons"]
    assert header[:3] == ["A", "B", "difference [95% CI]"]
    by_b = {r[1]: r for r in rows}
    assert set(by_b) == {"sloppy (candidates)", "broken (candidates)", f"{FAULTY} (candidates)"}
    assert {r[0] for r in rows} <= {"perfect (baseline)", f"{FAULTY} (candidates)"}  # both at 100%: either leads
    for b in ("sloppy (candidates)", "broken (candidates)"):
        assert (
            float(by_b[b][5]) < 0.05
            and " is better than " in by_b[b][6]
            and by_b[b][6].endswith(f"{b} (" + by_b[b][6].split(f"{b} (", 1)[1])
        )
    leader = rows[0][0]
    other = "perfect (baseline)" if leader != "perfect (baseline)" else f"{FAULTY} (candidates)"
    assert by_b[other][6].startswith("No significant difference") and by_b[other][5] == "1"


def test_serving_configuration_table(report):
    _, _, tables, _, _ = report
    header, *rows = tables.tables["serving-configuration"]
    row = dict(zip(header, next(r for r in rows if r[0].startswith(FAULTY))))
    assert row["engine (declared)"] == "vllm 0.11.0" and row["tool-call parser"] == "hermes"
    assert row["LiteLLM route"] == "openai/faulty" and row["engine (detected)"] == "vllm 0.11.0"


def test_fault_examples_keep_the_raw_stream(report):
    _, _, tables, _, _ = report
    header, *rows = tables.tables["fault-examples"]
    assert header == ["model", "case", "fault", "raw stream"]
    kinds = {
        k
        for r in rows
        if r[0].startswith(FAULTY)
        for k in ("arguments_truncated", "arguments_duplicated", "finish_reason_inconsistent", "endpoint_error")
        if k in r[2]
    }
    assert kinds == {"arguments_truncated", "arguments_duplicated", "finish_reason_inconsistent", "endpoint_error"}


def test_server_and_category_tables(report):
    _, _, tables, _, _ = report
    header, *rows = tables.tables["accuracy-by-server"]
    assert header == ["model × serving", "math"]
    header, *rows = tables.tables["accuracy-by-category"]
    assert header == ["model × serving", *CATEGORIES]
    perfect = next(r for r in rows if r[0].startswith("perfect"))
    assert all(cell.startswith("100.0%") for cell in perfect[1:])
    sloppy = dict(zip(header, next(r for r in rows if r[0].startswith("sloppy"))))
    irrelevance = [c for c in CASES if c.category == "irrelevance"]
    rates = [1.0 if expected_outcome("sloppy", c, False, _schemas())["success"] else 0.0 for c in irrelevance]
    assert sloppy["irrelevance"] == accuracy_text(rates)
    header, *rows = tables.tables["latency-per-case"]
    assert header == ["model × serving", "p50", "p90", "p99", "max"] and all(c.endswith(" ms") for c in rows[0][1:])


def test_failures_show_expected_and_actual_calls(report):
    _, _, tables, _, _ = report
    header, *rows = tables.tables["failures"]
    assert header == ["model", "case", "expected", "actual", "why"]
    assert not any(r[0].startswith("perfect") for r in rows)
    wrong = [r for r in rows if r[0].startswith("broken") and "math_" in r[3] and "_v2" in r[3]]
    assert wrong and any("expected 'math_" in r[4] for r in wrong)


def test_plots_are_embedded_pngs_and_the_page_is_self_contained(report):
    _, _, tables, _, tmp = report
    assert len(tables.images) == 3  # leaderboard, accuracy by server, latency
    for src in tables.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    page = (tmp / "report.html").read_text()
    assert page.index("<table id='leaderboard'>") == page.index("<table")  # the page leads with the leaderboard
    assert "http://" not in page.replace("http://127.0.0.1", "") and "<script" not in page


def test_markdown_is_printed_and_written(report):
    _, printed, _, md, _ = report
    assert printed.stdout == md
    assert md.startswith("# Tool-calling eval\n\n## Leaderboard") and "| perfect (baseline) |" in md
    assert "## Failure examples" in md and "## Fault examples" in md


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
