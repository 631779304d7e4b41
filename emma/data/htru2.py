"""The HTRU2 pulsar data: finding, fetching and checking the file.

HTRU2 (Lyon et al., 2016; UCI data set 372, CC BY 4.0) holds 17,898 pulsar
candidates, 1,639 of them real pulsars. Each candidate has two *modes* of four
numbers each: the mean, standard deviation, excess kurtosis and skewness of its
integrated pulse profile (IP, columns 0–3) and of its DM-SNR curve (DM, columns 4–7).

:func:`fetch_htru2` finds ``HTRU_2.csv`` (``data_home``, then ``$EMMA_DATA_DIR``, then a
user cache folder), downloads it into the cache when it is nowhere, and checks the
parsed content and its SHA-256 digest before anything uses it (:func:`read_htru2`). The thesis's split
protocol lives in :mod:`emma.data.splits`, the corruption of modes in :mod:`emma.data.noise`, and how
well each feature alone separates the classes in :mod:`emma.data.separation`.
"""
from __future__ import annotations

import csv
import hashlib
import io
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from emma.util.outputs import atomic_write
from emma.util.runtime import progress_disabled

#: Where the UCI Machine Learning Repository serves the data set (a zip holding HTRU_2.csv).
HTRU2_URL = "https://archive.ics.uci.edu/static/public/372/htru2.zip"
HTRU2_FILENAME = "HTRU_2.csv"
#: SHA-256 of the UCI file ``HTRU_2.csv`` (LF line endings, one final newline), checked by :func:`read_htru2`.
HTRU2_SHA256 = "b2b388ceaa9718d00f6feba97bfe7096ee61996526cee2bea94e9dd034e9cbbe"
#: Environment variable naming a folder that holds HTRU_2.csv.
DATA_DIR_ENV = "EMMA_DATA_DIR"

FEATURE_NAMES = (
    "ip_mean",
    "ip_std",
    "ip_excess_kurtosis",
    "ip_skewness",
    "dm_mean",
    "dm_std",
    "dm_excess_kurtosis",
    "dm_skewness",
)
CLASS_COLUMN = "pulsar"
MODE_NAMES = ("IP", "DM")
MODE_SLICES = {"IP": slice(0, 4), "DM": slice(4, 8)}

N_SAMPLES = 17_898
N_PULSARS = 1_639


def check_mode_name(name: str) -> str:
    """Return ``name`` if it names a mode ("IP" or "DM"), else raise a ValueError naming them."""
    if name not in MODE_SLICES:
        raise ValueError(f"mode must be one of {MODE_NAMES} or an index 0..{len(MODE_NAMES) - 1}, got {name!r}")
    return name


class HTRU2FormatError(ValueError):
    """The file is not the HTRU2 table: the message names the problem and the file."""


class HTRU2NotFoundError(FileNotFoundError):
    """HTRU_2.csv is in none of the folders searched and could not be downloaded."""


@dataclass
class HTRU2:
    """The HTRU2 table as read from one file.

    Attributes
    ----------
    frame : pandas.DataFrame
        17,898 rows; the columns of :data:`FEATURE_NAMES` then ``pulsar`` (0 or 1).
    features : numpy.ndarray
        The eight features, float64, shape (n, 8).
    target : numpy.ndarray
        The class, int64, shape (n,): 1 for a pulsar.
    path : pathlib.Path
        The file that was read.
    """

    frame: pd.DataFrame
    features: np.ndarray
    target: np.ndarray
    path: Path

    def mode(self, name: str) -> np.ndarray:
        """The four columns of mode ``name`` ("IP" or "DM"). Shape (n, 4)."""
        return self.features[:, MODE_SLICES[check_mode_name(name)]]


# --------------------------------------------------------------------------- finding the file


