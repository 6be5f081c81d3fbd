"""Numeric methods behind the exact ones: values, real-root search, numeric sums, root ordering.

`solve` falls back on `real_roots_numeric` where sympy finds no closed form, `calculus` and
`simplify` on `numeric_sum` for sums it leaves unevaluated, and both order and compare roots with
`sort_key` / `same_value`. Everything is bounded: a fixed search grid, capped counts of brackets,
touch points and roots, and numeric sums under `time_budget`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import mpmath
import numpy as np
import sympy as sp

from mcpfleet.servers.math.budget import SYMBOLIC_BUDGET, SymbolicTimeout, time_budget

MAX_NUMERIC_ROOTS = 30  # a numeric search reports at most this many roots
SEARCH_LIMIT = 1e6  # the numeric search scans [-1e6, 1e6] ...
DENSE_LIMIT = 100.0  # ... finely (steps of 0.01) in [-100, 100], sparsely beyond


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


def real_roots_numeric(
    f: sp.Expr, x: sp.Symbol, digits: int = 15
) -> tuple[list[sp.Float], bool, list[tuple[float, float]]]:
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
    enough = MAX_NUMERIC_ROOTS + 1
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
    truncated = len(roots) > MAX_NUMERIC_ROOTS or len(found) >= enough
    kept = sorted(roots[:MAX_NUMERIC_ROOTS])
    return [sp.Float(mpmath.nstr(r, digits), digits) for r in kept], truncated, plateaus


def maybe_real(value: sp.Expr) -> bool:
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


def sort_key(value: sp.Expr) -> tuple:
    """Order roots by real then imaginary part; symbolic ones last, by text."""
    try:
        z = complex(sp.N(value, 20))
        return (0, z.real, z.imag, "")
    except (TypeError, ValueError):
        return (1, 0.0, 0.0, sp.sstr(value))


def same_value(a: sp.Expr, b: sp.Expr) -> bool:
    try:
        za, zb = complex(sp.N(a, 20)), complex(sp.N(b, 20))
    except (TypeError, ValueError):
        return False
    return abs(za - zb) <= 1e-9 * max(1.0, abs(zb))


def _search_grid() -> np.ndarray:
    """Steps of 0.01 in [-100, 100], then logarithmic out to ±1e6: 22 000 points in all."""
    near = np.linspace(-DENSE_LIMIT, DENSE_LIMIT, 20001)
    far = np.logspace(math.log10(DENSE_LIMIT), math.log10(SEARCH_LIMIT), 1000)[1:]
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


def numeric_sum(total: sp.Sum, digits: int = 15) -> tuple[Any, Any]:
    """(value, error estimate) of a convergent numeric Sum by mpmath's nsum, or (None, None).

    nsum reports no error estimate: the change between two working precisions serves as one.
    """
    ((k, a, b),) = total.limits
    f = sp.lambdify(k, total.function, modules=["mpmath"], dummify=True)
    try:
        with time_budget(SYMBOLIC_BUDGET):
            with mpmath.workdps(digits + 5):
                rough = mpmath.nsum(f, [mp_bound(a), mp_bound(b)])
            with mpmath.workdps(digits + 15):
                value = mpmath.nsum(f, [mp_bound(a), mp_bound(b)])
        return value, abs(value - rough)
    except (ValueError, TypeError, ZeroDivisionError, OverflowError, ArithmeticError, SymbolicTimeout):
        return None, None


def mp_bound(value: sp.Expr) -> Any:
    """A sympy bound of an integral or a sum as mpmath takes it: ±inf for ±oo, else 25 digits."""
    if value == sp.oo:
        return mpmath.inf
    if value == -sp.oo:
        return -mpmath.inf
    return mpmath.mpmathify(complex(sp.N(value, 25))) if not value.is_real else mpmath.mpf(str(sp.N(value, 25)))
