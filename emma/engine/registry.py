"""The family registry: what a model family is, so that any family plugs into the sweep engine.

A :class:`Family` says how to initialise one model's parameters, how K stacked models compute
their logits on batch-last inputs, and which parts of the engine it uses (corrupted training
data, a trained base model, the per-mode energies). :func:`register` adds one; the engine
(:class:`emma.engine.sweep.SweepEngine`) and :func:`emma.engine.families.init_parameters` look
it up by name with :func:`get_family`. The thesis's six families are registered by
:mod:`emma.engine.families` through the same call.

Every model's initial parameters come from a generator seeded ``1000 * seed + seed_offset``.
The thesis's six families have offsets 0–5 (their position in
:data:`emma.engine.families.FAMILIES`, as always); any other family gets
``6 + zlib.crc32(name) % 994`` unless it names its own, so a family's start depends only on
its name and the seed, never on the order in which families were registered.

Examples
--------
A logistic regression on both modes, trained by the engine like any thesis family::

    def init(generator, base=None):
        return {"w": torch.randn(8, 1, generator=generator) * 0.1, "b": torch.zeros(1, 1)}

    def forward(params, x, context):  # x (K, 8, B) -> logits (K, B)
        return (params["w"] * x).sum(dim=1) + params["b"][:, 0]

    register(Family("logistic", init, forward))
"""
from __future__ import annotations

import dataclasses
import zlib
from dataclasses import dataclass
from typing import Callable, Mapping

import torch

from emma.util.fingerprint import code_fingerprint

#: Offsets of the seeds of the thesis's families (their position in the results table).
THESIS_OFFSETS = {"ip_only": 0, "dm_only": 1, "base": 2, "without": 3, "alternative": 4, "with": 5}
#: Seed offsets lie in [0, SEED_STRIDE): the seed scheme is ``SEED_STRIDE * seed + offset``.
SEED_STRIDE = 1000


@dataclass(frozen=True)
class Context:
    """What K models' forward pass and penalty may read besides their parameters and inputs.

    Attributes
    ----------
    potentials : Tensor, shape (K, 2, B), optional
        Ψ of each mode of each sample (families with ``uses_energies``).
    psi_min : Tensor, shape (K, 2), optional
        Ψ_min of each mode per model (``uses_energies``).
    coldness : Tensor, shape (K,), optional
        ρ of each model (``uses_energies``).
    lambda_c, lambda_e : Tensor, shape (K,), optional
        Each model's penalty weights (the capacity and energy terms of eq. 5.12 for EMMA).
    omega_weights : Tensor, shape (K, 2, B), optional
        The weights of Ω = Σ_n Σ_i w log α, for families with attention scores; absent when
        the call has no Ω term (the penalty is then its parameter part only).
    """

    potentials: torch.Tensor | None = None
    psi_min: torch.Tensor | None = None
    coldness: torch.Tensor | None = None
    lambda_c: torch.Tensor | None = None
    lambda_e: torch.Tensor | None = None
    omega_weights: torch.Tensor | None = None


def default_seed_offset(name: str) -> int:
    """The seed offset of a family that names none: ``6 + crc32(name) % 994`` (the thesis's six use 0–5)."""
    return len(THESIS_OFFSETS) + zlib.crc32(name.encode("utf-8")) % (SEED_STRIDE - len(THESIS_OFFSETS))


