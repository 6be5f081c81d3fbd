"""Case files: the format is enforced at load time; the validator catches drift from the real tools."""

from __future__ import annotations

import asyncio
import subprocess
import textwrap
from pathlib import Path

import pytest

from fleet_testing import mcpfleet_cmd, subprocess_env
from mcpfleet.common.errors import ConfigError
from mcpfleet.common.settings import load_settings
from mcpfleet.evals.cases import CASES_DIR, CATEGORIES, load_cases, validate_cases
from mcpfleet.evals.fleet import open_fleet
from mcpfleet.registry import NAMES
from mcpfleet.servers.math import SPEC as MATH
from mcpfleet.servers.prolog import SPEC as PROLOG

MINE = ("math", "prolog")


@pytest.fixture(scope="module")
def tools() -> tuple[dict, dict]:
    async def go():
        async with open_fleet(load_settings(workers={"size": 1}), specs=[MATH, PROLOG]) as fleet:
            return fleet.schemas, fleet.server_of

    return asyncio.run(go())


@pytest.mark.parametrize("server", NAMES)
def test_every_server_has_enough_cases_in_every_category(server):
    """The rule for every server of the registry (a new one included): at least 25 cases."""
    cases = load_cases([server])
    assert len(cases) >= 25, f"{server}: {len(cases)} cases"
    assert {c.category for c in cases} == set(CATEGORIES)
    assert all(c.tools == "fleet" for c in cases if c.category == "multiple")
    assert all(c.reference for c in cases if c.category == "multi_turn")


def test_my_cases_are_valid_against_the_real_tools(tools):
    schemas, server_of = tools
    assert validate_cases(load_cases(MINE), schemas, server_of) == []


def test_every_case_file_loads_and_ids_are_unique():
    cases = load_cases()
    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids))
    assert {p.stem for p in CASES_DIR.glob("*.yaml")} == set(NAMES)  # one file per server, none orphaned


def write(tmp_path: Path, server: str, body: str) -> Path:
    (tmp_path / f"{server}.yaml").write_text(
        f"server: {server}\ncases:\n" + textwrap.indent(textwrap.dedent(body), "  ")
    )
    return tmp_path


BAD_CASES = """\
- id: math-simple-renamed
  category: simple
  user: "roots of x^2 = 4"
  expect: [{name: math_solver, args: {equations: "x^2 = 4"}}]
- id: math-simple-bad-enum
  category: simple
  user: "differentiate x^2"
  expect: [{name: math_calculus, args: {expression: "x^2", operation: {one_of: [diff, derivative]}}}]
- id: math-simple-missing-required
  category: simple
  user: "differentiate x^2"
  expect: [{name: math_calculus, args: {expression: "x^2"}}]
- id: math-simple-unknown-arg
  category: simple
  user: "det"
  expect: [{name: math_matrix, args: {matrix: [[1]], operation: det, precision: 3}}]
- id: math-simple-wrong-type
  category: simple
  user: "pi"
  expect: [{name: math_simplify, args: {expression: "pi", operation: evaluate, digits: "fifty"}}]
- id: math-simple-bad-example
  category: simple
  user: "pi"
  expect: [{name: math_simplify, args: {expression: {regex: "pi|PI", example: "tau"}}}]
- id: math-simple-required-default
  category: simple
  user: "solve"
  expect: [{name: math_solve, args: {equations: "x = 1", domain: complex}}]
- id: math-multi_turn-unknown-tool
  category: multi_turn
  turns: ["solve x = 1"]
  final: {called: [math_solvee]}
  reference: [[{name: math_solve, arguments: {equations: "x = 1", domain: "integers"}}]]
"""


def test_validator_reports_each_kind_of_drift(tmp_path, tools):
    schemas, server_of = tools
    problems = validate_cases(load_cases(["math"], directory=write(tmp_path, "math", BAD_CASES)), schemas, server_of)
    text = "\n".join(problems)
    assert "math-simple-renamed: expected tool 'math_solver' does not exist" in text
    assert "math-simple-bad-enum: math_calculus.operation: expected value 'derivative' is invalid" in text
    assert "math-simple-missing-required: math_calculus: required argument 'operation'" in text
    assert "math-simple-unknown-arg: math_matrix: argument 'precision' is not in the tool's schema" in text
    assert "math-simple-wrong-type: math_simplify.digits: expected value 'fifty' is invalid" in text
    assert "math-simple-bad-example: math_simplify.expression: example 'tau' does not match" in text
    assert "math-simple-required-default: math_solve.domain: expects the default value" in text
    assert "math-multi_turn-unknown-tool: final.called names unknown tool 'math_solvee'" in text
    assert "math-multi_turn-unknown-tool: reference math_solve: 'integers' is not one of" in text
    assert len({p.split(":")[0] for p in problems}) == 8


