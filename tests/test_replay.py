"""Specifications of the replay and the decomposition (emma.experiments.replay) and of the robustness verdicts (emma.experiments.verdicts)."""
import numpy as np
import pandas as pd
import pytest

from emma.claims.thesis import thesis_results
from emma.engine.evaluation import regularizer_levels
from emma.engine.protocol import ORIGINAL, SOUND, decomposition_steps
from emma.experiments.replay import decompose, explain, replay_f1, top10_side_by_side, waterfall
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
        study[family] = {"family": family, "table": pd.DataFrame(rows), "protocols": used, "params": {}, "psi_min": None}
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
    assert pd.isna(replay.set_index("model").loc["ip_only", "thesis_in_replay_range_dm_noisy"])  # no thesis number there


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


def _evidence(with_gain: float) -> RobustnessEvidence:
    seeds = np.arange(5)
    noise = np.array([0.004, -0.003, 0.002, -0.001, 0.0])

    def family(clean, noisy, jitter=0.0):
        own = noise + jitter * noise[::-1]
        return pd.DataFrame({"seed": seeds, "f1_clean": clean + own, "f1_ip_noisy": noisy + own, "f1_dm_noisy": noisy + 2 * own})

    scores = {"base": family(0.80, 0.60), "without": family(0.80, 0.70), "alternative": family(0.75, 0.65), "with": family(0.80, 0.70 + with_gain, 0.7)}
    rows = []
    for fam, level in (("with", 0.70 + with_gain), ("without", 0.65), ("base", 0.5), ("alternative", 0.6)):
        for mode in ("IP", "DM"):
            for seed in seeds:
                for db in (-20.0, -6.0, 0.0, 5.0, 10.0):
                    rows.append({"family": fam, "corrupted": mode, "seed": seed, "nsr_db": db,
                                 "f1": level + noise[seed] * (1.7 if fam == "with" else 1.0) - (0.001 * db if fam != "with" else 0.0)})
    beta = pd.DataFrame([{"seed": s, "sigma_ip": a, "sigma_dm": b,
                          "beta_ip": 0.9 - 0.5 * a / 3 + noise[s] * (1 + a), "beta_dm": 0.9 - 0.5 * b / 3 + noise[s] * (1 + b)}
                         for s in seeds for a, b in ((0.0, 0.0), (3.0, 0.0), (0.0, 3.0))])
    energy = pd.DataFrame([{"seed": s, "sigma_ip": v, "total_energy": 10 + 5 * v + noise[s] * (1 + v)} for s in seeds for v in (0.0, 4.0)])
    grid = pd.DataFrame({"rho": 1.0, "lambda_c": 0.0, "lambda_e": 0.0, "capacity_mean": np.linspace(0.1, 0.9, 9),
                         "f1_noisy_test_mean": 0.8 - (np.linspace(0.1, 0.9, 9) - 0.5) ** 2})
    return RobustnessEvidence(scores, pd.DataFrame(rows), {"IP": np.full(5, 0.70 + with_gain), "DM": np.full(5, 0.70 + with_gain)}, beta, energy, grid)


def test_a_clear_margin_over_data_augmentation_is_reproduced_and_none_is_not():
    strong = robustness_claims(_evidence(0.05)).set_index("claim")
    assert strong.iloc[0]["verdict"] == "reproduced" and strong.iloc[0]["p_holm"] < 0.05
    weak = robustness_claims(_evidence(-0.02)).set_index("claim")
    assert weak.iloc[0]["verdict"] == "not reproduced"


def test_the_capacity_claim_needs_a_rise_below_and_a_fall_above_the_median():
    evidence = _evidence(0.05)
    assert capacity_extremes(evidence.grid)["verdict"] == "reproduced"
    rising = evidence.grid.assign(f1_noisy_test_mean=evidence.grid["capacity_mean"])
    assert capacity_extremes(rising)["verdict"] == "partly reproduced"


def test_one_claims_table_carries_both_protocols_verdicts():
    sound, original = robustness_claims(_evidence(0.05)), robustness_claims(_evidence(-0.02))
    both = both_protocols(sound, original)
    assert list(both["verdict"]) == list(both["verdict_sound"])
    assert both["verdict_original"].iloc[0] == "not reproduced" and both["verdict_sound"].iloc[0] == "reproduced"
    core = both.loc[both["kind"] == "core", "claim"].tolist()  # EMMA vs data augmentation, clean accuracy, generalisation, β, energy
    assert len(core) == 7 and all("Shon" not in c and "levels off" not in c and "Yerkes" not in c for c in core)
    assert set(both["kind"]) == {"core", "secondary"}


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
    gap = thesis_gap(replay).set_index("metric")
    assert list(gap.index) == [*METRICS, "all"]
    assert gap.loc["all", "printed"] == 3 and gap.loc["all", "inside_replay_range"] == 3
    assert gap.loc["f1_clean", "replay_offset"] == pytest.approx(-0.1)
    assert gap.loc["all", "replay_distance"] == pytest.approx(0.1) and gap.loc["all", "book_distance"] == pytest.approx(0.2)
