"""Check 6: ∂e_ij/∂γ_ij (appendix B.2)."""
from __future__ import annotations

import functools

import sympy as sp
import torch

from emma.method.attention import attention_scores

from ._common import DTYPE, _row, _worst, random_parameters


@functools.cache
def symbolic_gamma_gradient() -> dict[str, sp.Expr]:
    """Sympy: ∂e_ij/∂γ_ij for e_ij = w_ij e_i^γ e_j^(1−γ) against appendix B.2.

    Returns ``derivative``, ``thesis`` (w e_i^γ e_j^(1−γ)(log e_i + log e_j)), ``corrected``
    (w e_i^γ e_j^(1−γ)(log e_i − log e_j)) and the simplified differences.
    """
    e_i, e_j = sp.symbols("e_i e_j", positive=True)
    w, gamma = sp.symbols("w_ij gamma_ij", real=True)
    shared = w * e_i**gamma * e_j ** (1 - gamma)  # eq. 5.4
    derivative = sp.diff(shared, gamma)
    thesis = shared * (sp.log(e_i) + sp.log(e_j))
    corrected = shared * (sp.log(e_i) - sp.log(e_j))
    return {
        "derivative": derivative,
        "thesis": thesis,
        "corrected": corrected,
        "minus_corrected": sp.simplify(derivative - corrected),
        "minus_thesis": sp.simplify(derivative - thesis),
    }


def check_gamma_gradient(seed: int = 0, batch: int = 64) -> dict:
    """Check 6: ∂e_ij/∂γ_ij = e_ij (log e_i − log e_j); appendix B.2 writes log e_i + log e_j.

    Symbolic with sympy; numeric by autograd through :func:`emma.attention_scores`
    (M = 2, 3, 5, random parameters).
    """
    sym = symbolic_gamma_gradient()
    symbolic_ok = sym["minus_corrected"] == 0 and sym["minus_thesis"] != 0
    generator = torch.Generator().manual_seed(seed)
    errors, thesis_relative = [], []
    for m in (2, 3, 5):
        params = random_parameters(m, generator)
        params["shared_gamma"].requires_grad_(True)
        potentials = 10 * torch.rand(m, generator=generator, dtype=DTYPE)  # one sample: (M,)
        out = attention_scores(potentials, torch.zeros(m, dtype=DTYPE), **params, coldness=0.1)
        # γ_ij lives in e_ij only, so the gradient of Σ_ij e_ij is the matrix of ∂e_ij/∂γ_ij
        (grad,) = torch.autograd.grad(out.shared_energies.sum(), params["shared_gamma"])
        with torch.no_grad():
            log_e = torch.log(out.self_energies)
            shared = out.shared_energies
            off = 1.0 - torch.eye(m, dtype=DTYPE)
            corrected = shared * (log_e.unsqueeze(-1) - log_e.unsqueeze(-2)) * off
            thesis = shared * (log_e.unsqueeze(-1) + log_e.unsqueeze(-2)) * off
            errors.append((grad - corrected).abs().max().item())
            thesis_relative.append(((grad - thesis).abs().max() / grad.abs().max()).item())
    error = _worst(errors)
    tolerance = 1e-10
    return _row(
        "6 gradient wrt gamma",
        "B.2",
        "sympy diff; autograd through attention_scores (M = 2, 3, 5)",
        error,
        tolerance,
        symbolic_ok and error < tolerance,
        "B.2 wrong",
        "de_ij/dgamma_ij = w_ij e_i^g e_j^(1-g) (log e_i - log e_j) = e_ij log(e_i/e_j). Appendix B.2 "
        "writes log e_i + log e_j, off by -2 e_ij log e_j (relative error up to "
        f"{max(thesis_relative):.3g} here), and drops w_ij from its product-rule line. "
        "Eq. B.1 routes the gradient through both E_i and E_j, right only if gamma_ij = gamma_ji is one "
        "shared parameter (the draft's symmetry remark after eq. 5.4); the module keeps the M x M matrix "
        "gamma free, so gamma_ij reaches the loss through E_i alone.",
    )
