"""Specifications of the replay (emma.experiments.replay), the decomposition (emma.experiments.decomposition), the slides' outcome table
(emma.experiments.outcomes) and the robustness verdicts (emma.experiments.verdicts)."""
import numpy as np
import pandas as pd
import pytest

from emma.claims.thesis import thesis_results
from emma.engine.evaluation import regularizer_levels
from emma.engine.protocol import ORIGINAL, SOUND, decomposition_steps
from emma.engine.results import SweepResult
from emma.experiments.decomposition import decompose, explain
from emma.experiments.replay import replay_f1, top10_side_by_side, waterfall
from emma.experiments.verdicts import RobustnessEvidence, both_protocols, capacity_extremes, robustness_claims

SEEDS = [0, 1, 2]
RANK1 = {"rho": 1e-4, "lambda_c": 1e-2, "lambda_e": 1e-3}  # the thesis's rank 1, slides' reading
OTHER = {"rho": 1e-1, "lambda_c": 0.0, "lambda_e": 1e-2}


def _score(protocol, family, seed, config=None):
    """A made-up F1 that depends on the protocol's fields: each switch has a known effect."""
    value = 0.70 + 0.01 * seed
    value += 0.10 * protocol.corruption_in_place + 0.02 * protocol.retrain
    if family == "with":
        value += 0.03 * (protocol.potential == "batch_coupled") + (0.01 if config == OTHER else 0.0)
    return value


def _fake_study(protocols):
    study = {}
    for family in ("ip_only", "dm_only", "base", "without", "alternative", "with"):
        rows, used, keys = [], [], set()
        configs = [RANK1, OTHER] if family == "with" else [{"rho": 1.0, "lambda_c": 0.0, "lambda_e": 0.0}]
        for protocol in protocols:
            if repr(protocol.key(family)) in keys:  # trained once, as emma.experiments.study does
                continue
            keys.add(repr(protocol.key(family)))
            for config in configs:
                for seed in SEEDS:
                    score = _score(protocol, family, seed, config if family == "with" else None)
                    scores = {"f1_clean": score, "f1_ip_noisy": score - 0.1, "f1_dm_noisy": score - 0.05, "f1_noisy_test": score - 0.07,
                              "val_f1_clean": score, "val_f1_ip_noisy": score - 0.1, "val_f1_dm_noisy": score - 0.05, "threshold": 0.35}
                    by_rule = {f"{name}_at_{rule}": value + (0.005 if rule == "fixed" and name != "threshold" else 0.0)
                               for rule in ("roc_corner", "fixed", "f1_validation") for name, value in scores.items()}  # a fixed 0.5 adds 0.005
                    rows.append({"model": family, "seed": seed, **config, "protocol": protocol.label(), **scores, **by_rule})
                    used.append(protocol)
        study[family] = SweepResult(family=family, table=pd.DataFrame(rows), protocols=used, params={}, psi_min=None)
    return study


@pytest.fixture(scope="module")
def steps():
    return decomposition_steps()


@pytest.fixture(scope="module")
def study(steps):
    protocols = [ORIGINAL, SOUND] + [s["protocol"] for s in steps]
    unique = []
    for p in protocols:
        if p not in unique:
            unique.append(p)
    return _fake_study(unique)


def test_replay_table_has_a_row_per_thesis_row_and_checks_the_range_over_seeds(study):
    thesis = thesis_results("slides")
    replay = replay_f1(study, thesis)
    assert len(replay) == 15 and replay["n_seeds"].iloc[2] == len(SEEDS)
    base = replay.set_index("model").loc["base"]
    assert base["f1_clean_mean"] == pytest.approx(0.70 + 0.01 + 0.12)  # ORIGINAL: in place and retrain
    assert base["sound_f1_clean_mean"] == pytest.approx(0.71)
    assert base["thesis_in_replay_range_clean"] == bool(0.82 <= 0.8830 <= 0.84)
    # one run of seeds 0.82, 0.83, 0.84 lies in 0.83 ± t(0.975, 2) · 0.01 · √(4/3) = 0.83 ± 0.0497: 0.883 is outside
    assert (base["f1_clean_pi_low"], base["f1_clean_pi_high"]) == pytest.approx((0.83 - 0.0497, 0.83 + 0.0497), abs=1e-4)
    assert base["thesis_in_replay_pi_clean"] == False  # noqa: E712
    assert pd.isna(replay.set_index("model").loc["ip_only", "thesis_in_replay_range_dm_noisy"])  # no thesis number there


