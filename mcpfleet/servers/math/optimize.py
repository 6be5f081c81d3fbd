"""Optimisation: linear programs exactly-ish with HiGHS, nonlinear problems by multi-start SLSQP.

`optimize(objective, variables, constraints, goal, bounds, integer)` parses everything with the
math parser (never `sympify`/`eval`), then decides:

- **linear** (objective and every constraint affine in the variables): scipy `linprog` with HiGHS,
  or `milp` when some variables are integer. The status says optimal / infeasible / unbounded.
  The optimum is then re-derived exactly: the constraints active at the solver's vertex (plus the
  integer values found) are solved as an exact rational system, and the exact point is checked
  against every constraint in rational arithmetic; `exact: true` only when that check passes and
  the exact value agrees with the solver's. Exact results need rational data (no sqrt(2) in the
  coefficients).
- **nonlinear**: the parsed sympy expressions (never the text) are compiled with `lambdify`, with
  exact gradients from `sympy.diff`, and minimised by SLSQP from several deterministic starting
  points (seeded), trust-constr as a fallback; the best feasible local optimum wins. For nonconvex
  problems that is not a proof of global optimality, and the result says so.

Variables are free by default (no implicit x >= 0: scipy's `linprog` assumes x >= 0, this tool
does not); give bounds such as {"x": [0, None]} or constraints such as "x >= 0".
Results are plain data: floats are finite (an undefined value is None), exact values are strings.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
import sympy as sp

from mcpfleet.servers.math.parser import MathInputError, parse_expression, parse_statement, parse_symbols
from mcpfleet.servers.math.render import render

MAX_CONSTRAINTS = 200
N_STARTS = 8  # SLSQP runs from this many deterministic starting points
N_FALLBACK_STARTS = 2  # trust-constr is slower: fewer starts, and only if SLSQP found nothing
SEED = 20240601  # fixed so that the same problem always gives the same answer
FEAS_TOL = 1e-6  # a nonlinear point is feasible when no constraint is violated by more
UNBOUNDED = 1e12  # a minimiser running past this (in value or point) is reported unbounded
MILP_TIME_LIMIT = 10.0  # seconds; the worker's own limit is the hard stop

_GOALS = {
    "min": 1,
    "minimize": 1,
    "minimise": 1,
    "minimum": 1,
    "max": -1,
    "maximize": -1,
    "maximise": -1,
    "maximum": -1,
}


@dataclass
class _Constraint:
    """`expr <= 0` (kind "le") or `expr = 0` (kind "eq"), with the text it came from."""

    kind: str
    expr: sp.Expr
    source: str


@dataclass
class _Problem:
    names: list[str]
    symbols: list[sp.Symbol]
    objective: sp.Expr
    sense: int  # +1 minimise, -1 maximise (we always minimise sense*f)
    goal: str
    constraints: list[_Constraint]
    bounds: list[tuple[Any, Any]]  # exact sympy numbers or None, per variable
    integer: list[bool]
    notes: list[str] = field(default_factory=list)
    infeasible_reason: str | None = None


def optimize(
    objective: str,
    variables: list[str] | str | None,
    constraints: list[str] | None = None,
    goal: str = "min",
    bounds: dict[str, list] | None = None,
    integer: list[str] | None = None,
) -> dict[str, Any]:
    """Minimise or maximise `objective` over `variables` subject to `constraints` and `bounds`.

    Returns {"status", "goal", "problem_type", "value", "point", "method", "success", "message",
    "exact", "text", ...}; linear problems solved exactly also carry "exact_value" and "exact_point".
    """
    problem = _build(objective, variables, constraints, goal, bounds, integer)
    if problem.infeasible_reason:
        return _finish(
            problem,
            "linear",
            {
                "status": "infeasible",
                "value": None,
                "point": None,
                "method": "none (a constraint is false for every point)",
                "success": False,
                "message": problem.infeasible_reason,
                "exact": False,
            },
        )
    linear = _linear_form(problem)
    if linear is not None:
        return _finish(
            problem, "mixed_integer_linear" if any(problem.integer) else "linear", _solve_linear(problem, linear)
        )
    if any(problem.integer):
        raise MathInputError(
            "integer variables are supported only for linear problems (objective and "
            "constraints linear in the variables); this problem is nonlinear"
        )
    return _finish(problem, "nonlinear", _solve_nonlinear(problem))


# --- parsing --------------------------------------------------------------------------------------


def _build(objective: Any, variables: Any, constraints: Any, goal: Any, bounds: Any, integer: Any) -> _Problem:
    obj = parse_expression(objective)
    parsed = [_parse_constraint(c) for c in _as_list(constraints, "constraints")]
    if len(parsed) > MAX_CONSTRAINTS:
        raise MathInputError(f"{len(parsed)} constraints; the limit is {MAX_CONSTRAINTS}")
    notes: list[str] = []
    symbols = parse_symbols(variables)
    if not symbols:
        found = set(obj.free_symbols).union(*(r.free_symbols for r, _ in parsed if isinstance(r, sp.Basic)))
        symbols = sorted(found, key=lambda s: s.name)
        if not symbols:
            raise MathInputError('no variables: give `variables`, e.g. ["x", "y"]')
        notes.append(f"variables not given; using {', '.join(s.name for s in symbols)}")
    names = [s.name for s in symbols]
    if len(set(names)) != len(names):
        raise MathInputError(f"variables are listed more than once: {names}")
    _check_symbols(obj, symbols, "the objective")
    sense = _goal(goal)
    problem = _Problem(
        names,
        symbols,
        obj,
        sense,
        "max" if sense < 0 else "min",
        [],
        _bounds(bounds, names),
        _integer(integer, names),
        notes,
    )
    for rel, source in parsed:
        _add_constraint(problem, rel, source)
    return problem


def _as_list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, (list, tuple)):
        raise MathInputError(f'{what} must be a list of strings like "x + y <= 10"')
    return list(value)


def _parse_constraint(text: Any) -> tuple[Any, str]:
    if not isinstance(text, str):
        raise MathInputError(f'each constraint is a string like "x + y <= 10", got {type(text).__name__}')
    return parse_statement(text), text


def _add_constraint(problem: _Problem, rel: Any, source: str) -> None:
    if rel is sp.true:
        problem.notes.append(f"constraint {source!r} is always true; ignored")
        return
    if rel is sp.false:
        problem.infeasible_reason = f"constraint {source!r} is false for every point"
        return
    if isinstance(rel, sp.Ne):
        raise MathInputError(f"constraint {source!r}: '!=' is not supported; use <=, >=, < , > or =")
    if not isinstance(rel, (sp.Eq, sp.Le, sp.Lt, sp.Ge, sp.Gt)):
        raise MathInputError(f'constraint {source!r} is not a comparison; write e.g. "x + y <= 10" or "x = 2y"')
    _check_symbols(rel, problem.symbols, f"constraint {source!r}")
    if isinstance(rel, (sp.Lt, sp.Gt)):
        problem.notes.append(f"strict inequality {source!r} treated as non-strict (an optimum may lie on its boundary)")
    if isinstance(rel, sp.Eq):
        kind, expr = "eq", rel.lhs - rel.rhs
    elif isinstance(rel, (sp.Le, sp.Lt)):
        kind, expr = "le", rel.lhs - rel.rhs
    else:
        kind, expr = "le", rel.rhs - rel.lhs
    problem.constraints.append(_Constraint(kind, expr, source))


def _check_symbols(expr: Any, symbols: list[sp.Symbol], where: str) -> None:
    extra = sorted(s.name for s in expr.free_symbols - set(symbols))
    if extra:
        raise MathInputError(
            f"{where} uses {', '.join(extra)}, not among the variables "
            f"[{', '.join(s.name for s in symbols)}]; add them to `variables` or give them values"
        )


def _goal(goal: Any) -> int:
    key = goal.strip().lower() if isinstance(goal, str) else None
    if key not in _GOALS:
        raise MathInputError(f'goal must be "min" or "max" (or minimize/maximize), got {goal!r}')
    return _GOALS[key]


def _bounds(bounds: Any, names: list[str]) -> list[tuple[Any, Any]]:
    """Per-variable (lower, upper) as exact sympy numbers, None meaning unbounded."""
    out: list[tuple[Any, Any]] = [(None, None)] * len(names)
    if bounds is None:
        return out
    if not isinstance(bounds, dict):
        raise MathInputError('bounds is an object like {"x": [0, null], "y": [-1, 1]}')
    for name, pair in bounds.items():
        if name not in names:
            raise MathInputError(f"bounds name {name!r}, which is not among the variables {names}")
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise MathInputError(f"bounds for {name} must be [lower, upper], with null for none, e.g. [0, null]")
        lo, hi = _bound_value(pair[0], name, -1), _bound_value(pair[1], name, +1)
        if lo is not None and hi is not None and lo > hi:
            raise MathInputError(f"bounds for {name}: lower {lo} is above upper {hi}")
        out[names.index(name)] = (lo, hi)
    return out


def _bound_value(value: Any, name: str, side: int) -> Any:
    """A bound as an exact number; None, ±inf and "oo" mean no bound on that side."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise MathInputError(f"bounds for {name}: true/false is not a number")
    if isinstance(value, int):
        number = sp.Integer(value)
    elif isinstance(value, float):
        if math.isnan(value):
            raise MathInputError(f"bounds for {name}: NaN is not a bound")
        number = sp.oo * (1 if value > 0 else -1) if math.isinf(value) else sp.Rational(repr(value))
    elif isinstance(value, str):
        number = parse_expression(value)
    else:
        raise MathInputError(f"bounds for {name}: {value!r} is not a number")
    if number.free_symbols or not number.is_real:
        raise MathInputError(f"bounds for {name}: {value!r} is not a real number")
    if number.is_infinite:
        if (number > 0) != (side > 0):
            raise MathInputError(
                f"bounds for {name}: {'lower' if side < 0 else 'upper'} bound {value!r} is infinite on the wrong side"
            )
        return None
    return number


