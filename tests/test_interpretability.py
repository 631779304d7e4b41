"""Specifications of the interpretability tests of Experiment II (emma.experiments.interpretability)."""
import numpy as np
import pandas as pd
import pytest
import torch

from emma.data.splits import Split, Splits
from emma.engine.configs import TrainSettings
from emma.engine.evaluation import model_outputs, per_sample_outcomes
from emma.engine.families import init_parameters
from emma.engine.launch import run_sweep
from emma.experiments.interpretability import (
    AUROC_COLUMNS,
    CONTRAST_COLUMNS,
    attention_contrast,
    energy_error_auroc,
    error_auroc,
)

SETTINGS = TrainSettings(epochs=2, batch_size=32)
SEEDS = [0, 1]


def _split(n, generator):
    x = torch.randn(n, 8, generator=generator)
    y = ((x[:, 0] + x[:, 4] + 0.5 * torch.randn(n, generator=generator)) > 1.0).float()
    return Split(x=x, y=y, index=np.arange(n))


@pytest.fixture(scope="module")
def big_splits():
    """A synthetic task with a test split of 400 samples: enough for the shuffled baseline's drop to be near 0."""
    g = torch.Generator().manual_seed(0)
    return Splits(_split(200, g), _split(120, g), _split(400, g), np.zeros(8), np.ones(8), 0)


@pytest.fixture(scope="module")
def sweep(big_splits, energies):
    configs = pd.DataFrame({"seed": SEEDS, "rho": [0.1, 0.1], "lambda_c": [0.0, 0.0], "lambda_e": [0.0, 0.0]})
    return run_sweep("with", configs, big_splits, SETTINGS, energies=energies, base=init_parameters("base", SEEDS), progress=False)


def _hand_built(sweep, *, constant_logit=None):
    """The sweep's models with EMMA set by hand: E_i = Ψ'_i, no shared energy, β = tanh(α); optionally a constant classifier."""
    params = {name: value.clone() for name, value in sweep.params.items()}
    params["self_weight"].fill_(1.0)
    params["self_bias"].fill_(0.0)
    params["shared_weight"].fill_(0.0)
    params["gain"].fill_(1.0)
    params["bias"].fill_(0.0)
    table = sweep.table.copy()
    table["rho"] = 0.1
    if constant_logit is not None:
        params["w2"].fill_(0.0)
        params["b2"].fill_(constant_logit)
        table["threshold"] = 0.5
    return sweep.replace(params=params, table=table)


# --------------------------------------------------------------------------- attention against shuffled potentials


def test_the_contrast_has_one_row_per_seed_and_mode_and_its_drop_is_clean_minus_noisy(sweep, big_splits, energies):
    out = attention_contrast(sweep, big_splits, energies=energies, sigma=2.0)
    assert list(out.columns) == list(CONTRAST_COLUMNS)
    assert sorted(zip(out["seed"], out["mode"])) == [(0, "DM"), (0, "IP"), (1, "DM"), (1, "IP")]
    assert (out["sigma"] == 2.0).all()
    assert np.allclose(out["drop"], out["beta_clean"] - out["beta_noisy"])
    assert out[["beta_clean", "beta_noisy", "drop", "drop_shuffled"]].notna().all().all()


def test_the_contrast_scores_the_samples_of_the_chapters_per_sample_outcomes(sweep, big_splits, energies):
    out = attention_contrast(sweep, big_splits, energies=energies, sigma=2.0).set_index(["seed", "mode"])
    samples = per_sample_outcomes(sweep, big_splits, 2.0, energies=energies, clean_fraction=0.5)
    means = samples.groupby(["seed", "case"])[["beta_ip", "beta_dm"]].mean()
    for seed in SEEDS:
        assert out.loc[(seed, "IP"), "beta_clean"] == pytest.approx(means.loc[(seed, "clean"), "beta_ip"], abs=1e-6)
        assert out.loc[(seed, "IP"), "beta_noisy"] == pytest.approx(means.loc[(seed, "IP noisy"), "beta_ip"], abs=1e-6)
        assert out.loc[(seed, "DM"), "beta_noisy"] == pytest.approx(means.loc[(seed, "DM noisy"), "beta_dm"], abs=1e-6)


def test_potentials_taken_from_the_rows_themselves_are_the_models_outputs(sweep, big_splits, energies):
    x = torch.stack([big_splits.test.x + 0.5 * torch.randn(big_splits.test.x.shape, generator=torch.Generator().manual_seed(s)) for s in SEEDS])
    prob, out = model_outputs(sweep, x, energies)
    same_prob, same = model_outputs(sweep, x, energies, potential_rows=torch.arange(x.shape[1]).expand(len(SEEDS), -1))
    assert torch.allclose(prob, same_prob, atol=1e-6) and torch.allclose(out.beta, same.beta, atol=1e-6)
    reversed_order = torch.arange(x.shape[1]).flip(0).expand(len(SEEDS), -1)
    _, moved = model_outputs(sweep, x, energies, potential_rows=reversed_order)
    assert torch.allclose(moved.potentials, out.potentials.flip(1), atol=1e-5)  # each row sees another row's Ψ


