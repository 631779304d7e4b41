"""Specifications of EMMA's verdicts under every decision rule (emma.experiments.decision), on hand-made tables."""
import numpy as np
import pandas as pd
import pytest

from emma.claims.registry import lookup, min_effect
from emma.experiments.decision import (
    COMPARISONS,
    RULES,
    THESIS_RULE,
    combine_rules,
    judge_claims_under_rules,
    rule_verdicts,
    survives,
    worst,
)

#: Per-seed offsets of EMMA's edge (mean 0, sample std ≈ 0.79): a known spread around ``edge``.
OFFSETS = np.array([0.5, -0.5, 1.0, -1.0, 0.0])
BEATS = [c[0] for c in COMPARISONS if c[3] == "beats"]


def _scores(edge_by_rule: dict, spread: float = 0.001) -> pd.DataFrame:
    """Per-seed scores where EMMA beats every baseline by ``edge_by_rule[rule]`` + ``spread`` × a known per-seed offset."""
    rng = np.random.default_rng(0)
    rows = []
    for rule, edge in edge_by_rule.items():
        for seed, offset in enumerate(OFFSETS):
            for subset in ("clean", "ip_noisy", "dm_noisy", "noisy"):
                base = 0.7 + 0.01 * rng.standard_normal()  # shared by the pair: it cancels in the paired difference
                for family in ("without", "base", "alternative"):
                    rows.append({"family": family, "seed": seed, "subset": subset, "rule": rule, "score": base})
                rows.append({"family": "with (selected)", "seed": seed, "subset": subset, "rule": rule, "score": base + edge + spread * offset})
    return pd.DataFrame(rows)


def _per_rule(verdicts: dict, claim: str = "c") -> pd.DataFrame:
    """A hand-made rule_verdicts table: one claim judged under the rules ``verdicts`` names."""
    return pd.DataFrame({"claim": claim, "rule": list(verdicts), "verdict": list(verdicts.values())})


# --------------------------------------------------------------------------- combine_rules on hand-made verdicts


def test_reproduced_under_every_rule_is_reproduced_and_holds_under_all_of_them():
    row = combine_rules(_per_rule({rule: "reproduced" for rule in RULES})).iloc[0]
    assert row["verdict"] == "reproduced"
    assert row["holds_under"] == ", ".join(RULES.values())
    assert [row[f"verdict_{rule}"] for rule in RULES] == ["reproduced"] * len(RULES)


def test_reproduced_under_the_thesis_rule_only_is_rule_dependent_and_names_that_rule():
    verdicts = {rule: "inconclusive" for rule in RULES} | {THESIS_RULE: "reproduced"}
    row = combine_rules(_per_rule(verdicts)).iloc[0]
    assert row["verdict"] == "rule-dependent" and row["holds_under"] == RULES[THESIS_RULE] == "ROC corner (thesis)"
    one_fails = {rule: "reproduced" for rule in RULES} | {"ap": "not reproduced"}
    row = combine_rules(_per_rule(one_fails)).iloc[0]
    assert row["verdict"] == "rule-dependent"  # a single rule that fails is enough
    assert RULES["ap"] not in row["holds_under"] and row["holds_under"].count(", ") == len(RULES) - 2


def test_the_thesis_rule_decides_when_it_does_not_reproduce_whatever_the_others_say():
    others = {rule: "reproduced" for rule in RULES if rule != THESIS_RULE}
    row = combine_rules(_per_rule({THESIS_RULE: "inconclusive", **others})).iloc[0]
    assert row["verdict"] == "inconclusive"
    assert row["holds_under"] == ", ".join(RULES[r] for r in others) and RULES[THESIS_RULE] not in row["holds_under"]
    row = combine_rules(_per_rule({THESIS_RULE: "not reproduced", **others})).iloc[0]
    assert row["verdict"] == "not reproduced"
    row = combine_rules(_per_rule({rule: "not reproduced" for rule in RULES})).iloc[0]
    assert row["verdict"] == "not reproduced" and row["holds_under"] == "no rule"


def test_combine_rules_keeps_each_claim_apart_and_needs_the_thesis_rule():
    table = pd.concat([_per_rule({rule: "reproduced" for rule in RULES}, "a"), _per_rule({THESIS_RULE: "reproduced", "fixed": "inconclusive"}, "b")])
    combined = combine_rules(table).set_index("claim")
    assert combined["verdict"].to_dict() == {"a": "reproduced", "b": "rule-dependent"}
    with pytest.raises(ValueError, match="thesis's rule 'roc_corner'"):
        combine_rules(_per_rule({"fixed": "reproduced", "auroc": "reproduced"}))
    with pytest.raises(ValueError, match="per_rule"):
        combine_rules(pd.DataFrame({"claim": ["c"], "verdict": ["reproduced"]}))


