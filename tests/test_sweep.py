"""Specifications of the training protocol (emma.engine.training) and the batched sweep engine (emma.engine.sweep)."""
import numpy as np
import pandas as pd
import pytest
import torch

from emma.engine.autoencoders import EnergyModels
from emma.engine.configs import TrainSettings, grid
from emma.engine.evaluation import score_on_test
from emma.engine.families import init_parameters
from emma.engine.launch import run_sweep
from emma.engine.optim import BestState
from emma.engine.protocol import ORIGINAL, SOUND
from emma.engine.streams import corrupted_split, coupled_potentials
from emma.engine.sweep import SweepEngine
from emma.engine.training import f1_by_subset, select_threshold
from emma.experiments.potentials import batch_coupled_potential

SETTINGS = TrainSettings(epochs=2, batch_size=32)


def _with_configs():
    return pd.DataFrame(
        {"seed": [0, 1, 0], "rho": [1e-4, 1e-1, 1.0], "lambda_c": [0.0, 1e-2, 1e-1], "lambda_e": [1e-2, 0.0, 1e-1]}
    )


# --------------------------------------------------------------------------- threshold and F1


def test_threshold_is_the_grid_point_closest_to_the_roc_corner_lowest_on_ties():
    # t ∈ (0.32, 0.58]: FPR 1/3, TPR 1 and t ∈ (0.62, 0.80]: FPR 0, TPR 2/3 are both 1/3 from the corner
    p = [0.05, 0.32, 0.62, 0.58, 0.80, 0.95]
    y = [0, 0, 0, 1, 1, 1]
    assert select_threshold(p, y) == pytest.approx(0.35)


def test_threshold_separates_perfectly_separable_scores():
    assert select_threshold([0.1, 0.4, 0.6, 0.9], [0, 0, 1, 1]) == pytest.approx(0.45)


def test_every_rule_picks_for_many_models_what_it_picks_model_by_model():
    from emma.engine.training import rule_thresholds, select_threshold_f1

    generator = np.random.default_rng(0)
    y = generator.random((40, 300)) < 0.1
    y[:, :2] = [True, False]  # both classes for every model
    p = np.clip(0.3 * y + generator.random((40, 300)) * 0.8, 0, 1).round(2)  # ties on the threshold grid too
    rules = rule_thresholds(p, y)
    assert rules["roc_corner"].tolist() == [select_threshold(p[k], y[k]) for k in range(40)]
    assert rules["f1_validation"].tolist() == [select_threshold_f1(p[k], y[k]) for k in range(40)]
    assert set(rules["fixed"]) == {0.5}


def test_a_sweep_scored_under_another_threshold_rule_is_its_own_models_at_that_rule(splits, tmp_path):
    from emma.experiments.study import under

    result = run_sweep("base", [{"seed": 0}], splits, SETTINGS, protocol=SOUND, cache_dir=tmp_path, progress=False)
    fixed = under(result, SOUND.switch(threshold="fixed")).table
    rescored = score_on_test(result, splits, threshold=0.5)
    assert fixed["threshold"].iloc[0] == 0.5 and fixed["protocol"].iloc[0] == "sound but threshold='fixed'"
    assert fixed["f1_clean"].iloc[0] == pytest.approx(rescored["f1_clean"].iloc[0])
    again = run_sweep("base", [{"seed": 0}], splits, SETTINGS, protocol=SOUND.switch(threshold="fixed"), cache_dir=tmp_path, progress=False)
    assert again.table["f1_clean"].iloc[0] == pytest.approx(fixed["f1_clean"].iloc[0])  # the same cached models


def test_f1_is_reported_separately_on_clean_ip_noisy_and_dm_noisy_samples():
    y = [1, 1, 0, 0, 1, 0, 1, 1]
    predicted = [1, 0, 0, 1, 1, 0, 0, 0]
    corrupted = [[0, 0]] * 4 + [[1, 0]] * 2 + [[0, 1]] * 2
    f1 = f1_by_subset(predicted, y, corrupted)
    assert f1 == pytest.approx({"clean": 0.5, "ip_noisy": 1.0, "dm_noisy": 0.0})


def test_early_stopping_keeps_each_models_parameters_at_its_own_lowest_validation_loss():
    state = BestState({"w": torch.zeros(2, 3)})
    state.update(1, torch.tensor([1.0, 1.0]), {"w": torch.full((2, 3), 1.0)})
    state.update(2, torch.tensor([0.5, 2.0]), {"w": torch.full((2, 3), 2.0)})
    assert state.epoch.tolist() == [2, 1]
    assert state.params["w"][:, 0].tolist() == [2.0, 1.0]


# --------------------------------------------------------------------------- the engine


