"""Specifications of the EMMA module (emma/method/attention.py, thesis eq. 5.2–5.12)."""
import math

import pytest
import torch
from torch.func import vmap

from emma.method.attention import (
    EULER,
    GAIN_FLOOR,
    PARAMETER_NAMES,
    EMMAOutput,
    attention_scores,
    energy_threshold,
    initial_parameters,
    project_parameters_,
    under_transform,
)
from emma.method.autoencoder import DenoisingAutoencoder
from emma.method.module import EMMA
from emma.method.regularizers import capacity, capacity_penalty, capacity_relu, energy_regularizer

WIDTHS = {2: [4, 4], 3: [4, 2, 3], 5: [1, 2, 3, 4, 5]}


def make_emma(widths, coldness=0.5, seed=0, psi_min=None):
    torch.manual_seed(seed)
    daes = [DenoisingAutoencoder(d, 6, noise_std=0.01) for d in widths]
    psi_min = [-5.0] * len(widths) if psi_min is None else psi_min
    return EMMA(daes, psi_min=psi_min, coldness=coldness, generator=torch.Generator().manual_seed(seed))


def make_modes(widths, batch=7, seed=1):
    gen = torch.Generator().manual_seed(seed)
    return [2 * torch.randn(batch, d, generator=gen) for d in widths]


def random_feasible(m, gen, leading=()):
    """Random parameters inside the constraints."""
    params = initial_parameters(m, gen)
    params = {k: v.expand(leading + v.shape).clone() for k, v in params.items()}
    params["self_weight"] += torch.rand(leading + (m,), generator=gen)
    params["self_bias"] += torch.rand(leading + (m,), generator=gen)
    params["shared_weight"] = 2 * torch.rand(leading + (m, m), generator=gen) - 1
    params["shared_gamma"] = torch.rand(leading + (m, m), generator=gen)
    params["gain"] = 0.5 + 3 * torch.rand(leading, generator=gen)
    params["bias"] = torch.rand(leading, generator=gen)
    return params


# ------------------------------------------------------------------ shapes and basic properties


@pytest.mark.parametrize("m", [2, 3, 5])
def test_forward_shapes_for_m_modes_of_unequal_widths(m):
    widths = WIDTHS[m]
    model = make_emma(widths)
    weighted, out = model(make_modes(widths, batch=7))
    assert isinstance(out, EMMAOutput)
    assert [tuple(w.shape) for w in weighted] == [(7, d) for d in widths]
    for name in ("potentials", "corrected_potentials", "self_energies", "modal_energies", "alpha", "log_alpha", "beta"):
        assert getattr(out, name).shape == (7, m), name
    assert out.shared_energies.shape == (7, m, m)
    assert out.total_energy.shape == (7,)
    assert out.log_partition.shape == (7,)


@pytest.mark.parametrize("m", [2, 3, 5])
def test_alpha_sums_to_one(m):
    _, out = make_emma(WIDTHS[m])(make_modes(WIDTHS[m]))
    torch.testing.assert_close(out.alpha.sum(dim=-1), torch.ones(7))
    torch.testing.assert_close(out.log_alpha.exp(), out.alpha)


def test_beta_lies_in_zero_one_at_random_feasible_parameters():
    gen = torch.Generator().manual_seed(3)
    params = random_feasible(3, gen)
    out = attention_scores(10 * torch.rand(500, 3, generator=gen), torch.zeros(3), **params, coldness=0.5)
    assert (out.beta >= 0).all() and (out.beta < 1).all()
    assert (out.beta == 0).any() and (out.beta > 0).any()  # the max(0, ·) is exercised


def test_weighted_modes_are_beta_times_inputs():
    model = make_emma([3, 2])
    modes = make_modes([3, 2])
    weighted, out = model(modes)
    for i, (w, x) in enumerate(zip(weighted, modes)):
        torch.testing.assert_close(w, out.beta[:, i : i + 1] * x)


def test_corrected_potential_is_floored_at_euler_number():
    params = initial_parameters(2)
    psi = torch.tensor([[-10.0, 3.0], [0.0, 1.0]])
    out = attention_scores(psi, torch.tensor([0.0, 1.0]), **params, coldness=1.0)
    expected = torch.tensor([[EULER, 2.0 + EULER], [EULER, EULER]])
    torch.testing.assert_close(out.corrected_potentials, expected)


