"""The EMMA module of thesis §5 (chapter 3): a demonstration on toy modes, and the studies behind its checks.

Chapter 3 builds EMMA step by step and then checks every piece of mathematics twice. This
module holds what the chapter computes, one call per result:

* :func:`module_demo`: three toy modes, one denoising autoencoder each, and EMMA's scores on
  test samples with no mode or exactly one mode corrupted (a :class:`ModuleDemo`);
* :func:`sympy_equations` and :func:`sympy_reference`: eq. 5.2–5.7 written a second time, in
  sympy, straight from the equations, the independent reference of check 7;
* :func:`derivation_checks`: the seven checks of :mod:`emma.method.derivations` with that reference;
* :func:`boxed_gradient_study`: how far the boxed gradient of eq. 5.19 is from the exact one
  (a :class:`BoxedGradientStudy`);
* :func:`regularizer_simulation`: gradient ascent on the energy regularizer alone in the
  cases of eq. 5.20–5.22 (a :class:`RegularizerSimulation`);
* :func:`findings`: the chapter's closing bullets, from the checks and the demonstration.

The figures are drawn by :mod:`emma.experiments.emma_figures`. Every function draws its random
numbers in the order the chapter drew them before the code moved here, so the tables do not change.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import sympy as sp
import torch

from emma.experiments.emma_figures import boxed_gradient_figure, regularizer_figure
from emma.method import derivations
from emma.method.autoencoder import DenoisingAutoencoder, train_one_autoencoder
from emma.method.module import EMMA
from emma.util import checks
from emma.util.runtime import resolve_device, seed_everything

#: The columns of :attr:`ModuleDemo.scores`.
DEMO_COLUMNS = ("corrupted", "mode", "psi", "modal_energy", "alpha", "beta")
#: The four runs of :func:`regularizer_simulation`: (M, clean modes M′, title), one per column of its figure.
SIMULATION_CASES = (
    (4, 2, "M = 4, M' = 2 (eq. 5.20)"),
    (3, 2, "M = 3, M' = 2 (eq. 5.21)"),
    (4, 3, "M = 4, M' = 3 (eq. 5.22)"),
    (3, 0, "M = 3, M' = 0 (all corrupted)"),
)
#: The two parametrisations of :func:`emma.method.derivations.simulate_energy_regularizer`, one per row of the figure.
PARAMETRISATIONS = ("energies", "module")


def _check_positive_ints(values, name: str) -> list[int]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
        raise ValueError(f"{name} must be a non-empty list of positive integers, got {values!r}")
    return [checks.positive_int(v, f"{name}[{i}]") for i, v in enumerate(values)]


def toy_mode(n: int, basis: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """``n`` samples of a toy mode near the plane spanned by the rows of ``basis``. Shape (n, width).

    Each sample is a standard normal latent point mapped by ``basis`` (latent × width) plus
    white noise of σ = 0.05; the latent draws come first, then the noise, both from ``generator``.
    """
    n = checks.positive_int(n, "n")
    if not isinstance(basis, torch.Tensor) or basis.dim() != 2:
        raise ValueError(f"basis must be a 2-D tensor (latent × width), got {getattr(basis, 'shape', type(basis).__name__)}")
    latent, width = basis.shape
    z = torch.randn(n, latent, generator=generator)
    return z @ basis + 0.05 * torch.randn(n, width, generator=generator)  # (n, width)


@dataclass
class ModuleDemo:
    """EMMA at its initial parameters on toy modes (:func:`module_demo`).

    Attributes
    ----------
    model : EMMA
        The module, in front of one trained and frozen autoencoder per mode.
    scores : pandas.DataFrame
        One row per (corrupted, mode), columns :data:`DEMO_COLUMNS`: the mean over the test
        samples of the potential Ψ, the modal energy, the importance α and the attention β of
        each mode, with no mode (``"none"``) or mode k (``"mode k"``) corrupted. Saved as ``emma_demo_scores``.
    """

    model: EMMA
    scores: pd.DataFrame

    @property
    def n_modes(self) -> int:
        """The number of toy modes."""
        return int(self.scores["mode"].max())

    @property
    def alpha(self) -> pd.DataFrame:
        """The mean importance α: one row per corruption case, one column per mode."""
        return self.scores.pivot(index="corrupted", columns="mode", values="alpha")

    @property
    def view(self) -> pd.DataFrame:
        """Ψ, α and β side by side, one row per corruption case: the table the chapter shows."""
        return self.scores.pivot(index="corrupted", columns="mode", values=["psi", "alpha", "beta"])

    @property
    def falls(self) -> list[tuple[float, float]]:
        """For each mode i, its importance (clean, when mode i is corrupted)."""
        alpha = self.alpha
        return [(float(alpha.loc["none", i]), float(alpha.loc[f"mode {i}", i])) for i in range(1, self.n_modes + 1)]

    @property
    def corrupted_modes_lose_importance(self) -> bool:
        """Whether every mode's importance falls when that mode is corrupted: the demonstration's point."""
        return all(noisy < clean for clean, noisy in self.falls)


def module_demo(widths: Sequence[int] = (4, 4, 3), *, latent: int = 2, n_train: int = 4_000, n_test: int = 600,
                hidden: int = 12, epochs: int = 20, batch_size: int = 64, dae_noise: float = 0.1,
                corruption: float = 1.0, coldness: float = 1.0, seed: int = 0, device="cpu") -> ModuleDemo:
    """Train one denoising autoencoder per toy mode, put EMMA in front, and score clean and corrupted test samples.

    Everything is drawn from the generator of :func:`emma.util.runtime.seed_everything` (which
    seeds the global generators too): the planes, the training and the test modes, EMMA's
    initial shared weights and the corruption. Autoencoder i is trained with seed ``seed + i``.

    Parameters
    ----------
    widths : sequence of int
        The number of features of each mode (at least two modes).
    latent : int
        The dimension of the plane each mode lies near.
    n_train, n_test : int
        Samples per mode for training the autoencoders and for the scores.
    hidden, epochs, batch_size : int
        The autoencoders' hidden units and their training.
    dae_noise : float
        Corruption σ while training the autoencoders (≥ 0).
    corruption : float
        σ of the white noise added to a corrupted test mode (≥ 0).
    coldness : float
        EMMA's coldness ρ (> 0).
    seed : int
    device : str or torch.device
        Where the autoencoders and EMMA run (``"auto"`` allowed).

    Returns
    -------
    ModuleDemo
    """
    widths = _check_positive_ints(widths, "widths")
    if len(widths) < 2:
        raise ValueError(f"widths must give at least two modes, got {widths!r}")
    latent = checks.positive_int(latent, "latent")
    n_train, n_test = checks.positive_int(n_train, "n_train"), checks.positive_int(n_test, "n_test")
    hidden, epochs = checks.positive_int(hidden, "hidden"), checks.positive_int(epochs, "epochs")
    batch_size = checks.positive_int(batch_size, "batch_size")
    dae_noise, corruption = checks.number(dae_noise, "dae_noise", low=0.0), checks.number(corruption, "corruption", low=0.0)
    coldness = checks.number(coldness, "coldness", low=0.0, low_open=True)
    device = resolve_device(device)
    generator = seed_everything(seed)

    bases = [torch.randn(latent, d, generator=generator) / math.sqrt(latent) for d in widths]
    train_modes = [toy_mode(n_train, b, generator) for b in bases]
    test_modes = [toy_mode(n_test, b, generator) for b in bases]
    autoencoders = []
    for i, (d, x_train) in enumerate(zip(widths, train_modes)):
        torch.manual_seed(seed + i)
        dae = DenoisingAutoencoder(d, hidden, noise_std=dae_noise).to(device)
        train_one_autoencoder(dae, x_train.to(device), epochs=epochs, batch_size=batch_size, seed=seed + i, desc=f"DAE mode {i + 1}")
        autoencoders.append(dae)
    with torch.no_grad():
        psi_min = [dae.potential(x.to(device)).min().item() for dae, x in zip(autoencoders, train_modes)]
    model = EMMA(autoencoders, psi_min=psi_min, coldness=coldness, generator=generator).to(device)

    rows = []
    n_modes = len(widths)
    for case in ["none"] + [f"mode {i + 1}" for i in range(n_modes)]:
        modes = [x.clone() for x in test_modes]
        if case != "none":
            k = int(case.split()[1]) - 1
            modes[k] = modes[k] + corruption * torch.randn(modes[k].shape, generator=generator)
        with torch.no_grad():
            _, out = model([x.to(device) for x in modes])
        for i in range(n_modes):
            rows.append({
                "corrupted": case,
                "mode": i + 1,
                "psi": out.potentials[:, i].mean().item(),
                "modal_energy": out.modal_energies[:, i].mean().item(),
                "alpha": out.alpha[:, i].mean().item(),
                "beta": out.beta[:, i].mean().item(),
            })
    return ModuleDemo(model=model, scores=pd.DataFrame(rows, columns=list(DEMO_COLUMNS)))


@dataclass(frozen=True)
class SympyEquations:
    """Eq. 5.2–5.7 for ``m`` modes in sympy (:func:`sympy_equations`).

    Attributes
    ----------
    modal : list of sympy expressions
        The modal energies E_i of eq. 5.5 in the potentials and the parameters.
    step_2 : callable
        ``step_2(*psi, *psi_min, *w, *b, *w_shared.ravel(), *gamma.ravel())``: the modal energies (mpmath).
    steps_3_4 : callable
        ``steps_3_4(*E, g_a, b_a, rho)``: ``[alpha, beta]`` of eq. 5.6 and 5.7 (mpmath).
    """

    modal: list
    step_2: Callable = field(repr=False)
    steps_3_4: Callable = field(repr=False)


@functools.cache
def sympy_equations(m: int) -> SympyEquations:
    """Eq. 5.2–5.7 for ``m`` modes as sympy expressions, and numeric functions of them (cached; sympy is slow)."""
    m = checks.integer(m, "m", low=2)
    psi, psi_min_ = sp.symbols(f"Psi_1:{m + 1}", real=True), sp.symbols(f"Psi^min_1:{m + 1}", real=True)
    w, b = sp.symbols(f"w_1:{m + 1}", positive=True), sp.symbols(f"b_1:{m + 1}", nonnegative=True)
    w_shared = sp.Matrix(m, m, lambda i, j: sp.Symbol(f"w_{i + 1}{j + 1}", real=True))
    gamma = sp.Matrix(m, m, lambda i, j: sp.Symbol(f"gamma_{i + 1}{j + 1}", nonnegative=True))
    g_a, b_a, rho = sp.symbols("g_a b_a rho", positive=True)
    corrected = [sp.Max(sp.E, psi[i] - psi_min_[i] + sp.E) for i in range(m)]  # eq. 5.2
    self_energy = [w[i] * corrected[i] + b[i] for i in range(m)]  # eq. 5.3
    modal = [
        self_energy[i]
        + sum(w_shared[i, j] * self_energy[i] ** gamma[i, j] * self_energy[j] ** (1 - gamma[i, j]) for j in range(m) if j != i)
        for i in range(m)
    ]  # eq. 5.4 and 5.5
    energy = sp.symbols(f"E_1:{m + 1}", real=True)  # the modal energies as inputs of steps 3 and 4
    partition = sum(sp.exp(-rho * e) for e in energy)
    alpha = [sp.exp(-rho * e) / partition for e in energy]  # eq. 5.6
    beta = [sp.Max(0, sp.tanh(g_a * a - b_a)) for a in alpha]  # eq. 5.7
    step_2 = sp.lambdify([*psi, *psi_min_, *w, *b, *w_shared, *gamma], modal, "mpmath")
    steps_3_4 = sp.lambdify([*energy, g_a, b_a, rho], [alpha, beta], "mpmath")
    return SympyEquations(modal, step_2, steps_3_4)


def sympy_reference(potentials, psi_min, params: dict, coldness: float) -> dict[str, np.ndarray]:
    """EMMA's outputs for each row of ``potentials`` by :func:`sympy_equations`: the reference of check 7.

    Parameters
    ----------
    potentials : array (n, M)
    psi_min : array (M,)
    params : dict
        ``self_weight``, ``self_bias`` (M,), ``shared_weight``, ``shared_gamma`` (M, M), ``gain``, ``bias``.
    coldness : float

    Returns
    -------
    dict
        ``modal_energies``, ``alpha``, ``beta`` (n, M) and ``total_energy`` (n,), as float arrays.
    """
    potentials = np.asarray(potentials)
    if potentials.ndim != 2:
        raise ValueError(f"potentials must be an array of shape (n, M), got shape {potentials.shape}")
    missing = {"self_weight", "self_bias", "shared_weight", "shared_gamma", "gain", "bias"} - set(params)
    if missing:
        raise ValueError(f"params lacks {sorted(missing)}")
    m = potentials.shape[1]
    equations = sympy_equations(m)
    fixed = [*psi_min, *params["self_weight"], *params["self_bias"], *params["shared_weight"].ravel(),
             *params["shared_gamma"].ravel()]
    result = {"modal_energies": [], "alpha": [], "beta": [], "total_energy": []}
    for row in potentials:
        modal = equations.step_2(*row, *fixed)
        alpha, beta = equations.steps_3_4(*modal, params["gain"], params["bias"], coldness)
        for key, value in zip(result, (modal, alpha, beta, sum(modal))):
            result[key].append(np.array(value, dtype=float))
    return {key: np.array(value) for key, value in result.items()}


def derivation_checks(n_draws: int = 4, n_grid: int = 12, steps: int = 100, seed: int = 0) -> pd.DataFrame:
    """The seven checks of :func:`emma.method.derivations.derivation_checks`, check 7 against :func:`sympy_reference`.

    Parameters are those of :func:`emma.method.derivations.derivation_checks`: random draws per M
    in check 4, grid points per axis of (g_a, b_a) in check 2, gradient steps in check 5, the seed.
    Returns its table, one row per check (saved as ``derivation_checks``).
    """
    n_draws, n_grid = checks.positive_int(n_draws, "n_draws"), checks.positive_int(n_grid, "n_grid")
    steps, seed = checks.positive_int(steps, "steps"), checks.integer(seed, "seed", low=0)
    return derivations.derivation_checks(n_draws=n_draws, n_grid=n_grid, steps=steps, seed=seed, reference=sympy_reference)


@dataclass
class BoxedGradientStudy:
    """The boxed gradient of eq. 5.19 against the exact one (:func:`boxed_gradient_study`).

    Attributes
    ----------
    table : pandas.DataFrame
        :func:`emma.method.derivations.boxed_gradient_discrepancy`: one row per (M, coupling s).
        Saved as ``boxed_gradient_discrepancy``.
    figure : matplotlib.figure.Figure
        Its relative error and sign-flip rate against s (:func:`emma.experiments.emma_figures.boxed_gradient_figure`).
    """

    table: pd.DataFrame
    figure: object = field(repr=False)

    @property
    def at_initial_coupling(self) -> dict[int, float]:
        """For each M, the median relative error interpolated at the thesis's initial coupling s = 1/(M − 1)."""
        return {int(m): float(np.interp(1 / (m - 1), part["coupling"], part["median_relative_error"]))
                for m, part in self.table.groupby("n_modes")}


