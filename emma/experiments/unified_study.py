"""The experiments of thesis chapter 7 with the unified model (:mod:`emma.experiments.unified`).

* **the synthetic task** (:func:`make_task`): a multi-modal task in which each part of the
  model has a job, and the energy models EMMA needs for it (:func:`fit_task_energies`);
* **batched training** (:func:`fit`): several models of one architecture at once, one per
  seed, stacked with :func:`torch.func.vmap`;
* **the ablation** (:func:`run_ablation`; summarised with :func:`emma.util.tables.over_seeds`): the eight on/off combinations
  of the parts, scored on what they predict and what they attend to;
* **HTRU2** (:func:`run_htru2`): a combination against EMMA alone on the thesis's data;
* **claims** (:func:`composition_tests`, :func:`composition_table`, :func:`unified_claims`): the chapter's claims
  (registered in :mod:`emma.claims.registry.beyond`), judged.
"""
from __future__ import annotations

import copy
from typing import NamedTuple, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from sklearn.metrics import accuracy_score, f1_score
from torch.func import functional_call, stack_module_state, vmap
from tqdm.auto import tqdm

from emma.claims.registry import min_effect
from emma.claims.rules import INCONCLUSIVE, REPRODUCED, apply_holm, claims_table, holm, paired_test
from emma.data.htru2 import MODE_NAMES, MODE_SLICES
from emma.data.noise import corrupt
from emma.engine.autoencoders import DAESettings, fit_energy_models
from emma.engine.stacked import StackedModels
from emma.engine.training import f1_by_subset, select_threshold
from emma.experiments.modes_verdicts import judge_sub_cases, weakest_evidence
from emma.experiments.unified import COMBINATIONS, PARTS, UnifiedAttention, build, label, predict
from emma.method.attention import PARAMETER_NAMES, project_parameters_
from emma.method.regularizers import energy_regularizer
from emma.util import checks
from emma.util.runtime import progress_disabled, single_cpu_thread

# ----------------------------------------------------------------------------- the synthetic task


class Task(NamedTuple):
    """Samples of a multi-modal task; ``signal_slot`` and ``factors`` are None for real data."""

    modes: list  # M tensors (n, d_i)
    y: torch.Tensor  # (n,) float, 0 or 1
    corrupted: torch.Tensor  # (n, M) bool: mode received heavy noise
    signal_slot: torch.Tensor | None = None  # (n, M) long: the feature of mode i holding its factor
    factors: torch.Tensor | None = None  # (n, n_factors): the latent factors


_positive_int = checks.positive_int
#: The claim that the full model beats every other combination, and the claim on HTRU2.
COMPLETE, HTRU2_CLAIM = "unified_complete", "unified_htru2_beats_emma"
#: The settings of the synthetic task's per-mode autoencoders (:func:`fit_task_energies`): 12 hidden units, corruption
#: σ = 0.1, 2 epochs of batches of 256, Adam at 10⁻².
TASK_DAE = DAESettings(d_hidden=12, noise_std=0.1, epochs=2, batch_size=256, lr=1e-2)


def _number(value, name: str, low: float = 0.0, high: float = float("inf")) -> float:
    return checks.number(value, name, low=low, high=None if high == float("inf") else high)


