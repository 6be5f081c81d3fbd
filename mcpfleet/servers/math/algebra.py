"""Equations and rewriting: `solve(equations, variables, domain)` and `simplify(expression, operation)`.

Input text goes through `parser` only (never `sympify`); results are plain data built from
`render()` dicts, so they can cross the worker boundary. Every result has a short `text`.

`solve` picks the sympy tool that fits the problem:

- one polynomial equation in one unknown: factored, then `roots` per factor (cosines for three
  real cubic roots, multiplicities kept); a factor with no closed form in radicals (degree ≥ 5),
  or one too unwieldy to be useful (the general quartic), is solved numerically, its real roots
  counted exactly (Sturm) for real-domain filtering;
- any other single equation: `solveset` (the complete set: finite, periodic families as
  `general` forms in an integer `n`, intervals), then `solve` (LambertW and friends), and last a
  numeric search for real roots (scan, bracket, refine) flagged `numeric_fallback`;
- inequalities (one unknown, over the reals): `solveset`, given as `intervals` and as text;
- systems: `linsolve` when linear, else `solve`, else Newton from many starting points.

Symbolic attempts that a numeric method can replace run under `budget.time_budget` (sympy can
grind for minutes on problems without a closed form); the numeric methods live in `numeric`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import mpmath
import numpy as np
import sympy as sp
from sympy.functions.elementary.hyperbolic import HyperbolicFunction
from sympy.functions.elementary.trigonometric import TrigonometricFunction

from mcpfleet.common.text import clip
from mcpfleet.servers.math.budget import MAX_EQUATIONS, SYMBOLIC_BUDGET, SymbolicTimeout, time_budget
from mcpfleet.servers.math.checks import bounded_int, pick_operation
from mcpfleet.servers.math.numeric import (
    DENSE_LIMIT,
    MAX_NUMERIC_ROOTS,
    SEARCH_LIMIT,
    maybe_real,
    numeric_sum,
    numeric_value,
    real_roots_numeric,
    same_value,
    sort_key,
)
from mcpfleet.servers.math.parser import MathInputError, parse_statement, parse_symbols
from mcpfleet.servers.math.render import TEXT_MAX, render

MAX_DIGITS = 1000
_LONG_ROOT = 300  # a radical root longer than this (characters) is given numerically instead
_SIMPLIFY_MAX_OPS = 200  # `simplify()` on bigger expressions may take too long to be worth it

_DOMAINS = {"complex": "complex", "c": "complex", "complexes": "complex", "real": "real", "r": "real", "reals": "real"}


# --- solve ------------------------------------------------------------------------------------


def solve(
    equations: str | Sequence[str], variables: str | Sequence[str] | None = None, domain: str = "complex"
) -> dict[str, Any]:
    """Solve one equation, a system, or inequalities for `variables` over `domain`.

    `equations`: a string (several may be separated by `;`, newlines or top-level commas) or a
    list of strings; `a = b`, `a < b`, `a <= b`, `a != b`, … or an expression meaning `expr = 0`.
    `variables`: the unknowns (names, list or comma separated); by default all symbols, which must
    then not outnumber the equations. `domain`: "complex" (default) or "real".

    Result: `solutions` — always a list of {variable: render} maps, one per solution (for an
    inequality, one map to the solution set) — `exact`, `numeric_fallback`, `variables`, `domain`,
    `text`, and where they apply: `infinite`, `general` (renders of periodic families in an integer
    n; `solutions` then holds principal values), `intervals` ({lower, upper, lower_closed,
    upper_closed}), `solution_set`, `relational`, `multiplicities` (aligned with `solutions`),
    `free_variables`, `truncated`, `note`.
    """
    dom = _DOMAINS.get(str(domain).strip().lower())
    if dom is None:
        raise MathInputError(f"domain must be 'real' or 'complex', got {domain!r}")
    statements = [_as_statement(text) for text in _statement_texts(equations)]
    symbols = _unknowns(statements, variables)
    names = [str(s) for s in symbols]
    inequalities = [s for s in statements if not isinstance(s, sp.Eq)]
    if inequalities:
        result = _solve_inequalities(statements, symbols, dom)
    elif len(statements) == 1 and len(symbols) == 1:
        result = _solve_one(statements[0], symbols[0], dom)
    else:
        result = _solve_system(statements, symbols, dom)
    result = {"exact": True, "numeric_fallback": False, **result, "variables": names, "domain": dom}
    result["text"] = clip(result["text"], TEXT_MAX)
    return result


def _statement_texts(equations: Any) -> list[str]:
    """The individual equation texts: a list as given, a string split at top-level `;` `,` newlines."""
    if isinstance(equations, str):
        texts = _split_top_level(equations)
    elif isinstance(equations, (list, tuple)):
        texts = []
        for item in equations:
            if not isinstance(item, str):
                raise MathInputError(f"each equation must be text, got {type(item).__name__}")
            texts.extend(_split_top_level(item))
    else:
        raise MathInputError("equations must be text or a list of texts, e.g. ['x + y = 3', 'x - y = 1']")
    texts = [t for t in texts if t.strip()]
    if not texts:
        raise MathInputError("no equation given")
    if len(texts) > MAX_EQUATIONS:
        raise MathInputError(f"at most {MAX_EQUATIONS} equations, got {len(texts)}")
    return texts


def _split_top_level(text: str) -> list[str]:
    """Split at `;`, newlines and commas that are not inside brackets (Max(x, 1) stays whole)."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch in ";\n" or (ch == "," and depth == 0):
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


