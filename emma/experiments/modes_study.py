"""More than two modes, the study: EMMA with M ≥ 2 modes trained and measured (thesis §8.3, future work).

The data, the corruption and the summaries are in :mod:`emma.experiments.modes`; this module trains and times:

* one tied denoising autoencoder per (seed, mode), all fitted at once by
  :func:`emma.engine.autoencoders.fit_energy_models` (with :data:`MODES_DAE` by default), and their potentials;
* K classifiers trained at once, each behind EMMA ("with") or not ("without", data
  augmentation only), by the engine's core :class:`emma.engine.stacked.StackedModels` (:func:`run_modes_study`); EMMA's steps are
  :func:`emma.method.attention.attention_scores` under ``vmap``, and :func:`as_emma` turns one
  trained model back into an :class:`emma.EMMA` module;
* the cost of one training step against M (:func:`step_cost`, :func:`loglog_slope`).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import vmap

from emma.engine.autoencoders import DAESettings, fit_energy_models
from emma.engine.families import mlp
from emma.engine.stacked import StackedModels
from emma.experiments.modes import ModeData, _check_int, corrupt, corruption_mask, split_standardize
from emma.method.attention import PARAMETER_NAMES, attention_scores, initial_parameters, project_parameters_
from emma.method.autoencoder import DenoisingAutoencoder
from emma.method.module import EMMA
from emma.method.regularizers import energy_regularizer
from emma.util import checks
from emma.util.runtime import single_cpu_thread

#: The three models of the study: no attention, EMMA with the energy regularizer, EMMA without it.
MODELS = ("without", "with", "with, λ_e = 0")


# ----------------------------------------------------------------------------- autoencoders, one per (seed, mode)


#: The autoencoders of the study (the chapter's defaults): 8 hidden units, σ = 0.1, 10 epochs of batches of 64, Adam at 10⁻².
MODES_DAE = DAESettings(d_hidden=8, noise_std=0.1, epochs=10, batch_size=64, lr=1e-2)


def _fit_autoencoders(x: torch.Tensor, dae: DAESettings = MODES_DAE, generator: torch.Generator | None = None) -> dict:
    """Train S × M tied sigmoid denoising autoencoders at once, one per seed and mode (eq. 4.1).

    ``x`` (S, n, M, d) is each seed's clean training data. The S·M autoencoders are fitted by
    :func:`emma.engine.autoencoders.fit_energy_models`, the one way the book fits energy models;
    ``generator`` draws each one's seed (its initial weights, shuffling and corruption); the
    result is stacked the way the study's classifiers read it.

    Returns
    -------
    dict
        The stacked parameters ``weight`` (S, M, h, d), ``bias_hidden`` (S, M, h), ``bias_visible``
        (S, M, d) and ``psi_min`` (S, M), the lowest potential of each autoencoder on its training
        data (eq. 5.2).

    Examples
    --------
    >>> ae = _fit_autoencoders(torch.randn(2, 50, 3, 4), MODES_DAE.override(d_hidden=5, epochs=1), torch.Generator().manual_seed(0))
    >>> tuple(ae["weight"].shape), tuple(ae["psi_min"].shape)
    ((2, 3, 5, 4), (2, 3))
    """
    if not isinstance(x, torch.Tensor) or x.dim() != 4:
        raise ValueError(f"x must be a tensor of shape (S, n, M, d), got {getattr(x, 'shape', type(x).__name__)}")
    s, n, m, d = x.shape
    seeds = torch.randint(2**31 - 1, (s * m,), generator=generator).tolist()  # seed s, mode i at s·M + i
    rows = x.transpose(1, 2).reshape(s * m, n, d)  # (S·M, n, d): each autoencoder's training rows
    fitted = fit_energy_models(list(rows), seeds=seeds, dae=dae, desc="mode autoencoders")
    ae = {name: torch.stack([getattr(dae, name).detach() for dae in fitted.models]).unflatten(0, (s, m))
          for name in ("weight", "bias_hidden", "bias_visible")}
    ae["psi_min"] = fitted.psi_min.unflatten(0, (s, m))
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
    dae: DAESettings = MODES_DAE  # the autoencoders (their batch_size the classifiers' in the chapter)
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
    k_sweep = m // 2 if sweep_corrupted is None else _check_int(sweep_corrupted, "sweep_corrupted", 1)
    seeds = checks.seeds(seeds)
    coldness = checks.number(coldness, "coldness", low=0.0, low_open=True)
    sweep_coldness = [checks.number(rho, "each of sweep_coldness", low=0.0, low_open=True) for rho in sweep_coldness]
    rows = [(seed, k, model, coldness) for seed in seeds for k in corrupted for model in MODELS]
    rows += [(seed, k_sweep, "with", rho) for seed in seeds for rho in sweep_coldness]
    return pd.DataFrame(rows, columns=["seed", "n_corrupted", "model", "coldness"]).drop_duplicates(ignore_index=True)


def run_modes_study(data: ModeData, configs: pd.DataFrame, settings: StudySettings = StudySettings(), *,
              fractions=(0.6, 0.2, 0.2), device="cpu", dataset: str = "") -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Train and score every classifier of ``configs`` (one row each) at once, along a model axis.

    Parameters
    ----------
    data : ModeData
        The whole data set; each seed splits it its own way (:func:`emma.experiments.modes.split_standardize` with
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
        ae = _fit_autoencoders(stack(0, "x"), s.dae, g)
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
        stack = StackedModels(_init_params(configs["seed"], n_modes, data.x.shape[2], s.hidden, n_classes, device), lr=s.lr,
                              project=lambda params: project_parameters_(*[params[name] for name in PARAMETER_NAMES]))
        history = _train(stack, run, sets["train"], s, g)
        rows = _evaluate(stack.params, run, sets)
    keys = configs.assign(dataset=dataset, n_modes=n_modes)
    results, history = pd.concat([keys, rows], axis=1), history.merge(keys, left_on="index", right_index=True)
    state = {"params": {k: v.clone() for k, v in stack.params.items()}, "autoencoders": ae, "run": run, "splits": splits}
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
    return {name: torch.stack([p[name] for p in per_model]).to(device) for name in per_model[0]}


def _forward(params, x, pot, run):
    """Logits (K, B, C) of K classifiers, x (K, B, M, d), Ψ (K, B, M); EMMA weights the modes of the
    models ``run["emma"]`` by β (the others see their input unchanged). Also returns EMMA's output for those."""
    rows = run["emma"]
    emma_params = [params[name][rows] for name in PARAMETER_NAMES]
    out = vmap(attention_scores)(pot[rows], run["psi_min"][rows], *emma_params, run["coldness"][rows])  # (E, B, M)
    beta = torch.ones(pot.shape, dtype=x.dtype, device=x.device).index_copy(0, rows, out.beta)
    return mlp(params, (beta.unsqueeze(-1) * x).flatten(2), 2), out  # β_i x_i, then the network


