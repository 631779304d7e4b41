"""The unified model of thesis chapter 7 (emma.unified): its parts, its training, its synthetic task."""
import numpy as np
import pandas as pd
import pytest
import torch

from emma.autoencoder import DenoisingAutoencoder, freeze
from emma.claims import VERDICTS
from emma.unified import (
    COMBINATIONS,
    PARTS,
    UnifiedAttention,
    build,
    composition_tests,
    fit,
    fit_energy_models,
    htru2_tasks,
    label,
    make_task,
    predict,
    run_htru2,
    summarise,
    unified_claims,
)

torch.set_num_threads(1)
FULL = dict(exogenous=True, endogenous=True, crossmodal=True)


def _energy_models(widths, seed=0):
    torch.manual_seed(seed)
    return [freeze(DenoisingAutoencoder(w, 5, 0.1)) for w in widths], [0.0] * len(widths)


def _modes(widths, n=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, w, generator=g) for w in widths]


def _model(widths, parts=FULL, **options):
    return build(parts, widths, *_energy_models(widths), seed=0, **options)


@pytest.mark.parametrize("widths", [(3, 5), (2, 4, 7), (1, 1, 1, 1, 1)])
@pytest.mark.parametrize("fusion", ["late", "early"])
def test_output_shapes_for_any_number_of_modes_and_widths(widths, fusion):
    out = _model(widths, fusion=fusion)(_modes(widths))
    m = len(widths)
    assert out.logits.shape == (7,)
    assert out.beta.shape == out.log_alpha.shape == (7, m)
    assert [tuple(mask.shape) for mask in out.masks] == [(7, w) for w in widths]
    assert out.crossmodal.shape == (7, m, m)


def test_crossmodal_weights_are_a_distribution_over_the_other_modes():
    weights = _model((3, 4, 2, 5))(_modes((3, 4, 2, 5))).crossmodal
    assert torch.allclose(weights.sum(-1), torch.ones(7, 4))
    assert torch.all(torch.diagonal(weights, dim1=-2, dim2=-1) == 0)
    assert (weights > 0).sum(-1).eq(3).all()


def test_masks_lie_in_the_unit_interval_and_depend_on_the_sample():
    masks = _model((4, 6))(_modes((4, 6), n=50)).masks
    for mask in masks:
        assert ((mask > 0) & (mask < 1)).all()
        assert mask.std(dim=0).min() > 0


@pytest.mark.parametrize("parts", COMBINATIONS, ids=label)
def test_a_part_switched_off_has_no_parameters_and_no_weights(parts):
    model = _model((3, 4, 3), parts)
    out = model(_modes((3, 4, 3)))
    assert model.parts == parts
    names = {name.split(".")[0] for name, _ in model.named_parameters()}
    for part in PARTS:
        assert (part in names) == parts[part], part
    assert (out.beta is not None) == parts["exogenous"] == (out.log_alpha is not None)
    assert (out.masks is not None) == parts["endogenous"]
    assert (out.crossmodal is not None) == parts["crossmodal"]


def test_with_every_part_off_the_model_is_embedding_then_classifier():
    widths = (2, 4)
    model = _model(widths, dict(exogenous=False, endogenous=False, crossmodal=False))
    modes = _modes(widths)
    padded = torch.stack([torch.nn.functional.pad(x, (0, 4 - x.shape[1])) for x in modes], dim=1)  # (n, M, 4)
    expected = model.head(model.embed(padded)).sum(dim=(1, 2))
    assert torch.allclose(model(modes).logits, expected)


def test_exogenous_part_is_emma_and_scales_each_mode_by_its_beta():
    widths = (3, 3)
    model = _model(widths, dict(exogenous=True, endogenous=False, crossmodal=False))
    modes = _modes(widths)
    _, emma_out = model.exogenous(modes)  # EMMA's own forward
    out = model(modes)
    assert torch.allclose(out.beta, emma_out.beta)
    scaled = torch.stack([emma_out.beta[:, i : i + 1] * x for i, x in enumerate(modes)], dim=1)
    assert torch.allclose(out.logits, model.head(model.embed(scaled)).sum(dim=(1, 2)))


