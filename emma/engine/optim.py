"""Adam and early stopping for K models stacked on a leading axis.

One :class:`torch.optim.Adam` over tensors stacked on the model axis is K independent
Adams, since Adam's update is elementwise and the summed loss gives each model the
gradient of its own loss. :class:`BatchedAdam` adds a per-model step count, so that
models can pause (a skipped last mini-batch, a retraining of their own length), and
:class:`BestState` keeps each model's parameters and optimiser state at the epoch of
its lowest stopping loss.
"""
from __future__ import annotations

from typing import Mapping

import torch


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
