"""A small on-disk cache for trained models and finished sweeps.

An artifact is stored under a file name derived from a SHA-256 of *everything that
produced it* (the ``key`` mapping: settings, seeds, data fingerprint, code version),
and written atomically, so a run cut short never leaves a half-written artifact
that a later run would trust.

Only envelopes are trusted
    Each file holds an envelope ``{"emma_cache": CACHE_VERSION, "name": ..., "key": <hash>,
    "value": ...}``. A file is used only if it holds exactly that envelope, of this version,
    for the name and key asked for. Anything else (a file that cannot be read: truncated,
    overwritten with other bytes, empty, pickled from classes that no longer exist; a bare
    value saved over an entry, such as a state dict or ``42``; the envelope of another entry)
    is moved aside to ``<name>-<hash>.pt.corrupt-<time>`` in the same folder, a
    :class:`CorruptCacheWarning` names the file and the reason, and the value is computed and
    stored again.

Temporaries of killed writes are removed
    A write killed before its rename leaves ``.<name>-<hash>.pt.<random>.pt`` behind
    (:func:`emma.util.outputs.atomic_write`). Each :func:`cached` call removes those of its
    folder that were last written over a minute ago and that no process has open (on Linux,
    where ``/proc`` tells; elsewhere, those over an hour old): a write in progress is never
    touched.

Code defined outside the package: keys by content, or no cache
    A key holds what :func:`emma.util.fingerprint.code_fingerprint` makes of code written in a
    chapter (a model family's functions, a failure's class). When something in it cannot be
    fingerprinted, the key carries ``<uncacheable: …>``: :func:`cached` then computes the value
    without reading or writing any file, with an :class:`UncacheableWarning` naming the object.

Bypassing the cache: ``EMMA_RETRAIN``
    With the environment variable :data:`RETRAIN` set to ``1`` every :func:`cached` call
    computes its value and overwrites the file, reading nothing. Set to a Unix time (seconds,
    as ``date +%s`` prints it), only the files written before that time are computed again;
    those written since are read, so what one step of a run trained anew is reused by the
    next. ``emma-book run --retrain`` sets it that way, to the time the run starts, for every
    chapter it executes (and their worker processes, which inherit it); :func:`retraining`
    does the same for a block of Python.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

from emma.util.fingerprint import UNCACHEABLE
from emma.util.outputs import atomic_write

#: Bump when a change in the package alters what cached artifacts contain.
CACHE_VERSION = 1
#: The environment variable that bypasses the cache (see the module docstring).
RETRAIN = "EMMA_RETRAIN"
#: The envelope's marker key; a loaded value without it is not a cache entry.
_MARK = "emma_cache"
#: The earliest Unix time :data:`RETRAIN` accepts (2001), so that a small number is not taken for one.
_EARLIEST = 1e9
#: What :func:`emma.util.fingerprint.code_fingerprint` puts in a key where it could not fingerprint something.
_UNCACHEABLE = re.compile(rf"<{UNCACHEABLE}: ([^<>]*)>")
#: A temporary of :func:`emma.util.outputs.atomic_write` for a cache file: ``.<name>-<hash>.pt.<8 random characters>.pt``.
_TEMPORARY = re.compile(r"^\..+-[0-9a-f]{20}\.pt\.[a-z0-9_]{8}\.pt$")
#: Seconds since its last write after which a temporary no process holds open is taken for a killed write's.
_TEMPORARY_AGE = 60.0
#: The same, where no ``/proc`` tells which files are open.
_TEMPORARY_AGE_BLIND = 3600.0


class CorruptCacheWarning(UserWarning):
    """A cache file could not be used; it was moved aside and its value computed again."""


class UncacheableWarning(UserWarning):
    """A key holds something that cannot be fingerprinted: the value was computed, and neither read nor stored."""


def cache_key(key: Mapping[str, Any]) -> str:
    """SHA-256 (hex, 20 characters) of a JSON rendering of ``key`` with sorted keys."""
    if not isinstance(key, Mapping):
        raise TypeError(f"key must be a mapping of settings, got {type(key).__name__}")
    text = json.dumps({"_cache_version": CACHE_VERSION, **key}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def retrain_cutoff() -> float | None:
    """What :data:`RETRAIN` asks for: None (read the cache), ``inf`` (read nothing) or a Unix time.

    Files modified before the returned time are computed again.

    Raises
    ------
    ValueError
        The variable holds something other than ``0``/``1``/``true``/``false``/``yes``/``no``
        or a Unix time in seconds.
    """
    text = os.environ.get(RETRAIN, "").strip().lower()
    if text in ("", "0", "false", "no"):
        return None
    if text in ("1", "true", "yes"):
        return math.inf
    try:
        since = float(text)
    except ValueError:
        since = math.nan
    if not since >= _EARLIEST or math.isinf(since):
        raise ValueError(
            f"environment variable {RETRAIN}={os.environ[RETRAIN]!r}: expected 1 (recompute every cached "
            f"artifact), 0 (use the cache) or a Unix time in seconds (recompute what was written before it)"
        )
    return since


@contextlib.contextmanager
def retraining(enabled: bool = True, since: float | None = None):
    """Within the block, bypass the cache: set :data:`RETRAIN` (the previous value is restored).

    Parameters
    ----------
    enabled : bool
        When False, the block runs with the environment unchanged.
    since : float, optional
        A Unix time: files written before it are computed again, later ones are read.
        By default every value is computed again. Processes started in the block (papermill's
        kernels, pool workers) inherit the variable.
    """
    if not enabled:
        yield
        return
    if since is not None and not (isinstance(since, (int, float)) and _EARLIEST <= since < math.inf):
        raise ValueError(f"since must be a Unix time in seconds (as time.time() gives), got {since!r}")
    previous = os.environ.get(RETRAIN)
    os.environ[RETRAIN] = "1" if since is None else f"{since:.6f}"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(RETRAIN, None)
        else:
            os.environ[RETRAIN] = previous


def cached(
    name: str,
    key: Mapping[str, Any],
    compute: Callable[[], Any],
    cache_dir: str | os.PathLike | None,
) -> Any:
    """Return ``compute()``, stored as ``<cache_dir>/<name>-<hash of key>.pt``.

    With ``cache_dir=None`` nothing is read or written. The result must be
    serialisable by :func:`torch.save` (tensors, state dicts, DataFrames, plain data).
    A file that is not this entry's envelope is moved aside with a :class:`CorruptCacheWarning`
    and the value computed again; a key that holds something that could not be fingerprinted
    is computed without the cache, with an :class:`UncacheableWarning`; :data:`RETRAIN`
    bypasses the cache (module docstring).

    Raises
    ------
    TypeError
        ``name`` is not a string, ``key`` not a mapping, ``compute`` not callable, or
        ``cache_dir`` neither a path nor None.
    ValueError
        ``name`` is empty or holds a path separator, or ``cache_dir`` is an empty string.
    """
    _check_arguments(name, key, compute, cache_dir)
    if cache_dir is None:
        return compute()
    unknown = sorted(set(_unfingerprinted(key)))
    if unknown:
        warnings.warn(
            f"cache entry {name!r} is not cached (computed, neither read nor stored): its key holds what cannot be "
            f"fingerprinted: {'; '.join(unknown)}",
            UncacheableWarning,
            stacklevel=3,
        )
        return compute()
    digest = cache_key(key)
    folder = Path(cache_dir)
    _remove_dead_temporaries(folder)
    path = folder / f"{name}-{digest}.pt"
    cutoff = retrain_cutoff()
    if path.exists() and (cutoff is None or _modified(path) >= cutoff):
        found, value = _load(path, name, digest)
        if found:
            return value
    value = compute()
    envelope = {_MARK: CACHE_VERSION, "name": name, "key": digest, "value": value}
    atomic_write(path, lambda tmp: torch.save(envelope, tmp))
    return value


def _check_arguments(name, key, compute, cache_dir) -> None:
    """The checks of :func:`cached`'s arguments."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a str (the entry's file name stem, e.g. 'sweep_with'), got {type(name).__name__}")
    if not name or "/" in name or os.sep in name or "\0" in name:
        raise ValueError(f"name must be a non-empty file name stem without path separators, got {name!r}")
    if not isinstance(key, Mapping):
        raise TypeError(f"key must be a mapping of settings, got {type(key).__name__}")
    if not callable(compute):
        raise TypeError(f"compute must be a callable taking no arguments, got {type(compute).__name__}")
    if cache_dir is not None and not isinstance(cache_dir, (str, os.PathLike)):
        raise TypeError(f"cache_dir must be a folder path (str or os.PathLike) or None (no cache), got {type(cache_dir).__name__} {cache_dir!r}")
    if isinstance(cache_dir, str) and not cache_dir.strip():
        raise ValueError(f"cache_dir must be a folder path or None (no cache), got the empty string {cache_dir!r}")


