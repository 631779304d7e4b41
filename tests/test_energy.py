"""Specification of emma.engine.energy: per-mode autoencoders on HTRU2, their cache, Ψ_min and scores."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import emma.engine.autoencoders as autoencoders_module
from emma.data.htru2 import read_htru2
from emma.data.splits import make_splits
from emma.engine.autoencoders import THESIS_DAE, EnergyModels
from emma.engine.energy import fit_htru2_energy_models
from emma.experiments.potentials import batch_coupled_potential, potential_vs_noise, unseen_class_auroc

DATA_DIR = Path(os.environ.get("EMMA_DATA_DIR") or Path(__file__).resolve().parents[2] / "shared" / "data")

# Small settings keep the tests fast; the behaviour under test does not depend on them.
FAST_DAE = THESIS_DAE.override(d_hidden=6, epochs=2, batch_size=256)


@pytest.fixture(scope="module")
def splits():
    return make_splits(read_htru2(DATA_DIR / "HTRU_2.csv"))


@pytest.fixture(scope="module")
def pulsars(splits):
    return splits.train.y == 1


def fit(splits, seed=0, dae=FAST_DAE, **kwargs) -> EnergyModels:
    """One seed's pair of autoencoders, small."""
    return fit_htru2_energy_models(splits, [seed], dae=dae, progress=False, **kwargs)[0]


@pytest.fixture
def count_stacked(monkeypatch):
    """The number of autoencoders each call of the stacked trainer (behind fit_energy_models) trains."""
    calls = []
    real = autoencoders_module.train_many_autoencoders

    def counting(models, *args, **kwargs):
        calls.append(len(models))
        return real(models, *args, **kwargs)

    monkeypatch.setattr(autoencoders_module, "train_many_autoencoders", counting)
    return calls


def _parameters(energies):
    return [p.clone() for model in energies.models for p in model.parameters()]


def test_a_cache_hit_returns_the_same_parameters_without_training(splits, pulsars, tmp_path, count_stacked):
    first = fit(splits, subset=pulsars, cache_dir=tmp_path)
    assert count_stacked == [2]  # one autoencoder per mode, in one stack
    again = fit(splits, subset=pulsars, cache_dir=tmp_path)
    assert count_stacked == [2]  # nothing trained the second time
    for a, b in zip(_parameters(first), _parameters(again)):
        assert torch.equal(a, b)
    assert torch.equal(first.psi_min, again.psi_min)
    assert first.curves.equals(again.curves)


@pytest.mark.parametrize("change", [{"lr": 2e-3}, {"seed": 1}, {"noise_std": 0.02}, {"epochs": 3}])
def test_a_changed_setting_misses_the_cache(splits, pulsars, tmp_path, count_stacked, change):
    fit(splits, subset=pulsars, cache_dir=tmp_path)
    seed = change.pop("seed", 0)
    fit(splits, seed, FAST_DAE.override(**change), subset=pulsars, cache_dir=tmp_path)
    assert sum(count_stacked) == 4
    assert len(list(tmp_path.glob("mode_autoencoders-*.pt"))) == 2


def test_other_training_rows_miss_the_cache(splits, pulsars, tmp_path, count_stacked):
    fit(splits, subset=pulsars, cache_dir=tmp_path)
    fit(splits, dae=FAST_DAE.override(epochs=1), subset=~pulsars, cache_dir=tmp_path)
    fit(splits, dae=FAST_DAE.override(epochs=1), subset=~pulsars, cache_dir=tmp_path)
    assert sum(count_stacked) == 4


def test_the_cache_key_records_every_setting_of_the_dae_settings(splits, pulsars):
    settings = fit(splits, 3, subset=pulsars).settings
    assert {k: settings[k] for k in ("d_hidden", "noise_std", "epochs", "batch_size", "lr", "seed")} == {
        "d_hidden": 6, "noise_std": 0.01, "epochs": 2, "batch_size": 256, "lr": 1e-3, "seed": 3}
    assert settings["modes"] == {"IP": [0, 4], "DM": [4, 8]} and settings["device"] == "cpu"


def test_the_same_seed_trains_the_same_autoencoders_without_a_cache(splits, pulsars):
    first = fit(splits, subset=pulsars)
    again = fit(splits, subset=pulsars)
    for a, b in zip(_parameters(first), _parameters(again)):
        assert torch.equal(a, b)