def _integer(integer: Any, names: list[str]) -> list[bool]:
    listed = [] if integer is None else ([integer] if isinstance(integer, str) else integer)
    if not isinstance(listed, (list, tuple)):
        raise MathInputError('integer is a list of variable names, e.g. ["x", "y"]')
    for name in listed:
        if name not in names:
            raise MathInputError(f"integer variable {name!r} is not among the variables {names}")
    return [n in listed for n in names]


# --- linear problems ------------------------------------------------------------------------------


@dataclass
class _Linear:
    """min c·x + c0 subject to A_ub x <= b_ub, A_eq x = b_eq; all entries exact sympy numbers."""

    c: list[Any]
    c0: Any
    ub: list[tuple[list[Any], Any, str]]
    eq: list[tuple[list[Any], Any, str]]


def _affine(expr: sp.Expr, symbols: list[sp.Symbol]) -> tuple[list[Any], Any] | None:
    """(coefficients, constant) if `expr` is affine in `symbols` with real numeric coefficients."""
    if not symbols:
        return None
    try:
        poly = sp.Poly(expr, *symbols)
    except (sp.PolynomialError, sp.GeneratorsNeeded, ValueError, TypeError):
        return None
    if poly.total_degree() > 1:
        return None
    coeffs = [poly.coeff_monomial(s) for s in symbols]
    const = poly.coeff_monomial(1)
    if any(not (c.is_number and c.is_real and c.is_finite) for c in [*coeffs, const]):
        return None
    return coeffs, const


