"""What the chapter :doc:`More than two modes </book/chapters/09_many_modes>` (``notebooks/09_many_modes.py``) concludes from its study.

* :func:`scaling_view` is the narrow view of the study's table ``modes_scaling`` that the page
  shows: per data set, :math:`M` and side of the constraint on clean modes, each model's test
  accuracy averaged over the numbers of corrupted modes on that side.
* :func:`gain_tests` tests EMMA's gain over "without" per data set and :math:`M`;
* :func:`modes_claims` judges the chapter's claims and conjectures (registered in
  :mod:`emma.claims.registry.beyond`: the robustness gain for :math:`M > 2`, the constraint of
  eq. 5.19–5.22, the coldness and the scores as :math:`M` grows, the cost of a training step) and
  returns the claims table with the numbers the chapter's prose cites.

They read the tables the chapter builds with :mod:`emma.experiments.modes` and
:mod:`emma.experiments.modes_study`. Two rules shared with the chapters on the unified model and
beyond Gaussian noise live here too: :func:`judge_sub_cases` (a claim made of sub-cases each
judged by a test) and :func:`rank_correlation_test` (a trend with :math:`M`, judged on its interval).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from emma.claims.registry import min_effect
from emma.claims.registry.beyond import QUADRATIC_EXPONENT
from emma.claims.rules import (
    INCONCLUSIVE,
    NOT_REPRODUCED,
    REPRODUCED,
    apply_holm,
    check_verdict,
    claims_table,
    holm,
    judge_interval,
    paired_test,
    sub_cases,
)

#: The three models of the study, in the order the page shows them.
MODELS = ("without", "with", "with, λ_e = 0")
#: How :func:`emma.util.display.show` labels the columns of :func:`scaling_view`.
SCALING_LABELS = {"n_modes": "M", "constraint_holds": "M − k ≥ M′", "k": "k corrupted", "without": "without", "with": "with",
                  "with, λ_e = 0": "with, λ_e = 0", "gain": "with − without", "alpha_corrupted_with": "α of a corrupted mode (with)"}


def scaling_view(scaling: pd.DataFrame) -> pd.DataFrame:
    """One row per data set, :math:`M` and side of the constraint (``constraint_holds``).

    ``k`` lists the numbers of corrupted modes on that side; ``without``, ``with`` and
    ``with, λ_e = 0`` are each model's mean test accuracy (``score_mean``) averaged over them;
    ``gain`` is with − without; ``alpha_corrupted_with`` the mean importance of a corrupted mode
    under "with". ``scaling`` is :func:`emma.experiments.modes.mode_summary` at one coldness.

    >>> scaling = pd.DataFrame({"dataset": "toy", "n_modes": 3, "n_corrupted": [1, 1, 2, 2], "constraint_holds": [True, True, False, False],
    ...                         "model": ["without", "with"] * 2, "score_mean": [0.6, 0.8, 0.4, 0.5], "alpha_corrupted_mean": [None, 0.1, None, 0.3]})
    >>> scaling_view(scaling)[["constraint_holds", "k", "without", "with", "gain"]].round(2).to_dict("records")  # doctest: +NORMALIZE_WHITESPACE
    [{'constraint_holds': True, 'k': '1', 'without': 0.6, 'with': 0.8, 'gain': 0.2},
     {'constraint_holds': False, 'k': '2', 'without': 0.4, 'with': 0.5, 'gain': 0.1}]
    """
    needed = ["dataset", "n_modes", "n_corrupted", "constraint_holds", "model", "score_mean", "alpha_corrupted_mean"]
    missing = [c for c in needed if c not in scaling]
    if missing:
        raise ValueError(f"scaling lacks the column(s) {missing}; it is emma.experiments.modes.mode_summary's table")
    keys = ["dataset", "n_modes", "constraint_holds"]
    rows = []
    for (dataset, m, holds), part in scaling.groupby(keys, sort=False):
        row = {"dataset": dataset, "n_modes": int(m), "constraint_holds": bool(holds),
               "k": ", ".join(str(int(k)) for k in sorted(part["n_corrupted"].unique()))}
        for model in MODELS:
            scores = part.loc[part["model"] == model, "score_mean"]
            if len(scores):
                row[model] = float(scores.mean())
        with_part = part[part["model"] == "with"]
        row["gain"] = row.get("with", np.nan) - row.get("without", np.nan)
        row["alpha_corrupted_with"] = float(with_part["alpha_corrupted_mean"].mean()) if len(with_part) else np.nan
        rows.append(row)
    view = pd.DataFrame(rows)
    order = ["dataset", "n_modes", "constraint_holds", "k", *[m for m in MODELS if m in view], "gain", "alpha_corrupted_with"]
    return view[order].sort_values(["dataset", "n_modes", "constraint_holds"], ascending=[False, True, False], kind="stable").reset_index(drop=True)




# ----------------------------------------------------------------------------- rules shared with chapters 8 and 12


def judge_sub_cases(verdicts: dict) -> dict:
    """A claim made of named sub-cases, each judged by its own test: a sub-case holds when its test says *reproduced*.

    The verdict of :func:`emma.claims.rules.sub_cases` (*reproduced* when all hold, *partly
    reproduced* when some do, *not reproduced* when none does), except that a claim of which no
    sub-case holds and none is refuted (every test *inconclusive*) is *inconclusive*. ``cases``
    says "k of n sub-cases hold" and names them, then the inconclusive ones, then the refuted ones.

    Parameters
    ----------
    verdicts : dict of str to str
        Each sub-case's name and the verdict of its test (one of :data:`emma.claims.rules.VERDICTS`).

    >>> judge_sub_cases({"IP": "reproduced", "DM": "inconclusive"})
    {'verdict': 'partly reproduced', 'cases': '1 of 2 sub-cases hold: IP; inconclusive: DM'}
    >>> judge_sub_cases({"IP": "inconclusive", "DM": "inconclusive"})["verdict"], judge_sub_cases({"IP": "inconclusive", "DM": "not reproduced"})["verdict"]
    ('inconclusive', 'not reproduced')
    """
    if not isinstance(verdicts, dict) or not verdicts:
        raise ValueError(f"verdicts must be a non-empty dict of sub-case name to verdict, got {verdicts!r}")
    for name, verdict in verdicts.items():
        try:
            check_verdict(verdict)
        except ValueError as error:
            raise ValueError(f"verdicts[{name!r}]: {error}") from None
    verdict = sub_cases({name: verdict == REPRODUCED for name, verdict in verdicts.items()})["verdict"]
    groups = {kind: [name for name, v in verdicts.items() if (v == REPRODUCED) == (kind == "hold") and (v == INCONCLUSIVE) == (kind == "open")]
              for kind in ("hold", "open", "not")}
    if verdict == NOT_REPRODUCED and not groups["not"]:
        verdict = INCONCLUSIVE
    cases = f"{len(groups['hold'])} of {len(verdicts)} sub-cases hold" + (f": {', '.join(groups['hold'])}" if groups["hold"] else "")
    cases += "".join(f"; {label}: {', '.join(groups[kind])}" for kind, label in (("open", "inconclusive"), ("not", "not")) if groups[kind])
    return {"verdict": verdict, "cases": cases}


def weakest_evidence(rows) -> dict:
    """The evidence columns (:meth:`emma.claims.rules.PairedTest.row`, without its verdict) of the weakest of several tests.

    The weakest has the largest p-value (a test without one, e.g. on one seed, first): for a claim
    that needs every sub-case, its p-value is that of the whole (an intersection-union test).

    >>> weakest_evidence([{"effect": 0.1, "p_value": 0.01, "verdict": "reproduced"}, {"effect": 0.0, "p_value": 0.4, "verdict": "inconclusive"}])
    {'effect': 0.0, 'p_value': 0.4}
    """
    rows = [dict(row) for row in rows]
    if not rows or any("p_value" not in row for row in rows):
        raise ValueError("rows must be one or more evidence rows with a p_value (PairedTest.row())")
    row = max(rows, key=lambda r: r["p_value"] if np.isfinite(r["p_value"]) else np.inf)
    return {k: v for k, v in row.items() if k != "verdict"}


def rank_correlation_test(x, y, *, min_effect: float, rising: bool = True, alpha: float = 0.05) -> dict:
    """Does ``y`` rise (or fall) with ``x``? Spearman's ρ with a Fisher-z interval, judged by :func:`emma.claims.rules.judge_interval`.

    The effect is ρ in the claimed direction (−ρ when ``rising`` is False). Its (1 − 2α)
    interval and one-sided p-value use z = artanh(ρ) with standard error √(1.06 / (n − 3))
    (Fieller, Hartley and Pearson's for Spearman's ρ); with fewer than 4 points there is neither
    and the verdict is *inconclusive*. ``detectable_effect`` is the smallest ρ found with 80 % power.

    Returns
    -------
    dict
        ``effect``, ``ci_low``, ``ci_high``, ``min_effect``, ``detectable_effect``, ``p_value``,
        ``verdict``, ``n_points``, ``statistic`` (ρ, signed as computed) and ``note``.

    >>> result = rank_correlation_test([1, 2, 3, 4, 5, 6], [1.0, 1.5, 1.4, 2.0, 3.0, 2.9], min_effect=0.3)
    >>> round(result["effect"], 3), result["verdict"]
    (0.886, 'reproduced')
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.ndim != 1 or x.shape != y.shape:
        raise ValueError(f"x and y must be 1-D of one length, got shapes {x.shape} and {y.shape}")
    if not isinstance(rising, (bool, np.bool_)):
        raise TypeError(f"rising must be a bool, got {rising!r}")
    if not 0 < min_effect < 1:
        raise ValueError(f"min_effect must be a correlation in (0, 1), got {min_effect!r}")
    n = len(x)
    statistic = float(stats.spearmanr(x, y).statistic) if n > 1 else float("nan")
    effect = statistic if rising else -statistic
    out = {"effect": effect, "ci_low": np.nan, "ci_high": np.nan, "min_effect": float(min_effect), "detectable_effect": np.nan,
           "p_value": np.nan, "n_points": n, "statistic": statistic}
    if n < 4 or not np.isfinite(effect):
        return {**out, "verdict": INCONCLUSIVE, "note": f"{n} points: no interval is possible"}
    se, z = np.sqrt(1.06 / (n - 3)), np.arctanh(np.clip(effect, -0.9999, 0.9999))
    half = stats.norm.ppf(1 - alpha) * se
    verdict, note = judge_interval(effect, float(np.tanh(z - half)), float(np.tanh(z + half)), min_effect)
    return {**out, "ci_low": float(np.tanh(z - half)), "ci_high": float(np.tanh(z + half)), "p_value": float(stats.norm.sf(z / se)),
            "detectable_effect": float(np.tanh((stats.norm.ppf(1 - alpha) + stats.norm.ppf(0.8)) * se)), "verdict": verdict, "note": note}