def _unfingerprinted(value) -> list[str]:
    """What the ``<uncacheable: …>`` marks anywhere in a key name (strings inside mappings and sequences)."""
    if isinstance(value, str):
        return _UNCACHEABLE.findall(value)
    if isinstance(value, Mapping):
        return [found for k, v in value.items() for found in _unfingerprinted(k) + _unfingerprinted(v)]
    if isinstance(value, (list, tuple, set, frozenset)):
        return [found for item in value for found in _unfingerprinted(item)]
    return []


def _remove_dead_temporaries(folder: Path) -> None:
    """Remove the temporaries of killed writes in ``folder``: old enough, and open in no process (module docstring)."""
    try:
        entries = [e for e in os.scandir(folder) if _TEMPORARY.match(e.name)]
    except OSError:  # no folder yet, or not readable: the write will say
        return
    if not entries:
        return
    open_now = _open_files()
    age = _TEMPORARY_AGE if open_now is not None else _TEMPORARY_AGE_BLIND
    now = time.time()
    for entry in entries:
        try:
            if not entry.is_file(follow_symlinks=False) or now - entry.stat(follow_symlinks=False).st_mtime < age:
                continue
            if open_now is not None and os.path.realpath(entry.path) in open_now:
                continue  # a live process writes it (or was stopped while it did)
            os.unlink(entry.path)
        except OSError:  # gone meanwhile, or not ours to remove
            continue


