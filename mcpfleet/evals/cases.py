"""Eval cases: loading `evals/cases/<server>.yaml` and validating them against the real tool schemas.

The file format is documented in evals/cases/README.md. `load_cases` checks the shape (so a typo
fails at load time); `validate_cases` checks the cases against the tools the servers really list
(so a renamed tool or argument breaks its cases loudly).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictStr, StringConstraints, ValidationError

from mcpfleet.common.errors import ConfigError
from mcpfleet.evals.scoring import ExpectedCall, values_equal

CASES_DIR = Path(__file__).resolve().parent / "cases"
CATEGORIES = ("simple", "multiple", "parallel", "irrelevance", "multi_turn")
ID_RE = re.compile(r"^[a-z0-9]+-(simple|multiple|parallel|irrelevance|multi_turn)-[a-z0-9_-]+$")


@dataclass(frozen=True)
class Final:
    answer_matches: tuple[str, ...] = ()
    called: tuple[str, ...] = ()


@dataclass(frozen=True)
class Case:
    id: str
    server: str
    category: str
    user: str = ""
    history: tuple[dict, ...] = ()
    system: str | None = None
    tools: str | tuple[str, ...] = "server"
    expect: tuple[ExpectedCall, ...] = ()
    alternatives: tuple[tuple[ExpectedCall, ...], ...] = ()
    turns: tuple[str, ...] = ()
    final: Final = field(default_factory=Final)
    # multi_turn only, optional: one list of calls per turn that solves the case (validated against
    # the schemas; the test suite's scripted model plays it against the live servers).
    reference: tuple[tuple[dict, ...], ...] = ()
    raw: dict = field(default_factory=dict, compare=False, repr=False)
    # From the file's `functions:` (e.g. imported BFCL entries): tools offered and scored without a
    # server behind them, name -> {"description", "parameters" (JSON Schema)}.
    functions: dict = field(default_factory=dict, compare=False, repr=False)

    def user_turns(self) -> list[str]:
        return list(self.turns) if self.category == "multi_turn" else [self.user]

    def acceptable(self) -> list[tuple[ExpectedCall, ...]]:
        return [self.expect, *self.alternatives]


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["user", "assistant"]
    content: StrictStr


class _Final(BaseModel):
    model_config = ConfigDict(extra="forbid")
    answer_matches: list[StrictStr] = []
    called: list[StrictStr] = []


class _Function(BaseModel):
    description: str = ""
    parameters: dict[str, Any]


class _RawCase(BaseModel):
    """A case's YAML mapping: the shape here, the rules between fields in `_rules`."""

    model_config = ConfigDict(extra="forbid")
    id: Annotated[StrictStr, StringConstraints(pattern=ID_RE.pattern)]
    category: Literal["simple", "multiple", "parallel", "irrelevance", "multi_turn"]
    user: StrictStr | None = None
    history: list[_Message] | None = None
    system: StrictStr | None = None
    tools: Literal["server", "fleet"] | Annotated[list[StrictStr], Field(min_length=1)] | None = None
    expect: list[Any] | None = None
    alternatives: list[list[Any]] | None = None
    turns: list[StrictStr] | None = None
    final: _Final | None = None
    reference: list[list[dict[str, Any]]] | None = None
    functions: dict[str, _Function] | None = None


# One message per field a case gets wrong: what to write instead, not Pydantic's wording.
_FIELD_MESSAGES = {
    "category": f"category must be one of {', '.join(CATEGORIES)}",
    "tools": "tools must be 'server', 'fleet' or a list of tool names",
    "history": "history entries are {role: user|assistant, content: text}",
    "final": "final has answer_matches and called",
    "functions": "functions maps a tool name to {description, parameters (JSON Schema)}",
    "turns": "multi_turn cases need turns: [user messages]",
    "user": "the case needs a user message (text)",
    "system": "system is a text",
    "expect": "expect is a list of calls",
    "alternatives": "alternatives is a list of lists of calls",
    "reference": "reference is one list of calls per turn of a multi_turn case",
}


def _shape_error(exc: ValidationError, raw: dict) -> str:
    cid = raw.get("id")
    unknown = sorted(str(e["loc"][0]) for e in exc.errors() if e["type"] == "extra_forbidden" and len(e["loc"]) == 1)
    if unknown:
        return f"{cid}: unknown keys {unknown}"
    first = str(exc.errors()[0]["loc"][0]) if exc.errors()[0]["loc"] else ""
    if first == "id":
        return f"id {cid!r} must look like <server>-<category>-<slug>"
    return f"{cid}: {_FIELD_MESSAGES.get(first, f'{first}: ' + exc.errors()[0]['msg'])}"


