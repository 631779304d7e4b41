"""Scoring finished sweeps: model outputs, per-subset F1, noise responses and curves.

Noise responses and curves grade Gaussian noise by σ, or any failure of a mode by its
severity (``failure=``, :mod:`emma.data.failures`); :func:`score_on_failure` scores a sweep
on another failure than the one it was trained on.

Every function takes the ``result`` of :func:`emma.engine.launch.run_sweep` and respects each
model's protocol: a batch-coupled model's potentials are summed over the rows of each
*call*, and each function documents its call (the whole input by default), as the
original code's evaluation did (appendix: original-coupled-potential). Choosing a configuration
from a scored grid (summaries over seeds, rankings) is :mod:`emma.engine.ranking`'s; its functions
are importable from here too, as the chapters import them.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import average_precision_score, roc_auc_score

from emma.data.failures import Failure, Gaussian, Standardization, check_failure, corrupt_modes, fail_every_sample, failure_family
from emma.data.noise import nsr_db_to_sigma, sigma_to_nsr_db
from emma.engine.configs import TrainSettings
from emma.engine.families import forward
from emma.engine.ranking import rank_grid, regularizer_levels, selected_config, summarise  # noqa: F401  (re-exported for the chapters)
from emma.engine.registry import get_family
from emma.engine.results import SweepResult
from emma.engine.streams import corrupted_split, coupled_potentials, energies_for, noise_generator, potential_parts
from emma.engine.training import THRESHOLD_RULES, f1_by_subset, f1_many

#: The columns that identify a model in a sweep's table.
ID_COLUMNS = ["model", "seed", "rho", "lambda_c", "lambda_e", "protocol"]
#: Names of the corruption cases of a test sample, by its mask (IP noisy, DM noisy).
CASES = {(False, False): "clean", (True, False): "IP noisy", (False, True): "DM noisy"}


def base_for(base_result: SweepResult, seeds: Sequence[int], protocols=None) -> dict[str, torch.Tensor]:
    """The trained ``base`` parameters for models with these ``seeds`` (and protocols): rows of a base sweep.

    A model under protocol ``p`` gets the base trained with the same seed under the same
    base-relevant fields (``p.key("base")``).
    """
    table = base_result.table
    keys = [(int(s), repr(p.key("base"))) for s, p in zip(table["seed"], base_result.protocols)]
    wanted = [(int(s), None if protocols is None else repr(p.key("base"))) for s, p in zip(seeds, protocols if protocols is not None else [None] * len(seeds))]
    rows = []
    for seed, key in wanted:
        hits = [i for i, (s, k) in enumerate(keys) if s == seed and (key is None or k == key)]
        if not hits:
            raise ValueError(f"the base sweep has no model for seed {seed}{'' if key is None else ' under protocol ' + key}")
        rows.append(hits[0])
    return {name: value[rows] for name, value in base_result.params.items()}


def select(result: SweepResult, rows) -> SweepResult:
    """The sub-sweep of the models ``rows`` (positions in ``result.table``), its training curves renumbered to match."""
    rows = [int(i) for i in rows]
    result = SweepResult.of(result)
    out = result.replace()
    out.table = result.table.iloc[rows].reset_index(drop=True)
    out.params = {name: value[rows] for name, value in result.params.items()}
    out.protocols = [result.protocols[i] for i in rows]
    if result.psi_min is not None:
        out.psi_min = result.psi_min[rows]
    if result.curves is not None:
        out.curves = _select_curves(result.curves, rows, len(result.table))
    return out


def _select_curves(curves: pd.DataFrame, rows: list[int], k: int) -> pd.DataFrame:
    """The curves of the models ``rows``, ``model_index`` renumbered 0, 1, … in that order."""
    index = curves["model_index"].to_numpy()
    epochs = len(curves) // k if k else 0
    if k and len(curves) == k * epochs and np.array_equal(index, np.repeat(np.arange(k), epochs)):  # a sweep's layout: model by model
        positions = (np.asarray(rows, dtype=int).reshape(-1, 1) * epochs + np.arange(epochs)).ravel()
        return curves.iloc[positions].assign(model_index=np.repeat(np.arange(len(rows)), epochs)).reset_index(drop=True)
    parts = [curves[index == old].assign(model_index=new) for new, old in enumerate(rows)]
    return pd.concat(parts, ignore_index=True) if parts else curves.iloc[:0]


#: The scores a sweep's table holds for every threshold rule, as ``<score>_at_<rule>`` (:meth:`emma.engine.sweep.SweepEngine.result`).
RULE_SCORES = ("f1_clean", "f1_ip_noisy", "f1_dm_noisy", "f1_noisy_test", "val_f1_clean", "val_f1_ip_noisy", "val_f1_dm_noisy", "threshold")


def apply_rules(result: SweepResult, protocols) -> SweepResult:
    """The sweep as scored under ``protocols`` (one per model): each model's F1 columns and threshold at its protocol's rule.

    The decision threshold never changes how a model trains (it is chosen after training,
    before any retraining), so it is not part of a sweep's cache key
    (:data:`emma.engine.protocol.EVALUATION_ONLY`): one trained sweep serves every rule. Its table
    keeps every rule's scores as ``<score>_at_<rule>``; this copies the right ones into
    ``f1_clean`` ... ``threshold`` and relabels ``protocol``.
    """
    result, protocols = SweepResult.of(result), list(protocols)
    table = result.table
    if len(protocols) != len(table):
        raise ValueError(f"protocols must hold one Protocol per model ({len(table)}), got {len(protocols)}")
    rules = np.array([p.threshold for p in protocols])
    changed = rules != np.array([p.threshold for p in result.protocols])  # rows scored under another rule than asked
    missing = sorted({f"threshold_at_{rule}" for rule in rules[changed]} - set(table.columns))
    if missing:
        raise ValueError(f"the sweep's table has no scores for the rule(s) {missing}: it was trained before ENGINE_VERSION 5")
    table = table.copy()
    for score in RULE_SCORES if changed.any() else ():
        values = table[score].to_numpy(dtype=float).copy()
        for rule in set(rules[changed]):
            rows = changed & (rules == rule)
            values[rows] = table[f"{score}_at_{rule}"].to_numpy(dtype=float)[rows]
        table[score] = values
    table["protocol"] = [p.label() for p in protocols]
    return result.replace(table=table, protocols=protocols)


def config_rows(result: SweepResult, rho: float, lambda_c: float, lambda_e: float, protocol: str | None = None) -> list[int]:
    """Positions in a sweep's table of the models of one configuration (one per seed), optionally of one protocol label."""
    t = result.table
    hit = np.isclose(t["rho"], rho) & np.isclose(t["lambda_c"], lambda_c) & np.isclose(t["lambda_e"], lambda_e)
    if protocol is not None:
        hit &= t["protocol"] == protocol
    return list(np.flatnonzero(hit))


