"""A unified model of multi-modal attention (thesis chapter 7, Figure 7.1).

The thesis closes with a proposal: three attention mechanisms in one module.

* **exogenous** (EMMA, chapter 5): one score β_i per mode from the mode's potential
  energy, so a mode hit by an unexpected perturbation is turned down;
* **endogenous**: a mask m_i shaped like mode i, computed from the mode itself, that
  says where to look inside the mode;
* **crossmodal**: each mode attends to the others, to use the links between them.

"The multi-modal input is forwarded in parallel through an exo- and endogenous module
[...] The scores and masks are multiplied and applied to the input. To refine the result
is processed by the crossmodal component." Read as code (``x_i`` of shape (batch, d_i))::

    z_i = β_i · (m_i ⊙ x_i)            β from EMMA(x), m_i = sigmoid(W_i x_i + b_i)
    t_i = E_i z_i                      one token of width d_model per mode
    h_i = t_i + Σ_{j≠i} A_ij V t_j     A_i = softmax_j≠i(q_i · k_j / √d_model)
    logit = Σ_i f_i(h_i)   (late fusion)   or   f([h_1, ..., h_M])   (early fusion)

With late fusion the network behind the attention reads each mode on its own, so an
interaction between modes can only enter through the crossmodal part. Every part can be
switched off; an absent part has no parameters and acts as the identity.

:func:`build` makes a model with a given combination of parts (:data:`COMBINATIONS`),
:func:`predict` runs one in eval mode. The synthetic task, the batched training and the
experiments of chapter 7 live in :mod:`emma.experiments.unified_study`.
"""
from __future__ import annotations

import itertools
from typing import NamedTuple, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from emma.method.attention import attention_scores, under_transform
from emma.method.module import EMMA
from emma.util import checks

#: The three parts of Figure 7.1, in the order of the constructor's flags.
PARTS = ("exogenous", "endogenous", "crossmodal")
#: The eight on/off combinations of the parts, all off first.
COMBINATIONS = [dict(zip(PARTS, flags)) for flags in itertools.product([False, True], repeat=3)]
#: Short names of the parts, for labels.
SHORT = {"exogenous": "exo", "endogenous": "endo", "crossmodal": "cross"}


class UnifiedOutput(NamedTuple):
    """One pass of :class:`UnifiedAttention`; a part that is off gives None."""

    logits: torch.Tensor  # (batch,)
    beta: torch.Tensor | None  # (batch, M) exogenous scores β_i (EMMA, eq. 5.7)
    log_alpha: torch.Tensor | None  # (batch, M) EMMA's log importance, for the energy regularizer
    masks: tuple | None  # M tensors (batch, d_i): endogenous masks in (0, 1)
    crossmodal: torch.Tensor | None  # (batch, M, M): row i = how mode i attends to the others, zero diagonal


_positive_int = checks.positive_int


class ModeLinear(nn.Module):
    """M independent affine maps, one per mode, in one call: (batch, M, d_in) -> (batch, M, d_out).

    Modes narrower than ``d_in`` are zero-padded, so the padded rows of their weights never
    act. Mode i is initialised like :class:`torch.nn.Linear` with fan-in ``fan_in[i]``.
    """

    def __init__(self, fan_in: Sequence[int], d_in: int, d_out: int):
        super().__init__()
        bound = torch.tensor([float(f) for f in fan_in]).rsqrt()  # (M,)
        self.weight = nn.Parameter((2 * torch.rand(len(fan_in), d_in, d_out) - 1) * bound[:, None, None])  # (M, d_in, d_out)
        self.bias = nn.Parameter((2 * torch.rand(len(fan_in), d_out) - 1) * bound[:, None])  # (M, d_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x.transpose(0, 1) @ self.weight).transpose(0, 1) + self.bias  # (M, batch, d_in) @ (M, d_in, d_out)


def _mode_mlp(fan_in: Sequence[int], d_in: int, d_hidden: int, d_out: int) -> nn.Sequential:
    """One small ReLU network per mode, all applied at once."""
    return nn.Sequential(ModeLinear(fan_in, d_in, d_hidden), nn.ReLU(), ModeLinear([d_hidden] * len(fan_in), d_hidden, d_out))