def default_cache_dir() -> Path:
    """The user cache folder: ``$XDG_CACHE_HOME/emma``, or ``~/.cache/emma`` when that is unset."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "emma"


def search_folders(data_home) -> list[tuple[str, Path | None]]:
    """(label, folder) in search order; folder is None where nothing was given."""
    env = os.environ.get(DATA_DIR_ENV)
    return [
        ("data_home", Path(data_home).expanduser() if data_home is not None else None),
        (f"${DATA_DIR_ENV}", Path(env).expanduser() if env else None),
        ("user cache", default_cache_dir()),
    ]


def fetch_htru2(data_home: str | os.PathLike | None = None, *, download: bool = True, verify: bool = True) -> HTRU2:
    """Load HTRU2, downloading it into the user cache if no copy is found.

    The file ``HTRU_2.csv`` is looked for, in this order, in ``data_home``, in the
    folder named by the environment variable ``EMMA_DATA_DIR`` and in the user cache
    folder (:func:`default_cache_dir`). When none holds it, the UCI archive is
    downloaded into the cache (written atomically: a download cut short leaves
    nothing behind) and ``HTRU_2.csv`` is extracted from it. The content is checked
    by :func:`read_htru2` in every case.

    Parameters
    ----------
    data_home : str or path-like, optional
        A folder holding ``HTRU_2.csv``, searched first. It must exist: a folder that is not
        there is an error naming it, not a reason to read another copy.
    download : bool, default True
        Whether to download the archive when no copy is found.
    verify : bool, default True
        Whether to check the file's SHA-256 (:func:`read_htru2`); ``False`` reads a deliberately modified copy.

    Returns
    -------
    HTRU2

    Raises
    ------
    ValueError
        ``data_home`` is neither None nor a path.
    HTRU2NotFoundError
        ``data_home`` is not a folder; or no copy was found and the download failed (or
        ``download=False``): the message lists the folders searched and how to point the loader at a copy.
    HTRU2FormatError
        The file found is not the HTRU2 table, or (with ``verify``) differs from the UCI file.

    Examples
    --------
    >>> data = fetch_htru2("/path/to/folder/with/csv")  # doctest: +SKIP
    >>> data.features.shape, int(data.target.sum())      # doctest: +SKIP
    ((17898, 8), 1639)
    """
    verify = _check_verify(verify)
    _check_data_home(data_home)
    folders = search_folders(data_home)
    for _, folder in folders:
        if folder is not None and (folder / HTRU2_FILENAME).is_file():
            return read_htru2(folder / HTRU2_FILENAME, verify=verify)
    cache = default_cache_dir()
    if not download:
        raise HTRU2NotFoundError(_not_found_message(folders, "downloading was switched off (download=False)"))
    try:
        path = download_htru2(cache, verify=verify)
    except (urllib.error.URLError, OSError, zipfile.BadZipFile) as error:
        raise HTRU2NotFoundError(
            _not_found_message(folders, f"downloading {HTRU2_URL} into {cache} failed: {error}")
        ) from error
    return read_htru2(path, verify=verify)


def _check_data_home(data_home) -> None:
    """``data_home`` must be None or the path of an existing folder: a folder that is not there is a mistake, not a reason to look elsewhere."""
    if data_home is None:
        return
    if not isinstance(data_home, (str, os.PathLike)) or not str(data_home).strip():
        raise ValueError(f"data_home must be None or the path of a folder holding {HTRU2_FILENAME} (a str or path-like), got {data_home!r}")
    folder = Path(data_home).expanduser()
    if not folder.is_dir():
        raise HTRU2NotFoundError(f"data_home {folder} is not a folder ({'a file' if folder.exists() else 'nothing is there'}); "
                                 f"pass the folder holding {HTRU2_FILENAME}, or None to look in ${DATA_DIR_ENV} and the user cache")


def _not_found_message(folders, reason: str) -> str:
    looked = "; ".join(
        f"{label}: {folder / HTRU2_FILENAME}" if folder is not None else f"{label}: not set"
        for label, folder in folders
    )
    return (
        f"{HTRU2_FILENAME} was not found (looked in {looked}) and {reason}. "
        f"Point the loader at a copy: pass fetch_htru2(data_home='folder holding {HTRU2_FILENAME}') "
        f"or set the environment variable {DATA_DIR_ENV} to that folder."
    )


def download_htru2(cache_dir: str | os.PathLike, url: str | None = None, timeout: float = 30.0, *, verify: bool = True) -> Path:
    """Download the UCI archive and extract ``HTRU_2.csv`` into ``cache_dir``.

    The archive is streamed into a temporary file with a progress bar, the CSV is
    extracted into another temporary file and checked with :func:`read_htru2`, and
    only then renamed to ``<cache_dir>/HTRU_2.csv``. Any failure on the way (network,
    interruption, a bad archive or content) removes the temporary files.

    Parameters
    ----------
    cache_dir : str or path-like
        Folder to put ``HTRU_2.csv`` in (created if needed).
    url : str, optional
        Address of the zip archive; :data:`HTRU2_URL` when None.
    timeout : float
        Seconds to wait for the server.
    verify : bool, default True
        Whether to check the extracted file's SHA-256 (see :func:`read_htru2`).

    Returns
    -------
    pathlib.Path
        The path of the extracted ``HTRU_2.csv``.
    """
    url = HTRU2_URL if url is None else url
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    fd, archive = tempfile.mkstemp(dir=cache_dir, prefix=".htru2-", suffix=".zip.part")
    os.close(fd)
    try:
        _stream_to_file(url, archive, timeout)
        return atomic_write(cache_dir / HTRU2_FILENAME, lambda tmp: _extract_csv(archive, tmp, verify))
    finally:
        Path(archive).unlink(missing_ok=True)


def _stream_to_file(url: str, target: str, timeout: float, chunk_size: int = 1 << 16) -> None:
    with urllib.request.urlopen(url, timeout=timeout) as response, open(target, "wb") as out:
        total = response.headers.get("Content-Length") if getattr(response, "headers", None) else None
        with tqdm(
            total=int(total) if total else None,
            unit="B",
            unit_scale=True,
            desc="HTRU2 download",
            disable=progress_disabled(),
        ) as bar:
            while chunk := response.read(chunk_size):
                out.write(chunk)
                bar.update(len(chunk))


def _extract_csv(archive: str, target: str, verify: bool = True) -> None:
    with zipfile.ZipFile(archive) as bundle:
        members = [name for name in bundle.namelist() if Path(name).name == HTRU2_FILENAME]
        if not members:
            raise zipfile.BadZipFile(f"the archive holds no {HTRU2_FILENAME} (it has {bundle.namelist()})")
        with bundle.open(members[0]) as source, open(target, "wb") as out:
            shutil.copyfileobj(source, out)
    read_htru2(target, display_name=f"{HTRU2_FILENAME} extracted from {HTRU2_URL}", verify=verify)


# --------------------------------------------------------------------------- parsing and checking


def read_htru2(path: str | os.PathLike, *, display_name: str | None = None, verify: bool = True) -> HTRU2:
    """Read ``path`` and check that it is the HTRU2 table, and (``verify``) the UCI file itself.

    Checks, in order: no byte-order mark, commas between values (not ';' or tabs), no header,
    9 columns on every line, numbers only, all finite, 17,898 rows, a class of 0 and 1, 1,639
    ones; last, with ``verify``, the SHA-256 against :data:`HTRU2_SHA256` (line endings read as
    LF, so a copy with converted line endings matches). A file of the wrong layout gets the
    message naming its problem; the digest catches one that differs in any value. Nothing is
    dropped or repaired: the first failing check raises.

    Parameters
    ----------
    path : str or path-like
        A CSV file in the HTRU2 layout (no header; 8 features then the class).
    display_name : str, optional
        How to name the file in error messages (default: the path).
    verify : bool, default True
        Whether to check the digest; ``False`` reads a deliberately modified copy (the layout is still checked).

    Returns
    -------
    HTRU2

    Raises
    ------
    HTRU2FormatError
        With a message naming the problem and the file.
    """
    verify = _check_verify(verify)
    path = Path(path)
    name = display_name or str(path)

    def fail(problem: str):
        raise HTRU2FormatError(f"{name}: {problem}")

    raw = path.read_bytes()
    for mark, encoding in _BYTE_ORDER_MARKS:
        if raw.startswith(mark):
            fail(f"starts with a {encoding} byte-order mark (an encoding problem): the HTRU2 file is plain ASCII text; "
                 f"save it again without the mark (as 'UTF-8', not 'UTF-8 with BOM' or UTF-16), or download it again")
    if b"\x00" in raw[:4096]:
        fail("holds NUL bytes (an encoding problem, UTF-16 perhaps): the HTRU2 file is plain ASCII text")
    text = raw.decode("utf-8", errors="replace")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    while rows and not rows[-1]:  # trailing blank lines hold no data
        rows.pop()
    if not rows:
        fail("the file is empty")
    first_line = text.lstrip("\r\n").splitlines()[0]
    for separator, label in ((";", "';'"), ("\t", "tabs")):
        if separator in first_line:
            fail(f"uses {label} between values, expected ',' (line 1 is {first_line[:60]!r}): the HTRU2 file separates "
                 f"its 9 values with commas; was it saved again by a spreadsheet with other settings?")
    if not _is_numeric_row(rows[0]):
        fail(f"line 1 is a header ({','.join(rows[0])[:80]!r}); the HTRU2 file has none, every line is data")
    n_columns = len(FEATURE_NAMES) + 1
    widths = np.array([len(row) for row in rows])
    if (widths == widths[0]).all() and widths[0] != n_columns:
        kind = "an extra column" if widths[0] > n_columns else "a missing column"
        fail(f"found {widths[0]} columns on every line, expected {n_columns} (8 features then the class): {kind}")
    bad = np.flatnonzero(widths != n_columns)
    if bad.size:
        fail(f"line {bad[0] + 1} has {widths[bad[0]]} fields, expected {n_columns}")
    try:
        values = np.array(rows, dtype=np.float64)  # (n, 9)
    except ValueError:
        line, column, text = _first_non_number(rows)
        what = "is empty (a missing value)" if text.strip() == "" else f"holds {text!r}, not a number"
        fail(f"line {line}, column {column} {what}")
    non_finite = np.argwhere(~np.isfinite(values))
    if non_finite.size:
        line, column = non_finite[0]
        fail(
            f"line {line + 1}, column {column} ({_column_name(column)}) is {values[line, column]} "
            f"({len(non_finite)} non-finite value(s) in all); every value must be finite"
        )
    if len(values) != N_SAMPLES:
        hint = " (truncated?)" if len(values) < N_SAMPLES else ""
        fail(f"has {len(values):,} rows, expected {N_SAMPLES:,}{hint}")
    labels = values[:, -1]
    not_binary = np.flatnonzero((labels != 0) & (labels != 1))
    if not_binary.size:
        line = not_binary[0]
        fail(f"line {line + 1}: the class (last column) is {labels[line]:g}; it must be 0 or 1")
    if int(labels.sum()) != N_PULSARS:
        fail(f"has {int(labels.sum()):,} pulsars (class 1), expected {N_PULSARS:,}")
    if verify:
        _check_digest(raw, fail)
    frame = pd.DataFrame(values[:, :-1], columns=list(FEATURE_NAMES))
    frame[CLASS_COLUMN] = labels.astype(np.int64)
    return HTRU2(frame=frame, features=values[:, :-1].copy(), target=labels.astype(np.int64), path=path)


_BYTE_ORDER_MARKS = ((b"\xef\xbb\xbf", "UTF-8"), (b"\xff\xfe", "UTF-16"), (b"\xfe\xff", "UTF-16"))


def _check_verify(verify) -> bool:
    if not isinstance(verify, bool):
        raise ValueError(f"verify must be True or False, got {verify!r}")
    return verify


def _check_digest(raw: bytes, fail) -> None:
    """SHA-256 of the bytes, CRLF and CR line endings read as LF and trailing newlines as one, against the UCI file's."""
    found = hashlib.sha256(raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n").rstrip(b"\n") + b"\n").hexdigest()
    if found != HTRU2_SHA256:
        fail(
            f"the layout is HTRU2's but the content differs from the UCI file: its SHA-256 is {found}, expected "
            f"{HTRU2_SHA256} (line endings read as LF). Some value was changed. Delete the file and download the UCI "
            f"copy again ({HTRU2_URL}; fetch_htru2 downloads it into the user cache when it finds no copy), or, to "
            f"read a deliberately modified copy, pass verify=False to read_htru2 or fetch_htru2"
        )


def _is_numeric_row(row: list[str]) -> bool:
    try:
        [float(cell) for cell in row]
    except ValueError:
        return False
    return True


def _first_non_number(rows: list[list[str]]) -> tuple[int, int, str]:
    for i, row in enumerate(rows):
        for j, cell in enumerate(row):
            try:
                float(cell)
            except ValueError:
                return i + 1, j, cell
    raise AssertionError("unreachable: every cell parsed")


def _column_name(column: int) -> str:
    return FEATURE_NAMES[column] if column < len(FEATURE_NAMES) else "class"
