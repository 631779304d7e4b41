"""The thesis's losses, decision thresholds and scores, for K models at once.

* loss: binary cross-entropy on logits, each model's mean over its mini-batch
  (no class weight: the thesis text mentions one, its code had it commented out);
  for ``with`` plus λ_c (g_a − b_a) − λ_e Ω (eq. 5.12);
* optimiser: Adam, lr 1e-3, and early stopping at each model's lowest stopping loss,
  for K stacked models (:mod:`emma.engine.optim`);
* threshold: the one of 21 thresholds in [0, 1] closest to the ROC corner
  (FPR 0, TPR 1) on the validation set (:func:`select_threshold`), or one of the
  other rules of :data:`THRESHOLD_RULES`;
* metric: F1 on the test set, separately on clean, IP-noisy and DM-noisy samples
  (:func:`f1_by_subset`).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import f1_score, roc_curve

#: The 21 candidate decision thresholds of the thesis.
THRESHOLDS = np.linspace(0.0, 1.0, 21)
#: The threshold a model of the original code keeps unless the ROC-corner rule overrides it
#: (``self.threshold = 0.5`` in its ``MLP.__init__``); the rule ``"fixed"``.
FIXED_THRESHOLD = 0.5
#: Names of the test subsets F1 is reported on, and the mask pattern (IP noisy, DM noisy) of each.
SUBSETS = {"clean": (False, False), "ip_noisy": (True, False), "dm_noisy": (False, True)}


def bce_per_sample(logits: torch.Tensor, y: torch.Tensor, pos_weight: torch.Tensor | None = None) -> torch.Tensor:
    """Binary cross-entropy on logits of each sample, (K, B); ``pos_weight`` (K,) weighs the pulsars."""
    if logits.dim() != 2:
        raise ValueError(f"logits must have shape (K, B), got {tuple(logits.shape)}")
    y = y.expand_as(logits)
    weight = None if pos_weight is None else pos_weight.view(-1, 1)
    return F.binary_cross_entropy_with_logits(logits, y, reduction="none", pos_weight=weight)


def bce_per_model(logits: torch.Tensor, y: torch.Tensor, pos_weight: torch.Tensor | None = None) -> torch.Tensor:
    """Binary cross-entropy on logits, averaged over each model's batch.

    Parameters
    ----------
    logits : Tensor, shape (K, B)
    y : Tensor, shape (K, B) or (B,)
        Targets in {0, 1}.
    pos_weight : Tensor, shape (K,), optional
        Weight of the positive class per model (``torch.nn.BCEWithLogitsLoss``'s ``pos_weight``).

    Returns
    -------
    Tensor, shape (K,)

    Examples
    --------
    >>> bce_per_model(torch.zeros(2, 3), torch.ones(3))
    tensor([0.6931, 0.6931])
    """
    return bce_per_sample(logits, y, pos_weight).mean(dim=1)


def omega_per_sample(log_alpha: torch.Tensor, corrupted: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each sample's term of the two forms of Ω, each of shape (..., batch).

    * eq. 5.12: Σ_k ξ_k log α_k, with ξ_k = −1 on a corrupted mode and +1 otherwise
      (:func:`emma.method.regularizers.energy_regularizer` averages it over the batch);
    * the thesis's code (its ``regul_loss``; appendix: original-omega): log α of each *clean* mode of a
      sample that has a corrupted mode, 0 for clean samples and corrupted modes
      (:func:`omega_as_coded` sums it over the batch).

    Parameters
    ----------
    log_alpha : Tensor, shape (..., batch, M)
    corrupted : bool Tensor, shape (..., batch, M)
    """
    if not isinstance(corrupted, torch.Tensor) or corrupted.dtype != torch.bool or corrupted.shape != log_alpha.shape:
        raise ValueError(f"corrupted must be a bool tensor of the shape of log_alpha {tuple(log_alpha.shape)}")
    xi, weight = omega_weights(corrupted, log_alpha.dtype)
    return (xi * log_alpha).sum(dim=-1), (weight * log_alpha).sum(dim=-1)


def omega_weights(corrupted: torch.Tensor, dtype=torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """The weights of log α_k in each form of Ω (:func:`omega_per_sample`), from the corruption mask (..., M).

    ξ_k = −1 on a corrupted mode and +1 otherwise (eq. 5.12); the code's weight is 1 on each
    clean mode of a sample that has a corrupted mode and 0 elsewhere (appendix: original-omega).

    >>> omega_weights(torch.tensor([[False, False], [True, False]]))
    (tensor([[ 1.,  1.],
            [-1.,  1.]]), tensor([[0., 0.],
            [0., 1.]]))
    """
    xi = 1.0 - 2.0 * corrupted.to(dtype)  # ξ_k ∈ {+1, −1}
    weight = (corrupted.any(dim=-1, keepdim=True) & ~corrupted).to(dtype)  # clean modes of corrupted samples
    return xi, weight


def omega_as_coded(log_alpha: torch.Tensor, corrupted: torch.Tensor) -> torch.Tensor:
    """The energy regularizer as the thesis's code computed it, summed over the batch (appendix: original-omega). Shape (...).

    Examples
    --------
    >>> log_alpha = torch.log(torch.tensor([[0.5, 0.5], [0.2, 0.8], [0.9, 0.1]]))
    >>> corrupted = torch.tensor([[False, False], [True, False], [False, True]])
    >>> round(omega_as_coded(log_alpha, corrupted).item(), 4)  # log 0.8 + log 0.9
    -0.3285
    """
    return omega_per_sample(log_alpha, corrupted)[1].sum(dim=-1)


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


def select_threshold_f1(probabilities, y, thresholds=THRESHOLDS) -> float:
    """The threshold of the 21 with the highest F1 (:func:`sklearn.metrics.f1_score`); the lowest one on ties.

    Examples
    --------
    >>> select_threshold_f1([0.1, 0.4, 0.6, 0.9], [0, 0, 1, 1])
    0.45
    """
    p = np.asarray(probabilities, dtype=np.float64).ravel()
    y = np.asarray(y).astype(int).ravel()
    if p.shape != y.shape:
        raise ValueError(f"probabilities and y must have the same length, got {p.shape} and {y.shape}")
    scores = [f1_score(y, (p >= t).astype(int), zero_division=0.0) for t in thresholds]
    return float(np.asarray(thresholds)[int(np.argmax(scores))])


#: The decision-threshold rules (:class:`emma.engine.protocol.Protocol` ``threshold``).
THRESHOLD_RULES = {
    "roc_corner": select_threshold,
    "f1_validation": select_threshold_f1,
    "fixed": lambda probabilities, y, thresholds=THRESHOLDS: FIXED_THRESHOLD,
}


def rule_thresholds(probabilities, y, thresholds=THRESHOLDS) -> dict[str, np.ndarray]:
    """The threshold of every rule of :data:`THRESHOLD_RULES` for K models at once.

    Counts the confusion entries of the rule "pulsar when p ≥ t" at each candidate t for all
    K models in one vectorised pass; it picks what :func:`select_threshold` and
    :func:`select_threshold_f1` pick model by model (``tests/test_sweep.py`` checks it), at a
    fraction of their cost on a sweep of hundreds of models.

    Parameters
    ----------
    probabilities : array-like, shape (K, n)
        Validation-set probabilities of the positive class.
    y : array-like, shape (n,) or (K, n)
        Validation-set classes; both must occur for every model.
    thresholds : array-like, shape (T,)

    Returns
    -------
    dict of rule to numpy.ndarray, shape (K,)

    Examples
    --------
    >>> {rule: t.tolist() for rule, t in rule_thresholds([[0.1, 0.4, 0.6, 0.9]], [0, 0, 1, 1]).items()}
    {'roc_corner': [0.45], 'f1_validation': [0.45], 'fixed': [0.5]}
    """
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 2:
        raise ValueError(f"probabilities must have shape (K, n), got {p.shape}")
    truth = np.broadcast_to(np.asarray(y).astype(bool), p.shape)
    positives, negatives = truth.sum(1), (~truth).sum(1)
    if (positives == 0).any() or (negatives == 0).any():
        raise ValueError("y must hold both classes 0 and 1 for every model")
    candidates = np.asarray(thresholds, dtype=np.float64)
    distance, f1 = np.empty((len(candidates), len(p))), np.empty((len(candidates), len(p)))
    for i, t in enumerate(candidates):
        predicted = p >= t
        tp, fp = (predicted & truth).sum(1), (predicted & ~truth).sum(1)
        distance[i] = np.hypot(fp / negatives, 1.0 - tp / positives)
        f1[i] = f1_many(predicted, truth)
    return {"roc_corner": candidates[distance.argmin(0)], "f1_validation": candidates[f1.argmax(0)], "fixed": np.full(len(p), FIXED_THRESHOLD)}


def select_thresholds(probabilities: torch.Tensor, y: torch.Tensor, thresholds=THRESHOLDS, rules=None) -> np.ndarray:
    """The threshold of each of K models; ``probabilities`` (K, n), ``y`` (n,) or (K, n). Returns (K,).

    ``rules`` names each model's rule (:data:`THRESHOLD_RULES`); ROC corner for all by default.
    """
    p = probabilities.detach().cpu().numpy()
    y = np.broadcast_to(y.detach().cpu().numpy(), p.shape)
    rules = ["roc_corner"] * len(p) if rules is None else list(rules)
    unknown = sorted(set(rules) - set(THRESHOLD_RULES))
    if unknown or len(rules) != len(p):
        raise ValueError(f"rules must name one of {sorted(THRESHOLD_RULES)} per model ({len(p)}), got {rules!r}")
    return np.array([THRESHOLD_RULES[rules[k]](p[k], y[k], thresholds) for k in range(len(p))])


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
        ``NaN`` for a subset with no samples).
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


def f1_many(predicted, y, rows=None) -> np.ndarray:
    """F1 of K models at once, each on its own rows: 2TP / (2TP + FP + FN), 0 when that is 0/0.

    :func:`sklearn.metrics.f1_score` (``zero_division=0``) for one model at a time costs
    milliseconds of input validation per call; a sweep scores thousands of (model, subset)
    pairs, so this counts the confusion entries of all of them in one vectorised pass.
    ``tests/test_sweep.py`` checks it against ``f1_score``.

    Parameters
    ----------
    predicted : bool array, shape (K, n)
    y : array, shape (n,) or (K, n)
        True classes in {0, 1}.
    rows : bool array, shape (K, n), optional
        The samples each model is scored on (all by default); ``NaN`` for a model with none.

    Returns
    -------
    numpy.ndarray, shape (K,)

    Examples
    --------
    >>> f1_many(np.array([[1, 0, 1, 1]], bool), np.array([1, 0, 0, 1])).round(4).tolist()
    [0.8]
    """
    predicted = np.asarray(predicted).astype(bool)
    if predicted.ndim != 2:
        raise ValueError(f"predicted must have shape (K, n), got {predicted.shape}")
    truth = np.broadcast_to(np.asarray(y).astype(bool), predicted.shape)
    rows = np.ones_like(predicted) if rows is None else np.broadcast_to(np.asarray(rows).astype(bool), predicted.shape)
    tp = (predicted & truth & rows).sum(1)
    fp = (predicted & ~truth & rows).sum(1)
    fn = (~predicted & truth & rows).sum(1)
    denominator = 2 * tp + fp + fn
    f1 = np.where(denominator > 0, 2 * tp / np.maximum(denominator, 1), 0.0)
    return np.where(rows.any(1), f1, np.nan)


def f1_many_by_subset(predicted, y, corrupted) -> dict[str, np.ndarray]:
    """:func:`f1_by_subset` for K models: ``predicted`` (K, n), ``corrupted`` (K, n, 2). Returns name -> (K,)."""
    corrupted = np.asarray(corrupted).astype(bool)
    return {name: f1_many(predicted, y, (corrupted[..., 0] == ip) & (corrupted[..., 1] == dm)) for name, (ip, dm) in SUBSETS.items()}
