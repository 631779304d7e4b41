"""Experiment I, the potential energy as a measure of failure: the chapter
:doc:`Potential energy </book/chapters/05_potential_energy>` in five calls.

Each call returns a typed result with its tables; :mod:`emma.experiments.potential_figures` draws them.

* :func:`main_autoencoders`: one pair of per-mode autoencoders per seed on HTRU2 (:class:`MainAutoencoders`);
* :func:`noise_sweep`: Ψ and the reconstruction error as noise grows on one mode (:class:`NoiseSweep`);
* :func:`unseen_class`: autoencoders trained on pulsars only, scored on the class they never saw (:class:`UnseenClass`);
* :func:`missing_mode`: where a mode fed as zeros lands among the clean Ψ (:class:`MissingMode`);
* :func:`batch_coupling`: the per-sample Ψ against the batch-coupled one of the thesis's code.

:func:`claims`, :func:`summary` and :func:`findings` judge and say what they measured. The measurements
themselves are :mod:`emma.experiments.potentials`'.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from emma.claims.registry import min_effect
from emma.data.htru2 import MODE_NAMES, MODE_SLICES, fetch_htru2
from emma.data.noise import add_noise
from emma.data.splits import Splits, make_splits
from emma.engine.autoencoders import DAESettings, EnergyModels, check_dae
from emma.engine.energy import fit_htru2_energy_models
from emma.experiments.potentials import batch_coupled_potential, failure_signal_summary, potential_claims, potential_vs_noise, unseen_class_auroc
from emma.util import checks
from emma.util.runtime import resolve_device

#: The labels of the two kinds of autoencoders in the tables' ``trained_on`` column.
ALL_ROWS, PULSARS_ONLY = "all training rows", "pulsars only"


def good_auroc() -> float:
    """The AUROC that counts as a clear separation: 0.5 plus the pre-declared minimum effect of ``psi_separates_noisy_mode``."""
    return 0.5 + min_effect("psi_separates_noisy_mode")


def missing_percentile() -> float:
    """The percentile of clean Ψ above which a missing mode reads as failing: 50 plus the minimum effect of ``missing_mode_high_psi``."""
    return 50 + min_effect("missing_mode_high_psi")


def _check(value, cls, name: str):
    if not isinstance(value, cls):
        raise TypeError(f"{name} must be a {cls.__name__} (from emma.experiments.potential_study), got {type(value).__name__}")
    return value


# ----------------------------------------------------------------------------- the autoencoders EMMA uses


@dataclass
class MainAutoencoders:
    """The per-mode autoencoders of every seed, trained on all training rows of HTRU2.

    Attributes
    ----------
    splits : Splits
        The thesis's split, standardized, on ``device``.
    energies : dict of int to EnergyModels
        One frozen pair of autoencoders (IP, DM) per seed, in the order of the seeds.
    psi_min : DataFrame
        One row per (seed, mode): ``seed, mode, psi_min, final_train_loss, final_val_loss`` (table ``potential_psi_min``).
    dae : DAESettings
        The autoencoders' settings.
    device : torch.device
    cache_dir : str or None
        Where trained autoencoders are kept.
    """

    splits: Splits
    energies: dict
    psi_min: pd.DataFrame
    dae: DAESettings
    device: torch.device
    cache_dir: str | None = None

    @property
    def seeds(self) -> list[int]:
        """The seeds, in order."""
        return list(self.energies)

    @property
    def epochs(self) -> int:
        """The number of epochs the autoencoders trained for (the thesis's 30 in the full profile)."""
        return self.dae.epochs

    @classmethod
    def from_energies(cls, splits: Splits, energies: dict, dae: DAESettings, device="cpu", cache_dir=None) -> "MainAutoencoders":
        """The result for trained autoencoders ``energies`` (seed -> EnergyModels, IP and DM) of ``splits``: adds the
        table :attr:`psi_min` from their Ψ_min and the last epoch of their learning curves."""
        if not isinstance(splits, Splits):
            raise TypeError(f"splits must be the Splits of emma.data.splits.make_splits, got {type(splits).__name__}")
        if not isinstance(energies, dict) or not energies or not all(isinstance(e, EnergyModels) for e in energies.values()):
            raise ValueError("energies must be a non-empty dict of seed -> EnergyModels (fit_htru2_energy_models)")
        rows = []
        for seed, energy in energies.items():
            last = energy.curves.groupby("mode").last()
            for m, mode in enumerate(MODE_NAMES):
                rows.append({"seed": seed, "mode": mode, "psi_min": energy.psi_min[m].item(),
                             "final_train_loss": last.loc[mode, "train_loss"], "final_val_loss": last.loc[mode, "val_loss"]})
        return cls(splits, dict(energies), pd.DataFrame(rows), check_dae(dae), resolve_device(device), cache_dir)

    def psi_min_summary(self) -> pd.DataFrame:
        """Mean and standard deviation over seeds of each column of :attr:`psi_min`, one row per mode."""
        return self.psi_min.groupby("mode", sort=False).agg(["mean", "std"]).drop(columns="seed")


def main_autoencoders(seeds: Sequence[int], *, dae, data_home=None, split_seed: int = 42, device="auto", cache_dir=None) -> MainAutoencoders:
    """One tied-weight denoising autoencoder per mode and seed on the training split of HTRU2, all in one stack.

    The chapter's first step, not another way to fit them: HTRU2 split as the thesis does, the
    autoencoders fitted (and cached) by :func:`emma.engine.energy.fit_htru2_energy_models`, and their
    Ψ_min and final losses tabulated (:class:`MainAutoencoders`).

    Parameters
    ----------
    seeds : list of int
        One pair of autoencoders (initial weights, batch order, corruption) per seed.
    dae : DAESettings
        The autoencoders' settings (the thesis's: :data:`emma.engine.autoencoders.THESIS_DAE`).
    data_home : str, optional
        A folder holding ``HTRU_2.csv`` (:func:`emma.data.htru2.fetch_htru2`).
    split_seed : int
        The split's seed (the thesis's 42).
    device : {"auto", "cpu", "cuda"} or torch.device
    cache_dir : str, optional
        Trained autoencoders are stored here and reused.

    Returns
    -------
    MainAutoencoders
    """
    seeds, dae = checks.seeds(seeds, "seeds"), check_dae(dae)
    split_seed = checks.integer(split_seed, "split_seed", low=0)
    device = resolve_device(device)
    splits = make_splits(fetch_htru2(data_home), seed=split_seed, device=device)
    energies = dict(zip(seeds, fit_htru2_energy_models(splits, seeds, dae=dae, device=device, cache_dir=cache_dir)))  # seed -> EnergyModels
    return MainAutoencoders.from_energies(splits, energies, dae, device, cache_dir)


# ----------------------------------------------------------------------------- Ψ as noise grows


@dataclass
class NoiseSweep:
    """Ψ and the reconstruction error of the test samples as Gaussian noise grows on one mode.

    Attributes
    ----------
    runs : DataFrame
        :func:`emma.experiments.potentials.potential_vs_noise` per seed, with ``seed`` and ``psi_rise`` (mean Ψ minus
        the seed's clean mean Ψ).
    table : DataFrame
        One row per (mode, σ), means and seed standard deviations over seeds (table ``potential_vs_noise``).
    training_sigma, sigma_max : float
        The noise the classifiers of later chapters train with, and the largest σ.
    """

    runs: pd.DataFrame
    table: pd.DataFrame
    training_sigma: float
    sigma_max: float

    def at_key_sigmas(self) -> pd.DataFrame:
        """The rows of :attr:`table` at the training σ and at the largest σ."""
        return self.table[np.isclose(self.table["sigma"], self.training_sigma) | np.isclose(self.table["sigma"], self.sigma_max)]

    def auroc_lines(self) -> str:
        """One line per row of :meth:`at_key_sigmas`: the AUROC of Ψ and of the reconstruction error."""
        return "\n".join(f"{row['mode']} at σ = {row.sigma:.2f} ({row.nsr_db:+.1f} dB): AUROC Ψ {row.psi_auroc:.3f}, "
                         f"reconstruction error {row.recon_auroc:.3f}" for _, row in self.at_key_sigmas().iterrows())


def noise_sweep(main: MainAutoencoders, *, sigma_max: float = 2.0, n_sigmas: int = 21, training_sigma: float = 0.5) -> NoiseSweep:
    """Ψ of the test samples as noise of σ from 0 to ``sigma_max`` (``n_sigmas`` points, plus ``training_sigma``) is added to one mode.

    Seed s draws its noise from ``torch.Generator().manual_seed(s)`` and scores it with its own autoencoders.

    Returns
    -------
    NoiseSweep
    """
    _check(main, MainAutoencoders, "main")
    sigma_max = checks.number(sigma_max, "sigma_max", low=0.0, low_open=True)
    n_sigmas = checks.integer(n_sigmas, "n_sigmas", low=2)
    training_sigma = checks.number(training_sigma, "training_sigma", low=0.0, high=sigma_max)
    sigmas = np.union1d(np.linspace(0.0, sigma_max, n_sigmas), [training_sigma])
    runs = pd.concat([potential_vs_noise(main.energies[seed], main.splits.test, sigmas, torch.Generator().manual_seed(seed)).assign(seed=seed)
                      for seed in main.seeds], ignore_index=True)
    clean_level = runs[runs["sigma"] == 0].set_index(["mode", "seed"])["psi_mean"]
    runs["psi_rise"] = runs["psi_mean"] - clean_level.loc[list(zip(runs["mode"], runs["seed"]))].to_numpy()
    table = (
        runs.groupby(["mode", "sigma"], sort=False)
        .agg(
            nsr_db=("nsr_db", "first"),
            psi_mean=("psi_mean", "mean"),
            psi_mean_seed_sd=("psi_mean", "std"),
            psi_rise=("psi_rise", "mean"),
            psi_rise_seed_sd=("psi_rise", "std"),
            psi_std=("psi_std", "mean"),
            quadratic_mean=("quadratic_mean", "mean"),
            psi_auroc=("psi_auroc", "mean"),
            psi_auroc_seed_sd=("psi_auroc", "std"),
            recon_auroc=("recon_auroc", "mean"),
            recon_auroc_seed_sd=("recon_auroc", "std"),
            n_samples=("n", "first"),
            n_seeds=("seed", "nunique"),
        )
        .reset_index()
    )
    return NoiseSweep(runs, table, training_sigma, sigma_max)


# ----------------------------------------------------------------------------- an unseen class


@dataclass
class UnseenClass:
    """Autoencoders trained on the pulsars only, and how each score flags the class they never saw.

    Attributes
    ----------
    energies : dict of (int, int) to EnergyModels
        (epochs, seed) -> the pulsar-only autoencoders.
    runs : DataFrame
        :func:`emma.experiments.potentials.unseen_class_auroc` per (epochs, seed) with ``trained_on, flagged_class,
        epochs, seed``; also the main autoencoders flagging the rare class (``trained_on`` "all training rows").
    table : DataFrame
        Means and seed standard deviations per (trained_on, flagged_class, epochs, mode) (table ``potential_ood_auroc``).
    epochs : list of int
        The training lengths, the main autoencoders' first.
    """

    energies: dict
    runs: pd.DataFrame
    table: pd.DataFrame
    epochs: list


def unseen_class(main: MainAutoencoders, *, long_epochs: Sequence[int] = (100, 300)) -> UnseenClass:
    """Train per-mode autoencoders on the training pulsars only, for the main autoencoders' epochs and each of ``long_epochs``.

    Each seed of ``main`` gets one pair per training length, all trained in one stack with ``main``'s other settings.
    The AUROCs compare Ψ, the reconstruction error and the squared distance to the pulsars' mean (no autoencoder) on
    test non-pulsars against test pulsars; the main autoencoders are scored the same way on the rare class (pulsars).

    Returns
    -------
    UnseenClass
    """
    _check(main, MainAutoencoders, "main")
    if isinstance(long_epochs, (str, bytes)) or not isinstance(long_epochs, Sequence):
        raise ValueError(f"long_epochs must be a list of positive integers, got {long_epochs!r}")
    epochs = [main.epochs, *(checks.positive_int(e, "long_epochs") for e in long_epochs)]  # the first is the thesis's setting
    splits, seeds = main.splits, main.seeds
    seen_train, seen_val = splits.train.y == 1, splits.val.y == 1
    pulsar_mean = splits.train.x[seen_train].mean(dim=0)  # (8,)
    runs = [(n_epochs, seed) for n_epochs in epochs for seed in seeds]
    fits = fit_htru2_energy_models(splits, [seed for _, seed in runs], dae=[main.dae.override(epochs=n_epochs) for n_epochs, _ in runs],
                                   subset=seen_train, val_subset=seen_val, device=main.device, cache_dir=main.cache_dir)
    energies = dict(zip(runs, fits))  # (epochs, seed) -> EnergyModels
    rows = []
    for (n_epochs, seed), energy in energies.items():
        scores = unseen_class_auroc(energy, splits.test, splits.test.y == 0, reference_mean=pulsar_mean)
        rows.append(scores.assign(trained_on=PULSARS_ONLY, flagged_class="non-pulsar", epochs=n_epochs, seed=seed))
    for seed in seeds:  # the main autoencoders: 91 % of their training rows are non-pulsars
        scores = unseen_class_auroc(main.energies[seed], splits.test, splits.test.y == 1, reference_mean=splits.train.x.mean(dim=0))
        rows.append(scores.assign(trained_on=ALL_ROWS, flagged_class="pulsar (rare)", epochs=main.epochs, seed=seed))
    ood_runs = pd.concat(rows, ignore_index=True)
    table = (
        ood_runs.groupby(["trained_on", "flagged_class", "epochs", "mode"], sort=False)
        .agg(
            psi_auroc=("psi_auroc", "mean"),
            psi_auroc_sd=("psi_auroc", "std"),
            recon_auroc=("recon_auroc", "mean"),
            recon_auroc_sd=("recon_auroc", "std"),
            distance_auroc=("distance_auroc", "mean"),
            n_seeds=("seed", "nunique"),
        )
        .reset_index()
    )
    return UnseenClass(energies, ood_runs, table, epochs)


# ----------------------------------------------------------------------------- a missing mode


@dataclass
class MissingMode:
    """Where a mode fed as zeros lands among the Ψ of the clean test samples.

    Attributes
    ----------
    runs : DataFrame
        One row per (trained_on, seed, mode): ``psi_missing, psi_min, test_median, missing_minus_median, test_q95,
        percentile_of_missing`` (the share of clean test samples with a lower Ψ, in %).
    table : DataFrame
        Means over seeds per (trained_on, mode), with ``percentile_sd`` (table ``potential_missing_mode``).
    """

    runs: pd.DataFrame
    table: pd.DataFrame


@torch.no_grad()
def missing_mode(main: MainAutoencoders, unseen: UnseenClass) -> MissingMode:
    """Ψ of an all-zero mode (the training mean after standardization) for the main autoencoders and for the pulsar-only
    ones trained as long as the main ones.

    Returns
    -------
    MissingMode
    """
    _check(main, MainAutoencoders, "main")
    _check(unseen, UnseenClass, "unseen")
    if any((main.epochs, seed) not in unseen.energies for seed in main.seeds):
        raise ValueError(f"unseen must hold pulsar-only autoencoders of {main.epochs} epochs for the seeds {main.seeds}")
    zeros = torch.zeros(1, 4 * len(MODE_NAMES), device=main.device)
    test_x = main.splits.test.x
    rows = []
    for trained_on, models in ((ALL_ROWS, main.energies), (PULSARS_ONLY, {s: unseen.energies[main.epochs, s] for s in main.seeds})):
        for seed, energy in models.items():
            psi_test = energy.potentials(test_x).cpu()  # (n, M)
            psi_zero = energy.potentials(zeros).cpu()[0]  # (M,)
            for m, mode in enumerate(MODE_NAMES):
                rows.append({"trained_on": trained_on, "seed": seed, "mode": mode, "psi_missing": psi_zero[m].item(),
                             "psi_min": energy.psi_min[m].item(), "test_median": psi_test[:, m].median().item(),
                             "missing_minus_median": (psi_zero[m] - psi_test[:, m].median()).item(),
                             "test_q95": psi_test[:, m].quantile(0.95).item(),
                             "percentile_of_missing": 100 * (psi_test[:, m] < psi_zero[m]).float().mean().item()})
    runs = pd.DataFrame(rows)
    table = runs.groupby(["trained_on", "mode"], sort=False).agg(
        psi_missing=("psi_missing", "mean"),
        psi_min=("psi_min", "mean"),
        test_median=("test_median", "mean"),
        missing_minus_median=("missing_minus_median", "mean"),
        test_q95=("test_q95", "mean"),
        percentile_of_missing=("percentile_of_missing", "mean"),
        percentile_sd=("percentile_of_missing", "std"),
    ).reset_index()
    return MissingMode(runs, table)


# ----------------------------------------------------------------------------- what the original code measured


@torch.no_grad()
def batch_coupling(main: MainAutoencoders, *, n_batch: int = 100, sigmas: Sequence[float] = (0.0, 0.5, 1.0, 2.0), seed: int | None = None) -> pd.DataFrame:
    """The per-sample Ψ against the batch-coupled Ψ of the thesis's code on the same ``n_batch`` random test samples.

    The autoencoders are those of ``seed`` (default: the first seed), and so is the generator that draws the
    samples and the noise.

    Returns
    -------
    DataFrame
        One row per (mode, σ): ``per_sample_mean, per_sample_std, batch_coupled_mean, batch_coupled_std``
        (table ``potential_batch_coupling``).
    """
    _check(main, MainAutoencoders, "main")
    seed = main.seeds[0] if seed is None else seed
    if seed not in main.energies:
        raise ValueError(f"seed must be one of the seeds of main {main.seeds}, got {seed!r}")
    n_batch = checks.integer(n_batch, "n_batch", low=2, high=len(main.splits.test))
    if isinstance(sigmas, (str, bytes)) or not isinstance(sigmas, Sequence) or not sigmas:
        raise ValueError(f"sigmas must be a non-empty list of noise levels >= 0, got {sigmas!r}")
    sigmas = [checks.number(s, "sigmas", low=0.0) for s in sigmas]
    test_x = main.splits.test.x
    generator = torch.Generator().manual_seed(seed)
    batch = test_x[torch.randperm(len(test_x), generator=generator)[:n_batch].to(main.device)]  # (n_batch, 8)
    rows = []
    for m, mode in enumerate(MODE_NAMES):
        model = main.energies[seed].models[m]
        for sigma in sigmas:
            noisy = add_noise(batch, sigma, mode, generator)[:, MODE_SLICES[mode]]  # (n_batch, 4)
            per_sample, coupled = model.potential(noisy), batch_coupled_potential(model, noisy)
            rows.append({"mode": mode, "sigma": sigma, "per_sample_mean": per_sample.mean().item(), "per_sample_std": per_sample.std().item(),
                         "batch_coupled_mean": coupled.mean().item(), "batch_coupled_std": coupled.std().item()})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- claims and findings


def claims(sweep: NoiseSweep, unseen: UnseenClass, missing: MissingMode, alpha: float = 0.05) -> pd.DataFrame:
    """The chapter's claims table (:func:`emma.experiments.potentials.potential_claims`) from its three measurements."""
    _check(sweep, NoiseSweep, "sweep")
    _check(unseen, UnseenClass, "unseen")
    _check(missing, MissingMode, "missing")
    return potential_claims(sweep.runs, unseen.runs, missing.runs, training_sigma=sweep.training_sigma, alpha=alpha)


def summary(sweep: NoiseSweep, unseen: UnseenClass, missing: MissingMode) -> str:
    """One paragraph on how well Ψ measures a failing mode, written from the three tables
    (:func:`emma.experiments.potentials.failure_signal_summary`, at :func:`good_auroc` and :func:`missing_percentile`)."""
    _check(sweep, NoiseSweep, "sweep")
    _check(unseen, UnseenClass, "unseen")
    _check(missing, MissingMode, "missing")
    return failure_signal_summary(sweep.table, unseen.table, missing.table, training_sigma=sweep.training_sigma, good_auroc=good_auroc(),
                                  missing_percentile=missing_percentile())


def findings(claims_table: pd.DataFrame) -> str:
    """The verdicts as a Markdown list: one line per claim, its verdict in bold and its evidence."""
    if not isinstance(claims_table, pd.DataFrame) or not {"claim", "verdict", "our_evidence"} <= set(claims_table.columns):
        raise ValueError("claims_table must be a claims table (columns claim, verdict, our_evidence), as claims() returns")
    return "\n".join(f"- *{row.claim}*: **{row.verdict}** ({row.our_evidence})." for row in claims_table.itertuples())

