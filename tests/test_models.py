"""Specifications of the six classifiers written with a leading model axis (emma.engine.families)."""
import pytest
import torch

from emma.engine.families import FAMILIES, forward, init_parameters, mlp

K, B = 3, 5


def _inputs(family, k=K, seeds=(0, 1, 2)):
    base = init_parameters("base", seeds) if family in ("without", "with") else None
    params = init_parameters(family, seeds, base=base)
    x = torch.randn(k, B, 8, generator=torch.Generator().manual_seed(0))
    potentials = torch.randn(k, B, 2) if family == "with" else None
    psi_min = torch.zeros(2) if family == "with" else None
    coldness = torch.full((k,), 0.1) if family == "with" else None
    return params, x, potentials, psi_min, coldness


@pytest.mark.parametrize("family", FAMILIES)
def test_each_family_gives_one_logit_per_model_and_sample(family):
    logits, _ = forward(family, *_inputs(family))
    assert logits.shape == (K, B)
    assert torch.isfinite(logits).all()


def test_with_family_returns_attention_scores_per_model_sample_and_mode():
    _, out = forward("with", *_inputs("with"))
    assert out.beta.shape == (K, B, 2)
    assert out.alpha.sum(-1).allclose(torch.ones(K, B))


@pytest.mark.parametrize("family", FAMILIES)
def test_a_models_initial_values_depend_on_its_seed_not_its_position(family):
    base = init_parameters("base", [3, 7, 3]) if family in ("without", "with") else None
    params = init_parameters(family, [3, 7, 3], base=base)
    for name, value in params.items():
        assert torch.equal(value[0], value[2]), name
    assert any(not torch.equal(value[0], value[1]) for value in params.values())


def test_each_model_of_the_stack_is_an_independent_network():
    params, x, *_ = _inputs("base")
    logits, _ = forward("base", params, x)
    for k in range(K):
        alone = {name: value[k : k + 1] for name, value in params.items()}
        assert torch.allclose(forward("base", alone, x[k : k + 1])[0][0], logits[k], atol=1e-6)


def test_with_family_multiplies_each_mode_by_its_attention_score():
    params, x, potentials, psi_min, coldness = _inputs("with")
    params["bias"] = torch.ones(K)  # b_a = 1 with g_a = 1: tanh(α − 1) ≤ 0, so every β is 0
    logits, out = forward("with", params, x, potentials, psi_min, coldness)
    assert torch.all(out.beta == 0)
    assert torch.allclose(logits, mlp(params, torch.zeros_like(x), 3))


def test_ip_only_ignores_the_dm_mode():
    params, x, *_ = _inputs("ip_only")
    shifted = x.clone()
    shifted[..., 4:] += 10.0
    assert torch.equal(forward("ip_only", params, x)[0], forward("ip_only", params, shifted)[0])


def test_without_and_with_start_from_the_base_models():
    base = init_parameters("base", [0, 1])
    for family in ("without", "with"):
        params = init_parameters(family, [0, 1], base=base)
        assert torch.equal(params["w0"], base["w0"])


def test_families_that_fine_tune_need_a_base():
    with pytest.raises(ValueError, match="base"):
        init_parameters("without", [0])


def test_unknown_family_is_rejected_by_name():
    with pytest.raises(ValueError, match="family must be one of"):
        init_parameters("wth", [0])


def test_input_of_the_wrong_shape_is_rejected():
    params, x, *_ = _inputs("base")
    with pytest.raises(ValueError, match=r"x must be a tensor of shape \(K, B, 8\)"):
        forward("base", params, x[..., :4])


def test_closed_form_two_mode_emma_equals_the_generic_module_in_values_and_gradients():
    """The engine's closed form for M = 2 against vmap(attention_scores) (eq. 5.2–5.7), in float64."""
    from torch.func import vmap

    from emma.engine.families import _emma_output, emma_columns
    from emma.method.attention import PARAMETER_NAMES, attention_scores

    k, b = 6, 5
    g = torch.Generator().manual_seed(3)
    params = {
        "self_weight": 1 + torch.rand(k, 2, generator=g, dtype=torch.float64),
        "self_bias": torch.rand(k, 2, generator=g, dtype=torch.float64),
        "shared_weight": 2 * torch.rand(k, 2, 2, generator=g, dtype=torch.float64) - 1,
        "shared_gamma": torch.rand(k, 2, 2, generator=g, dtype=torch.float64),
        "gain": 1 + 3 * torch.rand(k, generator=g, dtype=torch.float64),
        "bias": 0.5 * torch.rand(k, generator=g, dtype=torch.float64),
    }
    for value in params.values():
        value.requires_grad_(True)
    potentials = 4 * torch.randn(k, b, 2, generator=g, dtype=torch.float64)
    psi_min = torch.randn(k, 2, generator=g, dtype=torch.float64)
    coldness = torch.tensor([1e-4, 1e-3, 1e-2, 1e-1, 1.0, 3.0], dtype=torch.float64)
    ours = _emma_output(emma_columns(params, potentials.transpose(1, 2), psi_min, coldness), potentials, coldness)
    reference = vmap(attention_scores)(potentials, psi_min, *(params[n] for n in PARAMETER_NAMES), coldness)
    for field in ours._fields:
        assert torch.allclose(getattr(ours, field), getattr(reference, field), atol=1e-12), field
    weights = torch.randn(k, b, 2, generator=g, dtype=torch.float64)
    names = list(PARAMETER_NAMES)
    grads = [torch.autograd.grad(((out.beta + out.log_alpha) * weights).sum(), [params[n] for n in names]) for out in (ours, reference)]
    for name, mine, theirs in zip(names, *grads):
        mine, theirs = mine.clone(), theirs.clone()
        if name.startswith("shared"):  # the diagonal is ignored by both (zero gradient in ours)
            eye = torch.eye(2, dtype=torch.bool).expand(k, 2, 2)
            mine[eye], theirs[eye] = 0.0, 0.0
        assert torch.allclose(mine, theirs, atol=1e-10), name
