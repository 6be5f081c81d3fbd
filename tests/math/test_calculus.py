"""calculus.calculus and calculus.ode against problems with known answers.

Every returned expression is parsed back with the server's parser and compared by meaning:
symbolic equality, a derivative check for antiderivatives, substitution into the ODE for ODE
solutions, or closeness to an independent mpmath computation for numeric answers.
"""

from __future__ import annotations

import mpmath
import pytest
import sympy as sp

from mcpfleet.servers.math.calculus import calculus, ode
from mcpfleet.servers.math.parser import MathInputError, parse_expression

x, y, t, k, n, r, a, b = sp.symbols("x y t k n r a b")
C1, C2 = sp.symbols("C1 C2")
oo = sp.oo


def equivalent(got: sp.Expr, expected: sp.Expr, tol: float = 1e-12) -> bool:
    got, expected = sp.sympify(got), sp.sympify(expected)
    if got == expected:
        return True
    difference = got - expected
    if sp.simplify(difference) == 0:
        return True
    if difference.free_symbols:
        return False
    return abs(complex(sp.N(difference, 30))) <= tol * max(1.0, abs(complex(sp.N(expected, 30))))


def value(result: dict) -> sp.Expr:
    return parse_expression(result["result"])


# --- derivatives ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expression,kwargs,expected",
    [
        ("x^3", {}, 3 * x**2),
        ("sin(x^2)", {}, 2 * x * sp.cos(x**2)),  # chain rule
        ("x*exp(x)", {}, (x + 1) * sp.exp(x)),  # product rule
        ("sin(x)/x", {}, sp.cos(x) / x - sp.sin(x) / x**2),  # quotient rule
        ("x*exp(x)", {"order": 3}, (x + 3) * sp.exp(x)),  # higher order
        ("ln(x)", {"order": 2}, -1 / x**2),
        ("sin(x)", {"order": 4}, sp.sin(x)),
        ("x^x", {}, x**x * (sp.log(x) + 1)),
        ("atan(x)", {}, 1 / (1 + x**2)),
        ("x^2*y^3", {"variable": "y"}, 3 * x**2 * y**2),  # partial derivative
        ("5", {}, 0),
    ],
)
def test_derivatives(expression, kwargs, expected):
    result = calculus(expression, "diff", **kwargs)
    assert result["operation"] == "diff" and result["exact"]
    assert equivalent(value(result), expected), result


# --- integrals --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "integrand",
    [
        "x^2",
        "x*sin(x)",  # by parts
        "x*exp(x)",  # by parts
        "exp(2x)",
        "1/(x^2 + 1)",
        "1/(x^2 - 1)",  # rational, partial fractions
        "cos(x)^2",  # trigonometric
        "log(x)",
        "1/sqrt(1 - x^2)",
        "sec(x)^2",
    ],
)
def test_antiderivatives_differentiate_back(integrand):
    result = calculus(integrand, "integrate")
    assert result["closed_form"] and not result["definite"]
    assert "+ C" in result["text"]
    f = parse_expression(integrand)
    assert sp.simplify(sp.diff(value(result), x) - f) == 0, result


@pytest.mark.parametrize(
    "integrand,lower,upper,expected",
    [
        ("x^2", "0", "1", sp.Rational(1, 3)),
        ("sin(x)", "0", "pi", 2),
        ("exp(-x^2)", "-oo", "oo", sp.sqrt(sp.pi)),  # Gaussian
        ("exp(-x)", "0", "oo", 1),  # improper, infinite range
        ("1/x^2", "1", "oo", 1),
        ("1/sqrt(x)", "0", "1", 2),  # improper, singular endpoint
        ("1/(1 + x^2)", "-oo", "oo", sp.pi),
        ("sin(x)/x", "0", "oo", sp.pi / 2),  # Dirichlet
        ("x*exp(-x)", "0", "oo", 1),
        ("log(x)", "0", "1", -1),
        ("a*x", "0", "b", a * b**2 / 2),  # with parameters
    ],
)
def test_definite_integrals(integrand, lower, upper, expected):
    variable = "x" if "a" in integrand else None
    result = calculus(integrand, "integrate", variable=variable, lower=lower, upper=upper)
    assert result["exact"] and not result["numeric_fallback"] and result["definite"]
    assert equivalent(value(result), expected), result


