"""Our scorer against BFCL's verdicts on BFCL's own entries (../shared/peer-suites/bfcl).

Every entry is imported with `mcpfleet.evals.bfcl` and scored with `check_calls` on outputs this
test generates from the possible answers (right answers, restyled strings, wrong types, float for
int, missing and extra parameters, wrong functions, reordered and broken parallel calls, abstention).
The reference verdict is `bfcl_verdict` below: a small independent re-statement of the rules of
BFCL's `ast_checker.py` and `eval_runner.py` (at the snapshot commit the README names), written
from reading them. Each rule where we deliberately differ is a switch; a disagreement counts as
explained when flipping exactly one switch to our behaviour makes the two verdicts agree.
"""

from __future__ import annotations

import gzip
import itertools
import json
import re
from pathlib import Path

import pytest

from mcpfleet.evals.bfcl import DIFFERENCES, to_case
from mcpfleet.evals.cases import parse_case
from mcpfleet.evals.scoring import ActualCall, check_calls
from shared_data import shared_path

README = Path(__file__).resolve().parents[2] / "README.md"
PY = {
    "string": str,
    "integer": int,
    "float": float,
    "boolean": bool,
    "array": list,
    "tuple": list,
    "dict": dict,
    "any": str,
}
BFCL = {"undecodable-abstention": True, "exhaustive-parallel": False, "int-in-float-list": True}
OURS = {"undecodable-abstention": False, "exhaustive-parallel": True, "int-in-float-list": False}


# --- the reference: BFCL's rules, restated -----------------------------------------------------


def std(s: str) -> str:
    return re.sub(r"[ ,./\-_*^]", "", s).lower().replace("'", '"')


def _answer_type(answers: list):
    return next((type(a) for a in answers if a != ""), None)


def _type_ok(
    value, answers: list, want: type, nested: type | None, rules: dict, element: bool = False
) -> tuple[bool, bool]:
    """(valid, is_variable), as BFCL's type_checker decides (one level of nesting)."""
    answer_type = _answer_type(answers)
    variable = answer_type is not None and answer_type is not want
    if type(value) is want or (element and not rules["int-in-float-list"] and want is float and type(value) is int):
        if nested is None:
            return True, variable
        for item in answers:
            if not isinstance(item, list) or all(_type_ok(v, item, nested, None, rules, True)[0] for v in value):
                return True, variable
        return False, variable
    if answer_type is not None and type(value) is answer_type:
        return True, True
    return False, False


def _dict_ok(value: dict, answers: list) -> bool:
    for answer in answers:
        if answer == "":
            continue
        if all(
            k in answer
            and (std(v) if isinstance(v, str) else v) in [std(a) if isinstance(a, str) else a for a in answer[k]]
            for k, v in value.items()
        ) and all(k in value or "" in vals for k, vals in answer.items()):
            return True
    return False


def _param_ok(spec: dict, value, answers: list, rules: dict) -> bool:
    t = spec["type"]
    want = PY[t]
    nested = PY[spec["items"]["type"]] if t in ("array", "tuple") else None
    if t == "float" and type(value) is int:
        value = float(value)
    valid, variable = _type_ok(value, answers, want, nested, rules)
    if not valid:
        return False
    if variable:
        return value in answers
    if want is dict:
        return _dict_ok(value, answers)
    if want is list and nested is dict:
        return any(len(value) == len(a) and all(_dict_ok(v, [x]) for v, x in zip(value, a)) for a in answers)
    if want is str:
        return std(value) in [std(a) for a in answers if isinstance(a, str)]
    if want is list:
        mine = [std(v) if isinstance(v, str) else v for v in value]
        return mine in [[std(x) if isinstance(x, str) else x for x in a] for a in answers]
    return value in answers


def _call_ok(functions: list, call: tuple[str, dict], answer: dict, rules: dict) -> bool:
    ((fname, params),) = answer.items()
    f = next(f for f in functions if f["name"] == fname)
    name, given = call
    if name != fname.replace(".", "_") or not isinstance(given, dict):
        return False
    props = f["parameters"]["properties"]
    if any(r not in given for r in f["parameters"].get("required", [])):
        return False
    for p, v in given.items():
        if p not in props or p not in params or not _param_ok(props[p], v, params[p], rules):
            return False
    return all(p in given or "" in vals for p, vals in params.items())


