"""The verdict rules of emma.claims.rules and emma.claims.plateau, on cases small enough to compute by hand.

Most cases have 3 seeds, so 2 degrees of freedom, where Student's t has a closed form:
P(T > t) = 1/2 − t / (2√(t² + 2)) and its quantile t_p = a·√(2 / (1 − a²)) with a = 2p − 1.
"""
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from emma.claims import registry
from emma.claims.plateau import levels_off
from emma.claims.registry import Claim, register
from emma.claims.rules import (
    CLAIM_COLUMNS,
    EVIDENCE_COLUMNS,
    KINDS,
    POWER,
    VERDICTS,
    apply_holm,
    check_kind,
    check_verdict,
    claims_table,
    detectable_effect,
    holm,
    judge_interval,
    non_inferiority,
    paired_test,
    sub_cases,
    verdict_from_flags,
)

BASE = [0.70, 0.70, 0.70]


def t2_sf(t):
    """P(T > t) for Student's t with 2 degrees of freedom, in closed form."""
    return 0.5 - t / (2 * math.sqrt(t * t + 2))


def t2_ppf(p):
    """The p-quantile of Student's t with 2 degrees of freedom, in closed form."""
    a = 2 * p - 1
    return a * math.sqrt(2 / (1 - a * a))


def gains(*differences):
    """Scores that beat ``BASE`` by ``differences``, seed by seed."""
    return [b + d for b, d in zip(BASE, differences)]


# ----------------------------------------------------------------------------- paired_test: the five cases

def test_a_clear_gain_above_the_minimum_is_reproduced():
    # differences 0.03, 0.04, 0.03: mean 1/30, sd 0.01/√3, se 0.01/3, t = 10; CI 1/30 ∓ 2.92·0.01/3 = [0.024, 0.043]
    result = paired_test(gains(0.03, 0.04, 0.03), BASE, min_effect=0.02)
    assert result.ci_low > 0 and result.effect >= 0.02
    assert result.effect == pytest.approx(1 / 30)
    assert result.t == pytest.approx(10.0)
    assert result.verdict == "reproduced"
    assert "at least the minimum effect" in result.note


def test_an_interval_holding_both_zero_and_the_minimum_is_inconclusive():
    # differences 0.03, −0.01, 0.01: mean 0.01, sd 0.02; CI 0.01 ∓ 2.92·0.02/√3 = [−0.024, 0.044]
    result = paired_test(gains(0.03, -0.01, 0.01), BASE, min_effect=0.02)
    assert result.ci_low < 0 < 0.02 < result.ci_high
    assert result.p_value == pytest.approx(t2_sf(math.sqrt(3) / 2))
    assert result.verdict == "inconclusive"
    assert "both no effect and the minimum effect" in result.note


def test_a_significant_gain_below_the_minimum_that_the_interval_reaches_is_inconclusive():
    # differences 0.01, 0.02, 0.015: mean 0.015, sd 0.005; CI 0.015 ∓ 2.92·0.005/√3 = [0.0066, 0.0234]
    result = paired_test(gains(0.01, 0.02, 0.015), BASE, min_effect=0.02)
    assert 0 < result.ci_low and result.effect < 0.02 <= result.ci_high
    assert result.p_value < 0.05
    assert result.verdict == "inconclusive"
    assert "significant, but below the minimum effect" in result.note


def test_an_interval_below_zero_is_not_reproduced_as_a_reversal():
    # differences −0.04, −0.03, −0.04: mean −0.0367, CI [−0.046, −0.027]
    result = paired_test(gains(-0.04, -0.03, -0.04), BASE, min_effect=0.02)
    assert result.ci_high < 0
    assert result.verdict == "not reproduced"
    assert result.note == "significantly the other way"


