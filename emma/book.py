"""The book pipeline: find the chapters, execute them with papermill, build the HTML with Jupyter Book.

Chapters are the jupytext percent-format files ``notebooks/NN_name.py``. ``execute`` turns one into
a notebook, runs it with papermill (the only executor; Jupyter Book does not run anything again)
and writes the executed notebook to ``book/chapters/NN_name.ipynb`` for the book to render.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import jupytext
import nbformat
import papermill
from papermill.translators import papermill_translators

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
EXECUTED = ROOT / "book" / "chapters"
FAILED = ROOT / "_build" / "failed"
_CHAPTER_FILE = re.compile(r"^(\d+)_([a-z0-9_]+)\.py$")


@dataclass(frozen=True)
class Chapter:
    """One chapter: ``name`` (e.g. ``energy_estimation``), its source and its executed notebook."""

    number: int
    name: str
    source: Path

    @property
    def stem(self) -> str:
        return self.source.stem

    @property
    def title(self) -> str:
        notebook = jupytext.read(self.source)
        for cell in notebook.cells:
            if cell.cell_type == "markdown":
                for line in cell.source.splitlines():
                    if line.startswith("# "):
                        return line[2:].strip()
        return self.name

    def parameters(self) -> dict[str, str]:
        """The parameters the chapter declares in its cell tagged ``parameters``: name -> default.

        Read with papermill's own parser, and checked against every assignment in the cell, so
        a line papermill cannot parse (it would then ignore the parameter) is an error here.
        """
        notebook = jupytext.read(self.source)
        cells = [cell for cell in notebook.cells if "parameters" in cell.metadata.get("tags", [])]
        if len(cells) != 1:
            raise ValueError(f"chapter {self.name!r} ({self.source}) must have exactly one cell tagged 'parameters', found {len(cells)}")
        translator = papermill_translators.find_translator("python3", "python")
        parsed = {p.name: p.default for p in translator.inspect(cells[0])}
        assigned = re.findall(r"^([A-Za-z_]\w*)\s*=", cells[0].source, flags=re.MULTILINE)
        unparsed = sorted(set(assigned) - set(parsed))
        if unparsed:
            raise ValueError(
                f"papermill cannot parse the parameter(s) {unparsed} of chapter {self.name!r}; "
                "keep each on one line, with a comment free of quotes"
            )
        return parsed


def chapters(folder: Path | None = None) -> list[Chapter]:
    """All chapters in ``folder`` (default ``notebooks/``), ordered by their numeric prefix."""
    found = []
    for path in sorted(Path(folder or NOTEBOOKS).glob("*.py")):
        match = _CHAPTER_FILE.match(path.name)
        if match:
            found.append(Chapter(int(match.group(1)), match.group(2), path))
    return sorted(found, key=lambda chapter: chapter.number)


def select(names: list[str], folder: Path | None = None) -> list[Chapter]:
    """The chapters named (by name, by ``NN_name`` stem, or by number); all of them when ``names`` is empty."""
    available = chapters(folder)
    if not names:
        return available
    picked = []
    for name in names:
        hits = [c for c in available if name in (c.name, c.stem, str(c.number), f"{c.number:02d}")]
        if not hits:
            known = ", ".join(c.name for c in available)
            raise ValueError(f"unknown chapter {name!r}; known chapters: {known}")
        picked.extend(hit for hit in hits if hit not in picked)
    return picked


class ChapterFailed(RuntimeError):
    """A cell of a chapter raised; the message names the chapter, the cell and the error."""


def execute(
    chapter: Chapter,
    parameters: dict,
    *,
    output: Path | None = None,
    progress: bool = True,
    kernel_name: str = "python3",
) -> Path:
    """Execute ``chapter`` with papermill and the given parameters; return the executed notebook's path.

    The executed notebook is written next to its final place and renamed onto it only when every
    cell succeeded. When a cell fails, the partial notebook is kept under ``_build/failed/`` and
    :class:`ChapterFailed` is raised.
    """
    declared = chapter.parameters()
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise ValueError(
            f"chapter {chapter.name!r} has no parameter(s) {unknown}; it declares {sorted(declared)}"
        )
    output = Path(output) if output is not None else EXECUTED / f"{chapter.stem}.ipynb"
    output.parent.mkdir(parents=True, exist_ok=True)
    source = output.parent / f".{chapter.stem}.source.ipynb"
    partial = output.parent / f".{chapter.stem}.partial.ipynb"
    notebook = fold_boilerplate(jupytext.read(chapter.source))
    notebook.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": kernel_name}
    nbformat.write(notebook, source)
    previous_quiet = os.environ.get("EMMA_QUIET")
    os.environ["EMMA_QUIET"] = "1"  # the kernel inherits it: no per-cell progress bars in the book
    try:
        papermill.execute_notebook(
            str(source),
            str(partial),
            parameters=parameters,
            cwd=str(ROOT),
            kernel_name=kernel_name,
            progress_bar=progress,
            log_output=False,
        )
    except papermill.PapermillExecutionError as error:
        FAILED.mkdir(parents=True, exist_ok=True)
        kept = FAILED / f"{chapter.stem}.ipynb"
        shutil.move(partial, kept)
        raise ChapterFailed(
            f"chapter {chapter.name!r} failed in cell [{error.exec_count}] "
            f"({error.ename}: {error.evalue}).\nCell source:\n{_failed_cell_source(kept)}\n"
            f"The executed notebook up to the failure is in {kept}"
        ) from None
    finally:
        if previous_quiet is None:
            os.environ.pop("EMMA_QUIET", None)
        else:
            os.environ["EMMA_QUIET"] = previous_quiet
        source.unlink(missing_ok=True)
    executed = nbformat.read(partial, as_version=4)
    for cell in executed.cells:
        if "injected-parameters" in cell.metadata.get("tags", []):  # stays in the notebook, not on the page
            cell.metadata["tags"] = sorted(set(cell.metadata["tags"]) | {"remove-cell"})
    nbformat.write(executed, partial)
    os.replace(partial, output)
    return output


def _is_setup(source: str) -> bool:
    """A cell that starts with imports (the chapter's setup), ignoring comments and blank lines."""
    lines = [line for line in source.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return bool(lines) and lines[0].startswith(("import ", "from "))


def fold_boilerplate(notebook):
    """Tag the cells a reader should meet folded: the parameters cell and the setup cells (``hide-input``).

    Their code stays one click away on the page and their outputs stay visible.
    """
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        tags = set(cell.metadata.get("tags", []))
        if "parameters" in tags or _is_setup(cell.source):
            cell.metadata["tags"] = sorted(tags | {"hide-input"})
    return notebook


def _failed_cell_source(path: Path) -> str:
    """The source of the cell whose outputs hold the error (papermill shifts cell indices)."""
    for cell in nbformat.read(path, as_version=4).cells:
        if any(output.get("output_type") == "error" for output in cell.get("outputs", [])):
            return cell.source
    return "(not found in the executed notebook)"


def build(root: Path = ROOT, strict: bool = True) -> int:
    """Build the HTML book from the executed notebooks into ``<root>/_build/html``; return the exit code.

    Warnings are errors when ``strict``. Nothing is executed: a chapter that has not been run
    is reported and the build stops.
    """
    missing = [c.name for c in chapters(root / "notebooks") if not (root / "book" / "chapters" / f"{c.stem}.ipynb").exists()]
    if missing:
        raise FileNotFoundError(
            f"these chapters have not been executed yet: {', '.join(missing)}; run `emma-book run` first"
        )
    executable = Path(sys.executable).parent / "jupyter-book"
    command = [str(executable) if executable.exists() else "jupyter-book", "build", str(root), "--builder", "html"]
    if strict:
        command += ["--warningiserror", "--keep-going"]
    return subprocess.call(command, cwd=root)
