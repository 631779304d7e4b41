"""Long sympy expressions as a page can show them: one term, or a few short ones, per line.

MathJax 3 does not break a long formula, so a sum of long terms runs off the page.
:func:`aligned_terms` writes ``lhs = expr`` as an ``aligned`` environment, in the order sympy
prints the terms, starting a new line before a term that would make the line longer than
``width`` characters of LaTeX.
"""
from __future__ import annotations

import sympy as sp


def aligned_terms(lhs: str, expr, width: int = 90) -> str:
    r"""``lhs = expr`` as LaTeX, the terms of the sum ``expr`` wrapped onto aligned lines.

    Parameters
    ----------
    lhs : str
        The left-hand side, as LaTeX.
    expr : sympy expression
        A sum is cut between its terms; any other expression stays on one line.
    width : int
        The most characters of LaTeX on a line before the next term starts a new one (a term
        longer than this gets a line of its own).

    Examples
    --------
    >>> x, y = sp.symbols("x y")
    >>> aligned_terms("f", x * y - 2 * y**2 + 3, width=14)
    '\\begin{aligned} f &= x y - 2 y^{2} \\\\ &\\quad + 3 \\end{aligned}'
    >>> aligned_terms("f", x * y - 2 * y**2 + 3)
    'f = x y - 2 y^{2} + 3'
    """
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ValueError(f"width must be a positive integer, got {width!r}")
    expr = sp.sympify(expr)
    terms = expr.as_ordered_terms() if isinstance(expr, sp.Add) else [expr]
    lines, line = [], ""
    for i, term in enumerate(terms):
        text = sp.latex(term)
        if i:
            text = f"- {text[1:].lstrip()}" if text.startswith("-") else f"+ {text}"
        if line and len(line) + 1 + len(text) > width:
            lines.append(line)
            line = text
        else:
            line = f"{line} {text}" if line else text
    lines.append(line)
    if len(lines) == 1:
        return f"{lhs} = {lines[0]}"
    body = " \\\\ &\\quad ".join(lines)
    return f"\\begin{{aligned}} {lhs} &= {body} \\end{{aligned}}"
