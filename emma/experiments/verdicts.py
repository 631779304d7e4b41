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
from emma.claims.rules import VERDICTS, apply_holm, claims_table, non_inferiority, paired_test
from emma.claims.thesis import THESIS_TABLE, TRAINING_NSR_DB
from emma.engine.evaluation import noise_response
from emma.experiments.decision import GENERALISATION_CLAIM


@dataclass
class RobustnessEvidence:
    """What the claims of one protocol rest on (see :func:`robustness_evidence`)."""

    scores: dict  # family -> DataFrame of per-seed test F1 (one model per seed)
    curves: pd.DataFrame  # generalisation curves of base, without, alternative, with
    single_mode: dict  # "IP" (IP failing: the DM-only F1) and "DM" -> per-seed F1 on the clean test set
    beta: pd.DataFrame  # noise_response of the selected with at σ = 0 and at the top σ on each mode
    energy: pd.DataFrame  # noise_response on both modes, low and high σ
    grid: pd.DataFrame  # per configuration: mean noisy-test F1 and mean learned capacity


def robustness_evidence(sweeps: dict, selected: dict, grid_summary: pd.DataFrame, splits, energies, *, curves: pd.DataFrame, single_mode: dict,
                        top_sigma: float, both_sigmas) -> RobustnessEvidence:
    """Collect the evidence of one protocol.

    Parameters
    ----------
    sweeps : dict of family to sweep result
        The baselines under one protocol (:func:`emma.experiments.study.under`), one model per seed.
    selected : dict
        The chosen ``with`` configuration under the same protocol, one model per seed.
    grid_summary : DataFrame
        :func:`emma.engine.ranking.rank_grid` of the protocol's whole grid.
    curves, single_mode
        :func:`emma.engine.evaluation.study_curves` and :func:`emma.engine.evaluation.single_mode_f1` of the same models.
    top_sigma : float
        σ of the "noisy mode" end of the β claims.
    both_sigmas : (float, float)
        Low and high σ on both modes for the total-energy claim.
    """
    beta = noise_response(selected, splits, [(0.0, 0.0), (top_sigma, 0.0), (0.0, top_sigma)], energies=energies, f1=False)
    low, high = both_sigmas
    energy = noise_response(selected, splits, [(low, low), (high, high)], energies=energies, f1=False)
    scores = {f: r["table"].sort_values("seed") for f, r in {**sweeps, "with": selected}.items()}
    grid = grid_summary[["rho", "lambda_c", "lambda_e", "f1_noisy_test_mean", "capacity_mean"]].copy()
    return RobustnessEvidence(scores, curves, single_mode, beta, energy, grid)