def test_psi_min_is_the_lowest_potential_on_the_training_rows(splits, pulsars):
    energies = fit(splits, subset=pulsars)
    psi = energies.potentials(splits.train.x[pulsars])  # (n, 2)
    assert torch.allclose(energies.psi_min, psi.min(dim=0).values)


def test_models_come_back_frozen_and_in_eval_mode(splits, pulsars):
    energies = fit(splits, subset=pulsars)
    for model in energies.models:
        assert not model.training
        assert not any(p.requires_grad for p in model.parameters())


def test_learning_curves_have_one_row_per_mode_and_epoch(splits, pulsars):
    energies = fit(splits, subset=pulsars, val_subset=splits.val.y == 1)
    assert list(energies.curves.columns) == ["mode", "epoch", "train_loss", "val_loss"]
    assert energies.curves.groupby("mode").size().to_dict() == {"DM": 2, "IP": 2}


def test_potentials_are_per_mode_in_ip_dm_order(splits, pulsars):
    energies = fit(splits, subset=pulsars)
    x = splits.test.x[:20]
    psi = energies.potentials(x)
    assert psi.shape == (20, 2)
    assert torch.allclose(psi[:, 1], energies.models[1].potential(x[:, 4:8]))
    assert torch.allclose(energies.potentials(splits.test.modes)[:20], psi, atol=1e-6)  # a larger batch may sum in another order
    assert energies.reconstruction_errors(x).shape == (20, 2)
    with pytest.raises(ValueError, match=r"x must have shape \(batch, 8\)"):
        energies.potentials(x[:, :6])


def test_a_subset_that_is_not_a_training_mask_is_rejected(splits):
    with pytest.raises(ValueError, match="subset must be a boolean mask"):
        fit(splits, subset=np.ones(10, dtype=bool))


def test_the_batch_coupled_potential_depends_on_the_rest_of_the_batch(splits, pulsars):
    model = fit(splits, subset=pulsars).models[0]
    x = splits.test.x[:100, 0:4]
    alone = batch_coupled_potential(model, x[:1])
    in_batch = batch_coupled_potential(model, x)[:1]
    assert torch.allclose(alone, model.potential(x[:1]))  # one sample: the same as eq. 4.7
    assert not torch.allclose(in_batch, alone)  # in a batch: no longer the sample's own energy


def test_potential_vs_noise_without_noise_is_the_clean_potential(splits, pulsars):
    energies = fit(splits, subset=pulsars)
    table = potential_vs_noise(energies, splits.test, [0.0, 1.0], torch.Generator().manual_seed(0))
    clean = table[table.sigma == 0].set_index("mode")
    psi = energies.potentials(splits.test.x)
    assert clean.loc["IP", "psi_mean"] == pytest.approx(psi[:, 0].mean().item(), rel=1e-5)
    assert (clean["psi_auroc"] == 0.5).all() and (clean["recon_auroc"] == 0.5).all()
    assert len(table) == 4 and table.loc[table.sigma == 1.0, "nsr_db"].eq(0.0).all()


def test_unseen_class_auroc_is_one_minus_the_auroc_of_the_other_class(splits, pulsars):
    energies = fit(splits, subset=pulsars)
    unseen = (splits.test.y == 0).numpy()
    flagged = unseen_class_auroc(energies, splits.test, unseen)
    reversed_ = unseen_class_auroc(energies, splits.test, ~unseen)
    np.testing.assert_allclose(flagged["psi_auroc"], 1 - reversed_["psi_auroc"])
    assert "distance_auroc" not in flagged


# --- many seeds at once ------------------------------------------------------------------------

#: Seeds of unequal training lengths (all rows, pulsars only), each with its own splits and settings.
SEEDS, EPOCHS = [0, 1, 2], [2, 3, 1]


def test_many_seeds_at_once_give_what_each_seed_gives_alone(splits, pulsars):
    daes = [FAST_DAE.override(epochs=e) for e in EPOCHS]
    together = fit_htru2_energy_models(splits, SEEDS, dae=daes, subset=pulsars, val_subset=splits.val.y == 1, progress=False)
    for seed, dae, energies in zip(SEEDS, daes, together):
        alone = fit(splits, seed, dae, subset=pulsars, val_subset=splits.val.y == 1)
        assert energies.settings == alone.settings
        for a, b in zip(_parameters(alone), _parameters(energies)):
            torch.testing.assert_close(b, a, atol=1e-5, rtol=0)
        torch.testing.assert_close(energies.psi_min, alone.psi_min, atol=1e-5, rtol=0)
        assert list(energies.curves.columns) == list(alone.curves.columns)
        np.testing.assert_allclose(energies.curves[["train_loss", "val_loss"]], alone.curves[["train_loss", "val_loss"]], rtol=1e-5)
        assert not any(p.requires_grad for p in _parameters(energies))


