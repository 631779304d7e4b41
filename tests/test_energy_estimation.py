"""Specifications of the studies of chapter 2, the two estimators on two manifolds (emma/experiments/energy_estimation.py)."""
import matplotlib.pyplot as plt
import pytest
import torch

from emma.claims.rules import VERDICTS
from emma.engine.autoencoders import TOY_DAE
from emma.experiments import energy_estimation as ee
from emma.experiments.manifolds import MANIFOLDS, grid

torch.set_num_threads(1)  # tiny models: threads only add overhead on a shared machine

SEEDS = [0, 1]
DAE = TOY_DAE.override(epochs=2, batch_size=50)


@pytest.fixture(scope="module")
def models():
    return ee.train_manifold_models(SEEDS, n_train=200, dae=DAE)


@pytest.fixture(scope="module")
def estimates(models):
    return ee.estimator_grid(models, 5.0, 21)


@pytest.fixture(scope="module")
def separation(models, estimates):
    return ee.estimator_separation(models, estimates, on_manifold=0.25, off_manifold=0.75)


BAD_INPUTS = [
    (lambda: ee.manifolds_figure(-1, 10), ValueError, "seed"),
    (lambda: ee.train_manifold_models([0, 0], n_train=100), ValueError, "seeds"),
    (lambda: ee.train_manifold_models([0], n_train=5), ValueError, "n_train"),
    (lambda: ee.train_manifold_models([0], n_train=100, dae={"epochs": 1}), TypeError, "dae"),
    (lambda: ee.estimator_grid("models", 5.0, 21), TypeError, "models"),
]


@pytest.mark.parametrize("call, error, argument", BAD_INPUTS)
def test_bad_input_raises_an_error_naming_the_argument(call, error, argument):
    with pytest.raises(error, match=rf"^{argument}\b"):
        call()


def test_bad_settings_of_the_trained_studies_raise_an_error_naming_them(models, estimates):
    with pytest.raises(ValueError, match=r"^grid_limit\b"):
        ee.estimator_grid(models, 0.0, 21)
    with pytest.raises(ValueError, match=r"^n_points\b"):
        ee.derivation_checks(models, grid_limit=5.0, n_points=0)
    with pytest.raises(ValueError, match=r"^off_manifold\b"):
        ee.estimator_separation(models, estimates, on_manifold=0.5, off_manifold=0.25)
    with pytest.raises(ValueError, match=r"^seed\b"):
        estimates.heatmaps_figure(7)


def test_the_manifolds_figure_draws_n_samples_of_each_manifold():
    fig = ee.manifolds_figure(0, 30)
    assert [len(ax.collections[0].get_offsets()) for ax in fig.axes] == [30, 30]
    assert [ax.get_title() for ax in fig.axes] == [f"{kind} (30 samples)" for kind in MANIFOLDS]
    plt.close(fig)


def test_one_tied_and_one_untied_model_per_manifold_and_seed_with_the_settings_given(models):
    keys = [(kind, seed) for kind in MANIFOLDS for seed in SEEDS]
    assert list(models.models) == keys and list(models.untied) == keys and list(models.curves) == keys
    assert all(m.weight.shape == (DAE.d_hidden, 2) and m.noise_std == DAE.noise_std for m in models.models.values())
    assert all(len(curve) == DAE.epochs and "val_loss" in curve for curve in models.curves.values())


def test_a_seed_gives_the_same_models_alone_or_among_others(models):
    alone = ee.train_manifold_models([1], n_train=200, dae=DAE)
    for kind in MANIFOLDS:
        torch.testing.assert_close(alone.models[kind, 1].weight, models.models[kind, 1].weight)


def test_the_figures_of_the_trained_models_show_each_manifold(models, estimates):
    curves = models.learning_curves_figure()
    assert sorted({line.get_label().split(":")[0] for line in curves.axes[0].get_lines()}) == sorted(MANIFOLDS)
    fields = models.vector_fields_figure(5.0, 11, 20)
    assert [ax.get_title() for ax in fields.axes] == [f"$r(x) - x$, {kind}" for kind in MANIFOLDS]
    heatmaps = estimates.heatmaps_figure(0)
    assert [ax.get_title() for ax in heatmaps.axes if ax.get_title()] == [
        "reconstruction error, wave", "reconstruction error, circle", "potential energy, wave", "potential energy, circle"]
    plt.close("all")


def test_the_grid_holds_both_estimators_of_every_model_at_every_point(models, estimates):
    _, _, points = grid(5.0, 21)
    torch.testing.assert_close(estimates.points, points)
    model = models.models["circle", 1]
    with torch.no_grad():
        torch.testing.assert_close(estimates.estimates["circle", 1]["potential energy"], model.potential(points))
        torch.testing.assert_close(estimates.estimates["circle", 1]["reconstruction error"], model.reconstruction_error(points))
    assert list(estimates.estimates["wave", 0]) == list(ee.ESTIMATORS)


def test_the_derivation_checks_hold_where_expected_and_fail_where_not(models):
    checks = ee.derivation_checks(models, grid_limit=5.0, n_points=50)
    assert len(checks) == 4 * len(MANIFOLDS) and (checks["points"] == 50 * len(SEEDS)).all()
    assert (checks["passed"] == checks["expected_to_hold"]).all()
    assert (checks.loc[~checks["expected_to_hold"], "max_abs_error"] > 100 * ee.CHECK_TOLERANCE).all()


def test_the_drafts_eq_4_6_as_printed_is_the_wrong_sign_of_the_quadratic_term(models):
    model = models.models["wave", 0]
    x = torch.tensor([[0.5, -1.0]])
    printed = ee.potential_eq_4_6_as_printed(model)(x)
    with torch.no_grad():
        quadratic_difference = printed - model.potential(x)  # eq. 4.7 has +½‖x − b_r‖², eq. 4.6 −½‖x + b_r‖²
        expected = -0.5 * ((x + model.bias_visible) ** 2).sum(1) - 0.5 * ((x - model.bias_visible) ** 2).sum(1)
    torch.testing.assert_close(quadratic_difference, expected)


def test_the_separation_tables_summarise_the_per_seed_measurements(separation):
    per_seed = separation.per_seed
    assert len(per_seed) == len(MANIFOLDS) * len(SEEDS) * len(ee.ESTIMATORS)
    assert per_seed["auroc_on_vs_off"].between(0, 1).all() and per_seed["centre_percentile_on_manifold"].between(0, 1).all()
    row = separation.table.set_index(["manifold", "estimator"]).loc[("wave", "potential energy")]
    wave = per_seed.query("manifold == 'wave' and estimator == 'potential energy'")["auroc_on_vs_off"]
    assert row["seeds"] == len(SEEDS) and row["auroc_mean"] == pytest.approx(wave.mean())
    assert sorted(separation.centre["estimator"]) == sorted(ee.ESTIMATORS)
    assert (separation.centre["seeds"] == len(SEEDS)).all()


def test_the_two_claims_are_judged_with_a_verdict(separation):
    claims = separation.claims
    assert list(claims["id"]) == ["reconstruction_error_blind_at_centre", "estimators_low_near_manifold"]
    assert set(claims["verdict"]) <= set(VERDICTS)
    assert list(claims["n_seeds"]) == [len(SEEDS), len(SEEDS)]
    assert set(ee.CLAIMS_SHOWN) <= set(claims.columns)
