"""The verdicts of the chapter "More than two modes" and the view of its study (emma.experiments.modes_verdicts), on hand-made tables."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from emma.claims.registry import min_effect
from emma.claims.rules import VERDICTS
from emma.experiments import modes, modes_verdicts


def scaling_table() -> pd.DataFrame:
    """emma.experiments.modes.summarise's columns for synthetic M = 3 (k = 1, 2) and M = 8 (k = 1, 4, 7), three models."""
    rows = []
    for m, levels in ((3, (1, 2)), (8, (1, 4, 7))):
        for k in levels:
            for model, score in zip(modes_verdicts.MODELS, (0.70, 0.80, 0.75)):
                rows.append({"dataset": "synthetic", "n_modes": m, "n_corrupted": k, "constraint_holds": modes.constraint_holds(m, k),
                             "model": model, "score_mean": score - 0.05 * k, "score_std": 0.01,
                             "alpha_corrupted_mean": np.nan if model == "without" else 0.1 * k / m})
    rows.append({**rows[0], "dataset": "digits", "n_modes": 4, "n_corrupted": 1, "constraint_holds": True})
    return pd.DataFrame(rows)


def test_the_scaling_view_has_one_row_per_data_set_m_and_side_of_the_constraint():
    scaling = scaling_table()
    view = modes_verdicts.scaling_view(scaling)
    assert len(view) == 5 and len(view) < len(scaling)
    assert list(view.columns) == ["dataset", "n_modes", "constraint_holds", "k", *modes_verdicts.MODELS, "gain", "alpha_corrupted_with"]
    assert set(view.columns) - {"dataset"} <= set(modes_verdicts.SCALING_LABELS), "every column has a reader's label"
    m8 = view[view["n_modes"] == 8].set_index("constraint_holds")
    assert m8.loc[True, "k"] == "1, 4" and m8.loc[False, "k"] == "7"
    assert m8.loc[True, "with"] == pytest.approx(0.80 - 0.05 * 2.5) and m8.loc[True, "gain"] == pytest.approx(0.10)
    assert m8.loc[False, "alpha_corrupted_with"] == pytest.approx(0.1 * 7 / 8)
    digits = view[view["dataset"] == "digits"]
    assert len(digits) == 1 and np.isnan(digits["with"].iloc[0]) and np.isnan(digits["gain"].iloc[0])  # only "without" ran there


def test_the_scaling_view_names_what_it_lacks():
    with pytest.raises(ValueError, match="score_mean"):
        modes_verdicts.scaling_view(scaling_table().drop(columns="score_mean"))


def gains(gain=0.05, n_seeds=4):
    """modes.paired_differences of "with" against "without": synthetic M = 2, 3 and 8, a gain ``gain`` (+ seed noise) where the constraint holds."""
    rows = []
    for m, levels in ((2, (1,)), (3, (1, 2)), (8, (1, 4, 7))):
        for k in levels:
            for seed in range(n_seeds):
                holds = modes.constraint_holds(m, k)
                rows.append({"dataset": "synthetic", "n_modes": m, "n_corrupted": k, "seed": seed, "constraint_holds": holds,
                             "d_score": (gain if holds else -0.3) + 0.002 * (seed % 2)})
    return pd.DataFrame(rows)


