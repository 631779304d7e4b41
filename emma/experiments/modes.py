"""More than two modes, the data: M modes of equal width, their corruption and the study's summaries (thesis §8.3).

The thesis only ever trains EMMA on two modes. The chapter on many modes runs it on M
(:mod:`emma.experiments.modes_study` trains the models); this module holds what the study is about:

* data with M modes of equal width d, as tensors of shape (n, M, d):
  :func:`synthetic_modes` (M noisy linear views of one shared latent) and
  :func:`digit_modes` (scikit-learn's 8×8 digits cut into square blocks), split and
  standardized per seed by :func:`split_standardize`;
* whole-mode corruption with exactly k corrupted modes per sample (:func:`corruption_mask`, :func:`corrupt`);
* the thesis's constraint on the number of clean modes, M' = ⌊(M+1)/2⌋ (eq. 5.20–5.22,
  :func:`clean_modes_needed`, :func:`constraint_holds`);
* the summaries of a study's results: means over seeds (:func:`mode_summary`), paired differences
  between two models (:func:`paired_differences`) and the coldness EMMA needs (:func:`coldness_needed`).
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import pandas as pd
import torch
from sklearn.model_selection import train_test_split

from emma.util import checks
from emma.util.tables import over_seeds


class ModeData(NamedTuple):
    """Samples with M modes of equal width: ``x`` (n, M, d) float, ``y`` (n,) class labels."""

    x: torch.Tensor  # (n, M, d)
    y: torch.Tensor  # (n,) int64
    latent: torch.Tensor | None = None  # (n, latent_dim), synthetic data only


def _check_int(value, name: str, low: int) -> int:
    return checks.integer(value, name, low=low)


def clean_modes_needed(n_modes: int) -> int:
    """M' = ⌊(M+1)/2⌋, the number of clean modes the derivation of eq. 5.20–5.21 assumes.

    >>> [clean_modes_needed(m) for m in (2, 3, 4, 5, 16)]
    [1, 2, 2, 3, 8]
    """
    return (_check_int(n_modes, "n_modes", 2) + 1) // 2


def constraint_holds(n_modes: int, n_corrupted: int) -> bool:
    """True when a sample with ``n_corrupted`` corrupted modes keeps at least M' clean ones.

    >>> constraint_holds(4, 2), constraint_holds(4, 3), constraint_holds(3, 2)
    (True, False, False)
    """
    m = _check_int(n_modes, "n_modes", 2)
    k = _check_int(n_corrupted, "n_corrupted", 0)
    if k > m:
        raise ValueError(f"n_corrupted must be <= n_modes = {m}, got {k}")
    return m - k >= clean_modes_needed(m)


def corrupted_levels(n_modes: int, max_levels: int = 7) -> list[int]:
    """Every k from 1 to M − 1 when there are at most ``max_levels`` of them, else five levels from 1 to M − 1.

    >>> corrupted_levels(4), corrupted_levels(16)
    ([1, 2, 3], [1, 4, 8, 12, 15])
    """
    m = _check_int(n_modes, "n_modes", 2)
    if m - 1 <= _check_int(max_levels, "max_levels", 1):
        return list(range(1, m))
    return sorted({int(v) for v in np.clip(np.round(np.linspace(0, m, 5)), 1, m - 1)})


def synthetic_modes(n_samples: int, n_modes: int, *, mode_dim: int = 4, latent_dim: int = 2, n_classes: int = 4,
                    view_noise: float = 0.5, seed: int = 0) -> ModeData:
    """M noisy linear views x_m = z A_m + σ ε_m of one latent z ~ N(0, I); the class is z's angle sector.

    Parameters
    ----------
    n_samples, n_modes : int
        n ≥ 1 samples with M ≥ 2 modes.
    mode_dim, latent_dim, n_classes : int
        Width d of every mode, dimension of z (≥ 2), number of equal angle sectors of (z_1, z_2).
    view_noise : float
        σ ≥ 0 of each mode's own Gaussian noise: one mode alone is a blurred view of z.
    seed : int
        Seeds the loadings A_m, the latents and the noise.

    Examples
    --------
    >>> data = synthetic_modes(100, 3)
    >>> tuple(data.x.shape), int(data.y.max()) < 4
    ((100, 3, 4), True)
    """
    n, m = _check_int(n_samples, "n_samples", 1), _check_int(n_modes, "n_modes", 2)
    d, n_latent, c = _check_int(mode_dim, "mode_dim", 1), _check_int(latent_dim, "latent_dim", 2), _check_int(n_classes, "n_classes", 2)
    if not isinstance(view_noise, (int, float)) or not math.isfinite(view_noise) or view_noise < 0:
        raise ValueError(f"view_noise must be a finite number >= 0, got {view_noise!r}")
    g = torch.Generator().manual_seed(_check_int(seed, "seed", 0))
    loadings = torch.randn(m, n_latent, d, generator=g) / math.sqrt(n_latent)  # A_m, (M, latent, d)
    latent = torch.randn(n, n_latent, generator=g)  # z, (n, latent)
    x = torch.einsum("nl,mld->nmd", latent, loadings) + view_noise * torch.randn(n, m, d, generator=g)
    angle = torch.atan2(latent[:, 1], latent[:, 0]) + math.pi  # in [0, 2π]
    y = torch.clamp((angle / (2 * math.pi) * c).long(), max=c - 1)
    return ModeData(x, y, latent)


def block_indices(block: int, side: int = 8) -> np.ndarray:
    """Pixel indices (row-major in a ``side``×``side`` image) of each ``block``×``block`` square, row by row.

    >>> block_indices(4)[1].tolist()  # the top-right quadrant
    [4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31]
    """
    side = _check_int(side, "side", 1)
    block = _check_int(block, "block", 1)
    if side % block or block == side:
        raise ValueError(f"block must divide side = {side} into at least 2 squares, got {block}")
    grid = np.arange(side * side).reshape(side, side)
    return np.stack([grid[r:r + block, c:c + block].ravel() for r in range(0, side, block) for c in range(0, side, block)])


def digit_modes(block: int = 4) -> ModeData:
    """scikit-learn's 1,797 handwritten digits (8×8) as (64/block²) modes of block² pixels each.

    ``block = 4``: 4 quadrant modes of 16 pixels; ``block = 2``: 16 patch modes of 4 pixels.
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = torch.as_tensor(digits.data[:, block_indices(block)], dtype=torch.float32)  # (n, M, block²)
    return ModeData(x, torch.as_tensor(digits.target, dtype=torch.int64))


