"""The family registry (emma.engine.registry): any registered family trains in the sweep engine."""
import zlib

import pytest
import torch

from emma.engine.backprop import family_loss
from emma.engine.configs import TrainSettings
from emma.engine.families import FAMILIES, FROM_BASE, forward, init_parameters
from emma.engine.protocol import ORIGINAL, SOUND
from emma.engine.registry import Context, Family, get_family, register, registered, unregister
from emma.engine.stacked import loss_and_gradient, parameter_views
from emma.engine.sweep import SweepEngine
from emma.method.attention import PARAMETER_NAMES, project_parameters_

K, B = 4, 9


# --------------------------------------------------------------------------- a toy family, registered in the tests


def _logistic_init(generator, base=None):
    return {"w": 0.1 * torch.randn(8, generator=generator), "b": torch.zeros(1)}


def _logistic_forward(params, x, context):  # x (K, 8, B) -> (K, B)
    return (params["w"].unsqueeze(-1) * x).sum(dim=1) + params["b"]


@pytest.fixture
def logistic():
    """A logistic regression on both modes, registered for one test."""
    family = register(Family("logistic", _logistic_init, _logistic_forward))
    yield family
    unregister(family.name)


@pytest.fixture(scope="module")
def htru2_splits():
    from emma.data import fetch_htru2, make_splits

    return make_splits(fetch_htru2())


# --------------------------------------------------------------------------- the two gradient paths agree


def _params(family):
    seeds = list(range(K))
    base = init_parameters("base", seeds) if family in FROM_BASE else None
    params = {n: v.double() for n, v in init_parameters(family, seeds, base=base).items()}
    if family == "with":  # off EMMA's initial values, so that every term of the backward pass matters
        g = torch.Generator().manual_seed(5)
        for name in PARAMETER_NAMES:
            params[name] = params[name] + 0.3 * torch.rand(params[name].shape, generator=g, dtype=torch.float64)
        project_parameters_(*(params[n] for n in PARAMETER_NAMES))
    return params


def _context(family, g):
    if family != "with":
        return Context(lambda_c=torch.full((K,), 0.3, dtype=torch.float64), lambda_e=torch.full((K,), 0.2, dtype=torch.float64))
    return Context(potentials=3 * torch.rand(K, 2, B, generator=g, dtype=torch.float64),
                   psi_min=torch.rand(K, 2, generator=g, dtype=torch.float64),
                   coldness=torch.tensor([1e-2, 0.1, 1.0, 3.0], dtype=torch.float64),
                   lambda_c=torch.tensor([1e-3, 0.05, 0.1, 0.5], dtype=torch.float64),
                   lambda_e=torch.tensor([1e-2, 0.5, 1.0, 0.3], dtype=torch.float64),
                   omega_weights=torch.randn(K, 2, B, generator=g, dtype=torch.float64))


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("weighted", [False, True])
def test_hand_written_gradients_equal_autograd_through_the_registrys_forward_and_penalty(family, weighted):
    spec = get_family(family)
    g = torch.Generator().manual_seed(100 + FAMILIES.index(family))
    params = _params(family)
    x = torch.randn(K, 8, B, generator=g, dtype=torch.float64)
    y = (torch.rand(K, B, generator=g) < 0.4).double()
    context = _context(family, g)
    pos_weight = torch.tensor([1.0, 2.0, 5.0, 0.5], dtype=torch.float64) if weighted else None
    loss, grads = spec.gradients(params, x, y, context, pos_weight)
    flat = torch.cat([v.reshape(K, -1) for v in params.values()], dim=1)
    shapes = {n: tuple(v.shape[1:]) for n, v in params.items()}
    want_loss, want_flat, _ = loss_and_gradient(family_loss, flat, shapes, spec, x, y, context, pos_weight)
    want = parameter_views(want_flat, shapes)
    torch.testing.assert_close(loss, want_loss, rtol=1e-12, atol=1e-12)
    for name in params:
        torch.testing.assert_close(grads[name], want[name], rtol=1e-9, atol=1e-12, msg=f"{family}: {name}")
        assert grads[name].abs().sum() > 0, f"{family}: {name}: an all-zero gradient tests nothing"
    if family == "with":  # both penalty terms are in the loss
        without = spec.gradients(params, x, y, Context(**{**context.__dict__, "lambda_c": 0 * context.lambda_c,
                                                          "lambda_e": 0 * context.lambda_e}), pos_weight)[0]
        assert (loss - without).abs().min() > 1e-6


