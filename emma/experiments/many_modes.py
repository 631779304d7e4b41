"""The chapter :doc:`More than two modes </book/chapters/09_many_modes>` as results: one call per section.

The data and the summaries are :mod:`emma.experiments.modes`, the training
:mod:`emma.experiments.modes_study`, the verdicts :mod:`emma.experiments.modes_verdicts`; the
figures :mod:`emma.experiments.modes_figures`. This module runs the chapter's study and derives
what each of its sections shows, as typed results:

* :func:`constraint_levels`: which numbers of corrupted modes keep the constraint of eq. 5.19–5.21;
* :func:`run_study` (:class:`ModesStudy`): every data set and M, all seeds and k at once;
* :func:`describe_wins`: where "with" beats "without", in words;
* :func:`regularizer_effect` (:class:`RegularizerEffect`): the energy regularizer's effect per seed and cell;
* :func:`coldness_study` (:class:`ColdnessStudy`): the coldness sweep and the coldness needed;
* :func:`one_corrupted`: the runs with one corrupted mode, where the scores could vanish;
* :func:`step_cost_study` (:class:`StepCost`): the cost of a training step against M;
* :func:`claim_sentences`: the claims table in words.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from tqdm.auto import tqdm

from emma.experiments import modes, modes_study
from emma.experiments.modes import ModeData
from emma.util import checks
from emma.util.runtime import progress_disabled

#: The keys of one cell of the study: data set, M and k.
CELL = ["dataset", "n_modes", "n_corrupted"]


def _check_runs(runs, needed) -> pd.DataFrame:
    missing = [c for c in needed if not isinstance(runs, pd.DataFrame) or c not in runs]
    if missing:
        raise ValueError(f"runs must be the study's table of models (ModesStudy.runs), lacking the column(s) {missing}")
    return runs


def digit_data(digit_blocks) -> dict[int, ModeData]:
    """The digits cut into blocks of each side of ``digit_blocks``, and of sides 2 and 4 (the chapter's picture): ``{block: ModeData}``."""
    blocks = [checks.positive_int(b, "each of digit_blocks") for b in digit_blocks]
    return {block: modes.digit_modes(block) for block in sorted(set(blocks) | {2, 4})}


def constraint_levels(n_modes, max_levels: int) -> pd.DataFrame:
    """Per M of ``n_modes`` (sorted, once each): M' and the levels k of :func:`emma.experiments.modes.corrupted_levels`
    with the constraint (M − k ≥ M') and without it.

    >>> constraint_levels([4, 3], 7).to_dict("records")[0]
    {'M': 3, "M' = floor((M+1)/2)": 2, 'k with the constraint': '[1]', 'k without it': '[2]'}
    """
    return pd.DataFrame([{"M": m, "M' = floor((M+1)/2)": modes.clean_modes_needed(m),
                          "k with the constraint": str([k for k in modes.corrupted_levels(m, max_levels) if modes.constraint_holds(m, k)]),
                          "k without it": str([k for k in modes.corrupted_levels(m, max_levels) if not modes.constraint_holds(m, k)])}
                         for m in sorted(set(n_modes))])


@dataclass
class ModesStudy:
    """What :func:`run_study` returns.

    Attributes
    ----------
    runs : DataFrame
        One row per trained model (:func:`emma.experiments.modes_study.run_modes_study`'s results, every data set and M).
    histories : DataFrame
        Per EMMA model and epoch, the mean α of the corrupted and of the clean training modes.
    timing : DataFrame
        Per data set and M: the models trained, the training samples and the seconds it took.
    scaling : DataFrame
        :func:`emma.experiments.modes.mode_summary` at the main coldness (its column dropped): the table ``modes_scaling``.
    """

    runs: pd.DataFrame
    histories: pd.DataFrame
    timing: pd.DataFrame
    scaling: pd.DataFrame


def run_study(groups, settings: modes_study.StudySettings, *, seeds, coldness: float, sweep_coldness=(), max_levels: int = 7,
              split=(0.5, 0.25, 0.25), device="cpu") -> ModesStudy:
    """Train every model of every data set and M of ``groups``, in order.

    Parameters
    ----------
    groups : list of (str, ModeData)
        Each data set's name and data, e.g. ``("synthetic", synthetic_modes(...))``; the coldness
        sweep ``sweep_coldness`` runs on the ``"synthetic"`` ones only.
    settings : StudySettings
    seeds : list of int
    coldness : float
        ρ of the main study.
    sweep_coldness : sequence of float
        ρ of the sweep, at k = ⌊M/2⌋.
    max_levels : int
        As :func:`emma.experiments.modes.corrupted_levels`.
    split : sequence of 3 floats
        Train, validation and test shares.
    device : str or torch.device
    """
    if not groups or any(not isinstance(name, str) or not isinstance(data, ModeData) for name, data in groups):
        raise ValueError("groups must be a non-empty list of (name, ModeData) pairs")
    runs, histories, timing = [], [], []
    for name, data in tqdm(groups, desc="data sets and M", disable=progress_disabled()):
        start, m = time.perf_counter(), data.x.shape[1]
        configs = modes_study.study_configs(m, modes.corrupted_levels(m, max_levels), seeds, coldness, sweep_coldness if name == "synthetic" else ())
        result, history, state = modes_study.run_modes_study(data, configs, settings, fractions=split, device=device, dataset=name)
        runs.append(result), histories.append(history)
        timing.append({"dataset": name, "n_modes": m, "models": len(configs), "train_samples": len(state["splits"][seeds[0]][0].y),
                       "seconds": round(time.perf_counter() - start, 1)})
    runs, histories = pd.concat(runs, ignore_index=True), pd.concat(histories, ignore_index=True)
    summary = modes.mode_summary(runs)
    scaling = summary[np.isclose(summary["coldness"], coldness)].drop(columns="coldness").reset_index(drop=True)
    return ModesStudy(runs, histories, pd.DataFrame(timing), scaling)


def describe_wins(runs: pd.DataFrame, coldness: float) -> str:
    """In how many cells (data set, M, k) "with" beats "without" on average over seeds, with the constraint and without it,
    and the cells where "without" wins."""
    wins = modes.paired_differences(runs, "with", "without", coldness).groupby([*CELL, "constraint_holds"])["d_score"].mean().reset_index()
    losses = wins[wins["d_score"] < 0]
    return (f"On average over seeds, \"with\" beats \"without\" in {int((wins['constraint_holds'] & (wins['d_score'] > 0)).sum())} of "
            f"{int(wins['constraint_holds'].sum())} cells with the constraint and in {int((~wins['constraint_holds'] & (wins['d_score'] > 0)).sum())} of "
            f"{int((~wins['constraint_holds']).sum())} cells without it. \"Without\" wins in: "
            + (", ".join(f"{r.dataset} M = {r.n_modes}, k = {r.n_corrupted} ({r.d_score:+.3f})" for r in losses.itertuples()) or "no cell") + ".")


@dataclass
class RegularizerEffect:
    """What :func:`regularizer_effect` returns: the energy regularizer Ω's effect, "with" minus "with, λ_e = 0".

    Attributes
    ----------
    effect : DataFrame
        Per data set, M, k and seed (:func:`emma.experiments.modes.paired_differences`): ``d_score``,
        ``d_alpha_corrupted``, ``bracket`` (2k − M) and ``constraint_holds``.
    cells : DataFrame
        ``effect`` per data set, M and k: the mean and standard deviation of ``d_score`` and ``d_alpha_corrupted``.
    """

    effect: pd.DataFrame
    cells: pd.DataFrame

    def describe(self) -> str:
        """The effect on either side of the constraint, its one-sided Mann–Whitney tests, and the cells where Ω harms, in words."""
        holds, broken = self.effect[self.effect["constraint_holds"]], self.effect[~self.effect["constraint_holds"]]
        score_test = stats.mannwhitneyu(broken["d_score"], holds["d_score"], alternative="less")
        alpha_test = stats.mannwhitneyu(broken["d_alpha_corrupted"], holds["d_alpha_corrupted"], alternative="greater")
        cells = self.cells
        wrong_way = cells[cells["d_alpha_corrupted_mean"] > 0]
        costly = cells[cells["constraint_holds"] & (cells["d_score_mean"] + cells["d_score_std"] < 0)]
        return (f"Mean effect of Ω on accuracy: {holds['d_score'].mean():+.4f} with the constraint, {broken['d_score'].mean():+.4f} without "
                f"(one-sided Mann–Whitney, lower without: p = {score_test.pvalue:.2g}). On the importance of the corrupted modes: "
                f"{holds['d_alpha_corrupted'].mean():+.4f} with, {broken['d_alpha_corrupted'].mean():+.4f} without (higher without: "
                f"p = {alpha_test.pvalue:.2g}). Ω *raises* the corrupted modes' importance, the wrong way, in {len(wrong_way)} of {len(cells)} cells: "
                + (", ".join(f"{r.dataset} M = {r.n_modes}, k = {r.n_corrupted} (2k − M = {r.bracket}, accuracy {r.d_score_mean:+.3f})"
                             for r in wrong_way.itertuples()) or "none")
                + ". Cells with the constraint where Ω costs accuracy by more than one standard deviation: "
                + (", ".join(f"{r.dataset} M = {r.n_modes}, k = {r.n_corrupted} ({r.d_score_mean:+.3f})" for r in costly.itertuples()) or "none") + ".")


def regularizer_effect(runs: pd.DataFrame, coldness: float) -> RegularizerEffect:
    """The effect of the energy regularizer at ``coldness``: "with" minus "with, λ_e = 0", per seed and per cell."""
    effect = modes.paired_differences(_check_runs(runs, [*CELL, "seed", "model", "coldness", "score"]), "with", "with, λ_e = 0", coldness)
    cells = effect.groupby([*CELL, "bracket", "constraint_holds"])[["d_score", "d_alpha_corrupted"]].agg(["mean", "std"])
    cells.columns = [f"{a}_{b}" for a, b in cells.columns]
    return RegularizerEffect(effect, cells.reset_index())


@dataclass
class ColdnessStudy:
    """What :func:`coldness_study` returns: "with" on the synthetic task at each ρ of the sweep, k = ⌊M/2⌋.

    Attributes
    ----------
    sweep : DataFrame
        Per M, ρ and seed: the runs, with the separation (ᾱ_clean − ᾱ_corrupted)·(M − k).
    means : DataFrame
        Per M and ρ: the mean and standard deviation over seeds of the scores, the separation, α, β and the gain.
    needed : DataFrame
        :func:`emma.experiments.modes.coldness_needed` per seed.
    needed_summary : DataFrame
        Per M: the median coldness needed (``rho_needed_median``) and best on validation (``rho_best_median``).
    table : DataFrame
        ``means`` with ``needed_summary``: the table ``modes_coldness``.
    level : float
        The separation that defines the coldness needed.
    """

    sweep: pd.DataFrame
    means: pd.DataFrame
    needed: pd.DataFrame
    needed_summary: pd.DataFrame
    table: pd.DataFrame
    level: float


def coldness_study(runs: pd.DataFrame, separation_level: float = 0.5) -> ColdnessStudy:
    """The coldness sweep of the study's ``runs``, and the coldness needed to reach ``separation_level``."""
    runs = _check_runs(runs, [*CELL, "seed", "model", "coldness", "alpha_clean", "alpha_corrupted"])
    sweep = runs[(runs["dataset"] == "synthetic") & (runs["model"] == "with") & (runs["n_corrupted"] == runs["n_modes"] // 2)]
    if sweep.empty:
        raise ValueError("runs hold no synthetic run of 'with' at k = M // 2: the coldness sweep needs one")
    sweep = sweep.assign(separation=(sweep["alpha_clean"] - sweep["alpha_corrupted"]) * (sweep["n_modes"] - sweep["n_corrupted"]))
    means = sweep.groupby([*CELL, "coldness"])[["score", "score_val", "separation", "alpha_clean", "alpha_corrupted", "beta_clean", "gain"]]
    means = means.agg(["mean", "std"])
    means.columns = [f"{a}_{b}" for a, b in means.columns]
    means = means.reset_index()
    needed = modes.coldness_needed(sweep, level=separation_level)
    needed_summary = needed.groupby("n_modes").agg(rho_needed_median=("rho_needed", "median"), rho_best_median=("rho_best", "median")).reset_index()
    return ColdnessStudy(sweep, means, needed, needed_summary, means.merge(needed_summary, on="n_modes"), separation_level)


def one_corrupted(runs: pd.DataFrame, coldness: float) -> pd.DataFrame:
    """The runs of "with" on the synthetic task with one corrupted mode at ``coldness`` (the claim that the scores vanish)."""
    runs = _check_runs(runs, [*CELL, "model", "coldness"])
    return runs[(runs["dataset"] == "synthetic") & (runs["model"] == "with") & (runs["n_corrupted"] == 1) & np.isclose(runs["coldness"], coldness)]


@dataclass
class StepCost:
    """What :func:`step_cost_study` returns.

    Attributes
    ----------
    table : DataFrame
        :func:`emma.experiments.modes_study.step_cost`: milliseconds per step against M, per step timed.
    exponents : dict of str to float
        Per step (``with``, ``without``, ``attention``): the exponent p of time ∝ M^p on the three largest M.
    top : list of int
        The M the exponents are fitted on.
    """

    table: pd.DataFrame
    exponents: dict
    top: list


def step_cost_study(step_cost_modes, **settings) -> StepCost:
    """Time a training step at each M of ``step_cost_modes`` (``settings`` as :func:`emma.experiments.modes_study.step_cost`)
    and fit the exponent of each step on the three largest M."""
    if len(set(step_cost_modes)) < 2:
        raise ValueError(f"step_cost_modes must hold at least two different M to fit an exponent, got {step_cost_modes!r}")
    table = modes_study.step_cost(step_cost_modes, **settings)
    top = sorted(step_cost_modes)[-3:]
    exponents = {step: modes_study.loglog_slope(part.loc[part["n_modes"].isin(top), "n_modes"], part.loc[part["n_modes"].isin(top), "ms_median"])
                 for step, part in table.groupby("step")}
    return StepCost(table, exponents, top)


def claim_sentences(claims: pd.DataFrame) -> str:
    """One Markdown bullet per claim: the claim, its verdict in bold and its evidence."""
    if not isinstance(claims, pd.DataFrame) or not {"claim", "verdict", "our_evidence"} <= set(claims.columns):
        raise ValueError("claims must be a claims table with the columns claim, verdict and our_evidence")
    return "\n".join(f"- {row['claim']}: **{row['verdict']}**. {row['our_evidence']}." for _, row in claims.iterrows())
