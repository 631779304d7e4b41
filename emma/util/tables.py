"""Tables summarised over seeds: the one way the book reports a result drawn from randomness.

>>> t = pd.DataFrame({"model": ["a", "a", "b"], "seed": [0, 1, 0], "f1": [0.8, 0.9, 0.7]})
>>> over_seeds(t, ["model"], ["f1"]).round(3).values.tolist()
[['a', 0.85, 0.071, 2], ['b', 0.7, nan, 1]]
"""
from __future__ import annotations

from typing import Sequence

import pandas as pd


def over_seeds(frame: pd.DataFrame, by: Sequence[str], columns: Sequence[str]) -> pd.DataFrame:
    """Mean and sample standard deviation (ddof 1; ``NaN`` for one seed) of ``columns`` per group of ``by``.

    Parameters
    ----------
    frame : DataFrame
        One row per seed and group.
    by : sequence of str
        The grouping columns (groups keep their first-seen order; missing values form a group).
    columns : sequence of str
        The columns to summarise.

    Returns
    -------
    DataFrame
        ``by``, then ``<column>_mean`` and ``<column>_std`` for each column, then ``n_seeds``
        (distinct seeds when ``frame`` has a ``seed`` column, else rows).
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame must be a DataFrame, got {type(frame).__name__}")
    by, columns = list(by), list(columns)
    missing = [c for c in by + columns if c not in frame]
    if missing:
        raise ValueError(f"frame has no column(s) {missing}; it has {list(frame.columns)}")
    grouped = frame.groupby(by, sort=False, dropna=False)
    table = grouped[columns].agg(["mean", "std"])
    table.columns = [f"{column}_{stat}" for column, stat in table.columns]
    counts = grouped["seed"].nunique() if "seed" in frame else grouped.size()
    return table.assign(n_seeds=counts.to_numpy()).reset_index()
