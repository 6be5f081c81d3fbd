"""BFCL entries and possible answers as eval cases (`mcpfleet eval import-bfcl`).

A BFCL entry offers functions and a question; its possible answer lists, per call and parameter,
every accepted value (`""` among them: the parameter may be left out). Each parameter becomes the
matcher that accepts what BFCL's AST checker accepts: `normalised` strings, strict `integer`s,
numbers compared by value for `float`, `items`/`keys` per element and per key, `any_of` over the
accepted lists and objects. Each case carries the functions its entry offers (`functions:`), so
it runs and scores without a server behind it. Where mcpfleet deliberately scores differently, `DIFFERENCES` says how
and why (the README lists them; the agreement test reads this table).
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

CATEGORY = {
    "simple": "simple",
    "simple_python": "simple",
    "multiple": "multiple",
    "parallel": "parallel",
    "parallel_multiple": "parallel",
    "irrelevance": "irrelevance",
}

# Where our verdict differs from BFCL's checker on purpose: key -> (what differs, why ours).
DIFFERENCES: dict[str, tuple[str, str]] = {
    "undecodable-abstention": (
        "irrelevance entry answered with a tool call whose arguments are not valid JSON",
        "BFCL counts any output it cannot decode as abstention (correct); a call was made, so we "
        "score it as not abstaining",
    ),
    "exhaustive-parallel": (
        "parallel calls that match the answers only under a pairing BFCL's greedy scan does not try",
        "BFCL pairs each answer with the first call that fits and never backtracks; we find a "
        "perfect matching when one exists, so the order of the calls cannot change the verdict",
    ),
    "int-in-float-list": (
        "integers inside a list of floats ([1, 2] for a float list)",
        "BFCL's nested type check rejects int elements though it accepts an int for a float "
        "parameter; JSON has one number type, so we accept them in lists too",
    ),
}


def bfcl_type(spec: dict) -> str:
    return str(spec.get("type", "string"))


def tool_name(name: str) -> str:
    """The name an OpenAI-style endpoint is offered (BFCL's FC handlers turn dots into underscores)."""
    return re.sub(r"\.", "_", name)


def _loose(values: list) -> dict:
    """What BFCL's dict checker accepts for one key: strings standardised, other values by ==."""
    strs = [v for v in values if isinstance(v, str)]
    others = [v for v in values if not isinstance(v, str)]
    parts = ([{"normalised": strs}] if strs else []) + ([{"one_of": others}] if others else [])
    return parts[0] if len(parts) == 1 else {"any_of": parts} if parts else {"one_of": []}


def _object(answer: dict) -> dict:
    keys = {}
    for key, values in answer.items():
        values = values if isinstance(values, list) else [values]
        m = _loose([v for v in values if v != ""])
        keys[key] = {**m, "optional": True} if "" in values else m
    return {"keys": keys}


def _element(item_type: str, value: Any) -> Any:
    if isinstance(value, str) and item_type in ("string", "any"):
        return {"normalised": value}
    if item_type == "integer" and type(value) is int:
        return {"integer": value}
    if item_type == "dict" and isinstance(value, dict):
        return _object(value)
    if isinstance(value, str):
        return {"normalised": value}  # BFCL standardises every string element of a list
    return {"one_of": [value]}


def value_matcher(spec: dict, values: list) -> dict:
    """The matcher for the accepted values (no `""`) of a parameter of BFCL type `spec`."""
    t = bfcl_type(spec)
    python = {
        "string": str,
        "any": str,
        "integer": int,
        "float": float,
        "boolean": bool,
        "array": list,
        "tuple": list,
        "dict": dict,
    }.get(t)
    if not values:
        return {"one_of": []}  # only omission is accepted
    if python is None or not all(type(v) is python or (python is float and type(v) is int) for v in values):
        return {"one_of": values}  # BFCL's "variable" answers: compared as they are
    if python is str:
        return {"normalised": values}
    if python is int:
        return {"integer": values}
    if python in (float, bool):
        return {"one_of": values}
    if python is dict:
        alts = [_object(v) for v in values]
        return alts[0] if len(alts) == 1 else {"any_of": alts}
    item_type = bfcl_type(spec.get("items") or {})
    alts = [{"items": [_element(item_type, v) for v in value]} for value in values]
    return alts[0] if len(alts) == 1 else {"any_of": alts}


def expected_call(name: str, answer: dict, function: dict) -> dict:
    props = (function.get("parameters") or {}).get("properties") or {}
    required = set((function.get("parameters") or {}).get("required") or ())
    args = {}
    for param, values in answer.items():
        values = values if isinstance(values, list) else [values]
        spec = props.get(param)
        if spec is None:
            m: dict = {"one_of": []}
        elif bfcl_type(spec) in ("string", "any") and all(isinstance(v, str) for v in values):
            m = value_matcher(spec, values)  # "" spelled out is a string BFCL accepts when it may be omitted
        else:
            m = value_matcher(spec, [v for v in values if v != ""])
        # BFCL checks the schema's required list first: a required parameter cannot be omitted.
        args[param] = {**m, "optional": True} if "" in values and param not in required else m
    for param in props:  # BFCL rejects any parameter its answer does not list, defaults included
        args.setdefault(param, {"one_of": [], "optional": True})
    return {"name": tool_name(name), "args": args}


def json_schema(spec: Any) -> Any:
    """BFCL's parameter types as JSON Schema (dict -> object, float -> number, tuple -> array)."""
    if isinstance(spec, list):
        return [json_schema(s) for s in spec]
    if not isinstance(spec, dict):
        return spec
    out = {k: json_schema(v) if k in ("properties", "items") else v for k, v in spec.items() if k not in ("optional",)}
    if "properties" in out and isinstance(out["properties"], dict):
        out["properties"] = {k: json_schema(v) for k, v in spec["properties"].items()}
    t = spec.get("type")
    if isinstance(t, str):
        out["type"] = {
            "dict": "object",
            "float": "number",
            "tuple": "array",
            "any": "string",
            "bool": "boolean",
            "list": "array",
        }.get(t, t)
    return out


def _slug(bfcl_id: str) -> str:
    return re.sub(r"[^a-z0-9_-]+", "-", bfcl_id.lower()).strip("-")


def _question(entry: dict) -> tuple[str | None, list[dict], str]:
    turns = entry.get("question") or []
    messages = turns[0] if turns and isinstance(turns[0], list) else turns
    system = "\n".join(m["content"] for m in messages if m.get("role") == "system") or None
    chat = [m for m in messages if m.get("role") in ("user", "assistant")]
    if not chat:
        raise ValueError(f"{entry.get('id')}: no user message in the question")
    return system, [{"role": m["role"], "content": m["content"]} for m in chat[:-1]], chat[-1]["content"]


def to_case(entry: dict, answer: list | None, server: str) -> dict:
    """One case (its YAML mapping) from a BFCL entry and its ground truth (None for irrelevance)."""
    bfcl_id = str(entry.get("id", ""))
    prefix = re.sub(r"_\d+$", "", bfcl_id)
    category = CATEGORY.get(entry.get("bfcl_category") or prefix)
    if category is None:
        raise ValueError(f"{bfcl_id}: unsupported BFCL category {prefix!r} (supported: {', '.join(sorted(CATEGORY))})")
    functions = entry.get("function") or []
    by_name = {f["name"]: f for f in functions}
    expect = []
    for call in answer or []:
        ((name, params),) = call.items()
        if name not in by_name:
            raise ValueError(f"{bfcl_id}: the answer calls {name!r}, which the entry does not offer")
        expect.append(expected_call(name, params, by_name[name]))
    if category == "parallel" and len(expect) < 2:
        category = "multiple" if len(functions) > 1 else "simple"
    if "question" not in entry and isinstance(entry.get("mcpfleet_case"), dict):  # ../shared's combined form
        system, user = None, entry["mcpfleet_case"].get("user", "")
        history: list[dict] = []
    else:
        system, history, user = _question(entry)
    case: dict[str, Any] = {"id": f"{server}-{category}-{_slug(bfcl_id)}", "category": category}
    if system:
        case["system"] = system
    if history:
        case["history"] = history
    case.update(
        {
            "user": user,
            "tools": [tool_name(f["name"]) for f in functions],
            "expect": expect,
            "functions": functions_of([entry]),
        }
    )
    return case


def functions_of(entries: Iterable[dict]) -> dict[str, dict]:
    """Every function the entries offer, as `{name: {description, parameters}}` in JSON Schema."""
    out: dict[str, dict] = {}
    for entry in entries:
        for f in entry.get("function") or []:
            out.setdefault(
                tool_name(f["name"]),
                {"description": f.get("description", ""), "parameters": json_schema(f.get("parameters") or {})},
            )
    return out


def _lines(path: Path) -> Iterator[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except ValueError as exc:
                    raise ValueError(f"{path.name}: line {n} is not JSON ({exc})") from None


def read_entries(entries: Path, answers: Path | None = None) -> list[tuple[dict, list | None]]:
    """(entry, ground truth) pairs from BFCL files: entries with `possible_answer` inline, or
    entries plus a possible-answer file of `{"id", "ground_truth"}` lines."""
    truth: dict[str, list | None] = {}
    if answers is not None:
        truth = {str(a["id"]): a.get("ground_truth") for a in _lines(answers)}
    out = []
    for entry in _lines(entries):
        bfcl_id = str(entry.get("id"))
        answer = entry["possible_answer"] if "possible_answer" in entry else truth.get(bfcl_id)
        prefix = entry.get("bfcl_category") or re.sub(r"_\d+$", "", bfcl_id)
        if prefix not in CATEGORY:
            raise ValueError(
                f"{bfcl_id}: unsupported BFCL category {prefix!r} (supported: {', '.join(sorted(CATEGORY))})"
            )
        if answer is None and CATEGORY[prefix] != "irrelevance":
            raise ValueError(f"{bfcl_id}: no possible answer (give --answers FILE)")
        out.append((entry, answer))
    return out


def case_file(pairs: list[tuple[dict, list | None]], server: str) -> dict:
    """A whole case file: `server` and the `cases`, each with the functions its entry offers (BFCL
    entries reuse names for different functions, so they are per case)."""
    return {"server": server, "cases": [to_case(e, a, server) for e, a in pairs]}
