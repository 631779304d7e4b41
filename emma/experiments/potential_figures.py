"""The figures of the chapter :doc:`Potential energy </book/chapters/05_potential_energy>`, drawn from the results of
:mod:`emma.experiments.potential_study`. Each function returns a matplotlib figure, laid out and legible.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from emma.data.htru2 import MODE_NAMES
from emma.data.noise import add_noise, sigma_to_nsr_db
from emma.experiments.potential_study import MainAutoencoders, NoiseSweep, UnseenClass, good_auroc
from emma.util import plots
from emma.util.plots import legible

#: A colour per mode, and per class.
MODE_COLORS = {"IP": "tab:blue", "DM": "tab:orange"}
CLASS_COLORS = {"non-pulsar": "tab:gray", "pulsar": "tab:red"}
_YLABEL = "mean ‖r(x̃) − x‖² per sample"


def _check(value, cls, name: str):
    if not isinstance(value, cls):
        raise TypeError(f"{name} must be a {cls.__name__} (from emma.experiments.potential_study), got {type(value).__name__}")
    return value


def _seed(main: MainAutoencoders, seed) -> int:
    seed = main.seeds[0] if seed is None else seed
    if seed not in main.energies:
        raise ValueError(f"seed must be one of the seeds of main {main.seeds}, got {seed!r}")
    return seed


def learning_curves(main: MainAutoencoders, seed: int | None = None):
    """Training and validation loss per epoch of the two autoencoders of ``seed`` (default: the first seed)."""
    seed = _seed(_check(main, MainAutoencoders, "main"), seed)
    curves = main.energies[seed].curves
    return plots.learning_curves({mode: curves[curves["mode"] == mode] for mode in MODE_NAMES},
                                 title=f"Per-mode autoencoders, all training rows (seed {seed})", ylabel=_YLABEL)


def potential_vs_noise(sweep: NoiseSweep):
    """The rise of Ψ over its clean mean against σ, per mode: each seed thin, the mean thick with ± 2 sd over samples,
    and the growth of the quadratic term alone dashed."""
    _check(sweep, NoiseSweep, "sweep")
    runs, table_all, training_sigma = sweep.runs, sweep.table, sweep.training_sigma
    seeds = list(dict.fromkeys(runs["seed"]))
    fig, axes = plt.subplots(1, 2, figsize=(9, 4), sharey=True)
    for ax, mode in zip(axes, MODE_NAMES):
        table = table_all[table_all["mode"] == mode]
        for seed in seeds:
            run = runs[(runs["mode"] == mode) & (runs["seed"] == seed)]
            ax.plot(run["sigma"], run["psi_rise"], color=MODE_COLORS[mode], lw=0.6, alpha=0.5)
        ax.plot(table["sigma"], table["psi_rise"], color=MODE_COLORS[mode], lw=2, label="mean Ψ (thin: each seed)")
        ax.fill_between(table["sigma"], table["psi_rise"] - 2 * table["psi_std"], table["psi_rise"] + 2 * table["psi_std"],
                        color=MODE_COLORS[mode], alpha=0.2, label="± 2 std over test samples")
        quadratic_only = table["quadratic_mean"] - table["quadratic_mean"].iloc[0]
        ax.plot(table["sigma"], quadratic_only, "k--", lw=1, label="growth of ½‖x − b_r‖² alone")
        ax.axvline(training_sigma, color="k", lw=0.8, ls=":")
        ax.text(training_sigma, ax.get_ylim()[0], f" σ = {training_sigma} ({sigma_to_nsr_db(training_sigma):.0f} dB)", va="bottom", fontsize=8)
        ax.set(title=f"mode {mode}", xlabel="noise σ on the mode")
    axes[0].set_ylabel("Ψ of the test samples − mean clean Ψ")
    axes[0].legend(fontsize=8, loc="upper left")
    fig.suptitle(f"Ψ as noise grows ({len(seeds)} seeds)")
    legible(fig)
    fig.tight_layout()
    return fig


def noise_detection(sweep: NoiseSweep):
    """AUROC of Ψ and of the reconstruction error, noisy against clean, per mode, with the threshold :func:`good_auroc`."""
    _check(sweep, NoiseSweep, "sweep")
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.8), sharey=True)
    for ax, mode in zip(axes, MODE_NAMES):
        table = sweep.table[sweep.table["mode"] == mode]
        for column, style, label in (("psi_auroc", "-", "potential Ψ"), ("recon_auroc", "--", "reconstruction error")):
            ax.errorbar(table["sigma"], table[column], yerr=table[f"{column}_seed_sd"], fmt=style, capsize=2, label=label)
        ax.axvline(sweep.training_sigma, color="k", lw=0.8, ls=":")
        ax.axhline(good_auroc(), color="gray", lw=0.8)
        ax.set(title=f"mode {mode}", xlabel="noise σ on the mode", ylim=(0.45, 1.0))
    axes[0].set_ylabel("AUROC, noisy vs clean test samples")
    axes[0].legend(fontsize=8)
    fig.suptitle("How well each score flags a noisy mode (mean ± sd over seeds)")
    legible(fig)
    fig.tight_layout()
    return fig


def unseen_class_histograms(main: MainAutoencoders, unseen: UnseenClass, seed: int | None = None):
    """Pulsar-only autoencoders of ``seed``: each score's distribution on test pulsars and non-pulsars, per mode (rows);
    columns Ψ after the shortest and the longest training, and log₁₀ of the reconstruction error after the shortest."""
    seed = _seed(_check(main, MainAutoencoders, "main"), seed)
    _check(unseen, UnseenClass, "unseen")
    shortest, longest, test = unseen.epochs[0], unseen.epochs[-1], main.splits.test
    test_pulsar = (test.y == 1).cpu().numpy()
    columns = [
        (f"Ψ, {shortest} epochs", unseen.energies[shortest, seed].potentials(test.x), False),
        (f"Ψ, {longest} epochs", unseen.energies[longest, seed].potentials(test.x), False),
        (f"log₁₀ reconstruction error, {shortest} epochs", unseen.energies[shortest, seed].reconstruction_errors(test.x).log10(), True),
    ]
    fig, axes = plt.subplots(2, 3, figsize=(10, 6))
    for col, (title, values, logscale) in enumerate(columns):  # logscale: values already log₁₀, keep the full range
        values = values.cpu().numpy()
        for m, mode in enumerate(MODE_NAMES):
            ax = axes[m, col]
            v = values[:, m]
            bins = np.linspace(*np.quantile(v, [0.0, 1.0 if logscale else 0.995]), 50)
            for name, selected in (("non-pulsar", ~test_pulsar), ("pulsar", test_pulsar)):
                ax.hist(v[selected], bins=bins, density=True, histtype="stepfilled", alpha=0.5, color=CLASS_COLORS[name], label=f"{name} (test)")
            ax.set(title=f"mode {mode}", xlabel=title, yticks=[], ylabel="density" if col == 0 else "")
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(f"Autoencoders trained on pulsars only (seed {seed}): seen vs unseen class")
    legible(fig)
    fig.tight_layout()
    return fig


def unseen_class_learning_curves(unseen: UnseenClass, seed: int | None = None):
    """Learning curves of the pulsar-only autoencoders of ``seed`` (default: the first seed) trained longest, a dotted line
    at the shortest training."""
    _check(unseen, UnseenClass, "unseen")
    shortest, longest = unseen.epochs[0], unseen.epochs[-1]
    seed = next(s for e, s in unseen.energies if e == longest) if seed is None else seed
    if (longest, seed) not in unseen.energies:
        raise ValueError(f"seed must be a seed of unseen's autoencoders, got {seed!r}")
    curves = unseen.energies[longest, seed].curves
    fig = plots.learning_curves({mode: curves[curves["mode"] == mode] for mode in MODE_NAMES},
                                title=f"Pulsar-only autoencoders trained for {longest} epochs (seed {seed})", ylabel=_YLABEL)
    fig.axes[0].axvline(shortest, color="k", lw=0.8, ls=":")
    fig.axes[0].text(shortest, fig.axes[0].get_ylim()[1], f" thesis: {shortest} epochs", va="top", fontsize=8)
    return fig


@torch.no_grad()
def missing_mode(main: MainAutoencoders, sweep: NoiseSweep, seed: int | None = None):
    """Histograms of Ψ (autoencoders of ``seed``) for clean test samples and with noise at the training σ and the largest σ,
    per mode, with Ψ of an all-zero mode (solid) and Ψ_min (dotted). The noise comes from a generator seeded ``seed``."""
    seed = _seed(_check(main, MainAutoencoders, "main"), seed)
    _check(sweep, NoiseSweep, "sweep")
    training_sigma, sigma_max, test_x = sweep.training_sigma, sweep.sigma_max, main.splits.test.x
    energy = main.energies[seed]
    zeros = torch.zeros(1, 4 * len(MODE_NAMES), device=main.device)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.8))
    generator = torch.Generator().manual_seed(seed)
    for m, (ax, mode) in enumerate(zip(axes, MODE_NAMES)):
        samples = {"clean": test_x}
        for sigma in (training_sigma, sigma_max):
            samples[f"noise σ = {sigma:g}"] = add_noise(test_x, sigma, mode, generator)
        psi = {name: energy.potentials(x)[:, m].cpu().numpy() for name, x in samples.items()}
        low = min(psi["clean"].min(), energy.psi_min[m].item()) - 0.2
        high = np.quantile(psi[f"noise σ = {training_sigma:g}"], 0.99)
        bins = np.linspace(low, high, 60)
        for name, values in psi.items():
            ax.hist(values, bins=bins, density=True, histtype="step", lw=1.5, label=name)
        ax.set_xlim(low, high)
        ax.axvline(energy.potentials(zeros)[0, m].item(), color="k", lw=1.5, label="missing mode (zeros)")
        ax.axvline(energy.psi_min[m].item(), color="k", lw=0.8, ls=":", label="Ψ_min (training)")
        ax.set(title=f"mode {mode}", xlabel="Ψ", yticks=[])
    axes[0].set_ylabel("density")
    axes[0].legend(fontsize=8)
    fig.suptitle(f"Where a missing mode lands (autoencoders on all training rows, seed {seed};\n"
                 f"the σ = {sigma_max:g} values run far beyond the right edge)")
    legible(fig)
    fig.tight_layout()
    return fig