@pytest.mark.parametrize("family", ["base", "alternative", "with"])
def test_batched_sweep_equals_training_each_model_alone(family, splits, energies):
    configs = _with_configs()
    base = init_parameters("base", configs["seed"].tolist()) if family == "with" else None
    together = SweepEngine(family, configs, splits, SETTINGS, energies=energies, base=base).fit(progress=False).result()
    for k in range(len(configs)):
        alone_base = {n: v[k : k + 1] for n, v in base.items()} if base is not None else None
        alone = SweepEngine(family, configs.iloc[[k]], splits, SETTINGS, energies=energies, base=alone_base).fit(progress=False).result()
        for name, value in alone.params.items():
            assert torch.allclose(together.params[name][k], value[0], atol=1e-5), name
        row = together.table.iloc[k]
        assert row["threshold"] == alone.table["threshold"].iloc[0]
        assert row["f1_clean"] == pytest.approx(alone.table["f1_clean"].iloc[0])


def test_each_seed_can_use_its_own_autoencoders(splits, energies):
    other = EnergyModels(models=list(reversed(energies.models)), psi_min=torch.tensor([-5.0, -7.0]), curves=pd.DataFrame(), settings={"test": 2})
    configs = _with_configs().iloc[:2]  # seeds 0 and 1
    base = init_parameters("base", [0, 1])
    mixed = SweepEngine("with", configs, splits, SETTINGS, energies={0: energies, 1: other}, base=base).fit(progress=False).result()
    alone = SweepEngine("with", configs.iloc[[1]], splits, SETTINGS, energies=other, base={n: v[1:] for n, v in base.items()}).fit(progress=False).result()
    assert torch.allclose(mixed.params["w0"][1], alone.params["w0"][0], atol=1e-5)
    assert torch.equal(mixed.psi_min[1], other.psi_min)


def test_models_with_different_hyperparameters_end_differently(splits, energies):
    configs = _with_configs()
    base = init_parameters("base", configs["seed"].tolist())
    out = SweepEngine("with", configs, splits, SETTINGS, energies=energies, base=base).fit(progress=False).result()
    assert not torch.allclose(out.params["w0"][0], out.params["w0"][2])


def test_the_emma_constraints_hold_after_training(splits, energies):
    configs = _with_configs()
    base = init_parameters("base", configs["seed"].tolist())
    params = SweepEngine("with", configs, splits, SETTINGS, energies=energies, base=base).fit(progress=False).result().params
    assert (params["self_weight"] >= 1).all() and (params["self_bias"] >= 0).all()
    assert ((params["bias"] >= 0) & (params["bias"] <= 1)).all() and (params["gain"] > 0).all()


def test_each_seed_has_its_own_fixed_corruption_of_each_split(splits):
    a0, mask0 = corrupted_split(splits, "val", 0, SETTINGS)
    a1, _ = corrupted_split(splits, "val", 1, SETTINGS)
    assert torch.equal(a1, corrupted_split(splits, "val", 1, SETTINGS)[0])
    assert not torch.equal(a0, a1)
    assert mask0.any(dim=1).float().mean().item() == pytest.approx(0.5, abs=0.01)


def test_batch_coupled_potential_of_one_mini_batch_is_the_original_codes(splits, energies):
    from emma.engine.streams import potential_parts

    x = corrupted_split(splits, "train", 0, SETTINGS)[0][10:42]  # one mini-batch of 32
    softplus, quadratic = potential_parts(energies, x.unsqueeze(0))
    ours = coupled_potentials(softplus, quadratic, torch.tensor([True]))[0]  # (32, 2)
    for m, model in enumerate(energies.models):
        assert torch.allclose(ours[:, m], batch_coupled_potential(model, x[:, 4 * m : 4 * m + 4]), atol=1e-4)
    per_sample = coupled_potentials(softplus, quadratic, torch.tensor([False]))[0]
    assert torch.allclose(per_sample, energies.potentials(x), atol=1e-5)


def test_a_finished_sweep_is_read_back_from_the_cache(splits, tmp_path, monkeypatch):
    configs = [{"seed": 0}]
    first = run_sweep("base", configs, splits, SETTINGS, cache_dir=tmp_path, progress=False)
    monkeypatch.setattr(SweepEngine, "fit", lambda *a, **k: pytest.fail("trained again instead of reading the cache"))
    again = run_sweep("base", configs, splits, SETTINGS, cache_dir=tmp_path, progress=False)
    assert torch.equal(first.params["w0"], again.params["w0"])


def test_a_changed_hyperparameter_misses_the_cache(splits, energies, tmp_path):
    configs = _with_configs().iloc[:1]
    base = init_parameters("base", [0])
    run_sweep("with", configs, splits, SETTINGS, energies=energies, base=base, cache_dir=tmp_path, progress=False)
    changed = configs.assign(lambda_e=0.5)
    run_sweep("with", changed, splits, SETTINGS, energies=energies, base=base, cache_dir=tmp_path, progress=False)
    assert len(list(tmp_path.glob("sweep_with-*.pt"))) == 2


def test_with_family_needs_the_autoencoders(splits):
    with pytest.raises(ValueError, match="energies"):
        SweepEngine("with", [{"seed": 0}], splits, SETTINGS, base=init_parameters("base", [0]))


