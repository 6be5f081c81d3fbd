"""Calculus: `calculus(expression, operation, ...)` (diff, integrate, limit, series, sum) and `ode`.

Input text goes through `parser` only (never `sympify`); results are plain data built from
`render()` dicts (`result`, `latex`, `numeric`) plus flags and a short `text`.

Where sympy finds no closed form the answer says so instead of passing an unevaluated `Integral`
or `Sum` off as a result: definite integrals fall back to mpmath quadrature and convergent sums to
numeric summation, both flagged `numeric_fallback` with `exact: false`.

ODEs accept the notations people write — `y'' + y = 0`, `y'(x)`, `dy/dx`, `d^2y/dx^2`,
`diff(y(x), x, 2)`, `Derivative(y(x), x)` — by rewriting each derivative of the named unknown
functions into a placeholder symbol before parsing (the parser knows no user functions), then
substituting `Derivative(y(x), x, k)` for the placeholders in the parsed equation.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import mpmath
import numpy as np
import sympy as sp

from mcpfleet.common.text import clip
from mcpfleet.servers.math.budget import MAX_EQUATIONS, SYMBOLIC_BUDGET, SymbolicTimeout, time_budget
from mcpfleet.servers.math.checks import bounded_int, pick_operation
from mcpfleet.servers.math.numeric import mp_bound, numeric_sum
from mcpfleet.servers.math.parser import (
    NUMBER_BEFORE_NAME,
    MathInputError,
    parse_expression,
    parse_statement,
    parse_symbol,
)
from mcpfleet.servers.math.render import TEXT_MAX, render

MAX_ORDER = 20
MAX_SERIES_TERMS = 30
_DIRECT_SUM_TERMS = 1000  # a finite sum with no closed form is added exactly up to this many terms
_NUMERIC_SUM_TERMS = 10**6  # ... and numerically (floating point) up to this many
_SIMPLIFY_MAX_OPS = 150  # results bigger than this are not passed through simplify (slow)

_OPERATIONS = {
    "diff": "diff",
    "derivative": "diff",
    "differentiate": "diff",
    "d": "diff",
    "integrate": "integrate",
    "integral": "integrate",
    "antiderivative": "integrate",
    "int": "integrate",
    "limit": "limit",
    "lim": "limit",
    "series": "series",
    "taylor": "series",
    "taylor_series": "series",
    "expansion": "series",
    "sum": "sum",
    "summation": "sum",
    "sigma": "sum",
}
_DIRECTIONS = {
    "+-": "+-",
    "-+": "+-",
    "both": "+-",
    "two_sided": "+-",
    "two-sided": "+-",
    "": "+-",
    "+": "+",
    "right": "+",
    "above": "+",
    "-": "-",
    "left": "-",
    "below": "-",
}


def calculus(
    expression: str,
    operation: str,
    variable: str | None = None,
    order: int = 1,
    lower: str | None = None,
    upper: str | None = None,
    point: str | None = None,
    direction: str = "+-",
    n: int = 6,
) -> dict[str, Any]:
    """Differentiate, integrate, take a limit, expand in a series, or sum `expression`.

    - diff: `order`-th derivative (1..20).
    - integrate: indefinite, or definite from `lower` to `upper` (may be oo/-oo); quadrature
      when no closed form exists.
    - limit: at `point` (may be oo), `direction` "+", "-" or "+-" (two-sided: both one-sided
      limits, "does not exist" when they differ).
    - series: around `point` (default 0) up to O((x - point)^n), n in 1..30.
    - sum: over `variable` from `lower` to `upper` (may be oo); numeric when no closed form.

    `variable` defaults to the only symbol of the expression. Result: `operation`, `variable`,
    `result`/`latex`/`numeric` (render of the answer), `exact`, `numeric_fallback`, `text`, plus
    per-operation fields (see each helper).
    """
    op = pick_operation(operation, _OPERATIONS)
    expr = parse_expression(expression)
    x = _variable(expr, variable, op)
    if op == "diff":
        result = _diff(expr, x, bounded_int(order, "order", 1, MAX_ORDER))
    elif op == "integrate":
        result = _integrate(expr, x, lower, upper)
    elif op == "limit":
        result = _limit(expr, x, point, direction)
    elif op == "series":
        result = _series(expr, x, point, bounded_int(n, "n", 1, MAX_SERIES_TERMS), direction)
    else:
        result = _sum(expr, x, lower, upper)
    result = {"operation": op, "variable": str(x), "exact": True, "numeric_fallback": False, **result}
    result["text"] = clip(result["text"], TEXT_MAX)
    return result


def _variable(expr: sp.Expr, variable: str | None, op: str) -> sp.Symbol:
    """The variable given, or the expression's only symbol (x for a constant)."""
    if variable is not None and str(variable).strip():
        return parse_symbol(str(variable))
    free = sorted(expr.free_symbols, key=str)
    if len(free) == 1:
        return free[0]
    if not free:
        return sp.Symbol("x")
    names = ", ".join(map(str, free))
    verb = {
        "diff": "differentiate with respect to",
        "integrate": "integrate over",
        "limit": "take the limit in",
        "series": "expand in",
        "sum": "sum over",
    }[op]
    raise MathInputError(f"the expression has several symbols ({names}): pass variable=... to say which to {verb}")


