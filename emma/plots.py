"""Plot recipes shared by the chapters (each returns the matplotlib Figure it drew)."""
from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.colors import LogNorm
import numpy as np
import pandas as pd


def learning_curves(curves: dict[str, pd.DataFrame], title: str = "Learning curves", ylabel: str = "loss"):
    """One line per (label, column) of each curves DataFrame (columns ``epoch`` and ``*_loss``)."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for label, frame in curves.items():
        for column in [c for c in frame.columns if c.endswith("loss")]:
            ax.plot(frame["epoch"], frame[column], label=f"{label}: {column.replace('_', ' ')}")
    ax.set(xlabel="epoch", ylabel=ylabel, title=title, yscale="log")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def vector_field(ax, xs, ys, field, data=None, title: str = ""):
    """Quiver plot of a 2-D field sampled on a mesh; ``field`` has shape (steps², 2)."""
    u = np.asarray(field[:, 0]).reshape(xs.shape)
    v = np.asarray(field[:, 1]).reshape(xs.shape)
    ax.quiver(np.asarray(xs), np.asarray(ys), u, v, np.hypot(u, v), cmap="viridis", angles="xy")
    if data is not None:
        ax.scatter(data[:, 0], data[:, 1], s=3, c="crimson", label="training manifold")
    ax.set(title=title, aspect="equal", xlabel="$x_1$", ylabel="$x_2$")
    return ax


def heatmap(ax, xs, ys, values, title: str = "", cmap: str = "magma", label: str = "", log: bool = False):
    """Filled heatmap of a scalar sampled on a mesh; ``values`` has shape (steps²,).

    With ``log`` the colours follow a logarithmic scale (all values must then be positive).
    """
    values = np.asarray(values).reshape(xs.shape)
    if log and not (values > 0).all():
        raise ValueError("values must all be positive for a logarithmic colour scale (log=True)")
    norm = LogNorm(values.min(), values.max()) if log else None
    image = ax.pcolormesh(np.asarray(xs), np.asarray(ys), values, cmap=cmap, shading="auto", norm=norm)
    ax.figure.colorbar(image, ax=ax, label=label)
    ax.set(title=title, aspect="equal", xlabel="$x_1$", ylabel="$x_2$")
    return ax


#: Colours of the model families in every robustness figure.
FAMILY_COLORS = {"base": "tab:gray", "without": "tab:orange", "alternative": "tab:green", "with": "tab:blue"}


def _mean_band(ax, frame: pd.DataFrame, column: str, color, label: str, marker="o"):
    stats = frame.groupby("nsr_db")[column].agg(["mean", "std"]).fillna(0)
    ax.plot(stats.index, stats["mean"], marker=marker, color=color, label=label)
    ax.fill_between(stats.index, stats["mean"] - stats["std"], stats["mean"] + stats["std"], color=color, alpha=0.2)


def generalisation(axes, curves: pd.DataFrame, styles, training_nsr_db: float, single_mode=None):
    """The robustness-generalisation figure on two axes (only IP, only DM corrupted).

    Parameters
    ----------
    axes : two matplotlib Axes
    curves : DataFrame
        :func:`emma.evaluation.generalisation_curves` rows with a ``family`` column.
    styles : list of (family, color, label)
    training_nsr_db : float
        Drawn as a dashed vertical line.
    single_mode : dict, optional
        ``{"IP": F1, "DM": F1}``: the single-mode model on the *clean* mode, a dotted line.
    """
    for ax, mode in zip(axes, ["IP", "DM"]):
        for family, color, label in styles:
            _mean_band(ax, curves[(curves["family"] == family) & (curves["corrupted"] == mode)], "f1", color, label)
        ax.axvline(training_nsr_db, color="k", ls="--", lw=1, label="training NSR")
        if single_mode is not None:
            ax.axhline(float(np.mean(single_mode[mode])), color="k", ls=":", lw=1, label="single-mode model, clean mode")
        ax.set(title=f"only {mode} corrupted", xlabel="NSR (dB)", ylabel="F1 on the test set")
    axes[-1].legend(fontsize=7)


def beta_vs_nsr(axes, curves: pd.DataFrame, training_nsr_db: float):
    """β of both modes against NSR as one mode is corrupted (slides Figures 2 and 4), for the ``with`` rows of ``curves``."""
    part = curves[curves["family"] == "with"]
    for ax, mode in zip(axes, ["IP", "DM"]):
        rows = part[part["corrupted"] == mode]
        for column, color in (("beta_ip", "tab:blue"), ("beta_dm", "tab:orange")):
            _mean_band(ax, rows, column, color, f"β_{column[-2:].upper()}")
        ax.axvline(training_nsr_db, color="k", ls="--", lw=1)
        ax.set(title=f"only {mode} corrupted", xlabel="NSR (dB)", ylabel="mean attention β", ylim=(-0.05, 1.05))
    axes[-1].legend(fontsize=7)


def waterfall(ax, bars: pd.DataFrame, title: str = ""):
    """A waterfall of :func:`emma.replay.waterfall` bars: totals in grey, rises in green, falls in red."""
    x = np.arange(len(bars))
    totals = bars["label"].isin(["thesis", "sound"]).to_numpy()
    colors = np.where(totals, "tab:gray", np.where(bars["delta"] >= 0, "tab:green", "tab:red"))
    bottoms = np.minimum(bars["start"], bars["end"])
    ax.bar(x, np.abs(bars["delta"]), bottom=bottoms, color=colors, edgecolor="k", linewidth=0.4)
    ax.set_xticks(x, bars["label"], rotation=60, ha="right", fontsize=7)
    low, high = bars[["start", "end"]].to_numpy()[~totals].min(), bars[["start", "end"]].to_numpy().max()
    ax.set_ylim(max(0.0, min(low, bars["end"].iloc[-1], bars["end"].iloc[0]) - 0.05), min(1.0, high + 0.03))
    ax.set_title(title, fontsize=9)


def decision_rules(summary: pd.DataFrame, rules: dict, families, subsets=("clean", "ip_noisy", "dm_noisy")):
    """Each family's score under each decision rule, one panel per test subset, mean ± std over seeds.

    ``summary`` is :func:`emma.decision.rule_summary` of one protocol; ``rules`` maps each
    rule to its label (:data:`emma.decision.RULES`). Returns the Figure.
    """
    fig, axes = plt.subplots(1, len(subsets), figsize=(4.2 * len(subsets), 4.0), sharey=True, squeeze=False)
    x = np.arange(len(rules))
    for ax, subset in zip(axes[0], subsets):
        for i, family in enumerate(families):
            part = summary[(summary["family"] == family) & (summary["subset"] == subset)].set_index("rule").reindex(list(rules))
            color = FAMILY_COLORS.get(family.split(" ")[0], f"C{i + 4}")
            ax.errorbar(x + 0.08 * (i - len(families) / 2), part["mean"], yerr=part["std"], marker="o", ms=4, capsize=2, color=color,
                        ls="-" if family.startswith("with") else "--", label=family, alpha=0.9 if family.startswith("with") else 0.7)
        ax.set_xticks(x, [label.replace(" (", "\n(") for label in rules.values()], fontsize=8)
        ax.set_title(f"{subset.replace('_', '-')} test samples", fontsize=10)
        ax.axvline(2.5, color="0.8", lw=0.8)
    axes[0, 0].set_ylabel("F1 (three thresholds) or AUROC / AP")
    axes[0, -1].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig
