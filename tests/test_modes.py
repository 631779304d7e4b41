"""Specifications of EMMA with more than two modes (emma.experiments.modes, emma.experiments.modes_study)."""
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import accuracy_score

from emma.experiments import modes, modes_study

TINY = modes_study.StudySettings(epochs=4, dae=modes_study.MODES_DAE.override(epochs=4), lambda_e=0.01)


@pytest.fixture(scope="module")
def tiny_run():
    """One seed, M = 3, one corrupted mode, a few epochs: every model of the study, trained."""
    configs = modes_study.study_configs(3, [1], [0], 1.0)
    results, history, state = modes_study.run_modes_study(modes.synthetic_modes(400, 3, seed=1), configs, TINY, dataset="tiny")
    return state["splits"][0][2], configs, results, history, state


@pytest.mark.parametrize("block, n_modes", [(4, 4), (2, 16)])
def test_digit_blocks_partition_the_64_pixels_exactly(block, n_modes):
    indices = modes.block_indices(block)
    assert indices.shape == (n_modes, block * block)
    assert sorted(indices.ravel().tolist()) == list(range(64))
    for mode in indices:  # each mode is one square block of the image
        rows, cols = mode // 8, mode % 8
        assert rows.max() - rows.min() == block - 1 and cols.max() - cols.min() == block - 1


def test_digit_modes_hold_the_pixels_of_their_block():
    from sklearn.datasets import load_digits

    images = load_digits().images
    quadrants, patches = modes.digit_modes(4), modes.digit_modes(2)
    assert quadrants.x.shape == (1797, 4, 16) and patches.x.shape == (1797, 16, 4)
    assert np.array_equal(quadrants.x[:, 1].numpy(), images[:, :4, 4:].reshape(-1, 16))  # top-right quadrant
    assert np.array_equal(patches.x[:, 5].numpy(), images[:, 2:4, 2:4].reshape(-1, 4))  # second row, second patch
    assert sorted(quadrants.y.unique().tolist()) == list(range(10))


def test_synthetic_modes_are_noisy_linear_views_of_one_shared_latent():
    noise = 0.3
    data = modes.synthetic_modes(3000, 5, view_noise=noise, seed=2)
    design = data.latent.numpy()
    for m in range(5):
        target = data.x[:, m].numpy()
        coef, *_ = np.linalg.lstsq(design, target, rcond=None)
        residual = target - design @ coef
        assert residual.std() == pytest.approx(noise, rel=0.05)  # what the latent leaves is the mode's own noise
    exact = modes.synthetic_modes(200, 3, view_noise=0.0, seed=2)
    coef, *_ = np.linalg.lstsq(exact.latent.numpy(), exact.x[:, 2].numpy(), rcond=None)
    assert np.allclose(exact.latent.numpy() @ coef, exact.x[:, 2].numpy(), atol=1e-5)
    assert not torch.allclose(data.x[:, 0], data.x[:, 1])  # each mode has its own view
    angle = torch.atan2(data.latent[:, 1], data.latent[:, 0])
    assert (data.y == torch.clamp(((angle + np.pi) / (2 * np.pi) * 4).long(), max=3)).all()


def test_corruption_hits_exactly_the_chosen_modes():
    g = torch.Generator().manual_seed(0)
    mask = modes.corruption_mask(200, 6, 2, clean_fraction=0.25, generator=g)
    per_sample = mask.sum(1)
    assert set(per_sample.tolist()) == {0, 2}
    assert int((per_sample == 0).sum()) == 50
    x = torch.randn(200, 6, 3)
    noisy = modes.corrupt(x, mask, 1.0, generator=g)
    changed = (noisy != x).any(-1)
    assert torch.equal(changed, mask)


def test_clean_mode_constraint_follows_the_thesis():
    assert [modes.clean_modes_needed(m) for m in (2, 3, 4, 5, 6, 8, 16)] == [1, 2, 2, 3, 3, 4, 8]
    assert modes.constraint_holds(4, 2) and not modes.constraint_holds(4, 3)
    assert modes.constraint_holds(3, 1) and not modes.constraint_holds(3, 2)
    assert [k for k in range(1, 16) if modes.constraint_holds(16, k)] == list(range(1, 9))
    assert modes.corrupted_levels(8) == list(range(1, 8)) and modes.corrupted_levels(16) == [1, 4, 8, 12, 15]


def test_autoencoders_give_corrupted_modes_a_higher_potential():
    data = modes.synthetic_modes(600, 3, seed=3)
    train, _, test = modes.split_standardize(data)
    ae = modes_study._fit_autoencoders(train.x.expand(2, *train.x.shape), modes_study.MODES_DAE.override(epochs=5), torch.Generator().manual_seed(0))
    clean = modes_study.potentials(ae, test.x.expand(2, *test.x.shape))
    noisy = modes_study.potentials(ae, (test.x + 2.0 * torch.randn(test.x.shape)).expand(2, *test.x.shape))
    assert (noisy.mean(1) > clean.mean(1) + 1.0).all()  # every seed, every mode
    assert torch.allclose(ae["psi_min"], modes_study.potentials(ae, train.x.expand(2, *train.x.shape)).amin(1))
    with pytest.raises(ValueError, match="x"):
        modes_study._fit_autoencoders(train.x)


def test_fitting_autoencoders_draws_from_its_generator_only():
    x = modes.synthetic_modes(120, 2, seed=0).x[None]  # one seed, (1, n, M, d)
    state = torch.get_rng_state()
    first = modes_study._fit_autoencoders(x, modes_study.MODES_DAE.override(epochs=1), torch.Generator().manual_seed(5))
    assert torch.equal(torch.get_rng_state(), state)  # the global generator is left as it was
    again = modes_study._fit_autoencoders(x, modes_study.MODES_DAE.override(epochs=1), torch.Generator().manual_seed(5))
    assert all(torch.equal(first[name], again[name]) for name in first)


def test_alpha_sums_to_one_and_is_lower_on_corrupted_modes_after_training(tiny_run):
    _, _, results, history, _ = tiny_run
    emma_rows = results[results["model"] != "without"]
    assert (emma_rows["alpha_corrupted"] < emma_rows["alpha_clean"]).all()
    assert results.loc[results["model"] == "without", "alpha_clean"].isna().all()
    first, last = history["epoch"].min(), history["epoch"].max()
    gap = lambda epoch: (history.loc[history["epoch"] == epoch, "alpha_clean"] - history.loc[history["epoch"] == epoch, "alpha_corrupted"]).mean()  # noqa: E731
    assert gap(last) > gap(first) > 0


def test_a_trained_model_is_an_emma_module_that_down_weights_a_corrupted_mode(tiny_run):
    test, configs, _, _, state = tiny_run
    index = int(configs.index[configs["model"] == "with"][0])
    module = modes_study.as_emma(state, index)
    batched = modes_study.potentials(state["autoencoders"], test.x[None])[0]  # seed 0
    x = [test.x[:, m] for m in range(3)]
    assert torch.allclose(torch.stack([dae.potential(part) for dae, part in zip(module.energy_models, x)], 1), batched, atol=1e-4)
    noisy = list(x)
    noisy[1] = x[1] + 2.0 * torch.randn(x[1].shape, generator=torch.Generator().manual_seed(0))
    _, out = module(noisy)
    assert torch.allclose(out.alpha.sum(1), torch.ones(len(test.y)), atol=1e-5)
    assert out.alpha[:, 1].mean() < out.alpha[:, [0, 2]].mean()
    with pytest.raises(ValueError, match="index"):
        modes_study.as_emma(state, int(configs.index[configs["model"] == "without"][0]))


def test_the_same_seeds_give_the_same_results(tiny_run):
    _, configs, results, _, _ = tiny_run
    again, _, _ = modes_study.run_modes_study(modes.synthetic_modes(400, 3, seed=1), configs, TINY, dataset="tiny")
    pd.testing.assert_frame_equal(again, results)


def test_a_model_trains_the_same_whatever_is_stacked_beside_it(tiny_run):
    _, configs, results, _, _ = tiny_run
    alone = configs[configs["model"] == "with"].reset_index(drop=True)
    again, _, _ = modes_study.run_modes_study(modes.synthetic_modes(400, 3, seed=1), alone, TINY, dataset="tiny")
    stacked = results[results["model"] == "with"].reset_index(drop=True)
    columns = ["score", "score_clean", "score_val", "alpha_corrupted", "alpha_clean", "gain"]
    pd.testing.assert_frame_equal(again[columns], stacked[columns], rtol=1e-4)


def test_each_seed_splits_the_data_its_own_way():
    data = modes.synthetic_modes(200, 2, seed=0)
    configs = modes_study.study_configs(2, [1], [0, 1], 1.0)
    _, _, state = modes_study.run_modes_study(data, configs, modes_study.StudySettings(epochs=1, dae=modes_study.MODES_DAE.override(epochs=1)))
    first, second = state["splits"][0][2], state["splits"][1][2]
    assert first.x.shape == second.x.shape and not torch.equal(first.x, second.x)


def test_paired_differences_and_summary_keep_the_seeds_paired(tiny_run):
    _, _, results, _, _ = tiny_run
    diff = modes.paired_differences(results, "with", "without", 1.0)
    expected = results.set_index("model").loc["with", "score"] - results.set_index("model").loc["without", "score"]
    assert diff["d_score"].iloc[0] == pytest.approx(expected)
    table = modes.mode_summary(results)
    assert {"score_mean", "score_std", "alpha_corrupted_mean", "alpha_clean_mean", "beta_corrupted_mean", "m_prime"} <= set(table.columns)
    assert table["n_seeds"].eq(1).all() and table["constraint_holds"].all()


