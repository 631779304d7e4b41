"""The thesis's training and evaluation protocol, for K models at once.

* loss: binary cross-entropy on logits, each model's mean over its mini-batch
  (no class weight: the thesis text mentions one, its code had it commented out);
  for ``with`` plus λ_c (g_a − b_a) − λ_e Ω (eq. 5.12);
* optimiser: Adam, lr 1e-3. One :class:`torch.optim.Adam` over tensors stacked on
  the model axis is K independent Adams, since Adam's update is elementwise and the
  summed loss gives each model the gradient of its own loss;
* early stopping: each model keeps its parameters (and its optimiser state) of the
  epoch with its lowest stopping loss (:class:`BestState`);
* threshold: the one of 21 thresholds in [0, 1] closest to the ROC corner
  (FPR 0, TPR 1) on the validation set (:func:`select_threshold`), or one of the
  other rules of :data:`THRESHOLD_RULES`;
* :class:`BatchedAdam`: K independent Adams with a per-model step count, so that models
  can pause (a skipped last mini-batch, a retraining of their own length);
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
      (:func:`emma.regularizers.energy_regularizer` averages it over the batch);
    * the thesis's code (its ``regul_loss``, notes item 5): log α of each *clean* mode of a
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
    clean mode of a sample that has a corrupted mode and 0 elsewhere (notes item 5).

    >>> omega_weights(torch.tensor([[False, False], [True, False]]))
    (tensor([[ 1.,  1.],
            [-1.,  1.]]), tensor([[0., 0.],
            [0., 1.]]))
    """
    xi = 1.0 - 2.0 * corrupted.to(dtype)  # ξ_k ∈ {+1, −1}
    weight = (corrupted.any(dim=-1, keepdim=True) & ~corrupted).to(dtype)  # clean modes of corrupted samples
    return xi, weight


