"""Specifications of the two protocols (emma.engine.protocol) on small hand-checked cases, one field at a time."""
import numpy as np
import pandas as pd
import pytest
import torch

from emma.data.htru2 import MODE_SLICES
from emma.engine.configs import TrainSettings
from emma.engine.evaluation import model_outputs, score_on_test
from emma.engine.families import init_parameters
from emma.engine.optim import BatchedAdam
from emma.engine.protocol import ORIGINAL, SOUND, SWITCH_ORDER, Protocol, decomposition_steps
from emma.engine.streams import code_batches, corrupted_split, coupled_potentials, coupled_psi_min, in_place_splits
from emma.engine.sweep import SweepEngine
from emma.engine.training import omega_as_coded, omega_per_sample
from emma.experiments.potentials import batch_coupled_potential
from emma.method.module import EMMA
from emma.method.regularizers import energy_regularizer

SETTINGS = TrainSettings(epochs=2, batch_size=32)


def _engine(family, splits, energies, protocol, configs=None):
    configs = configs if configs is not None else pd.DataFrame({"seed": [0], "rho": [0.1], "lambda_c": [1e-2], "lambda_e": [1e-1]})
    base = init_parameters("base", configs["seed"].tolist()) if family in ("with", "without") else None
    return SweepEngine(family, configs, splits, SETTINGS, protocol=protocol, energies=energies, base=base)


# --------------------------------------------------------------------------- the object


def test_sound_and_original_differ_in_every_field_of_the_switch_order():
    assert set(ORIGINAL.differences(SOUND)) == set(SWITCH_ORDER)


def test_a_bad_field_value_is_rejected_with_its_name_and_the_choices():
    with pytest.raises(ValueError, match=r"potential must be one of \('per_sample', 'batch_coupled'\)"):
        Protocol(potential="batched")
    with pytest.raises(TypeError, match="retrain must be True or False"):
        Protocol(retrain="yes")
    with pytest.raises(ValueError, match="no field"):
        SOUND.switch(potentials="batch_coupled")


def test_the_cache_key_of_a_baseline_ignores_the_fields_only_emma_reads():
    assert SOUND.switch(potential="batch_coupled", omega="code").key("base") == SOUND.key("base")
    assert SOUND.switch(potential="batch_coupled").key("with") != SOUND.key("with")
    assert SOUND.switch(selection="test").key("with") == SOUND.key("with")


def test_cumulative_steps_end_at_sound_and_singles_differ_from_original_in_one_field():
    steps = decomposition_steps()
    singles = [s for s in steps if s["step"] == "single"]
    assert all(s["protocol"].differences(ORIGINAL) == [s["switch"]] for s in singles)
    assert [s for s in steps if s["step"] == "cumulative"][-1]["protocol"] == SOUND


# --------------------------------------------------------------------------- corruption in place (notes item 1)


def test_in_place_corruption_leaves_the_clean_copy_carrying_the_noisy_draw_unpermuted(splits):
    noisy, mask = corrupted_split(splits, "train", 3, SETTINGS)
    clean = in_place_splits(splits, 3, SETTINGS).train.x
    assert torch.equal(clean, noisy)  # same draw, row for row
    changed = (clean != splits.train.x)  # (n, 8)
    ip, dm = changed[:, MODE_SLICES["IP"]].any(1), changed[:, MODE_SLICES["DM"]].any(1)
    assert torch.equal(ip, mask[:, 0]) and torch.equal(dm, mask[:, 1])
    assert not (ip & dm).any() and (~(ip | dm)).sum().item() == 100  # half clean, the rest noisy on one mode


def test_under_in_place_corruption_the_base_model_trains_on_the_corrupted_draw(splits, energies):
    sound = _engine("base", splits, energies, SOUND)
    replay = _engine("base", splits, energies, SOUND.switch(corruption_in_place=True))
    assert torch.equal(sound.train.x[0], splits.train.x)
    assert torch.equal(replay.train.x[0], corrupted_split(splits, "train", 0, SETTINGS)[0])
    assert torch.equal(replay.val.x[0], corrupted_split(splits, "val", 0, SETTINGS)[0])


# --------------------------------------------------------------------------- the potential at each call (items 2, 7)


