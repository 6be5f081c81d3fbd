"""Mathematical text → sympy, without ever evaluating Python.

sympy's own `sympify`/`parse_expr` run `eval` on their input: with model-supplied text that is
remote code execution (`__import__('os').system(...)`). Here the text is parsed by Python's `ast`
module — which builds a tree and runs nothing — and the tree is walked with a whitelist:

- numbers (integers; decimals become exact rationals: 0.1 is 1/10), names, `+ - * / // % ** ^`,
  unary minus, comparisons (`= == != < <= > >=`), parenthesised tuples as function arguments;
- calls only of the functions in `FUNCTIONS`, positional arguments only;
- names are symbols (letters, digits, single underscores), or the constants in `CONSTANTS`.

Everything else — attribute access, subscripts, lambdas, strings, keyword arguments, starred
arguments, comprehensions, dunder names — is refused with a message saying what and where.
Sizes are bounded (text length, nesting, literal digits, the size of integer powers and
factorials) so that parsing itself can't be made to exhaust the process.
"""

from __future__ import annotations

import ast
import difflib
import math
import re
from collections.abc import Callable, Sequence
from typing import Any

import sympy as sp

from mcpfleet.common.text import clip

MAX_CHARS = 10_000
MAX_DEPTH = 60
MAX_LITERAL_DIGITS = 2_000
MAX_RESULT_DIGITS = 1_000_000  # integer powers/factorials above this are refused, not computed
MAX_MATRIX = 20
MAX_NAME = 32


class MathInputError(ValueError):
    """The input is not mathematics this server understands; the message says what and where."""


def _fn(f: Callable[..., Any], arity: tuple[int, int]) -> tuple[Callable[..., Any], tuple[int, int]]:
    return f, arity


def _log(x: sp.Expr, base: sp.Expr | None = None) -> sp.Expr:
    return sp.log(x) if base is None else sp.log(x, base)


def _root(x: sp.Expr, n: sp.Expr) -> sp.Expr:
    return sp.root(x, n)