def capacity_extremes(grid: pd.DataFrame, alpha: float = 0.05) -> dict:
    """§5.5: "too little and too much capacity both hurt", tested across the grid.

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
    holds = [np.isfinite(p) and p < alpha for _, p in out.values()]
    verdict = VERDICTS[0] if all(holds) else VERDICTS[1] if any(holds) else VERDICTS[2]
    text = (f"Spearman ρ of noisy test F1 on capacity below the median capacity {median:.3f}: {out['low'][0]:+.2f} (p = {out['low'][1]:.2g}); "
            f"above: {out['high'][0]:+.2f} (p = {out['high'][1]:.2g}), over {len(grid)} configurations")
    return {"verdict": verdict, "our_evidence": text, "p_value": min([p for _, p in out.values() if np.isfinite(p)], default=float("nan"))}


def _thesis(model: str, column: int) -> float:
    return next(row[column] for row in THESIS_TABLE if row[0] == model)


def robustness_claims(evidence: RobustnessEvidence, *, margin: float = 0.01, alpha: float = 0.05, top_k: int = 3, slope_tolerance: float = 0.005,
                      closeness: float = 0.05) -> pd.DataFrame:
    """One row per claim of the robustness study: ``claim, thesis_evidence, our_evidence, verdict, kind, p_value, p_holm``.

    Comparisons of two models are one-sided paired t-tests over seeds; "keeps the clean
    accuracy" is non-inferiority within ``margin``; "levels off" is
    :func:`emma.claims.plateau.levels_off`; Holm's correction runs over every test of the table.
    """
    s = evidence.scores
    rows = []

    def add(claim, kind, thesis, what, test):
        rows.append({"claim": claim, "thesis_evidence": thesis, "our_evidence": f"{what}: {test.describe()}", "verdict": test.verdict, "kind": kind,
                     "p_value": test.p_value})

    def noisy(family):
        return (s[family]["f1_ip_noisy"].to_numpy() + s[family]["f1_dm_noisy"].to_numpy()) / 2

    w_ip, w_dm, w_clean = _thesis("with", 5), _thesis("with", 6), _thesis("with", 4)
    add("EMMA beats data augmentation on IP-noisy samples at the training noise", "core", f"with {w_ip} vs without {_thesis('without', 5)}",
        "F1 IP noisy, with − without", paired_test(s["with"]["f1_ip_noisy"].to_numpy(), s["without"]["f1_ip_noisy"].to_numpy(), alpha=alpha))
    add("EMMA beats data augmentation on DM-noisy samples at the training noise", "core", f"with {w_dm} vs without {_thesis('without', 6)}",
        "F1 DM noisy, with − without", paired_test(s["with"]["f1_dm_noisy"].to_numpy(), s["without"]["f1_dm_noisy"].to_numpy(), alpha=alpha))
    add("EMMA keeps the clean accuracy of the base model", "core", f"with {w_clean} vs base {_thesis('base', 4)} on clean samples",
        f"F1 clean, with − base, non-inferiority margin {margin:g}",
        non_inferiority(s["with"]["f1_clean"].to_numpy(), s["base"]["f1_clean"].to_numpy(), margin, alpha=alpha))
    add("EMMA beats the attention fusion of Shon et al. on noisy samples", "secondary",
        f"with {w_ip} / {w_dm} vs alternative {_thesis('alternative', 5)} / {_thesis('alternative', 6)}",
        "mean noisy F1, with − alternative", paired_test(noisy("with"), noisy("alternative"), alpha=alpha))
    add("EMMA is more robust than the base model on noisy samples", "secondary", f"with {w_ip} / {w_dm} vs base {_thesis('base', 5)} / {_thesis('base', 6)}",
        "mean noisy F1, with − base", paired_test(noisy("with"), noisy("base"), alpha=alpha))
    c = evidence.curves
    beyond = c[c["nsr_db"] > TRAINING_NSR_DB + 1e-6]

    def past(family):
        return beyond[beyond["family"] == family].groupby("seed")["f1"].mean().sort_index().to_numpy()

    add(GENERALISATION_CLAIM, "core", "Figure: with above without from −6 dB to +10 dB",
        "F1 averaged over NSR levels above −6 dB and both modes, with − without", paired_test(past("with"), past("without"), alpha=alpha))
    for mode in ("IP", "DM"):
        part = c[(c["family"] == "with") & (c["corrupted"] == mode)].pivot_table(index="seed", columns="nsr_db", values="f1")
        test = levels_off(part.columns.to_numpy(), part.to_numpy(), float(np.mean(evidence.single_mode[mode])), top_k=top_k, slope_tolerance=slope_tolerance,
                          closeness=closeness, alpha=alpha)
        rows.append({"claim": f"With {mode} failing, EMMA levels off near the single clean mode's F1",
                     "thesis_evidence": "Figure: the with curve flattens near the single-mode line",
                     "our_evidence": test.describe(), "verdict": test.verdict, "kind": "secondary", "p_value": float("nan")})
    b = evidence.beta
    clean = b[(b["sigma_ip"] == 0) & (b["sigma_dm"] == 0)].sort_values("seed")
    for mode, column in (("IP", "sigma_ip"), ("DM", "sigma_dm")):
        noisy_rows = b[b[column] > 0].sort_values("seed")
        top = float(noisy_rows[column].iloc[0])
        add(f"The attention of a mode falls as that mode gets noisy (β_{mode})", "core", "Figure: β surfaces fall along the noisy mode's axis",
            f"mean β_{mode} at σ_{mode} = {top:g} − at σ = 0",
            paired_test(noisy_rows[f"beta_{mode.lower()}"].to_numpy(), clean[f"beta_{mode.lower()}"].to_numpy(), higher_is_better=False, alpha=alpha))
    e = evidence.energy
    low, high = sorted(e["sigma_ip"].unique())
    add("The total energy rises as both modes get noisier (an uncertainty proxy)", "core", "Figure: Σ E_i rises as F1 falls",
        f"mean total energy at σ = {high:g} − at σ = {low:g}",
        paired_test(e[e["sigma_ip"] == high].sort_values("seed")["total_energy"].to_numpy(),
                    e[e["sigma_ip"] == low].sort_values("seed")["total_energy"].to_numpy(), alpha=alpha))
    extremes = capacity_extremes(evidence.grid, alpha)
    rows.append({"claim": "Too little and too much capacity both hurt (§5.5, the draft's \"Yerkes-Dodson\" curve)",
                 "thesis_evidence": "§5.5, argued without a figure",
                 "kind": "secondary", **extremes})
    return apply_holm(claims_table(rows), alpha)


def both_protocols(sound: pd.DataFrame, original: pd.DataFrame) -> pd.DataFrame:
    """One claims table with ``verdict_sound`` and ``verdict_original``; ``verdict`` is the sound one (the headline)."""
    if list(sound["claim"]) != list(original["claim"]) or list(sound["kind"]) != list(original["kind"]):
        raise ValueError("sound and original must judge the same claims, of the same kinds, in the same order")
    out = sound.rename(columns={"our_evidence": "our_evidence_sound", "p_value": "p_value_sound", "p_holm": "p_holm_sound"})
    out["verdict_sound"] = sound["verdict"]
    out["verdict_original"] = original["verdict"].to_numpy()
    out["our_evidence_original"] = original["our_evidence"].to_numpy()
    out["p_holm_original"] = original["p_holm"].to_numpy()
    out["our_evidence"] = out["our_evidence_sound"]
    return claims_table(out)


def robustness_summary(claims: pd.DataFrame, robustness_f1: pd.DataFrame, baselines: pd.DataFrame, rules: pd.DataFrame, *,
                       selected: dict, grid_size: int, n_seeds: int) -> str:
    """The chapter :doc:`Experiment II </book/chapters/06_robustness>`'s findings as Markdown bullets, every number from its tables.

    Parameters
    ----------
    claims : DataFrame
        :func:`both_protocols`' table (after :func:`emma.experiments.decision.judge_claims_under_rules`);
        its first two rows are the claims against "without".
    robustness_f1 : DataFrame
        The chapter's results table: ``model`` and ``rank_validation`` (the row of the thesis's
        rank 1 is ``"with (thesis top 10, rank 1)"``).
    baselines : DataFrame
        ``model``, ``f1_clean_mean``, ``thesis_f1_clean`` of the baselines.
    rules : DataFrame
        :func:`emma.experiments.decision.combine_rules` of the book's protocol: ``claim`` and ``verdict_<rule>``.
    selected : dict
        The configuration selected on validation: ``rho``, ``lambda_c``, ``lambda_e`` and its
        ``rank_test`` by the thesis's test-set procedure.
    """
    from emma.experiments.decision import RULES

    for name, table, columns in (("claims", claims, {"claim", "verdict_sound", "verdict_original", "our_evidence_sound", "thesis_evidence"}),
                                 ("robustness_f1", robustness_f1, {"model", "rank_validation"}),
                                 ("baselines", baselines, {"model", "f1_clean_mean", "thesis_f1_clean"}),
                                 ("rules", rules, {"claim"} | {f"verdict_{r}" for r in RULES})):
        if not isinstance(table, pd.DataFrame) or not columns <= set(table.columns):
            raise ValueError(f"{name} must be a DataFrame with the columns {sorted(columns)}")
    lines = [f"- {r['claim']}: **{r['verdict_sound']}** under the book's protocol ({r['our_evidence_sound']}; thesis: "
             f"{r['thesis_evidence']}); **{r['verdict_original']}** under the original code's." for _, r in claims.iterrows()]
    beats = claims.iloc[:2]["verdict_sound"].eq("reproduced").all()
    lines.append("- Overall, under the book's protocol EMMA " + ("beats" if beats else "does **not** clearly beat")
                 + f" data augmentation at the training noise on this data over {n_seeds} seed(s), judged under every decision rule.")
    first = robustness_f1.loc[robustness_f1["model"] == "with (thesis top 10, rank 1)", "rank_validation"]
    first_rank = f"{int(first.iloc[0])}" if len(first) and first.notna().all() else "n/a (not in this grid)"
    lines.append(f"- The configuration chosen on the validation set (ρ = {selected['rho']:g}, λ_c = {selected['lambda_c']:g}, "
                 f"λ_e = {selected['lambda_e']:g}) ranks {int(selected['rank_test'])} of {grid_size} by the thesis's test-set "
                 f"procedure; the thesis's own first row ranks {first_rank} on our validation set.")
    gap = baselines.set_index("model")
    lines.append("- Our baselines against the thesis's, clean test F1: "
                 + ", ".join(f"{m} {gap.loc[m, 'f1_clean_mean']:.3f} vs {gap.loc[m, 'thesis_f1_clean']:.3f}" for m in gap.index)
                 + ". The chapter {doc}`07_replay` replays the original code's protocol and decomposes this gap.")
    both = rules.set_index("claim").loc[claims["claim"].iloc[:2]]
    holds = [label for r, label in RULES.items() if (both[f"verdict_{r}"] == "reproduced").all()]
    fails = [label for r, label in RULES.items() if label not in holds]
    lines.append("- EMMA's edge over data augmentation on both noisy subsets is significant under "
                 + (", ".join(holds) if holds else "no decision rule") + (f"; not under {', '.join(fails)}" if fails and holds else "") + ".")
    return "\n".join(lines)