def test_gradients_reach_every_parameter_of_every_active_part():
    widths = (3, 4, 2)
    model = _model(widths, d_hidden=6)
    with torch.no_grad():
        model.exogenous.self_bias.fill_(0.5)  # away from the constraint's edge
    loss = torch.nn.functional.binary_cross_entropy_with_logits(model(_modes(widths, n=32)).logits, torch.ones(32))
    loss.backward()
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), name
            assert parameter.grad.abs().sum() > 0, name
        else:
            assert name.startswith("exogenous.energy_models"), name  # only EMMA's autoencoders are frozen


def test_with_two_modes_each_mode_attends_to_the_other_with_weight_one():
    weights = _model((3, 3))(_modes((3, 3))).crossmodal
    assert torch.equal(weights, torch.tensor([[0.0, 1.0], [1.0, 0.0]]).expand(7, 2, 2))


@pytest.mark.parametrize(
    "modes, error, match",
    [
        ([torch.randn(5, 3)], ValueError, "list of 2 tensors"),
        ([torch.randn(5, 3), torch.randn(5, 5)], ValueError, r"modes\[1\] must have shape \(5, 4\)"),
        ([torch.randn(5, 3), torch.randn(6, 4)], ValueError, r"modes\[1\] must have shape \(5, 4\)"),
        ([torch.randn(5, 3), torch.ones(5, 4, dtype=torch.long)], TypeError, "floating-point"),
        ([torch.randn(5, 3), torch.full((5, 4), float("nan"))], ValueError, "non-finite"),
    ],
)
def test_bad_modes_are_rejected_with_a_message_naming_them(modes, error, match):
    with pytest.raises(error, match=match):
        _model((3, 4))(modes)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(widths=[3]), ValueError, "at least 2"),
        (dict(widths=[3, 0]), ValueError, r"widths\[1\]"),
        (dict(widths=[3, 4], exogenous=1), TypeError, "exogenous must be True or False"),
        (dict(widths=[3, 4], fusion="middle"), ValueError, "fusion"),
        (dict(widths=[3, 4], d_model=0), ValueError, "d_model"),
        (dict(widths=[3, 4], exogenous=True), ValueError, "needs energy_models and psi_min"),
        (dict(widths=[3, 4], energy_models=_energy_models([3, 5])[0], psi_min=[0.0, 0.0]), ValueError, r"energy_models\[1\] reads 5"),
    ],
)
def test_bad_constructor_arguments_are_rejected(kwargs, error, match):
    with pytest.raises(error, match=match):
        UnifiedAttention(**kwargs)


# ----------------------------------------------------------------------------- the synthetic task


@pytest.fixture(scope="module")
def big_task():
    return make_task(20_000, widths=(5, 6, 5, 6), signal_noise=0.0, generator=torch.Generator().manual_seed(1))


def test_task_corrupts_at_most_one_mode_of_the_requested_share_of_samples(big_task):
    per_sample = big_task.corrupted.sum(dim=1)
    assert per_sample.max() == 1
    assert abs(per_sample.float().mean().item() - 0.5) < 0.02
    shares = big_task.corrupted.float().mean(dim=0)
    assert torch.allclose(shares, torch.full((4,), 0.125), atol=0.01)


def test_corrupted_modes_really_are_noisy(big_task):
    for i, x in enumerate(big_task.modes):
        clean, noisy = x[~big_task.corrupted[:, i]], x[big_task.corrupted[:, i]]
        assert clean.var(dim=0).max() < 1.2  # unit-variance features
        assert noisy.var(dim=0).min() > 1 + 9.0 * 0.8  # 1 + σ² with σ = 3


def test_the_signal_sits_where_the_selector_points(big_task):
    rows = torch.arange(len(big_task.y))
    for i, x in enumerate(big_task.modes):
        clean = ~big_task.corrupted[:, i]
        slot = big_task.signal_slot[clean, i]
        assert torch.equal(slot, torch.where(x[clean, 0] > 0, 1, 2))  # feature 1 when the selector is positive, else 2
        assert torch.equal(x[rows, big_task.signal_slot[:, i]][clean], big_task.factors[clean, i % 2])


