"""What a chapter's source must not put on its page: a bare repr, an equation numbered twice, a formula too wide."""
from __future__ import annotations

import ast
import re

import jupytext
import pytest
import sympy as sp

from emma.method import derivations
from emma_book import build as book

#: Calls whose value is a path or an object, never something a reader should see as a cell's output.
RETURNS_A_REPR = {"save_figure", "save_table", "atomic_write"}


def _last_expression(source: str):
    code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
    body = ast.parse(code).body
    return body[-1] if body and isinstance(body[-1], ast.Expr) else None


@pytest.mark.parametrize("chapter", book.chapters(), ids=lambda c: c.name)
def test_no_cell_ends_with_a_call_whose_value_is_a_path(chapter):
    """`save_figure(...)` as a cell's last line shows "PosixPath('...')" under the figure; assign it to `_`."""
    for cell in jupytext.read(chapter.source).cells:
        if cell.cell_type != "code":
            continue
        last = _last_expression(cell.source)
        if last is not None and isinstance(last.value, ast.Call):
            function = last.value.func
            name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", None)
            assert name not in RETURNS_A_REPR, f"{chapter.name}: a cell ends with {name}(...), whose path would be the cell's output"


@pytest.mark.parametrize("chapter", book.chapters(), ids=lambda c: c.name)
def test_equations_carry_the_thesis_number_once(chapter):
    r"""The thesis's number is a ``\tag``, and nothing else numbers the equation.

    Sphinx numbers an unstarred amsmath environment (``\begin{equation}``) itself, so a ``\tag``
    in it shows two numbers, "(5.12) (3.1)"; and it wraps a ``$$`` block holding ``\\`` in a
    ``split``, where MathJax refuses a ``\tag``. A tagged equation of several lines goes in
    ``\begin{equation*}``, a one-line one in ``$$``.
    """
    markdown = "\n".join(c.source for c in jupytext.read(chapter.source).cells if c.cell_type == "markdown")
    numbered = re.findall(r"\\begin\{(equation|align|gather|multline|eqnarray|flalign|alignat)\}", markdown)
    assert not numbered, f"{chapter.name}: use $$ ... \\tag{{N.M}} $$ or equation*, not {numbered} (Sphinx adds its own number)"
    for block in re.findall(r"^\$\$\n(.*?)\n\$\$", markdown, flags=re.MULTILINE | re.DOTALL):
        assert not ("\\tag" in block and "\\\\" in block), f"{chapter.name}: a $$ block with \\\\ cannot hold a \\tag: {block[:80]}"


def test_a_long_sum_is_written_on_aligned_lines_in_the_order_sympy_prints_it():
    x, y, z = sp.symbols("x y z")
    long = sum(sp.Symbol(f"w_{i}") * sp.Max(sp.E, x - y + i) ** z for i in range(1, 5))
    text = derivations.aligned_terms("E_1", long, width=60)
    assert text.startswith(r"\begin{aligned} E_1 &= ") and text.endswith(r"\end{aligned}")
    lines = text.split(r"\\")
    assert len(lines) == 4 and all(line.strip().startswith(r"&\quad +") for line in lines[1:])
    flat = re.sub(r"\\begin\{aligned\}|\\end\{aligned\}|&\\quad|\\\\|&", " ", text)
    assert " ".join(flat.split()) == " ".join(f"E_1 = {sp.latex(long)}".split()), "the same formula, only cut"
    assert derivations.aligned_terms("f", x - y, width=60) == "f = x - y"
    assert derivations.aligned_terms("f", x - y, width=3) == r"\begin{aligned} f &= x \\ &\quad - y \end{aligned}"
    assert derivations.aligned_terms("g", sp.sin(x) * y) == r"g = y \sin{\left(x \right)}"
    with pytest.raises(ValueError, match="width"):
        derivations.aligned_terms("f", x, width=0)


def _shows_not_shown(source: str) -> list[int]:
    """Lines of a cell's ``show(...)`` calls whose view is thrown away: an expression statement that is not the cell's last."""
    code = "\n".join(line if not line.lstrip().startswith(("%", "!")) else "" for line in source.splitlines())
    body = ast.parse(code).body
    return [node.lineno for node in body[:-1] if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Name) and node.value.func.id == "show"]  # emma.util.display.show, not plt.show


def _chapter_sources():
    from emma_book import scaffold

    sources = [(chapter.name, chapter.source.read_text()) for chapter in book.chapters()]
    return sources + [("emma-book new's template", scaffold.render("chapter", name="demo", title="Demo", stem="13_demo"))]


@pytest.mark.parametrize(("name", "text"), _chapter_sources(), ids=lambda v: v if len(v) < 40 else "")
def test_every_table_a_cell_shows_is_its_last_expression(name, text):
    """Only a cell's last expression is displayed: a ``show(...)`` above it renders nothing, and its caption's
    label is then undefined (``{numref}`` fails the strict build)."""
    lost = [(i, line) for i, cell in enumerate(jupytext.reads(text, fmt="py:percent").cells) if cell.cell_type == "code"
            for line in _shows_not_shown(cell.source)]
    assert not lost, f"{name}: show(...) calls that are not their cell's last expression (cell, line): {lost}"