def test_the_replay_runs_give_the_mean_and_interval_and_the_grid_its_range(study):
    """replay_f1 with runs: the replay's mean and prediction interval from the runs; the book's numbers and the range from the grid."""
    thesis = thesis_results("slides")
    runs = {family: result.replace(table=result.table.assign(f1_clean=result.table["f1_clean"] + 0.05)) for family, result in study.items()}
    both = replay_f1(study, thesis, runs).set_index("model")
    alone = replay_f1(study, thesis).set_index("model")
    assert both.loc["base", "f1_clean_mean"] == pytest.approx(alone.loc["base", "f1_clean_mean"] + 0.05)
    assert both.loc["base", "f1_clean_pi_low"] == pytest.approx(alone.loc["base", "f1_clean_pi_low"] + 0.05)
    assert both.loc["base", "thesis_in_replay_pi_clean"] == True  # noqa: E712 (0.883 inside 0.88 ± 0.0497)
    assert both.loc["base", "sound_f1_clean_mean"] == alone.loc["base", "sound_f1_clean_mean"]
    assert both.loc["base", "thesis_in_replay_range_clean"] == alone.loc["base", "thesis_in_replay_range_clean"]


def test_cumulative_switches_add_up_to_sound_minus_original(study, steps):
    selected = {"test": OTHER, "validation": RANK1}
    table = decompose(study, steps, RANK1, selected)
    cumulative = table[table["step"] == "cumulative"].groupby("family")["delta_f1_clean_mean"].sum()
    assert cumulative["base"] == pytest.approx(-0.12)
    assert cumulative["with (thesis rank 1)"] == pytest.approx(-0.15)
    assert cumulative["with (selected)"] == pytest.approx(-0.16)  # the selection switch also changes the configuration
    single = table[(table["step"] == "single")].set_index(["switch", "family"])
    assert single.loc[("corruption_in_place", "base"), "delta_f1_clean_mean"] == pytest.approx(-0.10)
    assert single.loc[("potential", "base"), "delta_f1_clean_mean"] == pytest.approx(0.0)
    assert single.loc[("potential", "with (thesis rank 1)"), "delta_f1_clean_std"] == pytest.approx(0.0)
    # the code's own alternatives, switched alone: the fixed threshold rescores the same models (+0.005 here)
    assert single.loc[("threshold", "base"), "delta_f1_clean_mean"] == pytest.approx(0.005)
    assert single.loc[("class_weight", "base"), "delta_f1_clean_mean"] == pytest.approx(0.0)
    assert "threshold" not in set(table[table["step"] == "cumulative"]["switch"])


def test_the_share_of_the_gap_the_replay_closes_is_stated_per_group_and_subset(study):
    from emma.experiments.replay import gap_explained

    replay = replay_f1(study, thesis_results("slides"))
    explained = gap_explained(replay).set_index(["group", "subset"])
    base = explained.loc[("base", "clean")]
    # book (sound) 0.71, replay 0.83, thesis 0.8830 for seed-mean scores 0.71 / 0.83
    assert base["gap"] == pytest.approx(0.8830 - 0.71) and base["closed"] == pytest.approx(0.12)
    assert base["share_closed"] == pytest.approx(0.12 / 0.173) and base["remaining"] == pytest.approx(0.053)
    metrics = ("f1_clean", "f1_ip_noisy", "f1_dm_noisy")
    both = sum((replay[f"thesis_{m}"].notna() & replay[f"{m}_mean"].notna()).sum() for m in metrics)  # rows the grid covers
    assert explained.loc[("all", "all"), "printed"] == both < replay[[f"thesis_{m}" for m in metrics]].notna().sum().sum()
    with pytest.raises(ValueError, match="replay must be the DataFrame of replay_f1"):
        gap_explained(replay.drop(columns="sound_f1_clean_mean"))


