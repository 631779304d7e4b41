"""Beyond Gaussian noise: EMMA and its baselines when a mode fails in other ways (the chapter of that name).

The thesis corrupts a mode with Gaussian noise only. Here each model family is trained on the
thesis's scheme (50 % clean samples, 25 % with IP failed, 25 % with DM failed) under one
failure of :mod:`emma.data.failures`, and tested under every failure:

* :func:`train_under_failures`: one ``base`` sweep on clean data, then one sweep per
  (family, training failure), every seed stacked (:func:`emma.engine.launch.run_sweep`);
* :func:`cross_scores`: F1 on clean and on failed test samples, per model and test failure
  (:func:`emma.engine.evaluation.score_on_failure`);
* :func:`energy_view`: what the potential energy Ψ sees of each failure, the AUROC
  (:func:`sklearn.metrics.roc_auc_score`) of Ψ_i separating failed from clean samples of mode i;
* :func:`failure_claims`: the chapter's claims, registered per failure
  (:mod:`emma.claims.registry.beyond`), judged by one-sided paired t-tests over seeds against
  their minimum effects (:func:`emma.claims.rules.paired_test`), Holm-corrected together
  (:func:`emma.claims.rules.apply_holm`).
"""
from __future__ import annotations

import contextlib
import dataclasses
from typing import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from sklearn.metrics import roc_auc_score

from emma.claims.registry import min_effect, register_failure_claims
from emma.claims.rules import INCONCLUSIVE, REPRODUCED, apply_holm, claims_table, paired_test
from emma.data.failures import Failure, Standardization, check_failure, fail_every_sample, failure_family
from emma.data.htru2 import MODE_NAMES
from emma.engine.configs import TrainSettings
from emma.engine.evaluation import base_for, score_on_failure
from emma.engine.launch import run_sweep
from emma.engine.protocol import SOUND
from emma.engine.registry import get_family
from emma.experiments.modes_verdicts import judge_sub_cases, weakest_evidence
from emma.util import checks
from emma.util.plots import FAMILY_COLORS
from emma.util.runtime import resolve_device, worker_pool
from emma.util.tables import over_seeds

#: How the prose names each family.
FAMILY_WORDS = {"base": "base", "without": "data augmentation", "alternative": "the attention fusion", "with": "EMMA", "gated": "the Ψ gate"}
#: The families :func:`train_under_failures` may send to a worker process (the thesis's: importable there, unlike a family
#: registered in a notebook).
POOLED = ("with", "without", "alternative")
#: The columns of :func:`cross_scores` that score samples with a failed mode.
FAILED_COLUMNS = ("f1_ip_failed", "f1_dm_failed")
_NO_THESIS = "none: the thesis tests Gaussian noise only"


def _check_failures(failures) -> dict[str, Failure]:
    if not isinstance(failures, Mapping) or not failures:
        raise ValueError(f"failures must be a non-empty mapping of names to Failure objects, got {failures!r}")
    return {str(name): check_failure(f, f"failures[{name!r}]") for name, f in failures.items()}