def make_task(n: int, widths: Sequence[int] = (6, 6, 6, 6), n_factors: int = 2, corrupted_fraction: float = 0.5,
              noise_std: float = 3.0, signal_noise: float = 0.1, generator: torch.Generator | None = None) -> Task:
    """A synthetic task in which each part of the unified model has a job.

    * **Interaction across modes** (crossmodal): latent factors u_1..u_F ~ N(0, 1); the label
      is 1 when their product is positive. Mode i carries factor i mod F only, so no single
      mode says anything about the label.
    * **Irrelevant features, and the relevant one moves** (endogenous): in each mode, feature 0
      is a selector c ~ N(0, 1); the factor (plus Gaussian noise of standard deviation ``signal_noise``) sits in feature 1
      when c > 0 and in feature 2 otherwise; every other feature is N(0, 1) noise.
    * **Corrupted modes** (exogenous): a fraction ``corrupted_fraction`` of the samples get
      Gaussian noise of standard deviation ``noise_std`` on every feature of one mode drawn at random. With M ≥ 2F
      each factor is carried by two modes, so a sample keeps a clean copy of each.

    Parameters
    ----------
    n : int
    widths : sequence of int
        Width of each mode (each ≥ 3); M = len(widths) ≥ ``n_factors``.
    n_factors : int
        F ≥ 2.
    corrupted_fraction : float in [0, 1]
    noise_std, signal_noise : float ≥ 0
    generator : torch.Generator, optional

    Returns
    -------
    Task

    Examples
    --------
    >>> task = make_task(8, widths=(3, 4, 3, 5), generator=torch.Generator().manual_seed(0))
    >>> [tuple(x.shape) for x in task.modes], task.corrupted.sum(1).max().item()
    ([(8, 3), (8, 4), (8, 3), (8, 5)], 1)
    """
    n, n_factors = _positive_int(n, "n"), _positive_int(n_factors, "n_factors")
    if n_factors < 2:
        raise ValueError(f"n_factors must be >= 2 (the label is an interaction), got {n_factors}")
    if isinstance(widths, (str, torch.Tensor)) or not isinstance(widths, Sequence) or len(widths) < n_factors:
        raise ValueError(f"widths must list at least n_factors = {n_factors} mode widths, got {widths!r}")
    if any(isinstance(w, bool) or not isinstance(w, (int, np.integer)) or w < 3 for w in widths):
        raise ValueError(f"every width must be an integer >= 3 (selector and two slots), got {list(widths)}")
    _number(corrupted_fraction, "corrupted_fraction", 0.0, 1.0)
    _number(noise_std, "noise_std")
    _number(signal_noise, "signal_noise")
    m = len(widths)
    factors = torch.randn(n, n_factors, generator=generator)  # (n, F)
    y = (factors.prod(dim=1) > 0).float()  # the interaction: (n,)
    hit = torch.rand(n, generator=generator) < corrupted_fraction  # (n,) samples with a corrupted mode
    which = torch.randint(0, m, (n,), generator=generator)  # (n,) ... and which mode
    corrupted = F.one_hot(which, m).bool() & hit.unsqueeze(1)  # (n, M)
    modes, slots = [], []
    for i, width in enumerate(widths):
        x = torch.randn(n, width, generator=generator)  # selector, two slots, irrelevant features: (n, d_i)
        slot = 1 + (x[:, 0] <= 0).long()  # feature 1 when the selector is positive, else 2: (n,)
        x[torch.arange(n), slot] = factors[:, i % n_factors] + signal_noise * torch.randn(n, generator=generator)
        noise = noise_std * torch.randn(n, width, generator=generator)
        modes.append(x + noise * corrupted[:, i : i + 1])
        slots.append(slot)
    return Task(modes, y, corrupted, torch.stack(slots, dim=1), factors)


def fit_task_energies(tasks: Sequence[Task], seeds: Sequence[int], *, dae: DAESettings = TASK_DAE) -> list[tuple[list, list]]:
    """One tied denoising autoencoder per mode of each task (chapter 4), on the task's clean samples of that mode.

    All of them are fitted at once by :func:`emma.engine.autoencoders.fit_energy_models` with the settings
    ``dae`` (default :data:`TASK_DAE`); the autoencoder of mode i of task t is seeded (initial weights,
    shuffling) ``M · seeds[t] + i``. Returns, per task, the frozen models and Ψ_min per mode (the lowest
    potential on those samples, eq. 5.2).
    """
    if len(tasks) != len(seeds):
        raise ValueError(f"seeds must hold one seed per task ({len(tasks)}), got {len(seeds)}")
    data = [x[~task.corrupted[:, i]] for task in tasks for i, x in enumerate(task.modes)]  # each mode's clean samples (n_clean, d_i)
    order = [len(task.modes) * seed + i for task, seed in zip(tasks, seeds) for i in range(len(task.modes))]
    fitted = fit_energy_models(data, seeds=order, dae=dae, progress=False)
    out, start = [], 0
    for task in tasks:
        end = start + len(task.modes)
        out.append((fitted.models[start:end], fitted.psi_min[start:end].tolist()))
        start = end
    return out