def test_waterfall_goes_from_the_thesis_through_the_replay_to_sound(study, steps):
    replay = replay_f1(study, thesis_results("slides"))
    table = decompose(study, steps, RANK1, {"test": OTHER, "validation": RANK1})
    bars = waterfall(replay, table, "base", "f1_clean", "base")
    assert bars["label"].iloc[0] == "thesis" and bars["delta"].iloc[0] == pytest.approx(0.8830)
    assert bars["end"].iloc[1] == pytest.approx(0.83)  # the replay
    assert bars["end"].iloc[-2] == pytest.approx(0.71) and bars["delta"].iloc[-1] == pytest.approx(0.71)
    lines = explain(replay, table, "f1_clean")
    assert "`corruption_in_place` (-0.100)" in lines[0]
    # the replay on more seeds moves the replay's mean, not the waterfall: its switches are paired on the grid's seeds
    runs = {family: result.replace(table=result.table.assign(f1_clean=result.table["f1_clean"] + 0.05)) for family, result in study.items()}
    longer = waterfall(replay_f1(study, thesis_results("slides"), runs), table, "base", "f1_clean", "base")
    assert longer["end"].iloc[1] == pytest.approx(0.83) and longer["delta"].iloc[-1] == pytest.approx(0.71)


def test_top10_side_by_side_places_the_thesis_configurations_in_the_replays_ranking():
    ranked = pd.DataFrame({"rho": [1e-4, 1e-1], "lambda_c": [1e-2, 0.0], "lambda_e": [1e-3, 1e-2], "f1_noisy_test_mean": [0.7, 0.8], "rank_test": [2, 1]})
    top = top10_side_by_side(ranked, thesis_results("slides"))
    assert len(top) == 10 and top["replay_rho"].iloc[0] == pytest.approx(1e-1)
    assert top["replay_rank_of_thesis_config"].iloc[0] == 2 and top["replay_rank_of_thesis_config"].iloc[5] == 1  # thesis rank 6 is OTHER
    assert top["replay_rank_of_thesis_config"].isna().sum() == 8


def test_regularizer_levels_fall_back_to_the_best_nonzero_value_when_the_chosen_is_zero():
    ranked = pd.DataFrame({"rho": [0.1] * 3, "lambda_c": [0.0, 1e-3, 1e-2], "lambda_e": [0.0] * 3, "validation_score": [0.5, 0.7, 0.6]})
    levels = regularizer_levels(ranked, {"rho": 0.1, "lambda_c": 0.0, "lambda_e": 0.0}, "lambda_c", [0.0, 1e-3, 1e-2])
    assert levels == {"none": 0.0, "good": 1e-3, "high": 1e-2}
    with pytest.raises(ValueError, match="name must be"):
        regularizer_levels(ranked, {}, "rho", [])


# --------------------------------------------------------------------------- the robustness verdicts

R_SEEDS = np.arange(5)
R_NOISE = np.array([0.004, -0.003, 0.002, -0.001, 0.0])  # a small per-seed jitter
OFFSETS = np.array([0.5, -0.5, 1.0, -1.0, 0.0])  # mean 0, sample std ≈ 0.79: a known seed spread