def omega_as_coded(log_alpha: torch.Tensor, corrupted: torch.Tensor) -> torch.Tensor:
    """The energy regularizer as the thesis's code computed it, summed over the batch (notes item 5). Shape (...).

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


#: The decision-threshold rules (:class:`emma.protocol.Protocol` ``threshold``).
THRESHOLD_RULES = {
    "roc_corner": select_threshold,
    "f1_validation": select_threshold_f1,
    "fixed": lambda probabilities, y, thresholds=THRESHOLDS: 0.5,
}


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
        The samples each model is scored on (all by default); NaN for a model with none.

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


class BatchedAdam:
    """Adam (Kingma & Ba 2015, as :class:`torch.optim.Adam` computes it) for K stacked models.

    Every state tensor has the leading model axis K, and so has the step count: a model
    whose ``active`` entry is False in a step keeps its parameters *and* its state, as
    if that step had not happened for it. ``tests/test_sweep.py`` checks it against
    ``torch.optim.Adam`` step for step.

    Parameters
    ----------
    params : dict of str to Tensor
        Leaf tensors with leading axis K (they receive ``.grad``).
    lr, betas, eps
        As :class:`torch.optim.Adam`.
    """

    def __init__(self, params: Mapping[str, torch.Tensor], lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8):
        if not lr > 0:
            raise ValueError(f"lr must be > 0, got {lr!r}")
        self.params = dict(params)
        self.lr, self.betas, self.eps = float(lr), tuple(float(b) for b in betas), float(eps)
        first = next(iter(self.params.values()))
        self.step_count = torch.zeros(first.shape[0], dtype=torch.float64, device=first.device)  # (K,)
        self.exp_avg = {n: torch.zeros_like(p) for n, p in self.params.items()}
        self.exp_avg_sq = {n: torch.zeros_like(p) for n, p in self.params.items()}
        self._same: bool | None = True  # every model has taken the same number of steps

    def zero_grad(self) -> None:
        for p in self.params.values():
            p.grad = None

    @torch.no_grad()
    def step(self, active: torch.Tensor | None = None) -> None:
        """One Adam step of the models where ``active`` (bool, (K,)) is True (all by default).

        Every stage is one multi-tensor (``torch._foreach_*``) operation over all parameters,
        with the per-model quantities (is the model active, its bias corrections) broadcast
        along the model axis: an inactive model's parameters and moments are left unchanged.
        """
        beta1, beta2 = self.betas
        k = self.step_count.shape[0]
        names = [n for n, p in self.params.items() if p.grad is not None]
        params, grads = [self.params[n] for n in names], [self.params[n].grad for n in names]
        m, v = [self.exp_avg[n] for n in names], [self.exp_avg_sq[n] for n in names]
        everyone = active is None or bool(active.all())
        if everyone and self._same_steps():  # the common case: one bias correction for all, scalar stages
            self.step_count += 1
            step = float(self.step_count[0])
            torch._foreach_lerp_(m, grads, 1 - beta1)
            torch._foreach_mul_(v, beta2)
            torch._foreach_addcmul_(v, grads, grads, 1 - beta2)
            denominator = torch._foreach_sqrt(v)
            torch._foreach_div_(denominator, (1 - beta2**step) ** 0.5)
            torch._foreach_add_(denominator, self.eps)
            torch._foreach_addcdiv_(params, m, denominator, -self.lr / (1 - beta1**step))
            return
        self._same = None
        on = torch.ones(k, device=self.step_count.device) if active is None else active.to(self.step_count.device).float()
        self.step_count += on.to(torch.float64)
        steps = self.step_count.clamp(min=1)
        step_size = (self.lr / (1 - beta1**steps)).float() * on  # (K,): 0 for an inactive model
        correction2_sqrt = torch.sqrt(1 - beta2**steps).float()

        def per_model(values):  # (K,) -> one view per parameter, broadcast along its other axes
            return [values.view((k,) + (1,) * (p.dim() - 1)) for p in params]

        torch._foreach_lerp_(m, grads, per_model((1 - beta1) * on))
        torch._foreach_mul_(v, per_model(1 - (1 - beta2) * on))
        torch._foreach_addcmul_(v, grads, torch._foreach_mul(grads, per_model((1 - beta2) * on)))
        denominator = torch._foreach_sqrt(v)
        torch._foreach_div_(denominator, per_model(correction2_sqrt))
        torch._foreach_add_(denominator, self.eps)
        update = torch._foreach_div(m, denominator)
        torch._foreach_mul_(update, per_model(step_size))
        torch._foreach_sub_(params, update)

    def _same_steps(self) -> bool:
        """True when every model has taken the same number of steps (checked once after a pause or a load)."""
        if self._same is None:
            self._same = bool((self.step_count == self.step_count[0]).all())
        return self._same

    def state(self) -> dict[str, object]:
        """A copy of the optimiser state: ``step_count`` (K,), ``exp_avg`` and ``exp_avg_sq`` dicts."""
        return {"step_count": self.step_count.clone(), "exp_avg": {n: v.clone() for n, v in self.exp_avg.items()},
                "exp_avg_sq": {n: v.clone() for n, v in self.exp_avg_sq.items()}}

    def load(self, state: Mapping[str, object]) -> None:
        """Restore a :meth:`state` (the code's ``optimizer.load_state_dict`` at the best epoch)."""
        self.step_count = state["step_count"].clone()
        self._same = None
        self.exp_avg = {n: v.clone() for n, v in state["exp_avg"].items()}
        self.exp_avg_sq = {n: v.clone() for n, v in state["exp_avg_sq"].items()}


class BestState:
    """Early stopping for K models at once: each keeps its parameters at its lowest stopping loss.

    Everything stays on the device (no host synchronisation per epoch). With an
    ``optimizer`` (:class:`BatchedAdam`), its state at the best epoch is kept too.

    Parameters
    ----------
    params : dict of str to Tensor
        The models' parameters, each with leading axis K.
    optimizer : BatchedAdam, optional
    """

    def __init__(self, params: Mapping[str, torch.Tensor], optimizer: "BatchedAdam | None" = None):
        self.params = {name: value.detach().clone() for name, value in params.items()}
        k = next(iter(params.values())).shape[0]
        device = next(iter(params.values())).device
        self.loss = torch.full((k,), float("inf"), device=device)
        self.epoch = torch.zeros(k, dtype=torch.long, device=device)
        self.optimizer_state = None if optimizer is None else optimizer.state()

    @torch.no_grad()
    def update(self, epoch: int, val_loss: torch.Tensor, params: Mapping[str, torch.Tensor], optimizer: "BatchedAdam | None" = None) -> None:
        """Keep ``params`` (and the optimizer's state) of the models whose loss (K,) is below their best so far."""
        improved = val_loss < self.loss  # (K,)
        self.loss = torch.where(improved, val_loss, self.loss)
        self.epoch = torch.where(improved, torch.full_like(self.epoch, epoch), self.epoch)

        def keep(new, old):
            return torch.where(improved.view(-1, *([1] * (new.dim() - 1))), new.detach(), old)

        for name, value in params.items():
            self.params[name] = keep(value, self.params[name])
        if optimizer is not None and self.optimizer_state is not None:
            state = self.optimizer_state
            state["step_count"] = keep(optimizer.step_count, state["step_count"])
            for part in ("exp_avg", "exp_avg_sq"):
                state[part] = {n: keep(getattr(optimizer, part)[n], v) for n, v in state[part].items()}
