"""Choosing a configuration of a sweep: scores over seeds, the two rankings, the configuration each picks.

A ``with`` sweep trains a grid of configurations (ρ, λ_c, λ_e), each over several seeds.
:func:`summarise` takes each configuration's scores over its seeds, :func:`rank_grid` ranks the
configurations by the book's selection (validation F1 on noisy samples) and by the thesis's (F1
on the noisy test set; appendix: original-ranking), :func:`selected_config` reads off the one a
selection picks, and :func:`regularizer_levels` the "none", "good" and "high" value of a
regularizer the chapters compare. They read a sweep's table only (pandas, no model); scoring a
sweep is :mod:`emma.engine.evaluation`'s.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from emma.util.tables import over_seeds


def summarise(table: pd.DataFrame, columns=("f1_clean", "f1_ip_noisy", "f1_dm_noisy")) -> pd.DataFrame:
    """Mean and standard deviation over seeds of each configuration's scores.

    Returns one row per (model, rho, lambda_c, lambda_e[, protocol]) with ``n_seeds`` and,
    for each column ``c``, ``c_mean`` and ``c_std`` (sample std, ddof 1; ``NaN`` for one seed).

    Examples
    --------
    >>> t = pd.DataFrame({"model": "base", "rho": np.nan, "lambda_c": np.nan, "lambda_e": np.nan, "seed": [0, 1], "f1_clean": [0.8, 0.9]})
    >>> summarise(t, ["f1_clean"])[["n_seeds", "f1_clean_mean"]].round(2).values.tolist()
    [[2.0, 0.85]]
    """
    keys = [k for k in ["model", "rho", "lambda_c", "lambda_e", "protocol"] if k in table]
    return over_seeds(table, keys, columns)


def rank_grid(with_table: pd.DataFrame) -> pd.DataFrame:
    """Every configuration of a ``with`` sweep summarised over seeds, with both rankings.

    ``rank_validation``: by the mean validation F1 on IP- and DM-noisy samples (the
    book's selection). ``rank_test``: by the F1 on the whole noisy test set, scored as one
    call (the thesis's selection; appendix: original-ranking). Both are 1 for the best.
    """
    summary = summarise(with_table, columns=["f1_clean", "f1_ip_noisy", "f1_dm_noisy", "f1_noisy_test", "val_f1_ip_noisy", "val_f1_dm_noisy", "capacity"])
    summary["validation_score"] = summary[["val_f1_ip_noisy_mean", "val_f1_dm_noisy_mean"]].mean(axis=1)
    summary["rank_validation"] = summary["validation_score"].rank(ascending=False, method="first").astype(int)
    summary["rank_test"] = summary["f1_noisy_test_mean"].rank(ascending=False, method="first").astype(int)
    return summary


def selected_config(ranked: pd.DataFrame, selection: str) -> dict[str, float]:
    """(ρ, λ_c, λ_e) of the configuration a selection rule picks ("validation" or "test") from :func:`rank_grid`."""
    column = {"validation": "rank_validation", "test": "rank_test"}.get(selection)
    if column is None:
        raise ValueError(f"selection must be 'validation' or 'test', got {selection!r}")
    best = ranked.sort_values(column).iloc[0]
    return {k: float(best[k]) for k in ("rho", "lambda_c", "lambda_e")}


def regularizer_levels(ranked: pd.DataFrame, chosen: dict, name: str, values) -> dict[str, float]:
    """"none" (0), "good" and "high" (the largest of ``values``) for the regularizer ``name`` ("lambda_c" or "lambda_e").

    "good" is the chosen configuration's value, or, where that is 0, the best non-zero value
    by validation among the configurations that share the chosen ρ and other λ.
    """
    if name not in ("lambda_c", "lambda_e"):
        raise ValueError(f"name must be 'lambda_c' or 'lambda_e', got {name!r}")
    good = chosen[name]
    if good == 0.0:
        other = "lambda_e" if name == "lambda_c" else "lambda_c"
        nonzero = ranked[np.isclose(ranked["rho"], chosen["rho"]) & (ranked[name] > 0) & np.isclose(ranked[other], chosen[other])]
        good = float(nonzero.sort_values("validation_score", ascending=False)[name].iloc[0]) if len(nonzero) else good
    return {"none": 0.0, "good": good, "high": float(max(values))}
