"""What a finished sweep is: :class:`SweepResult`, one typed record per sweep, scored from the engine by :func:`sweep_result`.

:func:`emma.engine.launch.run_sweep` returns one; :func:`emma.engine.evaluation.select` and
:func:`~emma.engine.evaluation.apply_rules` derive others from it. Its fields are read as attributes
(``result.table``); a sweep cached as a dictionary by an earlier version is converted by
:meth:`SweepResult.of`.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import pandas as pd
import torch

from emma.engine.training import f1_many, f1_many_by_subset


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


def merge_results(parts) -> SweepResult:
    """Sweeps of one family and settings as one, their models in order (parts of one grid, or a first and a second stage).

    Raises
    ------
    ValueError
        No parts, or parts of different families or settings.
    """
    parts = [SweepResult.of(p) for p in parts]
    if not parts:
        raise ValueError("parts must hold at least one sweep result")
    for name in ("family", "settings"):
        if any(getattr(p, name) != getattr(parts[0], name) for p in parts):
            raise ValueError(f"parts must share one {name}, got {[getattr(p, name) for p in parts]}")
    out = parts[0].replace()
    out.table = pd.concat([p.table for p in parts], ignore_index=True)
    offsets = np.cumsum([0] + [len(p.table) for p in parts[:-1]])
    if all(p.curves is not None for p in parts):
        out.curves = pd.concat([p.curves.assign(model_index=p.curves["model_index"] + o) for p, o in zip(parts, offsets)], ignore_index=True)
    out.params = {name: torch.cat([p.params[name] for p in parts]) for name in parts[0].params}
    out.protocols = [q for p in parts for q in p.protocols]
    out.psi_min = None if parts[0].psi_min is None else torch.cat([p.psi_min for p in parts])
    out.timing = ({stage: max(p.timing[stage] for p in parts) for stage in parts[0].timing}  # parts of one sweep run at once
                  if all(p.timing for p in parts) else None)
    return out


@torch.no_grad()
def sweep_result(engine) -> SweepResult:
    """The :class:`SweepResult` of a fitted :class:`emma.engine.sweep.SweepEngine`, on the CPU: each test subset and the
    whole noisy test set scored as one call each, at each model's own threshold and at every decision rule's."""
    params = {name: value.detach() for name, value in engine.params.items()}
    test_rows = engine.all_rows(engine.test)
    subset = engine.test.corrupted[:, :, 0].long() + 2 * engine.test.corrupted[:, :, 1].long()  # (R, n): 0 clean, 1 IP, 2 DM
    by_subset = engine._forward(params, engine.test, test_rows, subset[engine.stream_of])[0]  # each test subset one call
    whole = engine.pass_losses(params, engine.test, test_rows)["logits"]  # the whole noisy test set one call
    p_subset, p_whole = torch.sigmoid(by_subset).cpu().numpy(), torch.sigmoid(whole).cpu().numpy()
    p_val = engine.val_probabilities.cpu().numpy()
    y_test, y_val = engine.test.y.cpu().numpy(), engine.val.y.cpu().numpy()
    stream = engine.stream_of.cpu().numpy()
    test_masks, val_masks = engine.test.corrupted.cpu().numpy()[stream], engine.val.corrupted.cpu().numpy()[stream]

    def scores(thresholds, suffix=""):
        t = np.asarray(thresholds).reshape(-1, 1)
        out = {f"f1_{n}{suffix}": v for n, v in f1_many_by_subset(p_subset >= t, y_test, test_masks).items()}
        out[f"f1_noisy_test{suffix}"] = f1_many(p_whole >= t, y_test)
        out.update({f"val_f1_{n}{suffix}": v for n, v in f1_many_by_subset(p_val >= t, y_val, val_masks).items()})
        return out

    rows = pd.DataFrame(scores(engine.thresholds))  # each model's own rule
    table = pd.concat([engine.configs.drop(columns="protocol"), rows], axis=1)
    table.insert(0, "model", engine.family)
    table.insert(5, "protocol", [p.label() for p in engine.protocols])
    table["threshold"] = engine.thresholds
    table["best_epoch"] = engine.best.epoch.cpu().numpy()
    table["best_loss"] = engine.best.loss.cpu().numpy()
    table["retrain_epochs"] = engine.retrain_epochs.cpu().numpy()
    if engine.spec.describe is not None:  # EMMA: its capacity (eq. 5.11)
        for name, values in engine.spec.describe(params).items():
            table[name] = values.cpu().numpy()
    for rule, thresholds in engine.rule_thresholds.items():  # every rule, for :func:`emma.engine.evaluation.apply_rules`
        for name, values in scores(thresholds, f"_at_{rule}").items():
            table[name] = values
        table[f"threshold_at_{rule}"] = thresholds
    epochs = engine.settings.epochs
    curves = pd.DataFrame({"model_index": torch.arange(engine.k).repeat_interleave(epochs).numpy(),
                           "epoch": torch.arange(1, epochs + 1).repeat(engine.k).numpy(),
                           **{name: value.numpy().ravel() for name, value in engine.curves.items()}})
    return SweepResult(family=engine.family, table=table, curves=curves, protocols=list(engine.protocols),
                       params={name: value.cpu() for name, value in params.items()}, settings=dataclasses.asdict(engine.settings),
                       psi_min=None if engine.psi_min is None else engine.psi_min.cpu())
