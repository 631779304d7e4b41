"""The figures of the chapter :doc:`More than two modes </book/chapters/09_many_modes>`, each from the results
of :mod:`emma.experiments.many_modes`.

Each function draws one figure with :mod:`matplotlib.pyplot` (so that the notebook shows it),
makes its text legible on the page (:func:`emma.util.plots.legible`) and returns it; the chapter
saves it (:func:`emma.util.outputs.save_figure`).
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from emma.experiments import modes
from emma.experiments.many_modes import ColdnessStudy, RegularizerEffect, StepCost
from emma.experiments.modes import ModeData
from emma.util.plots import legible
from emma.util.runtime import seed_everything

#: The colour of each model of the study.
COLORS = {"without": "tab:gray", "with": "tab:blue", "with, λ_e = 0": "tab:orange"}


def digit_patches_figure(patches: ModeData, seed: int = 0, levels=(0, 4, 8, 15)):
    """The first digit of ``patches`` (16 patch modes of 2×2 pixels) with k of its patches corrupted, for each k of ``levels``.

    For the picture, Gaussian noise of standard deviation 0.5 on pixels scaled to [0, 1]; the mask
    and the noise are drawn after :func:`emma.util.runtime.seed_everything` with ``seed``.
    """
    if not isinstance(patches, ModeData) or tuple(patches.x.shape[1:]) != (16, 4):
        raise ValueError("patches must be the digits as 16 patch modes of 4 pixels (emma.experiments.modes.digit_modes(2))")
    image = patches.x[0]  # (16, 4): one digit as 16 patch modes
    fig, axes = plt.subplots(1, len(levels), figsize=(9, 2.6))
    for ax, k in zip(np.atleast_1d(axes), levels):
        mask = modes.corruption_mask(1, 16, k, generator=seed_everything(seed))
        noisy = modes.corrupt(image[None] / 16.0, mask, 0.5, generator=seed_everything(seed))[0]
        pixels = np.zeros(64)
        pixels[modes.block_indices(2).ravel()] = noisy.ravel().numpy()
        ax.imshow(pixels.reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
        ax.set_xticks(np.arange(-0.5, 8, 2), minor=False, labels=[]), ax.set_yticks(np.arange(-0.5, 8, 2), labels=[])
        ax.grid(color="tab:blue", lw=0.8)
        ax.set_title(f"k = {k} of 16 patches corrupted", fontsize=8)
    legible(fig)
    fig.tight_layout()
    return fig


def scores_figure(scaling: pd.DataFrame):
    """Test accuracy against k, one panel per data set and M, one line per model (mean ± std over seeds); dotted: the last k of the constraint."""
    panels = scaling[["dataset", "n_modes"]].drop_duplicates().to_numpy().tolist()
    columns = (len(panels) + 1) // 2
    fig, axes = plt.subplots(2, columns, figsize=(3.0 * columns, 5.6), squeeze=False)
    for ax, (name, m) in zip(axes.ravel(), panels):
        part = scaling[(scaling["dataset"] == name) & (scaling["n_modes"] == m)]
        for model, color in COLORS.items():
            rows = part[part["model"] == model]
            ax.errorbar(rows["n_corrupted"], rows["score_mean"], rows["score_std"], color=color, marker="o", ms=3, lw=1, capsize=2, label=model)
        ax.axvline(m - modes.clean_modes_needed(m) + 0.5, color="k", ls=":", lw=0.8)
        ax.set_xticks(sorted(part["n_corrupted"].unique()))
        ax.set_title(f"{name}, M = {m}", fontsize=9)
        ax.set_xlabel("k corrupted modes", fontsize=8)
    for ax in axes.ravel()[len(panels):]:
        ax.axis("off")
    for ax in axes[:, 0]:
        ax.set_ylabel("test accuracy")
    axes[0, 0].legend(fontsize=7)
    legible(fig)
    fig.tight_layout()
    return fig


def largest_traced(synthetic_n_modes, max_levels: int) -> int:
    """The largest synthetic M whose every k was trained (M − 1 ≤ ``max_levels``): the M the training figure traces.

    >>> largest_traced([3, 8, 16], 7)
    8
    """
    listed = [m for m in synthetic_n_modes if m - 1 <= max_levels]
    if not listed:
        raise ValueError(f"synthetic_n_modes must hold an M with M - 1 <= max_levels = {max_levels}, got {synthetic_n_modes!r}")
    return max(listed)


def training_alpha_figure(histories: pd.DataFrame, largest: int, coldness: float):
    """The mean α of the corrupted training modes, times M, epoch by epoch, for the synthetic M ``largest`` and every k:
    "with" (left) and "with, λ_e = 0" (right); dashed where the constraint is broken."""
    trace = histories[(histories["dataset"] == "synthetic") & (histories["n_modes"] == largest) & np.isclose(histories["coldness"], coldness)]
    if trace.empty:
        raise ValueError(f"histories hold no synthetic run with M = {largest} at coldness {coldness}")
    trace = trace.groupby(["n_corrupted", "model", "epoch"])["alpha_corrupted"].mean().reset_index()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2), sharey=True)
    cmap = plt.get_cmap("viridis", largest)
    for ax, model in zip(axes, ["with", "with, λ_e = 0"]):
        for k, part in trace[trace["model"] == model].groupby("n_corrupted"):
            ls = "-" if modes.constraint_holds(largest, k) else "--"
            ax.plot(part["epoch"], part["alpha_corrupted"] * largest, color=cmap(k - 1), ls=ls, label=f"k = {k}")
        ax.set(title=f"{model} (synthetic, M = {largest}; dashed: constraint broken)", xlabel="epoch")
        ax.title.set_fontsize(9)
    axes[0].set_ylabel(r"mean $\alpha$ of corrupted modes $\times M$")
    axes[1].legend(fontsize=7, ncol=2)
    legible(fig)
    fig.tight_layout()
    return fig


def regularizer_figure(omega: RegularizerEffect):
    """Ω's effect on the accuracy (left) and on the corrupted modes' α (right) against 2k − M, per data set and M."""
    cells = omega.cells
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), layout="constrained")
    for ax, column, label in zip(axes, ["d_score", "d_alpha_corrupted"], ["accuracy", r"mean $\alpha$ of corrupted modes"]):
        for (name, m), part in cells.groupby(["dataset", "n_modes"]):
            ax.errorbar(part["bracket"] + 0.01 * m, part[f"{column}_mean"], part[f"{column}_std"], marker="o" if name == "synthetic" else "s",
                        ms=3, lw=0.8, capsize=2, label=f"{name}, M = {m}")
        ax.axhline(0, color="k", lw=0.6)
        ax.axvline(0.5, color="k", ls=":", lw=0.8)
        ax.set(xlabel="2k − M\n(right of the dotted line: fewer than M' clean modes)", ylabel=f"effect of Ω on {label}")
    fig.legend(*axes[1].get_legend_handles_labels(), loc="outside lower center", ncol=4, fontsize=6)
    legible(fig)
    return fig


def coldness_figure(cold: ColdnessStudy):
    """The separation and the test accuracy against ρ per M, and the coldness needed and best on validation against M."""
    means, needed, summary = cold.means, cold.needed, cold.needed_summary
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.4))
    for m, part in means.groupby("n_modes"):
        axes[0].errorbar(part["coldness"], part["separation_mean"], part["separation_std"], marker="o", ms=3, capsize=2, label=f"M = {m}")
        axes[1].errorbar(part["coldness"], part["score_mean"], part["score_std"], marker="o", ms=3, capsize=2, label=f"M = {m}")
    axes[0].axhline(cold.level, color="k", ls=":", lw=0.8)
    axes[0].set(xscale="log", xlabel=r"coldness $\rho$", ylabel="separation of clean from corrupted α")
    axes[1].set(xscale="log", xlabel=r"coldness $\rho$", ylabel="test accuracy")
    axes[2].plot(needed["n_modes"], needed["rho_needed"], "o", color="tab:blue", alpha=0.4, label="needed (per seed)")
    axes[2].plot(summary["n_modes"], summary["rho_needed_median"], "-", color="tab:blue", label="needed (median)")
    axes[2].plot(summary["n_modes"], summary["rho_best_median"], "s--", color="tab:green", label="best on validation (median)")
    axes[2].set(xscale="log", yscale="log", xlabel="M", ylabel=r"$\rho$")
    axes[2].set_xticks(summary["n_modes"], labels=summary["n_modes"].astype(str))
    axes[2].minorticks_off()
    axes[0].legend(fontsize=7), axes[2].legend(fontsize=7)
    legible(fig)
    fig.tight_layout()
    return fig


def step_cost_figure(cost: StepCost):
    """Milliseconds per training step against M on log–log axes, per step timed, with its quartiles and fitted exponent."""
    fig, ax = plt.subplots(figsize=(5, 3.4))
    for step, part in cost.table.groupby("step"):
        line = ax.plot(part["n_modes"], part["ms_median"], marker="o", ms=3, label=f"{step} (p = {cost.exponents[step]:.2f})")
        ax.fill_between(part["n_modes"], part["ms_q1"], part["ms_q3"], color=line[0].get_color(), alpha=0.2)
    measured = sorted(cost.table["n_modes"].unique())
    ax.set(xscale="log", yscale="log", xlabel="M", ylabel="ms per training step (median, quartiles)")
    ax.set_xticks(measured, labels=[str(m) for m in measured])
    ax.minorticks_off()
    ax.legend(fontsize=8)
    legible(fig)
    fig.tight_layout()
    return fig