@torch.no_grad()
def model_outputs(result: SweepResult, x: torch.Tensor, energies=None, groups: torch.Tensor | None = None, potential_rows: torch.Tensor | None = None):
    """Probabilities (and EMMA's quantities) of every model of a finished sweep on inputs ``x``.

    Parameters
    ----------
    result : dict
        From :func:`emma.engine.launch.run_sweep` (or :func:`select`).
    x : Tensor, shape (K, n, 8)
        Each model's own inputs.
    energies : EnergyModels or dict, optional
        The autoencoders the sweep used (``with`` only).
    groups : long Tensor, shape (K, n), optional
        The call each row belongs to, for batch-coupled models; all rows one call by default.
    potential_rows : long Tensor, shape (K, n), optional
        For EMMA, the row whose potentials each row's attention sees (``x[k][potential_rows[k]]``);
        its own by default. A permutation gives the shuffled-energies baseline of
        :func:`emma.experiments.interpretability.attention_contrast`.

    Returns
    -------
    probabilities : Tensor, shape (K, n)
    emma : EMMAOutput or None
    """
    family, table, protocols = result.family, result.table, result.protocols
    if x.dim() != 3 or x.shape[0] != len(table):
        raise ValueError(f"x must have shape (K={len(table)}, n, 8), got {tuple(x.shape)}")
    if potential_rows is not None and potential_rows.shape != x.shape[:2]:
        raise ValueError(f"potential_rows must have shape {tuple(x.shape[:2])} (one row index per sample and model), got {tuple(potential_rows.shape)}")
    potentials = psi_min = None
    if get_family(family).uses_energies:
        if energies is None:
            raise ValueError(f"a {family!r} sweep needs energies=<the EnergyModels it was trained with>")
        seen = x if potential_rows is None else torch.stack([x[k][potential_rows[k]] for k in range(len(table))])
        parts = [potential_parts(energies_for(energies, s, p.autoencoders_on_corrupted), seen[k]) for k, (s, p) in enumerate(zip(table["seed"], protocols))]
        coupled = torch.tensor([p.potential == "batch_coupled" for p in protocols])
        potentials = coupled_potentials(torch.stack([p[0] for p in parts]), torch.stack([p[1] for p in parts]), coupled, groups)
        psi_min = result.psi_min.to(x.device)
    rho = torch.tensor(table["rho"].to_numpy(), dtype=torch.float32, device=x.device)
    params = {name: value.to(x.device) for name, value in result.params.items()}
    logits, out = forward(family, params, x, potentials, psi_min, rho)
    return torch.sigmoid(logits), out


