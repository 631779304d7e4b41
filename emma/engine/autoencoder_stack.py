"""Many small denoising autoencoders trained at once, stacked on a model axis: :func:`train_many_autoencoders`.

The autoencoders of the book are tiny (4 → 12 → 4): training one of them for a few
thousand Adam steps costs per-step Python and PyTorch overhead, not arithmetic. Here K
of them share every step: their parameters are stacked along a leading model axis,
W (K, hidden, input), the layers are batched matrix products (``torch.baddbmm``) and one
:class:`emma.engine.optim.BatchedAdam` updates them all.

Each model keeps everything :func:`emma.method.autoencoder.train_one_autoencoder` would give it
alone: its own initial weights (the modules passed in), its own training and validation
data (of any length), its own number of epochs, and its own :class:`torch.Generator`
seeded with its seed, drawn in the single trainer's order (per epoch a permutation of its
rows, then per mini-batch its corruption noise). Every model follows its own schedule:
global step t is mini-batch t mod S_k of its epoch ⌊t / S_k⌋ + 1, with S_k its number of
mini-batches per epoch, so a model with less data runs through its epochs faster instead of
waiting. A model leaves the stack when its last epoch ends; the others go on.
``tests/test_autoencoder.py`` checks that every model of a stack ends where it ends alone.

EMMA's energy models are fitted on top of it by :func:`emma.engine.autoencoders.fit_energy_models`.
"""
from __future__ import annotations

import math

import pandas as pd
import torch
from tqdm.auto import tqdm

from emma.engine.optim import BatchedAdam
from emma.method.autoencoder import DenoisingAutoencoder, UntiedAutoencoder, check_batch
from emma.util import checks
from emma.util.runtime import progress_disabled, single_cpu_thread


def per_model(value, k: int, name: str) -> list:
    """``value`` repeated K times, or ``value`` itself when it is a sequence of K entries."""
    if isinstance(value, (list, tuple)):
        if len(value) != k:
            raise ValueError(f"{name} must have one entry per model ({k}), got {len(value)}")
        return list(value)
    return [value] * k


def _check_seed(seed, name: str) -> int:
    return checks.integer(seed, name, low=0)


def _padded(tensors: list[torch.Tensor], device, dtype) -> torch.Tensor:
    """The (n_k, d) tensors stacked as (K, max n_k, d), zero beyond each one's rows."""
    out = torch.zeros(len(tensors), max(len(t) for t in tensors), tensors[0].shape[1], device=device, dtype=dtype)
    for k, t in enumerate(tensors):
        out[k, : len(t)] = t.to(device=device, dtype=dtype)
    return out


