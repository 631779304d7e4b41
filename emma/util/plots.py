"""Plot recipes shared by the chapters (each returns the matplotlib Figure it drew)."""
from __future__ import annotations

import textwrap
import zlib

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import LogNorm
from matplotlib.font_manager import FontProperties
from matplotlib.text import Text

#: The width of the book's text column, in inches of a figure drawn at the notebooks' 100 dpi (784 px).
COLUMN_INCHES = 7.84
#: The smallest text a figure may show, in points, once a wider figure is shrunk to the column.
MIN_POINTS = 8.0


def legible(fig, min_points: float = MIN_POINTS, column_inches: float = COLUMN_INCHES):
    """Enlarge every text of ``fig`` (tick labels, axis labels, titles, legends, annotations) that
    would read smaller than ``min_points`` once the page shrinks the figure to its column.

    A figure wider than the column is drawn smaller on the page: at 11 inches a 10-point label reads
    as 7 points. Call it before the layout (``tight_layout``) and before :func:`emma.save_figure`;
    it returns ``fig``.
    """
    scale = min(1.0, column_inches / float(fig.get_size_inches()[0]))
    floor = min_points / scale
    for ax in fig.axes:
        for name in ("x", "y", "z"):
            axis = getattr(ax, f"{name}axis", None)
            if axis is None:
                continue
            for which in ("major", "minor"):
                labels = axis.get_ticklabels(which=which)
                default = plt.rcParams["ytick.labelsize" if name == "y" else "xtick.labelsize"]
                size = labels[0].get_fontsize() if labels else FontProperties(size=default).get_size_in_points()
                if size < floor:  # for the ticks drawn later too
                    ax.tick_params(axis=name, which=which, labelsize=floor)
    for text in fig.findobj(Text):
        if text.get_fontsize() < floor:
            text.set_fontsize(floor)
    return fig


def learning_curves(curves: dict[str, pd.DataFrame], title: str = "Learning curves", ylabel: str = "loss"):
    """One line per (label, column) of each curves DataFrame (columns ``epoch`` and ``*_loss``)."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for label, frame in curves.items():
        for column in [c for c in frame.columns if c.endswith("loss")]:
            ax.plot(frame["epoch"], frame[column], label=f"{label}: {column.replace('_', ' ')}")
    ax.set(xlabel="epoch", ylabel=ylabel, title=title, yscale="log")
    ax.legend(fontsize=8)
    legible(fig)
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
#: The colours left for a family without one in :data:`FAMILY_COLORS` (:func:`family_color`).
OTHER_COLORS = ("tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan")


def family_color(name: str) -> str:
    """The colour of the family ``name``: :data:`FAMILY_COLORS`'s, else one of :data:`OTHER_COLORS` picked by a
    checksum of the name (``zlib.crc32``), so a family keeps its colour in every figure and every run.

    >>> family_color("with"), family_color("gated") == family_color("gated")
    ('tab:blue', True)
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a family's name (a non-empty string), got {name!r}")
    return FAMILY_COLORS.get(name) or OTHER_COLORS[zlib.crc32(name.encode("utf-8")) % len(OTHER_COLORS)]


def family_label(name: str) -> str:
    """How figures name the family ``name``: its :class:`~emma.engine.registry.Family`'s ``label``, or its name
    when it has none (or is not registered).

    >>> import emma.engine.families  # registers the thesis's six families
    >>> family_label("with"), family_label("not registered")
    ('EMMA', 'not registered')
    """
    from emma.engine.registry import get_family, registered  # the engine is heavy; only this helper needs it

    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a family's name (a non-empty string), got {name!r}")
    label = get_family(name).label if name in registered() else ""
    return str(label) if label else name