def test_a_coupled_potential_sums_the_quadratic_term_within_each_call_only():
    softplus = torch.zeros(1, 4, 2)
    quadratic = torch.tensor([[[1.0, 0.0], [2.0, 0.0], [3.0, 1.0], [4.0, 1.0]]])
    groups = torch.tensor([[0, 0, 1, 1]])
    coupled = coupled_potentials(softplus, quadratic, torch.tensor([True]), groups)[0]
    assert coupled[:, 0].tolist() == [3.0, 3.0, 7.0, 7.0] and coupled[:, 1].tolist() == [0.0, 0.0, 2.0, 2.0]
    assert coupled_potentials(softplus, quadratic, torch.tensor([True]))[0, :, 0].tolist() == [10.0] * 4
    assert torch.equal(coupled_potentials(softplus, quadratic, torch.tensor([False]), groups), quadratic)


def test_coupled_psi_min_is_the_codes_minimum_over_ordered_batches_of_32_skipping_the_last(splits, energies):
    x = splits.train.x  # 200 rows: the code's loop range(0, 168, 32) gives 6 batches, rows 0..191
    assert code_batches(200, 32) == 6
    expected = torch.stack([
        torch.stack([batch_coupled_potential(model, x[i : i + 32, 4 * m : 4 * m + 4]).min() for i in range(0, 200 - 32, 32)]).min()
        for m, model in enumerate(energies.models)
    ])
    assert torch.allclose(coupled_psi_min(energies, x, 32), expected, atol=1e-4)


def test_the_results_table_scores_each_test_subset_as_one_coupled_call(splits, energies):
    result = _engine("with", splits, energies, ORIGINAL).fit(progress=False).result()
    x, mask = corrupted_split(splits, "test", 0, SETTINGS)
    for subset, (ip, dm) in {"clean": (False, False), "ip_noisy": (True, False), "dm_noisy": (False, True)}.items():
        rows = (mask[:, 0] == ip) & (mask[:, 1] == dm)
        prob, _ = model_outputs(result, x[rows].unsqueeze(0), energies)  # this subset alone, one call
        from sklearn.metrics import f1_score

        f1 = f1_score(splits.test.y[rows].numpy(), (prob[0].numpy() >= result.table["threshold"].iloc[0]).astype(int), zero_division=0.0)
        assert f1 == pytest.approx(result.table[f"f1_{subset}"].iloc[0])
    again = score_on_test(result, splits, energies=energies)
    assert np.allclose(again[["f1_clean", "f1_ip_noisy", "f1_dm_noisy"]], result.table[["f1_clean", "f1_ip_noisy", "f1_dm_noisy"]])


def test_the_ranking_score_couples_the_whole_noisy_test_set_in_one_call(splits, energies):
    result = _engine("with", splits, energies, ORIGINAL).fit(progress=False).result()
    x, _ = corrupted_split(splits, "test", 0, SETTINGS)
    prob, _ = model_outputs(result, x.unsqueeze(0), energies)
    from sklearn.metrics import f1_score

    f1 = f1_score(splits.test.y.numpy(), (prob[0].numpy() >= result.table["threshold"].iloc[0]).astype(int), zero_division=0.0)
    assert f1 == pytest.approx(result.table["f1_noisy_test"].iloc[0])


# --------------------------------------------------------------------------- Ω as coded (item 5)


def test_omega_as_coded_sums_the_clean_modes_log_alpha_of_corrupted_samples():
    log_alpha = torch.log(torch.tensor([[0.3, 0.7], [0.6, 0.4], [0.1, 0.9], [0.5, 0.5]]))
    corrupted = torch.tensor([[True, False], [False, True], [False, False], [False, False]])
    # the code's regul_loss: indicator IP -> weight on DM, indicator DM -> weight on IP; summed
    expected = np.log(0.7) + np.log(0.6)
    assert omega_as_coded(log_alpha, corrupted).item() == pytest.approx(expected, rel=1e-6)
    assert omega_per_sample(log_alpha, corrupted)[0].mean().item() == pytest.approx(energy_regularizer(log_alpha, corrupted).item())
    assert energy_regularizer(log_alpha, corrupted).item() == pytest.approx(
        (np.log(0.7) - np.log(0.3) + np.log(0.6) - np.log(0.4) + np.log(0.1) + np.log(0.9) + 2 * np.log(0.5)) / 4, rel=1e-6)


# --------------------------------------------------------------------------- early stopping, retraining, last batch (items 3, 4)


def test_early_stopping_on_the_training_loss_follows_that_curve(splits, energies):
    engine = _engine("with", splits, energies, SOUND.switch(early_stopping="training")).fit(progress=False)
    curves = engine.curves
    assert not torch.allclose(curves["stop_loss"], curves["val_loss"])
    assert engine.best.epoch.item() == int(curves["stop_loss"][0].argmin()) + 1
    sound = _engine("with", splits, energies, SOUND).fit(progress=False)
    assert torch.equal(sound.curves["stop_loss"], sound.curves["val_loss"])


