"""The ``derivation_checks`` table: the seven checks, one row each."""
from __future__ import annotations

from typing import Callable

import pandas as pd

from .capacity_integral import check_capacity
from .equations import check_module_against_equations
from .gamma import check_gamma_gradient
from .gradient import check_log_alpha_gradient
from .potential import check_potential_energy
from .threshold import check_energy_threshold
from .update_rules import check_update_rules


def derivation_checks(n_draws: int = 4, n_grid: int = 12, steps: int = 100, seed: int = 0, reference: Callable | None = None) -> pd.DataFrame:
    """Run the seven checks and return the ``derivation_checks`` table (one row per check).

    Parameters
    ----------
    n_draws : int
        Random parameter draws per M in check 4.
    n_grid : int
        Grid size per axis of (g_a, b_a) in check 2.
    steps : int
        Gradient steps per simulation in check 5.
    seed : int
        Seed of every random draw.
    reference : callable, optional
        Independent evaluation of eq. 5.2–5.7 for check 7 (see :func:`equations_by_hand`).

    Returns
    -------
    pandas.DataFrame
        Columns check, equation, method, max_abs_error, tolerance, passed, thesis_verdict, note.
    """
    rows = [
        check_potential_energy(seed=seed),
        check_capacity(n_grid=n_grid),
        check_energy_threshold(seed=seed),
        check_log_alpha_gradient(n_draws=n_draws, seed=seed),
        check_update_rules(steps=steps, seed=seed),
        check_gamma_gradient(seed=seed),
        check_module_against_equations(reference=reference, seed=seed),
    ]
    return pd.DataFrame(rows)
