"""Exact linear algebra (`servers/math/linalg.py`): known answers, checked symbolically.

Results are strings that the math parser re-reads; each check parses them back and compares with
sympy (a difference that simplifies to 0), never by string equality.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from math_testing import assert_plain, cpu_budget
from mcpfleet.servers.math.linalg import matrix
from mcpfleet.servers.math.parser import MathInputError, parse_expression, parse_matrix


def run(*args):
    result = matrix(*args)
    assert_plain(result)
    assert isinstance(result["text"], str) and result["text"]
    return result


def same(text: str, expected) -> bool:
    """Symbolic equivalence of a result string with an expected value."""
    diff = parse_expression(text) - sp.sympify(expected)
    return sp.simplify(diff) == 0


def as_matrix(out: dict) -> sp.Matrix:
    return parse_matrix(out["rows"])


# --- determinant ----------------------------------------------------------------------------------

DETS = [
    ([[1, 2], [3, 4]], -2),
    ([[2, 0, 0], [0, 3, 0], [0, 0, 4]], 24),
    ([[1, 2, 3], [4, 5, 6], [7, 8, 9]], 0),
    ([[6, 1, 1], [4, -2, 5], [2, 8, 7]], -306),
    ([["1", "1/2", "1/3"], ["1/2", "1/3", "1/4"], ["1/3", "1/4", "1/5"]], sp.Rational(1, 2160)),  # Hilbert 3
    ([[1, 1, 1], [1, 2, 4], [1, 3, 9]], 2),  # Vandermonde (2-1)(3-1)(3-2)
    ([[0.5, 0.25], [1, 1]], sp.Rational(1, 4)),  # decimals are exact
    ([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]], 1),
    ([[0, 1], [1, 0]], -1),
    ([["cos(t)", "-sin(t)"], ["sin(t)", "cos(t)"]], 1),  # rotation
    ([["sqrt(2)", 1], [1, "sqrt(2)"]], 1),
]


@pytest.mark.parametrize(("m", "expected"), DETS)
def test_det(m, expected):
    out = run(m, "det")
    assert same(out["determinant"]["result"], expected)


def test_det_symbolic():
    out = run([["a", "b"], ["c", "d"]], "det")
    a, b, c, d = sp.symbols("a b c d")
    assert sp.expand(parse_expression(out["determinant"]["result"]) - (a * d - b * c)) == 0


# --- inverse --------------------------------------------------------------------------------------

INVERTIBLE = [
    [[4, 7], [2, 6]],
    [[1, 2, 3], [0, 1, 4], [5, 6, 0]],
    [[2, -1, 0], [-1, 2, -1], [0, -1, 2]],
    [["1", "1/2", "1/3"], ["1/2", "1/3", "1/4"], ["1/3", "1/4", "1/5"]],
]


@pytest.mark.parametrize("m", INVERTIBLE)
def test_inverse_times_matrix_is_identity(m):
    out = run(m, "inverse")
    a = parse_matrix(m)
    inv = as_matrix(out["inverse"])
    assert (inv * a).applyfunc(sp.simplify) == sp.eye(a.rows)
    assert (a * inv).applyfunc(sp.simplify) == sp.eye(a.rows)


def test_inverse_known_values():
    out = run([[4, 7], [2, 6]], "inverse")
    assert as_matrix(out["inverse"]) == sp.Matrix(
        [[sp.Rational(3, 5), sp.Rational(-7, 10)], [sp.Rational(-1, 5), sp.Rational(2, 5)]]
    )
    hilbert = run([["1", "1/2", "1/3"], ["1/2", "1/3", "1/4"], ["1/3", "1/4", "1/5"]], "inverse")
    assert as_matrix(hilbert["inverse"]) == sp.Matrix([[9, -36, 30], [-36, 192, -180], [30, -180, 180]])


def test_inverse_symbolic():
    out = run([["a", "b"], ["c", "d"]], "inverse")
    a = parse_matrix([["a", "b"], ["c", "d"]])
    assert (as_matrix(out["inverse"]) * a).applyfunc(sp.simplify) == sp.eye(2)
    assert "note" in out


def test_inverse_singular_is_refused():
    with pytest.raises(MathInputError, match="singular"):
        matrix([[1, 2], [2, 4]], "inverse")


# --- rank, rref, nullspace ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("m", "rank"),
    [
        ([[1, 2], [2, 4]], 1),
        ([[1, 2, 3], [4, 5, 6], [7, 8, 9]], 2),
        ([[1, 0, 0], [0, 1, 0], [0, 0, 1]], 3),
        ([[0, 0], [0, 0]], 0),
        ([[1, 2, 3], [4, 5, 6]], 2),
        ([[1], [2], [3]], 1),
    ],
)
def test_rank(m, rank):
    assert run(m, "rank")["rank"] == rank


def test_rref_and_pivots():
    out = run([[1, 2, 3], [4, 5, 6], [7, 8, 9]], "rref")
    assert as_matrix(out["rref"]) == sp.Matrix([[1, 0, -1], [0, 1, 2], [0, 0, 0]])
    assert out["pivot_columns"] == [1, 2]  # 1-based
    out = run([[0, 2, 4], [0, 1, 2]], "rref")
    assert as_matrix(out["rref"]) == sp.Matrix([[0, 1, 2], [0, 0, 0]])
    assert out["pivot_columns"] == [2]


@pytest.mark.parametrize(
    ("m", "nullity"),
    [
        ([[1, 2, 3], [4, 5, 6], [7, 8, 9]], 1),
        ([[1, 2, 3], [2, 4, 6]], 2),
        ([[1, 0], [0, 1]], 0),
        ([[1, 1, 1, 1]], 3),
    ],
)
def test_nullspace_vectors_are_in_the_kernel(m, nullity):
    out = run(m, "nullspace")
    assert out["nullity"] == nullity == len(out["basis"])
    a = parse_matrix(m)
    for v in out["basis"]:
        assert (a * parse_matrix(v)).applyfunc(sp.simplify) == sp.zeros(a.rows, 1)
    if nullity:  # independent vectors
        assert sp.Matrix.hstack(*[parse_matrix(v) for v in out["basis"]]).rank() == nullity


# --- eigenvalues and eigenvectors -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("m", "expected"),
    [
        ([[2, 0], [0, 3]], {2: 1, 3: 1}),
        ([[2, 1], [1, 2]], {1: 1, 3: 1}),
        ([[2, 1], [0, 2]], {2: 2}),  # defective
        ([[4, 1], [2, 3]], {2: 1, 5: 1}),
        ([[1, 0, 0], [0, 1, 0], [0, 0, 5]], {1: 2, 5: 1}),
        ([[0, -1], [1, 0]], {"I": 1, "-I": 1}),
    ],
)
def test_eigenvalues(m, expected):
    out = run(m, "eigenvalues")
    values = {parse_expression(i["value"]["result"]): i["algebraic_multiplicity"] for i in out["eigenvalues"]}
    assert len(values) == len(expected)
    for value, mult in expected.items():
        match = [v for v in values if sp.simplify(v - parse_expression(str(value))) == 0]
        assert match and values[match[0]] == mult


def test_eigenvalues_golden_ratio():
    out = run([[1, 1], [1, 0]], "eigenvalues")
    got = sorted(float(i["value"]["numeric"]) for i in out["eigenvalues"])
    assert got == pytest.approx([(1 - 5**0.5) / 2, (1 + 5**0.5) / 2])
    assert any(same(i["value"]["result"], (1 + sp.sqrt(5)) / 2) for i in out["eigenvalues"])


def test_eigenvalues_of_irreducible_cubic_match_numpy():
    m = [[1, 2, 3], [4, 5, 6], [7, 8, 10]]
    out = run(m, "eigenvalues")
    got = sorted(float(i["value"]["numeric"]) for i in out["eigenvalues"])
    assert got == pytest.approx(sorted(np.linalg.eigvals(np.array(m, dtype=float)).real), rel=1e-10)
    assert "I" not in "".join(i["value"]["numeric"] for i in out["eigenvalues"])  # no spurious imaginary parts


def check_eigenvectors(m, out):
    a = parse_matrix(m)
    for item in out["eigenvectors"]:
        if not item["exact"] or "CRootOf" in item["value"]["result"]:  # check the numeric basis instead
            lam_n = complex(parse_expression(item["value"]["numeric"]))
            for v in item.get("basis_numeric", item["basis"]):
                vec = np.array([complex(parse_expression(x)) for x in v])
                assert np.allclose(np.array(m, dtype=float) @ vec, lam_n * vec, atol=1e-9)
            continue
        lam = parse_expression(item["value"]["result"])
        for v in item["basis"]:
            vec = parse_matrix(v)
            assert (a * vec - lam * vec).applyfunc(sp.simplify) == sp.zeros(a.rows, 1)
            assert any(x != 0 for x in vec)


@pytest.mark.parametrize(
    ("m", "geo", "diagonalizable"),
    [
        ([[2, 1], [0, 2]], [1], False),
        ([[2, 0, 0], [0, 2, 0], [0, 0, 3]], [2, 1], True),
        ([[2, 1], [1, 2]], [1, 1], True),
        ([[1, 1], [1, 0]], [1, 1], True),
        ([[0, -1], [1, 0]], [1, 1], True),
        ([[1, 2, 3], [4, 5, 6], [7, 8, 10]], [1, 1, 1], True),
        ([[3, 1, 0], [0, 3, 1], [0, 0, 3]], [1], False),  # Jordan block
    ],
)
def test_eigenvectors(m, geo, diagonalizable):
    out = run(m, "eigenvectors")
    assert sorted(i["geometric_multiplicity"] for i in out["eigenvectors"]) == sorted(geo)
    assert out["diagonalizable"] is diagonalizable
    check_eigenvectors(m, out)


def test_high_degree_eigenvalues_are_numeric_and_flagged():
    # Companion matrix of x^5 - x - 1 (irreducible, not solvable in radicals): numeric roots.
    m = [[0, 0, 0, 0, 1], [1, 0, 0, 0, 1], [0, 1, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 0, 1, 0]]
    out = run(m, "eigenvalues")
    assert all(i["exact"] is False for i in out["eigenvalues"]) and "note" in out
    got = sorted(
        (complex(parse_expression(i["value"]["numeric"])) for i in out["eigenvalues"]), key=lambda z: (z.real, z.imag)
    )
    want = sorted(np.linalg.eigvals(np.array(m, dtype=float)), key=lambda z: (z.real, z.imag))
    assert np.allclose(got, want, atol=1e-10)
    assert any(abs(z - 1.1673039782614187) < 1e-12 for z in got)  # the real root
    vecs = run(m, "eigenvectors")
    assert vecs["diagonalizable"] is True
    check_eigenvectors(m, vecs)


def test_eigen_20x20_takes_the_numeric_path_within_a_cpu_budget():
    # A random integer 20x20 has an irreducible degree-20 characteristic polynomial: sympy would
    # grind for minutes on its roots; the numeric path (flagged) takes well under a CPU second.
    m = np.random.default_rng(3).integers(-9, 10, size=(20, 20)).tolist()
    with cpu_budget(20):
        out = run(m, "eigenvectors")
    assert all(i["exact"] is False for i in out["eigenvectors"]) and "numerically" in out["note"]
    assert sum(i["algebraic_multiplicity"] for i in out["eigenvectors"]) == 20
    check_eigenvectors(m, out)


def test_defective_multiplicities():
    out = run([[3, 1, 0], [0, 3, 1], [0, 0, 3]], "eigenvectors")
    (item,) = out["eigenvectors"]
    assert same(item["value"]["result"], 3)
    assert item["algebraic_multiplicity"] == 3 and item["geometric_multiplicity"] == 1


# --- transpose, multiply, charpoly ----------------------------------------------------------------


def test_transpose():
    out = run([[1, 2, 3], [4, 5, 6]], "transpose")
    assert as_matrix(out["transpose"]) == sp.Matrix([[1, 4], [2, 5], [3, 6]])
    assert out["transpose"]["shape"] == [3, 2]


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ([[1, 2], [3, 4]], [[5, 6], [7, 8]], [[19, 22], [43, 50]]),
        ([[1, 2, 3]], [[4], [5], [6]], [[32]]),
        ([[1, 2], [3, 4]], [1, 1], [[3], [7]]),  # flat list = column vector
        ([["x", 0], [0, "y"]], [[2], [3]], [["2*x"], ["3*y"]]),
    ],
)
def test_multiply(a, b, expected):
    out = run(a, "multiply", b)
    got = as_matrix(out["product"])
    assert (got - parse_matrix(expected)).applyfunc(sp.simplify) == sp.zeros(*got.shape)


@pytest.mark.parametrize(
    ("m", "coeffs"),
    [
        ([[1, 2], [3, 4]], [1, -5, -2]),
        ([[2, 0, 0], [0, 3, 0], [0, 0, 4]], [1, -9, 26, -24]),
        ([[0, 1], [-1, 0]], [1, 0, 1]),
    ],
)
def test_charpoly(m, coeffs):
    out = run(m, "charpoly")
    assert [parse_expression(c) for c in out["coefficients"]] == coeffs
    # `lambda` is a Python keyword: the variable is sympy's `lamda`, which parses back and prints as λ.
    assert out["variable"] == "lamda"
    lam = sp.Symbol("lamda")
    poly = parse_expression(out["polynomial"]["result"])
    assert sp.expand(poly - sum(c * lam ** (len(coeffs) - 1 - i) for i, c in enumerate(coeffs))) == 0
    assert r"\lambda" in out["polynomial"]["latex"]


# --- solve ----------------------------------------------------------------------------------------


def test_solve_unique():
    out = run([[2, 1], [1, 3]], "solve", [3, 5])
    assert out["status"] == "unique"
    assert [parse_expression(v) for v in out["solution"]] == [sp.Rational(4, 5), sp.Rational(7, 5)]


def test_solve_unique_3x3():
    # 2x + y - z = 8, -3x - y + 2z = -11, -2x + y + 2z = -3  →  (2, 3, -1)
    out = run([[2, 1, -1], [-3, -1, 2], [-2, 1, 2]], "solve", [8, -11, -3])
    assert out["status"] == "unique"
    assert [parse_expression(v) for v in out["solution"]] == [2, 3, -1]


def test_solve_inconsistent():
    out = run([[1, 2], [2, 4]], "solve", [1, 3])
    assert out["status"] == "none" and out["solution"] is None
    assert out["rank"] == 1 and out["augmented_rank"] == 2


def test_solve_infinitely_many():
    a = [[1, 2, 3], [2, 4, 6]]
    out = run(a, "solve", [6, 12])
    assert out["status"] == "infinite" and len(out["free_parameters"]) == 2
    sol = parse_matrix(out["solution"])
    params = [sp.Symbol(p) for p in out["free_parameters"]]
    for values in ([0, 0], [1, -2], [sp.Rational(1, 3), 7]):
        point = sol.subs(dict(zip(params, values)))
        assert parse_matrix(a) * point == sp.Matrix([6, 12])
    assert parse_matrix(a) * parse_matrix(out["particular_solution"]) == sp.Matrix([6, 12])


def test_solve_symbolic_rhs():
    out = run([[1, 1], [1, -1]], "solve", ["a", "b"])
    x, y = (parse_expression(v) for v in out["solution"])
    a, b = sp.symbols("a b")
    assert sp.simplify(x - (a + b) / 2) == 0 and sp.simplify(y - (a - b) / 2) == 0


# --- bad input ------------------------------------------------------------------------------------


def test_unknown_operation_lists_valid_ones():
    with pytest.raises(MathInputError) as exc:
        matrix([[1]], "frobnicate")
    for op in ("det", "inverse", "eigenvalues", "solve", "charpoly"):
        assert op in str(exc.value)


@pytest.mark.parametrize("op", ["det", "inverse", "eigenvalues", "eigenvectors", "charpoly"])
def test_square_required(op):
    with pytest.raises(MathInputError, match=r"square.*2×3"):
        matrix([[1, 2, 3], [4, 5, 6]], op)


def test_multiply_dimension_mismatch_names_shapes():
    with pytest.raises(MathInputError, match=r"2×3.*2×2"):
        matrix([[1, 2, 3], [4, 5, 6]], "multiply", [[1, 2], [3, 4]])


def test_solve_dimension_mismatch():
    with pytest.raises(MathInputError, match=r"2×2.*3×1"):
        matrix([[1, 2], [3, 4]], "solve", [1, 2, 3])


def test_other_required_and_refused():
    with pytest.raises(MathInputError, match="other"):
        matrix([[1, 2], [3, 4]], "solve")
    with pytest.raises(MathInputError, match="no `other`"):
        matrix([[1, 2], [3, 4]], "det", [[1]])


@pytest.mark.parametrize(
    "bad",
    [
        [[1, 2], [3]],  # ragged
        [["__import__('os')", 1], [1, 1]],  # code is not mathematics
        [[True, 1], [1, 1]],
        [],
    ],
)
def test_bad_matrices(bad):
    with pytest.raises(MathInputError):
        matrix(bad, "det")


def test_aliases():
    assert same(run([[1, 2], [3, 4]], "Determinant")["determinant"]["result"], -2)
    assert run([[1, 2], [2, 4]], "kernel")["nullity"] == 1


def test_text_matrix_input():
    assert same(run("[[1, 2], [3, 4]]", "det")["determinant"]["result"], -2)
