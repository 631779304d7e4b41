"""Is EMMA interpretable? Its attention and its energy, each against a baseline that does not attend.

Research question 3 of the thesis asks whether EMMA makes the end-to-end model more
interpretable. Two readings of its outputs are tested here, each against a baseline built
from the same model, so that an effect that holds by construction does not count:

* :func:`attention_contrast`: the attention β_m of a mode should be lower on the samples whose
  mode m is noisy than on clean samples. The baseline is the same EMMA whose potentials are
  shuffled between the samples of the test set: its β sees the same distribution of potentials,
  but no longer the sample's own modes, so whatever drop it shows is not attention to the noise.
* :func:`energy_error_auroc`: the total energy Σ_i E_i should flag wrong predictions (the thesis
  reads it as an uncertainty proxy). Its AUROC as a score for "this prediction is wrong" is
  compared with chance (0.5) and with EMMA's input alone, the summed corrected potentials Σ_i Ψ'_i:
  the total energy rises with the noise by construction (w_i ≥ 1), so only what it adds to Ψ'
  is EMMA's.

:func:`emma.experiments.verdicts.robustness_claims` turns the two tables into paired tests over seeds
against each claim's registered minimum effect. Every function takes a ``with`` sweep with one model per
seed (e.g. :func:`emma.engine.evaluation.select` of one configuration); the whole test set is one
call, as in :func:`emma.engine.evaluation.per_sample_outcomes`.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import roc_auc_score

from emma.data.failures import Gaussian, Standardization, corrupt_modes
from emma.data.htru2 import MODE_NAMES
from emma.data.splits import Splits
from emma.engine.configs import TrainSettings
from emma.engine.evaluation import model_outputs
from emma.engine.results import SweepResult
from emma.util import checks

#: The columns of :func:`attention_contrast`.
CONTRAST_COLUMNS = ("seed", "mode", "sigma", "beta_clean", "beta_noisy", "drop", "drop_shuffled")
#: The columns of :func:`energy_error_auroc`.
AUROC_COLUMNS = ("seed", "auroc_total_energy", "auroc_psi", "n_errors", "n")
_SCHEME_DRAW = 4_000_037  # the generator of per_sample_outcomes (draw 0): the same test samples fail
_SHUFFLE_DRAW = 7_000_003
_BOTH_MODES_DRAW = 6_000_011


def _check_result(result) -> SweepResult:
    if not isinstance(result, (SweepResult, Mapping)):
        raise ValueError(f"result must be a finished 'with' sweep (emma.engine.launch.run_sweep), got {type(result).__name__}")
    result = SweepResult.of(result)
    if result.family != "with":
        raise ValueError(f"result must be a sweep of the 'with' family (EMMA), got family {result.family!r}")
    seeds = result.table["seed"].tolist()
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"result must hold one model per seed (select one configuration, e.g. emma.engine.evaluation.select), got seeds {seeds}")
    return result


def _check_splits(splits) -> Splits:
    if not isinstance(splits, Splits):
        raise ValueError(f"splits must be the Splits the sweep was trained on (emma.data.splits.make_splits), got {type(splits).__name__}")
    return splits


def _check_sigma(sigma, name: str = "sigma", low_open: bool = True) -> float:
    return checks.number(sigma, name, low=0.0, low_open=low_open)


@torch.no_grad()
def attention_contrast(result, splits, *, energies, sigma: float, shuffle_seed: int = 0, clean_fraction: float | None = None) -> pd.DataFrame:
    """How much the attention β_m of each mode falls when that mode is noisy, for EMMA and for EMMA with shuffled potentials.

    The test set of each seed is the thesis's scheme on the clean test split
    (:func:`emma.data.failures.corrupt_modes` with ``Gaussian(sigma)``): a ``clean_fraction`` of
    the samples clean, the others noisy on IP only or DM only, half each; drawn from the
    generator of :func:`emma.engine.evaluation.per_sample_outcomes` (draw 0), so the same
    samples fail as in the chapter's distributions. The baseline permutes the rows of the
    potentials (both modes together) with a generator seeded by ``shuffle_seed`` and the seed.

    Parameters
    ----------
    result : SweepResult
        A ``with`` sweep, one model per seed.
    splits : Splits
    energies : EnergyModels or dict
        The autoencoders the sweep used.
    sigma : float
        The noise σ > 0 of a noisy mode (standardized units).
    shuffle_seed : int
        Seeds the permutation of the baseline (≥ 0).
    clean_fraction : float, optional
        The sweep's training ``clean_fraction`` when None.

    Returns
    -------
    DataFrame
        One row per (seed, mode ∈ {IP, DM}): ``seed``, ``mode``, ``sigma``, ``beta_clean`` and
        ``beta_noisy`` (mean β_m over clean samples and over samples whose mode m is noisy),
        ``drop`` = beta_clean − beta_noisy, and ``drop_shuffled``, the same drop of the baseline.
    """
    result, splits = _check_result(result), _check_splits(splits)
    sigma = _check_sigma(sigma)
    shuffle_seed = checks.integer(shuffle_seed, "shuffle_seed", low=0)
    fraction = TrainSettings(**result.settings).clean_fraction if clean_fraction is None else checks.fraction(clean_fraction, "clean_fraction")
    seeds = [int(s) for s in result.table["seed"]]
    x0 = splits.test.x.detach().cpu()
    draws = [corrupt_modes(x0, Gaussian(sigma), torch.Generator().manual_seed(_SCHEME_DRAW + s), fraction, Standardization.of(splits)) for s in seeds]
    x = torch.stack([d[0] for d in draws])
    orders = torch.stack([torch.randperm(len(x0), generator=torch.Generator().manual_seed(_SHUFFLE_DRAW * (1 + shuffle_seed) + s)) for s in seeds])
    _, out = model_outputs(result, x, energies)
    _, shuffled = model_outputs(result, x, energies, potential_rows=orders)
    rows = []
    for k, seed in enumerate(seeds):
        mask = draws[k][1]
        clean = ~mask.any(dim=1)
        for m, mode in enumerate(MODE_NAMES):
            noisy = mask[:, m]
            if not clean.any() or not noisy.any():
                raise ValueError(f"the test set of seed {seed} has no clean or no {mode}-noisy sample: clean_fraction must leave both, got {fraction}")
            beta, beta_shuffled = out.beta[k, :, m], shuffled.beta[k, :, m]
            beta_clean, beta_noisy = beta[clean].mean().item(), beta[noisy].mean().item()
            rows.append({"seed": seed, "mode": mode, "sigma": sigma, "beta_clean": beta_clean, "beta_noisy": beta_noisy,
                         "drop": beta_clean - beta_noisy, "drop_shuffled": (beta_shuffled[clean].mean() - beta_shuffled[noisy].mean()).item()})
    return pd.DataFrame(rows, columns=list(CONTRAST_COLUMNS))


def error_auroc(score, wrong) -> float:
    """The AUROC of ``score`` as a score for "this prediction is wrong"; undefined when every prediction is right, or every one wrong.

    >>> error_auroc([0.1, 0.2, 0.9], [False, False, True])
    1.0
    """
    score, wrong = np.asarray(score, dtype=float), np.asarray(wrong)
    if score.ndim != 1 or wrong.shape != score.shape or wrong.dtype != bool:
        raise ValueError(f"score and wrong must be 1-D of one length, wrong booleans; got shapes {score.shape}, {wrong.shape} and dtype {wrong.dtype}")
    if wrong.all() or not wrong.any():
        return float("nan")
    return float(roc_auc_score(wrong, score))


@torch.no_grad()
def energy_error_auroc(result, splits, *, energies, sigmas: Sequence[float]) -> pd.DataFrame:
    """How well EMMA's total energy, and its input Ψ' alone, flag the wrong predictions when both modes are noisy.

    For each seed, every test sample gets Gaussian noise on both modes with one σ drawn
    uniformly from ``sigmas`` (a generator seeded by the seed). A prediction is wrong when
    ``probability ≥ threshold`` (the model's own threshold) differs from the class. The
    scores are the sample's total energy Σ_i E_i (eq. 5.5 summed) and Σ_i Ψ'_i, the corrected
    potentials (eq. 5.2) that EMMA sees: the raw Ψ ranks the samples alike except where
    Ψ < Ψ_min, which the correction ties at γ_E (and a batch-coupled Ψ only adds a constant).

    Parameters
    ----------
    result : SweepResult
        A ``with`` sweep, one model per seed.
    splits : Splits
    energies : EnergyModels or dict
        The autoencoders the sweep used.
    sigmas : sequence of float
        The noise levels σ ≥ 0 a sample's σ is drawn from.

    Returns
    -------
    DataFrame
        One row per seed: ``seed``, ``auroc_total_energy``, ``auroc_psi`` (undefined when the model
        made no error, or only errors), ``n_errors`` and ``n`` (test samples).
    """
    result, splits = _check_result(result), _check_splits(splits)
    if isinstance(sigmas, (str, bytes)) or not isinstance(sigmas, (Sequence, np.ndarray)) or len(sigmas) == 0:
        raise ValueError(f"sigmas must be a non-empty list of noise levels σ >= 0, got {sigmas!r}")
    levels = torch.tensor([_check_sigma(s, "each of sigmas", low_open=False) for s in sigmas])
    seeds = [int(s) for s in result.table["seed"]]
    x0, y = splits.test.x.detach().cpu(), splits.test.y.cpu().numpy().astype(bool)
    xs = []
    for s in seeds:
        generator = torch.Generator().manual_seed(_BOTH_MODES_DRAW + s)
        sigma = levels[torch.randint(len(levels), (len(x0),), generator=generator)]
        xs.append(x0 + sigma.unsqueeze(1) * torch.randn(x0.shape, generator=generator))
    prob, out = model_outputs(result, torch.stack(xs), energies)
    rows = []
    for k, seed in enumerate(seeds):
        wrong = (prob[k].numpy() >= result.table["threshold"].iloc[k]) != y
        rows.append({"seed": seed, "auroc_total_energy": error_auroc(out.total_energy[k].numpy(), wrong),
                     "auroc_psi": error_auroc(out.corrected_potentials[k].sum(dim=-1).numpy(), wrong), "n_errors": int(wrong.sum()), "n": len(y)})
    return pd.DataFrame(rows, columns=list(AUROC_COLUMNS))

