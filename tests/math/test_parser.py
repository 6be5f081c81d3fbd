"""The safe math parser: what it accepts, and that no input can make it run code."""

from __future__ import annotations

import builtins
import contextlib
import os
import subprocess

import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from mcpfleet.servers.math.parser import (
    MathInputError,
    parse_expression,
    parse_matrix,
    parse_statement,
    parse_symbols,
)

x, y, k = sp.symbols("x y k")


@pytest.mark.parametrize(
    "text,expected",
    [
        ("2x + 3", 2 * x + 3),
        ("x^2 - 4", x**2 - 4),
        ("-x^2", -(x**2)),
        ("3(x+1)(x-1)", 3 * (x + 1) * (x - 1)),
        ("2pi", 2 * sp.pi),
        ("0.1 + 0.2", sp.Rational(3, 10)),
        ("1e5*x", 100000 * x),
        ("2.5e-3", sp.Rational(1, 400)),
        ("e^x", sp.exp(x)),
        ("E**(I*pi)", -1),
        ("ln(x) + log(x, 2)", sp.log(x) + sp.log(x) / sp.log(2)),
        ("sqrt(16)", 4),
        ("abs(-3)", 3),
        ("7 // 2", 3),
        ("7 % 3", 1),
        ("arcsin(1)", sp.pi / 2),
        ("factorial(5)", 120),
        ("Sum(1/k^2, (k, 1, oo))", sp.Sum(1 / k**2, (k, 1, sp.oo))),
        ("x_1 + x_2", sp.Symbol("x_1") + sp.Symbol("x_2")),
    ],
)
def test_accepts_mathematical_syntax(text, expected):
    assert sp.simplify(parse_expression(text) - expected) == 0


def test_statements_equations_and_inequalities():
    assert parse_statement("x^2 = 4") == sp.Eq(x**2, 4, evaluate=False)
    assert parse_statement("x == 1") == sp.Eq(x, 1, evaluate=False)
    assert parse_statement("x <= 3") == sp.Le(x, 3)
    assert parse_statement("x != 2") == sp.Ne(x, 2, evaluate=False)
    assert parse_statement("x + y") == x + y


SYMPIFY_ESCAPES = [
    "__import__('os').system('touch /tmp/pwned')",
    "__import__('os')",
    "().__class__.__bases__[0].__subclasses__()",
    "().__class__.__mro__[1].__subclasses__()",
    "(lambda: __import__('os'))()",
    "getattr(x, '__class__')",
    "Symbol.__init__",
    "Symbol('x').__class__",
    "x.__class__",
    "exec('1')",
    "eval('1+1')",
    "open('/etc/passwd')",
    "globals()",
    "[c for c in ().__class__.__base__.__subclasses__()]",
    "sympify('x')",
    "x if 1 else y",
    "{'a': 1}",
    "f'{x}'",
    "sin(x=1)",
    "sin(*[1])",
    "(x := 3)",
    "x[0]",
    "__builtins__",
    "_x",
    "x__y",
    "b'bytes'",
    "...",
    "1 and 2",
    "S('x')",
]


@pytest.mark.parametrize("text", SYMPIFY_ESCAPES)
def test_known_sympify_escapes_are_refused_with_a_reason(text):
    with pytest.raises(MathInputError) as info:
        parse_statement(text)
    message = str(info.value)
    assert len(message) > 10 and "Traceback" not in message


def test_refusals_say_what_and_where():
    with pytest.raises(MathInputError, match=r"attribute access \(a.b\) is not allowed at position 0"):
        parse_expression("x.real")
    with pytest.raises(MathInputError, match="unknown function 'sinn'; did you mean sin"):
        parse_expression("sinn(x)")
    with pytest.raises(MathInputError, match=r"could not understand 'x \+\* 2' at position"):
        parse_expression("x +* 2")
    with pytest.raises(MathInputError, match="one side of '=' is empty"):
        parse_statement("x**2 =")
    with pytest.raises(MathInputError, match="more than one '='"):
        parse_statement("a = b = c")


@pytest.mark.parametrize(
    "text,message",
    [
        ("9**9**9**9", "digits"),
        ("10^(10^7)", "digits"),
        ("factorial(10**12)", "more than 1000000 digits"),
        ("x" * 10_001, "limit is 10000"),
        ("(" * 300 + "x" + ")" * 300, "nested"),
        ("1" * 2_500, "longer than 2000 digits"),
        ("", "empty input"),
    ],
)
def test_sizes_are_bounded_before_anything_is_computed(text, message):
    with pytest.raises(MathInputError, match=message):
        parse_statement(text)


def test_matrices_from_lists_and_text():
    assert parse_matrix([[1, "x"], [0.5, 2]]) == sp.Matrix([[1, x], [sp.Rational(1, 2), 2]])
    assert parse_matrix("[[1, 2], [3, 4]]") == sp.Matrix([[1, 2], [3, 4]])
    assert parse_matrix([1, 2, 3]).shape == (3, 1)
    with pytest.raises(MathInputError, match="same"):
        parse_matrix([[1, 2], [3]])
    with pytest.raises(MathInputError, match="20"):
        parse_matrix([[0] * 21])
    with pytest.raises(MathInputError):
        parse_matrix("[[__import__('os')]]")


def test_symbols():
    assert parse_symbols("x, y") == [x, y]
    assert parse_symbols(["x"]) == [x]
    for bad in ("__x", "x.y", "pi", "sin", "1x"):
        with pytest.raises(MathInputError):
            parse_symbols([bad])


@contextlib.contextmanager
def no_code_execution():
    """Any attempt to exec, eval, spawn or run a shell while parsing fails the test loudly."""

    def forbidden(*args, **kwargs):
        raise AssertionError(f"code execution attempted: {args[:1]}")

    saved = (os.system, subprocess.Popen, builtins.eval, builtins.exec)
    os.system, subprocess.Popen, builtins.eval, builtins.exec = (forbidden,) * 4
    try:
        yield
    finally:
        os.system, subprocess.Popen, builtins.eval, builtins.exec = saved


_ALPHABET = st.sampled_from(
    list("xy0123456789+-*/^()._=<>[]{}'\",:; ") + ["__", "import", "lambda", "class", "sin", "os", "getattr", "sqrt"]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_ALPHABET, max_size=40).map("".join))
def test_arbitrary_text_parses_or_is_refused_cleanly(text):
    try:
        with no_code_execution():
            result = parse_statement(text)
    except MathInputError:
        return
    assert isinstance(result, sp.Basic)


_ATOMS = st.one_of(st.integers(-50, 50).map(str), st.sampled_from(["x", "y"]))


def _expressions(depth: int = 3):
    if depth == 0:
        return _ATOMS
    sub = _expressions(depth - 1)
    return st.one_of(
        _ATOMS,
        st.tuples(sub, st.sampled_from(["+", "-", "*"]), sub).map(lambda t: f"({t[0]}) {t[1]} ({t[2]})"),
    )


@settings(max_examples=200, deadline=None)
@given(_expressions())
def test_arithmetic_means_what_python_arithmetic_means(text):
    # Evaluate the same text as Python integer arithmetic at a point (trusted here: our own text).
    parsed = parse_expression(text)
    value = eval(text, {"__builtins__": {}}, {"x": 3, "y": -7})
    assert parsed.subs({x: 3, y: -7}) == value
