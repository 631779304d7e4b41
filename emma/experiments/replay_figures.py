"""The figures of the chapter :doc:`Explaining the thesis's numbers </book/chapters/07_replay>`, one function each.

Each returns the Figure, laid out for the page (:func:`emma.util.plots.legible`); the chapter
saves it (:func:`emma.util.outputs.save_figure`) and shows it. They draw tables the chapter saved:
both protocols' grids (:class:`emma.experiments.replay_study.Ranking`'s ``grids``) and the waterfalls'
bars (:func:`emma.experiments.decomposition.waterfalls`).
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from emma.experiments.replay import METRICS
from emma.util import plots

#: Each protocol's colour in the figures that set them side by side.
PROTOCOL_COLORS = {"sound": "tab:blue", "original": "tab:red"}


def _check_grids(grids):
    needed = {"protocol", "rho", "lambda_c", "lambda_e", "capacity_mean", "f1_noisy_test_mean"}
    if not isinstance(grids, pd.DataFrame) or not needed <= set(grids.columns):
        raise ValueError(f"grids must be both protocols' ranked grids (Ranking.grids), with the columns {sorted(needed)}")


def capacity(grids: pd.DataFrame):
    """Left: the learned capacity against the coldness ρ (mean ± std over the λ), per protocol. Right: each configuration's
    F1 on the whole noisy test set against its learned capacity, the draft's "Yerkes-Dodson" curve."""
    _check_grids(grids)
    fig, axes = plt.subplots(1, 2, figsize=(9.5, 3.8))
    for protocol, color in PROTOCOL_COLORS.items():
        part = grids[grids["protocol"] == protocol]
        stats = part.groupby("rho")["capacity_mean"].agg(["mean", "std"]).fillna(0)
        axes[0].errorbar(stats.index, stats["mean"], yerr=stats["std"], marker="o", color=color, label=protocol)
        axes[1].scatter(part["capacity_mean"], part["f1_noisy_test_mean"], s=14, color=color, alpha=0.7, label=protocol)
    axes[0].set(xscale="log", xlabel="coldness ρ", ylabel="learned capacity (eq. 5.11)", title="Capacity against coldness (mean ± std over λ)")
    axes[1].set(xlabel="learned capacity (mean over seeds)", ylabel="F1 on the whole noisy test set", title="\"Yerkes-Dodson\": noisy F1 against capacity")
    for ax in axes:
        ax.legend(fontsize=8)
    plots.legible(fig)
    fig.tight_layout()
    return fig


def heatmaps(grids: pd.DataFrame, rhos):
    """F1 on the whole noisy test set over (λ_e, λ_c), one heatmap per ρ of ``rhos`` (rows) and protocol (columns), one colour scale."""
    _check_grids(grids)
    rhos = list(rhos)
    if not rhos:
        raise ValueError("rhos must name at least one coldness ρ of the grid")
    low, high = grids["f1_noisy_test_mean"].min(), grids["f1_noisy_test_mean"].max()
    fig, axes = plt.subplots(len(rhos), 2, figsize=(7.6, 2.3 * len(rhos) + 0.7), squeeze=False, layout="constrained")
    for j, protocol in enumerate(("sound", "original")):
        frame = grids[grids["protocol"] == protocol]
        for i, rho in enumerate(rhos):
            part = frame[np.isclose(frame["rho"], rho)].pivot_table(index="lambda_e", columns="lambda_c", values="f1_noisy_test_mean")
            sns.heatmap(part, ax=axes[i, j], vmin=low, vmax=high, cmap="viridis", annot=True, fmt=".2f", annot_kws={"fontsize": 8}, cbar=False,
                        xticklabels=[f"{v:g}" for v in part.columns], yticklabels=[f"{v:g}" for v in part.index])
            axes[i, j].set(title=f"{protocol}, ρ = {rho:g}", xlabel="λ_c", ylabel="λ_e")
            axes[i, j].tick_params(axis="y", rotation=0)
    fig.colorbar(axes[0, 0].collections[0], ax=axes, shrink=0.5, label="F1, whole noisy test set")
    fig.suptitle("F1 on the whole noisy test set over (λ_e, λ_c), mean over seeds")
    plots.legible(fig)
    return fig


def waterfall(bars: pd.DataFrame):
    """One waterfall per family (rows) and test subset (columns), from :func:`emma.experiments.decomposition.waterfalls`' bars;
    a panel where the thesis printed no number is left empty."""
    if not isinstance(bars, pd.DataFrame) or not {"family", "metric", "label", "start", "delta", "end"} <= set(bars.columns):
        raise ValueError("bars must be the table of emma.experiments.decomposition.waterfalls")
    families = list(dict.fromkeys(bars["family"]))
    fig, axes = plt.subplots(len(families), len(METRICS), figsize=(10, 3.0 * len(families)), squeeze=False)
    for i, family in enumerate(families):
        labelled = False  # the steps are named once per row, on its first panel
        for j, metric in enumerate(METRICS):
            part = bars[(bars["family"] == family) & (bars["metric"] == metric)].reset_index(drop=True)
            if part["delta"].isna().iloc[0]:
                axes[i, j].set_axis_off()  # the thesis printed no number here
                continue
            subset = metric.removeprefix("f1_").replace("_", "-").replace("ip", "IP").replace("dm", "DM")
            plots.waterfall(axes[i, j], part, f"{family}: {subset}", labels=not labelled)
            labelled = True
    plots.legible(fig)
    fig.tight_layout()
    return fig
