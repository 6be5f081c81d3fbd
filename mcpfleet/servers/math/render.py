"""sympy results → plain, bounded data: a re-parsable string, LaTeX, and a numeric value.

Results cross the worker boundary as plain data, and reach a model with a small context, so every
rendering is bounded: an integer with more than `MAX_DIGITS` digits is summarised by its digit
count and leading digits (exact results are never rounded silently: the summary says so), and
strings longer than `MAX_TEXT` are cut with a marker; a result's one-line `text` is `clip`ped.
"""

from __future__ import annotations

import math
from typing import Any

import mpmath
import sympy as sp

MAX_DIGITS = 1_000
MAX_TEXT = 20_000
MAX_NUMERIC_DIGITS = 1_000
TEXT_MAX = 600  # a result's one-line `text` summary is cut beyond this


def render(expr: Any, digits: int = 15) -> dict[str, Any]:
    """`{"result", "latex", "numeric"}` for one sympy object (numeric is None when not a number)."""
    expr = sp.sympify(expr) if isinstance(expr, (int, float, bool)) else expr  # plain numbers only
    big = _huge_integer(expr)
    if big is not None:
        return big
    return {
        "result": _bounded(sp.sstr(expr)),
        "latex": _bounded(sp.latex(expr)),
        "numeric": numeric(expr, digits),
    }


def numeric(expr: Any, digits: int = 15) -> str | None:
    """The value to `digits` significant digits, or None if `expr` is not a (finite or infinite) number."""
    if not isinstance(expr, sp.Basic) or (
        isinstance(expr, (sp.Rel, sp.logic.boolalg.Boolean)) and not isinstance(expr, sp.Expr)
    ):
        return None
    if not isinstance(expr, sp.Expr) or expr.free_symbols:
        return None
    digits = max(1, min(int(digits), MAX_NUMERIC_DIGITS))
    if expr in (sp.oo, -sp.oo, sp.zoo, sp.nan):
        return sp.sstr(expr)
    big = _huge_integer(expr)
    if big is not None:
        return big["numeric"]
    if isinstance(expr, sp.Integer):
        return str(expr)
    try:
        value = sp.N(expr, digits)
    except (TypeError, ValueError, ArithmeticError):
        return None
    if not value.is_number or value.has(sp.Integral, sp.Sum, sp.Limit):
        return None
    return _bounded(sp.sstr(value, full_prec=False))


def integer_digits(n: int) -> int:
    """Decimal digits of |n| without converting it to a string (Python refuses > 4300 digits)."""
    n = abs(n)
    if n < 10:
        return 1
    estimate = int(n.bit_length() * math.log10(2))
    return estimate + 1 if n >= 10**estimate else estimate


def _huge_integer(expr: Any) -> dict[str, Any] | None:
    if not isinstance(expr, sp.Integer):
        return None
    value = int(expr)
    count = integer_digits(value)
    if count <= MAX_DIGITS:
        return None
    with mpmath.workdps(30):
        mantissa = mpmath.nstr(mpmath.mpf(value), 20, min_fixed=1, max_fixed=0)
    kind = "negative integer" if value < 0 else "integer"
    summary = f"{kind} with {count} digits ≈ {mantissa}"
    return {
        "result": summary,
        "latex": summary.replace("≈", r"\approx"),
        "numeric": mantissa,
        "digits": count,
        "summarised": True,
    }


def _bounded(text: str) -> str:
    if len(text) <= MAX_TEXT:
        return text
    return text[:MAX_TEXT] + f"… [cut: {len(text)} characters in full]"