class CrossmodalAttention(nn.Module):
    """Scaled dot-product attention of each mode token over the *other* mode tokens.

    With M = 2 each mode has a single other mode, so its weight is 1 and only the value
    path (the other mode's content) is learned.
    """

    def __init__(self, d_model: int):
        super().__init__()
        self.query = nn.Linear(d_model, d_model, bias=False)
        self.key = nn.Linear(d_model, d_model, bias=False)
        self.value = nn.Linear(d_model, d_model, bias=False)

    def forward(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        m, d = tokens.shape[-2:]  # tokens: (batch, M, d_model)
        flat = tokens.reshape(-1, d)  # (batch·M, d): one matrix product per projection, also under vmap
        q, k, v = (proj(flat).view(tokens.shape) for proj in (self.query, self.key, self.value))
        scores = q @ k.transpose(-1, -2) / d**0.5  # q_i · k_j / √d, (batch, M, M)
        self_pairs = torch.eye(m, dtype=torch.bool, device=tokens.device)
        weights = torch.softmax(torch.where(self_pairs, float("-inf"), scores), dim=-1)  # (batch, M, M)
        return tokens + weights @ v, weights  # residual: h_i = t_i + Σ_j A_ij V t_j, (batch, M, d)


class UnifiedAttention(nn.Module):
    """Figure 7.1 as a module: exogenous × endogenous gating, then crossmodal attention, then a classifier.

    Parameters
    ----------
    widths : sequence of int
        d_i, the width of each mode (M ≥ 2 modes).
    exogenous, endogenous, crossmodal : bool
        Which parts are on.
    energy_models : sequence of nn.Module, optional
        One energy model per mode (``potential(x)``), required when ``exogenous``.
    psi_min : sequence of float, optional
        Ψ_i^min per mode (eq. 5.2), required when ``exogenous``.
    coldness : float
        EMMA's ρ > 0 (eq. 5.6), checked even when ``exogenous`` is off.
    d_model, d_hidden : int
        Width of a mode token and of the classifier's hidden layer.
    fusion : {"late", "early"}
        "late": one classifier per mode, logits added; "early": one classifier on all tokens.

    Examples
    --------
    >>> model = UnifiedAttention([3, 5], exogenous=False)
    >>> out = model([torch.randn(4, 3), torch.randn(4, 5)])
    >>> out.logits.shape, out.beta, out.crossmodal.shape
    (torch.Size([4]), None, torch.Size([4, 2, 2]))
    """

    def __init__(self, widths: Sequence[int], *, exogenous: bool = True, endogenous: bool = True, crossmodal: bool = True,
                 energy_models=None, psi_min=None, coldness: float = 1.0, d_model: int = 8, d_hidden: int = 16,
                 fusion: str = "late"):
        super().__init__()
        if isinstance(widths, (str, torch.Tensor)) or not isinstance(widths, Sequence) or len(widths) < 2:
            raise ValueError(f"widths must be a sequence of at least 2 mode widths, got {widths!r}")
        self.widths = tuple(_positive_int(w, f"widths[{i}]") for i, w in enumerate(widths))
        for name, flag in zip(PARTS, (exogenous, endogenous, crossmodal)):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be True or False, got {flag!r}")
        if fusion not in ("late", "early"):
            raise ValueError(f"fusion must be 'late' or 'early', got {fusion!r}")
        d_model, d_hidden = _positive_int(d_model, "d_model"), _positive_int(d_hidden, "d_hidden")
        coldness = checks.number(coldness, "coldness", low=0.0, low_open=True)  # checked even when EMMA is off
        self.n_modes, self.fusion = len(self.widths), fusion
        self.exogenous = self.endogenous = self.crossmodal = None
        if exogenous:
            if energy_models is None or psi_min is None:
                raise ValueError("exogenous=True needs energy_models and psi_min (one per mode)")
            if len(energy_models) != self.n_modes:
                raise ValueError(f"energy_models must hold one model per mode ({self.n_modes}), got {len(energy_models)}")
            for i, (model, width) in enumerate(zip(energy_models, self.widths)):
                if getattr(model, "d_input", width) != width:
                    raise ValueError(f"energy_models[{i}] reads {model.d_input} features but widths[{i}] = {width}")
            self.exogenous = EMMA(list(energy_models), psi_min, coldness)
        width = max(self.widths)  # modes are zero-padded to this width inside the module
        self.register_buffer("width_mask", (torch.arange(width) < torch.tensor(self.widths).unsqueeze(1)).float())  # (M, D)
        if endogenous:
            self.endogenous = ModeLinear(self.widths, width, width)  # m_i = sigmoid(W_i x_i + b_i)
        self.embed = ModeLinear(self.widths, width, d_model)
        if crossmodal:
            self.crossmodal = CrossmodalAttention(d_model)
        if fusion == "late":
            self.head = _mode_mlp([d_model] * self.n_modes, d_model, d_hidden, 1)
        else:
            self.head = nn.Sequential(nn.Linear(self.n_modes * d_model, d_hidden), nn.ReLU(), nn.Linear(d_hidden, 1))

    @property
    def parts(self) -> dict[str, bool]:
        """Which parts are on, e.g. ``{"exogenous": True, "endogenous": False, "crossmodal": True}``."""
        return {name: getattr(self, name) is not None for name in PARTS}

    def _check_modes(self, modes) -> None:
        if not isinstance(modes, (list, tuple)) or len(modes) != self.n_modes:
            raise ValueError(f"modes must be a list of {self.n_modes} tensors of shapes (batch, d_i), d = {self.widths}")
        for i, (x, width) in enumerate(zip(modes, self.widths)):
            if not isinstance(x, torch.Tensor) or not x.is_floating_point():
                raise TypeError(f"modes[{i}] must be a floating-point tensor, got {type(x).__name__}")
            if x.dim() != 2 or x.shape[1] != width or x.shape[0] != modes[0].shape[0]:
                raise ValueError(f"modes[{i}] must have shape ({modes[0].shape[0]}, {width}), got {tuple(x.shape)}")
        if not under_transform(*modes) and not all(torch.isfinite(x).all() for x in modes):
            raise ValueError("modes contain non-finite values (nan or inf)")

    def forward(self, modes: Sequence[torch.Tensor]) -> UnifiedOutput:
        """Attend and classify; ``modes`` is a list of M tensors (batch, d_i)."""
        self._check_modes(modes)
        beta = log_alpha = masks = weights = None
        if self.exogenous is not None:  # EMMA's steps 1-4 (its forward minus the input checks made above)
            emma = self.exogenous
            potentials = torch.stack([e.potential(x) for e, x in zip(emma.energy_models, modes)], dim=-1)  # (batch, M)
            scores = attention_scores(potentials, emma.psi_min, **emma.parameters_dict(), coldness=emma.coldness)
            beta, log_alpha = scores.beta, scores.log_alpha
        width = self.width_mask.shape[1]
        x = torch.stack([F.pad(xi, (0, width - xi.shape[1])) for xi in modes], dim=1)  # (batch, M, D), zero-padded
        if self.endogenous is not None:  # masks from each raw mode, in parallel with EMMA
            mask = torch.sigmoid(self.endogenous(x)) * self.width_mask  # (batch, M, D)
            masks = tuple(mask[:, i, :w] for i, w in enumerate(self.widths))
            x = mask * x
        if beta is not None:  # "the scores and masks are multiplied and applied to the input"
            x = beta.unsqueeze(-1) * x
        tokens = self.embed(x)  # (batch, M, d_model)
        if self.crossmodal is not None:
            tokens, weights = self.crossmodal(tokens)
        if self.fusion == "late":
            logits = self.head(tokens).sum(dim=(1, 2))  # Σ_i f_i(h_i), (batch,)
        else:
            logits = self.head(tokens.flatten(1)).squeeze(-1)  # f([h_1, ..., h_M]), (batch,)
        return UnifiedOutput(logits, beta, log_alpha, masks, weights)


# ----------------------------------------------------------------------------- building and running a model


@torch.no_grad()
def predict(model: UnifiedAttention, modes: Sequence[torch.Tensor]) -> UnifiedOutput:
    """One forward pass in eval mode, without gradients."""
    model.eval()
    device = next(model.parameters()).device
    return model([x.to(device) for x in modes])


def build(parts: dict, widths, energy_models=None, psi_min=None, seed: int = 0, device="cpu", **options) -> UnifiedAttention:
    """A :class:`UnifiedAttention` with the parts switched on in ``parts``, initialised from ``torch.manual_seed(seed)``."""
    torch.manual_seed(seed)
    use = parts["exogenous"]
    model = UnifiedAttention(widths, **parts, energy_models=energy_models if use else None, psi_min=psi_min if use else None, **options)
    return model.to(device)


def label(parts) -> str:
    """A short name of a combination of parts: "exo+endo+cross", ..., "none"."""
    return "+".join(SHORT[name] for name in PARTS if parts[name]) or "none"