def _base_test(result: SweepResult, splits, seed: int) -> torch.Tensor:
    """The test set a model's noise is added to: clean, or carrying its seed's draw (``corruption_in_place``)."""
    protocol = result.protocols[list(result.table["seed"]).index(seed)]
    if protocol.corruption_in_place:
        return corrupted_split(splits, "test", seed, TrainSettings(**result.settings))[0]
    return splits.test.x.detach().cpu()


def _check_same_base(result: SweepResult) -> None:
    kinds = {(int(s), p.corruption_in_place) for s, p in zip(result.table["seed"], result.protocols)}
    if len({s for s, _ in kinds}) != len(kinds):
        raise ValueError("noise responses need one test set per seed: select models whose protocols agree on corruption_in_place")


@torch.no_grad()
def noise_response(result: SweepResult, splits, sigma_pairs, *, energies=None, f1: bool = True, draw: int = 0, rules: bool = False,
                   failure=None) -> pd.DataFrame:
    """How every model of a sweep responds when *all* test samples get noise (σ_IP, σ_DM), or fail; the whole test set is one call.

    The noise of a pair is drawn once per seed (the same draw for every model of that
    seed, and for every family), from a generator seeded by seed, pair and ``draw``; it
    is added to the clean test set, or, under ``corruption_in_place``, to the test set
    carrying the seed's draw at the training σ (appendix: original-in-place-corruption).

    With ``failure`` (a :class:`~emma.data.failures.Failure` class, a factory
    ``severity -> Failure`` or a Failure instance, see :func:`failure_family`), the pairs are
    severities (s_IP, s_DM) instead: IP of every sample fails at s_IP, then DM at s_DM, from
    the same generator; a mode at severity 0 is left alone.

    Returns
    -------
    DataFrame
        One row per (model, pair): ``model_index``, the model's identity, ``sigma_ip``,
        ``sigma_dm`` (with ``failure``: ``failure``, its class name, ``severity_ip`` and
        ``severity_dm``), ``f1`` (whole test set, the model's own threshold), and for ``with``
        the means over samples of ``alpha_ip``, ``alpha_dm``, ``beta_ip``, ``beta_dm``, ``total_energy``.
        With ``rules``, also ``f1_at_<rule>`` at every threshold rule of the sweep's table and the
        threshold-free ``auroc`` and ``ap`` (:mod:`sklearn.metrics`).
    """
    _check_same_base(result)
    family = None if failure is None else failure_family(failure)
    standardization = Standardization.of(splits)
    table = result.table
    y = splits.test.y.cpu().numpy()
    seeds = table["seed"].tolist()
    bases = {s: _base_test(result, splits, s) for s in set(seeds)}
    rows = []
    for p, (sigma_ip, sigma_dm) in enumerate(sigma_pairs):
        generators = {s: torch.Generator().manual_seed(3_000_017 * (1 + draw) + 7919 * p + s) for s in bases}
        if family is None:
            scale = torch.tensor([sigma_ip] * 4 + [sigma_dm] * 4)
            draws = {s: bases[s] + scale * torch.randn(bases[s].shape, generator=generators[s]) for s in bases}
            grade = {"sigma_ip": sigma_ip, "sigma_dm": sigma_dm}
        else:
            draws = {s: fail_every_sample(bases[s], family, (sigma_ip, sigma_dm), generators[s], standardization) for s in bases}
            grade = {"failure": type(family(0.0)).__name__, "severity_ip": sigma_ip, "severity_dm": sigma_dm}
        prob, out = model_outputs(result, torch.stack([draws[s] for s in seeds]), energies)
        prob = prob.numpy()
        rule_f1 = {rule: f1_many(prob >= table[f"threshold_at_{rule}"].to_numpy()[:, None], y) for rule in THRESHOLD_RULES} if rules else {}
        for k in range(len(table)):
            row = {"model_index": k, **table.iloc[k][ID_COLUMNS].to_dict(), **grade}
            if f1:
                row["f1"] = f1_by_subset(prob[k] >= table["threshold"].iloc[k], y, np.zeros((len(y), 2), bool))["clean"]
            if rules:
                row.update({f"f1_at_{rule}": values[k] for rule, values in rule_f1.items()})
                row["auroc"], row["ap"] = float(roc_auc_score(y, prob[k])), float(average_precision_score(y, prob[k]))
            if out is not None:
                alpha, beta = out.alpha[k].mean(0), out.beta[k].mean(0)
                row.update(alpha_ip=alpha[0].item(), alpha_dm=alpha[1].item(), beta_ip=beta[0].item(), beta_dm=beta[1].item(),
                           total_energy=out.total_energy[k].mean().item())
            rows.append(row)
    return pd.DataFrame(rows)