def family_figure(frame: pd.DataFrame, columns=("f1_failed", "f1_clean"), *, families=None, xlabel: str = "severity", title: str = ""):
    """F1 against severity, one line per family (mean over seeds, a band of ± one standard deviation), one panel per column.

    Each family has its colour (:func:`family_color`: the book's for its own families) and its
    label (:func:`family_label`).

    Parameters
    ----------
    frame : DataFrame
        Columns ``family``, ``severity``, ``seed`` and ``columns``, one row per family, severity and
        seed: :func:`emma.experiments.compare.compare_families`.
    columns : sequence of str
        The scores to draw, one panel each; ``f1_failed`` (samples with a failed mode) and ``f1_clean`` by default.
    families : sequence of str, optional
        The families to draw, in this order (the legend's); all of ``frame``'s, in their order, by default.
    xlabel, title : str
        The horizontal axis (say what the failure's severity means) and the figure's title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not isinstance(frame, pd.DataFrame) or frame.empty:
        raise ValueError(f"frame must be a non-empty DataFrame (compare_families), got {type(frame).__name__}")
    if isinstance(columns, str) or not isinstance(columns, (list, tuple)) or not columns:
        raise ValueError(f"columns must be a non-empty list of frame's columns such as ['f1_failed'], got {columns!r}")
    missing = [c for c in ("family", "severity", "seed", *columns) if c not in frame.columns]
    if missing:
        raise ValueError(f"frame lacks the columns {missing}; it has {list(frame.columns)}")
    present = list(dict.fromkeys(frame["family"]))
    if families is None:
        families = present
    elif isinstance(families, str) or not isinstance(families, (list, tuple)) or not families or set(families) - set(present):
        raise ValueError(f"families must be a non-empty list of families of frame {present}, got {families!r}")
    names = {"f1_failed": "F1, failed samples", "f1_clean": "F1, clean samples", "f1_ip_failed": "F1, IP failed", "f1_dm_failed": "F1, DM failed"}
    fig, axes = plt.subplots(1, len(columns), figsize=(3.9 * len(columns), 3.2), sharex=True, squeeze=False, layout="constrained")
    for ax, column in zip(axes[0], columns):
        for family in families:
            stats = frame[frame["family"] == family].groupby("severity")[column].agg(["mean", "std"]).fillna(0.0)
            color = family_color(family)
            ax.plot(stats.index, stats["mean"], marker="o", color=color, label=family_label(family))
            ax.fill_between(stats.index, stats["mean"] - stats["std"], stats["mean"] + stats["std"], color=color, alpha=0.2)
        ax.set(xlabel=xlabel, ylabel=names.get(column, column))
    axes[0, -1].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    legible(fig)
    return fig


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
        :func:`emma.engine.evaluation.generalisation_curves` rows with a ``family`` column.
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


def waterfall(ax, bars: pd.DataFrame, title: str = "", labels: bool = True, xlabel: str = "test F1"):
    """A horizontal waterfall of :func:`emma.experiments.replay.waterfall` bars, read from the top: totals in grey,
    rises in green, falls in red. ``labels=False`` leaves out the names of the steps (a panel right of
    one that shows them)."""
    y = np.arange(len(bars))
    totals = bars["label"].isin(["thesis", "sound"]).to_numpy()
    colors = np.where(totals, "tab:gray", np.where(bars["delta"] >= 0, "tab:green", "tab:red"))
    lefts = np.minimum(bars["start"], bars["end"])
    ax.barh(y, np.abs(bars["delta"]), left=lefts, height=0.7, color=colors, edgecolor="k", linewidth=0.4)
    ax.set_yticks(y, bars["label"] if labels else [])
    ax.set_ylim(len(bars) - 0.5, -0.5)  # the thesis on top, the book's protocol at the bottom
    ends = bars[["start", "end"]].to_numpy()
    low, high = np.nanmin(ends[~totals], initial=np.inf), np.nanmax(ends, initial=-np.inf)
    if np.isfinite(low) and np.isfinite(high):
        lowest = np.nanmin([low, bars["end"].iloc[-1], bars["end"].iloc[0]])
        ax.set_xlim(max(0.0, lowest - 0.05), min(1.0, high + 0.03))
    ax.grid(axis="x", color="0.9", lw=0.6)
    ax.set_axisbelow(True)
    ax.set(xlabel=xlabel, title=title)


def decision_rules(summary: pd.DataFrame, rules: dict, families, subsets=("clean", "ip_noisy", "dm_noisy")):
    """Each family's score under each decision rule, one panel per test subset (stacked, the rules
    along the shared horizontal axis), mean ± std over seeds.

    ``summary`` is :func:`emma.experiments.decision.rule_summary` of one protocol; ``rules`` maps each
    rule to its label (:data:`emma.experiments.decision.RULES`). Returns the Figure.
    """
    fig, axes = plt.subplots(len(subsets), 1, figsize=(7.6, 2.4 * len(subsets) + 1.2), sharex=True, squeeze=False, layout="constrained")
    x = np.arange(len(rules))
    for ax, subset in zip(axes[:, 0], subsets):
        for i, family in enumerate(families):
            part = summary[(summary["family"] == family) & (summary["subset"] == subset)].set_index("rule").reindex(list(rules))
            color = FAMILY_COLORS.get(family.split(" ")[0], f"C{i + 4}")
            emma = family == "with" or family.startswith("with (")  # not "without", data augmentation
            ax.errorbar(x + 0.08 * (i - len(families) / 2), part["mean"], yerr=part["std"], marker="s" if "top 10" in family else "o",
                        ms=4, capsize=2, color=color,
                        ls="-" if emma else "--", label=family, alpha=0.9 if emma else 0.7)
        ax.set_title(f"{subset.replace('_', '-').replace('ip', 'IP').replace('dm', 'DM')} test samples")
        ax.set_ylabel("F1, or AUROC / AP")
        ax.axvline(2.5, color="0.8", lw=0.8)  # left: F1 at the three thresholds; right: the threshold-free scores
    axes[-1, 0].set_xticks(x, [textwrap.fill(label, 16) for label in rules.values()])
    axes[-1, 0].set_xlabel("decision rule (F1 at a threshold) or threshold-free score")
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside lower center", ncol=3)
    legible(fig)
    return fig