FUNCTIONS: dict[str, tuple[Callable[..., Any], tuple[int, int]]] = {
    # elementary
    "sqrt": _fn(sp.sqrt, (1, 1)),
    "cbrt": _fn(sp.cbrt, (1, 1)),
    "root": _fn(_root, (2, 2)),
    "exp": _fn(sp.exp, (1, 1)),
    "log": _fn(_log, (1, 2)),
    "ln": _fn(sp.log, (1, 1)),
    "log10": _fn(lambda x: sp.log(x, 10), (1, 1)),
    "log2": _fn(lambda x: sp.log(x, 2), (1, 1)),
    "abs": _fn(sp.Abs, (1, 1)),
    "Abs": _fn(sp.Abs, (1, 1)),
    "sign": _fn(sp.sign, (1, 1)),
    "floor": _fn(sp.floor, (1, 1)),
    "ceiling": _fn(sp.ceiling, (1, 1)),
    "ceil": _fn(sp.ceiling, (1, 1)),
    "Min": _fn(sp.Min, (1, 20)),
    "Max": _fn(sp.Max, (1, 20)),
    "min": _fn(sp.Min, (1, 20)),
    "max": _fn(sp.Max, (1, 20)),
    "Mod": _fn(sp.Mod, (2, 2)),
    "mod": _fn(sp.Mod, (2, 2)),
    "re": _fn(sp.re, (1, 1)),
    "im": _fn(sp.im, (1, 1)),
    "conjugate": _fn(sp.conjugate, (1, 1)),
    "arg": _fn(sp.arg, (1, 1)),
    # trigonometric and hyperbolic
    "sin": _fn(sp.sin, (1, 1)),
    "cos": _fn(sp.cos, (1, 1)),
    "tan": _fn(sp.tan, (1, 1)),
    "cot": _fn(sp.cot, (1, 1)),
    "sec": _fn(sp.sec, (1, 1)),
    "csc": _fn(sp.csc, (1, 1)),
    "asin": _fn(sp.asin, (1, 1)),
    "acos": _fn(sp.acos, (1, 1)),
    "atan": _fn(sp.atan, (1, 1)),
    "arcsin": _fn(sp.asin, (1, 1)),
    "arccos": _fn(sp.acos, (1, 1)),
    "arctan": _fn(sp.atan, (1, 1)),
    "acot": _fn(sp.acot, (1, 1)),
    "asec": _fn(sp.asec, (1, 1)),
    "acsc": _fn(sp.acsc, (1, 1)),
    "atan2": _fn(sp.atan2, (2, 2)),
    "sinh": _fn(sp.sinh, (1, 1)),
    "cosh": _fn(sp.cosh, (1, 1)),
    "tanh": _fn(sp.tanh, (1, 1)),
    "coth": _fn(sp.coth, (1, 1)),
    "asinh": _fn(sp.asinh, (1, 1)),
    "acosh": _fn(sp.acosh, (1, 1)),
    "atanh": _fn(sp.atanh, (1, 1)),
    # combinatorics and number theory
    "factorial": _fn(lambda n: _guard_factorial(n), (1, 1)),
    "binomial": _fn(sp.binomial, (2, 2)),
    "gcd": _fn(sp.gcd, (2, 2)),
    "lcm": _fn(sp.lcm, (2, 2)),
    "isprime": _fn(lambda n: sp.true if _small_int(n, "isprime") and sp.isprime(n) else sp.false, (1, 1)),
    "prime": _fn(lambda n: sp.prime(n) if _small_int(n, "prime", 10**7) else None, (1, 1)),
    "fibonacci": _fn(lambda n: sp.fibonacci(n) if _small_int(n, "fibonacci", 10**5) else None, (1, 1)),
    "harmonic": _fn(sp.harmonic, (1, 2)),
    # special functions
    "gamma": _fn(sp.gamma, (1, 1)),
    "beta": _fn(sp.beta, (2, 2)),
    "erf": _fn(sp.erf, (1, 1)),
    "erfc": _fn(sp.erfc, (1, 1)),
    "zeta": _fn(sp.zeta, (1, 2)),
    "polygamma": _fn(sp.polygamma, (2, 2)),
    "digamma": _fn(sp.digamma, (1, 1)),
    "besselj": _fn(sp.besselj, (2, 2)),
    "bessely": _fn(sp.bessely, (2, 2)),
    "LambertW": _fn(sp.LambertW, (1, 2)),
    "Heaviside": _fn(sp.Heaviside, (1, 1)),
    "DiracDelta": _fn(sp.DiracDelta, (1, 1)),
    # functions that integrals and ODE solutions come back in, so results parse back
    "Si": _fn(sp.Si, (1, 1)),
    "Ci": _fn(sp.Ci, (1, 1)),
    "Ei": _fn(sp.Ei, (1, 1)),
    "li": _fn(sp.li, (1, 1)),
    "erfi": _fn(sp.erfi, (1, 1)),
    "fresnels": _fn(sp.fresnels, (1, 1)),
    "fresnelc": _fn(sp.fresnelc, (1, 1)),
    "uppergamma": _fn(sp.uppergamma, (2, 2)),
    "lowergamma": _fn(sp.lowergamma, (2, 2)),
    "polylog": _fn(sp.polylog, (2, 2)),
    "expint": _fn(sp.expint, (2, 2)),
    "RisingFactorial": _fn(sp.RisingFactorial, (2, 2)),
    "loggamma": _fn(sp.loggamma, (1, 1)),
    # unevaluated operators: evaluated by the tools with .doit()
    "Sum": _fn(lambda f, *lims: sp.Sum(f, *lims), (2, 4)),
    "Product": _fn(lambda f, *lims: sp.Product(f, *lims), (2, 4)),
    "Integral": _fn(lambda f, *lims: sp.Integral(f, *lims), (1, 4)),
    "Derivative": _fn(lambda f, *vs: sp.Derivative(f, *vs), (2, 4)),
    "Limit": _fn(lambda f, x, x0: sp.Limit(f, x, x0), (3, 3)),
}

