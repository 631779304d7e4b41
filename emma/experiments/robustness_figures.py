"""The figures of the chapter :doc:`Experiment II </book/chapters/06_robustness>`, one function each.

Each takes the typed results of :mod:`emma.experiments.robustness` (:class:`~emma.experiments.robustness.Trained`,
:class:`~emma.experiments.robustness.Chosen`, ...) and returns the Figure, laid out for the page
(:func:`emma.util.plots.legible`); the chapter saves it (:func:`emma.util.outputs.save_figure`) and shows it.
A figure whose data the chapter does not save (the distributions of α and β, the two
temperatures, the total energy) scores the models itself, with the same calls and draws as the
tables'.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from emma.data.noise import sigma_to_nsr_db
from emma.engine.evaluation import config_rows, noise_response, per_sample_outcomes, select
from emma.experiments.decision import RULES, DecisionStudy
from emma.experiments.robustness import Chosen, Curves, Trained
from emma.util import plots
from emma.util.plots import FAMILY_COLORS

#: The colour of each corruption case of a test sample.
CASE_COLORS = {"clean": "tab:gray", "IP noisy": "tab:blue", "DM noisy": "tab:orange"}
#: The colour of each level of a regularizer (:func:`emma.engine.ranking.regularizer_levels`).
LEVEL_COLORS = {"none": "tab:gray", "good": "tab:blue", "high": "crimson"}


def _check(trained, chosen=None):
    if not isinstance(trained, Trained):
        raise TypeError(f"trained must be the Trained of emma.experiments.robustness.train, got {type(trained).__name__}")
    if chosen is not None and not isinstance(chosen, Chosen):
        raise TypeError(f"chosen must be the Chosen of emma.experiments.robustness.choose, got {type(chosen).__name__}")


def grid_ranking(grid: pd.DataFrame, baselines: pd.DataFrame):
    """Every configuration's noisy-sample test F1 (mean ± std over seeds) in the order of the validation ranking, the
    thesis's top 10 circled, the baselines as dashed lines (``grid`` and ``baselines`` of :class:`~emma.experiments.robustness.Headline`)."""
    fig, ax = plt.subplots(figsize=(9, 3.5))
    order = grid.reset_index(drop=True)
    ax.errorbar(np.arange(len(order)), order["test_score"], yerr=order[["f1_ip_noisy_std", "f1_dm_noisy_std"]].mean(axis=1), fmt=".", color="tab:blue",
                alpha=0.7, label="with: mean noisy test F1 ± std over seeds")
    marked = order["thesis_f1_clean"].notna()
    ax.scatter(np.flatnonzero(marked), order.loc[marked, "test_score"], s=60, facecolors="none", edgecolors="crimson",
               label="the thesis's top 10 (its test ranking)")
    for family in ["without", "base", "alternative"]:
        value = baselines.set_index("model").loc[family, ["f1_ip_noisy_mean", "f1_dm_noisy_mean"]].mean()
        ax.axhline(value, color=FAMILY_COLORS[family], ls="--", label=f"{family}")
    ax.set(xlabel="configuration, in the order of the validation ranking", ylabel="F1, mean of IP- and DM-noisy test samples", title="The whole grid")
    ax.legend(fontsize=7, loc="lower left")
    plots.legible(fig)
    return fig


