"""Runs that cannot lie: one run per output folder at a time, and outputs bound to the run that wrote them.

* :func:`holding` takes ``<output_dir>/.lock`` (``fcntl.flock``, released by the system when the
  holder dies, so a dead run's lock is simply taken over) and writes the holder's pid, host,
  start time and command into it. A second run into the same folder stops at once with
  :class:`OutputFolderBusy`, naming the holder.
* :class:`RunFolder`: each chapter executed writes its tables and figures to its own folder,
  ``<output_dir>/runs/<NN_chapter>-<unique id>/`` (the kernel finds it in the environment variable
  :data:`emma.util.outputs.RUN_DIR`), and its executed notebook there too. When the chapter
  succeeds, :meth:`RunFolder.commit` writes a ``COMMIT`` record, then moves the outputs into
  ``<output_dir>/tables`` and ``<output_dir>/figures`` and the notebook onto its final place.
  When it fails, the run folder goes to ``<output_dir>/failed/<NN_chapter>/`` for inspection,
  out of every later run's way.
* :func:`recover`, called under the lock before anything runs, finishes the promotion of a run
  killed after its ``COMMIT`` (roll forward) and removes any run folder without one: a run
  interrupted at any point leaves either everything of the chapter's new run visible, or none of it.
  The notebook made visible is the run's own, with the parameters it ran with and its run key:
  ``emma-book build`` settles the folder before it looks at the notebooks
  (:func:`emma_book.update.settle`), so a committed run is finished, never executed again.
* What stops a run is said in one line: :class:`Interrupted` (Ctrl-C, naming the chapter) and
  :class:`DiskFull` (:func:`disk_full`: the folder, the space free and needed). A cache warning
  raised in a chapter's kernel is found in its executed notebook (:func:`cache_warnings`) for the
  command to repeat.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from emma.util.cache import CorruptCacheWarning, UncacheableWarning
from emma.util.outputs import KINDS, RUN_DIR, atomic_write

LOCK = ".lock"
RUNS = "runs"
FAILED = "failed"
COMMIT = "COMMIT"


class OutputFolderBusy(RuntimeError):
    """Another run holds the output folder's lock; the message names it."""


class Interrupted(KeyboardInterrupt):
    """The run was interrupted (Ctrl-C) while it executed the chapter ``chapter``; what was committed before it stays."""

    def __init__(self, chapter: str):
        super().__init__(chapter)
        self.chapter = chapter


class DiskFull(RuntimeError):
    """A write failed for want of space; the message names the folder and, where known, the space needed."""


def _size(n: float) -> str:
    """``n`` bytes as a person reads it: ``512 bytes``, ``3.4 MB``."""
    if n < 1000:
        return f"{n:.0f} bytes"
    for unit in ("KB", "MB", "GB"):
        n /= 1000
        if n < 1000 or unit == "GB":
            break
    return f"{n:.1f} {unit}"


def disk_full(error: OSError, chapter: str, folder: str | os.PathLike, needed: int | None = None, kept: str | os.PathLike | None = None) -> DiskFull:
    """The one-line error for ``error`` (no space left) while the chapter ``chapter`` ran or was committed.

    Parameters
    ----------
    error : OSError
        The error (its file, when it names one, is a temporary one: the message names ``folder``).
    chapter : str
        The chapter's name.
    folder : path
        The output folder it was writing into.
    needed : int, optional
        The bytes the failed write needed, when known.
    kept : path, optional
        Where the chapter's executed notebook was kept, named when that file exists.
    """
    if not isinstance(error, OSError):
        raise ValueError(f"error must be an OSError, got {type(error).__name__}")
    folder = Path(folder)
    existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
    try:
        free = f"{_size(shutil.disk_usage(existing).free)} free" if existing is not None else "free space unknown"
    except OSError:
        free = "free space unknown"
    need = f", about {_size(needed)} needed" if needed else ""
    keep = f"; its executed notebook is kept in {kept}" if kept is not None and Path(kept).is_file() else ""
    return DiskFull(f"no space left on the device of {folder} ({free}{need}) while chapter {chapter!r} ran: "
                    f"free some space and rerun; the chapters finished before it are kept{keep}")


def cache_warnings(notebook: str | os.PathLike) -> list[str]:
    """The cache warnings (:class:`emma.util.cache.CorruptCacheWarning`, :class:`~emma.util.cache.UncacheableWarning`) an executed
    notebook's stderr holds, in order, each once.

    A warning raised in a chapter's kernel reaches only the stream outputs of its cell, which the
    book hides; ``emma-book run`` repeats each after the chapter. Each names the cache file and
    what was done with it. A notebook that does not exist holds none.
    """
    if not isinstance(notebook, (str, os.PathLike)):
        raise ValueError(f"notebook must be the path of an executed notebook, got {notebook!r}")
    if not Path(notebook).is_file():
        return []
    markers = [f"{kind.__name__}: " for kind in (CorruptCacheWarning, UncacheableWarning)]
    found: list[str] = []
    for cell in nbformat.read(notebook, as_version=4).cells:
        streams = [o for o in cell.get("outputs", []) if o.get("output_type") == "stream" and o.get("name") == "stderr"]
        for line in "".join("".join(o.get("text", "")) for o in streams).splitlines():
            message = next((line.split(m, 1)[1].strip() for m in markers if m in line), "")
            if message and message not in found:
                found.append(message)
    return found


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        info = {}
    if not info:
        return "a run that has not said who it is yet"
    return f"pid {info.get('pid')} on {info.get('host')}, since {info.get('since')} ({info.get('command')})"