CONSTANTS: dict[str, sp.Basic] = {
    "pi": sp.pi,
    "Pi": sp.pi,
    "E": sp.E,
    "e": sp.E,
    "I": sp.I,
    "oo": sp.oo,
    "inf": sp.oo,
    "infinity": sp.oo,
    "Infinity": sp.oo,
    "EulerGamma": sp.EulerGamma,
    "GoldenRatio": sp.GoldenRatio,
    "phi": sp.GoldenRatio,
    "Catalan": sp.Catalan,
    "true": sp.true,
    "false": sp.false,
    "True": sp.true,
    "False": sp.false,
    "zoo": sp.zoo,
    "nan": sp.nan,
}

_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
# A number literal directly followed by a name or bracket: implicit multiplication (2x, 3(x+1)).
NUMBER_BEFORE_NAME = re.compile(
    r"((?<![A-Za-z_\d.])(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)[ \t]*(?=[A-Za-z(])(?![eE][+-]?\d)"
)
# A closing bracket followed by a name, number or bracket: (x+1)y, sqrt(2)x, sin(x) cos(x).
_BRACKET_BEFORE_TERM = re.compile(r"\)[ \t]*(?=[A-Za-z0-9(])")
_SINGLE_EQUALS = re.compile(r"(?<![<>=!])=(?!=)")


def parse_expression(text: str) -> sp.Expr:
    """An expression (no `=` or comparison)."""
    result = _parse(text)
    if isinstance(result, (sp.Rel, sp.logic.boolalg.BooleanAtom)) and not isinstance(result, sp.Expr):
        raise MathInputError(f"expected an expression, got a comparison or truth value: {_quoted(text)}")
    return result


def parse_statement(text: str) -> sp.Basic:
    """An expression, an equation `a = b` (or `a == b`), or an inequality `<`, `<=`, `>`, `>=`, `!=`."""
    text = _check_text(text)
    parts = _SINGLE_EQUALS.split(text)
    if len(parts) > 2:
        raise MathInputError(f"more than one '=' in {_quoted(text)}; give each equation separately")
    if len(parts) == 2:
        lhs, rhs = (p.strip() for p in parts)
        if not lhs or not rhs:
            raise MathInputError(f"{_quoted(text)} is not an equation: one side of '=' is empty")
        return sp.Eq(parse_expression(lhs), parse_expression(rhs), evaluate=False)
    return _parse(text)


def parse_symbol(name: str) -> sp.Symbol:
    if not isinstance(name, str) or not _NAME_RE.match(name.strip()) or "__" in name:
        raise MathInputError(f"{name!r} is not a variable name (letters, digits and single underscores)")
    name = name.strip()
    if len(name) > MAX_NAME:
        raise MathInputError(f"variable name {name[:40]!r}… is longer than {MAX_NAME} characters")
    if name in CONSTANTS or name in FUNCTIONS:
        raise MathInputError(f"{name!r} is a constant or function name, not a variable")
    return sp.Symbol(name)


def parse_symbols(names: Sequence[str] | str | None) -> list[sp.Symbol]:
    """Variables from a list or a comma/space separated string; None or empty gives []."""
    if names is None:
        return []
    if isinstance(names, str):
        names = [n for n in re.split(r"[,\s]+", names) if n]
    if len(names) > MAX_MATRIX:
        raise MathInputError(f"at most {MAX_MATRIX} variables")
    return [parse_symbol(n) for n in names]


