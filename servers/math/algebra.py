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

Symbolic attempts that a numeric method can replace run under `time_budget` (sympy can grind for
minutes on problems without a closed form). The budget and the small input checks
(`bounded_int`, `pick_operation`, `clip`) are shared with `calculus`.
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import mpmath
import numpy as np
import sympy as sp
from sympy.functions.elementary.hyperbolic import HyperbolicFunction
from sympy.functions.elementary.trigonometric import TrigonometricFunction

from mcpfleet.servers.math.parser import MathInputError, parse_statement, parse_symbols
from mcpfleet.servers.math.render import render

MAX_EQUATIONS = 20
MAX_DIGITS = 1000
TEXT_MAX = 600  # the one-line `text` summary is cut beyond this
_LONG_ROOT = 300  # a radical root longer than this (characters) is given numerically instead
_MAX_NUMERIC_ROOTS = 30  # a numeric search reports at most this many roots
_SEARCH_LIMIT = 1e6  # the numeric search scans [-1e6, 1e6] ...
_DENSE_LIMIT = 100.0  # ... finely (steps of 0.01) in [-100, 100], sparsely beyond
_SIMPLIFY_MAX_OPS = 200  # `simplify()` on bigger expressions may take too long to be worth it
SYMBOLIC_BUDGET = 5.0  # seconds a symbolic attempt may take where a numeric method can take over

_DOMAINS = {"complex": "complex", "c": "complex", "complexes": "complex",
            "real": "real", "r": "real", "reals": "real"}


# --- shared small helpers ---------------------------------------------------------------------


def clip(text: str, limit: int = TEXT_MAX) -> str:
    """`text` cut to `limit` characters with a marker (the `text` field is a summary, not data)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def bounded_int(value: Any, name: str, low: int, high: int) -> int:
    """`value` as an int in [low, high], or a MathInputError saying what is allowed."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise MathInputError(f"{name} must be a whole number between {low} and {high}")
    try:
        number = int(value) if not isinstance(value, float) or value.is_integer() else None
    except ValueError:
        number = None
    if number is None or not low <= number <= high:
        raise MathInputError(f"{name} must be a whole number between {low} and {high}, got {value!r}")
    return number


def pick_operation(operation: Any, aliases: dict[str, str]) -> str:
    """The canonical operation name for `operation`, or an error listing the valid ones."""
    key = str(operation).strip().lower().replace("-", "_").replace(" ", "_") if operation is not None else ""
    if key not in aliases:
        valid = ", ".join(dict.fromkeys(aliases.values()))
        raise MathInputError(f"unknown operation {operation!r}; valid operations: {valid}")
    return aliases[key]


class SymbolicTimeout(BaseException):
    """A symbolic attempt ran past its budget. A BaseException, so that sympy's own broad
    `except Exception` blocks cannot swallow it."""


