"""Write every figure and table a chapter shows to ``<output_dir>/figures`` and ``<output_dir>/tables``.

Files are written atomically (to a temporary file in the same folder, then renamed), so an
interrupted run never leaves half a PNG or CSV behind.
"""
from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import pandas as pd

_NAME = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")


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


def save_figure(fig, name: str, output_dir: str | os.PathLike = "_build", dpi: int = 150) -> Path:
    """Save a matplotlib figure as ``<output_dir>/figures/<name>.png`` and return the path.

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
    return atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format="png"))


def save_table(table: pd.DataFrame, name: str, output_dir: str | os.PathLike = "_build") -> Path:
    """Save a DataFrame as ``<output_dir>/tables/<name>.csv`` (index dropped) and return the path."""
    _check_name(name)
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"table must be a pandas DataFrame, got {type(table).__name__}")
    path = Path(output_dir) / "tables" / f"{name}.csv"
    return atomic_write(path, lambda tmp: table.to_csv(tmp, index=False))
