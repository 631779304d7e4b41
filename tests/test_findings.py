"""Specifications of the landing page's sentences (emma.experiments.findings), on hand-made tables."""
import re

import numpy as np
import pandas as pd
import pytest

from emma.experiments.decision import COMPARISONS, RULES
from emma.experiments.findings import claims_sentences, decision_sentence, forensic_sentence, remains_sentence, replay_sentence, selection_sentence

IP, DM = COMPARISONS[0][0], COMPARISONS[1][0]


def _verdicts(ip: dict, dm: dict, n_seeds: int = 20) -> pd.DataFrame:
    """decision_rule_verdicts by hand: under each rule, an effect of +0.030 (IP) or +0.040 (DM) and a verdict (``inconclusive`` unless named)."""
    rows = []
    for claim, by_rule, effect in ((IP, ip, 0.03), (DM, dm, 0.04)):
        for k, rule in enumerate(RULES):
            rows.append({"protocol": "sound", "claim": claim, "rule": rule, "effect": effect + 0.001 * k, "ci_low": effect - 0.011 + 0.001 * k,
                         "ci_high": effect + 0.012 + 0.001 * k, "n_seeds": n_seeds, "min_effect": 0.02, "verdict": by_rule.get(rule, "inconclusive")})
    rows.append({"protocol": "sound", "claim": "keeps_clean_accuracy", "rule": "roc_corner", "effect": 0.0, "ci_low": -0.003, "ci_high": 0.003,
                 "n_seeds": n_seeds, "min_effect": -0.01, "verdict": "reproduced"})
    rows.append({"protocol": "original", "claim": IP, "rule": "roc_corner", "effect": 0.9, "ci_low": 0.8, "ci_high": 1.0, "n_seeds": 1,
                 "min_effect": 0.02, "verdict": "reproduced"})  # another protocol: never in the sentence
    return pd.DataFrame(rows)


def test_the_decision_sentence_states_every_rules_effect_with_its_interval_and_seeds():
    text = decision_sentence(_verdicts({}, {}))
    assert text.startswith("Under the book's protocol, on 20 seeds, EMMA's test F1 minus data augmentation's at the thesis's decision rule, "
                           "the ROC corner, is +0.030 (CI +0.019 to +0.042) on IP-noisy samples and +0.040 (CI +0.029 to +0.052) on DM-noisy samples")
    assert "the claim asks for at least +0.02" in text and text.count("(CI ") == 2
    # the other four rules as the range of their effects (+0.001 per rule after the first, by hand)
    assert "it ranges from +0.031 to +0.034 on IP-noisy samples and from +0.041 to +0.044 on DM-noisy samples" in text
    assert "+0.900" not in text and "1 seed" not in text  # the original protocol's rows stay out
    assert not re.search(r"\(s\)|nan|  ", text)


def test_the_decision_sentence_says_under_which_rules_the_edge_is_reproduced():
    every = _verdicts({r: "reproduced" for r in RULES}, {r: "reproduced" for r in RULES})
    assert decision_sentence(every).endswith("The edge is reproduced under every decision rule tested.")
    thesis_only = _verdicts({"roc_corner": "reproduced", "auroc": "reproduced"}, {"roc_corner": "reproduced"})
    assert decision_sentence(thesis_only).endswith(
        "The edge on both noisy subsets is reproduced only under the ROC corner: it depends on the decision rule.")
    one_subset = _verdicts({}, {"roc_corner": "reproduced", "fixed": "reproduced"})
    text = decision_sentence(one_subset)
    assert text.endswith("No decision rule reproduces the edge on both noisy subsets; it is reproduced only on DM-noisy samples under "
                         "the ROC corner and a fixed 0.5 threshold.")
    assert "neither" not in text  # it is reproduced on one subset: the sentence must not say neither
    none = decision_sentence(_verdicts({}, {}))
    assert none.endswith("The edge is reproduced on neither noisy subset under any decision rule.")


def _robustness_f1(top_ip=(0.61, 0.66, np.nan)) -> pd.DataFrame:
    rows = [{"model": "without", "rho": np.nan, "lambda_c": np.nan, "lambda_e": np.nan, "f1_ip_noisy_mean": 0.6}]
    rows += [{"model": f"with (thesis top 10, rank {k + 1})", "rho": 1e-4, "lambda_c": 0.01, "lambda_e": 0.0, "f1_ip_noisy_mean": f1}
             for k, f1 in enumerate(top_ip)]
    rows.append({"model": "with (selected on validation)", "rho": 0.1, "lambda_c": 0.001, "lambda_e": 0.0, "f1_ip_noisy_mean": 0.694})
    return pd.DataFrame(rows)


