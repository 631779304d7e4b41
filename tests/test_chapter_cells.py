"""A chapter reads like a lesson: short code cells, no function or class of its own.

The logic of a chapter lives in :mod:`emma.experiments` (one call per result, returning a typed
result); the chapter shows it and explains it. Counted on the chapters' jupytext sources
(``notebooks/*.py``): the non-blank lines of each code cell, its ``# %%`` header excluded. The cell
tagged ``parameters`` is exempt: it is papermill's interface, one documented line per parameter,
folded on the page. The extension chapter's point is to register a family of its own, so it may
define what it registers.
"""
from __future__ import annotations

import ast
import statistics

import jupytext
import pytest

from emma_book import layout

#: The most non-blank lines a code cell may have, and the most its chapter's median may be.
LONGEST, MEDIAN = 20, 6
#: Chapters whose point is to define something (a family registered by an extension).
MAY_DEFINE = {"beyond_gaussian"}


def code_cells(chapter) -> list[list[str]]:
    """The non-blank lines of each code cell of ``chapter`` but its parameters cell."""
    cells = jupytext.read(chapter.source).cells
    return [[line for line in cell.source.splitlines() if line.strip()] for cell in cells
            if cell.cell_type == "code" and "parameters" not in cell.metadata.get("tags", [])]


def definitions(lines: list[str]) -> list[str]:
    """The functions and classes a cell's code defines, at any depth (IPython's ``%`` and ``!`` lines left out)."""
    tree = ast.parse("\n".join(line for line in lines if not line.lstrip().startswith(("%", "!"))))
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    return [node.name for node in ast.walk(tree) if isinstance(node, kinds)]


@pytest.mark.parametrize("chapter", layout.chapters(), ids=lambda c: c.name)
def test_no_code_cell_is_longer_than_twenty_lines(chapter):
    long = {i: len(lines) for i, lines in enumerate(code_cells(chapter)) if len(lines) > LONGEST}
    assert not long, f"{chapter.name}: code cells (index among code cells: lines) over {LONGEST} lines: {long}; move the logic into emma.experiments"


@pytest.mark.parametrize("chapter", layout.chapters(), ids=lambda c: c.name)
def test_the_median_code_cell_has_at_most_six_lines(chapter):
    sizes = [len(lines) for lines in code_cells(chapter)]
    assert statistics.median(sizes) <= MEDIAN, f"{chapter.name}: median code cell {statistics.median(sizes)} lines (> {MEDIAN}): {sizes}"


@pytest.mark.parametrize("chapter", [c for c in layout.chapters() if c.name not in MAY_DEFINE], ids=lambda c: c.name)
def test_a_chapter_defines_no_function_or_class(chapter):
    defined = [name for lines in code_cells(chapter) for name in definitions(lines)]
    assert not defined, f"{chapter.name} defines {defined}: a chapter calls emma.experiments, it does not define"


def test_the_counting_sees_nested_definitions_and_classes_and_skips_blank_lines():
    lines = ["x = 1", "", "   ", "for i in range(2):", "    def f(): return i", "class A: pass", "%time y = 2"]
    assert sorted(definitions(lines)) == ["A", "f"] and len([line for line in lines if line.strip()]) == 5