def _linear_form(problem: _Problem) -> _Linear | None:
    obj = _affine(problem.objective, problem.symbols)
    if obj is None:
        return None
    ub: list[tuple[list[Any], Any, str]] = []
    eq: list[tuple[list[Any], Any, str]] = []
    for con in problem.constraints:
        form = _affine(con.expr, problem.symbols)
        if form is None:
            return None
        coeffs, const = form
        (eq if con.kind == "eq" else ub).append((coeffs, -const, con.source))
    return _Linear(obj[0], obj[1], ub, eq)


def _solve_linear(problem: _Problem, lin: _Linear) -> dict[str, Any]:
    from scipy.optimize import Bounds, LinearConstraint, linprog, milp

    n = len(problem.symbols)
    c = np.array([problem.sense * float(v) for v in lin.c])
    a_ub = np.array([[float(v) for v in row] for row, _, _ in lin.ub]).reshape(len(lin.ub), n)
    b_ub = np.array([float(b) for _, b, _ in lin.ub])
    a_eq = np.array([[float(v) for v in row] for row, _, _ in lin.eq]).reshape(len(lin.eq), n)
    b_eq = np.array([float(b) for _, b, _ in lin.eq])
    lo = [None if b[0] is None else float(b[0]) for b in problem.bounds]
    hi = [None if b[1] is None else float(b[1]) for b in problem.bounds]

    if any(problem.integer):
        cons = []
        if len(lin.ub):
            cons.append(LinearConstraint(a_ub, -np.inf, b_ub))
        if len(lin.eq):
            cons.append(LinearConstraint(a_eq, b_eq, b_eq))
        # milp's default bounds are 0 <= x < inf; ours are explicit, free unless given.
        box = Bounds([-np.inf if v is None else v for v in lo], [np.inf if v is None else v for v in hi])
        res = milp(
            c,
            integrality=np.array(problem.integer, dtype=int),
            bounds=box,
            constraints=cons,
            options={"time_limit": MILP_TIME_LIMIT},
        )
        method = "HiGHS branch-and-bound (scipy.optimize.milp)"
        statuses = {0: "optimal", 1: "iteration_or_time_limit", 2: "infeasible", 3: "unbounded", 4: "failed"}
    else:
        res = linprog(
            c,
            A_ub=a_ub if len(lin.ub) else None,
            b_ub=b_ub if len(lin.ub) else None,
            A_eq=a_eq if len(lin.eq) else None,
            b_eq=b_eq if len(lin.eq) else None,
            bounds=list(zip(lo, hi)),
            method="highs",
        )
        method = "HiGHS (scipy.optimize.linprog)"
        statuses = {0: "optimal", 1: "iteration_limit", 2: "infeasible", 3: "unbounded", 4: "numerical_difficulties"}
    status = statuses.get(int(res.status), "failed")
    out: dict[str, Any] = {
        "status": status,
        "value": None,
        "point": None,
        "method": method,
        "success": status == "optimal",
        "message": str(res.message),
        "exact": False,
    }
    if status == "unbounded":
        out["message"] += f" The objective can be made arbitrarily {'large' if problem.sense < 0 else 'small'}."
    if status != "optimal" or res.x is None:
        return out
    x = np.asarray(res.x, dtype=float)
    if any(problem.integer):
        x = np.where(problem.integer, np.round(x), x)
    value = problem.sense * float(res.fun) + float(lin.c0)
    out["value"] = _clean(value, 12)
    out["point"] = {nm: _clean(float(v), 12) for nm, v in zip(problem.names, x)}
    exact = _exact_optimum(problem, lin, x, value)
    if exact is not None:
        exact_point, exact_value = exact
        out["exact"] = True
        out["exact_value"] = render(exact_value)
        out["exact_point"] = {nm: render(v)["result"] for nm, v in zip(problem.names, exact_point)}
    return out