CONFIRMED = pd.DataFrame({"model": ["without", "with (selected)", "with (thesis rank 1)"], "n_seeds": [20.0, 20.0, 20.0],
                          "f1_ip_noisy_mean": [0.6, 0.672, 0.65]})


def test_the_selection_sentence_places_the_chosen_configuration_beside_the_thesiss_top_10():
    text = selection_sentence(_robustness_f1(), CONFIRMED, "ρ (largest value, 0.1)")
    assert text.startswith("The configuration chosen on the validation set is ρ = 0.1, λ_c = 0.001, λ_e = 0, "
                           "at the edge of the grid on ρ (largest value, 0.1);")
    assert "scores 0.694 on IP-noisy samples where the 2 of the thesis's top 10 that the grid holds score 0.610 to 0.660" in text
    assert "0.672 over 20 confirmation seeds" in text
    assert not re.search(r"\(s\)|nan|20\.0", text)
    assert ", inside the grid;" in selection_sentence(_robustness_f1(), CONFIRMED, "")
    assert ", inside the grid;" in selection_sentence(_robustness_f1(), CONFIRMED, float("nan"))  # an empty cell read back from CSV


def test_the_selection_sentence_says_how_many_of_the_thesiss_top_10_the_grid_holds():
    text = selection_sentence(_robustness_f1(top_ip=(np.nan, np.nan)), CONFIRMED, "")
    assert "nan" not in text and "where the grid holds none of the thesis's top 10, and 0.672 over 20 confirmation seeds" in text
    assert "where the thesis's top 10 score 0.610 to 0.660, and" in selection_sentence(_robustness_f1(top_ip=(0.61, 0.66)), CONFIRMED, "")
    assert "where the one of the thesis's top 10 that the grid holds scores 0.650, and" in selection_sentence(
        _robustness_f1(top_ip=(np.nan, 0.65)), CONFIRMED, "")


def test_the_claims_sentence_counts_core_claims_and_the_books_conjectures_by_verdict():
    claims = pd.DataFrame({"kind": ["core", "core", "core", "core", "secondary", "book"],
                           "verdict": ["reproduced", "reproduced", "rule-dependent", "inconclusive", "not reproduced", "not reproduced"]})
    sentences = claims_sentences(claims)
    assert sentences == ["Of the thesis's 4 core claims (its abstract, contributions and research questions): 2 reproduced, 1 rule-dependent, "
                         "1 inconclusive. Of the 1 conjecture the book tests beyond the thesis: 1 not reproduced."]
    core_only = claims_sentences(claims[claims["kind"] != "book"])
    assert len(core_only) == 1 and "conjecture" not in core_only[0] and "secondary" not in core_only[0]
    two_books = claims_sentences(pd.concat([claims, claims.tail(1)]))[0]
    assert "Of the 2 conjectures the book tests beyond the thesis: 2 not reproduced." in two_books


def _replay_table():
    """Two baseline rows and one EMMA row of replay_f1, by hand (the thesis prints 0.80, 0.70 and 0.90)."""
    rows = pd.DataFrame({"model": ["base", "without", "with (thesis rank 1)"], "n_seeds": [20, 20, 20]})
    for s, inside in (("clean", [True, False, True]), ("ip_noisy", [True, True, float("nan")]), ("dm_noisy", [float("nan")] * 3)):
        rows[f"thesis_f1_{s}"] = [0.80, 0.70, 0.90] if s != "dm_noisy" else [float("nan")] * 3
        rows[f"f1_{s}_mean"] = [0.79, 0.60, 0.85]
        rows[f"f1_{s}_pi_low"], rows[f"f1_{s}_pi_high"] = [0.75, 0.55, 0.80], [0.83, 0.65, 0.95]
        rows[f"thesis_in_replay_pi_{s}"] = inside
    rows.loc[2, "thesis_f1_ip_noisy"] = float("nan")
    return rows


