import dataclasses

import numpy as np
import pytest
import torch

from emma import DenoisingAutoencoder, UntiedAutoencoder, train_one_autoencoder
from emma.experiments.manifolds import distance_to_manifold, sample_manifold
from emma.method.autoencoder import jacobian_asymmetry, potential_gradient_error


@pytest.fixture
def dae():
    torch.manual_seed(0)
    model = DenoisingAutoencoder(4, 12, noise_std=0.01)
    with torch.no_grad():  # move away from the zero-bias initialisation
        model.bias_hidden.normal_()
        model.bias_visible.normal_()
    return model


def test_outputs_have_one_value_per_sample(dae):
    x = torch.randn(7, 4)
    assert dae.reconstruct(x).shape == (7, 4)
    assert dae.potential(x).shape == (7,)
    assert dae.reconstruction_error(x).shape == (7,)


def test_potential_of_a_sample_does_not_depend_on_its_batch(dae):
    x = torch.randn(5, 4)
    alone = torch.cat([dae.potential(x[i : i + 1]) for i in range(5)])
    together = dae.potential(x)
    other_batch = dae.potential(torch.cat([x, 10 * torch.randn(20, 4)]))[:5]
    torch.testing.assert_close(together, alone)
    torch.testing.assert_close(other_batch, alone)


def test_potential_gradient_is_reconstruction_error(dae):
    x = 3 * torch.randn(200, 4)
    assert potential_gradient_error(dae, x).max() < 1e-5


def test_potential_matches_softplus_formula_by_hand(dae):
    x = torch.randn(3, 4, dtype=torch.float64)
    dae = dae.double()
    pre = x @ dae.weight.T + dae.bias_hidden
    expected = -torch.log1p(torch.exp(pre)).sum(1) + 0.5 * ((x - dae.bias_visible) ** 2).sum(1)
    torch.testing.assert_close(dae.potential(x), expected)


def test_potential_is_finite_for_huge_inputs(dae):
    x = torch.full((2, 4), 1e4)
    assert torch.isfinite(dae.potential(x)).all()


def test_corruption_only_in_training_mode(dae):
    x = torch.randn(10, 4)
    dae.eval()
    torch.testing.assert_close(dae(x), dae.reconstruct(x))
    dae.train()
    assert not torch.allclose(dae(x), dae.reconstruct(x))


def test_tied_jacobian_is_symmetric_and_untied_is_not():
    torch.manual_seed(1)
    x = torch.randn(50, 3)
    assert jacobian_asymmetry(DenoisingAutoencoder(3, 6, 0.0), x).max() < 1e-6
    assert jacobian_asymmetry(UntiedAutoencoder(3, 6, 0.0), x).max() > 1e-3


def test_untied_autoencoder_has_no_potential():
    with pytest.raises(NotImplementedError, match="no potential"):
        UntiedAutoencoder(2, 3, 0.0).potential(torch.zeros(1, 2))


@pytest.mark.parametrize(
    "bad, error, message",
    [
        (torch.zeros(3, 5), ValueError, r"shape \(batch, 4\)"),
        (torch.zeros(4), ValueError, r"shape \(batch, 4\)"),
        (torch.zeros(3, 4, dtype=torch.long), TypeError, "floating-point"),
        ([[0.0] * 4], TypeError, "torch.Tensor"),
    ],
)
def test_bad_input_is_rejected_with_expected_shape(dae, bad, error, message):
    with pytest.raises(error, match=message):
        dae.potential(bad)


@pytest.mark.parametrize("kwargs, name", [({"d_input": 0}, "d_input"), ({"d_hidden": 2.5}, "d_hidden"), ({"noise_std": -1.0}, "noise_std")])
def test_bad_constructor_arguments_are_named(kwargs, name):
    arguments = {"d_input": 2, "d_hidden": 3, "noise_std": 0.1, **kwargs}
    with pytest.raises(ValueError, match=name):
        DenoisingAutoencoder(**arguments)


def test_training_is_reproducible_and_lowers_the_loss():
    x = sample_manifold("circle", 2000, torch.Generator().manual_seed(0))
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        model = DenoisingAutoencoder(2, 8, 0.008)
        curves = train_one_autoencoder(model, x, x_val=x[:200], epochs=6, batch_size=100, lr=1e-2, seed=3, progress=False)
        runs.append((model.weight.detach().clone(), curves))
    torch.testing.assert_close(runs[0][0], runs[1][0])
    curves = runs[0][1]
    assert list(curves.columns) == ["epoch", "train_loss", "val_loss"]
    assert curves["train_loss"].iloc[-1] < 0.5 * curves["train_loss"].iloc[0]


