"""What a run of the book executes: each chapter's parameters, and whether it must run again.

* :func:`resolve_parameters` gives every chapter the parameters it declares, from parameter files
  (papermill's YAML convention, plus optional per-chapter sections) and ``-p KEY VALUE`` pairs;
  a key some chapters do not declare is applied where it is declared and reported for the rest,
  and only a key that no chapter of the book declares is an error. It lives in
  :mod:`emma_book.params`, with the checks of the values.
* :func:`run_key` fingerprints everything that produced an executed notebook: the chapter's
  source, its resolved parameters, the source of the ``emma`` modules it imports (:func:`package_modules`,
  one digest per module), the data file, and the other chapters' outputs it read (``reads``:
  each file, named relative to the output folder, to the digest of its bytes). :func:`stale`
  compares it with the key stored in the executed notebook and says what changed
  (``emma/experiments/decision.py changed``, ``tables/robustness_f1.csv changed``), so an edit to
  the package makes stale only the chapters that import the edited module, and a table written
  anew only the chapters that read it. The key also holds the digest of every table and figure
  the chapter wrote (``writes``): an output changed or removed since (by hand, or by a run that
  did not finish before the folders of :mod:`emma_book.runs` existed) makes the chapter stale.
  The stored key holds the digest of the executed notebook itself, its key left out (``notebook``,
  :func:`notebook_digest`): :func:`store_key` computes it from the notebook it writes the key into,
  and :func:`stale` from the notebook it judges, so a notebook edited by hand is stale.

What a chapter reads is recorded as it reads, not declared: while ``emma-book run`` executes it
(:func:`recording_reads`), :func:`emma.util.outputs.read_output`, through which every read of
another chapter's output goes (:func:`emma.claims.report.read_table`, hence ``collect_claims``
and ``collect_errata``), logs each file and digest to a file the run then collects
(:func:`logged_reads`). A chapter that reads nothing has no ``reads`` part. Cached trained models
(:mod:`emma.util.cache`) are not reads: a cached artifact is named by a hash of everything that
produced it, so loading one gives what the reading chapter, whose own key covers those inputs,
would compute itself.

Only this key is written here because no library gives it: Jupyter Book's cache (jupyter-cache,
``execute_notebooks: cache``) names an executed notebook by a hash of its code cells and kernelspec
(``create_hashed_notebook``), so an edit to an imported ``emma`` module, a new data file or a table
another chapter wrote anew leaves its notebooks "up to date"; its own documentation lists such
invalidation among its desired requirements not yet met (https://pypi.org/project/jupyter-cache/).
Execution is papermill's, parameters are papermill's YAML convention.
"""
from __future__ import annotations

import ast
import contextlib
import functools
import hashlib
import json
import os
from pathlib import Path

import nbformat

import emma
from emma.data.htru2 import HTRU2_FILENAME, search_folders
from emma.util.outputs import READS_LOG, digest, listing_digest
from emma_book import layout

PACKAGE = Path(emma.__file__).resolve().parent  # the science package whose modules a chapter imports
#: What the key says of a file a chapter read that is no longer there.
MISSING = "missing"
#: Where the key lives in an executed notebook's metadata.
METADATA_KEY = "emma_run"


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


def _version(path: Path) -> tuple:
    stat = path.stat()
    return path, stat.st_mtime_ns, stat.st_size


def _reexports_only(init: Path) -> bool:
    """Whether a package's ``__init__.py`` does nothing but re-export: a docstring, imports and ``__all__``."""
    return _only_imports(*_version(init))


@functools.lru_cache(maxsize=256)
def _only_imports(init: Path, mtime_ns: int, size: int) -> bool:
    for node in ast.parse(init.read_text()).body:
        docstring = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
        names_all = isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)) and all(
            isinstance(t, ast.Name) and t.id == "__all__" for t in (node.targets if isinstance(node, ast.Assign) else [node.target]))
        if not (docstring or names_all or isinstance(node, (ast.Import, ast.ImportFrom))):
            return False
    return True


@functools.lru_cache(maxsize=256)
def _bindings(init: Path, mtime_ns: int, size: int, package: Path) -> dict[str, frozenset[Path]]:
    """Each name a re-exporting ``__init__.py`` binds with ``from ... import``, and the files that name comes from."""
    bindings = {}
    for node in ast.parse(init.read_text()).body:
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                alone = ast.Module(body=[ast.ImportFrom(module=node.module, names=[alias], level=node.level)], type_ignores=[])
                bindings[alias.asname or alias.name] = frozenset(_imported(alone, init.parent, package))
    return bindings


