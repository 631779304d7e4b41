"""Check 3: the energy threshold below which a mode passes (eq. 5.8)."""
from __future__ import annotations

import functools

import sympy as sp
import torch

from emma.method.attention import attention_scores, energy_threshold

from ._common import DTYPE, _row, random_parameters


@functools.cache
def symbolic_threshold() -> dict[str, sp.Expr]:
    """Solve g_a α − b_a = 0 for E with α = exp(−ρE)/Z (Z treated as a positive number).

    Returns ``root`` (the threshold energy), ``slope`` (d(g_a α − b_a)/dE, negative), and
    ``threshold`` as the thesis writes it, (log(g_a/b_a) − log Z)/ρ.
    """
    g, b, rho, z = sp.symbols("g_a b_a rho Z", positive=True)
    energy = sp.Symbol("E", real=True)
    margin = g * sp.exp(-rho * energy) / z - b
    (root,) = sp.solve(sp.Eq(margin, 0), energy)
    return {
        "root": root,
        "slope": sp.diff(margin, energy),
        "threshold": (sp.log(g / b) - sp.log(z)) / rho,
    }


def check_energy_threshold(n_samples: int = 2000, seed: int = 0) -> dict:
    """Check 3: β_i > 0 exactly when E_i < (log(g_a/b_a) − log Z)/ρ (eq. 5.8; the draft writes ≥).

    Symbolic: the margin g_a α_i − b_a decreases in E_i and vanishes at the threshold, so
    it is positive exactly below it. Numeric: random parameters, potentials and ρ for
    M = 2, 3, 5; the fraction of (sample, mode) pairs where "β_i > 0" and "E_i < threshold"
    disagree.
    """
    sym = symbolic_threshold()
    symbolic_ok = bool(sym["slope"].is_negative) and sp.simplify(sp.expand_log(sym["root"] - sym["threshold"], force=True)) == 0

    generator = torch.Generator().manual_seed(seed)
    mismatch_final, mismatch_draft, total = 0, 0, 0
    for m in (2, 3, 5):
        params = random_parameters(m, generator)
        potentials = 10 * torch.rand(n_samples, m, generator=generator, dtype=DTYPE)
        coldness = 10 ** (-3 * torch.rand((), generator=generator, dtype=DTYPE))  # ρ ∈ (1e-3, 1]
        out = attention_scores(potentials, torch.zeros(m, dtype=DTYPE), **params, coldness=coldness)
        threshold = energy_threshold(out.log_partition, params["gain"], params["bias"], coldness).unsqueeze(-1)
        passes = out.beta > 0
        mismatch_final += (passes != (out.modal_energies < threshold)).sum().item()
        mismatch_draft += (passes != (out.modal_energies >= threshold)).sum().item()
        total += passes.numel()
    error = mismatch_final / total
    return _row(
        "3 energy threshold",
        "5.8",
        f"sympy root and slope; {total} random (sample, mode) pairs, M = 2, 3, 5",
        error,
        0.0,
        symbolic_ok and mismatch_final == 0,
        "draft direction (>=) wrong",
        "beta_i > 0 exactly when E_i < (log(g_a/b_a) - log Z)/rho (fraction of disagreements "
        f"{error:.3g}); the draft's E_i >= threshold disagrees on a fraction {mismatch_draft / total:.3g} of them. "
        "Z contains E_i, so the threshold moves with the sample; for b_a = 0 it is +inf (every mode passes).",
    )