@contextlib.contextmanager
def time_budget(seconds: float) -> Iterator[None]:
    """Raise SymbolicTimeout in the block after `seconds` (wall clock), where a numeric method can
    take over from a symbolic one that is grinding (sympy may spend minutes on an integral that has
    no closed form). Uses SIGALRM, so only on the main thread; an outer timer that would fire
    sooner is left alone, and one that fires later is restored afterwards. Outside the main thread
    the block simply runs unbounded (the worker pool's own limit still applies)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    outer_remaining, outer_interval = signal.getitimer(signal.ITIMER_REAL)
    if 0 < outer_remaining <= seconds:
        yield
        return

    def on_alarm(signum: int, frame: Any) -> None:
        raise SymbolicTimeout()

    started = time.monotonic()
    previous = signal.signal(signal.SIGALRM, on_alarm)
    # Repeats every 0.2 s in case sympy catches the first one with a bare `except:`.
    signal.setitimer(signal.ITIMER_REAL, seconds, 0.2)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_remaining > 0:
            left = max(outer_remaining - (time.monotonic() - started), 0.001)
            signal.setitimer(signal.ITIMER_REAL, left, outer_interval)


def numeric_value(value: Any, digits: int = 15) -> sp.Expr:
    """A sympy Float (or complex Float) with `digits` significant digits, tiny imaginary parts dropped."""
    return sp.N(value, digits, chop=True)


def lambdify_real(expr: sp.Expr, x: sp.Symbol, module: str) -> Callable[[Any], Any]:
    """`expr` as a function of `x` for numpy ("numpy") or mpmath ("mpmath").

    The expression comes from the parser (whitelisted functions, identifier-only names), and
    `dummify` replaces the argument name, so the generated code holds nothing from the input text.
    """
    modules = ["numpy", "scipy"] if module == "numpy" else ["mpmath"]
    return sp.lambdify(x, expr, modules=modules, dummify=True)


def real_roots_numeric(f: sp.Expr, x: sp.Symbol,
                       digits: int = 15) -> tuple[list[sp.Float], bool, list[tuple[float, float]]]:
    """Real roots of f(x) = 0 found numerically in [-1e6, 1e6].

    Returns (sorted roots, truncated, plateaus): plateaus are approximate intervals where f is
    exactly 0 on many grid points in a row (floor(x) = 2 holds on [2, 3)), reported instead of
    listing their points as roots.

    Scans a fixed grid (dense near 0, logarithmic further out), bisects each sign change in
    floating point and polishes the root with mpmath; sign changes at poles (tan x) are rejected
    because |f| grows there instead of vanishing. Local minima of |f| get a multiple-root Newton
    attempt, to catch roots where f touches zero without crossing it. The work is bounded: fixed
    grid, at most 200 brackets and 20 touch points, those nearest 0 first; the roots nearest 0
    are kept.
    """
    grid, values, f_float = _grid_values(f, x, _search_grid())
    plateaus = _plateaus(grid, values)
    f_mp = lambdify_real(f, x, "mpmath")
    candidates: list[float] = []
    for a, b in _sign_changes(grid, values)[:200]:
        root = _bisect(f_float, a, b)
        if root is not None:
            candidates.append(root)
    found: list[tuple[mpmath.mpf, mpmath.mpf]] = []  # (root, |f(root)|)
    # Polishing is the costly step (mpmath special functions): candidates come nearest 0 first,
    # and once more roots than can be listed are in hand, the rest are not polished.
    enough = _MAX_NUMERIC_ROOTS + 1
    with mpmath.workdps(digits + 10):
        for start in candidates:
            if len(found) >= enough:
                break
            polished = _polish(f_mp, start, bracketed=True)
            if polished is not None:
                found.append(polished)
        for start in _touch_points(grid, values)[:20]:
            if len(found) >= enough:
                break
            polished = _polish(f_mp, start, bracketed=False)
            if polished is not None:
                found.append(polished)
        roots = [r for r in _cluster(found) if not any(lo <= r <= hi for lo, hi in plateaus)]
    roots.sort(key=abs)
    truncated = len(roots) > _MAX_NUMERIC_ROOTS or len(found) >= enough
    kept = sorted(roots[:_MAX_NUMERIC_ROOTS])
    return [sp.Float(mpmath.nstr(r, digits), digits) for r in kept], truncated, plateaus


# --- solve ------------------------------------------------------------------------------------


def solve(equations: str | Sequence[str], variables: str | Sequence[str] | None = None,
          domain: str = "complex") -> dict[str, Any]:
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
    result["text"] = clip(result["text"])
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
            f"e.g. variables={[str(symbols[-1])]!r}; the others are then treated as parameters")
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
    distinct = all(abs(a - b) > 1e-9 * max(1.0, abs(a)) for i, a in enumerate(polished) for b in polished[i + 1:])
    if not distinct:
        return [numeric_value(r) for r in factor.nroots(n=15, maxsteps=200)]
    return [numeric_value(sp.Float(z.real, 15) + sp.I * sp.Float(z.imag, 15)
                          if abs(z.imag) > 1e-14 * max(1.0, abs(z.real)) else sp.Float(z.real, 15))
            for z in polished]


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
    result = {"solutions": [], "infinite": True, "all_values": True, "solution_set": sp.sstr(everything),
              "text": f"every {where} {x} is a solution (the equation is an identity)"}
    if dom == "real":
        result["intervals"] = [_interval_dict((-sp.oo, sp.oo, True, True))]
    return result


def _solve_with_parameters(eq: sp.Eq, x: sp.Symbol, dom: str, params: set[sp.Symbol]) -> dict[str, Any]:
    """Solve for `x` with the other symbols as parameters (`solve` handles these best)."""
    names = ", ".join(sorted(map(str, params)))
    try:
        values = sp.solve(eq, x, dict=False)
    except (NotImplementedError, ValueError, TypeError) as exc:
        return {"solutions": [], "exact": False, "solved": False,
                "note": f"no closed form found (sympy: {str(exc)[:200]}); a numeric search needs "
                        f"values for the parameters {names}",
                "text": f"no closed-form solution found for {x}"}
    if dom == "real":
        values = [v for v in values if _maybe_real(v)]
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
    reasons = set()
    for factor, mult in factors:
        if factor.degree() > 0:
            roots, reason = _factor_roots(factor, dom)
            entries.extend((r, m * mult, exact) for r, m, exact in roots)
            reasons.add(reason)
    entries.sort(key=lambda e: _sort_key(e[0]))
    exact = all(e[2] for e in entries)
    result = _listed_solutions([e[0] for e in entries], x)
    result["multiplicities"] = [e[1] for e in entries]
    reasons.discard(None)
    if reasons:
        result.update({"exact": exact, "numeric_fallback": True,
                       "note": "some roots are given numerically: " + "; ".join(sorted(reasons))})
    if not entries and dom == "real":
        result["text"] = "no real solution"
    return result


def _factor_roots(factor: sp.Poly, dom: str) -> tuple[list[tuple[sp.Expr, int, bool]], str | None]:
    """Roots of one factor as (root, multiplicity, exact), real ones only over the reals, and the
    reason when they are numeric (None when exact)."""
    found = _radical_roots(factor)
    complete = sum(found.values()) == factor.degree()
    if complete and not any(_unwieldy(r) for r in found):
        return [(r, m, True) for r, m in found.items() if dom == "complex" or _maybe_real(r)], None
    approx = _numeric_poly_roots(factor)
    if dom == "real":
        count = factor.count_roots()  # exact number of real roots (Sturm sequence)
        approx = sorted(approx, key=lambda v: abs(complex(v).imag))[:count]
        approx = [sp.re(v) for v in approx]
    reason = (f"the radical form for the roots of {sp.sstr(factor.as_expr())} is too unwieldy to be useful"
              if complete else f"{sp.sstr(factor.as_expr())} has no solution in radicals")
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
        result = _listed_solutions(sorted(points, key=_sort_key), x)
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
            parts["intervals"].extend(_as_intervals(s))
        elif s is sp.S.EmptySet:
            pass
        elif isinstance(s, sp.Intersection) and any(isinstance(a, sp.FiniteSet) for a in s.args):
            # sympy could not decide which candidates are real; decide numerically.
            finite = next(a for a in s.args if isinstance(a, sp.FiniteSet))
            parts["points"].extend(p for p in finite.args if dom == "complex" or _maybe_real(p))
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
    values = [v for v in values if not v.free_symbols and (dom == "complex" or _maybe_real(v))]
    return [{str(x): render(v)} for v in sorted(values, key=_sort_key)]


def _fallback(eq: sp.Eq, x: sp.Symbol, dom: str) -> dict[str, Any]:
    """solveset gave up: try `solve` (LambertW etc.), then a numeric search for real roots.

    Over the reals both are combined: the numeric scan finds every real root in its range, and a
    root `solve` found in closed form replaces the matching numeric one.
    """
    closed = _solve_closed(eq, x)
    if dom == "real":
        closed = [v for v in closed if _maybe_real(v)]
    f = eq.lhs - eq.rhs
    if dom == "complex" and closed:
        result = _listed_solutions(sorted(closed, key=_sort_key), x)
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
        match = value if not isinstance(value, sp.Float) else next((c for c in closed if _close(c, value)), None)
        merged.append(match if match is not None else value)
        exact_all &= match is not None
    merged.extend(c for c in closed if not any(_close(c, m) for m in merged))
    merged.sort(key=_sort_key)
    span = f"[-{_DENSE_LIMIT:g}, {_DENSE_LIMIT:g}] (sparsely out to ±{_SEARCH_LIMIT:.0e})"
    if plateaus:
        return _plateau_result(merged, plateaus, x, span)
    if not merged:
        where = " (real roots only)" if dom == "complex" else ""
        return {"solutions": [], "exact": False, "numeric_fallback": True,
                "note": f"no closed form, and a numeric search{where} in {span} found no root",
                "text": f"no solution found (numeric search in {span})"}
    result = _listed_solutions(merged, x)
    result.update({"exact": exact_all, "numeric_fallback": not exact_all})
    notes = []
    if not exact_all:
        notes.append(f"no closed form found; real roots located numerically in {span}")
    if dom == "complex":
        notes.append("complex roots were not searched")
    if truncated:
        notes.append(f"only the {_MAX_NUMERIC_ROOTS} roots nearest 0 are listed")
        result["truncated"] = True
    if notes:
        result["note"] = "; ".join(notes)
    return result


def _plateau_result(points: list[sp.Expr], plateaus: list[tuple[float, float]], x: sp.Symbol,
                    span: str) -> dict[str, Any]:
    """The equation holds on whole intervals (seen numerically): report them approximately."""
    found = ", ".join(f"[{lo:g}, {hi:g}]" for lo, hi in plateaus)
    result = _listed_solutions(points, x) if points else {"solutions": [], "text": ""}
    text = f"{x} in about {' or '.join(f'[{lo:g}, {hi:g}]' for lo, hi in plateaus)}"
    result.update({
        "exact": False, "numeric_fallback": True, "infinite": True,
        "approximate_intervals": [[f"{lo:g}", f"{hi:g}"] for lo, hi in plateaus],
        "note": f"no closed form found; numerically the equation holds on whole intervals ({found}, ends "
                f"accurate to the 0.01 grid) within {span}",
        "text": f"{result['text']} or {text}" if points else text,
    })
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
                    f"cannot solve the inequality {sp.sstr(statement)} exactly: {str(exc)[:200]}") from None
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
    result.update({
        "solutions": [{str(x): render(solution_set)}],
        "intervals": [_interval_dict(i) for i in intervals],
        "relational": sp.sstr(relational),
        "infinite": any(lo != hi for lo, hi, _, _ in intervals),
        "text": _intervals_text(intervals, x),
    })
    return result


# A real interval as (lower, upper, lower_open, upper_open); a point is (p, p, False, False).
# (sympy's Interval(p, p) turns itself into FiniteSet(p), so it cannot represent both.)
Span = tuple[sp.Expr, sp.Expr, bool, bool]


def _as_intervals(s: sp.Set) -> list[Span] | None:
    """A real set as a sorted list of spans (points as degenerate ones), or None if it isn't one."""
    if s is sp.S.EmptySet:
        return []
    if s == sp.S.Reals:
        return [(-sp.oo, sp.oo, True, True)]
    if isinstance(s, sp.Interval):
        return [(s.start, s.end, bool(s.left_open), bool(s.right_open))]
    if isinstance(s, sp.FiniteSet) and all(p.is_real for p in s.args):
        return [(p, p, False, False) for p in s.args]
    if isinstance(s, sp.Union):
        pieces = []
        for arg in s.args:
            sub = _as_intervals(arg)
            if sub is None:
                return None
            pieces.extend(sub)
        return sorted(pieces, key=lambda span: _sort_key(span[0]))
    return None