def _given(init: Path, names, package: Path) -> set[Path]:
    """What importing from a package counts: its ``__init__.py``, and, when that only re-exports,
    the modules the imported ``names`` come from (all it re-exports when ``names`` is None or ``*``)."""
    reexporting = _reexports_only(init)
    if names is None or "*" in names:
        return {init} | (set(_module_imports(*_version(init), package)) if reexporting else set())
    given = set()
    for alias in names:
        sub = _module_file(init.parent, [alias])
        if sub is not None:  # a submodule, or a subpackage imported whole
            given |= _given(sub, None, package) if sub.name == "__init__.py" else {sub}
            continue
        given.add(init)  # a name the __init__ binds
        if reexporting:
            bindings = _bindings(*_version(init), package)
            given |= set(bindings[alias]) if alias in bindings else set(_module_imports(*_version(init), package))
    return given


def _imported(tree: ast.AST, folder: Path | None, package: Path) -> set[Path]:
    """The files of the ``package`` modules that the statements of ``tree`` import.

    ``folder`` is the package folder of the module parsed (for relative imports; None for a chapter).
    A submodule (``from emma.engine import sweep``, ``import emma.engine.sweep``) counts as its
    own file. A package's ``__init__.py`` that only re-exports (a docstring, imports, ``__all__``:
    all of ours) counts only for the names taken from it: ``from emma.engine import run_sweep``
    counts ``emma/engine/__init__.py`` and the module ``run_sweep`` comes from, ``import emma.engine``
    everything it re-exports, and an import that only passes through it on the way to a submodule
    (``from emma.engine.sweep import X``) counts nothing of it. An ``__init__.py`` that does more
    counts whole, and is followed through its own imports. ``emma/__init__.py`` is never counted
    on the way.
    """
    name = package.name
    found: set[Path] = set()

    def add(base: Path, parts, names=None):
        target = _module_file(base, parts)
        if target is None:
            return
        for depth in range(1, len(parts)):  # the subpackages a dotted import executes on the way
            init = _module_file(base, parts[:depth])
            if init is not None and init != package / "__init__.py" and not _reexports_only(init):
                found.add(init)
        found.update(_given(target, names, package) if target.name == "__init__.py" else {target})

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == name:
                    add(package.parent, parts)
        elif isinstance(node, ast.ImportFrom):
            names = [alias.name for alias in node.names]
            if node.level == 0:
                parts = (node.module or "").split(".")
                if parts[0] == name:
                    add(package.parent, parts, names)
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
    imported. ``package`` is the package's folder (default: this package). A re-exporting
    ``__init__.py`` is not followed: what it gives was counted by the import that reached it
    (:func:`_imported`).

    >>> [str(p.relative_to(PACKAGE.parent)) for p in package_modules(PACKAGE / "util" / "outputs.py")]
    ['emma/util/outputs.py']
    >>> PACKAGE / "__init__.py" in package_modules(PACKAGE / "claims" / "report.py")
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
        if module != start and module.name == "__init__.py" and _reexports_only(module):
            continue
        for target in _module_imports(*_version(module), package):
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
    for _, folder in search_folders(data_home):
        if folder is not None and (folder / HTRU2_FILENAME).is_file():
            return _digest((folder / HTRU2_FILENAME).read_bytes())
    return "absent"


def _content_digest(data: dict) -> str:
    """The digest of a notebook's JSON without its run key, whatever the file's formatting."""
    data = {**data, "metadata": {k: v for k, v in (data.get("metadata") or {}).items() if k != METADATA_KEY}}
    return digest(json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode())