def test_baselines_retrain_best_epoch_epochs_and_emma_zero(splits, energies):
    base = _engine("base", splits, energies, ORIGINAL).fit(progress=False)
    assert base.retrain_epochs.tolist() == base.best.epoch.tolist()
    steps = code_batches(200, 32) * SETTINGS.epochs + code_batches(320, 32) * int(base.best.epoch)
    assert base.optimizer.step_count.item() == steps - code_batches(200, 32) * (SETTINGS.epochs - int(base.best.epoch))
    emma_model = _engine("with", splits, energies, ORIGINAL).fit(progress=False)
    assert emma_model.retrain_epochs.tolist() == [0]


def test_dropping_the_last_batch_takes_the_codes_number_of_steps(splits, energies):
    configs = pd.DataFrame({"seed": [0, 0], "protocol": [SOUND, SOUND.switch(drop_last=True)]})
    engine = _engine("base", splits, energies, SOUND, configs)
    engine._epoch(engine.train, torch.ones(2, dtype=torch.bool))
    assert engine.optimizer.step_count.tolist() == [7, 6]  # ceil(200 / 32) and the code's range(0, 168, 32)


def test_batched_adam_equals_torch_adam_and_pauses_inactive_models():
    torch.manual_seed(0)
    start = torch.randn(2, 3)
    ours = {"w": start.clone().requires_grad_(True)}
    reference = start[0].clone().requires_grad_(True)
    optimizer, torch_adam = BatchedAdam(ours, lr=1e-2), torch.optim.Adam([reference], lr=1e-2)
    for step in range(5):
        target = torch.randn(3)
        optimizer.zero_grad()
        ((ours["w"] - target) ** 2).sum().backward()
        optimizer.step(torch.tensor([True, step < 2]))
        torch_adam.zero_grad()
        ((reference - target) ** 2).sum().backward()
        torch_adam.step()
    assert torch.allclose(ours["w"][0], reference, atol=1e-6)
    assert optimizer.step_count.tolist() == [5.0, 2.0]


# --------------------------------------------------------------------------- the shared initialisation (item 6)


def test_shared_init_gives_each_configuration_its_own_batch_order_and_the_same_start(splits, energies):
    configs = pd.DataFrame({"seed": [0, 0], "rho": [0.1, 1.0], "lambda_c": [0.0, 0.0], "lambda_e": [0.0, 0.0]})
    shared = _engine("with", splits, energies, SOUND.switch(init="shared"), configs)
    per_seed = _engine("with", splits, energies, SOUND, configs)
    assert torch.equal(shared.params["shared_weight"][0], shared.params["shared_weight"][1])
    order = shared.new_order(200)
    assert not torch.equal(order[0], order[1])
    assert torch.equal(*per_seed.new_order(200))


# --------------------------------------------------------------------------- an independent reference


def test_one_with_model_trained_by_a_plain_pytorch_loop_equals_the_engines_row(splits, energies):
    config = {"seed": 0, "rho": 0.1, "lambda_c": 1e-2, "lambda_e": 1e-1}
    engine_result = _engine("with", splits, energies, SOUND, pd.DataFrame([config])).fit(progress=False).result()
    start = init_parameters("with", [0], base=init_parameters("base", [0]))

    emma_module = EMMA(energies.models, energies.psi_min, coldness=config["rho"])
    with torch.no_grad():
        for name, value in emma_module.parameters_dict().items():
            value.copy_(start[name][0])
    mlp = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.ReLU(), torch.nn.Linear(8, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    with torch.no_grad():
        for i, layer in enumerate([mlp[0], mlp[2], mlp[4]]):
            layer.weight.copy_(start[f"w{i}"][0].T)
            layer.bias.copy_(start[f"b{i}"][0, 0])
    optimizer = torch.optim.Adam(list(emma_module.parameters()) + list(mlp.parameters()), lr=SETTINGS.lr)
    x, mask = corrupted_split(splits, "train", 0, SETTINGS)
    x_val = corrupted_split(splits, "val", 0, SETTINGS)[0]
    order_generator = torch.Generator().manual_seed(2_000_003 + 0)  # the engine's per-seed order stream

    def predict(batch):
        weighted, out = emma_module([batch[:, :4], batch[:, 4:]])
        return mlp(torch.cat(weighted, dim=1)).squeeze(-1), out

    best_loss, best = float("inf"), None
    for epoch in range(SETTINGS.epochs):
        order = torch.randperm(len(x), generator=order_generator)
        for start_row in range(0, len(x), SETTINGS.batch_size):
            rows = order[start_row : start_row + SETTINGS.batch_size]
            logits, out = predict(x[rows])
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, splits.train.y[rows])
            loss = loss + config["lambda_c"] * (emma_module.gain - emma_module.bias) - config["lambda_e"] * energy_regularizer(out.log_alpha, mask[rows])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            emma_module.clamp_()
        with torch.no_grad():
            val_loss = torch.nn.functional.binary_cross_entropy_with_logits(predict(x_val)[0], splits.val.y).item()
        if val_loss < best_loss:
            best_loss = val_loss
            best = {**{n: v.detach().clone() for n, v in emma_module.parameters_dict().items()}, "w0": mlp[0].weight.detach().T.clone()}
    for name in ("self_weight", "shared_weight", "gain", "bias", "w0"):
        assert torch.allclose(engine_result.params[name][0], best[name], atol=1e-5), name
    assert engine_result.table["best_loss"].iloc[0] == pytest.approx(best_loss, rel=1e-5)