def _interval_dict(span: Span) -> dict[str, Any]:
    """{"lower", "upper", "lower_closed", "upper_closed"}: bounds are parser-readable strings."""
    lo, hi, lo_open, hi_open = span
    return {"lower": render(lo)["result"], "upper": render(hi)["result"],
            "lower_closed": not lo_open and lo.is_finite is not False,
            "upper_closed": not hi_open and hi.is_finite is not False}


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
        return {"solutions": [], "exact": False, "solved": False,
                "note": "sympy found no closed form and the numeric search found no solution",
                "text": "no solution found"}
    if dom == "real":
        found = [sol for sol in found if all(_maybe_real(v) for v in sol.values())]
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
        found = [sol for sol in found if all(_maybe_real(v) for v in sol.values())]
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
        result.update({"exact": False, "numeric_fallback": True,
                       "note": "closed forms were too long or not in radicals; values are numeric"})
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
            if len(found) >= _MAX_NUMERIC_ROOTS:
                break
    if not found:
        return None
    found.sort(key=lambda v: tuple(v))
    solutions = [{str(s): render(sp.Float(float(v[i]), 15)) for i, s in enumerate(symbols)} for v in found]
    text = "; ".join(", ".join(f"{k} ≈ {r['result']}" for k, r in sol.items()) for sol in solutions)
    return {"solutions": solutions, "exact": False, "numeric_fallback": True,
            "note": "no closed form found; real solutions located numerically from many starting points "
                    "(others may exist)",
            "text": text}