def test_one_splits_per_seed_trains_each_seed_on_its_own_data(splits, pulsars):
    import dataclasses

    from emma.data.splits import Split

    pulsars_only = dataclasses.replace(splits, train=Split(splits.train.x[pulsars], splits.train.y[pulsars], splits.train.index[pulsars.numpy()]))
    fitted = fit_htru2_energy_models([splits, pulsars_only], [0, 0], dae=FAST_DAE, progress=False)
    assert fitted[0].settings["train_data"] != fitted[1].settings["train_data"]
    for a, b in zip(_parameters(fit(splits, subset=pulsars)), _parameters(fitted[1])):
        torch.testing.assert_close(b, a, atol=1e-5, rtol=0)


def test_seeds_trained_together_fill_the_cache_of_single_seeds(splits, pulsars, tmp_path, count_stacked):
    daes = [FAST_DAE.override(epochs=e) for e in EPOCHS]
    together = fit_htru2_energy_models(splits, SEEDS, dae=daes, subset=pulsars, cache_dir=tmp_path, progress=False)
    assert count_stacked == [6]  # every (seed, mode) in one stack
    for seed, dae, energies in zip(SEEDS, daes, together):
        alone = fit(splits, seed, dae, subset=pulsars, cache_dir=tmp_path)
        for a, b in zip(_parameters(alone), _parameters(energies)):
            assert torch.equal(a, b)
    assert count_stacked == [6]  # every single seed was a cache hit


def test_seeds_together_train_only_what_the_cache_lacks(splits, pulsars, tmp_path, count_stacked):
    daes = [FAST_DAE.override(epochs=e) for e in EPOCHS]
    alone = fit(splits, SEEDS[1], daes[1], subset=pulsars, cache_dir=tmp_path)
    assert count_stacked == [2]  # seed 1's two modes
    together = fit_htru2_energy_models(splits, SEEDS, dae=daes, subset=pulsars, cache_dir=tmp_path, progress=False)
    assert count_stacked == [2, 4]  # then seeds 0 and 2, two modes each
    for a, b in zip(_parameters(alone), _parameters(together[1])):
        assert torch.equal(a, b)
    fit_htru2_energy_models(splits, SEEDS, dae=daes, subset=pulsars, cache_dir=tmp_path, progress=False)
    assert count_stacked == [2, 4]  # nothing left to train


@pytest.mark.parametrize(
    "arguments, error, message",
    [
        ({"seeds": []}, TypeError, "seeds must be a non-empty list"),
        ({"seeds": [-1]}, ValueError, "seed must be a non-negative integer"),
        ({"dae": {"epochs": 1}}, TypeError, "dae must be a DAESettings"),
        ({"dae": [FAST_DAE]}, ValueError, r"dae must be one DAESettings or a list of one per seed \(2\), got 1"),
        ({"dae": [FAST_DAE, FAST_DAE.override(lr=0.1)]}, ValueError, "dae must share one lr"),
        ({"splits": "htru2"}, TypeError, "splits must be the Splits"),
    ],
)
def test_bad_arguments_are_rejected_with_the_argument_named(splits, arguments, error, message):
    arguments = {"splits": splits, "seeds": [0, 1], "dae": FAST_DAE, **arguments}
    with pytest.raises(error, match=message):
        fit_htru2_energy_models(arguments.pop("splits"), arguments.pop("seeds"), progress=False, **arguments)


def _summary_tables():
    """Hand-made tables for emma.experiments.potentials.failure_signal_summary: two modes, σ ∈ {0, 0.5, 1}."""
    sigmas = [0.0, 0.5, 1.0]
    noise = pd.DataFrame([{"mode": m, "sigma": x, "psi_auroc": 0.9 if x else 0.5, "recon_auroc": 0.6} for x in sigmas for m in ("IP", "DM")])
    ood = pd.DataFrame([{"trained_on": "pulsars only", "epochs": e, "mode": m, "psi_auroc": 0.9, "recon_auroc": 0.6}
                        for e in (10, 100) for m in ("IP", "DM")])
    missing = pd.DataFrame([{"trained_on": "all training rows", "mode": m, "percentile_of_missing": 99.0} for m in ("IP", "DM")])
    return noise, ood, missing


