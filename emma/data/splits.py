"""The thesis's split protocol: train, validation and test, standardized on the training split.

:func:`make_splits` holds out 33 % of HTRU2 (stratified, seed 42), halves the held-out
part (stratified) into validation and test, and standardizes every feature with the
training split's mean and population standard deviation. :func:`tensor_fingerprint`
keys the caches by the data they were computed from.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from sklearn.model_selection import train_test_split

from emma.data.htru2 import HTRU2, MODE_NAMES, MODE_SLICES, fetch_htru2
from emma.util.runtime import resolve_device


def tensor_fingerprint(*tensors: torch.Tensor) -> str:
    """SHA-256 (hex) of the shapes, dtypes and bytes of some tensors: a data key for caches."""
    digest = hashlib.sha256()
    for tensor in tensors:
        array = tensor.detach().cpu().contiguous()
        digest.update(f"{tuple(array.shape)}{array.dtype}".encode())
        digest.update(array.numpy().tobytes())
    return digest.hexdigest()


@dataclass
class Split:
    """One part of the data (train, validation or test), standardized.

    Attributes
    ----------
    x : torch.Tensor
        Standardized features, float32, shape (n, 8).
    y : torch.Tensor
        Class, float32, shape (n,): 1.0 for a pulsar.
    index : numpy.ndarray
        Row numbers (0-based) of these samples in ``HTRU_2.csv``. Shape (n,).
    """

    x: torch.Tensor
    y: torch.Tensor
    index: np.ndarray

    @property
    def modes(self) -> list[torch.Tensor]:
        """The modes as a list ``[x[:, 0:4], x[:, 4:8]]`` (IP then DM), each (n, 4)."""
        return [self.x[:, MODE_SLICES[name]] for name in MODE_NAMES]

    def __len__(self) -> int:
        return len(self.y)

    def fingerprint(self) -> str:
        """SHA-256 (hex) of ``x`` and ``y``: identifies the data in cache keys."""
        return tensor_fingerprint(self.x, self.y)


@dataclass
class Splits:
    """The train / validation / test splits and the statistics used to standardize them.

    Attributes
    ----------
    train, val, test : Split
    mean, std : numpy.ndarray
        Per-feature mean and population standard deviation of the *training* split
        in raw units, shape (8,). Every split was standardized as (x − mean) / std.
    seed : int
        The ``random_state`` of both stratified splits.
    """

    train: Split
    val: Split
    test: Split
    mean: np.ndarray
    std: np.ndarray
    seed: int

    def sizes(self) -> pd.DataFrame:
        """Counts per split: columns ``split``, ``positives``, ``negatives``, ``total``."""
        rows = []
        for name, split in (("train", self.train), ("validation", self.val), ("test", self.test)):
            positives = int(split.y.sum().item())
            rows.append({"split": name, "positives": positives, "negatives": len(split) - positives, "total": len(split)})
        return pd.DataFrame(rows)


def make_splits(
    data: HTRU2 | None = None,
    *,
    seed: int = 42,
    test_size: float = 0.33,
    data_home: str | os.PathLike | None = None,
    device: str | torch.device = "cpu",
) -> Splits:
    """Split and standardize HTRU2 as the thesis does.

    1. Hold out ``test_size`` of the samples, stratified by class, with ``random_state=seed``.
    2. Halve the held-out part, stratified, with the same seed: validation, then test.
    3. Standardize all three with the training split's mean and population standard deviation.

    Parameters
    ----------
    data : HTRU2, optional
        The table; :func:`fetch_htru2` (``data_home``) when None.
    seed : int, default 42
        Seed of both splits (the thesis uses 42).
    test_size : float, default 0.33
        Fraction held out for validation and test together, in (0, 1).
    data_home : str or path-like, optional
        Passed to :func:`fetch_htru2` when ``data`` is None.
    device : {"cpu", "cuda", "auto"} or torch.device
        Where the tensors live.

    Returns
    -------
    Splits
    """
    if data is None:
        data = fetch_htru2(data_home)
    if not isinstance(data, HTRU2):
        raise TypeError(f"data must be an HTRU2 (from fetch_htru2) or None, got {type(data).__name__}")
    return split_arrays(data.features, data.target, seed=seed, test_size=test_size, device=device)


def split_arrays(features, target, *, seed: int = 42, test_size: float = 0.33, device: str | torch.device = "cpu") -> Splits:
    """The thesis's split protocol (:func:`make_splits`) for any data set of two modes of four features.

    The engine reads columns 0–3 as the first mode and 4–7 as the second, so a new data set
    of that shape plugs into every sweep, failure and study of the book.

    Parameters
    ----------
    features : array-like, shape (n, 8)
        Raw features, first mode then second.
    target : array-like, shape (n,)
        Classes in {0, 1}.
    seed, test_size, device
        As :func:`make_splits`.

    Returns
    -------
    Splits
        ``index`` holds row numbers of ``features``.
    """
    features = np.asarray(features, dtype=np.float64)
    target = np.asarray(target)
    if features.ndim != 2 or features.shape[1] != 8:
        raise ValueError(f"features must have shape (n, 8): two modes of four features, got {features.shape}")
    if not np.isfinite(features).all():
        raise ValueError("features must be finite")
    if target.shape != (features.shape[0],) or not np.isin(target, (0, 1)).all():
        raise ValueError(f"target must hold one class in {{0, 1}} per row of features ({features.shape[0]}), got shape {target.shape}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if isinstance(test_size, bool) or not isinstance(test_size, (int, float)) or not 0 < test_size < 1:
        raise ValueError(f"test_size must be a fraction strictly between 0 and 1, got {test_size!r}")
    device = resolve_device(device)
    rows = np.arange(len(target))
    train_rows, held_rows = train_test_split(
        rows, test_size=test_size, random_state=int(seed), stratify=target
    )
    val_rows, test_rows = train_test_split(
        held_rows, test_size=0.5, random_state=int(seed), stratify=target[held_rows]
    )
    mean = features[train_rows].mean(axis=0)
    std = features[train_rows].std(axis=0)  # population std (ddof=0)
    if (std == 0).any():
        raise ValueError(f"features {np.flatnonzero(std == 0).tolist()} are constant on the training split")

    def build(part: np.ndarray) -> Split:
        x = (features[part] - mean) / std
        return Split(
            x=torch.as_tensor(x, dtype=torch.float32, device=device),
            y=torch.as_tensor(target[part], dtype=torch.float32, device=device),
            index=part,
        )

    return Splits(build(train_rows), build(val_rows), build(test_rows), mean, std, int(seed))


