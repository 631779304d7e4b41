"""EMMA as a PyTorch module: frozen energy models, learnable parameters, the scores of :func:`emma.method.attention.attention_scores`."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from emma.method.attention import PARAMETER_NAMES, EMMAOutput, _check_tensor, attention_scores, energy_threshold, initial_parameters, project_parameters_
from emma.method.autoencoder import freeze
from emma.method.regularizers import capacity, capacity_relu
from emma.util import checks


def _dtype_of(model: nn.Module) -> torch.dtype | None:
    """The dtype of the first floating-point parameter or buffer of ``model``; None when it has none."""
    for tensor in (*model.parameters(), *model.buffers()):
        if tensor.is_floating_point():
            return tensor.dtype
    return None


class EMMA(nn.Module):
    """Energy-based Multi-Modal Attention: weights each mode by an attention score β_i.

    Parameters
    ----------
    energy_models : sequence of nn.Module
        One energy model per mode (M ≥ 2), each with a method ``potential(x)`` returning
        (batch,) potentials, e.g. :class:`emma.DenoisingAutoencoder`. They are frozen
        (``requires_grad`` off, eval mode) and registered, so ``.to(device)`` moves them.
    psi_min : sequence of float or Tensor, length M
        Ψ_i^min, the lowest training-set potential of each mode (eq. 5.2).
    coldness : float
        ρ > 0 (eq. 5.6), kept as a buffer; a Python or numpy number or a one-element tensor.
    generator : torch.Generator, optional
        Source of randomness for the initial w_ij.

    Examples
    --------
    >>> from emma.method.autoencoder import DenoisingAutoencoder
    >>> daes = [DenoisingAutoencoder(4, 12, 0.01), DenoisingAutoencoder(3, 12, 0.01)]
    >>> model = EMMA(daes, psi_min=[0.0, 0.0], coldness=0.1)
    >>> weighted, out = model([torch.randn(8, 4), torch.randn(8, 3)])
    >>> out.beta.shape
    torch.Size([8, 2])
    """

    def __init__(self, energy_models: Sequence[nn.Module], psi_min, coldness, generator: torch.Generator | None = None):
        super().__init__()
        if isinstance(energy_models, nn.Module) or not isinstance(energy_models, (list, tuple, nn.ModuleList)):
            raise TypeError("energy_models must be a list or tuple of modules, one per mode")
        if len(energy_models) < 2:
            raise ValueError(f"energy_models must hold M >= 2 modules, got {len(energy_models)}")
        for i, model in enumerate(energy_models):
            if not isinstance(model, nn.Module) or not callable(getattr(model, "potential", None)):
                raise TypeError(f"energy_models[{i}] must be an nn.Module with a potential(x) method")
        m = len(energy_models)
        psi_min = torch.as_tensor(psi_min, dtype=torch.get_default_dtype()).detach().clone()
        if psi_min.shape != (m,):
            raise ValueError(f"psi_min must have length M = {m} (one value per mode), got shape {tuple(psi_min.shape)}")
        if not torch.isfinite(psi_min).all():
            raise ValueError("psi_min must be finite")
        if isinstance(coldness, torch.Tensor):
            coldness = coldness.item() if coldness.numel() == 1 else coldness
        coldness = checks.number(coldness, "coldness", low=0.0, low_open=True)  # ρ

        self.n_modes = m
        self.energy_models = nn.ModuleList(freeze(model) for model in energy_models)
        self.register_buffer("psi_min", psi_min)
        self.register_buffer("coldness", torch.tensor(float(coldness)))
        for name, value in initial_parameters(m, generator).items():
            setattr(self, name, nn.Parameter(value))

    def extra_repr(self) -> str:
        return f"n_modes={self.n_modes}, coldness={self.coldness.item():g}"

    def train(self, mode: bool = True) -> "EMMA":
        """Set EMMA's train flag; the energy models always stay in eval mode."""
        super().train(mode)
        self.energy_models.eval()
        return self

    def parameters_dict(self) -> dict[str, torch.Tensor]:
        """The six learnable parameters by name, in :data:`PARAMETER_NAMES` order."""
        return {name: getattr(self, name) for name in PARAMETER_NAMES}

    def _check_modes(self, modes) -> list[torch.Tensor]:
        if not isinstance(modes, (list, tuple)):
            raise TypeError(f"modes must be a list of {self.n_modes} tensors of shape (batch, d_i)")
        if len(modes) != self.n_modes:
            raise ValueError(f"modes must hold one tensor per mode: expected {self.n_modes}, got {len(modes)}")
        batch = None
        for i, (x, model) in enumerate(zip(modes, self.energy_models)):
            width = getattr(model, "d_input", None)
            expected = f"(batch, {width})" if width is not None else "(batch, d_i)"
            _check_tensor(x, f"modes[{i}]")
            if x.dim() != 2 or (width is not None and x.shape[1] != width):
                raise ValueError(f"modes[{i}] must have shape {expected}, got {tuple(x.shape)}")
            if batch is None:
                batch = x.shape[0]
            elif x.shape[0] != batch:
                raise ValueError(f"modes[{i}] has batch size {x.shape[0]} but modes[0] has {batch}: all modes need the same batch")
            if not torch.isfinite(x).all():
                raise ValueError(f"modes[{i}] contains non-finite values (nan or inf)")
        return [x.to(_dtype_of(model) or self.psi_min.dtype) for x, model in zip(modes, self.energy_models)]

    def forward(self, modes: Sequence[torch.Tensor]) -> tuple[list[torch.Tensor], EMMAOutput]:
        """Weight each mode by its attention score.

        Parameters
        ----------
        modes : list of M Tensors, shapes (batch, d_i)
            Floating-point and finite. A mode of another floating dtype than its energy model
            (float64 data in front of float32 models, say) is cast to the model's dtype
            (``x.to(dtype)``; float64 → float32 keeps about 7 significant digits), so the
            weighted modes come back in the models' dtype.

        Returns
        -------
        weighted : list of M Tensors, shapes (batch, d_i)
            β_i · x_i.
        output : EMMAOutput
            Potentials, energies, α, β, total energy, each with leading dim batch.

        Raises
        ------
        ValueError
            A mode of the wrong shape or with nan/inf values (named ``modes[i]``), or a potential
            that is not finite or overflows the energies (see :func:`emma.method.attention.attention_scores`).
        """
        modes = self._check_modes(modes)
        potentials = torch.stack([model.potential(x).to(self.psi_min.dtype) for model, x in zip(self.energy_models, modes)], dim=-1)
        output = attention_scores(potentials, self.psi_min, **self.parameters_dict(), coldness=self.coldness)
        weighted = [output.beta[:, i : i + 1] * x for i, x in enumerate(modes)]  # β_i x_i, (batch, d_i)
        return weighted, output

    def clamp_(self) -> "EMMA":
        """Project the parameters onto their constraints (call after each optimizer step)."""
        project_parameters_(*self.parameters_dict().values())
        return self

    def capacity(self, relu: bool = False) -> torch.Tensor:
        """Learned capacity: eq. 5.11 (default, the thesis's definition) or, with ``relu=True``,
        the capacity of the function actually used, ∫₀¹ max(0, tanh(g_a α − b_a)) dα."""
        return (capacity_relu if relu else capacity)(self.gain, self.bias)

    def energy_threshold(self, output: EMMAOutput) -> torch.Tensor:
        """Per-sample energy threshold of eq. 5.8 for an output of this module; shape (batch,)."""
        return energy_threshold(output.log_partition, self.gain, self.bias, self.coldness)