def training_curves(trained: Trained, chosen: Chosen, n_models: int = 3):
    """Training and validation cross-entropy per epoch of base, without and ``n_models`` EMMA models (the selected one
    first) of the first seed; a dot marks the epoch early stopping kept."""
    _check(trained, chosen)
    sweeps = trained.sweeps
    table = sweeps["with"].table
    models = [("base", sweeps["base"], 0), ("without", sweeps["without"], 0)]
    first_seed = table.index[table["seed"] == trained.seeds[0]]
    shown = [config_rows(sweeps["with"], **chosen.config)[0]] + list(
        table.loc[first_seed].sort_values("rho").index[:: max(1, len(first_seed) // n_models)][: n_models - 1])
    for row in shown:
        r = table.iloc[row]
        models.append((f"with ρ={r.rho:g}, λc={r.lambda_c:g}, λe={r.lambda_e:g}", sweeps["with"], row))
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=False, layout="constrained")
    for (label, result, row), color in zip(models, plt.cm.tab10.colors):
        curve = result.curves[result.curves["model_index"] == row]
        kept = int(result.table["best_epoch"].iloc[row])
        axes[0].plot(curve["epoch"], curve["train_loss"], color=color, label=label)
        axes[1].plot(curve["epoch"], curve["val_loss"], color=color, label=label)
        axes[1].plot(kept, curve["val_loss"].iloc[kept - 1], "o", color=color)
    axes[0].set(title="training loss", xlabel="epoch", ylabel="binary cross-entropy", yscale="log")
    axes[1].set(title="validation loss (dot: epoch kept)", xlabel="epoch", ylabel="binary cross-entropy", yscale="log")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=2, fontsize=7)
    plots.legible(fig)
    return fig


def capacities(trained: Trained):
    """The learned capacity of every EMMA against λ_c, one line per ρ, mean ± std over λ_e and seeds."""
    _check(trained)
    table, rhos, lambdas_c = trained.sweeps["with"].table, trained.axes["rho"], trained.axes["lambda_c"]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for rho, color in zip(rhos, plt.cm.viridis(np.linspace(0, 0.9, len(rhos)))):
        part = table[np.isclose(table["rho"], rho)].groupby("lambda_c")["capacity"].agg(["mean", "std"]).reset_index()
        ax.errorbar(np.arange(len(part)) + 0.05 * rhos.index(rho), part["mean"], yerr=part["std"].fillna(0), marker="o", color=color, label=f"ρ = {rho:g}")
    ax.set_xticks(np.arange(len(lambdas_c)), [f"{v:g}" for v in lambdas_c])
    ax.set(xlabel="λ_c", ylabel="learned capacity (eq. 5.11)", title="Capacity of every EMMA (mean ± std over λ_e and seeds)")
    ax.legend(fontsize=7)
    plots.legible(fig)
    return fig


def _title(column: str, sigma: float) -> str:
    return f"{column.replace('_', ' ').replace('ip', 'IP').replace('dm', 'DM')}, σ = {sigma:g} ({sigma_to_nsr_db(sigma):.0f} dB)"


def alpha_beta_distributions(trained: Trained, chosen: Chosen, sigmas):
    """Histograms of α_IP, β_IP and β_DM of the selected EMMA over the test samples by corruption case, one row per σ of ``sigmas``."""
    _check(trained, chosen)
    fig, axes = plt.subplots(len(sigmas), 3, figsize=(9.5, 3 * len(sigmas)), squeeze=False)
    for i, sigma in enumerate(sigmas):
        samples = per_sample_outcomes(chosen.sweep, trained.splits, sigma, energies=trained.energies, clean_fraction=trained.settings.clean_fraction)
        for j, column in enumerate(["alpha_ip", "beta_ip", "beta_dm"]):
            values = samples[column]
            bins = np.linspace(values.min(), values.max() + 1e-9, 40)
            for case, color in CASE_COLORS.items():
                axes[i, j].hist(samples.loc[samples["case"] == case, column], bins=bins, color=color, alpha=0.5, density=True, label=case)
            axes[i, j].set(title=_title(column, sigma), xlabel=column.split("_")[0])
    axes[0, 0].legend(fontsize=7)
    for ax in axes[:, 0]:
        ax.set_ylabel("density")
    config = chosen.config
    fig.suptitle(f"Selected EMMA (ρ={config['rho']:g}, λc={config['lambda_c']:g}, λe={config['lambda_e']:g}), capacity {chosen.row['capacity_mean']:.2f}")
    plots.legible(fig)
    fig.tight_layout()
    return fig


def beta_surfaces(surface: pd.DataFrame, sigmas):
    """β_IP and β_DM of :func:`emma.experiments.robustness.beta_surface` as 3-D surfaces over (σ_IP, σ_DM)."""
    s_ip, s_dm = np.meshgrid(sigmas, sigmas, indexing="ij")
    fig = plt.figure(figsize=(10, 4))
    for i, column in enumerate(["beta_ip", "beta_dm"]):
        ax = fig.add_subplot(1, 2, i + 1, projection="3d")
        z = surface.set_index(["sigma_ip", "sigma_dm"])[column].unstack().loc[sigmas, sigmas].to_numpy()
        ax.plot_surface(s_ip, s_dm, z, cmap="viridis", edgecolor="k", linewidth=0.2)
        mode = column[-2:].upper()
        ax.set(xlabel="σ_IP", ylabel="σ_DM", zlabel=f"β_{mode}", title=f"β_{mode} of the selected EMMA")
    plots.legible(fig)
    fig.tight_layout()
    return fig


def temperatures(trained: Trained, rhos, lambda_c: float, lambda_e: float, sigmas, continuum_sigmas):
    """Two coldnesses compared (rows): α_IP by corruption case at two σ of ``sigmas``, and β of the noisy and the clean
    mode as noise grows on one mode (``continuum_sigmas``), for the EMMA at each ρ of ``rhos`` and (``lambda_c``, ``lambda_e``)."""
    _check(trained)
    found = {}
    for rho in rhos:
        rows = config_rows(trained.sweeps["with"], rho, lambda_c, lambda_e)
        if rows:
            found[rho] = select(trained.sweeps["with"], rows)
    fig, axes = plt.subplots(2, 3, figsize=(10, 6.5), squeeze=False)
    for i, (rho, result) in enumerate(found.items()):
        cap = result.table["capacity"]
        for j, sigma in enumerate(sigmas[:2]):
            samples = per_sample_outcomes(result, trained.splits, sigma, energies=trained.energies, clean_fraction=trained.settings.clean_fraction)
            for case, color in CASE_COLORS.items():
                axes[i, j].hist(samples.loc[samples["case"] == case, "alpha_ip"], bins=40, color=color, alpha=0.5, density=True, label=case)
            axes[i, j].set(title=f"ρ = {rho:g}: α_IP at σ = {sigma:g}", xlabel="α_IP", ylabel="density")
        one_mode = [(s, 0.0) for s in continuum_sigmas] + [(0.0, s) for s in continuum_sigmas]
        response = noise_response(result, trained.splits, one_mode, energies=trained.energies, f1=False)
        for noisy, clean, style in [("ip", "dm", "-"), ("dm", "ip", "--")]:
            stats = response[response[f"sigma_{clean}"] == 0.0].groupby(f"sigma_{noisy}")[[f"beta_{noisy}", f"beta_{clean}"]].mean()
            axes[i, 2].plot(stats.index, stats[f"beta_{noisy}"], style, color="crimson", label=f"{noisy.upper()} noisy: β_{noisy.upper()}")
            axes[i, 2].plot(stats.index, stats[f"beta_{clean}"], style, color="tab:green", label=f"{noisy.upper()} noisy: β_{clean.upper()}")
        axes[i, 2].set_title(f"ρ = {rho:g}: β vs noise on one mode\n(capacity {cap.mean():.2f} ± {cap.std() if len(cap) > 1 else 0:.2f})", fontsize=9)
        axes[i, 2].set(xlabel="σ of the noisy mode", ylabel="β")
    axes[0, 0].legend(fontsize=7)
    axes[0, 2].legend(fontsize=6)
    plots.legible(fig)
    fig.tight_layout()
    return fig


def total_energy(trained: Trained, chosen: Chosen, sigmas):
    """The selected EMMA's mean total energy Σ E_i (left axis) and test F1 (right axis) as noise σ of ``sigmas`` grows on both modes."""
    _check(trained, chosen)
    both = noise_response(chosen.sweep, trained.splits, [(s, s) for s in sigmas], energies=trained.energies)
    stats = both.groupby("sigma_ip")[["total_energy", "f1"]].agg(["mean", "std"]).fillna(0)
    fig, ax = plt.subplots(figsize=(6, 3.8), layout="constrained")
    ax.errorbar(stats.index, stats[("total_energy", "mean")], yerr=stats[("total_energy", "std")], color="tab:purple", marker="o",
                label="total energy Σ E_i")
    ax.set(xlabel="σ on both modes", ylabel="mean total energy Σ E_i", title="Total energy and F1 as both modes get noisier")
    ax.yaxis.label.set_color("tab:purple")
    twin = ax.twinx()
    twin.errorbar(stats.index, stats[("f1", "mean")], yerr=stats[("f1", "std")], color="tab:blue", marker="s", label="F1")
    twin.set_ylabel("F1 on the test set", color="tab:blue")
    fig.legend(fontsize=7, loc="outside lower center", ncol=2)
    plots.legible(fig)
    return fig


def generalisation(curves: Curves, chosen: Chosen, training_sigma: float):
    """Test F1 of the four families as one mode's noise grows, under the book's protocol (top row) and the original code's (bottom)."""
    if not isinstance(curves, Curves):
        raise TypeError(f"curves must be the Curves of emma.experiments.robustness.curves, got {type(curves).__name__}")
    styles = [(f, FAMILY_COLORS[f], f) for f in ["base", "without", "alternative", "with"]]
    fig, axes = plt.subplots(2, 2, figsize=(9, 7.8), sharey=True, layout="constrained")
    plots.generalisation(axes[0], curves.sound, styles, sigma_to_nsr_db(training_sigma), curves.single_mode)
    plots.generalisation(axes[1], curves.original, styles, sigma_to_nsr_db(training_sigma), curves.original_single_mode)
    for row, name in zip(axes, ["book's protocol (SOUND)", "original code's protocol (ORIGINAL)"]):
        for ax in row:
            ax.set_title(f"{name}: {ax.get_title()}", fontsize=9)
    fig.legend(*axes[0, -1].get_legend_handles_labels(), loc="outside lower center", ncol=3, fontsize=7)
    for ax in axes[:, -1]:
        ax.get_legend().remove()
    fig.suptitle(f"Robustness generalisation (with: capacity {chosen.row['capacity_mean']:.2f} sound, {chosen.original_capacity:.2f} original)")
    plots.legible(fig)
    return fig


def beta_vs_nsr(curves: Curves, training_sigma: float):
    """Mean β_IP and β_DM of the selected EMMA as one mode's noise grows, under both protocols (rows)."""
    if not isinstance(curves, Curves):
        raise TypeError(f"curves must be the Curves of emma.experiments.robustness.curves, got {type(curves).__name__}")
    fig, axes = plt.subplots(2, 2, figsize=(9, 7), sharey=True)
    plots.beta_vs_nsr(axes[0], curves.sound, sigma_to_nsr_db(training_sigma))
    plots.beta_vs_nsr(axes[1], curves.original, sigma_to_nsr_db(training_sigma))
    for row, name in zip(axes, ["SOUND", "ORIGINAL"]):
        for ax in row:
            ax.set_title(f"{name}: {ax.get_title()}", fontsize=9)
    plots.legible(fig)
    fig.tight_layout()
    return fig


def regularizers(table: pd.DataFrame):
    """F1 and β of the noisy mode as noise grows on IP, then DM, for λ_c (top two rows) and λ_e (bottom two) at each level
    of :func:`emma.experiments.robustness.regularizer_curves`."""
    needed = {"regularizer", "level", "value", "corrupted", "nsr_db", "f1", "beta_ip", "beta_dm"}
    if not isinstance(table, pd.DataFrame) or not needed <= set(table.columns):
        raise ValueError(f"table must be regularizer_curves' table, with the columns {sorted(needed)}")
    fig, axes = plt.subplots(4, 2, figsize=(8, 10.5))
    for i, name in enumerate(["lambda_c", "lambda_e"]):
        symbol = name.replace("lambda_", "λ_")
        part = table[table["regularizer"] == name]
        for tag in dict.fromkeys(part["level"]):
            frame = part[part["level"] == tag]
            value = frame["value"].iloc[0]
            for j, mode in enumerate(["IP", "DM"]):
                stats = frame[frame["corrupted"] == mode].groupby("nsr_db")[["f1", f"beta_{mode.lower()}"]].mean()
                axes[2 * i, j].plot(stats.index, stats["f1"], marker="o", color=LEVEL_COLORS[tag], label=f"{tag}: {symbol} = {value:g}")
                axes[2 * i + 1, j].plot(stats.index, stats[f"beta_{mode.lower()}"], marker="o", color=LEVEL_COLORS[tag], label=f"{tag}")
                axes[2 * i, j].set(title=f"{symbol}: F1, noise on {mode}", xlabel="NSR (dB)", ylabel="F1")
                axes[2 * i + 1, j].set(title=f"{symbol}: β_{mode}, noise on {mode}", xlabel="NSR (dB)", ylabel="β of the noisy mode")
        axes[2 * i, 0].legend(fontsize=7)
    plots.legible(fig)
    fig.tight_layout()
    return fig


def decision_rules(decision: DecisionStudy):
    """Each family's score under the book's protocol on each test subset, under each decision rule (mean ± std over seeds)."""
    if not isinstance(decision, DecisionStudy):
        raise TypeError(f"decision must be the DecisionStudy of emma.experiments.robustness.decide, got {type(decision).__name__}")
    summary = decision.summary[decision.summary["protocol"] == "sound"]
    families = [f for f in ["base", "without", "alternative", "with (selected)", "with (thesis rank 1)"] if f in set(summary["family"])]
    fig = plots.decision_rules(summary, RULES, families)
    fig.suptitle("Under the book's protocol: each family under each decision rule (mean ± std over seeds)")
    return fig
