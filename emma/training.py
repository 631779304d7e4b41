"""The thesis's training and evaluation protocol, for K models at once.

* loss: binary cross-entropy on logits, each model's mean over its mini-batch
  (no class weight: the thesis text mentions one, its code had it commented out);
  for ``with`` plus λ_c (g_a − b_a) − λ_e Ω (eq. 5.12);
* optimiser: Adam, lr 1e-3. One :class:`torch.optim.Adam` over tensors stacked on
  the model axis is K independent Adams, since Adam's update is elementwise and the
  summed loss gives each model the gradient of its own loss;
* early stopping: each model keeps its parameters of the epoch with its lowest
  validation loss (:class:`BestState`);
* threshold: the one of 21 thresholds in [0, 1] closest to the ROC corner
  (FPR 0, TPR 1) on the validation set (:func:`select_threshold`);
* metric: F1 on the test set, separately on clean, IP-noisy and DM-noisy samples
  (:func:`f1_by_subset`).
"""
from __future__ import annotations

from typing import Mapping

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import f1_score, roc_curve

#: The 21 candidate decision thresholds of the thesis.
THRESHOLDS = np.linspace(0.0, 1.0, 21)
#: Names of the test subsets F1 is reported on, and the mask pattern (IP noisy, DM noisy) of each.
SUBSETS = {"clean": (False, False), "ip_noisy": (True, False), "dm_noisy": (False, True)}


def bce_per_model(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy on logits, averaged over each model's batch.

    Parameters
    ----------
    logits : Tensor, shape (K, B)
    y : Tensor, shape (K, B) or (B,)
        Targets in {0, 1}.

    Returns
    -------
    Tensor, shape (K,)
    """
    if logits.dim() != 2:
        raise ValueError(f"logits must have shape (K, B), got {tuple(logits.shape)}")
    y = y.expand_as(logits)
    return F.binary_cross_entropy_with_logits(logits, y, reduction="none").mean(dim=1)


def roc_points(probabilities, y, thresholds=THRESHOLDS) -> tuple[np.ndarray, np.ndarray]:
    """(FPR, TPR) of the rule "pulsar when p ≥ t" at each threshold t, read off :func:`sklearn.metrics.roc_curve`.

    Parameters
    ----------
    probabilities : array-like, shape (n,)
        Predicted probability of the positive class.
    y : array-like, shape (n,)
        True class, 0 or 1; both classes must occur.
    thresholds : array-like, shape (T,)

    Returns
    -------
    fpr, tpr : numpy.ndarray, shape (T,)
    """
    p = np.asarray(probabilities, dtype=np.float64).ravel()
    y = np.asarray(y).ravel()
    if p.shape != y.shape:
        raise ValueError(f"probabilities and y must have the same length, got {p.shape} and {y.shape}")
    if not set(np.unique(y)) <= {0, 1} or len(np.unique(y)) != 2:
        raise ValueError("y must hold both classes 0 and 1 (and nothing else)")
    fpr, tpr, cut = roc_curve(y, p, drop_intermediate=False)  # cut decreasing, cut[0] = inf
    # The rule p ≥ t gives the ROC point of the last cut that is still ≥ t.
    index = np.searchsorted(-cut, -np.asarray(thresholds, dtype=np.float64), side="right") - 1
    return fpr[index], tpr[index]


def select_threshold(probabilities, y, thresholds=THRESHOLDS) -> float:
    """The threshold whose ROC point is closest to the corner (FPR 0, TPR 1); the lowest one on ties.

    Parameters
    ----------
    probabilities : array-like, shape (n,)
        Validation-set probabilities of the positive class.
    y : array-like, shape (n,)
        Validation-set classes.
    thresholds : array-like, shape (T,)
        Candidates; the thesis's 21 points of [0, 1] by default.

    Returns
    -------
    float

    Examples
    --------
    >>> select_threshold([0.1, 0.4, 0.6, 0.9], [0, 0, 1, 1])
    0.45
    """
    fpr, tpr = roc_points(probabilities, y, thresholds)
    distance = np.hypot(fpr, 1.0 - tpr)
    return float(np.asarray(thresholds)[int(np.argmin(distance))])


def select_thresholds(probabilities: torch.Tensor, y: torch.Tensor, thresholds=THRESHOLDS) -> np.ndarray:
    """:func:`select_threshold` for each of K models; ``probabilities`` (K, n), ``y`` (n,) or (K, n). Returns (K,)."""
    p = probabilities.detach().cpu().numpy()
    y = np.broadcast_to(y.detach().cpu().numpy(), p.shape)
    return np.array([select_threshold(p[k], y[k], thresholds) for k in range(len(p))])


def f1_by_subset(predicted, y, corrupted) -> dict[str, float]:
    """F1 of binary predictions on the clean, IP-noisy and DM-noisy samples separately.

    Parameters
    ----------
    predicted : array-like of bool or {0, 1}, shape (n,)
    y : array-like, shape (n,)
        True classes.
    corrupted : array-like of bool, shape (n, 2)
        Which mode (IP, DM) of each sample is noisy.

    Returns
    -------
    dict
        ``{"clean": F1, "ip_noisy": F1, "dm_noisy": F1}`` (:func:`sklearn.metrics.f1_score`;
        NaN for a subset with no samples).
    """
    predicted = np.asarray(predicted).astype(int).ravel()
    y = np.asarray(y).astype(int).ravel()
    corrupted = np.asarray(corrupted).astype(bool)
    if corrupted.shape != (len(y), 2) or predicted.shape != y.shape:
        raise ValueError(
            f"predicted (n,), y (n,) and corrupted (n, 2) must agree, got {predicted.shape}, {y.shape}, {corrupted.shape}"
        )
    out = {}
    for name, (ip, dm) in SUBSETS.items():
        rows = (corrupted[:, 0] == ip) & (corrupted[:, 1] == dm)
        out[name] = float(f1_score(y[rows], predicted[rows], zero_division=0.0)) if rows.any() else float("nan")
    return out


class BestState:
    """Early stopping for K models at once: each keeps its parameters at its lowest validation loss.

    Everything stays on the device (no host synchronisation per epoch).

    Parameters
    ----------
    params : dict of str to Tensor
        The models' parameters, each with leading axis K.
    """

    def __init__(self, params: Mapping[str, torch.Tensor]):
        self.params = {name: value.detach().clone() for name, value in params.items()}
        k = next(iter(params.values())).shape[0]
        device = next(iter(params.values())).device
        self.loss = torch.full((k,), float("inf"), device=device)
        self.epoch = torch.zeros(k, dtype=torch.long, device=device)

    @torch.no_grad()
    def update(self, epoch: int, val_loss: torch.Tensor, params: Mapping[str, torch.Tensor]) -> None:
        """Keep ``params`` of the models whose ``val_loss`` (K,) is below their best so far."""
        improved = val_loss < self.loss  # (K,)
        self.loss = torch.where(improved, val_loss, self.loss)
        self.epoch = torch.where(improved, torch.full_like(self.epoch, epoch), self.epoch)
        for name, value in params.items():
            mask = improved.view(-1, *([1] * (value.dim() - 1)))
            self.params[name] = torch.where(mask, value.detach(), self.params[name])
