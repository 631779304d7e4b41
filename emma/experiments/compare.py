"""Families side by side under one failure at several severities: a new family beside EMMA and data augmentation in one call.

:func:`compare_families` does for one failure, taken at several severities, what the chapter
:doc:`Beyond Gaussian noise </book/chapters/12_beyond_gaussian>` does by hand for several failures. It

1. fits each seed's autoencoders on the clean training split
   (:func:`emma.experiments.study.fit_study_energies`, with Experiment II's settings :data:`emma.engine.autoencoders.THESIS_DAE`),
   when a family reads the energies;
2. trains the ``base`` model of each seed on clean data, then every family under the failure at
   each severity, on the thesis's scheme (:func:`emma.experiments.failures_study.train_under_failures`;
   EMMA, the family ``with``, in the book's configuration :data:`EMMA_CONFIG`);
3. scores every model on the test split under the failure it was trained on
   (:func:`emma.experiments.failures_study.cross_scores`).

The defaults are the chapter's (its ``parameters`` cell: Experiment II's protocol), so the
autoencoders and the base models it trained are found again in a shared cache. Nothing here
trains: the engine (:func:`emma.engine.launch.run_sweep`) does, and caches every sweep.
:func:`emma.util.plots.family_figure` draws the result.

Examples
--------
A registered family beside data augmentation and EMMA, under a sensor that reads zero, at
three severities (seconds with ``epochs=1, dae=THESIS_DAE.override(epochs=1)``)::

    frame = compare_families(["without", "with", "my_family"], Zeroed, [0.25, 0.5, 1.0], seeds=[0, 1, 2])
    fig = family_figure(frame)
"""
from __future__ import annotations

import os
from types import MappingProxyType
from typing import Mapping

import numpy as np
import pandas as pd

from emma.data.failures import Failure, failure_family
from emma.data.splits import Splits, make_splits
from emma.engine.autoencoders import THESIS_DAE, DAESettings, check_dae
from emma.engine.configs import TrainSettings
from emma.engine.protocol import SOUND
from emma.engine.registry import Family, get_family, registered
from emma.experiments.failures_study import FAILED_COLUMNS, cross_scores, train_under_failures
from emma.experiments.study import fit_study_energies
from emma.util import checks
from emma.util.runtime import resolve_device

#: EMMA's configuration (ρ, λ_c, λ_e), fixed before any run: the thesis's best (the first EMMA row of its
#: table, read as the slides do), as the chapter :doc:`Beyond Gaussian noise </book/chapters/12_beyond_gaussian>` sets it.
EMMA_CONFIG = MappingProxyType({"rho": 1e-4, "lambda_c": 0.01, "lambda_e": 0.001})
#: The classifiers' training: Experiment II's protocol (:class:`emma.engine.configs.TrainSettings`), 50 % of samples clean.
TRAINING = MappingProxyType({"epochs": 35, "batch_size": 32, "lr": 1e-3, "clean_fraction": 0.5})
#: The columns of :func:`compare_families`, in order.
COLUMNS = ("family", "severity", "seed", "failure", "trained_on", "f1_clean", *FAILED_COLUMNS, "f1_failed")
#: What :func:`compare_families` writes in ``trained_on`` for ``base``, trained on clean data (as :func:`~emma.experiments.failures_study.cross_scores` does).
CLEAN = "none (clean)"
#: The thesis's split seed, used when ``splits`` is not given.
SPLIT_SEED = 42


def _check_families(families) -> list[str]:
    if isinstance(families, (str, bytes, Family)) or not isinstance(families, (list, tuple)) or not families:
        raise ValueError(f"families must be a non-empty list of registered family names such as ['without', 'with'], got {families!r}")
    names = []
    for i, family in enumerate(families):
        name = family.name if isinstance(family, Family) else family
        if not isinstance(name, str) or name not in registered():
            raise ValueError(f"families[{i}] must be a registered family, one of {registered()} "
                             f"(add yours with emma.engine.registry.register), got {family!r}")
        if name in names:
            raise ValueError(f"families must not repeat a family ({name!r} appears twice), got {families!r}")
        names.append(name)
    return names