# ----------------------------------------------------------------------------- training several models at once


def fit(models: Sequence[UnifiedAttention], tasks: Sequence[Task], *, epochs: int, batch_size: int, lr: float = 1e-2,
        lambda_e: float = 0.0, lambda_c: float = 0.0, seed=0) -> np.ndarray:
    """Train K models of one architecture, model k on ``tasks[k]``, as one batched computation.

    Loss of each model: binary cross-entropy on logits, plus EMMA's regularizers when the
    exogenous part is on, λ_c (g_a − b_a) − λ_e Ω (eq. 5.12, Ω from the task's corruption
    flags), vmapped over the model axis and trained by the engine's core
    (:class:`emma.engine.stacked.StackedModels`: one Adam over the stacked parameters, EMMA's
    constraints projected after every step): the same as K separate runs, in a fraction of the time. Model k shuffles its data with a
    generator seeded ``seed[k]`` (a list, one per model) or ``seed + k`` (an int).

    Returns
    -------
    numpy.ndarray, shape (epochs, K)
        Mean training loss of each model per epoch. The models are updated in place.
    """
    if not models or len(models) != len(tasks):
        raise ValueError(f"models and tasks must be non-empty and of equal length, got {len(models)} and {len(tasks)}")
    if any(type(m) is not UnifiedAttention or m.parts != models[0].parts or m.widths != models[0].widths for m in models):
        raise ValueError("models must all be UnifiedAttention with the same parts and widths")
    n = len(tasks[0].y)
    if any(len(t.y) != n for t in tasks):
        raise ValueError("tasks must all hold the same number of samples")
    epochs, batch_size = _positive_int(epochs, "epochs"), _positive_int(batch_size, "batch_size")
    device = next(models[0].parameters()).device
    k_models, exogenous = len(models), models[0].exogenous is not None
    params, buffers = stack_module_state(list(models))  # name -> (K, ...)
    skeleton = copy.deepcopy(models[0]).to("meta")
    xs = [torch.stack([t.modes[i] for t in tasks]).to(device) for i in range(models[0].n_modes)]  # (K, n, d_i)
    ys = torch.stack([t.y for t in tasks]).to(device)  # (K, n)
    flags = torch.stack([t.corrupted for t in tasks]).to(device)  # (K, n, M)

    def loss_one(p, b, x, y, corrupted):
        out = functional_call(skeleton, (p, b), (list(x),))
        loss = F.binary_cross_entropy_with_logits(out.logits, y)
        if exogenous:  # eq. 5.12
            loss = loss + lambda_c * (p["exogenous.gain"] - p["exogenous.bias"]) - lambda_e * energy_regularizer(out.log_alpha, corrupted)
        return loss

    batched_loss = vmap(loss_one)
    order_seeds = [int(seed) + k for k in range(k_models)] if isinstance(seed, (int, np.integer)) else [int(s) for s in seed]
    if len(order_seeds) != k_models:
        raise ValueError(f"seed must be an int or one int per model ({k_models}), got {seed!r}")
    generators = [torch.Generator().manual_seed(s) for s in order_seeds]
    rows = torch.arange(k_models, device=device).unsqueeze(1)  # (K, 1)
    frozen = {name: value.detach() for name, value in params.items() if not value.requires_grad}  # e.g. the energy models
    project = (lambda p: project_parameters_(*(p[f"exogenous.{name}"] for name in PARAMETER_NAMES))) if exogenous else None

    def loss_fn(p, idx):  # idx (K, B): each model's mini-batch
        return batched_loss({**p, **frozen}, buffers, [x[rows, idx] for x in xs], ys[rows, idx], flags[rows, idx])

    stack = StackedModels({name: value for name, value in params.items() if value.requires_grad}, lr=lr, project=project)
    with single_cpu_thread(device):
        curve = stack.train(loss_fn, n, epochs=epochs, batch_size=batch_size, desc=label(models[0].parts),
                            orders=lambda: torch.stack([torch.randperm(n, generator=g) for g in generators]))
    trained = {**stack.params, **frozen}
    with torch.no_grad():
        for k, model in enumerate(models):
            for name, value in model.named_parameters():
                value.copy_(trained[name][k])
    return curve