@pytest.mark.parametrize("family", ["base", "with"])
@pytest.mark.parametrize("protocol", [SOUND, ORIGINAL], ids=["sound", "original"])
def test_the_engine_trains_a_thesis_family_to_the_same_models_by_either_path(family, protocol, splits, energies):
    """Autograd in the engine (penalty, projection, Ω weights, coupled potentials) gives the hand-written path's models."""
    configs = [{"seed": 0, "rho": 0.1, "lambda_c": 0.01, "lambda_e": 0.1}, {"seed": 1, "rho": 1.0, "lambda_c": 0.1, "lambda_e": 1.0}]
    base = init_parameters("base", [0, 1]) if family == "with" else None
    out = {}
    for gradient in ("hand", "autograd"):
        engine = SweepEngine(family, configs, splits, TrainSettings(epochs=2), protocol=protocol, energies=energies, base=base, gradient=gradient)
        assert engine.hand == (gradient == "hand")
        out[gradient] = engine.fit(progress=False).result()
    for name, value in out["hand"].params.items():
        torch.testing.assert_close(out["autograd"].params[name], value, rtol=1e-4, atol=1e-5, msg=name)
    torch.testing.assert_close(torch.tensor(out["autograd"].table["best_loss"].tolist()),
                               torch.tensor(out["hand"].table["best_loss"].tolist()), rtol=1e-4, atol=1e-6)


# --------------------------------------------------------------------------- a family registered outside the thesis


def test_a_registered_toy_family_trains_in_the_engine_on_htru2(logistic, htru2_splits):
    assert "logistic" in registered() and "logistic" not in FAMILIES
    engine = SweepEngine("logistic", [{"seed": 0}, {"seed": 1}], htru2_splits, TrainSettings(epochs=3))
    assert not engine.hand  # no hand-written gradients: autograd
    out = engine.fit(progress=False).result()
    table, curves = out.table, out.curves
    assert list(table["model"]) == ["logistic", "logistic"]
    # predicting every sample a pulsar scores F1 = 2p / (1 + p) at prevalence p; predicting none scores 0
    p = float(htru2_splits.test.y.float().mean())
    trivial = 2 * p / (1 + p)
    assert (table["f1_clean"] > trivial + 0.4).all(), table["f1_clean"]
    assert (table["val_f1_clean"] > trivial + 0.4).all(), table["val_f1_clean"]
    for _, curve in curves.groupby("model_index"):
        assert curve["train_loss"].iloc[-1] < curve["train_loss"].iloc[0]
        assert curve["val_loss"].iloc[-1] < curve["val_loss"].iloc[0]
    untrained = init_parameters("logistic", [0])
    x = htru2_splits.val.x.unsqueeze(0)
    from emma.engine.training import bce_per_sample

    before = bce_per_sample(forward("logistic", untrained, x)[0], htru2_splits.val.y).mean()
    after = bce_per_sample(forward("logistic", {n: v[:1] for n, v in out.params.items()}, x)[0], htru2_splits.val.y).mean()
    assert after < 0.5 * before


def test_a_registered_familys_start_depends_on_its_name_and_seed_only(logistic):
    assert logistic.seed_offset == 6 + zlib.crc32(b"logistic") % 994
    params = init_parameters("logistic", [3, 7, 3])
    assert torch.equal(params["w"][0], params["w"][2]) and not torch.equal(params["w"][0], params["w"][1])
    want = _logistic_init(torch.Generator().manual_seed(1000 * 7 + logistic.seed_offset))
    assert torch.equal(params["w"][1], want["w"])


