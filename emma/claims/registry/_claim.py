"""A claim of the thesis (or of the book), as the registry holds it: :class:`Claim`."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

#: What a claim is, from the thesis's centre outwards (mirrors :data:`emma.claims.rules.KINDS`).
KINDS = ("core", "secondary", "book")
#: Where a quote can come from.
SOURCES = ("final", "draft", "slides", "book")
_ID = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Claim:
    """One claim: the sentence it tests, where that sentence is, and what would count as holding.

    Attributes
    ----------
    id : str
        A stable name, ``snake_case``; a claims row refers to its claim by it.
    claim : str
        The measurable proposition, in the book's words.
    kind : str
        *core* (the final thesis's abstract, its three contributions, its three research
        questions), *secondary* (another statement of the thesis) or *book* (a conjecture of the
        book beyond the thesis).
    source : str
        Where ``quote`` is from: ``"final"`` (the final thesis's LaTeX at commit ``7302713``),
        ``"draft"``, ``"slides"`` (the defense slides) or ``"book"`` (the book's own conjecture).
    quote : str
        The sentence the claim tests, verbatim (LaTeX markup removed; "…" marks a cut).
    location : str
        ``report/chapters/7-experiments.tex L181`` (final), ``§5.6`` (draft), ``p. 12``
        (slides), or the chapter of the book.
    test : str
        The test and the baseline it compares with.
    min_effect : float or None
        The smallest effect that matters, in ``unit``, fixed before the run; ``None`` for a
        claim judged case by case or by a rule of its own.
    unit : str
        The unit of the effect: "F1", "AUROC", "β", ...
    reason : str
        One line: why this minimum effect.
    """

    id: str
    claim: str
    kind: str
    source: str
    quote: str
    location: str
    test: str
    min_effect: float | None = None
    unit: str = ""
    reason: str = ""

    def __post_init__(self):
        if not isinstance(self.id, str) or not _ID.match(self.id):
            raise ValueError(f"id must be a snake_case name, got {self.id!r}")
        for field in ("claim", "quote", "location", "test"):
            if not isinstance(getattr(self, field), str) or not getattr(self, field).strip():
                raise ValueError(f"claim {self.id!r}: {field} must be a non-empty string, got {getattr(self, field)!r}")
        if self.kind not in KINDS:
            raise ValueError(f"claim {self.id!r}: kind must be one of {KINDS}, got {self.kind!r}")
        if self.source not in SOURCES:
            raise ValueError(f"claim {self.id!r}: source must be one of {SOURCES}, got {self.source!r}")
        if (self.source == "book") != (self.kind == "book"):
            raise ValueError(f"claim {self.id!r}: a book conjecture (kind 'book') has source 'book', and only it")
        if self.min_effect is not None:
            if isinstance(self.min_effect, bool) or not isinstance(self.min_effect, (int, float)) or not math.isfinite(self.min_effect):
                raise ValueError(f"claim {self.id!r}: min_effect must be a finite number or None, got {self.min_effect!r}")
            if not self.unit or not self.reason:
                raise ValueError(f"claim {self.id!r}: a min_effect needs its unit and a one-line reason")

    def columns(self) -> dict:
        """The claims-table columns the registry decides."""
        return {"claim": self.claim, "kind": self.kind, "quote": self.quote, "location": f"{self.source}: {self.location}",
                "test": self.test, "min_effect": float("nan") if self.min_effect is None else float(self.min_effect), "unit": self.unit,
                "min_effect_reason": self.reason}
