"""What a chapter's notebook carries besides its own cells: which cells meet the reader folded, and
the first cell that installs the package when the notebook is launched outside the checkout.

:func:`emma_book.build.execute` applies both to every chapter before papermill runs it.
"""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import nbformat
import yaml

from emma_book.layout import ROOT

#: The repository's root (where ``_config.yml`` names the book's repository).


def _is_setup(source: str) -> bool:
    """A cell that starts with imports (the chapter's setup), ignoring comments and blank lines."""
    lines = [line for line in source.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return bool(lines) and lines[0].startswith(("import ", "from "))


def _draws_figure(source: str) -> bool:
    """A cell that draws and saves a figure: its plotting code is boilerplate, its figure is not."""
    return "save_figure(" in source


#: A code cell with more lines than this meets the reader folded, whatever it does.
LONG_CELL = 10


def _is_long(source: str) -> bool:
    return len([line for line in source.splitlines() if line.strip()]) > LONG_CELL


def fold_boilerplate(notebook):
    """Tag the cells a reader should meet folded (``hide-input``): the parameters cell, the setup
    cells, the cells that draw a figure and every cell longer than :data:`LONG_CELL` lines.

    Their code stays one click away on the page and their outputs (figures, tables) stay visible.
    """
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        tags = set(cell.metadata.get("tags", []))
        if "parameters" in tags or _is_setup(cell.source) or _draws_figure(cell.source) or _is_long(cell.source):
            cell.metadata["tags"] = sorted(tags | {"hide-input"})
    return notebook


def repository_url(root: Path = ROOT) -> str:
    """The book's repository, as ``_config.yml`` names it (``repository.url``), the one place that says it."""
    config = yaml.safe_load((Path(root) / "_config.yml").read_text())
    url = (config.get("repository") or {}).get("url")
    if not url:
        raise ValueError(f"{Path(root) / '_config.yml'} must name the book's repository under repository: url:")
    return url.rstrip("/")


INSTALL_TAG = "install-package"


def tables_url(repository: str) -> str | None:
    """Where a chapter launched alone (Colab) finds the tables of the chapters it reads: the branch
    ``notebooks`` of a GitHub ``repository`` (:mod:`emma_book.branch` puts them there), as raw files.

    None for a repository not on GitHub. :func:`emma.claims.report.read_table` fetches from it only
    when the variable ``EMMA_TABLES_URL`` is set, which the install cell does only outside the checkout.

    >>> tables_url("https://github.com/owner/book")
    'https://raw.githubusercontent.com/owner/book/notebooks/book/chapters/_build/tables'
    """
    match = re.fullmatch(r"https://github\.com/([^/]+)/([^/]+?)(\.git)?/?", repository)
    return f"https://raw.githubusercontent.com/{match[1]}/{match[2]}/notebooks/book/chapters/_build/tables" if match else None


def package_revision(root: Path = ROOT) -> str | None:
    """The commit checked out at ``root`` (``git rev-parse HEAD``), or None outside a git checkout."""
    if not (Path(root) / ".git").exists():  # not an enclosing repository's commit (an install inside a checkout)
        return None
    try:
        sha = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return sha if re.fullmatch(r"[0-9a-f]{40}", sha) else None


def add_install_cell(notebook, repository: str | None = None, revision: str | None = None):
    """Put first a cell that installs the package ``emma`` when the notebook runs outside the checkout.

    Opened on Colab or Binder, an executed chapter finds no ``emma``; this cell installs it with
    ``%pip`` from the book's repository at ``revision`` (default :func:`package_revision`, the
    commit that executes the notebook): ``emma-book @ git+<repository>@<sha>``, the runtime only,
    not the book's toolchain (extra ``book``). Outside a git checkout it installs the default branch
    and its comment says so. Inside the checkout ``emma`` imports and the cell does nothing.
    Tagged ``remove-cell``: it stays in the notebook, never on the page.
    """
    repository = repository or repository_url()
    revision = revision or package_revision()
    if revision:
        where = f"at the commit that executed this notebook ({revision[:12]})"
        requirement = f"emma-book @ git+{repository}@{revision}"
    else:
        where = "from the default branch: this notebook was executed outside a git checkout, so its commit is unknown"
        requirement = f"emma-book @ git+{repository}"
    tables = tables_url(repository)
    fetch = (f'    os.environ.setdefault("EMMA_TABLES_URL", "{tables}")  # other chapters\' tables, when not beside the notebook\n'
             if tables else "")
    source = (
        "# Outside the book's repository (Colab, Binder...), install its package `emma` first,\n"
        f"# {where}; the runtime only, not the book's toolchain.\n"
        "import importlib.util\n"
        "import os\n"
        "\n"
        'if importlib.util.find_spec("emma") is None:\n'
        f"{fetch}"
        f'    %pip install --quiet "{requirement}"'
    )
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["remove-cell", INSTALL_TAG]})
    notebook.cells = [c for c in notebook.cells if INSTALL_TAG not in c.metadata.get("tags", [])]
    notebook.cells.insert(0, cell)
    return notebook
