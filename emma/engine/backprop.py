"""The gradients of K stacked models' training loss: written out by hand, or by autograd.

The sweep engine (:mod:`emma.engine.sweep`) takes tens of thousands of Adam steps per sweep,
each on K models of a few dozen parameters and a mini-batch of 32. At that size a
step's time is the number and the memory layout of its tensor operations, not its
arithmetic. The forward pass is :func:`emma.engine.families.forward_columns` (batch-last, the
layout :mod:`emma.engine.families` computes in); here its backward pass is written out: the
perceptron layer by layer, the fusion of ``alternative``, and EMMA's closed form for two
modes (:func:`emma.engine.families.emma_columns`), with the loss of eq. 5.12.
``tests/test_backprop.py`` checks the loss and every gradient against autograd of
:func:`emma.engine.families.forward` in float64, for every family and every protocol choice that
enters the loss (batch-coupled potentials, Ω as written or as coded, a class weight).

The derivatives, per model, sample n and mode i (j the other mode), with
s_i = b_i + w_i c_i, t_i = s_i^γ_i s_j^(1−γ_i), E_i = s_i + w_ij t_i,
g = ρ (E_1 − E_0), log α_0 = log σ(g), log α_1 = log σ(−g), u_i = g_a α_i − b_a,
β_i = relu(tanh u_i):

* ∂β_i/∂u_i = (1 − β_i²) [u_i > 0];  ∂u_i/∂g_a = α_i, ∂u_i/∂b_a = −1, ∂u_i/∂α_i = g_a;
* ∂ log α_0/∂g = α_1, ∂ log α_1/∂g = −α_0;  ∂g/∂E_1 = ρ = −∂g/∂E_0;
* ∂E_i/∂w_ij = t_i, ∂E_i/∂γ_i = w_ij t_i (log s_i − log s_j),
  ∂E_i/∂ log s_i = s_i + w_ij t_i γ_i, ∂E_i/∂ log s_j = w_ij t_i (1 − γ_i);
* ∂s_i/∂b_i = 1, ∂s_i/∂w_i = c_i (the corrected potential, data only: the autoencoders are frozen).

A registered family without hand-written gradients (:mod:`emma.engine.registry`) trains by
autograd of :func:`family_loss` (its forward pass and penalty), through the engine's core
(:func:`emma.engine.stacked.loss_and_gradient`).
"""
from __future__ import annotations

from typing import Mapping

import torch
import torch.nn.functional as F

from emma.engine.registry import Context, Family
from emma.engine.thesis_models import MODE_WIDTH, N_MODES, OFF_DIAGONAL, check_family, forward_columns
from emma.engine.training import bce_per_sample


def _mlp_backward(params, inputs, d_logits: torch.Tensor, grads: dict, input_grad: bool) -> torch.Tensor | None:
    """Gradients of the perceptron's weights into ``grads``; returns the gradient of its input, (K, in, B), or None."""
    d = d_logits.unsqueeze(1)  # (K, 1, B)
    for i in reversed(range(len(inputs))):
        a, weight = inputs[i], params[f"w{i}"]
        grads[f"w{i}"] = (a * d).sum(dim=2, keepdim=True) if weight.shape[-1] == 1 else torch.bmm(a, d.transpose(1, 2))
        grads[f"b{i}"] = d.sum(dim=2).unsqueeze(1)
        if i == 0 and not input_grad:
            return None
        d = weight * d if weight.shape[-1] == 1 else torch.bmm(weight, d)
        if i > 0:  # ReLU: a = relu(z) > 0 exactly where z > 0
            d = torch.ops.aten.threshold_backward(d, a, 0.0)
    return d


def _bce(logits: torch.Tensor, y: torch.Tensor, pos_weight: torch.Tensor | None):
    """Mean binary cross-entropy per model (K,) and its gradient with respect to the logits (K, B)."""
    y = y.expand_as(logits)
    weight = None if pos_weight is None else pos_weight.view(-1, 1)
    loss = F.binary_cross_entropy_with_logits(logits, y, reduction="none", pos_weight=weight).mean(dim=1)
    p = torch.sigmoid(logits)
    d = p - y if weight is None else p * (1 + (weight - 1) * y) - weight * y
    return loss, d / logits.shape[1]


def _emma_backward(params, saved, coldness, d_beta, d_log_alpha, grads: dict) -> None:
    """EMMA's parameter gradients from those of β and log α (each (K, 2, B)), into ``grads``."""
    alpha, beta, k = saved["alpha"], saved["beta"], d_beta.shape[0]
    du = torch.ops.aten.threshold_backward(d_beta, beta, 0.0) * (1 - beta * beta)  # relu, then tanh
    grads["gain"] = (du * alpha).sum(dim=(1, 2))
    grads["bias"] = -du.sum(dim=(1, 2))
    d_log_alpha = torch.addcmul(d_log_alpha, du * params["gain"].view(-1, 1, 1), alpha)  # through α = exp(log α)
    d_gap = coldness.view(-1, 1, 1) * (d_log_alpha[:, :1] * alpha[:, 1:] - d_log_alpha[:, 1:] * alpha[:, :1])  # (K, 1, B), times ρ
    d_modal = torch.cat([-d_gap, d_gap], dim=1)
    d_lerp = d_modal * saved["cross"]
    for name, value in (("shared_weight", d_modal * saved["t"]), ("shared_gamma", d_lerp * (saved["log_s"] - saved["log_s"].flip(1)))):
        grad = torch.zeros(k, 4, dtype=value.dtype, device=value.device)
        grad[:, OFF_DIAGONAL] = value.sum(dim=2)
        grads[name] = grad.view(k, 2, 2)
    gamma = saved["gamma"]
    d_s = d_modal + (d_lerp * gamma + (d_lerp * (1 - gamma)).flip(1)) / saved["s"]  # through log s
    grads["self_bias"] = d_s.sum(dim=2)
    grads["self_weight"] = (d_s * saved["corrected"]).sum(dim=2)


