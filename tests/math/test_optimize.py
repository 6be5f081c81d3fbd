"""Optimisation (`servers/math/optimize.py`): textbook LPs, an integer program, nonlinear problems.

Numeric answers are compared with tolerances; exact LP optima are parsed back and compared as
sympy numbers.
"""

from __future__ import annotations

import math

import pytest
import sympy as sp

from math_testing import assert_plain
from mcpfleet.servers.math.optimize import optimize
from mcpfleet.servers.math.parser import MathInputError, parse_expression


def run(*args, **kwargs):
    result = optimize(*args, **kwargs)
    assert_plain(result)
    assert result["text"]
    return result


def exact(result, value, point):
    assert result["exact"] is True
    assert parse_expression(result["exact_value"]["result"]) == sp.nsimplify(value)
    for name, v in point.items():
        assert parse_expression(result["exact_point"][name]) == sp.nsimplify(v)


# --- linear programs ------------------------------------------------------------------------------


def test_textbook_lp_max():
    # Hillier & Lieberman's Wyndor Glass: max 3x + 5y, x <= 4, 2y <= 12, 3x + 2y <= 18 → 36 at (2, 6)
    r = run("3x + 5y", ["x", "y"], ["x <= 4", "2y <= 12", "3x + 2y <= 18", "x >= 0", "y >= 0"], goal="max")
    assert r["status"] == "optimal" and r["problem_type"] == "linear" and r["goal"] == "max"
    assert r["value"] == pytest.approx(36)
    assert r["point"] == pytest.approx({"x": 2, "y": 6})
    exact(r, 36, {"x": 2, "y": 6})


def test_lp_min():
    # min 2x + 3y, x + y >= 4, x + 3y >= 6, x, y >= 0 → 9 at (3, 1)
    r = run("2x + 3y", "x, y", ["x + y >= 4", "x + 3y >= 6"], bounds={"x": [0, None], "y": [0, None]})
    assert r["status"] == "optimal" and r["value"] == pytest.approx(9)
    exact(r, 9, {"x": 3, "y": 1})


def test_lp_fractional_vertex_is_exact():
    # max x + y, 2x + y <= 4, x + 3y <= 6 → (6/5, 8/5), value 14/5
    r = run("x + y", ["x", "y"], ["2x + y <= 4", "x + 3y <= 6", "x >= 0", "y >= 0"], goal="maximize")
    assert r["value"] == pytest.approx(2.8)
    exact(r, sp.Rational(14, 5), {"x": sp.Rational(6, 5), "y": sp.Rational(8, 5)})


def test_lp_with_equality():
    # min x + y, x + 2y = 4, x - y <= 1, x, y >= 0 → 2 at (0, 2)
    r = run("x + y", ["x", "y"], ["x + 2y = 4", "x - y <= 1", "x >= 0", "y >= 0"])
    assert r["value"] == pytest.approx(2)
    exact(r, 2, {"x": 0, "y": 2})


def test_lp_bounds():
    r = run("x + 2y", ["x", "y"], ["x + y <= 4"], goal="max", bounds={"x": [0, 3], "y": [0, 2]})
    assert r["value"] == pytest.approx(6)
    exact(r, 6, {"x": 2, "y": 2})


def test_lp_variables_are_free_by_default():
    # scipy's linprog would assume x >= 0 and answer 0; here x is free, so -5.
    r = run("x", ["x"], ["x >= -5"])
    assert r["value"] == pytest.approx(-5)
    exact(r, -5, {"x": -5})


def test_lp_decimal_coefficients_exact():
    # max 0.5x + 0.3y, x + y <= 10, x <= 6, y >= 0 → 0.5*6 + 0.3*4 = 4.2
    r = run("0.5x + 0.3y", ["x", "y"], ["x + y <= 10", "x <= 6", "y >= 0"], goal="max")
    assert r["value"] == pytest.approx(4.2)
    exact(r, sp.Rational(21, 5), {"x": 6, "y": 4})


