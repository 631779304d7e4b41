"""Helpers shared by the derivation checks: float64, the table row, error aggregation,
sympy's zero test and random EMMA parameters / models inside the constraint set."""
from __future__ import annotations

import numpy as np
import sympy as sp
import torch

from emma.method.autoencoder import DenoisingAutoencoder
from emma.method.module import EMMA

DTYPE = torch.float64


def _row(check, equation, method, max_abs_error, tolerance, passed, thesis_verdict, note) -> dict:
    return {
        "check": check,
        "equation": equation,
        "method": method,
        "max_abs_error": float(max_abs_error),
        "tolerance": float(tolerance),
        "passed": bool(passed),
        "thesis_verdict": thesis_verdict,
        "note": note,
    }


def _worst(errors) -> float:
    """The largest error, or +inf if any is ``NaN`` (Python's max would skip a ``NaN`` silently)."""
    values = np.asarray([float(e) for e in errors], dtype=float)
    return float("inf") if np.isnan(values).any() else float(values.max())


def _is_zero(expr) -> bool:
    """True when sympy proves ``expr`` (a scalar or a matrix) identically zero."""
    if isinstance(expr, sp.MatrixBase):
        return all(_is_zero(e) for e in expr)
    return sp.simplify(expr) == 0


def random_parameters(
    n_modes: int,
    generator: torch.Generator,
    batch_shape: tuple[int, ...] = (),
    coupling: float = 1.0,
    dtype: torch.dtype = DTYPE,
) -> dict[str, torch.Tensor]:
    """Random EMMA parameters inside the constraint set (for the checks).

    w_i ∈ [1, 2], b_i ∈ [0, 1], w_ij ~ U(−coupling, coupling) (diagonal 0), γ_ij ∈ [0, 1],
    g_a ∈ [0.5, 3], b_a ∈ [0.05, 0.8]; every tensor gets the leading ``batch_shape``.
    """
    m, s = n_modes, tuple(batch_shape)

    def u(shape, low, high):
        return low + (high - low) * torch.rand(s + shape, generator=generator, dtype=dtype)

    off = 1.0 - torch.eye(m, dtype=dtype)
    return {
        "self_weight": u((m,), 1.0, 2.0),
        "self_bias": u((m,), 0.0, 1.0),
        "shared_weight": u((m, m), -coupling, coupling) * off,
        "shared_gamma": u((m, m), 0.0, 1.0),
        "gain": u((), 0.5, 3.0),
        "bias": u((), 0.05, 0.8),
    }


def _xi(corrupted: torch.Tensor) -> torch.Tensor:
    return 1.0 - 2.0 * corrupted.to(DTYPE)  # ξ_k


def _random_emma(n_modes: int, generator: torch.Generator, coupling: float = 1.0, widths=None) -> EMMA:
    """A float64 EMMA with random autoencoders and random parameters in the constraint set."""
    widths = widths or [2 + (i % 3) for i in range(n_modes)]
    with torch.random.fork_rng(devices=[]):  # the autoencoders' initialisation uses the global generator
        torch.manual_seed(int(torch.randint(0, 2**31 - 1, (), generator=generator)))
        daes = [DenoisingAutoencoder(d, 6, noise_std=0.01) for d in widths]
    coldness = 10 ** (-2 * torch.rand((), generator=generator)).item()  # ρ ∈ (0.01, 1]
    model = EMMA(daes, psi_min=[-3.0] * n_modes, coldness=coldness).to(DTYPE)
    with torch.no_grad():
        for name, value in random_parameters(n_modes, generator, coupling=coupling).items():
            getattr(model, name).copy_(value)
    return model


def _widths(model: EMMA) -> list[int]:
    return [dae.d_input for dae in model.energy_models]
