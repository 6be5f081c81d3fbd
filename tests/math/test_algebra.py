"""algebra.solve and algebra.simplify against problems with known answers.

Answers are compared by meaning, never by string: each returned string is parsed back with the
server's own parser and checked for symbolic equality (or, for numeric answers, closeness).
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
import sympy as sp

from mcpfleet.servers.math.algebra import simplify, solve
from mcpfleet.servers.math.parser import MathInputError, parse_expression

x, y, z, n = sp.symbols("x y z n")


# --- helpers ----------------------------------------------------------------------------------


def equivalent(a: sp.Expr, b: sp.Expr, tol: float = 1e-12) -> bool:
    """Symbolically equal, or (for numbers) equal to `tol` relative precision."""
    a, b = sp.sympify(a), sp.sympify(b)
    if a == b:
        return True
    difference = a - b
    if difference == 0 or sp.simplify(difference) == 0:
        return True
    if difference.free_symbols:
        return False
    scale = max(1.0, abs(complex(sp.N(b, 30))))
    return abs(complex(sp.N(difference, 30))) <= tol * scale


def values(result: dict, var: str = "x") -> list[sp.Expr]:
    return [parse_expression(s[var]["result"]) for s in result["solutions"]]


def same_set(got: list[sp.Expr], expected: list, tol: float = 1e-12) -> bool:
    """The two lists hold the same values (each matched once), in any order."""
    remaining = list(got)
    if len(remaining) != len(expected):
        return False
    for e in expected:
        match = next((g for g in remaining if equivalent(g, e, tol)), None)
        if match is None:
            return False
        remaining.remove(match)
    return True


def spans(result: dict) -> list[tuple]:
    """The solution intervals as (lower, upper, lower_closed, upper_closed) with parsed bounds."""
    return [
        (parse_expression(i["lower"]), parse_expression(i["upper"]), i["lower_closed"], i["upper_closed"])
        for i in result["intervals"]
    ]


oo = sp.oo


# --- single equations with closed forms ---------------------------------------------------------


@pytest.mark.parametrize(
    "equation,domain,expected",
    [
        ("x^2 - 4", "complex", [-2, 2]),  # expression means = 0
        ("2x + 3 = 7", "complex", [2]),  # linear
        ("x^2 - 5x + 6 = 0", "complex", [2, 3]),  # quadratic
        ("x^2 + 1 = 0", "complex", [sp.I, -sp.I]),  # complex roots
        ("x^2 + 1 = 0", "real", []),  # ... filtered out over the reals
        ("x^2 + 2x + 5 = 0", "complex", [-1 + 2 * sp.I, -1 - 2 * sp.I]),
        ("x^3 - 6x^2 + 11x - 6 = 0", "complex", [1, 2, 3]),  # cubic
        ("x^3 = 8", "complex", [2, -1 + sp.sqrt(3) * sp.I, -1 - sp.sqrt(3) * sp.I]),
        ("x^3 = 8", "real", [2]),
        ("x^3 - 3x + 1 = 0", "real", [2 * sp.cos(2 * sp.pi / 9), 2 * sp.cos(4 * sp.pi / 9), -2 * sp.cos(sp.pi / 9)]),
        ("x^4 - 5x^2 + 4 = 0", "complex", [-2, -1, 1, 2]),  # quartic
        ("x^4 = 16", "complex", [2, -2, 2 * sp.I, -2 * sp.I]),
        ("x^4 = 16", "real", [2, -2]),
        (
            "x^4 - 10x^2 + 1 = 0",
            "real",
            [sp.sqrt(2) + sp.sqrt(3), sp.sqrt(2) - sp.sqrt(3), -sp.sqrt(2) + sp.sqrt(3), -sp.sqrt(2) - sp.sqrt(3)],
        ),
        ("1/x + 1/(x - 1) = 0", "complex", [sp.Rational(1, 2)]),  # rational equation
        ("sqrt(x) = x - 2", "real", [4]),  # extraneous root 1 dropped
        ("exp(x) = 5", "real", [sp.log(5)]),
        ("log(x) = 2", "real", [sp.exp(2)]),
        ("2^x = 8", "real", [3]),
        ("abs(x - 3) = 5", "real", [-2, 8]),
        ("x*exp(x) = 1", "real", [sp.LambertW(1)]),
        ("x^2 = 2^x", "real", [2, 4, -2 * sp.LambertW(sp.log(2) / 2) / sp.log(2)]),
        ("x = x + 1", "complex", []),  # contradiction
        ("0.5x = 1.25", "complex", [sp.Rational(5, 2)]),  # decimals are exact
    ],
)
def test_single_equation(equation, domain, expected):
    result = solve(equation, None, domain)
    assert result["exact"] and not result["numeric_fallback"]
    assert result["variables"] == ["x"] and result["domain"] == domain
    assert same_set(values(result), expected), result
    if not expected:
        assert "no" in result["text"] and "solution" in result["text"]


def test_multiplicities_follow_the_solutions():
    result = solve("(x - 1)^2*(x + 2) = 0")
    assert dict(zip(map(int, values(result)), result["multiplicities"])) == {-2: 1, 1: 2}


def test_parameters_stay_symbolic_when_the_variable_is_named():
    a, b, c = sp.symbols("a b c")
    result = solve("a*x^2 + b*x + c = 0", ["x"])
    roots = values(result)
    assert len(roots) == 2
    for root in roots:
        assert sp.simplify((a * x**2 + b * x + c).subs(x, root)) == 0
    assert equivalent(sum(roots), -b / a)


def test_identity_holds_for_every_value():
    result = solve("(x + 1)^2 = x^2 + 2x + 1", "x", "real")
    assert result["infinite"] and result.get("all_values")
    assert spans(result) == [(-oo, oo, False, False)]


def test_equation_true_on_an_interval():
    result = solve("abs(x) = x", None, "real")
    assert result["infinite"]
    assert spans(result) == [(0, oo, True, False)]


# --- periodic solutions -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "equation,function,principal",
    [
        ("sin(x) = 0", sp.sin(x), [0, sp.pi]),
        ("sin(x) = 1/2", sp.sin(x) - sp.Rational(1, 2), [sp.pi / 6, 5 * sp.pi / 6]),
        ("cos(2x) = 1", sp.cos(2 * x) - 1, [0, sp.pi]),
        ("tan(x) = 1", sp.tan(x) - 1, [sp.pi / 4]),
    ],
)
def test_trig_equation_gives_general_and_principal_solutions(equation, function, principal):
    result = solve(equation, None, "real")
    assert result["infinite"] and result["exact"]
    families = [parse_expression(g["result"]) for g in result["general"]]
    assert families and all(f.free_symbols <= {n} for f in families)
    # Every family member solves the equation...
    for family in families:
        for k in (-2, 0, 3):
            assert equivalent(function.subs(x, family.subs(n, k)), 0)
    # ...and the principal values are among them.
    assert same_set(values(result), principal)
    assert "n" in result["text"]


# --- numeric fallback -------------------------------------------------------------------------


def test_cos_x_equals_x_numeric():
    result = solve("cos(x) = x", None, "real")
    assert result["numeric_fallback"] and not result["exact"]
    (root,) = values(result)
    assert abs(float(root) - 0.7390851332151607) < 1e-12


def test_exp_x_equals_three_minus_x():
    # sympy can express this root with LambertW; either way it must be the right number.
    result = solve("exp(x) = 3 - x", None, "real")
    (root,) = values(result)
    expected = mpmath.findroot(lambda t: mpmath.exp(t) - 3 + t, 0.8)
    assert abs(complex(sp.N(root, 20)) - float(expected)) < 1e-12


def test_quintic_real_root_numeric():
    result = solve("x^5 - x + 1 = 0", None, "real")
    assert result["numeric_fallback"] and not result["exact"]
    (root,) = values(result)
    assert abs(float(root) + 1.1673039782614187) < 1e-12


def test_quintic_all_complex_roots_numeric():
    result = solve("x^5 - x + 1 = 0")
    expected = np.roots([1, 0, 0, 0, -1, 1])
    assert same_set(values(result), [complex(r) for r in expected], tol=1e-10)


def test_quartic_with_unwieldy_radicals_is_numeric():
    result = solve("x^4 + x + 1 = 0")
    assert not result["exact"] and result["numeric_fallback"]
    assert same_set(values(result), [complex(r) for r in np.roots([1, 0, 0, 1, 1])], tol=1e-10)
    assert len(result["text"]) < 400


def test_tan_x_equals_x_finds_roots_without_poles():
    result = solve("tan(x) = x", None, "real")
    roots = [float(v) for v in values(result)]
    assert 0.0 in roots
    assert any(abs(r - 4.493409457909064) < 1e-10 for r in roots)
    assert any(abs(r + 4.493409457909064) < 1e-10 for r in roots)
    assert not any(abs(abs(r) - np.pi / 2) < 1e-3 for r in roots)  # a pole is not a root
    assert result["truncated"] and len(roots) <= 30


def test_sin_x_equals_x_over_ten_all_roots():
    result = solve("sin(x) = x/10", None, "real")
    roots = sorted(float(v) for v in values(result))
    assert len(roots) == 7
    for r in roots:
        assert abs(np.sin(r) - r / 10) < 1e-12
    assert roots[3] == 0.0


def test_transcendental_system_numeric():
    result = solve(["exp(x) + y = 3", "sin(x) = y"], None, "real")
    assert result["numeric_fallback"]
    for sol in result["solutions"]:
        vx, vy = float(parse_expression(sol["x"]["result"])), float(parse_expression(sol["y"]["result"]))
        assert abs(np.exp(vx) + vy - 3) < 1e-9 and abs(np.sin(vx) - vy) < 1e-9


# --- systems ----------------------------------------------------------------------------------


def solution_maps(result: dict) -> list[dict[str, sp.Expr]]:
    return [{k: parse_expression(v["result"]) for k, v in sol.items()} for sol in result["solutions"]]


@pytest.mark.parametrize(
    "equations,expected",
    [
        (["x + y = 3", "x - y = 1"], [{"x": 2, "y": 1}]),
        ("2x + 3y = 12, x - y = 1", [{"x": 3, "y": 2}]),
        (["x + y + z = 6", "2x - y + z = 3", "x + 2y - z = 2"], [{"x": 1, "y": 2, "z": 3}]),
        (["x^2 + y^2 = 25", "x + y = 7"], [{"x": 3, "y": 4}, {"x": 4, "y": 3}]),
        (["x*y = 6", "x + y = 5"], [{"x": 2, "y": 3}, {"x": 3, "y": 2}]),
        (["y = x^2", "y = 2x + 3"], [{"x": -1, "y": 1}, {"x": 3, "y": 9}]),
        (["x + y = 1", "x + y = 2"], []),
    ],
)
def test_systems(equations, expected):
    result = solve(equations)
    got = solution_maps(result)
    assert len(got) == len(expected), result
    for want in expected:
        assert any(all(equivalent(sol[k], v) for k, v in want.items()) for sol in got), (want, got)


def test_circle_and_line_without_real_intersection():
    assert solve(["x^2 + y^2 = 1", "y = 2"], None, "real")["solutions"] == []
    complex_result = solution_maps(solve(["x^2 + y^2 = 1", "y = 2"]))
    assert same_set([s["x"] for s in complex_result], [sp.sqrt(3) * sp.I, -sp.sqrt(3) * sp.I])


def test_underdetermined_linear_system_has_a_free_variable():
    result = solve(["x + y = 1", "2x + 2y = 2"])
    assert result["free_variables"] == ["y"] and result["infinite"]
    (sol,) = solution_maps(result)
    assert equivalent(sol["x"], 1 - y)


# --- inequalities -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "inequality,expected",
    [
        ("x^2 - 4 > 0", [(-oo, -2, False, False), (2, oo, False, False)]),  # quadratic
        ("x^2 <= 9", [(-3, 3, True, True)]),
        ("(x - 1)/(x + 2) >= 0", [(-oo, -2, False, False), (1, oo, True, False)]),  # rational
        ("abs(x - 1) < 3", [(-2, 4, False, False)]),  # absolute value
        ("2x + 1 <= 5", [(-oo, 2, False, True)]),
        ("x^2 <= 0", [(0, 0, True, True)]),  # a single point
        ("x^2 + 1 < 0", []),
        ("x != 2", [(-oo, 2, False, False), (2, oo, False, False)]),
        (["x^2 < 9", "x > 1"], [(1, 3, False, False)]),  # two at once
    ],
)
def test_inequalities(inequality, expected):
    result = solve(inequality, None, "real")
    got = spans(result)
    assert len(got) == len(expected), result
    for (lo, hi, lc, hc), (elo, ehi, elc, ehc) in zip(got, expected):
        assert equivalent(lo, elo) and equivalent(hi, ehi) and (lc, hc) == (elc, ehc)
    assert result["text"]


def test_inequality_text_reads_naturally():
    assert solve("x^2 - 4 > 0", None, "real")["text"] == "x < -2 or x > 2"


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "equations,variables,domain,message",
    [
        ("a*x^2 + b*x + c = 0", None, "complex", "say which to solve for"),
        ("x + y = 1", None, "complex", "variables="),
        ("2 = 2", None, "complex", "no variables"),
        ("x^2 = ", None, "complex", "not an equation"),
        ("x^2 = 4", None, "rational", "domain"),
        ([f"x{i} = {i}" for i in range(21)], None, "complex", "at most 20"),
        (["x + y < 1"], ["x", "y"], "real", "one variable"),
        ("x = 1", ["2x"], "complex", "not a variable name"),
    ],
)
def test_bad_solve_input(equations, variables, domain, message):
    with pytest.raises(MathInputError, match=message):
        solve(equations, variables, domain)


# --- simplify and evaluate --------------------------------------------------------------------


@pytest.mark.parametrize(
    "expression,operation,expected",
    [
        ("sin(x)^2 + cos(x)^2", "simplify", 1),
        ("(x^2 - 1)/(x - 1)", "simplify", x + 1),
        ("(x + 1)^3", "expand", x**3 + 3 * x**2 + 3 * x + 1),
        ("(x + y)^2 - (x - y)^2", "expand", 4 * x * y),
        ("x^2 - 5x + 6", "factor", (x - 2) * (x - 3)),
        ("x^3 - y^3", "factor", (x - y) * (x**2 + x * y + y**2)),
        ("1/(x^2 - 1)", "apart", 1 / (2 * (x - 1)) - 1 / (2 * (x + 1))),
        ("(3x + 5)/((x + 1)(x + 2))", "apart", 2 / (x + 1) + 1 / (x + 2)),
        ("1/x + 1/(x + 1)", "together", (2 * x + 1) / (x * (x + 1))),
        ("2*sin(x)*cos(x)", "trigsimp", sp.sin(2 * x)),
        ("cos(x)^4 - sin(x)^4", "trigsimp", sp.cos(2 * x)),
        ("(x^2 - 1)/(x - 1)", "cancel", x + 1),
        ("(x^2 + 2x + 1)/(x^2 - 1)", "cancel", (x + 1) / (x - 1)),
        ("exp(I*pi)", "evaluate", -1),
        ("factorial(25)", "evaluate", sp.Integer(15511210043330985984000000)),
        ("2^100", "evaluate", sp.Integer(2) ** 100),
        ("Sum(1/k^2, (k, 1, oo))", "evaluate", sp.pi**2 / 6),  # Basel
        ("zeta(2)", "evaluate", sp.pi**2 / 6),
        ("zeta(4)", "evaluate", sp.pi**4 / 90),
        ("Integral(exp(-x^2), (x, -oo, oo))", "evaluate", sp.sqrt(sp.pi)),
        ("Product(k/(k + 1), (k, 1, n))", "evaluate", 1 / (n + 1)),
        ("binomial(10, 3)", "evaluate", 120),
    ],
)
def test_rewrite_and_evaluate(expression, operation, expected):
    result = simplify(expression, operation)
    assert result["operation"] == operation
    assert equivalent(parse_expression(result["result"]), expected), result


def test_rewrites_change_the_form_not_the_value():
    assert isinstance(parse_expression(simplify("x^2 - 5x + 6", "factor")["result"]), sp.Mul)
    assert isinstance(parse_expression(simplify("1/(x^2 - 1)", "apart")["result"]), sp.Add)
    together = parse_expression(simplify("1/x + 1/(x + 1)", "together")["result"])
    assert sp.fraction(together)[1] != 1
    assert simplify("x + 1", "factor")["unchanged"]


@pytest.mark.parametrize(
    "expression,digits,reference",
    [
        ("pi", 50, lambda: mpmath.pi),
        ("E", 50, lambda: mpmath.e),
        ("e", 50, lambda: mpmath.e),
        ("sqrt(2)", 30, lambda: mpmath.sqrt(2)),
        ("zeta(3)", 40, lambda: mpmath.zeta(3)),
        ("EulerGamma", 25, lambda: mpmath.euler),
        ("pi", 1000, lambda: mpmath.pi),
    ],
)
def test_evaluate_to_many_digits(expression, digits, reference):
    result = simplify(expression, "evaluate", digits)
    got = result["numeric"]
    with mpmath.workdps(digits + 20):
        error = abs(mpmath.mpf(got) - reference()) / abs(reference())
        assert error < mpmath.mpf(10) ** (1 - digits)  # right to `digits` significant digits
    assert len(got.replace(".", "").lstrip("0")) >= digits - 3  # and that many are shown
    assert result["closed_form"]


def test_evaluate_exact_integer_and_numeric_agree():
    result = simplify("factorial(25)", "evaluate")
    assert result["result"] == result["numeric"] == "15511210043330985984000000"


def test_sum_without_closed_form_is_flagged():
    result = simplify("Sum(1/(k^3 + 1), (k, 1, oo))", "evaluate")
    assert result["closed_form"] is False
    expected = mpmath.nsum(lambda k: 1 / (k**3 + 1), [1, mpmath.inf])
    assert abs(float(result["numeric"]) - float(expected)) < 1e-12


def test_oscillating_sum_is_evaluated_accurately():
    result = simplify("Sum(sin(k)/k^2, (k, 1, oo))", "evaluate", 20)
    with mpmath.workdps(30):
        assert abs(mpmath.mpf(result["numeric"]) - mpmath.clsin(2, 1)) < mpmath.mpf(10) ** -19


def test_huge_integer_is_summarised_once():
    result = simplify("factorial(1000)", "evaluate")
    assert result["text"].count("≈") == 1 and "2568 digits" in result["text"]


def test_evaluate_with_symbols_gives_an_approximation():
    result = simplify("pi*x", "evaluate", 10)
    assert result["numeric"] is None and "3.14159265" in result["approximation"]


@pytest.mark.parametrize(
    "statement,holds",
    [
        ("sin(x)^2 + cos(x)^2 = 1", True),
        ("sqrt(8) = 2sqrt(2)", True),
        ("(x + 1)^2 = x^2 + 1", False),
        ("pi > 3", True),
        ("exp(1) < 2", False),
    ],
)
def test_identities_are_checked(statement, holds):
    result = simplify(statement, "simplify")
    assert result["holds"] is holds or (holds is False and result["holds"] is None), result


@pytest.mark.parametrize(
    "expression,operation,digits,message",
    [
        ("x", "integrate", 15, "valid operations: simplify, expand"),
        ("pi", "evaluate", 1001, "between 1 and 1000"),
        ("pi", "evaluate", 0, "between 1 and 1000"),
        ("1/(x*y)", "apart", 15, "variable"),
        ("x +* 2", "simplify", 15, "could not understand"),
    ],
)
def test_bad_simplify_input(expression, operation, digits, message):
    with pytest.raises(MathInputError, match=message):
        simplify(expression, operation, digits)


def test_apart_with_a_named_variable():
    a = sp.Symbol("a")
    result = simplify("1/((x - a)(x + a))", "apart", variable="x")
    assert equivalent(parse_expression(result["result"]), 1 / ((x - a) * (x + a)))


def crosses_the_worker_boundary(result: dict) -> bool:
    """Results reach the server through the worker pool's restricted unpickler (plain data only)."""
    import pickle

    from mcpfleet.common.workers import _load_plain

    return _load_plain(pickle.dumps(result)) == result


