"""HTRU2's energy models: one denoising autoencoder per mode, fitted and cached for the sweeps.

EMMA (thesis chapter 5) measures how badly each mode is failing by the potential
energy Ψ_i of a tied-weight denoising autoencoder trained on that mode's clean
training data (chapter 4, eq. 4.7). :func:`fit_htru2_energy_models` fits those autoencoders
with :func:`emma.engine.autoencoders.fit_energy_models` (many seeds at once, stacked), records
Ψ_min per mode for the correction of eq. 5.2, and caches each seed's pair on disk. What the
potentials say on noisy and unseen samples, and the thesis's batch-coupled potential, are in
:mod:`emma.experiments.potentials`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from emma.data.htru2 import MODE_NAMES, MODE_SLICES
from emma.data.splits import Splits, tensor_fingerprint
from emma.engine.autoencoders import THESIS_DAE, DAESettings, EnergyModels, check_dae, fit_energy_models
from emma.method.autoencoder import DenoisingAutoencoder, freeze
from emma.util.cache import cached
from emma.util.runtime import resolve_device


def _check_subset(subset, n: int, name: str) -> torch.Tensor | None:
    if subset is None:
        return None
    mask = torch.as_tensor(np.asarray(subset.cpu() if isinstance(subset, torch.Tensor) else subset))
    if mask.dtype != torch.bool or mask.shape != (n,):
        raise ValueError(f"{name} must be a boolean mask of shape ({n},), got dtype {mask.dtype} shape {tuple(mask.shape)}")
    if not mask.any():
        raise ValueError(f"{name} selects no samples")
    return mask


def fit_htru2_energy_models(
    splits,
    seeds,
    *,
    dae: DAESettings | list = THESIS_DAE,
    subset=None,
    val_subset=None,
    device: str | torch.device = "cpu",
    cache_dir: str | os.PathLike | None = None,
    progress: bool | None = None,
) -> list[EnergyModels]:
    """HTRU2's energy models: per seed, one autoencoder per mode on that mode's training columns, cached.

    What it adds to :func:`emma.engine.autoencoders.fit_energy_models`, which trains every
    autoencoder not cached yet in one stack: it takes HTRU2's :class:`~emma.data.splits.Splits`
    (each mode's columns of ``splits.train``, the rows where ``subset`` is True when given,
    with validation curves on ``splits.val`` where ``val_subset`` is True), seeds mode m of seed
    s with ``M·s + m``, and caches each seed's pair under a key made of every setting, the seed,
    the device type and a fingerprint of the data used (the :attr:`EnergyModels.settings`, which
    the sweeps trained with them record), so the same call from another chapter loads it
    instead of training again.

    Parameters
    ----------
    splits : Splits or sequence of Splits
        From :func:`emma.data.splits.make_splits`; or one per seed (e.g. the copies a protocol
        corrupted in place, :func:`emma.engine.streams.in_place_splits`).
    seeds : sequence of int
        One pair of autoencoders per entry, in order; an entry may repeat with other ``splits``
        or ``dae``.
    dae : DAESettings or sequence of DAESettings
        The autoencoders' settings (default :data:`emma.engine.autoencoders.THESIS_DAE`, the
        thesis's), or one per seed (e.g. training lengths); one ``batch_size`` and ``lr`` for all.
    subset : bool array-like of shape (n_train,), optional
        Train only on these training rows (e.g. ``splits.train.y == 1`` for pulsars only).
    val_subset : bool array-like of shape (n_val,), optional
        Validation rows for the learning curves (e.g. ``splits.val.y == 1``).
    device : {"cpu", "cuda", "auto"} or torch.device
        Where to train; the models come back on it.
    cache_dir : str or path-like, optional
        Folder of the cache (:func:`emma.util.cache.cached`); nothing is cached when None.
    progress : bool, optional
        Show a progress bar over the stack's steps; by default unless :func:`emma.util.runtime.progress_disabled`.

    Returns
    -------
    list of EnergyModels
        One per entry of ``seeds``, in order: its IP and DM autoencoders (:data:`emma.data.htru2.MODE_NAMES` order).

    Raises
    ------
    TypeError, ValueError
        A bad argument, named, before anything is trained.

    Examples
    --------
    ``energies = dict(zip(seeds, fit_htru2_energy_models(splits, seeds, cache_dir=cache_dir)))``: the
    thesis's autoencoders of every seed.
    """
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, (list, tuple)) or not seeds:
        raise TypeError(f"seeds must be a non-empty list of seeds (one pair of autoencoders each), got {seeds!r}")
    if isinstance(dae, (list, tuple)) and len(dae) != len(seeds):
        raise ValueError(f"dae must be one DAESettings or a list of one per seed ({len(seeds)}), got {len(dae)}")
    daes = check_dae(dae, len(seeds))
    if isinstance(splits, (list, tuple)):
        if len(splits) != len(seeds):
            raise ValueError(f"splits must be one Splits or a list of one per seed ({len(seeds)}), got {len(splits)}")
        each = list(splits)
    else:
        each = [splits] * len(seeds)
    fits = [_ModeFit.prepare(s, d, seed=seed, device=device, subset=subset, val_subset=val_subset) for s, d, seed in zip(each, daes, seeds)]
    stored = [_cached_or_none(fit.settings, cache_dir) for fit in fits]
    missing = [i for i, value in enumerate(stored) if value is None]
    if missing:  # every (seed, mode) not cached, fitted at once; mode m of a seed s seeded M·s + m
        columns = [MODE_SLICES[name] for name in MODE_NAMES]
        fitted = fit_energy_models(
            [fits[i].x_train[:, c] for i in missing for c in columns],
            x_val=[fits[i].x_val[:, c] for i in missing for c in columns],
            seeds=[fits[i].mode_seed(m) for i in missing for m in range(len(MODE_NAMES))],
            dae=[daes[i] for i in missing for _ in MODE_NAMES], device=fits[missing[0]].device,
            progress=progress, desc=f"{len(missing) * len(MODE_NAMES)} mode autoencoders",
        )
        for j, i in enumerate(missing):
            first = j * len(MODE_NAMES)
            modes = slice(first, first + len(MODE_NAMES))
            value = fits[i].stored(fitted.models[modes], _curves(fitted.curves, first), fitted.psi_min[modes])
            stored[i] = cached("mode_autoencoders", fits[i].settings, lambda value=value: value, cache_dir)
    return [fit.energies(value) for fit, value in zip(fits, stored)]


def _curves(curves: pd.DataFrame, first: int) -> pd.DataFrame:
    """The learning curves of models ``first``, ``first + 1``, ... (one per mode), each named by its mode."""
    part = curves[curves["model"].between(first, first + len(MODE_NAMES) - 1)]
    return part.assign(mode=[MODE_NAMES[k - first] for k in part["model"]])[["mode", "epoch", "train_loss", "val_loss"]].reset_index(drop=True)


class _CacheMiss(Exception):
    pass


def _cached_or_none(settings: dict, cache_dir) -> dict | None:
    """The cached ``mode_autoencoders`` entry of ``settings``, or None when there is none (or no cache)."""

    def miss():
        raise _CacheMiss

    try:
        return cached("mode_autoencoders", settings, miss, cache_dir)
    except _CacheMiss:
        return None


@dataclass
class _ModeFit:
    """One seed's pair of :func:`fit_htru2_energy_models`: its checked inputs, its cache key, and how its models start and end."""

    settings: dict
    x_train: torch.Tensor  # (n, 8), on the CPU
    x_val: torch.Tensor  # (n_val, 8), on the CPU
    device: torch.device

    @classmethod
    def prepare(cls, splits, dae: DAESettings, *, seed, device, subset, val_subset) -> "_ModeFit":
        if not isinstance(splits, Splits):
            raise TypeError(f"splits must be the Splits of emma.data.splits.make_splits, got {type(splits).__name__}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        device = resolve_device(device)
        train_mask = _check_subset(subset, len(splits.train), "subset")
        val_mask = _check_subset(val_subset, len(splits.val), "val_subset")
        x_train = splits.train.x.cpu() if train_mask is None else splits.train.x.cpu()[train_mask]  # (n, 8)
        x_val = splits.val.x.cpu() if val_mask is None else splits.val.x.cpu()[val_mask]  # (n_val, 8)
        settings = {
            "model": "tied sigmoid DAE per mode",
            "modes": {name: [MODE_SLICES[name].start, MODE_SLICES[name].stop] for name in MODE_NAMES},
            "d_hidden": dae.d_hidden,
            "noise_std": dae.noise_std,
            "epochs": dae.epochs,
            "batch_size": dae.batch_size,
            "lr": dae.lr,
            "seed": int(seed),
            "device": device.type,
            "train_data": tensor_fingerprint(x_train),
            "val_data": tensor_fingerprint(x_val),
        }
        return cls(settings, x_train, x_val, device)

    def mode_seed(self, m: int) -> int:
        return len(MODE_NAMES) * self.settings["seed"] + m

    @staticmethod
    def stored(models, curves: pd.DataFrame, psi_min) -> dict:
        """What the cache keeps of trained models: their states, Ψ_min (eq. 5.2) and learning curves (by mode)."""
        return {
            "states": [{key: value.detach().cpu() for key, value in model.state_dict().items()} for model in models],
            "psi_min": psi_min.tolist(),
            "curves": curves,
        }

    def energies(self, stored: dict) -> EnergyModels:
        """Frozen models on the device, from a :meth:`stored` value."""
        models = []
        for name, state in zip(MODE_NAMES, stored["states"]):
            columns = MODE_SLICES[name]
            model = DenoisingAutoencoder(columns.stop - columns.start, self.settings["d_hidden"], self.settings["noise_std"])
            model.load_state_dict(state)
            models.append(freeze(model.to(self.device)))
        psi_min = torch.tensor(stored["psi_min"], dtype=torch.float32, device=self.device)
        return EnergyModels(models=models, psi_min=psi_min, curves=stored["curves"], settings=self.settings)
