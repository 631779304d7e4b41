"""The sweep engine: K models of one registered family trained as one batched computation.

Each of the K models has its own hyperparameters (ρ, λ_c, λ_e), seed, **protocol**
(:class:`emma.engine.protocol.Protocol`), data order, noise draw, early-stopping state and
threshold, yet all K take every optimiser step together: the parameters are stacked on
a leading model axis (:mod:`emma.engine.families`), one :class:`emma.engine.optim.BatchedAdam`
updates them all, and each evaluation pass is one batched computation. So the book's
protocol and the original code's, and every step between them, train side by side.

Randomness belongs to a model's *seed*, never to its position in the stack:

* the corrupted copy of each split (50 % clean, 25 % IP noisy, 25 % DM noisy, σ = 0.5)
  is drawn once per seed, separately for train, validation and test (:mod:`emma.engine.streams`);
* the mini-batch order is a fresh permutation per epoch, from a generator of the seed
  (``init="per_seed"``) or of the seed and configuration (``init="shared"``);
* initial parameters depend on family and seed (:func:`emma.engine.families.init_parameters`).

Any family of the registry (:mod:`emma.engine.registry`) trains here: the gradient of a step is
the family's hand-written one when it has one (the thesis's six: :mod:`emma.engine.backprop`),
else autograd of the sum of the K losses on the stacked parameters (the models are
independent, so each gets its own gradient).

So a model's row does not depend on what is stacked beside it (``tests/test_protocol.py``).
The table of models and the settings live in :mod:`emma.engine.configs`, the data each model
sees in :mod:`emma.engine.streams`, the gradients of a step in :mod:`emma.engine.backprop`, the scoring of a
finished sweep in :mod:`emma.engine.evaluation`; :func:`emma.engine.launch.run_sweep` launches and caches sweeps.
"""
from __future__ import annotations

import contextlib

import numpy as np
import torch
from tqdm.auto import tqdm

from emma.data.splits import Splits
from emma.engine.backprop import family_loss
from emma.engine.configs import TrainSettings, check_configs
from emma.engine.families import init_parameters
from emma.engine.optim import BestState
from emma.engine.protocol import SOUND, Protocol
from emma.engine.registry import Context, get_family
from emma.engine.results import SweepResult, sweep_result
from emma.engine.stacked import StackedModels
from emma.engine.streams import StreamData, corrupted_split, coupled_potentials, coupled_psi_min, energies_for, order_seed
from emma.engine.training import bce_per_sample, rule_thresholds
from emma.util.runtime import progress_disabled, resolve_device

#: Bump when a change here alters what a cached sweep contains.
ENGINE_VERSION = 5
#: Samples per block of a whole-split evaluation pass (bounds the memory of K × n).
BLOCK = 512
#: Sweeps of fewer models than this train on one CPU thread (:func:`emma.util.runtime.single_cpu_thread`).
SMALL_SWEEP = 64
#: How a step's gradient is computed: the family's hand-written one if it has one ("auto"), or forced.
GRADIENTS = ("auto", "autograd", "hand")


# ----------------------------------------------------------------------------- the engine


