"""The thesis's six classifiers as batched computations: their layers, initialisation and forward pass.

K models of one family evaluated at once, parameters stacked on a leading axis: :func:`init_parameters`,
:func:`forward_columns` (each quantity laid out along the batch, what :mod:`emma.engine.backprop`
differentiates by hand) and :func:`forward`. :mod:`emma.engine.families` registers the six with the
engine (:mod:`emma.engine.registry`), the hand-written gradients as their fast path.
"""
from __future__ import annotations

import math
from typing import Mapping

import torch
import torch.nn.functional as F

from emma.engine.registry import SEED_STRIDE, Context, get_family, stack_parameters
from emma.method.attention import EULER, EMMAOutput, initial_parameters

#: The six model families, in the order of the thesis's results table.
FAMILIES = ("ip_only", "dm_only", "base", "without", "alternative", "with")
#: Families whose parameters start from a trained ``base`` model of the same seed.
FROM_BASE = ("without", "with")
#: Families trained and validated on corrupted data (the others on clean data).
CORRUPTED_TRAINING = ("without", "alternative", "with")
#: Layer widths of each family's multi-layer perceptron.
LAYERS = {
    "ip_only": (4, 2, 1),
    "dm_only": (4, 2, 1),
    "base": (8, 8, 4, 1),
    "without": (8, 8, 4, 1),
    "alternative": (4, 2, 1),
    "with": (8, 8, 4, 1),
}
N_MODES = 2
MODE_WIDTH = 4


def check_family(family: str) -> str:
    """Return ``family`` if it is one of the thesis's :data:`FAMILIES`, else raise a ValueError naming them.

    (Any registered family: :func:`emma.engine.registry.get_family`.)
    """
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")
    return family


def _linear_init(k: int, fan_in: int, fan_out: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """PyTorch's default nn.Linear initialisation, U(−1/√in, 1/√in), for weight and bias. Shapes (k, in, out), (k, 1, out)."""
    bound = 1.0 / math.sqrt(fan_in)
    weight = (torch.rand(k, fan_in, fan_out, generator=generator) * 2 - 1) * bound
    bias = (torch.rand(k, 1, fan_out, generator=generator) * 2 - 1) * bound
    return weight, bias


def family_init(family: str):
    """ONE model's initial parameters of a thesis family, from its generator (and trained base)."""

    def init(generator: torch.Generator, base: Mapping[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        params: dict[str, torch.Tensor] = {}
        if family == "alternative":
            params["wa"], params["ba"] = (t[0] for t in _linear_init(1, 2 * MODE_WIDTH, N_MODES, generator))
        if family not in FROM_BASE:
            widths = LAYERS[family]
            for i, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:])):
                params[f"w{i}"], params[f"b{i}"] = (t[0] for t in _linear_init(1, fan_in, fan_out, generator))
        if family == "with":
            params.update(initial_parameters(N_MODES, generator))
        if family in FROM_BASE:
            missing = [name for name in mlp_names("base") if name not in base]
            if missing:
                raise ValueError(f"base must hold {missing[0]!r} with leading axis K (got keys {sorted(base)})")
            params.update({name: base[name].detach().clone().cpu() for name in mlp_names("base")})
        return params

    return init