def split_standardize(data: ModeData, fractions=(0.6, 0.2, 0.2), seed: int = 0) -> tuple[ModeData, ModeData, ModeData]:
    """Stratified train / validation / test split; every feature standardized with the training statistics.

    A feature constant on the training split (blank border pixels) is only centred.
    """
    if not isinstance(data, ModeData):
        raise TypeError(f"data must be a ModeData, got {type(data).__name__}")
    if len(fractions) != 3 or min(fractions) <= 0 or not math.isclose(sum(fractions), 1.0):
        raise ValueError(f"fractions must be three positive numbers summing to 1, got {fractions!r}")
    rows = np.arange(len(data.y))
    train, rest = train_test_split(rows, train_size=fractions[0], stratify=data.y.numpy(), random_state=seed)
    val, test = train_test_split(rest, train_size=fractions[1] / (1 - fractions[0]), stratify=data.y.numpy()[rest], random_state=seed)
    mean, std = data.x[train].mean(0), data.x[train].std(0, unbiased=False)  # (M, d)
    std = torch.where(std > 1e-8, std, torch.ones_like(std))
    part = lambda r: ModeData((data.x[r] - mean) / std, data.y[r], None if data.latent is None else data.latent[r])  # noqa: E731
    return part(train), part(val), part(test)


