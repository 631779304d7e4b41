"""Check 5: the update rules for even / odd M and the "collapse" case (eq. 5.20–5.22)."""
from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import sympy as sp
import torch

from emma.method.attention import PARAMETER_NAMES, attention_scores
from emma.method.regularizers import energy_regularizer

from ._common import DTYPE, _row, _worst, _xi


def update_coefficient(n_modes, n_clean, alpha, xi):
    """The factor κ_i in θ'_i ← θ_i − ε λ_e ρ κ_i ∇E_i: κ_i = ξ_i + (M − 2M')α_i (from eq. 5.19)."""
    return xi + (n_modes - 2 * n_clean) * alpha


@functools.cache
def symbolic_update_rules() -> dict[str, sp.Expr]:
    """Sympy: κ_i = ξ_i + (M − 2M')α_i with M' = ⌊(M+1)/2⌋ (eq. 5.20–5.21) and ⌊(M+1)/2⌋ + 1 (eq. 5.22).

    Returns the simplified κ for ``even``, ``odd``, ``even_plus_one``, ``odd_plus_one``
    (M = 2n or 2n + 1, symbolic n).
    """
    n = sp.Symbol("n", positive=True, integer=True)
    alpha, xi = sp.symbols("alpha xi", real=True)
    out = {}
    for label, m in (("even", 2 * n), ("odd", 2 * n + 1)):
        m_clean = sp.floor((m + 1) / 2)
        out[label] = sp.simplify(update_coefficient(m, m_clean, alpha, xi))
        out[f"{label}_plus_one"] = sp.simplify(update_coefficient(m, m_clean + 1, alpha, xi))
    out["alpha"], out["xi"] = alpha, xi
    return out


def simulate_energy_regularizer(
    n_modes: int,
    n_clean: int,
    steps: int = 200,
    lr: float = 0.05,
    coldness: float = 1.0,
    parametrisation: str = "energies",
    seed: int = 0,
) -> pd.DataFrame:
    """Gradient ascent on Ω alone (eq. 5.13) for one sample whose first ``n_clean`` modes are clean.

    ``parametrisation="energies"`` makes the energies themselves the parameters (θ_i = E_i,
    the derivation's assumption); ``"module"`` updates EMMA's parameters through eq. 5.2–5.5
    and clamps them after every step. Clean modes start from potentials near 2, corrupted
    ones near 6.

    Returns
    -------
    pandas.DataFrame
        One row per (step, mode): ``step``, ``mode``, ``clean``, ``energy``, ``alpha``.
    """
    if parametrisation not in ("energies", "module"):
        raise ValueError(f"parametrisation must be 'energies' or 'module', got {parametrisation!r}")
    if not 0 <= n_clean <= n_modes:
        raise ValueError(f"n_clean must be in [0, n_modes = {n_modes}], got {n_clean}")
    from emma.method.attention import initial_parameters, project_parameters_

    generator = torch.Generator().manual_seed(seed)
    corrupted = torch.arange(n_modes).unsqueeze(0) >= n_clean  # (1, M)
    potentials = torch.where(corrupted, 6.0, 2.0).to(DTYPE) + torch.rand(1, n_modes, generator=generator, dtype=DTYPE)
    if parametrisation == "energies":
        params = {"energies": potentials.clone().requires_grad_(True)}
    else:
        params = {k: v.requires_grad_(True) for k, v in initial_parameters(n_modes, generator, DTYPE).items()}
    optimizer = torch.optim.SGD(list(params.values()), lr=lr, maximize=True)
    rows = []
    for step in range(steps + 1):
        if parametrisation == "energies":
            energies = params["energies"]
            log_alpha = torch.log_softmax(-coldness * energies, dim=-1)  # eq. 5.6
        else:
            out = attention_scores(potentials, torch.zeros(n_modes, dtype=DTYPE), **params, coldness=coldness)
            energies, log_alpha = out.modal_energies, out.log_alpha
        for i in range(n_modes):
            rows.append(
                {"step": step, "mode": i, "clean": i < n_clean, "energy": energies[0, i].item(), "alpha": log_alpha[0, i].exp().item()}
            )
        if step == steps:
            break
        omega = energy_regularizer(log_alpha, corrupted)
        optimizer.zero_grad()
        omega.backward()
        optimizer.step()
        if parametrisation == "module":
            project_parameters_(*(params[n].data for n in PARAMETER_NAMES))
    return pd.DataFrame(rows)


def direction_shares(trajectory: pd.DataFrame) -> dict[str, float]:
    """Share of steps in a :func:`simulate_energy_regularizer` run at which each clean energy
    fell and each corrupted energy rose (``NaN`` where the sample has no such mode)."""
    wide = trajectory.pivot(index="step", columns="mode", values="energy")
    change = wide.diff().iloc[1:]
    clean = trajectory.groupby("mode")["clean"].first()
    falling = (change.loc[:, clean[clean].index] < 0).to_numpy()
    rising = (change.loc[:, clean[~clean].index] > 0).to_numpy()
    return {
        "clean_falling": float(falling.mean()) if falling.size else float("nan"),
        "corrupted_rising": float(rising.mean()) if rising.size else float("nan"),
    }