def test_lp_objective_constant_and_three_variables():
    # Classic: max 2x + 3y + 4z + 10, x + y + z <= 10, x <= 5, y <= 3, z <= 4, all >= 0 → 2*3+9+16+10 = 41
    r = run(
        "2x + 3y + 4z + 10",
        ["x", "y", "z"],
        ["x + y + z <= 10", "x <= 5", "y <= 3", "z <= 4"],
        goal="max",
        bounds={"x": [0, None], "y": [0, None], "z": [0, None]},
    )
    assert r["value"] == pytest.approx(41)
    exact(r, 41, {"x": 3, "y": 3, "z": 4})


def test_lp_transportation():
    # Two supplies (20, 30), two demands (25, 25); costs [[8, 6], [4, 9]] → ship 25 from s2 to d1,
    # 20 from s1 to d2, 5 from s2 to d2: 25*4 + 20*6 + 5*9 = 265.
    r = run(
        "8a + 6b + 4c + 9d",
        ["a", "b", "c", "d"],
        ["a + b <= 20", "c + d <= 30", "a + c = 25", "b + d = 25"],
        bounds={k: [0, None] for k in "abcd"},
    )
    assert r["value"] == pytest.approx(265)
    exact(r, 265, {"a": 0, "b": 20, "c": 25, "d": 5})


def test_lp_infeasible():
    r = run("x + y", ["x", "y"], ["x + y <= 1", "x + y >= 2"])
    assert r["status"] == "infeasible" and r["success"] is False
    assert r["value"] is None and r["point"] is None and r["exact"] is False


def test_lp_unbounded():
    r = run("x + y", ["x", "y"], ["x - y <= 1", "x >= 0", "y >= 0"], goal="max")
    assert r["status"] == "unbounded" and r["success"] is False
    r = run("x", ["x"])
    assert r["status"] == "unbounded"


def test_lp_constant_false_constraint_is_infeasible():
    r = run("x", ["x"], ["1 >= 2"])
    assert r["status"] == "infeasible"


# --- integer programs -----------------------------------------------------------------------------


def test_knapsack():
    # values 60, 100, 120; weights 10, 20, 30; capacity 50 → take items 2 and 3: 220
    r = run(
        "60a + 100b + 120c",
        ["a", "b", "c"],
        ["10a + 20b + 30c <= 50"],
        goal="max",
        bounds={"a": [0, 1], "b": [0, 1], "c": [0, 1]},
        integer=["a", "b", "c"],
    )
    assert r["status"] == "optimal" and r["problem_type"] == "mixed_integer_linear"
    assert r["value"] == pytest.approx(220)
    assert r["point"] == {"a": 0.0, "b": 1.0, "c": 1.0}
    exact(r, 220, {"a": 0, "b": 1, "c": 1})


def test_integer_program_differs_from_relaxation():
    cons = ["6x + 4y <= 24", "x + 2y <= 6", "x >= 0", "y >= 0"]
    relaxed = run("5x + 4y", ["x", "y"], cons, goal="max")
    exact(relaxed, 21, {"x": 3, "y": sp.Rational(3, 2)})
    integral = run("5x + 4y", ["x", "y"], cons, goal="max", integer=["x", "y"])
    exact(integral, 20, {"x": 4, "y": 0})


def test_mixed_integer():
    # max x + y, y <= 2.5 (continuous), x integer <= 3.7 → x = 3, y = 5/2
    r = run("x + y", ["x", "y"], ["x <= 3.7", "y <= 2.5"], goal="max", integer=["x"])
    assert r["value"] == pytest.approx(5.5)
    exact(r, sp.Rational(11, 2), {"x": 3, "y": sp.Rational(5, 2)})


def test_integer_infeasible():
    r = run("x", ["x"], ["2x = 1"], integer=["x"])
    assert r["status"] == "infeasible"


# --- nonlinear ------------------------------------------------------------------------------------


def test_rosenbrock():
    r = run("(1 - x)^2 + 100(y - x^2)^2", ["x", "y"])
    assert r["status"] == "optimal" and r["problem_type"] == "nonlinear" and r["exact"] is False
    assert r["point"]["x"] == pytest.approx(1, abs=1e-5) and r["point"]["y"] == pytest.approx(1, abs=1e-5)
    assert r["value"] == pytest.approx(0, abs=1e-9)