def test_shared_energy_matches_eq_5_4_and_ignores_the_diagonal():
    params = initial_parameters(2)
    params["shared_weight"] = torch.tensor([[0.9, 0.5], [-0.25, 0.9]])
    params["shared_gamma"] = torch.tensor([[0.3, 0.2], [0.7, 0.3]])
    params["self_bias"] = torch.tensor([1.0, 2.0])
    out = attention_scores(torch.tensor([[1.0, 4.0]]), torch.zeros(2), **params, coldness=1.0)
    e1, e2 = 1.0 + EULER + 1.0, 4.0 + EULER + 2.0
    expected = torch.tensor([[0.0, 0.5 * e1**0.2 * e2**0.8], [-0.25 * e2**0.7 * e1**0.3, 0.0]])
    torch.testing.assert_close(out.shared_energies[0], expected)
    torch.testing.assert_close(out.modal_energies[0], torch.tensor([e1 + expected[0, 1], e2 + expected[1, 0]]))


def test_lower_energy_gets_higher_importance():
    params = initial_parameters(3)
    params["shared_weight"].zero_()
    out = attention_scores(torch.tensor([[1.0, 2.0, 3.0]]), torch.zeros(3), **params, coldness=1.0)
    assert out.alpha[0, 0] > out.alpha[0, 1] > out.alpha[0, 2]


def test_attention_scores_accepts_any_leading_batch_shape():
    gen = torch.Generator().manual_seed(0)
    params = random_feasible(3, gen)
    psi = 5 * torch.rand(4, 6, 3, generator=gen)
    nested = attention_scores(psi, torch.zeros(3), **params, coldness=0.3)
    flat = attention_scores(psi.reshape(24, 3), torch.zeros(3), **params, coldness=0.3)
    torch.testing.assert_close(nested.beta.reshape(24, 3), flat.beta)
    torch.testing.assert_close(nested.shared_energies.reshape(24, 3, 3), flat.shared_energies)
    assert nested.total_energy.shape == (4, 6)


def test_vmap_over_stacked_parameters_equals_a_loop():
    k, m = 4, 3
    gen = torch.Generator().manual_seed(0)
    stacked = random_feasible(m, gen, leading=(k,))
    psi = 5 * torch.rand(9, m, generator=gen)
    psi_min = torch.zeros(m)

    def run(*params):
        return attention_scores(psi, psi_min, *params, coldness=torch.tensor(0.2))

    mapped = vmap(run)(*(stacked[n] for n in PARAMETER_NAMES))
    for j in range(k):
        looped = run(*(stacked[n][j] for n in PARAMETER_NAMES))
        for field in EMMAOutput._fields:
            torch.testing.assert_close(getattr(mapped, field)[j], getattr(looped, field), msg=field)


def test_vmap_over_coldness_and_potentials_equals_a_loop():
    gen = torch.Generator().manual_seed(1)
    params = random_feasible(2, gen)
    psi = 5 * torch.rand(3, 8, 2, generator=gen)
    rho = torch.tensor([1e-3, 0.1, 1.0])
    mapped = vmap(lambda p, r: attention_scores(p, torch.zeros(2), **params, coldness=r))(psi, rho)
    for j in range(3):
        looped = attention_scores(psi[j], torch.zeros(2), **params, coldness=rho[j])
        torch.testing.assert_close(mapped.alpha[j], looped.alpha)


# ------------------------------------------------------------------ constraints and initial values


def test_initial_parameters_are_the_thesis_values():
    params = initial_parameters(3, torch.Generator().manual_seed(0))
    assert set(params) == set(PARAMETER_NAMES)
    torch.testing.assert_close(params["self_weight"], torch.ones(3))
    torch.testing.assert_close(params["self_bias"], torch.zeros(3))
    torch.testing.assert_close(params["shared_gamma"], torch.full((3, 3), 0.5))
    assert params["gain"].shape == () and params["gain"].item() == 1.0
    assert params["bias"].shape == () and params["bias"].item() == 0.0
    off = ~torch.eye(3, dtype=torch.bool)
    assert params["shared_weight"][off].abs().max() <= 1 / (3 - 1)
    assert (params["shared_weight"].diagonal() == 0).all()


def test_initial_shared_weights_depend_on_the_generator():
    a = initial_parameters(4, torch.Generator().manual_seed(0))["shared_weight"]
    b = initial_parameters(4, torch.Generator().manual_seed(0))["shared_weight"]
    c = initial_parameters(4, torch.Generator().manual_seed(1))["shared_weight"]
    assert torch.equal(a, b) and not torch.equal(a, c)


def assert_feasible(params):
    assert (params["self_weight"] >= 1).all()
    assert (params["self_bias"] >= 0).all()
    assert (params["shared_weight"].abs() <= 1).all()
    assert ((params["shared_gamma"] >= 0) & (params["shared_gamma"] <= 1)).all()
    assert (params["gain"] >= GAIN_FLOOR).all()
    assert ((params["bias"] >= 0) & (params["bias"] <= 1)).all()