def test_a_models_row_does_not_depend_on_the_protocols_stacked_beside_it(splits, energies):
    configs = pd.DataFrame({"seed": [0, 0], "rho": [0.1, 0.1], "lambda_c": [1e-2, 1e-2], "lambda_e": [1e-1, 1e-1], "protocol": [SOUND, ORIGINAL]})
    both = _engine("with", splits, energies, SOUND, configs).fit(progress=False).result()
    alone = _engine("with", splits, energies, SOUND, configs.iloc[[0]]).fit(progress=False).result()
    for name, value in alone.params.items():
        assert torch.allclose(both.params[name][0], value[0], atol=1e-6), name
    original_alone = _engine("with", splits, energies, SOUND, configs.iloc[[1]].reset_index(drop=True)).fit(progress=False).result()
    assert torch.allclose(both.params["w0"][1], original_alone.params["w0"][0], atol=1e-6)


def test_autoencoders_under_the_original_protocol_are_fitted_on_the_corrupted_training_set(splits, tmp_path):
    from emma.data.splits import tensor_fingerprint
    from emma.engine.autoencoders import THESIS_DAE
    from emma.experiments.study import fit_study_energies

    fitted = fit_study_energies(splits, [0], [SOUND, ORIGINAL], SETTINGS, dae=THESIS_DAE.override(epochs=1, d_hidden=4), cache_dir=tmp_path)
    noisy = corrupted_split(splits, "train", 0, SETTINGS)[0]
    assert fitted[(0, True)].settings["train_data"] == tensor_fingerprint(noisy)
    assert fitted[(0, False)].settings["train_data"] == tensor_fingerprint(splits.train.x)


def test_the_threshold_is_chosen_on_the_whole_validation_set_as_one_coupled_call(splits, energies):
    from emma.engine.training import select_threshold

    engine = _engine("with", splits, energies, ORIGINAL).fit(progress=False)
    result = engine.result()
    prob, _ = model_outputs(result, corrupted_split(splits, "val", 0, SETTINGS)[0].unsqueeze(0), energies)  # one call
    # the threshold is chosen before retraining; EMMA retrains 0 epochs, so the final model chose it
    assert result.table["threshold"].iloc[0] == select_threshold(prob[0].numpy(), splits.val.y.numpy())


def test_each_threshold_rule_picks_its_own_threshold(splits, energies):
    configs = pd.DataFrame({"seed": [0, 0, 0], "protocol": [SOUND, SOUND.switch(threshold="f1_validation"), SOUND.switch(threshold="fixed")]})
    table = _engine("base", splits, energies, SOUND, configs).fit(progress=False).result().table
    assert table["threshold"].iloc[2] == 0.5
    assert table["val_f1_clean"].iloc[1] >= table["val_f1_clean"].iloc[0]  # F1-optimal on validation beats the ROC corner there


def test_a_class_weight_multiplies_the_loss_of_the_pulsars():
    from emma.engine.training import bce_per_model

    logits, y = torch.zeros(1, 4), torch.tensor([1.0, 1.0, 0.0, 0.0])
    plain = bce_per_model(logits, y)
    weighted = bce_per_model(logits, y, torch.tensor([10.0]))
    assert weighted.item() == pytest.approx(plain.item() * (10 * 2 + 2) / 4)


def test_selection_picks_by_validation_or_by_the_whole_noisy_test_set():
    from emma.engine.evaluation import selected_config

    ranked = pd.DataFrame({"rho": [0.1, 1.0], "lambda_c": [0.0, 0.0], "lambda_e": [0.0, 0.0], "rank_validation": [1, 2], "rank_test": [2, 1]})
    assert selected_config(ranked, "validation")["rho"] == 0.1 and selected_config(ranked, "test")["rho"] == 1.0
