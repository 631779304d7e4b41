"""The chapter :doc:`Beyond Gaussian noise </book/chapters/12_beyond_gaussian>` as results: one call per section.

The work is :mod:`emma.experiments.failures_study`'s (training under each failure, the scores under
every failure, what the energy sees, the claims); this module bundles it into the chapter's typed
results:

* :func:`describe_failures`: what a failed mode reads under each failure, from the failure's class;
* :func:`energy_study` (:class:`EnergyStudy`): the split, each seed's autoencoders and what their
  potential energy sees of each failure;
* :func:`failure_scores` (:class:`FailureScores`): every family trained under each failure and
  tested under every failure, with the chapter's claims.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import pandas as pd

from emma.data.failures import check_failure
from emma.data.splits import Splits, make_splits
from emma.engine.autoencoders import THESIS_DAE, DAESettings
from emma.engine.configs import TrainSettings
from emma.engine.protocol import SOUND
from emma.experiments import failures_study as fs
from emma.experiments.study import fit_study_energies
from emma.util.tables import over_seeds


def describe_failures(failures: Mapping) -> pd.DataFrame:
    """One row per failure: its name, the object (its ``repr``) and what the failed mode reads (the first line of its class's docstring).

    >>> from emma.data import Zeroed
    >>> describe_failures({"zeroed": Zeroed()})["the failed mode reads"].tolist()
    ['The sensor reads zero in raw units: standardized, −mean / std of each feature (needs the standardization).']
    """
    if not isinstance(failures, Mapping) or not failures:
        raise ValueError(f"failures must be a non-empty mapping of names to Failure objects, got {failures!r}")
    for name, failure in failures.items():
        check_failure(failure, f"failures[{name!r}]")
    return pd.DataFrame([{"failure": name, "object": repr(f), "the failed mode reads": type(f).__doc__.strip().split("\n")[0]}
                         for name, f in failures.items()])


@dataclass
class EnergyStudy:
    """What :func:`energy_study` returns.

    Attributes
    ----------
    splits : Splits
        HTRU2's split (:func:`emma.data.splits.make_splits`).
    energies : dict
        ``{(seed, False): EnergyModels}``: each seed's autoencoders on the clean training split.
    view : DataFrame
        :func:`emma.experiments.failures_study.energy_view`: per failure, mode and seed, the AUROC of
        Ψ_i separating failed from clean test samples (the table ``beyond_gaussian_energy``).
    """

    splits: Splits
    energies: dict
    view: pd.DataFrame

    def summary(self) -> pd.DataFrame:
        """The AUROC and the shift of Ψ_i per failure and mode, mean and standard deviation over seeds."""
        return over_seeds(self.view, ["failure", "mode"], ["auroc", "shift"])

    def describe(self) -> str:
        """One sentence per failure: the mean AUROC of each mode's energy, highest first."""
        return fs.describe_energy(self.view)


def energy_study(failures: Mapping, seeds, settings: TrainSettings, dae: DAESettings = THESIS_DAE, *, split_seed: int = 42,
                 data_home=None, device="cpu", cache_dir=None) -> EnergyStudy:
    """Split HTRU2, fit each seed's autoencoders on the clean training split and measure what their energy sees of each failure.

    Parameters
    ----------
    failures : mapping of str to Failure
    seeds : list of int
    settings : TrainSettings
        The training settings of the study (the autoencoders are fitted under the book's protocol).
    dae : DAESettings
        The autoencoders (default Experiment II's, so its cache is reused).
    split_seed, data_home
        As :func:`emma.data.splits.make_splits`.
    device, cache_dir
        As :func:`emma.experiments.study.fit_study_energies`.
    """
    splits = make_splits(seed=split_seed, data_home=data_home, device="cpu")
    energies = fit_study_energies(splits, seeds, [SOUND], settings, dae=dae, device=device, cache_dir=cache_dir)
    return EnergyStudy(splits, energies, fs.energy_view(energies, splits, failures, seeds))


@dataclass
class FailureScores:
    """What :func:`failure_scores` returns.

    Attributes
    ----------
    sweeps : dict
        :func:`emma.experiments.failures_study.train_under_failures`: ``{"base": sweep, (family, failure): sweep}``.
    scores : DataFrame
        :func:`emma.experiments.failures_study.cross_scores`: the F1 of every model under every test
        failure (the table ``beyond_gaussian_scores``).
    failures : dict
        The failures, by name.
    """

    sweeps: dict
    scores: pd.DataFrame
    failures: dict

    def grid(self) -> pd.DataFrame:
        """The F1 on failed samples, mean and standard deviation over seeds, per family and training failure, one column per test failure."""
        return fs.score_grid(self.scores, self.failures)

    def describe(self) -> str:
        """Markdown bullets: per test failure, the best family trained on it and what Gaussian training gives."""
        return fs.describe_scores(self.scores, self.failures)

    def figure(self, families):
        """The F1 on failed samples of each of ``families`` per test failure, trained on it (filled) and on Gaussian noise (open)."""
        return fs.scores_figure(self.scores, self.failures, families)

    def claims(self, energy: EnergyStudy, alpha: float = 0.05) -> pd.DataFrame:
        """The chapter's claims (:func:`emma.experiments.failures_study.failure_claims`), from these scores and ``energy``'s view."""
        return fs.failure_claims(self.scores, energy.view, self.failures, alpha=alpha)


def failure_scores(energy: EnergyStudy, failures: Mapping, families, seeds, settings: TrainSettings, *, config: Mapping[str, float],
                   device="cpu", cache_dir=None, workers: int = 1) -> FailureScores:
    """Train ``base`` on clean data and every family of ``families`` under each failure, then test every model under every failure.

    ``energy`` gives the split and the energies (:func:`energy_study`); ``config`` EMMA's ``rho``,
    ``lambda_c`` and ``lambda_e``; the rest as :func:`emma.experiments.failures_study.train_under_failures`.
    """
    if not isinstance(energy, EnergyStudy):
        raise TypeError(f"energy must be the EnergyStudy of energy_study, got {type(energy).__name__}")
    sweeps = fs.train_under_failures(energy.splits, failures, families, seeds, settings, energies=energy.energies, config=config,
                                     device=device, cache_dir=cache_dir, workers=workers)
    return FailureScores(sweeps, fs.cross_scores(sweeps, energy.splits, failures, energies=energy.energies), dict(failures))
