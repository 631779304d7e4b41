"""The verdict rules of emma.claims.rules and emma.claims.plateau, on cases small enough to compute by hand."""
import math

import numpy as np
import pandas as pd
import pytest

from emma.claims.plateau import levels_off
from emma.claims.rules import (
    CLAIM_COLUMNS,
    KINDS,
    VERDICTS,
    apply_holm,
    check_kind,
    check_verdict,
    claims_table,
    holm,
    non_inferiority,
    paired_test,
    verdict_from_flags,
)


def t2_sf(t):
    """P(T > t) for Student's t with 2 degrees of freedom, in closed form."""
    return 0.5 - t / (2 * math.sqrt(t * t + 2))


# ----------------------------------------------------------------------------- paired_test

def test_a_clear_paired_gain_is_reproduced_with_the_hand_computed_p_value():
    # differences 0.03, 0.04, 0.03: mean 1/30, sd 1/(100·√3), t = mean / (sd/√3) = 10
    result = paired_test([0.74, 0.75, 0.73], [0.71, 0.71, 0.70])
    assert result.verdict == "reproduced"
    assert result.n == 3
    assert result.mean == pytest.approx(1 / 30)
    assert result.std == pytest.approx(0.01 / math.sqrt(3))
    assert result.t == pytest.approx(10.0)
    assert result.p_value == pytest.approx(t2_sf(10.0))


def test_a_gain_within_the_spread_is_partly_reproduced():
    # differences 0.03, −0.01, 0.01: mean 0.01, sd 0.02, t = √3/2
    result = paired_test([0.73, 0.69, 0.71], [0.70, 0.70, 0.70])
    assert result.p_value == pytest.approx(t2_sf(math.sqrt(3) / 2))
    assert result.p_value > 0.05
    assert result.verdict == "partly reproduced"


def test_a_difference_the_other_way_is_not_reproduced():
    assert paired_test([0.70, 0.72, 0.69], [0.74, 0.75, 0.73]).verdict == "not reproduced"


def test_lower_is_better_flips_the_direction():
    result = paired_test([0.70, 0.72, 0.69], [0.74, 0.75, 0.73], higher_is_better=False)
    assert result.verdict == "reproduced"
    assert result.t < 0


def test_one_seed_cannot_be_tested_and_says_so():
    result = paired_test([0.8], [0.7])
    assert result.verdict == "partly reproduced"
    assert math.isnan(result.p_value) and math.isnan(result.std)
    assert "no test" in result.note
    assert paired_test([0.6], [0.7]).verdict == "not reproduced"


def test_describe_names_the_test():
    text = paired_test([0.74, 0.75, 0.73], [0.71, 0.71, 0.70]).describe()
    assert text.startswith("paired difference +0.0333 ± 0.0058 over 3 seeds") and "t = 10.00" in text


# ----------------------------------------------------------------------------- non_inferiority

def test_a_loss_well_within_the_margin_is_reproduced():
    # differences −0.01, 0, −0.005: mean −0.005, sd 0.005, t = 0.015 / (0.005/√3) = 3√3
    result = non_inferiority([0.87, 0.88, 0.875], [0.88, 0.88, 0.88], margin=0.02)
    assert result.t == pytest.approx(3 * math.sqrt(3))
    assert result.p_value == pytest.approx(t2_sf(3 * math.sqrt(3)))
    assert result.verdict == "reproduced"
    assert result.margin == 0.02


def test_a_loss_inside_the_margin_but_uncertain_is_partly_reproduced():
    result = non_inferiority([0.85, 0.88, 0.865], [0.88, 0.88, 0.88], margin=0.02)  # mean −0.015, sd 0.015
    assert result.mean > -0.02 and result.p_value >= 0.05
    assert result.verdict == "partly reproduced"


def test_a_loss_beyond_the_margin_is_not_reproduced():
    assert non_inferiority([0.85, 0.86, 0.855], [0.88, 0.88, 0.88], margin=0.02).verdict == "not reproduced"


def test_one_seed_non_inferiority_is_partly_with_a_note():
    result = non_inferiority([0.87], [0.88], margin=0.02)
    assert result.verdict == "partly reproduced" and result.note


@pytest.mark.parametrize("margin", [0, -0.01, float("inf"), "0.02"])
def test_margin_must_be_positive(margin):
    with pytest.raises(ValueError, match="margin must be"):
        non_inferiority([0.87, 0.88], [0.88, 0.88], margin=margin)


# ----------------------------------------------------------------------------- levels_off

NSR = [-6.0, 0.0, 5.0, 7.5, 10.0]


def test_a_flat_curve_near_the_single_mode_f1_levels_off():
    f1 = [[0.80, 0.70, 0.650, 0.651, 0.649], [0.79, 0.71, 0.652, 0.650, 0.651], [0.81, 0.69, 0.651, 0.652, 0.650]]
    result = levels_off(NSR, f1, single_mode_f1=[0.66, 0.67, 0.65])
    assert result.top_levels == (5.0, 7.5, 10.0)
    assert result.n == 9
    assert result.flat and result.close
    assert -0.005 < result.slope_ci[0] <= result.slope <= result.slope_ci[1] < 0.005
    assert result.mean_f1 == pytest.approx(np.mean([0.650, 0.651, 0.649, 0.652, 0.650, 0.651, 0.651, 0.652, 0.650]))
    assert result.verdict == "reproduced"