def test_min_norm_on_line():
    r = run("x^2 + y^2", ["x", "y"], ["x + y = 1"])
    assert r["value"] == pytest.approx(0.5, abs=1e-8)
    assert r["point"] == pytest.approx({"x": 0.5, "y": 0.5}, abs=1e-6)


def test_max_product_with_fixed_sum():
    r = run("x*y", ["x", "y"], ["x + y = 10"], goal="max")
    assert r["value"] == pytest.approx(25, abs=1e-8)
    assert r["point"] == pytest.approx({"x": 5, "y": 5}, abs=1e-6)


def test_max_linear_on_disk_is_nonlinear():
    r = run("x + y", ["x", "y"], ["x^2 + y^2 <= 1"], goal="max")
    assert r["problem_type"] == "nonlinear"
    assert r["value"] == pytest.approx(math.sqrt(2), abs=1e-7)
    assert r["point"]["x"] == pytest.approx(math.sqrt(0.5), abs=1e-6)


def test_shifted_paraboloid():
    r = run("(x - 3)^2 + (y + 1)^2 + 2", ["x", "y"])
    assert r["value"] == pytest.approx(2, abs=1e-9)
    assert r["point"] == pytest.approx({"x": 3, "y": -1}, abs=1e-6)


def test_active_nonlinear_bound():
    r = run("x^2", ["x"], ["x >= 2"])
    assert r["value"] == pytest.approx(4, abs=1e-8) and r["point"]["x"] == pytest.approx(2, abs=1e-7)


def test_cosh_minimum():
    r = run("exp(x) + exp(-x)", "x")
    assert r["value"] == pytest.approx(2, abs=1e-9) and r["point"]["x"] == pytest.approx(0, abs=1e-6)


def test_x_log_x_with_bounds():
    r = run("x*log(x)", ["x"], bounds={"x": [0.01, 10]})
    assert r["value"] == pytest.approx(-1 / math.e, abs=1e-8)
    assert r["point"]["x"] == pytest.approx(1 / math.e, abs=1e-5)


def test_multistart_finds_global_minimum_of_double_well():
    # x^4 - 3x^2 + x has a local minimum near 1.13 and the global one near -1.30 (value ≈ -3.514).
    r = run("x^4 - 3x^2 + x", ["x"])
    assert r["point"]["x"] == pytest.approx(-1.3008395, abs=1e-5)
    assert r["value"] == pytest.approx(-3.5139, abs=1e-3)


def test_nonlinear_unbounded():
    r = run("x^3", ["x"])
    assert r["status"] == "unbounded" and r["success"] is False


def test_nonlinear_infeasible():
    r = run("x^2 + y^2", ["x", "y"], ["x^2 + y^2 <= -1"])
    assert r["status"] == "no_feasible_point_found" and r["point"] is None


def test_deterministic():
    args = ("sin(x) + cos(y) + 0.1x^2", ["x", "y"])
    assert run(*args) == run(*args)


# --- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"goal": "biggest"}, "goal"),
        ({"integer": ["z"]}, "not among the variables"),
        ({"bounds": {"z": [0, 1]}}, "not among the variables"),
        ({"bounds": {"x": [2, 1]}}, "above upper"),
        ({"bounds": {"x": [0]}}, r"\[lower, upper\]"),
        ({"constraints": ["x + y"]}, "not a comparison"),
        ({"constraints": ["x != 1"]}, "!="),
        ({"constraints": ["x + a <= 1"]}, "a, not among the variables"),
        ({"constraints": [3]}, "string"),
    ],
)
def test_bad_input(kwargs, match):
    base = {"objective": "x + y", "variables": ["x", "y"], "constraints": ["x >= 0", "y >= 0", "x + y <= 3"]}
    with pytest.raises(MathInputError, match=match):
        optimize(**{**base, **kwargs})


def test_undeclared_symbol_in_objective():
    with pytest.raises(MathInputError, match="uses c"):
        optimize("c*x", ["x"])


def test_integer_needs_linear():
    with pytest.raises(MathInputError, match="integer"):
        optimize("x^2", ["x"], integer=["x"])


def test_objective_is_parsed_safely():
    with pytest.raises(MathInputError):
        optimize("__import__('os').getcwd()", ["x"])