def parse_matrix(value: str | Sequence[Any]) -> sp.Matrix:
    """A matrix from nested lists (entries: numbers or expressions) or the same written as text.

    A flat list is a column vector. At most 20×20.
    """
    if isinstance(value, str):
        value = _matrix_literal(_check_text(value))
    if not isinstance(value, (list, tuple)) or not value:
        raise MathInputError("a matrix is a non-empty list of rows, e.g. [[1, 2], [3, 4]]")
    rows = [list(r) if isinstance(r, (list, tuple)) else [r] for r in value]
    if len(rows) > MAX_MATRIX or any(len(r) > MAX_MATRIX for r in rows):
        raise MathInputError(f"matrices are limited to {MAX_MATRIX}×{MAX_MATRIX}")
    width = len(rows[0])
    if width == 0 or any(len(r) != width for r in rows):
        raise MathInputError("every row of a matrix must have the same, non-zero number of entries")
    return sp.Matrix([[_entry(e) for e in r] for r in rows])


# --- internals --------------------------------------------------------------------------------


def _check_text(text: Any) -> str:
    if not isinstance(text, str):
        raise MathInputError(f"expected text, got {type(text).__name__}")
    if len(text) > MAX_CHARS:
        raise MathInputError(f"input is {len(text)} characters; the limit is {MAX_CHARS}")
    if not text.strip():
        raise MathInputError("empty input")
    return text.strip()


def _quoted(text: str, n: int = 60) -> str:
    """`text` as a quoted snippet for an error message (at most n characters of it)."""
    return repr(clip(text, n))


def _entry(e: Any) -> sp.Expr:
    if isinstance(e, bool):
        raise MathInputError("matrix entries must be numbers or expressions, not true/false")
    if isinstance(e, int):
        return sp.Integer(e)
    if isinstance(e, float):
        if not math.isfinite(e):
            raise MathInputError("matrix entries must be finite numbers")
        return sp.Rational(repr(e))
    if isinstance(e, str):
        return parse_expression(e)
    raise MathInputError(f"matrix entry of type {type(e).__name__} is not a number or expression")


def _matrix_literal(text: str) -> list:
    tree = _ast(text)

    def rows(node: ast.AST) -> Any:
        if isinstance(node, (ast.List, ast.Tuple)):
            return [rows(e) for e in node.elts]
        return ast.get_source_segment(text, node) or ""

    if not isinstance(tree.body, (ast.List, ast.Tuple)):
        raise MathInputError("a matrix is written as a list of rows, e.g. [[1, 2], [3, 4]]")
    return rows(tree.body)


def _prepare(text: str) -> str:
    # ^ is power in mathematics (as a Python operator it would bind looser than -).
    text = text.replace("^", "**")
    # Implicit multiplication after a number: 2x, 3(x+1), 2pi. Not inside names (x2y) or 1e5.
    text = NUMBER_BEFORE_NAME.sub(r"\1*", text)
    return _BRACKET_BEFORE_TERM.sub(")*", text)


def _ast(text: str) -> ast.Expression:
    try:
        return ast.parse(_prepare(text), mode="eval")
    except SyntaxError as exc:
        where = f" at position {exc.offset}" if exc.offset else ""
        raise MathInputError(f"could not understand {_quoted(text)}{where}: {exc.msg}") from None
    except (RecursionError, MemoryError, ValueError):
        raise MathInputError(f"could not understand {_quoted(text)}: nested too deeply") from None


def _parse(text: str) -> sp.Basic:
    text = _check_text(text)
    tree = _ast(text)
    return _Converter(text).convert(tree.body, 0)


