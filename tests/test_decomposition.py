"""Specifications of the decomposition's second stage, waterfalls and sentences (emma.experiments.decomposition), on the made-up study of test_replay."""
import pandas as pd
import pytest
import test_replay

from emma.claims.thesis import thesis_configs, thesis_results
from emma.engine.configs import TrainSettings
from emma.engine.protocol import ORIGINAL, SOUND, decomposition_steps
from emma.experiments import decomposition as dc
from emma.experiments.replay import METRICS, replay_f1, thesis_gap
from emma.experiments.robustness import Trained

SELECTED = {"test": test_replay.OTHER, "validation": test_replay.RANK1}


@pytest.fixture(scope="module")
def study():
    steps = decomposition_steps()
    protocols = []
    for p in [ORIGINAL, SOUND] + [s["protocol"] for s in steps]:
        if p not in protocols:
            protocols.append(p)
    return test_replay._fake_study(protocols)


@pytest.fixture(scope="module")
def decomposition(study):
    return dc.decompose(study, decomposition_steps(), test_replay.RANK1, SELECTED)


def test_the_strongest_single_switch_is_the_largest_change_of_a_clean_f1_either_way(decomposition):
    strongest = dc.strongest_switch(decomposition)
    assert (strongest["switch"], strongest["step"]) == ("corruption_in_place", "single")
    assert strongest["delta_f1_clean_mean"] == pytest.approx(-0.10)
    with pytest.raises(ValueError, match="decomposition must be the table of decompose"):
        dc.strongest_switch(decomposition.drop(columns="step"))


def test_the_waterfalls_give_every_family_of_the_thesiss_table_and_subset_from_the_thesis_to_the_book(study, decomposition):
    bars = dc.waterfalls(replay_f1(study, thesis_results("slides")), decomposition)
    assert list(dict.fromkeys(bars["family"])) == list(dc.WATERFALL_FAMILIES)  # the selected EMMA has no row in the thesis's table
    assert list(dict.fromkeys(bars["metric"])) == list(METRICS)
    base = bars[(bars["family"] == "base") & (bars["metric"] == "f1_clean")]
    assert base["label"].iloc[0] == "thesis" and base["label"].iloc[-1] == "sound" and base["delta"].iloc[-1] == pytest.approx(0.71)
    assert base["delta"].iloc[2:-1].sum() == pytest.approx(-0.12)  # the cumulative switches, the replay's 0.83 to the book's 0.71


def test_the_explanation_names_each_subset_the_residual_and_the_strongest_switch(study, decomposition):
    replay = replay_f1(study, thesis_results("slides"))
    text = dc.explanation(replay, decomposition, thesis_gap(replay))
    assert text.index("**Clean test samples.**") < text.index("**IP-noisy test samples.**") < text.index("**DM-noisy test samples.**")
    assert "**What the protocol does not explain.** on clean samples," in text
    assert text.rstrip().endswith("is `corruption_in_place` (base: -0.100 from the replay).")


def test_the_decomposition_reads_its_single_and_cumulative_views(decomposition):
    stage = dc.Decomposition(test_replay.RANK1, SELECTED, decomposition_steps(), {}, decomposition)
    single, cumulative = stage.view("single"), stage.view("cumulative")
    assert single.loc["corruption_in_place", "base"] == "-0.100 ± 0.000"
    assert "threshold" in single.index and "threshold" not in cumulative.index
    with pytest.raises(ValueError, match="step must be"):
        stage.view("both")


def test_the_second_stage_checks_its_inputs_before_training(splits):
    trained = Trained(splits, TrainSettings(), None, [0], {"rho": [1.0], "lambda_c": [0.0], "lambda_e": [0.0]}, {}, {}, {}, {}, {}, pd.DataFrame())
    with pytest.raises(TypeError, match="trained must be the Trained"):
        dc.second_stage({}, SELECTED, thesis_configs())
    with pytest.raises(ValueError, match="selected must map 'test' and 'validation'"):
        dc.second_stage(trained, {"test": test_replay.OTHER}, thesis_configs())
    with pytest.raises(ValueError, match="thesis_configs must be a non-empty DataFrame"):
        dc.second_stage(trained, SELECTED, thesis_configs().iloc[:0])
