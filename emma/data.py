"""The HTRU2 pulsar data: loading, the thesis's split protocol, and corruption.

HTRU2 (Lyon et al., 2016; UCI data set 372, CC BY 4.0) holds 17,898 pulsar
candidates, 1,639 of them real pulsars. Each candidate has two *modes* of four
numbers each: the mean, standard deviation, excess kurtosis and skewness of its
integrated pulse profile (IP, columns 0–3) and of its DM-SNR curve (DM, columns 4–7).

Three layers live here:

* :func:`fetch_htru2` finds ``HTRU_2.csv`` (``data_home``, then ``$EMMA_DATA_DIR``,
  then a user cache folder), downloads it into the cache when it is nowhere, and
  checks the parsed content before anything uses it (:func:`read_htru2`).
* :func:`make_splits` is the thesis's protocol: a stratified split holding out 33 %
  (seed 42), the held-out part halved (stratified) into validation and test, and
  every feature standardized with the training split's mean and population std.
* :func:`add_noise` and :func:`corrupt` add Gaussian white noise to whole modes;
  :func:`sigma_to_nsr_db` and :func:`nsr_db_to_sigma` convert between the noise
  standard deviation and the noise-to-signal ratio in decibels.
"""
from __future__ import annotations

import csv
import hashlib
import math
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from tqdm.auto import tqdm

from .outputs import atomic_write
from .runtime import progress_disabled, resolve_device

#: Where the UCI Machine Learning Repository serves the data set (a zip holding HTRU_2.csv).
HTRU2_URL = "https://archive.ics.uci.edu/static/public/372/htru2.zip"
HTRU2_FILENAME = "HTRU_2.csv"
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
        return self.features[:, MODE_SLICES[_check_mode_name(name)]]


# --------------------------------------------------------------------------- finding the file


def default_cache_dir() -> Path:
    """The user cache folder: ``$XDG_CACHE_HOME/emma``, or ``~/.cache/emma`` when that is unset."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "emma"


def _search_folders(data_home) -> list[tuple[str, Path | None]]:
    """(label, folder) in search order; folder is None where nothing was given."""
    env = os.environ.get(DATA_DIR_ENV)
    return [
        ("data_home", Path(data_home).expanduser() if data_home is not None else None),
        (f"${DATA_DIR_ENV}", Path(env).expanduser() if env else None),
        ("user cache", default_cache_dir()),
    ]


def fetch_htru2(data_home: str | os.PathLike | None = None, *, download: bool = True) -> HTRU2:
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
        A folder holding ``HTRU_2.csv``, searched first.
    download : bool, default True
        Whether to download the archive when no copy is found.

    Returns
    -------
    HTRU2

    Raises
    ------
    HTRU2NotFoundError
        No copy was found and the download failed (or ``download=False``); the
        message lists the folders searched and how to point the loader at a copy.
    HTRU2FormatError
        The file found is not the HTRU2 table.

    Examples
    --------
    >>> data = fetch_htru2("/path/to/folder/with/csv")  # doctest: +SKIP
    >>> data.features.shape, int(data.target.sum())      # doctest: +SKIP
    ((17898, 8), 1639)
    """
    folders = _search_folders(data_home)
    for _, folder in folders:
        if folder is not None and (folder / HTRU2_FILENAME).is_file():
            return read_htru2(folder / HTRU2_FILENAME)
    cache = default_cache_dir()
    if not download:
        raise HTRU2NotFoundError(_not_found_message(folders, "downloading was switched off (download=False)"))
    try:
        path = download_htru2(cache)
    except (urllib.error.URLError, OSError, zipfile.BadZipFile) as error:
        raise HTRU2NotFoundError(
            _not_found_message(folders, f"downloading {HTRU2_URL} into {cache} failed: {error}")
        ) from error
    return read_htru2(path)


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


