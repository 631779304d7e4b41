"""The engine's core: K models of any kind trained as one computation.

Every trainer of the book's classifiers goes through :class:`StackedModels`: the HTRU2 sweeps
(:class:`emma.engine.sweep.SweepEngine`, which adds the thesis's protocols, corruption streams,
early stopping and thresholds on top), EMMA with M modes of any width
(:mod:`emma.experiments.modes_study`) and the unified model's ablation
(:mod:`emma.experiments.unified_study`). What it does, once for all of them:

* the K models' parameters live in one (K, P) buffer, and the dict :attr:`StackedModels.params`
  holds views of it with the leading model axis K;
* a step's gradient is either given (a hand-written backward, the sweep engine's fast path) or
  computed by autograd of the sum of the K losses (the models share no parameter, so each gets
  the gradient of its own loss), optionally through :func:`torch.compile`;
* one :class:`emma.engine.optim.BatchedAdam` updates them all, with a per-model step count so
  that a model can sit a step out; the constraints are projected after every step;
* :meth:`StackedModels.train` runs epochs of mini-batches in each model's own data order, with
  a progress bar and the mean training loss of each model per epoch.

A study says only how K models compute their K losses on a mini-batch (``loss_fn``): its data,
its model and its regularizers stay its own.

Examples
--------
Two least-squares fits, one per model, trained at once:

>>> x = torch.linspace(-1, 1, 32)
>>> targets = torch.stack([2 * x, -3 * x])                      # model k fits y = a_k x
>>> stack = StackedModels({"a": torch.zeros(2, 1)}, lr=0.1)
>>> def loss_fn(params, rows):                                   # rows (K, B): each model's mini-batch
...     return ((params["a"] * x[rows] - targets.gather(1, rows)) ** 2).mean(1)
>>> curve = stack.train(loss_fn, 32, epochs=60, batch_size=8, orders=lambda: torch.arange(32).expand(2, 32))
>>> stack.params["a"].squeeze(1).round().tolist()
[2.0, -3.0]
"""
from __future__ import annotations

import math
from typing import Callable, Mapping

import numpy as np
import torch
from tqdm.auto import tqdm

from emma.engine.optim import BatchedAdam
from emma.util import checks
from emma.util.runtime import progress_disabled


def parameter_views(flat: torch.Tensor, shapes: dict[str, tuple[int, ...]]) -> dict[str, torch.Tensor]:
    """The parameters as views of the (K, P) buffer ``flat``: ``shapes`` gives each one's per-model shape, in buffer order."""
    sizes = [math.prod(shape) for shape in shapes.values()]
    return {name: part.view(flat.shape[0], *shape) for (name, shape), part in zip(shapes.items(), flat.split(sizes, dim=1))}


def loss_and_gradient(loss_fn: Callable, flat: torch.Tensor, shapes: dict, *args):
    """Each model's loss (K,), the gradient of their sum with respect to ``flat`` (K, P), and ``loss_fn``'s extra output.

    ``loss_fn(params, *args)`` returns the losses (K,), or a pair (losses, anything). The K
    models share no parameter, so the gradient of the sum gives each the gradient of its own loss.
    """
    with torch.enable_grad():
        leaf = flat.detach().requires_grad_(True)
        out = loss_fn(parameter_views(leaf, shapes), *args)
        loss, extra = out if isinstance(out, tuple) else (out, None)
        if not isinstance(loss, torch.Tensor) or loss.shape != flat.shape[:1]:
            raise ValueError(f"loss_fn must return one loss per model, shape ({flat.shape[0]},), got {getattr(loss, 'shape', type(loss).__name__)}")
        (grad,) = torch.autograd.grad(loss.sum(), leaf)
    return loss.detach(), grad, extra