def _open_files() -> set[str] | None:
    """Every file some process this user can see has open (``/proc/<pid>/fd``); None where ``/proc`` does not tell."""
    proc = Path("/proc")
    if not (proc / "self" / "fd").is_dir():
        return None
    found = set()
    for process in proc.iterdir():
        if not process.name.isdigit():
            continue
        try:
            descriptors = list(os.scandir(process / "fd"))
        except OSError:  # gone, or another user's
            continue
        for fd in descriptors:
            try:
                found.add(os.readlink(fd.path))
            except OSError:
                continue
    return found


def _modified(path: Path) -> float:
    """The file's modification time, or ``-inf`` when it vanished meanwhile (so it is recomputed)."""
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return -math.inf


def _load(path: Path, name: str, digest: str) -> tuple[bool, Any]:
    """``(True, value)`` from a usable cache file; ``(False, None)`` once a bad one is moved aside."""
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=False)
    except FileNotFoundError:  # another process moved it aside meanwhile
        return False, None
    except Exception as error:  # noqa: BLE001 - any failure to read makes the file unusable
        reason = f"it cannot be read ({type(error).__name__}: {_shorten(str(error))})"
        _move_aside(path, reason)
        return False, None
    if not (isinstance(loaded, dict) and _MARK in loaded):
        _move_aside(path, f"it holds a bare {type(loaded).__module__}.{type(loaded).__qualname__}, not a cache envelope")
        return False, None
    problem = _envelope_problem(loaded, name, digest)
    if problem:
        _move_aside(path, problem)
        return False, None
    return True, loaded["value"]


def _envelope_problem(loaded: dict, name: str, digest: str) -> str | None:
    """Why a loaded envelope is not the entry ``name``/``digest``, or None when it is."""
    if set(loaded) != {_MARK, "name", "key", "value"}:
        return f"its envelope has the fields {sorted(map(str, loaded))}, expected {sorted([_MARK, 'key', 'name', 'value'])}"
    if loaded[_MARK] != CACHE_VERSION:
        return f"it was written by cache version {loaded[_MARK]!r}, this is version {CACHE_VERSION}"
    if loaded["name"] != name or loaded["key"] != digest:
        return f"it holds the entry {loaded['name']!r} with key {loaded['key']!r}, expected {name!r} with key {digest!r}"
    return None


def _move_aside(path: Path, reason: str) -> None:
    """Rename a bad cache file to ``<file>.corrupt-<time>`` and warn, naming both and the reason."""
    stamp = time.strftime("%Y%m%dT%H%M%S") + f"-{os.getpid()}"
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    try:
        os.replace(path, aside)
        where = f"moved it to {aside}"
    except FileNotFoundError:  # another process moved it first
        where = "another process moved it aside"
    except OSError as error:
        where = f"could not move it aside ({error}); it will be overwritten"
    warnings.warn(
        f"cache file {path} is not usable: {reason}; {where}, and the value is computed again",
        CorruptCacheWarning,
        stacklevel=4,
    )


def _shorten(text: str, limit: int = 200) -> str:
    """``text`` on one line, cut to ``limit`` characters."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