def _check_severities(severities) -> list[float]:
    if isinstance(severities, (str, bytes)) or not isinstance(severities, (list, tuple, np.ndarray)) or len(severities) == 0:
        raise ValueError(f"severities must be a non-empty list of numbers such as [0.5, 1.0, 2.0], got {severities!r}")
    values = [checks.number(s, f"severities[{i}]") for i, s in enumerate(severities)]
    repeated = sorted({s for s in values if values.count(s) > 1})
    if repeated:
        raise ValueError(f"severities must not repeat a severity ({repeated[0]:g} appears twice), got {list(severities)!r}")
    return values


def _failures(failure, severities: list[float]) -> dict:
    """``{name: Failure}`` at each severity, named by the severity's repr (distinct, as the severities are)."""
    if failure is Failure:
        raise TypeError("failure must be a failure's class (e.g. Zeroed), a Failure or a callable severity -> Failure, not the base class Failure")
    make = failure_family(failure)  # a TypeError naming `failure` when it is neither a Failure, a class nor a callable
    out = {}
    for i, severity in enumerate(severities):
        try:
            built = make(severity)
        except (TypeError, ValueError) as error:
            raise type(error)(f"failure at severities[{i}] = {severity!r}: {error}") from None
        if built.severity != severity:
            raise ValueError(f"failure must give a failure of the severity asked for: at severities[{i}] = {severity!r} "
                             f"it gave {built!r} (severity {built.severity!r})")
        out[repr(severity)] = built
    return out


def _overrides(given, defaults: Mapping, name: str) -> dict:
    if given is None:
        return dict(defaults)
    if not isinstance(given, Mapping):
        raise TypeError(f"{name} must be a mapping with keys among {sorted(defaults)}, got {type(given).__name__}")
    unknown = sorted(set(given) - set(defaults), key=str)
    if unknown:
        raise ValueError(f"{name} has unknown keys {unknown}; the keys are {sorted(defaults)}")
    return {**defaults, **given}


def _check_config(config) -> dict:
    config = _overrides(config, EMMA_CONFIG, "config")
    return {"rho": checks.number(config["rho"], "config['rho']", low=0.0, low_open=True),
            **{k: checks.number(config[k], f"config[{k!r}]", low=0.0) for k in ("lambda_c", "lambda_e")}}


def _splits(splits, data_home, split_seed) -> Splits:
    if splits is not None:
        if not isinstance(splits, Splits):
            raise TypeError(f"splits must be an emma.data.splits.Splits (make_splits, split_arrays) or None, got {type(splits).__name__}")
        if data_home is not None or split_seed is not None:
            raise ValueError("give splits, or data_home and split_seed to make them, not both")
        return splits
    if data_home is not None and not isinstance(data_home, (str, os.PathLike)):
        raise TypeError(f"data_home must be a folder (str or path) or None, got {type(data_home).__name__}")
    seed = SPLIT_SEED if split_seed is None else checks.integer(split_seed, "split_seed", low=0)
    return make_splits(seed=seed, data_home=data_home, device="cpu")