def test_bad_settings_are_rejected_by_name(splits):
    with pytest.raises(ValueError, match="epochs"):
        TrainSettings(epochs=0)
    with pytest.raises(TypeError, match="protocol must be an emma.engine.protocol.Protocol"):
        SweepEngine("base", [{"seed": 0}], splits, SETTINGS, protocol="original")


@pytest.mark.parametrize("protocol", [SOUND, ORIGINAL], ids=["sound", "original"])
def test_rescoring_a_sweep_with_its_own_thresholds_reproduces_its_table(splits, energies, protocol):
    configs = _with_configs()
    base = init_parameters("base", configs["seed"].tolist())
    result = SweepEngine("with", configs, splits, SETTINGS, protocol=protocol, energies=energies, base=base).fit(progress=False).result()
    again = score_on_test(result, splits, energies=energies)
    for column in ("f1_clean", "f1_ip_noisy", "f1_dm_noisy"):
        assert np.allclose(again[column], result.table[column])


def test_f1_of_many_models_at_once_equals_sklearns_f1_score_per_model_and_subset():
    from sklearn.metrics import f1_score

    from emma.engine.training import f1_many, f1_many_by_subset

    rng = np.random.default_rng(0)
    predicted, y = rng.random((6, 50)) < 0.3, rng.random(50) < 0.2
    corrupted = np.zeros((6, 50, 2), bool)
    corrupted[:, :10, 0], corrupted[:, 10:20, 1] = True, True
    predicted[5] = False  # no positive prediction: F1 is 0 by sklearn's zero_division=0
    ours = f1_many_by_subset(predicted, y, corrupted)
    for k in range(6):
        assert f1_many(predicted, y)[k] == pytest.approx(f1_score(y, predicted[k], zero_division=0.0))
        for name, value in f1_by_subset(predicted[k], y, corrupted[k]).items():
            assert ours[name][k] == pytest.approx(value)
    assert np.isnan(f1_many(predicted, y, np.zeros((6, 50), bool))).all()


def test_worker_processes_train_the_independent_families_to_the_same_models(splits):
    """run_study(workers=2) trains ip_only, dm_only, base and alternative in processes: same tables and parameters."""
    from emma.experiments.study import plan, run_study

    models = plan([SOUND, ORIGINAL], [0, 1], families=("ip_only", "base", "alternative", "without"))
    alone = run_study(splits, models, SETTINGS, energies=None, workers=1)
    together = run_study(splits, models, SETTINGS, energies=None, workers=2)
    assert list(together) == list(alone) == ["ip_only", "base", "alternative", "without"]
    for family in alone:
        pd.testing.assert_frame_equal(together[family].table, alone[family].table)
        for name, value in alone[family].params.items():
            assert torch.equal(together[family].params[name], value), (family, name)
    with pytest.raises(ValueError, match="workers"):
        run_study(splits, models, SETTINGS, energies=None, workers=0)


def test_a_sweep_cut_into_parts_gives_the_models_of_one_engine(splits, energies, tmp_path):
    """run_sweep(workers=2) trains two halves in two processes; the merged sweep is the one engine's, up to float rounding."""
    from emma.engine.launch import run_sweep
    from emma.engine.sweep import SMALL_SWEEP

    configs = grid([1e-2, 1.0], [0.0, 1e-2], [0.0, 1e-1], list(range(SMALL_SWEEP // 8)))
    base = init_parameters("base", configs["seed"].tolist())
    one = run_sweep("with", configs, splits, SETTINGS, energies=energies, base=base, progress=False)
    parts = run_sweep("with", configs, splits, SETTINGS, energies=energies, base=base, progress=False, workers=2, cache_dir=tmp_path)
    assert len(parts.table) == len(one.table) == SMALL_SWEEP
    # the scores count predictions on a few dozen samples: a probability within float rounding of the threshold may fall
    # the other way in another stack, so an F1 may move by one prediction for a few models; everything else is equal
    scores = [c for c in one.table.columns if c.startswith(("f1_", "val_f1_")) or "_at_" in c and "f1" in c]
    pd.testing.assert_frame_equal(parts.table.drop(columns=["best_loss", "capacity", "capacity_relu", *scores]),
                                  one.table.drop(columns=["best_loss", "capacity", "capacity_relu", *scores]))
    moved = (parts.table[scores].to_numpy() != one.table[scores].to_numpy()).mean(axis=0)
    assert (moved <= 0.05).all(), dict(zip(scores, moved))
    assert np.allclose(parts.table["best_loss"], one.table["best_loss"], rtol=1e-5)
    pd.testing.assert_frame_equal(parts.curves, one.curves, rtol=1e-4)
    for name, value in one.params.items():
        assert torch.allclose(parts.params[name], value, atol=1e-5), name
    cached = run_sweep("with", configs, splits, SETTINGS, energies=energies, base=base, progress=False, workers=2, cache_dir=tmp_path)
    assert cached.seconds == parts.seconds
    with pytest.raises(ValueError, match="workers"):
        run_sweep("with", configs, splits, SETTINGS, energies=energies, base=base, workers=0)