def test_a_curve_still_falling_is_not_flat():
    falling = [0.80, 0.72, 0.66, 0.61, 0.56]  # −0.02 F1 per dB over the top levels
    result = levels_off(NSR, [falling, [f + 0.003 for f in falling]], single_mode_f1=0.61)
    assert result.slope == pytest.approx(-0.02, abs=1e-3)
    assert not result.flat and result.close
    assert result.verdict == "partly reproduced"
    assert levels_off(NSR, [falling, falling], single_mode_f1=0.9).verdict == "not reproduced"


def test_a_flat_curve_far_from_the_single_mode_f1_is_only_partly():
    result = levels_off(NSR, [0.8, 0.7, 0.5, 0.5, 0.5], single_mode_f1=0.66)
    assert result.flat and not result.close
    assert result.verdict == "partly reproduced"


def test_levels_off_names_the_bad_argument():
    with pytest.raises(ValueError, match="f1 must have shape"):
        levels_off(NSR, [0.5, 0.6], single_mode_f1=0.6)
    with pytest.raises(ValueError, match="top_k must be"):
        levels_off(NSR, [0.5] * 5, single_mode_f1=0.6, top_k=1)
    with pytest.raises(ValueError, match="nsr_db must be"):
        levels_off([0, 0, 1, 2, 3], [0.5] * 5, single_mode_f1=0.6)
    with pytest.raises(ValueError, match="slope_tolerance must be"):
        levels_off(NSR, [0.5] * 5, single_mode_f1=0.6, slope_tolerance=0)


# ----------------------------------------------------------------------------- holm and apply_holm

def test_holm_gives_the_textbook_adjusted_values():
    # sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1: 0.02, 0.03, 0.06, 0.04 -> running max 0.06
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])


def test_holm_leaves_nan_out_of_the_family_and_caps_at_one():
    adjusted = holm([0.01, np.nan, 0.04])
    np.testing.assert_allclose(adjusted[[0, 2]], [0.02, 0.04])
    assert np.isnan(adjusted[1])
    np.testing.assert_array_equal(holm([0.4, 0.7, 0.9]), [1.0, 1.0, 1.0])


def test_holm_rejects_values_that_are_not_probabilities():
    with pytest.raises(ValueError, match="p_values must lie in"):
        holm([0.2, 1.5])


def _claims(p_values, verdicts):
    return claims_table([{"claim": f"c{i}", "thesis_evidence": "t", "our_evidence": "o", "verdict": v, "kind": "core", "p_value": p}
                         for i, (p, v) in enumerate(zip(p_values, verdicts))])


def test_apply_holm_downgrades_what_the_family_no_longer_supports():
    table = _claims([0.001, 0.03, 0.04, np.nan, 0.5], ["reproduced", "reproduced", "reproduced", "reproduced", "not reproduced"])
    adjusted = apply_holm(table)
    np.testing.assert_allclose(adjusted["p_holm"], [0.004, 0.09, 0.09, np.nan, 0.5])
    assert adjusted["verdict"].tolist() == ["reproduced", "partly reproduced", "partly reproduced", "reproduced", "not reproduced"]
    assert table["verdict"].tolist()[1] == "reproduced", "the input is left unchanged"
    assert list(adjusted.columns[:len(CLAIM_COLUMNS) + 2]) == [*CLAIM_COLUMNS, "p_value", "p_holm"]
    assert adjusted["kind"].tolist() == ["core"] * 5


def test_apply_holm_needs_p_values():
    with pytest.raises(ValueError, match="p_value"):
        apply_holm(claims_table([{"claim": "c", "thesis_evidence": "t", "our_evidence": "o", "verdict": "reproduced", "kind": "core"}]))


# ----------------------------------------------------------------------------- vocabulary and tables

def test_check_verdict_names_the_vocabulary():
    assert check_verdict("not reproduced") == "not reproduced"
    with pytest.raises(ValueError, match="verdict must be one of .*'partly'"):
        check_verdict("partly")


def test_verdict_from_flags_all_some_none():
    assert [verdict_from_flags(f) for f in ([True, True], [True, False], [False, False])] == list(VERDICTS)
    assert verdict_from_flags(pd.Series([False, False]), partly_flags=[False, True]) == "partly reproduced"
    with pytest.raises(ValueError, match="flags must hold at least one case"):
        verdict_from_flags([])
    with pytest.raises(TypeError, match="flags must be booleans"):
        verdict_from_flags([0.9, 0.8])


