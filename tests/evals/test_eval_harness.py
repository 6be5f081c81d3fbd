"""The harness end to end: a scripted OpenAI-compatible server on 127.0.0.1, the live math and prolog
servers in process, and the scores each persona must get (derived from the persona's script)."""

from __future__ import annotations

import json

import pytest
import pytest_asyncio

from fleet_testing import running_app
from mcpfleet.common.settings import load_settings
from mcpfleet.evals.cases import load_cases
from mcpfleet.evals.client import ChatClient, EndpointError
from mcpfleet.evals.fleet import open_fleet
from mcpfleet.evals.report import build_runs, summarise
from mcpfleet.evals.runner import ModelTarget, RunOptions, read_rows, run_eval
from mcpfleet.evals.stats import mean_interval, paired
from mcpfleet.servers.math import SPEC as MATH
from mcpfleet.servers.prolog import SPEC as PROLOG
from scripted_llm import FAULTY_MODES, ScriptedLLM, expected_outcome, playable

pytestmark = pytest.mark.asyncio(loop_scope="module")

CASES = [c for c in load_cases(["math", "prolog"]) if playable(c)]
PERSONAS = ("perfect", "sloppy", "broken", "faulty")
BY_ID = {c.id: c for c in CASES}


@pytest.fixture(scope="module")
def llm():
    scripted = ScriptedLLM(CASES)
    with running_app(scripted.app) as url:
        yield scripted, f"{url}/v1"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def fleet():
    async with open_fleet(load_settings(workers={"size": 1}), specs=[MATH, PROLOG]) as f:
        yield f


def options(**kw) -> RunOptions:
    base = dict(streams=(False, True), concurrency=4, timeout=30, retries=3, backoff=0.01, progress=False)
    return RunOptions(**{**base, **kw})


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def results(llm, fleet, tmp_path_factory):
    """One run of all three personas over every playable case, both streaming and not."""
    _, url = llm
    out = tmp_path_factory.mktemp("eval") / "results.jsonl"
    models = [ModelTarget(p, url) for p in PERSONAS]
    rows = await run_eval(models, CASES, fleet, options(), out)
    return out, rows


async def test_every_case_of_my_servers_is_playable_by_the_script():
    assert len(CASES) == len(load_cases(["math", "prolog"])) >= 50


async def test_each_persona_is_scored_exactly_as_its_script_intends(results, fleet):
    _out, rows = results
    assert len(rows) == len(PERSONAS) * len(CASES) * 2
    for row in rows:
        case = BY_ID[row["case"]]
        want = expected_outcome(row["model"], case, row["stream"], {n: fleet.schemas[n] for n in fleet.schemas})
        got = row["scores"]
        assert row["fault"] == want["fault"] and {f["kind"] for f in row["faults"]} == want["kinds"], row
        assert (row["error"] is None) == (want["fault"] != "endpoint")
        if want["success"] is not None:  # a faulted row's score is not the model's
            assert (got["success"], got["schema_ok"]) == (want["success"], want["schema_ok"]), (
                row["model"],
                want["mode"],
                row,
            )
        if row["stream"] and (row["fault"] == "engine" or (row["fault"] is None and not got["success"])):
            assert row["raw_stream"] and all(line.startswith("{") for line in row["raw_stream"])  # kept, as received
        elif row["fault"] is None:
            assert "raw_stream" not in row
    perfect = [r for r in rows if r["model"] == "perfect"]
    assert all(r["scores"]["success"] and r["scores"]["schema_ok"] for r in perfect)


async def test_each_persona_mode_was_exercised(results, fleet):
    _, rows = results
    modes = {
        (r["model"], expected_outcome(r["model"], BY_ID[r["case"]], r["stream"], fleet.schemas)["mode"]) for r in rows
    }
    for mode in ("drop_optional", "default_arg", "wrong_value", "extra_arg", "eager"):
        assert ("sloppy", mode) in modes
    for mode in ("wrong_name", "bad_json", "disagree", "flaky"):
        assert ("broken", mode) in modes
    for mode in FAULTY_MODES:
        assert ("faulty", mode) in modes


