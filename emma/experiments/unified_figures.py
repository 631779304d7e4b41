"""The figures of the chapter :doc:`A unified model </book/chapters/08_unified_model>`, drawn from the results of
:mod:`emma.experiments.unified_results`. Each function returns a matplotlib figure, laid out and legible.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from emma.experiments import unified
from emma.experiments.unified_results import F1, Ablation, HTRU2Comparison
from emma.experiments.unified_study import Task
from emma.util.plots import legible


def _check(value, cls, name: str):
    if not isinstance(value, cls):
        raise TypeError(f"{name} must be of type {cls.__name__}, got {type(value).__name__}")
    return value


def task(test: Task, corruption_std: float):
    """The synthetic task: the factors of modes 1 and 2 on the samples whose two modes are clean, coloured by label, and
    the norm of mode 1 clean and corrupted (``corruption_std``, the noise's standard deviation, for the title)."""
    _check(test, Task, "test")
    if test.factors is None or test.signal_slot is None:
        raise ValueError("test must be a synthetic Task (with factors and signal_slot), as make_task draws it")
    n_factors = test.factors.shape[1]
    rows = torch.arange(len(test.y))
    signal = torch.stack([test.modes[i][rows, test.signal_slot[:, i]] for i in range(n_factors)], dim=1)  # (n, F)
    clean_pair = ~test.corrupted[:, :n_factors].any(dim=1)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    axes[0].scatter(*signal[clean_pair].T, c=test.y[clean_pair], cmap="coolwarm", s=4)
    axes[0].set(xlabel="factor of mode 1 (read at its signal feature)", ylabel="factor of mode 2", title="label = sign of the product")
    norms = test.modes[0].norm(dim=1)
    axes[1].hist([norms[~test.corrupted[:, 0]].numpy(), norms[test.corrupted[:, 0]].numpy()], bins=40, density=True, histtype="step",
                 label=["clean", "corrupted"])
    axes[1].set(xlabel="norm of mode 1", ylabel="density", title=f"corruption: noise std {corruption_std:g}")
    axes[1].legend()
    legible(fig)
    fig.tight_layout()
    return fig


def ablation(result: Ablation):
    """Accuracy of the eight combinations on clean and corrupted test samples: bars the mean over seeds with its sd, dots the seeds."""
    _check(result, Ablation, "result")
    table, scores = result.table, result.scores
    n_seeds = scores["seed"].nunique()
    fig, ax = plt.subplots(figsize=(10, 4))
    x = np.arange(len(table))
    for offset, column, color in ((-0.18, "acc_clean", "tab:gray"), (0.18, "acc_corrupted", "tab:red")):
        ax.bar(x + offset, table[f"{column}_mean"], 0.36, yerr=table[f"{column}_std"], color=color, alpha=0.7,
               capsize=3, label=column.replace("acc_", "accuracy, ").replace("_", " ") + " samples")
        for i, parts in enumerate(unified.COMBINATIONS):
            values = scores[(scores[list(unified.PARTS)] == pd.Series(parts)).all(axis=1)][column]
            ax.scatter(np.full(len(values), i + offset), values, color="k", s=8, zorder=3)
    ax.axhline(0.5, color="k", ls=":", lw=1, label="chance")
    ax.set_xticks(x, table["model"], rotation=20)
    ax.set(xlabel="parts switched on", ylabel="test accuracy", ylim=(0.4, 1.0), title=f"Ablation of the unified model ({n_seeds} seeds, dots: one seed each)")
    ax.legend(fontsize=8, loc="upper left")
    legible(fig)
    fig.tight_layout()
    return fig


#: The attention figure's panels: the part, its two markers (column, legend) and the panel's title.
ATTENTION_PANELS = [
    ("exogenous", ("beta_clean", "clean modes"), ("beta_corrupted", "corrupted modes"), "exogenous: mean β"),
    ("endogenous", ("mask_signal", "feature holding the signal"), ("mask_other", "other features"), "endogenous: mean mask"),
    ("crossmodal", ("cross_to_needed", "learned"), ("cross_to_needed_uniform", "uniform weights"), "crossmodal: weight on the modes needed"),
]


def attention(result: Ablation):
    """What each part attends to, for every model that has it: two markers per panel, mean ± sd over seeds."""
    _check(result, Ablation, "result")
    fig, axes = plt.subplots(3, 1, figsize=(7.6, 8.4))
    for ax, (part, (first, first_label), (second, second_label), title) in zip(axes, ATTENTION_PANELS):
        rows_on = result.attention[result.attention[part]]
        y = np.arange(len(rows_on))
        ax.errorbar(rows_on[f"{first}_mean"], y, xerr=rows_on[f"{first}_std"], fmt="o", color="tab:blue", label=first_label)
        ax.errorbar(rows_on[f"{second}_mean"], y, xerr=rows_on[f"{second}_std"], fmt="s", color="tab:orange", label=second_label)
        ax.set_yticks(y, rows_on["model"])
        ax.set(title=title, xlabel=title.split(": ", 1)[1], ylabel="model", xlim=(0, 1), ylim=(-0.5, len(rows_on) + 0.5))
        ax.legend(fontsize=7, loc="upper right", ncol=2)
    legible(fig)
    fig.tight_layout()
    return fig


def htru2(result: HTRU2Comparison):
    """F1 of EMMA alone and of the best combination on HTRU2, one line per seed, one panel per score."""
    _check(result, HTRU2Comparison, "result")
    best_name = result.best_name
    fig, axes = plt.subplots(2, len(F1) // 2, figsize=(7.6, 6.4), sharex=True, sharey=True)
    for ax, column in zip(axes.ravel(), F1):
        wide = result.runs.pivot(index="seed", columns="model", values=column)[["EMMA alone", best_name]]
        for _, row in wide.iterrows():
            ax.plot([0, 1], row.to_numpy(), color="tab:gray", marker="o", lw=1)
        ax.set_xticks([0, 1], ["EMMA alone", best_name])
        ax.set(title=column.replace("f1_", "F1, ").replace("_", " ").replace("ip", "IP").replace("dm", "DM"), xlim=(-0.3, 1.3))
    for ax in axes[:, 0]:
        ax.set_ylabel("test F1 (one line per seed)")
    for ax in axes[-1]:
        ax.set_xlabel("model")
    legible(fig)
    fig.tight_layout()
    return fig