def _order():
    return pd.DataFrame({"protocol": ["original", "original", "sound"], "rank": [1, 1, 1], "subset": ["clean", "ip_noisy", "clean"],
                         "thesis": [0.90, float("nan"), 0.90], "median": [0.88, 0.70, 0.80], "low": [0.86, 0.6, 0.7], "high": [0.92, 0.8, 0.85],
                         "inside": [True, float("nan"), False], "n_runs": [5, 5, 5]})


def test_the_replay_sentence_counts_numbers_inside_one_runs_interval_and_what_the_selection_explains():
    explained = pd.DataFrame([{"group": "all", "subset": "clean", "printed": 13, "mean_abs_book": 0.084, "mean_abs_replay": 0.075, "closer": 8, "farther": 5},
                              {"group": "all", "subset": "all", "printed": 43, "mean_abs_book": 0.070, "mean_abs_replay": 0.066, "closer": 25, "farther": 18}])
    text = replay_sentence(explained, _replay_table(), _order())
    assert "on 20 seeds, 4 of the 5 printed F1 numbers lie inside the 95 % prediction interval of a single run" in text
    assert "0.066 F1 from them on average, against 0.070 for the book's protocol" in text
    # EMMA rank 1 on clean samples: thesis 0.90, mean of its configuration 0.85, rank-1 median 0.88
    assert "1 of 1 lie in the runs' central 95 %" in text and "shrinks from +0.050 to +0.020 F1: the selection explains 60% of it." in text
    with pytest.raises(ValueError, match="replay must be the table replay_f1"):
        replay_sentence(explained, _replay_table().drop(columns="thesis_in_replay_pi_clean"), _order())


def test_what_remains_names_the_farthest_baseline_outside_its_interval():
    text = remains_sentence(_replay_table(), _order())
    assert text.startswith("What remains: 1 of the 4 baseline numbers lie outside the prediction interval of one replayed run, and 0 of the 1 EMMA")
    assert "the farthest, data augmentation (without) on clean samples, printed 0.700 against an interval of 0.550 to 0.650." in text


def test_the_forensic_sentence_says_whether_the_chosen_variant_explains_the_emma_rows():
    fits = pd.DataFrame({"variant": ["as coded", "retrain=False"], "chosen": [True, False], "baselines_inside": [3, 2], "baselines_printed": [13, 13],
                         "emma_inside": [13, float("nan")], "emma_printed": [30, float("nan")], "emma_mad": [0.061, float("nan")]})
    assert "(as coded) does not explain its EMMA rows out of sample (13 of 30" in forensic_sentence(fits)
    every = fits.assign(emma_inside=[13, 20], emma_printed=[30, 30], emma_mad=[0.061, 0.030])
    bootstrap = pd.DataFrame({"variant": ["as coded", "retrain=False"], "win_share": [0.62, 0.38], "resamples": [1000, 1000]})
    text = forensic_sentence(every, bootstrap)
    assert "(as coded, chosen again in 62% of 1,000 seed resamples) does not explain" in text
    assert "of the 2 variants whose EMMA models were trained, 1 would explain them by the same criterion, the closest (retrain=False) 0.030" in text


@pytest.mark.parametrize("drop", ["effect", "ci_low", "n_seeds"])
def test_the_decision_sentence_names_the_evidence_columns_it_needs(drop):
    with pytest.raises(ValueError, match=f"verdicts must be the table decision_rule_verdicts.*'{drop}'"):
        decision_sentence(_verdicts({}, {}).drop(columns=drop))


def test_the_summary_figure_names_every_row_and_draws_the_replays_interval_of_one_run():
    import matplotlib.pyplot as plt

    from emma.experiments.findings import summary_figure

    replay = _replay_table()
    for s in ("clean", "ip_noisy", "dm_noisy"):
        replay[f"sound_f1_{s}_mean"], replay[f"sound_f1_{s}_std"] = 0.7, 0.01
    fig = summary_figure(replay)
    try:
        assert [t.get_text() for t in fig.axes[-1].get_xticklabels()] == ["base", "without", "EMMA #1"]
        assert len(fig.legends) == 1 and "95 % prediction interval of one run" in " ".join(t.get_text() for t in fig.legends[0].get_texts())
        bars = fig.axes[0].containers[-1]  # the replay's error bars on the clean panel: from its interval's low to its high end
        segments = bars.lines[2][0].get_segments()
        assert [tuple(np.round(seg[:, 1], 3)) for seg in segments] == [(0.75, 0.83), (0.55, 0.65), (0.80, 0.95)]
    finally:
        plt.close(fig)