def download_htru2(cache_dir: str | os.PathLike, url: str | None = None, timeout: float = 30.0) -> Path:
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
        return atomic_write(cache_dir / HTRU2_FILENAME, lambda tmp: _extract_csv(archive, tmp))
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


def _extract_csv(archive: str, target: str) -> None:
    with zipfile.ZipFile(archive) as bundle:
        members = [name for name in bundle.namelist() if Path(name).name == HTRU2_FILENAME]
        if not members:
            raise zipfile.BadZipFile(f"the archive holds no {HTRU2_FILENAME} (it has {bundle.namelist()})")
        with bundle.open(members[0]) as source, open(target, "wb") as out:
            shutil.copyfileobj(source, out)
    read_htru2(target, display_name=f"{HTRU2_FILENAME} extracted from {HTRU2_URL}")


# --------------------------------------------------------------------------- parsing and checking


def read_htru2(path: str | os.PathLike, *, display_name: str | None = None) -> HTRU2:
    """Read ``path`` and check that it is the HTRU2 table.

    Checks, in order: no header line, 9 comma-separated columns on every line,
    numbers only, all finite, 17,898 rows, a class column of 0 and 1, 1,639 ones.
    Nothing is dropped or repaired: the first failing check raises.

    Parameters
    ----------
    path : str or path-like
        A CSV file in the HTRU2 layout (no header; 8 features then the class).
    display_name : str, optional
        How to name the file in error messages (default: the path).

    Returns
    -------
    HTRU2

    Raises
    ------
    HTRU2FormatError
        With a message naming the problem and the file.
    """
    path = Path(path)
    name = display_name or str(path)

    def fail(problem: str):
        raise HTRU2FormatError(f"{name}: {problem}")

    with open(path, newline="", encoding="utf-8", errors="replace") as handle:
        rows = list(csv.reader(handle))
    while rows and not rows[-1]:  # trailing blank lines hold no data
        rows.pop()
    if not rows:
        fail("the file is empty")
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
    frame = pd.DataFrame(values[:, :-1], columns=list(FEATURE_NAMES))
    frame[CLASS_COLUMN] = labels.astype(np.int64)
    return HTRU2(frame=frame, features=values[:, :-1].copy(), target=labels.astype(np.int64), path=path)


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


# --------------------------------------------------------------------------- the split protocol


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
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if isinstance(test_size, bool) or not isinstance(test_size, (int, float)) or not 0 < test_size < 1:
        raise ValueError(f"test_size must be a fraction strictly between 0 and 1, got {test_size!r}")
    if data is None:
        data = fetch_htru2(data_home)
    if not isinstance(data, HTRU2):
        raise TypeError(f"data must be an HTRU2 (from fetch_htru2) or None, got {type(data).__name__}")
    device = resolve_device(device)
    rows = np.arange(len(data.target))
    train_rows, held_rows = train_test_split(
        rows, test_size=test_size, random_state=int(seed), stratify=data.target
    )
    val_rows, test_rows = train_test_split(
        held_rows, test_size=0.5, random_state=int(seed), stratify=data.target[held_rows]
    )
    mean = data.features[train_rows].mean(axis=0)
    std = data.features[train_rows].std(axis=0)  # population std (ddof=0)
    if (std == 0).any():
        raise ValueError(f"features {np.flatnonzero(std == 0).tolist()} are constant on the training split")

    def build(part: np.ndarray) -> Split:
        x = (data.features[part] - mean) / std
        return Split(
            x=torch.as_tensor(x, dtype=torch.float32, device=device),
            y=torch.as_tensor(data.target[part], dtype=torch.float32, device=device),
            index=part,
        )

    return Splits(build(train_rows), build(val_rows), build(test_rows), mean, std, int(seed))


# --------------------------------------------------------------------------- corruption


def _check_mode_name(name: str) -> str:
    if name not in MODE_SLICES:
        raise ValueError(f"mode must be one of {MODE_NAMES} or an index 0..{len(MODE_NAMES) - 1}, got {name!r}")
    return name