def test_trained_potential_is_lower_on_the_manifold_than_far_from_it():
    x = sample_manifold("wave", 5000, torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    model = DenoisingAutoencoder(2, 8, 0.008)
    train_one_autoencoder(model, x, epochs=5, batch_size=100, lr=1e-2, seed=0, progress=False)
    far = torch.tensor([[0.0, 4.0], [0.0, -4.0], [4.0, 4.0]])
    with torch.no_grad():
        assert model.potential(far).min() > model.potential(x[:500]).max()


def test_distance_to_circle_is_radial_gap():
    points = torch.tensor([[0.0, 0.0], [0.0, 3.0], [5.0, 0.0]])
    torch.testing.assert_close(distance_to_manifold("circle", points), torch.tensor([3.0, 0.0, 2.0]), atol=1e-3, rtol=0)


# --- many autoencoders in one stack (emma.engine.autoencoders) --------------------------------

from emma.engine.autoencoders import train_many_autoencoders  # noqa: E402

STACK_TOLERANCE = dict(atol=1e-5, rtol=0)  # float32 rounding of batched vs single products, after a few epochs


def _fresh(cls, d_input, d_hidden, noise_std, init_seed):
    torch.manual_seed(init_seed)
    return cls(d_input, d_hidden, noise_std)


def _stack_problem():
    """Three models with data of unequal lengths (one a single partial batch), own seeds, epochs, noise and validation."""
    generator = torch.Generator().manual_seed(0)
    x_train = [torch.randn(n, 4, generator=generator) for n in (300, 257, 50)]
    x_val = [torch.randn(40, 4, generator=generator), None, torch.randn(33, 4, generator=generator)]
    return dict(x_train=x_train, x_val=x_val, seeds=[3, 5, 7], epochs=[4, 3, 6], noise_std=[0.1, 0.0, 0.3])


@pytest.mark.parametrize("cls", [DenoisingAutoencoder, UntiedAutoencoder])
def test_a_model_trained_in_a_stack_ends_where_it_ends_alone(cls):
    problem = _stack_problem()
    alone = [_fresh(cls, 4, 6, s, 100 + k) for k, s in enumerate(problem["noise_std"])]
    alone_curves = [
        train_one_autoencoder(model, x, x_val=v, epochs=e, batch_size=64, lr=1e-2, seed=seed, progress=False)
        for model, x, v, e, seed in zip(alone, problem["x_train"], problem["x_val"], problem["epochs"], problem["seeds"])
    ]
    stacked = [_fresh(cls, 4, 6, s, 100 + k) for k, s in enumerate(problem["noise_std"])]
    stacked_curves = train_many_autoencoders(stacked, problem["x_train"], x_val=problem["x_val"], seeds=problem["seeds"],
                                        epochs=problem["epochs"], batch_size=64, lr=1e-2, progress=False)
    for a, b, curve_a, curve_b in zip(alone, stacked, alone_curves, stacked_curves):
        for (name, p), q in zip(a.named_parameters(), b.parameters()):
            torch.testing.assert_close(q, p, **STACK_TOLERANCE, msg=name)
        assert list(curve_b.columns) == list(curve_a.columns)
        np.testing.assert_allclose(curve_b.to_numpy(), curve_a.to_numpy(), atol=1e-5, rtol=1e-5)


def test_a_stack_of_several_architectures_trains_each_as_alone():
    x = sample_manifold("circle", 500, torch.Generator().manual_seed(0))
    specs = [(DenoisingAutoencoder, 8), (UntiedAutoencoder, 8), (DenoisingAutoencoder, 5)]
    alone = [_fresh(cls, 2, h, 0.05, k) for k, (cls, h) in enumerate(specs)]
    for k, model in enumerate(alone):
        train_one_autoencoder(model, x, epochs=3, batch_size=100, lr=1e-2, seed=k, progress=False)
    stacked = [_fresh(cls, 2, h, 0.05, k) for k, (cls, h) in enumerate(specs)]
    train_many_autoencoders(stacked, [x] * 3, seeds=[0, 1, 2], epochs=3, batch_size=100, lr=1e-2, progress=False)
    for a, b in zip(alone, stacked):
        for p, q in zip(a.parameters(), b.parameters()):
            torch.testing.assert_close(q, p, **STACK_TOLERANCE)


def test_a_stacked_model_hardly_depends_on_its_companions():
    problem = _stack_problem()
    alone = _fresh(DenoisingAutoencoder, 4, 6, 0.1, 0)
    train_many_autoencoders([alone], problem["x_train"][:1], seeds=[3], epochs=4, batch_size=64, progress=False)
    stacked = [_fresh(DenoisingAutoencoder, 4, 6, s, k) for k, s in enumerate(problem["noise_std"])]
    train_many_autoencoders(stacked, problem["x_train"], seeds=problem["seeds"], epochs=problem["epochs"], batch_size=64, progress=False)
    for p, q in zip(alone.parameters(), stacked[0].parameters()):
        torch.testing.assert_close(q, p, atol=1e-6, rtol=0)


def test_stacked_models_come_back_trained_in_eval_mode_with_curves():
    problem = _stack_problem()
    models = [_fresh(DenoisingAutoencoder, 4, 6, s, k) for k, s in enumerate(problem["noise_std"])]
    before = [m.weight.detach().clone() for m in models]
    curves = train_many_autoencoders(models, problem["x_train"], x_val=problem["x_val"], seeds=problem["seeds"],
                                epochs=problem["epochs"], batch_size=64, progress=False)
    assert [len(c) for c in curves] == problem["epochs"]
    assert [list(c.columns) for c in curves] == [["epoch", "train_loss", "val_loss"], ["epoch", "train_loss"], ["epoch", "train_loss", "val_loss"]]
    assert all(not m.training and not torch.equal(m.weight, w) for m, w in zip(models, before))


@pytest.mark.parametrize(
    "change, error, message",
    [
        ({"seeds": [0, 1]}, ValueError, "seeds"),
        ({"seeds": [0, 1, -1]}, ValueError, r"seeds\[2\]"),
        ({"epochs": [1, 2]}, ValueError, "epochs"),
        ({"x_train": [torch.zeros(5, 4), torch.zeros(5, 3), torch.zeros(5, 4)]}, ValueError, r"x_train\[1\]"),
        ({"x_val": [None, None]}, ValueError, "x_val"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"models": "not a list"}, TypeError, "models"),
    ],
)
def test_bad_stack_arguments_are_named(change, error, message):
    arguments = dict(models=[DenoisingAutoencoder(4, 3, 0.1) for _ in range(3)], x_train=[torch.zeros(5, 4)] * 3,
                     seeds=[0, 1, 2], epochs=1, batch_size=2, progress=False)
    with pytest.raises(error, match=message):
        train_many_autoencoders(**{**arguments, **change})


