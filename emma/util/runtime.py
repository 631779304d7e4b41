"""Seeding, device choice and quiet progress bars: the run-time knobs in one place."""
from __future__ import annotations

import contextlib
import os
import random

import numpy as np
import torch

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Turn a chapter's ``device`` parameter into a :class:`torch.device`.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda"} or torch.device
        ``"auto"`` picks CUDA when it is available and the CPU otherwise.

    Returns
    -------
    torch.device

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if isinstance(device, torch.device):
        return device
    if not isinstance(device, str) or device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device='cuda' was asked for but torch sees no CUDA device; use 'auto' or 'cpu'")
    return torch.device(device)


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch (CPU and CUDA); return a CPU generator seeded the same.

    Parameters
    ----------
    seed : int
        A non-negative integer.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def progress_disabled() -> bool:
    """True when progress bars should stay quiet (under CI, or when EMMA_QUIET is set)."""
    return bool(os.environ.get("CI")) or bool(os.environ.get("EMMA_QUIET"))


def check_profile(profile: str) -> str:
    """Validate a chapter's ``profile`` parameter ("quick" or "full")."""
    if profile not in ("quick", "full"):
        raise ValueError(f"profile must be 'quick' or 'full', got {profile!r}")
    return profile


@contextlib.contextmanager
def single_cpu_thread(device: torch.device):
    """Within the block, use one intra-op CPU thread when ``device`` is the CPU.

    The small networks of the thesis gain nothing from intra-op threads, and on a busy
    2-core machine their synchronisation makes training several times slower. The thread
    count is restored afterwards; results do not depend on it.
    """
    if torch.device(device).type != "cpu":
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