def generalisation_curves(result: SweepResult, splits, nsr_db_levels=None, *, energies=None, failure=None, severities=None) -> pd.DataFrame:
    """F1 (and β) against NSR with only IP, then only DM, corrupted on every test sample; one row per model and level.

    Adds ``corrupted`` ("IP" or "DM") and ``nsr_db`` to :func:`noise_response`'s columns.
    With ``failure`` (as :func:`noise_response`) and ``severities`` instead of
    ``nsr_db_levels``, the curves are against the failure's severity: ``corrupted`` and
    ``severity`` are added instead.
    """
    if failure is not None or severities is not None:
        if failure is None or severities is None or nsr_db_levels is not None:
            raise ValueError("generalisation_curves takes nsr_db_levels (Gaussian noise), or failure and severities, not a mix")
        severities = [float(s) for s in severities]
        pairs = [(s, 0.0) for s in severities] + [(0.0, s) for s in severities]
        out = noise_response(result, splits, pairs, energies=energies, rules=True, failure=failure)
        out["corrupted"] = np.repeat(["IP"] * len(severities) + ["DM"] * len(severities), len(result.table))
        out["severity"] = out[["severity_ip", "severity_dm"]].max(axis=1)
        return out
    if nsr_db_levels is None:
        raise ValueError("nsr_db_levels must be a list of noise-to-signal ratios in dB (or give failure and severities)")
    sigmas = [float(nsr_db_to_sigma(db)) for db in nsr_db_levels]
    pairs = [(s, 0.0) for s in sigmas] + [(0.0, s) for s in sigmas]
    out = noise_response(result, splits, pairs, energies=energies, rules=True)
    out["corrupted"] = np.where(out["sigma_dm"] == 0.0, "IP", "DM")
    out["nsr_db"] = sigma_to_nsr_db(out[["sigma_ip", "sigma_dm"]].max(axis=1).to_numpy())
    return out