def _exact_optimum(problem: _Problem, lin: _Linear, x: np.ndarray, value: float) -> tuple[list[Any], Any] | None:
    """The solver's optimum as exact rationals, or None if it cannot be verified.

    First the vertex: the equalities, the integer values found, and the inequalities and bounds
    active at x (smallest slack first), reduced to n independent rows and solved exactly. If
    those rows don't pin the point down (a face of optima), each coordinate is rounded to a nearby
    fraction instead. Either way the candidate must satisfy every constraint exactly and agree with
    the solver's point and value.
    """
    data = [*lin.c, lin.c0] + [v for row, b, _ in lin.ub + lin.eq for v in (*row, b)]
    data += [b for pair in problem.bounds for b in pair if b is not None]
    if not all(isinstance(v, sp.Rational) for v in data):
        problem.notes.append("no exact optimum: the coefficients are not all rational")
        return None
    n = len(problem.symbols)
    rows = _candidate_rows(problem, lin, x)
    candidates = []
    if rows:
        m = sp.Matrix([r for r, _ in rows])
        _, independent = m.T.rref()  # pivot columns of the transpose = first independent rows
        if len(independent) == n:
            a = sp.Matrix([rows[i][0] for i in independent])
            b = sp.Matrix([rows[i][1] for i in independent])
            candidates.append(list(a.LUsolve(b)))
    candidates.append([sp.Rational(Fraction(float(v)).limit_denominator(10**6)) for v in x])
    for point in candidates:
        if _verify(problem, lin, point, x, value):
            return point, sum(c * p for c, p in zip(lin.c, point)) + lin.c0
    return None