def _as_statement(text: str) -> sp.Basic:
    """Eq / inequality for one text; a bare expression means expression = 0."""
    statement = parse_statement(text)
    if isinstance(statement, sp.logic.boolalg.BooleanAtom):
        # A comparison of numbers that sympy decided at once (e.g. 1 < 2).
        return statement
    if isinstance(statement, (sp.Eq, sp.Ne, sp.Lt, sp.Le, sp.Gt, sp.Ge)):
        return statement
    if isinstance(statement, sp.Expr):
        return sp.Eq(statement, 0, evaluate=False)
    raise MathInputError(f"{text!r} is not an equation or inequality")


def _unknowns(statements: list[sp.Basic], variables: Any) -> list[sp.Symbol]:
    """The unknowns: as given, or every free symbol when that is not more than the equations."""
    free = set().union(*(s.free_symbols for s in statements))
    if variables is not None and variables != [] and variables != "":
        symbols = parse_symbols(variables)
        if len(set(symbols)) != len(symbols):
            raise MathInputError("a variable is listed twice")
        return symbols
    if not free:
        raise MathInputError("nothing to solve for: the equations contain no variables")
    symbols = sorted(free, key=str)
    equations = len(statements)
    if len(symbols) > equations:
        listed = ", ".join(map(str, symbols))
        raise MathInputError(
            f"{equations} equation(s) in {len(symbols)} unknowns ({listed}): say which to solve for, "
            f"e.g. variables={[str(symbols[-1])]!r}; the others are then treated as parameters"
        )
    if len(symbols) > MAX_EQUATIONS:
        raise MathInputError(f"at most {MAX_EQUATIONS} variables")
    return symbols