@pytest.mark.parametrize(
    "integrand,lower,upper,reference",
    [
        ("x^x", "0", "1", lambda: mpmath.quad(lambda s: s**s, [0, 1])),
        ("sin(sin(x))", "0", "1", lambda: mpmath.quad(lambda s: mpmath.sin(mpmath.sin(s)), [0, 1])),
        ("cos(x + exp(-x))", "0", "2", lambda: mpmath.quad(lambda s: mpmath.cos(s + mpmath.exp(-s)), [0, 2])),
    ],
)
def test_integrals_without_closed_form_fall_back_to_quadrature(integrand, lower, upper, reference):
    result = calculus(integrand, "integrate", lower=lower, upper=upper)
    assert result["numeric_fallback"] and not result["exact"] and not result["closed_form"]
    assert "Integral" not in result["result"]
    assert abs(float(value(result)) - float(reference())) < 1e-12
    assert float(result["error_estimate"]) < 1e-8


@pytest.mark.parametrize(
    "integrand,lower,upper,reference",
    [
        (
            "exp(-x^4)*cos(x)",
            "0",
            "oo",
            lambda: mpmath.quad(lambda s: mpmath.exp(-(s**4)) * mpmath.cos(s), [0, mpmath.inf]),
        ),
        ("sqrt(1 + x^3)", "0", "2", lambda: mpmath.quad(lambda s: mpmath.sqrt(1 + s**3), [0, 2])),
    ],
)
def test_special_function_closed_forms_are_checked_numerically(integrand, lower, upper, reference):
    # sympy answers these with Meijer G / hypergeometric functions; the value must still be right.
    result = calculus(integrand, "integrate", lower=lower, upper=upper)
    assert result["numeric_check"] == "agrees" and result["exact"]
    assert abs(float(result["numeric"]) - float(reference())) < 1e-12


def test_slow_symbolic_integration_gives_way_to_quadrature(monkeypatch):
    # sympy grinds for ~14 s on this one before giving up; past the budget, quadrature answers.
    import mcpfleet.servers.math.calculus as calculus_module

    monkeypatch.setattr(calculus_module, "SYMBOLIC_BUDGET", 0.5)
    result = calculus("exp(-x^2)*log(1 + x)", "integrate", lower="0", upper="1")
    assert result["numeric_fallback"] and "within 0.5 s" in result["note"]  # the budget, not sympy, ended it
    expected = mpmath.quad(lambda s: mpmath.exp(-(s**2)) * mpmath.log(1 + s), [0, 1])
    assert abs(float(value(result)) - float(expected)) < 1e-12


def test_time_budget_restores_an_outer_timer():
    import signal

    from mcpfleet.servers.math.budget import SymbolicTimeout, time_budget

    saved_handler = signal.getsignal(signal.SIGALRM)
    saved_timer = signal.getitimer(signal.ITIMER_REAL)  # pytest-timeout's, if it uses signals

    def outer(signum, frame):
        raise AssertionError("the outer timer fired")

    signal.signal(signal.SIGALRM, outer)
    signal.setitimer(signal.ITIMER_REAL, 100.0)
    try:
        with pytest.raises(SymbolicTimeout), time_budget(0.05):
            while True:
                pass
        remaining, _ = signal.getitimer(signal.ITIMER_REAL)
        assert signal.getsignal(signal.SIGALRM) is outer and 0 < remaining <= 100  # still armed, not extended
    finally:
        signal.setitimer(signal.ITIMER_REAL, *saved_timer)
        signal.signal(signal.SIGALRM, saved_handler)


def test_antiderivative_without_closed_form_is_not_passed_off_as_one():
    result = calculus("exp(x^3)*sin(x)", "integrate")
    assert result["result"] is None and result["closed_form"] is False and not result["exact"]
    assert "no closed-form antiderivative" in result["text"]


def test_divergent_integrals():
    result = calculus("1/x", "integrate", lower="1", upper="oo")
    assert result["converges"] is False and value(result) == oo
    singular = calculus("1/x", "integrate", lower="-1", upper="1")
    assert singular["converges"] is False and singular["result"] is None
    assert parse_expression(singular["principal_value"]["result"]) == 0


# --- limits -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expression,point,direction,expected",
    [
        ("sin(x)/x", "0", "+-", 1),
        ("(1 + 1/x)^x", "oo", "+-", sp.E),
        ("(1 - cos(x))/x^2", "0", "+-", sp.Rational(1, 2)),
        ("(x^2 - 1)/(x - 1)", "1", "+-", 2),
        ("x*log(x)", "0", "+", 0),
        ("1/x", "0", "+", oo),  # one-sided
        ("1/x", "0", "-", -oo),
        ("1/x^2", "0", "+-", oo),
        ("(3x^2 + 1)/(x^2 - 5)", "oo", "+-", 3),
        ("exp(-x)", "oo", "+-", 0),
        ("(1 + 2/n)^n", "oo", "+-", sp.exp(2)),
        ("x^x", "0", "+", 1),
    ],
)
def test_limits(expression, point, direction, expected):
    result = calculus(expression, "limit", point=point, direction=direction)
    assert result["exists"] is True
    assert equivalent(value(result), expected), result