def boxed_gradient_study(n_modes: Sequence[int] = (2, 3, 5), couplings: Sequence[float] = (0.0, 0.1, 0.25, 0.5, 0.75, 1.0),
                         n_draws: int = 500, seed: int = 0) -> BoxedGradientStudy:
    """How far the boxed gradient of eq. 5.19 is from the exact one as the shared weights' coupling grows.

    Parameters
    ----------
    n_modes : sequence of int
        Numbers of modes M, each ≥ 2.
    couplings : sequence of float
        Couplings s ≥ 0, w_ij ~ U(−s, s), in increasing order.
    n_draws : int
        Random single samples per (M, s).
    seed : int

    Returns
    -------
    BoxedGradientStudy
    """
    n_modes = _check_positive_ints(n_modes, "n_modes")
    if min(n_modes) < 2:
        raise ValueError(f"n_modes must all be at least 2 (the coupling needs two modes), got {n_modes!r}")
    if isinstance(couplings, (str, bytes)) or not isinstance(couplings, Sequence) or not couplings:
        raise ValueError(f"couplings must be a non-empty list of numbers >= 0, got {couplings!r}")
    for i, s in enumerate(couplings):
        checks.number(s, f"couplings[{i}]", low=0.0)
    table = derivations.boxed_gradient_discrepancy(n_modes_list=tuple(n_modes), couplings=tuple(couplings),
                                                   n_draws=checks.positive_int(n_draws, "n_draws"), seed=checks.integer(seed, "seed", low=0))
    return BoxedGradientStudy(table=table, figure=boxed_gradient_figure(table))


