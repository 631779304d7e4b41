"""The pulsar data (chapter 4): HTRU2's classes, features, modes, split, standardization and noise, as tables.

Every experiment of the thesis on real data uses HTRU2 (:mod:`emma.data.htru2`). The chapter
describes it with one call per result:

* :func:`class_balance` and :func:`majority_share`: how unbalanced the classes are;
* :func:`separation_table` and :func:`most_separating`: each feature's medians per class and
  how well it alone separates the classes (:func:`emma.data.separation.feature_separation`);
* :func:`cross_mode_correlation`: the rank correlation between the IP and the DM mode, over
  all candidates and within each class;
* :func:`split_table` and :func:`standardization_table`: the thesis's split beside ours, and
  the standardization with the training split's statistics;
* :func:`noise_levels` and :func:`noise_study`: Gaussian noise on one mode at given
  noise-to-signal ratios, its picture and what it does to the features' separation (a :class:`NoiseStudy`);
* :func:`corruption_counts`: the thesis's corruption scheme on each split;
* :func:`findings`: the chapter's closing bullets.

The figures are drawn by :mod:`emma.experiments.pulsar_figures`. The functions compute what the
chapter computed before its code moved here, drawing the noise in the same order, so the tables
do not change.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from emma.claims.thesis import thesis_split_table
from emma.data.htru2 import CLASS_COLUMN, FEATURE_NAMES, HTRU2, MODE_NAMES, MODE_SLICES
from emma.data.noise import add_noise, corrupt, nsr_db_to_sigma, sigma_to_nsr_db
from emma.data.separation import feature_separation
from emma.data.splits import Splits
from emma.experiments.pulsar_figures import CLASS_NAMES, noise_levels_figure
from emma.util import checks


def _check_data(data) -> HTRU2:
    if not isinstance(data, HTRU2):
        raise ValueError(f"data must be the HTRU2 table of emma.data.htru2.fetch_htru2, got {type(data).__name__}")
    return data


def _check_splits(splits) -> Splits:
    if not isinstance(splits, Splits):
        raise ValueError(f"splits must be the Splits of emma.data.splits.make_splits, got {type(splits).__name__}")
    return splits


def _check_levels(levels_db, name: str = "noise_levels_db") -> list[float]:
    if isinstance(levels_db, (str, bytes)) or not isinstance(levels_db, Sequence) or not levels_db:
        raise ValueError(f"{name} must be a non-empty list of finite numbers (dB), got {levels_db!r}")
    for i, db in enumerate(levels_db):
        checks.number(db, f"{name}[{i}]")
    return list(levels_db)


def class_balance(data: HTRU2) -> pd.DataFrame:
    """The candidates per class: ``class`` (name), ``label`` (0, 1), ``count`` and ``share`` (rounded to 4 decimals).

    Saved as ``pulsar_class_balance``.
    """
    counts = _check_data(data).frame[CLASS_COLUMN].value_counts().sort_index()
    return pd.DataFrame(
        {
            "class": [CLASS_NAMES[c] for c in counts.index],
            "label": counts.index,
            "count": counts.values,
            "share": (counts.values / counts.sum()).round(4),
        }
    )


def majority_share(balance: pd.DataFrame) -> float:
    """The share of the larger class in :func:`class_balance`: the accuracy of always answering it (unrounded)."""
    if not isinstance(balance, pd.DataFrame) or "count" not in balance.columns or balance.empty:
        raise ValueError("balance must be the table of class_balance (a column 'count')")
    return float(balance["count"].max() / balance["count"].sum())


def separation_table(data: HTRU2) -> pd.DataFrame:
    """One row per feature: ``feature``, ``mode``, the median per class, and its separation (rounded to 4 decimals).

    The separation columns are those of :func:`emma.data.separation.feature_separation`
    (``separation_auroc`` = max(AUROC, 1 − AUROC) of the feature used as a score, and its
    direction). Saved as ``pulsar_feature_separation``.
    """
    data = _check_data(data)
    medians = data.frame.groupby(CLASS_COLUMN)[list(FEATURE_NAMES)].median()
    return pd.concat(
        [
            pd.DataFrame({
                "feature": FEATURE_NAMES,
                "mode": ["IP" if name.startswith("ip") else "DM" for name in FEATURE_NAMES],
                "median_non_pulsar": medians.loc[0].to_numpy(),
                "median_pulsar": medians.loc[1].to_numpy(),
            }),
            feature_separation(data.features, data.target),
        ],
        axis=1,
    ).round(4)


def most_separating(separation: pd.DataFrame) -> pd.DataFrame:
    """The row of :func:`separation_table` with the largest ``separation_auroc`` in each mode (modes in sorted order)."""
    if not isinstance(separation, pd.DataFrame) or not {"mode", "feature", "separation_auroc"} <= set(separation.columns):
        raise ValueError("separation must be the table of separation_table (columns feature, mode, separation_auroc)")
    return separation.loc[separation.groupby("mode")["separation_auroc"].idxmax()]


def cross_mode_correlation(data: HTRU2) -> pd.DataFrame:
    """Spearman's correlation between the IP and the DM features, for all candidates and within each class.

    One row per group (``all``, ``non-pulsar``, ``pulsar``): ``candidates``, ``n``, the mean
    absolute correlation over the 4 × 4 cross-mode block, its strongest pair and that pair's
    correlation; rounded to 3 decimals. Saved as ``pulsar_cross_mode_correlation``.
    """
    data = _check_data(data)
    ip_names, dm_names = list(FEATURE_NAMES[0:4]), list(FEATURE_NAMES[4:8])
    rows = []
    for group, frame in [("all", data.frame)] + [(CLASS_NAMES[c], data.frame[data.frame[CLASS_COLUMN] == c]) for c in (0, 1)]:
        block = frame[list(FEATURE_NAMES)].corr(method="spearman").loc[ip_names, dm_names]
        strongest = block.abs().stack().idxmax()
        rows.append(
            {
                "candidates": group,
                "n": len(frame),
                "mean_abs_cross_correlation": block.abs().values.mean(),
                "strongest_pair": f"{strongest[0]} / {strongest[1]}",
                "strongest_correlation": block.loc[strongest],
            }
        )
    return pd.DataFrame(rows).round(3)


def split_table(splits: Splits) -> pd.DataFrame:
    """Our split sizes (:meth:`emma.data.splits.Splits.sizes`) beside the thesis's (``thesis_*``), and the difference of the totals.

    Saved as ``pulsar_splits``.
    """
    table = _check_splits(splits).sizes().merge(thesis_split_table(), on="split")
    table["total_minus_thesis"] = table["total"] - table["thesis_total"]
    return table


def standardization_table(splits: Splits) -> pd.DataFrame:
    """Per feature: the training split's raw mean and standard deviation, and each standardized split's mean and std.

    The standard deviations are population ones (as the standardization uses); rounded to 4
    decimals. Saved as ``pulsar_standardization``.
    """
    splits = _check_splits(splits)
    table = pd.DataFrame({"feature": FEATURE_NAMES, "train_mean_raw": splits.mean, "train_std_raw": splits.std})
    for name, part in (("train", splits.train), ("val", splits.val), ("test", splits.test)):
        table[f"{name}_mean"] = part.x.mean(dim=0).cpu().numpy()
        table[f"{name}_std"] = part.x.std(dim=0, unbiased=False).cpu().numpy()
    return table.round(4)


def noise_levels(levels_db: Sequence[float]) -> pd.DataFrame:
    """The noise-to-signal ratios ``levels_db`` with their σ, and σ converted back to dB (a round trip)."""
    levels_db = _check_levels(levels_db, "levels_db")
    levels = pd.DataFrame({"nsr_db": levels_db, "sigma": nsr_db_to_sigma(np.array(levels_db))})
    levels["sigma_to_nsr_db"] = sigma_to_nsr_db(levels["sigma"].to_numpy())
    return levels


@dataclass
class NoiseStudy:
    """Gaussian noise on one mode of the test split (:func:`noise_study`).

    Attributes
    ----------
    separation : pandas.DataFrame
        One row per (mode, NSR in dB, from −inf: clean): ``mode``, ``nsr_db``, ``sigma``, and the
        mean and best separation AUROC of the mode's four features on the noisy test split
        (rounded to 4 decimals). Saved as ``pulsar_noise_separation``.
    figure : matplotlib.figure.Figure
        The test samples in the plane of each mode's two most separating features, clean and
        at each level (:func:`emma.experiments.pulsar_figures.noise_levels_figure`).
    """

    separation: pd.DataFrame
    figure: object = field(repr=False)


def noise_study(splits: Splits, separation: pd.DataFrame, levels_db: Sequence[float], *, seed: int = 0,
                max_points: int | None = None) -> NoiseStudy:
    """Add Gaussian noise to one mode of the test split at each level, draw it, and measure the features' separation.

    All noise comes from one CPU generator seeded with ``seed``: first the figure's panels (per
    mode, clean then each level), then the separation table (per mode, clean then each level).

    Parameters
    ----------
    splits : Splits
    separation : pandas.DataFrame
        :func:`separation_table`: it picks each mode's two most separating features for the figure.
    levels_db : sequence of float
        Noise-to-signal ratios in dB.
    seed : int
        Seeds the noise and the choice of the samples drawn.
    max_points : int, optional
        Samples per class drawn in the figure (None: all).

    Returns
    -------
    NoiseStudy
    """
    splits = _check_splits(splits)
    most_separating(separation)  # checks its columns
    levels_db = _check_levels(levels_db, "levels_db")
    seed = checks.integer(seed, "seed", low=0)
    if max_points is not None:
        max_points = checks.positive_int(max_points, "max_points")
    generator = torch.Generator().manual_seed(seed)
    test_y = splits.test.y.cpu().numpy().astype(int)
    shown = np.concatenate(
        [np.random.default_rng(seed).permutation(np.flatnonzero(test_y == label))[:max_points] for label in (0, 1)]
    )
    panels = [("clean", 0.0)] + [(f"{db:+.0f} dB (σ = {nsr_db_to_sigma(db):.2f})", nsr_db_to_sigma(db)) for db in levels_db]
    pairs, noisy = {}, {}
    for mode in MODE_NAMES:
        pairs[mode] = (
            separation[separation["mode"] == mode].nlargest(2, "separation_auroc")["feature"].map(FEATURE_NAMES.index).tolist()
        )
        for title, sigma in panels:
            noisy[(mode, title)] = add_noise(splits.test.x, sigma, mode, generator).cpu().numpy()
    figure = noise_levels_figure(noisy, test_y, shown, pairs)

    rows = []
    for mode in MODE_NAMES:
        for db in [-np.inf, *levels_db]:
            sigma = float(nsr_db_to_sigma(db))
            values = add_noise(splits.test.x, sigma, mode, generator).cpu().numpy()
            scores = feature_separation(values[:, MODE_SLICES[mode]], test_y)["separation_auroc"]
            rows.append({"mode": mode, "nsr_db": db, "sigma": sigma,
                         "mean_separation_auroc": scores.mean(), "best_separation_auroc": scores.max()})
    return NoiseStudy(separation=pd.DataFrame(rows).round(4), figure=figure)


def corruption_counts(splits: Splits, sigma: float, *, seed: int = 0, device="cpu") -> pd.DataFrame:
    """The thesis's corruption scheme (:func:`emma.data.noise.corrupt` at ``sigma``) on each split: how many samples get which noise.

    Each split is corrupted with its own generator on ``device`` seeded with ``seed``. One row
    per split: ``clean``, ``ip_noisy``, ``dm_noisy``, the pulsars among each noisy group and
    ``total``. Saved as ``pulsar_corruption_counts``.
    """
    splits = _check_splits(splits)
    sigma = checks.number(sigma, "sigma", low=0.0)
    rows = []
    for name, part in (("train", splits.train), ("validation", splits.val), ("test", splits.test)):
        _, mask = corrupt(part.x, sigma, torch.Generator(device=device).manual_seed(seed))
        mask = mask.cpu()
        rows.append(
            {
                "split": name,
                "clean": int((~mask.any(dim=1)).sum()),
                "ip_noisy": int(mask[:, 0].sum()),
                "dm_noisy": int(mask[:, 1].sum()),
                "pulsars_ip_noisy": int((mask[:, 0] & (part.y.cpu() == 1)).sum()),
                "pulsars_dm_noisy": int((mask[:, 1] & (part.y.cpu() == 1)).sum()),
                "total": len(part),
            }
        )
    return pd.DataFrame(rows)


def findings(balance: pd.DataFrame, separation: pd.DataFrame, noise: pd.DataFrame, cross_mode: pd.DataFrame,
             training_sigma: float) -> str:
    """The chapter's closing bullets (Markdown) from its tables.

    ``balance``, ``separation``, ``noise`` and ``cross_mode`` are the tables of :func:`class_balance`,
    :func:`separation_table`, :attr:`NoiseStudy.separation` and :func:`cross_mode_correlation`;
    ``training_sigma`` is the σ of the thesis's training noise (the level of ``noise`` nearest to it is reported).
    """
    for table, name, needed in ((balance, "balance", {"label", "share", "count"}), (noise, "noise", {"mode", "sigma", "mean_separation_auroc"}),
                                (cross_mode, "cross_mode", {"candidates", "mean_abs_cross_correlation", "strongest_pair"})):
        if not isinstance(table, pd.DataFrame) or not needed <= set(table.columns):
            raise ValueError(f"{name} must be a table with the columns {sorted(needed)}")
    checks.number(training_sigma, "training_sigma", low=0.0)
    pulsar_share = float(balance.loc[balance["label"] == 1, "share"].iloc[0])
    best = most_separating(separation)
    clean_level = noise[noise["sigma"] == 0.0].set_index("mode")["mean_separation_auroc"]
    at_training = noise.loc[(noise["sigma"] - training_sigma).abs().groupby(noise["mode"]).idxmin()].set_index("mode")
    overall = cross_mode[cross_mode["candidates"] == "all"].iloc[0]
    return "\n".join([
        f"- {pulsar_share:.1%} of the {int(balance['count'].sum())} candidates are pulsars: F1, not accuracy, is the measure.",
        "- The best single feature of each mode separates the classes with AUROC "
        + ", ".join(f"{r.separation_auroc:.3f} ({r.feature})" for r in best.itertuples()) + ".",
        "- Noise at the training level (σ = " + f"{training_sigma}" + ") lowers the mean separation of a mode's features from "
        + ", ".join(f"{m} {clean_level[m]:.3f} to {at_training.loc[m, 'mean_separation_auroc']:.3f}" for m in at_training.index) + ".",
        f"- The two modes are nearly independent: mean |correlation| across modes {overall['mean_abs_cross_correlation']:.3f} "
        f"(strongest pair {overall['strongest_pair']}, {overall['strongest_correlation']:.3f}).",
    ])