def study_curves(family_sweeps: dict, selected: dict, splits, nsr_db_levels, *, energies=None) -> pd.DataFrame:
    """:func:`generalisation_curves` of base, without, alternative and the selected ``with``, with a ``family`` column."""
    frames = [generalisation_curves(family_sweeps[f], splits, nsr_db_levels).assign(family=f) for f in ("base", "without", "alternative")]
    frames.append(generalisation_curves(selected, splits, nsr_db_levels, energies=energies).assign(family="with"))
    return pd.concat(frames, ignore_index=True)


def single_mode_f1(family_sweeps: dict, splits) -> dict[str, np.ndarray]:
    """Per-seed F1 on the (clean, or as the protocol left it) test set of the model that sees only the *other* mode.

    ``"IP"``: IP is failing, so the DM-only model's F1; ``"DM"``: the IP-only model's.
    """
    return {"IP": noise_response(family_sweeps["dm_only"], splits, [(0.0, 0.0)]).sort_values("seed")["f1"].to_numpy(),
            "DM": noise_response(family_sweeps["ip_only"], splits, [(0.0, 0.0)]).sort_values("seed")["f1"].to_numpy()}


@torch.no_grad()
def per_sample_outcomes(result: SweepResult, splits, sigma: float | None, *, energies=None, clean_fraction: float = 0.5, draw: int = 0,
                        failure: Failure | None = None) -> pd.DataFrame:
    """Each test sample's outcome under the thesis scheme at noise σ (or with ``failure``), for every model; the whole set is one call.

    ``failure`` (a :class:`~emma.data.failures.Failure`) replaces ``Gaussian(sigma)``; give
    ``sigma=None`` with it. The cases keep their names ("IP noisy" is IP failed).

    Returns
    -------
    DataFrame
        One row per (model, sample): ``model_index``, ``seed``, ``pulsar`` (bool),
        ``case`` ("clean", "IP noisy", "DM noisy"), ``correct`` (bool) and, for
        ``with``, the sample's ``alpha_ip``, ``alpha_dm``, ``beta_ip``, ``beta_dm``, ``total_energy``.
    """
    table = result.table
    x0, y = splits.test.x.detach().cpu(), splits.test.y.cpu().numpy().astype(bool)
    seeds = table["seed"].tolist()
    if (failure is None) == (sigma is None):
        raise ValueError(f"give sigma (Gaussian noise) or failure, not both nor neither; got sigma={sigma!r}, failure={failure!r}")
    failure = Gaussian(sigma) if failure is None else check_failure(failure)
    draws = {s: corrupt_modes(x0, failure, torch.Generator().manual_seed(4_000_037 * (1 + draw) + s), clean_fraction, Standardization.of(splits))
             for s in set(seeds)}
    prob, out = model_outputs(result, torch.stack([draws[s][0] for s in seeds]), energies)
    frames = []
    for k in range(len(table)):
        mask = draws[seeds[k]][1].numpy()
        frame = pd.DataFrame({"model_index": k, "seed": seeds[k], "pulsar": y, "case": [CASES[(bool(a), bool(b))] for a, b in mask],
                              "correct": (prob[k].numpy() >= table["threshold"].iloc[k]) == y})
        if out is not None:
            frame["alpha_ip"], frame["alpha_dm"] = out.alpha[k, :, 0].numpy(), out.alpha[k, :, 1].numpy()
            frame["beta_ip"], frame["beta_dm"] = out.beta[k, :, 0].numpy(), out.beta[k, :, 1].numpy()
            frame["total_energy"] = out.total_energy[k].numpy()
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