def _candidate_rows(problem: _Problem, lin: _Linear, x: np.ndarray) -> list[tuple[list[Any], Any]]:
    """Exact rows (a, b) with a·x = b believed to hold at the optimum, the surest first."""
    n = len(problem.symbols)
    unit = [[sp.Integer(int(i == j)) for j in range(n)] for i in range(n)]
    sure = [(list(row), b) for row, b, _ in lin.eq]
    sure += [(unit[i], sp.Integer(round(x[i]))) for i in range(n) if problem.integer[i]]
    maybe: list[tuple[float, list[Any], Any]] = []
    for row, b, _ in lin.ub:
        slack = float(b) - float(np.dot([float(v) for v in row], x))
        maybe.append((abs(slack) / (1 + abs(float(b))), list(row), b))
    for i, (lo, hi) in enumerate(problem.bounds):
        for bound in (lo, hi):
            if bound is not None:
                maybe.append((abs(float(bound) - x[i]) / (1 + abs(float(bound))), unit[i], bound))
    maybe.sort(key=lambda t: t[0])
    return sure + [(row, b) for slack, row, b in maybe if slack <= 1e-7]


def _verify(problem: _Problem, lin: _Linear, point: list[Any], x: np.ndarray, value: float) -> bool:
    """Exact feasibility in rational arithmetic, and agreement with the solver's point and value."""
    for row, b, _ in lin.ub:
        if sum(a * p for a, p in zip(row, point)) > b:
            return False
    for row, b, _ in lin.eq:
        if sum(a * p for a, p in zip(row, point)) != b:
            return False
    for p, (lo, hi), is_int in zip(point, problem.bounds, problem.integer):
        if (lo is not None and p < lo) or (hi is not None and p > hi) or (is_int and not p.is_integer):
            return False
    exact_value = float(sum(c * p for c, p in zip(lin.c, point)) + lin.c0)
    close_value = abs(exact_value - value) <= 1e-7 * (1 + abs(value))
    close_point = all(abs(float(p) - v) <= 1e-6 * (1 + abs(v)) for p, v in zip(point, x))
    return close_value and close_point


# --- nonlinear problems ---------------------------------------------------------------------------


def _solve_nonlinear(problem: _Problem) -> dict[str, Any]:
    from scipy.optimize import minimize

    raw_fun, jac = _compile_objective(problem)
    cons = [_compile_constraint(problem, c) for c in problem.constraints]
    bounds = [(None if lo is None else float(lo), None if hi is None else float(hi)) for lo, hi in problem.bounds]

    def fun(x: np.ndarray) -> float:
        # Stop a run early instead of letting it iterate on garbage: NaN (outside the domain)
        # poisons SLSQP's quadratic model, and a feasible point below -UNBOUNDED proves enough.
        v = raw_fun(x)
        if math.isnan(v):
            raise _StopRun(None)
        if v < -UNBOUNDED and _violation(x, problem, cons, bounds) <= FEAS_TOL * (1 + float(np.max(np.abs(x)))):
            raise _StopRun(np.array(x, dtype=float))
        return v

    slsqp_cons = [
        {"type": "eq" if c.kind == "eq" else "ineq", "fun": g, "jac": dg}
        for c, (g, dg) in zip(problem.constraints, cons)
    ]
    starts = _starts(bounds)
    best: tuple[float, np.ndarray, Any, str] | None = None
    runs = 0
    unbounded_at: list[np.ndarray] = []
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        for x0 in starts:
            runs += 1
            res = _attempt(
                minimize,
                fun,
                x0,
                unbounded_at,
                dict(
                    method="SLSQP",
                    jac=jac,
                    bounds=bounds or None,
                    constraints=slsqp_cons,
                    options={"maxiter": 500, "ftol": 1e-12},
                ),
            )
            if unbounded_at:
                break
            best = _better(best, res, problem, cons, bounds, "SLSQP")
        if best is None and not unbounded_at:
            from scipy.optimize import NonlinearConstraint

            tc_cons = [
                NonlinearConstraint(g, 0.0, 0.0 if c.kind == "eq" else np.inf, jac=lambda x, dg=dg: [dg(x)])
                for c, (g, dg) in zip(problem.constraints, cons)
            ]
            tc_bounds = bounds if any(b != (None, None) for b in bounds) else None
            for x0 in starts[:N_FALLBACK_STARTS]:
                runs += 1
                res = _attempt(
                    minimize,
                    fun,
                    x0,
                    unbounded_at,
                    dict(
                        method="trust-constr", jac=jac, bounds=tc_bounds, constraints=tc_cons, options={"maxiter": 200}
                    ),
                )
                best = _better(best, res, problem, cons, bounds, "trust-constr")
    if unbounded_at:
        x = unbounded_at[0]
        return {
            "status": "unbounded",
            "value": None,
            "point": None,
            "method": "SLSQP (scipy.optimize.minimize), multi-start",
            "success": False,
            "message": f"the objective appears unbounded: it reached {problem.sense * raw_fun(x):.6g} "
            f"at a feasible point ({', '.join(f'{n}={v:.4g}' for n, v in zip(problem.names, x))})",
            "exact": False,
            "local_searches": runs,
        }
    if best is None:
        return {
            "status": "no_feasible_point_found",
            "value": None,
            "point": None,
            "method": "SLSQP, then trust-constr (scipy.optimize.minimize)",
            "success": False,
            "message": f"none of {runs} local searches reached a point satisfying all constraints "
            f"(tolerance {FEAS_TOL}); the problem may be infeasible",
            "exact": False,
        }
    internal, x, res, method = best
    x, internal = _polish(x, internal, raw_fun, problem, cons, bounds)
    value = problem.sense * internal
    starts_note = (
        f"best of {runs} local searches from deterministic starting points; "
        "a local optimum, global optimality is not guaranteed for nonconvex problems"
    )
    out = {
        "status": "optimal",
        "value": _clean(value, 10),
        "point": {nm: _clean(float(v), 10) for nm, v in zip(problem.names, x)},
        "method": f"{method} (scipy.optimize.minimize), multi-start",
        "success": bool(res.success),
        "message": str(res.message),
        "exact": False,
        "local_searches": runs,
        "note": starts_note,
    }
    return out