def bfcl_verdict(entry: dict, output: list[tuple[str, str]], rules: dict = BFCL) -> bool:
    try:
        decoded = [(n, json.loads(a)) for n, a in output]
    except ValueError:
        decoded = None
    if entry["bfcl_category"] == "irrelevance":
        return rules["undecodable-abstention"] if decoded is None else not decoded
    answers = entry["possible_answer"]
    if not decoded or len(decoded) != len(answers):
        return False
    functions = entry["function"]
    if len(answers) == 1:
        return _call_ok(functions, decoded[0], answers[0], rules)
    if rules["exhaustive-parallel"]:
        return any(
            all(_call_ok(functions, decoded[j], a, rules) for a, j in zip(answers, perm))
            for perm in itertools.permutations(range(len(decoded)))
        )
    used: set[int] = set()
    for answer in answers:
        j = next(
            (j for j in range(len(decoded)) if j not in used and _call_ok(functions, decoded[j], answer, rules)), None
        )
        if j is None:
            return False
        used.add(j)
    return True


# --- outputs a model might give --------------------------------------------------------------


def _first(values: list, last: bool = False):
    picks = [v for v in values if v != ""]
    return (picks[-1] if last else picks[0]) if picks else None


def _concrete(value, last: bool = False):
    if isinstance(value, dict):  # a nested-dict answer: {key: [accepted values]}
        out = {}
        for k, vals in value.items():
            v = _first(vals if isinstance(vals, list) else [vals], last)
            if v is not None or "" not in vals:
                out[k] = _concrete(v, last)
        return out
    if isinstance(value, list):
        return [_concrete(v, last) if isinstance(v, dict) else v for v in value]
    return value


def right_call(answer: dict, functions: list, last: bool = False, minimal: bool = False) -> tuple[str, dict]:
    ((fname, params),) = answer.items()
    props = next(f for f in functions if f["name"] == fname)["parameters"]["properties"]
    args = {}
    for p, vals in params.items():
        if "" in vals and (minimal or len(vals) == 1 or p not in props):  # a few answers name unknown params
            continue
        args[p] = _concrete(_first(vals, last), last)
    return fname.replace(".", "_"), args


def _restyle(value):
    if isinstance(value, str):
        return value.upper().replace(" ", "_") + "."
    if isinstance(value, list):
        return [_restyle(v) for v in value]
    if isinstance(value, dict):
        return {k: _restyle(v) for k, v in value.items()}
    return value


def _squash(value):
    if isinstance(value, str):
        return value.lower().replace(" ", "").replace(",", "")
    if isinstance(value, list):
        return [_squash(v) for v in value]
    if isinstance(value, dict):
        return {k: _squash(v) for k, v in value.items()}
    return value


def _map_params(call, functions, fn, only: str | None = None):
    """A copy of `call` with `fn(type, value)` applied to each top-level argument (or only one);
    None when nothing changed."""
    name, args = call
    f = next(f for f in functions if f["name"].replace(".", "_") == name)
    props = f["parameters"]["properties"]
    out, changed = {}, False
    for p, v in args.items():
        new = fn(props.get(p, {}), v) if p in props and only in (None, p) else None
        changed |= new is not None
        out[p] = v if new is None else new
    return (name, out) if changed else None


def _float_for_int(spec, v):
    if spec.get("type") == "integer" and type(v) is int:
        return float(v)
    return None


def _int_for_float(spec, v):
    if spec.get("type") == "float" and isinstance(v, float) and v.is_integer():
        return int(v)
    if (
        spec.get("type") in ("array", "tuple")
        and isinstance(v, list)
        and v
        and all(isinstance(x, float) and x.is_integer() for x in v)
    ):
        return [int(x) for x in v]
    return None


def _string_for_number(spec, v):
    return str(v) if type(v) in (int, float) else None


def _number_for_string(spec, v):
    return 7 if isinstance(v, str) and spec.get("type") == "string" else None


def _bool_as_int(spec, v):
    return int(v) if isinstance(v, bool) else None


