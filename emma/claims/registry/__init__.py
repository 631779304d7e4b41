"""Every claim the book judges, anchored to its source: one registry.

A claim (:class:`Claim`) carries the sentence it tests, quoted, with its location in the final
thesis (file and line at commit ``7302713``), the draft (section) or the defense slides (page);
its kind; the test and baseline it is judged by; and, for a test, the **minimum effect** that
matters, fixed here with a one-line reason before any run. Chapters fill in the evidence
(:func:`emma.claims.rules.claims_table` looks each row's ``id`` up here) and never word a claim
themselves. A chapter outside the package (an extension) registers its own with :func:`register`.

The claims, by the chapter that judges them: :mod:`.background` (chapters 1–5),
:mod:`.robustness` (Experiment II and the conclusion), :mod:`.beyond` (the unified model, more
than two modes, beyond Gaussian noise).
"""
from __future__ import annotations

from emma.claims.registry import background, beyond, robustness
from emma.claims.registry._claim import KINDS, SOURCES, Claim

_REGISTRY: dict[str, Claim] = {}


def register(claim: Claim) -> Claim:
    """Add ``claim``; registering the same claim again is a no-op, another claim under its id an error."""
    if not isinstance(claim, Claim):
        raise TypeError(f"claim must be an emma.claims.registry.Claim, got {type(claim).__name__}")
    known = _REGISTRY.get(claim.id)
    if known is not None and known != claim:
        raise ValueError(f"a different claim is registered under the id {claim.id!r}; choose another id")
    _REGISTRY[claim.id] = claim
    return claim


def lookup(claim_id: str) -> Claim:
    """The registered claim ``claim_id``; an unknown id is an error naming it."""
    if not isinstance(claim_id, str) or claim_id not in _REGISTRY:
        raise ValueError(f"no claim is registered under the id {claim_id!r}: register it first (emma.claims.registry.register)")
    return _REGISTRY[claim_id]


def min_effect(claim_id: str) -> float:
    """The pre-declared minimum effect of ``claim_id`` (an error when it has none)."""
    claim = lookup(claim_id)
    if claim.min_effect is None:
        raise ValueError(f"claim {claim_id!r} declares no min_effect: it is not judged by a test of an effect")
    return float(claim.min_effect)


def all_claims() -> list[Claim]:
    """Every registered claim, in the order registered."""
    return list(_REGISTRY.values())


def register_failure_claims(failures, gaussian: str = "gaussian") -> list[str]:
    """Register :func:`emma.claims.registry.beyond.failure_claims_for` (again: a no-op) and return their ids, in order."""
    return [register(claim).id for claim in beyond.failure_claims_for(failures, gaussian)]


def _register_package_claims() -> None:
    for module in (background, beyond, robustness):
        for claim in module.CLAIMS:
            register(claim)


_register_package_claims()

__all__ = ["KINDS", "SOURCES", "Claim", "all_claims", "lookup", "min_effect", "register", "register_failure_claims"]
