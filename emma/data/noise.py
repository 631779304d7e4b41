"""Corruption of whole modes with Gaussian white noise, and the noise-to-signal ratio.

:func:`add_noise` and :func:`corrupt` add N(0, σ²) to every column of the chosen modes
(IP, columns 0–3; DM, columns 4–7); :func:`sigma_to_nsr_db` and :func:`nsr_db_to_sigma`
convert between σ and the noise-to-signal ratio in decibels (the signal variance is 1
after standardization). :func:`corrupt` is the thesis's scheme with the
:class:`~emma.data.failures.Gaussian` failure; :mod:`emma.data.failures` has the others.
"""
from __future__ import annotations

import math
from typing import Iterable

import numpy as np
import torch

from emma.data.failures import Gaussian, _check_features, _gaussian, corrupt_modes
from emma.data.htru2 import MODE_NAMES, MODE_SLICES, check_mode_name


def _mode_slices(modes) -> list[slice]:
    if isinstance(modes, (str, int, np.integer)):
        modes = [modes]
    if not isinstance(modes, Iterable):
        raise TypeError(f"modes must be a mode name, an index or a list of them, got {type(modes).__name__}")
    slices = []
    for mode in modes:
        if isinstance(mode, (int, np.integer)) and not isinstance(mode, bool):
            if not 0 <= mode < len(MODE_NAMES):
                raise ValueError(f"modes: index {mode} is out of range 0..{len(MODE_NAMES) - 1}")
            mode = MODE_NAMES[mode]
        slices.append(MODE_SLICES[check_mode_name(mode)])
    return slices


def _check_sigma(sigma) -> float:
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float, np.floating)) or not math.isfinite(sigma) or sigma < 0:
        raise ValueError(f"sigma must be a finite number >= 0, got {sigma!r}")
    return float(sigma)


def add_noise(x: torch.Tensor, sigma: float, modes, generator: torch.Generator | None = None) -> torch.Tensor:
    """Add Gaussian white noise N(0, σ²) to every column of the chosen modes.

    Parameters
    ----------
    x : torch.Tensor
        Standardized samples, shape (n, 8). Not modified.
    sigma : float
        Noise standard deviation σ ≥ 0 (in units of the standardized features).
    modes : str, int or list of them
        "IP" / "DM" or their indices 0 / 1.
    generator : torch.Generator, optional
        Source of the noise; the global generator when None.

    Returns
    -------
    torch.Tensor
        A noisy copy of ``x``, shape (n, 8).
    """
    _check_features(x)
    sigma = _check_sigma(sigma)
    out = x.clone()
    for columns in _mode_slices(modes):
        block = out[:, columns]  # (n, 4)
        out[:, columns] = block + sigma * _gaussian(block.shape, generator, block)
    return out


def corrupt(
    x: torch.Tensor,
    sigma: float,
    generator: torch.Generator | None = None,
    clean_fraction: float = 0.5,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The thesis's corruption scheme: some samples clean, the rest noisy on exactly one mode.

    ``floor(n · (1 − clean_fraction))`` samples, drawn at random, are corrupted; half of
    them (rounded down) on IP only, the others on DM only. With the default
    ``clean_fraction=0.5``: 50 % clean, 25 % IP noisy, 25 % DM noisy.

    Parameters
    ----------
    x : torch.Tensor
        Standardized samples, shape (n, 8). Not modified.
    sigma : float
        Noise standard deviation σ ≥ 0.
    generator : torch.Generator, optional
        Source of the choice of samples and of the noise; seed it for reproducible data.
    clean_fraction : float, default 0.5
        Fraction of samples left clean, in [0, 1].

    Returns
    -------
    x_noisy : torch.Tensor
        Shape (n, 8).
    mask : torch.Tensor
        Bool, shape (n, 2): ``mask[k, m]`` is True when mode m of sample k received
        noise (it is set by the scheme, also when σ = 0). At most one True per row.
    """
    _check_features(x)
    sigma = _check_sigma(sigma)
    if isinstance(clean_fraction, bool) or not isinstance(clean_fraction, (int, float)) or not 0 <= clean_fraction <= 1:
        raise ValueError(f"clean_fraction must be a fraction in [0, 1], got {clean_fraction!r}")
    return corrupt_modes(x, Gaussian(sigma), generator, clean_fraction)


def _as_floats(value, name: str, expected: str) -> np.ndarray:
    """``value`` (a number or an array-like of numbers) as a float64 array; anything else a ``ValueError`` naming ``name``."""
    if isinstance(value, (str, bytes, bool, np.bool_)) or value is None:
        raise ValueError(f"{name} must be {expected} (or an array of them), got {value!r}")
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be {expected} (or an array of them), got {value!r}") from None


def sigma_to_nsr_db(sigma):
    """Noise-to-signal ratio in dB of Gaussian noise with standard deviation σ.

    NSR(dB) = 10·log10(σ² / 1): the signal variance is 1 after standardization.
    σ = 0.5 gives −6.02 dB, σ = 1 gives 0 dB, σ = 0 gives −inf. (The thesis's code
    calls this quantity ``SNR``; it grows with the noise, so it is a noise-to-signal
    ratio.)

    Parameters
    ----------
    sigma : float or array-like
        Noise standard deviation(s), each ≥ 0.

    Returns
    -------
    float or numpy.ndarray
    """
    values = _as_floats(sigma, "sigma", "finite and >= 0")
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise ValueError(f"sigma must be finite and >= 0, got {sigma!r}")
    with np.errstate(divide="ignore"):
        db = 10.0 * np.log10(values**2)
    return float(db) if db.ndim == 0 else db


def nsr_db_to_sigma(db):
    """Noise standard deviation σ for a noise-to-signal ratio in dB: σ = 10^(dB/20).

    The inverse of :func:`sigma_to_nsr_db`; −6 dB gives σ ≈ 0.501.

    Parameters
    ----------
    db : float or array-like
        Noise-to-signal ratio(s) in decibels (−inf allowed, giving σ = 0).

    Returns
    -------
    float or numpy.ndarray
    """
    values = _as_floats(db, "db", "a number or -inf")
    if np.any(np.isnan(values)) or np.any(values == np.inf):
        raise ValueError(f"db must be a number or -inf, got {db!r}")
    sigma = 10.0 ** (values / 20.0)
    return float(sigma) if sigma.ndim == 0 else sigma
