"""Stream assembly against the quirks engines really send, spoken by the scripted server over HTTP,
and the assembler and fault classifier on hand-written chunks."""

from __future__ import annotations

import json

import pytest
import pytest_asyncio

from fleet_testing import running_app
from mcpfleet.common.settings import load_settings
from mcpfleet.evals.cases import load_cases
from mcpfleet.evals.client import ChatResult
from mcpfleet.evals.fleet import open_fleet
from mcpfleet.evals.runner import ModelTarget, RunOptions, run_eval
from mcpfleet.evals.stream import StreamAccumulator, engine_faults
from mcpfleet.servers.math import SPEC as MATH
from scripted_llm import QUIRKS, ScriptedLLM, expected_outcome, playable

in_loop = pytest.mark.asyncio(loop_scope="module")

# Single-turn cases with calls: every parallel case (several calls in one response) and a few simple ones.
CASES = [c for c in load_cases(["math"], ["parallel", "simple"]) if playable(c)]
CASES = [c for c in CASES if c.category == "parallel"] + [c for c in CASES if c.category == "simple"][:4]


@pytest.fixture(scope="module")
def llm():
    with running_app(ScriptedLLM(CASES).app) as url:
        yield f"{url}/v1"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def rows(llm, tmp_path_factory):
    async with open_fleet(load_settings(workers={"size": 1}), specs=[MATH]) as fleet:
        models = [ModelTarget("perfect", llm)] + [ModelTarget(f"quirk-{q}", llm) for q in QUIRKS]
        options = RunOptions(streams=(False, True), concurrency=4, timeout=30, retries=0, progress=False)
        got = await run_eval(models, CASES, fleet, options, tmp_path_factory.mktemp("quirks") / "rows.jsonl")
        return got, fleet.schemas


def _signature(row: dict) -> list[str]:
    return sorted(f"{c['name']}({json.dumps(c['arguments'], sort_keys=True)})" for c in row["calls"])


def test_the_cases_include_parallel_calls():
    assert sum(c.category == "parallel" for c in CASES) >= 4


@in_loop
@pytest.mark.parametrize("quirk", [q for q, kinds in QUIRKS.items() if not kinds])
async def test_each_quirk_the_wire_allows_is_assembled_into_the_right_calls(rows, quirk):
    got, _schemas = rows
    perfect = {(r["case"], r["stream"]): r for r in got if r["model"] == "perfect"}
    mine = [r for r in got if r["model"] == f"quirk-{quirk}" and r["stream"]]
    assert len(mine) == len(CASES)
    for row in mine:
        assert row["fault"] is None and row["faults"] == [], (quirk, row["faults"])
        assert row["scores"]["success"], (quirk, row["case"], row["raw_tool_calls"])
        assert _signature(row) == _signature(perfect[(row["case"], False)])  # same calls as not streamed
        assert "raw_stream" not in row


@in_loop
@pytest.mark.parametrize("quirk", [q for q, kinds in QUIRKS.items() if kinds])
async def test_each_faulty_stream_is_an_engine_or_endpoint_fault_with_its_raw_stream(rows, quirk):
    got, schemas = rows
    mine = [r for r in got if r["model"] == f"quirk-{quirk}"]
    for row in mine:
        want = expected_outcome(row["model"], next(c for c in CASES if c.id == row["case"]), row["stream"], schemas)
        assert row["fault"] == want["fault"] and {f["kind"] for f in row["faults"]} == want["kinds"], row
        if row["stream"]:
            assert row["raw_stream"] and json.loads(row["raw_stream"][0])["object"] == "chat.completion.chunk"
    streamed = [r for r in mine if r["stream"]]
    if quirk == "error_frame":
        assert all("generation failed" in r["error"] and '"error"' in r["raw_stream"][-1] for r in streamed)
        assert all(not r["scores"]["success"] for r in streamed)  # the swallowed-error bug: never a success
    if quirk == "dup_args":  # the calls themselves are kept once
        assert all(r["scores"]["success"] for r in streamed)


# --- the assembler on hand-written chunks --------------------------------------------------------


def assemble(*parts: dict, finish: str = "tool_calls") -> ChatResult:
    acc = StreamAccumulator(ChatResult())
    for part in parts:
        acc.add_line(json.dumps({"choices": [{"index": 0, "delta": {"tool_calls": [part]}, "finish_reason": None}]}))
    acc.add_line(json.dumps({"choices": [{"index": 0, "delta": {}, "finish_reason": finish}]}))
    return acc.finish()