def _evidence(gain: float = 0.05, *, spread: float = 0.0, drop: float = 0.3, drop_shuffled: float = 0.0, auroc: float = 0.8,
              auroc_psi: float = 0.6, capacity_drop: float = 0.2, regularizer_gain: float = 0.05, lambda_e_selected: float = 0.0,
              regularizers: bool = True) -> RobustnessEvidence:
    """Hand-made evidence: EMMA's noisy F1 is data augmentation's + ``gain`` (+ ``spread`` × a per-seed offset), and so on."""

    def family(clean, noisy, jitter=0.0, offsets=0.0):
        own = R_NOISE + jitter * R_NOISE[::-1]
        return pd.DataFrame({"seed": R_SEEDS, "f1_clean": clean + own, "f1_ip_noisy": noisy + own + offsets, "f1_dm_noisy": noisy + 2 * own + offsets})

    scores = {"base": family(0.80, 0.60), "without": family(0.80, 0.70), "alternative": family(0.75, 0.65),
              "with": family(0.80, 0.70 + gain, 0.7, spread * OFFSETS)}
    rows = []
    for fam, level in (("with", 0.70 + gain), ("without", 0.65), ("base", 0.5), ("alternative", 0.6)):
        for mode in ("IP", "DM"):
            for seed in R_SEEDS:
                for db in (-20.0, -6.0, 0.0, 5.0, 10.0):
                    rows.append({"family": fam, "corrupted": mode, "seed": seed, "nsr_db": db,
                                 "f1": level + R_NOISE[seed] * (1.7 if fam == "with" else 1.0) - (0.001 * db if fam != "with" else 0.0)})
    attention = pd.DataFrame([{"seed": s, "mode": m, "sigma": 3.0, "beta_clean": 0.9, "beta_noisy": 0.9 - drop - R_NOISE[s],
                               "drop": drop + R_NOISE[s], "drop_shuffled": drop_shuffled - R_NOISE[s] / 2} for m in ("IP", "DM") for s in R_SEEDS])
    errors = pd.DataFrame({"seed": R_SEEDS, "auroc_total_energy": auroc + R_NOISE, "auroc_psi": auroc_psi + R_NOISE[::-1], "n_errors": 30, "n": 200})
    grid = pd.DataFrame({"rho": 1.0, "lambda_c": 0.0, "lambda_e": 0.0, "capacity_mean": np.linspace(0.1, 0.9, 9),
                         "f1_noisy_test_mean": 0.8 - (np.linspace(0.1, 0.9, 9) - 0.5) ** 2})
    capacities = pd.DataFrame([{"seed": s, "rho": rho, "lambda_c": lc, "lambda_e": le, "capacity": 0.6 - capacity_drop * (lc == 0.1) + R_NOISE[s] * (1 + lc)}
                               for s in R_SEEDS for rho in (1e-3, 1e-1) for lc in (0.0, 1e-2, 1e-1) for le in (0.0, 1e-2)])
    levels = []
    for name, selected in (("lambda_c", 1e-2), ("lambda_e", lambda_e_selected)):
        for level, value in (("none", 0.0), ("good", selected), ("high", 0.1)):
            for seed in R_SEEDS:
                for db in (-10.0, 0.0, 10.0):
                    lift = regularizer_gain * (level == "good" and value > 0) * (db > -6)
                    levels.append({"regularizer": name, "level": level, "value": value, "seed": seed, "nsr_db": db,
                                   "f1": 0.6 + lift + R_NOISE[seed] * (1 + value)})
    return RobustnessEvidence(scores, pd.DataFrame(rows), {"IP": np.full(5, 0.70 + gain), "DM": np.full(5, 0.70 + gain)}, attention, errors, grid,
                              capacities, pd.DataFrame(levels) if regularizers else None)


def _judged(**options) -> pd.DataFrame:
    return robustness_claims(_evidence(**options)).set_index("id")


def test_every_registered_robustness_claim_gets_one_row_and_the_registry_words_it():
    from emma.claims.registry import lookup
    from emma.claims.registry.robustness import CLAIMS

    table = robustness_claims(_evidence())
    assert list(table["id"]) == [c.id for c in CLAIMS]  # the registry's order, one row each
    for _, row in table.iterrows():
        claim = lookup(row["id"])
        assert row["claim"] == claim.claim and row["kind"] == claim.kind and row["quote"] == claim.quote
    without = robustness_claims(_evidence(regularizers=False))
    assert "capacity_regularizer_generalises" not in set(without["id"]) and len(without) == len(CLAIMS) - 2


def test_a_clear_margin_over_data_augmentation_is_reproduced_with_its_effect_interval_and_seeds():
    strong = _judged(gain=0.05)
    for mode in ("ip", "dm"):
        row = strong.loc[f"beats_augmentation_{mode}"]
        assert row["verdict"] == "reproduced" and row["p_holm"] < 0.05
        assert row["effect"] == pytest.approx(0.05, abs=0.002) and row["ci_low"] < row["effect"] < row["ci_high"] and row["ci_low"] > 0.02
        assert row["n_seeds"] == 5 and row["min_effect"] == pytest.approx(0.02) and row["detectable_effect"] > 0
        assert "5 seeds" in row["our_evidence"] and "with − without" in row["our_evidence"]
    assert strong.loc["beats_base_noisy", "effect"] == pytest.approx(0.15, abs=0.002)  # noisy F1 0.75 against 0.60
    assert strong.loc["keeps_clean_accuracy", "verdict"] == "reproduced" and strong.loc["keeps_clean_accuracy", "min_effect"] == pytest.approx(-0.01)
    assert strong.loc["generalises_past_training", "verdict"] == "reproduced"