def test_two_sided_limit_that_does_not_exist_reports_both_sides():
    result = calculus("1/x", "limit", point="0")
    assert result["exists"] is False and result["result"] is None
    assert parse_expression(result["left"]["result"]) == -oo
    assert parse_expression(result["right"]["result"]) == oo
    assert "does not exist" in result["text"]


def test_jump_discontinuity():
    result = calculus("abs(x)/x", "limit", point="0")
    assert result["exists"] is False
    assert (parse_expression(result["left"]["result"]), parse_expression(result["right"]["result"])) == (-1, 1)


def test_oscillating_integral_does_not_converge():
    result = calculus("sin(x)", "integrate", lower="0", upper="oo")
    assert result["converges"] is False and result["result"] is None and "oscillates" in result["text"]


def test_oscillating_limit():
    result = calculus("sin(1/x)", "limit", point="0")
    assert result["exists"] is False and "oscillates" in result["text"]


# --- series -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expression,kwargs,expected",
    [
        ("exp(x)", {}, sum(x**i / sp.factorial(i) for i in range(6))),
        ("sin(x)", {"n": 8}, x - x**3 / 6 + x**5 / 120 - x**7 / 5040),
        ("log(1 + x)", {"n": 5}, x - x**2 / 2 + x**3 / 3 - x**4 / 4),
        ("1/(1 - x)", {"n": 4}, 1 + x + x**2 + x**3),
        ("cos(x)", {"point": "pi", "n": 3}, -1 + (x - sp.pi) ** 2 / 2),
        ("sqrt(1 + x)", {"n": 3}, 1 + x / 2 - x**2 / 8),
    ],
)
def test_series(expression, kwargs, expected):
    result = calculus(expression, "series", **kwargs)
    assert sp.expand(value(result) - expected) == 0, result
    assert result["order_term"].startswith("O(")


def test_no_power_series_is_said_plainly():
    result = calculus("log(x)", "series", point="0")
    assert result["order_term"] is None and "no power-series expansion" in result["text"]


def test_series_order_term_and_terminating_expansion():
    assert calculus("exp(x)", "series")["order_term"] == "O(x**6)"
    polynomial = calculus("x^2 + 1", "series")
    assert polynomial["order_term"] is None and value(polynomial) == x**2 + 1


# --- sums -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expression,lower,upper,expected",
    [
        ("1/2^k", "0", "oo", 2),  # geometric
        ("k", "1", "n", n * (n + 1) / 2),  # arithmetic
        ("k^2", "1", "10", 385),
        ("1/k^2", "1", "oo", sp.pi**2 / 6),  # Basel
        ("1/k^4", "1", "oo", sp.pi**4 / 90),
        ("1/(k*(k + 1))", "1", "oo", 1),  # telescoping
        ("(-1)^(k + 1)/k", "1", "oo", sp.log(2)),
        ("2^k", "0", "n", 2 ** (n + 1) - 1),
        ("1/factorial(k)", "0", "oo", sp.E),
    ],
)
def test_sums(expression, lower, upper, expected):
    result = calculus(expression, "sum", variable="k", lower=lower, upper=upper)
    assert result["closed_form"] and result["exact"]
    assert equivalent(value(result), expected), result


def test_power_series_sum_with_a_parameter():
    result = calculus("x^k/factorial(k)", "sum", variable="k", lower="0", upper="oo")
    assert equivalent(value(result), sp.exp(x))


def test_divergent_sum():
    result = calculus("1/k", "sum", lower="1", upper="oo")
    assert result["converges"] is False and "diverges" in result["text"]


def test_sum_without_closed_form_is_numeric():
    result = calculus("1/(k^3 + 1)", "sum", lower="1", upper="oo")
    assert result["numeric_fallback"] and not result["closed_form"] and not result["exact"]
    expected = mpmath.nsum(lambda j: 1 / (j**3 + 1), [1, mpmath.inf])
    assert abs(float(value(result)) - float(expected)) < 1e-12