def _bound(text: Any, name: str) -> sp.Expr:
    if isinstance(text, bool) or not isinstance(text, (str, int, float)):
        raise MathInputError(f"{name} must be a number or expression as text, e.g. '0' or 'oo'")
    return parse_expression(str(text))


def _tidy(value: sp.Expr) -> sp.Expr:
    """`simplify` when the expression is small enough for it to be quick and it helps."""
    if not isinstance(value, sp.Expr) or sp.count_ops(value) > _SIMPLIFY_MAX_OPS:
        return value
    simpler = sp.simplify(value)
    return simpler if sp.count_ops(simpler) <= sp.count_ops(value) else value


# --- diff -------------------------------------------------------------------------------------


def _diff(expr: sp.Expr, x: sp.Symbol, order: int) -> dict[str, Any]:
    """The derivative; `order` in the result."""
    value = _tidy(sp.diff(expr, x, order))
    rendered = render(value)
    prefix = f"d/d{x}" if order == 1 else f"d^{order}/d{x}^{order}"
    return {**rendered, "order": order, "text": f"{prefix} = {rendered['result']}"}


# --- integrate --------------------------------------------------------------------------------


def _integrate(expr: sp.Expr, x: sp.Symbol, lower: Any, upper: Any) -> dict[str, Any]:
    if lower is None and upper is None:
        return _antiderivative(expr, x)
    if lower is None or upper is None:
        raise MathInputError("a definite integral needs both lower and upper; give neither for an antiderivative")
    a, b = _bound(lower, "lower"), _bound(upper, "upper")
    if x in a.free_symbols or x in b.free_symbols:
        raise MathInputError(f"the bounds must not contain the integration variable {x}")
    bounds = {"lower": render(a)["result"], "upper": render(b)["result"]}
    try:
        with time_budget(SYMBOLIC_BUDGET):
            value = sp.integrate(expr, (x, a, b))
    except SymbolicTimeout:
        result = _quadrature(expr, x, a, b, bounds, unevaluated=sp.Integral(expr, (x, a, b)))
        result["note"] = f"sympy found no closed form within {SYMBOLIC_BUDGET:g} s"
        return result
    if not value.has(sp.Integral) and value is not sp.nan:
        rendered = render(value)
        result = {**rendered, **bounds, "definite": True, "text": f"= {rendered['result']}"}
        if rendered["numeric"] and rendered["numeric"] != rendered["result"]:
            result["text"] += f" ≈ {rendered['numeric']}"
        if value in (sp.oo, -sp.oo, sp.zoo):
            result["converges"] = False
            result["text"] = f"the integral diverges ({rendered['result']})"
        elif isinstance(value, sp.AccumBounds):
            lo, hi = render(value.min)["result"], render(value.max)["result"]
            result.update(
                {
                    "result": None,
                    "latex": None,
                    "numeric": None,
                    "converges": False,
                    "bounds": [lo, hi],
                    "text": f"the integral does not converge (oscillates between {lo} and {hi})",
                }
            )
        elif value.has(*_EXOTIC):
            # Meijer G / hypergeometric answers are right but opaque (and not re-parsable): check
            # them against quadrature and point to the numeric value.
            result.update(_cross_check(expr, x, a, b, value))
        return result
    if value is sp.nan:
        return _undefined_integral(expr, x, a, b, bounds)
    return _quadrature(expr, x, a, b, bounds, unevaluated=value)


_EXOTIC = (sp.meijerg, sp.hyper, sp.exp_polar)


def _cross_check(expr: sp.Expr, x: sp.Symbol, a: sp.Expr, b: sp.Expr, closed: sp.Expr) -> dict[str, Any]:
    """Compare a closed form with quadrature: `numeric_check` is agrees, disagrees or inconclusive."""
    note = "the closed form uses special functions (Meijer G / hypergeometric); `numeric` is its value"
    if closed.free_symbols or (expr.free_symbols | a.free_symbols | b.free_symbols) - {x}:
        return {"note": note}
    try:
        f = sp.lambdify(x, expr, modules=["mpmath"], dummify=True)
        with mpmath.workdps(25):
            quad, error = mpmath.quad(f, [mp_bound(a), mp_bound(b)], error=True, maxdegree=8)
            exact = mpmath.mpmathify(complex(sp.N(closed, 25)))
    except (ValueError, TypeError, ZeroDivisionError, OverflowError, ArithmeticError):
        return {"note": note, "numeric_check": "inconclusive"}
    scale = max(1.0, abs(complex(quad)))
    if not mpmath.isfinite(quad) or abs(error) > 1e-10 * scale:
        return {"note": note, "numeric_check": "inconclusive"}
    if abs(quad - exact) <= 1e-8 * scale:
        return {"note": note, "numeric_check": "agrees"}
    return {
        "note": note,
        "numeric_check": "disagrees",
        "exact": False,
        "warning": f"the closed form does not match numeric quadrature ({mpmath.nstr(quad, 15)}); "
        "trust the quadrature value",
    }