def test_the_label_is_an_interaction_across_modes(big_task):
    rows = torch.arange(len(big_task.y))
    clean = ~big_task.corrupted[:, :2].any(dim=1)
    signal = [big_task.modes[i][rows, big_task.signal_slot[:, i]] for i in range(2)]  # mode 0 carries u, mode 1 carries v
    assert torch.equal(big_task.y[clean], ((signal[0] * signal[1])[clean] > 0).float())  # the product decides
    for i in range(4):  # ... and no single mode's signal says anything about the label
        positive = big_task.modes[i][rows, big_task.signal_slot[:, i]] > 0
        assert abs(big_task.y[positive].mean().item() - 0.5) < 0.02
        assert abs(big_task.y[~positive].mean().item() - 0.5) < 0.02


def test_the_same_generator_seed_gives_the_same_task():
    a, b = (make_task(50, generator=torch.Generator().manual_seed(3)) for _ in range(2))
    assert all(torch.equal(x, y) for x, y in zip(a.modes, b.modes)) and torch.equal(a.y, b.y)


@pytest.mark.parametrize(
    "kwargs, match",
    [(dict(n=0), "n must be"), (dict(n_factors=1), "n_factors must be >= 2"), (dict(widths=(6, 2)), "width must be an integer >= 3"),
     (dict(widths=(6,)), "at least n_factors"), (dict(corrupted_fraction=1.5), "corrupted_fraction"), (dict(noise_std=-1.0), "noise_std")],
)
def test_bad_task_arguments_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_task(**{"n": 10, **kwargs})


# ----------------------------------------------------------------------------- training and experiments


@pytest.fixture(scope="module")
def small_tasks():
    return [make_task(300, widths=(3, 4, 3, 4), generator=torch.Generator().manual_seed(s)) for s in (0, 1)]


def test_batched_training_equals_separate_runs(small_tasks):
    energy = fit_energy_models(small_tasks[:1], [0], epochs=1)[0]
    together = [build(FULL, [3, 4, 3, 4], *energy, seed=s) for s in (0, 1)]
    fit(together, small_tasks, epochs=2, batch_size=100, seed=[5, 6])
    for k, (task, order_seed) in enumerate(zip(small_tasks, (5, 6))):
        alone = build(FULL, [3, 4, 3, 4], *energy, seed=k)
        fit([alone], [task], epochs=2, batch_size=100, seed=order_seed)
        for (name, a), b in zip(alone.named_parameters(), together[k].parameters()):
            assert torch.allclose(a, b, atol=1e-5), name


def test_training_lowers_the_loss_and_keeps_emma_within_its_constraints(small_tasks):
    energy = fit_energy_models(small_tasks[:1], [0], epochs=1)[0]
    models = [build(FULL, [3, 4, 3, 4], *energy, seed=0)]
    curve = fit(models, small_tasks[:1], epochs=6, batch_size=100, lr=0.05, lambda_e=0.1, lambda_c=0.1)
    assert curve.shape == (6, 1) and curve[-1, 0] < curve[0, 0]
    emma = models[0].exogenous
    assert emma.self_weight.min() >= 1 and emma.self_bias.min() >= 0 and 0 <= emma.bias.item() <= 1


def test_emma_turns_down_a_corrupted_mode_before_any_training(small_tasks):
    task = small_tasks[0]
    model = build(FULL, [3, 4, 3, 4], *fit_energy_models([task], [0], epochs=3)[0], seed=0, coldness=0.5)
    beta = predict(model, task.modes).beta
    assert beta[task.corrupted].mean() < 0.5 * beta[~task.corrupted].mean()


def test_energy_models_are_fitted_per_task_and_mode_with_their_lowest_clean_potential(small_tasks):
    fitted = fit_energy_models(small_tasks, [0, 1], epochs=1)
    assert len(fitted) == 2
    for task, (models, psi_min) in zip(small_tasks, fitted):
        assert [m.d_input for m in models] == [3, 4, 3, 4]
        for i, (model, low) in enumerate(zip(models, psi_min)):
            assert not any(p.requires_grad for p in model.parameters())
            assert low == pytest.approx(model.potential(task.modes[i][~task.corrupted[:, i]]).min().item())
    assert not torch.equal(fitted[0][0][0].weight, fitted[1][0][0].weight)
    with pytest.raises(ValueError, match="one seed per task"):
        fit_energy_models(small_tasks, [0])