@pytest.mark.parametrize("differences", [(0.005, 0.006, 0.004), (0.001, -0.001, 0.0)], ids=["above zero", "around zero"])
def test_an_interval_entirely_below_the_minimum_is_not_reproduced_by_equivalence(differences):
    # sd 0.001 in both: CI mean ∓ 0.0017, entirely below 0.02 (the TOST case), whether or not it excludes 0
    result = paired_test(gains(*differences), BASE, min_effect=0.02)
    assert result.ci_high < 0.02 and result.ci_high > 0
    assert result.verdict == "not reproduced"
    assert "equivalence" in result.note


@pytest.mark.parametrize("ours", [[0.9], [0.5]], ids=["gain", "loss"])
def test_one_seed_is_always_inconclusive(ours):
    result = paired_test(ours, [0.7], min_effect=0.02)
    assert result.verdict == "inconclusive"
    assert result.n == 1
    assert math.isnan(result.p_value) and math.isnan(result.ci_low) and math.isnan(result.ci_high) and math.isnan(result.detectable_effect)
    assert "no test" in result.note and "1 seed" in result.describe()


def test_lower_is_better_flips_the_direction():
    # ours lower by 0.04, 0.03, 0.04: in the claimed (lower) direction the effect is +0.0367
    ours, reference = gains(-0.04, -0.03, -0.04), BASE
    result = paired_test(ours, reference, min_effect=0.02, higher_is_better=False)
    assert result.effect == pytest.approx(0.11 / 3)
    assert result.mean == pytest.approx(-0.11 / 3), "mean stays ours − reference"
    assert result.t > 0 and result.ci_low > 0
    assert result.verdict == "reproduced"
    assert paired_test(ours, reference, min_effect=0.02).verdict == "not reproduced"


# ----------------------------------------------------------------------------- the interval and the p-value

@pytest.mark.parametrize("alpha", [0.05, 0.1])
def test_the_interval_is_the_mean_plus_or_minus_the_t_quantile_times_the_standard_error(alpha):
    # differences 0.01, 0.02, 0.03: mean 0.02, sd 0.01, se 0.01/√3
    result = paired_test(gains(0.01, 0.02, 0.03), BASE, min_effect=0.02, alpha=alpha)
    half = t2_ppf(1 - alpha) * 0.01 / math.sqrt(3)
    assert t2_ppf(0.95) == pytest.approx(stats.t.ppf(0.95, 2))
    assert result.ci_low == pytest.approx(0.02 - half)
    assert result.ci_high == pytest.approx(0.02 + half)
    assert result.std == pytest.approx(0.01) and result.n == 3


def test_the_p_value_is_the_t2_survival_function_of_the_t_statistic():
    # t = 0.02 / (0.01/√3) = 2√3
    result = paired_test(gains(0.01, 0.02, 0.03), BASE, min_effect=0.02)
    assert result.t == pytest.approx(2 * math.sqrt(3))
    assert result.p_value == pytest.approx(t2_sf(2 * math.sqrt(3)))


def test_the_row_carries_the_evidence_columns():
    result = paired_test(gains(0.03, 0.04, 0.03), BASE, min_effect=0.02)
    row = result.row()
    assert set(EVIDENCE_COLUMNS) | {"p_value", "verdict"} == set(row)
    assert row["n_seeds"] == 3 and row["min_effect"] == 0.02 and row["verdict"] == "reproduced"
    assert row["detectable_effect"] == pytest.approx(detectable_effect(0.01 / math.sqrt(3), 3))


def test_describe_gives_the_interval_and_the_minimum():
    text = paired_test(gains(0.03, 0.04, 0.03), BASE, min_effect=0.02).describe()
    assert text.startswith("effect +0.033 (CI +0.024 to +0.043), 3 seeds") and "minimum +0.020" in text


def test_judge_interval_applies_the_same_rule_to_any_statistic():
    # e.g. an AUROC against chance: effect = AUROC − 0.5, minimum 0.05
    assert judge_interval(0.25, 0.20, 0.30, 0.05)[0] == "reproduced"
    assert judge_interval(0.02, -0.05, 0.10, 0.05)[0] == "inconclusive"
    assert judge_interval(-0.10, -0.15, -0.05, 0.05) == ("not reproduced", "significantly the other way")
    # a bound other than 0, as non_inferiority uses: above −0.02 is significant
    assert judge_interval(-0.005, -0.015, 0.005, -0.02, bound=-0.02)[0] == "reproduced"
    assert judge_interval(0.5, float("nan"), float("nan"), 0.05)[0] == "inconclusive"


