"""Specifications of Experiment II's confirmation stage (emma.experiments.confirmation), on hand-made configurations and sweeps."""
import numpy as np
import pandas as pd
import pytest

from emma.claims.thesis import thesis_results
from emma.engine.autoencoders import THESIS_DAE
from emma.engine.results import SweepResult
from emma.experiments.confirmation import Confirmation, confirmation_study, confirmed_table, grid_edges

AXES = {"rho": [1e-4, 1e-3, 1e-1], "lambda_c": [0.0, 1e-3, 1e-2], "lambda_e": [0.0, 1e-2, 1e-1]}


@pytest.mark.parametrize(("config", "edges"), [
    ({"rho": 1e-3, "lambda_c": 1e-3, "lambda_e": 1e-2}, []),  # inside on every axis
    ({"rho": 1e-3, "lambda_c": 0.0, "lambda_e": 0.0}, []),  # a regularizer at 0 is switched off, not at an edge
    ({"rho": 1e-1, "lambda_c": 1e-3, "lambda_e": 1e-2}, ["ρ (largest value, 0.1)"]),
    ({"rho": 1e-4, "lambda_c": 1e-3, "lambda_e": 1e-2}, ["ρ (smallest value, 0.0001)"]),  # the grid could go warmer
    ({"rho": 1e-3, "lambda_c": 1e-2, "lambda_e": 1e-1}, ["λ_c (largest value, 0.01)", "λ_e (largest value, 0.1)"]),
    ({"rho": 1e-1, "lambda_c": 1e-2, "lambda_e": 1e-1}, ["ρ (largest value, 0.1)", "λ_c (largest value, 0.01)", "λ_e (largest value, 0.1)"]),
])
def test_grid_edges_name_the_axes_on_whose_end_the_choice_lies(config, edges):
    assert grid_edges(config, AXES) == edges


def test_grid_edges_ignore_the_order_of_the_axes_values_and_an_axis_of_one_value():
    shuffled = {name: list(reversed(values)) for name, values in AXES.items()}
    assert grid_edges({"rho": 1e-1, "lambda_c": 1e-2, "lambda_e": 0.0}, shuffled) == ["ρ (largest value, 0.1)", "λ_c (largest value, 0.01)"]
    single = {"rho": [0.1], "lambda_c": [0.01], "lambda_e": [0.0, 0.1]}
    assert grid_edges({"rho": 0.1, "lambda_c": 0.01, "lambda_e": 0.0}, single) == []  # nothing to choose from: no edge
    assert grid_edges({"rho": np.float64(0.1), "lambda_c": np.float64(0.0), "lambda_e": np.float64(0.1)},
                      {k: np.asarray(v) for k, v in AXES.items()}) == ["ρ (largest value, 0.1)", "λ_e (largest value, 0.1)"]


SEEDS = [0, 1, 2]
SELECTED = {"rho": 0.1, "lambda_c": 1e-3, "lambda_e": 0.0}  # not among the thesis's top 10
RANK1 = {"rho": 1e-4, "lambda_c": 1e-2, "lambda_e": 1e-3}  # the thesis's rank 1 (slides' reading)


def _sweep(family: str, configs: list, level: float) -> dict:
    rows = [{"model": family, **config, "seed": seed, "protocol": "sound",
             "f1_clean": level + 0.1 * k + 0.01 * seed, "f1_ip_noisy": level - 0.1 + 0.1 * k + 0.02 * seed, "f1_dm_noisy": level - 0.05 + 0.1 * k}
            for k, config in enumerate(configs) for seed in SEEDS]
    return SweepResult(family=family, table=pd.DataFrame(rows), params={}, protocols=[None] * len(rows), psi_min=None)


