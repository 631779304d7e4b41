"""The thesis's claims about the robustness study, judged from one protocol's results.

:func:`robustness_evidence` gathers, for one protocol, what the claims need (per-seed
test F1 of every family, the generalisation curves, β and total energy under noise, the
grid's noisy F1 against the learned capacity); :func:`robustness_claims` turns it into a
claims table with the rules of :mod:`emma.claims.rules` (paired one-sided t-tests over seeds,
a non-inferiority test, a flatness test (:mod:`emma.claims.plateau`), Holm's correction over the chapter's tests).
Running both on :data:`~emma.engine.protocol.SOUND` and :data:`~emma.engine.protocol.ORIGINAL` gives
``verdict_sound`` and ``verdict_original`` (:func:`both_protocols`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from emma.claims.plateau import levels_off
from emma.claims.registry import min_effect
from emma.claims.rules import apply_holm, claims_table, non_inferiority, paired_test, sub_cases
from emma.claims.thesis import THESIS_TABLE, TRAINING_NSR_DB
from emma.experiments.decision import past_training


@dataclass
class RobustnessEvidence:
    """What the claims of one protocol rest on (see :func:`robustness_evidence`)."""

    scores: dict  # family -> DataFrame of per-seed test F1 (one model per seed)
    curves: pd.DataFrame  # generalisation curves of base, without, alternative, with
    single_mode: dict  # "IP" (IP failing: the DM-only F1) and "DM" -> per-seed F1 on the clean test set
    attention: pd.DataFrame  # emma.experiments.interpretability.attention_contrast of the selected with
    errors: pd.DataFrame  # emma.experiments.interpretability.energy_error_auroc of the selected with
    grid: pd.DataFrame  # per configuration: mean noisy-test F1 and mean learned capacity
    capacities: pd.DataFrame  # per model of the grid: seed, rho, lambda_c, lambda_e, capacity
    regularizers: pd.DataFrame | None = None  # curves of the selected configuration with each regularizer at none / good / high


def robustness_evidence(sweeps: dict, selected: dict, grid_sweep: dict, grid_summary: pd.DataFrame, splits, energies, *, curves: pd.DataFrame,
                        single_mode: dict, attention_sigma: float, error_sigmas, regularizers: pd.DataFrame | None = None) -> RobustnessEvidence:
    """Collect the evidence of one protocol.

    Parameters
    ----------
    sweeps : dict of family to sweep result
        The baselines under one protocol (:func:`emma.experiments.study.under`), one model per seed.
    selected : dict
        The chosen ``with`` configuration under the same protocol, one model per seed.
    grid_sweep : dict
        The protocol's whole grid of ``with`` (the capacity claims read every model's capacity).
    grid_summary : DataFrame
        :func:`emma.engine.ranking.rank_grid` of that grid.
    curves, single_mode
        :func:`emma.engine.evaluation.study_curves` and :func:`emma.engine.evaluation.single_mode_f1` of the same models.
    attention_sigma : float
        σ of the noisy samples of the attention claims (training scheme).
    error_sigmas : sequence of float
        The σ levels on both modes of the total-energy claim.
    regularizers : DataFrame, optional
        Generalisation curves of the selected configuration with λ_c, then λ_e, at ``level`` none / good / high
        (columns ``regularizer, level, seed, nsr_db, f1``); without it the regularizer claims are left out.
    """
    from emma.experiments.interpretability import attention_contrast, energy_error_auroc

    attention = attention_contrast(selected, splits, energies=energies, sigma=attention_sigma)
    errors = energy_error_auroc(selected, splits, energies=energies, sigmas=error_sigmas)
    scores = {f: r.table.sort_values("seed") for f, r in {**sweeps, "with": selected}.items()}
    grid = grid_summary[["rho", "lambda_c", "lambda_e", "f1_noisy_test_mean", "capacity_mean"]].copy()
    capacities = grid_sweep.table[["seed", "rho", "lambda_c", "lambda_e", "capacity"]].copy()
    return RobustnessEvidence(scores, curves, single_mode, attention, errors, grid, capacities, regularizers)


def capacity_extremes(grid: pd.DataFrame, alpha: float = 0.05) -> dict:
    """§5.5: "too little and too much capacity both hurt", two sub-cases tested across the grid.

    Configurations are split at the median learned capacity. Too little hurts when noisy
    test F1 *rises* with capacity in the lower half; too much hurts when it *falls* in the
    upper half; each is a one-sided Spearman test (:func:`scipy.stats.spearmanr`).
    """
    grid = grid.dropna(subset=["capacity_mean", "f1_noisy_test_mean"])
    median = grid["capacity_mean"].median()
    out = {}
    for half, part, side in (("low", grid[grid["capacity_mean"] <= median], "greater"), ("high", grid[grid["capacity_mean"] > median], "less")):
        if len(part) < 3 or part["capacity_mean"].nunique() < 2:
            out[half] = (float("nan"), float("nan"))
            continue
        test = stats.spearmanr(part["capacity_mean"], part["f1_noisy_test_mean"], alternative=side)
        out[half] = (float(test.statistic), float(test.pvalue))
    judged = sub_cases({"too little hurts": bool(np.isfinite(out["low"][1]) and out["low"][1] < alpha),
                        "too much hurts": bool(np.isfinite(out["high"][1]) and out["high"][1] < alpha)})
    text = (f"{judged['cases']}. Spearman ρ of noisy test F1 on capacity below the median capacity {median:.3f}: {out['low'][0]:+.2f} "
            f"(p = {out['low'][1]:.2g}); above: {out['high'][0]:+.2f} (p = {out['high'][1]:.2g}), over {len(grid)} configurations")
    return {"verdict": judged["verdict"], "our_evidence": text}


def _thesis(model: str, column: int) -> float:
    return next(row[column] for row in THESIS_TABLE if row[0] == model)


def regularizer_test(curves: pd.DataFrame, name: str, claim_id: str, alpha: float = 0.05):
    """RQ2 for one regularizer: F1 past the training noise at its selected ("good") level − at none (0).

    ``curves`` holds ``regularizer, level, value, seed, nsr_db, f1``. Returns ``(PairedTest, text)``,
    or ``(None, why)`` when the selected level is 0 itself (nothing to compare).
    """
    part = curves[curves["regularizer"] == name]
    good, none = part[part["level"] == "good"], part[part["level"] == "none"]
    if good.empty or none.empty or np.isclose(good["value"].iloc[0], 0.0):
        return None, f"the selected {name} is 0: no regularized model to compare with 0"
    ours, theirs = past_training(good, TRAINING_NSR_DB), past_training(none, TRAINING_NSR_DB)
    common = ours.index.intersection(theirs.index)
    test = paired_test(ours[common].to_numpy(), theirs[common].to_numpy(), min_effect=min_effect(claim_id), alpha=alpha)
    return test, f"{name} = {good['value'].iloc[0]:g} − {name} = 0, F1 past the training NSR: {test.describe()}"


def robustness_claims(evidence: RobustnessEvidence, *, alpha: float = 0.05, top_k: int = 3, slope_tolerance: float = 0.005,
                      closeness: float = 0.05) -> pd.DataFrame:
    """One row per claim of the robustness study (registered in :mod:`emma.claims.registry.robustness`), with its evidence.

    Comparisons of two models are paired t-tests over seeds against the claim's minimum effect
    (:func:`emma.claims.rules.paired_test`); "keeps the clean accuracy" is non-inferiority; "levels
    off" is :func:`emma.claims.plateau.levels_off` (two sub-cases); Holm's correction runs over the
    tests of each kind (:func:`emma.claims.rules.apply_holm`).
    """
    s = evidence.scores
    rows = []

    def add(claim_id, thesis, what, test):
        rows.append({"id": claim_id, "thesis_evidence": thesis, "our_evidence": f"{what}: {test.describe()}", **test.row()})

    def noisy(family):
        return (s[family]["f1_ip_noisy"].to_numpy() + s[family]["f1_dm_noisy"].to_numpy()) / 2

    def beats(claim_id, ours, theirs):
        return paired_test(ours, theirs, min_effect=min_effect(claim_id), alpha=alpha)

    w_ip, w_dm, w_clean = _thesis("with", 5), _thesis("with", 6), _thesis("with", 4)
    for mode, column in (("ip", 5), ("dm", 6)):
        add(f"beats_augmentation_{mode}", f"with {_thesis('with', column)} vs without {_thesis('without', column)} (one run)",
            f"F1 {mode.upper()}-noisy, with − without",
            beats(f"beats_augmentation_{mode}", s["with"][f"f1_{mode}_noisy"].to_numpy(), s["without"][f"f1_{mode}_noisy"].to_numpy()))
    margin = -min_effect("keeps_clean_accuracy")
    add("keeps_clean_accuracy", f"with {w_clean} vs base {_thesis('base', 4)} on clean samples (one run)",
        f"F1 clean, with − base, non-inferiority margin {margin:g}",
        non_inferiority(s["with"]["f1_clean"].to_numpy(), s["base"]["f1_clean"].to_numpy(), margin, alpha=alpha))
    add("beats_alternative", f"with {w_ip} / {w_dm} vs alternative {_thesis('alternative', 5)} / {_thesis('alternative', 6)} (one run)",
        "mean noisy F1, with − alternative", beats("beats_alternative", noisy("with"), noisy("alternative")))
    add("beats_base_noisy", f"with {w_ip} / {w_dm} vs base {_thesis('base', 5)} / {_thesis('base', 6)} (one run)",
        "mean noisy F1, with − base", beats("beats_base_noisy", noisy("with"), noisy("base")))
    c = evidence.curves
    past = {family: past_training(c[c["family"] == family], TRAINING_NSR_DB) for family in ("with", "without")}
    add("generalises_past_training", "Figure: with above without from −6 dB to +10 dB",
        "F1 averaged over NSR levels above the training NSR and both modes, with − without",
        beats("generalises_past_training", past["with"].to_numpy(), past["without"].to_numpy()))
    for mode in ("IP", "DM"):
        part = c[(c["family"] == "with") & (c["corrupted"] == mode)].pivot_table(index="seed", columns="nsr_db", values="f1")
        test = levels_off(part.columns.to_numpy(), part.to_numpy(), float(np.mean(evidence.single_mode[mode])), top_k=top_k, slope_tolerance=slope_tolerance,
                          closeness=closeness, alpha=alpha)
        rows.append({"id": f"levels_off_{mode.lower()}", "thesis_evidence": "Figure: the with curve flattens near the single-mode line",
                     "our_evidence": f"{test.cases}; {test.describe()}", "verdict": test.verdict, "n_seeds": part.shape[0]})
    a = evidence.attention
    for mode in ("IP", "DM"):
        part = a[a["mode"] == mode].sort_values("seed")
        test = paired_test(part["drop"].to_numpy(), part["drop_shuffled"].to_numpy(), min_effect=min_effect(f"attention_shifts_{mode.lower()}"), alpha=alpha)
        add(f"attention_shifts_{mode.lower()}", "Figures: β surfaces fall along the noisy mode's axis",
            f"drop of β_{mode} from clean to {mode}-noisy samples at σ = {part['sigma'].iloc[0]:g} {part['drop'].mean():+.3f} "
            f"(shuffled potentials {part['drop_shuffled'].mean():+.3f}); EMMA − shuffled", test)
    e = evidence.errors.dropna(subset=["auroc_total_energy", "auroc_psi"]).sort_values("seed")  # NaN: a seed without errors
    add("total_energy_flags_errors", "Figure: Σ E_i rises as F1 falls (averages over the test set)",
        f"AUROC of the total energy for per-sample errors, mean {e['auroc_total_energy'].mean():.3f}, − chance 0.5",
        paired_test(e["auroc_total_energy"].to_numpy(), np.full(len(e), 0.5), min_effect=min_effect("total_energy_flags_errors"), alpha=alpha))
    add("total_energy_beyond_psi", "none: the thesis does not compare the total energy with Ψ",
        f"AUROC total energy {e['auroc_total_energy'].mean():.3f} − Σ Ψ_i {e['auroc_psi'].mean():.3f}",
        paired_test(e["auroc_total_energy"].to_numpy(), e["auroc_psi"].to_numpy(), min_effect=min_effect("total_energy_beyond_psi"), alpha=alpha))
    rows.append({"id": "capacity_extremes", "thesis_evidence": "§5.5, argued without a figure", **capacity_extremes(evidence.grid, alpha)})
    cap = evidence.capacities
    low, high = cap["lambda_c"].min(), cap["lambda_c"].max()
    keys = ["seed", "rho", "lambda_e"]
    pairs = cap[np.isclose(cap["lambda_c"], low)].merge(cap[np.isclose(cap["lambda_c"], high)], on=keys, suffixes=("_none", "_high"))
    add("capacity_regularizer_lowers_capacity", "eq. 5.11; the learned capacities of three models (0.49, 0.63, 0.19)",
        f"learned capacity at λ_c = {low:g} − at λ_c = {high:g}, over {len(pairs)} (seed, ρ, λ_e) cells",
        paired_test(pairs["capacity_none"].to_numpy(), pairs["capacity_high"].to_numpy(), min_effect=min_effect("capacity_regularizer_lowers_capacity"),
                    alpha=alpha))
    if evidence.regularizers is not None:
        for name, claim_id in (("lambda_c", "capacity_regularizer_generalises"), ("lambda_e", "energy_regularizer_generalises")):
            test, text = regularizer_test(evidence.regularizers, name, claim_id, alpha)
            if test is None:
                rows.append({"id": claim_id, "thesis_evidence": "Figures: influence of each regularizer (none / good / high)", "our_evidence": text,
                             "verdict": "inconclusive", "n_seeds": 0})
            else:
                rows.append({"id": claim_id, "thesis_evidence": "Figures: influence of each regularizer (none / good / high)", "our_evidence": text,
                             **test.row()})
    return apply_holm(claims_table(rows), alpha)


def both_protocols(sound: pd.DataFrame, original: pd.DataFrame) -> pd.DataFrame:
    """One claims table with ``verdict_sound`` and ``verdict_original``; ``verdict`` and the evidence columns are the sound protocol's (the headline).

    A claim the original protocol does not judge (no evidence under it) gets "—".
    """
    unknown = sorted(set(original["id"]) - set(sound["id"]))
    if unknown:
        raise ValueError(f"original judges claims that sound does not: {unknown}")
    out = sound.copy()
    out["verdict_sound"] = sound["verdict"]
    theirs = original.set_index("id")
    for column, target in (("verdict", "verdict_original"), ("our_evidence", "our_evidence_original"), ("p_holm", "p_holm_original"),
                           ("n_seeds", "n_seeds_original")):
        out[target] = [theirs.loc[i, column] if i in theirs.index else ("—" if column in ("verdict", "our_evidence") else np.nan) for i in out["id"]]
    return claims_table(out)


def robustness_summary(claims: pd.DataFrame, robustness_f1: pd.DataFrame, baselines: pd.DataFrame, *, selected: dict, grid_size: int,
                       edges: list, alpha: float = 0.05) -> str:
    """The chapter :doc:`Experiment II </book/chapters/06_robustness>`'s findings as Markdown bullets, every number from its tables.

    Parameters
    ----------
    claims : DataFrame
        The chapter's claims table (:func:`both_protocols`, then
        :func:`emma.experiments.decision.judge_claims_under_rules`).
    robustness_f1 : DataFrame
        The chapter's results table: ``model`` and ``rank_validation``.
    baselines : DataFrame
        ``model``, ``f1_clean_mean``, ``thesis_f1_clean`` of the baselines.
    selected : dict
        The configuration selected on validation: ``rho``, ``lambda_c``, ``lambda_e`` and ``rank_test``.
    edges : list of str
        The grid axes on whose largest or smallest value the selection lies (:func:`emma.engine.ranking.grid_edges`).
    """
    for name, table, columns in (("claims", claims, {"id", "claim", "verdict_sound", "verdict_original", "effect", "ci_low", "ci_high", "n_seeds",
                                                     "min_effect", "holds_under_sound"}),
                                 ("robustness_f1", robustness_f1, {"model", "rank_validation"}),
                                 ("baselines", baselines, {"model", "f1_clean_mean", "thesis_f1_clean"})):
        if not isinstance(table, pd.DataFrame) or not columns <= set(table.columns):
            raise ValueError(f"{name} must be a DataFrame with the columns {sorted(columns)}")
    lines = []
    for _, r in claims.iterrows():
        where = f" It holds under: {r['holds_under_sound']}." if r["holds_under_sound"] not in ("—", "no rule") else ""
        lines.append(f"- {r['claim']}: **{r['verdict_sound']}** under the book's protocol ({r['our_evidence']}); "
                     f"**{r['verdict_original']}** under the original code's.{where}")
    edge = (f"; it lies at the edge of the grid on {', '.join(edges)}, so a wider grid might choose otherwise" if edges else "")
    first = robustness_f1.loc[robustness_f1["model"] == "with (thesis top 10, rank 1)", "rank_validation"]
    first_rank = f"{int(first.iloc[0])}" if len(first) and first.notna().all() else "n/a (not in this grid)"
    lines.append(f"- The configuration chosen on the validation set (ρ = {selected['rho']:g}, λ_c = {selected['lambda_c']:g}, "
                 f"λ_e = {selected['lambda_e']:g}) ranks {int(selected['rank_test'])} of {grid_size} by the thesis's test-set procedure{edge}; "
                 f"the thesis's own first row ranks {first_rank} on our validation set.")
    gap = baselines.set_index("model")
    lines.append("- Our baselines against the thesis's, clean test F1: "
                 + ", ".join(f"{m} {gap.loc[m, 'f1_clean_mean']:.3f} vs {gap.loc[m, 'thesis_f1_clean']:.3f}" for m in gap.index)
                 + ". The chapter {doc}`07_replay` replays the original code's protocol and decomposes this gap.")
    return "\n".join(lines)