def test_paired_inputs_must_match_and_arguments_are_named():
    with pytest.raises(ValueError, match="reference must have the shape of ours"):
        paired_test([0.1, 0.2, 0.3], [0.1, 0.2], min_effect=0.02)
    with pytest.raises(ValueError, match="ours must be 1-D"):
        paired_test([], [], min_effect=0.02)
    with pytest.raises(ValueError, match="alpha must be"):
        paired_test([0.2, 0.3], [0.1, 0.2], min_effect=0.02, alpha=1.5)
    with pytest.raises(ValueError, match="min_effect must be a finite number > 0"):
        paired_test([0.2, 0.3], [0.1, 0.2], min_effect=0)
    with pytest.raises(TypeError, match="higher_is_better must be a bool"):
        paired_test([0.2, 0.3], [0.1, 0.2], min_effect=0.02, higher_is_better="yes")


# ----------------------------------------------------------------------------- non_inferiority

def test_a_loss_well_within_the_margin_is_reproduced():
    # differences −0.01, 0, −0.005: mean −0.005, sd 0.005, t = 0.015 / (0.005/√3) = 3√3; CI [−0.013, 0.003]
    result = non_inferiority(gains(-0.01, 0.0, -0.005), BASE, margin=0.02)
    assert result.t == pytest.approx(3 * math.sqrt(3))
    assert result.p_value == pytest.approx(t2_sf(3 * math.sqrt(3)))
    assert result.ci_low > -0.02
    assert result.verdict == "reproduced"
    assert result.margin == 0.02 and result.min_effect == -0.02


def test_a_loss_whose_interval_holds_the_margin_is_inconclusive():
    # differences −0.03, 0, −0.015: mean −0.015, sd 0.015; CI −0.015 ∓ 0.0253 holds −0.02
    result = non_inferiority(gains(-0.03, 0.0, -0.015), BASE, margin=0.02)
    assert result.ci_low < -0.02 < result.ci_high
    assert result.verdict == "inconclusive"


def test_a_loss_beyond_the_margin_is_not_reproduced():
    # differences −0.035, −0.03, −0.04: mean −0.035, sd 0.005; CI [−0.043, −0.027] below −0.02
    result = non_inferiority(gains(-0.035, -0.03, -0.04), BASE, margin=0.02)
    assert result.ci_high < -0.02
    assert result.verdict == "not reproduced"


def test_one_seed_non_inferiority_is_inconclusive_with_a_note():
    result = non_inferiority([0.87], [0.88], margin=0.02)
    assert result.verdict == "inconclusive" and "no test" in result.note


@pytest.mark.parametrize("margin", [0, -0.01, float("inf"), "0.02"])
def test_margin_must_be_positive(margin):
    with pytest.raises(ValueError, match="margin must be"):
        non_inferiority([0.87, 0.88], [0.88, 0.88], margin=margin)


# ----------------------------------------------------------------------------- detectable_effect

@pytest.mark.parametrize("n", [3, 5, 20])
def test_the_detectable_effect_has_the_stated_power(n):
    sd, alpha = 0.02, 0.05
    delta = detectable_effect(sd, n, alpha)
    critical = stats.t.ppf(1 - alpha, n - 1)
    assert stats.nct.sf(critical, n - 1, delta * math.sqrt(n) / sd) == pytest.approx(POWER, abs=1e-6)