def inputs(gain=0.05, harm_without_constraint=True, rho_rises=True, beta_falls=True, exponent=2.0):
    """The chapter's tables, hand-made: two M > 2, cells on both sides of the constraint, a coldness sweep, step costs."""
    gain_table = modes_verdicts.gain_tests(gains(gain))
    effect = []
    for seed in range(4):
        for m, k in ((3, 1), (3, 2), (8, 4), (8, 7)):
            holds = modes.constraint_holds(m, k)
            bad = not holds and harm_without_constraint
            effect.append({"dataset": "synthetic", "n_modes": m, "n_corrupted": k, "seed": seed, "constraint_holds": holds,
                           "bracket": 2 * k - m, "d_score": (-0.05 if bad else 0.01) + 0.001 * seed * (1 + holds),
                           "d_alpha_corrupted": (0.04 if bad else -0.02) + 0.001 * seed})
    effect = pd.DataFrame(effect)
    cells = effect.groupby(["dataset", "n_modes", "n_corrupted", "bracket", "constraint_holds"])[["d_score", "d_alpha_corrupted"]].agg(["mean", "std"])
    cells.columns = [f"{a}_{b}" for a, b in cells.columns]
    cells = cells.reset_index()
    ms = [3, 8, 16]
    needed = pd.DataFrame([{"dataset": "synthetic", "n_modes": m, "seed": s, "rho_needed": (m if rho_rises else 1 / m) + 0.1 * s, "rho_best": 1.0}
                           for m in ms for s in range(3)])
    needed_summary = needed.groupby("n_modes").agg(rho_needed_median=("rho_needed", "median"), rho_best_median=("rho_best", "median")).reset_index()
    one = pd.DataFrame([{"n_modes": m, "seed": s, "alpha_clean": 1 / m, "beta_clean": (1 / m if beta_falls else m / 10) + 0.001 * s,
                         "gain": 1.0 + 0.1 * m} for m in ms for s in range(3)])
    exponents = {"with": exponent, "attention": exponent, "without": 1.0}
    return gain_table, effect, cells, needed, needed_summary, one, exponents, [32, 64, 128]


def test_the_gain_is_tested_per_data_set_and_m_and_holm_corrected_above_two():
    table = modes_verdicts.gain_tests(gains(0.05))
    assert table[["n_modes", "verdict"]].values.tolist() == [[2, "reproduced"], [3, "reproduced"], [8, "reproduced"]]
    assert np.isnan(table["p_holm"].iloc[0]) and (table["p_holm"].iloc[1:] >= table["p_value"].iloc[1:]).all()
    assert table["gain_mean"].iloc[1] == pytest.approx(0.051) and (table["min_effect"] == min_effect("modes_gain_beyond_two")).all()
    small = modes_verdicts.gain_tests(gains(0.01))  # significant, but below the minimum effect of 0.02
    assert set(small["verdict"]) == {"not reproduced"}  # the interval lies below 0.02: an equivalence
    noisy = modes_verdicts.gain_tests(gains(0.05, n_seeds=2).assign(d_score=lambda t: t["d_score"] + 0.05 * (t["seed"] == 1)))
    assert set(noisy["verdict"]) == {"inconclusive"}  # two seeds far apart: neither shown nor excluded
    with pytest.raises(ValueError, match="paired_differences"):
        modes_verdicts.gain_tests(gains().drop(columns="d_score"))


def test_the_claims_when_every_expectation_holds():
    result = modes_verdicts.modes_claims(*inputs(), alpha=0.05, separation_level=0.5)
    claims = result.claims
    assert list(claims["id"]) == ["modes_gain_beyond_two", "modes_constraint", "modes_coldness_blows_up", "modes_scores_vanish", "modes_quadratic_cost"]
    assert list(claims["verdict"]) == ["reproduced"] * 5
    assert list(claims["kind"]) == ["book", "secondary", "book", "book", "secondary"]
    assert claims["location"].iloc[1] == "final: report/chapters/5-emma.tex L241" and claims["location"].iloc[4] == "draft: §8"
    assert "M = 3: gain +0.051" in claims["our_evidence"].iloc[0] and claims["cases"].iloc[0].startswith("2 of 2 sub-cases hold")
    assert "in 2 of 2 cells without the constraint (synthetic M = 3, k = 2, synthetic M = 8, k = 7), 0 of 2 with it" in claims["our_evidence"].iloc[1]
    assert "over M in [32, 64, 128]: p = 2.00" in claims["our_evidence"].iloc[4]
    tested = claims.iloc[:4]  # every claim judged by a test carries its evidence and its registered minimum effect
    assert tested[["effect", "ci_low", "ci_high", "n_seeds", "min_effect", "detectable_effect", "p_value", "p_holm"]].notna().all().all()
    assert list(tested["min_effect"]) == [0.02, 0.02, 0.3, 0.3] and np.isnan(claims["min_effect"].iloc[4])
    assert (tested["ci_low"] > 0).all() and (tested["effect"] >= tested["min_effect"]).all()
    stats = result.statistics
    assert set(stats) == {"gain_min", "gain_max", "omega_holds", "omega_broken", "omega_p", "rho_spearman", "beta_spearman",
                          "exponent_with", "exponent_attention", "exponent_without"}
    assert stats["gain_min"] == pytest.approx(0.051) and stats["omega_broken"] < 0 < stats["omega_holds"]
    assert stats["rho_spearman"] > 0 > stats["beta_spearman"] and stats["exponent_with"] == 2.0
    assert all(isinstance(v, float) for v in stats.values())