def _train(stack: StackedModels, run, data, s: StudySettings, g: torch.Generator) -> pd.DataFrame:
    """Each model's loss, cross-entropy − λ_e Ω + λ_c (g_a − b_a) (eq. 5.12), trained by the engine's core
    (:meth:`emma.engine.stacked.StackedModels.train`: Adam, EMMA's constraints projected after each step);
    returns the history of α."""
    xs, masks, pot, y = data  # (cells, n, M, d), (cells, n, M), (cells, n, M), (S, n)
    cell, seed, rows = run["cell"][:, None], run["seed"][:, None], run["emma"]

    def loss_fn(params, batch):  # batch (K, B): each model's rows
        logits, out = _forward(params, xs[cell, batch], pot[cell, batch], run)
        corrupted = masks[cell, batch][rows]  # (E, B, M)
        xi = 1.0 - 2.0 * corrupted.to(logits.dtype)  # ξ_k = −1 on a corrupted mode, +1 otherwise
        omega = (xi * out.log_alpha).sum(-1).mean(-1)  # Ω of eq. 5.12 (as emma.energy_regularizer), (E,)
        loss = F.cross_entropy(logits.transpose(1, 2), y[seed, batch], reduction="none").mean(1)  # (K,)
        loss = loss.index_add(0, rows, s.lambda_c * (params["gain"] - params["bias"])[rows] - run["lambda_e"] * omega)
        return loss, (out.alpha.detach(), corrupted)

    sums = torch.zeros(s.epochs, 4, len(rows), device=xs.device)

    def record(epoch, batch, extra):  # the mean α of the corrupted and of the clean modes of corrupted samples
        alpha, corrupted = extra
        clean = corrupted.any(-1, keepdim=True) & ~corrupted
        sums[epoch - 1] += torch.stack([(alpha * corrupted).sum((1, 2)), corrupted.sum((1, 2)), (alpha * clean).sum((1, 2)), clean.sum((1, 2))])

    orders = lambda: torch.rand(len(y), xs.shape[1], generator=g).argsort(1).to(xs.device)[run["seed"]]  # noqa: E731 (one order per seed)
    stack.train(loss_fn, xs.shape[1], epochs=s.epochs, batch_size=s.batch_size, orders=orders, on_batch=record)
    return pd.concat([pd.DataFrame({"index": rows.cpu().numpy(), "epoch": epoch, "alpha_corrupted": (sums[epoch - 1, 0] / sums[epoch - 1, 1]).cpu().numpy(),
                                    "alpha_clean": (sums[epoch - 1, 2] / sums[epoch - 1, 3]).cpu().numpy()}) for epoch in range(1, s.epochs + 1)],
                     ignore_index=True)


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
    """Model ``index`` of a :func:`run_modes_study` run as an :class:`emma.EMMA` module (its autoencoders, ρ, parameters)."""
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

def step_cost(n_modes_list, *, mode_dim: int = 4, hidden: int = 32, n_classes: int = 4, batch_size: int = 64,
              repeats: int = 15, seed: int = 0) -> pd.DataFrame:
    """Milliseconds per training step of one classifier against M: median and quartiles of ``repeats`` steps, one CPU thread.

    ``with``: an :class:`emma.EMMA` module (M autoencoders) in front of the classifier, loss with
    λ_e Ω, backward, Adam and clamping; ``without``: the classifier alone; ``attention``: forward
    and backward of EMMA's steps 2–4 alone (:func:`emma.method.attention.attention_scores`, M × M shared
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