def test_the_detectable_effect_shrinks_like_one_over_root_n():
    # δ·√n/sd is the noncentrality: it falls with n towards z₀.₉₅ + z₀.₈, the normal test's
    small, large = detectable_effect(0.02, 5), detectable_effect(0.02, 20)
    normal_limit = stats.norm.ppf(0.95) + stats.norm.ppf(POWER)
    assert normal_limit < large * math.sqrt(20) / 0.02 < small * math.sqrt(5) / 0.02
    assert 0.4 < large / small < 0.5  # √(5/20) = 0.5, a little less as the t-test's quantiles shrink
    assert detectable_effect(0.02, 2000) * math.sqrt(2000) / 0.02 == pytest.approx(normal_limit, rel=0.01)


@pytest.mark.parametrize("std, n", [(0.02, 1), (0.0, 5), (float("nan"), 5)])
def test_the_detectable_effect_is_nan_without_two_seeds_or_spread(std, n):
    assert math.isnan(detectable_effect(std, n))


def test_non_inferiority_reports_the_detectable_effect_above_its_bound():
    result = non_inferiority(gains(-0.01, 0.0, -0.005), BASE, margin=0.02)
    assert result.detectable_effect == pytest.approx(-0.02 + detectable_effect(0.005, 3))


# ----------------------------------------------------------------------------- sub_cases and verdict_from_flags

@pytest.mark.parametrize("cases, verdict, text", [
    ({"IP": True, "DM": True}, "reproduced", "2 of 2 sub-cases hold: IP, DM"),
    ({"IP": True, "DM": False, "both": True}, "partly reproduced", "2 of 3 sub-cases hold: IP, both; not: DM"),
    ({"IP": False, "DM": False}, "not reproduced", "0 of 2 sub-cases hold; not: IP, DM"),
], ids=["all", "some", "none"])
def test_sub_cases_give_the_verdict_and_name_the_cases(cases, verdict, text):
    assert sub_cases(cases) == {"verdict": verdict, "cases": text}


def test_sub_cases_and_flags_name_bad_input():
    with pytest.raises(ValueError, match="cases must be a non-empty dict"):
        sub_cases({})
    with pytest.raises(TypeError, match="cases must be booleans"):
        sub_cases({"IP": 0.9})
    with pytest.raises(ValueError, match="flags must hold at least one case"):
        verdict_from_flags([])
    assert verdict_from_flags(pd.Series([True, False])) == "partly reproduced"


# ----------------------------------------------------------------------------- levels_off (two sub-cases)

NSR = [-6.0, 0.0, 5.0, 7.5, 10.0]
NEITHER = "0 of 2 sub-cases hold; not: flat, close to the single-mode F1"


def test_a_flat_curve_near_the_single_mode_f1_levels_off():
    f1 = [[0.80, 0.70, 0.650, 0.651, 0.649], [0.79, 0.71, 0.652, 0.650, 0.651], [0.81, 0.69, 0.651, 0.652, 0.650]]
    result = levels_off(NSR, f1, single_mode_f1=[0.66, 0.67, 0.65])
    assert result.top_levels == (5.0, 7.5, 10.0)
    assert result.n == 9
    assert result.flat and result.close
    assert -0.005 < result.slope_ci[0] <= result.slope <= result.slope_ci[1] < 0.005
    assert result.mean_f1 == pytest.approx(np.mean([0.650, 0.651, 0.649, 0.652, 0.650, 0.651, 0.651, 0.652, 0.650]))
    assert result.verdict == "reproduced"
    assert result.cases == "2 of 2 sub-cases hold: flat, close to the single-mode F1"


def test_a_curve_still_falling_near_the_reference_is_partly_reproduced_naming_close():
    falling = [0.80, 0.72, 0.66, 0.61, 0.56]  # −0.02 F1 per dB over the top levels
    result = levels_off(NSR, [falling, [f + 0.003 for f in falling]], single_mode_f1=0.61)
    assert result.slope == pytest.approx(-0.02, abs=1e-3)
    assert not result.flat and result.close
    assert result.verdict == "partly reproduced"
    assert result.cases == "1 of 2 sub-cases hold: close to the single-mode F1; not: flat"