# --- numeric helpers --------------------------------------------------------------------------


def _maybe_real(value: sp.Expr) -> bool:
    """False only when `value` is certainly not real (numerically, a clear imaginary part)."""
    if value.is_real is not None:
        return bool(value.is_real)
    if value.free_symbols:
        return True
    try:
        z = complex(sp.N(value, 30))
    except (TypeError, ValueError):
        return True
    return abs(z.imag) <= 1e-20 * max(1.0, abs(z.real))


def _sort_key(value: sp.Expr) -> tuple:
    """Order roots by real then imaginary part; symbolic ones last, by text."""
    try:
        z = complex(sp.N(value, 20))
        return (0, z.real, z.imag, "")
    except (TypeError, ValueError):
        return (1, 0.0, 0.0, sp.sstr(value))


def _close(a: sp.Expr, b: sp.Expr) -> bool:
    try:
        za, zb = complex(sp.N(a, 20)), complex(sp.N(b, 20))
    except (TypeError, ValueError):
        return False
    return abs(za - zb) <= 1e-9 * max(1.0, abs(zb))


def _search_grid() -> np.ndarray:
    """Steps of 0.01 in [-100, 100], then logarithmic out to ±1e6: 22 000 points in all."""
    near = np.linspace(-_DENSE_LIMIT, _DENSE_LIMIT, 20001)
    far = np.logspace(math.log10(_DENSE_LIMIT), math.log10(_SEARCH_LIMIT), 1000)[1:]
    return np.concatenate([-far[::-1], near, far])


