"""The six classifiers of the robustness study, written for K models at once.

Every model here is a set of tensors with a leading *model axis* K: a linear layer
is a weight (K, in, out) and a bias (K, 1, out), applied to a batch (K, B, in) with
one :func:`torch.baddbmm`. K models with different seeds or hyperparameters
therefore run as one batched computation (the sweep engine, :mod:`emma.engine.sweep`),
and K = 1 is the same code for one model.

The families are these (:numref:`tbl-api-families`).

.. table:: The families of the thesis's Experiment II (final version; layer sizes from its code).
   :name: tbl-api-families

   ===============  ===========================================================  ==============
   family           network                                                      trained on
   ===============  ===========================================================  ==============
   ``ip_only``      IP (4) → 2 → 1, ReLU                                         clean data
   ``dm_only``      DM (4) → 2 → 1, ReLU                                         clean data
   ``base``         both modes (8) → 8 → 4 → 1, ReLU                             clean data
   ``without``      ``base``, fine-tuned from the trained base                   corrupted data
   ``alternative``  a = x W_a + b_a (8 → 2, one unnormalised weight per mode),   corrupted data
                    fused a_1 x_IP + a_2 x_DM (4) → 2 → 1 (Shon et al., 2018)
   ``with``         EMMA (frozen autoencoders) → β_i x_i → the base network,      corrupted data
                    started from the trained base, trained end to end
   ===============  ===========================================================  ==============

Each is registered as an :class:`emma.engine.registry.Family` (at the end of this module), with
the hand-written gradients of :mod:`emma.engine.backprop` as its fast path; any other family
registered the same way trains in the same engine.
"""
from __future__ import annotations

import torch

from emma.engine.backprop import loss_and_gradients
from emma.engine.registry import Context, Family, register, registered
from emma.engine.thesis_models import (  # noqa: F401 (their names stay importable from here)
    CORRUPTED_TRAINING,
    FAMILIES,
    FROM_BASE,
    LAYERS,
    MODE_WIDTH,
    N_MODES,
    OFF_DIAGONAL,
    _emma_output,
    check_family,
    emma_columns,
    family_init,
    forward,
    forward_columns,
    init_parameters,
    mlp,
    mlp_columns,
    mlp_names,
)
from emma.method.attention import PARAMETER_NAMES, project_parameters_
from emma.method.regularizers import capacity, capacity_relu


def _thesis_forward(family: str):
    def forward_(params, x, context: Context) -> torch.Tensor:
        return forward_columns(family, params, x, context.potentials, context.psi_min, context.coldness)[0]

    return forward_


def _hand_written(family: str):
    """The fast path: :func:`emma.engine.backprop.loss_and_gradients`."""

    def gradients(params, x, y, context: Context, pos_weight=None):
        return loss_and_gradients(family, params, x, y, pos_weight=pos_weight, batch_last=True, potentials=context.potentials,
                                  psi_min=context.psi_min, coldness=context.coldness, lambda_c=context.lambda_c,
                                  lambda_e=context.lambda_e, omega_weights=context.omega_weights)

    return gradients


def _emma_attention(params, x, context: Context):
    """EMMA's logits and log α (K, 2, B) in one pass."""
    logits, _, quantities = forward_columns("with", params, x, context.potentials, context.psi_min, context.coldness)
    return logits, quantities["log_alpha"]


def emma_penalty(params, context: Context) -> torch.Tensor:
    """EMMA's terms of eq. 5.12 for K models: λ_c (g_a − b_a) − λ_e Ω, Ω = Σ_n Σ_i w log α; (K,).

    The energy term needs the call's ``potentials`` and ``omega_weights``; without weights the
    penalty is the capacity term alone (a missing λ counts as 0).
    """
    penalty = torch.zeros_like(params["gain"])
    if context.lambda_c is not None:
        penalty = penalty + context.lambda_c * (params["gain"] - params["bias"])
    if context.omega_weights is not None and context.lambda_e is not None:
        log_alpha = emma_columns(params, context.potentials, context.psi_min, context.coldness)["log_alpha"]
        penalty = penalty - context.lambda_e * (context.omega_weights * log_alpha).sum(dim=(1, 2))
    return penalty


def _emma_project(params) -> None:
    project_parameters_(*(params[name] for name in PARAMETER_NAMES))


def _emma_describe(params) -> dict[str, torch.Tensor]:
    return {"capacity": capacity(params["gain"], params["bias"]), "capacity_relu": capacity_relu(params["gain"], params["bias"])}  # eq. 5.11


_EMMA_HOOKS = {"uses_energies": True, "retrains": False, "project": _emma_project, "penalty": emma_penalty,
               "attention": _emma_attention, "describe": _emma_describe}

#: How figures and tables name the thesis's families.
LABELS = {"ip_only": "IP only", "dm_only": "DM only", "base": "base", "without": "data augmentation", "alternative": "attention fusion",
          "with": "EMMA"}

for _offset, _name in enumerate(FAMILIES):
    if _name not in registered():  # (a reload of this module keeps the first registration)
        register(Family(_name, family_init(_name), _thesis_forward(_name), corrupted_training=_name in CORRUPTED_TRAINING,
                        from_base=_name in FROM_BASE, gradients=_hand_written(_name), seed_offset=_offset, label=LABELS[_name],
                        **(_EMMA_HOOKS if _name == "with" else {})))