def _mode_slices(modes) -> list[slice]:
    if isinstance(modes, (str, int, np.integer)):
        modes = [modes]
    if not isinstance(modes, Iterable):
        raise TypeError(f"modes must be a mode name, an index or a list of them, got {type(modes).__name__}")
    slices = []
    for mode in modes:
        if isinstance(mode, (int, np.integer)) and not isinstance(mode, bool):
            if not 0 <= mode < len(MODE_NAMES):
                raise ValueError(f"modes: index {mode} is out of range 0..{len(MODE_NAMES) - 1}")
            mode = MODE_NAMES[mode]
        slices.append(MODE_SLICES[_check_mode_name(mode)])
    return slices


def _check_sigma(sigma) -> float:
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float, np.floating)) or not math.isfinite(sigma) or sigma < 0:
        raise ValueError(f"sigma must be a finite number >= 0, got {sigma!r}")
    return float(sigma)


def _gaussian(shape, generator: torch.Generator | None, like: torch.Tensor) -> torch.Tensor:
    """Standard normal noise drawn on the generator's device, moved next to ``like``."""
    device = generator.device if generator is not None else like.device
    return torch.randn(shape, generator=generator, device=device, dtype=like.dtype).to(like.device)


def add_noise(x: torch.Tensor, sigma: float, modes, generator: torch.Generator | None = None) -> torch.Tensor:
    """Add Gaussian white noise N(0, σ²) to every column of the chosen modes.

    Parameters
    ----------
    x : torch.Tensor
        Standardized samples, shape (n, 8). Not modified.
    sigma : float
        Noise standard deviation σ ≥ 0 (in units of the standardized features).
    modes : str, int or list of them
        "IP" / "DM" or their indices 0 / 1.
    generator : torch.Generator, optional
        Source of the noise; the global generator when None.

    Returns
    -------
    torch.Tensor
        A noisy copy of ``x``, shape (n, 8).
    """
    _check_features(x)
    sigma = _check_sigma(sigma)
    out = x.clone()
    for columns in _mode_slices(modes):
        block = out[:, columns]  # (n, 4)
        out[:, columns] = block + sigma * _gaussian(block.shape, generator, block)
    return out


