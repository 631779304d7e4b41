"""Specifications of the training protocol (emma.training) and the batched sweep engine (emma.sweep)."""
import numpy as np
import pandas as pd
import pytest
import torch

from emma.autoencoder import DenoisingAutoencoder, freeze
from emma.data import Split, Splits
from emma.energy import ModeEnergies, batch_coupled_potential
from emma.models import init_parameters
from emma.sweep import SweepEngine, TrainSettings, paired_verdict, run_sweep, seed_data, score_on_test
from emma.training import BestState, f1_by_subset, select_threshold

SETTINGS = TrainSettings(epochs=2, batch_size=32)


def _split(n, generator):
    x = torch.randn(n, 8, generator=generator)
    y = ((x[:, 0] + x[:, 4] + 0.5 * torch.randn(n, generator=generator)) > 1.0).float()
    return Split(x=x, y=y, index=np.arange(n))


@pytest.fixture(scope="module")
def splits():
    g = torch.Generator().manual_seed(0)
    return Splits(_split(200, g), _split(120, g), _split(120, g), np.zeros(8), np.ones(8), 0)


@pytest.fixture(scope="module")
def energies():
    models = []
    for m in range(2):
        torch.manual_seed(m)
        models.append(freeze(DenoisingAutoencoder(4, 12, 0.01)))
    return ModeEnergies(models=models, psi_min=torch.tensor([-6.0, -6.0]), curves=pd.DataFrame(), settings={"test": 1})


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
        for name, value in alone["params"].items():
            assert torch.allclose(together["params"][name][k], value[0], atol=1e-5), name
        row = together["table"].iloc[k]
        assert row["threshold"] == alone["table"]["threshold"].iloc[0]
        assert row["f1_clean"] == pytest.approx(alone["table"]["f1_clean"].iloc[0])


def test_each_seed_can_use_its_own_autoencoders(splits, energies):
    other = ModeEnergies(models=list(reversed(energies.models)), psi_min=torch.tensor([-5.0, -7.0]), curves=pd.DataFrame(), settings={"test": 2})
    configs = _with_configs().iloc[:2]  # seeds 0 and 1
    base = init_parameters("base", [0, 1])
    mixed = SweepEngine("with", configs, splits, SETTINGS, energies={0: energies, 1: other}, base=base).fit(progress=False).result()
    alone = SweepEngine("with", configs.iloc[[1]], splits, SETTINGS, energies=other, base={n: v[1:] for n, v in base.items()}).fit(progress=False).result()
    assert torch.allclose(mixed["params"]["w0"][1], alone["params"]["w0"][0], atol=1e-5)
    assert torch.equal(mixed["psi_min"][1], other.psi_min)


def test_models_with_different_hyperparameters_end_differently(splits, energies):
    configs = _with_configs()
    base = init_parameters("base", configs["seed"].tolist())
    out = SweepEngine("with", configs, splits, SETTINGS, energies=energies, base=base).fit(progress=False).result()
    assert not torch.allclose(out["params"]["w0"][0], out["params"]["w0"][2])


def test_the_emma_constraints_hold_after_training(splits, energies):
    configs = _with_configs()
    base = init_parameters("base", configs["seed"].tolist())
    params = SweepEngine("with", configs, splits, SETTINGS, energies=energies, base=base).fit(progress=False).result()["params"]
    assert (params["self_weight"] >= 1).all() and (params["self_bias"] >= 0).all()
    assert ((params["bias"] >= 0) & (params["bias"] <= 1)).all() and (params["gain"] > 0).all()


def test_each_seed_has_its_own_fixed_corruption_of_each_split(splits):
    a = seed_data(splits, "val", [0, 1], SETTINGS, noisy=True)
    b = seed_data(splits, "val", [1], SETTINGS, noisy=True)
    assert torch.equal(a.x[1], b.x[0])
    assert not torch.equal(a.x[0], a.x[1])
    assert a.corrupted[0].any(dim=1).float().mean().item() == pytest.approx(0.5, abs=0.01)


def test_batch_coupled_potential_reproduces_the_original_codes_erratum(splits, energies):
    data = seed_data(splits, "train", [0], SETTINGS, noisy=True, energies=energies)
    rows = torch.arange(10, 42).unsqueeze(0)  # one mini-batch of 32
    ours = data.potentials("batch_coupled", 32, rows)[0]  # (32, 2)
    batch = data.x[0, rows[0]]
    for m, model in enumerate(energies.models):
        assert torch.allclose(ours[:, m], batch_coupled_potential(model, batch[:, 4 * m : 4 * m + 4]), atol=1e-4)
    per_sample = data.potentials("per_sample", 32, rows)[0]
    assert torch.allclose(per_sample, energies.potentials(batch), atol=1e-5)


def test_a_finished_sweep_is_read_back_from_the_cache(splits, tmp_path, monkeypatch):
    configs = [{"seed": 0}]
    first = run_sweep("base", configs, splits, SETTINGS, cache_dir=tmp_path, progress=False)
    monkeypatch.setattr(SweepEngine, "fit", lambda *a, **k: pytest.fail("trained again instead of reading the cache"))
    again = run_sweep("base", configs, splits, SETTINGS, cache_dir=tmp_path, progress=False)
    assert torch.equal(first["params"]["w0"], again["params"]["w0"])


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


def test_bad_settings_are_rejected_by_name():
    with pytest.raises(ValueError, match="potential must be one of"):
        TrainSettings(potential="batched")
    with pytest.raises(ValueError, match="epochs"):
        TrainSettings(epochs=0)


def test_verdict_is_reproduced_only_when_the_paired_difference_clears_its_spread():
    assert paired_verdict([0.80, 0.81, 0.82], [0.70, 0.70, 0.71])[2] == "reproduced"
    assert paired_verdict([0.80, 0.70, 0.82], [0.70, 0.75, 0.71])[2] == "partly"
    assert paired_verdict([0.70, 0.70, 0.71], [0.80, 0.81, 0.82])[2] == "not reproduced"


def test_verdict_reports_ours_minus_reference_also_when_lower_is_better():
    mean, _, verdict = paired_verdict([0.1, 0.1], [0.5, 0.6], higher_is_better=False)
    assert mean == pytest.approx(-0.45) and verdict == "reproduced"


def test_rescoring_a_sweep_with_its_own_thresholds_reproduces_its_table(splits, energies):
    configs = _with_configs()
    base = init_parameters("base", configs["seed"].tolist())
    result = SweepEngine("with", configs, splits, SETTINGS, energies=energies, base=base).fit(progress=False).result()
    again = score_on_test(result, splits, energies=energies)
    for column in ("f1_clean", "f1_ip_noisy", "f1_dm_noisy"):
        assert np.allclose(again[column], result["table"][column])