def test_worst_orders_the_verdicts_from_best_to_worst():
    assert worst("reproduced", "rule-dependent") == "rule-dependent"
    assert worst("rule-dependent", "inconclusive") == "inconclusive"
    assert worst("reproduced", "not reproduced", "inconclusive") == "not reproduced"


# --------------------------------------------------------------------------- rule_verdicts on hand-made scores


def test_a_comparison_is_judged_once_per_rule_against_its_registered_minimum_effect():
    verdicts = rule_verdicts(_scores({"roc_corner": 0.05, "ap": 0.05}))
    assert len(verdicts) == 2 * len(COMPARISONS)
    assert set(verdicts["verdict"]) == {"reproduced"}
    assert list(verdicts["claim"].unique()) == [c[0] for c in COMPARISONS]
    for _, row in verdicts.iterrows():
        assert lookup(row["claim"]).min_effect == pytest.approx(row["min_effect"])  # "keeps": the margin, −0.01
        assert row["n_seeds"] == len(OFFSETS) and row["ci_low"] <= row["effect"] <= row["ci_high"]
        assert row["p_holm"] >= row["p_value"] and "seeds" in row["evidence"]
    beats = verdicts[verdicts["claim"].isin(BEATS)]
    assert beats["effect"].to_numpy() == pytest.approx(0.05, abs=1e-9)  # every seed's edge, offsets averaging to 0


def test_a_significant_edge_below_the_minimum_effect_is_not_reproduced_or_inconclusive():
    assert all(min_effect(c) == pytest.approx(0.02) for c in BEATS)
    tight = rule_verdicts(_scores({"roc_corner": 0.01})).set_index("claim")
    for claim in BEATS:  # significant (p tiny), but the interval lies below 0.02: equivalence
        assert tight.loc[claim, "p_holm"] < 1e-3 and tight.loc[claim, "ci_high"] < 0.02
        assert tight.loc[claim, "verdict"] == "not reproduced"
    wide = rule_verdicts(_scores({"roc_corner": 0.015}, spread=0.01)).set_index("claim")
    for claim in BEATS:  # significant, below 0.02, and the interval still holds 0.02
        assert wide.loc[claim, "ci_low"] > 0 and wide.loc[claim, "ci_low"] < 0.02 < wide.loc[claim, "ci_high"]
        assert wide.loc[claim, "effect"] < 0.02 and wide.loc[claim, "verdict"] == "inconclusive"


def test_keeping_the_clean_accuracy_is_non_inferiority_within_the_registered_margin():
    same = rule_verdicts(_scores({"roc_corner": 0.0})).set_index("claim")
    assert same.loc["keeps_clean_accuracy", "min_effect"] == pytest.approx(-0.01)
    assert same.loc["keeps_clean_accuracy", "verdict"] == "reproduced"  # equal scores keep the accuracy...
    assert (same.loc[BEATS, "verdict"] == "not reproduced").all()  # ...but beat nobody
    worse = rule_verdicts(_scores({"roc_corner": -0.05})).set_index("claim")
    assert worse.loc["keeps_clean_accuracy", "verdict"] == "not reproduced" and worse.loc["keeps_clean_accuracy", "ci_high"] < -0.01


def test_a_claim_that_fails_under_one_rule_is_rule_dependent_and_says_where_it_holds():
    combined = combine_rules(rule_verdicts(_scores({"roc_corner": 0.05, "fixed": -0.05})))
    row = combined.set_index("claim").loc[COMPARISONS[0][0]]
    assert row["verdict_roc_corner"] == "reproduced" and row["verdict_fixed"] == "not reproduced"
    assert row["verdict"] == "rule-dependent"
    assert row["holds_under"] == RULES["roc_corner"]
    assert survives(combined) == {"all": False, "rules": [RULES["roc_corner"]]}


def test_a_claim_that_holds_under_every_rule_is_reproduced():
    combined = combine_rules(rule_verdicts(_scores({rule: 0.05 for rule in RULES})))
    assert set(combined["verdict"]) == {"reproduced"}
    assert survives(combined) == {"all": True, "rules": list(RULES.values())}


def test_a_claim_that_fails_under_the_thesis_rule_is_not_reproduced_even_if_another_rule_holds():
    combined = combine_rules(rule_verdicts(_scores({"roc_corner": -0.05, "auroc": 0.05}))).set_index("claim")
    assert set(combined.loc[BEATS, "verdict"]) == {"not reproduced"}
    assert set(combined.loc[BEATS, "holds_under"]) == {RULES["auroc"]}
    assert survives(combined.reset_index())["rules"] == [RULES["auroc"]]


def test_rule_verdicts_name_a_missing_family():
    with pytest.raises(ValueError, match="no family"):
        rule_verdicts(_scores({"roc_corner": 0.05}), emma="with (top 10)")
    with pytest.raises(ValueError, match="scores must be"):
        rule_verdicts(pd.DataFrame({"family": ["with (selected)"]}))


