"""The sweep engine: K models of one family trained as one batched computation.

Each of the K models has its own hyperparameters (ρ, λ_c, λ_e), seed, data order,
noise draw, early-stopping state and threshold, yet all K take every optimiser step
together: the parameters are stacked on a leading model axis (:mod:`emma.models`),
one Adam updates them all, and the validation loss of all K is one batched pass.

Randomness belongs to a model's *seed*, never to its position in the stack:

* the corrupted copy of each split (thesis scheme: 50 % clean, 25 % IP noisy,
  25 % DM noisy, σ = 0.5) is drawn once per seed, separately for train, validation
  and test, and stays fixed over the epochs;
* the order of the training samples is a fresh permutation per epoch and seed;
* initial parameters depend on family and seed (:func:`emma.models.init_parameters`).

So models that share a seed see the same data in the same order (configurations are
compared on common random numbers), and training one model alone reproduces its
row of a large sweep (``tests/test_sweep.py``).

The frozen autoencoders' potentials of every (fixed) corrupted sample are computed
once before training. :data:`POTENTIALS` also offers ``"batch_coupled"``: the
original code's erratum, where ½‖X − b_r‖² of the *whole mini-batch* is added to
every sample's potential (see :func:`emma.energy.batch_coupled_potential`).
"""
from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from torch.func import vmap
from tqdm.auto import tqdm

from .attention import PARAMETER_NAMES, capacity, capacity_relu, energy_regularizer, project_parameters_
from .cache import cached
from .data import Splits, corrupt, tensor_fingerprint
from .models import CORRUPTED_TRAINING, FROM_BASE, LAYERS, check_family, forward, init_parameters
from .runtime import progress_disabled, resolve_device
from .training import BestState, bce_per_model, f1_by_subset, select_thresholds

#: How the potential of a sample is computed: per sample (eq. 4.7) or as the original code did.
POTENTIALS = ("per_sample", "batch_coupled")
#: Bump when a change here alters what a cached sweep contains.
ENGINE_VERSION = 1


@dataclass(frozen=True)
class TrainSettings:
    """The training protocol (thesis defaults).

    Attributes
    ----------
    epochs : int
        Upper limit of epochs (35 in the code; the text says 30).
    batch_size : int
    lr : float
        Adam's learning rate.
    sigma : float
        Noise σ of the corruption scheme (0.5, i.e. NSR −6 dB).
    clean_fraction : float
        Fraction of samples left clean by the scheme.
    potential : str
        ``"per_sample"`` (eq. 4.7) or ``"batch_coupled"`` (the original code's erratum).
    """

    epochs: int = 35
    batch_size: int = 32
    lr: float = 1e-3
    sigma: float = 0.5
    clean_fraction: float = 0.5
    potential: str = "per_sample"

    def __post_init__(self):
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr!r}")
        if not self.sigma >= 0:
            raise ValueError(f"sigma must be >= 0, got {self.sigma!r}")
        if self.potential not in POTENTIALS:
            raise ValueError(f"potential must be one of {POTENTIALS}, got {self.potential!r}")


def grid(rhos, lambdas_c, lambdas_e, seeds) -> pd.DataFrame:
    """Every combination of (ρ, λ_c, λ_e) and seed, one row per model (seed varies slowest)."""
    rows = [
        {"seed": int(s), "rho": float(r), "lambda_c": float(c), "lambda_e": float(e)}
        for s in seeds
        for r in rhos
        for c in lambdas_c
        for e in lambdas_e
    ]
    return pd.DataFrame(rows)


def _check_configs(configs) -> pd.DataFrame:
    if isinstance(configs, Mapping) or not isinstance(configs, (pd.DataFrame, list, tuple)):
        raise TypeError("configs must be a DataFrame or a list of dicts with a 'seed' (and rho, lambda_c, lambda_e)")
    frame = pd.DataFrame(list(configs) if not isinstance(configs, pd.DataFrame) else configs).reset_index(drop=True)
    if len(frame) == 0 or "seed" not in frame:
        raise ValueError("configs must hold at least one model, each with a 'seed'")
    for column, default in (("rho", 1.0), ("lambda_c", 0.0), ("lambda_e", 0.0)):
        if column not in frame:
            frame[column] = default
    frame["seed"] = frame["seed"].astype(int)
    if (frame["seed"] < 0).any():
        raise ValueError("configs: every seed must be a non-negative integer")
    if (frame["rho"] <= 0).any():
        raise ValueError("configs: every rho (coldness ρ) must be > 0")
    if (frame[["lambda_c", "lambda_e"]] < 0).any().any():
        raise ValueError("configs: lambda_c and lambda_e must be >= 0")
    return frame[["seed", "rho", "lambda_c", "lambda_e"] + [c for c in frame if c not in ("seed", "rho", "lambda_c", "lambda_e")]]