# ----------------------------------------------------------------------------- the chapter's claims


def gain_tests(gains: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """EMMA's gain over "without" per data set and M: a paired t-test over seeds, Holm-corrected over the M > 2.

    Each seed's gain is "with" − "without" averaged over the numbers of corrupted modes that
    respect the constraint (the setting of the thesis's derivation); the minimum effect is that of
    the claim ``modes_gain_beyond_two``. A *reproduced* whose Holm-adjusted p-value (``p_holm``,
    over the rows with M > 2) is not below ``alpha`` becomes *inconclusive*.

    Parameters
    ----------
    gains : DataFrame
        :func:`emma.experiments.modes.paired_differences` of "with" against "without".
    """
    needed = ["dataset", "n_modes", "seed", "constraint_holds", "d_score"]
    if not isinstance(gains, pd.DataFrame) or any(c not in gains for c in needed):
        raise ValueError(f"gains must be emma.experiments.modes.paired_differences's table, with the columns {needed}")
    per_seed = gains[gains["constraint_holds"]].groupby(["dataset", "n_modes", "seed"])["d_score"].mean().reset_index()
    rows = []
    for (name, m), part in per_seed.groupby(["dataset", "n_modes"]):
        test = paired_test(part["d_score"].to_numpy(), np.zeros(len(part)), min_effect=min_effect("modes_gain_beyond_two"), alpha=alpha)
        rows.append({"dataset": name, "n_modes": int(m), "gain_mean": test.mean, "gain_std": test.std, **test.row(), "evidence": test.describe(3)})
    table = pd.DataFrame(rows)
    above_two = table["n_modes"] > 2
    table["p_holm"] = np.nan
    if above_two.any():
        table.loc[above_two, "p_holm"] = holm(table.loc[above_two, "p_value"].to_numpy())
    table.loc[above_two & (table["verdict"] == REPRODUCED) & ~(table["p_holm"] < alpha), "verdict"] = INCONCLUSIVE
    return table


def _gain_row(gain_table: pd.DataFrame) -> dict:
    big = gain_table[gain_table["n_modes"] > 2]
    if big.empty:
        raise ValueError("gain_table holds no M > 2: the chapter's first claim needs at least one")
    judged = judge_sub_cases({f"{r.dataset} M = {r.n_modes}": r.verdict for r in big.itertuples()})
    evidence = "; ".join(f"{r.dataset} M = {r.n_modes}: gain {r.gain_mean:+.3f} (CI {r.ci_low:+.3f} to {r.ci_high:+.3f}), p_holm = {r.p_holm:.2g}"
                         for r in big.itertuples())
    return {"id": "modes_gain_beyond_two", "thesis_evidence": "tested on M = 2 only (HTRU2); more modes left to future work",
            "our_evidence": f"{evidence}; {judged['cases']} (evidence columns: the weakest)", **judged,
            **weakest_evidence(big[["effect", "ci_low", "ci_high", "n_seeds", "min_effect", "detectable_effect", "p_value"]].to_dict("records"))}


@dataclass
class ModesVerdicts:
    """What :func:`modes_claims` returns.

    Attributes
    ----------
    claims : DataFrame
        The chapter's claims table (:func:`emma.claims.rules.claims_table`, then
        :func:`emma.claims.rules.apply_holm`).
    statistics : dict of str to float
        The numbers the chapter's prose cites, glued as ``modes_<name>``: ``gain_min``,
        ``gain_max``, ``omega_holds``, ``omega_broken``, ``omega_p``, ``rho_spearman``,
        ``beta_spearman``, ``exponent_with``, ``exponent_attention``, ``exponent_without``.
    """

    claims: pd.DataFrame
    statistics: dict


def modes_claims(gain_table: pd.DataFrame, effect: pd.DataFrame, cells: pd.DataFrame, needed: pd.DataFrame,
                 needed_summary: pd.DataFrame, one: pd.DataFrame, exponents: dict, top, *, alpha: float = 0.05,
                 separation_level: float = 0.5) -> ModesVerdicts:
    """The verdicts of the chapter :doc:`More than two modes </book/chapters/09_many_modes>`, one row per registered claim.

    Parameters
    ----------
    gain_table : DataFrame
        :func:`gain_tests`: per data set and M, the paired test of "with" against "without".
    effect : DataFrame
        :func:`emma.experiments.modes.paired_differences` of "with" against "with, λ_e = 0", per seed.
    cells : DataFrame
        ``effect`` averaged per data set, M and k: ``d_score_mean``, ``d_alpha_corrupted_mean``, ``constraint_holds``.
    needed, needed_summary : DataFrame
        :func:`emma.experiments.modes.coldness_needed` per seed, and its median per M (``rho_needed_median``, ``rho_best_median``).
    one : DataFrame
        The runs of "with" on the synthetic task with one corrupted mode, at the main coldness
        (``n_modes``, ``seed``, ``alpha_clean``, ``beta_clean``, ``gain``).
    exponents : dict
        The fitted exponent p of time ∝ M^p for the steps ``with``, ``attention`` and ``without``.
    top : list of int
        The M the exponents were fitted on.
    alpha : float
        The level of every test.
    separation_level : float
        The separation that defines the coldness needed.

    Notes
    -----
    The claims and their minimum effects are registered in :mod:`emma.claims.registry.beyond`:
    the gain, one sub-case per data set and M > 2 (:func:`judge_sub_cases` of :func:`gain_tests`);
    the constraint, a paired t-test over seeds of Ω's effect on accuracy where the constraint holds
    against where it does not (the same data sets and M); the coldness and the scores,
    :func:`rank_correlation_test` with M; the cost, two sub-cases: the fitted exponent of the whole
    step and of EMMA's energies alone reaches ``QUADRATIC_EXPONENT``. p-values are Holm-adjusted
    within each kind (:func:`emma.claims.rules.apply_holm`).
    """
    rows = [_gain_row(gain_table)]
    big = gain_table[gain_table["n_modes"] > 2]

    holds, broken = effect[effect["constraint_holds"]], effect[~effect["constraint_holds"]]
    score_test = stats.mannwhitneyu(broken["d_score"], holds["d_score"], alternative="less")
    alpha_test = stats.mannwhitneyu(broken["d_alpha_corrupted"], holds["d_alpha_corrupted"], alternative="greater")
    both_sides = effect.groupby(["dataset", "n_modes"])["constraint_holds"].transform("nunique") == 2
    if not both_sides.any():
        raise ValueError("effect holds no data set and M with cells on both sides of the constraint: the constraint claim needs one")
    sides = effect[both_sides].groupby(["seed", "constraint_holds"])["d_score"].mean().unstack("constraint_holds").dropna()
    constraint = paired_test(sides[True].to_numpy(), sides[False].to_numpy(), min_effect=min_effect("modes_constraint"), alpha=alpha)
    broken_cells, holding_cells = cells[~cells["constraint_holds"]], cells[cells["constraint_holds"]]

    def harm(part):  # the regularizer lowers the accuracy and raises the corrupted modes' importance
        return (part["d_score_mean"] < 0) & (part["d_alpha_corrupted_mean"] > 0)

    harm_broken, harm_holding = harm(broken_cells), harm(holding_cells)
    rows.append({"id": "modes_constraint", "thesis_evidence": "derivation of eq. 5.19–5.22, no experiment",
                 "our_evidence": (f"Ω's effect on accuracy where the constraint holds − where it does not: {constraint.describe(3)}. "
                                  f"Over all cells, effect of Ω on accuracy {holds['d_score'].mean():+.3f} with the constraint, "
                                  f"{broken['d_score'].mean():+.3f} without (Mann–Whitney p = {score_test.pvalue:.2g}); on the corrupted α "
                                  f"{holds['d_alpha_corrupted'].mean():+.4f} vs {broken['d_alpha_corrupted'].mean():+.4f} (p = {alpha_test.pvalue:.2g}); "
                                  f"Ω lowers the accuracy and raises the corrupted α in {int(harm_broken.sum())} of {len(broken_cells)} cells "
                                  "without the constraint ("
                                  + ", ".join(f"{r.dataset} M = {r.n_modes}, k = {r.n_corrupted}" for r in broken_cells[harm_broken].itertuples())
                                  + f"), {int(harm_holding.sum())} of {len(holding_cells)} with it"),
                 **constraint.row()})

    rho_test = rank_correlation_test(needed["n_modes"], needed["rho_needed"], min_effect=min_effect("modes_coldness_blows_up"), alpha=alpha)
    rows.append({"id": "modes_coldness_blows_up", "thesis_evidence": "a note for future work (draft §8.3), no experiment",
                 "our_evidence": (f"coldness where the separation reaches {separation_level:g}, median per M: "
                                  + ", ".join(f"M = {r.n_modes}: {r.rho_needed_median:.3g}" for r in needed_summary.itertuples())
                                  + f"; Spearman ρ with M {rho_test['statistic']:+.2f} (CI {rho_test['ci_low']:+.2f} to {rho_test['ci_high']:+.2f}, "
                                  f"{rho_test['n_points']} points, p = {rho_test['p_value']:.2g}); best ρ on validation: "
                                  + ", ".join(f"{r.rho_best_median:g}" for r in needed_summary.itertuples())),
                 **_correlation_row(rho_test, needed)})

    beta_by_m = one.groupby("n_modes")[["alpha_clean", "beta_clean", "gain"]].mean()
    beta_test = rank_correlation_test(one["n_modes"], one["beta_clean"], min_effect=min_effect("modes_scores_vanish"), rising=False, alpha=alpha)
    rows.append({"id": "modes_scores_vanish", "thesis_evidence": "a note for future work (draft §8.3), no experiment",
                 "our_evidence": ("synthetic, k = 1: mean β of the clean modes " + ", ".join(f"M = {m}: {b:.3f}" for m, b in beta_by_m["beta_clean"].items())
                                  + f" (Spearman ρ with M {beta_test['statistic']:+.2f}, CI of −ρ {beta_test['ci_low']:+.2f} to "
                                  f"{beta_test['ci_high']:+.2f}, p = {beta_test['p_value']:.2g}); the learned gain g_a moves from "
                                  f"{beta_by_m['gain'].iloc[0]:.2f} to {beta_by_m['gain'].iloc[-1]:.2f}"),
                 **_correlation_row(beta_test, one)})

    cost = sub_cases({"the whole step with EMMA": bool(exponents["with"] >= QUADRATIC_EXPONENT),
                      "EMMA's steps 2–4 alone": bool(exponents["attention"] >= QUADRATIC_EXPONENT)})
    rows.append({"id": "modes_quadratic_cost", "thesis_evidence": "a note of the draft's conclusion; the final thesis counts parameters",
                 "our_evidence": (f"time per step ∝ M^p over M in {list(top)}: p = {exponents['with']:.2f} for the whole step with emma.EMMA, "
                                  f"{exponents['attention']:.2f} for EMMA's steps 2–4 alone, {exponents['without']:.2f} without EMMA; "
                                  f"p ≥ {QUADRATIC_EXPONENT:g}: {cost['cases']}"),
                 **cost})

    statistics = {"gain_min": float(big["gain_mean"].min()), "gain_max": float(big["gain_mean"].max()),
                  "omega_holds": float(holds["d_score"].mean()), "omega_broken": float(broken["d_score"].mean()),
                  "omega_p": float(score_test.pvalue), "rho_spearman": rho_test["statistic"], "beta_spearman": beta_test["statistic"],
                  **{f"exponent_{step}": float(exponents[step]) for step in ("with", "attention", "without")}}
    return ModesVerdicts(apply_holm(claims_table(rows), alpha), statistics)


def _correlation_row(result: dict, points: pd.DataFrame) -> dict:
    """The evidence columns of :func:`rank_correlation_test` (``n_seeds`` from the seeds of ``points`` when it has them)."""
    n_seeds = points["seed"].nunique() if "seed" in points else result["n_points"]
    return {key: result[key] for key in ("effect", "ci_low", "ci_high", "min_effect", "detectable_effect", "p_value", "verdict")} | {"n_seeds": n_seeds}