def test_a_gain_below_the_minimum_effect_or_a_loss_is_not_reproduced():
    small = _judged(gain=0.005)
    for mode in ("ip", "dm"):
        row = small.loc[f"beats_augmentation_{mode}"]
        assert row["p_value"] < 0.05 and row["ci_low"] > 0  # significant...
        assert row["ci_high"] < 0.02 and row["verdict"] == "not reproduced"  # ...but the interval excludes any gain that matters (equivalence)
    noisy_small = _judged(gain=0.01, spread=0.02)
    for mode in ("ip", "dm"):
        row = noisy_small.loc[f"beats_augmentation_{mode}"]
        assert row["ci_low"] < 0.02 < row["ci_high"] and row["verdict"] == "inconclusive"  # neither shown nor excluded
    loss = _judged(gain=-0.02)
    assert loss.loc["beats_augmentation_ip", "verdict"] == "not reproduced" and loss.loc["beats_augmentation_ip", "ci_high"] < 0


def test_the_attention_claims_compare_the_drop_of_beta_with_the_drop_under_shuffled_potentials():
    shifts = _judged(drop=0.3, drop_shuffled=0.0)
    for mode in ("ip", "dm"):
        row = shifts.loc[f"attention_shifts_{mode}"]
        assert row["verdict"] == "reproduced" and row["effect"] == pytest.approx(0.3, abs=0.005) and row["min_effect"] == pytest.approx(0.05)
        assert "σ = 3" in row["our_evidence"] and "shuffled potentials" in row["our_evidence"]
    same = _judged(drop=0.3, drop_shuffled=0.3)  # β falls a lot, but just as much with shuffled energies: nothing shown
    for mode in ("ip", "dm"):
        assert same.loc[f"attention_shifts_{mode}", "effect"] == pytest.approx(0.0, abs=0.005)
        assert same.loc[f"attention_shifts_{mode}", "verdict"] == "not reproduced"


def test_the_total_energy_is_compared_with_chance_and_with_the_potentials_alone():
    flags = _judged(auroc=0.8, auroc_psi=0.6)
    assert flags.loc["total_energy_flags_errors", "verdict"] == "reproduced"
    assert flags.loc["total_energy_flags_errors", "effect"] == pytest.approx(0.3, abs=0.002)  # AUROC − 0.5
    assert flags.loc["total_energy_beyond_psi", "verdict"] == "reproduced" and flags.loc["total_energy_beyond_psi", "kind"] == "book"
    chance = _judged(auroc=0.52, auroc_psi=0.52)
    assert chance.loc["total_energy_flags_errors", "effect"] == pytest.approx(0.02, abs=0.002)
    assert chance.loc["total_energy_flags_errors", "verdict"] in ("not reproduced", "inconclusive")
    assert chance.loc["total_energy_beyond_psi", "verdict"] == "not reproduced"
    evidence = _evidence()
    evidence.errors.loc[2, "auroc_total_energy"] = np.nan  # a seed without errors has no AUROC
    assert robustness_claims(evidence).set_index("id").loc["total_energy_flags_errors", "n_seeds"] == 4


def test_the_capacity_regularizer_is_judged_on_the_learned_capacity_and_both_regularizers_past_the_training_noise():
    works = _judged(capacity_drop=0.2, regularizer_gain=0.05, lambda_e_selected=1e-3)
    assert works.loc["capacity_regularizer_lowers_capacity", "verdict"] == "reproduced"
    assert works.loc["capacity_regularizer_lowers_capacity", "n_seeds"] == 5 * 2 * 2  # (seed, ρ, λ_e) cells
    assert works.loc["capacity_regularizer_lowers_capacity", "effect"] == pytest.approx(0.2, abs=0.01)
    for claim in ("capacity_regularizer_generalises", "energy_regularizer_generalises"):
        assert works.loc[claim, "verdict"] == "reproduced" and works.loc[claim, "effect"] == pytest.approx(0.05, abs=1e-3)
        assert "past the training NSR" in works.loc[claim, "our_evidence"]
    idle = _judged(capacity_drop=0.0, regularizer_gain=0.0, lambda_e_selected=0.0)
    assert idle.loc["capacity_regularizer_lowers_capacity", "verdict"] == "not reproduced"
    assert idle.loc["capacity_regularizer_generalises", "verdict"] == "not reproduced"
    off = idle.loc["energy_regularizer_generalises"]  # selected λ_e = 0: nothing to compare
    assert off["verdict"] == "inconclusive" and off["n_seeds"] == 0 and "is 0" in off["our_evidence"] and pd.isna(off["p_value"])