def _undefined_integral(expr: sp.Expr, x: sp.Symbol, a: sp.Expr, b: sp.Expr, bounds: dict[str, str]) -> dict[str, Any]:
    """sympy's nan: a non-integrable singularity inside the range; the principal value may exist."""
    result: dict[str, Any] = {
        "result": None,
        "latex": None,
        "numeric": None,
        **bounds,
        "definite": True,
        "converges": False,
        "text": "the integral does not converge (non-integrable singularity in the range)",
    }
    try:
        # principal_value can loop for ever on periodic singularities (tan x): keep it short.
        with time_budget(SYMBOLIC_BUDGET / 2):
            principal = sp.Integral(expr, (x, a, b)).principal_value()
    except (NotImplementedError, ValueError, TypeError, ArithmeticError, SymbolicTimeout):
        principal = None
    if principal is not None and not principal.has(sp.Integral) and principal.is_finite:
        result["principal_value"] = render(principal)
        result["text"] += f"; its Cauchy principal value is {result['principal_value']['result']}"
    return result


def _antiderivative(expr: sp.Expr, x: sp.Symbol) -> dict[str, Any]:
    """∫ expr dx (constant of integration left out); says so when sympy finds none."""
    try:
        with time_budget(SYMBOLIC_BUDGET):
            value = sp.integrate(expr, x)
        searched = ""
    except SymbolicTimeout:
        value, searched = sp.Integral(expr, x), f" (searched for {SYMBOLIC_BUDGET:g} s)"
    if value.has(sp.Integral):
        return {
            "result": None,
            "latex": None,
            "numeric": None,
            "definite": False,
            "exact": False,
            "closed_form": False,
            "unevaluated": sp.sstr(value),
            "text": f"no closed-form antiderivative found for {sp.sstr(expr)}{searched}",
        }
    rendered = render(value)
    return {
        **rendered,
        "definite": False,
        "closed_form": True,
        "text": f"∫ {sp.sstr(expr)} d{x} = {rendered['result']} + C",
    }


def _quadrature(
    expr: sp.Expr, x: sp.Symbol, a: sp.Expr, b: sp.Expr, bounds: dict[str, str], unevaluated: sp.Expr
) -> dict[str, Any]:
    """A definite integral with no closed form, by mpmath's tanh-sinh quadrature (handles
    endpoint singularities and infinite ranges)."""
    params = (expr.free_symbols | a.free_symbols | b.free_symbols) - {x}
    if params:
        names = ", ".join(sorted(map(str, params)))
        return {
            "result": None,
            "latex": None,
            "numeric": None,
            **bounds,
            "definite": True,
            "exact": False,
            "closed_form": False,
            "unevaluated": sp.sstr(unevaluated),
            "text": f"no closed form found; a numeric value needs values for {names}",
        }
    f = sp.lambdify(x, expr, modules=["mpmath"], dummify=True)
    try:
        with mpmath.workdps(25):
            lo, hi = mp_bound(a), mp_bound(b)
            value, error = mpmath.quad(f, [lo, hi], error=True, maxdegree=8)
            value = mpmath.chop(value, tol=mpmath.mpf(10) ** -20)
            finite = mpmath.isfinite(value)
    except (ValueError, TypeError, ZeroDivisionError, OverflowError, ArithmeticError) as exc:
        return {
            "result": None,
            "latex": None,
            "numeric": None,
            **bounds,
            "definite": True,
            "exact": False,
            "closed_form": False,
            "unevaluated": sp.sstr(unevaluated),
            "text": f"no closed form found, and numeric integration failed ({str(exc)[:100]})",
        }
    number = (
        sp.Float(mpmath.nstr(value.real, 15), 15)
        if not isinstance(value, mpmath.mpc)
        else sp.Float(mpmath.nstr(value.real, 15), 15) + sp.I * sp.Float(mpmath.nstr(value.imag, 15), 15)
    )
    rendered = render(number)
    estimate = float(abs(error))
    result = {
        **rendered,
        **bounds,
        "definite": True,
        "exact": False,
        "numeric_fallback": True,
        "closed_form": False,
        "error_estimate": f"{estimate:.2g}",
        "text": f"≈ {rendered['result']} (numeric quadrature; no closed form found)",
    }
    scale = max(1.0, abs(complex(value)))
    if not finite or estimate > 1e-8 * scale:
        result["warning"] = (
            "the quadrature error estimate is large: the integral may diverge, oscillate "
            "too much, or have a singularity inside the range"
        )
        result["text"] += f"; unreliable (error estimate {estimate:.2g})"
    return result


# --- limit ------------------------------------------------------------------------------------