@dataclass(frozen=True)
class Family:
    """A model family: K stacked models of it train as one computation in the sweep engine.

    Parameters
    ----------
    name : str
        Its name (the ``model`` column of a sweep's table).
    init : callable ``(generator, base) -> dict of str to Tensor``
        ONE model's initial parameters (no model axis), drawn from ``generator``; ``base`` is
        that model's trained base parameters (no model axis) for a ``from_base`` family, else None.
    forward : callable ``(params, x, context) -> Tensor (K, B)``
        The logits of K models (parameters with leading axis K) on batch-last inputs
        ``x`` (K, 8, B); ``context`` is a :class:`Context`.
    corrupted_training : bool
        Trained and validated on the seed's corrupted copy of the data (else on clean data).
    from_base : bool
        Starts from a trained ``base`` model of the same seed (``init`` receives it).
    uses_energies : bool
        Reads the per-mode potentials: the engine needs the autoencoders and fills
        ``potentials``, ``psi_min`` and ``coldness`` of the context; the protocol's fields
        about energies (:data:`emma.engine.protocol.EMMA_ONLY`) apply to it.
    retrains : bool
        Under a protocol with ``retrain=True`` it is retrained on train + validation (the
        original code did so for its baselines, not for EMMA).
    project : callable ``(params) -> None``, optional
        Puts the parameters back onto their constraint set in place, after every step.
    penalty : callable ``(params, context) -> Tensor (K,)``, optional
        Added to each model's mean cross-entropy in training. The original protocol's
        early-stopping pass over the training set calls it with a context without batch
        tensors (``potentials`` and ``omega_weights`` None): its parameter part.
    gradients : callable ``(params, x, y, context, pos_weight) -> (loss (K,), grads)``, optional
        A hand-written gradient of the loss (cross-entropy plus penalty) with respect to every
        parameter, same keys and shapes as ``params``: the engine's fast path. Without it the
        engine uses autograd.
    attention : callable ``(params, x, context) -> (logits (K, B), log α (K, M, B))``, optional
        For energy-based attention families: the forward pass with each mode's log importance
        score. The engine then records Ω (eq. 5.12) and gives the context Ω's weights.
    describe : callable ``(params) -> dict of str to Tensor (K,)``, optional
        Extra columns of the sweep's table computed from the trained parameters.
    seed_offset : int, optional
        In [0, 1000); :func:`default_seed_offset` of the name when omitted.
    label : str, optional
        How figures and prose name it (:func:`emma.util.plots.family_label`); its ``name`` when empty.
    """

    name: str
    init: Callable
    forward: Callable
    corrupted_training: bool = False
    from_base: bool = False
    uses_energies: bool = False
    retrains: bool = True
    project: Callable | None = None
    penalty: Callable | None = None
    gradients: Callable | None = None
    attention: Callable | None = None
    describe: Callable | None = None
    seed_offset: int | None = None
    label: str = ""

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(f"name must be a non-empty string, got {self.name!r}")
        if not isinstance(self.label, str):
            raise TypeError(f"label must be a string (how figures name the family; empty: its name), got {type(self.label).__name__}")
        for name in ("init", "forward"):
            if not callable(getattr(self, name)):
                raise TypeError(f"{name} must be callable, got {type(getattr(self, name)).__name__}")
        for name in ("project", "penalty", "gradients", "attention", "describe"):
            value = getattr(self, name)
            if value is not None and not callable(value):
                raise TypeError(f"{name} must be callable or None, got {type(value).__name__}")
        for name in ("corrupted_training", "from_base", "uses_energies", "retrains"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be a bool, got {getattr(self, name)!r}")
        offset = default_seed_offset(self.name) if self.seed_offset is None else self.seed_offset
        if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset < SEED_STRIDE:
            raise ValueError(f"seed_offset must be an integer in [0, {SEED_STRIDE}), got {self.seed_offset!r}")
        object.__setattr__(self, "seed_offset", offset)


#: Fields of a :class:`Family` that only say how it is shown, not what it trains: left out of its fingerprint.
_SHOWN_ONLY = ("label",)


def fingerprint(family) -> str:
    """A digest of what defines a registered family: its flags, seed offset and the code of every hook.

    Each hook (``init``, ``forward``, …) is digested by :func:`emma.util.fingerprint.code_fingerprint`:
    for a function written outside the package (in a chapter, say), its bytecode and constants and
    the values of the globals and closure variables it reads, recursively, so that changing a
    global ``WIDTH`` its ``init`` reads trains its models again; the package's and installed
    libraries' functions by their qualified name. Enters the cache key of a sweep
    (:func:`emma.engine.launch.run_sweep`); the digest is the same in every process for the same
    code and values. Where a hook reads something that cannot be fingerprinted, the digest is
    ``<uncacheable: …>`` naming it, and :func:`emma.util.cache.cached` trains without the cache,
    with a warning. (The thesis's six are keyed by name and :data:`emma.engine.sweep.ENGINE_VERSION`.)
    """
    family = get_family(family)
    fields = {f.name: getattr(family, f.name) for f in dataclasses.fields(family) if f.name not in _SHOWN_ONLY}
    return code_fingerprint(fields, f"family {family.name!r}")


_REGISTRY: dict[str, Family] = {}


def register(family: Family) -> Family:
    """Add ``family`` to the registry; returns it.

    Raises
    ------
    TypeError
        ``family`` is not a :class:`Family`.
    ValueError
        A family of that name is registered already, or one with the same seed offset
        (pass another ``seed_offset``).
    """
    if not isinstance(family, Family):
        raise TypeError(f"family must be an emma.engine.registry.Family, got {type(family).__name__}")
    if family.name in _REGISTRY:
        raise ValueError(f"family {family.name!r} is registered already; unregister it first")
    clash = [f.name for f in _REGISTRY.values() if f.seed_offset == family.seed_offset]
    if clash:
        raise ValueError(f"family {family.name!r}: seed_offset {family.seed_offset} is taken by {clash[0]!r}; pass another seed_offset")
    _REGISTRY[family.name] = family
    return family


def unregister(name: str) -> None:
    """Remove the family ``name`` (not one of the thesis's six) from the registry."""
    get_family(name)
    if name in THESIS_OFFSETS:
        raise ValueError(f"family {name!r} is one of the thesis's families and cannot be unregistered")
    del _REGISTRY[name]


def get_family(name) -> Family:
    """The registered family ``name``; a ValueError naming the registered ones otherwise."""
    if isinstance(name, Family):
        name = name.name
    if not isinstance(name, str) or name not in _REGISTRY:
        raise ValueError(f"family must be one of the registered families {registered()}, got {name!r}")
    return _REGISTRY[name]


def registered() -> tuple[str, ...]:
    """Names of every registered family, in the order of registration (the thesis's six first)."""
    return tuple(_REGISTRY)


def stack_parameters(per_model: list[Mapping[str, torch.Tensor]], what: str) -> dict[str, torch.Tensor]:
    """K models' parameter dicts (no model axis) as one dict with leading axis K; names ``what`` on mismatch."""
    names = list(per_model[0])
    for params in per_model[1:]:
        if list(params) != names:
            raise ValueError(f"{what} must give every model the same parameters, got {names} and {list(params)}")
    return {name: torch.stack([p[name] for p in per_model]) for name in names}