def _grid_values(f: sp.Expr, x: sp.Symbol, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray, Callable]:
    """(grid, f on it as real floats with NaN where undefined or complex, scalar f for bisection).

    numpy evaluates the whole grid at once; for functions numpy lacks, mpmath evaluates point by
    point on every fourth grid point (still bounded: 2 500 evaluations).
    """
    with np.errstate(all="ignore"):
        try:
            f_np = lambdify_real(f, x, "numpy")
            values = np.asarray(f_np(grid), dtype=complex)
            if values.shape != grid.shape:
                values = np.broadcast_to(values, grid.shape)
            f_float = lambda t: _real_or_nan(complex(f_np(t)))  # noqa: E731
        except (TypeError, NameError, ValueError, AttributeError, ZeroDivisionError):
            grid = grid[::4]
            f_mp = lambdify_real(f, x, "mpmath")
            values = np.array([_mp_value(f_mp, float(t)) for t in grid], dtype=complex)
            f_float = lambda t: _real_or_nan(_mp_value(f_mp, t))  # noqa: E731
        real = values.real.copy()
        bad = ~np.isfinite(values) | (np.abs(values.imag) > 1e-9 * np.maximum(1.0, np.abs(values.real)))
    real[bad] = np.nan
    return grid, real, f_float