async def test_rows_record_what_was_asked_and_answered(results, llm):
    scripted, url = llm
    out, rows = results
    row = next(r for r in rows if r["model"] == "perfect" and r["case"] == "math-simple-determinant" and r["stream"])
    assert row["endpoint"] == url and row["tool_choice"] == "auto" and row["temperature"] == 0.0
    assert row["raw_tool_calls"][0]["name"] == "math_matrix"
    assert json.loads(row["raw_tool_calls"][0]["arguments"]) == {"matrix": [[2, 1], [1, 3]], "operation": "det"}
    assert row["usage"]["total_tokens"] == row["usage"]["prompt_tokens"] + row["usage"]["completion_tokens"] > 0
    assert row["finish_reason"] == "tool_calls" and row["latency_s"] > 0
    assert row["engine"] == {"engine": "vllm", "version": "0.11.0", "server_header": "uvicorn"}
    assert row["system_fingerprint"] == "fp_scripted"
    streamed = [b for b in scripted.requests if b.get("stream")]
    assert streamed and all(b["stream_options"] == {"include_usage": True} for b in streamed)
    assert all(b["tool_choice"] == "auto" and b["temperature"] == 0.0 for b in scripted.requests)
    fleet_offer = next(
        b for b in scripted.requests if b["messages"][-1]["content"] == BY_ID["math-multiple-matrix-inverse"].user
    )
    assert {t["function"]["name"] for t in fleet_offer["tools"]} >= {"math_matrix", "prolog_query"}
    assert len(read_rows(out)) == len(rows)


async def test_multi_turn_runs_against_the_live_servers(results):
    _, rows = results
    row = next(r for r in rows if r["model"] == "perfect" and r["case"] == "prolog-multi_turn-store-then-query")
    assert [c["name"] for c in row["calls"]] == ["prolog_consult", "prolog_query"]
    assert not any(c["is_error"] for c in row["calls"])
    assert "ann" in row["calls"][1]["result"] and "ann" in row["content"]  # the real Prolog answer came back
    assert row["requests"] == 4  # call, answer, call, answer
    math_row = next(r for r in rows if r["model"] == "perfect" and r["case"] == "math-multi_turn-roots-then-sum")
    assert "5" in math_row["calls"][1]["result"]
    broken = next(r for r in rows if r["model"] == "broken" and r["case"] == "math-multi_turn-roots-then-sum")
    assert broken["calls"][0]["is_error"] and "no tool named" in broken["calls"][0]["result"]
    assert "math_solve was never called" in broken["scores"]["errors"]


async def test_retries_turn_500s_into_answers(results, fleet):
    _, rows = results
    flaky = [
        r
        for r in rows
        if r["model"] == "broken"
        and expected_outcome("broken", BY_ID[r["case"]], r["stream"], fleet.schemas)["mode"] == "flaky"
    ]
    assert flaky and all(r["scores"]["success"] for r in flaky)
    assert any(r["attempts"] >= 2 for r in flaky)


async def test_stream_disagreement_rate_counts_the_scripted_disagreements(results, fleet):
    out, _ = results
    runs = {r.model: r for r in build_runs([out])}
    assert runs["perfect"].disagreement == (0, len(CASES))
    assert runs["sloppy"].disagreement == (0, len(CASES))
    outcome = {c.id: expected_outcome("broken", c, True, fleet.schemas) for c in CASES}
    disagree = [
        c for c in CASES if outcome[c.id]["mode"] == "disagree" and c.category not in ("multi_turn", "irrelevance")
    ]
    faulted = [c for c in CASES if outcome[c.id]["fault"] and c not in disagree]  # no pair to compare
    assert disagree and faulted
    assert runs["broken"].disagreement == (len(disagree), len(CASES) - len(faulted))
    streamed = [r for r in runs["broken"].rows if r["stream"] and r["case"] in {c.id for c in disagree}]
    assert all(r["fault"] == "engine" and r["faults"][-1]["kind"] == "stream_disagreement" for r in streamed)
    assert all(r["raw_stream"] for r in streamed)  # the runner compared them while the stream was at hand
    assert runs["broken"].engine_faults == len(disagree) + 2 * len(faulted)