def fn(name: str | None = None, arguments: str | None = None, **kw) -> dict:
    f = {k: v for k, v in (("name", name), ("arguments", arguments)) if v is not None}
    return {"function": f, **kw}


def calls(result: ChatResult) -> list[tuple[str, str]]:
    return [(c["name"], c["arguments"]) for c in result.tool_calls]


def test_calls_without_index_do_not_run_together():
    r = assemble(
        fn("get_weather", ""),
        fn(arguments='{"city": '),
        fn(arguments='"Oslo"}'),
        fn("get_time", ""),
        fn(arguments='{"tz": "CET"}'),
    )
    assert calls(r) == [("get_weather", '{"city": "Oslo"}'), ("get_time", '{"tz": "CET"}')]


def test_the_same_function_twice_on_index_zero_without_ids_is_two_calls():
    r = assemble(
        fn("get_weather", index=0),
        fn(arguments='{"city": "Oslo"}', index=0),
        fn("get_weather", index=0),
        fn(arguments='{"city": "Rome"}', index=0),
    )
    assert calls(r) == [("get_weather", '{"city": "Oslo"}'), ("get_weather", '{"city": "Rome"}')]
    assert engine_faults(r) == []


def test_a_new_id_starts_a_new_call_and_names_are_set_not_appended():
    r = assemble(
        fn("read_file", "", index=0, id="a"),
        fn("read_file", '{"path":', index=0),
        fn("read_file", ' "x"}', index=0),
        fn("read_file", '{"path": "y"}', index=0, id="b"),
    )
    assert calls(r) == [("read_file", '{"path": "x"}'), ("read_file", '{"path": "y"}')]


def test_arguments_sent_twice_are_kept_once_and_reported():
    r = assemble(fn("f", '{"a": 1', index=0, id="a"), fn(arguments="}", index=0), fn(arguments='{"a": 1}', index=0))
    assert calls(r) == [("f", '{"a": 1}')]
    assert [f["kind"] for f in engine_faults(r)] == ["arguments_duplicated"]


@pytest.mark.parametrize(
    "arguments, finish, kind",
    [
        ('{"a": "abc', "tool_calls", "arguments_truncated"),  # cut off, yet reported as tool_calls
        ('{"a": 1', "length", "arguments_truncated"),
        ('{"a": 1}{"b": 2}', "tool_calls", "arguments_undecodable"),
        ('{"a": 1}{"a": 1}', "tool_calls", "arguments_duplicated"),  # non-streamed: the string doubled
        ("[1, 2]", "tool_calls", "arguments_undecodable"),
    ],
)
def test_engine_faults_in_the_arguments(arguments, finish, kind):
    result = ChatResult(tool_calls=[{"id": "1", "name": "f", "arguments": arguments}], finish_reason=finish)
    assert kind in [f["kind"] for f in engine_faults(result)]


def test_json_python_will_not_decode_is_no_engine_fault_and_no_crash():
    # json.loads raises a plain ValueError (not JSONDecodeError) for an integer past 4300 digits
    result = ChatResult(
        tool_calls=[{"id": "1", "name": "f", "arguments": '{"a": ' + "1" * 5000 + "}"}], finish_reason="tool_calls"
    )
    assert [f for f in engine_faults(result) if f["kind"].startswith("arguments_")] == []


def test_finish_reason_must_agree_with_the_calls():
    assert [f["kind"] for f in engine_faults(ChatResult(finish_reason="tool_calls"))] == ["finish_reason_inconsistent"]
    assert engine_faults(ChatResult(finish_reason="stop")) == []
    ok = ChatResult(tool_calls=[{"id": "1", "name": "f", "arguments": "{}"}], finish_reason="tool_calls")
    assert engine_faults(ok) == []


def test_an_error_frame_raises_with_the_stream_so_far():
    from mcpfleet.evals.stream import StreamError

    acc = StreamAccumulator(ChatResult())
    acc.add_line(json.dumps({"choices": [{"index": 0, "delta": {"content": "hi"}}]}))
    with pytest.raises(StreamError, match="out of memory") as info:
        acc.add_line(json.dumps({"error": {"message": "CUDA out of memory", "code": 500}}))
    assert len(info.value.raw) == 2