@dataclass
class RegularizerSimulation:
    """Gradient ascent on the energy regularizer Ω alone (:func:`regularizer_simulation`).

    Attributes
    ----------
    trajectories : dict
        ``{(case title, parametrisation): trajectory}``, each the table of
        :func:`emma.method.derivations.simulate_energy_regularizer`, in the order of
        :data:`SIMULATION_CASES` and, within a case, :data:`PARAMETRISATIONS`.
    directions : pandas.DataFrame
        One row per run: ``case``, ``parameters``, and the shares of steps at which each clean
        energy fell (``clean_falling``) and each corrupted one rose (``corrupted_rising``).
        Saved as ``energy_regularizer_directions``.
    figure : matplotlib.figure.Figure
        The energies step by step (:func:`emma.experiments.emma_figures.regularizer_figure`).
    """

    trajectories: dict
    directions: pd.DataFrame
    figure: object = field(repr=False)


def regularizer_simulation(steps: int = 300, lr: float = 0.05, seed: int = 0) -> RegularizerSimulation:
    """Run :func:`emma.method.derivations.simulate_energy_regularizer` in the cases of :data:`SIMULATION_CASES`, both parametrisations.

    Parameters
    ----------
    steps : int
        Gradient steps per run.
    lr : float
        The step size (> 0).
    seed : int

    Returns
    -------
    RegularizerSimulation
    """
    steps, seed = checks.positive_int(steps, "steps"), checks.integer(seed, "seed", low=0)
    lr = checks.number(lr, "lr", low=0.0, low_open=True)
    trajectories, shares = {}, []
    for m, clean, title in SIMULATION_CASES:
        for parametrisation in PARAMETRISATIONS:
            trajectory = derivations.simulate_energy_regularizer(m, clean, steps=steps, lr=lr, parametrisation=parametrisation, seed=seed)
            trajectories[(title, parametrisation)] = trajectory
            shares.append({"case": title, "parameters": parametrisation, **derivations.direction_shares(trajectory)})
    return RegularizerSimulation(trajectories=trajectories, directions=pd.DataFrame(shares), figure=regularizer_figure(trajectories))


def findings(checks_table: pd.DataFrame, demo: ModuleDemo) -> str:
    """The chapter's closing bullets (Markdown): how many checks pass with their verdicts, and what corruption does to α."""
    if not isinstance(checks_table, pd.DataFrame) or not {"check", "passed", "thesis_verdict"} <= set(checks_table.columns):
        raise ValueError("checks_table must be the table of derivation_checks (columns check, passed, thesis_verdict, ...)")
    if not isinstance(demo, ModuleDemo):
        raise ValueError(f"demo must be the ModuleDemo of module_demo, got {type(demo).__name__}")
    return "\n".join([
        f"- {int(checks_table['passed'].sum())} of {len(checks_table)} derivation checks pass within their tolerance. What each says of the thesis: "
        + "; ".join(f"*{c}*: {v}" for c, v in zip(checks_table["check"], checks_table["thesis_verdict"])) + ".",
        "- On the toy modes, corrupting a mode lowers its importance score: "
        + ", ".join(f"mode {i + 1} from {clean:.3f} to {noisy:.3f}" for i, (clean, noisy) in enumerate(demo.falls)) + ".",
    ])
