"""More than two modes: EMMA with M ≥ 2 modes (thesis §8.3, future work).

The thesis only ever trains EMMA on two modes. This module runs it on M modes:

* data with M modes of equal width d, as tensors of shape (n, M, d):
  :func:`synthetic_modes` (M noisy linear views of one shared latent) and
  :func:`digit_modes` (scikit-learn's 8×8 digits cut into square blocks);
* whole-mode corruption with exactly k corrupted modes per sample (:func:`corruption_mask`);
* one tied denoising autoencoder per (seed, mode), all trained at once (:func:`fit_autoencoders`);
* K classifiers trained at once, each behind EMMA ("with") or not ("without", data
  augmentation only), along a leading model axis (:func:`run_study`); EMMA's steps are
  :func:`emma.attention.attention_scores` under ``vmap``, and :func:`as_emma` turns one
  trained model back into an :class:`emma.EMMA` module;
* the thesis's constraint on the number of clean modes, M' = ⌊(M+1)/2⌋ (eq. 5.20–5.22,
  :func:`clean_modes_needed`), and the cost of one training step against M (:func:`step_cost`).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from sklearn.model_selection import train_test_split
from torch import nn
from torch.func import vmap
from tqdm.auto import tqdm

from .attention import (
    EMMA, PARAMETER_NAMES, attention_scores, energy_regularizer, initial_parameters, project_parameters_,
)
from .autoencoder import DenoisingAutoencoder
from .models import mlp
from .runtime import progress_disabled, single_cpu_thread

#: The three models of the study: no attention, EMMA with the energy regularizer, EMMA without it.
MODELS = ("without", "with", "with, λ_e = 0")


class ModeData(NamedTuple):
    """Samples with M modes of equal width: ``x`` (n, M, d) float, ``y`` (n,) class labels."""

    x: torch.Tensor  # (n, M, d)
    y: torch.Tensor  # (n,) int64
    latent: torch.Tensor | None = None  # (n, latent_dim), synthetic data only


def _check_int(value, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


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
    d, l, c = _check_int(mode_dim, "mode_dim", 1), _check_int(latent_dim, "latent_dim", 2), _check_int(n_classes, "n_classes", 2)
    if not isinstance(view_noise, (int, float)) or not math.isfinite(view_noise) or view_noise < 0:
        raise ValueError(f"view_noise must be a finite number >= 0, got {view_noise!r}")
    g = torch.Generator().manual_seed(_check_int(seed, "seed", 0))
    loadings = torch.randn(m, l, d, generator=g) / math.sqrt(l)  # A_m, (M, latent, d)
    latent = torch.randn(n, l, generator=g)  # z, (n, latent)
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


# ----------------------------------------------------------------------------- autoencoders, one per (seed, mode)


def fit_autoencoders(x: torch.Tensor, *, d_hidden: int = 8, noise_std: float = 0.1, epochs: int = 10,
                     batch_size: int = 64, lr: float = 1e-2, generator: torch.Generator | None = None) -> dict:
    """Train S × M tied sigmoid denoising autoencoders at once, one per seed and mode (eq. 4.1).

    ``x`` (S, n, M, d) is each seed's clean training data. Returns ``weight`` (S, M, h, d),
    ``bias_hidden`` (S, M, h), ``bias_visible`` (S, M, d) and ``psi_min`` (S, M), the lowest
    potential of each autoencoder on its training data (eq. 5.2). Initial values as
    :class:`emma.DenoisingAutoencoder`.
    """
    if not isinstance(x, torch.Tensor) or x.dim() != 4:
        raise ValueError(f"x must be a tensor of shape (S, n, M, d), got {getattr(x, 'shape', type(x).__name__)}")
    s, n, m, d = x.shape
    bound = 1.0 / math.sqrt(d)
    ae = {"weight": ((torch.rand(s, m, d_hidden, d, generator=generator) * 2 - 1) * bound).to(x.device),
          "bias_hidden": torch.zeros(s, m, d_hidden, device=x.device), "bias_visible": torch.zeros(s, m, d, device=x.device)}
    for value in ae.values():
        value.requires_grad_(True)
    optimizer = torch.optim.Adam(ae.values(), lr=lr, foreach=True)
    for _ in range(_check_int(epochs, "epochs", 1)):
        order = torch.rand(s, n, generator=generator).argsort(1).to(x.device)  # one data order per seed
        for start in range(0, n, batch_size):
            batch = x[torch.arange(s, device=x.device)[:, None], order[:, start:start + batch_size]]  # (S, B, M, d)
            noisy = batch + noise_std * torch.randn(batch.shape, generator=generator).to(x.device)
            hidden = torch.sigmoid(torch.einsum("sbmd,smhd->sbmh", noisy, ae["weight"]) + ae["bias_hidden"][:, None])
            recon = torch.einsum("sbmh,smhd->sbmd", hidden, ae["weight"]) + ae["bias_visible"][:, None]
            loss = ((recon - batch) ** 2).sum(-1).mean(1).sum()  # each autoencoder's own mean loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    ae = {name: value.detach() for name, value in ae.items()}
    ae["psi_min"] = potentials(ae, x).amin(1)
    return ae


def potentials(ae: dict, x: torch.Tensor) -> torch.Tensor:
    """Ψ of every sample and mode, eq. 4.7 per sample: ``x`` (S, n, M, d) -> (S, n, M)."""
    pre = torch.einsum("snmd,smhd->snmh", x, ae["weight"]) + ae["bias_hidden"][:, None]
    return -F.softplus(pre).sum(-1) + 0.5 * ((x - ae["bias_visible"][:, None]) ** 2).sum(-1)  # eq. 4.7


# ----------------------------------------------------------------------------- classifiers behind EMMA, K at once


@dataclass(frozen=True)
class StudySettings:
    """Every knob of one study run (the chapter's parameters cell sets them)."""

    sigma: float = 2.0  # corruption noise σ (the features have unit variance)
    clean_fraction: float = 0.5  # share of clean training samples (the thesis's 50 %)
    dae_hidden: int = 8
    dae_noise_std: float = 0.1
    dae_epochs: int = 10
    hidden: int = 32  # hidden units of the classifier
    epochs: int = 12
    batch_size: int = 64
    lr: float = 1e-2
    lambda_e: float = 0.01  # energy regularizer of the "with" model (eq. 5.12)
    lambda_c: float = 0.0  # capacity regularizer (eq. 5.12)


def study_configs(n_modes: int, corrupted, seeds, coldness: float, sweep_coldness=(), sweep_corrupted: int | None = None) -> pd.DataFrame:
    """The models of one (data set, M) run: each of :data:`MODELS` for each k in ``corrupted`` at ``coldness``,
    plus "with" at each ρ of ``sweep_coldness`` for k = ``sweep_corrupted`` (default ⌊M/2⌋, the most
    corrupted modes the constraint allows). Duplicates are dropped.

    >>> study_configs(4, [1, 2], [0], 1.0, [0.1, 1.0]).shape  # 2 levels × 3 models + ρ = 0.1 at k = 2
    (7, 4)
    """
    m = _check_int(n_modes, "n_modes", 2)
    if not len(corrupted) or not all(1 <= _check_int(k, "corrupted", 1) < m for k in corrupted):
        raise ValueError(f"corrupted must list numbers of corrupted modes in [1, {m - 1}], got {corrupted!r}")
    k_sweep = m // 2 if sweep_corrupted is None else sweep_corrupted
    rows = [(seed, k, model, coldness) for seed in seeds for k in corrupted for model in MODELS]
    rows += [(seed, k_sweep, "with", rho) for seed in seeds for rho in sweep_coldness]
    return pd.DataFrame(rows, columns=["seed", "n_corrupted", "model", "coldness"]).drop_duplicates(ignore_index=True)


def run_study(data: ModeData, configs: pd.DataFrame, settings: StudySettings = StudySettings(), *,
              fractions=(0.6, 0.2, 0.2), device="cpu", dataset: str = "") -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Train and score every classifier of ``configs`` (one row each) at once, along a model axis.

    Parameters
    ----------
    data : ModeData
        The whole data set; each seed splits it its own way (:func:`split_standardize` with
        ``fractions`` and the seed), so the spread over seeds includes the split.
    configs : DataFrame
        Columns ``seed``, ``n_corrupted`` (k), ``model`` (one of :data:`MODELS`), ``coldness`` (ρ),
        e.g. from :func:`study_configs`. Models of one seed share the split, the autoencoders, the
        initial network and the data order; of one seed and k, also the corrupted data (a share
        ``settings.clean_fraction`` of the training samples clean, the others with k corrupted
        modes; every validation and test sample has k).
    settings : StudySettings
    fractions : sequence of 3 floats
        Train, validation and test shares.
    device : str or torch.device
    dataset : str
        A name for the ``dataset`` column.

    Returns
    -------
    results : DataFrame
        ``configs`` plus ``score`` (test accuracy, k corrupted modes in every sample),
        ``score_clean`` (clean test set), ``score_val``; for EMMA models the mean α and β of
        the corrupted and of the clean modes on the corrupted test set and the learned gain g_a.
    history : DataFrame
        Per EMMA model and epoch, the mean α of the corrupted and of the clean modes of the
        corrupted training samples.
    state : dict
        The trained parameters, autoencoders and splits, for :func:`as_emma`.
    """
    missing = sorted({"seed", "n_corrupted", "model", "coldness"} - set(configs.columns))
    if missing or not set(configs["model"]) <= set(MODELS):
        raise ValueError(f"configs needs the columns seed, n_corrupted, model (in {MODELS}), coldness; missing {missing}")
    configs, s = configs.reset_index(drop=True), settings
    n_modes, n_classes = data.x.shape[1], int(data.y.max()) + 1
    seeds = sorted(int(v) for v in configs["seed"].unique())
    splits = {seed: split_standardize(data, fractions, seed=seed) for seed in seeds}
    stack = lambda i, field: torch.stack([getattr(splits[seed][i], field) for seed in seeds]).to(device)  # noqa: E731
    cells = sorted({(int(a), int(b)) for a, b in zip(configs["seed"], configs["n_corrupted"])})
    run = {"seed": torch.as_tensor([seeds.index(v) for v in configs["seed"]]),
           "cell": torch.as_tensor([cells.index((int(a), int(b))) for a, b in zip(configs["seed"], configs["n_corrupted"])]),
           "emma": torch.as_tensor(np.flatnonzero(configs["model"].to_numpy() != "without")),
           "coldness": torch.as_tensor(configs["coldness"].to_numpy(dtype=np.float32))}
    run["lambda_e"] = torch.as_tensor(configs["model"].eq("with").to_numpy(dtype=np.float32) * s.lambda_e)[run["emma"]]
    g = torch.Generator().manual_seed(1000 * seeds[0] + n_modes)
    with single_cpu_thread(torch.device(device)):
        ae = fit_autoencoders(stack(0, "x"), d_hidden=s.dae_hidden, noise_std=s.dae_noise_std, epochs=s.dae_epochs,
                              batch_size=s.batch_size, generator=g)
        run = {name: value.to(device) for name, value in run.items()}
        run["psi_min"] = ae["psi_min"][run["seed"]]
        sets = {}  # split -> (x, mask, Ψ, y), one x, mask and Ψ per (seed, k) cell, one y per seed
        cell_seed = torch.as_tensor([seeds.index(seed) for seed, _ in cells], device=device)
        for i, name, fraction in ((0, "train", s.clean_fraction), (1, "val", 0.0), (2, "test", 0.0)):
            gens = [torch.Generator().manual_seed(10_000 * seed + 100 * k + i) for seed, k in cells]
            parts = [splits[seed][i].x for seed, _ in cells]
            masks = torch.stack([corruption_mask(len(x), n_modes, k, fraction, gen) for x, (_, k), gen in zip(parts, cells, gens)])
            xs = torch.stack([corrupt(x, mask, s.sigma, gen) for x, mask, gen in zip(parts, masks, gens)]).to(device)
            sets[name] = (xs, masks.to(device), potentials({k: v[cell_seed] for k, v in ae.items()}, xs), stack(i, "y"))
        clean_test = stack(2, "x")
        sets["clean"] = (clean_test, None, potentials(ae, clean_test), sets["test"][3])  # one per seed
        params = _init_params(configs["seed"], n_modes, data.x.shape[2], s.hidden, n_classes, device)
        history = _train(params, run, sets["train"], s, g)
        rows = _evaluate(params, run, sets)
    keys = configs.assign(dataset=dataset, n_modes=n_modes)
    results, history = pd.concat([keys, rows], axis=1), history.merge(keys, left_on="index", right_index=True)
    state = {"params": {k: v.detach() for k, v in params.items()}, "autoencoders": ae, "run": run, "splits": splits}
    return results, history, state


def _init_params(seeds, n_modes, mode_dim, hidden, n_classes, device) -> dict:
    """Stacked initial values, one model per entry of ``seeds``. A model's values depend on its seed only,
    so "with" and "without" of one seed start from the same network."""
    per_model = []
    for seed in seeds:
        g = torch.Generator().manual_seed(int(seed))
        p = {}
        for i, (fan_in, fan_out) in enumerate(((n_modes * mode_dim, hidden), (hidden, n_classes))):
            bound = 1.0 / math.sqrt(fan_in)  # PyTorch's nn.Linear default
            p[f"w{i}"] = (torch.rand(fan_in, fan_out, generator=g) * 2 - 1) * bound
            p[f"b{i}"] = (torch.rand(1, fan_out, generator=g) * 2 - 1) * bound
        p.update(initial_parameters(n_modes, g))  # the thesis's EMMA initialisation
        per_model.append(p)
    return {name: torch.stack([p[name] for p in per_model]).to(device).requires_grad_(True) for name in per_model[0]}


def _forward(params, x, pot, run):
    """Logits (K, B, C) of K classifiers, x (K, B, M, d), Ψ (K, B, M); EMMA weights the modes of the
    models ``run["emma"]`` by β (the others see their input unchanged). Also returns EMMA's output for those."""
    rows = run["emma"]
    emma_params = [params[name][rows] for name in PARAMETER_NAMES]
    out = vmap(attention_scores)(pot[rows], run["psi_min"][rows], *emma_params, run["coldness"][rows])  # (E, B, M)
    beta = torch.ones(pot.shape, dtype=x.dtype, device=x.device).index_copy(0, rows, out.beta)
    return mlp(params, (beta.unsqueeze(-1) * x).flatten(2), 2), out  # β_i x_i, then the network


def _train(params, run, data, s: StudySettings, g: torch.Generator) -> pd.DataFrame:
    """Adam on cross-entropy − λ_e Ω + λ_c (g_a − b_a) (eq. 5.12), clamped after each step; returns the α history."""
    xs, masks, pot, y = data  # (cells, n, M, d), (cells, n, M), (cells, n, M), (S, n)
    cell, seed, rows = run["cell"][:, None], run["seed"][:, None], run["emma"]
    optimizer = torch.optim.Adam(params.values(), lr=s.lr, foreach=True)
    history = []
    for epoch in tqdm(range(1, s.epochs + 1), desc="epochs", disable=progress_disabled(), leave=False):
        order = torch.rand(len(y), xs.shape[1], generator=g).argsort(1).to(xs.device)[run["seed"]]  # one order per seed
        sums = torch.zeros(4, len(rows), device=xs.device)
        for start in range(0, xs.shape[1], s.batch_size):
            batch = order[:, start:start + s.batch_size]  # (K, B)
            logits, out = _forward(params, xs[cell, batch], pot[cell, batch], run)
            corrupted = masks[cell, batch][rows]  # (E, B, M)
            xi = 1.0 - 2.0 * corrupted.to(logits.dtype)  # ξ_k = −1 on a corrupted mode, +1 otherwise
            omega = (xi * out.log_alpha).sum(-1).mean(-1)  # Ω of eq. 5.12 (as emma.energy_regularizer), (E,)
            loss = F.cross_entropy(logits.transpose(1, 2), y[seed, batch], reduction="none").mean(1).sum()
            loss = loss - (run["lambda_e"] * omega).sum() + s.lambda_c * (params["gain"] - params["bias"])[rows].sum()
            optimizer.zero_grad()
            loss.backward()  # the models share nothing: each gets its own gradient
            optimizer.step()
            project_parameters_(*[params[name] for name in PARAMETER_NAMES])
            with torch.no_grad():
                clean = corrupted.any(-1, keepdim=True) & ~corrupted  # the clean modes of corrupted samples
                sums += torch.stack([(out.alpha * corrupted).sum((1, 2)), corrupted.sum((1, 2)),
                                     (out.alpha * clean).sum((1, 2)), clean.sum((1, 2))])
        history.append(pd.DataFrame({"index": rows.cpu().numpy(), "epoch": epoch,
                                     "alpha_corrupted": (sums[0] / sums[1]).cpu().numpy(),
                                     "alpha_clean": (sums[2] / sums[3]).cpu().numpy()}))
    return pd.concat(history, ignore_index=True)


@torch.no_grad()
def _evaluate(params, run, sets) -> pd.DataFrame:
    """Accuracies (corrupted test, clean test, corrupted validation); α, β and g_a of the EMMA models."""
    frame, rows = pd.DataFrame(index=range(len(run["cell"]))), run["emma"]
    for name, column in (("test", "score"), ("clean", "score_clean"), ("val", "score_val")):
        xs, masks, pot, y = sets[name]
        index = run["seed"] if name == "clean" else run["cell"]
        logits, out = _forward(params, xs[index], pot[index], run)
        frame[column] = model_accuracy(logits.argmax(-1).cpu().numpy(), y[run["seed"]].cpu().numpy())
        if name == "test":
            mask, emma_rows = masks[index][rows], rows.cpu().numpy()  # (E, n, M)
            for part, values in (("alpha", out.alpha), ("beta", out.beta)):
                for kind, where in (("corrupted", mask), ("clean", ~mask)):
                    frame.loc[emma_rows, f"{part}_{kind}"] = ((values * where).sum((1, 2)) / where.sum((1, 2))).cpu().numpy()
            frame.loc[emma_rows, "gain"] = params["gain"][rows].cpu().numpy()
    return frame


def model_accuracy(predicted, y) -> np.ndarray:
    """Accuracy of each of K models, ``predicted`` (K, n) against ``y`` (n,) or (K, n): ``sklearn.metrics.accuracy_score``
    row by row, vectorised (its per-call checks cost seconds over hundreds of models; a test checks they agree).

    >>> model_accuracy(np.array([[0, 1, 1], [0, 0, 0]]), np.array([0, 1, 0])).round(3).tolist()
    [0.667, 0.667]
    """
    predicted, y = np.asarray(predicted), np.asarray(y)
    if predicted.ndim != 2 or y.shape not in (predicted.shape, predicted.shape[1:]):
        raise ValueError(f"predicted must have shape (K, n) and y shape (n,) or (K, n), got {predicted.shape} and {y.shape}")
    return (predicted == y).mean(axis=1)


def as_emma(state: dict, index: int) -> EMMA:
    """Model ``index`` of a :func:`run_study` run as an :class:`emma.EMMA` module (its autoencoders, ρ, parameters)."""
    ae, run = state["autoencoders"], state["run"]
    if int(index) not in run["emma"].tolist():
        raise ValueError(f"index must be an EMMA model of the run (one of {run['emma'].tolist()}), got {index!r}")
    seed, (_, m, hidden, d) = int(run["seed"][index]), ae["weight"].shape
    daes = [DenoisingAutoencoder(d, hidden, 0.0) for _ in range(m)]
    module = EMMA(daes, ae["psi_min"][seed].cpu(), float(run["coldness"][index]))
    with torch.no_grad():
        for i, dae in enumerate(daes):
            for name in ("weight", "bias_hidden", "bias_visible"):
                getattr(dae, name).copy_(ae[name][seed, i])
        for name in PARAMETER_NAMES:
            getattr(module, name).copy_(state["params"][name][index])
    return module


def summarise(results: pd.DataFrame) -> pd.DataFrame:
    """Mean and std over seeds of every score, α and β, per dataset, M, k, model and coldness."""
    keys = ["dataset", "n_modes", "n_corrupted", "model", "coldness"]
    values = ["score", "score_clean", "score_val", "alpha_corrupted", "alpha_clean", "beta_corrupted", "beta_clean", "gain"]
    values = [v for v in values if v in results]
    table = results.groupby(keys, sort=False)[values].agg(["mean", "std"])
    table.columns = [f"{a}_{b}" for a, b in table.columns]
    table = table.reset_index()
    table.insert(3, "n_clean", table["n_modes"] - table["n_corrupted"])
    table.insert(4, "m_prime", [clean_modes_needed(int(m)) for m in table["n_modes"]])
    table.insert(5, "constraint_holds", table["n_clean"] >= table["m_prime"])
    table["n_seeds"] = results.groupby(keys, sort=False)["seed"].nunique().to_numpy()
    return table


def paired_differences(results: pd.DataFrame, model: str, reference: str, coldness: float) -> pd.DataFrame:
    """Per data set, M, k and seed: ``model`` minus ``reference`` (both at ``coldness``) in score and α.

    Columns ``d_score``, ``d_alpha_corrupted``, ``d_alpha_clean`` (NaN when a model has no α), plus
    ``n_clean``, ``constraint_holds`` and ``bracket`` = M − 2·(clean modes), the factor (M − 2M') of eq. 5.19.
    """
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
    validation accuracy.
    """
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


def step_cost(n_modes_list, *, mode_dim: int = 4, hidden: int = 32, n_classes: int = 4, batch_size: int = 64,
              repeats: int = 15, seed: int = 0) -> pd.DataFrame:
    """Milliseconds per training step of one classifier against M: median and quartiles of ``repeats`` steps, one CPU thread.

    ``with``: an :class:`emma.EMMA` module (M autoencoders) in front of the classifier, loss with
    λ_e Ω, backward, Adam and clamping; ``without``: the classifier alone; ``attention``: forward
    and backward of EMMA's steps 2–4 alone (:func:`emma.attention.attention_scores`, M × M shared
    energies per sample). Two untimed warm-up steps each.
    """
    rows = []
    for m in n_modes_list:
        m = _check_int(m, "n_modes", 2)
        torch.manual_seed(seed)
        emma = EMMA([DenoisingAutoencoder(mode_dim, 8, 0.0) for _ in range(m)], torch.zeros(m), 1.0)
        net = nn.Sequential(nn.Linear(m * mode_dim, hidden), nn.ReLU(), nn.Linear(hidden, n_classes))
        xs, y = [torch.randn(batch_size, mode_dim) for _ in range(m)], torch.randint(n_classes, (batch_size,))
        mask, pot = torch.rand(batch_size, m) < 0.3, torch.randn(batch_size, m).abs()
        optimizer = torch.optim.Adam([*emma.parameters_dict().values(), *net.parameters()], lr=1e-3, foreach=True)

        def step(name):
            optimizer.zero_grad()
            if name == "attention":
                out = attention_scores(pot, emma.psi_min, **emma.parameters_dict(), coldness=emma.coldness)
                return (-energy_regularizer(out.log_alpha, mask)).backward()
            if name == "without":
                F.cross_entropy(net(torch.cat(xs, 1)), y).backward()
            else:
                weighted, out = emma(xs)
                (F.cross_entropy(net(torch.cat(weighted, 1)), y) - 0.01 * energy_regularizer(out.log_alpha, mask)).backward()
            optimizer.step()
            emma.clamp_()

        with single_cpu_thread(torch.device("cpu")):
            for name in ("with", "without", "attention"):
                times = []
                for _ in range(_check_int(repeats, "repeats", 1) + 2):
                    start = time.perf_counter()
                    step(name)
                    times.append(1e3 * (time.perf_counter() - start))
                q1, median, q3 = np.percentile(times[2:], [25, 50, 75])
                rows.append({"n_modes": m, "step": name, "ms_median": median, "ms_q1": q1, "ms_q3": q3, "repeats": repeats})
    return pd.DataFrame(rows)


def loglog_slope(x, y) -> float:
    """Least-squares slope of log y against log x: the exponent p of y ∝ x^p.

    >>> round(loglog_slope([1, 2, 4], [3, 12, 48]), 6)
    2.0
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape or x.size < 2 or (x <= 0).any() or (y <= 0).any():
        raise ValueError("x and y must be positive arrays of the same length >= 2")
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])
