"""The branch ``notebooks``: the executed chapters as a reader launches them (Binder, Colab).

The Pages workflow pushes it; the book's Binder and Colab buttons open its notebooks. A launched
chapter runs outside the checkout, so the branch carries what it needs besides the notebook:

* ``book/chapters/NN_name.ipynb``: every executed chapter (only finished runs, as the book
  publishes them), its install cell pinned to the commit the branch is built from (``--sha``)
  and its ``output_dir`` the default ``_build``, relative to the notebook, where the kernel of a
  launched notebook starts;
* ``book/chapters/_build/tables/*.csv``: the tables the chapters' runs wrote, as their run keys
  record them, so a chapter that reads other chapters' tables (the Conclusion, the verdicts) finds
  them where it looks. As the book (:func:`emma_book.publish.recorded_outputs`), the branch carries
  nothing else of the tables folder, and a table or notebook changed since its run stops it, naming
  both. Every table a run key records as read (``reads``) must be there, or the branch is not written;
* ``requirements.txt``: the runtime's lock (``requirements-runtime-lock.txt``, no book toolchain)
  and ``emma-book @ git+<repository>@<sha>``, which Binder installs; ``runtime.txt`` (Python 3.11);
  ``LICENSE``, ``CITATION.cff`` and a ``README.md`` that says where the branch comes from.

Run ``python -m emma_book.branch OUT --sha SHA --repository URL``; ``OUT`` must be empty or absent.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
from pathlib import Path

import nbformat

from emma_book import build as book
from emma_book import layout, publish, rerun

CHAPTERS = Path("book") / "chapters"  # in the branch, as in the checkout: the launch buttons' path
TABLES = CHAPTERS / layout.DEFAULT_OUTPUT_DIR / "tables"  # where a launched chapter's output_dir points
RUNTIME_LOCK = "requirements-runtime-lock.txt"
PYTHON = "python-3.11"
_OUTPUT_DIR_LINE = re.compile(r"^output_dir\s*=.*$", flags=re.MULTILINE)


def relaunchable(notebook, repository: str, sha: str):
    """``notebook`` as the branch ships it: the install cell pinned to ``sha`` and ``output_dir`` reset.

    papermill's cell ``injected-parameters`` may name an absolute ``output_dir`` (the machine that
    executed it); in the branch the outputs lie at ``_build`` beside the notebook, the default.
    """
    notebook = book.add_install_cell(notebook, repository, sha)
    for cell in notebook.cells:
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell.source = _OUTPUT_DIR_LINE.sub(
                f'output_dir = "{layout.DEFAULT_OUTPUT_DIR}"  # the branch\'s copy of the outputs, beside this notebook', cell.source
            )
    return notebook


def _tables_read(notebook) -> set[str]:
    """The tables (``tables/x.csv``) the run key of an executed notebook records as read (a listing, ``tables/*_claims.csv``, is none)."""
    reads = ((notebook.metadata.get(rerun.METADATA_KEY) or {}).get("parts") or {}).get("reads") or {}
    return {name for name in reads if name.startswith("tables/") and "*" not in name}


def _requirements(root: Path, repository: str, sha: str) -> str:
    lock = root / RUNTIME_LOCK
    if not lock.is_file():
        raise FileNotFoundError(f"{lock} is missing: `make lock` writes it (the environment of a launched chapter)")
    return lock.read_text().rstrip("\n") + f"\nemma-book @ git+{repository}@{sha}\n"


def write_branch(
    out: str | os.PathLike,
    sha: str,
    repository: str,
    root: str | os.PathLike = layout.ROOT,
    executed: str | os.PathLike | None = None,
    tables: str | os.PathLike | None = None,
) -> Path:
    """Write the branch's files into ``out`` (empty or absent) and return it.

    ``executed`` holds the executed notebooks (default ``<root>/book/chapters``), ``tables`` the
    chapters' tables (default ``<root>/_build/tables``); of these, only those the notebooks' run
    keys record as written go into the branch. Raises ``ValueError`` or ``FileNotFoundError``
    naming the file at fault: a notebook that did not finish or changed since its run, a table
    recorded that is missing or changed, a table read that no chapter's run wrote, a missing lock file.
    """
    root, out = Path(root), Path(out)
    executed = Path(executed) if executed is not None else root / CHAPTERS
    tables = Path(tables) if tables is not None else root / layout.DEFAULT_OUTPUT_DIR / "tables"
    if not re.fullmatch(r"[0-9a-f]{7,40}", sha or ""):
        raise ValueError(f"--sha must be a commit's hexadecimal id, got {sha!r}")
    if not repository:
        raise ValueError("--repository must name the repository the package is installed from")
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"{out} is not empty: the branch is written into an empty folder")
    notebooks = sorted(path for path in executed.glob("*_*.ipynb") if layout.CHAPTER_STEM.fullmatch(path.stem))
    if not notebooks:
        raise FileNotFoundError(f"{executed} holds no executed chapter (NN_name.ipynb or AN_name.ipynb): run `emma-book run` first")
    if not tables.is_dir():
        raise FileNotFoundError(f"{tables} is missing: the chapters' tables (run `emma-book run` first)")
    requirements = _requirements(root, repository, sha)

    (out / TABLES).mkdir(parents=True, exist_ok=True)
    for path in notebooks:  # first every table written, then the notebooks that read them
        book.check_executed(path, path.stem)
        for name, table in publish.recorded_outputs(path, path.stem, {"tables": tables}).items():
            shutil.copy2(table, out / TABLES.parent / name)
    for path in notebooks:
        notebook = nbformat.read(path, as_version=4)
        missing = sorted(name for name in _tables_read(notebook) if not (out / TABLES.parent / name).is_file())
        if missing:
            raise FileNotFoundError(f"{path} read {', '.join(missing)}, which no chapter's run in {executed} wrote into {tables}: "
                                    "the launched chapter would fail")
        nbformat.write(relaunchable(notebook, repository, sha), out / CHAPTERS / path.name)

    (out / "requirements.txt").write_text(requirements)
    (out / "runtime.txt").write_text(PYTHON + "\n")
    for name in ("LICENSE", "CITATION.cff"):
        if (root / name).is_file():
            shutil.copy(root / name, out / name)
    (out / "README.md").write_text(
        "# Executed notebooks of the book\n\n"
        f"The chapters of the book (`{CHAPTERS.as_posix()}/`), executed from commit {sha} of {repository},\n"
        f"with the tables they read (`{TABLES.as_posix()}/`) and the environment a chapter needs\n"
        "(`requirements.txt`, without the book's toolchain). Written by `python -m emma_book.branch`\n"
        "in the book workflow: do not edit.\n"
    )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emma_book.branch", description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="an empty or absent folder to write the branch's files into")
    parser.add_argument("--sha", help="the commit the package is installed from (default: the checkout's HEAD)")
    parser.add_argument("--repository", help="the repository's URL (default: _config.yml's repository.url)")
    parser.add_argument("--root", default=str(layout.ROOT), help="the checkout (default: this package's)")
    parser.add_argument("--executed", help="the executed notebooks (default: <root>/book/chapters)")
    parser.add_argument("--tables", help="the chapters' tables (default: <root>/_build/tables)")
    args = parser.parse_args(argv)
    root = Path(args.root)
    sha = args.sha or book.package_revision(root)
    if not sha:
        parser.error(f"--sha is needed: {root} is not a git checkout")
    try:
        out = write_branch(args.out, sha, args.repository or book.repository_url(root), root, args.executed, args.tables)
    except (ValueError, OSError) as error:
        print(f"emma_book.branch: {error}", file=sys.stderr)
        return 1
    print(f"the branch notebooks: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