def _real_or_nan(z: complex) -> float:
    if not (math.isfinite(z.real) and math.isfinite(z.imag)) or abs(z.imag) > 1e-9 * max(1.0, abs(z.real)):
        return math.nan
    return z.real


def _mp_value(f_mp: Callable, t: float) -> complex:
    try:
        return complex(f_mp(mpmath.mpf(t)))
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return complex("nan")


def _sign_changes(grid: np.ndarray, values: np.ndarray) -> list[tuple[float, float]]:
    """Brackets [a, b] where f changes sign, and isolated exact zeros as [a, a], nearest 0 first."""
    finite = np.isfinite(values)
    both = finite[:-1] & finite[1:]
    change = both & (np.sign(values[:-1]) * np.sign(values[1:]) < 0)
    brackets = [(float(grid[i]), float(grid[i + 1])) for i in np.nonzero(change)[0]]
    zero = finite & (values == 0)
    isolated = zero & ~np.r_[False, zero[:-1]] & ~np.r_[zero[1:], False]
    zeros = [(float(grid[i]), float(grid[i])) for i in np.nonzero(isolated)[0]]
    return sorted(brackets + zeros, key=lambda ab: min(abs(ab[0]), abs(ab[1])))


def _plateaus(grid: np.ndarray, values: np.ndarray) -> list[tuple[float, float]]:
    """Runs of three or more grid points where f is exactly 0, as (first, last) grid values."""
    zero = np.isfinite(values) & (values == 0)
    runs, start = [], None
    for i, z in enumerate(zero.tolist() + [False]):
        if z and start is None:
            start = i
        elif not z and start is not None:
            if i - start >= 3:
                runs.append((float(grid[start]), float(grid[i - 1])))
            start = None
    return runs[:10]


def _touch_points(grid: np.ndarray, values: np.ndarray) -> list[float]:
    """Local minima of |f| with no sign change next to them: candidates for double roots."""
    mag = np.abs(values)
    inner = np.arange(1, values.size - 1)
    ok = np.isfinite(mag[inner - 1]) & np.isfinite(mag[inner]) & np.isfinite(mag[inner + 1])
    minima = inner[ok & (mag[inner] < mag[inner - 1]) & (mag[inner] <= mag[inner + 1])]
    same_sign = np.sign(values[minima - 1]) == np.sign(values[minima + 1])
    minima = minima[same_sign]
    scale = np.nanmax(mag[np.isfinite(mag)]) if np.any(np.isfinite(mag)) else 1.0
    # Only minima that are small compared to nearby values are worth a Newton attempt.
    minima = minima[mag[minima] < 1e-2 * max(1.0, min(scale, 1e6))]
    order = np.argsort(mag[minima])
    return [float(grid[i]) for i in minima[order]]


def _bisect(f: Callable[[float], float], a: float, b: float) -> float | None:
    """Bisect a sign change of f on [a, b] in floating point; None where it is a pole, not a root."""
    if a == b:
        return a
    with np.errstate(all="ignore"):
        fa, fb = f(a), f(b)
        edge = max(abs(fa), abs(fb))
        for _ in range(100):  # 100 halvings exhaust double precision on any bracket
            mid = 0.5 * (a + b)
            if mid in (a, b):
                break
            fm = f(mid)
            if not math.isfinite(fm):
                return None
            if fm == 0:
                return mid
            if (fm < 0) == (fa < 0):
                a, fa = mid, fm
            else:
                b, fb = mid, fm
        root = a if abs(fa) <= abs(fb) else b
        # At a root |f| collapses; across a pole it grows beyond the bracket's starting values.
        return root if abs(f(root)) <= max(1e-6 * edge, 1e-12) else None