def _claim_runs(learned=3.0, auroc=0.9, recon=0.6, missing=99.0, seeds=(0, 1, 2)):
    """Hand-made per-seed tables for emma.experiments.potentials.potential_claims: two modes, σ ∈ {0, 0.5, 1}.

    Ψ = the quadratic term 2σ² + 1 plus ``learned``·σ (the learned part's rise); every value has a
    small seed-dependent jitter so that the tests have a spread.
    """
    sigmas = [0.0, 0.5, 1.0]
    runs = pd.DataFrame([{"mode": m, "seed": s, "sigma": x, "psi_mean": 2 * x**2 + 1 + (learned + 0.01 * s) * x, "psi_std": 1.0,
                          "quadratic_mean": 2 * x**2 + 1, "psi_auroc": auroc + 0.01 * s if x else 0.5, "recon_auroc": recon}
                         for m in ("IP", "DM") for s in seeds for x in sigmas])
    ood = pd.DataFrame([{"trained_on": t, "epochs": e, "mode": m, "seed": s, "psi_auroc": auroc + 0.01 * s, "recon_auroc": recon}
                        for t, epochs in (("pulsars only", (10, 100)), ("all training rows", (10,))) for e in epochs
                        for m in ("IP", "DM") for s in seeds])
    missing_runs = pd.DataFrame([{"trained_on": "all training rows", "mode": m, "seed": s, "percentile_of_missing": missing + 0.1 * s,
                                  "missing_minus_median": 1.0} for m in ("IP", "DM") for s in seeds])
    return runs, ood, missing_runs


CLAIM_IDS = ["psi_rises_with_noise", "psi_separates_noisy_mode", "psi_flags_unseen_class", "psi_beats_reconstruction_error",
             "missing_mode_high_psi"]


def test_potential_claims_are_judged_by_tests_with_the_registered_minimum_effects():
    from emma.claims.registry import min_effect
    from emma.experiments.potentials import potential_claims

    good = potential_claims(*_claim_runs(), training_sigma=0.5)
    assert list(good["id"]) == CLAIM_IDS
    assert list(good["verdict"]) == ["reproduced"] * 5
    assert list(good["kind"]) == ["secondary"] * 5  # none is asserted by the abstract, the contributions or the research questions
    assert good["min_effect"].tolist() == [min_effect(i) for i in CLAIM_IDS]
    assert (good["n_seeds"] == 3).all() and good[["effect", "ci_low", "ci_high", "p_value", "p_holm"]].notna().all().all()
    assert "2 of 2 sub-cases hold: 10 epochs, 100 epochs" in good["our_evidence"].iloc[2]
    bad = potential_claims(*_claim_runs(learned=-3.0, auroc=0.55, missing=50.0), training_sigma=0.5)
    # the learned part falls, AUROCs barely above chance and below the reconstruction error, a missing mode at the median
    assert list(bad["verdict"]) == ["not reproduced"] * 5


def test_psi_rising_only_by_its_quadratic_term_is_not_reproduced_and_the_plain_rise_stays_visible():
    from emma.experiments.potentials import potential_claims

    claims = potential_claims(*_claim_runs(learned=0.0), training_sigma=0.5).set_index("id")
    row = claims.loc["psi_rises_with_noise"]
    assert row["verdict"] == "not reproduced" and row["ci_high"] < row["min_effect"]  # equivalence: no learned rise that matters
    assert "mean Ψ rises by IP +2.01, DM +2.01" in row["our_evidence"]  # the plain rise of Ψ (2σ² at σ = 1, plus the jitter)
    assert "½‖x − b_r‖² alone rises by IP +2.00, DM +2.00" in row["our_evidence"]


def test_psi_is_not_the_better_failure_measure_when_the_reconstruction_error_wins_everywhere():
    from emma.experiments.potentials import potential_claims

    claims = potential_claims(*_claim_runs(auroc=0.8, recon=0.95), training_sigma=0.5).set_index("id")
    row = claims.loc["psi_beats_reconstruction_error"]
    assert row["verdict"] == "not reproduced" and row["effect"] < 0 and row["ci_high"] < 0
    assert "Ψ has the higher AUROC in 0 of 30 (condition, mode, seed) cases" in row["our_evidence"]


