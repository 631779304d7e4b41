"""Check 2: the capacity integral (eq. 5.9–5.11) and the capacity of the max(0, ·) version the module uses.

(Named ``capacity_integral`` rather than ``capacity`` so that the module does not shadow
:func:`emma.capacity`, which ``emma.method.derivations`` has always re-exported.)
"""
from __future__ import annotations

import functools
import itertools
import math

import numpy as np
import sympy as sp
import torch
from scipy import integrate as sci_integrate

from emma.method.regularizers import capacity, capacity_relu

from ._common import DTYPE, _row, _worst


@functools.cache
def symbolic_capacity() -> dict[str, sp.Expr]:
    """The capacity integrals of eq. 5.9–5.11 with sympy (g_a, b_a > 0).

    Returns
    -------
    dict
        ``integral`` ∫₀¹ tanh(gα − b) dα as sympy returns it, ``closed_form`` eq. 5.11,
        ``draft_form`` (cosh(g + b) in place of cosh(g − b)), ``integral_relu``
        ∫_{b/g}^1 tanh(gα − b) dα (valid for b < g) and ``closed_form_relu`` log cosh(g − b)/g,
        plus the symbols ``g`` and ``b``.
    """
    g, b = sp.symbols("g_a b_a", positive=True)
    alpha = sp.Symbol("alpha", real=True)
    return {
        "g": g,
        "b": b,
        "integral": sp.integrate(sp.tanh(g * alpha - b), (alpha, 0, 1)),
        "closed_form": sp.log(sp.cosh(g - b) / sp.cosh(b)) / g,
        "draft_form": sp.log(sp.cosh(g + b) / sp.cosh(b)) / g,
        "integral_relu": sp.integrate(sp.tanh(g * alpha - b), (alpha, b / g, 1)),
        "closed_form_relu": sp.log(sp.cosh(g - b)) / g,
    }


def _same_log(lhs, rhs, g) -> bool:
    """Prove lhs == rhs for expressions of the form log(...)/g by comparing exp(g·lhs) and exp(g·rhs)."""
    return sp.simplify((sp.exp(g * lhs) / sp.exp(g * rhs)).rewrite(sp.exp)) == 1


def check_capacity(n_grid: int = 12) -> dict:
    """Check 2: eq. 5.11 is ∫₀¹ tanh(g_a α − b_a) dα; the module's max(0, ·) version has its own closed form.

    Symbolic: sympy's integrals against both closed forms, and against the draft's
    cosh(g_a + b_a). Numeric: scipy quadrature over an ``n_grid`` × ``n_grid`` grid of
    g_a ∈ [0.1, 6], b_a ∈ [0, 1] against :func:`emma.capacity` and :func:`emma.capacity_relu`.
    """
    sym = symbolic_capacity()
    g, b = sym["g"], sym["b"]
    symbolic_ok = (
        _same_log(sym["integral"], sym["closed_form"], g)
        and _same_log(sym["integral_relu"], sym["closed_form_relu"], g)
        and not _same_log(sym["integral"], sym["draft_form"], g)
    )
    sympy_integral = sp.lambdify((g, b), sym["integral"], "math")

    gains = np.linspace(0.1, 6.0, n_grid)
    biases = np.linspace(0.0, 1.0, n_grid)
    errors, draft_errors, sympy_errors, negative = [], [], [], 0
    for gain, bias in itertools.product(gains, biases):
        quad, _ = sci_integrate.quad(lambda a: math.tanh(gain * a - bias), 0.0, 1.0, epsabs=1e-13, epsrel=1e-13)
        kink = [bias / gain] if 0.0 < bias / gain < 1.0 else None
        quad_relu, _ = sci_integrate.quad(
            lambda a: max(0.0, math.tanh(gain * a - bias)), 0.0, 1.0, points=kink, epsabs=1e-13, epsrel=1e-13
        )
        ours = capacity(torch.tensor(gain, dtype=DTYPE), torch.tensor(bias, dtype=DTYPE)).item()
        ours_relu = capacity_relu(torch.tensor(gain, dtype=DTYPE), torch.tensor(bias, dtype=DTYPE)).item()
        draft = math.log(math.cosh(gain + bias) / math.cosh(bias)) / gain
        errors += [abs(ours - quad), abs(ours_relu - quad_relu)]
        if bias > 0:
            sympy_errors.append(abs(sympy_integral(gain, bias) - quad))
        draft_errors.append(abs(draft - quad))
        negative += ours < 0
    error = _worst(errors + sympy_errors)
    tolerance = 1e-9
    return _row(
        "2 capacity",
        "5.9-5.11",
        f"sympy integrals; scipy quadrature on a {n_grid}x{n_grid} grid of (g_a, b_a)",
        error,
        tolerance,
        symbolic_ok and error < tolerance,
        "final eq. 5.11 holds; draft (+b_a) wrong",
        "int_0^1 tanh(g a - b) da = log[cosh(g - b)/cosh(b)]/g (final thesis) holds. The draft's "
        "cosh(g + b) integrates tanh(g a + b), not eq. 5.7 (max error on the grid "
        f"{max(draft_errors):.3g}). Eq. 5.11 turns negative for b > g/2 ({negative} of "
        f"{n_grid * n_grid} grid points). With the max(0, .) the module uses, the capacity is "
        "[log cosh(max(g - b, 0)) - log cosh(max(-b, 0))]/g = log cosh(max(g - b, 0))/g for b >= 0.",
    )
