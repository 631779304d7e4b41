"""Write every figure and table a chapter shows to ``<output_dir>/figures`` and ``<output_dir>/tables``.

Files are written atomically (to a temporary file in the same folder, then renamed), so an
interrupted run never leaves half a PNG or CSV behind.

While ``emma-book run`` executes a chapter, the environment variable :data:`READS_LOG` names a
log file: :func:`read_output` (how a chapter reads another chapter's outputs, e.g.
:func:`emma.claims.report.read_table`) appends each file it reads with the digest of the bytes
read, and :func:`save_table` and :func:`save_figure` append each file they write. The run turns
the log into the ``reads`` part of the chapter's run key (:mod:`emma_book.rerun`). Without the
variable (a chapter run by hand) nothing is logged.

While ``emma-book run`` executes a chapter, the environment variable :data:`RUN_DIR` names the
chapter's run folder, ``<output_dir>/runs/<chapter>-<id>`` (:mod:`emma_book.runs`): what
:func:`save_table` and :func:`save_figure` write for ``<output_dir>`` goes to its ``tables`` and
``figures`` instead, and becomes visible in ``<output_dir>`` only with the executed notebook,
when the chapter succeeds. :func:`read_output` reads the chapter's own copy when it wrote one
(:func:`located`), so a chapter still reads back what it wrote. The log names the visible paths.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from pathlib import Path

import pandas as pd

_NAME = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")
#: The environment variable naming the log of what the running chapter reads and writes.
READS_LOG = "EMMA_READS_LOG"
#: The environment variable naming the running chapter's run folder, ``<output_dir>/runs/<chapter>-<id>``.
RUN_DIR = "EMMA_RUN_DIR"
#: The kinds of outputs a run folder holds, as subfolders of it and of ``<output_dir>``.
KINDS = ("tables", "figures")


def digest(data: bytes) -> str:
    """A short digest (16 hex characters of SHA-256) of a file's bytes, as run keys store it.

    >>> digest(b"a,b\\n1,2\\n")
    '492d5ea496056f1a'
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes, got {type(data).__name__}")
    return hashlib.sha256(data).hexdigest()[:16]


def _log(entry: dict) -> None:
    """Append one line to the log :data:`READS_LOG` names, if it names one (one ``write`` in append mode)."""
    log = os.environ.get(READS_LOG)
    if log:
        with open(log, "a", encoding="utf-8") as stream:
            stream.write(json.dumps(entry) + "\n")


def run_copy(path: str | os.PathLike) -> Path | None:
    """Where the running chapter writes the output ``path`` (``<output_dir>/tables/x.csv``): the same
    name in its run folder (:data:`RUN_DIR`); None outside a run, or for a file of another folder.
    """
    run = os.environ.get(RUN_DIR)
    if not run:
        return None
    run, path = Path(run).resolve(), Path(path).resolve()
    if path.parent.name in KINDS and path.parent.parent == run.parent.parent:
        return run / path.parent.name / path.name
    return None


def located(path: str | os.PathLike) -> Path:
    """The file a read of the output ``path`` finds: the running chapter's own copy when it wrote one, else ``path``."""
    copy = run_copy(path)
    return copy if copy is not None and copy.is_file() else Path(path)


def read_output(path: str | os.PathLike) -> bytes:
    """The bytes of an output another chapter wrote, logged with their digest while a run records reads.

    Parameters
    ----------
    path : path
        The file, e.g. ``<output_dir>/tables/robustness_f1.csv``.

    Raises
    ------
    FileNotFoundError
        No such file.
    """
    path = Path(path)
    source = located(path)
    if not source.is_file():
        raise FileNotFoundError(f"{path} is missing")
    data = source.read_bytes()
    _log({"read": str(path.resolve()), "digest": digest(data)})
    return data


def listing_digest(folder: str | os.PathLike, pattern: str, exclude=()) -> tuple[list[Path], str]:
    """The files of ``folder`` matching ``pattern`` but those named in ``exclude``, sorted, and a digest of their names."""
    if not isinstance(pattern, str) or "/" in pattern or not pattern:
        raise ValueError(f"pattern must be a file pattern inside the folder, such as '*_claims.csv', got {pattern!r}")
    found = sorted(p for p in Path(folder).glob(pattern) if p.name not in set(exclude))
    return found, digest("\n".join(p.name for p in found).encode())


def read_listing(folder: str | os.PathLike, pattern: str, exclude=()) -> list[Path]:
    """The files of ``folder`` matching ``pattern`` (but ``exclude``), with the listing logged as a read.

    A chapter that reads every table of a kind (the verdicts appendix reads every ``*_claims.csv``)
    is then stale when such a table appears or goes, not only when one it read changes
    (:func:`emma_book.rerun.current_reads` computes the same listing again).
    """
    found, stamp = listing_digest(folder, pattern, exclude)
    name = str(Path(folder).resolve() / pattern) + (f"!{','.join(sorted(exclude))}" if exclude else "")
    _log({"read": name, "digest": stamp})
    return found


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(
            f"name must be lower-case letters, digits, '_' or '-' (no extension), got {name!r}"
        )
    return name


def _umask() -> int:
    """The process's umask, read without changing it where Linux says it (setting it is not thread-safe)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike, write) -> Path:
    """Call ``write(tmp_path)`` and move the result onto ``path`` in one rename.

    The file gets the modes a plain ``open`` would give it (0644 under the usual umask), not the
    0600 of a temporary file: other users read the outputs.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _save(visible: Path, write) -> Path:
    """Write an output whose visible place is ``visible``: into the run folder during a run; log it with its digest."""
    copy = run_copy(visible)
    if copy is not None:  # only inside a live run folder: a kernel that outlived its killed run cannot bring the folder back
        try:
            copy.parent.mkdir(exist_ok=True)  # not parents: the run folder itself must still be there
        except FileNotFoundError:
            raise RuntimeError(f"the run folder {copy.parent.parent} is gone (its run was killed and settled): {visible.name} is not written") from None
    target = copy or visible
    atomic_write(target, write)
    if os.environ.get(READS_LOG):
        _log({"wrote": str(visible.resolve()), "digest": digest(target.read_bytes())})
    return target


def save_figure(fig, name: str, output_dir: str | os.PathLike = "_build", dpi: int = 150) -> Path:
    """Save a matplotlib figure as ``<output_dir>/figures/<name>.png`` and return where it was written.

    During ``emma-book run`` that is the chapter's run folder (:func:`run_copy`); the file reaches
    ``<output_dir>/figures`` when the chapter succeeds.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> save_figure(fig, "demo", "/tmp/emma-doc")  # doctest: +ELLIPSIS
    PosixPath('/tmp/emma-doc/figures/demo.png')
    """
    _check_name(name)
    if not hasattr(fig, "savefig"):
        raise TypeError(f"fig must be a matplotlib Figure, got {type(fig).__name__}")
    path = Path(output_dir) / "figures" / f"{name}.png"
    return _save(path, lambda tmp: fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format="png"))


def save_table(table: pd.DataFrame, name: str, output_dir: str | os.PathLike = "_build") -> Path:
    """Save a DataFrame as ``<output_dir>/tables/<name>.csv`` (index dropped) and return where it was written
    (the run folder during ``emma-book run``, as :func:`save_figure`)."""
    _check_name(name)
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"table must be a pandas DataFrame, got {type(table).__name__}")
    path = Path(output_dir) / "tables" / f"{name}.csv"
    return _save(path, lambda tmp: table.to_csv(tmp, index=False))