def test_the_same_module_twice_in_a_stack_is_rejected():
    model = DenoisingAutoencoder(2, 3, 0.1)
    with pytest.raises(ValueError, match="distinct"):
        train_many_autoencoders([model, model], [torch.zeros(4, 2)] * 2, seeds=[0, 1], epochs=1, batch_size=2, progress=False)


def test_fit_energy_models_is_each_autoencoder_fitted_alone_from_its_seed():
    from emma.engine.autoencoders import DAESettings, fit_energy_models
    from emma.method.autoencoder import DenoisingAutoencoder, train_one_autoencoder

    g = torch.Generator().manual_seed(0)
    data = [torch.randn(60, 4, generator=g), torch.randn(40, 3, generator=g)]
    state = torch.get_rng_state()
    dae = DAESettings(d_hidden=5, noise_std=0.1, epochs=3, batch_size=16, lr=1e-2)
    fitted = fit_energy_models(data, seeds=[11, 12], dae=dae, progress=False)
    assert torch.equal(torch.get_rng_state(), state)  # the global generator is left as it was
    for x, seed, model, psi_min in zip(data, [11, 12], fitted.models, fitted.psi_min):
        torch.manual_seed(seed)
        alone = DenoisingAutoencoder(x.shape[1], 5, 0.1)
        train_one_autoencoder(alone, x, epochs=3, batch_size=16, lr=1e-2, seed=seed, progress=False)
        for a, b in zip(model.parameters(), alone.parameters()):
            assert torch.allclose(a, b, atol=1e-5)
        assert not any(p.requires_grad for p in model.parameters())
        assert psi_min == pytest.approx(model.potential(x).min().item())
    assert fitted.curves.groupby("model").size().to_dict() == {0: 3, 1: 3}
    assert list(fitted.curves.columns) == ["model", "epoch", "train_loss"]  # no validation rows, no val_loss
    with pytest.raises(ValueError, match="seeds must be a list of one seed per model"):
        fit_energy_models(data, seeds=[1], dae=dae)
    with pytest.raises(ValueError, match="x_train must be a non-empty list"):
        fit_energy_models(torch.randn(5, 4), seeds=[1], dae=dae)
    with pytest.raises(TypeError, match="dae must be a DAESettings"):
        fit_energy_models(data, seeds=[1, 2], dae={"d_hidden": 5})


