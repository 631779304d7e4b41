"""The experimental protocol as one object: what the book does, and what the thesis's code did.

The thesis's text describes one protocol for its robustness study; its public code
(github.com/awerenne/energy-based-multimodal-attention, ``code/experiment-3/main.py``
and ``code/data/data.py``) followed another. The book's appendix "The original code, step
by step" (``book/original_code.md``) gives each difference a section, with links to the
code's lines; each field of :class:`Protocol` is one of them and cites its section's label
(``source`` in :meth:`Protocol.table`), written below as "(appendix: label)".

Two named instances:

* :data:`SOUND`, the book's protocol and its headline numbers;
* :data:`ORIGINAL`, everything as the code did, replayed only to explain the
  thesis's numbers.

Every experiment function (:func:`emma.engine.launch.run_sweep`, :mod:`emma.engine.evaluation`,
:mod:`emma.experiments.study`) takes a ``Protocol``; the cache key of a sweep holds the fields
that can change its models (:meth:`Protocol.key`).

Examples
--------
>>> ORIGINAL.differences(SOUND)[:3]
['corruption_in_place', 'autoencoders_on_corrupted', 'early_stopping']
>>> SOUND.switch(potential="batch_coupled").potential
'batch_coupled'
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import pandas as pd

#: Allowed values of the fields that take one of a few words.
CHOICES = {
    "early_stopping": ("validation", "training"),
    "potential": ("per_sample", "batch_coupled"),
    "omega": ("mean", "code"),
    "init": ("per_seed", "shared"),
    "selection": ("validation", "test"),
    "threshold": ("roc_corner", "f1_validation", "fixed"),
}
#: Fields that change how the ``with`` models train, but not the baselines.
EMMA_ONLY = ("autoencoders_on_corrupted", "potential", "omega", "init")
#: Fields that change only how finished models are scored or chosen, never their training: the
#: threshold is picked after training (before any retraining), and a sweep keeps every rule's scores.
EVALUATION_ONLY = ("selection", "threshold")


def _doc(text: str, default):
    return field(default=default, metadata={"doc": text})


@dataclass(frozen=True)
class Protocol:
    """One value per difference between the book's protocol and the original code's.

    Attributes
    ----------
    corruption_in_place : bool
        The code's ``apply_corruption`` writes its noise into the array it
        is given, so after the three calls the "clean" training, validation and test sets
        carry the noisy copy's draw, unpermuted: the base, IP-only and DM-only models train
        and pick their threshold on half-corrupted data, and the generalisation curves add
        their noise to a test set already corrupted at σ = 0.5. False: clean sets are clean.
        (appendix: original-in-place-corruption)
    autoencoders_on_corrupted : bool
        The autoencoders and Ψ_min are fitted on that half-corrupted
        training set (True), or on the clean training set (False). (appendix: original-psi-min)
    early_stopping : {"validation", "training"}
        The curve whose lowest point picks the epoch: the validation
        cross-entropy, or the code's loss on the *training* set, with both regularizers
        for ``with`` (mini-batches of 32, shuffled afresh). (appendix: original-early-stopping)
    retrain : bool
        After the threshold is chosen on the early-stopped model, the code
        trains the baselines ``best_epoch`` more epochs on train + validation from the
        restored optimizer state and keeps the threshold; EMMA models never update
        ``best_epoch`` and so retrain 0 epochs. ``with`` and ``without`` start from the
        retrained base. (appendix: original-retrain)
    potential : {"per_sample", "batch_coupled"}
        Ψ per sample (eq. 4.7), or the code's ½‖X − b_r‖² summed over
        the whole batch of each call: mini-batches of 32 in training, the whole validation
        set for the threshold, each test subset for the table, the whole noisy test set
        for the ranking, the whole test set per noise level for the curves. Ψ_min is then
        the lowest coupled potential over mini-batches of 32 of the training set.
        (appendix: original-coupled-potential)
    omega : {"mean", "code"}
        Ω of eq. 5.12 (ξ = −1 on corrupted modes, +1 elsewhere) averaged
        over the batch, or the code's ``regul_loss``: weight +1 on the clean mode of each
        sample with a corrupted mode, 0 elsewhere, summed over the batch. (appendix: original-omega)
    init : {"per_seed", "shared"}
        Both start every configuration of a seed from one EMMA draw in front
        of one copy of that seed's base. "per_seed" (the book) also gives every
        configuration of a seed the same mini-batch order (common random numbers);
        "shared" is the code's single unseeded run, where each configuration drew its own
        order from the running global generator. (appendix: original-shared-init)
    selection : {"validation", "test"}
        The configuration is chosen by its mean validation F1 on noisy
        samples over seeds, or by its F1 on the whole noisy *test* set (the thesis).
        (appendix: original-ranking)
    threshold : {"roc_corner", "f1_validation", "fixed"}
        The decision threshold: the one of 21 in [0, 1] closest to the validation ROC
        corner (thesis text and code), the one with the best validation F1, or 0.5.
        (appendix: original-threshold)
    class_weight : float or None
        ``pos_weight`` of the cross-entropy; the code's line with 10 is
        commented out (None). (appendix: original-class-weight)
    drop_last : bool
        The code's loops ``range(0, n − 32, 32)`` skip the last (partial) mini-batch of
        every pass (True); the book uses every sample (False). (appendix: original-drop-last)
    """

    corruption_in_place: bool = _doc("original-in-place-corruption", False)
    autoencoders_on_corrupted: bool = _doc("original-psi-min", False)
    early_stopping: str = _doc("original-early-stopping", "validation")
    retrain: bool = _doc("original-retrain", False)
    potential: str = _doc("original-coupled-potential", "per_sample")
    omega: str = _doc("original-omega", "mean")
    init: str = _doc("original-shared-init", "per_seed")
    selection: str = _doc("original-ranking", "validation")
    threshold: str = _doc("original-threshold", "roc_corner")
    class_weight: float | None = _doc("original-class-weight", None)
    drop_last: bool = _doc("original-drop-last", False)

    def __post_init__(self):
        for name in ("corruption_in_place", "autoencoders_on_corrupted", "retrain", "drop_last"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be True or False, got {getattr(self, name)!r}")
        for name, allowed in CHOICES.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        weight = self.class_weight
        if weight is not None and (isinstance(weight, bool) or not isinstance(weight, (int, float)) or not weight > 0):
            raise ValueError(f"class_weight must be None or a positive number, got {weight!r}")

    @classmethod
    def fields(cls) -> list[str]:
        """The field names, in declaration order."""
        return [f.name for f in dataclasses.fields(cls)]

    def switch(self, **changes) -> "Protocol":
        """A copy with some fields changed (each validated); unknown names raise."""
        unknown = sorted(set(changes) - set(self.fields()))
        if unknown:
            raise ValueError(f"Protocol has no field(s) {unknown}; fields are {self.fields()}")
        return dataclasses.replace(self, **changes)

    def differences(self, other: "Protocol") -> list[str]:
        """Names of the fields where ``self`` and ``other`` differ, in field order."""
        if not isinstance(other, Protocol):
            raise TypeError(f"other must be a Protocol, got {type(other).__name__}")
        return [name for name in self.fields() if getattr(self, name) != getattr(other, name)]

    def key(self, family: str) -> dict:
        """The fields that can change the trained models of ``family`` (for cache keys and deduplication).

        The fields about energies (:data:`EMMA_ONLY`) count only for a family that uses them.
        """
        from emma.engine.registry import get_family  # the registry is filled by emma.engine.families

        skip = set(EVALUATION_ONLY) | (set() if get_family(family).uses_energies else set(EMMA_ONLY))
        return {name: getattr(self, name) for name in self.fields() if name not in skip}

    def label(self) -> str:
        """``"sound"``, ``"original"`` or the fields that differ from SOUND, for table rows."""
        if self == SOUND:
            return "sound"
        if self == ORIGINAL:
            return "original"
        return "sound but " + ", ".join(f"{n}={getattr(self, n)!r}" for n in self.differences(SOUND))

    def table(self) -> pd.DataFrame:
        """One row per field: ``field``, ``value`` (as text, ``None`` included), ``source``.

        ``source`` is the label of the field's section in the book's appendix "The original
        code, step by step" (``book/original_code.md``).
        """
        return pd.DataFrame(
            [{"field": f.name, "value": str(getattr(self, f.name)), "source": f.metadata["doc"]} for f in dataclasses.fields(self)]
        )


#: The book's protocol: clean sets clean, early stopping on validation, no retraining,
#: per-sample potential, eq. 5.12, common random numbers, selection on validation.
SOUND = Protocol()

#: Everything as the thesis's code did (the appendix "The original code, step by step").
ORIGINAL = Protocol(
    corruption_in_place=True,
    autoencoders_on_corrupted=True,
    early_stopping="training",
    retrain=True,
    potential="batch_coupled",
    omega="code",
    init="shared",
    selection="test",
    threshold="roc_corner",
    class_weight=None,
    drop_last=True,
)

#: The order in which the decomposition switches ORIGINAL's fields to SOUND's, cumulatively:
#: first what changes the data every model sees, then training, then EMMA's own terms, then selection.
SWITCH_ORDER = (
    "corruption_in_place",
    "autoencoders_on_corrupted",
    "early_stopping",
    "retrain",
    "drop_last",
    "potential",
    "omega",
    "init",
    "selection",
)


#: Switches of the decomposition where SOUND and ORIGINAL agree but the code itself offers another
#: value: the fixed threshold its models keep unless the ROC rule overrides it, and the class
#: weight of its commented-out line (appendix: original-threshold, original-class-weight).
#: Each is switched alone from ORIGINAL (a *single* step); they are not part of the cumulative path.
EXTRA_SWITCHES = (("threshold", "fixed"), ("class_weight", 10.0))


def decomposition_steps(start: Protocol = ORIGINAL, end: Protocol = SOUND, order=SWITCH_ORDER, extra=EXTRA_SWITCHES) -> list[dict]:
    """The protocols of the decomposition: each field switched alone, then all cumulatively.

    Parameters
    ----------
    extra : sequence of (field, value)
        Single switches to values that neither endpoint has (:data:`EXTRA_SWITCHES`).

    Returns
    -------
    list of dict
        ``{"switch": field, "step": "single" | "cumulative", "protocol": Protocol}``; the
        singles first (``start`` with one field of ``end``, then the ``extra`` ones), then the
        cumulative steps in ``order`` (the last one equals ``end`` on every field of ``order``).

    Examples
    --------
    >>> steps = decomposition_steps()
    >>> steps[-1]["protocol"] == SOUND, len(steps)
    (True, 20)
    """
    order = list(order)
    differ = set(start.differences(end))
    missing = sorted(differ - set(order))
    if missing:
        raise ValueError(f"order must name every field where start and end differ; missing {missing}")
    steps, current = [], start
    for name in order:
        steps.append({"switch": name, "step": "single", "protocol": start.switch(**{name: getattr(end, name)})})
    for name, value in extra:
        steps.append({"switch": name, "step": "single", "protocol": start.switch(**{name: value})})
    for name in order:
        current = current.switch(**{name: getattr(end, name)})
        steps.append({"switch": name, "step": "cumulative", "protocol": current})
    return steps
