"""Specifications of Experiment II's steps (emma.experiments.robustness) and figures (emma.experiments.robustness_figures), on hand-made sweeps."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from emma.claims.thesis import ROBUSTNESS_FIGURE_CAPACITY, TEMPERATURE_CAPACITIES, thesis_configs, thesis_results  # noqa: E402
from emma.engine.configs import TrainSettings  # noqa: E402
from emma.engine.protocol import ORIGINAL, SOUND  # noqa: E402
from emma.engine.results import SweepResult  # noqa: E402
from emma.experiments import robustness as rb  # noqa: E402
from emma.experiments import robustness_figures as rf  # noqa: E402

SEEDS = [0, 1]
RANK1 = (1e-4, 1e-2, 1e-3)  # the thesis's first configuration, slides' reading
COLD = (1e-4, 0.0, 0.0)  # best on validation under SOUND
WARM = (1e-1, 1e-3, 1e-2)  # best on the noisy test set
AXES = {"rho": [1e-4, 1e-1], "lambda_c": [0.0, 1e-3, 1e-2], "lambda_e": [0.0, 1e-3, 1e-2]}


def _rows(family, configs, protocol, level):
    """One model per (configuration, seed): F1 rising with the configuration's position, validation favouring COLD, test favouring WARM."""
    rows = []
    for k, (rho, lambda_c, lambda_e) in enumerate(configs):
        for seed in SEEDS:
            f1 = level + 0.02 * k + 0.01 * seed
            rows.append({"model": family, "seed": seed, "rho": rho, "lambda_c": lambda_c, "lambda_e": lambda_e, "protocol": protocol.label(),
                         "f1_clean": f1 + 0.1, "f1_ip_noisy": f1, "f1_dm_noisy": f1 + 0.05,
                         "f1_noisy_test": f1 + (0.2 if (rho, lambda_c, lambda_e) == WARM else 0),
                         "val_f1_ip_noisy": f1 + (0.3 if (rho, lambda_c, lambda_e) == COLD else 0), "val_f1_dm_noisy": f1, "capacity": 0.1 + 0.1 * k,
                         "capacity_relu": 0.2, "best_epoch": 2})
    return rows


def _sweep(family, configs, protocol, level):
    table = pd.DataFrame(_rows(family, configs, protocol, level))
    curves = pd.DataFrame([{"model_index": i, "epoch": e, "train_loss": 1.0 / e, "val_loss": 1.2 / e} for i in range(len(table)) for e in (1, 2, 3)])
    return SweepResult(family=family, table=table, curves=curves, protocols=[protocol] * len(table))


def _family_sweeps(protocol):
    nan = [(np.nan, np.nan, np.nan)]
    sweeps = {family: _sweep(family, nan, protocol, level) for family, level in
              (("ip_only", 0.5), ("dm_only", 0.4), ("base", 0.6), ("without", 0.65), ("alternative", 0.62))}
    sweeps["with"] = _sweep("with", [COLD, RANK1, WARM], protocol, 0.6)
    return sweeps


@pytest.fixture
def trained(splits):
    sweeps, original = _family_sweeps(SOUND), _family_sweeps(ORIGINAL)
    timing = pd.DataFrame({"family": ["base"], "models (every seed and protocol)": [2], "training_seconds": [1.0]})
    return rb.Trained(splits, TrainSettings(), None, SEEDS, AXES, {}, sweeps, sweeps, sweeps, original, timing)


def test_the_protocol_fields_table_sets_each_fields_two_values_side_by_side():
    fields = rb.protocol_fields()
    assert list(fields.columns) == ["field", "sound", "source", "original"]
    assert fields["sound"].tolist() == SOUND.table()["value"].tolist() and fields["original"].tolist() == ORIGINAL.table()["value"].tolist()
    in_place = fields.set_index("field").loc["corruption_in_place"]
    assert (in_place["sound"], in_place["original"], in_place["source"]) == ("False", "True", "original-in-place-corruption")


def test_the_thesis_configurations_are_its_ten_printed_with_rows_in_rank_order():
    table = thesis_results("slides")
    configs = thesis_configs("slides")
    assert configs.to_numpy().tolist() == table[table["model"] == "with"][["rho", "lambda_c", "lambda_e"]].to_numpy().tolist()
    assert tuple(configs.iloc[0]) == RANK1 and len(configs) == 10
    assert thesis_configs("thesis").iloc[0].tolist() == [1e-4, 1e-3, 1e-2]  # the final thesis's heading swaps the λ columns
    with pytest.raises(ValueError, match="reading must be"):
        thesis_configs("draft")


def test_each_protocol_chooses_by_its_own_rule(trained):
    chosen = rb.choose(trained)
    assert chosen.config == dict(zip(("rho", "lambda_c", "lambda_e"), COLD))  # SOUND: the validation set
    assert chosen.original_config == dict(zip(("rho", "lambda_c", "lambda_e"), WARM))  # ORIGINAL: the test set
    assert chosen.sweep.table["seed"].tolist() == SEEDS and np.allclose(chosen.sweep.table["rho"], COLD[0])
    assert chosen.grid["test_score"].iloc[0] == pytest.approx(chosen.grid[["f1_ip_noisy_mean", "f1_dm_noisy_mean"]].iloc[0].mean())
    assert chosen.original_capacity == pytest.approx(0.1 + 0.1 * 2 + 0.0)  # WARM is the third configuration
    assert "rank by the thesis's test-set procedure: 3" in str(chosen)
    with pytest.raises(TypeError, match="trained must be the Trained"):
        rb.choose({"with": None})


