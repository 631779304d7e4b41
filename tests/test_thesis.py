"""emma.claims.thesis holds the thesis's numbers once; chapters read them from there."""
import ast

import numpy as np
import pytest

from emma.claims import thesis
from emma.data.htru2 import N_PULSARS, N_SAMPLES
from emma_book import build as book


def test_results_table_has_the_five_baselines_and_the_top_ten():
    table = thesis.thesis_results()
    assert len(table) == 15
    assert list(table["model"][:5]) == ["ip_only", "dm_only", "base", "without", "alternative"]
    assert (table["model"][5:] == "with").all()


def test_reading_slides_swaps_the_lambda_columns_of_the_thesis_reading():
    slides, final = thesis.thesis_results("slides"), thesis.thesis_results("thesis")
    assert slides["lambda_c"].equals(final["lambda_e"])
    assert slides["lambda_e"].equals(final["lambda_c"])
    assert not slides["lambda_c"].equals(final["lambda_c"])
    first = slides[slides["thesis_rank"] == 1].iloc[0]  # the figure captions: ρ = 1e-4, λ_e = 1e-3, λ_c = 1e-2
    assert (first["rho"], first["lambda_e"], first["lambda_c"]) == (1e-4, 1e-3, 1e-2)


def test_an_unknown_reading_is_rejected():
    with pytest.raises(ValueError, match="reading must be 'slides' or 'thesis'"):
        thesis.thesis_results("draft")


def test_ranking_is_one_to_ten_on_the_with_rows_in_printed_order():
    table = thesis.thesis_results("thesis")
    ranked = table[table["model"] == "with"]
    assert ranked["thesis_rank"].tolist() == list(range(1, 11))
    assert table.loc[table["model"] != "with", "thesis_rank"].isna().all()
    assert list(thesis.THESIS_RANKING) == [tuple(r) for r in ranked[["rho", "lambda_c", "lambda_e"]].to_numpy()]


def test_split_table_adds_up_to_the_data_set():
    table = thesis.thesis_split_table()
    assert table["thesis_total"].sum() == N_SAMPLES == 17_898
    assert table["thesis_positives"].sum() == N_PULSARS
    assert (table["thesis_total"] == table["thesis_positives"] + table["thesis_negatives"]).all()
    assert table["thesis_total"].tolist() == [11_992, 2_953, 2_953]


def test_slides_outcomes_cover_every_class_and_case_and_complement_the_wrong_rates():
    assert set(thesis.SLIDES_OUTCOMES) == {(c, k) for c in ("pulsar", "non-pulsar") for k in ("clean", "IP noisy", "DM noisy")}
    assert set(thesis.SLIDES_OUTCOMES_WRONG) == set(thesis.SLIDES_OUTCOMES)
    for key, correct in thesis.SLIDES_OUTCOMES.items():
        assert correct + thesis.SLIDES_OUTCOMES_WRONG[key] == pytest.approx(1.0, abs=2e-4)  # the slides truncate


def test_training_noise_is_minus_six_db():
    assert thesis.TRAINING_SIGMA == 0.5
    assert thesis.TRAINING_NSR_DB == pytest.approx(-6.0206, abs=1e-4)


def test_capacities_are_those_of_the_grid_models_compared():
    assert set(thesis.TEMPERATURE_CAPACITIES) <= set(thesis.GRID_RHOS)
    assert thesis.TEMPERATURE_LAMBDA_E in thesis.GRID_LAMBDAS_E and thesis.TEMPERATURE_LAMBDA_C in thesis.GRID_LAMBDAS_C
    assert thesis.TEMPERATURE_CAPACITIES == {1e-4: 0.49, 1e-1: 0.63}
    assert thesis.ROBUSTNESS_FIGURE_CAPACITY == 0.19


def test_numbers_cannot_be_changed_by_a_chapter():
    with pytest.raises(TypeError):
        thesis.SLIDES_OUTCOMES["pulsar", "clean"] = 1.0


DAE = thesis.MODE_DAE_SETTINGS
#: The autoencoders' parameters left at None: the chapter takes its named DAESettings (TOY_DAE, THESIS_DAE), which
#: tests/test_autoencoder.py checks are the thesis's TOY_SETTINGS and MODE_DAE_SETTINGS.
NAMED_DAE = dict.fromkeys(["dae_hidden", "dae_epochs", "dae_batch_size", "dae_noise_std"])


@pytest.mark.parametrize(
    "chapter, expected",
    [
        ("energy_estimation", {"n_figure": thesis.TOY_SETTINGS["n_figure"], **NAMED_DAE, "lr": thesis.TOY_SETTINGS["lr"]}),
        ("pulsar_data", {"split_seed": thesis.SPLIT_SEED, "test_size": thesis.HELD_OUT_FRACTION, "training_sigma": thesis.TRAINING_SIGMA}),
        ("potential_energy", {"split_seed": thesis.SPLIT_SEED, **NAMED_DAE, "lr": DAE["lr"],
                              "sigma_max": thesis.NOISE_SWEEP_SIGMA[1], "training_sigma": thesis.TRAINING_SIGMA,
                              "n_batch": thesis.CODE_PSI_BATCH}),
    ],
)
def test_chapter_defaults_are_the_thesis_settings(chapter, expected):
    declared = book.select([chapter])[0].parameters()
    for knob, value in expected.items():
        assert ast.literal_eval(declared[knob]) == value, f"{chapter}: parameter {knob} = {declared[knob]}, the thesis has {value!r}"


def test_sweep_grid_is_five_by_five_by_five():
    assert len(thesis.GRID_RHOS) * len(thesis.GRID_LAMBDAS_C) * len(thesis.GRID_LAMBDAS_E) == 125
    assert np.all(np.diff(thesis.GRID_RHOS) > 0)