class _Stack:
    """K autoencoders of one architecture and their training state, every tensor with the model axis first."""

    def __init__(self, models, x_train, x_val, seeds, epochs, batch_size: int, lr: float):
        weight = models[0].weight
        device, dtype = weight.device, weight.dtype
        self.batch_size, self.lr = batch_size, lr
        self.tied = not isinstance(models[0], UntiedAutoencoder)
        names = ["weight", "bias_hidden", "bias_visible"] + ([] if self.tied else ["decoder"])
        # weight W (K, hidden, input), bias_hidden (K, hidden), bias_visible (K, input), decoder V (K, input, hidden)
        self.params = {n: torch.stack([getattr(m, n).detach() for m in models]).clone() for n in names}
        self.optimizer = BatchedAdam(self.params, lr=lr)
        # one entry per model, in stack order (lists on the host, tensors on the device)
        self.models, self.index = list(models), list(range(len(models)))
        self.generators = [torch.Generator(device=device).manual_seed(seed) for seed in seeds]
        self.n_rows = [len(x) for x in x_train]
        self.steps = [math.ceil(n / batch_size) for n in self.n_rows]  # S_k, mini-batches per epoch
        self.last_step = [e * s for e, s in zip(epochs, self.steps)]  # global steps of each model's training
        self.has_val = [x is not None for x in x_val]
        s_max = max(self.steps)
        rows = torch.tensor([[max(0, min(batch_size, n - b * batch_size)) for b in range(s_max)] for n in self.n_rows], device=device)
        filled = torch.arange(batch_size, device=device) < rows.unsqueeze(2)  # (K, S, B): a real row, not padding
        val = [x if x is not None else t[:1] for x, t in zip(x_val, x_train)]
        self.state = {
            "noise_std": torch.tensor([m.noise_std for m in models], dtype=dtype, device=device).view(-1, 1, 1),
            "data": _padded(x_train, device, dtype),  # (K, max n_k, d)
            "rows": rows,  # (K, S): rows in each mini-batch
            "row_weight": filled.to(dtype) / rows.clamp(min=1).unsqueeze(2).to(dtype),  # (K, S, B): 1 / rows, 0 on padding
            "batches": torch.zeros(len(models), s_max * batch_size, weight.shape[1], device=device, dtype=dtype),  # epoch's rows, shuffled
            "losses": torch.zeros(len(models), s_max, device=device, dtype=dtype),  # each mini-batch loss of the epoch
            "noise": torch.zeros(len(models), batch_size, weight.shape[1], device=device, dtype=dtype),  # (K, B, d)
            "val_data": _padded(val, device, dtype),  # (K, max n_val, d)
            "val_count": torch.tensor([len(x) for x in val], device=device),
        }
        self.state["val_mask"] = (torch.arange(self.state["val_data"].shape[1], device=device) < self.state["val_count"].view(-1, 1)).to(dtype)
        self.curves = {k: {"epoch": [], "train_loss": [], "val_loss": []} for k in self.index}

    def _decoder(self) -> torch.Tensor:
        return self.params["weight"] if self.tied else self.params["decoder"].transpose(1, 2)  # Wᵀ or V, as (K, hidden, input)

    def _hidden(self, x: torch.Tensor) -> torch.Tensor:
        p = self.params
        return torch.sigmoid(torch.baddbmm(p["bias_hidden"].unsqueeze(1), x, p["weight"].transpose(1, 2)))  # σ(Wx + b_h), (K, B, hidden)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """r(x) = Wᵀ σ(Wx + b_h) + b_r (V instead of Wᵀ when untied) of each model's rows. (K, B, d) -> (K, B, d)."""
        return torch.baddbmm(self.params["bias_visible"].unsqueeze(1), self._hidden(x), self._decoder())

    def loss_and_gradients(self, clean: torch.Tensor, corrupted: torch.Tensor, row_weight: torch.Tensor) -> torch.Tensor:
        """Each model's loss Σ_b w_b ‖r(x̃_b) − x_b‖² (eq. 4.1); its gradient is left in the parameters' ``.grad``.

        The backward pass is written out (what autograd computes, in a third of the
        operations): per step, the overhead of each operation is what these networks cost.

        Parameters
        ----------
        clean, corrupted : Tensor, shape (K, B, d)
            x and x̃ of each model's mini-batch.
        row_weight : Tensor, shape (K, B)
            1 / (rows in the model's mini-batch) on its rows, 0 on padding.

        Returns
        -------
        Tensor, shape (K,)
        """
        p, decoder = self.params, self._decoder()
        hidden = self._hidden(corrupted)
        error = torch.baddbmm(p["bias_visible"].unsqueeze(1), hidden, decoder) - clean  # r(x̃) − x, (K, B, d)
        losses = ((error**2).sum(dim=2) * row_weight).sum(dim=1)
        grad_out = error * (2 * row_weight).unsqueeze(2)  # ∂loss/∂r, (K, B, d)
        grad_pre = torch.bmm(grad_out, decoder.transpose(1, 2)) * hidden * (1 - hidden)  # ∂loss/∂(Wx̃ + b_h), (K, B, hidden)
        p["bias_visible"].grad = grad_out.sum(dim=1)
        p["bias_hidden"].grad = grad_pre.sum(dim=1)
        if self.tied:  # W is both the encoder and the decoder: hᵀ ∂r + ∂preᵀ x̃ in one product
            p["weight"].grad = torch.bmm(torch.cat([hidden, grad_pre], dim=1).transpose(1, 2), torch.cat([grad_out, corrupted], dim=1))
        else:
            p["weight"].grad = torch.bmm(grad_pre.transpose(1, 2), corrupted)
            p["decoder"].grad = torch.bmm(grad_out.transpose(1, 2), hidden)
        return losses

    def step(self, t: int) -> None:
        """Global step t: one mini-batch and one Adam step of every model in the stack."""
        state, k_models = self.state, len(self.models)
        position = [t % s for s in self.steps]  # each model's mini-batch within its epoch
        for k in range(k_models):  # each model's draws, in the single trainer's order
            if position[k] == 0:  # a new epoch: first a permutation of the rows
                order = torch.randperm(self.n_rows[k], generator=self.generators[k], device=state["data"].device)
                state["batches"][k, : self.n_rows[k]] = state["data"][k, order]
            if self.models[k].noise_std > 0:  # then the corruption of each mini-batch
                rows = min(self.batch_size, self.n_rows[k] - position[k] * self.batch_size)
                state["noise"][k, :rows].normal_(generator=self.generators[k])
        batches = state["batches"].view(k_models, -1, self.batch_size, state["batches"].shape[2])  # (K, S, B, d)
        if len(set(position)) == 1:  # every model at the same mini-batch: plain slices
            where = (slice(None), position[0])
        else:
            device = state["batches"].device
            where = (torch.arange(k_models, device=device), torch.tensor(position, device=device))
        clean = batches[where]  # (K, B, d)
        losses = self.loss_and_gradients(clean, clean + state["noise_std"] * state["noise"], state["row_weight"][where])
        self.optimizer.step()
        state["losses"][where] = losses
        ending = [k for k in range(k_models) if position[k] == self.steps[k] - 1]
        if ending:
            self._end_epoch(ending)
        finished = [k for k in range(k_models) if self.last_step[k] == t + 1]
        if finished:
            self._remove(finished)

    def _end_epoch(self, ending: list[int]) -> None:
        """Record the learning curves of the models whose epoch has just ended."""
        state = self.state
        n_rows = torch.tensor(self.n_rows, dtype=torch.float64, device=state["rows"].device)
        train = ((state["losses"].double() * state["rows"]).sum(dim=1) / n_rows).tolist()  # the epoch's mean loss per row
        val = None
        if any(self.has_val[k] for k in ending):
            errors = ((self.reconstruct(state["val_data"]) - state["val_data"]) ** 2).sum(dim=2)  # (K, max n_val)
            val = ((errors * state["val_mask"]).sum(dim=1) / state["val_count"]).tolist()
        for k in ending:
            curve = self.curves[self.index[k]]
            curve["epoch"].append(len(curve["epoch"]) + 1)
            curve["train_loss"].append(train[k])
            curve["val_loss"].append(val[k] if self.has_val[k] else None)

    def _remove(self, finished: list[int]) -> None:
        """Copy the trained parameters of ``finished`` models into their modules, and go on without them."""
        for k in finished:
            model = self.models[k]
            for name, value in self.params.items():
                getattr(model, name).copy_(value[k])
            model.eval()
        keep = [k for k in range(len(self.models)) if k not in finished]
        if not keep:
            return
        rows = torch.tensor(keep, device=self.params["weight"].device)
        adam = self.optimizer.state()
        self.params = {n: p[rows].clone() for n, p in self.params.items()}
        self.optimizer = BatchedAdam(self.params, lr=self.lr)
        self.optimizer.load({"step_count": adam["step_count"][rows], "exp_avg": {n: v[rows] for n, v in adam["exp_avg"].items()},
                             "exp_avg_sq": {n: v[rows] for n, v in adam["exp_avg_sq"].items()}})
        self.state = {name: value[rows] for name, value in self.state.items()}
        for name in ("models", "index", "generators", "n_rows", "steps", "last_step", "has_val"):
            setattr(self, name, [getattr(self, name)[k] for k in keep])