def train_under_failures(splits, failures, families, seeds, settings: TrainSettings, *, energies, config: Mapping[str, float],
                         device="cpu", cache_dir=None, progress=None, workers: int = 1) -> dict:
    """Train ``base`` on clean data, then every family of ``families`` under every training failure.

    Parameters
    ----------
    splits : emma.data.splits.Splits
    failures : mapping of str to Failure
        The training failures, by the name the tables use.
    families : sequence of str
        Registered families (:func:`emma.engine.registry.get_family`); those ``from_base``
        start from the ``base`` model of their seed.
    seeds : list of int
    settings : TrainSettings
        The training settings; its failure is replaced by each of ``failures`` in turn.
    energies : dict
        ``{(seed, False): EnergyModels}`` (:func:`emma.experiments.study.fit_study_energies`), for
        the families that use energies.
    config : mapping
        ``rho``, ``lambda_c`` and ``lambda_e`` of every model (the families without
        attention ignore them).
    device, cache_dir, progress
        As :func:`emma.engine.launch.run_sweep`.
    workers : int
        With 2 or more (on the CPU), the sweeps of the thesis's families (:data:`POOLED`:
        importable in a spawned process, unlike a family registered in a notebook) queue for one
        worker process while this one trains the others, then takes back from the end of the queue
        what the worker has not started; each sweep is independent, so the results are those of
        one after the other (tested). The sweeps are small (one model per seed) and run on one
        thread each, so a second core would otherwise idle.

    Returns
    -------
    dict
        ``{"base": base sweep, (family, failure name): sweep}``.
    """
    failures = _check_failures(failures)
    seeds = checks.seeds(seeds)
    specs = [get_family(f) for f in families]
    if not isinstance(settings, TrainSettings):
        raise TypeError(f"settings must be a TrainSettings, got {type(settings).__name__}")
    row = {name: checks.number(config[name], f"config[{name!r}]", low=0.0) for name in ("rho", "lambda_c", "lambda_e")}
    models = pd.DataFrame([{"seed": s, **row} for s in seeds])
    workers = checks.positive_int(workers, "workers")
    base = run_sweep("base", models, splits, settings, device=device, cache_dir=cache_dir, progress=progress)
    jobs = {}  # (family, failure name) -> the arguments of its sweep
    for name, failure in failures.items():
        trained = dataclasses.replace(settings, failure=failure)
        for spec in specs:
            start = base_for(base, models["seed"], [SOUND] * len(models)) if spec.from_base else None
            jobs[(spec.name, name)] = dict(family=spec.name, configs=models, splits=splits, settings=trained, base=start,
                                           energies=energies if spec.uses_energies else None, device=device, cache_dir=cache_dir)
    away = [key for key in jobs if key[0] in POOLED] if workers > 1 and resolve_device(device).type == "cpu" else []
    away.sort(key=lambda key: key[0] != "with")  # the longest first: this process takes the short ones left at the end
    with worker_pool(1) if away else contextlib.nullcontext() as pool:
        futures = {key: pool.submit(run_sweep, **jobs[key], progress=False, one_thread=True) for key in away}
        done = {key: run_sweep(**job, progress=progress, one_thread=bool(away)) for key, job in jobs.items() if key not in futures}
        for key in reversed(away):  # then it takes back, from the end of the queue, what the worker has not started
            if futures[key].cancel():
                done[key] = run_sweep(**jobs[key], progress=progress, one_thread=True)
        done.update({key: future.result() for key, future in futures.items() if not future.cancelled()})
    return {"base": base, **{key: done[key] for key in jobs}}


def cross_scores(sweeps: dict, splits, test_failures, *, energies) -> pd.DataFrame:
    """F1 of every trained model under every test failure (the thesis's scheme on the test split).

    Returns
    -------
    DataFrame
        One row per (family, training failure, test failure, seed): ``family``, ``trained_on``
        and ``tested_on`` (names of ``sweeps``'s keys and of ``test_failures``), ``severity`` (the
        test failure's :attr:`~emma.data.failures.Failure.severity`, in its own units: σ for
        :class:`~emma.data.failures.Gaussian`, a blend fraction for the package's others, what a new
        failure says it is), ``seed``,
        ``f1_clean``, ``f1_ip_failed``, ``f1_dm_failed`` and ``f1_failed``, their mean.
    """
    test_failures = _check_failures(test_failures)
    frames = []
    for key, result in sweeps.items():
        family, trained_on = ("base", "none (clean)") if key == "base" else key
        uses = get_family(result.family).uses_energies
        for tested_on, failure in test_failures.items():
            scores = score_on_failure(result, splits, failure, energies=energies if uses else None)
            frames.append(pd.DataFrame({"family": family, "trained_on": trained_on, "tested_on": tested_on, "severity": failure.severity,
                                        "seed": scores["seed"],
                                        "f1_clean": scores["f1_clean"], **{c: scores[c] for c in FAILED_COLUMNS}}))
    out = pd.concat(frames, ignore_index=True)
    out["f1_failed"] = out[list(FAILED_COLUMNS)].mean(axis=1)
    return out