# ----------------------------------------------------------------------------- the ablation on the synthetic task


def task_scores(model: UnifiedAttention, task: Task) -> dict[str, float]:
    """Accuracy on clean and on corrupted samples, and what each active part attends to.

    Accuracy is :func:`sklearn.metrics.accuracy_score` of "logit > 0". Attention: mean β of
    clean and of corrupted modes; mean mask on the feature holding the signal and on the
    other features (clean modes); the crossmodal weight a mode puts on the clean modes that
    carry another factor (``cross_to_needed``), and the same under uniform weights.
    """
    out = predict(model, task.modes)
    predicted, y = (out.logits > 0).cpu().numpy(), task.y.numpy()
    corrupted = task.corrupted.cpu()
    dirty = corrupted.any(dim=1).numpy()
    row = {"acc_clean": accuracy_score(y[~dirty], predicted[~dirty]), "acc_corrupted": accuracy_score(y[dirty], predicted[dirty])}
    if out.beta is not None:
        beta = out.beta.cpu()
        row.update(beta_clean=beta[~corrupted].mean().item(), beta_corrupted=beta[corrupted].mean().item())
    if out.masks is not None and task.signal_slot is not None:
        on, off = [], []
        for i, mask in enumerate(out.masks):
            mask, keep = mask.cpu()[~corrupted[:, i]], ~corrupted[:, i]
            hit = F.one_hot(task.signal_slot[keep, i], mask.shape[1]).bool()  # (n_clean, d_i)
            on.append(mask[hit])
            off.append(mask[~hit])
        row.update(mask_signal=torch.cat(on).mean().item(), mask_other=torch.cat(off).mean().item())
    if out.crossmodal is not None and task.factors is not None:
        m, carries = model.n_modes, torch.arange(model.n_modes) % task.factors.shape[1]
        needed = (carries.unsqueeze(1) != carries.unsqueeze(0)).unsqueeze(0) & ~corrupted.unsqueeze(1)  # (n, M, M)
        row["cross_to_needed"] = (out.crossmodal.cpu() * needed).sum(-1).mean().item()
        row["cross_to_needed_uniform"] = (needed.sum(-1).float() / (m - 1)).mean().item()
    return row


def run_ablation(tasks: dict, energies: dict, *, epochs: int, batch_size: int, lr: float, lambda_e: float = 0.0,
                 lambda_c: float = 0.0, device="cpu", progress: bool | None = None, **options) -> tuple[pd.DataFrame, dict]:
    """Train and score the eight combinations of :data:`COMBINATIONS` on every seed.

    Parameters
    ----------
    tasks : dict
        seed -> (train Task, test Task).
    energies : dict
        seed -> (energy models, Ψ_min), as :func:`fit_task_energies` gives them.
    options
        Passed to :class:`UnifiedAttention` (coldness, d_model, d_hidden, fusion).

    Returns
    -------
    scores : DataFrame
        One row per (combination, seed): the three flags, ``seed`` and :func:`task_scores`.
    models : dict
        (exogenous, endogenous, crossmodal) -> the trained models, one per seed.
    """
    seeds, rows, trained = list(tasks), [], {}
    widths = [x.shape[1] for x in tasks[seeds[0]][0].modes]
    for parts in tqdm(COMBINATIONS, desc="combinations", disable=progress_disabled() if progress is None else not progress):
        models = [build(parts, widths, *energies[s], seed=s, device=device, **options) for s in seeds]
        fit(models, [tasks[s][0] for s in seeds], epochs=epochs, batch_size=batch_size, lr=lr, lambda_e=lambda_e,
            lambda_c=lambda_c, seed=seeds)
        trained[tuple(parts.values())] = models
        rows += [{**parts, "seed": s, **task_scores(model, tasks[s][1])} for s, model in zip(seeds, models)]
    return pd.DataFrame(rows), trained


# ----------------------------------------------------------------------------- HTRU2