def test_a_family_with_a_penalty_and_a_projection_gets_both(splits):
    """A toy with an L2 penalty (weighted by each model's λ_c) and a clamp: the penalty shrinks, the clamp holds."""

    def penalty(params, context):
        return context.lambda_c * (params["w"] ** 2).sum(dim=1)

    def project(params):
        params["b"].clamp_(min=-0.05, max=0.05)

    register(Family("ridge", _logistic_init, _logistic_forward, penalty=penalty, project=project))
    try:
        start = init_parameters("ridge", [0])["w"][0]
        out = SweepEngine("ridge", [{"seed": 0, "lambda_c": 0.0}, {"seed": 0, "lambda_c": 10.0}], splits, TrainSettings(epochs=10)).fit(progress=False).result()
    finally:
        unregister("ridge")
    norm = (out.params["w"] ** 2).sum(dim=1)
    assert norm[1] < 0.5 * (start**2).sum() and norm[1] < 0.5 * norm[0], (norm, (start**2).sum())
    assert out.params["b"].abs().max() <= 0.05


# --------------------------------------------------------------------------- errors name what is wrong


def test_a_duplicate_name_or_offset_and_unregistering_are_refused_clearly(logistic):
    with pytest.raises(ValueError, match="'logistic' is registered already"):
        register(Family("logistic", _logistic_init, _logistic_forward))
    with pytest.raises(ValueError, match="seed_offset 2 is taken by 'base'"):
        register(Family("other", _logistic_init, _logistic_forward, seed_offset=2))
    with pytest.raises(ValueError, match="thesis's families"):
        unregister("with")
    with pytest.raises(ValueError, match="family must be one of the registered families"):
        unregister("nope")
    unregister("logistic")
    with pytest.raises(ValueError, match="got 'logistic'"):
        get_family("logistic")
    register(logistic)  # (the fixture unregisters it)


def test_bad_input_is_named(logistic, splits):
    with pytest.raises(ValueError, match="family must be one of the registered families"):
        get_family("nope")
    with pytest.raises(ValueError, match="family must be one of"):
        SweepEngine("nope", [{"seed": 0}], splits)
    with pytest.raises(ValueError, match="family must be one of"):
        init_parameters("nope", [0])
    with pytest.raises(TypeError, match="forward must be callable"):
        Family("broken", _logistic_init, "not a function")
    with pytest.raises(TypeError, match="penalty must be callable or None"):
        Family("broken", _logistic_init, _logistic_forward, penalty=1.0)
    with pytest.raises(TypeError, match="uses_energies must be a bool"):
        Family("broken", _logistic_init, _logistic_forward, uses_energies="yes")
    with pytest.raises(ValueError, match="seed_offset must be an integer in"):
        Family("broken", _logistic_init, _logistic_forward, seed_offset=1000)
    with pytest.raises(ValueError, match="name must be a non-empty string"):
        Family("", _logistic_init, _logistic_forward)
    with pytest.raises(TypeError, match="family must be an emma.engine.registry.Family"):
        register("logistic")
    with pytest.raises(ValueError, match="gradient must be one of"):
        SweepEngine("base", [{"seed": 0}], splits, gradient="fast")
    with pytest.raises(ValueError, match="gradient='hand': family 'logistic' has no hand-written gradients"):
        SweepEngine("logistic", [{"seed": 0}], splits, gradient="hand")


def test_a_forward_of_the_wrong_shape_or_an_init_of_no_tensors_is_named(splits):
    register(Family("wrong", _logistic_init, lambda params, x, context: x.sum(dim=1, keepdim=True)))
    register(Family("empty", lambda generator, base: {}, _logistic_forward))
    try:
        with pytest.raises(ValueError, match=r"family 'wrong': forward must return logits of shape \(K, B\)"):
            SweepEngine("wrong", [{"seed": 0}], splits, TrainSettings(epochs=1)).fit(progress=False)
        with pytest.raises(TypeError, match="family 'empty': init must return a non-empty dict of tensors"):
            init_parameters("empty", [0])
    finally:
        unregister("wrong")
        unregister("empty")


def test_a_compiled_autograd_step_trains_the_same_models(logistic, splits):
    """``compile=True`` (torch.compile of the autograd step) changes the speed, not the models."""
    plain, compiled = (SweepEngine("logistic", [{"seed": 0}, {"seed": 1}], splits, TrainSettings(epochs=1), compile=c).fit(progress=False).result()
                       for c in (False, True))
    for name in plain.params:
        assert torch.allclose(plain.params[name], compiled.params[name], atol=1e-4), name
    with pytest.raises(TypeError, match="compile must be a bool"):
        SweepEngine("logistic", [{"seed": 0}], splits, compile="yes")
