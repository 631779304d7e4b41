"""What a run of the book executes: each chapter's parameters, and whether it must run again.

* :func:`resolve_parameters` gives every chapter the parameters it declares, from parameter files
  (papermill's YAML convention, plus optional per-chapter sections) and ``-p KEY VALUE`` pairs;
  a key some chapters do not declare is applied where it is declared and reported for the rest,
  and only a key that no selected chapter declares is an error.
* :func:`run_key` fingerprints everything that produced an executed notebook: the chapter's
  source, its resolved parameters, the source of the ``emma`` modules it imports (:func:`package_modules`,
  one digest per module), the data file, and the keys of the chapters whose outputs it reads
  (:data:`READS`). :func:`stale` compares it with the key stored in the executed notebook and says
  what changed (``emma/experiments/decision.py changed``), so an edit to the package makes stale only the
  chapters that import the edited module.
"""
from __future__ import annotations

import ast
import functools
import hashlib
import json
import os
from pathlib import Path

import nbformat
import yaml

from emma.data.htru2 import HTRU2_FILENAME, _search_folders

PACKAGE = Path(__file__).resolve().parent.parent
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
    chapters : list of emma.book.build.Chapter
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
    from emma.book.build import ROOT, chapters as book_chapters

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


def _module_file(folder: Path, parts) -> Path | None:
    """The file of the module ``parts`` (dotted name, split) below ``folder``: ``x/y.py`` or ``x/y/__init__.py``."""
    base = folder.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imported(tree: ast.AST, folder: Path | None, package: Path) -> set[Path]:
    """The files of the ``package`` modules that the statements of ``tree`` import.

    ``folder`` is the package folder of the module parsed (for relative imports; None for a chapter).
    ``import emma`` and names re-exported by a package (``from emma import EMMA``) count as its
    ``__init__.py``; a submodule (``from emma import plots``) as its own file. Importing a module
    of a subpackage also counts the subpackage's ``__init__.py``, but never ``emma/__init__.py``.
    """
    name = package.name
    found: set[Path] = set()

    def add(base: Path, parts, names=()):
        target = _module_file(base, parts)
        if target is None:
            return
        for depth in range(1, len(parts)):  # the subpackages a dotted import executes on the way
            init = _module_file(base, parts[:depth])
            if init is not None and init != package / "__init__.py":
                found.add(init)
        if target.name != "__init__.py" or not names:
            found.add(target)
            return
        for alias in names:  # from package import x: a submodule, or a name its __init__ re-exports
            sub = _module_file(target.parent, [alias]) if alias != "*" else None
            found.add(sub if sub is not None else target)

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == name:
                    if parts[1:]:
                        add(package, parts[1:])
                    else:
                        found.add(package / "__init__.py")
        elif isinstance(node, ast.ImportFrom):
            names = [alias.name for alias in node.names]
            if node.level == 0:
                parts = (node.module or "").split(".")
                if parts[0] == name and parts[1:]:
                    add(package, parts[1:], names)
                elif parts == [name]:
                    add(package.parent, [name], names)
            elif folder is not None:
                base = folder
                for _ in range(node.level - 1):
                    base = base.parent
                if not base.is_relative_to(package):
                    continue
                parts = node.module.split(".") if node.module else []
                if parts:
                    add(base, parts, names)
                else:
                    add(base.parent, [base.name], names)
    return found


@functools.lru_cache(maxsize=1024)
def _module_imports(module: Path, mtime_ns: int, size: int, package: Path) -> frozenset[Path]:
    """:func:`_imported` for one module of the package, parsed once per version of the file."""
    return frozenset(_imported(ast.parse(module.read_text()), module.parent, package))


def package_modules(source_path: str | os.PathLike, package: str | os.PathLike | None = None) -> list[Path]:
    """The files of the ``emma`` modules a chapter uses: those its source imports, followed through their own imports.

    The chapter's source (a jupytext ``.py``) and the modules are parsed with :mod:`ast`; nothing is
    imported. ``package`` is the package's folder (default: this package).

    >>> [str(p.relative_to(PACKAGE.parent)) for p in package_modules(PACKAGE / "claims" / "rules.py")]
    ['emma/claims/rules.py']
    >>> PACKAGE / "__init__.py" in package_modules(PACKAGE / "book" / "rerun.py")
    False
    """
    package = Path(package) if package is not None else PACKAGE
    source_path = Path(source_path).resolve()
    start = source_path if source_path.is_relative_to(package) else None
    pending = [start] if start else []
    found: set[Path] = {start} if start else set()
    if start is None:
        found |= _imported(ast.parse(source_path.read_text()), None, package)
        pending = sorted(found)
    while pending:
        module = pending.pop()
        stat = module.stat()
        for target in _module_imports(module, stat.st_mtime_ns, stat.st_size, package):
            if target not in found:
                found.add(target)
                pending.append(target)
    return sorted(found)


def package_digest(source_path: str | os.PathLike, package: str | os.PathLike | None = None) -> dict:
    """Each ``emma`` module a chapter uses (:func:`package_modules`), by path (``emma/x.py``), to a digest of its source."""
    package = Path(package) if package is not None else PACKAGE
    return {
        f"{package.name}/{path.relative_to(package).as_posix()}": _digest(path.read_bytes())
        for path in package_modules(source_path, package)
    }


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


def run_key(chapter, parameters: dict, executed_dir: str | os.PathLike, package: dict | None = None) -> dict:
    """The parts of a chapter's key, each a short digest (see the module's docstring).

    ``package`` replaces the digests of the ``emma`` modules the chapter uses (:func:`package_digest`)."""
    upstream = {}
    for name in READS.get(chapter.name, []):
        hits = sorted(Path(executed_dir).glob(f"[0-9][0-9]_{name}.ipynb"))
        stored = stored_key(hits[0]) if hits else None
        upstream[name] = stored["key"] if stored else "not run"
    parts = {
        "chapter source": _digest(Path(chapter.source).read_bytes()),
        "parameters": _digest(json.dumps(parameters, sort_keys=True, default=str).encode()),
        "package source": package if package is not None else package_digest(chapter.source),
        "data": data_digest(parameters.get("data_home")),
        "chapters read": _digest(json.dumps(upstream, sort_keys=True).encode()),
    }
    return {"key": _digest(*(f"{k}={json.dumps(v, sort_keys=True)}".encode() for k, v in parts.items())), "parts": parts}


def stale(key: dict, executed: str | os.PathLike) -> list[str]:
    """Why the executed notebook must be produced again (empty when it is up to date)."""
    stored = stored_key(executed)
    if stored is None:
        return ["not executed yet" if not Path(executed).exists() else "executed before run keys were stored"]
    if stored.get("key") == key["key"]:
        return []
    old = stored.get("parts", {})
    reasons = []
    for part, value in key["parts"].items():
        before = old.get(part)
        if before == value:
            continue
        if isinstance(value, dict) and isinstance(before, dict):  # the package: say which module
            reasons += [f"{m} changed" for m in value if m in before and before[m] != value[m]]
            reasons += [f"{m} now imported" for m in value if m not in before]
            reasons += [f"{m} no longer imported" for m in before if m not in value]
        else:
            reasons.append(f"{part} changed")
    return reasons or ["key changed"]


def store_key(path: str | os.PathLike, key: dict) -> None:
    """Write ``key`` into the executed notebook's metadata (atomically)."""
    from emma.util.outputs import atomic_write

    notebook = nbformat.read(path, as_version=4)
    notebook.metadata[METADATA_KEY] = key
    atomic_write(path, lambda tmp: nbformat.write(notebook, tmp))