def parse_case(raw: dict, server: str) -> Case:
    """One case from its YAML mapping; ValueError with the reason when malformed."""
    if not isinstance(raw, dict):
        raise ValueError("a case must be a mapping")
    try:
        shape = _RawCase.model_validate(raw)
    except ValidationError as exc:
        raise ValueError(_shape_error(exc, raw)) from None
    cid, category = shape.id, shape.category
    if not cid.startswith(f"{server}-{category}-"):
        raise ValueError(f"{cid}: id must start with {server}-{category}-")
    tools = shape.tools if shape.tools is not None else ("fleet" if category == "multiple" else "server")
    expect = tuple(ExpectedCall.parse(c) for c in shape.expect or ())
    alternatives = tuple(tuple(ExpectedCall.parse(c) for c in alt) for alt in shape.alternatives or ())
    final = Final(tuple(shape.final.answer_matches), tuple(shape.final.called)) if shape.final else Final()
    for pattern in final.answer_matches:
        re.compile(pattern)
    turns = tuple(shape.turns or ())
    reference = tuple(tuple(turn) for turn in shape.reference or ())
    _rules(cid, category, shape.user or "", expect, alternatives, turns, final, reference, bool(shape.functions))
    return Case(
        cid,
        server,
        category,
        shape.user or "",
        tuple(raw.get("history") or ()),
        shape.system,
        tuple(tools) if isinstance(tools, list) else tools,
        expect,
        alternatives,
        turns,
        final,
        reference,
        raw,
        raw.get("functions") or {},
    )


def _rules(
    cid: str,
    category: str,
    user: str,
    expect: tuple,
    alternatives: tuple,
    turns: tuple,
    final: Final,
    reference: tuple,
    functions: bool,
) -> None:
    """What each category needs, beyond the shape."""
    if category == "multi_turn":
        if not turns or not all(t.strip() for t in turns):
            raise ValueError(f"{cid}: multi_turn cases need turns: [user messages]")
        if not (final.answer_matches or final.called):
            raise ValueError(f"{cid}: multi_turn cases need final rules (answer_matches and/or called)")
        if functions:
            raise ValueError(f"{cid}: multi_turn cases need live servers, not `functions`")
    else:
        if not user.strip():
            raise ValueError(f"{cid}: the case needs a user message")
        if category == "irrelevance" and (expect or alternatives):
            raise ValueError(f"{cid}: irrelevance cases expect no call (expect: [])")
        if category != "irrelevance" and not expect:
            raise ValueError(f"{cid}: the case needs expect: [calls]")
        if category == "parallel" and len(expect) < 2:
            raise ValueError(f"{cid}: parallel cases expect several calls")
        if category in ("simple", "multiple") and len(expect) != 1:
            raise ValueError(f"{cid}: {category} cases expect exactly one call")
    if reference and (category != "multi_turn" or len(reference) != len(turns)):
        raise ValueError(f"{cid}: reference is one list of calls per turn of a multi_turn case")


def _check_functions(functions: Any, where: str) -> None:
    if not isinstance(functions, dict) or not all(
        isinstance(f, dict) and isinstance(f.get("parameters"), dict) for f in functions.values()
    ):
        raise ValueError(f"{where}: functions maps a tool name to {{description, parameters (JSON Schema)}}")


def load_file(path: Path) -> list[Case]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path.name}: not valid YAML ({exc})") from None
    server = path.stem
    if not isinstance(data, dict) or data.get("server") != server:
        raise ConfigError(f"{path.name}: must start with `server: {server}`")
    functions = data.get("functions") or {}
    try:
        _check_functions(functions, path.name)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    cases = []
    for i, raw in enumerate(data.get("cases") or []):
        try:
            case = parse_case(raw, server)
            if functions and not case.functions:  # file-wide functions, shared by its cases
                if case.category == "multi_turn":
                    raise ValueError("multi_turn cases need live servers, not `functions`")
                case = replace(case, functions=functions)
            cases.append(case)
        except (ValueError, re.error) as exc:
            raise ConfigError(f"{path.name}: case {i + 1}: {exc}") from None
    return cases