def test_fit_rejects_mixed_architectures(small_tasks):
    energy = fit_energy_models(small_tasks[:1], [0], epochs=1)[0]
    models = [build(FULL, [3, 4, 3, 4], *energy), build(dict(FULL, crossmodal=False), [3, 4, 3, 4], *energy)]
    with pytest.raises(ValueError, match="same parts"):
        fit(models, small_tasks, epochs=1, batch_size=100)


def _fake_scores(full_gain):
    rows, rng = [], np.random.default_rng(0)
    for parts in COMBINATIONS:
        for seed in range(4):
            wobble = rng.uniform(0.0, 0.01)  # paired differences that vary over seeds
            base = 0.6 + 0.01 * seed + wobble + (full_gain if all(parts.values()) else 0.0)
            rows.append({**parts, "seed": seed, "acc_clean": base, "acc_corrupted": base - 0.05 + wobble,
                         "beta_clean": 0.5, "beta_corrupted": 0.1, "mask_signal": 0.7, "mask_other": 0.3,
                         "cross_to_needed": 0.55, "cross_to_needed_uniform": 0.58})
    return pd.DataFrame(rows)


def test_summarise_gives_mean_and_std_over_seeds():
    scores = _fake_scores(0.1)
    table = summarise(scores)
    full = table[table[list(PARTS)].all(axis=1)].iloc[0]
    values = scores["acc_clean"].to_numpy()[-4:]  # the full model's rows come last
    assert full["acc_clean_mean"] == pytest.approx(np.mean(values))
    assert full["acc_clean_std"] == pytest.approx(np.std(values, ddof=1))
    assert (table["n_seeds"] == 4).all() and len(table) == 8


def test_claims_follow_the_evidence():
    htru2 = pd.DataFrame({"model": ["full"] * 3 + ["EMMA alone"] * 3, "seed": [0, 1, 2] * 2, "f1_noisy": [0.7, 0.72, 0.69, 0.7, 0.7, 0.7]})
    strong = unified_claims(_fake_scores(0.1), htru2, ("full", "EMMA alone"))
    assert set(strong["verdict"]) <= set(VERDICTS)
    assert strong["verdict"].tolist()[:2] == ["reproduced", "reproduced"]
    assert strong["verdict"].iloc[2] == "partly reproduced"  # crossmodal weights below uniform in every seed
    assert strong["verdict"].iloc[3] == "reproduced"
    weak = unified_claims(_fake_scores(-0.1), htru2, ("full", "EMMA alone"))
    assert weak["verdict"].iloc[3] == "not reproduced"
    assert (composition_tests(_fake_scores(-0.1), "acc_clean")["verdict"] == "not reproduced").all()


def test_htru2_tasks_follow_the_thesis_corruption_scheme(splits):
    tasks = htru2_tasks(splits, seed=0)
    test = tasks["test"]
    assert [tuple(x.shape) for x in test.modes] == [(120, 4), (120, 4)]
    assert test.corrupted.sum(dim=0).tolist() == [30, 30] and test.corrupted.sum(dim=1).max() == 1
    noisy_ip = test.corrupted[:, 0]
    assert torch.equal(test.modes[1][noisy_ip], splits.test.x[noisy_ip, 4:])  # DM untouched where IP is noisy
    assert not torch.equal(test.modes[0][noisy_ip], splits.test.x[noisy_ip, :4])
    assert torch.equal(htru2_tasks(splits, seed=0)["train"].modes[0], tasks["train"].modes[0])


def test_run_htru2_scores_each_arm_on_each_seed(splits, energies):
    arms = {"full": FULL, "EMMA alone": dict(exogenous=True, endogenous=False, crossmodal=False)}
    table = run_htru2(splits, energies.models, energies.psi_min.tolist(), [0, 1], arms, epochs=1, batch_size=100, lr=0.01, fusion="early")
    assert sorted(zip(table["model"], table["seed"])) == sorted([(a, s) for a in arms for s in (0, 1)])
    for column in ("f1_clean", "f1_ip_noisy", "f1_dm_noisy", "f1_noisy"):
        assert table[column].between(0, 1).all()