def test_a_flat_curve_far_from_the_reference_is_partly_reproduced_naming_flat():
    result = levels_off(NSR, [0.8, 0.7, 0.5, 0.5, 0.5], single_mode_f1=0.66)
    assert result.flat and not result.close
    assert result.verdict == "partly reproduced"
    assert result.cases == "1 of 2 sub-cases hold: flat; not: close to the single-mode F1"


def test_a_falling_curve_far_from_the_reference_is_not_reproduced():
    falling = [0.80, 0.72, 0.66, 0.61, 0.56]
    result = levels_off(NSR, [falling, falling], single_mode_f1=0.9)
    assert result.verdict == "not reproduced" and result.cases == NEITHER


def test_levels_off_names_the_bad_argument():
    with pytest.raises(ValueError, match="f1 must have shape"):
        levels_off(NSR, [0.5, 0.6], single_mode_f1=0.6)
    with pytest.raises(ValueError, match="top_k must be"):
        levels_off(NSR, [0.5] * 5, single_mode_f1=0.6, top_k=1)
    with pytest.raises(ValueError, match="nsr_db must be"):
        levels_off([0, 0, 1, 2, 3], [0.5] * 5, single_mode_f1=0.6)
    with pytest.raises(ValueError, match="slope_tolerance must be"):
        levels_off(NSR, [0.5] * 5, single_mode_f1=0.6, slope_tolerance=0)


# ----------------------------------------------------------------------------- holm

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


# ----------------------------------------------------------------------------- claims_table and apply_holm (on test claims)

def _claim(claim_id, kind="core", min_effect=0.02, **fields):
    source = "book" if kind == "book" else "final"
    values = dict(id=claim_id, claim=f"{claim_id} beats the baseline", kind=kind, source=source, quote=f"We show {claim_id}.",
                  location="chapter 6" if kind == "book" else "report/chapters/7-experiments.tex L181", test="paired t-test vs the baseline",
                  min_effect=min_effect, unit="F1" if min_effect is not None else "", reason="a tenth of the thesis's gap" if min_effect is not None else "")
    return Claim(**{**values, **fields})


@pytest.fixture
def claims(monkeypatch):
    """Test claims in a private copy of the registry, gone after the test."""
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    made = {c.id: register(c) for c in (_claim("t_core_a"), _claim("t_core_b"), _claim("t_core_c"), _claim("t_book_a", kind="book"),
                                         _claim("t_secondary_cases", kind="secondary", min_effect=None))}
    return made


def _row(claim_id, verdict="reproduced", **extra):
    return {"id": claim_id, "thesis_evidence": "Table 7.2", "our_evidence": "ours", "verdict": verdict, **extra}


def test_claims_table_fills_the_claim_from_the_registry(claims):
    test = paired_test(gains(0.03, 0.04, 0.03), BASE, min_effect=0.02)
    table = claims_table([_row("t_core_a", **test.row()), _row("t_secondary_cases", "partly reproduced", cases="1 of 2 sub-cases hold: IP; not: DM")])
    assert list(table.columns[:len(CLAIM_COLUMNS) + len(EVIDENCE_COLUMNS)]) == [*CLAIM_COLUMNS, *EVIDENCE_COLUMNS]
    first = table.iloc[0]
    assert first["claim"] == "t_core_a beats the baseline" and first["kind"] == "core" and first["quote"] == "We show t_core_a."
    assert first["location"] == "final: report/chapters/7-experiments.tex L181" and first["test"] == "paired t-test vs the baseline"
    assert first["min_effect"] == 0.02 and first["effect"] == pytest.approx(1 / 30) and first["n_seeds"] == 3
    assert table.iloc[1]["kind"] == "secondary" and math.isnan(table.iloc[1]["min_effect"]) and math.isnan(table.iloc[1]["p_value"])
    assert table.iloc[1]["cases"].startswith("1 of 2")


def test_claims_table_rejects_an_unknown_id_naming_it(claims):
    with pytest.raises(ValueError, match="no claim is registered under the id 'nobody_said_this'"):
        claims_table([_row("nobody_said_this")])