@torch.no_grad()
def energy_view(energies: Mapping, splits, failures, seeds, *, draw: int = 0) -> pd.DataFrame:
    """What Ψ_i sees when mode i fails: AUROC of Ψ_i separating failed from clean test samples, per seed.

    Every test sample is taken twice, clean and with mode i failed
    (:func:`emma.data.failures.fail_every_sample`); the AUROC is that of the score Ψ_i for
    "failed" (0.5: Ψ cannot tell; 1: every failed sample has a higher Ψ_i than every clean one).
    ``shift`` is the median of Ψ_i(failed) − Ψ_i(clean) over samples, in units of the clean
    Ψ_i's interquartile range.
    """
    failures = _check_failures(failures)
    seeds = checks.seeds(seeds)
    x = splits.test.x.detach().cpu()
    standardization = Standardization.of(splits)
    rows = []
    for seed in seeds:
        model = energies[(seed, False)]
        clean = model.potentials(x).cpu().numpy()
        for name, failure in failures.items():
            for m, mode in enumerate(MODE_NAMES):
                severities = [0.0] * len(MODE_NAMES)
                severities[m] = failure.severity
                generator = torch.Generator().manual_seed(7_000_003 * (1 + draw) + seed)
                failed = model.potentials(fail_every_sample(x, failure_family(failure), severities, generator, standardization)).cpu().numpy()
                labels = np.r_[np.zeros(len(x)), np.ones(len(x))]
                q1, q3 = np.percentile(clean[:, m], [25, 75])
                rows.append({"seed": seed, "failure": name, "mode": mode, "auroc": roc_auc_score(labels, np.r_[clean[:, m], failed[:, m]]),
                             "shift": float(np.median(failed[:, m] - clean[:, m]) / (q3 - q1))})
    return pd.DataFrame(rows)


def _per_seed(scores: pd.DataFrame, family: str, trained_on: str, tested_on: str, column: str = "f1_failed") -> pd.Series:
    hit = scores[(scores["family"] == family) & (scores["trained_on"] == trained_on) & (scores["tested_on"] == tested_on)]
    if hit.empty:
        raise ValueError(f"scores hold no row for family {family!r} trained on {trained_on!r}, tested on {tested_on!r}")
    return hit.set_index("seed")[column].sort_index()


def _comparison(scores, ours, reference, trained_on, tested_on, claim_id, alpha) -> dict:
    a, b = _per_seed(scores, ours, trained_on, tested_on), _per_seed(scores, reference, trained_on, tested_on)
    test = paired_test(a.to_numpy(), b.loc[a.index].to_numpy(), min_effect=min_effect(claim_id), alpha=alpha)
    return {"id": claim_id, "thesis_evidence": _NO_THESIS, **test.row(),
            "our_evidence": f"F1 on failed samples {a.mean():.3f} vs {b.mean():.3f}: {test.describe(3)}"}


def _energy_row(view: pd.DataFrame, failure: str, claim_id: str, alpha: float) -> dict:
    tests = {}
    for mode in MODE_NAMES:
        auroc = view[(view["failure"] == failure) & (view["mode"] == mode)].sort_values("seed")["auroc"].to_numpy()
        if not len(auroc):
            raise ValueError(f"view holds no AUROC for failure {failure!r} and mode {mode!r}")
        tests[mode] = paired_test(auroc, np.full(len(auroc), 0.5), min_effect=min_effect(claim_id), alpha=alpha)
    judged = judge_sub_cases({mode: test.verdict for mode, test in tests.items()})
    return {"id": claim_id, "thesis_evidence": _NO_THESIS, **judged, **weakest_evidence(test.row() for test in tests.values()),
            "our_evidence": "AUROC − 0.5: " + "; ".join(f"{mode} {test.describe(2)}" for mode, test in tests.items())
                            + f"; {judged['cases']} (evidence columns: the weaker mode)"}


