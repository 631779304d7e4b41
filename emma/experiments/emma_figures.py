"""The figures of chapter 3 (the EMMA module of thesis §5), one function each.

Each function draws one figure with :mod:`matplotlib.pyplot` and returns it; the chapter saves
it (:func:`emma.util.outputs.save_figure`) and shows it. The numbers behind the last two come
from :mod:`emma.experiments.emma_module`.

* :func:`framework_diagram`: the five steps of EMMA as a block diagram;
* :func:`shared_energy_figure`: the shared energy of eq. 5.4 as the other mode's self energy grows;
* :func:`boltzmann_figure`: thesis Figure 5.4, modal energies to importance scores at two temperatures;
* :func:`attention_function_figure`: thesis Figure 5.5, the attention function with its threshold and capacities;
* :func:`boxed_gradient_figure`: the error of the boxed gradient of eq. 5.19;
* :func:`regularizer_figure`: gradient ascent on the energy regularizer alone.
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from matplotlib.patches import FancyBboxPatch

from emma.method.regularizers import capacity, capacity_relu
from emma.util import checks
from emma.util.plots import legible

#: The γ_ij of the left panel of :func:`shared_energy_figure` (w_ij = 1).
SHARED_GAMMAS = (0.0, 0.25, 0.5, 0.75, 1.0)
#: The w_ij of its right panel (γ_ij = 0.5).
SHARED_WEIGHTS = (1.0, 0.5, 0.0, -0.5, -1.0)


def _box(ax, x, y, w, h, text, color):
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02", fc=color, ec="0.3"))
    ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=9)


def _arrow(ax, start, end):
    ax.annotate("", xy=end, xytext=start, arrowprops={"arrowstyle": "->", "color": "0.3"})


def framework_diagram():
    """The EMMA framework in five steps: inputs, frozen autoencoders, energies, importance, attention, the network."""
    fig, ax = plt.subplots(figsize=(11, 4.2))
    rows = {1: 3.0, 2: 1.8, "M": 0.3}
    for label, y in rows.items():
        _box(ax, 0.0, y, 0.8, 0.6, f"$\\mathbf{{x}}_{{{label}}}$", "#e8eef7")
        _box(ax, 1.3, y, 1.3, 0.6, f"DAE {label}\n$\\Psi_{{{label}}}$", "#fdf1d6")
        _box(ax, 9.6, y, 0.9, 0.6, f"$\\beta_{{{label}}}\\,\\mathbf{{x}}_{{{label}}}$", "#e8eef7")
        _arrow(ax, (0.8, y + 0.3), (1.3, y + 0.3))
        _arrow(ax, (2.6, y + 0.3), (3.2, 1.95))
        _arrow(ax, (9.2, 1.95), (9.6, y + 0.3))
        _arrow(ax, (10.5, y + 0.3), (10.9, 1.95))
    for x in (0.4, 1.95, 10.05):
        ax.text(x, 1.15, "$\\vdots$", ha="center", fontsize=14)
    _box(ax, 3.2, 1.2, 1.9, 1.5, "step 2\nenergies\n$e_i,\\ e_{ij},\\ E_i$\n(eq. 5.2–5.5)", "#e3f1e3")
    _box(ax, 5.5, 1.2, 1.7, 1.5, "step 3\nimportance\n$\\alpha = \\mathrm{softmax}(-\\rho E)$\n(eq. 5.6)", "#e3f1e3")
    _box(ax, 7.6, 1.2, 1.6, 1.5, "step 4\nattention\n$\\beta_i$ (eq. 5.7)", "#e3f1e3")
    _arrow(ax, (5.1, 1.95), (5.5, 1.95))
    _arrow(ax, (7.2, 1.95), (7.6, 1.95))
    _box(ax, 10.9, 1.45, 1.5, 1.0, "multi-modal\nnetwork $\\to \\hat y$", "#f4e1e1")
    ax.text(1.95, 3.85, "step 1 (chapter 4): frozen", ha="center", fontsize=9)
    ax.text(10.05, 3.85, "each mode scaled by its $\\beta_i$", ha="center", fontsize=9)
    ax.text(6.2, 0.35, "step 5: trained end to end with\nthe network's loss and two\nregularisers (eq. 5.12)",
            ha="center", fontsize=9, style="italic")
    ax.set_xlim(-0.2, 12.6)
    ax.set_ylim(0.0, 4.1)
    ax.axis("off")
    return fig


def shared_energy_figure(self_energy: float = 10.0):
    """The shared energy e_ij of eq. 5.4 against e_j ∈ [e, 4 e_i], with e_i = ``self_energy`` fixed.

    Left: w_ij = 1 and γ_ij in :data:`SHARED_GAMMAS`; right: γ_ij = 0.5 and w_ij in :data:`SHARED_WEIGHTS`.
    ``self_energy`` must be > 0 (a self energy is at least e, eq. 5.3).
    """
    self_energy = checks.number(self_energy, "self_energy", low=0.0, low_open=True)
    e_j = np.linspace(math.e, 4 * self_energy, 200)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    for gamma in SHARED_GAMMAS:
        axes[0].plot(e_j, 1.0 * self_energy**gamma * e_j ** (1 - gamma), label=f"$\\gamma_{{ij}} = {gamma}$")
    for weight in SHARED_WEIGHTS:
        axes[1].plot(e_j, weight * self_energy**0.5 * e_j**0.5, label=f"$w_{{ij}} = {weight}$")
    axes[0].set_title(f"$w_{{ij}} = 1$, $e_i = {self_energy:g}$: $\\gamma_{{ij}}$ sets the coupling")
    axes[1].set_title(f"$\\gamma_{{ij}} = 0.5$, $e_i = {self_energy:g}$: $w_{{ij}}$ sets its sign and size")
    for ax in axes:
        ax.axvline(self_energy, color="0.7", lw=0.8, ls=":")
        ax.set_xlabel("self energy of the other mode, $e_j$")
        ax.legend(fontsize=8)
    axes[0].set_ylabel("shared energy $e_{ij}$ (eq. 5.4)")
    legible(fig)
    fig.tight_layout()
    return fig


def boltzmann_figure(energies: Sequence[float] = (2.0, 5.0, 10.0, 20.0, 40.0), low_temperature: float = 0.1,
                     high_temperature: float = 0.001):
    """Thesis Figure 5.4: the modal ``energies`` (left) and their importance α of eq. 5.6 at two coldness values ρ (right).

    ``low_temperature`` and ``high_temperature`` are the coldness values ρ > 0 of the two bars.
    """
    if isinstance(energies, (str, bytes)) or not isinstance(energies, Sequence) or not energies:
        raise ValueError(f"energies must be a non-empty list of numbers, got {energies!r}")
    for i, e in enumerate(energies):
        checks.number(e, f"energies[{i}]")
    temperatures = [(checks.number(low_temperature, "low_temperature", low=0.0, low_open=True), "low temperature"),
                    (checks.number(high_temperature, "high_temperature", low=0.0, low_open=True), "high temperature")]
    energies = torch.tensor(energies, dtype=torch.float64)
    labels = [f"{i + 1}" for i in range(len(energies))]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    axes[0].bar(labels, energies.numpy(), color="0.6")
    axes[0].set_ylabel("modal energy $E_i$")
    axes[0].set_title("input")
    width = 0.38
    for k, (rho, name) in enumerate(temperatures):
        alpha = torch.softmax(-rho * energies, dim=0).numpy()
        axes[1].bar(np.arange(len(energies)) + (k - 0.5) * width, alpha, width, label=f"$\\rho = {rho:g}$ ({name})")
    axes[1].set_xticks(range(len(energies)), labels)
    axes[1].set_ylabel("importance $\\alpha_i$ (eq. 5.6)")
    axes[1].set_title("output")
    axes[1].legend(fontsize=8)
    for ax in axes:
        ax.set_xlabel("mode $i$")
    legible(fig)
    fig.tight_layout()
    return fig


def attention_function_figure(settings: Sequence[tuple[float, float]] = ((1.0, 0.0), (5.0, 1.0), (1.0, 0.8))):
    """Thesis Figure 5.5: β = max(0, tanh(g_a α − b_a)) for each (g_a, b_a) of ``settings``, one panel each.

    Each panel shades the capacity with the max, what eq. 5.11 subtracts by ignoring it, and
    draws the threshold α = b_a/g_a of eq. 5.8; its title gives both capacities.
    """
    if isinstance(settings, (str, bytes)) or not isinstance(settings, Sequence) or not settings:
        raise ValueError(f"settings must be a non-empty list of (g_a, b_a) pairs, got {settings!r}")
    for i, pair in enumerate(settings):
        if not isinstance(pair, Sequence) or len(pair) != 2:
            raise ValueError(f"settings[{i}] must be a pair (g_a, b_a), got {pair!r}")
        checks.number(pair[0], f"settings[{i}] g_a", low=0.0, low_open=True)
        checks.number(pair[1], f"settings[{i}] b_a")
    alpha_axis = torch.linspace(-0.25, 1.0, 400, dtype=torch.float64)
    fig, axes = plt.subplots(1, len(settings), figsize=(3.4 * len(settings), 3.8), sharey=True)
    for ax, (g_a, b_a) in zip(np.atleast_1d(axes), settings):
        raw = torch.tanh(g_a * alpha_axis - b_a)
        used = raw.clamp_min(0.0)
        ax.plot(alpha_axis, raw, ls="--", color="0.5", label="$\\tanh(g_a\\alpha - b_a)$")
        ax.plot(alpha_axis, used, color="C0", lw=2, label="$\\beta = \\max(0, \\tanh(\\cdot))$ (eq. 5.7)")
        inside = (alpha_axis >= 0) & (alpha_axis <= 1)
        ax.fill_between(alpha_axis[inside], 0, used[inside], color="C0", alpha=0.2, label="capacity with the max")
        negative = inside & (raw < 0)
        if negative.any():
            ax.fill_between(alpha_axis[negative], raw[negative], 0, color="C3", alpha=0.15, label="subtracted by eq. 5.11")
        cap, cap_relu = capacity(g_a, b_a).item(), capacity_relu(g_a, b_a).item()
        if b_a > 0:
            ax.axvline(b_a / g_a, color="C3", ls=":", label="threshold $\\alpha = b_a/g_a$ (eq. 5.8)")
        ax.axhline(0, color="0.8", lw=0.8)
        ax.set_title(f"$g_a = {g_a:g}$, $b_a = {b_a:g}$\ncapacity: eq. 5.11 = {cap:.3f},\nwith max = {cap_relu:.3f}", fontsize=9)
        ax.set_xlabel("importance $\\alpha$")
    np.atleast_1d(axes)[0].set_ylabel("attention $\\beta$")
    legend = {}
    for ax in np.atleast_1d(axes):
        for handle, label in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(label, handle)
    fig.legend(legend.values(), legend.keys(), loc="lower center", ncol=3, fontsize=8, frameon=False)
    legible(fig)
    fig.tight_layout(rect=(0, 0.17, 1, 1))
    return fig


def boxed_gradient_figure(table: pd.DataFrame):
    """The error of the boxed gradient against the coupling s, one line per M, from :func:`emma.method.derivations.boxed_gradient_discrepancy`.

    Left: the median relative error, shaded up to the 90th percentile, dotted at the initial
    coupling 1/(M − 1); right: the share of components with the wrong sign.
    """
    needed = {"n_modes", "coupling", "median_relative_error", "q90_relative_error", "sign_flip_rate"}
    if not isinstance(table, pd.DataFrame) or not needed <= set(table.columns):
        raise ValueError(f"table must be the table of boxed_gradient_discrepancy (columns {sorted(needed)})")
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for m, part in table.groupby("n_modes"):
        line = axes[0].plot(part["coupling"], part["median_relative_error"], marker="o", label=f"M = {m} (median)")
        axes[0].fill_between(part["coupling"], 0, part["q90_relative_error"], color=line[0].get_color(), alpha=0.12)
        axes[0].axvline(1 / (m - 1), color=line[0].get_color(), ls=":", lw=0.8)
        axes[1].plot(part["coupling"], part["sign_flip_rate"], marker="o", label=f"M = {m}")
    axes[0].set_ylabel(r"$\|\mathrm{boxed} - \mathrm{exact}\| / \|\mathrm{exact}\|$ for $\nabla_b\Omega$")
    axes[0].set_title("relative error (shaded: up to the 90th percentile;\ndotted: the initial coupling 1/(M-1))", fontsize=9)
    axes[1].set_ylabel("share of components with the wrong sign")
    axes[1].set_title("boxed eq. 5.19 points the wrong way", fontsize=9)
    for ax in axes:
        ax.set_xlabel("coupling $s$: $w_{ij} \\sim U(-s, s)$")
        ax.legend(fontsize=8)
    legible(fig)
    fig.tight_layout()
    return fig


def regularizer_figure(trajectories: Mapping[tuple[str, str], pd.DataFrame]):
    """The modal energies step by step under gradient ascent on Ω: one column per case, one row per parametrisation.

    ``trajectories`` maps (case title, parametrisation) to a table of
    :func:`emma.method.derivations.simulate_energy_regularizer`, as
    :attr:`emma.experiments.emma_module.RegularizerSimulation.trajectories` holds them. Clean
    modes are solid green, corrupted ones dashed red; the ``"module"`` row has a symmetric log scale.
    """
    if not isinstance(trajectories, Mapping) or not trajectories:
        raise ValueError("trajectories must map (case title, parametrisation) to a trajectory table")
    cases = list(dict.fromkeys(title for title, _ in trajectories))
    parametrisations = list(dict.fromkeys(p for _, p in trajectories))
    fig, axes = plt.subplots(len(parametrisations), len(cases), figsize=(2.9 * len(cases), 3.2 * len(parametrisations)),
                             sharex=True, squeeze=False)
    for col, title in enumerate(cases):
        for row, parametrisation in enumerate(parametrisations):
            ax = axes[row, col]
            labelled = set()
            for _, part in trajectories[(title, parametrisation)].groupby("mode"):
                kind = "clean" if bool(part["clean"].iloc[0]) else "corrupted"
                ax.plot(part["step"], part["energy"], color="C2" if kind == "clean" else "C3",
                        ls="-" if kind == "clean" else "--", lw=1, label=None if kind in labelled else kind)
                labelled.add(kind)
            if parametrisation == "module":
                ax.set_yscale("symlog", linthresh=10)
            ax.set_title(title if row == 0 else "", fontsize=9)
            ax.legend(fontsize=7)
        axes[-1, col].set_xlabel("gradient step on $\\Omega$")
    axes[0, 0].set_ylabel("$E_i$, parameters $\\theta_i = E_i$")
    axes[-1, 0].set_ylabel("$E_i$, EMMA's parameters (symlog)")
    legible(fig)
    fig.tight_layout()
    return fig