def _polish(x: np.ndarray, f: float, fun: Any, problem: _Problem, cons: list, bounds: list) -> tuple[np.ndarray, float]:
    """Round solver noise away (0.4999999997 → 0.5) when that is feasible and no worse.

    A rounded point is kept only if the objective there is <= the solver's (no tolerance), so a
    true irrational optimum such as sqrt(2) keeps its digits, and only if it is at least as
    feasible as the solver's point.
    """
    # Rounding must not use the feasibility tolerance to step outside the feasible set (that
    # would "improve" a boundary optimum): no more violation than the solver's own point.
    allowed = max(_violation(x, problem, cons, bounds), 1e-12)
    for decimals in (10, 8, 6):
        candidate = np.round(x, decimals)
        if _violation(candidate, problem, cons, bounds) > allowed:
            continue
        value = fun(candidate)
        if math.isfinite(value) and value <= f:
            x, f = candidate, value
    return x, f


class _StopRun(Exception):
    """Raised from the objective to end one local search: x is a feasible point far below any
    plausible optimum (evidence of unboundedness), or None when the search left the domain."""

    def __init__(self, x: np.ndarray | None) -> None:
        super().__init__("stop")
        self.x = x


def _attempt(minimize: Any, fun: Any, x0: np.ndarray, unbounded_at: list, kwargs: dict[str, Any]) -> Any:
    try:
        return minimize(fun, x0, **kwargs)
    except _StopRun as stop:
        if stop.x is not None:
            unbounded_at.append(stop.x)
        return None
    except (ValueError, ArithmeticError, TypeError, np.linalg.LinAlgError):
        return None  # a start in a bad region (domain errors): the other starts decide


def _better(best: Any, res: Any, problem: _Problem, cons: list, bounds: list, method: str) -> Any:
    """Keep the lower objective among runs whose end point is finite and feasible."""
    if res is None or res.x is None:
        return best
    x = np.asarray(res.x, dtype=float)
    f = float(res.fun) if np.ndim(res.fun) == 0 else math.nan
    if not (np.all(np.isfinite(x)) and math.isfinite(f)):
        return best
    if _violation(x, problem, cons, bounds) > FEAS_TOL * (1 + float(np.max(np.abs(x)))):
        return best
    if best is None or f < best[0] - 1e-12 * (1 + abs(f)):
        return (f, x, res, method)
    return best


def _violation(x: np.ndarray, problem: _Problem, cons: list, bounds: list) -> float:
    worst = 0.0
    for c, (g, _) in zip(problem.constraints, cons):
        v = g(x)
        if not math.isfinite(v):
            return math.inf
        worst = max(worst, abs(v) if c.kind == "eq" else max(0.0, -v))
    for xi, (lo, hi) in zip(x, bounds):
        if lo is not None:
            worst = max(worst, lo - xi)
        if hi is not None:
            worst = max(worst, xi - hi)
    return worst