def corrupt(
    x: torch.Tensor,
    sigma: float,
    generator: torch.Generator | None = None,
    clean_fraction: float = 0.5,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The thesis's corruption scheme: some samples clean, the rest noisy on exactly one mode.

    ``floor(n · (1 − clean_fraction))`` samples, drawn at random, are corrupted; half of
    them (rounded down) on IP only, the others on DM only. With the default
    ``clean_fraction=0.5``: 50 % clean, 25 % IP noisy, 25 % DM noisy.

    Parameters
    ----------
    x : torch.Tensor
        Standardized samples, shape (n, 8). Not modified.
    sigma : float
        Noise standard deviation σ ≥ 0.
    generator : torch.Generator, optional
        Source of the choice of samples and of the noise; seed it for reproducible data.
    clean_fraction : float, default 0.5
        Fraction of samples left clean, in [0, 1].

    Returns
    -------
    x_noisy : torch.Tensor
        Shape (n, 8).
    mask : torch.Tensor
        Bool, shape (n, 2): ``mask[k, m]`` is True when mode m of sample k received
        noise (it is set by the scheme, also when σ = 0). At most one True per row.
    """
    _check_features(x)
    sigma = _check_sigma(sigma)
    if isinstance(clean_fraction, bool) or not isinstance(clean_fraction, (int, float)) or not 0 <= clean_fraction <= 1:
        raise ValueError(f"clean_fraction must be a fraction in [0, 1], got {clean_fraction!r}")
    n = x.shape[0]
    n_corrupted = int(math.floor(n * (1 - clean_fraction) + 1e-9))
    n_ip = n_corrupted // 2
    gen_device = generator.device if generator is not None else x.device
    order = torch.randperm(n, generator=generator, device=gen_device).to(x.device)
    mask = torch.zeros(n, len(MODE_NAMES), dtype=torch.bool, device=x.device)  # (n, modes)
    mask[order[:n_ip], 0] = True
    mask[order[n_ip:n_corrupted], 1] = True
    width = x.shape[1] // len(MODE_NAMES)
    column_mask = mask.repeat_interleave(width, dim=1)  # (n, 8): mode m covers columns 4m..4m+3
    noise = sigma * _gaussian(x.shape, generator, x)
    return x + noise * column_mask, mask


def _check_features(x) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError(f"x must be a floating-point torch.Tensor of shape (n, 8), got {type(x).__name__}")
    if x.dim() != 2 or x.shape[1] != len(FEATURE_NAMES):
        raise ValueError(f"x must have shape (n, {len(FEATURE_NAMES)}), got {tuple(x.shape)}")
    return x


def sigma_to_nsr_db(sigma):
    """Noise-to-signal ratio in dB of Gaussian noise with standard deviation σ.

    NSR(dB) = 10·log10(σ² / 1): the signal variance is 1 after standardization.
    σ = 0.5 gives −6.02 dB, σ = 1 gives 0 dB, σ = 0 gives −inf. (The thesis's code
    calls this quantity ``SNR``; it grows with the noise, so it is a noise-to-signal
    ratio.)

    Parameters
    ----------
    sigma : float or array-like
        Noise standard deviation(s), each ≥ 0.

    Returns
    -------
    float or numpy.ndarray
    """
    values = np.asarray(sigma, dtype=np.float64)
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise ValueError(f"sigma must be finite and >= 0, got {sigma!r}")
    with np.errstate(divide="ignore"):
        db = 10.0 * np.log10(values**2)
    return float(db) if db.ndim == 0 else db


def nsr_db_to_sigma(db):
    """Noise standard deviation σ for a noise-to-signal ratio in dB: σ = 10^(dB/20).

    The inverse of :func:`sigma_to_nsr_db`; −6 dB gives σ ≈ 0.501.

    Parameters
    ----------
    db : float or array-like
        Noise-to-signal ratio(s) in decibels (−inf allowed, giving σ = 0).

    Returns
    -------
    float or numpy.ndarray
    """
    values = np.asarray(db, dtype=np.float64)
    if np.any(np.isnan(values)) or np.any(values == np.inf):
        raise ValueError(f"db must be a number or -inf, got {db!r}")
    sigma = 10.0 ** (values / 20.0)
    return float(sigma) if sigma.ndim == 0 else sigma


def feature_separation(features, target) -> pd.DataFrame:
    """How well each feature alone ranks pulsars against non-pulsars, without a threshold.

    Parameters
    ----------
    features : array-like of shape (n, k)
        One column per feature (numpy array, tensor or DataFrame).
    target : array-like of shape (n,)
        The class, 0 or 1.

    Returns
    -------
    pandas.DataFrame
        One row per column: ``separation_auroc`` = max(AUROC, 1 − AUROC) (0.5 chance, 1 perfect,
        whichever way the feature points) and ``pulsars_higher`` (AUROC > 0.5), with the AUROC
        from :func:`sklearn.metrics.roc_auc_score`.
    """
    values = np.asarray(features.cpu() if isinstance(features, torch.Tensor) else features, dtype=float)
    labels = np.asarray(target.cpu() if isinstance(target, torch.Tensor) else target)
    if values.ndim != 2 or len(values) != len(labels):
        raise ValueError(f"features must have shape (n, k) with n = len(target) = {len(labels)}, got {values.shape}")
    aurocs = np.array([roc_auc_score(labels, values[:, j]) for j in range(values.shape[1])])
    return pd.DataFrame({"separation_auroc": np.maximum(aurocs, 1 - aurocs), "pulsars_higher": aurocs > 0.5})