async def test_the_report_finds_disagreements_between_separate_runs(results, tmp_path):
    out, _ = results
    rows = [r for r in read_rows(out) if r["model"] == "broken"]
    for r in rows:  # as if streamed and non-streamed were run apart: the runner could not compare them
        if any(f["kind"] == "stream_disagreement" for f in r["faults"]):
            r["faults"] = [f for f in r["faults"] if f["kind"] != "stream_disagreement"]
            r["fault"] = None
    run = summarise("", "broken", rows)
    assert run.disagreement == {r.model: r for r in build_runs([out])}["broken"].disagreement
    assert sum(any(f["kind"] == "stream_disagreement" for f in r["faults"]) for r in run.rows) == run.disagreement[0]


async def test_a_rerun_skips_finished_rows_and_retries_failed_ones(results, llm, fleet, tmp_path):
    out, _rows = results
    _, url = llm
    copy = tmp_path / "resume.jsonl"
    kept = [r for r in read_rows(out) if r["model"] == "perfect"]
    failed = dict(kept[0], error="HTTP 503 (after 4 attempts)", scores={**kept[0]["scores"], "success": False})
    copy.write_text("".join(json.dumps(r) + "\n" for r in kept[1:] + [failed]) + '{"truncated')
    new = await run_eval([ModelTarget("perfect", url)], CASES, fleet, options(), copy)
    assert [(r["case"], r["stream"]) for r in new] == [(kept[0]["case"], kept[0]["stream"])]
    assert new[0]["error"] is None and new[0]["scores"]["success"]
    assert await run_eval([ModelTarget("perfect", url)], CASES, fleet, options(), copy) == []
    run = summarise("", "perfect", [r for r in read_rows(copy)])
    assert run.overall.trials == len(kept) and run.overall.successes == len(kept)  # the latest row replaces the error


async def test_repeats_and_pass_k(llm, fleet, tmp_path):
    _, url = llm
    simple = [c for c in CASES if c.category == "simple"][:6]
    out = tmp_path / "repeats.jsonl"
    await run_eval([ModelTarget("sloppy", url)], simple, fleet, options(streams=(False,), repeats=3), out)
    run = build_runs([out])[0]
    assert run.overall.trials == 18 and run.overall.k == 3
    wins = [expected_outcome("sloppy", c, False, fleet.schemas)["success"] for c in simple]
    assert run.overall.successes == 3 * sum(wins)
    assert run.overall.pass_k == pytest.approx(sum(wins) / len(wins))  # deterministic persona: pass^3 == pass^1


async def test_endpoint_errors_are_rows_not_crashes(fleet, tmp_path):
    out = tmp_path / "down.jsonl"
    rows = await run_eval(
        [ModelTarget("perfect", "http://127.0.0.1:9/v1")], CASES[:2], fleet, options(streams=(False,), retries=1), out
    )
    assert len(rows) == 2 and all(r["error"] and not r["scores"]["success"] for r in rows)
    assert "after 2 attempts" in rows[0]["error"]


@pytest.mark.parametrize(
    "engine, want",
    [
        ("sglang", {"engine": "sglang", "version": "0.5.4"}),
        ("vllm", {"engine": "vllm", "version": "0.11.0"}),
        ("litellm", {"gateway": "litellm", "gateway_version": "1.80.0"}),
    ],
)
async def test_engine_detection(engine, want):
    scripted = ScriptedLLM(CASES, engine=engine)
    with running_app(scripted.app) as url:
        async with ChatClient(f"{url}/v1") as client:
            info = await client.detect_engine()
    assert want.items() <= info.items()


async def test_client_refuses_bad_requests_without_retrying(llm):
    scripted, url = llm
    before = len(scripted.requests)
    async with ChatClient(url, retries=3, backoff=0.01) as client:
        with pytest.raises(EndpointError, match="HTTP 400"):
            await client.complete("perfect", [{"role": "user", "content": "a conversation it does not know"}])
    assert len(scripted.requests) == before + 1