def test_the_headline_puts_baselines_the_thesis_top_ten_and_the_choice_beside_the_thesis(trained):
    chosen = rb.choose(trained)
    results = rb.headline(trained, chosen, thesis_results("slides"))
    table = results.table.set_index("model")
    assert list(table.index[:5]) == ["ip_only", "dm_only", "base", "without", "alternative"]
    assert len(table) == 5 + 10 + 1 and table.index[-1] == "with (selected on validation)"
    assert table.loc["base", "f1_clean_mean"] == pytest.approx(0.6 + 0.1 + 0.005) and table.loc["base", "thesis_f1_clean"] == pytest.approx(0.8830)
    first = table.loc["with (thesis top 10, rank 1)"]  # in the grid: our numbers beside the thesis's
    assert first["f1_ip_noisy_mean"] == pytest.approx(0.6 + 0.02 + 0.005) and first["thesis_f1_ip_noisy"] == pytest.approx(0.7333)
    assert np.isnan(table.loc["with (thesis top 10, rank 2)", "f1_clean_mean"])  # not in this grid
    assert results.grid["rank_validation"].tolist() == [1, 2, 3] and results.grid["thesis_f1_clean"].notna().tolist() == [False, False, True]
    assert list(results.baselines["model"]) == list(rb.BASELINES)
    with pytest.raises(ValueError, match="thesis must be the table"):
        rb.headline(trained, chosen, thesis_results("slides").drop(columns="thesis_rank"))


def test_the_capacity_tables_set_the_thesiss_reported_capacities_beside_ours(trained):
    chosen = rb.choose(trained)
    capacities, reported = rb.capacity_tables(trained, chosen)
    assert capacities["capacity_selected"].tolist() == [True, False, False]
    assert reported["thesis_capacity"].tolist() == [*TEMPERATURE_CAPACITIES.values(), ROBUSTNESS_FIGURE_CAPACITY]
    assert np.isnan(reported["capacity_mean"].iloc[0])  # (10⁻⁴, 10⁻³, 10⁻²) is not in this grid
    assert reported["capacity_mean"].iloc[1] == pytest.approx(0.3)  # (10⁻¹, 10⁻³, 10⁻²) is WARM, the third configuration
    assert reported["capacity_mean"].iloc[-1] == pytest.approx(chosen.row["capacity_mean"])


def test_the_selection_names_the_edges_of_the_grid_it_lies_on(trained):
    chosen = rb.choose(trained)
    table = rb.selection(trained, chosen)
    assert table.iloc[0][["rho", "lambda_c", "lambda_e"]].tolist() == list(COLD)
    assert table.iloc[0]["edges"] == "ρ (smallest value, 0.0001)" and int(table.iloc[0]["rank_test"]) == 3


def test_train_refuses_an_empty_axis_or_bad_seeds_before_training(splits):
    with pytest.raises(ValueError, match="rho values must be a non-empty sequence"):
        rb.train(splits, TrainSettings(), dae=None, seeds=[0], rhos=[], lambdas_c=[0.0], lambdas_e=[0.0])
    with pytest.raises(ValueError, match="lambda_e values must be a non-empty sequence"):
        rb.train(splits, TrainSettings(), dae=None, seeds=[0], rhos=[1.0], lambdas_c=[0.0], lambdas_e="0.0")
    with pytest.raises(ValueError, match="seeds"):
        rb.train(splits, TrainSettings(), dae=None, seeds=[], rhos=[1.0], lambdas_c=[0.0], lambdas_e=[0.0])


def test_the_regularizer_figure_draws_one_line_per_level_with_its_colour():
    rows = [{"regularizer": name, "level": level, "value": value, "corrupted": mode, "nsr_db": nsr, "f1": 0.5, "beta_ip": 0.4, "beta_dm": 0.6, "seed": 0}
            for name in ("lambda_c", "lambda_e") for level, value in (("none", 0.0), ("good", 1e-3), ("high", 1e-1))
            for mode in ("IP", "DM") for nsr in (-6.0, 0.0)]
    fig = rf.regularizers(pd.DataFrame(rows))
    top = fig.axes[0]
    assert [line.get_label() for line in top.get_lines()] == ["none: λ_c = 0", "good: λ_c = 0.001", "high: λ_c = 0.1"]
    assert [line.get_color() for line in top.get_lines()] == list(rf.LEVEL_COLORS.values())
    plt.close(fig)
    with pytest.raises(ValueError, match="regularizer_curves' table"):
        rf.regularizers(pd.DataFrame(rows).drop(columns="level"))


def test_the_grid_ranking_circles_the_thesiss_configurations_and_draws_each_baseline(trained):
    chosen = rb.choose(trained)
    results = rb.headline(trained, chosen, thesis_results("slides"))
    fig = rf.grid_ranking(results.grid, results.baselines)
    ax = fig.axes[0]
    assert len(ax.collections[-1].get_offsets()) == 1  # one configuration of the thesis's top 10 in this grid
    assert [line.get_label() for line in ax.get_lines() if line.get_linestyle() == "--"] == ["without", "base", "alternative"]
    plt.close(fig)


def test_the_training_curves_and_capacities_figures_read_the_first_seeds_models(trained):
    chosen = rb.choose(trained)
    fig = rf.training_curves(trained, chosen, n_models=2)
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert labels[:2] == ["base", "without"] and labels[2].startswith("with ρ=0.0001, λc=0, λe=0") and len(labels) == 4
    plt.close(fig)
    fig = rf.capacities(trained)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["0", "0.001", "0.01"]
    plt.close(fig)
    with pytest.raises(TypeError, match="chosen must be the Chosen"):
        rf.training_curves(trained, {"rho": 1.0})