@pytest.mark.parametrize(
    "call",
    [
        lambda: solve("x^2 = 2"),
        lambda: solve("(x - 1)^2 = 0"),
        lambda: solve("x^5 - x + 1 = 0"),
        lambda: solve("sin(x) = 0", None, "real"),
        lambda: solve("x^2 > 1", None, "real"),
        lambda: solve("abs(x) = x", None, "real"),
        lambda: solve("cos(x) = x", None, "real"),
        lambda: solve("floor(x) = 2", None, "real"),
        lambda: solve(["x + y = 1", "2x + 2y = 2"]),
        lambda: solve(["exp(x) + y = 3", "sin(x) = y"], None, "real"),
        lambda: simplify("pi", "evaluate", 20),
        lambda: simplify("Sum(1/(k^3 + 1), (k, 1, oo))", "evaluate"),
        lambda: simplify("sin(x)^2 + cos(x)^2 = 1"),
    ],
)
def test_results_are_plain_data(call):
    result = call()
    assert crosses_the_worker_boundary(result)
    assert isinstance(result["text"], str) and result["text"]


def test_floor_equation_holds_on_an_interval():
    result = solve("floor(x) = 2", None, "real")
    assert result["infinite"] and result["numeric_fallback"]
    ((lo, hi),) = result["approximate_intervals"]
    assert abs(float(lo) - 2) < 0.02 and abs(float(hi) - 3) < 0.02
