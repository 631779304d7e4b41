"""Denoising autoencoders and the two energy estimators of thesis chapter 4.

A tied-weight autoencoder with a sigmoid hidden layer,

    r(x) = Wᵀ σ(W x + b_h) + b_r,

has a reconstruction field r(x) − x that is the gradient of a scalar potential
(Kamyshanska & Memisevic, 2014):

    Ψ(x) = −Σ_k softplus(W_k · x + b_h,k) + ½‖x − b_r‖²   (eq. 4.7, up to a constant)

so that r(x) − x = −∇Ψ(x). Ψ is low where the training data lies.
"""
from __future__ import annotations

import math

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from emma.method.attention import under_transform
from emma.util import checks
from emma.util.runtime import progress_disabled, single_cpu_thread


def check_batch(x, d_input: int, name: str = "x") -> torch.Tensor:
    """Check that ``x`` is a floating tensor of shape (batch, d_input); return it."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (batch, {d_input}), got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    if x.dim() != 2 or x.shape[1] != d_input:
        raise ValueError(f"{name} must have shape (batch, {d_input}), got {tuple(x.shape)}")
    return x


_check_positive_int = checks.positive_int


def check_finite(x: torch.Tensor, name: str = "x") -> torch.Tensor:
    """Raise a ValueError naming ``name`` (and the first bad row) when ``x`` holds nan or ±inf; return ``x``.

    Skipped under a :mod:`torch.func` transform, where values cannot be read.
    """
    if under_transform(x) or bool(torch.isfinite(x.detach()).all()):
        return x
    bad = torch.nonzero(~torch.isfinite(x.detach()))
    row = bad[0].tolist()
    raise ValueError(
        f"{name} contains non-finite values: {x[tuple(row)].item()} at row {row[0]}"
        + (f", column {row[1]}" if len(row) > 1 else "")
        + f" ({len(bad)} nan/inf value(s) in all); every input value must be finite"
    )


class DenoisingAutoencoder(nn.Module):
    """Tied-weight denoising autoencoder with a sigmoid hidden layer.

    Parameters
    ----------
    d_input : int
        Width of the input (and of the reconstruction).
    d_hidden : int
        Number of hidden units.
    noise_std : float
        Standard deviation σ of the Gaussian corruption applied to the input in
        training mode only (eq. 4.1). ``reconstruct`` and ``potential`` never corrupt.

    Notes
    -----
    Every method takes ``x`` of shape (batch, d_input), floating-point and finite (nan or
    inf raises a ValueError naming ``x``). Input of another floating dtype than the model
    (float64 data, a float32 model) is cast to the model's dtype, so outputs come in the
    model's dtype; call ``model.double()`` to compute in float64. Python and numpy numbers
    are accepted for ``d_input``, ``d_hidden`` and ``noise_std``.

    Examples
    --------
    >>> dae = DenoisingAutoencoder(2, 8, noise_std=0.008)
    >>> dae.potential(torch.zeros(5, 2)).shape
    torch.Size([5])
    """

    def __init__(self, d_input: int, d_hidden: int, noise_std: float):
        super().__init__()
        d_input, d_hidden = _check_positive_int(d_input, "d_input"), _check_positive_int(d_hidden, "d_hidden")
        noise_std = checks.number(noise_std, "noise_std", low=0.0)
        self.d_input, self.d_hidden, self.noise_std = d_input, d_hidden, float(noise_std)
        bound = 1.0 / math.sqrt(d_input)
        self.weight = nn.Parameter(torch.empty(d_hidden, d_input).uniform_(-bound, bound))  # W: (hidden, input)
        self.bias_hidden = nn.Parameter(torch.zeros(d_hidden))  # b_h
        self.bias_visible = nn.Parameter(torch.zeros(d_input))  # b_r

    def extra_repr(self) -> str:
        return f"d_input={self.d_input}, d_hidden={self.d_hidden}, noise_std={self.noise_std}"

    def _input(self, x, name: str = "x") -> torch.Tensor:
        """``x`` checked (type, shape, finite) and cast to the model's dtype."""
        x = check_finite(check_batch(x, self.d_input, name), name)
        if x.dtype == self.weight.dtype:
            return x
        return check_finite(x.to(self.weight.dtype), f"{name} cast to the model's {self.weight.dtype}")  # 1e39 is inf in float32

    def _pre_activation(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.weight.T + self.bias_hidden  # (batch, hidden)

    def _decode(self, hidden: torch.Tensor) -> torch.Tensor:
        return hidden @ self.weight + self.bias_visible  # Wᵀ h + b_r

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """r(x) = Wᵀ σ(Wx + b_h) + b_r, without corruption. Shape (batch, d_input)."""
        x = self._input(x)
        return self._decode(torch.sigmoid(self._pre_activation(x)))

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Reconstruct ``x``, corrupting it first with N(0, σ²) noise when in training mode (eq. 4.1)."""
        x = self._input(x)
        if self.training and self.noise_std > 0:
            x = x + self.noise_std * torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        return self._decode(torch.sigmoid(self._pre_activation(x)))

    def potential(self, x: torch.Tensor) -> torch.Tensor:
        """Potential energy Ψ(x) of each sample (eq. 4.7, constant dropped). Shape (batch,).

        Computed row by row: a sample's Ψ does not depend on the rest of its batch.
        ``softplus`` keeps it finite for large pre-activations.
        """
        x = self._input(x)
        return -F.softplus(self._pre_activation(x)).sum(dim=1) + 0.5 * ((x - self.bias_visible) ** 2).sum(dim=1)

    def reconstruction_error(self, x: torch.Tensor) -> torch.Tensor:
        """‖r(x) − x‖² of each sample. Shape (batch,)."""
        x = self._input(x)
        return ((self._decode(torch.sigmoid(self._pre_activation(x))) - x) ** 2).sum(dim=1)


class UntiedAutoencoder(DenoisingAutoencoder):
    """The same autoencoder with a free decoder matrix: r(x) = V σ(Wx + b_h) + b_r.

    Its reconstruction field is in general not a gradient field (the Jacobian of r is
    not symmetric), so it has no potential energy; it serves as the control in the
    integrability check of chapter 4.
    """

    def __init__(self, d_input: int, d_hidden: int, noise_std: float):
        super().__init__(d_input, d_hidden, noise_std)
        bound = 1.0 / math.sqrt(d_hidden)
        self.decoder = nn.Parameter(torch.empty(d_input, d_hidden).uniform_(-bound, bound))  # V: (input, hidden)

    def _decode(self, hidden: torch.Tensor) -> torch.Tensor:
        return hidden @ self.decoder.T + self.bias_visible  # V h + b_r

    def potential(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError("an untied autoencoder has no potential energy: its field is not a gradient")


def train_one_autoencoder(
    model: DenoisingAutoencoder,
    x_train: torch.Tensor,
    *,
    epochs: int,
    batch_size: int,
    lr: float = 1e-3,
    x_val: torch.Tensor | None = None,
    seed: int = 0,
    progress: bool | None = None,
    desc: str = "autoencoder",
) -> pd.DataFrame:
    """Train one denoising autoencoder with Adam on the loss ‖r(x̃) − x‖² (eq. 4.1).

    One model, one step at a time: :func:`emma.engine.autoencoder_stack.train_many_autoencoders` trains
    K of them at once to the same end, and :func:`emma.engine.autoencoders.fit_energy_models` fits
    EMMA's energy models. The data stays on the model's device. Shuffling and corruption noise come from
    a generator seeded with ``seed``, so a run is reproducible on the CPU.

    ``x_train`` and ``x_val`` must be finite (nan or inf raises a ValueError naming them,
    before any step); data of another floating dtype than the model (float64, say) is
    cast to the model's dtype once, up front.

    Returns
    -------
    pandas.DataFrame
        The learning curves: one row per epoch with ``epoch``, ``train_loss``
        (mean over the epoch's mini-batches, corrupted inputs) and, when ``x_val``
        is given, ``val_loss`` (clean inputs, no corruption).
    """
    if not isinstance(model, DenoisingAutoencoder):
        raise TypeError(f"model must be a DenoisingAutoencoder (or UntiedAutoencoder), got {type(model).__name__}")
    x_train = model._input(x_train, "x_train")
    if len(x_train) == 0:
        raise ValueError(f"x_train must hold at least one sample, got shape {tuple(x_train.shape)}")
    if x_val is not None:
        x_val = model._input(x_val, "x_val")
    epochs = _check_positive_int(epochs, "epochs")
    batch_size = _check_positive_int(batch_size, "batch_size")
    lr = checks.number(lr, "lr", low=0.0, low_open=True)
    seed = checks.integer(seed, "seed", low=0)
    device = next(model.parameters()).device
    x_train = x_train.to(device)
    generator = torch.Generator(device=device).manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    quiet = progress_disabled() if progress is None else not progress
    rows = []
    with single_cpu_thread(device):
        for epoch in tqdm(range(1, epochs + 1), desc=desc, disable=quiet, leave=False):
            model.train()
            order = torch.randperm(len(x_train), generator=generator, device=device)
            total, count = 0.0, 0
            for start in range(0, len(x_train), batch_size):
                batch = x_train[order[start : start + batch_size]]
                loss = ((model(batch, generator=generator) - batch) ** 2).sum(dim=1).mean()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += loss.item() * len(batch)
                count += len(batch)
            row = {"epoch": epoch, "train_loss": total / count}
            if x_val is not None:
                row["val_loss"] = evaluate_autoencoder(model, x_val)
            rows.append(row)
    model.eval()
    return pd.DataFrame(rows)


@torch.no_grad()
def evaluate_autoencoder(model: DenoisingAutoencoder, x: torch.Tensor) -> float:
    """Mean ‖r(x) − x‖² over ``x`` with no corruption."""
    check_batch(x, model.d_input)
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    value = model.reconstruction_error(x.to(device)).mean().item()
    model.train(was_training)
    return value


def freeze(model: nn.Module) -> nn.Module:
    """Put ``model`` in eval mode and stop gradients to its parameters; return it."""
    model.eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return model


def potential_gradient_error(model: DenoisingAutoencoder, x: torch.Tensor, potential=None) -> torch.Tensor:
    """``|−∇Ψ(x) − (r(x) − x)|`` per sample, max over coordinates, with ∇Ψ from autograd. Shape (batch,).

    Zero up to rounding when r(x) − x = −∇Ψ(x), the relation eq. 4.5–4.7 rest on.
    ``potential`` (default ``model.potential``) lets a chapter test another candidate
    formula for Ψ, a callable from (batch, d) to (batch,).
    """
    potential = model.potential if potential is None else potential
    x = check_batch(x, model.d_input).detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(potential(x).sum(), x)
    with torch.no_grad():
        field = model.reconstruct(x) - x
    return (-grad - field).abs().amax(dim=1)


def jacobian_asymmetry(model: DenoisingAutoencoder, x: torch.Tensor) -> torch.Tensor:
    """``max_ij |J_ij − J_ji|`` of the Jacobian J = ∂r/∂x at each sample. Shape (batch,).

    The integrability criterion (eq. 4.3): a field is a gradient only if its Jacobian is
    symmetric. Zero for tied weights, in general not for an untied autoencoder.
    """
    x = check_batch(x, model.d_input).detach()
    jac = torch.func.vmap(torch.func.jacrev(lambda row: model.reconstruct(row[None])[0]))(x)  # (batch, d, d)
    return (jac - jac.transpose(1, 2)).abs().amax(dim=(1, 2))
