"""The unified model of thesis chapter 7 (emma.experiments.unified): its parts, its checks, how it composes them."""
import pytest
import torch

from emma.experiments.unified import COMBINATIONS, PARTS, UnifiedAttention, build, label
from emma.method.autoencoder import DenoisingAutoencoder, freeze

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
