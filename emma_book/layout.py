"""Where the book lives: the checkout's folders, its chapters and where a run writes them (the bottom of ``emma_book``).

Every module of the tooling reads these names from here, at call time, so a test can point the
tooling at a scratch book by setting them on this module.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import jupytext
import yaml
from papermill.translators import papermill_translators

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
EXECUTED = ROOT / "book" / "chapters"
PROFILES = ROOT / "profiles"  # quick.yaml, full.yaml: the parameters `emma-book run --profile` starts from
DEFAULT_OUTPUT_DIR = "_build"
#: A chapter's stem: ``NN_name`` for a numbered chapter (NN its number in the table of contents),
#: ``AN_name`` for a notebook appendix (the N-th notebook of the part "Appendices"), e.g. ``A1_verdicts``.
CHAPTER_STEM = re.compile(r"^(?:(?P<number>\d+)|A(?P<appendix>\d+))_(?P<name>[a-z0-9_]+)$")


@dataclass(frozen=True)
class Chapter:
    """One chapter: ``name`` (e.g. ``energy_estimation``), its source and its executed notebook.

    ``number`` is the chapter's number in the table of contents (``09`` of ``09_many_modes``), or,
    for a notebook appendix (``appendix`` true), its number among the appendices (``1`` of
    ``A1_verdicts``), which never counts as a chapter number.
    """

    number: int
    name: str
    source: Path
    appendix: bool = False

    @property
    def stem(self) -> str:
        return self.source.stem

    @property
    def label(self) -> str:
        """The prefix of its file: ``09`` for a chapter, ``A1`` for an appendix."""
        return f"A{self.number}" if self.appendix else f"{self.number:02d}"

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


def chapter_of(path: str | os.PathLike) -> Chapter | None:
    """The chapter whose source is ``path`` (``NN_name.py`` or ``AN_name.py``); ``None`` for any other file."""
    path = Path(path)
    match = CHAPTER_STEM.match(path.stem) if path.suffix == ".py" else None
    if match is None:
        return None
    appendix = match["appendix"] is not None
    return Chapter(int(match["appendix"] if appendix else match["number"]), match["name"], path, appendix)


def chapters(folder: Path | None = None) -> list[Chapter]:
    """All chapters in ``folder`` (default ``notebooks/``): the numbered ones by number, then the appendices by theirs."""
    found = [chapter for path in sorted(Path(folder or NOTEBOOKS).glob("*.py")) if (chapter := chapter_of(path)) is not None]
    return sorted(found, key=lambda chapter: (chapter.appendix, chapter.number))


def toc_stems(toc: Path) -> list[str]:
    """The chapters ``toc`` (a ``_toc.yml``) lists, as stems (``NN_name``, ``AN_name``) in its order; none when there is no such file."""
    if not Path(toc).is_file():
        return []
    parts = (yaml.safe_load(Path(toc).read_text()) or {}).get("parts") or []
    files = [entry.get("file", "") for part in parts for entry in part.get("chapters") or []]
    return [f.rsplit("/", 1)[-1] for f in files if f.startswith("book/chapters/")]


def select(names: list[str], folder: Path | None = None) -> list[Chapter]:
    """The chapters named (by name, by stem, by number ``9`` or ``09``, by ``A1`` for an appendix); all of them when ``names`` is empty.

    They come in the book's order, ``_toc.yml``'s (beside ``folder``), so that a chapter runs after
    those it reads: the appendix Verdicts runs after every chapter, extensions included.
    Chapters the table of contents does not list come last, the numbered ones first.
    """
    folder = Path(folder or NOTEBOOKS)
    available = chapters(folder)
    order = {stem: i for i, stem in enumerate(toc_stems(folder.parent / "_toc.yml"))}
    picked = available if not names else []
    for name in names:
        hits = [c for c in available if name in (c.name, c.stem, c.label, *(() if c.appendix else (str(c.number),)))]
        if not hits:
            known = ", ".join(c.name for c in available)
            raise ValueError(f"unknown chapter {name!r}; known chapters: {known}")
        picked.extend(hit for hit in hits if hit not in picked)
    return sorted(picked, key=lambda c: (order.get(c.stem, len(order)), c.appendix, c.number))


def executed_path(chapter: Chapter, output_dir: str | os.PathLike | None = None) -> Path:
    """Where a run writes the executed notebook: ``book/chapters`` for the book's own output folder,
    ``<output_dir>/chapters`` for any other, so that a run elsewhere leaves the book's pages alone."""
    if output_dir is None or Path(output_dir) == Path(DEFAULT_OUTPUT_DIR) or Path(output_dir).resolve() == (ROOT / DEFAULT_OUTPUT_DIR).resolve():
        return EXECUTED / f"{chapter.stem}.ipynb"
    return Path(output_dir) / "chapters" / f"{chapter.stem}.ipynb"