def test_constraints_hold_after_an_optimizer_step():
    model = make_emma([3, 2, 2])
    optimizer = torch.optim.SGD(model.parameters(), lr=100.0)
    _, out = model(make_modes([3, 2, 2]))
    # a loss whose gradient pushes every parameter out of its constraint set
    loss = sum(p.sum() for p in model.parameters()) + out.beta.sum()
    loss.backward()
    optimizer.step()
    assert model.gain.item() < 0 and (model.self_weight < 1).any()  # really left the set
    model.clamp_()
    assert_feasible(model.parameters_dict())


def test_projection_works_on_stacked_parameters():
    gen = torch.Generator().manual_seed(0)
    stacked = {k: 10 * torch.randn((5,) + v.shape, generator=gen) for k, v in initial_parameters(3).items()}
    project_parameters_(*(stacked[n] for n in PARAMETER_NAMES))
    assert_feasible(stacked)


def test_projection_leaves_feasible_parameters_unchanged():
    params = random_feasible(3, torch.Generator().manual_seed(0))
    before = {k: v.clone() for k, v in params.items()}
    project_parameters_(*(params[n] for n in PARAMETER_NAMES))
    for name in PARAMETER_NAMES:
        assert torch.equal(params[name], before[name]), name


# ------------------------------------------------------------------ gradients and frozen energy models


def test_gradients_reach_emma_parameters_and_not_the_autoencoders():
    model = make_emma([3, 2])
    model.bias.data.fill_(0.2)
    weighted, out = model(make_modes([3, 2]))
    corrupted = torch.zeros(7, 2, dtype=torch.bool)
    corrupted[:, 1] = True
    loss = sum(w.sum() for w in weighted) - energy_regularizer(out.log_alpha, corrupted)
    loss.backward()
    for name in PARAMETER_NAMES:
        grad = getattr(model, name).grad
        assert grad is not None and grad.abs().sum() > 0, name
    for dae in model.energy_models:
        for parameter in dae.parameters():
            assert not parameter.requires_grad and parameter.grad is None


def test_energy_models_stay_in_eval_mode_when_emma_trains():
    model = make_emma([2, 2]).train()
    assert model.training
    assert all(not dae.training for dae in model.energy_models)


def test_to_moves_buffers_and_energy_models():
    model = make_emma([2, 3]).to(torch.float64)
    assert model.psi_min.dtype == torch.float64 and model.coldness.dtype == torch.float64
    assert all(p.dtype == torch.float64 for p in model.energy_models.parameters())
    _, out = model([x.double() for x in make_modes([2, 3])])
    assert out.beta.dtype == torch.float64


# ------------------------------------------------------------------ capacity, threshold, regularizers


def test_capacity_at_initial_values_is_log_cosh_one():
    assert capacity(1.0, 0.0).item() == pytest.approx(math.log(math.cosh(1.0)))
    assert capacity_relu(1.0, 0.0).item() == pytest.approx(math.log(math.cosh(1.0)))


def test_capacity_is_negative_when_bias_exceeds_half_the_gain():
    assert capacity(1.0, 0.8).item() < 0
    assert capacity_relu(1.0, 0.8).item() > 0


def test_capacity_relu_is_zero_when_the_threshold_is_past_one():
    assert capacity_relu(0.5, 0.9).item() == 0.0


def test_capacity_relu_exceeds_eq_5_11_by_log_cosh_bias_over_gain():
    gain, bias = torch.tensor([2.0, 5.0]), torch.tensor([0.5, 1.0])
    torch.testing.assert_close(capacity_relu(gain, bias) - capacity(gain, bias), torch.log(torch.cosh(bias)) / gain)


def test_capacity_stays_finite_for_large_gain():
    assert torch.isfinite(capacity(torch.tensor(500.0), torch.tensor(0.5)))


def test_under_transform_is_true_only_for_tensors_inside_vmap():
    x = torch.ones(2, 3)
    assert under_transform(x, 1.0, None) is False
    inside = []
    vmap(lambda row: inside.append((under_transform(row), under_transform(x))) or row)(x)
    assert inside == [(True, False)]  # the mapped row is wrapped; a tensor captured from outside is not


def test_capacity_works_under_vmap_and_on_stacks():
    gain, bias = torch.tensor([0.5, 1.0, 4.0]), torch.tensor([0.0, 0.8, 1.0])
    torch.testing.assert_close(vmap(capacity)(gain, bias), capacity(gain, bias))
    torch.testing.assert_close(vmap(capacity_relu)(gain, bias), capacity_relu(gain, bias))


def test_emma_capacity_uses_its_gain_and_bias():
    model = make_emma([2, 2])
    model.gain.data.fill_(3.0)
    model.bias.data.fill_(0.6)
    assert model.capacity().item() == pytest.approx(capacity(3.0, 0.6).item())
    assert model.capacity(relu=True).item() == pytest.approx(capacity_relu(3.0, 0.6).item())