@contextlib.contextmanager
def locked(folder: str | os.PathLike):
    """Hold ``<folder>/.lock`` for the block, creating ``folder`` first.

    Raises
    ------
    OutputFolderBusy
        Another live process holds it.
    ValueError
        The folder cannot be created or written (read-only, name too long...): one line naming it.
    """
    folder = Path(folder)
    path = folder / LOCK
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise ValueError(f"cannot use the output folder {folder}: {error.strerror or error}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OutputFolderBusy(
                f"the output folder {folder} is in use by another run: {_holder(path)}; "
                "wait for it to end, or give this run another output_dir"
            ) from None
        info = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%d %H:%M:%S"),
                "command": " ".join(["emma-book", *sys.argv[1:]])[:300]}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        try:
            yield folder
        finally:
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # releases the lock


@contextlib.contextmanager
def holding(folders):
    """Hold the lock of every folder of ``folders`` (in a fixed order) and :func:`recover` each; yield their messages."""
    with contextlib.ExitStack() as stack:
        messages = []
        for folder in sorted({Path(f).resolve() for f in folders}):
            stack.enter_context(locked(folder))
            messages += recover(folder)
        yield messages


def _move(source: Path, destination: Path) -> None:
    """Move a file onto ``destination`` in one rename (a copy renamed into place across file systems)."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(source, destination)
    except OSError:
        atomic_write(destination, lambda tmp: shutil.copyfile(source, tmp))
        source.unlink()


def promote(run: Path) -> Path:
    """Make a committed run visible: its outputs into ``<output_dir>/tables|figures``, its notebook onto its place.

    Idempotent: a promotion interrupted half-way is finished by calling it again. Returns the notebook's place.
    """
    record = json.loads((run / COMMIT).read_text())
    output = run.parent.parent
    for kind in KINDS:
        for path in sorted((run / kind).glob("*")) if (run / kind).is_dir() else []:
            if path.is_file() and not path.name.startswith("."):
                _move(path, output / kind / path.name)
    notebook, final = run / record["notebook"], Path(record["final"])
    if notebook.is_file():
        _move(notebook, final)
    shutil.rmtree(run, ignore_errors=True)
    return final


def recover(folder: str | os.PathLike) -> list[str]:
    """Settle the runs a killed ``emma-book run`` left in ``<folder>/runs``; call it holding the lock.

    A committed run is promoted (:func:`promote`); any other is removed, its outputs never seen.
    Returns one message per run settled.
    """
    messages = []
    runs = Path(folder) / RUNS
    for run in sorted(runs.iterdir()) if runs.is_dir() else []:
        if (run / COMMIT).is_file():
            promote(run)
            messages.append(f"finished making visible the outputs of the interrupted run {run.name}")
        else:
            shutil.rmtree(run, ignore_errors=True)
            messages.append(f"removed the unfinished run {run.name}: none of its outputs were made visible")
    return messages


class RunFolder:
    """The folder one execution of a chapter writes into, ``<output_dir>/runs/<stem>-<unique id>``.

    Use it as a context manager around the execution: within, :data:`~emma.util.outputs.RUN_DIR`
    names it (the kernel inherits it); leaving without :meth:`commit` (an error, an interrupt)
    moves it to ``<output_dir>/failed/<stem>/``.

    Parameters
    ----------
    output_dir : path
        The output folder (absolute).
    stem : str
        The chapter's ``NN_name``.
    """

    def __init__(self, output_dir: str | os.PathLike, stem: str):
        self.output_dir = Path(output_dir)
        self.stem = stem
        (self.output_dir / RUNS).mkdir(parents=True, exist_ok=True)
        self.path = Path(tempfile.mkdtemp(prefix=f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}-", dir=self.output_dir / RUNS))
        self.committed = False

    @property
    def notebook(self) -> Path:
        """Where the execution writes the executed notebook."""
        return self.path / "chapters" / f"{self.stem}.ipynb"

    @property
    def log(self) -> Path:
        """The log of reads and writes (:func:`emma_book.rerun.recording_reads`)."""
        return self.path / "reads.jsonl"

    @property
    def failed(self) -> Path:
        """Where a failed execution is kept: ``<output_dir>/failed/<stem>/``."""
        return self.output_dir / FAILED / self.stem

    def __enter__(self) -> RunFolder:
        self._previous = os.environ.get(RUN_DIR)
        os.environ[RUN_DIR] = str(self.path)
        return self

    def __exit__(self, *exc) -> None:
        if self._previous is None:
            os.environ.pop(RUN_DIR, None)
        else:
            os.environ[RUN_DIR] = self._previous
        if not self.committed:
            self.discard()

    def commit(self, final: str | os.PathLike) -> Path:
        """Record that the run succeeded, then make it visible (:func:`promote`); ``final``: the notebook's place."""
        record = {"notebook": self.notebook.relative_to(self.path).as_posix(), "final": str(Path(final).resolve())}
        atomic_write(self.path / COMMIT, lambda tmp: Path(tmp).write_text(json.dumps(record)))
        self.committed = True
        return promote(self.path)

    def discard(self) -> None:
        """Move what the run wrote to :attr:`failed` (replacing an earlier failure's), out of every later run's way.

        That is its tables and figures and, when the chapter was executed to the end (the run then
        failed later: no space for its run key, an interrupt), its executed notebook.
        """
        self.failed.mkdir(parents=True, exist_ok=True)
        for kind in KINDS:
            shutil.rmtree(self.failed / kind, ignore_errors=True)
            if (self.path / kind).is_dir():
                shutil.move(str(self.path / kind), str(self.failed / kind))
        if self.notebook.is_file():
            os.replace(self.notebook, self.failed / self.notebook.name)  # one rename: no space needed
        shutil.rmtree(self.path, ignore_errors=True)
