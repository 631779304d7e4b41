"""EMMA's capacity (eq. 5.11) and the two regularizers of its training loss (eq. 5.12).

L̃ = L(y, ŷ) + λ_c (g_a − b_a) − λ_e Ω,  Ω = Σ_k ξ_k log α_k, with ξ_k = −1 if mode k is
corrupted and +1 otherwise. :func:`capacity` is the integral the thesis defines,
:func:`capacity_relu` that of the function EMMA actually uses (with its max-operator).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from emma.method.attention import _check_tensor, _log_cosh, under_transform


def _as_tensor(value, name: str, dtype: torch.dtype, device=None) -> torch.Tensor:
    """A tensor as it is; a number or an array-like of numbers as a tensor of ``dtype``; anything else a ``TypeError`` naming ``name``."""
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (str, bytes, bool, np.bool_)) or value is None:
        raise TypeError(f"{name} must be a number or a tensor of numbers, got {value!r}")
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number or a tensor of numbers, got {value!r}") from None
    return torch.as_tensor(array, dtype=dtype, device=device)


def _gain_bias(gain, bias) -> tuple[torch.Tensor, torch.Tensor]:
    gain = _as_tensor(gain, "gain", torch.get_default_dtype())
    bias = _as_tensor(bias, "bias", gain.dtype, gain.device)
    _check_tensor(gain, "gain")
    _check_tensor(bias, "bias")
    if not under_transform(gain, bias):
        if not torch.isfinite(gain).all() or (gain <= 0).any():
            raise ValueError("gain must be finite and > 0 (g_a > 0)")
        if not torch.isfinite(bias).all():
            raise ValueError("bias must be finite")
    return gain, bias


def capacity(gain, bias) -> torch.Tensor:
    """Capacity of eq. 5.11 (final thesis): ∫₀¹ tanh(g_a α − b_a) dα = log[cosh(g_a − b_a) / cosh(b_a)] / g_a.

    This is the integral of tanh *without* the max-operator, so it turns negative when
    b_a > g_a / 2. The draft writes cosh(g_a + b_a), the integral of tanh(g_a α + b_a).

    Parameters
    ----------
    gain : float or Tensor
        g_a > 0; any shape (for example a stack of models).
    bias : float or Tensor
        b_a, broadcastable with ``gain``.

    Returns
    -------
    Tensor

    Examples
    --------
    >>> round(capacity(1.0, 0.0).item(), 4)   # log cosh(1)
    0.4338
    """
    gain, bias = _gain_bias(gain, bias)
    return (_log_cosh(gain - bias) - _log_cosh(bias)) / gain  # eq. 5.11


def capacity_relu(gain, bias) -> torch.Tensor:
    """Capacity of the function the module uses: ∫₀¹ max(0, tanh(g_a α − b_a)) dα.

    For g_a > 0 this is [log cosh(max(g_a − b_a, 0)) − log cosh(max(−b_a, 0))] / g_a, which
    for b_a ∈ [0, 1] reads log cosh(max(g_a − b_a, 0)) / g_a: the area right of the
    threshold α = b_a / g_a. It is never negative and exceeds eq. 5.11 by log cosh(b_a) / g_a
    whenever b_a ≤ g_a (derivation check 2).

    Parameters
    ----------
    gain, bias : float or Tensor
        As in :func:`capacity`.

    Returns
    -------
    Tensor
    """
    gain, bias = _gain_bias(gain, bias)
    return (_log_cosh(F.relu(gain - bias)) - _log_cosh(F.relu(-bias))) / gain


def capacity_penalty(gain, bias) -> torch.Tensor:
    """The capacity regularizer g_a − b_a of the loss L + λ_c (g_a − b_a) − λ_e Ω (eq. 5.12, final thesis).

    The draft penalises g_a alone. Both g_a↓ and b_a↑ lower the capacity, so λ_c > 0 shrinks it.
    Any shape; returns ``gain - bias``.
    """
    if not isinstance(gain, torch.Tensor) or not isinstance(bias, torch.Tensor):
        raise TypeError("gain and bias must be tensors (the module's parameters)")
    return gain - bias


def energy_regularizer(log_alpha: torch.Tensor, corrupted: torch.Tensor) -> torch.Tensor:
    """Ω = Σ_k ξ_k log α_k averaged over the batch (eq. 5.12); ξ_k = −1 if mode k is corrupted, +1 otherwise.

    Maximising Ω (the loss subtracts λ_e Ω) lowers the energies of clean modes and raises
    those of corrupted ones.

    Parameters
    ----------
    log_alpha : Tensor, shape (batch, M)
        ``EMMAOutput.log_alpha``.
    corrupted : bool Tensor, shape (batch, M)
        True where a mode of a sample is corrupted.

    Returns
    -------
    Tensor, shape ()
    """
    _check_tensor(log_alpha, "log_alpha")
    if not isinstance(corrupted, torch.Tensor) or corrupted.dtype != torch.bool:
        raise TypeError(f"corrupted must be a bool tensor of shape {tuple(log_alpha.shape)}")
    if log_alpha.dim() != 2 or corrupted.shape != log_alpha.shape:
        raise ValueError(
            f"log_alpha and corrupted must both have shape (batch, M); got {tuple(log_alpha.shape)} "
            f"and {tuple(corrupted.shape)}"
        )
    xi = 1.0 - 2.0 * corrupted.to(log_alpha.dtype)  # ξ_k ∈ {+1, −1}   (batch, M)
    return (xi * log_alpha).sum(dim=-1).mean()  # eq. 5.12