def test_holms_correction_takes_back_borderline_gains_and_no_row_above_alpha_stays_reproduced():
    border = _judged(gain=0.03, spread=0.034)  # each of the two: p ≈ 0.03, interval above 0, effect above 0.02
    for mode in ("ip", "dm"):
        row = border.loc[f"beats_augmentation_{mode}"]
        assert row["p_value"] < 0.05 <= row["p_holm"] and row["ci_low"] > 0 and row["effect"] >= row["min_effect"]
        assert row["verdict"] == "inconclusive"
    for options in ({}, {"gain": 0.03, "spread": 0.034}, {"gain": 0.005}, {"gain": -0.02}, {"drop_shuffled": 0.3}, {"auroc": 0.52}):
        table = _judged(**options)
        held = table["verdict"].isin(["reproduced", "rule-dependent"])
        assert not (held & (table["p_holm"] >= 0.05)).any(), options
        tested = table[held & table["p_value"].notna()]  # significant: the interval lies above 0 (above −margin for non-inferiority)
        assert (tested["ci_low"] > np.minimum(0.0, tested["min_effect"])).all()


def test_the_capacity_claim_needs_a_rise_below_and_a_fall_above_the_median():
    evidence = _evidence(0.05)
    judged = capacity_extremes(evidence.grid)
    assert judged["verdict"] == "reproduced" and judged["our_evidence"].startswith("2 of 2 sub-cases hold")
    rising = evidence.grid.assign(f1_noisy_test_mean=evidence.grid["capacity_mean"])
    judged = capacity_extremes(rising)
    assert judged["verdict"] == "partly reproduced" and "not: too much hurts" in judged["our_evidence"]


def test_one_claims_table_carries_both_protocols_verdicts():
    sound, original = robustness_claims(_evidence(0.05)), robustness_claims(_evidence(-0.02, regularizers=False))
    both = both_protocols(sound, original).set_index("id")
    assert list(both["verdict"]) == list(both["verdict_sound"])
    assert both.loc["beats_augmentation_ip", "verdict_original"] == "not reproduced" and both.loc["beats_augmentation_ip", "verdict_sound"] == "reproduced"
    assert both.loc["capacity_regularizer_generalises", "verdict_original"] == "—"  # not judged under the original protocol
    assert pd.isna(both.loc["capacity_regularizer_generalises", "p_holm_original"])
    assert both.loc["beats_augmentation_ip", "effect"] == pytest.approx(sound.set_index("id").loc["beats_augmentation_ip", "effect"])  # the headline's
    core = sorted(both.index[both["kind"] == "core"])
    assert core == sorted(["beats_augmentation_ip", "beats_augmentation_dm", "generalises_past_training", "attention_shifts_ip", "attention_shifts_dm",
                           "total_energy_flags_errors", "capacity_regularizer_lowers_capacity", "capacity_regularizer_generalises",
                           "energy_regularizer_generalises"])
    assert set(both["kind"]) == {"core", "secondary", "book"}
    with pytest.raises(ValueError, match="capacity_regularizer_generalises"):
        both_protocols(original, sound)