async def test_a_running_fleet_over_http_serves_tools_and_multi_turn_calls(llm, tmp_path):
    """--fleet-url: tools/list and the multi-turn calls go to a real `mcpfleet serve` HTTP app."""
    from mcpfleet.common.app import build_http_app

    _, url = llm
    settings = load_settings(workers={"size": 1})
    multi = [c for c in CASES if c.server == "math" and c.category in ("multi_turn", "simple")]
    with running_app(build_http_app([MATH], settings)) as fleet_url:
        async with open_fleet(settings, ["math"], fleet_url=fleet_url, specs=[MATH]) as fleet:
            assert fleet.servers == ["math"] and "math_solve" in fleet.tools
            rows = await run_eval(
                [ModelTarget("perfect", url)], multi, fleet, options(streams=(True,)), tmp_path / "http.jsonl"
            )
    assert len(rows) == len(multi) and all(r["scores"]["success"] for r in rows)
    solved = next(r for r in rows if r["case"] == "math-multi_turn-area-under-parabola")
    assert "9" in solved["calls"][0]["result"] and not solved["calls"][0]["is_error"]


async def test_a_dead_endpoint_is_given_up_after_a_run_of_errors(fleet, tmp_path):
    out = tmp_path / "dead.jsonl"
    rows = await run_eval(
        [ModelTarget("perfect", "http://127.0.0.1:9/v1")],
        CASES,
        fleet,
        options(streams=(False,), retries=0, concurrency=2),
        out,
    )
    assert 8 <= len(rows) < 12 and all(r["error"] for r in rows)  # 8 in a row, plus those already in flight


# --- done when: accuracy, fault rate and intervals per persona; a paired comparison ------------------


def _measured_rates(persona: str, fleet) -> tuple[list[float], int]:
    """Per-case success rates over the persona's unfaulted trials, and its faulted row count."""
    rates, faulted = [], 0
    for case in CASES:
        wins = []
        for stream in (False, True):
            want = expected_outcome(persona, case, stream, fleet.schemas)
            if want["fault"]:
                faulted += 1
            else:
                wins.append(want["success"])
        if wins:
            rates.append(sum(wins) / len(wins))
    return rates, faulted


async def test_accuracy_fault_rate_and_intervals_are_what_each_persona_earns(results, fleet):
    out, _ = results
    runs = {r.model: r for r in build_runs([out])}
    for persona in PERSONAS:
        run = runs[persona]
        rates, faulted = _measured_rates(persona, fleet)
        assert run.engine_faults + run.errors == faulted, persona
        assert run.overall.accuracy == pytest.approx(sum(rates) / len(rates)), persona
        assert run.overall.ci == pytest.approx(mean_interval(rates)), persona
    faulty = runs["faulty"]
    assert faulty.overall.accuracy == 1.0 and faulty.errors > 0 and faulty.engine_faults > 0
    assert faulty.overall.ci[0] < 1.0 == faulty.overall.ci[1]  # an interval over cases, not a point
    assert runs["perfect"].errors == runs["perfect"].engine_faults == 0


async def test_a_paired_comparison_says_which_persona_is_better_with_a_p_value(results):
    out, _ = results
    runs = {r.model: r for r in build_runs([out])}
    vs_sloppy = paired(runs["perfect"].overall.by_case, runs["sloppy"].overall.by_case)
    assert vs_sloppy.significant and vs_sloppy.p_value < 1e-3 and vs_sloppy.difference > 0 and vs_sloppy.b_better == 0
    assert vs_sloppy.verdict("perfect", "sloppy").startswith("perfect is better than sloppy")
    assert vs_sloppy.interval[0] > 0
    vs_faulty = paired(runs["perfect"].overall.by_case, runs["faulty"].overall.by_case)
    assert not vs_faulty.significant and vs_faulty.p_value == 1.0  # the engine's faults are not the model's
    assert vs_faulty.cases < len(CASES)  # cases that only faulted are not compared
    assert vs_faulty.verdict("perfect", "faulty").startswith("No significant difference")