def notebook_digest(path: str | os.PathLike) -> str:
    """The digest of the executed notebook ``path`` without its run key: its cells, outputs and other metadata.

    What the ``notebook`` part of a stored key records (:func:`store_key`); a number edited in an
    output changes it. Raises ``ValueError`` naming ``path`` when it is not a notebook's JSON.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_bytes())
    except ValueError as error:
        raise ValueError(f"{path} is not a notebook (invalid JSON: {error})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a notebook (its JSON is not an object)")
    return _content_digest(data)


def stored_key(path: str | os.PathLike) -> dict | None:
    """The key stored in an executed notebook, or None."""
    path = Path(path)
    if not path.is_file():
        return None
    return nbformat.read(path, as_version=4).metadata.get(METADATA_KEY)


def output_folder(parameters: dict) -> Path:
    """The folder a chapter writes into and reads other chapters' outputs from (``output_dir``;
    a relative one is below the checkout, where papermill runs the kernel)."""
    folder = Path(parameters.get("output_dir") or layout.DEFAULT_OUTPUT_DIR)
    return (folder if folder.is_absolute() else layout.ROOT / folder).resolve()


def _read_name(path: Path, folder: Path) -> str:
    """How the key names a file read: relative to the output folder (``tables/x.csv``) when inside it, else absolute."""
    return path.relative_to(folder).as_posix() if path.is_relative_to(folder) else str(path)


def current_reads(names, parameters: dict) -> dict:
    """The digest each file of ``names`` (as the key names them) has now, or ``missing``."""
    folder = output_folder(parameters)
    current = {}
    for name in names:
        pattern, _, exclude = name.partition("!")
        path = folder / pattern if not Path(pattern).is_absolute() else Path(pattern)
        if "*" in path.name:  # a listing (emma.util.outputs.read_listing): the names that match it now
            current[name] = listing_digest(path.parent, path.name, [e for e in exclude.split(",") if e])[1]
        else:
            current[name] = digest(path.read_bytes()) if path.is_file() else MISSING
    return current


@contextlib.contextmanager
def recording_reads(log: str | os.PathLike):
    """Within the block, the chapters executed log what they read and write to ``log`` (a fresh file).

    The kernel papermill starts inherits the environment variable
    :data:`emma.util.outputs.READS_LOG`; :func:`emma.util.outputs.read_output` and
    ``save_table``/``save_figure`` append to the file it names. Read it with :func:`logged_reads`.
    """
    log = Path(log)
    log.parent.mkdir(parents=True, exist_ok=True)
    log.unlink(missing_ok=True)
    log.touch()
    previous = os.environ.get(READS_LOG)
    os.environ[READS_LOG] = str(log.resolve())
    try:
        yield log
    finally:
        if previous is None:
            os.environ.pop(READS_LOG, None)
        else:
            os.environ[READS_LOG] = previous


def logged_reads(log: str | os.PathLike, parameters: dict) -> dict:
    """The files a chapter read of other chapters' outputs, from the log of :func:`recording_reads`, and their digests.

    A file the chapter also wrote is its own output, not a read. The log is removed.

    Returns
    -------
    dict
        Name (:func:`_read_name`) to the digest of the bytes read (the last read of a file).
    """
    log = Path(log)
    if not log.is_file():
        raise FileNotFoundError(f"the log of reads {log} is missing: execute the chapter within recording_reads")
    entries = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    log.unlink()
    wrote = {entry["wrote"] for entry in entries if "wrote" in entry}
    folder = output_folder(parameters)
    return {_read_name(Path(e["read"]), folder): e["digest"] for e in entries if "read" in e and e["read"] not in wrote}


def logged_writes(log: str | os.PathLike, parameters: dict) -> dict:
    """The tables and figures a chapter wrote, from the log of :func:`recording_reads` (kept: read it before :func:`logged_reads`).

    Returns
    -------
    dict
        Name (``tables/x.csv``, :func:`_read_name`) to the digest of the bytes written (the last write of a file).
    """
    log = Path(log)
    if not log.is_file():
        raise FileNotFoundError(f"the log of writes {log} is missing: execute the chapter within recording_reads")
    entries = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    folder = output_folder(parameters)
    return {_read_name(Path(e["wrote"]), folder): e.get("digest", MISSING) for e in entries if "wrote" in e}


def _keyed(parts: dict) -> dict:
    return {"key": _digest(*(f"{k}={json.dumps(v, sort_keys=True)}".encode() for k, v in parts.items())), "parts": parts}


def run_key(chapter, parameters: dict, executed_dir: str | os.PathLike, package: dict | None = None, reads: dict | None = None) -> dict:
    """The parts of a chapter's key, each a short digest (see the module's docstring).

    ``package`` replaces the digests of the ``emma`` modules the chapter uses (:func:`package_digest`).
    ``reads`` (name to digest, :func:`logged_reads`) are the files the chapter read when it ran;
    by default those the executed notebook in ``executed_dir`` records, with the digests they
    have now (:func:`current_reads`). A chapter that read nothing has no ``reads`` part. The
    ``writes`` part is always the outputs the executed notebook records, with their digests now.
    The ``notebook`` part is not here: :func:`store_key` adds it, :func:`stale` checks it."""
    stored = (stored_key(Path(executed_dir) / f"{Path(chapter.source).stem}.ipynb") or {}).get("parts") or {}
    if reads is None:
        reads = current_reads(stored.get("reads") or {}, parameters)
    writes = current_reads(stored.get("writes") or {}, parameters)
    parts = {
        "chapter source": _digest(Path(chapter.source).read_bytes()),
        "parameters": _digest(json.dumps(parameters, sort_keys=True, default=str).encode()),
        "package source": package if package is not None else package_digest(chapter.source),
        "data": data_digest(parameters.get("data_home")),
    }
    if reads:
        parts["reads"] = dict(sorted(reads.items()))
    if writes:
        parts["writes"] = dict(sorted(writes.items()))
    return _keyed(parts)


def with_reads(key: dict, reads: dict, writes: dict | None = None) -> dict:
    """``key`` with its ``reads`` part replaced by what the chapter read when it ran (none: no such part),
    and, when ``writes`` is given (:func:`logged_writes`), its ``writes`` part by what it wrote."""
    replaced = {"reads"} | ({"writes"} if writes is not None else set())
    parts = {k: v for k, v in key["parts"].items() if k not in replaced}
    if reads:
        parts["reads"] = dict(sorted(reads.items()))
    if writes:
        parts["writes"] = dict(sorted(writes.items()))
    return _keyed(parts)


#: The part of a stored key that holds :func:`notebook_digest` of the notebook it is stored in.
NOTEBOOK = "notebook"
NOTEBOOK_CHANGED = "executed notebook changed since the run wrote it"


def stale(key: dict, executed: str | os.PathLike) -> list[str]:
    """Why the executed notebook must be produced again (empty when it is up to date).

    Each reason names what changed: ``parameters changed``, ``emma/engine/sweep.py changed``,
    ``tables/robustness_f1.csv changed`` or ``... missing`` (a file the chapter read),
    ``tables/robustness_f1.csv changed since the chapter wrote it`` (one of its own outputs),
    ``executed notebook changed since the run wrote it`` (:data:`NOTEBOOK_CHANGED`: ``executed``
    itself, edited; its digest now, :func:`notebook_digest`, takes the place of ``key``'s)."""
    stored = stored_key(executed)
    if stored is None:
        return ["not executed yet" if not Path(executed).exists() else "executed before run keys were stored"]
    key = _keyed({**key["parts"], NOTEBOOK: notebook_digest(executed)})
    if stored.get("key") == key["key"]:
        return []
    old = stored.get("parts", {})
    reasons = []
    for part, value in key["parts"].items():
        before = old.get(part)
        if before == value:
            continue
        if part == NOTEBOOK:
            reasons.append(NOTEBOOK_CHANGED if before is not None else "executed notebook not in its run key (executed before it was)")
        elif part == "writes" and isinstance(before, dict):  # the names are the stored ones: only their bytes differ
            reasons += [f"{name} {'missing' if value[name] == MISSING else 'changed'} since the chapter wrote it"
                        for name in value if before.get(name) != value[name]]
        elif part == "reads" and isinstance(before, dict):
            reasons += [f"{name} {'missing' if value[name] == MISSING else 'changed'}" for name in value if name in before and before[name] != value[name]]
            reasons += [f"{name} now read" for name in value if name not in before]
            reasons += [f"{name} no longer read" for name in before if name not in value]
        elif isinstance(value, dict) and isinstance(before, dict):  # the package: say which module
            reasons += [f"{m} changed" for m in value if m in before and before[m] != value[m]]
            reasons += [f"{m} now imported" for m in value if m not in before]
            reasons += [f"{m} no longer imported" for m in before if m not in value]
        else:
            reasons.append(f"{part} changed")
    reasons += [f"{part} no longer part of the key" for part in old if part not in key["parts"]]
    return reasons or ["key changed"]


def store_key(path: str | os.PathLike, key: dict) -> dict:
    """Write ``key`` into the executed notebook's metadata (atomically), with the notebook's own digest; return the key stored.

    The ``notebook`` part is :func:`notebook_digest` of the notebook as written (nbformat's
    serialisation, without the key), whatever ``key`` held there.
    """
    from emma.util.outputs import atomic_write

    notebook = nbformat.read(path, as_version=4)
    notebook.metadata.pop(METADATA_KEY, None)
    data = json.loads(nbformat.writes(notebook))  # what nbformat writes, so the digest is that of the file's content
    stored = _keyed({**key["parts"], NOTEBOOK: _content_digest(data)})
    data["metadata"][METADATA_KEY] = stored
    text = json.dumps(data, sort_keys=True, indent=1, ensure_ascii=False) + "\n"  # nbformat's own layout
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return stored