@pytest.fixture
def confirmation() -> Confirmation:
    nan = {"rho": np.nan, "lambda_c": np.nan, "lambda_e": np.nan}
    off = {**SELECTED, "lambda_c": 0.0}
    sweeps = {family: _sweep(family, [nan], level) for family, level in
              (("ip_only", 0.6), ("dm_only", 0.5), ("base", 0.7), ("without", 0.75), ("alternative", 0.72))}
    sweeps["with"] = _sweep("with", [RANK1, SELECTED, off], 0.7)  # each confirmed configuration's models, in the table's order
    configs = {"with (selected)": SELECTED, "with (thesis rank 1)": RANK1, "with (selected, lambda_c = 0)": off}
    return Confirmation(SEEDS, {}, sweeps, configs)


def test_a_confirmed_configuration_is_the_sub_sweep_of_its_models_one_per_seed(confirmation):
    selected = confirmation.config("with (selected)")
    assert selected.table["seed"].tolist() == SEEDS and np.allclose(selected.table["rho"], 0.1)
    assert selected.table["f1_clean"].tolist() == pytest.approx([0.8, 0.81, 0.82])  # the second configuration of the sweep
    with pytest.raises(ValueError, match="label must be one of.*'with \\(selected\\)'"):
        confirmation.config("with (best)")


def test_the_confirmed_table_sets_every_model_over_the_seeds_beside_the_thesiss_number(confirmation):
    table = confirmed_table(confirmation, thesis_results("slides")).set_index("model")
    assert list(table.index) == ["ip_only", "dm_only", "base", "without", "alternative", "with (selected)", "with (thesis rank 1)",
                                 "with (selected, lambda_c = 0)"]
    assert list(table.reset_index().columns[:5]) == ["model", "rho", "lambda_c", "lambda_e", "n_seeds"]
    assert (table["n_seeds"] == len(SEEDS)).all()
    assert table.loc["base", "f1_clean_mean"] == pytest.approx(0.71) and table.loc["base", "f1_clean_std"] == pytest.approx(0.01)
    assert table.loc["base", "f1_ip_noisy_mean"] == pytest.approx(0.62) and table.loc["base", "f1_dm_noisy_std"] == pytest.approx(0.0)
    assert table.loc["base", "thesis_f1_clean"] == pytest.approx(0.8830) and table.loc["without", "thesis_f1_ip_noisy"] == pytest.approx(0.7097)
    assert np.isnan(table.loc["ip_only", "thesis_f1_dm_noisy"])  # the thesis prints no number there
    first = table.loc["with (thesis rank 1)"]
    assert first["f1_clean_mean"] == pytest.approx(0.71) and first[["rho", "lambda_c", "lambda_e"]].tolist() == pytest.approx([1e-4, 1e-2, 1e-3])
    assert first[["thesis_f1_clean", "thesis_f1_ip_noisy", "thesis_f1_dm_noisy"]].tolist() == pytest.approx([0.8881, 0.7333, 0.8077])
    chosen = table.loc["with (selected)"]
    assert chosen["f1_clean_mean"] == pytest.approx(0.81) and chosen["lambda_c"] == pytest.approx(1e-3)
    assert chosen[["thesis_f1_clean", "thesis_f1_ip_noisy", "thesis_f1_dm_noisy"]].isna().all()  # outside the thesis's top 10
    assert table.loc["with (selected, lambda_c = 0)", "f1_clean_mean"] == pytest.approx(0.91)


def test_the_confirmation_study_checks_its_configurations_before_training_anything():
    with pytest.raises(ValueError, match="configs must be a non-empty dict"):
        confirmation_study(None, [0, 1], {}, None, dae=THESIS_DAE)
    with pytest.raises(ValueError, match=r"configs\['with \(selected\)'\] must hold exactly rho, lambda_c and lambda_e"):
        confirmation_study(None, [0, 1], {"with (selected)": {"rho": 0.1, "lambda_c": 0.0}}, None, dae=THESIS_DAE)
    with pytest.raises(ValueError, match="seeds"):
        confirmation_study(None, [0, 0], {"with (selected)": SELECTED}, None, dae=THESIS_DAE)