@pytest.mark.parametrize(
    "body, message",
    [
        ("- {id: math-simple-x, category: simple, expect: [{name: math_solve}]}", "needs a user message"),
        ("- {id: math-easy-x, category: easy, user: hi}", "must look like"),
        ("- {id: prolog-simple-x, category: simple, user: hi, expect: [{name: a}]}", "must start with math-simple-"),
        ("- {id: math-simple-x, category: simple, user: hi, expect: [{name: a}, {name: b}]}", "exactly one call"),
        ("- {id: math-parallel-x, category: parallel, user: hi, expect: [{name: a}]}", "several calls"),
        ("- {id: math-irrelevance-x, category: irrelevance, user: hi, expect: [{name: a}]}", "expect no call"),
        ("- {id: math-multi_turn-x, category: multi_turn, turns: [hi]}", "need final rules"),
        ('- {id: math-simple-x, category: simple, user: hi, expect: [{name: a, args: {b: {regex: "("}}}]}', "case 1"),
        ("- {id: math-simple-x, category: simple, user: hi, expect: [{name: a}], colour: red}", "unknown keys"),
        ("- {id: math-simple-x, category: simple, user: hi, tools: everything, expect: [{name: a}]}", "tools must be"),
        ("- {id: math-simple-x, category: simple, user: hi, tools: [], expect: [{name: a}]}", "tools must be"),
        ("- {id: math-simple-x, category: simple, user: 5, expect: [{name: a}]}", "needs a user message"),
        ("- {id: math-simple-x, category: simple, user: hi, expect: a}", "expect is a list of calls"),
        (
            "- {id: math-simple-x, category: simple, user: hi, expect: [{name: a}], history: [{role: bot, content: x}]}",
            "history entries are",
        ),
        ("- {id: math-simple-x, category: simple, user: hi, expect: [{name: a}], final: {x: 1}}", "final has"),
    ],
)
def test_malformed_cases_fail_at_load_time_with_the_reason(tmp_path, body, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        load_cases(["math"], directory=write(tmp_path, "math", body + "\n"))


def test_duplicate_ids_and_wrong_server_are_refused(tmp_path):
    case = "- {id: math-simple-x, category: simple, user: hi, expect: [{name: a}]}\n"
    with pytest.raises(ConfigError, match="duplicate case id"):
        load_cases(["math"], directory=write(tmp_path, "math", case + case))
    (tmp_path / "prolog.yaml").write_text("server: math\ncases: []\n")
    with pytest.raises(ConfigError, match="must start with `server: prolog`"):
        load_cases(["prolog"], directory=tmp_path)


def test_validate_command_exit_codes(tmp_path):
    env = subprocess_env(MCPFLEET_WORKERS__SIZE="1")
    good = subprocess.run(
        mcpfleet_cmd("eval", "validate", "--server", "math", "--server", "prolog"),
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    assert good.returncode == 0, good.stdout + good.stderr
    assert "all valid" in good.stderr
    bad = subprocess.run(
        mcpfleet_cmd("eval", "validate", "--cases-dir", str(write(tmp_path, "math", BAD_CASES))),
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    assert bad.returncode == 1
    assert "math-simple-renamed: expected tool 'math_solver' does not exist" in bad.stdout


def test_every_case_file_is_valid_and_winnable_for_the_servers_installed_here():
    """All seven files against the real tools of the servers that run here; the scripted perfect
    model's calls (built from the matchers and examples) must score as correct and schema-valid."""
    from mcpfleet.evals.scoring import ActualCall, check_calls, schema_errors
    from scripted_llm import plan, playable

    async def go():
        async with open_fleet(load_settings(workers={"size": 1})) as fleet:
            return fleet

    fleet = asyncio.run(go())
    cases = [c for c in load_cases() if c.server in fleet.servers]
    assert {"math", "prolog"} <= {c.server for c in cases}
    assert validate_cases(cases, fleet.schemas, fleet.server_of) == []
    for case in cases:
        assert playable(case), case.id
        if case.category == "multi_turn":
            continue
        offered = {t["function"]["name"]: t["function"]["parameters"] for t in fleet.offered(case.tools, case.server)}
        calls = [ActualCall.from_raw(c["name"], c["arguments"]) for c in plan("perfect", case, False, offered).calls]
        assert check_calls(case.expect, calls, fleet.schemas).ok, case.id
        assert not [e for c in calls for e in schema_errors(c, fleet.schemas.get(c.name))], case.id
