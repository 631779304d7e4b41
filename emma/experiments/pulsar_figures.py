"""The figures of chapter 4 (the pulsar data), one function each.

Each function draws one figure with :mod:`matplotlib.pyplot` and returns it; the chapter saves
it (:func:`emma.util.outputs.save_figure`) and shows it.

* :func:`feature_distributions_figure`: each HTRU2 feature per class, one panel per feature;
* :func:`correlation_figure`: the rank correlation of the eight features;
* :func:`noise_levels_figure`: test samples with noise on one mode (the noise is drawn by
  :func:`emma.experiments.pulsar_data.noise_study`).
"""
from __future__ import annotations

from typing import Mapping

import matplotlib.pyplot as plt
import numpy as np

from emma.data.htru2 import CLASS_COLUMN, FEATURE_NAMES, HTRU2, MODE_NAMES, MODE_SLICES
from emma.util.plots import legible

#: The two classes' names in every table and figure of the chapter, by label.
CLASS_NAMES = {0: "non-pulsar", 1: "pulsar"}
#: Their colours in its figures.
CLASS_COLORS = {0: "tab:gray", 1: "tab:red"}


def _check_data(data) -> HTRU2:
    if not isinstance(data, HTRU2):
        raise ValueError(f"data must be the HTRU2 table of emma.data.htru2.fetch_htru2, got {type(data).__name__}")
    return data


def feature_distributions_figure(data: HTRU2):
    """Histograms of each feature per class, each class normalised to unit area; a row per mode.

    Each panel spans the feature's 0.5 % to 99.5 % quantiles; the values outside are not drawn.
    """
    data = _check_data(data)
    fig, axes = plt.subplots(2, 4, figsize=(10, 5.4))
    for row, mode in enumerate(MODE_NAMES):
        for col, name in enumerate(FEATURE_NAMES[MODE_SLICES[mode]]):
            ax = axes[row, col]
            low, high = np.quantile(data.frame[name], [0.005, 0.995])
            bins = np.linspace(low, high, 50)
            for label in (0, 1):
                values = data.frame.loc[data.frame[CLASS_COLUMN] == label, name]
                ax.hist(values, bins=bins, density=True, histtype="stepfilled", alpha=0.45,
                        color=CLASS_COLORS[label], label=CLASS_NAMES[label])
            ax.set(xlabel=name, yticks=[])
        axes[row, 0].set_ylabel(f"mode {mode}\ndensity")
    axes[0, 0].legend(fontsize=8)
    fig.suptitle("HTRU2 features by class (each class normalised to unit area)")
    legible(fig)
    fig.tight_layout()
    return fig


def correlation_figure(data: HTRU2):
    """Spearman's rank correlation of the eight features as an annotated heat map, the IP–DM blocks framed."""
    data = _check_data(data)
    spearman = data.frame[list(FEATURE_NAMES)].corr(method="spearman")
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    image = ax.imshow(spearman.values, cmap="RdBu_r", vmin=-1, vmax=1)
    ax.set_xticks(range(8), FEATURE_NAMES, rotation=60, ha="right")
    ax.set_yticks(range(8), FEATURE_NAMES)
    for i in range(8):
        for j in range(8):
            value = spearman.values[i, j]
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7, color="w" if abs(value) > 0.6 else "k")
    ax.axhline(3.5, color="k", lw=1)
    ax.axvline(3.5, color="k", lw=1)
    fig.colorbar(image, ax=ax, label="Spearman correlation")
    ax.set_title("Rank correlation of the HTRU2 features")
    legible(fig)
    fig.tight_layout()
    return fig


def noise_levels_figure(noisy: Mapping[tuple[str, str], np.ndarray], labels: np.ndarray, shown: np.ndarray,
                        pairs: Mapping[str, list[int]]):
    """Scatter plots of noisy test samples: a row per mode, a column per panel, classes coloured.

    Parameters
    ----------
    noisy : mapping
        ``{(mode, panel title): features}``, each an (n, 8) array, modes in the rows' order and,
        within a mode, panels in the columns' order.
    labels : numpy.ndarray
        The class of each of the n samples (0 or 1).
    shown : numpy.ndarray
        The indices of the samples drawn.
    pairs : mapping
        ``{mode: [i, j]}``: the two feature columns of each mode's plane.
    """
    if not isinstance(noisy, Mapping) or not noisy:
        raise ValueError("noisy must map (mode, panel title) to an (n, 8) array of features")
    modes = list(dict.fromkeys(mode for mode, _ in noisy))
    titles = list(dict.fromkeys(title for _, title in noisy))
    missing = [mode for mode in modes if mode not in pairs or len(pairs[mode]) != 2]
    if missing:
        raise ValueError(f"pairs must give two feature columns for each mode, missing or wrong for {missing}")
    labels, shown = np.asarray(labels), np.asarray(shown)
    fig, axes = plt.subplots(len(modes), len(titles), figsize=(2.5 * len(titles), 3.0 * len(modes)), sharex="row", sharey="row",
                             squeeze=False)
    for row, mode in enumerate(modes):
        pair = pairs[mode]
        for col, title in enumerate(titles):
            ax = axes[row, col]
            for label in (0, 1):
                points = noisy[(mode, title)][shown[labels[shown] == label]]
                ax.scatter(points[:, pair[0]], points[:, pair[1]], s=3, alpha=0.5,
                           color=CLASS_COLORS[label], label=CLASS_NAMES[label])
            ax.set(title=f"{mode}: {title}", xlabel=FEATURE_NAMES[pair[0]])
            if col == 0:
                ax.set_ylabel(FEATURE_NAMES[pair[1]])
    axes[0, 0].legend(fontsize=8, markerscale=3)
    fig.suptitle("Test samples, standardized, with noise on one mode")
    legible(fig)
    fig.tight_layout()
    return fig