def train_many_autoencoders(
    models,
    x_train,
    *,
    seeds,
    epochs,
    batch_size: int,
    lr: float = 1e-3,
    x_val=None,
    progress: bool | None = None,
    desc: str = "autoencoders",
) -> list[pd.DataFrame]:
    """Train K autoencoders the caller built, at once, each as :func:`~emma.method.autoencoder.train_one_autoencoder` would alone.

    Model k ends (to float rounding) where ``train_one_autoencoder(models[k], x_train[k],
    seed=seeds[k], epochs=epochs[k], x_val=x_val[k], batch_size=batch_size, lr=lr)`` would
    leave it: same initial weights, mini-batch order, corruption noise and Adam. Models of
    one architecture (class, ``d_input``, ``d_hidden``) share one stack; several
    architectures are trained one stack after the other. Like the single trainer, this
    trains the modules in place and leaves them in eval mode.

    How it differs from :func:`emma.engine.autoencoders.fit_energy_models`, which fits energy models on top of it: here
    the modules are given, initialised however the caller likes and tied or untied (chapter 4
    trains untied controls beside its tied models); nothing is frozen and no Ψ_min is computed.

    Parameters
    ----------
    models : sequence of DenoisingAutoencoder
        K distinct modules (tied or :class:`~emma.method.autoencoder.UntiedAutoencoder`), all on one
        device, initialised as the caller wants; each keeps its own ``noise_std``.
    x_train : sequence of torch.Tensor
        Model k's training rows, shape (n_k, d_input); the n_k may differ.
    seeds : sequence of int
        Model k's shuffling and corruption come from a generator seeded with ``seeds[k]``.
    epochs : int or sequence of int
        Epochs for every model, or one number per model.
    batch_size, lr
        As :func:`~emma.method.autoencoder.train_one_autoencoder`.
    x_val : sequence of (torch.Tensor or None), optional
        Model k's validation rows; a model without them gets no ``val_loss`` column.
    progress : bool, optional
        Show a progress bar over the steps; by default unless :func:`emma.util.runtime.progress_disabled`.

    Returns
    -------
    list of pandas.DataFrame
        Model k's learning curves, as :func:`~emma.method.autoencoder.train_one_autoencoder` returns them.

    Examples
    --------
    >>> from emma.experiments.manifolds import sample_manifold
    >>> x = [sample_manifold(kind, 300, torch.Generator().manual_seed(0)) for kind in ("wave", "circle")]
    >>> models = [DenoisingAutoencoder(2, 8, 0.008) for _ in x]
    >>> curves = train_many_autoencoders(models, x, seeds=[0, 1], epochs=2, batch_size=100, progress=False)
    >>> [len(c) for c in curves]
    [2, 2]
    """
    if not isinstance(models, (list, tuple)) or not models:
        raise TypeError("models must be a non-empty list of DenoisingAutoencoder")
    for k, model in enumerate(models):
        if not isinstance(model, DenoisingAutoencoder):
            raise TypeError(f"models[{k}] must be a DenoisingAutoencoder, got {type(model).__name__}")
    if len({id(m) for m in models}) != len(models):
        raise ValueError("models must be distinct modules (the same module appears twice)")
    k_models = len(models)
    if not isinstance(x_train, (list, tuple)) or len(x_train) != k_models:
        raise ValueError(f"x_train must be a list of one (n, d_input) tensor per model ({k_models})")
    x_train = [check_batch(x, m.d_input, f"x_train[{k}]") for k, (x, m) in enumerate(zip(x_train, models))]
    x_val = [None] * k_models if x_val is None else x_val
    if not isinstance(x_val, (list, tuple)) or len(x_val) != k_models:
        raise ValueError(f"x_val must be a list of one tensor (or None) per model ({k_models})")
    x_val = [None if x is None else check_batch(x, m.d_input, f"x_val[{k}]") for k, (x, m) in enumerate(zip(x_val, models))]
    if not isinstance(seeds, (list, tuple)) or len(seeds) != k_models:
        raise ValueError(f"seeds must be a list of one seed per model ({k_models})")
    seeds = [_check_seed(s, f"seeds[{k}]") for k, s in enumerate(seeds)]
    epochs = [checks.positive_int(e, "epochs") for e in per_model(epochs, k_models, "epochs")]
    checks.positive_int(batch_size, "batch_size")
    if not (isinstance(lr, (int, float)) and lr > 0):
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    devices = {next(m.parameters()).device for m in models}
    if len(devices) != 1:
        raise ValueError(f"models must all be on one device, got {sorted(map(str, devices))}")
    quiet = progress_disabled() if progress is None else not progress

    groups: dict[tuple, list[int]] = {}
    for k, model in enumerate(models):
        groups.setdefault((type(model), model.d_input, model.d_hidden), []).append(k)
    curves: list[pd.DataFrame | None] = [None] * k_models
    with single_cpu_thread(devices.pop()):
        for members in groups.values():
            label = desc if len(groups) == 1 else f"{desc} ({type(models[members[0]]).__name__})"
            stacked = _train_stack(
                [models[k] for k in members], [x_train[k] for k in members], [x_val[k] for k in members],
                [seeds[k] for k in members], [epochs[k] for k in members], batch_size, float(lr), quiet, label,
            )
            for k, curve in zip(members, stacked):
                curves[k] = curve
    return curves


def _train_stack(models, x_train, x_val, seeds, epochs, batch_size, lr, quiet, desc) -> list[pd.DataFrame]:
    """Train one stack of same-architecture models; see :func:`train_many_autoencoders`."""
    stack = _Stack(models, x_train, x_val, seeds, epochs, batch_size, lr)
    has_val = list(stack.has_val)
    with torch.no_grad():
        for t in tqdm(range(max(stack.last_step)), desc=desc, disable=quiet, leave=False, mininterval=1.0):
            stack.step(t)
    return [pd.DataFrame(stack.curves[k] if has_val[k] else {n: stack.curves[k][n] for n in ("epoch", "train_loss")})
            for k in range(len(models))]
