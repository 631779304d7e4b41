"""What a finished sweep is: :class:`SweepResult`, one typed record per sweep.

:func:`emma.engine.launch.run_sweep` returns one; :func:`emma.engine.evaluation.select` and
:func:`~emma.engine.evaluation.apply_rules` derive others from it. Its fields can also be read
by name, ``result["table"]`` as ``result.table``, so code written against the earlier
dictionaries (and sweeps cached as dictionaries) keeps working.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping

import pandas as pd
import torch


@dataclass
class SweepResult:
    """The models of one sweep, trained and scored.

    Attributes
    ----------
    family : str
        The registered family of every model (:mod:`emma.engine.registry`).
    table : DataFrame
        One row per model: its configuration, ``protocol`` label, F1 per test subset (each
        scored as one call) and on the whole noisy test set, validation F1, ``threshold``,
        ``best_epoch``, ``best_loss``, ``retrain_epochs``, each decision rule's scores
        (``*_at_<rule>``) and the family's own columns (EMMA's ``capacity``).
    curves : DataFrame
        Per model and epoch: ``train_loss``, ``val_loss``, ``stop_loss``.
    params : dict of str to Tensor
        The final parameters, leading axis K (one row per model of ``table``).
    protocols : list of Protocol
        Each model's protocol.
    settings : dict
        The :class:`~emma.engine.configs.TrainSettings` the sweep trained with, as a mapping.
    psi_min : Tensor or None
        Ψ_min of each model (K, 2) for families that use energies.
    seconds : float, optional
        Wall time of training and scoring (absent for a sweep derived by selection).
    timing : dict, optional
        Seconds to build the engine, to fit and to score.
    """

    family: str
    table: pd.DataFrame
    curves: pd.DataFrame | None = field(default=None, repr=False)
    params: dict = field(default_factory=dict, repr=False)
    protocols: list = field(default_factory=list, repr=False)
    settings: dict = field(default_factory=dict, repr=False)
    psi_min: torch.Tensor | None = field(default=None, repr=False)
    seconds: float | None = None
    timing: dict | None = field(default=None, repr=False)

    @classmethod
    def of(cls, value: "SweepResult | Mapping[str, Any]") -> "SweepResult":
        """``value`` as a SweepResult (a mapping with the same keys, such as a sweep cached before this class, is converted)."""
        if isinstance(value, cls):
            return value
        if not isinstance(value, Mapping):
            raise TypeError(f"value must be a SweepResult or a mapping of its fields, got {type(value).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(value) - names)
        if unknown:
            raise ValueError(f"value has keys {unknown} that a SweepResult does not have (fields: {sorted(names)})")
        return cls(**value)

    def replace(self, **changes) -> "SweepResult":
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    # read (and, for the transition, write) fields by name, as the dictionaries of earlier versions
    def __getitem__(self, name: str):
        if name not in self.keys():
            raise KeyError(name)
        return getattr(self, name)

    def __setitem__(self, name: str, value) -> None:
        if name not in self.keys():
            raise KeyError(f"a SweepResult has no field {name!r}")
        setattr(self, name, value)

    def __contains__(self, name) -> bool:
        return name in self.keys()

    def get(self, name: str, default=None):
        return getattr(self, name) if name in self.keys() else default

    def keys(self) -> list[str]:
        return [f.name for f in dataclasses.fields(self)]

    def __iter__(self):
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.keys())
