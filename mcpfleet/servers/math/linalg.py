"""Exact linear algebra on sympy matrices: one entry point, `matrix(matrix, operation, other)`.

Entries are parsed by `parser.parse_matrix` (never `sympify`), so they are exact: 0.1 is 1/10 and
symbols stay symbols. Every result is plain data (strings, ints, bools, lists, dicts) so that it
can cross the worker boundary; matrices come back as rows of strings that the parser re-reads, and
scalars as `render()` dicts (`result`, `latex`, `numeric`). Each result also has a short `text`.

Conventions (stated in the results too): pivot columns are 1-based, as in textbooks; the
characteristic polynomial is det(lamda*I - A) (monic), in the variable `lamda` (sympy's spelling: `lambda` is a Python keyword); eigenvalues
(real ones first, ascending) are exact — radicals, or CRootOf for irreducible cubic and quartic
factors — except roots of irreducible factors of degree > 4, which are numerical (15 digits)
and flagged `exact: false`, as are their eigenvectors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import sympy as sp

from mcpfleet.common.text import clip
from mcpfleet.servers.math.parser import MathInputError, parse_matrix
from mcpfleet.servers.math.render import render

# Simplifying an entry with more operations than this costs more than it is worth (and may hang);
# such entries are only cancelled/expanded cheaply.
_SIMPLIFY_MAX_OPS = 150
_TEXT_MAX = 600  # the one-line `text` summary is cut beyond this
_ENTRY_MAX = 20_000  # characters of one printed CRootOf entry
_EXACT_ROOT_DEGREE = 4  # irreducible factors above this degree get numerical roots (see _eigen_pairs)

_ALIASES = {
    "det": "det",
    "determinant": "det",
    "inverse": "inverse",
    "inv": "inverse",
    "invert": "inverse",
    "rank": "rank",
    "rref": "rref",
    "reduced_row_echelon_form": "rref",
    "row_reduce": "rref",
    "nullspace": "nullspace",
    "null_space": "nullspace",
    "kernel": "nullspace",
    "eigenvalues": "eigenvalues",
    "eigenvals": "eigenvalues",
    "eigvals": "eigenvalues",
    "eigenvectors": "eigenvectors",
    "eigenvects": "eigenvectors",
    "eigvecs": "eigenvectors",
    "eigen": "eigenvectors",
    "transpose": "transpose",
    "t": "transpose",
    "multiply": "multiply",
    "mul": "multiply",
    "matmul": "multiply",
    "product": "multiply",
    "times": "multiply",
    "solve": "solve",
    "linsolve": "solve",
    "charpoly": "charpoly",
    "characteristic_polynomial": "charpoly",
    "char_poly": "charpoly",
}


def matrix(matrix: Any, operation: str, other: Any = None) -> dict[str, Any]:
    """Apply `operation` to `matrix` (nested lists or text like "[[1, 2], [3, 4]]").

    Operations: det, inverse, rank, rref, nullspace, eigenvalues, eigenvectors, transpose,
    multiply (matrix × other), solve (matrix · x = other), charpoly. A flat list is a column vector.
    """
    op = _operation(operation)
    a = parse_matrix(matrix)
    handler = _HANDLERS[op]
    if op in ("multiply", "solve"):
        if other is None:
            what = "the right-hand side b" if op == "solve" else "the second matrix"
            raise MathInputError(f"operation {op!r} needs `other`: {what}")
        result = handler(a, parse_matrix(other))
    else:
        if other is not None:
            raise MathInputError(f"operation {op!r} takes no `other`; it is used by multiply and solve only")
        result = handler(a)
    result = {"operation": op, "shape": list(a.shape), **result}
    result["text"] = clip(result["text"], _TEXT_MAX)
    return result


# --- operations -----------------------------------------------------------------------------------


def _det(a: sp.Matrix) -> dict[str, Any]:
    _require_square(a, "det")
    d = _tidy(a.det(method="bareiss"))
    return {"determinant": render(d), "text": f"det = {render(d)['result']}"}


def _inverse(a: sp.Matrix) -> dict[str, Any]:
    _require_square(a, "inverse")
    d = _tidy(a.det(method="bareiss"))
    if d == 0:
        raise MathInputError(f"the {_shape(a)} matrix is singular (determinant 0, rank {a.rank()}): it has no inverse")
    try:
        inv = a.inv()
    except (ValueError, sp.matrices.exceptions.NonInvertibleMatrixError):
        # Symbolic determinant that is not identically zero but sympy cannot invert generically.
        raise MathInputError("the matrix could not be inverted (it may be singular for these symbols)") from None
    inv = inv.applyfunc(_tidy)
    out = _matrix_out(inv)
    note = "valid where the determinant is non-zero" if d.free_symbols else None
    return {
        "inverse": out,
        "determinant": render(d),
        **({"note": note} if note else {}),
        "text": f"inverse = {out['text']}",
    }


def _rank(a: sp.Matrix) -> dict[str, Any]:
    r = a.rank(simplify=True)
    return {"rank": int(r), "text": f"rank = {r} ({_shape(a)})"}


def _rref(a: sp.Matrix) -> dict[str, Any]:
    r, pivots = a.rref(simplify=True)
    cols = [int(p) + 1 for p in pivots]
    out = _matrix_out(r.applyfunc(_tidy))
    return {
        "rref": out,
        "pivot_columns": cols,
        "rank": len(cols),
        "indexing": "1-based",
        "text": f"rref = {out['text']}; pivot columns (1-based) {cols}",
    }


def _nullspace(a: sp.Matrix) -> dict[str, Any]:
    basis = [_vector(v) for v in a.nullspace(simplify=True)]
    text = "nullspace = {0}" if not basis else "nullspace basis: " + ", ".join(_vec_text(v) for v in basis)
    return {"basis": basis, "nullity": len(basis), "rank": a.cols - len(basis), "text": text}


def _eigenvalues(a: sp.Matrix) -> dict[str, Any]:
    _require_square(a, "eigenvalues")
    pairs = _eigen_pairs(a)
    items = [_eigen_item(v, m) for v, m in pairs]
    text = "eigenvalues: " + ", ".join(
        _short(i["value"]) + (f" (×{i['algebraic_multiplicity']})" if i["algebraic_multiplicity"] > 1 else "")
        for i in items
    )
    return {"eigenvalues": items, **_numeric_note(pairs), "text": text}


def _eigenvectors(a: sp.Matrix) -> dict[str, Any]:
    _require_square(a, "eigenvectors")
    pairs = _eigen_pairs(a)
    items = []
    for value, mult in pairs:
        item = _eigen_item(value, mult)
        if _is_numeric(value):
            vecs = _numeric_eigenspace(a, complex(value))
            item["basis"] = [[_complex_text(x) for x in v] for v in vecs]
        else:
            exact_vecs = _eigenspace(a, value)
            vecs = exact_vecs
            item["basis"] = [_vector(v) for v in exact_vecs]
            if value.has(sp.CRootOf):
                # Entries in CRootOf form are hard to read; give their values too.
                item["basis_numeric"] = [[_complex_text(_approx(x)) for x in v] for v in exact_vecs]
        item["geometric_multiplicity"] = len(vecs)
        items.append(item)
    diagonalizable = all(i["algebraic_multiplicity"] == i["geometric_multiplicity"] for i in items)
    text = "; ".join(
        f"λ{_eq(_short(i['value']))} (alg {i['algebraic_multiplicity']}, geo {i['geometric_multiplicity']}): "
        + ", ".join(_vec_text(v) for v in i.get("basis_numeric", i["basis"]))
        for i in items
    )
    text += "; diagonalizable" if diagonalizable else "; not diagonalizable (defective)"
    return {"eigenvectors": items, "diagonalizable": diagonalizable, **_numeric_note(pairs), "text": text}


def _transpose(a: sp.Matrix) -> dict[str, Any]:
    out = _matrix_out(a.T)
    return {"transpose": out, "text": f"transpose = {out['text']}"}


def _multiply(a: sp.Matrix, b: sp.Matrix) -> dict[str, Any]:
    if a.cols != b.rows:
        raise MathInputError(
            f"cannot multiply a {_shape(a)} matrix by a {_shape(b)} matrix: "
            f"the first has {a.cols} columns but the second has {b.rows} rows"
        )
    out = _matrix_out((a * b).applyfunc(_tidy))
    return {"product": out, "text": f"product = {out['text']}"}


def _solve(a: sp.Matrix, b: sp.Matrix) -> dict[str, Any]:
    if b.rows != a.rows:
        raise MathInputError(f"A is {_shape(a)} but b is {_shape(b)}: b needs {a.rows} rows (one per equation)")
    try:
        sol, params = a.gauss_jordan_solve(b)
    except ValueError:
        rank_a, rank_ab = a.rank(), a.row_join(b).rank()
        return {
            "status": "none",
            "solution": None,
            "rank": int(rank_a),
            "augmented_rank": int(rank_ab),
            "text": f"no solution: the system is inconsistent (rank A = {rank_a} < rank [A|b] = {rank_ab})",
        }
    # sympy names the free parameters tau0, tau1, ...; t1, t2, ... read better and re-parse.
    names = [sp.Symbol(f"t{i + 1}") for i in range(len(params))]
    taken = set().union(*(e.free_symbols for e in a)) | set().union(*(e.free_symbols for e in b))
    if taken & set(names):
        names = [sp.Symbol(f"s_{i + 1}") for i in range(len(params))]
    sol = sol.subs(dict(zip(params, names))).applyfunc(_tidy)
    out = _matrix_out(sol) if sol.cols > 1 else None  # None: the solution is a vector
    result: dict[str, Any] = {"solution": _vector(sol) if out is None else out, "rank": int(a.rank())}
    if any(e.free_symbols for e in a):
        result["note"] = "generic solution: assumes the symbolic pivots are non-zero"
    if not params:
        result["status"] = "unique"
        result["text"] = f"unique solution x = {_vec_text(result['solution']) if out is None else out['text']}"
    else:
        result["status"] = "infinite"
        result["free_parameters"] = [str(n) for n in names]
        particular = sol.subs({n: 0 for n in names})
        result["particular_solution"] = _vector(particular) if out is None else _matrix_out(particular)
        shown = _vec_text(result["solution"]) if out is None else out["text"]
        result["text"] = f"infinitely many solutions, x = {shown} for any {', '.join(result['free_parameters'])}"
    return result


def _charpoly(a: sp.Matrix) -> dict[str, Any]:
    _require_square(a, "charpoly")
    lam = sp.Symbol("lamda")
    poly = a.charpoly(lam)
    expr = poly.as_expr()
    coeffs = [render(_tidy(c))["result"] for c in poly.all_coeffs()]
    return {
        "polynomial": render(expr),
        "variable": "lamda",
        "coefficients": coeffs,
        "convention": "det(lamda*I - A), coefficients from the highest degree down",
        "text": f"p(lamda) = {render(expr)['result']}",
    }


_HANDLERS: dict[str, Callable[..., dict[str, Any]]] = {
    "det": _det,
    "inverse": _inverse,
    "rank": _rank,
    "rref": _rref,
    "nullspace": _nullspace,
    "eigenvalues": _eigenvalues,
    "eigenvectors": _eigenvectors,
    "transpose": _transpose,
    "multiply": _multiply,
    "solve": _solve,
    "charpoly": _charpoly,
}


# --- helpers --------------------------------------------------------------------------------------


def _operation(operation: Any) -> str:
    key = str(operation).strip().lower().replace("-", "_").replace(" ", "_") if isinstance(operation, str) else ""
    if key not in _ALIASES:
        raise MathInputError(f"unknown matrix operation {operation!r}; valid operations: {', '.join(_HANDLERS)}")
    return _ALIASES[key]


def _require_square(a: sp.Matrix, op: str) -> None:
    if not a.is_square:
        raise MathInputError(f"{op} needs a square matrix; this one is {_shape(a)} ({a.rows} rows, {a.cols} columns)")


def _shape(a: sp.Matrix) -> str:
    return f"{a.rows}×{a.cols}"


def _tidy(e: Any) -> Any:
    """Bring an entry to a canonical, readable form without risking a very long simplify."""
    if not e.free_symbols and e.is_Rational:
        return e
    if sp.count_ops(e) <= _SIMPLIFY_MAX_OPS:
        return sp.simplify(e)
    return sp.cancel(e) if e.is_rational_function() else e


def _matrix_out(m: sp.Matrix) -> dict[str, Any]:
    """Rows of re-parsable strings, plus LaTeX built from the same renderings."""
    rendered = [[render(m[i, j]) for j in range(m.cols)] for i in range(m.rows)]
    rows = [[cell["result"] for cell in row] for row in rendered]
    body = r" \\ ".join(" & ".join(c["latex"] for c in row) for row in rendered)
    latex = r"\begin{bmatrix}" + body + r"\end{bmatrix}"
    return {
        "rows": rows,
        "shape": [m.rows, m.cols],
        "latex": latex,
        "text": "[" + ", ".join("[" + ", ".join(r) + "]" for r in rows) + "]",
    }


def _vector(v: sp.Matrix) -> list[str]:
    return [_entry_text(x) for x in v]


def _entry_text(x: Any) -> str:
    """The re-parsable string of one entry.

    CRootOf expressions are already reduced (polynomials in the root) and are printed directly:
    simplify only slows them, and render() would also evaluate them numerically by exact
    interval refinement, which takes seconds to minutes for complex roots.
    """
    if x.has(sp.CRootOf):
        # order="none": ordering the terms of a sum would evaluate each CRootOf numerically.
        text = sp.sstr(x, order="none")
        return text if len(text) <= _ENTRY_MAX else text[:_ENTRY_MAX] + "…"
    return render(_tidy(x))["result"]


def _vec_text(v: list[str]) -> str:
    return "(" + ", ".join(v) + ")"


def _eigen_pairs(a: sp.Matrix) -> list[tuple[Any, int]]:
    """Eigenvalues with algebraic multiplicities, real ones ascending first.

    For rational matrices the characteristic polynomial is factored over Q: linear and quadratic
    factors give radicals; irreducible factors of degree 3 to `_EXACT_ROOT_DEGREE` give CRootOf
    (Cardano's formula for a cubic with three real roots goes through complex numbers — casus
    irreducibilis — which reads badly and evaluates with spurious imaginary parts). Roots of
    higher-degree factors are computed numerically (isolating them exactly takes sympy minutes
    at degree 20) and marked `exact: false`.
    """
    if all(e.is_Rational for e in a):
        lam = sp.Symbol("lamda")
        pairs: list[tuple[Any, int]] = []
        _, factors = sp.factor_list(a.charpoly(lam).as_expr(), lam)
        for factor, mult in factors:
            poly = sp.Poly(factor, lam)
            if poly.degree() <= 2:
                pairs += [(_tidy(r), int(m) * int(mult)) for r, m in sp.roots(poly).items()]
            elif poly.degree() <= _EXACT_ROOT_DEGREE:
                pairs += [(r, int(mult)) for r in poly.all_roots()]
            else:
                pairs += [(r, int(mult)) for r in _numeric_roots(poly)]
        return sorted(pairs, key=lambda p: _sort_key(p[0]))
    try:
        vals = a.eigenvals(simplify=True)
    except (sp.matrices.exceptions.MatrixError, NotImplementedError) as exc:
        raise MathInputError(f"could not find the eigenvalues exactly: {str(exc)[:200]}") from None
    return sorted(((_tidy(v), int(m)) for v, m in vals.items()), key=lambda p: _sort_key(p[0]))


def _numeric_roots(poly: sp.Poly) -> list[Any]:
    """Roots of a rational polynomial to 15 digits, as sympy Floats (complex: Float + Float*I)."""
    try:
        return list(poly.nroots(n=15, maxsteps=200))
    except (sp.polys.polyerrors.PolynomialError, ValueError, ArithmeticError, Exception):  # mpmath NoConvergence
        coeffs = [float(c) for c in poly.all_coeffs()]
        return [
            sp.Float(z.real, 15) + sp.I * sp.Float(z.imag, 15) if abs(z.imag) > 0 else sp.Float(z.real, 15)
            for z in np.roots(coeffs)
        ]


def _is_numeric(value: Any) -> bool:
    """True for an approximate eigenvalue (a rational matrix's exact eigenvalues hold no Floats)."""
    return bool(value.atoms(sp.Float))


def _eigen_item(value: Any, mult: int) -> dict[str, Any]:
    if _is_numeric(value):
        shown = _complex_text(complex(value))
        rendered = {"result": shown, "latex": sp.latex(value), "numeric": shown}
        return {"value": rendered, "exact": False, "algebraic_multiplicity": mult}
    if value.has(sp.CRootOf):
        # render() would evaluate CRootOf by exact interval refinement: seconds for complex roots.
        rendered = {"result": sp.sstr(value), "latex": sp.latex(value), "numeric": _complex_text(_approx(value))}
        return {"value": rendered, "exact": True, "algebraic_multiplicity": mult}
    return {"value": render(value), "exact": True, "algebraic_multiplicity": mult}


def _numeric_note(pairs: list[tuple[Any, int]]) -> dict[str, str]:
    if any(_is_numeric(v) for v, _ in pairs):
        return {
            "note": f"eigenvalues marked exact: false are roots of an irreducible factor of degree > "
            f"{_EXACT_ROOT_DEGREE} of the characteristic polynomial (see charpoly), computed "
            "numerically to 15 digits; their eigenvectors are numerical too"
        }
    return {}


def _approx(expr: Any) -> complex:
    """Numeric value of an expression that may contain CRootOf, fast.

    CRootOf.eval_approx uses Newton's method from the isolating interval (milliseconds), where
    plain evalf refines the interval with exact arithmetic (seconds for complex roots).
    """
    roots = {r: r.eval_approx(20) for r in expr.atoms(sp.CRootOf)}
    return complex(sp.N(expr.xreplace(roots), 20))


def _complex_text(z: complex) -> str:
    """15 significant digits; the imaginary part only when it is not rounding noise."""
    re_, im = z.real, z.imag
    if abs(im) <= 1e-13 * max(1.0, abs(re_)):
        return f"{re_:.15g}"
    if abs(re_) <= 1e-13 * max(1.0, abs(im)):
        return f"{im:.15g}*I"
    return f"{re_:.15g} {'-' if im < 0 else '+'} {abs(im):.15g}*I"


def _numeric_eigenspace(a: sp.Matrix, value: complex) -> list[list[complex]]:
    """Null space of A - value*I by SVD (singular values below a relative 1e-8 count as zero),
    each vector scaled so that its largest entry is 1."""
    m = np.array(a.tolist(), dtype=complex) - value * np.eye(a.rows)
    _, sing, vh = np.linalg.svd(m)
    tol = 1e-8 * max(1.0, float(sing[0]) if sing.size else 1.0)
    vectors = []
    for row in vh[int(np.sum(sing > tol)) :]:
        v = row.conj()
        v = v / v[np.argmax(np.abs(v))]
        vectors.append([complex(x) for x in v])
    return vectors


def _eigenspace(a: sp.Matrix, value: Any) -> list[sp.Matrix]:
    """A basis of ker(A - value*I), each vector scaled so that its last non-zero entry is 1.

    For a rational matrix and an algebraic eigenvalue the elimination runs in the number field
    Q(value): exact and fast, where generic symbolic elimination with CRootOf entries takes
    seconds and relies on heuristic zero tests.
    """
    if value.free_symbols or not all(e.is_Rational for e in a):
        return (a - value * sp.eye(a.rows)).nullspace(simplify=True)
    from sympy.polys.matrices import DomainMatrix

    field = sp.QQ if value.is_Rational else sp.QQ.algebraic_field(value)
    if value.is_Rational:
        element = field.convert(value)
    elif field.ext.as_expr() == value:
        element = field([1, 0])  # the field's generator is the eigenvalue itself: no conversion
    else:
        element = field.from_sympy(value)  # one exact conversion (slow for CRootOf), not n of them
    rational = DomainMatrix.from_Matrix(a).convert_to(field)
    kernel = (rational - DomainMatrix.eye(a.rows, field) * element).nullspace()
    vectors = []
    for entries in kernel.to_list():
        # Normalise in the field (exact, no expression round trip), then convert to expressions.
        last = next(e for e in reversed(entries) if e)
        vectors.append(sp.Matrix([field.to_sympy(e / last) for e in entries]))
    return vectors


def _eq(shown: str) -> str:
    return " " + shown if shown.startswith("≈") else "=" + shown


def _short(rendered: dict[str, Any]) -> str:
    """A rendering for the one-line text: the exact form if short, else its numeric value."""
    result = rendered["result"]
    if (len(result) <= 40 and "CRootOf" not in result) or rendered.get("numeric") is None:
        return result
    return "≈ " + rendered["numeric"]


def _sort_key(value: Any) -> tuple:
    """Real numbers ascending first, then complex ones by real and imaginary part, then symbolic."""
    if not value.free_symbols:
        try:
            z = _approx(value)
            return (0, z.real, 0.0, "") if abs(z.imag) <= 1e-13 * max(1.0, abs(z.real)) else (1, z.real, z.imag, "")
        except (TypeError, ValueError):
            pass
    return (2, 0.0, 0.0, sp.sstr(value))