def failure_claims(scores: pd.DataFrame, view: pd.DataFrame, failures, *, gaussian: str = "gaussian", gate: str = "gated",
                   alpha: float = 0.05) -> pd.DataFrame:
    """The chapter's claims for the failures ``failures``, every test Holm-corrected together.

    The claims are built and registered from one wording per question
    (:func:`emma.claims.registry.register_failure_claims`, minimum effects included). For
    each failure f: EMMA (``with``) beats data augmentation (``without``) on samples with a failed
    mode when both are trained and tested on f; for f other than ``gaussian``, EMMA trained on
    ``gaussian`` beats data augmentation trained on it, tested on f; EMMA beats the Ψ gate
    (``gate``) trained and tested on f (each a paired t-test over seeds of the F1 on failed
    samples); and Ψ flags f: two sub-cases, IP and DM, each a t-test over seeds of the AUROC of
    Ψ_i against chance (the row carries the weaker one's evidence).

    Returns
    -------
    DataFrame
        The claims table (:func:`emma.claims.rules.claims_table`) with ``p_holm``
        (:func:`emma.claims.rules.apply_holm`).
    """
    names = list(_check_failures(failures))
    ids = iter(register_failure_claims(names, gaussian))  # in the order the rows are built below
    blocks = {"beats_augmentation": [_comparison(scores, "with", "without", f, f, next(ids), alpha) for f in names],
              "transfer": [_comparison(scores, "with", "without", gaussian, f, next(ids), alpha) for f in names if f != gaussian],
              "beats_gate": [_comparison(scores, "with", gate, f, f, next(ids), alpha) for f in names],
              "energy_flags": [_energy_row(view, f, next(ids), alpha) for f in names]}
    return apply_holm(claims_table([{**row, "question": question} for question, rows in blocks.items() for row in rows]), alpha)


def describe_energy(view: pd.DataFrame) -> str:
    """One sentence per failure, from :func:`energy_view`: the mean AUROC of Ψ_i for each mode, highest first."""
    means = view.groupby(["failure", "mode"], sort=False)["auroc"].mean().unstack("mode")
    order = means.mean(axis=1).sort_values(ascending=False).index
    parts = [f"{name} ({', '.join(f'{mode} {means.loc[name, mode]:.2f}' for mode in MODE_NAMES)})" for name in order]
    return ("Averaged over seeds, the AUROC of Ψ_i for a failed mode i is, from the most visible failure to the least: "
            + "; ".join(parts) + ".")


def describe_scores(scores: pd.DataFrame, failures, *, gaussian: str = "gaussian") -> str:
    """Markdown bullets from :func:`cross_scores`: per test failure, the best family trained on it and what Gaussian training gives."""
    names = list(_check_failures(failures))
    mean = scores.groupby(["family", "trained_on", "tested_on"])["f1_failed"].mean()
    lines = []
    for f in names:
        trained = mean.xs((f, f), level=("trained_on", "tested_on"))
        best = trained.idxmax()
        base = mean.loc[("base", "none (clean)", f)]
        line = (f"- Tested on {f}: trained on the same failure, {FAMILY_WORDS.get(best, best)} scores best on failed samples "
                f"(F1 {trained.max():.3f}; EMMA {trained['with']:.3f}, data augmentation {trained['without']:.3f}; "
                f"base, trained on clean data, {base:.3f})")
        if f != gaussian:
            line += (f"; trained on {gaussian} noise instead, EMMA scores {mean.loc[('with', gaussian, f)]:.3f} "
                     f"and data augmentation {mean.loc[('without', gaussian, f)]:.3f}")
        lines.append(line + ".")
    return "\n".join(lines)