def init_parameters(family: str, seeds, *, base: Mapping[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """Initial parameters of K models of one registered family, one per entry of ``seeds``.

    A model's initial values depend only on its family and its seed, never on its
    position in the stack: two models with the same seed start equal (so the
    configurations of a sweep are compared from a common start). Its generator is seeded
    ``1000 * seed + offset``, the family's seed offset (:mod:`emma.engine.registry`).

    Parameters
    ----------
    family : str
        A registered family (:func:`emma.engine.registry.registered`), e.g. one of :data:`FAMILIES`.
    seeds : sequence of int, length K
        The seed of each model.
    base : dict of str to Tensor, optional
        For families that start from a trained base (``without`` and ``with``; required
        there): the trained ``base`` parameters of the same K models, each with leading axis K.

    Returns
    -------
    dict of str to Tensor
        Each with leading axis K. For the thesis's families: ``w0, b0, w1, b1, ...`` (K, in, out)
        and (K, 1, out) for the perceptron; ``wa, ba`` (K, 8, 2), (K, 1, 2) for ``alternative``;
        EMMA's parameters (:data:`emma.method.attention.PARAMETER_NAMES`) for ``with``.
    """
    spec = get_family(family)
    seeds = [int(s) for s in seeds]
    if not seeds or any(s < 0 for s in seeds):
        raise ValueError(f"seeds must be a non-empty list of non-negative integers, got {seeds!r}")
    k = len(seeds)
    if spec.from_base:
        if base is None:
            raise ValueError(f"family {spec.name!r} starts from a trained base model: pass base=<its parameters>")
        if not isinstance(base, Mapping) or any(not isinstance(v, torch.Tensor) or v.dim() == 0 or v.shape[0] != k for v in base.values()):
            raise ValueError(f"base must be a dict of tensors with leading axis K = {k}, got "
                             f"{ {n: tuple(getattr(v, 'shape', ())) for n, v in base.items()} if isinstance(base, Mapping) else type(base).__name__}")
    per_model = []
    for i, seed in enumerate(seeds):
        generator = torch.Generator().manual_seed(SEED_STRIDE * seed + spec.seed_offset)
        params = spec.init(generator, {n: v[i] for n, v in base.items()} if spec.from_base else None)
        if not isinstance(params, Mapping) or not params or not all(isinstance(v, torch.Tensor) for v in params.values()):
            raise TypeError(f"family {spec.name!r}: init must return a non-empty dict of tensors, got {type(params).__name__}")
        per_model.append(params)
    return stack_parameters(per_model, f"family {spec.name!r}: init")


def mlp_names(family: str) -> list[str]:
    """Names of the perceptron's tensors of ``family``: ``["w0", "b0", "w1", ...]``."""
    n_layers = len(LAYERS[check_family(family)]) - 1
    return [f"{kind}{i}" for i in range(n_layers) for kind in ("w", "b")]


def mlp_columns(params: Mapping[str, torch.Tensor], h: torch.Tensor, n_layers: int):
    """K perceptrons with ReLU between layers on batch-last inputs ``h`` (K, in, B): logits (K, B)
    ((K, out, B) for several outputs) and each layer's input.

    The layout every per-model computation here uses: a parameter of shape (K, out, 1) then
    broadcasts along a contiguous batch (several times cheaper on the CPU than along a last
    axis of a few features). A layer of one output is a weighted sum, cheaper than a
    batched matrix product.
    """
    inputs = []
    for i in range(n_layers):
        inputs.append(h)
        weight, bias = params[f"w{i}"], params[f"b{i}"]  # (K, in, out), (K, 1, out)
        if weight.shape[-1] == 1:
            h = (weight * h).sum(dim=1, keepdim=True) + bias
        else:
            h = torch.baddbmm(bias.transpose(1, 2), weight.transpose(1, 2), h)  # (K, out, B)
        if i < n_layers - 1:
            h = F.relu(h)
    return h.squeeze(1), inputs


def mlp(params: Mapping[str, torch.Tensor], h: torch.Tensor, n_layers: int) -> torch.Tensor:
    """K perceptrons with ReLU between layers; ``h`` (K, B, in) -> logits (K, B), or (K, B, out) for several outputs."""
    logits = mlp_columns(params, h.transpose(1, 2), n_layers)[0]
    return logits if logits.dim() == 2 else logits.transpose(1, 2)


#: The entries (0, 1) and (1, 0) of a flattened 2 × 2 matrix: one per mode.
OFF_DIAGONAL = slice(1, 3)  # entries (0, 1) and (1, 0) of a flattened 2 × 2 matrix


def _off_diagonal(matrix: torch.Tensor) -> torch.Tensor:
    """(K, 2, 2) -> (K, 2, 1): the entries (0, 1) and (1, 0), one per mode."""
    return matrix.flatten(1)[:, OFF_DIAGONAL].unsqueeze(-1)


def emma_columns(params: Mapping[str, torch.Tensor], potentials, psi_min, coldness) -> dict[str, torch.Tensor]:
    """EMMA's steps 2–4 for K models of two modes, in closed form, on batch-last potentials (K, 2, B).

    Eq. 5.2–5.7 as :func:`emma.method.attention.attention_scores` computes them, without its (M, M)
    loops: with two modes the shared energy of each mode has one term (e_01, e_10), and the
    Boltzmann distribution is a logistic function of the energy gap, log α_0 = log σ(ρ (E_1 − E_0)).
    ``tests/test_models.py`` checks values and gradients against ``vmap(attention_scores)``.

    Returns every intermediate quantity, each (K, 2, B): ``corrected`` (Ψ'), ``s`` (self
    energies), ``log_s``, ``t`` (s_i^γ s_j^(1−γ)), ``cross`` (shared energies), ``modal``,
    ``log_alpha``, ``alpha``, ``beta``; and ``gamma`` (K, 2, 1).
    """
    corrected = torch.clamp_min(potentials - psi_min.unsqueeze(-1) + EULER, EULER)  # eq. 5.2
    s = torch.addcmul(params["self_bias"].unsqueeze(-1), params["self_weight"].unsqueeze(-1), corrected)  # eq. 5.3
    log_s = torch.log(s)
    gamma = _off_diagonal(params["shared_gamma"])
    t = torch.exp(torch.lerp(log_s.flip(1), log_s, gamma))
    cross = _off_diagonal(params["shared_weight"]) * t  # eq. 5.4
    modal = s + cross  # eq. 5.5
    logits = -coldness.view(-1, 1, 1) * modal
    gap = logits[:, :1] - logits[:, 1:]
    log_alpha = F.logsigmoid(torch.cat([gap, -gap], dim=1))  # eq. 5.6
    alpha = torch.exp(log_alpha)
    beta = F.relu(torch.tanh(params["gain"].view(-1, 1, 1) * alpha - params["bias"].view(-1, 1, 1)))  # eq. 5.7
    return {"corrected": corrected, "s": s, "log_s": log_s, "gamma": gamma, "t": t, "cross": cross, "modal": modal,
            "log_alpha": log_alpha, "alpha": alpha, "beta": beta}


def _emma_output(quantities: dict[str, torch.Tensor], potentials: torch.Tensor, coldness: torch.Tensor) -> EMMAOutput:
    """:func:`emma_columns`' quantities as an :class:`~emma.method.attention.EMMAOutput` with leading axes (K, B); ``potentials`` (K, B, 2)."""
    q = {name: value.transpose(1, 2) for name, value in quantities.items() if name != "gamma"}  # each (K, B, 2)
    zero = torch.zeros_like(q["cross"][..., :1])
    shared = torch.cat([zero, q["cross"][..., :1], q["cross"][..., 1:], zero], dim=-1).unflatten(-1, (2, 2))  # (K, B, 2, 2)
    return EMMAOutput(potentials=potentials, corrected_potentials=q["corrected"], self_energies=q["s"], shared_energies=shared,
                      modal_energies=q["modal"], alpha=q["alpha"], log_alpha=q["log_alpha"], beta=q["beta"],
                      total_energy=q["modal"].sum(dim=-1),
                      log_partition=-coldness.view(-1, 1) * q["modal"][..., 1] - q["log_alpha"][..., 1])  # log Z = −ρE_1 − log α_1


def _fuse_ip(params, x, potentials, psi_min, coldness):
    return x[:, :MODE_WIDTH], {}


def _fuse_dm(params, x, potentials, psi_min, coldness):
    return x[:, MODE_WIDTH:], {}


def _fuse_both(params, x, potentials, psi_min, coldness):
    return x, {}


def _fuse_alternative(params, x, potentials, psi_min, coldness):
    a = torch.baddbmm(params["ba"].transpose(1, 2), params["wa"].transpose(1, 2), x)  # (K, 2, B): one unnormalised weight per mode
    return torch.addcmul(a[:, :1] * x[:, :MODE_WIDTH], a[:, 1:], x[:, MODE_WIDTH:]), {}  # a_1 x_IP + a_2 x_DM


def _fuse_emma(params, x, potentials, psi_min, coldness):
    if any(v is None for v in (potentials, psi_min, coldness)):
        raise ValueError("family 'with' needs potentials (K, 2, B), psi_min (K, 2) and coldness (K,)")
    emma = emma_columns(params, potentials, psi_min, coldness)
    return (emma["beta"].unsqueeze(2) * x.unflatten(1, (N_MODES, MODE_WIDTH))).flatten(1, 2), emma  # β_i x_i


#: What each thesis family feeds its perceptron: ``(params, x, potentials, psi_min, coldness) -> (h, EMMA's quantities)``.
_FUSION = {"ip_only": _fuse_ip, "dm_only": _fuse_dm, "base": _fuse_both, "without": _fuse_both,
           "alternative": _fuse_alternative, "with": _fuse_emma}


def forward_columns(family: str, params: Mapping[str, torch.Tensor], x: torch.Tensor, potentials=None, psi_min=None, coldness=None):
    """The logits of a thesis family (:func:`forward`) on batch-last inputs ``x`` (K, 8, B), ``potentials`` (K, 2, B).

    Returns logits (K, B), each perceptron layer's input (K, in, B), and for ``with`` EMMA's
    quantities (:func:`emma_columns`; empty otherwise): what :mod:`emma.engine.backprop` differentiates.
    """
    check_family(family)
    if not isinstance(x, torch.Tensor) or x.dim() != 3 or x.shape[1] != N_MODES * MODE_WIDTH:
        raise ValueError(f"x must be a tensor of shape (K, {N_MODES * MODE_WIDTH}, B), got {getattr(x, 'shape', type(x))}")
    h, emma = _FUSION[family](params, x, potentials, psi_min, coldness)
    logits, inputs = mlp_columns(params, h, len(LAYERS[family]) - 1)
    return logits, inputs, emma


def forward(
    family: str,
    params: Mapping[str, torch.Tensor],
    x: torch.Tensor,
    potentials: torch.Tensor | None = None,
    psi_min: torch.Tensor | None = None,
    coldness: torch.Tensor | None = None,
) -> tuple[torch.Tensor, EMMAOutput | None]:
    """Logits of K models of one family on their batches.

    Parameters
    ----------
    family : str
        A registered family, e.g. one of :data:`FAMILIES`.
    params : dict of str to Tensor
        As made by :func:`init_parameters` (leading axis K).
    x : Tensor, shape (K, B, 8)
        Standardized samples, both modes (IP columns 0–3, DM columns 4–7).
    potentials : Tensor, shape (K, B, 2), ``with`` only
        Ψ_IP and Ψ_DM of each sample (from the frozen autoencoders).
    psi_min : Tensor, shape (2,) or (K, 2), ``with`` only
        Ψ_min of each mode (per model when the models use different autoencoders).
    coldness : Tensor, shape (K,), ``with`` only
        ρ of each model.

    Returns
    -------
    logits : Tensor, shape (K, B)
    emma : EMMAOutput or None
        For ``with``: EMMA's intermediate quantities, each with leading axes (K, B).
    """
    spec = get_family(family)
    if not isinstance(x, torch.Tensor) or x.dim() != 3 or x.shape[-1] != 2 * MODE_WIDTH:
        raise ValueError(f"x must be a tensor of shape (K, B, {2 * MODE_WIDTH}), got {getattr(x, 'shape', type(x))}")
    if family not in FAMILIES:  # a registered family: its own forward pass, batch-last
        if psi_min is not None and psi_min.dim() == 1:
            psi_min = psi_min.expand(x.shape[0], -1)
        context = Context(potentials=None if potentials is None else potentials.transpose(1, 2), psi_min=psi_min, coldness=coldness)
        return spec.forward(params, x.transpose(1, 2), context), None
    if family != "with":
        return forward_columns(family, params, x.transpose(1, 2))[0], None
    if potentials is None or psi_min is None or coldness is None:
        raise ValueError("family 'with' needs potentials (K, B, 2), psi_min (2,) and coldness (K,)")
    if potentials.shape != x.shape[:2] + (N_MODES,):
        raise ValueError(f"potentials must have shape {tuple(x.shape[:2]) + (N_MODES,)}, got {tuple(potentials.shape)}")
    psi_min = psi_min.expand(x.shape[0], -1) if psi_min.dim() == 1 else psi_min
    logits, _, quantities = forward_columns(family, params, x.transpose(1, 2), potentials.transpose(1, 2), psi_min, coldness)
    return logits, _emma_output(quantities, potentials, coldness)


# ----------------------------------------------------------------------------- the registered thesis families
