"""The hand-written gradients of emma.engine.backprop against autograd, for every family and loss option."""
import pytest
import torch

from emma.engine.backprop import loss_and_gradients
from emma.engine.families import FAMILIES, FROM_BASE, LAYERS, forward, init_parameters
from emma.engine.training import bce_per_sample
from emma.method.attention import PARAMETER_NAMES, project_parameters_

K, B = 4, 9


def _params(family, seeds=(0, 1, 2, 3)):
    base = init_parameters("base", seeds) if family in FROM_BASE else None
    params = {n: v.double() for n, v in init_parameters(family, seeds, base=base).items()}
    if family == "with":  # move EMMA off its initial values, so that every term of the backward pass matters
        g = torch.Generator().manual_seed(5)
        for name in PARAMETER_NAMES:
            params[name] = params[name] + 0.3 * torch.rand(params[name].shape, generator=g, dtype=torch.float64)
        project_parameters_(*(params[n] for n in PARAMETER_NAMES))
    return params


def _inputs(g):
    x = torch.randn(K, B, 8, generator=g, dtype=torch.float64)
    y = (torch.rand(K, B, generator=g) < 0.4).double()
    return x, y


def _with_extra(g, corrupted_weights=True):
    potentials = 3 * torch.rand(K, B, 2, generator=g, dtype=torch.float64)
    psi_min = torch.rand(K, 2, generator=g, dtype=torch.float64)
    coldness = torch.tensor([1e-2, 0.1, 1.0, 3.0], dtype=torch.float64)
    lambda_c = torch.tensor([0.0, 1e-3, 1e-1, 0.5], dtype=torch.float64)
    lambda_e = torch.tensor([0.0, 1e-2, 1.0, 0.3], dtype=torch.float64)
    weights = torch.randn(K, B, 2, generator=g, dtype=torch.float64)
    return dict(potentials=potentials, psi_min=psi_min, coldness=coldness, lambda_c=lambda_c, lambda_e=lambda_e, omega_weights=weights)


def _autograd(family, params, x, y, pos_weight=None, extra=None):
    leaves = {n: v.clone().requires_grad_(True) for n, v in params.items()}
    extra = extra or {}
    logits, out = forward(family, leaves, x, extra.get("potentials"), extra.get("psi_min"), extra.get("coldness"))
    loss = bce_per_sample(logits, y, pos_weight).mean(1)
    if family == "with":
        omega = (extra["omega_weights"] * out.log_alpha).sum(dim=(1, 2))
        loss = loss + extra["lambda_c"] * (leaves["gain"] - leaves["bias"]) - extra["lambda_e"] * omega
    loss.sum().backward()
    return loss.detach(), {n: v.grad for n, v in leaves.items()}


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("weighted", [False, True])
def test_gradients_equal_autograd(family, weighted):
    g = torch.Generator().manual_seed(FAMILIES.index(family))
    params = _params(family)
    x, y = _inputs(g)
    pos_weight = torch.tensor([1.0, 2.0, 5.0, 0.5], dtype=torch.float64) if weighted else None
    extra = _with_extra(g) if family == "with" else {}
    loss, grads = loss_and_gradients(family, params, x, y, pos_weight=pos_weight, **extra)
    want_loss, want = _autograd(family, params, x, y, pos_weight, extra)
    torch.testing.assert_close(loss, want_loss, rtol=1e-12, atol=1e-12)
    assert set(grads) == set(params)
    for name in params:
        assert grads[name].shape == params[name].shape, name
        torch.testing.assert_close(grads[name], want[name], rtol=1e-9, atol=1e-12, msg=f"{family}: {name}")
        assert grads[name].abs().sum() > 0, f"{family}: {name}: an all-zero gradient tests nothing"


def test_with_gradients_at_inactive_units():
    """Saturated and switched-off attention (β = 0 where g_a α < b_a) and clamped potentials still agree with autograd."""
    g = torch.Generator().manual_seed(11)
    params = _params("with")
    params["bias"] = torch.tensor([0.9, 0.0, 0.6, 1.0], dtype=torch.float64)
    params["gain"] = torch.tensor([1.0, 2.0, 1.0, 0.5], dtype=torch.float64)
    x, y = _inputs(g)
    extra = _with_extra(g)
    extra["potentials"][0, :3] = -5.0  # below Ψ_min: the clamp of eq. 5.2
    loss, grads = loss_and_gradients("with", params, x, y, **extra)
    want_loss, want = _autograd("with", params, x, y, None, extra)
    torch.testing.assert_close(loss, want_loss)
    for name in params:
        torch.testing.assert_close(grads[name], want[name], rtol=1e-9, atol=1e-12, msg=name)


def test_bad_input_is_named():
    params = _params("base")
    with pytest.raises(ValueError, match="x must be"):
        loss_and_gradients("base", params, torch.zeros(K, B, 7, dtype=torch.float64), torch.zeros(B))
    with pytest.raises(ValueError, match="family"):
        loss_and_gradients("nope", params, torch.zeros(K, B, 8), torch.zeros(B))
    with pytest.raises(ValueError, match="omega_weights"):
        loss_and_gradients("with", _params("with"), torch.zeros(K, B, 8, dtype=torch.float64), torch.zeros(B))


@pytest.mark.parametrize("family", FAMILIES)
def test_forward_columns_gives_the_logits_of_forward_and_names_bad_input(family):
    from emma.engine.families import forward_columns

    g = torch.Generator().manual_seed(3)
    params = _params(family)
    x, _ = _inputs(g)
    extra = _with_extra(g) if family == "with" else {}
    logits, out = forward(family, params, x, extra.get("potentials"), extra.get("psi_min"), extra.get("coldness"))
    potentials = extra["potentials"].transpose(1, 2) if family == "with" else None
    ours, inputs, emma = forward_columns(family, params, x.transpose(1, 2), potentials, extra.get("psi_min"), extra.get("coldness"))
    torch.testing.assert_close(ours, logits, rtol=1e-12, atol=1e-12)
    assert len(inputs) == len(LAYERS[family]) - 1
    if family == "with":
        torch.testing.assert_close(emma["log_alpha"], out.log_alpha.transpose(1, 2), rtol=1e-12, atol=1e-12)
    else:
        assert emma == {} and out is None
    with pytest.raises(ValueError, match=r"x must be a tensor of shape \(K, 8, B\)"):
        forward_columns(family, params, x)