def test_oscillating_sum_without_closed_form_is_accurate():
    # sympy's own evalf gets this one wrong in the 5th digit; the answer is Clausen's Cl2(1).
    result = calculus("sin(k)/k^2", "sum", lower="1", upper="oo")
    assert result["numeric_fallback"] and abs(float(value(result)) - float(mpmath.clsin(2, 1))) < 1e-13


def test_long_finite_sum_without_closed_form_is_bounded_and_numeric():
    result = calculus("sin(k)", "sum", lower="1", upper="100000")
    expected = mpmath.fsum(mpmath.sin(j) for j in range(1, 100001))
    assert result["numeric_fallback"] and abs(float(value(result)) - float(expected)) < 1e-9
    too_many = calculus("sin(k)", "sum", lower="1", upper="10^9")
    assert too_many["result"] is None and "too many" in too_many["text"]


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expression,operation,kwargs,message",
    [
        ("x", "differentiate twice", {}, "valid operations: diff, integrate, limit, series, sum"),
        ("x^2*y", "diff", {}, "several symbols"),
        ("a*x + b", "integrate", {}, "pass variable="),
        ("x", "diff", {"order": 21}, "between 1 and 20"),
        ("x", "diff", {"order": 0}, "between 1 and 20"),
        ("exp(x)", "series", {"n": 31}, "between 1 and 30"),
        ("sin(x)/x", "limit", {}, "needs point"),
        ("x", "limit", {"point": "0", "direction": "up"}, "direction"),
        ("x", "integrate", {"lower": "0"}, "both lower and upper"),
        ("x", "integrate", {"lower": "0", "upper": "x"}, "must not contain"),
        ("k", "sum", {"lower": "1"}, "needs lower and upper"),
        ("x^", "diff", {}, "could not understand"),
    ],
)
def test_bad_calculus_input(expression, operation, kwargs, message):
    with pytest.raises(MathInputError, match=message):
        calculus(expression, operation, **kwargs)


# --- ODEs -------------------------------------------------------------------------------------


def rhs(result: dict, index: int = 0) -> sp.Expr:
    return parse_expression(result["solutions"][index]["rhs"]["result"])


def residual(solution: sp.Expr, ode_of: callable, var: sp.Symbol = x) -> sp.Expr:
    """ode_of(u, var) is the ODE's left side minus right side for a candidate u(var)."""
    return sp.simplify(ode_of(solution, var))


def test_exponential_growth():
    result = ode("y' = y", "y")
    assert result["solved"] and result["order"] == 1 and result["constants"] == ["C1"]
    assert equivalent(rhs(result), C1 * sp.exp(x))
    assert result["solutions"][0]["result"].startswith("Eq(y(x)")


def test_harmonic_oscillator_with_initial_conditions_is_sin():
    result = ode("y'' + y = 0", "y", {"y(0)": "0", "y'(0)": "1"})
    assert equivalent(rhs(result), sp.sin(x)) and result["constants"] == []
    assert "nth_linear_constant_coeff_homogeneous" in result["classification"]


@pytest.mark.parametrize(
    "equation,function,ode_of,order",
    [
        ("y'' - 3y' + 2y = 0", "y", lambda u, v: u.diff(v, 2) - 3 * u.diff(v) + 2 * u, 2),
        ("y' + 2y = exp(x)", "y", lambda u, v: u.diff(v) + 2 * u - sp.exp(v), 1),  # first-order linear
        ("f''(t) + 4 f(t) = sin(t)", "f", lambda u, v: u.diff(v, 2) + 4 * u - sp.sin(v), 2),  # forced
        ("dy/dx = x*y", "y", lambda u, v: u.diff(v) - v * u, 1),  # Leibniz notation
        ("d^2y/dx^2 = -4y", "y", lambda u, v: u.diff(v, 2) + 4 * u, 2),
        ("diff(y(x), x) = y(x)", "y(x)", lambda u, v: u.diff(v) - u, 1),  # diff() notation
        ("Derivative(y(x), x, 2) + y(x) = x", "y", lambda u, v: u.diff(v, 2) + u - v, 2),
        ("y''' - y' = 0", "y", lambda u, v: u.diff(v, 3) - u.diff(v), 3),
        (
            "x^2 y'' + x y' - y = 0".replace("x y'", "x*y'").replace("x^2 y''", "x^2*y''"),
            "y",
            lambda u, v: v**2 * u.diff(v, 2) + v * u.diff(v) - u,
            2,
        ),  # Euler equation
        ("y' = y^2", "y", lambda u, v: u.diff(v) - u**2, 1),  # nonlinear
    ],
)
def test_general_solutions_satisfy_the_equation(equation, function, ode_of, order):
    result = ode(equation, function)
    assert result["solved"] and result["order"] == order
    var = sp.Symbol(result["independent_variable"])
    for index in range(len(result["solutions"])):
        assert residual(rhs(result, index), ode_of, var) == 0, result
    assert len(result["constants"]) == order