def check_update_rules(steps: int = 100, seed: int = 0, n_modes_list=(2, 3, 4, 5, 6)) -> dict:
    """Check 5: eq. 5.20–5.22 and the behaviour of gradient ascent on Ω alone.

    Symbolic: κ_i = ξ_i + (M − 2M')α_i reduces to ξ_i (M even) and ξ_i − α_i (M odd) at
    M' = ⌊(M+1)/2⌋, and to ξ_i − 2α_i / ξ_i − 3α_i, not α_i + ξ_i, at M' = ⌊(M+1)/2⌋ + 1.
    Numeric: autograd ∂Ω/∂E against −ρκ; simulations with θ_i = E_i: under the constraint
    every clean energy falls and every corrupted one rises at every step.
    """
    sym = symbolic_update_rules()
    alpha, xi = sym["alpha"], sym["xi"]
    symbolic_ok = (
        sp.simplify(sym["even"] - xi) == 0
        and sp.simplify(sym["odd"] - (xi - alpha)) == 0
        and sp.simplify(sym["even_plus_one"] - (xi - 2 * alpha)) == 0
        and sp.simplify(sym["odd_plus_one"] - (xi - 3 * alpha)) == 0
    )

    generator = torch.Generator().manual_seed(seed)
    formula_errors, printed_22_errors = [], []
    wrong_direction, step_count, largest_sum = 0, 0, 0.0
    for m in n_modes_list:
        for n_clean in range(m + 1):
            energies = (10 * torch.rand(64, m, generator=generator, dtype=DTYPE)).requires_grad_(True)
            rho = 0.5
            corrupted = (torch.arange(m) >= n_clean).expand(64, m)
            log_alpha = torch.log_softmax(-rho * energies, dim=-1)
            (grad,) = torch.autograd.grad(energy_regularizer(log_alpha, corrupted) * 64, energies)
            a, x = log_alpha.exp().detach(), _xi(corrupted)
            formula_errors.append((grad + rho * update_coefficient(m, n_clean, a, x)).abs().max().item())
            largest_sum = max(largest_sum, grad.sum(dim=-1).abs().max().item())  # Σ_k ∂Ω/∂E_k
            if n_clean == (m + 1) // 2 + 1:
                printed_22_errors.append((grad + rho * (a + x)).abs().max().item())
        n_clean = (m + 1) // 2  # the thesis's constraint
        traj = simulate_energy_regularizer(m, n_clean, steps=steps, seed=seed + m)
        wide = traj.pivot(index="step", columns="mode", values="energy")
        change = wide.diff().iloc[1:].to_numpy()  # (steps, M)
        expected = np.where(np.arange(m) < n_clean, -1.0, 1.0)
        wrong_direction += int((np.sign(change) != expected).sum())
        step_count += change.size
    module_constrained = direction_shares(simulate_energy_regularizer(4, 2, steps=steps, parametrisation="module", seed=seed))
    plus_one_run = simulate_energy_regularizer(4, 3, steps=steps, parametrisation="module", seed=seed)
    module_plus_one = direction_shares(plus_one_run)
    energy = plus_one_run.pivot(index="step", columns="mode", values="energy").to_numpy()
    alpha = plus_one_run.pivot(index="step", columns="mode", values="alpha").to_numpy()
    clean_rises = np.diff(energy, axis=0)[:, :3] > 0
    dominant = alpha[:-1, :3] > 1 / (2 * 3 - 4)  # α_i > 1/(2M' − M)
    explained = (clean_rises & dominant).sum() / max(clean_rises.sum(), 1)
    error = _worst(formula_errors)
    tolerance = 1e-12
    return _row(
        "5 update rules",
        "5.20-5.22",
        "sympy for symbolic M; autograd dOmega/dE for M = 2..6 and every M'; gradient-ascent simulation (theta_i = E_i)",
        error,
        tolerance,
        symbolic_ok and error < tolerance and wrong_direction == 0,
        "5.20-5.21 hold; 5.22 wrong",
        "At M' = floor((M+1)/2) the update factor is xi_i (M even) and xi_i - alpha_i (M odd), and in the "
        f"simulations every clean energy fell and every corrupted one rose at each of {step_count} "
        f"(step, mode) updates ({wrong_direction} in the wrong direction). At M' = floor((M+1)/2) + 1 the "
        "factor is xi_i - 2 alpha_i (M even) or xi_i - 3 alpha_i (M odd), not alpha_i + xi_i as printed "
        f"(max error of the printed form {max(printed_22_errors):.3g}). No collapse follows: sum_k dOmega/dE_k = 0, "
        f"so the energies can never all decrease (largest |sum_k dOmega/dE_k| over all M, M' {largest_sum:.1g}); "
        "a clean mode is pushed up only while alpha_i > 1/(2M' - M), which evens out the clean modes. "
        "Through EMMA's own (clamped) parameters, M = 4: with M' = 2 the clean energies fell at "
        f"{module_constrained['clean_falling']:.0%} of the steps and the corrupted rose at "
        f"{module_constrained['corrupted_rising']:.0%}; with M' = 3 the clean energies fell at only "
        f"{module_plus_one['clean_falling']:.0%} (they oscillate; {explained:.0%} of their rises came while "
        "that mode's alpha_i > 1/(2M' - M) = 1/2) while the corrupted rose at "
        f"{module_plus_one['corrupted_rising']:.0%}.",
    )
