"""The training loss of K stacked models and its gradients, written out by hand.

The sweep engine (:mod:`emma.sweep`) takes tens of thousands of Adam steps per sweep,
each on K models of a few dozen parameters and a mini-batch of 32. At that size a
step's time is the number and the memory layout of its tensor operations, not its
arithmetic. Here the backward pass of the six families (:mod:`emma.models`) is written
out: the perceptron layer by layer, the fusion of ``alternative``, and EMMA's closed form
for two modes (:func:`emma.models._emma_batched`), with the loss of eq. 5.12. Everything
is computed *batch-last*, (K, features, B): a per-model parameter then broadcasts along
a contiguous batch, several times cheaper on the CPU than along a last axis of 2 modes.
The forward pass uses the formulas of :func:`emma.models.forward` (equal to float
rounding: the last layer, of one output, is a weighted sum rather than a batched
product). ``tests/test_backprop.py`` checks the loss and every gradient against autograd
in float64, for every family and every protocol choice that enters the loss
(batch-coupled potentials, Ω as written or as coded, a class weight).

The derivatives, per model, sample n and mode i (j the other mode), with
s_i = b_i + w_i c_i, t_i = s_i^γ_i s_j^(1−γ_i), E_i = s_i + w_ij t_i,
g = ρ (E_1 − E_0), log α_0 = log σ(g), log α_1 = log σ(−g), u_i = g_a α_i − b_a,
β_i = relu(tanh u_i):

* ∂β_i/∂u_i = (1 − β_i²) [u_i > 0];  ∂u_i/∂g_a = α_i, ∂u_i/∂b_a = −1, ∂u_i/∂α_i = g_a;
* ∂ log α_0/∂g = α_1, ∂ log α_1/∂g = −α_0;  ∂g/∂E_1 = ρ = −∂g/∂E_0;
* ∂E_i/∂w_ij = t_i, ∂E_i/∂γ_i = w_ij t_i (log s_i − log s_j),
  ∂E_i/∂ log s_i = s_i + w_ij t_i γ_i, ∂E_i/∂ log s_j = w_ij t_i (1 − γ_i);
* ∂s_i/∂b_i = 1, ∂s_i/∂w_i = c_i (the corrected potential, data only: the autoencoders are frozen).
"""
from __future__ import annotations

from typing import Mapping

import torch
import torch.nn.functional as F

from .attention import EULER
from .models import LAYERS, MODE_WIDTH, N_MODES, check_family

_OFF_DIAGONAL = slice(1, 3)  # entries (0, 1) and (1, 0) of a flattened 2 × 2 matrix


def _mlp_forward(params: Mapping[str, torch.Tensor], h: torch.Tensor, n_layers: int):
    """Logits (K, B) of :func:`emma.models.mlp` on ``h`` (K, in, B), and each layer's input."""
    inputs = []
    for i in range(n_layers):
        inputs.append(h)
        weight, bias = params[f"w{i}"], params[f"b{i}"]  # (K, in, out), (K, 1, out)
        if weight.shape[-1] == 1:  # one output: a weighted sum is cheaper than a batched product
            h = (weight * h).sum(dim=1, keepdim=True) + bias
        else:
            h = torch.baddbmm(bias.transpose(1, 2), weight.transpose(1, 2), h)  # (K, out, B)
        if i < n_layers - 1:
            h = F.relu(h)
    return h.squeeze(1), inputs


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


def _off_diagonal(matrix: torch.Tensor) -> torch.Tensor:
    """(K, 2, 2) -> (K, 2, 1): the entries (0, 1) and (1, 0), one per mode."""
    return matrix.flatten(1)[:, _OFF_DIAGONAL].unsqueeze(-1)