def test_forced_oscillator_uses_the_variable_from_the_equation():
    result = ode("f''(t) + 4 f(t) = sin(t)", "f")
    assert result["independent_variable"] == "t" and result["functions"] == ["f(t)"]


def test_first_order_linear_with_initial_value():
    result = ode("y' + 2y = exp(x)", "y", {"y(0)": "1"})
    assert equivalent(rhs(result), sp.exp(x) / 3 + 2 * sp.exp(-2 * x) / 3)


def test_initial_conditions_at_a_symbolic_point():
    result = ode("y'' + y = 0", "y", {"y(pi/2)": "2", "y'(pi/2)": "0"})
    assert equivalent(rhs(result), 2 * sp.sin(x))


def test_two_by_two_linear_system():
    result = ode(["x' = y", "y' = -x"], ["x", "y"], {"x(0)": "1", "y(0)": "0"})
    assert result["independent_variable"] == "t"
    by_function = {s["function"]: parse_expression(s["rhs"]["result"]) for s in result["solutions"]}
    assert equivalent(by_function["x(t)"], sp.cos(t)) and equivalent(by_function["y(t)"], -sp.sin(t))


def test_coupled_system_general_solution_satisfies_it():
    result = ode(["x'(t) = x(t) + y(t)", "y'(t) = 4x(t) + y(t)"], ["x", "y"])
    sol = {s["function"]: parse_expression(s["rhs"]["result"]) for s in result["solutions"]}
    u, w = sol["x(t)"], sol["y(t)"]
    assert sp.simplify(u.diff(t) - u - w) == 0 and sp.simplify(w.diff(t) - 4 * u - w) == 0


def test_ics_may_be_written_as_equations():
    result = ode("y'' + y = 0", "y", ["y(0) = 0", "y'(0) = 1"])
    assert equivalent(rhs(result), sp.sin(x))


@pytest.mark.parametrize(
    "equation,function,ics,message",
    [
        ("y = 2", "y", None, "no derivative"),
        ("y' < y", "y", None, "inequality"),
        ("y' = y(0)", "y", None, "go in ics"),
        ("y' = y", "y", {"z(0)": "1"}, "should look like"),
        ("y' = y", "2y", None, "not a function name"),
        ("y' = y", "sin", None, "constant or function name"),
        ("y' = y", "y(x)", {"y(x)": "1"}, "must be a value"),
        ("y' = y", ["y(x)", "z(t)"], None, "different variables"),
        ("y^(21) = y".replace("y^(21)", "y" + "'" * 21), "y", None, "order above 20"),
    ],
)
def test_bad_ode_input(equation, function, ics, message):
    with pytest.raises(MathInputError, match=message):
        ode(equation, function, ics)


@pytest.mark.parametrize(
    "call",
    [
        lambda: calculus("x^2", "integrate", lower="0", upper="1"),
        lambda: calculus("x^x", "integrate", lower="0", upper="1"),
        lambda: calculus("1/x", "integrate", lower="-1", upper="1"),
        lambda: calculus("exp(-x^4)*cos(x)", "integrate", lower="0", upper="oo"),
        lambda: calculus("1/x", "limit", point="0"),
        lambda: calculus("x", "limit", point="oo"),
        lambda: calculus("1/x", "limit", point="0", direction="+"),
        lambda: calculus("sin(1/x)", "limit", point="0"),
        lambda: calculus("exp(x)", "series"),
        lambda: calculus("1/(k^3+1)", "sum", lower="1", upper="oo"),
        lambda: calculus("sin(k)", "sum", lower="1", upper="5000"),
        lambda: ode(["x' = y", "y' = -x"], ["x", "y"]),
        lambda: ode("y'' + y = 0", "y(x)"),
        lambda: ode("y' = y", "y", {"y(0)": "1", "y(1)": "5"}),
    ],
)
def test_results_are_plain_data(call):
    import pickle

    from mcpfleet.common.workers import _load_plain

    result = call()
    assert _load_plain(pickle.dumps(result)) == result  # what the worker boundary accepts
    assert isinstance(result["text"], str) and result["text"]


def test_unsatisfiable_initial_conditions_are_reported():
    result = ode("y' = y", "y", {"y(0)": "1", "y(1)": "5"})
    assert result["solved"] is False and "initial conditions" in result["text"]