def loss_and_gradients(family: str, params: Mapping[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor, *, pos_weight=None,
                       potentials=None, psi_min=None, coldness=None, lambda_c=None, lambda_e=None, omega_weights=None,
                       batch_last: bool = False):
    """Each model's training loss (K,) and the gradient of their sum, one tensor per parameter.

    Parameters
    ----------
    family : str
        One of :data:`emma.engine.families.FAMILIES`.
    params : dict of str to Tensor
        As :func:`emma.engine.families.init_parameters` makes them (leading axis K).
    x : Tensor, shape (K, B, 8)
        Each model's mini-batch.
    y : Tensor, shape (K, B) or (B,)
        Targets in {0, 1}.
    pos_weight : Tensor, shape (K,), optional
        Class weight of the pulsars per model.
    potentials, psi_min, coldness : ``with`` only
        As :func:`emma.engine.families.forward`: (K, B, 2), (K, 2), (K,).
    lambda_c, lambda_e : Tensor, shape (K,), ``with`` only
        The weights of the capacity and energy terms of eq. 5.12.
    omega_weights : Tensor, shape (K, B, 2), ``with`` only
        Ω = Σ_n Σ_i omega_weights · log α (ξ/B for eq. 5.12, the code's weights as coded).
    batch_last : bool
        ``x``, ``potentials`` and ``omega_weights`` come as (K, 8, B) and (K, 2, B), the
        layout computed in (each per-model vector along the batch; strided views are fine).

    Returns
    -------
    loss : Tensor, shape (K,)
        BCE averaged over the batch, for ``with`` plus λ_c (g_a − b_a) − λ_e Ω.
    grads : dict of str to Tensor
        Same keys and shapes as ``params``.
    """
    check_family(family)
    width = N_MODES * MODE_WIDTH
    if not isinstance(x, torch.Tensor) or x.dim() != 3 or x.shape[1 if batch_last else 2] != width:
        raise ValueError(f"x must be a tensor of shape {('(K, 8, B)' if batch_last else '(K, B, 8)')}, got {getattr(x, 'shape', type(x))}")
    if not batch_last:  # views: every operation below reads (K, features, B)
        x = x.transpose(1, 2)
        potentials = None if potentials is None else potentials.transpose(1, 2)
        omega_weights = None if omega_weights is None else omega_weights.transpose(1, 2)
    if family == "with" and any(v is None for v in (potentials, psi_min, coldness, lambda_c, lambda_e, omega_weights)):
        raise ValueError("family 'with' needs potentials, psi_min, coldness, lambda_c, lambda_e and omega_weights")
    logits, inputs, saved = forward_columns(family, params, x, potentials, psi_min, coldness)
    grads: dict[str, torch.Tensor] = {}
    x_ip, x_dm = x[:, :MODE_WIDTH], x[:, MODE_WIDTH:]
    loss, d_logits = _bce(logits, y, pos_weight)
    d_h = _mlp_backward(params, inputs, d_logits, grads, input_grad=family in ("alternative", "with"))
    if family == "alternative":
        d_a = torch.cat([(d_h * x_ip).sum(1, keepdim=True), (d_h * x_dm).sum(1, keepdim=True)], dim=1)  # (K, 2, B)
        grads["wa"] = torch.bmm(x, d_a.transpose(1, 2))
        grads["ba"] = d_a.sum(dim=2).unsqueeze(1)
    elif family == "with":
        omega = (omega_weights * saved["log_alpha"]).sum(dim=(1, 2))
        loss = loss + lambda_c * (params["gain"] - params["bias"]) - lambda_e * omega
        d_beta = (d_h.unflatten(1, (N_MODES, MODE_WIDTH)) * x.unflatten(1, (N_MODES, MODE_WIDTH))).sum(2)
        _emma_backward(params, saved, coldness, d_beta, -lambda_e.view(-1, 1, 1) * omega_weights, grads)
        grads["gain"] = grads["gain"] + lambda_c
        grads["bias"] = grads["bias"] - lambda_c
    return loss, grads


def family_loss(params: Mapping[str, torch.Tensor], family: Family, x: torch.Tensor, y: torch.Tensor, context: Context,
                pos_weight: torch.Tensor | None = None) -> torch.Tensor:
    """Each model's training loss (K,): the mean cross-entropy of the family's logits on the batch-last
    inputs ``x`` (K, 8, B) and targets ``y`` (K, B), plus its penalty. What autograd differentiates."""
    logits = family.forward(params, x, context)
    if not isinstance(logits, torch.Tensor) or logits.shape != y.shape:
        raise ValueError(f"family {family.name!r}: forward must return logits of shape (K, B) = {tuple(y.shape)}, "
                         f"got {getattr(logits, 'shape', type(logits).__name__)}")
    loss = bce_per_sample(logits, y, pos_weight).mean(dim=1)
    if family.penalty is not None:
        loss = loss + family.penalty(params, context)
    return loss