def test_claims_table_rejects_a_row_restating_another_min_effect(claims):
    with pytest.raises(ValueError, match=r"claim 't_core_a': min_effect .*0\.05\)? differs from the registered 0\.02"):
        claims_table([_row("t_core_a", min_effect=0.05)])


def test_claims_table_rejects_a_row_restating_other_wording(claims):
    assert claims_table([_row("t_core_a", claim="t_core_a beats the baseline")])["claim"].tolist() == ["t_core_a beats the baseline"]
    with pytest.raises(ValueError, match="claim 't_core_a': the row's claim 'EMMA wins' differs from the registry's"):
        claims_table([_row("t_core_a", claim="EMMA wins")])
    with pytest.raises(ValueError, match="the row's kind 'book' differs"):
        claims_table([_row("t_core_a", kind="book")])


def test_claims_table_names_a_bad_verdict_word(claims):
    with pytest.raises(ValueError, match=r"column 'verdict': verdict must be one of .*got 'partly'"):
        claims_table([_row("t_core_a", "partly")])
    with pytest.raises(ValueError, match="column 'verdict_fixed'.*'maybe'"):
        claims_table([_row("t_core_a", verdict_fixed="maybe")])
    with pytest.raises(ValueError, match=r"lack the column\(s\) \['thesis_evidence'\]"):
        claims_table([{"id": "t_core_a", "our_evidence": "o", "verdict": "reproduced"}])


def test_claims_table_accepts_rule_dependent(claims):
    table = claims_table([_row("t_core_a", "rule-dependent", p_value=0.01, verdict_fixed="not reproduced")])
    assert table["verdict"].tolist() == ["rule-dependent"]


def test_apply_holm_takes_back_a_reproduced_within_its_kind_only(claims):
    rows = [_row("t_core_a", p_value=0.001), _row("t_core_b", p_value=0.03), _row("t_core_c", "rule-dependent", p_value=0.04),
            _row("t_book_a", p_value=0.03), _row("t_secondary_cases", "partly reproduced")]
    table = claims_table(rows)
    adjusted = apply_holm(table)
    # core: 0.001·3, then max(0.03·2, 0.003), max(0.04·1, 0.06) = 0.003, 0.06, 0.06; the book family is 0.03 alone
    np.testing.assert_allclose(adjusted["p_holm"], [0.003, 0.06, 0.06, 0.03, np.nan])
    assert adjusted["verdict"].tolist() == ["reproduced", "inconclusive", "inconclusive", "reproduced", "partly reproduced"]
    assert holm([0.001, 0.03, 0.04, 0.03])[3] > 0.05, "pooled with the core claims, the book claim would have fallen"
    assert table["verdict"].tolist()[1] == "reproduced", "the input is left unchanged"
    assert list(adjusted.columns[adjusted.columns.get_loc("p_value"):][:2]) == ["p_value", "p_holm"]


def test_apply_holm_needs_p_values(claims):
    with pytest.raises(ValueError, match="p_value"):
        apply_holm(pd.DataFrame([_row("t_core_a")]))
    with pytest.raises(TypeError, match="claims_frame must be a DataFrame"):
        apply_holm([_row("t_core_a", p_value=0.01)])


# ----------------------------------------------------------------------------- vocabulary

def test_the_five_verdicts_from_best_to_worst():
    assert VERDICTS == ("reproduced", "rule-dependent", "partly reproduced", "inconclusive", "not reproduced")
    assert [check_verdict(v) for v in VERDICTS] == list(VERDICTS)
    with pytest.raises(ValueError, match="verdict must be one of .*'partly'"):
        check_verdict("partly")


def test_check_kind_names_the_kinds():
    assert KINDS == ("core", "secondary", "book")
    assert [check_kind(k) for k in KINDS] == list(KINDS)
    for bad in ("Core", "thesis", None, float("nan")):
        with pytest.raises(ValueError, match=r"kind must be one of \('core', 'secondary', 'book'\)"):
            check_kind(bad)