def test_thesis_gap_counts_and_distances_per_subset_and_overall():
    import numpy as np
    import pandas as pd

    from emma.experiments.replay import METRICS, thesis_gap

    replay = pd.DataFrame({"model": ["a", "b"]})
    for m in METRICS:
        replay[f"thesis_{m}"] = [0.8, np.nan]
        replay[f"{m}_mean"] = [0.7, 0.5]
        replay[f"sound_{m}_mean"] = [0.6, 0.5]
        replay[f"thesis_in_replay_range_{m[3:]}"] = [True, np.nan]
        replay[f"thesis_in_replay_pi_{m[3:]}"] = [m == "f1_clean", np.nan]
    gap = thesis_gap(replay).set_index("metric")
    assert list(gap.index) == [*METRICS, "all"]
    assert gap.loc["all", "printed"] == 3 and gap.loc["all", "inside_replay_range"] == 3 and gap.loc["all", "inside_prediction_interval"] == 1
    assert gap.loc["f1_clean", "replay_offset"] == pytest.approx(-0.1)
    assert gap.loc["all", "replay_distance"] == pytest.approx(0.1) and gap.loc["all", "book_distance"] == pytest.approx(0.2)


def test_the_chapters_summary_names_each_verdict_the_rules_and_an_edge_of_the_grid():
    from emma.experiments.verdicts import robustness_summary

    claims = pd.DataFrame([{"id": "beats_augmentation_ip", "claim": "EMMA beats data augmentation on IP-noisy samples", "verdict_sound": "rule-dependent",
                            "verdict_original": "inconclusive", "our_evidence": "effect +0.034 (CI +0.011 to +0.056), 20 seeds", "effect": 0.034,
                            "ci_low": 0.011, "ci_high": 0.056, "n_seeds": 20, "min_effect": 0.02, "holds_under_sound": "ROC corner (thesis)"}])
    f1 = pd.DataFrame({"model": ["with (thesis top 10, rank 1)"], "rank_validation": [7]})
    baselines = pd.DataFrame({"model": ["base"], "f1_clean_mean": [0.8], "thesis_f1_clean": [0.883]})
    text = robustness_summary(claims, f1, baselines, selected={"rho": 1.0, "lambda_c": 0.1, "lambda_e": 0.1, "rank_test": 3}, grid_size=125,
                              edges=["ρ (largest value, 1)"])
    assert "**rule-dependent** under the book's protocol (effect +0.034 (CI +0.011 to +0.056), 20 seeds)" in text
    assert "It holds under: ROC corner (thesis)." in text and "**inconclusive** under the original code's" in text
    assert "ranks 3 of 125" in text and "at the edge of the grid on ρ (largest value, 1)" in text and "ranks 7 on our validation set" in text
    with pytest.raises(ValueError, match="claims must be a DataFrame with the columns"):
        robustness_summary(claims.drop(columns="holds_under_sound"), f1, baselines, selected={}, grid_size=125, edges=[])


def _replay_row(thesis, book, replay, std):
    row = {"model": "base"}
    for m in ("f1_clean", "f1_ip_noisy", "f1_dm_noisy"):
        row.update({f"thesis_{m}": np.nan, f"sound_{m}_mean": np.nan, f"{m}_mean": np.nan, f"{m}_std": np.nan})
    row.update({"thesis_f1_clean": thesis, "sound_f1_clean_mean": book, "f1_clean_mean": replay, "f1_clean_std": std})
    return row


def test_the_gap_is_measured_on_absolute_distances_and_no_share_is_given_within_the_seed_spread():
    from emma.experiments.replay import gap_explained

    # two base rows by hand: the replay comes closer on the first (|0.88 − 0.84| < |0.88 − 0.80|), farther on the second
    rows = pd.DataFrame([_replay_row(0.88, 0.80, 0.84, 0.01), _replay_row(0.70, 0.72, 0.66, 0.01)])
    out = gap_explained(rows).iloc[0]
    assert out["mean_abs_book"] == pytest.approx((0.08 + 0.02) / 2) and out["mean_abs_replay"] == pytest.approx((0.04 + 0.04) / 2)
    assert out["abs_difference"] == pytest.approx(0.05 - 0.04) and (out["closer"], out["farther"]) == (1, 1)
    # the signed gap (+0.03) exceeds the spread (0.01): a share is given
    assert out["gap"] == pytest.approx(0.03) and out["share_closed"] == pytest.approx(out["closed"] / out["gap"]) and out["share_note"] == ""
    # a signed gap near zero, within the replay's spread: no share, and a word says why
    within = gap_explained(pd.DataFrame([_replay_row(0.88, 0.80, 0.84, 0.05), _replay_row(0.70, 0.78, 0.66, 0.05)])).iloc[0]
    assert within["gap"] == pytest.approx(0.0) and np.isnan(within["share_closed"]) and "within the replay's seed spread" in within["share_note"]
    # one seed: no spread, no share
    alone = gap_explained(pd.DataFrame([_replay_row(0.88, 0.80, 0.84, np.nan)])).iloc[0]
    assert np.isnan(alone["share_closed"]) and alone["share_note"].startswith("one seed")