def test_energy_threshold_separates_passing_modes():
    model = make_emma([2, 2, 2])
    model.bias.data.fill_(0.3)
    model.gain.data.fill_(1.5)
    _, out = model(make_modes([2, 2, 2], batch=50))
    threshold = model.energy_threshold(out)
    assert threshold.shape == (50,)
    assert torch.equal(out.beta > 0, out.modal_energies < threshold.unsqueeze(-1))


def test_energy_threshold_is_infinite_without_bias():
    assert torch.isinf(energy_threshold(torch.tensor([0.3]), 1.0, 0.0, 0.1)).all()


def test_capacity_penalty_is_gain_minus_bias():
    assert capacity_penalty(torch.tensor(2.0), torch.tensor(0.5)).item() == 1.5


def test_energy_regularizer_rewards_clean_and_penalises_corrupted_modes():
    log_alpha = torch.log(torch.tensor([[0.75, 0.25], [0.5, 0.5]]))
    corrupted = torch.tensor([[False, True], [False, False]])
    expected = ((math.log(0.75) - math.log(0.25)) + (2 * math.log(0.5))) / 2
    assert energy_regularizer(log_alpha, corrupted).item() == pytest.approx(expected)


# ------------------------------------------------------------------ bad input


def test_forward_rejects_wrong_number_of_modes():
    with pytest.raises(ValueError, match="modes must hold one tensor per mode"):
        make_emma([2, 2])(make_modes([2]))


def test_forward_rejects_mismatched_batch_sizes():
    with pytest.raises(ValueError, match=r"modes\[1\] has batch size 3"):
        make_emma([2, 2])([torch.zeros(4, 2), torch.zeros(3, 2)])


def test_forward_rejects_wrong_width():
    with pytest.raises(ValueError, match=r"modes\[1\] must have shape \(batch, 3\)"):
        make_emma([2, 3])([torch.zeros(4, 2), torch.zeros(4, 2)])


def test_forward_rejects_non_finite_values():
    x = torch.zeros(4, 2)
    x[1, 0] = float("nan")
    with pytest.raises(ValueError, match=r"modes\[0\] contains non-finite"):
        make_emma([2, 2])([x, torch.zeros(4, 2)])


def test_forward_rejects_a_single_tensor():
    with pytest.raises(TypeError, match="modes must be a list"):
        make_emma([2, 2])(torch.zeros(4, 2))


def test_forward_rejects_integer_tensors():
    with pytest.raises(TypeError, match=r"modes\[0\] must be a floating-point tensor"):
        make_emma([2, 2])([torch.zeros(4, 2, dtype=torch.long), torch.zeros(4, 2)])


@pytest.mark.parametrize("coldness", [0.0, -1.0, float("nan"), float("inf")])
def test_constructor_rejects_non_positive_coldness(coldness):
    with pytest.raises(ValueError, match="coldness must be a finite number > 0"):
        make_emma([2, 2], coldness=coldness)


def test_constructor_rejects_psi_min_of_wrong_length():
    with pytest.raises(ValueError, match="psi_min must have length M = 2"):
        make_emma([2, 2], psi_min=[0.0, 0.0, 0.0])


def test_constructor_rejects_fewer_than_two_modes():
    with pytest.raises(ValueError, match="M >= 2"):
        EMMA([DenoisingAutoencoder(2, 4, 0.01)], psi_min=[0.0], coldness=1.0)


def test_constructor_rejects_models_without_potential():
    with pytest.raises(TypeError, match=r"energy_models\[1\] must be an nn.Module with a potential"):
        EMMA([DenoisingAutoencoder(2, 4, 0.01), torch.nn.Linear(2, 1)], psi_min=[0.0, 0.0], coldness=1.0)


def test_attention_scores_rejects_parameters_of_the_wrong_shape():
    params = initial_parameters(3)
    params["shared_gamma"] = torch.full((2, 2), 0.5)
    with pytest.raises(ValueError, match=r"shared_gamma must have shape \(3, 3\)"):
        attention_scores(torch.zeros(5, 3), torch.zeros(3), **params, coldness=1.0)


def test_capacity_rejects_non_positive_gain():
    with pytest.raises(ValueError, match="gain must be finite and > 0"):
        capacity(0.0, 0.5)


def test_energy_regularizer_rejects_a_non_boolean_mask():
    with pytest.raises(TypeError, match="corrupted must be a bool tensor"):
        energy_regularizer(torch.zeros(3, 2), torch.zeros(3, 2))


def test_energy_regularizer_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="must both have shape"):
        energy_regularizer(torch.zeros(3, 2), torch.zeros(3, 3, dtype=torch.bool))


def test_initial_parameters_reject_one_mode():
    with pytest.raises(ValueError, match="n_modes must be an integer >= 2"):
        initial_parameters(1)