def htru2_tasks(splits, seed: int, sigma: float = 0.5, clean_fraction: float = 0.5) -> dict[str, Task]:
    """The three splits of HTRU2 as Tasks (modes IP, DM), corrupted by the thesis's scheme (:func:`emma.data.noise.corrupt`)."""
    generator = torch.Generator().manual_seed(int(seed))
    out = {}
    for name in ("train", "val", "test"):
        split = getattr(splits, name)
        x, corrupted = corrupt(split.x.cpu(), sigma, generator, clean_fraction)  # (n, 8), (n, 2)
        out[name] = Task([x[:, MODE_SLICES[m]] for m in MODE_NAMES], split.y.cpu(), corrupted)
    return out


def htru2_scores(model: UnifiedAttention, tasks: dict[str, Task]) -> dict[str, float]:
    """F1 on the test set (clean, IP-noisy, DM-noisy and all noisy samples) at the ROC-corner threshold of the validation set."""
    val, test = tasks["val"], tasks["test"]
    threshold = select_threshold(torch.sigmoid(predict(model, val.modes).logits).cpu().numpy(), val.y.numpy())
    predicted = (torch.sigmoid(predict(model, test.modes).logits).cpu().numpy() >= threshold).astype(int)
    y, noisy = test.y.numpy().astype(int), test.corrupted.numpy().any(axis=1)
    scores = {f"f1_{k}": v for k, v in f1_by_subset(predicted, y, test.corrupted.numpy()).items()}
    return {"threshold": threshold, **scores, "f1_noisy": f1_score(y[noisy], predicted[noisy], zero_division=0.0)}


def run_htru2(splits, energy_models, psi_min, seeds, arms: dict, *, epochs: int, batch_size: int, lr: float,
              sigma: float = 0.5, clean_fraction: float = 0.5, lambda_e: float = 0.0, lambda_c: float = 0.0,
              device="cpu", **options) -> pd.DataFrame:
    """Train each arm (name -> parts) on corrupted HTRU2, one model per seed; one row of :func:`htru2_scores` per (arm, seed).

    Seed s draws the corruption of the three splits, the initial weights and the data order;
    the arms share the corrupted data of a seed (paired comparison) and the energy models.
    """
    data = {s: htru2_tasks(splits, s, sigma, clean_fraction) for s in seeds}
    rows = []
    for name, parts in arms.items():
        models = [build(parts, [4, 4], energy_models, psi_min, seed=s, device=device, **options) for s in seeds]
        fit(models, [data[s]["train"] for s in seeds], epochs=epochs, batch_size=batch_size, lr=lr, lambda_e=lambda_e,
            lambda_c=lambda_c, seed=list(seeds))
        rows += [{"model": name, **parts, "seed": s, **htru2_scores(m, data[s])} for s, m in zip(seeds, models)]
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- claims


def composition_tests(scores: pd.DataFrame, column: str, alpha: float = 0.05) -> pd.DataFrame:
    """The full model against each other combination on ``column``, seed by seed: one :func:`emma.claims.rules.paired_test` per row.

    The minimum effect is that of the claim ``unified_complete`` (:mod:`emma.claims.registry.beyond`).
    Each row has the combination's flags, ``against``, ``score``, ``difference`` (full − other,
    mean over seeds), the evidence columns and ``verdict`` of the test, and ``evidence`` (one line).
    """
    full = scores[scores[list(PARTS)].all(axis=1)].sort_values("seed")
    rows = []
    for parts in COMBINATIONS[:-1]:
        other = scores[(scores[list(PARTS)] == pd.Series(parts)).all(axis=1)].sort_values("seed")
        test = paired_test(full[column].to_numpy(), other[column].to_numpy(), min_effect=min_effect(COMPLETE), alpha=alpha)
        rows.append({**parts, "against": label(parts), "score": column, "difference": test.mean, **test.row(), "evidence": test.describe(3)})
    return pd.DataFrame(rows)