def _compile_objective(problem: _Problem) -> tuple[Any, Any]:
    expr = problem.sense * problem.objective
    return _scalar(expr, problem.symbols), _gradient(expr, problem.symbols)


def _compile_constraint(problem: _Problem, con: _Constraint) -> tuple[Any, Any]:
    # SLSQP wants g(x) >= 0 for inequalities; ours are stored as expr <= 0, so g = -expr.
    expr = -con.expr if con.kind == "le" else con.expr
    return _scalar(expr, problem.symbols), _gradient(expr, problem.symbols)


def _scalar(expr: sp.Expr, symbols: list[sp.Symbol]) -> Any:
    """x ↦ float(expr(x)); NaN where the expression is undefined or complex (lambdify on a tree)."""
    f = sp.lambdify(symbols, expr, modules=["scipy", "numpy"])

    def call(x: np.ndarray) -> float:
        try:
            v = complex(f(*x))
        except (ValueError, ArithmeticError, TypeError, OverflowError):
            return math.nan
        return v.real if abs(v.imag) <= 1e-12 * (1 + abs(v.real)) else math.nan

    return call


def _gradient(expr: sp.Expr, symbols: list[sp.Symbol]) -> Any:
    """Exact gradient compiled once; None (finite differences) if sympy cannot differentiate it."""
    try:
        parts = [sp.diff(expr, s) for s in symbols]
    except (ValueError, TypeError, NotImplementedError):
        return None
    if any(p.has(sp.Derivative, sp.Subs) for p in parts):
        return None
    funcs = [_scalar(p, symbols) for p in parts]

    def grad(x: np.ndarray) -> np.ndarray:
        return np.array([g(x) for g in funcs], dtype=float)

    return grad


def _starts(bounds: list[tuple[float | None, float | None]]) -> list[np.ndarray]:
    """Deterministic starting points: all-ones, then seeded random points at three scales.

    Each coordinate is drawn inside its bounds when both are finite, above/below a one-sided
    bound, and around 0 when free. All-ones rather than all-zeros first because 0 is where
    log, 1/x and sqrt tend to be undefined or non-differentiable.
    """
    rng = np.random.default_rng(SEED)
    scales = [None, 1.0, 1.0, 1.0, 10.0, 10.0, 0.1, 100.0][:N_STARTS]
    points = []
    for scale in scales:
        point = []
        for lo, hi in bounds:
            z = 1.0 if scale is None else float(rng.normal(0.0, scale))
            if lo is not None and hi is not None:
                v = min(max(z, lo), hi) if scale is None else lo + (hi - lo) * float(rng.uniform(0.05, 0.95))
            elif lo is not None:
                v = lo + (abs(z) if scale is not None else 1.0)
            elif hi is not None:
                v = hi - (abs(z) if scale is not None else 1.0)
            else:
                v = z
            point.append(v)
        points.append(np.array(point, dtype=float))
    return points


# --- output ---------------------------------------------------------------------------------------


def _finish(problem: _Problem, kind: str, out: dict[str, Any]) -> dict[str, Any]:
    result = {
        "status": out.pop("status"),
        "goal": problem.goal,
        "problem_type": kind,
        "variables": problem.names,
        **out,
    }
    if problem.notes:
        result["notes"] = problem.notes
    result["text"] = _text(result)
    return result


def _text(r: dict[str, Any]) -> str:
    word = "maximum" if r["goal"] == "max" else "minimum"
    if r["status"] != "optimal" or r["point"] is None:
        return f"{r['status']}: {r['message']}"[:500]
    if r.get("exact"):
        value = r["exact_value"]["result"]
        point = ", ".join(f"{k}={v}" for k, v in r["exact_point"].items())
        how = "exact"
    else:
        value = f"{r['value']:.10g}"
        point = ", ".join(f"{k}={v:.10g}" for k, v in r["point"].items())
        how = "numerical, local" if r["problem_type"] == "nonlinear" else "numerical"
    return f"{word} {value} at {point} ({r['problem_type']}, {how})"[:500]


def _clean(v: float, digits: int) -> float | None:
    """Round to `digits` significant digits (solver noise), -0.0 to 0.0; None if not finite."""
    if not math.isfinite(v):
        return None
    v = float(f"{v:.{digits}g}")
    return 0.0 if v == 0 else v