def test_the_claims_when_no_expectation_holds():
    result = modes_verdicts.modes_claims(*inputs(gain=-0.02, harm_without_constraint=False, rho_rises=False, beta_falls=False, exponent=1.0))
    assert list(result.claims["verdict"]) == ["not reproduced"] * 5
    assert set(result.claims["verdict"]) <= set(VERDICTS)


def test_a_claim_of_sub_cases_is_partly_reproduced_only_when_some_hold_and_inconclusive_when_nothing_is_shown_or_refuted():
    assert modes_verdicts.judge_sub_cases({"a": "reproduced", "b": "not reproduced"})["verdict"] == "partly reproduced"
    assert modes_verdicts.judge_sub_cases({"a": "inconclusive", "b": "inconclusive"}) == {
        "verdict": "inconclusive", "cases": "0 of 2 sub-cases hold; inconclusive: a, b"}  # nothing shown, nothing refuted
    assert modes_verdicts.judge_sub_cases({"a": "inconclusive", "b": "not reproduced"}) == {
        "verdict": "not reproduced", "cases": "0 of 2 sub-cases hold; inconclusive: a; not: b"}  # none holds, one is refuted
    assert modes_verdicts.judge_sub_cases({"a": "not reproduced"})["verdict"] == "not reproduced"
    with pytest.raises(ValueError, match=r"verdicts\['a'\]: verdict must be one of"):
        modes_verdicts.judge_sub_cases({"a": "partly"})
    gain_table, *rest = inputs()
    gain_table.loc[gain_table["n_modes"] == 8, "verdict"] = "inconclusive"
    claims = modes_verdicts.modes_claims(gain_table, *rest).claims
    assert claims["verdict"].iloc[0] == "partly reproduced" and "1 of 2 sub-cases hold: synthetic M = 3" in claims["cases"].iloc[0]


def test_a_rank_correlation_is_judged_on_its_interval():
    m = np.repeat([2, 4, 8, 16], 3)
    strong = modes_verdicts.rank_correlation_test(m, m + 0.01 * np.arange(12), min_effect=0.3)
    assert strong["verdict"] == "reproduced" and strong["ci_low"] > 0 and strong["p_value"] < 0.05
    assert modes_verdicts.rank_correlation_test(m, m, min_effect=0.3, rising=False)["verdict"] == "not reproduced"
    few = modes_verdicts.rank_correlation_test([2, 4, 8], [1, 2, 3], min_effect=0.3)
    assert few["verdict"] == "inconclusive" and np.isnan(few["ci_low"])
    with pytest.raises(ValueError, match="min_effect must be a correlation"):
        modes_verdicts.rank_correlation_test(m, m, min_effect=0.0)


def test_the_claims_need_some_m_above_two():
    gain_table, *rest = inputs()
    with pytest.raises(ValueError, match="M > 2"):
        modes_verdicts.modes_claims(gain_table[gain_table["n_modes"] == 2], *rest)