# ----------------------------------------------------------------------------- data per seed


@dataclass
class SeedData:
    """One split, one fixed corrupted copy per seed (axis S), with the autoencoders' potentials.

    Attributes
    ----------
    x : Tensor (S, n, 8)
    y : Tensor (n,)
    corrupted : bool Tensor (S, n, 2)
    softplus, quadratic : Tensor (S, n, 2) or None
        The two parts of Ψ = −Σ softplus + ½‖x − b_r‖² per sample and mode (``with`` only).
    """

    x: torch.Tensor
    y: torch.Tensor
    corrupted: torch.Tensor
    softplus: torch.Tensor | None = None
    quadratic: torch.Tensor | None = None

    def potentials(self, potential: str, batch_size: int, rows: torch.Tensor | None = None) -> torch.Tensor:
        """Ψ of each sample and mode, shape (S, n, 2) (or (S, b, 2) for ``rows`` (S, b) of one mini-batch).

        ``"batch_coupled"`` adds the quadratic part summed over the mini-batch (for the
        whole split: over consecutive chunks of ``batch_size``) to every sample.
        """
        if rows is not None:
            sp = torch.gather(self.softplus, 1, rows.unsqueeze(-1).expand(-1, -1, 2))  # (S, b, 2)
            q = torch.gather(self.quadratic, 1, rows.unsqueeze(-1).expand(-1, -1, 2))
            if potential == "per_sample":
                return q - sp
            return q.sum(dim=1, keepdim=True) - sp  # the erratum: ½‖X − b_r‖² of the whole batch
        if potential == "per_sample":
            return self.quadratic - self.softplus
        chunk = torch.arange(self.x.shape[1], device=self.x.device) // batch_size  # (n,)
        sums = torch.zeros(self.x.shape[0], int(chunk[-1]) + 1, 2, device=self.x.device)
        sums.index_add_(1, chunk, self.quadratic)
        return sums[:, chunk] - self.softplus


def noise_generator(seed: int, split: str) -> torch.Generator:
    """The generator of the corruption of ``split`` ("train", "val", "test") for ``seed``."""
    return torch.Generator().manual_seed(1_000_003 * (1 + ("train", "val", "test").index(split)) + int(seed))


