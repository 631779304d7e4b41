"""The shared argument checks (emma.util.checks) and the library calls that use them."""
import numpy as np
import pytest
import torch

from emma.method import EMMA, DenoisingAutoencoder, attention_scores, energy_threshold, initial_parameters
from emma.util import checks


def test_numpy_scalars_are_numbers_and_bools_are_not():
    assert checks.number(np.float32(0.25), "x") == 0.25
    assert checks.integer(np.int64(4), "n", low=1) == 4
    for bad in (True, np.bool_(True), "1", None, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="x must be a finite number"):
            checks.number(bad, "x")
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        checks.integer(2.0, "n", low=1)


@pytest.mark.parametrize("bounds, value", [({"low": 0.0, "low_open": True}, 0.0), ({"high": 1.0}, 1.5), ({"low": 0.0, "high": 1.0, "high_open": True}, 1.0)])
def test_bounds_are_enforced_and_named(bounds, value):
    with pytest.raises(ValueError, match=r"rate must be a finite number"):
        checks.number(value, "rate", **bounds)


@pytest.mark.parametrize("seeds, message", [([], "at least one seed"), ([0, 0], "0 appears twice"), (0, "list of non-negative"),
                                             ("0", "list of non-negative"), ([-1], ">= 0"), ([0.5], "integer")])
def test_seeds_refuse_empty_repeated_and_bare_values(seeds, message):
    with pytest.raises(ValueError, match=message):
        checks.seeds(seeds)


def test_autoencoder_accepts_numpy_scalars():
    model = DenoisingAutoencoder(np.int64(2), 12, np.float32(0.1))
    assert model.d_input == 2 and isinstance(model.d_input, int)
    assert model.noise_std == pytest.approx(0.1)


def test_coldness_must_be_positive_everywhere():
    p = initial_parameters(2, torch.Generator().manual_seed(0))
    potentials, psi_min = torch.tensor([[1.0, 5.0]]), torch.zeros(2)
    for bad in (-1.0, 0.0, torch.tensor(-1.0)):
        with pytest.raises(ValueError, match="coldness"):
            attention_scores(potentials, psi_min, **p, coldness=bad)
    with pytest.raises(ValueError, match="coldness"):
        energy_threshold(torch.zeros(1), 2.0, 1.0, -0.5)
    with pytest.raises(ValueError, match="coldness"):
        EMMA([DenoisingAutoencoder(4, 3, 0.1), DenoisingAutoencoder(4, 3, 0.1)], psi_min=[0.0, 0.0], coldness=-1)
    out = attention_scores(potentials, psi_min, **p, coldness=np.float64(0.1))  # numpy coldness is fine
    assert torch.allclose(out.alpha.sum(-1), torch.ones(1))