def compare_families(families, failure, severities, seeds, *, splits: Splits | None = None, data_home=None, split_seed: int | None = None,
                     epochs: int = TRAINING["epochs"], batch_size: int = TRAINING["batch_size"], lr: float = TRAINING["lr"],
                     clean_fraction: float = TRAINING["clean_fraction"], config: Mapping[str, float] | None = None,
                     dae: DAESettings = THESIS_DAE, device="cpu", cache_dir=None, progress: bool | None = None, workers: int = 1) -> pd.DataFrame:
    """Train every family of ``families`` under ``failure`` at each severity; F1 on clean and failed test samples.

    Each model is trained on the thesis's scheme (a ``clean_fraction`` of the samples clean, the
    others with IP or DM failed, half each) under the failure at one severity, and tested under
    the same failure and severity. ``base`` is always trained (on clean data: the start of every
    ``from_base`` family, EMMA's included); it has rows only when ``families`` names it, one per
    severity, scored on the test split under that failure.

    Parameters
    ----------
    families : list of str
        Registered families (:func:`emma.engine.registry.register`), e.g. ``["without", "with", "mine"]``
        (``without``: data augmentation; ``with``: EMMA); a registered :class:`~emma.engine.registry.Family` is taken by its name.
    failure : Failure class, callable ``severity -> Failure``, or Failure
        The failure (:func:`emma.data.failures.failure_family`): a class is called with the severity,
        a Failure instance is taken at each severity (:meth:`~emma.data.failures.Failure.with_severity`).
        Its severity means what it says it means (a blend fraction, σ, an offset, ...).
    severities : list of float
        Distinct severities, each one the failure accepts.
    seeds : list of int
        One autoencoder pair, data order and initialisation per seed (:func:`emma.util.checks.seeds`).
    splits : Splits, optional
        The data; by default HTRU2 split as the thesis does (:func:`emma.data.splits.make_splits`
        with ``data_home`` and ``split_seed``, 42 when None).
    epochs, batch_size, lr, clean_fraction
        The classifiers' training (:class:`emma.engine.configs.TrainSettings`); defaults :data:`TRAINING`.
    config : mapping, optional
        EMMA's ``rho``, ``lambda_c`` and ``lambda_e``; the keys left out take :data:`EMMA_CONFIG`'s values.
        Families without attention ignore them.
    dae : DAESettings
        The autoencoders' settings; by default Experiment II's, :data:`emma.engine.autoencoders.THESIS_DAE`, so its cache is reused.
    device, cache_dir, progress
        As :func:`emma.engine.launch.run_sweep` (``cache_dir`` None: nothing cached).
    workers : int
        As :func:`emma.experiments.failures_study.train_under_failures`.

    Returns
    -------
    DataFrame
        One row per family, severity and seed, in the order given, columns :data:`COLUMNS`:
        ``family``, ``severity`` (a float), ``seed``, ``failure`` (the failure's label at that
        severity), ``trained_on`` (the same label, or :data:`CLEAN` for ``base``), ``f1_clean`` (the
        test samples the scheme leaves clean), ``f1_ip_failed`` and ``f1_dm_failed`` (those with IP,
        DM failed) and ``f1_failed``, their mean.

    Raises
    ------
    ValueError, TypeError
        Naming the argument and what was expected, before anything is trained.
    """
    names = _check_families(families)
    severities = _check_severities(severities)
    failures = _failures(failure, severities)
    seeds = checks.seeds(seeds)
    settings = TrainSettings(epochs=checks.positive_int(epochs, "epochs"), batch_size=checks.positive_int(batch_size, "batch_size"),
                             lr=checks.number(lr, "lr", low=0.0, low_open=True), clean_fraction=checks.fraction(clean_fraction, "clean_fraction"))
    config, dae = _check_config(config), check_dae(dae)
    workers = checks.positive_int(workers, "workers")
    device = resolve_device(device)
    if cache_dir is not None and not isinstance(cache_dir, (str, os.PathLike)):
        raise TypeError(f"cache_dir must be a folder (str or path) or None, got {type(cache_dir).__name__}")
    if progress is not None and not isinstance(progress, bool):
        raise TypeError(f"progress must be True, False or None, got {progress!r}")
    splits = _splits(splits, data_home, split_seed)
    trained = [name for name in names if name != "base"]
    specs = [get_family(name) for name in trained]
    energies = None
    if any(spec.uses_energies for spec in specs):
        energies = fit_study_energies(splits, seeds, [SOUND], settings, dae=dae, device=device, cache_dir=cache_dir)
    sweeps = train_under_failures(splits, failures, trained, seeds, settings, energies=energies, config=config, device=device,
                                  cache_dir=cache_dir, progress=progress, workers=workers)
    frames = []
    for name, failed in failures.items():
        mine = {key: sweep for key, sweep in sweeps.items() if key != "base" and key[1] == name}
        scores = cross_scores({"base": sweeps["base"], **mine} if "base" in names else mine, splits, {name: failed}, energies=energies)
        scores["failure"] = failed.label
        scores["trained_on"] = np.where(scores["family"] == "base", CLEAN, failed.label)
        frames.append(scores)
    out = pd.concat(frames, ignore_index=True)
    order = out["family"].map({name: i for i, name in enumerate(names)})
    return out.iloc[np.argsort(order.to_numpy(), kind="stable")].reset_index(drop=True)[list(COLUMNS)]  # the severities and seeds as given
