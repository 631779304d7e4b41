"""The Energy-based Multi-Modal Attention module (thesis chapter 5).

EMMA turns one potential energy Ψ_i per mode (step 1, chapter 4) into one
attention score β_i per mode in three steps:

* step 2, energies (eq. 5.2–5.5):
  Ψ'_i = max(e, Ψ_i − Ψ_i^min + e) with e = 2.718… (Euler's number),
  e_i = w_i Ψ'_i + b_i,  e_ij = w_ij e_i^γ_ij e_j^(1−γ_ij),  E_i = e_i + Σ_{j≠i} e_ij;
* step 3, importance (eq. 5.6): α = softmax(−ρE), ρ the coldness;
* step 4, attention (eq. 5.7 with the max-operator of Figure 5.5):
  β_i = max(0, tanh(g_a α_i − b_a)).

The module multiplies each mode by its β_i before the multi-modal network.

The whole computation lives in the pure function :func:`attention_scores`, which
works on any leading batch shape and under :func:`torch.func.vmap` (so a sweep can
stack K models' parameters on a leading axis). :class:`emma.method.module.EMMA` wraps it with
frozen energy models and learnable parameters. The parameter constraints live in one
place, :func:`project_parameters_`; the capacity and the regularizers in :mod:`emma.method.regularizers`.

Training loss (eq. 5.12 as the final thesis states it)::

    L̃ = L(y, ŷ) + λ_c (g_a − b_a) − λ_e Ω,   Ω = Σ_k ξ_k log α_k,
    ξ_k = −1 if mode k is corrupted, +1 otherwise,

see :func:`emma.method.regularizers.capacity_penalty` and :func:`emma.method.regularizers.energy_regularizer`;
clamp the parameters with :meth:`emma.method.module.EMMA.clamp_` after every optimizer step.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F

from emma.util import checks

#: Euler's number: the floor of the corrected potential Ψ' (eq. 5.2).
EULER = math.e
#: Smallest gain g_a the projection allows (the thesis only says g_a > 0).
GAIN_FLOOR = 1e-6
#: Names of the learnable parameters, in the order :func:`attention_scores` takes them.
PARAMETER_NAMES = ("self_weight", "self_bias", "shared_weight", "shared_gamma", "gain", "bias")


class EMMAOutput(NamedTuple):
    """Every intermediate quantity of one EMMA pass; ``...`` is the batch shape, M the modes."""

    potentials: torch.Tensor  # (..., M) raw Ψ_i from the energy models
    corrected_potentials: torch.Tensor  # (..., M) Ψ'_i, eq. 5.2
    self_energies: torch.Tensor  # (..., M) e_i, eq. 5.3
    shared_energies: torch.Tensor  # (..., M, M) e_ij (row i, column j), zero diagonal, eq. 5.4
    modal_energies: torch.Tensor  # (..., M) E_i, eq. 5.5
    alpha: torch.Tensor  # (..., M) importance scores, eq. 5.6
    log_alpha: torch.Tensor  # (..., M) log α_i (log-softmax, stable for large ρE)
    beta: torch.Tensor  # (..., M) attention scores, eq. 5.7 with max(0, ·)
    total_energy: torch.Tensor  # (...,) Σ_i E_i
    log_partition: torch.Tensor  # (...,) log Z of eq. 5.6


# ----------------------------------------------------------------------------- helpers


def under_transform(*tensors) -> bool:
    """Whether any of ``tensors`` is wrapped by a :mod:`torch.func` transform (vmap, grad).

    Under such a transform a tensor's values cannot be read, so a check such as
    ``torch.isfinite(x).all()`` must be skipped; code that validates its inputs and may
    run under :func:`torch.func.vmap` asks this first. Arguments that are not tensors
    are ignored.

    Parameters
    ----------
    *tensors : torch.Tensor or anything
        The values to inspect.

    Returns
    -------
    bool
        True when at least one of them is a wrapped tensor.

    Examples
    --------
    >>> under_transform(torch.ones(3), None)
    False
    >>> seen = []
    >>> _ = torch.func.vmap(lambda row: seen.append(under_transform(row)) or row)(torch.ones(2, 3))
    >>> seen
    [True]
    """
    check = getattr(torch._C._functorch, "is_functorch_wrapped_tensor", None)
    return check is not None and any(isinstance(t, torch.Tensor) and check(t) for t in tensors)


def _check_tensor(value, name: str, shape: tuple[int, ...] | None = None) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if not value.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {value.dtype}")
    if shape is not None and tuple(value.shape) != shape:
        raise ValueError(f"{name} must have shape {shape}, got {tuple(value.shape)}")
    return value


def _as_scalar_tensor(value, name: str, like: torch.Tensor, positive: bool = False) -> torch.Tensor:
    """A number (Python or numpy) or a 0-dim tensor as a tensor like ``like``; ``positive``: checked > 0 (not under vmap)."""
    if isinstance(value, torch.Tensor):
        value = _check_tensor(value, name, ())
        if positive and not under_transform(value) and not bool(torch.isfinite(value.detach()) & (value.detach() > 0)):
            raise ValueError(f"{name} must be a finite number > 0, got {value.item()!r}")
        return value
    if not checks.is_number(value):
        raise TypeError(f"{name} must be a number or a 0-dim tensor, got {type(value).__name__}")
    if positive:
        checks.number(value, name, low=0.0, low_open=True)
    return torch.tensor(float(value), dtype=like.dtype, device=like.device)


def _where(index: tuple[int, ...]) -> str:
    """" at sample i" (or a tuple for several batch axes) for the batch part of an index; "" for none."""
    if not index:
        return ""
    return f" at sample {index[0]}" if len(index) == 1 else f" at sample {tuple(index)}"


def _check_energies(potentials, psi_min, difference, corrected, modal, logits, coldness) -> None:
    """Raise when a potential is not finite or overflows ρE; the message names the mode and the sample.

    ``difference`` is Ψ − Ψ_min (finite only when both are) and ``logits`` is −ρE. The fast
    path is two sums and one read of a boolean; a sum that overflows although every element is
    finite falls through to the element-wise test and passes. Skipped under a :mod:`torch.func`
    transform (``logits`` depends on every input, so it is wrapped whenever one of them is).
    """
    if under_transform(logits) or bool(torch.isfinite(difference.detach().sum() + logits.detach().sum())):
        return
    if not bool(torch.isfinite(psi_min.detach()).all()):
        raise ValueError(f"psi_min must be finite, got {psi_min.detach().tolist()}")
    bad = torch.nonzero(~torch.isfinite(potentials.detach()))
    if len(bad):
        index = tuple(bad[0].tolist())
        raise ValueError(
            f"potentials of mode {index[-1]} are not finite ({potentials[index].item()}{_where(index[:-1])}; {len(bad)} non-finite "
            f"potential(s) in all): the energy model of that mode gave nan or inf, which would make every β of the sample nan. "
            f"Check that mode's input (nan, inf or values far outside the training data)"
        )
    bad = torch.nonzero(~torch.isfinite(difference.detach()) | ~torch.isfinite(logits.detach()))
    if len(bad):
        sample = tuple(bad[0].tolist()[:-1])
        mode = int(difference.detach()[sample].argmax())  # the largest Ψ − Ψ_min is the one that overflowed
        at = sample + (mode,)
        raise ValueError(
            f"the energies of mode {mode} overflow{_where(sample)}: Ψ = {potentials[at].item():.4g} (Ψ_min = {psi_min[mode].item():.4g}) "
            f"gives Ψ' = {corrected.detach()[at].item():.4g}, E = {modal.detach()[at].item():.4g} and ρE = {-logits.detach()[at].item():.4g} "
            f"in {logits.dtype} at ρ = {float(coldness):g}, which would make α and β nan. The potential is far outside the "
            f"training range: check that mode's input (scale, units), or compute in float64"
        )


def _log_cosh(x: torch.Tensor) -> torch.Tensor:
    """log cosh(x) without overflow: |x| + log(1 + e^(−2|x|)) − log 2."""
    x = x.abs()
    return x + torch.log1p(torch.exp(-2.0 * x)) - math.log(2.0)


# ----------------------------------------------------------------------------- the functional core


def attention_scores(
    potentials: torch.Tensor,
    psi_min: torch.Tensor,
    self_weight: torch.Tensor,
    self_bias: torch.Tensor,
    shared_weight: torch.Tensor,
    shared_gamma: torch.Tensor,
    gain: torch.Tensor,
    bias: torch.Tensor,
    coldness: torch.Tensor | float,
) -> EMMAOutput:
    """EMMA's steps 2–4 (eq. 5.2–5.7) from potentials to attention scores.

    Pure and vectorised over the batch, the modes and the mode pairs; safe under
    :func:`torch.func.vmap` (no value-dependent Python branches, nothing written in place).

    Parameters
    ----------
    potentials : Tensor, shape (..., M)
        Raw potential energies Ψ_i, one per mode, any leading batch shape.
    psi_min : Tensor, shape (M,)
        Ψ_i^min, the lowest potential of each mode on the training set.
    self_weight, self_bias : Tensor, shape (M,)
        w_i (≥ 1) and b_i (≥ 0) of the self energies.
    shared_weight, shared_gamma : Tensor, shape (M, M)
        w_ij ∈ [−1, 1] and γ_ij ∈ [0, 1] of the shared energy of mode j on mode i
        (row i, column j). Diagonals are ignored.
    gain, bias : Tensor, shape ()
        g_a > 0 and b_a ∈ [0, 1] of the attention function.
    coldness : Tensor of shape () or float
        ρ > 0, the inverse temperature of the Boltzmann distribution.

    Returns
    -------
    EMMAOutput
        All intermediate quantities, each with the batch shape of ``potentials``.

    Raises
    ------
    ValueError
        When a potential is nan or ±inf, or so large that its energy ρE overflows the dtype
        (which would make α and β nan): the message names the mode and the sample. The check
        is skipped under a :mod:`torch.func` transform (values cannot be read there).

    Notes
    -----
    The constraints (see :func:`project_parameters_`) make e_i ≥ e > 0, so the
    powers e_i^γ in eq. 5.4 (computed as exp(γ log e_i)) are always defined.

    Examples
    --------
    >>> p = initial_parameters(2)
    >>> out = attention_scores(torch.tensor([[1.0, 5.0]]), torch.zeros(2), **p, coldness=0.1)
    >>> round(out.alpha.sum().item(), 6)
    1.0
    """
    _check_tensor(potentials, "potentials")
    if potentials.dim() < 1:
        raise ValueError("potentials must have shape (..., M) with at least one dimension")
    m = potentials.shape[-1]
    if m < 2:
        raise ValueError(f"potentials must hold M >= 2 modes on its last axis, got M = {m}")
    _check_tensor(psi_min, "psi_min", (m,))
    _check_tensor(self_weight, "self_weight", (m,))
    _check_tensor(self_bias, "self_bias", (m,))
    _check_tensor(shared_weight, "shared_weight", (m, m))
    _check_tensor(shared_gamma, "shared_gamma", (m, m))
    _check_tensor(gain, "gain", ())
    _check_tensor(bias, "bias", ())
    coldness = _as_scalar_tensor(coldness, "coldness", potentials, positive=True)

    # Step 2: from potential to modal energies.
    difference = potentials - psi_min  # (..., M)
    corrected = torch.clamp_min(difference + EULER, EULER)  # eq. 5.2   (..., M)
    self_energy = self_weight * corrected + self_bias  # eq. 5.3   (..., M)
    log_self = torch.log(self_energy)  # (..., M)
    off_diagonal = 1.0 - torch.eye(m, dtype=potentials.dtype, device=potentials.device)  # (M, M)
    # e_ij = w_ij exp(γ_ij log e_i + (1 − γ_ij) log e_j), row i, column j
    log_mix = shared_gamma * log_self.unsqueeze(-1) + (1.0 - shared_gamma) * log_self.unsqueeze(-2)  # (..., M, M)
    shared = (shared_weight * off_diagonal) * torch.exp(log_mix)  # eq. 5.4   (..., M, M)
    modal = self_energy + shared.sum(dim=-1)  # eq. 5.5   (..., M)

    # Step 3: Boltzmann (Gibbs) distribution over the modes.
    logits = -coldness * modal  # (..., M)
    _check_energies(potentials, psi_min, difference, corrected, modal, logits, coldness)
    log_alpha = torch.log_softmax(logits, dim=-1)  # eq. 5.6   (..., M)
    log_partition = torch.logsumexp(logits, dim=-1)  # log Z     (...,)
    alpha = torch.exp(log_alpha)

    # Step 4: attention with the max-operator of Figure 5.5.
    beta = F.relu(torch.tanh(gain * alpha - bias))  # eq. 5.7   (..., M)

    return EMMAOutput(
        potentials=potentials,
        corrected_potentials=corrected,
        self_energies=self_energy,
        shared_energies=shared,
        modal_energies=modal,
        alpha=alpha,
        log_alpha=log_alpha,
        beta=beta,
        total_energy=modal.sum(dim=-1),
        log_partition=log_partition,
    )


def energy_threshold(log_partition: torch.Tensor, gain, bias, coldness) -> torch.Tensor:
    """Per-sample energy threshold of eq. 5.8: β_i > 0 exactly when E_i < threshold.

    threshold = (log(g_a / b_a) − log Z) / ρ, which is +inf when b_a = 0 (every mode
    passes). The draft writes E_i ≥ threshold; the derivation check 3 shows it is E_i <.

    Parameters
    ----------
    log_partition : Tensor, shape (...,)
        log Z of each sample (``EMMAOutput.log_partition``).
    gain, bias, coldness : Tensor of shape () or float
        g_a > 0, b_a ≥ 0 and ρ > 0.

    Returns
    -------
    Tensor, shape (...,)
    """
    _check_tensor(log_partition, "log_partition")
    gain = _as_scalar_tensor(gain, "gain", log_partition)
    bias = _as_scalar_tensor(bias, "bias", log_partition)
    coldness = _as_scalar_tensor(coldness, "coldness", log_partition, positive=True)
    return (torch.log(gain) - torch.log(bias) - log_partition) / coldness  # eq. 5.8


# ----------------------------------------------------------------------------- constraints and initial values


@torch.no_grad()
def project_parameters_(self_weight, self_bias, shared_weight, shared_gamma, gain, bias) -> None:
    """Clamp EMMA's parameters in place onto their constraint set (the one place constraints live).

    w_i ≥ 1, b_i ≥ 0, w_ij ∈ [−1, 1], γ_ij ∈ [0, 1], g_a ≥ ``GAIN_FLOOR`` (= 1e-6, the
    thesis's g_a > 0), b_a ∈ [0, 1]. Tensors may carry extra leading dimensions (a
    stack of K models). Call after every optimizer step.

    Parameters
    ----------
    self_weight, self_bias : Tensor, shape (..., M)
    shared_weight, shared_gamma : Tensor, shape (..., M, M)
    gain, bias : Tensor, shape (...)
    """
    for name, value in zip(PARAMETER_NAMES, (self_weight, self_bias, shared_weight, shared_gamma, gain, bias)):
        _check_tensor(value, name)
    self_weight.clamp_(min=1.0)  # eq. 5.3: w_i ≥ 1 (final thesis; the draft says w_i ∈ R+)
    self_bias.clamp_(min=0.0)  # eq. 5.3: b_i ≥ 0
    shared_weight.clamp_(-1.0, 1.0)  # eq. 5.4: w_ij ∈ [−1, 1]
    shared_gamma.clamp_(0.0, 1.0)  # eq. 5.4: γ_ij ∈ [0, 1]
    gain.clamp_(min=GAIN_FLOOR)  # eq. 5.7: g_a > 0
    bias.clamp_(0.0, 1.0)  # eq. 5.7: b_a ∈ [0, 1]


def initial_parameters(
    n_modes: int, generator: torch.Generator | None = None, dtype: torch.dtype | None = None
) -> dict[str, torch.Tensor]:
    """The thesis's initial values of EMMA's parameters for ``n_modes`` modes.

    w_i = 1, b_i = 0, w_ij ~ U(−1/(M−1), 1/(M−1)) (diagonal 0), γ_ij = 0.5, g_a = 1, b_a = 0.

    Parameters
    ----------
    n_modes : int
        M ≥ 2 (a numpy integer is fine).
    generator : torch.Generator, optional
        Source of randomness for w_ij.
    dtype : torch.dtype, optional
        Defaults to torch's default dtype.

    Returns
    -------
    dict of str to Tensor
        Keys ``self_weight`` (M,), ``self_bias`` (M,), ``shared_weight`` (M, M),
        ``shared_gamma`` (M, M), ``gain`` (), ``bias`` ().
    """
    n_modes = checks.integer(n_modes, "n_modes", low=2)
    dtype = dtype or torch.get_default_dtype()
    m = n_modes
    bound = 1.0 / (m - 1)
    shared_weight = (torch.rand(m, m, generator=generator, dtype=dtype) * 2.0 - 1.0) * bound
    shared_weight = shared_weight * (1.0 - torch.eye(m, dtype=dtype))
    return {
        "self_weight": torch.ones(m, dtype=dtype),
        "self_bias": torch.zeros(m, dtype=dtype),
        "shared_weight": shared_weight,
        "shared_gamma": torch.full((m, m), 0.5, dtype=dtype),
        "gain": torch.tensor(1.0, dtype=dtype),
        "bias": torch.tensor(0.0, dtype=dtype),
    }