def _limit(expr: sp.Expr, x: sp.Symbol, point: Any, direction: Any) -> dict[str, Any]:
    """The limit; two-sided by default, reporting both sides when they differ."""
    if point is None:
        raise MathInputError("a limit needs point=..., e.g. point='0' or point='oo'")
    x0 = _bound(point, "point")
    side = _DIRECTIONS.get(str(direction).strip().lower())
    if side is None:
        raise MathInputError(
            f"direction must be '+' (from the right), '-' (from the left) or '+-' (both), got {direction!r}"
        )
    where = {"point": render(x0)["result"], "direction": side}
    if x0 in (sp.oo, -sp.oo):
        # Only one side exists at infinity.
        side = "-" if x0 == sp.oo else "+"
        return _strip_private({**_limit_value(expr, x, x0, side), **where, "direction": side})
    if side != "+-":
        return _strip_private({**_limit_value(expr, x, x0, side), **where})
    right = _limit_value(expr, x, x0, "+")
    left = _limit_value(expr, x, x0, "-")
    if right.get("exists") and left.get("exists") and _same(right["_value"], left["_value"]):
        return _strip_private({**right, **where})
    if left["text"] == right["text"]:  # e.g. oscillating on both sides
        return _strip_private({**right, "exists": False, **where, "text": f"the limit {right['text']}"})
    result = {
        "result": None,
        "latex": None,
        "numeric": None,
        "exists": False,
        **where,
        "left": {k: v for k, v in left.items() if not k.startswith("_")},
        "right": {k: v for k, v in right.items() if not k.startswith("_")},
        "text": f"the limit does not exist: from the left {left['text']}, from the right {right['text']}",
    }
    result["left"].pop("text", None)
    result["right"].pop("text", None)
    return _strip_private(result)


def _limit_value(expr: sp.Expr, x: sp.Symbol, x0: sp.Expr, side: str) -> dict[str, Any]:
    """A one-sided limit, including 'oscillates' (AccumBounds) and 'unevaluated' outcomes."""
    try:
        value = sp.limit(expr, x, x0, side)
    except (NotImplementedError, ValueError, TypeError) as exc:
        return {
            "result": None,
            "latex": None,
            "numeric": None,
            "exists": None,
            "exact": False,
            "text": f"could not be determined ({str(exc)[:100]})",
        }
    if isinstance(value, sp.AccumBounds):
        lo, hi = render(value.min)["result"], render(value.max)["result"]
        return {
            "result": None,
            "latex": None,
            "numeric": None,
            "exists": False,
            "bounds": [lo, hi],
            "text": f"does not exist (oscillates between {lo} and {hi})",
        }
    if value.has(sp.Limit):
        return {
            "result": None,
            "latex": None,
            "numeric": None,
            "exists": None,
            "exact": False,
            "unevaluated": sp.sstr(value),
            "text": "could not be determined by sympy",
        }
    rendered = render(value)
    text = rendered["result"]
    if rendered["numeric"] and rendered["numeric"] != rendered["result"]:
        text += f" ≈ {rendered['numeric']}"
    if value in (sp.oo, -sp.oo, sp.zoo):
        text += " (diverges)"
    return {**rendered, "exists": True, "_value": value, "text": text}


def _same(a: sp.Expr, b: sp.Expr) -> bool:
    if a == b:
        return True
    try:
        return sp.simplify(a - b) == 0
    except (TypeError, ValueError):
        return False


def _strip_private(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if not k.startswith("_")}


# --- series -----------------------------------------------------------------------------------


def _series(expr: sp.Expr, x: sp.Symbol, point: Any, n: int, direction: Any) -> dict[str, Any]:
    """Taylor/Laurent/Puiseux expansion around `point` up to O((x - point)^n)."""
    x0 = _bound(point, "point") if point is not None else sp.S.Zero
    side = "-" if _DIRECTIONS.get(str(direction).strip().lower()) == "-" else "+"
    try:
        expansion = sp.series(expr, x, x0, n, dir=side)
    except (NotImplementedError, ValueError, TypeError, sp.PoleError) as exc:
        raise MathInputError(
            f"no series expansion of {sp.sstr(expr)} at {x} = {sp.sstr(x0)}: {str(exc)[:200]}"
        ) from None
    order_term = expansion.getO()
    polynomial = expansion.removeO()
    rendered = render(polynomial)
    order_text = sp.sstr(order_term) if order_term is not None else None
    result = {**rendered, "point": render(x0)["result"], "n": n, "order_term": order_text}
    if order_text:
        result["text"] = f"{rendered['result']} + {order_text}"
    elif polynomial.is_polynomial(x):
        result["text"] = f"{rendered['result']} (exact: the expansion terminates)"
    else:
        # e.g. log(x) at 0 or exp(x) at oo: sympy returns the function itself.
        result["note"] = f"no power series in {x} - {sp.sstr(x0)} exists here; the result is the expression itself"
        result["text"] = f"{rendered['result']} (no power-series expansion at {x} = {sp.sstr(x0)})"
    return result


# --- sum --------------------------------------------------------------------------------------


def _sum(expr: sp.Expr, k: sp.Symbol, lower: Any, upper: Any) -> dict[str, Any]:
    """Σ expr for k from lower to upper: closed form, else exact or numeric value where possible."""
    if lower is None or upper is None:
        raise MathInputError("a sum needs lower and upper, e.g. lower='1', upper='oo'")
    a, b = _bound(lower, "lower"), _bound(upper, "upper")
    bounds = {"lower": render(a)["result"], "upper": render(b)["result"]}
    count = b - a + 1
    if count.is_Integer:
        value = _finite_sum(expr, k, a, b, int(count))
    else:
        try:
            with time_budget(SYMBOLIC_BUDGET):
                value = sp.Sum(expr, (k, a, b)).doit()
        except SymbolicTimeout:
            value = sp.Sum(expr, (k, a, b))
    if isinstance(value, dict):  # a numeric answer already built
        return {**value, **bounds}
    if _closed(value):
        value = _tidy(value)
        rendered = render(value)
        result = {**rendered, **bounds, "closed_form": True, "text": f"= {rendered['result']}"}
        if rendered["numeric"] and rendered["numeric"] != rendered["result"]:
            result["text"] += f" ≈ {rendered['numeric']}"
        if isinstance(value, sp.Piecewise):
            result["note"] = "the value depends on conditions (see the Piecewise)"
        if value in (sp.oo, -sp.oo, sp.zoo):
            result.update({"converges": False, "text": f"the sum diverges ({rendered['result']})"})
        return result
    return {**_numeric_infinite_sum(sp.Sum(expr, (k, a, b)), value), **bounds}


