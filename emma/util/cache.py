"""A small on-disk cache for trained models and finished sweeps.

An artifact is stored under a file name derived from a SHA-256 of *everything that
produced it* (the ``key`` mapping: settings, seeds, data fingerprint, code version),
and written atomically, so a run cut short never leaves a half-written artifact
that a later run would trust.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Callable, Mapping

import torch

from emma.util.outputs import atomic_write

#: Bump when a change in the package alters what cached artifacts contain.
CACHE_VERSION = 1


def cache_key(key: Mapping[str, Any]) -> str:
    """SHA-256 (hex, 20 characters) of a JSON rendering of ``key`` with sorted keys."""
    if not isinstance(key, Mapping):
        raise TypeError(f"key must be a mapping of settings, got {type(key).__name__}")
    text = json.dumps({"_cache_version": CACHE_VERSION, **key}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def cached(
    name: str,
    key: Mapping[str, Any],
    compute: Callable[[], Any],
    cache_dir: str | os.PathLike | None,
) -> Any:
    """Return ``compute()``, stored as ``<cache_dir>/<name>-<hash of key>.pt``.

    With ``cache_dir=None`` nothing is read or written. The result must be
    serialisable by :func:`torch.save` (tensors, state dicts, DataFrames, plain data).
    """
    if cache_dir is None:
        return compute()
    path = Path(cache_dir) / f"{name}-{cache_key(key)}.pt"
    if path.exists():
        return torch.load(path, map_location="cpu", weights_only=False)
    value = compute()
    atomic_write(path, lambda tmp: torch.save(value, tmp))
    return value