def composition_table(scores: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """:func:`composition_tests` on clean and on corrupted accuracy, Holm-corrected over the 14 tests.

    Adds ``p_holm``; a *reproduced* whose ``p_holm`` is not below ``alpha`` becomes *inconclusive*,
    so that every comparison the table calls reproduced holds with the 14 tested together.
    """
    tests = pd.concat([composition_tests(scores, column, alpha) for column in ("acc_clean", "acc_corrupted")], ignore_index=True)
    tests.insert(tests.columns.get_loc("p_value") + 1, "p_holm", holm(tests["p_value"].to_numpy()))
    tests.loc[(tests["verdict"] == REPRODUCED) & ~(tests["p_holm"] < alpha), "verdict"] = INCONCLUSIVE
    return tests


def unified_claims(scores: pd.DataFrame, htru2: pd.DataFrame, arms: tuple[str, str], alpha: float = 0.05) -> pd.DataFrame:
    """The claims of the chapter on the unified model, judged on the ablation ``scores`` and the HTRU2 runs (``arms`` = (ours, EMMA alone)).

    The claims and their minimum effects are registered in :mod:`emma.claims.registry.beyond`.
    Each part's claim is its mechanism in the full model, a paired t-test over seeds: β lower on
    corrupted modes than on clean ones (exogenous), the mask higher on the feature holding the
    signal than elsewhere (endogenous), the crossmodal weight on the clean modes a mode needs above
    the uniform share (crossmodal); the row also shows what removing the part costs. "Complete" is
    made of 14 sub-cases, the full model against each other combination on each score
    (:func:`composition_table`; :func:`emma.experiments.modes_verdicts.judge_sub_cases`), with the
    evidence of the weakest. HTRU2: a paired t-test of the F1 on noisy test samples. p-values are
    Holm-adjusted over the table (:func:`emma.claims.rules.apply_holm`).
    """
    full = scores[scores[list(PARTS)].all(axis=1)].sort_values("seed")
    tests = composition_table(scores, alpha)

    def without(part, column):  # the test of the full model against the full model minus ``part``
        return tests[(tests["score"] == column) & ~tests[part] & tests[[p for p in PARTS if p != part]].all(axis=1)].iloc[0]

    specs = [  # claim id, the part, the score removing it should cost, the statistic and its reference, how to say them
        ("unified_exogenous_masks", "exogenous", "acc_corrupted", "beta_clean", "beta_corrupted", "β {1:.3f} on corrupted modes vs {0:.3f} on clean ones"),
        ("unified_endogenous_attends", "endogenous", "acc_clean", "mask_signal", "mask_other",
         "mask {0:.3f} on the feature holding the signal vs {1:.3f} elsewhere"),
        ("unified_crossmodal_whole_picture", "crossmodal", "acc_clean", "cross_to_needed", "cross_to_needed_uniform",
         "weight {0:.3f} on the clean modes carrying the other factor vs {1:.3f} if uniform"),
    ]
    rows = []
    for claim_id, part, column, ours, reference, words in specs:
        test = paired_test(full[ours].to_numpy(), full[reference].to_numpy(), min_effect=min_effect(claim_id), alpha=alpha)
        removal = without(part, column)
        rows.append({"id": claim_id, **test.row(),
                     "our_evidence": f"{words.format(full[ours].mean(), full[reference].mean())}: {test.describe(3)}; "
                                     f"removing it, full − without on {column}: {removal['evidence']} (a sub-case of {COMPLETE})"})
    judged = judge_sub_cases({f"{r.score.removeprefix('acc_')} vs {r.against}": r.verdict for r in tests.itertuples()})
    weakest = weakest_evidence(tests[["effect", "ci_low", "ci_high", "n_seeds", "min_effect", "detectable_effect", "p_value"]].to_dict("records"))
    rows.append({"id": COMPLETE, **judged, **weakest,
                 "our_evidence": f"smallest paired gain {tests['difference'].min():+.3f} over {len(tests)} comparisons (clean and corrupted accuracy, "
                                 f"Holm over the {len(tests)}); {judged['cases']}"})
    ours, emma = (htru2[htru2["model"] == name].sort_values("seed")["f1_noisy"].to_numpy() for name in arms)
    test = paired_test(ours, emma, min_effect=min_effect(HTRU2_CLAIM), alpha=alpha)
    rows.append({"id": HTRU2_CLAIM, **test.row(), "our_evidence": f"{arms[0]} − {arms[1]}: {test.describe(3)}"})
    for row in rows:
        row["thesis_evidence"] = "chapter 7 of the draft (chapter 8 of the final thesis): a proposal, argued from psychology, no experiment"
    return apply_holm(claims_table(rows), alpha)
