"""What a run of the book executes: each chapter's parameters, and whether it must run again.

* :func:`resolve_parameters` gives every chapter the parameters it declares, from parameter files
  (papermill's YAML convention, plus optional per-chapter sections) and ``-p KEY VALUE`` pairs;
  a key some chapters do not declare is applied where it is declared and reported for the rest,
  and only a key that no selected chapter declares is an error.
* :func:`run_key` fingerprints everything that produced an executed notebook: the chapter's
  source, its resolved parameters, the ``emma`` package's source, the data file, and the keys of
  the chapters whose outputs it reads (:data:`READS`). :func:`stale` compares it with the key
  stored in the executed notebook and says what changed.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import nbformat
import yaml

from .data import HTRU2_FILENAME, _search_folders

PACKAGE = Path(__file__).resolve().parent
#: The chapters whose outputs (tables, trained-model cache) another chapter reads.
READS = {
    "replay": ["robustness"],
    "conclusion": ["attention_mechanisms", "energy_estimation", "emma", "potential_energy", "robustness", "replay", "unified_model", "many_modes"],
    "verdicts": ["attention_mechanisms", "energy_estimation", "emma", "potential_energy", "robustness", "replay", "unified_model", "many_modes", "conclusion"],
}
#: Where the key lives in an executed notebook's metadata.
METADATA_KEY = "emma_run"


def read_parameter_file(path: str | os.PathLike) -> dict:
    """A YAML mapping of parameter names to values; a key naming a chapter may hold that chapter's own mapping."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"parameter file {path} does not exist")
    values = yaml.safe_load(path.read_text()) or {}
    if not isinstance(values, dict):
        raise ValueError(f"parameter file {path} must hold a mapping of parameter names to values, got {type(values).__name__}")
    return values


def resolve_parameters(chapters, layers) -> tuple[dict, dict]:
    """Each chapter's parameters from ``layers`` (mappings, later ones winning), restricted to what it declares.

    Parameters
    ----------
    chapters : list of emma.book.Chapter
    layers : list of dict
        E.g. the profile's file, then ``-f`` files, then the ``-p`` pairs. A key equal to a
        chapter's name (``robustness``) holds parameters for that chapter only.

    Returns
    -------
    parameters : dict of chapter name to dict
    not_declared : dict of parameter name to the chapter names that do not declare it

    Raises
    ------
    ValueError
        A key no selected chapter declares (and that names no chapter).
    """
    from .book import ROOT, chapters as book_chapters

    sections = {c.name for c in book_chapters(ROOT / "notebooks")} | {c.name for c in chapters}  # the book's chapters, and those run
    declared = {c.name: set(c.parameters()) for c in chapters}
    everywhere = set().union(*declared.values()) if declared else set()
    parameters = {c.name: {} for c in chapters}
    not_declared: dict[str, set] = {}
    for layer in layers:
        shared = {k: v for k, v in layer.items() if k not in sections}
        unknown = sorted(set(shared) - everywhere)
        if unknown:
            raise ValueError(f"no chapter selected declares the parameter(s) {unknown}")
        for chapter in chapters:
            own = layer.get(chapter.name) or {}
            if not isinstance(own, dict):
                raise ValueError(f"the section {chapter.name!r} of a parameter file must be a mapping, got {own!r}")
            wrong = sorted(set(own) - declared[chapter.name])
            if wrong:
                raise ValueError(f"chapter {chapter.name!r} has no parameter(s) {wrong}; it declares {sorted(declared[chapter.name])}")
            for key, value in shared.items():
                if key in declared[chapter.name]:
                    parameters[chapter.name][key] = value
                else:
                    not_declared.setdefault(key, set()).add(chapter.name)
            parameters[chapter.name].update(own)
    return parameters, {k: sorted(v) for k, v in not_declared.items()}


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part)
        h.update(b"\0")
    return h.hexdigest()[:16]


def package_digest() -> str:
    """The source of the ``emma`` package (every ``.py`` file, by path and content)."""
    files = sorted(PACKAGE.rglob("*.py"))
    return _digest(*(str(f.relative_to(PACKAGE)).encode() + f.read_bytes() for f in files))


def data_digest(data_home=None) -> str:
    """The HTRU2 file the chapters would read (``absent`` when none is found yet)."""
    for _, folder in _search_folders(data_home):
        if folder is not None and (folder / HTRU2_FILENAME).is_file():
            return _digest((folder / HTRU2_FILENAME).read_bytes())
    return "absent"


def stored_key(path: str | os.PathLike) -> dict | None:
    """The key stored in an executed notebook, or None."""
    path = Path(path)
    if not path.is_file():
        return None
    return nbformat.read(path, as_version=4).metadata.get(METADATA_KEY)


def run_key(chapter, parameters: dict, executed_dir: str | os.PathLike, package: str | None = None) -> dict:
    """The parts of a chapter's key, each a short digest (see the module's docstring)."""
    upstream = {}
    for name in READS.get(chapter.name, []):
        hits = sorted(Path(executed_dir).glob(f"[0-9][0-9]_{name}.ipynb"))
        stored = stored_key(hits[0]) if hits else None
        upstream[name] = stored["key"] if stored else "not run"
    parts = {
        "chapter source": _digest(Path(chapter.source).read_bytes()),
        "parameters": _digest(json.dumps(parameters, sort_keys=True, default=str).encode()),
        "package source": package or package_digest(),
        "data": data_digest(parameters.get("data_home")),
        "chapters read": _digest(json.dumps(upstream, sort_keys=True).encode()),
    }
    return {"key": _digest(*(f"{k}={v}".encode() for k, v in parts.items())), "parts": parts}


def stale(key: dict, executed: str | os.PathLike) -> list[str]:
    """Why the executed notebook must be produced again (empty when it is up to date)."""
    stored = stored_key(executed)
    if stored is None:
        return ["not executed yet" if not Path(executed).exists() else "executed before run keys were stored"]
    if stored.get("key") == key["key"]:
        return []
    old = stored.get("parts", {})
    return [f"{part} changed" for part, value in key["parts"].items() if old.get(part) != value] or ["key changed"]


def store_key(path: str | os.PathLike, key: dict) -> None:
    """Write ``key`` into the executed notebook's metadata (atomically)."""
    from .outputs import atomic_write

    notebook = nbformat.read(path, as_version=4)
    notebook.metadata[METADATA_KEY] = key
    atomic_write(path, lambda tmp: nbformat.write(notebook, tmp))
