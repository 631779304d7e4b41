"""Check 1: the potential energy of a tied autoencoder (eq. 4.5–4.7)."""
from __future__ import annotations

import functools

import numpy as np
import sympy as sp
import torch

from emma.method.autoencoder import DenoisingAutoencoder

from ._common import DTYPE, _is_zero, _row, _worst


@functools.cache
def symbolic_potential(n_input: int = 2, n_hidden: int = 2) -> dict[str, sp.Expr]:
    """Eq. 4.5–4.7 with sympy for a tied sigmoid autoencoder r(x) = Wᵀσ(Wx + b_h) + b_r.

    Integrates −(r − x) along the segment from 0 to x, hidden unit by hidden unit, and
    compares the result with eq. 4.7 and with the draft's eq. 4.6.

    Returns
    -------
    dict
        ``line_integral`` (Ψ(x) − Ψ(0) from the integral), ``eq_4_7``, ``eq_4_6``,
        ``difference_4_7`` (line integral minus eq. 4.7: free of x, a constant),
        ``field_error_4_7`` and ``field_error_4_6`` (∇Ψ + r(x) − x, simplified).
    """
    x = sp.Matrix(sp.symbols(f"x0:{n_input}", real=True))
    w = sp.Matrix(n_hidden, n_input, sp.symbols(f"W0:{n_input * n_hidden}", real=True))
    b_h = sp.Matrix(sp.symbols(f"b_h0:{n_hidden}", real=True))
    b_r = sp.Matrix(sp.symbols(f"b_r0:{n_input}", real=True))

    def sigmoid(z):
        return 1 / (1 + sp.exp(-z))

    def softplus(z):
        return sp.log(1 + sp.exp(z))

    reconstruction = w.T * (w * x + b_h).applyfunc(sigmoid) + b_r

    # Along x(t) = t x: (r(tx) − tx)·x = Σ_k a_k σ(t a_k + b_h,k) + b_r·x − t‖x‖², a_k = W_k·x.
    a, c = sp.Symbol("a", real=True, nonzero=True), sp.Symbol("c", real=True)
    t = sp.Symbol("t", real=True)
    unit = sp.integrate(a * sigmoid(a * t + c), (t, 0, 1))  # one hidden unit's share
    pre = w * x
    line = -sum(unit.subs({a: pre[k], c: b_h[k]}) for k in range(n_hidden))
    line += -(b_r.T * x)[0] + sp.Rational(1, 2) * (x.T * x)[0]  # eq. 4.5 from 0 to x

    eq47 = -sum(softplus(pre[k] + b_h[k]) for k in range(n_hidden)) + sp.Rational(1, 2) * ((x - b_r).T * (x - b_r))[0]
    eq46 = -sum(softplus(pre[k] + b_h[k]) for k in range(n_hidden)) - sp.Rational(1, 2) * ((x + b_r).T * (x + b_r))[0]

    def gradient(psi):
        return sp.Matrix([sp.diff(psi, xi) for xi in x])

    return {
        "line_integral": line,
        "eq_4_7": eq47,
        "eq_4_6": eq46,
        "difference_4_7": sp.simplify(line - eq47),
        "field_error_4_7": sp.simplify(gradient(eq47) + reconstruction - x),
        "field_error_4_6": sp.simplify(gradient(eq46) + reconstruction - x),
        "x": x,
    }


def check_potential_energy(seed: int = 0, n_points: int = 64) -> dict:
    """Check 1: Ψ of eq. 4.7 satisfies r(x) − x = −∇Ψ; the draft's eq. 4.6 does not.

    Symbolic: sympy's line integral of −(r − x) equals eq. 4.7 up to a constant, and
    ∇Ψ + r − x simplifies to 0 for eq. 4.7 (to −2x for eq. 4.6). Numeric: on a random
    :class:`~emma.method.autoencoder.DenoisingAutoencoder`, autograd's −∇Ψ against r(x) − x, and
    a Gauss–Legendre line integral against Ψ(x) − Ψ(0).
    """
    sym = symbolic_potential()
    x_symbols = set(sym["x"])
    symbolic_ok = (
        not (sym["difference_4_7"].free_symbols & x_symbols)
        and _is_zero(sym["field_error_4_7"])
        and not _is_zero(sym["field_error_4_6"])
    )

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        dae = DenoisingAutoencoder(4, 12, noise_std=0.01).to(DTYPE).eval()
        with torch.no_grad():  # move the biases off zero so every term matters
            dae.bias_hidden.normal_(0.0, 1.0)
            dae.bias_visible.normal_(0.0, 1.0)
    x = torch.randn(n_points, 4, dtype=DTYPE, generator=torch.Generator().manual_seed(seed)) * 2
    x.requires_grad_(True)
    (grad_psi,) = torch.autograd.grad(dae.potential(x).sum(), x)
    with torch.no_grad():
        field = dae.reconstruct(x) - x  # r(x) − x
        error_field = (grad_psi + field).abs().max().item()
        # −∫₀¹ (r(tx) − tx)·x dt by 32-point Gauss–Legendre
        nodes, weights = np.polynomial.legendre.leggauss(32)
        line = torch.zeros(n_points, dtype=DTYPE)
        for node, weight in zip((nodes + 1) / 2, weights / 2):
            xt = node * x
            line -= weight * ((dae.reconstruct(xt) - xt) * x).sum(dim=1)
        psi_difference = dae.potential(x) - dae.potential(torch.zeros_like(x))
        error_line = (line - psi_difference).abs().max().item()
        # the draft's eq. 4.6 gives the field Wᵀσ + x + b_r, off by 2x
        grad_46 = -(torch.sigmoid(dae._pre_activation(x)) @ dae.weight) - (x + dae.bias_visible)
        error_46 = (grad_46 + field).abs().max().item()
    error = _worst([error_field, error_line])
    tolerance = 1e-10
    return _row(
        "1 potential energy",
        "4.5-4.7",
        "sympy line integral and gradient; autograd and Gauss-Legendre line integral on a DenoisingAutoencoder",
        error,
        tolerance,
        symbolic_ok and error < tolerance,
        "eq. 4.7 holds; draft eq. 4.6 wrong",
        "eq. 4.7 holds: r(x) - x = -grad Psi and the line integral recovers Psi up to a constant. "
        "Draft eq. 4.6 writes -1/2||x + b_r||^2 instead of +1/2||x - b_r||^2: its gradient field "
        f"misses r(x) - x by -2x (max error {error_46:.3g} on these points).",
    )