def test_fit_energy_models_takes_settings_per_model_with_one_batch_size_and_rate():
    from emma.engine.autoencoders import DAESettings, fit_energy_models

    g = torch.Generator().manual_seed(1)
    data = [torch.randn(50, 4, generator=g), torch.randn(50, 4, generator=g)]
    short, wide = DAESettings(d_hidden=3, noise_std=0.1, epochs=1, batch_size=16), DAESettings(d_hidden=7, noise_std=0.0, epochs=4, batch_size=16)
    fitted = fit_energy_models(data, seeds=[0, 1], dae=[short, wide], progress=False)
    assert [m.d_hidden for m in fitted.models] == [3, 7] and [m.noise_std for m in fitted.models] == [0.1, 0.0]
    assert fitted.curves.groupby("model").size().to_dict() == {0: 1, 1: 4}
    with pytest.raises(ValueError, match="dae must share one batch_size"):
        fit_energy_models(data, seeds=[0, 1], dae=[short, DAESettings(d_hidden=3, noise_std=0.1, epochs=1, batch_size=8)])


def test_energy_models_split_a_wide_input_by_their_widths():
    from emma.engine.autoencoders import DAESettings, fit_energy_models

    g = torch.Generator().manual_seed(2)
    data = [torch.randn(30, 2, generator=g), torch.randn(30, 3, generator=g)]
    fitted = fit_energy_models(data, seeds=[0, 1], dae=DAESettings(d_hidden=4, noise_std=0.1, epochs=1, batch_size=16), progress=False)
    x = torch.cat(data, dim=1)  # (30, 5): the first model's columns, then the second's
    torch.testing.assert_close(fitted.potentials(x), fitted.potentials(data))
    torch.testing.assert_close(fitted.potentials(x)[:, 1], fitted.models[1].potential(data[1]))
    assert fitted.reconstruction_errors(data).shape == (30, 2)
    with pytest.raises(ValueError, match="x must be a \\(n, 5\\) tensor or a list of 2 tensors"):
        fitted.potentials(data[:1])


def test_dae_settings_check_their_values_and_override_only_what_is_given():
    from emma.claims import thesis
    from emma.engine.autoencoders import THESIS_DAE, TOY_DAE, DAESettings

    assert dataclasses.asdict(THESIS_DAE) == dict(thesis.MODE_DAE_SETTINGS)  # the thesis's numbers, one source each
    assert dataclasses.asdict(TOY_DAE) == {k: v for k, v in thesis.TOY_SETTINGS.items() if k != "n_figure"}
    assert THESIS_DAE.override(epochs=5, d_hidden=None) == DAESettings(d_hidden=12, noise_std=0.01, epochs=5, batch_size=64, lr=1e-3)
    assert THESIS_DAE.override() == THESIS_DAE and THESIS_DAE.epochs == 30  # the named default is left as it was
    with pytest.raises(TypeError, match=r"\['hidden'\] are no autoencoder settings"):
        THESIS_DAE.override(hidden=8)
    for bad, message in ((dict(epochs=0), "epochs must be an integer >= 1"), (dict(noise_std=-0.1), "noise_std must be a finite number >= 0"),
                         (dict(lr=0.0), "lr must be a finite number > 0"), (dict(d_hidden=2.5), "d_hidden must be an integer")):
        with pytest.raises(ValueError, match=message):
            THESIS_DAE.override(**bad)
    with pytest.raises(dataclasses.FrozenInstanceError):
        THESIS_DAE.epochs = 5
