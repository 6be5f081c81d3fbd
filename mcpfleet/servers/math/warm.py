"""Worker start-up: import and exercise the heavy libraries once, so the first call is warm."""

from __future__ import annotations


def warm() -> None:
    import scipy.optimize
    import scipy.stats  # noqa: F401
    import sympy as sp

    x = sp.Symbol("x")
    sp.solve(x**2 - 1, x)
    sp.integrate(sp.sin(x), x)
    sp.latex(sp.sqrt(x))