def test_the_outcome_table_call_closest_to_the_slides_comes_first():
    from emma.experiments.outcomes import OUTCOME_CALLS, outcome_match

    rows = []
    for sigma, off in ((0.5, 0.10), (2.0, 0.02)):  # the aligned rates sit 0.10, then 0.02, from the slides' numbers
        for case, slides in (("clean", 0.90), ("IP noisy", 0.68)):
            rows.append({"sigma": sigma, "nsr_db": 10 * np.log10(sigma ** 2), "class": "pulsar", "case": case, "slides_rate_correct": slides,
                         "rate_correct_aligned": slides - off, "rate_correct_as_coded": 0.5})
    match = outcome_match(pd.DataFrame(rows))
    assert match["sigma"].tolist() == [2.0, 0.5] and match["mad_aligned"].round(3).tolist() == [0.02, 0.1]
    assert match["nsr_db"].round(1).tolist() == [6.0, -6.0]
    assert set(OUTCOME_CALLS) == {0.5, 2.0} and all(lines.startswith("code/experiment-3/main.py L49") for lines in OUTCOME_CALLS.values())
    with pytest.raises(ValueError, match="alignment must be outcome_alignments' table"):
        outcome_match(pd.DataFrame(rows).drop(columns="slides_rate_correct"))


def test_the_first_stage_carries_the_confirmations_baselines_and_the_printed_rows_on_their_seeds():
    from emma.experiments.replay import study_plan

    grid_config = [{"rho": 1.0, "lambda_c": 0.0, "lambda_e": 0.0}]
    printed = pd.DataFrame([RANK1, OTHER])
    models = study_plan([0], grid_config, confirm_seeds=[0, 1], replay_seeds=[0, 1, 2], thesis_configs=printed)
    sound_base = models[(models["family"] == "base") & (models["protocol"] == SOUND)]
    original_base = models[(models["family"] == "base") & (models["protocol"] == ORIGINAL)]
    assert sorted(sound_base["seed"]) == [0, 0, 1] and sorted(original_base["seed"]) == [0, 0, 1, 2]  # seed 0 twice: the run deduplicates
    replayed = models[(models["family"] == "with") & (models["protocol"] == ORIGINAL) & np.isclose(models["rho"], RANK1["rho"])]
    assert sorted(replayed["seed"]) == [0, 1, 2]
    assert len(study_plan([0], grid_config)) < len(models)
    with pytest.raises(ValueError, match="replay_seeds needs thesis_configs"):
        study_plan([0], grid_config, replay_seeds=[0, 1])


def test_the_outcome_sentence_gives_each_calls_pulsar_rate_and_says_which_pairing_the_slides_follow():
    from emma.experiments.outcomes import alignment_sentence

    rows = []
    for sigma, off in ((0.5, 0.10), (2.0, 0.02)):
        for cls, case, slides in (("pulsar", "clean", 0.90), ("pulsar", "IP noisy", 0.68), ("non-pulsar", "clean", 0.98)):
            rows.append({"sigma": sigma, "nsr_db": 10 * np.log10(sigma ** 2), "class": cls, "case": case, "slides_rate_correct": slides,
                         "rate_correct_aligned": slides - off, "rate_correct_as_coded": 0.5})
    text = alignment_sentence(pd.DataFrame(rows))
    assert text.startswith("The rate of correct pulsars, averaged over the three cases: at σ = 0.5, 0.500 as coded and 0.690 aligned; "
                           "at σ = 2, 0.500 as coded and 0.770 aligned; the slides print 0.790.")
    assert "the aligned call at σ = 2 (NSR +6.0 dB) is closest to the slides, 0.020 away on average, against 0.100 at σ = 0.5" in text
    assert text.endswith("it comes from an aligned call of the code.")
