"""Scoring tool calls the BFCL way: an AST check per call, schema validity apart, then statistics.

Type coercion rules (what "equal" means for `exact`, `one_of`, `set` and the schema-default test):
- numbers compare by value across int and float (3 == 3.0); a bool is never a number (true != 1);
- a string never equals a number ("3" != 3) and is never parsed; null equals only null;
- lists compare element by element in order, objects key by key, both recursively by these rules.
`text` compares strings with case folded and all whitespace removed ("X^2 - 4" == "x^2-4");
`normalised` compares them the way BFCL's `standardize_string` does (case, spaces and `,./-_*^`
ignored, `'` read as `"`: "April 1, 2024" == "april 1 2024"); `integer` is strict (10.0 is not an
integer, nor is true); `number` accepts int/float (not bool, not numeric strings) within a tolerance.
`items` (one matcher per list element, in order), `keys` (one matcher per object key, no other key
allowed) and `any_of` (alternatives) nest, so BFCL's per-element and per-key checks are expressible.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

MATCHER_KINDS = (
    "exact",
    "text",
    "normalised",
    "integer",
    "one_of",
    "number",
    "regex",
    "search",
    "set",
    "contains",
    "items",
    "keys",
    "any_of",
    "any",
)
NESTED_KINDS = ("items", "keys", "any_of")


@dataclass(frozen=True)
class Matcher:
    """One expected argument: `kind` and its `value` (see MATCHER_KINDS), maybe optional."""

    kind: str
    value: Any
    optional: bool = False
    tol: float = 1e-9
    example: Any = None  # a value that matches (for regex/search/any): validated, used by test personas

    @classmethod
    def parse(cls, raw: Any) -> Matcher:
        """A matcher from its YAML form; a bare scalar, list or non-matcher object means `exact`."""
        if isinstance(raw, dict) and any(k in raw for k in MATCHER_KINDS):
            kinds = [k for k in MATCHER_KINDS if k in raw]
            unknown = set(raw) - set(MATCHER_KINDS) - {"optional", "tol", "example"}
            if len(kinds) != 1 or unknown:
                raise ValueError(
                    f"a matcher needs exactly one of {', '.join(MATCHER_KINDS)} "
                    f"(plus optional/tol/example); got keys {sorted(raw)}"
                )
            kind = kinds[0]
            value = raw[kind]
            if kind in ("regex", "search"):
                re.compile(value)
            if kind == "number" and not _is_number(value):
                raise ValueError(f"number matcher needs a number, got {value!r}")
            if kind in ("one_of", "set", "contains") and not isinstance(value, list):
                if kind == "contains" and isinstance(value, str):
                    value = [value]
                else:
                    raise ValueError(f"{kind} matcher needs a list, got {value!r}")
            if kind in ("text", "normalised"):
                values = value if isinstance(value, list) else [value]
                if not values or not all(isinstance(v, str) for v in values):
                    raise ValueError(f"{kind} matcher needs a string or a list of strings, got {value!r}")
            if kind == "integer":
                values = value if isinstance(value, list) else [value]
                if not all(type(v) is int for v in values):
                    raise ValueError(f"integer matcher needs an integer or a list of integers, got {value!r}")
            if kind in ("items", "any_of"):
                if not isinstance(value, list):
                    raise ValueError(f"{kind} matcher needs a list of matchers, got {value!r}")
                value = tuple(cls.parse(v) for v in value)
            if kind == "keys":
                if not isinstance(value, dict):
                    raise ValueError(f"keys matcher needs a mapping of key -> matcher, got {value!r}")
                value = {str(k): cls.parse(v) for k, v in value.items()}
            return cls(kind, value, bool(raw.get("optional", False)), float(raw.get("tol", 1e-9)), raw.get("example"))
        return cls("exact", raw)

    def literals(self) -> list[Any]:
        """Values a correct call could literally carry (checked against the tool schema)."""
        if self.kind == "exact":
            return [self.value]
        if self.kind == "one_of":
            return list(self.value)
        if self.kind == "text":
            return list(self.value) if isinstance(self.value, list) else [self.value]
        if self.kind == "number":
            return [self.value]
        if self.kind == "set":
            return [list(self.value)]
        if self.kind in ("normalised", "integer"):
            return list(self.value) if isinstance(self.value, list) else [self.value]
        if self.kind == "any_of":
            return [v for m in self.value for v in m.literals()]
        if self.kind == "items":
            firsts = [m.literals()[:1] for m in self.value]
            return [[f[0] for f in firsts]] if all(firsts) else []
        if self.kind == "keys":
            present = {k: m.literals()[:1] for k, m in self.value.items() if not m.optional}
            return [{k: v[0] for k, v in present.items()}] if all(present.values()) else []
        return [self.example] if self.example is not None else []

    def check(self, actual: Any) -> str | None:
        """None when `actual` matches, else a short reason."""
        ok = _MATCH[self.kind](self, actual)
        return None if ok else f"{_show(actual)} does not match {self.describe()}"

    def to_json(self) -> Any:
        if self.kind == "exact" and not self.optional:
            return self.value
        value: Any = self.value
        if self.kind in ("items", "any_of"):
            value = [m.to_json() for m in self.value]
        elif self.kind == "keys":
            value = {k: m.to_json() for k, m in self.value.items()}
        out: dict[str, Any] = {self.kind: value}
        if self.kind == "number" and self.tol != 1e-9:
            out["tol"] = self.tol
        if self.optional:
            out["optional"] = True
        return out

    def describe(self) -> str:
        if self.kind == "exact":
            return _show(self.value)
        if self.kind == "number":
            return f"{self.value}±{self.tol:g}"
        if self.kind in NESTED_KINDS:
            return f"{self.kind} {_show(self.to_json()[self.kind])}"
        return f"{self.kind} {_show(self.value)}"


@dataclass(frozen=True)
class ExpectedCall:
    name: str
    args: dict[str, Matcher]
    allow_extra_args: bool = False

    @classmethod
    def parse(cls, raw: dict) -> ExpectedCall:
        if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
            raise ValueError(f"an expected call needs a name: {raw!r}")
        unknown = set(raw) - {"name", "args", "allow_extra_args"}
        if unknown:
            raise ValueError(f"unknown keys in expected call {raw['name']}: {sorted(unknown)}")
        args = raw.get("args") or {}
        if not isinstance(args, dict):
            raise ValueError(f"args of {raw['name']} must be a mapping")
        return cls(raw["name"], {k: Matcher.parse(v) for k, v in args.items()}, bool(raw.get("allow_extra_args")))

    def to_json(self) -> dict:
        """The expectation as written in a case file (for result rows and reports)."""
        return {"name": self.name, "args": {k: m.to_json() for k, m in self.args.items()}}


@dataclass
class ActualCall:
    """A call as the model made it: `arguments` is the raw JSON text, `args` the parsed object."""

    name: str
    arguments: str
    args: dict | None = None
    parse_error: str | None = None

    @classmethod
    def from_raw(cls, name: str, arguments: Any) -> ActualCall:
        if isinstance(arguments, dict):  # some servers send an object rather than a JSON string
            return cls(name, json.dumps(arguments), arguments)
        text = arguments if isinstance(arguments, str) else ""
        if not text.strip():
            return cls(name, text, {})  # no arguments at all: BFCL treats as {}
        try:
            value = json.loads(text)
        except ValueError as exc:  # also a plain ValueError: an integer past Python's 4300-digit limit
            detail = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
            return cls(name, text, None, f"arguments are not valid JSON ({detail})")
        if not isinstance(value, dict):
            return cls(name, text, None, "arguments are not a JSON object")
        return cls(name, text, value)

    def key(self) -> str:
        """Canonical form for comparing two runs (streaming vs not)."""
        body = json.dumps(self.args, sort_keys=True) if self.args is not None else self.arguments
        return f"{self.name}({body})"


@dataclass
class CallScore:
    ok: bool
    errors: list[str] = field(default_factory=list)


# --- value matching -------------------------------------------------------------------------


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def values_equal(a: Any, b: Any) -> bool:
    """Equality under the module's coercion rules."""
    if _is_number(a) and _is_number(b):
        return a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(values_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(values_equal(a[k], b[k]) for k in a)
    if type(a) is not type(b):
        return False
    return a == b


def normalise_text(s: str) -> str:
    return re.sub(r"\s+", "", s).casefold()


def standardise(s: str) -> str:
    """BFCL's `standardize_string`: no spaces or `,./-_*^`, lower case, single quotes as double."""
    return _BFCL_STRIP.sub("", s).lower().replace("'", '"')


_BFCL_STRIP = re.compile(r"[ ,./\-_*^]")


def _as_list(value: Any) -> list:
    return list(value) if isinstance(value, list) else [value]


def _match_items(m: Matcher, actual: Any) -> bool:
    return (
        isinstance(actual, list)
        and len(actual) == len(m.value)
        and all(sub.check(a) is None for sub, a in zip(m.value, actual))
    )


def _match_keys(m: Matcher, actual: Any) -> bool:
    if not isinstance(actual, dict) or set(actual) - set(m.value):
        return False
    return all(
        (k in actual and sub.check(actual[k]) is None) or (k not in actual and sub.optional)
        for k, sub in m.value.items()
    )


def _text_or_exact(expected: Any, actual: Any) -> bool:
    if isinstance(expected, str) and isinstance(actual, str):
        return normalise_text(expected) == normalise_text(actual)
    return values_equal(expected, actual)


def _match_set(m: Matcher, actual: Any) -> bool:
    if not isinstance(actual, list):
        return False
    return all(any(_text_or_exact(e, a) for e in m.value) for a in actual) and all(
        any(_text_or_exact(e, a) for a in actual) for e in m.value
    )


def _match_contains(m: Matcher, actual: Any) -> bool:
    if isinstance(actual, str):
        hay = " ".join(actual.split()).casefold()
        return all(isinstance(e, str) and " ".join(e.split()).casefold() in hay for e in m.value)
    if isinstance(actual, list):
        return all(any(_text_or_exact(e, a) for a in actual) for e in m.value)
    return False


_MATCH = {
    "exact": lambda m, a: values_equal(m.value, a),
    "text": lambda m, a: (
        isinstance(a, str)
        and any(normalise_text(v) == normalise_text(a) for v in (m.value if isinstance(m.value, list) else [m.value]))
    ),
    "normalised": lambda m, a: isinstance(a, str) and standardise(a) in {standardise(v) for v in _as_list(m.value)},
    "integer": lambda m, a: type(a) is int and a in _as_list(m.value),
    "items": _match_items,
    "keys": _match_keys,
    "any_of": lambda m, a: any(sub.check(a) is None for sub in m.value),
    "one_of": lambda m, a: any(values_equal(v, a) for v in m.value),
    "number": lambda m, a: _is_number(a) and abs(a - m.value) <= m.tol,
    "regex": lambda m, a: isinstance(a, str) and re.fullmatch(m.value, a) is not None,
    "search": lambda m, a: isinstance(a, str) and re.search(m.value, a) is not None,
    "set": _match_set,
    "contains": _match_contains,
    "any": lambda m, a: True,
}


def _show(v: Any) -> str:
    text = json.dumps(v, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."


# --- calls ----------------------------------------------------------------------------------


def check_call(expected: ExpectedCall, actual: ActualCall, schema: dict | None = None) -> CallScore:
    """BFCL's AST check: name, JSON, required args, matchers, unexpected args (schema defaults pass)."""
    if actual.name != expected.name:
        return CallScore(False, [f"called {actual.name!r}, expected {expected.name!r}"])
    if actual.args is None:
        return CallScore(False, [f"{actual.name}: {actual.parse_error}"])
    errors = []
    for arg, matcher in expected.args.items():
        if arg not in actual.args:
            if not matcher.optional:
                errors.append(f"{actual.name}: missing argument {arg!r}")
            continue
        reason = matcher.check(actual.args[arg])
        if reason:
            errors.append(f"{actual.name}.{arg}: {reason}")
    props = (schema or {}).get("properties", {})
    for arg, value in actual.args.items():
        if arg in expected.args or expected.allow_extra_args:
            continue
        if arg in props and "default" in props[arg] and values_equal(props[arg]["default"], value):
            continue
        errors.append(f"{actual.name}: unexpected argument {arg!r}={_show(value)}")
    return CallScore(not errors, errors)


def schema_errors(actual: ActualCall, schema: dict | None) -> list[str]:
    """Validity of the arguments against the tool's JSON schema (reported apart from correctness)."""
    if schema is None:
        return [f"no tool named {actual.name!r} was offered"]
    if actual.args is None:
        return [f"{actual.name}: {actual.parse_error}"]
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    return [
        f"{actual.name}: {'/'.join(map(str, e.absolute_path)) or '(arguments)'}: {e.message[:160]}"
        for e in sorted(validator.iter_errors(actual.args), key=lambda e: list(map(str, e.path)))[:5]
    ]


def check_calls(expected: Sequence[ExpectedCall], actual: Sequence[ActualCall], schemas: dict[str, dict]) -> CallScore:
    """All expected calls made, each exactly once, in any order (a multiset match), nothing else."""
    if not expected:
        if actual:
            return CallScore(False, [f"no call expected, got {', '.join(c.name for c in actual)}"])
        return CallScore(True)
    if len(actual) != len(expected):
        names = ", ".join(c.name for c in actual) or "none"
        return CallScore(False, [f"expected {len(expected)} call(s), got {len(actual)} ({names})"])
    table = [[check_call(e, a, schemas.get(a.name)) for a in actual] for e in expected]
    assignment = _perfect_matching(table)
    if assignment is not None:
        return CallScore(True)
    # Report the errors of the best greedy pairing so the failure reads as expected vs actual.
    errors, used = [], set()
    for i, row in enumerate(table):
        candidates = [j for j in range(len(actual)) if j not in used]
        j = min(candidates, key=lambda j: (len(row[j].errors) if actual[j].name == expected[i].name else 99, j))
        used.add(j)
        errors.extend(row[j].errors)
    return CallScore(False, errors)


def _perfect_matching(table: list[list[CallScore]]) -> list[int] | None:
    n = len(table)
    chosen: list[int] = []

    def extend(i: int, used: set[int]) -> bool:
        if i == n:
            return True
        for j in range(n):
            if j not in used and table[i][j].ok:
                chosen.append(j)
                if extend(i + 1, used | {j}):
                    return True
                chosen.pop()
        return False

    return chosen if extend(0, set()) else None


# --- statistics -----------------------------------------------------------------------------


def pass_hat_k(trials: Sequence[Sequence[bool]], k: int) -> float | None:
    """τ²-bench's pass^k: mean over cases of C(c, k) / C(n, k); None when a case has < k trials."""
    if not trials or any(len(t) < k for t in trials):
        return None
    return sum(math.comb(sum(t), k) / math.comb(len(t), k) for t in trials) / len(trials)


def wilson_interval(successes: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """95% Wilson score interval for a proportion (trials treated as independent)."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    lo = 0.0 if successes == 0 else max(0.0, centre - half)
    hi = 1.0 if successes == n else min(1.0, centre + half)
    return (lo, hi)


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolation percentile (numpy's default), q in [0, 100]."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)
