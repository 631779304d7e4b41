"""Specifications of EMMA's verdicts under every decision rule (emma.experiments.decision), on hand-made tables."""
import numpy as np
import pandas as pd
import pytest

from emma.experiments.decision import COMPARISONS, RULES, combine_rules, judge_claims_under_rules, rule_verdicts, survives


def _scores(edge_by_rule: dict, seeds=range(5)) -> pd.DataFrame:
    """Per-seed scores where EMMA beats every baseline by ``edge_by_rule[rule]`` (plus a little seed noise)."""
    rng = np.random.default_rng(0)
    rows = []
    for rule, edge in edge_by_rule.items():
        for seed in seeds:
            for subset in ("clean", "ip_noisy", "dm_noisy", "noisy"):
                base = 0.7 + 0.01 * rng.standard_normal()
                for family in ("without", "base", "alternative"):
                    rows.append({"family": family, "seed": seed, "subset": subset, "rule": rule, "score": base})
                rows.append({"family": "with (selected)", "seed": seed, "subset": subset, "rule": rule, "score": base + edge + 0.001 * rng.standard_normal()})
    return pd.DataFrame(rows)


def test_a_comparison_is_judged_once_per_rule():
    verdicts = rule_verdicts(_scores({"roc_corner": 0.05, "ap": 0.05}))
    assert len(verdicts) == 2 * len(COMPARISONS)
    assert set(verdicts["verdict"]) == {"reproduced"}


def test_a_claim_that_fails_under_one_rule_is_at_most_partly_reproduced_and_says_where_it_holds():
    combined = combine_rules(rule_verdicts(_scores({"roc_corner": 0.05, "fixed": -0.05})))
    row = combined.set_index("claim").loc[COMPARISONS[0][0]]
    assert row["verdict_roc_corner"] == "reproduced" and row["verdict_fixed"] == "not reproduced"
    assert row["verdict"] == "partly reproduced"
    assert row["holds_under"] == RULES["roc_corner"]


def test_a_claim_that_holds_under_every_rule_is_reproduced():
    combined = combine_rules(rule_verdicts(_scores({rule: 0.05 for rule in RULES})))
    assert set(combined["verdict"]) == {"reproduced"}
    assert survives(combined) == {"all": True, "rules": list(RULES.values())}


def test_a_claim_that_fails_under_every_rule_is_not_reproduced():
    combined = combine_rules(rule_verdicts(_scores({"roc_corner": -0.05, "auroc": -0.05})))
    assert set(combined["verdict"]) == {"not reproduced"}
    assert survives(combined)["rules"] == []


def test_the_chapters_claims_table_takes_the_worse_of_its_verdict_and_the_rules():
    names = [c[0] for c in COMPARISONS] + ["β falls"]
    claims = pd.DataFrame({"claim": names, "verdict_sound": "reproduced", "verdict_original": ["partly reproduced"] + ["reproduced"] * (len(names) - 1),
                           "verdict": "reproduced"})
    sound = combine_rules(rule_verdicts(_scores({"roc_corner": 0.05, "fixed": -0.05})))
    original = combine_rules(rule_verdicts(_scores({"roc_corner": 0.05, "fixed": 0.05})))
    out = judge_claims_under_rules(claims, {"sound": sound, "original": original}).set_index("claim")
    assert out.loc[COMPARISONS[0][0], "verdict_sound"] == "partly reproduced"
    assert out.loc[COMPARISONS[0][0], "verdict_original"] == "partly reproduced"  # its own verdict was already partly
    assert out.loc["β falls", "verdict_sound"] == "reproduced" and out.loc["β falls", "holds_under_sound"] == "—"


def test_rule_verdicts_name_a_missing_family():
    with pytest.raises(ValueError, match="no family"):
        rule_verdicts(_scores({"roc_corner": 0.05}), emma="with (top 10)")


def test_the_decision_study_views_fit_a_page():
    from emma.experiments.decision import DecisionStudy, rule_summary

    scores = _scores({rule: 0.05 for rule in RULES}).assign(protocol="sound")
    per_rule = rule_verdicts(scores)
    study = DecisionStudy(scores, rule_summary(scores), per_rule.assign(protocol="sound"), {"sound": combine_rules(per_rule)})
    view = study.view("sound", "noisy")
    assert list(view.columns) == list(RULES.values()) and "with (selected)" in view.index
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
    assert past.loc["roc_corner", "verdict"] == "reproduced" and past.loc["ap", "verdict"] == "not reproduced"
    assert combine_rules(verdicts).set_index("claim").loc[GENERALISATION_CLAIM, "verdict"] == "partly reproduced"
