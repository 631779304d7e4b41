"""Specifications of the landing page's sentences (emma.experiments.findings), on hand-made tables."""
import pandas as pd

from emma.experiments.decision import COMPARISONS, RULES
from emma.experiments.findings import decision_sentence, forensic_sentence, replay_sentence


def _verdicts(ip: dict, dm: dict) -> pd.DataFrame:
    rows = []
    for claim, by_rule in ((COMPARISONS[0][0], ip), (COMPARISONS[1][0], dm)):
        for rule in RULES:
            rows.append({"protocol": "sound", "claim": claim, "rule": rule, "verdict": by_rule.get(rule, "partly reproduced")})
    return pd.DataFrame(rows)


def test_the_decision_sentence_names_the_rules_under_which_emma_beats_data_augmentation():
    both = _verdicts({"roc_corner": "reproduced"}, {"roc_corner": "reproduced"})
    assert "significant under ROC corner (thesis), but not under fixed 0.5" in decision_sentence(both)
    one = _verdicts({}, {"roc_corner": "reproduced"})
    text = decision_sentence(one)
    assert "does not significantly beat" in text and "on DM-noisy samples alone under ROC corner (thesis)" in text
    every = _verdicts({r: "reproduced" for r in RULES}, {r: "reproduced" for r in RULES})
    assert "under every decision rule" in decision_sentence(every)


def test_the_replay_sentence_quotes_the_share_closed_and_counts_only_numbers_the_grid_covers():
    explained = pd.DataFrame([{"group": "all", "subset": "clean", "share_closed": 0.11, "closed": 0.009, "gap": 0.084, "remaining": 0.075}])
    replay = pd.DataFrame({**{f"thesis_f1_{s}": [0.8, 0.7] for s in ("clean", "ip_noisy", "dm_noisy")},
                           **{f"f1_{s}_mean": [0.79, float("nan")] for s in ("clean", "ip_noisy", "dm_noisy")},
                           **{f"thesis_in_replay_range_{s}": [True, float("nan")] for s in ("clean", "ip_noisy", "dm_noisy")}})
    text = replay_sentence(explained, replay)
    assert "closes 11% of the gap" in text and "+0.009 of 0.084" in text and "3 of the thesis's 3 F1 numbers" in text


def test_the_forensic_sentence_says_whether_the_chosen_variant_explains_the_emma_rows():
    fits = pd.DataFrame({"variant": ["as coded", "retrain=False"], "chosen": [True, False], "baselines_inside": [3, 2], "baselines_printed": [13, 13],
                         "emma_inside": [13, float("nan")], "emma_printed": [30, float("nan")], "emma_mad": [0.061, float("nan")]})
    assert "(as coded) does not explain its EMMA rows out of sample (13 of 30" in forensic_sentence(fits)