def test_shuffling_with_a_fixed_seed_is_reproducible_and_another_seed_changes_only_the_baseline(sweep, big_splits, energies):
    first = attention_contrast(sweep, big_splits, energies=energies, sigma=2.0, shuffle_seed=3)
    again = attention_contrast(sweep, big_splits, energies=energies, sigma=2.0, shuffle_seed=3)
    other = attention_contrast(sweep, big_splits, energies=energies, sigma=2.0, shuffle_seed=4)
    pd.testing.assert_frame_equal(first, again)
    assert np.allclose(first["drop"], other["drop"])
    assert not np.allclose(first["drop_shuffled"], other["drop_shuffled"])


def test_shuffled_potentials_cut_the_link_of_beta_to_the_noisy_mode(sweep, big_splits, energies):
    """β is a known function of Ψ (E_i = Ψ'_i, β = tanh α): the noisy mode's β falls, the shuffled one's does not."""
    out = attention_contrast(_hand_built(sweep), big_splits, energies=energies, sigma=3.0)
    assert (out["drop"] > 0.1).all()
    assert (out["drop_shuffled"].abs() < 0.25 * out["drop"]).all()


# --------------------------------------------------------------------------- total energy as an error score


def test_error_auroc_is_one_when_the_score_ranks_every_error_first_and_nan_without_errors():
    assert error_auroc([0.1, 0.2, 0.8, 0.9], np.array([False, False, True, True])) == 1.0
    assert error_auroc([0.9, 0.8, 0.2, 0.1], np.array([False, False, True, True])) == 0.0
    assert np.isnan(error_auroc([0.1, 0.2], np.array([False, False])))
    with pytest.raises(ValueError, match="wrong"):
        error_auroc([0.1, 0.2], [0, 1])


def test_the_auroc_table_has_one_row_per_seed_and_is_reproducible(sweep, big_splits, energies):
    out = energy_error_auroc(sweep, big_splits, energies=energies, sigmas=[0.0, 1.0, 3.0])
    assert list(out.columns) == list(AUROC_COLUMNS)
    assert out["seed"].tolist() == SEEDS and (out["n"] == len(big_splits.test)).all()
    assert ((out["n_errors"] > 0) & (out["n_errors"] < out["n"])).all()
    assert out[["auroc_total_energy", "auroc_psi"]].apply(lambda c: c.between(0, 1)).all().all()
    pd.testing.assert_frame_equal(out, energy_error_auroc(sweep, big_splits, energies=energies, sigmas=[0.0, 1.0, 3.0]))


def test_the_auroc_is_one_when_the_energy_ranks_the_errors_perfectly(sweep, energies):
    """A model that always says "pulsar" errs on every non-pulsar; the non-pulsars lie far from the data, so their Ψ and E are highest."""
    g = torch.Generator().manual_seed(1)
    y = (torch.arange(200) % 2).float()
    x = torch.where(y.bool().unsqueeze(1), 0.3 * torch.randn(200, 8, generator=g), 5 * torch.sign(torch.randn(200, 8, generator=g)))
    test = Split(x=x, y=y, index=np.arange(200))
    g = torch.Generator().manual_seed(0)
    splits = Splits(_split(200, g), _split(120, g), test, np.zeros(8), np.ones(8), 0)
    out = energy_error_auroc(_hand_built(sweep, constant_logit=5.0), splits, energies=energies, sigmas=[0.0])
    assert (out["n_errors"] == 100).all()
    assert (out["auroc_total_energy"] == 1.0).all() and (out["auroc_psi"] == 1.0).all()


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("sigma", [0.0, -1.0, float("nan"), "2", True])
def test_a_bad_sigma_is_named(sweep, big_splits, energies, sigma):
    with pytest.raises(ValueError, match="sigma"):
        attention_contrast(sweep, big_splits, energies=energies, sigma=sigma)


@pytest.mark.parametrize("sigmas", [[], "1.0", 2.0, [1.0, -1.0], [float("inf")]])
def test_bad_sigmas_are_named(sweep, big_splits, energies, sigmas):
    with pytest.raises(ValueError, match="sigmas"):
        energy_error_auroc(sweep, big_splits, energies=energies, sigmas=sigmas)


def test_a_bad_shuffle_seed_is_named(sweep, big_splits, energies):
    with pytest.raises(ValueError, match="shuffle_seed"):
        attention_contrast(sweep, big_splits, energies=energies, sigma=1.0, shuffle_seed=-1)


def test_a_result_that_is_not_one_emma_per_seed_is_named(sweep, big_splits, energies):
    base = run_sweep("base", pd.DataFrame({"seed": [0]}), big_splits, SETTINGS, progress=False)
    twice = sweep.replace(table=sweep.table.assign(seed=[0, 0]))
    for bad in (base, twice, 3):
        with pytest.raises(ValueError, match="result"):
            attention_contrast(bad, big_splits, energies=energies, sigma=1.0)
        with pytest.raises(ValueError, match="result"):
            energy_error_auroc(bad, big_splits, energies=energies, sigmas=[1.0])


def test_splits_that_are_not_a_splits_object_are_named(sweep, big_splits, energies):
    for bad in (None, big_splits.test, {"test": big_splits.test}):
        with pytest.raises(ValueError, match="splits"):
            attention_contrast(sweep, bad, energies=energies, sigma=1.0)
        with pytest.raises(ValueError, match="splits"):
            energy_error_auroc(sweep, bad, energies=energies, sigmas=[1.0])