def _wrong_value(spec, v):
    if isinstance(v, bool):
        return not v
    if type(v) is int:
        return v + 1
    if isinstance(v, float):
        return v + 1.5
    if isinstance(v, str):
        return v + " not this"
    return None


def _punctuation(spec, v):
    return v + "!?" if isinstance(v, str) else None


def _list_elements_restyled(spec, v):
    if isinstance(v, list) and v and all(isinstance(x, str) for x in v):
        return [x.title().replace(" ", "  ") for x in v]
    return None


def _dict_extra_key(spec, v):
    return {**v, "unexpected_key": "x"} if isinstance(v, dict) else None


def _dict_drop_key(spec, v):
    return {k: x for k, x in list(v.items())[1:]} if isinstance(v, dict) and v else None


PARAM_PERTURBATIONS = {
    "float-for-int": _float_for_int,
    "int-for-float": _int_for_float,
    "string-for-number": _string_for_number,
    "number-for-string": _number_for_string,
    "bool-as-int": _bool_as_int,
    "wrong-value": _wrong_value,
    "punctuation-added": _punctuation,
    "list-strings-recased": _list_elements_restyled,
    "dict-extra-key": _dict_extra_key,
    "dict-missing-key": _dict_drop_key,
}


def _dump(calls):
    return [(n, json.dumps(a)) for n, a in calls]


def outputs(entry: dict) -> dict[str, list[tuple[str, str]]]:
    """Named model outputs for one entry: [(tool name, arguments JSON text)] each."""
    functions = entry["function"]
    offered = [f["name"].replace(".", "_") for f in functions]
    if entry["bfcl_category"] == "irrelevance":
        f = functions[0]
        args = {
            p: _placeholder(s)
            for p, s in f["parameters"]["properties"].items()
            if p in f["parameters"].get("required", [])
        }
        name = offered[0]
        return {
            "abstain": [],
            "calls-the-function": [(name, json.dumps(args))],
            "calls-with-no-arguments": [(name, "{}")],
            "undecodable-call": [(name, json.dumps(args)[:-1])],
            "two-calls": [(name, json.dumps(args))] * 2,
            "calls-an-unoffered-tool": [("web_search", '{"q": "x"}')],
        }
    answers = entry["possible_answer"]
    right = [right_call(a, functions) for a in answers]
    out = {
        "right": _dump(right),
        "right-last-alternatives": _dump([right_call(a, functions, last=True) for a in answers]),
        "right-minimal": _dump([right_call(a, functions, minimal=True) for a in answers]),
        "restyled-strings": _dump([(n, _restyle(a)) for n, a in right]),
        "squashed-strings": _dump([(n, _squash(a)) for n, a in right]),
        "no-call": [],
        "truncated-json": [(n, json.dumps(a)[:-2]) for n, a in right],
    }
    for label, fn in PARAM_PERTURBATIONS.items():
        changed = [_map_params(c, functions, fn) for c in right]
        if any(changed):
            out[label] = _dump([c or r for c, r in zip(changed, right)])
        for i, call in enumerate(right):  # and one parameter of one call at a time
            for param in call[1]:
                one = _map_params(call, functions, fn, only=param)
                if one:
                    out[f"{label}:{i}:{param}"] = _dump(right[:i] + [one] + right[i + 1 :])
    first_name, first_args = right[0]
    f0 = next(f for f in functions if f["name"].replace(".", "_") == first_name)
    required = [p for p in f0["parameters"].get("required", []) if p in first_args]
    if required:
        out["missing-required"] = _dump(
            [(first_name, {k: v for k, v in first_args.items() if k != required[0]})] + right[1:]
        )
    out["extra-param"] = _dump([(first_name, {**first_args, "verbose": True})] + right[1:])
    others = [n for n in offered if n != first_name]
    out["wrong-function"] = _dump([(others[0] if others else first_name + "_v2", first_args)] + right[1:])
    defaults = {p: s["default"] for p, s in f0["parameters"]["properties"].items() if "default" in s}
    if defaults:
        out["defaults-spelled-out"] = _dump([(first_name, {**defaults, **first_args})] + right[1:])
    if len(right) > 1:
        out["reversed"] = _dump(right[::-1])
        out["rotated"] = _dump(right[1:] + right[:1])
        out["one-dropped"] = _dump(right[:-1])
        out["one-duplicated"] = _dump(right[:-1] + right[:1])
        out["reversed-minimal"] = _dump([right_call(a, functions, minimal=True) for a in answers][::-1])
        out["reversed-last-alternatives"] = _dump([right_call(a, functions, last=True) for a in answers][::-1])
    else:
        out["called-twice"] = _dump(right * 2)
    return _distinct(out)