# --------------------------------------------------------------------------- the chapter's claims table under the rules


def _claims(verdict_sound: dict, verdict_original: dict) -> pd.DataFrame:
    ids = [c[0] for c in COMPARISONS] + ["attention_shifts_ip"]
    return pd.DataFrame({"id": ids, "verdict_sound": [verdict_sound.get(i, "reproduced") for i in ids],
                         "verdict_original": [verdict_original.get(i, "reproduced") for i in ids], "verdict": "reproduced"})


def test_judging_under_the_rules_downgrades_a_reproduced_claim_to_rule_dependent_and_never_upgrades():
    first, second = COMPARISONS[0][0], COMPARISONS[1][0]
    claims = _claims({second: "inconclusive"}, {first: "not reproduced", "attention_shifts_ip": "—"})
    sound = combine_rules(rule_verdicts(_scores({"roc_corner": 0.05, "fixed": -0.05})))  # every comparison rule-dependent
    original = combine_rules(rule_verdicts(_scores({"roc_corner": 0.05, "fixed": 0.05})))  # every comparison reproduced
    out = judge_claims_under_rules(claims, {"sound": sound, "original": original}).set_index("id")
    assert out.loc[first, "verdict_sound"] == "rule-dependent"  # reproduced on its own, rule-dependent over the rules
    assert out.loc[second, "verdict_sound"] == "inconclusive"  # the rules never upgrade a verdict
    assert out.loc[first, "verdict_original"] == "not reproduced"  # reproduced under every rule does not help either
    assert out.loc[second, "verdict_original"] == "reproduced"
    assert (out["verdict"] == out["verdict_sound"]).all()
    assert out.loc[first, "holds_under_sound"] == RULES["roc_corner"] and out.loc[first, "sound_fixed"] == "not reproduced"
    other = out.loc["attention_shifts_ip"]  # not compared under the rules
    assert other["verdict_sound"] == "reproduced" and other["verdict_original"] == "—"
    assert other["holds_under_sound"] == "—" and other["sound_roc_corner"] == "—"


def test_judging_under_the_rules_rejects_claims_the_table_does_not_hold():
    claims = _claims({}, {}).iloc[1:]
    combined = combine_rules(rule_verdicts(_scores({"roc_corner": 0.05})))
    with pytest.raises(ValueError, match=COMPARISONS[0][0]):
        judge_claims_under_rules(claims, {"sound": combined})
    with pytest.raises(ValueError, match="verdict_replay"):
        judge_claims_under_rules(_claims({}, {}), {"replay": combined})


def test_the_decision_study_views_fit_a_page():
    from emma.experiments.decision import DecisionStudy, rule_summary

    scores = _scores({rule: 0.05 for rule in RULES}).assign(protocol="sound")
    per_rule = rule_verdicts(scores)
    study = DecisionStudy(scores, rule_summary(scores), per_rule.assign(protocol="sound"), {"sound": combine_rules(per_rule)})
    view = study.view("sound", "noisy")
    assert list(view.columns) == list(RULES.values()) and "with (selected)" in view.index
    assert view.loc["with (selected)", RULES["fixed"]] - view.loc["without", RULES["fixed"]] == pytest.approx(0.05)
    assert list(study.verdicts().columns) == ["claim", "verdict (sound)", "holds under (sound)"]


def test_robustness_generalisation_is_judged_per_rule_on_the_curves():
    from emma.experiments.decision import CURVE_COLUMNS, GENERALISATION_CLAIM

    rows = []
    for seed in range(5):
        for nsr in (-10.0, 0.0, 5.0):
            for family, edge in (("with", 0.05), ("without", 0.0)):
                rows.append({"family": family, "seed": seed, "nsr_db": nsr, **{c: 0.6 + 0.01 * seed + edge * (1 + 0.1 * seed) * ((nsr > -6) - (c == "ap"))
                                                                                  for c in CURVE_COLUMNS.values()}})
    verdicts = rule_verdicts(_scores({rule: 0.05 for rule in RULES}), curves=pd.DataFrame(rows), training_nsr_db=-6.0)
    past = verdicts[verdicts["claim"] == GENERALISATION_CLAIM].set_index("rule")
    assert list(past.index) == list(RULES) and (past["min_effect"] == min_effect(GENERALISATION_CLAIM)).all()
    assert past.loc["roc_corner", "effect"] == pytest.approx(0.05 * 1.2)  # only the levels past −6 dB count
    assert past.loc["roc_corner", "verdict"] == "reproduced" and past.loc["ap", "verdict"] == "not reproduced"
    assert combine_rules(verdicts).set_index("claim").loc[GENERALISATION_CLAIM, "verdict"] == "rule-dependent"