@torch.no_grad()
def score_on_test(result: SweepResult, splits, *, energies=None, threshold: float | None = None) -> pd.DataFrame:
    """F1 per test subset of every model on the corrupted test set it was scored on, each subset one call.

    ``threshold`` replaces every model's own threshold when given; by default the result
    reproduces ``result.table``.
    """
    settings = TrainSettings(**result.settings)
    draws = {s: corrupted_split(splits, "test", s, settings) for s in set(result.table["seed"].tolist())}
    return _score_subsets(result, splits, draws, energies, threshold)


def _score_subsets(result: SweepResult, splits, draws: dict, energies, threshold=None, names=None) -> pd.DataFrame:
    """F1 per test subset of every model on its seed's ``draws[seed] = (x, mask)``, each subset one call."""
    table = result.table
    seeds = table["seed"].tolist()
    x = torch.stack([draws[s][0] for s in seeds])
    masks = torch.stack([draws[s][1] for s in seeds])  # (K, n, 2)
    prob, _ = model_outputs(result, x, energies, groups=masks[..., 0].long() + 2 * masks[..., 1].long())
    y = splits.test.y.cpu().numpy()
    out = []
    for k in range(len(table)):
        t = table["threshold"].iloc[k] if threshold is None else float(threshold)
        f1 = f1_by_subset(prob[k].numpy() >= t, y, masks[k].numpy())
        out.append({**table.iloc[k][ID_COLUMNS].to_dict(), **{f"f1_{(names or {}).get(n, n)}": v for n, v in f1.items()}, "threshold": t})
    return pd.DataFrame(out)


@torch.no_grad()
def score_on_failure(result: SweepResult, splits, failure: Failure, *, energies=None, draw: int | None = None,
                     clean_fraction: float | None = None) -> pd.DataFrame:
    """F1 on clean, IP-failed and DM-failed test samples of every model when the test set suffers ``failure``.

    The thesis's scheme (:func:`emma.data.failures.corrupt_modes`) is applied to the clean
    test split with ``failure``, whatever failure the sweep was trained on; each subset is
    one call, as in :func:`score_on_test`.

    Parameters
    ----------
    result, splits, energies
        As :func:`score_on_test`.
    failure : Failure
    draw : int, optional
        None (default): each seed's own test-stream generator
        (:func:`emma.engine.streams.noise_generator`), so the same samples fail as in the
        sweep's table and the sweep's own failure reproduces :func:`score_on_test`. An
        integer: an independent draw per seed.
    clean_fraction : float, optional
        The sweep's when None.

    Returns
    -------
    DataFrame
        One row per model: its identity, ``failure`` (label), ``f1_clean``,
        ``f1_ip_failed``, ``f1_dm_failed`` and ``threshold`` (its own).
    """
    check_failure(failure)
    if draw is not None and (isinstance(draw, bool) or not isinstance(draw, (int, np.integer)) or draw < 0):
        raise ValueError(f"draw must be None or a non-negative integer, got {draw!r}")
    settings = TrainSettings(**result.settings)
    fraction = settings.clean_fraction if clean_fraction is None else clean_fraction
    standardization = Standardization.of(splits)
    x0 = splits.test.x.detach().cpu()
    draws = {}
    for s in set(result.table["seed"].tolist()):
        generator = noise_generator(s, "test") if draw is None else torch.Generator().manual_seed(5_000_011 * (1 + int(draw)) + s)
        draws[s] = corrupt_modes(x0, failure, generator, fraction, standardization)
    out = _score_subsets(result, splits, draws, energies, names={"ip_noisy": "ip_failed", "dm_noisy": "dm_failed"})
    out.insert(len(ID_COLUMNS), "failure", failure.label)
    return out