def _distinct(named: dict) -> dict:
    """One label per distinct output (a perturbation that changes nothing is not a new output)."""
    seen, out = set(), {}
    for label, output in named.items():
        key = json.dumps(output)
        if key not in seen:
            seen.add(key)
            out[label] = output
    return out


def _placeholder(spec: dict):
    return {"string": "x", "integer": 1, "float": 1.5, "boolean": True, "array": [], "tuple": [], "dict": {}}.get(
        spec.get("type"), "x"
    )


# --- the comparison --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def entries() -> list[dict]:
    path = shared_path("peer-suites", "bfcl", "entries.jsonl.gz")
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def our_verdict(entry: dict, output: list[tuple[str, str]]) -> bool:
    case = parse_case(to_case(entry, entry["possible_answer"], "bfcl"), "bfcl")
    schemas = {n: f["parameters"] for n, f in case.functions.items()}
    return check_calls(case.expect, [ActualCall.from_raw(n, a) for n, a in output], schemas).ok


def explain(entry: dict, output) -> str | None:
    """The one listed difference whose switch, flipped to ours, makes BFCL's rules agree with us."""
    ours = our_verdict(entry, output)
    for key in DIFFERENCES:
        if bfcl_verdict(entry, output, {**BFCL, key: OURS[key]}) == ours:
            return key
    return None


@pytest.fixture(scope="module")
def verdicts(entries):
    rows = []
    for entry in entries:
        for label, output in outputs(entry).items():
            rows.append((entry, label, output, our_verdict(entry, output), bfcl_verdict(entry, output)))
    return rows


def test_every_entry_imports_as_a_valid_case(entries):
    assert len(entries) == 1240
    for entry in entries:
        case = parse_case(to_case(entry, entry["possible_answer"], "bfcl"), "bfcl")
        assert len(case.expect) == len(entry["possible_answer"] or [])


def test_agreement_with_bfcl_is_at_least_99_percent_and_every_difference_is_a_listed_one(verdicts):
    total = len(verdicts)
    differ = [(e, label, out, ours) for e, label, out, ours, ref in verdicts if ours != ref]
    agreement = 1 - len(differ) / total
    explained = {}
    for entry, label, output, ours in differ:
        key = explain(entry, output)
        assert key is not None, (entry["id"], label, output, "ours", ours)
        explained.setdefault(key, []).append((entry["id"], label))
    print(
        f"\nBFCL agreement: {total - len(differ)}/{total} = {100 * agreement:.2f}% "
        f"({', '.join(f'{k}: {len(v)}' for k, v in sorted(explained.items()))})"
    )
    assert total > 20_000
    assert agreement >= 0.99
    assert set(explained) <= set(DIFFERENCES)


def test_the_verdicts_cover_both_outcomes_in_every_category(verdicts):
    seen = {(e["bfcl_category"], ref) for e, _, _, _, ref in verdicts}
    for category in ("simple_python", "multiple", "parallel", "parallel_multiple", "irrelevance"):
        assert {(category, True), (category, False)} <= seen
    right = [ours for e, label, _, ours, _ in verdicts if label == "right"]
    assert all(right) and len(right) == 1000  # every non-irrelevance entry's own answer is accepted


def test_each_listed_difference_is_shown_by_the_comparison_and_documented(verdicts):
    readme = README.read_text(encoding="utf-8")
    for key, (_what, why) in DIFFERENCES.items():
        assert f"`{key}`" in readme and why in readme, key
    hits = {explain(e, out) for e, _, out, ours, ref in verdicts if ours != ref}
    assert hits == set(DIFFERENCES)  # no listed difference that the comparison never shows