class StackedModels:
    """K models' parameters in one buffer, trained together by one Adam.

    Parameters
    ----------
    params : dict of str to Tensor
        Each model's initial parameters stacked on a leading axis K (copied, never modified).
    lr : float
        Adam's learning rate (:class:`emma.engine.optim.BatchedAdam`).
    project : callable ``(params) -> None``, optional
        Puts the parameters back on their constraint set in place, after every step.
    compile : bool
        Compile the autograd step with :func:`torch.compile` (see :class:`emma.engine.sweep.SweepEngine`
        for when it pays).

    Attributes
    ----------
    flat : Tensor (K, P)
        Every parameter of every model.
    params : dict of str to Tensor
        Views of :attr:`flat`, each (K, ...).
    optimizer : BatchedAdam
    """

    def __init__(self, params: Mapping[str, torch.Tensor], *, lr: float, project: Callable | None = None, compile: bool = False):
        if not isinstance(params, Mapping) or not params or not all(isinstance(v, torch.Tensor) and v.dim() >= 1 for v in params.values()):
            raise ValueError("params must be a non-empty dict of tensors, each with a leading model axis K")
        k = {int(v.shape[0]) for v in params.values()}
        if len(k) != 1:
            raise ValueError(f"params must share one leading model axis K, got sizes {sorted(k)}")
        if len({v.dtype for v in params.values()}) != 1:
            raise ValueError(f"params must share one dtype, got {sorted({str(v.dtype) for v in params.values()})}")
        if project is not None and not callable(project):
            raise TypeError(f"project must be callable or None, got {type(project).__name__}")
        if not isinstance(compile, bool):
            raise TypeError(f"compile must be a bool, got {compile!r}")
        (self.k,) = k
        self.flat = torch.cat([v.detach().reshape(self.k, -1) for v in params.values()], dim=1).clone()
        self.shapes = {name: tuple(v.shape[1:]) for name, v in params.items()}
        self.params = parameter_views(self.flat, self.shapes)
        self.project = project
        self.optimizer = BatchedAdam({"flat": self.flat}, lr=checks.number(lr, "lr", low=0.0, low_open=True))
        self.gradient_of = torch.compile(loss_and_gradient) if compile else loss_and_gradient

    def apply(self, gradients: Mapping[str, torch.Tensor], active: torch.Tensor | None = None) -> None:
        """One Adam step from given gradients (same names and shapes as :attr:`params`), then the projection."""
        self.flat.grad = torch.cat([gradients[name].reshape(self.k, -1) for name in self.shapes], dim=1)
        self._update(active)

    def step(self, loss_fn: Callable, *args, active: torch.Tensor | None = None):
        """One Adam step on the autograd gradient of ``loss_fn(params, *args)``; returns (losses (K,), its extra output or None).

        ``active`` (bool, (K,)) lets models sit the step out (parameters and Adam state unchanged).
        """
        loss, self.flat.grad, extra = self.gradient_of(loss_fn, self.flat, self.shapes, *args)
        self._update(active)
        return loss, extra

    def _update(self, active) -> None:
        self.optimizer.step(active)
        self.flat.grad = None
        if self.project is not None:
            self.project(self.params)

    def train(self, loss_fn: Callable, n: int, *, epochs: int, batch_size: int, orders: Callable[[], torch.Tensor],
              on_batch: Callable | None = None, desc: str = "epochs", progress: bool | None = None) -> np.ndarray:
        """Epochs of mini-batches: ``loss_fn(params, rows)`` on each model's rows (K, B) of its own order.

        Parameters
        ----------
        loss_fn : callable ``(params, rows) -> losses (K,)`` or ``(losses, extra)``
            ``rows`` (K, B) are indices into each model's ``n`` training samples.
        n : int
            Training samples per model.
        epochs, batch_size : int
        orders : callable ``() -> Tensor (K, n)``
            Each model's data order for a new epoch (a permutation of ``range(n)`` per row).
        on_batch : callable ``(epoch, rows, extra) -> None``, optional
            Called after each step (epochs count from 1), e.g. to record attention scores.
        desc : str
            The progress bar's label (quiet under CI, :func:`emma.util.runtime.progress_disabled`).
        progress : bool, optional
            Force the progress bar on or off.

        Returns
        -------
        numpy.ndarray, shape (epochs, K)
            Each model's mean training loss per epoch.
        """
        n, epochs, batch_size = (checks.positive_int(v, name) for v, name in ((n, "n"), (epochs, "epochs"), (batch_size, "batch_size")))
        curve = np.zeros((epochs, self.k))
        quiet = progress_disabled() if progress is None else not progress
        for epoch in tqdm(range(1, epochs + 1), desc=desc, disable=quiet, leave=False):
            order = orders()
            if not isinstance(order, torch.Tensor) or tuple(order.shape) != (self.k, n):
                raise ValueError(f"orders must return a tensor of shape (K, n) = ({self.k}, {n}), got {getattr(order, 'shape', type(order).__name__)}")
            order, total = order.to(self.flat.device), torch.zeros(self.k, dtype=torch.float64, device=self.flat.device)
            for start in range(0, n, batch_size):
                rows = order[:, start : start + batch_size]
                loss, extra = self.step(loss_fn, rows)
                total += loss * (rows.shape[1] / n)  # on the device: no synchronisation per step
                if on_batch is not None:
                    on_batch(epoch, rows, extra)
            curve[epoch - 1] = total.cpu().numpy()
        return curve