def score_grid(scores: pd.DataFrame, failures) -> pd.DataFrame:
    """F1 on failed samples over seeds (:func:`emma.util.tables.over_seeds`), one row per (family, training
    failure), one column per test failure, each cell "mean ± std" (the mean alone for one seed)."""
    names = list(_check_failures(failures))
    table = over_seeds(scores, ["family", "trained_on", "tested_on"], ["f1_failed"])
    table["cell"] = [f"{m:.3f}" if pd.isna(s) else f"{m:.3f} ± {s:.3f}" for m, s in zip(table["f1_failed_mean"], table["f1_failed_std"])]
    grid = table.pivot(index=["family", "trained_on"], columns="tested_on", values="cell")
    order = table[["family", "trained_on"]].drop_duplicates()  # first-seen order, not alphabetical
    return grid.loc[list(order.itertuples(index=False, name=None)), names].reset_index()


def energy_figure(view: pd.DataFrame, failures):
    """AUROC of Ψ_i per failure, one dot per seed, one colour per failed mode, 0.5 dashed."""
    names = list(_check_failures(failures))
    fig, ax = plt.subplots(figsize=(6, 3))
    for m, (mode, group) in enumerate(view.groupby("mode", sort=False)):
        ax.scatter([names.index(f) + (m - 0.5) * 0.25 for f in group["failure"]], group["auroc"], label=mode, alpha=0.8)
    ax.axhline(0.5, color="grey", linestyle="--", linewidth=1)
    ax.set_xticks(range(len(names)), names)
    ax.set_ylabel("AUROC of Ψ_i")
    ax.legend(title="failed mode")
    fig.tight_layout()
    return fig


def scores_figure(scores: pd.DataFrame, failures, families, *, gaussian: str = "gaussian"):
    """One panel per test failure: F1 on failed samples of each family trained on that failure (filled)
    and on ``gaussian`` (open; base, trained on clean data, once), mean over seeds ± one std."""
    names = list(_check_failures(failures))
    table = over_seeds(scores, ["family", "trained_on", "tested_on"], ["f1_failed"]).set_index(["family", "trained_on", "tested_on"])
    fig, axes = plt.subplots(1, len(names), figsize=(12, 3.2), sharey=True, squeeze=False)
    for ax, tested in zip(axes[0], names):
        for j, family in enumerate(families):
            trainings = [("none (clean)", None)] if family == "base" else [(tested, None), (gaussian, "none")]
            for k, (trained, face) in enumerate(trainings):
                row = table.loc[(family, trained, tested)]
                ax.errorbar(j + (0.15 * (2 * k - 1) if len(trainings) > 1 else 0.0), row["f1_failed_mean"],
                            yerr=None if pd.isna(row["f1_failed_std"]) else row["f1_failed_std"], fmt="o", mfc=face,
                            color=FAMILY_COLORS.get(family, f"C{j}"), capsize=2)
        ax.set_title(f"tested on {tested}")
        ax.set_xticks(range(len(families)), list(families), rotation=30)
    axes[0][0].set_ylabel("F1, failed samples")
    fig.tight_layout()
    return fig


def describe_claims(claims: pd.DataFrame, alpha: float = 0.05) -> str:
    """Markdown bullets from :func:`failure_claims`: per question, how many of its claims hold after Holm's correction, and how many are inconclusive."""
    labels = {"beats_augmentation": "EMMA beats data augmentation, both trained and tested on the same failure",
              "transfer": "EMMA trained on Gaussian noise beats data augmentation trained on it, tested on another failure",
              "beats_gate": "EMMA beats the Ψ gate, both trained and tested on the same failure",
              "energy_flags": "The potential energy flags the failure"}
    if "question" not in claims:
        raise ValueError("claims lacks the column 'question': it is failure_claims's table")
    lines = []
    for question, label in labels.items():
        verdicts = claims.loc[claims["question"] == question, "verdict"]
        lines.append(f"- {label}: {(verdicts == REPRODUCED).sum()} of {len(verdicts)} claims hold at level {alpha} after Holm's correction"
                     f" ({(verdicts == INCONCLUSIVE).sum()} inconclusive).")
    return "\n".join(lines)
