"""The thesis's top ten as the code chose them: ranks of one run, chosen on the test set.

The original code trains the 125 configurations once and ranks them by F1 on the whole noisy
*test* set (``get_ranking``, ``code/experiment-3/main.py`` L476–493); the thesis prints the best ten.
Rank k of the thesis is therefore the k-th largest of 125 noisy scores of one run, an order
statistic, and is compared here with rank k of each replayed run (:func:`order_statistics`), not
with the mean over seeds of the configuration that happened to land there. The mean of a
configuration is biased low against a maximum: :func:`selection_offset` says how much of the
offset between the thesis's EMMA rows and the replay the selection explains.

>>> runs = pd.DataFrame({"seed": [0, 0, 1, 1], "f1_noisy_test": [0.9, 0.8, 0.7, 0.95], "f1_clean": [0.9, 0.8, 0.7, 0.95],
...                      "f1_ip_noisy": [0.6, 0.5, 0.4, 0.7], "f1_dm_noisy": [0.8, 0.7, 0.6, 0.9]})
>>> per_run_ranks(runs, ranks=1)["f1_clean"].tolist()  # each run's best configuration
[0.9, 0.95]
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from emma.util import checks

#: The three F1 columns of the thesis's table.
METRICS = ("f1_clean", "f1_ip_noisy", "f1_dm_noisy")
#: The score the code ranks by: F1 on the whole noisy test set, scored in one call.
RANKING_SCORE = "f1_noisy_test"


def prediction_interval(values, level: float = 0.95) -> tuple[float, float]:
    """The ``level`` prediction interval of one more run, from the runs ``values`` (normal model, Student's t).

    The thesis printed one run, so the yardstick for one of its numbers is where a single new run
    would fall, not the range of a few others (a single run falls outside the range of 5 others
    with probability 2/6): mean ± t₁₋₍₁₋level₎/₂,ₙ₋₁ · s · √(1 + 1/n), with ``s`` the sample
    standard deviation of the ``n`` runs (``scipy.stats.t``). ``(nan, nan)`` with fewer than two runs.

    >>> [round(v, 3) for v in prediction_interval([1.0, 2.0, 3.0, 4.0, 5.0])]
    [-1.809, 7.809]
    """
    level = checks.number(level, "level", low=0.0, high=1.0, low_open=True, high_open=True)
    if isinstance(values, (str, bytes)):
        raise TypeError("values must be a sequence of numbers (one per run)")
    x = np.asarray(values, dtype=float).ravel()
    if not np.isfinite(x).all():
        raise ValueError(f"values must be finite numbers, one per run, got {values!r}")
    if x.size < 2:
        return float("nan"), float("nan")
    half = stats.t.ppf(0.5 + level / 2, x.size - 1) * x.std(ddof=1) * np.sqrt(1 + 1 / x.size)
    return float(x.mean() - half), float(x.mean() + half)


def per_run_ranks(with_table: pd.DataFrame, ranks: int = 10, score: str = RANKING_SCORE) -> pd.DataFrame:
    """Each run's (seed's) configurations ranked by ``score`` as ``get_ranking`` does: the best ``ranks`` with their F1.

    Returns one row per (seed, rank): ``seed``, ``rank`` (1 = best), the configuration and :data:`METRICS`.
    """
    needed = {"seed", score, *METRICS}
    if not isinstance(with_table, pd.DataFrame) or not needed <= set(with_table.columns):
        raise ValueError(f"with_table must be a with sweep's table with the columns {sorted(needed)}")
    ranks = checks.integer(ranks, "ranks", low=1)
    rows = []
    for seed, part in with_table.groupby("seed", sort=True):
        top = part.sort_values(score, ascending=False, kind="stable").head(ranks)
        for k, (_, row) in enumerate(top.iterrows(), start=1):
            rows.append({"seed": seed, "rank": k, **{c: row[c] for c in ("rho", "lambda_c", "lambda_e") if c in row}, **{m: row[m] for m in METRICS}})
    return pd.DataFrame(rows)


def order_statistics(with_table: pd.DataFrame, thesis_with: pd.DataFrame, level: float = 0.95, ranks: int = 10) -> pd.DataFrame:
    """Per rank and test subset: the thesis's number beside the replayed runs' rank-k F1 (median and central ``level`` interval).

    Parameters
    ----------
    with_table : DataFrame
        A protocol's whole grid of ``with`` over its seeds (one run per seed).
    thesis_with : DataFrame
        The thesis's EMMA rows with ``thesis_rank`` and ``thesis_<metric>``.
    level : float
        The central share of runs the interval holds (percentiles of the runs' values).

    Returns
    -------
    DataFrame
        ``rank, subset, thesis, median, low, high, inside, n_runs`` (``inside``: the thesis's number lies in [low, high]).
    """
    level = checks.number(level, "level", low=0.0, high=1.0, low_open=True, high_open=True)
    if not isinstance(thesis_with, pd.DataFrame) or "thesis_rank" not in thesis_with.columns:
        raise ValueError("thesis_with must be the thesis's EMMA rows with the column 'thesis_rank'")
    runs = per_run_ranks(with_table, ranks)
    rows = []
    for k in range(1, ranks + 1):
        printed = thesis_with[thesis_with["thesis_rank"] == k]
        for metric in METRICS:
            values = runs.loc[runs["rank"] == k, metric].to_numpy(dtype=float)
            if not values.size:
                continue
            low, median, high = np.percentile(values, [50 * (1 - level), 50, 50 * (1 + level)])
            thesis = float(printed[f"thesis_{metric}"].iloc[0]) if len(printed) else float("nan")
            rows.append({"rank": k, "subset": metric[3:], "thesis": thesis, "median": median, "low": low, "high": high,
                         "inside": bool(low <= thesis <= high) if np.isfinite(thesis) else np.nan, "n_runs": int(values.size)})
    return pd.DataFrame(rows)


def selection_offset(order: pd.DataFrame, replay_means: pd.DataFrame) -> dict:
    """How much of the thesis's EMMA offset the selection on the test set explains.

    ``order`` is :func:`order_statistics`; ``replay_means`` holds, per rank and subset, the replay's
    mean over seeds of the configuration the thesis printed at that rank (``rank, subset, mean``).
    Returns ``offset_means`` (mean of thesis − those means), ``offset_ranks`` (mean of thesis −
    the rank-k medians) and ``explained`` (1 − offset_ranks / offset_means; ``nan`` when the first is 0).
    """
    merged = order.merge(replay_means, on=["rank", "subset"]).dropna(subset=["thesis", "median", "mean"])
    offset_means = float((merged["thesis"] - merged["mean"]).mean())
    offset_ranks = float((merged["thesis"] - merged["median"]).mean())
    return {"offset_means": offset_means, "offset_ranks": offset_ranks, "printed": len(merged),
            "explained": 1 - offset_ranks / offset_means if offset_means else float("nan")}


def thesis_rank_means(replay: pd.DataFrame) -> pd.DataFrame:
    """From :func:`emma.experiments.replay.replay_f1`: per thesis rank and subset, the replay's mean over seeds of that configuration.

    Returns ``rank, subset, mean`` (the input of :func:`selection_offset`).
    """
    if not isinstance(replay, pd.DataFrame) or "model" not in replay.columns:
        raise ValueError("replay must be the DataFrame of replay_f1 (model, <metric>_mean)")
    ranked = replay[replay["model"].str.match(r"with \(thesis rank \d+\)")]
    rank = ranked["model"].str.extract(r"(\d+)")[0].astype(int).to_numpy()
    return pd.concat([pd.DataFrame({"rank": rank, "subset": m[3:], "mean": ranked[f"{m}_mean"].to_numpy()}) for m in METRICS], ignore_index=True)