def _closed(value: sp.Expr) -> bool:
    """True when no unevaluated Sum remains (in some branch, for a Piecewise answer)."""
    if isinstance(value, sp.Piecewise):
        return any(not piece.has(sp.Sum) for piece, _ in value.args)
    return not value.has(sp.Sum)


def _finite_sum(expr: sp.Expr, k: sp.Symbol, a: sp.Expr, b: sp.Expr, count: int) -> sp.Expr | dict[str, Any]:
    """A sum with a known number of terms, without sympy's unbounded term-by-term fallback.

    First a closed form with a symbolic upper bound (then substituted), then exact term-by-term
    addition for few terms, then floating-point addition for up to a million terms.
    """
    if count <= 0:
        return sp.S.Zero
    upper = sp.Dummy("upper", integer=True)
    try:
        with time_budget(SYMBOLIC_BUDGET):
            general = sp.Sum(expr, (k, a, upper)).doit()
    except SymbolicTimeout:
        general = sp.Sum(expr, (k, a, upper))
    if not general.has(sp.Sum):
        return general.subs(upper, b)
    if count <= _DIRECT_SUM_TERMS:
        exact = sp.Add(*(expr.subs(k, a + i) for i in range(count)))
        if len(sp.sstr(exact)) <= 2000:
            return exact
        return _numeric_answer(sp.N(exact, 15), "added term by term (no closed form found)")
    if count > _NUMERIC_SUM_TERMS or expr.free_symbols - {k}:
        return {
            "result": None,
            "latex": None,
            "numeric": None,
            "exact": False,
            "closed_form": False,
            "text": f"no closed form found, and {count} terms are too many to add directly "
            f"(limit {_NUMERIC_SUM_TERMS}) or the terms have free symbols",
        }
    f = sp.lambdify(k, expr, modules=["numpy", "scipy"], dummify=True)
    with np.errstate(all="ignore"):
        terms = np.asarray(f(np.arange(count, dtype=float) + float(a)), dtype=complex)
    terms = np.broadcast_to(terms, (count,))
    total = complex(math.fsum(terms.real.tolist()), math.fsum(terms.imag.tolist()))
    if not (math.isfinite(total.real) and math.isfinite(total.imag)):
        return {
            "result": None,
            "latex": None,
            "numeric": None,
            "exact": False,
            "closed_form": False,
            "text": "no closed form found, and adding the terms numerically gave no finite value",
        }
    value = sp.Float(total.real, 15) + (sp.I * sp.Float(total.imag, 15) if total.imag else 0)
    return _numeric_answer(value, f"{count} terms added in floating point (no closed form found)")


def _numeric_answer(value: sp.Expr, how: str) -> dict[str, Any]:
    rendered = render(value)
    return {
        **rendered,
        "exact": False,
        "numeric_fallback": True,
        "closed_form": False,
        "text": f"≈ {rendered['result']} ({how})",
    }


def _numeric_infinite_sum(total: sp.Sum, unevaluated: sp.Expr) -> dict[str, Any]:
    """An infinite sum with no closed form: its value by mpmath's nsum when it converges.

    Not sympy's evalf: on Σ sin(k)/k² it takes seconds and is wrong in the 5th digit; nsum
    (with series acceleration) gets 15 digits in milliseconds.
    """
    unsolved = {
        "result": None,
        "latex": None,
        "numeric": None,
        "exact": False,
        "closed_form": False,
        "unevaluated": sp.sstr(unevaluated),
    }
    if total.free_symbols:
        return {**unsolved, "text": "no closed form found; a numeric value needs values for the other symbols"}
    try:
        with time_budget(SYMBOLIC_BUDGET / 2):
            converges = total.is_convergent()
    except (NotImplementedError, ValueError, TypeError, SymbolicTimeout):
        converges = None
    if converges is False or converges == sp.false:
        return {**unsolved, "converges": False, "text": "the sum diverges"}
    value, error = numeric_sum(total)
    if value is None or not mpmath.isfinite(value):
        return {
            **unsolved,
            "converges": None if converges is None else bool(converges),
            "text": "no closed form found and no reliable numeric value",
        }
    number = sp.Float(mpmath.nstr(mpmath.re(value), 15), 15)
    if isinstance(value, mpmath.mpc) and abs(value.imag) > 1e-15 * max(1, abs(value.real)):
        number += sp.I * sp.Float(mpmath.nstr(value.imag, 15), 15)
    answer = _numeric_answer(number, "numeric summation (no closed form found)")
    answer["converges"] = True if converges else None
    answer["error_estimate"] = f"{float(abs(error)):.2g}"
    if converges is None:
        answer["warning"] = "convergence could not be proven; the numeric value assumes it"
    if abs(error) > 1e-10 * max(1, abs(value)):
        answer["warning"] = f"the numeric value may be inaccurate (error estimate {float(abs(error)):.2g})"
    return answer