class _Converter:
    def __init__(self, text: str) -> None:
        self.text = text

    def fail(self, node: ast.AST, what: str) -> MathInputError:
        pos = getattr(node, "col_offset", None)
        snippet = ast.get_source_segment(_prepare(self.text), node) or ""
        at = f" at position {pos}" if pos is not None else ""
        near = f" ({_quoted(snippet, 40)})" if snippet else ""
        return MathInputError(f"{what}{at}{near}")

    def convert(self, node: ast.AST, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise self.fail(node, f"expression nested deeper than {MAX_DEPTH} levels")
        method = getattr(self, f"_{type(node).__name__}", None)
        if method is None:
            raise self.fail(node, _refusal(node))
        return method(node, depth + 1)

    def _Constant(self, node: ast.Constant, depth: int) -> Any:
        value = node.value
        if isinstance(value, bool) or value is None:
            raise self.fail(node, "True/False/None are not numbers")
        if isinstance(value, int):
            if value.bit_length() > MAX_LITERAL_DIGITS * 3.33:
                raise self.fail(node, f"number literal longer than {MAX_LITERAL_DIGITS} digits")
            return sp.Integer(value)
        if isinstance(value, float):
            source = ast.get_source_segment(_prepare(self.text), node) or repr(value)
            if len(source) > MAX_LITERAL_DIGITS or not math.isfinite(value):
                raise self.fail(node, "number literal too long or not finite")
            return sp.Rational(source.replace("_", ""))  # exact: 0.1 is 1/10
        if isinstance(value, complex):
            return sp.Rational(repr(value.imag)) * sp.I
        raise self.fail(node, "text strings are not mathematics")

    def _Name(self, node: ast.Name, depth: int) -> Any:
        name = node.id
        if name in CONSTANTS:
            return CONSTANTS[name]
        if name in FUNCTIONS:
            raise self.fail(node, f"{name} is a function: call it, e.g. {name}(x)")
        if "__" in name or name.startswith("_") or len(name) > MAX_NAME:
            raise self.fail(node, f"{name[:40]!r} is not an allowed name")
        return sp.Symbol(name)

    def _UnaryOp(self, node: ast.UnaryOp, depth: int) -> Any:
        operand = self.convert(node.operand, depth)
        if isinstance(node.op, ast.USub):
            return -operand
        if isinstance(node.op, ast.UAdd):
            return operand
        if isinstance(node.op, ast.Not):
            return sp.Not(operand)
        raise self.fail(node, "the operator ~ is not mathematics here")

    def _BinOp(self, node: ast.BinOp, depth: int) -> Any:
        left, right = self.convert(node.left, depth), self.convert(node.right, depth)
        for side in (left, right):
            if not isinstance(side, sp.Expr):
                raise self.fail(node, "arithmetic needs numbers or expressions on both sides")
        op = node.op
        if isinstance(op, ast.Add):
            return left + right
        if isinstance(op, ast.Sub):
            return left - right
        if isinstance(op, ast.Mult):
            return left * right
        if isinstance(op, ast.Div):
            return left / right
        if isinstance(op, ast.Pow):
            _guard_power(left, right, self, node)
            return left**right
        if isinstance(op, ast.FloorDiv):
            return sp.floor(left / right)
        if isinstance(op, ast.Mod):
            return sp.Mod(left, right)
        raise self.fail(node, f"the operator {type(op).__name__} is not supported")

    def _Compare(self, node: ast.Compare, depth: int) -> Any:
        if len(node.ops) != 1:
            raise self.fail(node, "chained comparisons like a < x < b: give two inequalities")
        left, right = self.convert(node.left, depth), self.convert(node.comparators[0], depth)
        ops = {ast.Eq: sp.Eq, ast.NotEq: sp.Ne, ast.Lt: sp.Lt, ast.LtE: sp.Le, ast.Gt: sp.Gt, ast.GtE: sp.Ge}
        rel = ops.get(type(node.ops[0]))
        if rel is None:
            raise self.fail(node, "only =, ==, !=, <, <=, >, >= compare")
        return rel(left, right, evaluate=False) if rel in (sp.Eq, sp.Ne) else rel(left, right)

    def _Tuple(self, node: ast.Tuple, depth: int) -> Any:
        if not 1 <= len(node.elts) <= 4:
            raise self.fail(node, "a tuple here holds 1 to 4 entries, e.g. (k, 1, oo)")
        return sp.Tuple(*(self.convert(e, depth) for e in node.elts))

    def _Call(self, node: ast.Call, depth: int) -> Any:
        if not isinstance(node.func, ast.Name):
            raise self.fail(node, "only named functions can be called, e.g. sin(x)")
        name = node.func.id
        if name not in FUNCTIONS:
            close = difflib.get_close_matches(name, FUNCTIONS, n=3)
            hint = f"did you mean {' or '.join(close)}? " if close else ""
            raise self.fail(node, f"unknown function {name!r}; {hint}known functions: {', '.join(sorted(FUNCTIONS))}")
        if node.keywords:
            raise self.fail(node, f"{name}() takes positional arguments only")
        if any(isinstance(a, ast.Starred) for a in node.args):
            raise self.fail(node, "* arguments are not allowed")
        func, (low, high) = FUNCTIONS[name]
        if not low <= len(node.args) <= high:
            wanted = str(low) if low == high else f"{low} to {high}"
            raise self.fail(node, f"{name}() takes {wanted} argument(s), got {len(node.args)}")
        args = [self.convert(a, depth) for a in node.args]
        try:
            return func(*args)
        except MathInputError:
            raise
        except (TypeError, ValueError, AttributeError) as exc:
            raise self.fail(node, f"{name}() cannot take these arguments: {str(exc)[:200]}") from None


def _refusal(node: ast.AST) -> str:
    kind = type(node).__name__
    reasons = {
        "Attribute": "attribute access (a.b) is not allowed",
        "Subscript": "indexing (a[b]) is not allowed",
        "Lambda": "lambda functions are not allowed",
        "List": "lists are only allowed as matrices",
        "Dict": "dictionaries are not mathematics",
        "Set": "sets are not supported",
        "ListComp": "comprehensions are not allowed",
        "GeneratorExp": "comprehensions are not allowed",
        "SetComp": "comprehensions are not allowed",
        "DictComp": "comprehensions are not allowed",
        "IfExp": "conditional expressions are not allowed; use Piecewise-free formulas",
        "NamedExpr": "assignment (:=) is not allowed",
        "JoinedStr": "text strings are not mathematics",
        "Starred": "* is not allowed here",
        "BoolOp": "and/or are not supported; give separate conditions",
        "Await": "not mathematics",
        "Yield": "not mathematics",
    }
    return reasons.get(kind, f"{kind} is not mathematics this server understands")


def _small_int(n: Any, name: str, limit: int = 10**12) -> bool:
    if not (isinstance(n, sp.Integer) and 0 <= n <= limit):
        raise MathInputError(f"{name}() needs a whole number between 0 and {limit}")
    return True


def _guard_factorial(n: Any) -> Any:
    # factorial(10**12) would try to build a number with ~10^13 digits; refuse it up front.
    if isinstance(n, sp.Integer) and n > 200_000:
        raise MathInputError(
            f"factorial({n}) has more than {MAX_RESULT_DIGITS} digits; use gamma/log forms or loggamma"
        )
    return sp.factorial(n)


def _guard_power(base: Any, exponent: Any, conv: _Converter, node: ast.AST) -> None:
    """Refuse integer powers whose value would be astronomically large (9**9**9**9)."""
    if not (isinstance(exponent, (sp.Integer, sp.Rational)) and isinstance(base, (sp.Integer, sp.Rational))):
        return
    b = abs(base.p) if base.p != 0 else 1
    q = max(abs(base.q), 1)
    magnitude = max(math.log10(b) if b > 1 else 0.0, math.log10(q) if q > 1 else 0.0)
    if magnitude and abs(exponent) * magnitude > MAX_RESULT_DIGITS:
        digits = abs(exponent) * magnitude
        raise conv.fail(node, f"this power would have about {float(digits):.3g} digits (limit {MAX_RESULT_DIGITS})")