def _polish(f_mp: Callable, start: float, bracketed: bool) -> tuple[mpmath.mpf, mpmath.mpf] | None:
    """(root, |f(root)|) refined by Newton-type steps at high precision near `start`.

    A bracketed start is a root already (bisection saw the sign change and |f| vanish): polishing
    only improves it, and where it fails the start is kept. A touch-point start must converge,
    with the multiple-root variant of Newton, to a point where |f| is tiny.
    """
    here = mpmath.mpf(start)
    try:
        start_residual = abs(f_mp(here))
        solver = "secant" if bracketed else "mnewton"
        root = mpmath.findroot(f_mp, here, solver=solver, maxsteps=50, verify=False)
        if isinstance(root, mpmath.mpc):
            root = root.real if abs(root.imag) <= 1e-20 * max(1, abs(root.real)) else mpmath.nan
        residual = abs(f_mp(root)) if mpmath.isfinite(root) else mpmath.inf
    except (ValueError, ZeroDivisionError, TypeError, OverflowError, ArithmeticError):
        return (here, mpmath.inf) if bracketed else None
    near = mpmath.isfinite(root) and abs(root - here) <= 1e-3 * max(1.0, abs(here))
    if bracketed:
        return (root, residual) if near and residual <= start_residual else (here, start_residual)
    return (root, residual) if near and residual <= mpmath.mpf(10) ** (5 - mpmath.mp.dps) else None


def _cluster(found: list[tuple[mpmath.mpf, mpmath.mpf]]) -> list[mpmath.mpf]:
    """One root per cluster of nearby candidates (the one with the smallest |f|): a flat multiple
    root (tan x - x at 0) makes Newton stop at many slightly different points."""
    out: list[tuple[mpmath.mpf, mpmath.mpf]] = []
    for root, residual in sorted(found, key=lambda rr: rr[0]):
        if out and abs(root - out[-1][0]) <= 1e-6 * max(1, abs(root)):
            if residual < out[-1][1]:
                out[-1] = (root, residual)
        else:
            out.append((root, residual))
    return [r for r, _ in out]


# --- simplify ---------------------------------------------------------------------------------

_SIMPLIFY_OPS = {
    "simplify": "simplify", "simp": "simplify",
    "expand": "expand",
    "factor": "factor", "factorize": "factor", "factorise": "factor",
    "apart": "apart", "partial_fractions": "apart", "partial_fraction": "apart",
    "together": "together", "combine": "together",
    "trigsimp": "trigsimp", "trig_simplify": "trigsimp",
    "cancel": "cancel",
    "evaluate": "evaluate", "eval": "evaluate", "evalf": "evaluate", "value": "evaluate",
    "numeric": "evaluate", "n": "evaluate",
}


def simplify(expression: str, operation: str = "simplify", digits: int = 15,
             variable: str | None = None) -> dict[str, Any]:
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
        return {"operation": op, **render(parsed), "holds": bool(parsed), "unchanged": True,
                "text": f"{op}: {bool(parsed)}"}
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
    result["text"] = clip(text)
    return result


def _apply(expr: sp.Expr, op: str, variable: str | None) -> sp.Expr:
    """One rewriting operation on one expression."""
    if op == "simplify":
        return sp.simplify(expr.doit()) if expr.has(sp.Sum, sp.Integral, sp.Product, sp.Limit, sp.Derivative) \
            else sp.simplify(expr)
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
    from mcpfleet.servers.math.calculus import numeric_sum  # calculus imports this module

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
        raise MathInputError(f"apart needs to know the variable: the expression has {', '.join(map(str, symbols))}; "
                             "pass variable='x'")
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
    result = {"operation": op, **render(rewritten, digits), "lhs": render(lhs, digits), "rhs": render(rhs, digits),
              "holds": holds, "unchanged": lhs == rel.lhs and rhs == rel.rhs}
    verdict = {True: "true", False: "false", None: "undecided"}[holds]
    result["text"] = clip(f"{result['result']} ({verdict})")
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