# --- ordinary differential equations ----------------------------------------------------------

_PLACEHOLDER = "odefn{index}_d{order}"  # parser-safe symbol standing for the order-th derivative
_IDENT = r"[A-Za-z][A-Za-z0-9_]*"


def ode(
    equations: str | Sequence[str],
    function: str | Sequence[str],
    ics: dict[str, str] | Sequence[str] | str | None = None,
) -> dict[str, Any]:
    """Solve an ODE or a small system with sympy's `dsolve`.

    `function`: the unknown(s), "y" or "y(x)" (a list for systems: ["x", "y"] or ["x(t)", "y(t)"]).
    The independent variable comes from `y(t)` notation in `function` or the equations, else x
    (t when a function is itself called x). Derivatives: y', y'', y'(x), dy/dx, d^2y/dx^2,
    diff(y(x), x, 2), Derivative(y(x), x). `ics`: {"y(0)": "0", "y'(0)": "1"} (also a list of
    "y(0) = 0" texts).

    Result: `solutions` (renders of Eq(y(x), ...) with `function` and `rhs`), `constants` (free
    C1, C2, ...), `functions`, `independent_variable`, `order`, `classification` (sympy hints, for a
    single ODE), `solved`, `text`.
    """
    texts = _ode_texts(equations)
    names, var = _ode_functions(function, texts)
    t = sp.Symbol(var)
    funcs = [sp.Function(name)(t) for name in names]
    eqs, orders = [], []
    for text in texts:
        eq, order = _parse_ode(text, names, var, funcs, t)
        eqs.append(eq)
        orders.append(order)
    conditions = _parse_ics(ics, names, funcs, t)
    single = len(eqs) == 1 and len(funcs) == 1
    try:
        if single:
            answer = sp.dsolve(eqs[0], funcs[0], ics=conditions or None)
        else:
            answer = sp.dsolve(eqs, funcs, ics=conditions or None)
    except (NotImplementedError, ValueError, TypeError, AttributeError, IndexError) as exc:
        reason = str(exc)[:200]
        text = (
            f"the initial conditions cannot be met by the general solution (sympy: {reason})"
            if "initial conditions" in reason
            else f"no closed-form solution found (sympy: {reason})"
        )
        return {
            "solved": False,
            "solutions": [],
            "functions": [sp.sstr(f) for f in funcs],
            "independent_variable": var,
            "order": max(orders),
            "text": text,
        }
    solutions = _ode_solutions(answer, single)
    result: dict[str, Any] = {
        "solved": True,
        "solutions": solutions,
        "constants": _constants(answer),
        "functions": [sp.sstr(f) for f in funcs],
        "independent_variable": var,
        "order": max(orders),
        "text": clip("; ".join(s["_text"] for s in solutions), TEXT_MAX),
    }
    for s in solutions:
        s.pop("_text")
    if single:
        result["classification"] = _classify(eqs[0], funcs[0])
    return result


def _ode_texts(equations: Any) -> list[str]:
    if isinstance(equations, str):
        texts = [p.strip() for p in re.split(r"[;\n]", equations) if p.strip()]
    elif isinstance(equations, (list, tuple)) and all(isinstance(e, str) for e in equations):
        texts = [e.strip() for e in equations if e.strip()]
    else:
        raise MathInputError("equations must be text or a list of texts, e.g. \"y'' + y = 0\"")
    if not texts:
        raise MathInputError("no differential equation given")
    if len(texts) > MAX_EQUATIONS:
        raise MathInputError(f"at most {MAX_EQUATIONS} equations")
    return texts


def _ode_functions(function: Any, texts: list[str]) -> tuple[list[str], str]:
    """Function names and the independent variable from `function` ("y", "y(x)", lists)."""
    if isinstance(function, str):
        specs = [p for p in re.split(r"[,;\s]+(?![^(]*\))", function.strip()) if p]
    elif isinstance(function, (list, tuple)) and all(isinstance(f, str) for f in function):
        specs = [f.strip() for f in function]
    else:
        raise MathInputError("function must name the unknown function(s), e.g. 'y', 'y(x)' or ['x', 'y']")
    if not specs or len(specs) > MAX_EQUATIONS:
        raise MathInputError(f"give 1 to {MAX_EQUATIONS} unknown functions, e.g. function='y'")
    names, variables = [], set()
    for spec in specs:
        match = re.fullmatch(rf"\s*({_IDENT})\s*(?:\(\s*({_IDENT})\s*\))?\s*", spec)
        if not match:
            raise MathInputError(f"{spec!r} is not a function name: write 'y' or 'y(x)'")
        name = str(parse_symbol(match.group(1)))  # same naming rules as variables
        if name.startswith("odefn"):
            raise MathInputError(f"{name!r} is reserved; choose another function name")
        names.append(name)
        if match.group(2):
            variables.add(str(parse_symbol(match.group(2))))
    if len(set(names)) != len(names):
        raise MathInputError("a function is named twice")
    if len(variables) > 1:
        raise MathInputError(f"the functions use different variables ({', '.join(sorted(variables))})")
    if variables:
        var = variables.pop()
    else:
        var = _infer_variable(names, texts)
    if var in names:
        raise MathInputError(f"{var!r} cannot be both a function and the independent variable")
    return names, var