@torch.no_grad()
def potential_parts(energies, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(Σ softplus, ½‖x − b_r‖²) of each mode's autoencoder, each (..., n, 2), for x (..., n, 8)."""
    flat = x.reshape(-1, x.shape[-1])
    parts = []
    for m, model in enumerate(energies.models):
        xm = flat[:, 4 * m : 4 * m + 4].to(energies.psi_min.device)
        quadratic = 0.5 * ((xm - model.bias_visible) ** 2).sum(dim=1)  # eq. 4.7, quadratic term
        parts.append((quadratic - model.potential(xm), quadratic))  # (Σ softplus, quadratic)
    softplus = torch.stack([p[0] for p in parts], dim=-1).reshape(*x.shape[:-1], 2).to(x.device)
    quadratic = torch.stack([p[1] for p in parts], dim=-1).reshape(*x.shape[:-1], 2).to(x.device)
    return softplus, quadratic


def energies_for(energies, seed: int):
    """The autoencoders of ``seed``: ``energies`` itself, or ``energies[seed]`` when it maps seeds to ModeEnergies."""
    if isinstance(energies, Mapping):
        if int(seed) not in energies:
            raise ValueError(f"energies has no autoencoders for seed {seed} (it has seeds {sorted(energies)})")
        return energies[int(seed)]
    return energies


def seed_data(splits: Splits, split: str, seeds: Sequence[int], settings: TrainSettings, *, noisy: bool, energies=None, device="cpu") -> SeedData:
    """The ``split`` of ``splits`` for each seed: corrupted with the thesis scheme when ``noisy``, clean otherwise."""
    part = getattr(splits, split)
    x0 = part.x.detach().cpu()
    xs, masks = [], []
    for seed in seeds:
        if noisy:
            x, mask = corrupt(x0, settings.sigma, noise_generator(seed, split), settings.clean_fraction)
        else:
            x, mask = x0.clone(), torch.zeros(len(x0), 2, dtype=torch.bool)
        xs.append(x)
        masks.append(mask)
    data = SeedData(torch.stack(xs).to(device), part.y.detach().to(device), torch.stack(masks).to(device))
    if energies is not None:
        parts = [potential_parts(energies_for(energies, seed), data.x[i]) for i, seed in enumerate(seeds)]
        data.softplus = torch.stack([p[0] for p in parts])  # (S, n, 2)
        data.quadratic = torch.stack([p[1] for p in parts])
    return data


def coupled_psi_min(energies, splits: Splits, batch_size: int) -> torch.Tensor:
    """Ψ_min of the batch-coupled potential: its lowest value over the clean training set in chunks of ``batch_size``. (2,)"""
    softplus, quadratic = potential_parts(energies, splits.train.x.detach().cpu().unsqueeze(0))
    data = SeedData(splits.train.x.unsqueeze(0), splits.train.y, None, softplus, quadratic)
    return data.potentials("batch_coupled", batch_size)[0].min(dim=0).values.to(energies.psi_min.device)


# ----------------------------------------------------------------------------- the engine


class SweepEngine:
    """K models of one family, trained together.

    Parameters
    ----------
    family : str
        One of :data:`emma.models.FAMILIES`.
    configs : DataFrame or list of dict
        One row per model: ``seed`` and, for ``with``, ``rho``, ``lambda_c``, ``lambda_e``.
    splits : Splits
    settings : TrainSettings
    energies : ModeEnergies or dict of seed to ModeEnergies, optional
        The frozen autoencoders (``with`` only): one pair for all models, or one pair per seed.
    base : dict of str to Tensor, optional
        Trained ``base`` parameters of the same K models (``without`` and ``with``).
    device : {"auto", "cpu", "cuda"} or torch.device
    """

    def __init__(self, family: str, configs, splits: Splits, settings: TrainSettings = TrainSettings(), *, energies=None, base=None, device="cpu"):
        self.family = check_family(family)
        self.configs = _check_configs(configs)
        if not isinstance(settings, TrainSettings):
            raise TypeError(f"settings must be a TrainSettings, got {type(settings).__name__}")
        if family == "with" and energies is None:
            raise ValueError("family 'with' needs energies=<ModeEnergies of emma.energy.fit_mode_autoencoders>")
        self.settings = settings
        self.device = resolve_device(device)
        self.n_layers = len(LAYERS[family]) - 1
        seeds = self.configs["seed"].tolist()
        self.unique_seeds = sorted(set(seeds))
        self.seed_index = torch.tensor([self.unique_seeds.index(s) for s in seeds], device=self.device)  # (K,)
        noisy = family in CORRUPTED_TRAINING
        use = energies if family == "with" else None
        self.train = seed_data(splits, "train", self.unique_seeds, settings, noisy=noisy, energies=use, device=self.device)
        self.val = seed_data(splits, "val", self.unique_seeds, settings, noisy=noisy, energies=use, device=self.device)
        self.test = seed_data(splits, "test", self.unique_seeds, settings, noisy=True, energies=use, device=self.device)
        self.psi_min = None
        if family == "with":
            per_seed = [
                energies_for(energies, s).psi_min if settings.potential == "per_sample" else coupled_psi_min(energies_for(energies, s), splits, settings.batch_size)
                for s in self.unique_seeds
            ]
            self.psi_min = torch.stack(per_seed).to(self.device)[self.seed_index]  # (K, 2)
        self.energies = energies
        params = init_parameters(family, seeds, base=base)
        self.params = {name: value.to(self.device).requires_grad_(True) for name, value in params.items()}
        self.rho = torch.tensor(self.configs["rho"].to_numpy(), dtype=torch.float32, device=self.device)  # (K,)
        self.lambda_c = torch.tensor(self.configs["lambda_c"].to_numpy(), dtype=torch.float32, device=self.device)
        self.lambda_e = torch.tensor(self.configs["lambda_e"].to_numpy(), dtype=torch.float32, device=self.device)
        self.optimizer = torch.optim.Adam(list(self.params.values()), lr=settings.lr, foreach=True)
        self.order_generators = [torch.Generator().manual_seed(2_000_003 + int(s)) for s in self.unique_seeds]
        self.best = BestState(self.params)
        self.n_train = self.train.x.shape[1]
        self._seed_rows = torch.arange(len(self.unique_seeds), device=self.device).unsqueeze(1)  # (S, 1)

    @property
    def k(self) -> int:
        return len(self.configs)

    def _logits(self, params, x, potentials):
        return forward(self.family, params, x, potentials, self.psi_min, self.rho)

    def new_order(self) -> torch.Tensor:
        """A fresh permutation of the training rows per seed, (S, n)."""
        return torch.stack([torch.randperm(self.n_train, generator=g) for g in self.order_generators]).to(self.device)

    def train_step(self, rows: torch.Tensor) -> torch.Tensor:
        """One Adam step of all K models on the training rows ``rows`` (S, b) of each seed; returns the losses (K,)."""
        s = self.seed_index
        x = self.train.x[self._seed_rows, rows][s]  # (K, b, 8)
        y = self.train.y[rows][s]  # (K, b)
        potentials = None
        if self.family == "with":
            potentials = self.train.potentials(self.settings.potential, self.settings.batch_size, rows)[s]  # (K, b, 2)
        logits, out = self._logits(self.params, x, potentials)
        loss = bce_per_model(logits, y)  # (K,)
        if self.family == "with":
            corrupted = self.train.corrupted[self._seed_rows, rows][s]  # (K, b, 2)
            omega = vmap(energy_regularizer)(out.log_alpha, corrupted)  # eq. 5.12, Ω per model (K,)
            loss = loss + self.lambda_c * (self.params["gain"] - self.params["bias"]) - self.lambda_e * omega  # eq. 5.12
        self.optimizer.zero_grad(set_to_none=True)
        loss.sum().backward()
        self.optimizer.step()
        if self.family == "with":
            project_parameters_(*(self.params[name] for name in PARAMETER_NAMES))
        return loss.detach()

    @torch.no_grad()
    def split_logits(self, data: SeedData, params=None) -> torch.Tensor:
        """Logits of all K models on a whole split (each model on its seed's copy), (K, n)."""
        params = self.params if params is None else params
        potentials = data.potentials(self.settings.potential, self.settings.batch_size)[self.seed_index] if self.family == "with" else None
        return self._logits(params, data.x[self.seed_index], potentials)[0]

    def validation_loss(self, params=None) -> torch.Tensor:
        """Validation BCE of each model in one batched pass, (K,)."""
        return bce_per_model(self.split_logits(self.val, params), self.val.y)

    def fit(self, progress: bool | None = None, desc: str | None = None) -> "SweepEngine":
        """Train for ``settings.epochs`` epochs with per-epoch validation and early stopping."""
        quiet = progress_disabled() if progress is None else not progress
        epochs, b = self.settings.epochs, self.settings.batch_size
        train_curve = torch.zeros(self.k, epochs, device=self.device)
        val_curve = torch.zeros(self.k, epochs, device=self.device)
        bar = tqdm(range(epochs), desc=desc or f"{self.family} × {self.k}", disable=quiet, leave=False)
        for epoch in bar:
            order = self.new_order()
            total = torch.zeros(self.k, device=self.device)
            for start in range(0, self.n_train, b):
                rows = order[:, start : start + b]
                total += self.train_step(rows) * rows.shape[1]
            train_curve[:, epoch] = total / self.n_train
            val_curve[:, epoch] = self.validation_loss()
            self.best.update(epoch + 1, val_curve[:, epoch], self.params)
        self.train_curve, self.val_curve = train_curve.cpu(), val_curve.cpu()
        return self

    def result(self) -> dict:
        """Everything a chapter needs from the trained sweep, on the CPU (see :func:`run_sweep`)."""
        best = self.best.params
        val_p = torch.sigmoid(self.split_logits(self.val, best))  # (K, n_val)
        thresholds = select_thresholds(val_p, self.val.y)
        test_p = torch.sigmoid(self.split_logits(self.test, best)).cpu().numpy()  # (K, n_test)
        y_test = self.test.y.cpu().numpy()
        masks = self.test.corrupted.cpu().numpy()
        seed_index = self.seed_index.cpu().numpy()
        rows = []
        for k in range(self.k):
            f1 = f1_by_subset(test_p[k] >= thresholds[k], y_test, masks[seed_index[k]])
            rows.append({f"f1_{name}": value for name, value in f1.items()})
        table = pd.concat([self.configs, pd.DataFrame(rows)], axis=1)
        table.insert(0, "model", self.family)
        table["threshold"] = thresholds
        table["best_epoch"] = self.best.epoch.cpu().numpy()
        table["best_val_loss"] = self.best.loss.cpu().numpy()
        val_p = val_p.cpu().numpy()
        y_val = self.val.y.cpu().numpy()
        val_masks = self.val.corrupted.cpu().numpy()
        for k in range(self.k):
            f1 = f1_by_subset(val_p[k] >= thresholds[k], y_val, val_masks[seed_index[k]])
            for name, value in f1.items():
                table.loc[k, f"val_f1_{name}"] = value
        if self.family == "with":
            table["capacity"] = capacity(best["gain"], best["bias"]).cpu().numpy()  # eq. 5.11
            table["capacity_relu"] = capacity_relu(best["gain"], best["bias"]).cpu().numpy()
        curves = pd.DataFrame(
            {
                "model_index": np.repeat(np.arange(self.k), self.settings.epochs),
                "epoch": np.tile(np.arange(1, self.settings.epochs + 1), self.k),
                "train_loss": self.train_curve.numpy().ravel(),
                "val_loss": self.val_curve.numpy().ravel(),
            }
        )
        return {
            "family": self.family,
            "table": table,
            "curves": curves,
            "params": {name: value.detach().cpu() for name, value in best.items()},
            "settings": dataclasses.asdict(self.settings),
            "psi_min": None if self.psi_min is None else self.psi_min.cpu(),
        }


def run_sweep(
    family: str,
    configs,
    splits: Splits,
    settings: TrainSettings = TrainSettings(),
    *,
    energies=None,
    base: Mapping[str, torch.Tensor] | None = None,
    device="cpu",
    cache_dir: str | os.PathLike | None = None,
    progress: bool | None = None,
) -> dict:
    """Train K models of one family as one batched computation, or load the finished sweep from the cache.

    Parameters
    ----------
    family : str
        One of :data:`emma.models.FAMILIES`.
    configs : DataFrame or list of dict
        One row per model with ``seed`` (and ``rho``, ``lambda_c``, ``lambda_e`` for ``with``).
    splits : Splits
        From :func:`emma.data.make_splits`.
    settings : TrainSettings
    energies : ModeEnergies or dict of seed to ModeEnergies, optional
        Frozen autoencoders (one pair, or one per seed), required for ``with``.
    base : dict of str to Tensor, optional
        ``result["params"]`` of a ``base`` sweep over the same seeds, row for row (``without``, ``with``).
    device : {"auto", "cpu", "cuda"} or torch.device
    cache_dir : path, optional
        Where :func:`emma.cache.cached` keeps finished sweeps; the key holds the family,
        every model's configuration, the settings, the data, the autoencoders, the base
        parameters, the device type and the engine version.
    progress : bool, optional
        Show a progress bar (default: unless :func:`emma.runtime.progress_disabled`).

    Returns
    -------
    dict
        ``table`` (one row per model: configuration, ``f1_clean``, ``f1_ip_noisy``,
        ``f1_dm_noisy`` on the corrupted test set, ``threshold``, ``best_epoch``,
        ``best_val_loss``, for ``with`` the learned ``capacity``), ``curves`` (per model
        and epoch: ``train_loss``, ``val_loss``), ``params`` (early-stopped parameters,
        leading axis K), ``settings``, ``family`` and ``seconds`` (training time).
    """
    device = resolve_device(device)
    frame = _check_configs(configs)
    key = {
        "engine": ENGINE_VERSION,
        "family": check_family(family),
        "configs": frame.to_dict(orient="list"),
        "settings": dataclasses.asdict(settings),
        "data": [getattr(splits, s).fingerprint() for s in ("train", "val", "test")],
        "energies": None if energies is None or family != "with" else [
            {**energies_for(energies, s).settings, "psi_min": energies_for(energies, s).psi_min.tolist()} for s in sorted(set(frame["seed"]))
        ],
        "base": None if base is None or family not in FROM_BASE else tensor_fingerprint(*[base[n] for n in sorted(base)]),
        "device": device.type,
        "torch": torch.__version__.split("+")[0],
    }

    def compute():
        start = time.perf_counter()
        engine = SweepEngine(family, frame, splits, settings, energies=energies, base=base, device=device)
        out = engine.fit(progress=progress).result()
        out["seconds"] = time.perf_counter() - start
        return out

    return cached(f"sweep_{family}", key, compute, cache_dir)


# ----------------------------------------------------------------------------- using a finished sweep


def base_for(base_result: dict, seeds: Sequence[int]) -> dict[str, torch.Tensor]:
    """The trained ``base`` parameters for models with these ``seeds`` (rows of a base sweep picked by seed)."""
    base_seeds = base_result["table"]["seed"].tolist()
    missing = sorted(set(int(s) for s in seeds) - set(base_seeds))
    if missing:
        raise ValueError(f"the base sweep has no model for seeds {missing} (it has {base_seeds})")
    rows = torch.tensor([base_seeds.index(int(s)) for s in seeds])
    return {name: value[rows] for name, value in base_result["params"].items()}


def select(result: dict, rows) -> dict:
    """The sub-sweep of the models ``rows`` (positions in ``result["table"]``)."""
    rows = list(rows)
    out = dict(result)
    out["table"] = result["table"].iloc[rows].reset_index(drop=True)
    out["params"] = {name: value[rows] for name, value in result["params"].items()}
    if result.get("psi_min") is not None:
        out["psi_min"] = result["psi_min"][rows]
    return out


@torch.no_grad()
def model_outputs(result: dict, x: torch.Tensor, energies=None):
    """Probabilities (and EMMA's quantities) of every model of a finished sweep on inputs ``x``.

    Parameters
    ----------
    result : dict
        From :func:`run_sweep` (or :func:`select`).
    x : Tensor, shape (K, n, 8)
        Each model's own inputs.
    energies : ModeEnergies, optional
        The autoencoders the sweep used (``with`` only). A ``batch_coupled`` sweep
        computes the potentials over consecutive chunks of its batch size, as its code did.

    Returns
    -------
    probabilities : Tensor, shape (K, n)
    emma : EMMAOutput or None
    """
    family, settings = result["family"], result["settings"]
    table = result["table"]
    if x.dim() != 3 or x.shape[0] != len(table):
        raise ValueError(f"x must have shape (K={len(table)}, n, 8), got {tuple(x.shape)}")
    potentials = psi_min = None
    if family == "with":
        if energies is None:
            raise ValueError("a 'with' sweep needs energies=<the ModeEnergies it was trained with>")
        seeds = table["seed"].tolist()
        parts = [potential_parts(energies_for(energies, s), x[k]) for k, s in enumerate(seeds)]
        data = SeedData(x, None, None, torch.stack([p[0] for p in parts]), torch.stack([p[1] for p in parts]))
        potentials = data.potentials(settings["potential"], settings["batch_size"])
        psi_min = result["psi_min"].to(x.device)
    rho = torch.tensor(table["rho"].to_numpy(), dtype=torch.float32)
    params = {name: value.to(x.device) for name, value in result["params"].items()}
    logits, out = forward(family, params, x, potentials, psi_min, rho.to(x.device))
    return torch.sigmoid(logits), out


def _noise(x: torch.Tensor, sigma_ip: float, sigma_dm: float, generator: torch.Generator) -> torch.Tensor:
    noise = torch.randn(x.shape, generator=generator)  # (n, 8)
    scale = torch.tensor([sigma_ip] * 4 + [sigma_dm] * 4)
    return x + noise * scale


@torch.no_grad()
def noise_response(result: dict, splits: Splits, sigma_pairs, *, energies=None, f1: bool = True, draw: int = 0) -> pd.DataFrame:
    """How every model of a sweep responds when *all* test samples get noise (σ_IP, σ_DM).

    The noise of a pair is drawn once per seed (the same draw for every model of that
    seed, and for every family), from a generator seeded by seed, pair and ``draw``.

    Returns
    -------
    DataFrame
        One row per (model, pair): ``model_index``, ``model``, the configuration, ``sigma_ip``,
        ``sigma_dm``, ``f1`` (whole test set, the model's own threshold), and for ``with``
        the means over samples of ``alpha_ip``, ``alpha_dm``, ``beta_ip``, ``beta_dm``, ``total_energy``.
    """
    table = result["table"]
    x0, y = splits.test.x.detach().cpu(), splits.test.y.cpu().numpy()
    seeds = table["seed"].tolist()
    rows = []
    for p, (sigma_ip, sigma_dm) in enumerate(sigma_pairs):
        draws = {s: _noise(x0, sigma_ip, sigma_dm, torch.Generator().manual_seed(3_000_017 * (1 + draw) + 7919 * p + s)) for s in set(seeds)}
        x = torch.stack([draws[s] for s in seeds])  # (K, n, 8)
        prob, out = model_outputs(result, x, energies)
        prob = prob.numpy()
        for k in range(len(table)):
            row = {"model_index": k, **table.iloc[k][["model", "seed", "rho", "lambda_c", "lambda_e"]].to_dict(), "sigma_ip": sigma_ip, "sigma_dm": sigma_dm}
            if f1:
                row["f1"] = f1_by_subset(prob[k] >= table["threshold"].iloc[k], y, np.zeros((len(y), 2), bool))["clean"]
            if out is not None:
                alpha, beta = out.alpha[k].mean(0), out.beta[k].mean(0)
                row.update(alpha_ip=alpha[0].item(), alpha_dm=alpha[1].item(), beta_ip=beta[0].item(), beta_dm=beta[1].item(), total_energy=out.total_energy[k].mean().item())
            rows.append(row)
    return pd.DataFrame(rows)


CASES = {(False, False): "clean", (True, False): "IP noisy", (False, True): "DM noisy"}


@torch.no_grad()
def per_sample_outcomes(result: dict, splits: Splits, sigma: float, *, energies=None, clean_fraction: float = 0.5, draw: int = 0) -> pd.DataFrame:
    """Each test sample's outcome under the thesis scheme at noise σ, for every model of a sweep.

    Returns
    -------
    DataFrame
        One row per (model, sample): ``model_index``, ``seed``, ``pulsar`` (bool),
        ``case`` ("clean", "IP noisy", "DM noisy"), ``correct`` (bool) and, for
        ``with``, the sample's ``alpha_ip``, ``alpha_dm``, ``beta_ip``, ``beta_dm``, ``total_energy``.
    """
    table = result["table"]
    x0, y = splits.test.x.detach().cpu(), splits.test.y.cpu().numpy().astype(bool)
    seeds = table["seed"].tolist()
    draws = {s: corrupt(x0, sigma, torch.Generator().manual_seed(4_000_037 * (1 + draw) + s), clean_fraction) for s in set(seeds)}
    x = torch.stack([draws[s][0] for s in seeds])
    prob, out = model_outputs(result, x, energies)
    frames = []
    for k in range(len(table)):
        mask = draws[seeds[k]][1].numpy()
        frame = pd.DataFrame(
            {
                "model_index": k,
                "seed": seeds[k],
                "pulsar": y,
                "case": [CASES[(bool(a), bool(b))] for a, b in mask],
                "correct": (prob[k].numpy() >= table["threshold"].iloc[k]) == y,
            }
        )
        if out is not None:
            frame["alpha_ip"], frame["alpha_dm"] = out.alpha[k, :, 0].numpy(), out.alpha[k, :, 1].numpy()
            frame["beta_ip"], frame["beta_dm"] = out.beta[k, :, 0].numpy(), out.beta[k, :, 1].numpy()
            frame["total_energy"] = out.total_energy[k].numpy()
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def summarise(table: pd.DataFrame, columns=("f1_clean", "f1_ip_noisy", "f1_dm_noisy")) -> pd.DataFrame:
    """Mean and standard deviation over seeds of each configuration's scores.

    Returns one row per (model, rho, lambda_c, lambda_e) with ``n_seeds`` and, for each
    column ``c``, ``c_mean`` and ``c_std`` (sample std, ddof 1; NaN for one seed).
    """
    keys = ["model", "rho", "lambda_c", "lambda_e"]
    grouped = table.groupby(keys, sort=False)
    out = grouped.size().rename("n_seeds").reset_index()
    for column in columns:
        stats = grouped[column].agg(["mean", "std"]).reset_index()
        out[f"{column}_mean"] = stats["mean"].to_numpy()
        out[f"{column}_std"] = stats["std"].to_numpy()
    return out


#: The thesis's results table (final thesis; F1 on the test set), as printed: the two
#: λ columns in the order of the final thesis's heading, see :func:`thesis_results`.
THESIS_TABLE = [
    ("ip_only", None, None, None, 0.8235, 0.5926, None),
    ("dm_only", None, None, None, 0.6612, None, 0.3920),
    ("base", None, None, None, 0.8830, 0.6441, 0.6569),
    ("without", None, None, None, 0.8671, 0.7097, 0.7683),
    ("alternative", None, None, None, 0.7726, 0.6129, 0.6882),
    ("with", 1e-4, 1e-3, 1e-2, 0.8881, 0.7333, 0.8077),
    ("with", 1e-4, 0.0, 1e-2, 0.8849, 0.7285, 0.8183),
    ("with", 1e-4, 1e-4, 1e-2, 0.8945, 0.7333, 0.8182),
    ("with", 1e-3, 1e-3, 0.0, 0.8809, 0.7347, 0.8186),
    ("with", 1e-4, 1e-2, 1e-3, 0.8736, 0.7383, 0.7848),
    ("with", 1e-1, 1e-2, 0.0, 0.8826, 0.7467, 0.7925),
    ("with", 1e-4, 1e-3, 0.0, 0.8786, 0.7190, 0.7826),
    ("with", 1e-3, 1e-1, 1e-2, 0.8800, 0.7432, 0.8344),
    ("with", 1e-4, 0.0, 1e-4, 0.8723, 0.7051, 0.7853),
    ("with", 1e-4, 1e-4, 1e-3, 0.8794, 0.7053, 0.7853),
]


def thesis_results(reading: str = "slides") -> pd.DataFrame:
    """The thesis's table with its λ columns read as the slides (ρ, λ_e, λ_c) or as the final thesis (ρ, λ_c, λ_e).

    Returns columns ``model, rho, lambda_c, lambda_e, thesis_f1_clean, thesis_f1_ip_noisy,
    thesis_f1_dm_noisy, thesis_rank`` (rank 1–10 of the ``with`` rows as printed).
    """
    if reading not in ("slides", "thesis"):
        raise ValueError(f"reading must be 'slides' or 'thesis', got {reading!r}")
    rows = []
    for model, rho, second, third, clean, ip, dm in THESIS_TABLE:
        lambda_c, lambda_e = (third, second) if reading == "slides" else (second, third)
        rows.append({"model": model, "rho": rho, "lambda_c": lambda_c, "lambda_e": lambda_e,
                     "thesis_f1_clean": clean, "thesis_f1_ip_noisy": ip, "thesis_f1_dm_noisy": dm})
    frame = pd.DataFrame(rows)
    frame["thesis_rank"] = np.where(frame["model"] == "with", frame.groupby("model").cumcount() + 1, np.nan)
    return frame


def paired_verdict(ours, reference, higher_is_better: bool = True, n_se: float = 2.0) -> tuple[float, float, str]:
    """Compare two models seed by seed: mean and std of the paired differences, and a verdict.

    ``"reproduced"`` when the mean difference points the thesis's way and is more than
    ``n_se`` standard errors from zero (with one seed: when it points the thesis's way),
    ``"partly"`` when it points that way within the spread, ``"not reproduced"`` otherwise.

    Parameters
    ----------
    ours, reference : array-like, shape (n_seeds,)
        The score of the model the thesis says is better, and of the one it beats, per seed.
    higher_is_better : bool
    n_se : float

    Returns
    -------
    (mean of ours − reference, std of the differences, verdict)
    """
    diff = np.asarray(ours, dtype=float) - np.asarray(reference, dtype=float)
    if diff.ndim != 1 or diff.size == 0:
        raise ValueError("ours and reference must be 1-D with one value per seed")
    mean = float(diff.mean())
    std = float(diff.std(ddof=1)) if diff.size > 1 else float("nan")
    towards = mean if higher_is_better else -mean  # > 0 when the difference points the thesis's way
    if towards <= 0:
        verdict = "not reproduced"
    elif diff.size == 1 or towards > n_se * std / np.sqrt(diff.size):
        verdict = "reproduced"
    else:
        verdict = "partly"
    return mean, std, verdict


@torch.no_grad()
def score_on_test(result: dict, splits: Splits, *, energies=None, threshold: float | None = None) -> pd.DataFrame:
    """F1 per test subset of every model of a sweep, on the same corrupted test set it was scored on.

    Parameters
    ----------
    result : dict
        From :func:`run_sweep` (or :func:`select`).
    splits : Splits
    energies : ModeEnergies or dict, optional
        ``with`` only.
    threshold : float, optional
        A fixed decision threshold for every model; by default each model's own
        (the validation ROC-corner rule), which reproduces ``result["table"]``.

    Returns
    -------
    DataFrame
        The configuration columns and ``f1_clean``, ``f1_ip_noisy``, ``f1_dm_noisy``, ``threshold``.
    """
    table = result["table"]
    settings = TrainSettings(**result["settings"])
    seeds = table["seed"].tolist()
    unique = sorted(set(seeds))
    test = seed_data(splits, "test", unique, settings, noisy=True)
    rows = [unique.index(s) for s in seeds]
    prob, _ = model_outputs(result, test.x[rows].cpu(), energies)
    out = []
    for k in range(len(table)):
        t = table["threshold"].iloc[k] if threshold is None else float(threshold)
        f1 = f1_by_subset(prob[k].numpy() >= t, test.y.cpu().numpy(), test.corrupted[rows[k]].cpu().numpy())
        out.append({**table.iloc[k][["model", "seed", "rho", "lambda_c", "lambda_e"]].to_dict(), **{f"f1_{n}": v for n, v in f1.items()}, "threshold": t})
    return pd.DataFrame(out)