def load_cases(servers: Iterable[str] = (), categories: Iterable[str] = (), directory: Path = CASES_DIR) -> list[Case]:
    """Every case of the named servers (default all files), filtered by category; ids unique."""
    servers, categories = list(servers), list(categories)
    unknown = set(categories) - set(CATEGORIES)
    if unknown:
        raise ConfigError(f"unknown category {sorted(unknown)[0]!r}; categories: {', '.join(CATEGORIES)}")
    paths = sorted(directory.glob("*.yaml"))
    if servers:
        missing = [s for s in servers if not (directory / f"{s}.yaml").exists()]
        if missing:
            raise ConfigError(f"no cases for server {missing[0]!r} in {directory}")
        paths = [directory / f"{s}.yaml" for s in dict.fromkeys(servers)]
    cases: list[Case] = []
    seen: set[str] = set()
    for path in paths:
        for case in load_file(path):
            if case.id in seen:
                raise ConfigError(f"{path.name}: duplicate case id {case.id}")
            seen.add(case.id)
            if not categories or case.category in categories:
                cases.append(case)
    return cases


# --- validation against the real tools -------------------------------------------------------


def validate_cases(cases: Sequence[Case], tools: dict[str, dict], tool_server: dict[str, str]) -> list[str]:
    """Problems with the cases given the real tools (name -> inputSchema; name -> server).

    Checks: offered and expected tools exist; expected calls cover the schema's required
    arguments and name only real arguments (unless allow_extra_args); every literal value a
    matcher carries (and every example) is valid for its argument's schema and matches its own
    matcher; multi-turn `called` names real tools; references are valid calls.
    """
    import jsonschema

    problems: list[str] = []
    for case in cases:
        where = case.id
        if isinstance(case.tools, tuple):
            for name in case.tools:
                if name not in tools:
                    problems.append(f"{where}: offered tool {name!r} does not exist")
        offered = _offered_names(case, tools, tool_server)
        for alt in case.acceptable():
            for call in alt:
                if call.name not in tools:
                    problems.append(f"{where}: expected tool {call.name!r} does not exist")
                    continue
                if call.name not in offered:
                    problems.append(f"{where}: expected tool {call.name!r} is not among the tools offered")
                problems.extend(f"{where}: {p}" for p in _check_expected_call(call, tools[call.name], jsonschema))
        for name in case.final.called:
            if name not in tools:
                problems.append(f"{where}: final.called names unknown tool {name!r}")
        for turn in case.reference:
            for ref in turn:
                ref_name, args = ref.get("name"), ref.get("arguments", {})
                if ref_name not in tools:
                    problems.append(f"{where}: reference calls unknown tool {ref_name!r}")
                    continue
                for err in jsonschema.Draft202012Validator(tools[ref_name]).iter_errors(args):
                    problems.append(f"{where}: reference {ref_name}: {err.message[:160]}")
    return problems


def _offered_names(case: Case, tools: dict[str, dict], tool_server: dict[str, str]) -> set[str]:
    if case.tools == "fleet":
        return set(tools)
    if case.tools == "server":
        return {t for t, s in tool_server.items() if s == case.server}
    return set(case.tools)


def _check_expected_call(call: ExpectedCall, schema: dict, jsonschema: Any) -> list[str]:
    problems = []
    props = schema.get("properties", {})
    for required in schema.get("required", []):
        m = call.args.get(required)
        if m is None or m.optional:
            problems.append(f"{call.name}: required argument {required!r} is not expected (or marked optional)")
    for arg, matcher in call.args.items():
        if arg not in props:
            if not (call.allow_extra_args or schema.get("additionalProperties") not in (False, None)):
                problems.append(f"{call.name}: argument {arg!r} is not in the tool's schema")
            continue
        sub = {**props[arg], "$defs": schema.get("$defs", {})} if "$defs" in schema else props[arg]
        validator = jsonschema.Draft202012Validator(sub)
        for value in matcher.literals():
            if matcher.kind == "text" and not isinstance(value, str):
                continue
            errors = list(validator.iter_errors(value))
            if errors:
                problems.append(
                    f"{call.name}.{arg}: expected value {value!r} is invalid for the tool: {errors[0].message[:120]}"
                )
        if matcher.example is not None and matcher.check(matcher.example):
            problems.append(f"{call.name}.{arg}: example {matcher.example!r} does not match its own matcher")
        if (
            "default" in props[arg]
            and matcher.optional is False
            and matcher.kind == "exact"
            and values_equal(matcher.value, props[arg]["default"])
            and arg not in schema.get("required", [])
        ):
            # Expecting a default value as required would fail a model that (rightly) leaves it out.
            problems.append(f"{call.name}.{arg}: expects the default value {matcher.value!r}; mark it optional: true")
    return problems