def test_claims_table_puts_the_canonical_columns_first_and_checks_them():
    table = claims_table([{"verdict": "reproduced", "p_value": 0.01, "claim": "c", "our_evidence": "o", "thesis_evidence": "t", "kind": "book"}])
    assert list(table.columns) == [*CLAIM_COLUMNS, "p_value"]
    with pytest.raises(ValueError, match=r"lack the column\(s\) \['thesis_evidence'\]"):
        claims_table([{"claim": "c", "our_evidence": "o", "verdict": "reproduced", "kind": "core"}])
    with pytest.raises(ValueError, match="'verdict_sound'.*'maybe'"):
        claims_table([{"claim": "c", "thesis_evidence": "t", "our_evidence": "o", "verdict": "reproduced", "kind": "core", "verdict_sound": "maybe"}])


def test_check_kind_names_the_kinds():
    assert KINDS == ("core", "secondary", "book")
    assert [check_kind(k) for k in KINDS] == list(KINDS)
    for bad in ("Core", "thesis", None, float("nan")):
        with pytest.raises(ValueError, match=r"kind must be one of \('core', 'secondary', 'book'\)"):
            check_kind(bad)


def test_a_claims_table_without_a_kind_is_rejected_naming_kind_and_its_values():
    row = {"claim": "c", "thesis_evidence": "t", "our_evidence": "o", "verdict": "reproduced"}
    with pytest.raises(ValueError, match=r"lack the column\(s\) \['kind'\].*kind: one of \('core', 'secondary', 'book'\)"):
        claims_table([row])
    with pytest.raises(ValueError, match=r"column 'kind', claim 'c2'.*one of \('core', 'secondary', 'book'\), got 'central'"):
        claims_table([{**row, "kind": "core"}, {**row, "claim": "c2", "kind": "central"}])
    with pytest.raises(ValueError, match=r"column 'kind', claim 'c'.*got nan"):  # an empty cell read back from a CSV
        claims_table(pd.DataFrame([{**row, "kind": np.nan}]))
    assert claims_table([{**row, "kind": k} for k in KINDS])["kind"].tolist() == list(KINDS)


def test_paired_inputs_must_match_and_alpha_must_be_a_level():
    with pytest.raises(ValueError, match="reference must have the shape of ours"):
        paired_test([0.1, 0.2, 0.3], [0.1, 0.2])
    with pytest.raises(ValueError, match="ours must be 1-D"):
        paired_test([], [])
    with pytest.raises(ValueError, match="alpha must be"):
        paired_test([0.2, 0.3], [0.1, 0.2], alpha=1.5)


def _summary_tables(first_verdicts=("reproduced", "reproduced"), thesis_rank1_rank=3.0):
    claims = pd.DataFrame({"claim": ["with beats without on IP", "with beats without on DM", "levels off"],
                           "verdict_sound": [*first_verdicts, "not reproduced"], "verdict_original": ["partly reproduced"] * 3,
                           "our_evidence_sound": ["p = 0.01", "p = 0.02", "slope 0.1"], "thesis_evidence": ["table 5.2"] * 3})
    f1 = pd.DataFrame({"model": ["base", "with (thesis top 10, rank 1)"], "rank_validation": [np.nan, thesis_rank1_rank]})
    baselines = pd.DataFrame({"model": ["base", "without"], "f1_clean_mean": [0.8, 0.79], "thesis_f1_clean": [0.883, 0.867]})
    rule = pd.DataFrame({"claim": claims["claim"], "verdict_roc_corner": ["reproduced"] * 3, "verdict_fixed": ["reproduced", "not reproduced", "reproduced"],
                         "verdict_f1_validation": ["reproduced"] * 3, "verdict_auroc": ["reproduced"] * 3, "verdict_ap": ["partly reproduced"] * 3})
    return claims, f1, baselines, rule


def test_the_robustness_summary_is_written_from_its_tables():
    from emma.experiments.verdicts import robustness_summary

    selected = {"rho": 1e-4, "lambda_c": 1e-2, "lambda_e": 1e-3, "rank_test": 7}
    text = robustness_summary(*_summary_tables(), selected=selected, grid_size=125, n_seeds=5)
    lines = text.splitlines()
    assert len(lines) == 3 + 4
    assert lines[0].startswith("- with beats without on IP: **reproduced** under the book's protocol (p = 0.01; thesis: table 5.2)")
    assert "EMMA beats data augmentation" in lines[3] and "over 5 seed(s)" in lines[3]
    assert "ranks 7 of 125" in lines[4] and "first row ranks 3 on our validation set" in lines[4]
    assert "base 0.800 vs 0.883, without 0.790 vs 0.867" in lines[5]
    # both claims against "without" hold under the ROC corner and the F1-optimal rule only
    assert lines[6] == ("- EMMA's edge over data augmentation on both noisy subsets is significant under ROC corner (thesis), F1-optimal on "
                        "validation, AUROC (no threshold); not under fixed 0.5 (code's default), average precision (no threshold).")
    text = robustness_summary(*_summary_tables(("reproduced", "partly reproduced"), np.nan), selected=selected, grid_size=125, n_seeds=5)
    assert "does **not** clearly beat" in text and "n/a (not in this grid)" in text
    claims, f1, baselines, rule = _summary_tables()
    with pytest.raises(ValueError, match="rules must be a DataFrame"):
        robustness_summary(claims, f1, baselines, rule.drop(columns="verdict_ap"), selected=selected, grid_size=125, n_seeds=5)
