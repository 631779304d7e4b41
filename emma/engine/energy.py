"""Per-mode potential energy on HTRU2: one denoising autoencoder per mode.

EMMA (thesis chapter 5) measures how badly each mode is failing by the potential
energy Ψ_i of a tied-weight denoising autoencoder trained on that mode's clean
training data (chapter 4, eq. 4.7). This module trains those autoencoders once per
setting (cached on disk; many settings at once, stacked, with
:func:`fit_mode_autoencoders_many`), records Ψ_min per mode for the correction of
eq. 5.2. What the potentials say on noisy and unseen samples, and the thesis's
batch-coupled potential, are in :mod:`emma.experiments.potentials`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
import pandas as pd
import torch

from emma.data.htru2 import MODE_NAMES, MODE_SLICES
from emma.data.splits import Splits, tensor_fingerprint
from emma.engine.autoencoders import fit_energy_models
from emma.method.autoencoder import DenoisingAutoencoder, check_batch, freeze
from emma.util.cache import cached
from emma.util.runtime import resolve_device


@dataclass
class ModeEnergies:
    """Frozen per-mode autoencoders and what the book needs from them.

    Attributes
    ----------
    models : list of DenoisingAutoencoder
        One frozen autoencoder per mode, in :data:`emma.data.htru2.MODE_NAMES` order.
    psi_min : torch.Tensor
        Shape (M,): the lowest potential Ψ_i over the (clean) samples each
        autoencoder was trained on; the Ψ_min of eq. 5.2.
    curves : pandas.DataFrame
        Learning curves: ``mode``, ``epoch``, ``train_loss``, ``val_loss``.
    settings : dict
        Every setting that produced the models (also the cache key).
    """

    models: list
    psi_min: torch.Tensor
    curves: pd.DataFrame
    settings: dict = field(default_factory=dict)

    def _mode_inputs(self, x) -> list[torch.Tensor]:
        if isinstance(x, torch.Tensor):
            check_batch(x, 4 * len(self.models), "x")
            return [x[:, MODE_SLICES[name]] for name in MODE_NAMES]
        if len(x) != len(self.models):
            raise ValueError(f"x must be a (n, 8) tensor or a list of {len(self.models)} mode tensors, got {len(x)}")
        return list(x)

    @torch.no_grad()
    def potentials(self, x) -> torch.Tensor:
        """Ψ_i of every sample and mode (eq. 4.7, per sample). Shape (n, M).

        ``x`` is a (n, 8) tensor of standardized samples or a list of M (n, 4) mode tensors.
        """
        device = self.psi_min.device
        return torch.stack(
            [model.potential(part.to(device)) for model, part in zip(self.models, self._mode_inputs(x))], dim=1
        )

    @torch.no_grad()
    def reconstruction_errors(self, x) -> torch.Tensor:
        """‖r_i(x_i) − x_i‖² of every sample and mode. Shape (n, M)."""
        device = self.psi_min.device
        return torch.stack(
            [model.reconstruction_error(part.to(device)) for model, part in zip(self.models, self._mode_inputs(x))],
            dim=1,
        )


def _check_subset(subset, n: int, name: str) -> torch.Tensor | None:
    if subset is None:
        return None
    mask = torch.as_tensor(np.asarray(subset.cpu() if isinstance(subset, torch.Tensor) else subset))
    if mask.dtype != torch.bool or mask.shape != (n,):
        raise ValueError(f"{name} must be a boolean mask of shape ({n},), got dtype {mask.dtype} shape {tuple(mask.shape)}")
    if not mask.any():
        raise ValueError(f"{name} selects no samples")
    return mask


def fit_mode_autoencoders(
    splits: Splits,
    *,
    d_hidden: int = 12,
    noise_std: float = 0.01,
    epochs: int = 30,
    batch_size: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
    device: str | torch.device = "cpu",
    cache_dir: str | os.PathLike | None = None,
    subset=None,
    val_subset=None,
    progress: bool | None = None,
) -> ModeEnergies:
    """Train one denoising autoencoder per mode on the training split (thesis setup by default).

    Each autoencoder (tied weights, sigmoid, 4 inputs, ``d_hidden`` hidden units) is
    trained with Adam on its mode's columns of ``splits.train`` (only the rows where
    ``subset`` is True, when given), with validation curves on ``splits.val`` (rows
    where ``val_subset`` is True). The result is cached under a key made of every
    setting, the seed, the device type and a fingerprint of the data used, so the same
    call from another chapter loads it instead of training again.
    :func:`fit_mode_autoencoders_many` trains many such calls at once and shares the cache.

    Parameters
    ----------
    splits : Splits
        From :func:`emma.data.splits.make_splits`.
    d_hidden, noise_std, epochs, batch_size, lr
        Autoencoder width, corruption σ, and training settings (thesis: 12, 0.01, 30, 64, 1e-3).
    seed : int
        Seeds mode m's initial weights and training (shuffling, corruption) with ``M·seed + m``.
    device : {"cpu", "cuda", "auto"} or torch.device
        Where to train; the models come back on it.
    cache_dir : str or path-like, optional
        Folder of the cache (:func:`emma.util.cache.cached`); nothing is cached when None.
    subset : bool array-like of shape (n_train,), optional
        Train only on these training rows (e.g. ``splits.train.y == 1`` for pulsars only).
    val_subset : bool array-like of shape (n_val,), optional
        Validation rows for the learning curves (e.g. ``splits.val.y == 1``).
    progress : bool, optional
        Show progress bars; by default unless :func:`emma.util.runtime.progress_disabled`.

    Returns
    -------
    ModeEnergies
    """
    return fit_mode_autoencoders_many([{"seed": seed, "subset": subset, "val_subset": val_subset}], splits=splits, d_hidden=d_hidden,
                                      noise_std=noise_std, epochs=epochs, batch_size=batch_size, lr=lr, device=device, cache_dir=cache_dir,
                                      progress=progress)[0]


#: The arguments of :func:`fit_mode_autoencoders` that may differ between the runs of :func:`fit_mode_autoencoders_many`.
PER_RUN = ("splits", "seed", "epochs", "subset", "val_subset")
#: The autoencoders' settings a study passes as ``dae=`` (:func:`emma.experiments.study.fit_energies`): the shared
#: arguments of :func:`fit_mode_autoencoders_many` other than what the study gives itself (runs, device, cache).
DAE_KEYS = ("d_hidden", "noise_std", "epochs", "batch_size", "lr", "subset", "val_subset", "progress")


def check_dae(dae) -> dict:
    """``dae`` (None or a mapping of :data:`DAE_KEYS`) as a dict.

    Raises
    ------
    TypeError
        ``dae`` is no mapping.
    ValueError
        A key that is no setting (a typo such as ``hidden``, or ``device``, which the study sets), named, with the settings there are.

    Examples
    --------
    >>> check_dae({"d_hidden": 12, "epochs": 30})
    {'d_hidden': 12, 'epochs': 30}
    """
    if dae is None:
        return {}
    if not isinstance(dae, Mapping):
        raise TypeError(f"dae must be a dict of the autoencoders' settings ({', '.join(DAE_KEYS)}), got {type(dae).__name__}")
    unknown = sorted(map(str, set(dae) - set(DAE_KEYS)))
    if unknown:
        raise ValueError(f"dae has unknown setting(s) {unknown}; the autoencoders' settings are {list(DAE_KEYS)}")
    return dict(dae)


def fit_mode_autoencoders_many(
    runs,
    *,
    splits: Splits | None = None,
    d_hidden: int = 12,
    noise_std: float = 0.01,
    epochs: int = 30,
    batch_size: int = 64,
    lr: float = 1e-3,
    device: str | torch.device = "cpu",
    cache_dir: str | os.PathLike | None = None,
    subset=None,
    val_subset=None,
    progress: bool | None = None,
) -> list[ModeEnergies]:
    """Many calls of :func:`fit_mode_autoencoders` at once: every autoencoder they train shares one stack.

    Run i gives what ``fit_mode_autoencoders(**{**shared, **runs[i]})`` would give (to
    float rounding; ``tests/test_energy.py``), with ``shared`` the keyword arguments here,
    and shares its cache entry: a run already cached by either function is loaded, and
    every (run, mode) that is not is trained in one stack by
    :func:`emma.engine.autoencoders.fit_energy_models`, each with its own seed, data and
    number of epochs.

    Parameters
    ----------
    runs : sequence of dict
        What differs between the runs, keys among :data:`PER_RUN` (``splits``, ``seed``,
        ``epochs``, ``subset``, ``val_subset``); a run's value overrides the shared one.
    splits, d_hidden, noise_std, epochs, batch_size, lr, device, cache_dir, subset, val_subset
        Shared by every run, as in :func:`fit_mode_autoencoders` (``seed`` is 0 unless a run sets it).
    progress : bool, optional
        Show a progress bar over the stack's steps; by default unless :func:`emma.util.runtime.progress_disabled`.

    Returns
    -------
    list of ModeEnergies
        One per run, in the order of ``runs``: e.g. one per seed from
        ``fit_mode_autoencoders_many([{"seed": s} for s in seeds], splits=splits)``.
    """
    if not isinstance(runs, (list, tuple)) or not runs:
        raise TypeError("runs must be a non-empty list of dicts (the per-run arguments of fit_mode_autoencoders)")
    shared = dict(splits=splits, d_hidden=d_hidden, noise_std=noise_std, epochs=epochs, batch_size=batch_size, lr=lr,
                  seed=0, device=device, subset=subset, val_subset=val_subset)
    fits = []
    for i, run in enumerate(runs):
        if not isinstance(run, Mapping):
            raise TypeError(f"runs[{i}] must be a dict, got {type(run).__name__}")
        unknown = sorted(set(run) - set(PER_RUN))
        if unknown:
            raise ValueError(f"runs[{i}] has {unknown}; a run may set only {list(PER_RUN)}, the rest is shared")
        fits.append(_ModeFit.prepare(**{**shared, **run}))
    stored = [_cached_or_none(fit.settings, cache_dir) for fit in fits]
    missing = [i for i, value in enumerate(stored) if value is None]
    if missing:  # every (run, mode) not cached, fitted at once; mode m of a run seeded M·seed + m
        columns = [MODE_SLICES[name] for name in MODE_NAMES]
        fitted = fit_energy_models(
            [fits[i].x_train[:, c] for i in missing for c in columns],
            x_val=[fits[i].x_val[:, c] for i in missing for c in columns],
            seeds=[fits[i].mode_seed(m) for i in missing for m in range(len(MODE_NAMES))],
            epochs=[fits[i].settings["epochs"] for i in missing for _ in MODE_NAMES],
            d_hidden=d_hidden, noise_std=noise_std, batch_size=batch_size, lr=lr, device=fits[missing[0]].device,
            progress=progress, desc=f"{len(missing) * len(MODE_NAMES)} mode autoencoders",
        )
        for j, i in enumerate(missing):
            modes = slice(j * len(MODE_NAMES), (j + 1) * len(MODE_NAMES))
            value = fits[i].stored(fitted.models[modes], fitted.curves[modes], fitted.psi_min[modes])
            stored[i] = cached("mode_autoencoders", fits[i].settings, lambda value=value: value, cache_dir)
    return [fit.energies(value) for fit, value in zip(fits, stored)]


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
    """One call of :func:`fit_mode_autoencoders`: its checked inputs, its cache key, and how its models start and end."""

    settings: dict
    x_train: torch.Tensor  # (n, 8), on the CPU
    x_val: torch.Tensor  # (n_val, 8), on the CPU
    device: torch.device

    @classmethod
    def prepare(cls, splits, *, d_hidden, noise_std, epochs, batch_size, lr, seed, device, subset, val_subset) -> "_ModeFit":
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
            "d_hidden": d_hidden,
            "noise_std": noise_std,
            "epochs": epochs,
            "batch_size": batch_size,
            "lr": lr,
            "seed": int(seed),
            "device": device.type,
            "train_data": tensor_fingerprint(x_train),
            "val_data": tensor_fingerprint(x_val),
        }
        return cls(settings, x_train, x_val, device)

    def mode_seed(self, m: int) -> int:
        return len(MODE_NAMES) * self.settings["seed"] + m

    @staticmethod
    def stored(models, curves, psi_min) -> dict:
        """What the cache keeps of trained models: their states, Ψ_min (eq. 5.2) and learning curves."""
        return {
            "states": [{key: value.detach().cpu() for key, value in model.state_dict().items()} for model in models],
            "psi_min": psi_min.tolist(),
            "curves": pd.concat([curve.assign(mode=name) for curve, name in zip(curves, MODE_NAMES)], ignore_index=True)[
                ["mode", "epoch", "train_loss", "val_loss"]
            ],
        }

    def energies(self, stored: dict) -> ModeEnergies:
        """Frozen models on the device, from a :meth:`stored` value."""
        models = []
        for name, state in zip(MODE_NAMES, stored["states"]):
            columns = MODE_SLICES[name]
            model = DenoisingAutoencoder(columns.stop - columns.start, self.settings["d_hidden"], self.settings["noise_std"])
            model.load_state_dict(state)
            models.append(freeze(model.to(self.device)))
        psi_min = torch.tensor(stored["psi_min"], dtype=torch.float32, device=self.device)
        return ModeEnergies(models=models, psi_min=psi_min, curves=stored["curves"], settings=self.settings)
