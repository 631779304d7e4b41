"""The data each model of a sweep sees: its seed's corrupted splits, and its autoencoders' potentials.

A *stream* is one seed's split, clean or carrying the seed's corruption draw (the book's
corrupted copy, or the "clean" set as the original code's in-place corruption left it), with
the two parts of every sample's potential under the seed's autoencoders. A batch-coupled
potential (the original code's; appendix: original-coupled-potential) sums ½‖X − b_r‖² over the rows of one *call*
(:func:`coupled_potentials`).

:class:`StreamData` is one split of every stream, and its layout: one float table of every
per-row quantity (:meth:`StreamData.table`), where each quantity sits (:attr:`StreamData.COLUMNS`)
and the gathered columns read back by name (:meth:`StreamData.unpack`). :func:`order_seed` seeds
each model's data order.
"""
from __future__ import annotations

import dataclasses
import zlib
from dataclasses import dataclass
from typing import ClassVar, Mapping

import torch

from emma.data.failures import Standardization, corrupt_modes
from emma.data.splits import Split, Splits
from emma.engine.configs import TrainSettings
from emma.engine.training import omega_weights


def noise_generator(seed: int, split: str) -> torch.Generator:
    """The generator of the corruption of ``split`` ("train", "val", "test") for ``seed``."""
    return torch.Generator().manual_seed(1_000_003 * (1 + ("train", "val", "test").index(split)) + int(seed))


def corrupted_split(splits: Splits, split: str, seed: int, settings: TrainSettings) -> tuple[torch.Tensor, torch.Tensor]:
    """The seed's corrupted copy of ``split``, in split order: (x (n, 8), mask (n, 2)).

    The scheme fails one mode of ``1 − clean_fraction`` of the samples with the settings'
    :attr:`~emma.engine.configs.TrainSettings.effective_failure` (:func:`emma.data.failures.corrupt_modes`);
    the default, ``Gaussian(sigma)``, draws what :func:`emma.data.noise.corrupt` always drew.
    """
    x0 = getattr(splits, split).x.detach().cpu()
    return corrupt_modes(x0, settings.effective_failure, noise_generator(seed, split), settings.clean_fraction, Standardization.of(splits))


def in_place_splits(splits: Splits, seed: int, settings: TrainSettings) -> Splits:
    """The splits as the code left them after ``apply_corruption`` (appendix: original-in-place-corruption): each carries the seed's draw."""
    parts = {s: Split(corrupted_split(splits, s, seed, settings)[0], getattr(splits, s).y.cpu(), getattr(splits, s).index) for s in ("train", "val", "test")}
    return dataclasses.replace(splits, train=parts["train"], val=parts["val"], test=parts["test"])