def _emma(params, potentials, psi_min, coldness):
    """EMMA's forward pass for two modes (eq. 5.2–5.7, as :func:`emma.models._emma_batched`) on (K, 2, B)."""
    corrected = torch.clamp_min(potentials - psi_min.unsqueeze(-1) + EULER, EULER)  # eq. 5.2
    s = torch.addcmul(params["self_bias"].unsqueeze(-1), params["self_weight"].unsqueeze(-1), corrected)  # eq. 5.3
    log_s = torch.log(s)
    gamma = _off_diagonal(params["shared_gamma"])
    t = torch.exp(torch.lerp(log_s.flip(1), log_s, gamma))  # s_i^γ s_j^(1−γ)
    cross = _off_diagonal(params["shared_weight"]) * t  # eq. 5.4
    logits = -coldness.view(-1, 1, 1) * (s + cross)  # eq. 5.5, times −ρ
    gap = logits[:, :1] - logits[:, 1:]
    log_alpha = F.logsigmoid(torch.cat([gap, -gap], dim=1))  # eq. 5.6
    alpha = torch.exp(log_alpha)
    beta = F.relu(torch.tanh(params["gain"].view(-1, 1, 1) * alpha - params["bias"].view(-1, 1, 1)))  # eq. 5.7
    saved = {"corrected": corrected, "s": s, "log_s": log_s, "gamma": gamma, "t": t, "cross": cross, "alpha": alpha, "beta": beta}
    return log_alpha, beta, saved


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
        grad[:, _OFF_DIAGONAL] = value.sum(dim=2)
        grads[name] = grad.view(k, 2, 2)
    gamma = saved["gamma"]
    d_s = d_modal + (d_lerp * gamma + (d_lerp * (1 - gamma)).flip(1)) / saved["s"]  # through log s
    grads["self_bias"] = d_s.sum(dim=2)
    grads["self_weight"] = (d_s * saved["corrected"]).sum(dim=2)


def _forward(family, params, x, potentials, psi_min, coldness):
    """Logits (K, B), each layer's input and EMMA's saved values, on ``x`` (K, 8, B)."""
    x_ip, x_dm = x[:, :MODE_WIDTH], x[:, MODE_WIDTH:]
    saved = {}
    if family in ("ip_only", "dm_only"):
        h = x_ip if family == "ip_only" else x_dm
    elif family == "alternative":
        a = torch.baddbmm(params["ba"].transpose(1, 2), params["wa"].transpose(1, 2), x)  # (K, 2, B): one weight per mode
        h = torch.addcmul(a[:, :1] * x_ip, a[:, 1:], x_dm)
    elif family == "with":
        saved["log_alpha"], beta, emma = _emma(params, potentials, psi_min, coldness)
        saved.update(emma)
        h = (beta.unsqueeze(2) * x.unflatten(1, (N_MODES, MODE_WIDTH))).flatten(1, 2)  # β_i x_i
    else:
        h = x
    logits, inputs = _mlp_forward(params, h, len(LAYERS[family]) - 1)
    return logits, inputs, saved


def forward_columns(family: str, params: Mapping[str, torch.Tensor], x: torch.Tensor, potentials=None, psi_min=None, coldness=None):
    """:func:`emma.models.forward` on batch-last inputs: logits (K, B) and, for ``with``, log α (K, 2, B).

    ``x`` is (K, 8, B) and ``potentials`` (K, 2, B) (strided views are fine); the evaluation
    passes of :mod:`emma.sweep` use it, in the layout the training step computes in.
    """
    check_family(family)
    if not isinstance(x, torch.Tensor) or x.dim() != 3 or x.shape[1] != N_MODES * MODE_WIDTH:
        raise ValueError(f"x must be a tensor of shape (K, 8, B), got {getattr(x, 'shape', type(x))}")
    if family == "with" and any(v is None for v in (potentials, psi_min, coldness)):
        raise ValueError("family 'with' needs potentials (K, 2, B), psi_min (K, 2) and coldness (K,)")
    logits, _, saved = _forward(family, params, x, potentials, psi_min, coldness)
    return logits, saved.get("log_alpha")


def loss_and_gradients(family: str, params: Mapping[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor, *, pos_weight=None,
                       potentials=None, psi_min=None, coldness=None, lambda_c=None, lambda_e=None, omega_weights=None,
                       batch_last: bool = False):
    """Each model's training loss (K,) and the gradient of their sum, one tensor per parameter.

    Parameters
    ----------
    family : str
        One of :data:`emma.models.FAMILIES`.
    params : dict of str to Tensor
        As :func:`emma.models.init_parameters` makes them (leading axis K).
    x : Tensor, shape (K, B, 8)
        Each model's mini-batch.
    y : Tensor, shape (K, B) or (B,)
        Targets in {0, 1}.
    pos_weight : Tensor, shape (K,), optional
        Class weight of the pulsars per model.
    potentials, psi_min, coldness : ``with`` only
        As :func:`emma.models.forward`: (K, B, 2), (K, 2), (K,).
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
    logits, inputs, saved = _forward(family, params, x, potentials, psi_min, coldness)
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