def _infer_variable(names: list[str], texts: list[str]) -> str:
    """The variable from `y(t)` written in the equations, else x (t when x is a function name)."""
    for text in texts:
        for name in names:
            match = re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}\s*'*\s*\(\s*({_IDENT})\s*\)", text)
            if match and match.group(1) not in names:
                return str(parse_symbol(match.group(1)))
    return "t" if "x" in names else "x"


def _parse_ode(text: str, names: list[str], var: str, funcs: list[sp.Expr], t: sp.Symbol) -> tuple[sp.Eq, int]:
    """One ODE text → (Eq in y(t) and its derivatives, highest derivative order)."""
    if "odefn" in text:
        raise MathInputError("names starting with 'odefn' are reserved")
    rewritten = text.replace("′", "'").replace("″", "''")
    for index, name in enumerate(names):
        rewritten = _rewrite_operators(rewritten, name, index, var)
    # Make a number's implicit multiplication explicit (3y' → 3*y'), as the parser would, so
    # that a function name right after a number is still matched as a whole name below.
    rewritten = NUMBER_BEFORE_NAME.sub(r"\1*", rewritten)
    for index, name in enumerate(names):
        rewritten = _rewrite_primes(rewritten, name, index, var)
    leftover = re.search(r"\b(?:diff|Derivative)\s*\(|'", rewritten)
    if leftover:
        raise MathInputError(
            f"could not read the derivative near {rewritten[max(0, leftover.start() - 10) : leftover.start() + 15]!r} "
            f"in {text!r}: write derivatives of {', '.join(names)} as y', y'', dy/d{var} or diff(y({var}), {var}, 2)"
        )
    for name in names:
        stray = re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}\s*\(", rewritten)
        if stray:
            raise MathInputError(
                f"inside the equation write {name}({var}) or just {name}; values at points such "
                f"as {name}(0) = 1 go in ics"
            )
    statement = parse_statement(rewritten)
    if isinstance(statement, sp.Rel) and not isinstance(statement, sp.Eq):
        raise MathInputError(f"{text!r} is an inequality, not a differential equation")
    if not isinstance(statement, (sp.Eq, sp.Expr)):
        raise MathInputError(f"{text!r} is not a differential equation")
    lhs, rhs = (statement.lhs, statement.rhs) if isinstance(statement, sp.Eq) else (statement, sp.S.Zero)
    replacements, order = {}, 0
    for symbol in (lhs - rhs).free_symbols:
        match = re.fullmatch(r"odefn(\d+)_d(\d+)", str(symbol))
        if match:
            index, k = int(match.group(1)), int(match.group(2))
            replacements[symbol] = funcs[index] if k == 0 else sp.Derivative(funcs[index], (t, k))
            order = max(order, k)
    if order == 0:
        raise MathInputError(
            f"{text!r} has no derivative of {', '.join(names)}: write e.g. {names[0]}' or d{names[0]}/d{var}"
        )
    unread = sorted(str(s) for s in (lhs - rhs).free_symbols if str(s) in names)
    if unread:  # a use the rewriting did not recognise would silently become a constant
        raise MathInputError(f"could not read {unread[0]!r} in {text!r} as the function {unread[0]}({var})")
    return sp.Eq(lhs.xreplace(replacements), rhs.xreplace(replacements)), order


def _placeholder(index: int, order: int) -> str:
    if order > MAX_ORDER:
        raise MathInputError(f"derivatives of order above {MAX_ORDER} are not supported")
    return _PLACEHOLDER.format(index=index, order=order)


def _rewrite_operators(text: str, name: str, index: int, var: str) -> str:
    """Replace diff(y(x), x, k), Derivative(y, x, x) and dy/dx, d^2y/dx^2, d2y/dx2 by the
    placeholder odefn{index}_d{k}. (Runs before numbers get their `*`, which would split d2y.)"""
    n, v = re.escape(name), re.escape(var)
    before = r"(?<![A-Za-z_])"  # a digit may precede: 3dy/dx
    applied = rf"(?:\s*\(\s*{v}\s*\))?"

    def call(match: re.Match) -> str:
        # diff(y(x), x) → 1; diff(y(x), x, x) → 2; diff(y(x), x, 3) → 3
        order = match.group(1).count(",") + 1
        if match.group(2):
            order = order - 1 + int(match.group(2))
        return _placeholder(index, order)

    text = re.sub(
        rf"{before}(?:diff|Derivative)\s*\(\s*{n}{applied}\s*,\s*{v}\s*((?:,\s*{v}\s*)*)(?:,\s*(\d+)\s*)?\)", call, text
    )
    power = r"(?:\^\s*(\d+)|(\d+))?"  # d^2 or d2
    leibniz = rf"{before}d\s*{power}\s*{n}{applied}\s*/\s*d\s*{v}\s*{power}(?![A-Za-z0-9_])"
    return re.sub(leibniz, lambda m: _placeholder(index, int(next((g for g in m.groups() if g), 1))), text)


def _rewrite_primes(text: str, name: str, index: int, var: str) -> str:
    """Replace y'', y''(x), y(x) and a bare y by placeholders. Names are matched whole: y does not
    match yy or y2, and a y followed by another bracket (y(0)) is left for the error check."""
    n, v = re.escape(name), re.escape(var)
    before = r"(?<![A-Za-z0-9_])"
    applied = rf"(?:\s*\(\s*{v}\s*\))?"
    text = re.sub(rf"{before}{n}\s*('+){applied}", lambda m: _placeholder(index, len(m.group(1))), text)
    text = re.sub(rf"{before}{n}\s*\(\s*{v}\s*\)", _placeholder(index, 0), text)
    return re.sub(rf"{before}{n}(?![A-Za-z0-9_])(?!\s*\()", _placeholder(index, 0), text)


def _parse_ics(ics: Any, names: list[str], funcs: list[sp.Expr], t: sp.Symbol) -> dict:
    """{"y(0)": "1", "y'(0)": "0"} → {y(0): 1, Subs(Derivative(y(t), t), t, 0): 0}."""
    if ics is None or ics == {} or ics == [] or ics == "":
        return {}
    if isinstance(ics, str):
        ics = [p for p in re.split(r"[;,\n](?![^(]*\))", ics) if p.strip()]
    if isinstance(ics, (list, tuple)):
        pairs = []
        for item in ics:
            if not isinstance(item, str) or item.count("=") != 1:
                raise MathInputError(f'each initial condition is written like "y(0) = 1", got {item!r}')
            key, value = item.split("=")
            pairs.append((key, value))
    elif isinstance(ics, dict):
        pairs = list(ics.items())
    else:
        raise MathInputError('ics must be a mapping like {"y(0)": "1", "y\'(0)": "0"}')
    if len(pairs) > MAX_EQUATIONS:
        raise MathInputError(f"at most {MAX_EQUATIONS} initial conditions")
    alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    conditions = {}
    for key, value in pairs:
        if not isinstance(key, str) or not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise MathInputError(f'initial condition {key!r}: {value!r} must be text like "y(0)": "1"')
        key_text = key.replace("′", "'").replace("″", "''")
        match = re.fullmatch(rf"\s*({alternatives})\s*('*)\s*\((.+)\)\s*", key_text)
        if not match:
            raise MathInputError(f"initial condition {key!r} should look like {names[0]}(0) or {names[0]}'(0)")
        func = funcs[names.index(match.group(1))]
        order = len(match.group(2))
        if order > MAX_ORDER:
            raise MathInputError(f"derivatives of order above {MAX_ORDER} are not supported")
        at = parse_expression(match.group(3))
        if t in at.free_symbols:
            raise MathInputError(f"initial condition {key!r}: the point must be a value, not contain {t}")
        target = func.subs(t, at) if order == 0 else sp.Derivative(func, (t, order)).subs(t, at)
        conditions[target] = parse_expression(str(value))
    return conditions


def _constants(answer: Any) -> list[str]:
    """The integration constants C1, C2, ... left free in the solution, in order."""
    names = {str(s) for eq in _flatten(answer) for s in eq.free_symbols if re.fullmatch(r"C\d+", str(s))}
    return sorted(names, key=lambda c: int(c[1:]))


def _flatten(answer: Any) -> list[sp.Eq]:
    if isinstance(answer, sp.Eq):
        return [answer]
    out = []
    for item in answer:
        out.extend(_flatten(item))
    return out


def _ode_solutions(answer: Any, single: bool) -> list[dict[str, Any]]:
    """Each solution equation as a render plus `function`, `rhs` and `implicit`.

    dsolve gives a single ODE's solutions as an Eq or a list of alternatives; a system's as one
    list (one Eq per function) or a list of such lists, numbered here by `set`.
    """
    if isinstance(answer, sp.Eq):
        groups = [[answer]]
    elif single:
        groups = [[eq] for eq in answer]
    elif all(isinstance(item, sp.Eq) for item in answer):
        groups = [list(answer)]
    else:
        groups = [list(item) for item in answer]
    out = []
    for number, group in enumerate(groups):
        for eq in group:
            explicit = isinstance(eq.lhs, sp.core.function.AppliedUndef)
            entry = {
                **render(eq),
                "function": sp.sstr(eq.lhs) if explicit else None,
                "rhs": render(eq.rhs) if explicit else None,
                "implicit": not explicit,
                "_text": f"{sp.sstr(eq.lhs)} = {sp.sstr(eq.rhs)}",
            }
            if not single and len(groups) > 1:
                entry["set"] = number
            out.append(entry)
    return out


def _classify(eq: sp.Eq, func: sp.Expr) -> list[str]:
    """The first few of sympy's classification hints (what kind of ODE this is)."""
    try:
        hints = sp.classify_ode(eq, func)
    except (NotImplementedError, ValueError, TypeError):
        return []
    return [h for h in hints if not h.endswith("_Integral")][:5]