def corruption_mask(n_samples: int, n_modes: int, n_corrupted: int, clean_fraction: float = 0.0,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """(n, M) bool: each sample has exactly ``n_corrupted`` corrupted modes, chosen at random,
    except a share ``clean_fraction`` of the samples, left clean.

    >>> corruption_mask(5, 4, 3).sum(1).tolist()
    [3, 3, 3, 3, 3]
    """
    n, m = _check_int(n_samples, "n_samples", 1), _check_int(n_modes, "n_modes", 2)
    k = _check_int(n_corrupted, "n_corrupted", 0)
    if k > m:
        raise ValueError(f"n_corrupted must be <= n_modes = {m}, got {k}")
    if not isinstance(clean_fraction, (int, float)) or not 0 <= clean_fraction <= 1:
        raise ValueError(f"clean_fraction must be a number in [0, 1], got {clean_fraction!r}")
    ranks = torch.rand(n, m, generator=generator).argsort(1).argsort(1)  # a random permutation per row
    mask = ranks < k
    mask[torch.randperm(n, generator=generator)[: round(clean_fraction * n)]] = False
    return mask


def corrupt(x: torch.Tensor, mask: torch.Tensor, sigma: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """x plus N(0, σ²) white noise on every feature of the modes where ``mask`` (n, M) is True."""
    if not isinstance(x, torch.Tensor) or x.dim() != 3:
        raise ValueError(f"x must be a tensor of shape (n, M, d), got {getattr(x, 'shape', type(x).__name__)}")
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool or mask.shape != x.shape[:2]:
        raise ValueError(f"mask must be a bool tensor of shape {tuple(x.shape[:2])}")
    if not isinstance(sigma, (int, float)) or not math.isfinite(sigma) or sigma < 0:
        raise ValueError(f"sigma must be a finite number >= 0, got {sigma!r}")
    noise = torch.randn(x.shape, generator=generator, dtype=x.dtype)
    return x + sigma * noise * mask.unsqueeze(-1)


# ----------------------------------------------------------------------------- summaries of a study's results


def mode_summary(results: pd.DataFrame) -> pd.DataFrame:
    """Every score, α and β over seeds (:func:`emma.util.tables.over_seeds`) per dataset, M, k, model and coldness,
    with the clean modes and whether the constraint M' of eq. 5.19–5.21 holds."""
    keys = ["dataset", "n_modes", "n_corrupted", "model", "coldness"]
    values = ["score", "score_clean", "score_val", "alpha_corrupted", "alpha_clean", "beta_corrupted", "beta_clean", "gain"]
    table = over_seeds(results, keys, [v for v in values if v in results])
    table.insert(3, "n_clean", table["n_modes"] - table["n_corrupted"])
    table.insert(4, "m_prime", [clean_modes_needed(int(m)) for m in table["n_modes"]])
    table.insert(5, "constraint_holds", table["n_clean"] >= table["m_prime"])
    return table


def paired_differences(results: pd.DataFrame, model: str, reference: str, coldness: float) -> pd.DataFrame:
    """Per data set, M, k and seed: ``model`` minus ``reference`` (both at ``coldness``) in score and α.

    Columns ``d_score``, ``d_alpha_corrupted``, ``d_alpha_clean`` (``NaN`` when a model has no α), plus
    ``n_clean``, ``constraint_holds`` and ``bracket`` = M − 2·(clean modes), the factor (M − 2M') of eq. 5.19.
    ``coldness`` is a finite number > 0 (Python or numpy).
    """
    coldness = checks.number(coldness, "coldness", low=0.0, low_open=True)
    keys = ["dataset", "n_modes", "n_corrupted", "seed"]
    at = results[np.isclose(results["coldness"], coldness)]
    pair = at[at["model"] == model].merge(at[at["model"] == reference], on=keys, suffixes=("", "_ref"))
    if pair.empty:
        raise ValueError(f"results hold no pair of {model!r} and {reference!r} at coldness {coldness}")
    out = pair[keys].copy()
    for column in ("score", "alpha_corrupted", "alpha_clean"):
        out[f"d_{column}"] = pair[column] - pair[f"{column}_ref"] if column in pair else np.nan
    out["n_clean"] = out["n_modes"] - out["n_corrupted"]
    out["constraint_holds"] = [constraint_holds(int(m), int(k)) for m, k in zip(out["n_modes"], out["n_corrupted"])]
    out["bracket"] = out["n_modes"] - 2 * out["n_clean"]
    return out


def coldness_needed(results: pd.DataFrame, level: float = 0.5) -> pd.DataFrame:
    """Per data set, M and seed: the coldness at which EMMA separates corrupted from clean modes.

    ``results`` holds one "with" model per coldness of a sweep at one k per M. The separation
    (ᾱ_clean − ᾱ_corrupted)·(clean modes) is 0 for uniform α and 1 when the clean modes share all
    the importance. ``rho_needed`` is the smallest coldness where it reaches ``level``
    (interpolated in log ρ; +inf if no coldness of the sweep reaches it); ``rho_best`` has the best
    validation accuracy. ``level`` is a number in (0, 1]; every coldness of ``results`` must be finite and > 0.
    """
    level = checks.number(level, "level", low=0.0, high=1.0, low_open=True)
    rho = pd.to_numeric(results["coldness"], errors="coerce").to_numpy(dtype=float)
    if not (np.isfinite(rho) & (rho > 0)).all():
        raise ValueError(f"results' coldness column must hold finite numbers > 0, got {sorted(set(results['coldness'].tolist()))[:5]}")
    rows = []
    for (dataset, m, seed), part in results.groupby(["dataset", "n_modes", "seed"]):
        part = part.sort_values("coldness")
        sep = ((part["alpha_clean"] - part["alpha_corrupted"]) * (part["n_modes"] - part["n_corrupted"])).to_numpy()
        log_rho, above = np.log10(part["coldness"].to_numpy()), np.flatnonzero(sep >= level)
        if not len(above):
            needed = np.inf
        elif above[0] == 0:
            needed = 10 ** log_rho[0]
        else:
            i = above[0]
            needed = 10 ** np.interp(level, sep[i - 1:i + 1], log_rho[i - 1:i + 1])
        rows.append({"dataset": dataset, "n_modes": m, "seed": seed, "n_corrupted": int(part["n_corrupted"].iloc[0]),
                     "rho_needed": needed, "rho_best": float(part["coldness"].iloc[int(part["score_val"].argmax())])})
    return pd.DataFrame(rows)