def _no_solution(note: str | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {"solutions": [], "text": "no solution"}
    if note:
        result["note"] = note
    return result


# --- one equation, one unknown -----------------------------------------------------------------


def _solve_one(eq: sp.Basic, x: sp.Symbol, dom: str) -> dict[str, Any]:
    """A single equation in `x`: polynomial roots, solveset, solve, then a numeric search."""
    if isinstance(eq, sp.logic.boolalg.BooleanAtom):
        return _constant_truth(bool(eq), x, dom)
    f = eq.lhs - eq.rhs
    if x not in f.free_symbols:
        # e.g. 2 = 2, or x - x = 1: true for every x, or for none.
        truth = sp.simplify(f) == 0
        return _constant_truth(truth, x, dom)
    params = f.free_symbols - {x}
    if params:
        return _solve_with_parameters(eq, x, dom, params)
    if f.is_polynomial(x):
        return _polynomial_roots(sp.Poly(f, x), x, dom)
    domain_set = sp.S.Reals if dom == "real" else sp.S.Complexes
    try:
        solution_set = sp.solveset(eq, x, domain_set)
    except (NotImplementedError, ValueError, TypeError):
        solution_set = sp.ConditionSet(x, eq, domain_set)
    return _from_set(solution_set, eq, x, dom)


def _radical_roots(factor: sp.Poly) -> dict[sp.Expr, int]:
    """sympy's radical roots of one irreducible factor, or {} where looking is pointless or slow.

    Beyond degree 4 only binomials (x^n = a) have radical roots worth trying, and even those get
    slow (x^40 - ... takes seconds to sort), so the search is limited in degree and time.
    """
    degree = factor.degree()
    if degree > 4 and not (len(factor.terms()) == 2 and degree <= 12):
        return {}
    try:
        with time_budget(SYMBOLIC_BUDGET / 2):
            return sp.roots(factor, trig=True)  # trig: three real cubic roots as cosines
    except SymbolicTimeout:
        return {}


def _numeric_poly_roots(factor: sp.Poly) -> list[sp.Expr]:
    """All roots of a square-free polynomial to 15 digits.

    numpy's companion-matrix eigenvalues give every root at once (fast even at degree 100, where
    sympy's nroots takes seconds); Newton steps at 30 digits then polish each. Should polishing
    merge two roots (an ill-conditioned polynomial), sympy's nroots decides instead.
    """
    coeffs = [complex(c) for c in factor.all_coeffs()]
    polished = []
    with mpmath.workdps(30):
        mp_coeffs = [mpmath.mpc(c) for c in coeffs]
        for guess in np.roots(coeffs):
            z = mpmath.mpc(guess)
            for _ in range(60):
                value, slope = mpmath.polyval(mp_coeffs, z, derivative=True)
                if slope == 0:
                    break
                step = value / slope
                z -= step
                if abs(step) <= mpmath.mpf(10) ** -26 * max(1, abs(z)):
                    break
            polished.append(complex(z))
    distinct = all(abs(a - b) > 1e-9 * max(1.0, abs(a)) for i, a in enumerate(polished) for b in polished[i + 1 :])
    if not distinct:
        return [numeric_value(r) for r in factor.nroots(n=15, maxsteps=200)]
    return [
        numeric_value(
            sp.Float(z.real, 15) + sp.I * sp.Float(z.imag, 15)
            if abs(z.imag) > 1e-14 * max(1.0, abs(z.real))
            else sp.Float(z.real, 15)
        )
        for z in polished
    ]


def _unwieldy(root: sp.Expr) -> bool:
    """A radical root not worth showing: very long, or built from radicals of complex numbers
    (the general quartic formula), whose numeric value says more."""
    if len(sp.sstr(root)) > _LONG_ROOT:
        return True
    return any(not p.exp.is_Integer and p.base.has(sp.I) for p in root.atoms(sp.Pow))


def _constant_truth(truth: bool, x: sp.Symbol, dom: str) -> dict[str, Any]:
    if not truth:
        return _no_solution("the equation is false whatever the value of the variable")
    where = "real" if dom == "real" else "complex"
    everything = sp.S.Reals if dom == "real" else sp.S.Complexes
    result = {
        "solutions": [],
        "infinite": True,
        "all_values": True,
        "solution_set": sp.sstr(everything),
        "text": f"every {where} {x} is a solution (the equation is an identity)",
    }
    if dom == "real":
        result["intervals"] = [_interval_dict((-sp.oo, sp.oo, True, True))]
    return result


def _solve_with_parameters(eq: sp.Eq, x: sp.Symbol, dom: str, params: set[sp.Symbol]) -> dict[str, Any]:
    """Solve for `x` with the other symbols as parameters (`solve` handles these best)."""
    names = ", ".join(sorted(map(str, params)))
    try:
        values = sp.solve(eq, x, dict=False)
    except (NotImplementedError, ValueError, TypeError) as exc:
        return {
            "solutions": [],
            "exact": False,
            "solved": False,
            "note": f"no closed form found (sympy: {str(exc)[:200]}); a numeric search needs "
            f"values for the parameters {names}",
            "text": f"no closed-form solution found for {x}",
        }
    if dom == "real":
        values = [v for v in values if maybe_real(v)]
    result = _listed_solutions(values, x)
    result["note"] = f"parameters {names} are treated as generic (e.g. non-zero where divided by)"
    if dom == "real":
        result["note"] += "; solutions that are real only for some parameter values are kept"
    return result


def _polynomial_roots(poly: sp.Poly, x: sp.Symbol, dom: str) -> dict[str, Any]:
    """All roots of a polynomial with multiplicities, factor by factor.

    Each irreducible factor is solved in radicals where sympy can (`roots`, with cosines for three
    real cubic roots rather than complex radicals); a factor with no radical form (degree ≥ 5), or
    one that is too long to be useful, is solved numerically (`nroots`), its real roots counted
    exactly (Sturm) so that real-domain filtering does not depend on rounding.
    """
    if poly.degree() <= 0:
        return _constant_truth(poly.is_zero, x, dom)
    try:
        factors = sp.factor_list(poly)[1]
    except (NotImplementedError, sp.PolynomialError, ValueError):
        factors = [(poly, 1)]
    entries: list[tuple[sp.Expr, int, bool]] = []  # (root, multiplicity, exact)
    reasons: set[str] = set()  # why some roots are numeric; none when all are exact
    for factor, mult in factors:
        if factor.degree() > 0:
            roots, reason = _factor_roots(factor, dom)
            entries.extend((r, m * mult, exact) for r, m, exact in roots)
            if reason is not None:
                reasons.add(reason)
    entries.sort(key=lambda e: sort_key(e[0]))
    exact = all(e[2] for e in entries)
    result = _listed_solutions([e[0] for e in entries], x)
    result["multiplicities"] = [e[1] for e in entries]
    if reasons:
        result.update(
            {
                "exact": exact,
                "numeric_fallback": True,
                "note": "some roots are given numerically: " + "; ".join(sorted(reasons)),
            }
        )
    if not entries and dom == "real":
        result["text"] = "no real solution"
    return result


def _factor_roots(factor: sp.Poly, dom: str) -> tuple[list[tuple[sp.Expr, int, bool]], str | None]:
    """Roots of one factor as (root, multiplicity, exact), real ones only over the reals, and the
    reason when they are numeric (None when exact)."""
    found = _radical_roots(factor)
    complete = sum(found.values()) == factor.degree()
    if complete and not any(_unwieldy(r) for r in found):
        return [(r, m, True) for r, m in found.items() if dom == "complex" or maybe_real(r)], None
    approx = _numeric_poly_roots(factor)
    if dom == "real":
        count = factor.count_roots()  # exact number of real roots (Sturm sequence)
        approx = sorted(approx, key=lambda v: abs(complex(v).imag))[:count]
        approx = [sp.re(v) for v in approx]
    reason = (
        f"the radical form for the roots of {sp.sstr(factor.as_expr())} is too unwieldy to be useful"
        if complete
        else f"{sp.sstr(factor.as_expr())} has no solution in radicals"
    )
    return [(v, 1, False) for v in approx], reason


def _from_set(solution_set: sp.Set, eq: sp.Eq, x: sp.Symbol, dom: str) -> dict[str, Any]:
    """Turn a solveset answer into a result; fall back to `solve`, then numerics, where it gave up."""
    parts = _decompose(solution_set, dom)
    if parts["unresolved"]:
        return _fallback(eq, x, dom)
    points, general, intervals = parts["points"], parts["general"], parts["intervals"]
    if not (points or general or intervals):
        return _no_solution()
    if any(p.has(sp.CRootOf) or len(sp.sstr(p)) > _LONG_ROOT for p in points):
        points = [numeric_value(p) for p in points]
        result = _listed_solutions(points, x)
        result.update({"exact": False, "numeric_fallback": True})
    else:
        result = _listed_solutions(sorted(points, key=sort_key), x)
    if not (general or intervals):
        return result
    n = sp.Symbol("n")
    texts = [result["text"]] if points else []
    result["infinite"] = True
    result["solution_set"] = sp.sstr(solution_set)
    if general:
        result["general"] = [render(g) for g in general]
        result["parameter"] = "n (any integer)"
        texts.append(" or ".join(f"{x} = {sp.sstr(g)}" for g in general) + f" ({n} any integer)")
        result["solutions"] = result["solutions"] or _principal(eq, x, dom)
        if result["solutions"] and not points:
            result["note"] = "`solutions` lists principal values; `general` gives all of them"
    if intervals:
        result["intervals"] = [_interval_dict(i) for i in intervals]
        texts.append(_intervals_text(intervals, x))
    result["text"] = " or ".join(texts)
    return result


def _decompose(solution_set: sp.Set, dom: str) -> dict[str, list]:
    """Split a set into points, periodic families (in n), intervals, and parts sympy left unsolved."""
    parts: dict[str, list] = {"points": [], "general": [], "intervals": [], "unresolved": []}
    n = sp.Symbol("n")

    def walk(s: sp.Set) -> None:
        if isinstance(s, sp.FiniteSet):
            parts["points"].extend(s.args)
        elif isinstance(s, sp.Union):
            for arg in s.args:
                walk(arg)
        elif isinstance(s, sp.ImageSet) and s.base_sets == (sp.S.Integers,) and len(s.lamda.variables) == 1:
            parts["general"].append(s.lamda.expr.subs(s.lamda.variables[0], n))
        elif isinstance(s, sp.Interval) or s == sp.S.Reals:
            parts["intervals"].append(_span(s))
        elif s is sp.S.EmptySet:
            pass
        elif isinstance(s, sp.Intersection) and any(isinstance(a, sp.FiniteSet) for a in s.args):
            # sympy could not decide which candidates are real; decide numerically.
            finite = next(a for a in s.args if isinstance(a, sp.FiniteSet))
            parts["points"].extend(p for p in finite.args if dom == "complex" or maybe_real(p))
        else:
            parts["unresolved"].append(s)

    walk(solution_set)
    return parts


def _principal(eq: sp.Eq, x: sp.Symbol, dom: str) -> list[dict[str, Any]]:
    """Principal solutions from `solve` (e.g. 0 and pi for sin x = 0), or [] if it cannot."""
    try:
        values = sp.solve(eq, x)
    except (NotImplementedError, ValueError, TypeError):
        return []
    values = [v for v in values if not v.free_symbols and (dom == "complex" or maybe_real(v))]
    return [{str(x): render(v)} for v in sorted(values, key=sort_key)]


def _fallback(eq: sp.Eq, x: sp.Symbol, dom: str) -> dict[str, Any]:
    """solveset gave up: try `solve` (LambertW etc.), then a numeric search for real roots.

    Over the reals both are combined: the numeric scan finds every real root in its range, and a
    root `solve` found in closed form replaces the matching numeric one.
    """
    closed = _solve_closed(eq, x)
    if dom == "real":
        closed = [v for v in closed if maybe_real(v)]
    f = eq.lhs - eq.rhs
    if dom == "complex" and closed:
        result = _listed_solutions(sorted(closed, key=sort_key), x)
        result["note"] = "found by sympy.solve; there may be further (complex) solutions"
        return result
    try:
        numeric, truncated, plateaus = real_roots_numeric(f, x)
    except (TypeError, ValueError, ZeroDivisionError, OverflowError, NameError):
        numeric, truncated, plateaus = [], False, []
    merged: list[sp.Expr] = []
    exact_all = True
    for value in numeric:
        value = _exact_if_simple(f, x, value)
        match = value if not isinstance(value, sp.Float) else next((c for c in closed if same_value(c, value)), None)
        merged.append(match if match is not None else value)
        exact_all &= match is not None
    merged.extend(c for c in closed if not any(same_value(c, m) for m in merged))
    merged.sort(key=sort_key)
    span = f"[-{DENSE_LIMIT:g}, {DENSE_LIMIT:g}] (sparsely out to ±{SEARCH_LIMIT:.0e})"
    if plateaus:
        return _plateau_result(merged, plateaus, x, span)
    if not merged:
        where = " (real roots only)" if dom == "complex" else ""
        return {
            "solutions": [],
            "exact": False,
            "numeric_fallback": True,
            "note": f"no closed form, and a numeric search{where} in {span} found no root",
            "text": f"no solution found (numeric search in {span})",
        }
    result = _listed_solutions(merged, x)
    result.update({"exact": exact_all, "numeric_fallback": not exact_all})
    notes = []
    if not exact_all:
        notes.append(f"no closed form found; real roots located numerically in {span}")
    if dom == "complex":
        notes.append("complex roots were not searched")
    if truncated:
        notes.append(f"only the {MAX_NUMERIC_ROOTS} roots nearest 0 are listed")
        result["truncated"] = True
    if notes:
        result["note"] = "; ".join(notes)
    return result


def _plateau_result(
    points: list[sp.Expr], plateaus: list[tuple[float, float]], x: sp.Symbol, span: str
) -> dict[str, Any]:
    """The equation holds on whole intervals (seen numerically): report them approximately."""
    found = ", ".join(f"[{lo:g}, {hi:g}]" for lo, hi in plateaus)
    result: dict[str, Any] = _listed_solutions(points, x) if points else {"solutions": [], "text": ""}
    text = f"{x} in about {' or '.join(f'[{lo:g}, {hi:g}]' for lo, hi in plateaus)}"
    result.update(
        {
            "exact": False,
            "numeric_fallback": True,
            "infinite": True,
            "approximate_intervals": [[f"{lo:g}", f"{hi:g}"] for lo, hi in plateaus],
            "note": f"no closed form found; numerically the equation holds on whole intervals ({found}, ends "
            f"accurate to the 0.01 grid) within {span}",
            "text": f"{result['text']} or {text}" if points else text,
        }
    )
    return result


def _solve_closed(eq: sp.Eq, x: sp.Symbol) -> list[sp.Expr]:
    """`solve`'s closed forms (it knows LambertW, which solveset does not), or [].

    Skipped when x appears inside trigonometric or hyperbolic functions: `solve` cannot do those
    mixed equations (tan x = x) and spends seconds finding that out.
    """
    f = eq.lhs - eq.rhs
    periodic = (TrigonometricFunction, HyperbolicFunction)
    if any(node.has(x) for node in f.atoms(*periodic)):
        return []
    try:
        with time_budget(SYMBOLIC_BUDGET):
            return [v for v in sp.solve(eq, x) if not v.free_symbols]
    except (NotImplementedError, ValueError, TypeError, ZeroDivisionError, SymbolicTimeout):
        return []


def _exact_if_simple(f: sp.Expr, x: sp.Symbol, value: sp.Float) -> sp.Expr:
    """A numeric root that is really a small integer or simple fraction, made exact when f vanishes
    there exactly (sin x = x/10 has the root 0, not 0.0)."""
    guess = sp.Rational(float(value)).limit_denominator(12)
    if abs(float(guess) - float(value)) > 1e-12 * max(1.0, abs(float(value))):
        return value
    try:
        return guess if f.subs(x, guess) == 0 else value
    except (TypeError, ValueError, ZeroDivisionError):
        return value


def _listed_solutions(values: list[sp.Expr], x: sp.Symbol) -> dict[str, Any]:
    """`solutions` renders and an `x = a or x ≈ b` text (≈ for numeric values)."""
    if not values:
        return _no_solution()
    text = " or ".join(f"{x} {'≈' if v.has(sp.Float) else '='} {render(v)['result']}" for v in values)
    return {"solutions": [{str(x): render(v)} for v in values], "text": text}


# --- inequalities -----------------------------------------------------------------------------


def _solve_inequalities(statements: list[sp.Basic], symbols: list[sp.Symbol], dom: str) -> dict[str, Any]:
    """Inequalities (with any equations) in one unknown, over the reals: an interval union."""
    if len(symbols) != 1:
        raise MathInputError("inequalities can be solved for one variable only; give variables=['x']")
    x = symbols[0]
    solution_set: sp.Set = sp.S.Reals
    for statement in statements:
        if isinstance(statement, sp.logic.boolalg.BooleanAtom):
            part = sp.S.Reals if statement else sp.S.EmptySet
        else:
            try:
                part = sp.solveset(statement, x, sp.S.Reals)
            except (NotImplementedError, ValueError, TypeError) as exc:
                raise MathInputError(
                    f"cannot solve the inequality {sp.sstr(statement)} exactly: {str(exc)[:200]}"
                ) from None
        solution_set = sp.Intersection(solution_set, part)
    result: dict[str, Any] = {"solution_set": sp.sstr(solution_set)}
    if dom == "complex":
        result["note"] = "inequalities are solved over the reals"
    intervals = _as_intervals(solution_set)
    if intervals is None:
        result.update({"solutions": [{str(x): render(solution_set)}], "text": f"{x} in {sp.sstr(solution_set)}"})
        return result
    if not intervals:
        result.update({"solutions": [], "intervals": [], "text": "no solution"})
        return result
    relational = solution_set.as_relational(x)
    result.update(
        {
            "solutions": [{str(x): render(solution_set)}],
            "intervals": [_interval_dict(i) for i in intervals],
            "relational": sp.sstr(relational),
            "infinite": any(lo != hi for lo, hi, _, _ in intervals),
            "text": _intervals_text(intervals, x),
        }
    )
    return result


# A real interval as (lower, upper, lower_open, upper_open); a point is (p, p, False, False).
# (sympy's Interval(p, p) turns itself into FiniteSet(p), so it cannot represent both.)
Span = tuple[sp.Expr, sp.Expr, bool, bool]


def _span(s: sp.Interval) -> Span:
    """The reals or one interval as a span."""
    if s == sp.S.Reals:
        return (-sp.oo, sp.oo, True, True)
    return (s.start, s.end, bool(s.left_open), bool(s.right_open))


def _as_intervals(s: sp.Set) -> list[Span] | None:
    """A real set as a sorted list of spans (points as degenerate ones), or None if it isn't one."""
    if s is sp.S.EmptySet:
        return []
    if s == sp.S.Reals or isinstance(s, sp.Interval):
        return [_span(s)]
    if isinstance(s, sp.FiniteSet) and all(p.is_real for p in s.args):
        return [(p, p, False, False) for p in s.args]
    if isinstance(s, sp.Union):
        pieces = []
        for arg in s.args:
            sub = _as_intervals(arg)
            if sub is None:
                return None
            pieces.extend(sub)
        return sorted(pieces, key=lambda span: sort_key(span[0]))
    return None


def _interval_dict(span: Span) -> dict[str, Any]:
    """{"lower", "upper", "lower_closed", "upper_closed"}: bounds are parser-readable strings."""
    lo, hi, lo_open, hi_open = span
    return {
        "lower": render(lo)["result"],
        "upper": render(hi)["result"],
        "lower_closed": not lo_open and lo.is_finite is not False,
        "upper_closed": not hi_open and hi.is_finite is not False,
    }


def _intervals_text(spans: list[Span], x: sp.Symbol) -> str:
    """`x < -2 or x > 2`-style text for a list of spans."""
    out = []
    for lo, hi, lo_open, hi_open in spans:
        a, b = sp.sstr(lo), sp.sstr(hi)
        if lo == hi:
            out.append(f"{x} = {a}")
        elif lo == -sp.oo and hi == sp.oo:
            out.append(f"every real {x}")
        elif lo == -sp.oo:
            out.append(f"{x} {'<' if hi_open else '<='} {b}")
        elif hi == sp.oo:
            out.append(f"{x} {'>' if lo_open else '>='} {a}")
        else:
            out.append(f"{a} {'<' if lo_open else '<='} {x} {'<' if hi_open else '<='} {b}")
    return " or ".join(out)


# --- systems ----------------------------------------------------------------------------------


def _solve_system(statements: list[sp.Basic], symbols: list[sp.Symbol], dom: str) -> dict[str, Any]:
    """Several equations (or one in several unknowns): linsolve, solve, then numeric Newton."""
    if any(isinstance(s, sp.logic.boolalg.BooleanAtom) for s in statements):
        if any(s == sp.false for s in statements):
            return _no_solution("one of the equations is false whatever the values")
        statements = [s for s in statements if not isinstance(s, sp.logic.boolalg.BooleanAtom)]
    fs = [s.lhs - s.rhs for s in statements]
    if all(_is_linear(f, symbols) for f in fs):
        return _linear_system(fs, symbols, dom)
    params = set().union(*(f.free_symbols for f in fs)) - set(symbols)
    polynomial = all(f.is_polynomial(*symbols) for f in fs)
    # A transcendental system sympy cannot do costs it seconds to give up on; Newton is ready.
    budget = SYMBOLIC_BUDGET if polynomial or params else SYMBOLIC_BUDGET / 3
    try:
        with time_budget(budget):
            found = sp.solve(fs, symbols, dict=True)
        failed = False
    except (NotImplementedError, ValueError, TypeError, ZeroDivisionError, SymbolicTimeout):
        found, failed = [], True
    if (failed or (not found and not polynomial)) and not params:
        numeric = _numeric_system(fs, symbols)
        if numeric is not None:
            return numeric
    if failed:
        return {
            "solutions": [],
            "exact": False,
            "solved": False,
            "note": "sympy found no closed form and the numeric search found no solution",
            "text": "no solution found",
        }
    if dom == "real":
        found = [sol for sol in found if all(maybe_real(v) for v in sol.values())]
    return _system_result(found, symbols)


def _is_linear(f: sp.Expr, symbols: list[sp.Symbol]) -> bool:
    if not f.is_polynomial(*symbols):
        return False
    return sp.Poly(f, *symbols).total_degree() <= 1


def _linear_system(fs: list[sp.Expr], symbols: list[sp.Symbol], dom: str) -> dict[str, Any]:
    solution = sp.linsolve(fs, symbols)
    if solution is sp.S.EmptySet or not solution.args:
        return _no_solution("the linear system is inconsistent")
    values = solution.args[0]
    found = [dict(zip(symbols, values))]
    if dom == "real":
        found = [sol for sol in found if all(maybe_real(v) for v in sol.values())]
    return _system_result(found, symbols)


def _system_result(found: list[dict], symbols: list[sp.Symbol]) -> dict[str, Any]:
    """Solutions of a system as {variable: render} maps, noting free variables and numeric values."""
    if not found:
        return _no_solution()
    approximate = any(v.has(sp.CRootOf) or len(sp.sstr(v)) > _LONG_ROOT for sol in found for v in sol.values())
    solutions, texts, free = [], [], set()
    for sol in found:
        entry = {}
        for s in symbols:
            value = sol.get(s, s)  # a variable missing from the answer is free
            if value == s or (value.free_symbols & set(symbols)):
                free |= value.free_symbols & set(symbols)
            if approximate:
                value = numeric_value(value) if not value.free_symbols else value
            entry[str(s)] = render(value)
        solutions.append(entry)
        sign = "≈" if approximate else "="
        texts.append(", ".join(f"{name} {sign} {r['result']}" for name, r in entry.items()))
    result: dict[str, Any] = {"solutions": solutions, "text": "; ".join(texts)}
    if free:
        result["free_variables"] = sorted(map(str, free))
        result["infinite"] = True
        result["text"] += f" (free: {', '.join(result['free_variables'])})"
    if approximate:
        result.update(
            {
                "exact": False,
                "numeric_fallback": True,
                "note": "closed forms were too long or not in radicals; values are numeric",
            }
        )
    return result


def _numeric_system(fs: list[sp.Expr], symbols: list[sp.Symbol]) -> dict[str, Any] | None:
    """Real solutions of a square system by Newton (scipy `root`) from a fixed set of starts."""
    import scipy.optimize

    n = len(symbols)
    if len(fs) != n:
        return None
    try:
        vector = sp.lambdify(symbols, fs, modules=["numpy", "scipy"], dummify=True)
    except (TypeError, NameError, SyntaxError):
        return None

    def residual(v: np.ndarray) -> np.ndarray:
        out = np.asarray(vector(*v), dtype=complex)
        return out.real if np.all(np.abs(out.imag) < 1e-12) else np.full(n, np.nan)

    rng = np.random.default_rng(0)  # fixed: the same input always gives the same answer
    starts = [np.zeros(n), np.ones(n), -np.ones(n)]
    starts += list(rng.uniform(-3, 3, size=(30, n))) + list(rng.uniform(-20, 20, size=(30, n)))
    found: list[np.ndarray] = []
    with np.errstate(all="ignore"):
        for start in starts:
            try:
                sol = scipy.optimize.root(residual, start, method="hybr", options={"maxfev": 400})
            except (ValueError, TypeError, ZeroDivisionError, OverflowError):
                continue
            if not sol.success or not np.all(np.isfinite(sol.x)):
                continue
            if np.max(np.abs(residual(sol.x))) > 1e-9:
                continue
            if not any(np.allclose(sol.x, f, rtol=1e-7, atol=1e-9) for f in found):
                found.append(sol.x)
            if len(found) >= MAX_NUMERIC_ROOTS:
                break
    if not found:
        return None
    found.sort(key=lambda v: tuple(v))
    solutions = [{str(s): render(sp.Float(float(v[i]), 15)) for i, s in enumerate(symbols)} for v in found]
    text = "; ".join(", ".join(f"{k} ≈ {r['result']}" for k, r in sol.items()) for sol in solutions)
    return {
        "solutions": solutions,
        "exact": False,
        "numeric_fallback": True,
        "note": "no closed form found; real solutions located numerically from many starting points (others may exist)",
        "text": text,
    }


# --- simplify ---------------------------------------------------------------------------------

_SIMPLIFY_OPS = {
    "simplify": "simplify",
    "simp": "simplify",
    "expand": "expand",
    "factor": "factor",
    "factorize": "factor",
    "factorise": "factor",
    "apart": "apart",
    "partial_fractions": "apart",
    "partial_fraction": "apart",
    "together": "together",
    "combine": "together",
    "trigsimp": "trigsimp",
    "trig_simplify": "trigsimp",
    "cancel": "cancel",
    "evaluate": "evaluate",
    "eval": "evaluate",
    "evalf": "evaluate",
    "value": "evaluate",
    "numeric": "evaluate",
    "n": "evaluate",
}


def simplify(
    expression: str, operation: str = "simplify", digits: int = 15, variable: str | None = None
) -> dict[str, Any]:
    """Rewrite `expression` (simplify, expand, factor, apart, together, trigsimp, cancel) or evaluate it.

    `evaluate` carries out Sum/Integral/Product/Limit/Derivative (`.doit()`) and gives the exact
    value plus `numeric` to `digits` significant digits (1..1000). An equation or inequality is
    rewritten side by side, and `holds` says whether it is true (None: undecided).
    `variable` is only used by `apart` when the expression has several symbols.

    Result: `operation`, `result`, `latex`, `numeric`, `unchanged`, `text`; evaluate adds
    `closed_form` (False when sympy left an unevaluated Sum/Integral) and `approximation` when the
    value still has symbols.
    """
    op = pick_operation(operation, _SIMPLIFY_OPS)
    digits = bounded_int(digits, "digits", 1, MAX_DIGITS)
    parsed = parse_statement(expression)
    if isinstance(parsed, sp.logic.boolalg.BooleanAtom):
        return {
            "operation": op,
            **render(parsed),
            "holds": bool(parsed),
            "unchanged": True,
            "text": f"{op}: {bool(parsed)}",
        }
    if isinstance(parsed, sp.Rel):
        return _simplify_relation(parsed, op, digits, variable)
    if not isinstance(parsed, sp.Expr):
        raise MathInputError(f"{expression!r} is not an expression")
    value = _apply(parsed, op, variable)
    rendered = _render_sum(value, digits) if op == "evaluate" and isinstance(value, sp.Sum) else render(value, digits)
    result: dict[str, Any] = {"operation": op, **rendered, "unchanged": value == parsed}
    if op == "evaluate":
        result["closed_form"] = not value.has(sp.Sum, sp.Integral, sp.Product, sp.Limit, sp.Derivative)
        if value.free_symbols and _has_irrational_constant(value):
            result["approximation"] = render(sp.N(value, digits))["result"]
        text = f"{result['result']}"
        if result.get("summarised"):
            pass  # the summary already carries the leading digits
        elif result.get("numeric") and result["numeric"] != result["result"]:
            text += f" ≈ {result['numeric']}"
        elif result.get("approximation") and result["approximation"] != result["result"]:
            text += f" ≈ {result['approximation']}"
        if not result["closed_form"]:
            text += " (no closed form found)"
    else:
        text = result["result"] + (" (unchanged)" if result["unchanged"] else "")
    result["text"] = clip(text, TEXT_MAX)
    return result


def _apply(expr: sp.Expr, op: str, variable: str | None) -> sp.Expr:
    """One rewriting operation on one expression."""
    if op == "simplify":
        return (
            sp.simplify(expr.doit())
            if expr.has(sp.Sum, sp.Integral, sp.Product, sp.Limit, sp.Derivative)
            else sp.simplify(expr)
        )
    if op == "expand":
        return sp.expand(expr)
    if op == "factor":
        return sp.factor(expr)
    if op == "together":
        return sp.together(expr)
    if op == "trigsimp":
        return sp.trigsimp(expr)
    if op == "cancel":
        return sp.cancel(expr)
    if op == "apart":
        return _apart(expr, variable)
    # evaluate: carry out unevaluated operators (Sum, Integral, ...). A symbolic answer is tidied
    # when small: Product(k/(k+1), (k, 1, n)) comes back as factorial(n)/RisingFactorial(2, n).
    value = expr.doit()
    if value.free_symbols and value != expr and sp.count_ops(value) <= _SIMPLIFY_MAX_OPS:
        simpler = sp.simplify(value)
        if sp.count_ops(simpler) <= sp.count_ops(value):
            value = simpler
    return value


def _render_sum(total: sp.Sum, digits: int) -> dict[str, Any]:
    """A Sum sympy could not evaluate: its numeric value by mpmath's nsum rather than sympy's
    evalf, which is slow and can be wrong (Σ sin(k)/k² comes out wrong in the 5th digit)."""
    rendered = {"result": clip(sp.sstr(total), 20_000), "latex": clip(sp.latex(total), 20_000), "numeric": None}
    if total.free_symbols:
        return rendered
    value, error = numeric_sum(total, digits)
    if value is not None and mpmath.isfinite(value):
        rendered["numeric"] = mpmath.nstr(value, digits)
        rendered["error_estimate"] = mpmath.nstr(error, 2)
    return rendered


def _has_irrational_constant(value: sp.Expr) -> bool:
    """pi, E, sqrt(2), log(3)... inside an expression (worth a decimal approximation)."""
    if value.atoms(sp.NumberSymbol):
        return True
    return any(a.is_number and not a.is_Rational for a in value.atoms(sp.Pow, sp.Function))


def _apart(expr: sp.Expr, variable: str | None) -> sp.Expr:
    """Partial fractions in `variable`, which may be omitted when there is one symbol."""
    symbols = sorted(expr.free_symbols, key=str)
    if variable:
        x = parse_symbols(variable)[0]
    elif len(symbols) <= 1:
        x = symbols[0] if symbols else None
    else:
        raise MathInputError(
            f"apart needs to know the variable: the expression has {', '.join(map(str, symbols))}; pass variable='x'"
        )
    if x is None:
        return expr
    try:
        return sp.apart(expr, x)
    except (NotImplementedError, sp.PolynomialError) as exc:
        raise MathInputError(f"apart works on rational functions of {x}: {str(exc)[:200]}") from None


def _simplify_relation(rel: sp.Rel, op: str, digits: int, variable: str | None) -> dict[str, Any]:
    """An equation/inequality: rewrite both sides; say whether it holds where that is decidable."""
    lhs, rhs = _apply(rel.lhs, op, variable), _apply(rel.rhs, op, variable)
    holds = _holds(rel.func, lhs, rhs)
    rewritten = rel.func(lhs, rhs, evaluate=False)
    result = {
        "operation": op,
        **render(rewritten, digits),
        "lhs": render(lhs, digits),
        "rhs": render(rhs, digits),
        "holds": holds,
        "unchanged": lhs == rel.lhs and rhs == rel.rhs,
    }
    verdict = {True: "true", False: "false", None: "undecided"}[holds]
    result["text"] = clip(f"{result['result']} ({verdict})", TEXT_MAX)
    return result


def _holds(func: type, lhs: sp.Expr, rhs: sp.Expr) -> bool | None:
    """Whether lhs <func> rhs is true for all values: exact when sympy can decide, else None."""
    difference = sp.simplify(lhs - rhs) if sp.count_ops(lhs - rhs) <= _SIMPLIFY_MAX_OPS else lhs - rhs
    if func is sp.Eq:
        if difference == 0:
            return True
        if difference.is_number:
            return bool(difference.is_zero) if difference.is_zero is not None else None
        return None
    if func is sp.Ne:
        inner = _holds(sp.Eq, lhs, rhs)
        return None if inner is None else not inner
    try:
        truth = func(difference, 0)
    except TypeError:
        return None
    return bool(truth) if isinstance(truth, sp.logic.boolalg.BooleanAtom) else None