def test_the_unseen_class_is_judged_per_training_length_as_named_sub_cases():
    from emma.experiments.potentials import potential_claims

    runs, ood, missing = _claim_runs()
    ood.loc[(ood["trained_on"] == "pulsars only") & (ood["epochs"] == 100), "psi_auroc"] -= 0.6  # AUROC 0.3: the other way
    row = potential_claims(runs, ood, missing, training_sigma=0.5).set_index("id").loc["psi_flags_unseen_class"]
    assert row["verdict"] == "partly reproduced"
    assert row["cases"] == "1 of 2 sub-cases hold: 10 epochs; not: 100 epochs"
    assert row["effect"] < 0  # the row carries the weakest sub-case's test


def test_potential_claims_name_a_bad_argument():
    from emma.experiments.potentials import potential_claims

    runs, ood, missing = _claim_runs()
    with pytest.raises(ValueError, match="runs must be a DataFrame with the columns"):
        potential_claims(runs.drop(columns="psi_std"), ood, missing, training_sigma=0.5)
    with pytest.raises(ValueError, match="training_sigma"):
        potential_claims(runs, ood, missing, training_sigma=0.3)
    with pytest.raises(ValueError, match="ood_runs must hold rows with trained_on = 'pulsars only'"):
        potential_claims(runs, ood[ood["trained_on"] != "pulsars only"], missing, training_sigma=0.5)
    with pytest.raises(ValueError, match="missing_runs must be a DataFrame"):
        potential_claims(runs, ood, missing.drop(columns="seed"), training_sigma=0.5)


def test_all_sub_cases_needs_every_sub_case_and_carries_the_weakest_test():
    from emma.claims.rules import paired_test
    from emma.experiments.potentials import all_sub_cases

    def test(values):
        return paired_test(values, [0.5] * len(values), min_effect=0.2)

    held, weak, failed, one_seed = test([0.9, 0.95, 0.92]), test([0.75, 0.9, 0.72]), test([0.5, 0.52, 0.49]), test([0.9])
    assert all_sub_cases({"a": held, "b": weak}, "seeds")["verdict"] == "reproduced"
    assert all_sub_cases({"a": held, "b": weak}, "seeds")["p_value"] == weak.p_value  # the largest p-value: intersection–union
    assert all_sub_cases({"a": held, "b": failed}, "seeds")["verdict"] == "partly reproduced"
    assert all_sub_cases({"a": failed, "b": failed}, "seeds")["verdict"] == "not reproduced"
    judged = all_sub_cases({"a": held, "b": one_seed}, "seeds")
    assert judged["verdict"] == "inconclusive" and judged["cases"] == "1 of 2 sub-cases hold: a; inconclusive: b"
    assert all_sub_cases({"a": failed, "b": one_seed}, "seeds")["verdict"] == "not reproduced"
    assert all_sub_cases({"a": held, "b": failed, "c": one_seed}, "seeds")["verdict"] == "partly reproduced"
    assert "a: effect +0.423" in all_sub_cases({"a": held}, "seeds")["sub_case_evidence"]
    with pytest.raises(ValueError, match="tests must be a non-empty dict"):
        all_sub_cases({}, "seeds")


def test_the_failure_signal_summary_says_what_the_tables_show():
    from emma.experiments.potentials import failure_signal_summary

    rules = dict(training_sigma=0.5, good_auroc=0.8, missing_percentile=95.0)
    noise, ood, missing = _summary_tables()
    text = failure_signal_summary(noise, ood, missing, **rules)
    assert "AUROC of IP 0.900, DM 0.900" in text
    assert "higher AUROC in 0 of the 4 noise tests" in text
    assert "at every training length tested" in text and "in IP, DM" in text
    ood.loc[ood["epochs"] == 100, "psi_auroc"] = 0.3
    noise["recon_auroc"] = 0.95
    missing.loc[missing["mode"] == "IP", "percentile_of_missing"] = 50.0
    text = failure_signal_summary(noise, ood, missing, **rules)
    assert "higher AUROC in 4 of the 4 noise tests" in text
    assert "only after 10 epochs of training, not after 100" in text
    ood = pd.concat([ood, ood[ood["epochs"] == 10].assign(epochs=1000)])
    assert "only after 10 or 1000 epochs of training, not after 100" in failure_signal_summary(noise, ood, missing, **rules)
    with pytest.raises(ValueError, match="missing_table"):
        failure_signal_summary(noise, ood, missing.drop(columns="trained_on"), **rules)
    assert "in DM:" in text