@torch.no_grad()
def potential_parts(energies, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(Σ softplus, ½‖x − b_r‖²) of each mode's autoencoder, each (..., n, 2), for x (..., n, 8)."""
    flat = x.reshape(-1, x.shape[-1])
    parts = []
    for m, model in enumerate(energies.models):
        xm = flat[:, 4 * m : 4 * m + 4].to(energies.psi_min.device)
        quadratic = 0.5 * ((xm - model.bias_visible) ** 2).sum(dim=1)  # eq. 4.7, quadratic term
        parts.append((quadratic - model.potential(xm), quadratic))
    softplus = torch.stack([p[0] for p in parts], dim=-1).reshape(*x.shape[:-1], 2).to(x.device)
    quadratic = torch.stack([p[1] for p in parts], dim=-1).reshape(*x.shape[:-1], 2).to(x.device)
    return softplus, quadratic


def coupled_potentials(softplus: torch.Tensor, quadratic: torch.Tensor, coupled: torch.Tensor, groups: torch.Tensor | None = None) -> torch.Tensor:
    """Ψ per sample (eq. 4.7) or batch-coupled, per model. (K, n, 2).

    Parameters
    ----------
    softplus, quadratic : Tensor, shape (K, n, 2)
    coupled : bool Tensor, shape (K,)
        Models whose potential is batch-coupled: ½‖X − b_r‖² summed over the rows of one
        call is added to every sample of that call (the original code; appendix:
        original-coupled-potential).
    groups : long Tensor, shape (K, n), optional
        The call each row belongs to (e.g. its mini-batch or its test subset); one call
        for all rows when None.
    """
    own = quadratic - softplus
    if not bool(coupled.any()):
        return own
    if groups is None:
        shared = quadratic.sum(dim=1, keepdim=True) - softplus
    else:
        index = groups.unsqueeze(-1).expand(-1, -1, 2)
        sums = torch.zeros(quadratic.shape[0], int(groups.max()) + 1, 2, dtype=quadratic.dtype, device=quadratic.device)
        sums.scatter_add_(1, index, quadratic)
        shared = sums.gather(1, index) - softplus
    return torch.where(coupled.view(-1, 1, 1), shared, own)


def code_batches(n: int, batch_size: int) -> int:
    """Mini-batches of a pass of the code's loop ``range(0, n − b, b)`` (its last batch is skipped)."""
    return len(range(0, n - batch_size, batch_size))


def coupled_psi_min(energies, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Ψ_min of the batch-coupled potential as the code computed it: mini-batches of ``batch_size``, in order, last skipped. (2,)"""
    n_batches = code_batches(len(x), batch_size)
    if n_batches < 1:
        raise ValueError(f"x needs more than batch_size = {batch_size} rows, got {len(x)}")
    softplus, quadratic = potential_parts(energies, x[: n_batches * batch_size].detach().cpu().unsqueeze(0))
    groups = (torch.arange(n_batches * batch_size) // batch_size).unsqueeze(0)
    psi = coupled_potentials(softplus, quadratic, torch.tensor([True]), groups)[0]
    return psi.min(dim=0).values.to(energies.psi_min.device)


def energies_for(energies, seed: int, on_corrupted: bool = False):
    """The autoencoders of a seed: one EnergyModels for all, a dict by seed, or by (seed, fitted on corrupted data)."""
    if isinstance(energies, Mapping):
        key = (int(seed), bool(on_corrupted)) if any(isinstance(k, tuple) for k in energies) else int(seed)
        if key not in energies:
            raise ValueError(f"energies has no autoencoders for {key} (it has {sorted(energies)})")
        return energies[key]
    return energies


@dataclass
class StreamData:
    """One split for each data stream (axis R): features, classes, corruption mask, potential parts, and their layout.

    Built for a sweep's streams by :meth:`of_streams`. The engine reads a mini-batch as columns
    of :meth:`table` (:meth:`columns`, gathered along the rows) and names them with :meth:`unpack`.
    """

    #: Where each quantity sits among the columns of :meth:`table`: (start, stop) of x, ξ (the corruption
    #: mask as floats), the code's Ω weights, and the two parts of the potential (absent without energies).
    COLUMNS: ClassVar[dict[str, tuple[int, int]]] = {"x": (0, 8), "xi": (8, 10), "code_weight": (10, 12), "softplus": (12, 14),
                                                     "quadratic": (14, 16)}

    x: torch.Tensor  # (R, n, 8)
    y: torch.Tensor  # (n,)
    corrupted: torch.Tensor  # (R, n, 2) bool
    softplus: torch.Tensor | None = None  # (R, n, 2)
    quadratic: torch.Tensor | None = None
    _table: torch.Tensor | None = dataclasses.field(default=None, repr=False)
    _columns: torch.Tensor | None = dataclasses.field(default=None, repr=False)

    def table(self) -> torch.Tensor:
        """Every per-row quantity in one float table (R·n, 8 + 4 [+ 4]): x | ξ | the code's Ω weights | softplus | quadratic (:attr:`COLUMNS`).

        The weights of Ω are those of :func:`emma.engine.training.omega_weights`. The engine gathers a
        mini-batch with one ``index_select`` on it (much cheaper on the CPU than advanced
        indexing of each tensor); built once, on first use.
        """
        if self._table is None:
            parts = [self.x, *omega_weights(self.corrupted, self.x.dtype)]
            if self.softplus is not None:
                parts += [self.softplus, self.quadratic]
            self._table = torch.cat(parts, dim=-1).flatten(0, 1)
        return self._table

    def columns(self) -> torch.Tensor:
        """:meth:`table` transposed, (columns, R·n): a gather along its rows keeps each quantity's batch contiguous."""
        if self._columns is None:
            self._columns = self.table().t().contiguous()
        return self._columns

    @classmethod
    def unpack(cls, columns: torch.Tensor) -> dict[str, torch.Tensor]:
        """Gathered columns of :meth:`columns` (columns, K, m) -> each quantity of :attr:`COLUMNS` as a (K, c, m) view.

        A table without potentials (12 columns) gives no ``softplus`` and ``quadratic``.
        """
        return {name: columns[start:stop].transpose(0, 1) for name, (start, stop) in cls.COLUMNS.items() if start < columns.shape[0]}

    @classmethod
    def of_streams(cls, splits, split: str, streams, settings: TrainSettings, energies, device, noisy_test: bool = False) -> "StreamData":
        """``split`` ("train", "val", "test") of every stream ``(seed, noisy, autoencoders fitted on corrupted data)``, on ``device``.

        A noisy stream (or every stream, with ``noisy_test``) carries its seed's corruption draw
        (:func:`corrupted_split`), the others the clean split; with ``energies``, each stream's
        potential parts under its seed's autoencoders (:func:`potential_parts`, :func:`energies_for`).
        """
        xs, masks = [], []
        for seed, noisy, _ in streams:
            if noisy or noisy_test:
                x, mask = corrupted_split(splits, split, seed, settings)
            else:
                x = getattr(splits, split).x.detach().cpu().clone()
                mask = torch.zeros(len(x), 2, dtype=torch.bool)
            xs.append(x)
            masks.append(mask)
        data = cls(torch.stack(xs).to(device), getattr(splits, split).y.detach().to(device), torch.stack(masks).to(device))
        if energies is not None:
            parts = [potential_parts(energies_for(energies, s, ae), data.x[r]) for r, (s, _, ae) in enumerate(streams)]
            data.softplus, data.quadratic = torch.stack([p[0] for p in parts]), torch.stack([p[1] for p in parts])
        return data


def order_seed(seed: int, config, init: str) -> int:
    """The seed of a model's mini-batch order: of its seed alone (``init="per_seed"``), or of its seed and configuration (``"shared"``)."""
    if init == "per_seed":
        return 2_000_003 + int(seed)
    text = f"{int(seed)}|{config['rho']!r}|{config['lambda_c']!r}|{config['lambda_e']!r}"
    return 3_000_017 + zlib.crc32(text.encode())