class SweepEngine:
    """K models of one family, trained together.

    Parameters
    ----------
    family : str
        A registered family (:func:`emma.engine.registry.registered`), e.g. one of
        :data:`emma.engine.families.FAMILIES`.
    configs : DataFrame or list of dict
        One row per model: ``seed`` and, for ``with``, ``rho``, ``lambda_c``, ``lambda_e``
        (the context of every family's forward pass and penalty, :class:`~emma.engine.registry.Context`);
        optionally ``protocol`` (a :class:`~emma.engine.protocol.Protocol` per model).
    splits : Splits
    settings : TrainSettings
    protocol : Protocol
        For the models whose row names none (default :data:`~emma.engine.protocol.SOUND`).
    energies : EnergyModels or dict, optional
        The frozen autoencoders (families that use energies, ``with``): one pair for all, a
        dict by seed, or by ``(seed, fitted_on_corrupted)``.
    base : dict of str to Tensor, optional
        Trained ``base`` parameters of the same K models (families that start from a base:
        ``without`` and ``with``).
    device : {"auto", "cpu", "cuda"} or torch.device
    gradient : {"auto", "autograd", "hand"}
        The gradient of a step: the family's hand-written one when it has one, else autograd
        ("auto"); or forced ("hand" needs a family with hand-written gradients).
    compile : bool
        Compile the autograd step with :func:`torch.compile` (autograd path only). Measured on
        the 2-core CPU (``benchmarks/sweep.py --paths``): a compiled step is about as fast as
        the hand-written one for EMMA's family (0.9–1.8× of it overall) and 1.0–2.3× faster
        than plain autograd, for 2–8 s of compiling, so it pays for sweeps of thousands of
        steps of a family without hand-written gradients.
    """

    def __init__(self, family: str, configs, splits: Splits, settings: TrainSettings = TrainSettings(), *, protocol: Protocol = SOUND,
                 energies=None, base=None, device="cpu", gradient: str = "auto", compile: bool = False):
        self.spec = get_family(family)
        self.family = self.spec.name
        if gradient not in GRADIENTS:
            raise ValueError(f"gradient must be one of {GRADIENTS}, got {gradient!r}")
        if gradient == "hand" and self.spec.gradients is None:
            raise ValueError(f"gradient='hand': family {self.family!r} has no hand-written gradients; use 'auto' or 'autograd'")
        self.hand = self.spec.gradients is not None and gradient != "autograd"
        self.configs = check_configs(configs, protocol)
        if not isinstance(settings, TrainSettings):
            raise TypeError(f"settings must be a TrainSettings, got {type(settings).__name__}")
        energetic = self.spec.uses_energies
        if energetic and energies is None:
            raise ValueError(f"family {self.family!r} needs energies=<EnergyModels of emma.engine.energy.fit_htru2_energy_models>")
        self.settings, self.device = settings, resolve_device(device)
        self.protocols = list(self.configs["protocol"])
        seeds = self.configs["seed"].tolist()
        keys = [(s, self.spec.corrupted_training or p.corruption_in_place, energetic and p.autoencoders_on_corrupted) for s, p in zip(seeds, self.protocols)]
        self.streams = sorted(set(keys))
        self.stream_of = torch.tensor([self.streams.index(k) for k in keys], device=self.device)  # (K,)
        use = energies if energetic else None
        self.train = StreamData.of_streams(splits, "train", self.streams, settings, use, self.device)
        self.val = StreamData.of_streams(splits, "val", self.streams, settings, use, self.device)
        self.test = StreamData.of_streams(splits, "test", self.streams, settings, use, self.device, noisy_test=True)
        self.coupled = torch.tensor([energetic and p.potential == "batch_coupled" for p in self.protocols], device=self.device)
        self.psi_min = None
        if energetic:
            psi_min = {}  # (seed, fitted on corrupted data, potential) -> Ψ_min, (2,)
            for k, (seed, _, ae) in enumerate(keys):
                key = (seed, ae, self.protocols[k].potential)
                if key in psi_min:
                    continue
                model_energies = energies_for(energies, seed, ae)
                if key[2] == "per_sample":
                    psi_min[key] = model_energies.psi_min.cpu()
                else:  # the AE's own training data: the seed's draw (in split order) or the clean split
                    x_ae = corrupted_split(splits, "train", seed, settings)[0] if ae else splits.train.x.cpu()
                    psi_min[key] = coupled_psi_min(model_energies, x_ae, settings.batch_size).cpu()
            self.psi_min = torch.stack([psi_min[(s, ae, p.potential)] for (s, _, ae), p in zip(keys, self.protocols)]).to(self.device)  # (K, 2)
        params = init_parameters(family, seeds, base=base)
        # the engine's core: one (K, P) buffer holds every parameter, ``params`` are views of it, and
        # Adam updates the whole buffer in a handful of operations instead of a handful per tensor
        self.stack = StackedModels({name: value.to(self.device) for name, value in params.items()}, lr=settings.lr,
                                   project=self.spec.project, compile=compile)
        self.flat, self.shapes, self.params, self.optimizer = self.stack.flat, self.stack.shapes, self.stack.params, self.stack.optimizer

        def column(values, dtype=torch.float32):
            return torch.tensor(list(values), dtype=dtype, device=self.device)

        self.rho, self.lambda_c, self.lambda_e = (column(self.configs[c]) for c in ("rho", "lambda_c", "lambda_e"))
        self.omega_code = column([p.omega == "code" for p in self.protocols], torch.bool)
        self.stop_on_train = column([p.early_stopping == "training" for p in self.protocols], torch.bool)
        self.drop_last = column([p.drop_last for p in self.protocols], torch.bool)
        self.retrains = column([p.retrain and self.spec.retrains for p in self.protocols], torch.bool)
        weights = [p.class_weight for p in self.protocols]
        self.pos_weight = None if all(w is None for w in weights) else column([1.0 if w is None else w for w in weights])
        order_keys = [order_seed(s, self.configs.iloc[k], p.init if energetic else "per_seed") for k, (s, p) in enumerate(zip(seeds, self.protocols))]
        unique_orders = sorted(set(order_keys))
        self.order_of = torch.tensor([unique_orders.index(o) for o in order_keys], device=self.device)
        self.order_generators = [torch.Generator().manual_seed(o) for o in unique_orders]
        pairs = sorted(set(zip(self.stream_of.tolist(), self.order_of.tolist())))  # (stream, order) pairs: one gather each
        self.pair_stream = torch.tensor([p[0] for p in pairs], device=self.device)
        self.pair_order = torch.tensor([p[1] for p in pairs], device=self.device)
        self.pair_of = torch.tensor([pairs.index(p) for p in zip(self.stream_of.tolist(), self.order_of.tolist())], device=self.device)
        # the code's early-stopping pass reshuffles too; its own stream keeps the training order independent of the stack
        self.pass_generators = [torch.Generator().manual_seed(o + 7_777_777) for o in unique_orders]
        self.best = BestState({"flat": self.flat}, self.optimizer)

    @property
    def any_omega_code(self) -> bool:
        return bool(self.omega_code.any())

    @property
    def all_omega_code(self) -> bool:
        return bool(self.omega_code.all())

    @property
    def k(self) -> int:
        return self.stream_of.shape[0]

    @contextlib.contextmanager
    def _subset(self, models: torch.Tensor):
        """Within the block, the engine's per-model settings are those of ``models`` only (indices)."""
        names = ("stream_of", "coupled", "psi_min", "rho", "lambda_c", "lambda_e", "omega_code", "drop_last", "pos_weight", "order_of")
        saved = {name: getattr(self, name) for name in names}
        for name, value in saved.items():
            if value is not None:
                setattr(self, name, value[models])
        try:
            yield
        finally:
            for name, value in saved.items():
                setattr(self, name, value)

    def new_order(self, n: int, generators=None, per_model: bool = True) -> torch.Tensor:
        """A fresh permutation of ``n`` rows per model (K, n), or per (stream, order) pair (U, n) with ``per_model=False``."""
        orders = torch.stack([torch.randperm(n, generator=g) for g in generators or self.order_generators]).to(self.device)
        return orders[self.order_of] if per_model else orders[self.pair_order]

    def _batch_of_pairs(self, data: StreamData, rows: torch.Tensor):
        """The table columns (:meth:`StreamData.columns`) of mini-batch rows (U, b) of each (stream, order) pair, per model.

        Returns the columns as (columns, K, b), each model's batch contiguous, and the classes (K, b).
        """
        (u, b), n = rows.shape, data.x.shape[1]
        flat = (self.pair_stream.unsqueeze(1) * n + rows).reshape(-1)  # (U·b,) rows of the stacked streams
        columns = data.columns().index_select(1, flat).view(-1, u, b).index_select(1, self.pair_of)  # gather once per pair, copy to its models
        return columns, data.y.index_select(0, rows.reshape(-1)).view(u, b).index_select(0, self.pair_of)

    def _gather(self, data: StreamData, rows: torch.Tensor) -> dict[str, torch.Tensor]:
        """The table columns (:attr:`StreamData.COLUMNS`) of rows ``rows`` (K, m) of each model's stream, each (K, c, m)."""
        flat = (self.stream_of.unsqueeze(1) * data.x.shape[1] + rows).reshape(-1)
        return data.unpack(data.columns().index_select(1, flat).view(-1, *rows.shape))

    def _context(self, potentials=None, omega_weights=None) -> Context:
        """The context of the engine's (current subset of) models: energies' quantities only for families that use them."""
        energetic = self.spec.uses_energies
        return Context(potentials=potentials, psi_min=self.psi_min if energetic else None, coldness=self.rho if energetic else None,
                       lambda_c=self.lambda_c, lambda_e=self.lambda_e, omega_weights=omega_weights)

    def _forward(self, params, data: StreamData, rows: torch.Tensor, groups=None, quadratic_sum=None):
        """Logits (K, m), for attention families log α (K, 2, m), and the gathered columns of every model on its rows ``rows`` (K, m).

        Batch-coupled potentials sum within ``groups`` (K, m), or add ``quadratic_sum`` (K, 1, 2)
        when the call spans more rows than ``rows``, or sum over ``rows`` otherwise.
        """
        column = self._gather(data, rows)
        potentials = None
        if self.spec.uses_energies:
            softplus, quadratic = column["softplus"].mT, column["quadratic"].mT  # (K, m, 2) views
            if quadratic_sum is None:
                potentials = coupled_potentials(softplus, quadratic, self.coupled, groups)
            else:
                potentials = torch.where(self.coupled.view(-1, 1, 1), quadratic_sum - softplus, quadratic - softplus)
            potentials = potentials.mT
        context = self._context(potentials)
        if self.spec.attention is not None:
            logits, log_alpha = self.spec.attention(params, column["x"], context)
            return logits, log_alpha, column
        return self.spec.forward(params, column["x"], context), None, column

    def _omega_weights(self, xi: torch.Tensor, code_weight: torch.Tensor, b: int) -> torch.Tensor:
        """The weights w of Ω = Σ_n Σ_i w log α on each model's mini-batch of ``b`` rows: eq. 5.12 (ξ/b) or as coded, by protocol."""
        if not self.any_omega_code:
            return xi / b  # eq. 5.12
        if self.all_omega_code:
            return code_weight  # (appendix: original-omega)
        return torch.where(self.omega_code.view(-1, 1, 1), code_weight, xi / b)

    def train_step(self, data: StreamData, rows: torch.Tensor, active: torch.Tensor) -> torch.Tensor:
        """One Adam step of the ``active`` models on mini-batch rows (U, b) of each (stream, order) pair; returns the losses (K,).

        ``rows`` comes from :meth:`new_order` with ``per_model=False``.
        """
        columns, y = self._batch_of_pairs(data, rows)
        column = data.unpack(columns)
        potentials = omega = None
        if self.spec.uses_energies:
            potentials = coupled_potentials(column["softplus"].mT, column["quadratic"].mT, self.coupled).mT
        if self.spec.attention is not None:
            omega = self._omega_weights(column["xi"], column["code_weight"], rows.shape[1])
        context = self._context(potentials, omega)
        if self.hand:  # the gradients are written out (e.g. emma.engine.backprop): no graph to record
            loss, grads = self.spec.gradients(self.params, column["x"], y, context, self.pos_weight)
            self.stack.apply(grads, active)
        else:
            loss, _ = self.stack.step(family_loss, self.spec, column["x"], y, context, self.pos_weight, active=active)
        return loss

    @torch.no_grad()
    def pass_losses(self, params, data: StreamData, rows: torch.Tensor, groups=None, batch_size=None):
        """Per-sample BCE and Ω terms of every model over a whole pass (K, n), blocked to bound memory.

        ``groups`` (n,) is each row's mini-batch when the pass is in mini-batches (the code's
        early-stopping pass); its batch-coupled potentials are then summed within each one.
        Without ``groups`` the pass is one call of the code: coupled potentials sum over all rows.
        """
        pieces = {"bce": [], "omega_mean": [], "omega_code": [], "logits": []}
        n = rows.shape[1]
        block = BLOCK if batch_size is None else max(batch_size, BLOCK // batch_size * batch_size)
        quadratic_sum = None
        if groups is None and self.spec.uses_energies and bool(self.coupled.any()) and block < n:
            flat = (self.stream_of.unsqueeze(1) * n + rows).reshape(-1)
            quadratic_sum = data.quadratic.flatten(0, 1).index_select(0, flat).view(self.k, n, 2).sum(dim=1, keepdim=True)  # (K, 1, 2)
        for start in range(0, n, block):
            part = rows[:, start : start + block]
            g = None if groups is None else (groups[start : start + block] - groups[start]).expand(self.k, -1)
            logits, log_alpha, column = self._forward(params, data, part, g, quadratic_sum)
            pieces["logits"].append(logits)
            pieces["bce"].append(bce_per_sample(logits, data.y[part], self.pos_weight))
            if log_alpha is not None:  # the terms of emma.engine.training.omega_per_sample, from the gathered weights
                pieces["omega_mean"].append((column["xi"] * log_alpha).sum(dim=1))
                pieces["omega_code"].append((column["code_weight"] * log_alpha).sum(dim=1))
        return {name: torch.cat(v, dim=1) if v else None for name, v in pieces.items()}

    def all_rows(self, data: StreamData) -> torch.Tensor:
        return torch.arange(data.x.shape[1], device=self.device).expand(self.k, -1)

    def validation_loss(self, params=None) -> torch.Tensor:
        """Validation BCE of each model, the whole validation set as one call, (K,)."""
        return self.pass_losses(self.params if params is None else params, self.val, self.all_rows(self.val))["bce"].mean(1)

    def training_pass_loss(self, params) -> torch.Tensor:
        """The code's early-stopping curve: loss on the training set in fresh mini-batches, regularizers included, (K,)."""
        n, b = self.train.x.shape[1], self.settings.batch_size
        rows = self.new_order(n, self.pass_generators)
        groups = torch.arange(n, device=self.device) // b
        terms = self.pass_losses(params, self.train, rows, groups, b)
        n_groups = int(groups[-1]) + 1
        counts = torch.bincount(groups, minlength=n_groups).float()  # (G,)

        def batch_sum(values):  # (K, n) -> (K, G)
            return torch.zeros(self.k, n_groups, device=self.device).index_add_(1, groups, values)

        loss = batch_sum(terms["bce"]) / counts
        if self.spec.penalty is not None:  # its parameter part (EMMA: the capacity term); Ω per mini-batch below
            loss = loss + self.spec.penalty(params, self._context()).view(-1, 1)
        if self.spec.attention is not None:
            omega = torch.where(self.omega_code.view(-1, 1), batch_sum(terms["omega_code"]), batch_sum(terms["omega_mean"]) / counts)
            loss = loss - self.lambda_e.view(-1, 1) * omega
        starts = torch.arange(n_groups, device=self.device) * b
        used = torch.where(self.drop_last.view(-1, 1), (starts < n - b).view(1, -1), torch.ones_like(starts, dtype=torch.bool).view(1, -1))
        return (loss * used).sum(1) / used.sum(1)

    def _epoch(self, data: StreamData, active_models: torch.Tensor) -> torch.Tensor:
        """One pass of mini-batches over ``data`` for the ``active_models``; mean training loss (K,)."""
        n, b = data.x.shape[1], self.settings.batch_size
        order = self.new_order(n, per_model=False)  # (U, n)
        total = torch.zeros(self.k, device=self.device)
        count = torch.zeros(self.k, device=self.device)
        for start in range(0, n, b):
            active = active_models & (~self.drop_last | (start < n - b))  # the code skips its last batch
            loss = self.train_step(data, order[:, start : start + b], active)
            size = min(b, n - start)
            total += loss * size * active
            count += size * active
        return total / count.clamp(min=1)

    def fit(self, progress: bool | None = None, desc: str | None = None) -> "SweepEngine":
        """Train, early-stop, pick thresholds, then retrain the models whose protocol says so."""
        quiet = progress_disabled() if progress is None else not progress
        epochs = self.settings.epochs
        curves = {name: torch.zeros(self.k, epochs, device=self.device) for name in ("train_loss", "val_loss", "stop_loss")}
        everyone = torch.ones(self.k, dtype=torch.bool, device=self.device)
        for epoch in tqdm(range(epochs), desc=desc or f"{self.family} × {self.k}", disable=quiet, leave=False):
            curves["train_loss"][:, epoch] = self._epoch(self.train, everyone)
            with torch.no_grad():
                curves["val_loss"][:, epoch] = self.validation_loss()
                stop = curves["val_loss"][:, epoch].clone()
                if self.stop_on_train.any():  # the code's pass over the training set, for those models only
                    models = self.stop_on_train.nonzero().squeeze(1)
                    with self._subset(models):
                        stop[models] = self.training_pass_loss({name: value[models] for name, value in self.params.items()})
            curves["stop_loss"][:, epoch] = stop
            self.best.update(epoch + 1, stop, {"flat": self.flat}, self.optimizer)
        self.curves = {name: value.cpu() for name, value in curves.items()}
        self.flat.copy_(self.best.params["flat"])
        self.optimizer.load(self.best.optimizer_state)
        self.val_probabilities = torch.sigmoid(self.pass_losses(self.params, self.val, self.all_rows(self.val))["logits"])
        # every rule's threshold, chosen before any retraining (appendix: original-retrain); each model's own rule in ``thresholds``
        self.rule_thresholds = rule_thresholds(self.val_probabilities.cpu().numpy(), self.val.y.cpu().numpy())
        self.thresholds = np.array([self.rule_thresholds[p.threshold][k] for k, p in enumerate(self.protocols)])
        self.retrain_epochs = torch.where(self.retrains, self.best.epoch, torch.zeros_like(self.best.epoch))
        if bool(self.retrain_epochs.gt(0).any()):  # train + validation, from the restored optimiser (appendix: original-retrain)
            both = StreamData(torch.cat([self.train.x, self.val.x], 1), torch.cat([self.train.y, self.val.y]),
                              torch.cat([self.train.corrupted, self.val.corrupted], 1))
            for epoch in range(int(self.retrain_epochs.max())):
                self._epoch(both, self.retrain_epochs > epoch)
        return self

    def result(self) -> SweepResult:
        """Everything a chapter needs from the trained sweep, on the CPU (:func:`emma.engine.results.sweep_result`)."""
        return sweep_result(self)