def test_coldness_needed_interpolates_where_the_separation_reaches_the_level():
    frame = pd.DataFrame({"dataset": "s", "n_modes": 4, "seed": 0, "n_corrupted": 2, "coldness": [0.1, 1.0, 10.0],
                          "alpha_clean": [0.30, 0.45, 0.48], "alpha_corrupted": [0.20, 0.05, 0.02], "score_val": [0.5, 0.9, 0.8]})
    row = modes.coldness_needed(frame, level=0.5).iloc[0]  # separations 0.2, 0.8, 0.92
    assert row["rho_needed"] == pytest.approx(10 ** -0.5)
    assert row["rho_best"] == 1.0
    assert modes.coldness_needed(frame, level=0.95).iloc[0]["rho_needed"] == np.inf


def test_model_accuracy_is_sklearns_accuracy_per_model():
    rng = np.random.default_rng(0)
    predicted, y = rng.integers(0, 3, (4, 50)), rng.integers(0, 3, 50)
    assert np.allclose(modes_study.model_accuracy(predicted, y), [accuracy_score(y, p) for p in predicted])
    per_model = rng.integers(0, 3, (4, 50))
    assert np.allclose(modes_study.model_accuracy(predicted, per_model), [accuracy_score(t, p) for t, p in zip(per_model, predicted)])


def test_step_cost_reports_each_step_for_each_m():
    table = modes_study.step_cost([2, 3], repeats=1, batch_size=8)
    assert sorted(zip(table["n_modes"], table["step"])) == sorted((m, s) for m in (2, 3) for s in ("with", "without", "attention"))
    assert (table["ms_median"] > 0).all()
    assert modes_study.loglog_slope([2, 4, 8], [5, 20, 80]) == pytest.approx(2.0)


@pytest.mark.parametrize("call, match", [
    (lambda: modes.synthetic_modes(10, 1), "n_modes"),
    (lambda: modes.synthetic_modes(10, 3, latent_dim=1), "latent_dim"),
    (lambda: modes.synthetic_modes(10, 3, view_noise=-1.0), "view_noise"),
    (lambda: modes.block_indices(3), "block"),
    (lambda: modes.corruption_mask(5, 3, 4), "n_corrupted"),
    (lambda: modes.corruption_mask(5, 3, 1, clean_fraction=1.5), "clean_fraction"),
    (lambda: modes.corrupt(torch.zeros(5, 3, 2), torch.zeros(5, 2, dtype=torch.bool), 1.0), "mask"),
    (lambda: modes.corrupt(torch.zeros(5, 3, 2), torch.zeros(5, 3, dtype=torch.bool), -1.0), "sigma"),
    (lambda: modes.clean_modes_needed(1), "n_modes"),
    (lambda: modes.constraint_holds(3, 4), "n_corrupted"),
    (lambda: modes_study.study_configs(4, [4], [0], 1.0), "corrupted"),
    (lambda: modes.split_standardize(modes.synthetic_modes(50, 2), fractions=(0.5, 0.5, 0.5)), "fractions"),
    (lambda: modes_study.model_accuracy(np.zeros((2, 3)), np.zeros(4)), "predicted"),
    (lambda: modes_study.model_accuracy(np.zeros((2, 3)), np.zeros((3, 3))), "predicted"),
    (lambda: modes_study.loglog_slope([1, 2], [0, 1]), "positive"),
])
def test_bad_input_raises_a_value_error_naming_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_run_modes_study_rejects_unknown_models_and_non_mode_data():
    data = modes.synthetic_modes(60, 2)
    bad = pd.DataFrame({"seed": [0], "n_corrupted": [1], "model": ["alternative"], "coldness": [1.0]})
    with pytest.raises(ValueError, match="model"):
        modes_study.run_modes_study(data, bad)
    with pytest.raises(TypeError, match="ModeData"):
        modes.split_standardize((data.x, data.y))


@pytest.mark.parametrize("kwargs, message", [({"coldness": -1.0}, "coldness"), ({"sweep_coldness": [0.1, 0.0]}, "sweep_coldness"),
                                             ({"seeds": [0, 0]}, "0 appears twice")])
def test_study_configs_refuse_bad_coldness_and_seeds_by_name(kwargs, message):
    args = {"n_modes": 4, "corrupted": [1, 2], "seeds": [0], "coldness": 1.0, **kwargs}
    with pytest.raises(ValueError, match=message):
        modes_study.study_configs(**args)
