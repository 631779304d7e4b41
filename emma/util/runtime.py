"""Seeding, device choice, quiet progress bars and worker processes: the run-time knobs in one place."""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import multiprocessing
import os
import random
import signal
import sys
import warnings
from concurrent.futures import ProcessPoolExecutor

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
        An integer in [0, 2**64 - 1], the seeds torch's generators take (NumPy is seeded with
        ``seed % 2**32``).

    Raises
    ------
    ValueError
        ``seed`` is no integer, or out of that range.
    """
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or not 0 <= int(seed) <= 2**64 - 1:
        raise ValueError(f"seed must be an integer in [0, 2**64 - 1] (the seeds torch takes), got {seed!r}")
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


#: ``PR_SET_PDEATHSIG`` of ``<linux/prctl.h>``: the signal a process gets when its parent dies.
_PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int) -> None:
    """Make this (worker) process die with its parent: a process pool's ``initializer``.

    On Linux, asks the kernel with ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` (through :mod:`ctypes`)
    to kill this process when its parent dies, then exits at once if the parent died
    already (this process's parent is no longer ``parent_pid``). A pool whose caller is
    killed then leaves no worker behind; otherwise workers go on under PID 1, holding their
    memory. Elsewhere it does nothing. :func:`worker_pool` makes the package's pools with it.

    Linux sends the signal when the *thread* that started the worker ends, so create the pool
    in a thread that lives as long as the pool (the main thread, as the package does).

    Parameters
    ----------
    parent_pid : int
        The pid of the process that creates the pool (``os.getpid()`` there).

    Raises
    ------
    ValueError
        ``parent_pid`` is not a positive integer.
    """
    if isinstance(parent_pid, bool) or not isinstance(parent_pid, int) or parent_pid < 1:
        raise ValueError(f"parent_pid must be a positive integer (the pool creator's os.getpid()), got {parent_pid!r}")
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        warnings.warn(f"prctl(PR_SET_PDEATHSIG) failed ({os.strerror(errno)}): this worker may outlive its parent",
                      RuntimeWarning, stacklevel=2)
    if os.getppid() != parent_pid:  # the parent died before the request was made: nobody waits for us
        os._exit(1)


def worker_pool(max_workers: int) -> ProcessPoolExecutor:
    """The package's process pool: ``max_workers`` spawned workers that die with this process (:func:`die_with_parent`).

    Spawned, not forked, so a worker starts from a clean interpreter (no copied threads or CUDA
    state); what is submitted must be importable there (a family registered in a notebook is not).
    """
    if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
        raise ValueError(f"max_workers must be a positive integer, got {max_workers!r}")
    return ProcessPoolExecutor(max_workers=max_workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=die_with_parent, initargs=(os.getpid(),))
