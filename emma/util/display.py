"""Tables as a reader meets them: a narrow view that fits its column, the full table one click away.

A chapter saves every table in full (:func:`emma.util.outputs.save_table`, a CSV) and shows a
*view* of it with :func:`show`: the columns the argument needs, human labels
(:func:`label`), numbers rounded for reading, "—" in an empty cell, long text wrapped, a table
of more than ``max_rows`` rows folded behind a one-line summary, and under it a link to the
full CSV, which the build copies into the site (:func:`emma_book.build.stage`).

>>> view = show(pd.DataFrame({"model": ["ip_only"], "f1_clean_mean": [0.81234], "rho": [1e-4]}), "demo")
>>> "IP only" in view.html and "0.812" in view.html and "0.0001" in view.html
True
"""
from __future__ import annotations

import html as _html
import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from emma.util import checks

#: Where a chapter page finds the site's copy of the tables (chapters live in book/chapters/).
TABLES_URL = "../../_static/tables"
#: What an empty cell shows.
EMPTY = "—"
#: Words of the book's column and row names and how a reader reads them.
WORDS = {
    "f1": "F1", "ip": "IP", "dm": "DM", "auroc": "AUROC", "ap": "AP", "nsr": "NSR", "db": "dB", "psi": "Ψ", "rho": "ρ",
    "alpha": "α", "beta": "β", "lambda": "λ", "std": "std", "mean": "mean", "val": "validation", "mad": "mean |Δ|",
    "sound": "book", "original": "replay", "thesis": "thesis", "n": "n",
}
#: Whole names with a label of their own: the families and a few columns.
NAMES = {
    "ip_only": "IP only", "dm_only": "DM only", "base": "base", "without": "data augmentation (without)",
    "alternative": "attention fusion (alternative)", "with": "EMMA (with)", "gated": "Ψ gate (gated)", "lambda_c": "λ_c", "lambda_e": "λ_e",
    "n_seeds": "seeds", "rank_validation": "rank (validation)", "rank_test": "rank (test, thesis's rule)",
    "ip_noisy": "IP-noisy", "dm_noisy": "DM-noisy", "f1_ip_noisy": "F1 IP-noisy", "f1_dm_noisy": "F1 DM-noisy", "f1_clean": "F1 clean",
    "f1_noisy_test": "F1 whole noisy test set",
}


def label(name) -> str:
    """A column or row name as a reader reads it: ``"f1_ip_noisy_mean"`` → ``"F1 IP-noisy mean"``.

    >>> label("f1_ip_noisy_mean"), label("without"), label("thesis_f1_clean"), label("lambda_c")
    ('F1 IP-noisy mean', 'data augmentation (without)', 'thesis F1 clean', 'λ_c')
    """
    if not isinstance(name, str):
        return str(name)
    if name in NAMES:
        return NAMES[name]
    for whole, text in sorted(NAMES.items(), key=lambda item: -len(item[0])):  # a known name inside a longer one
        if whole.startswith("f1_") and whole in name:
            before, after = name.split(whole, 1)
            return " ".join(part for part in (label(before.strip("_")) if before else "", text, label(after.strip("_")) if after else "") if part)
    text = name.replace("ip_noisy", "IP-noisy").replace("dm_noisy", "DM-noisy")
    return " ".join(WORDS.get(word, word) for word in re.split(r"_+", text) if word)


#: :func:`label` under a second name, for :func:`show`, whose parameter ``label`` shadows it.
label_of = label


def cell(value, digits: int = 3) -> str:
    """One cell as text: "—" when empty, numbers rounded for reading, small ones in scientific form.

    >>> [cell(v) for v in (np.nan, None, 0.81234, 1e-4, 2.5e-5, 0.0, 12, True, 1234.5)]
    ['—', '—', '0.812', '0.0001', '2.5e-05', '0', '12', 'yes', '1234.5']
    """
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return EMPTY
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if value == 0:
            return "0"
        if abs(value) < 10 ** -(digits - 1):
            return f"{value:.2g}"  # a coldness of 1e-4 stays 0.0001, not 0.000
        if abs(value) >= 1000:
            return f"{value:.1f}".rstrip("0").rstrip(".")
        return f"{value:.{digits}f}"
    text = str(value)
    return EMPTY if text in ("nan", "None", "") else text


def breakable(text: str, longest: int = 20) -> str:
    """``text`` HTML-escaped, with a break opportunity (``<wbr>``) after each ``/``, ``_`` and ``.`` of a word longer than ``longest``.

    A path or an identifier ("emma/claims/registry/robustness.py") then wraps in a narrow column
    instead of widening it; ordinary words are left whole.

    >>> breakable("see emma/claims/registry.py now")
    'see emma/<wbr>claims/<wbr>registry.<wbr>py now'
    """
    words = re.split(r"(\s+)", str(text))
    return "".join(re.sub(r"([/_.])", r"\1<wbr>", _html.escape(w)) if len(w) > longest else _html.escape(w) for w in words)


@dataclass
class TableView:
    """What :func:`show` returns: the view as HTML (``_repr_html_``), as MyST Markdown and as plain text.

    With a caption, the book renders :attr:`markdown` (``_config.yml`` ranks ``text/markdown`` above
    ``text/html``): a ``list-table`` directive that Sphinx numbers ("Table 6.2") and that the prose
    cites by its label (``{numref}`tbl-name```). Jupyter shows :attr:`html`, the caption unnumbered.
    """

    html: str
    text: str
    markdown: str | None = None
    label: str | None = None

    def _repr_html_(self) -> str:
        return self.html

    def _repr_markdown_(self) -> str | None:
        return self.markdown

    def __repr__(self) -> str:
        return self.text


#: ASCII punctuation that Markdown could read as syntax; a backslash makes each literal (CommonMark).
#: ``&`` and ``;`` stay bare: the text is HTML-escaped first, and its entities must still read as such.
_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_{}\[\]()#+\-.!|$~^=:\"'<>])")


def markdown_text(text: str, longest: int = 20) -> str:
    r"""``text`` as literal inline MyST Markdown: HTML-escaped, punctuation backslash-escaped, and a break
    opportunity (``<wbr>``) after each ``/``, ``_`` and ``.`` of a word longer than ``longest`` (as :func:`breakable`).

    >>> markdown_text("a*b* $x$ [1] 2. <i>")
    'a\\*b\\* \\$x\\$ \\[1\\] 2\\. &lt;i&gt;'
    >>> markdown_text("emma/claims/registry.py")
    'emma/<wbr>claims/<wbr>registry\\.<wbr>py'
    """
    out = []
    for word in re.split(r"(\s+)", str(text)):
        escaped = _MARKDOWN_PUNCTUATION.sub(r"\\\1", _html.escape(word, quote=False))
        if len(word) > longest:
            escaped = re.sub(r"(/|\\_|\\\.)", r"\1<wbr>", escaped)
        out.append(escaped)
    return "".join(out)


def _list_table(head: list[str], rows: list[list[str]], caption: str, label: str) -> str:
    """A MyST ``list-table`` directive of already-escaped cells, numbered by Sphinx under ``label``.

    A colon fence, not a backtick one: a caption may hold inline code, and a backtick fence's
    opening line may not (CommonMark); the cells cannot close it early, their colons are escaped.
    """
    lines = [":::{list-table} " + " ".join(caption.split()), ":header-rows: 1", f":name: {label}", ":class: emma-view",
             ":widths: auto", ""]
    for row in [head, *rows]:
        for j, text in enumerate(row):
            lines.append(("* - " if j == 0 else "  - ") + (text if text.strip() else "&nbsp;"))
    return "\n".join([*lines, ":::"])


def show(table: pd.DataFrame, name: str | None = None, *, columns=None, labels: dict | None = None, digits: int = 3,
         max_rows: int = 20, summary: str | None = None, index: bool | None = None, links: dict | None = None,
         caption: str | None = None, label: str | None = None) -> TableView:
    """A narrow view of ``table`` for the page, with a link to the full CSV ``name`` (:func:`emma.util.outputs.save_table`).

    Parameters
    ----------
    table : DataFrame
    name : str, optional
        The name the full table was saved under; the view links ``<name>.csv``.
    columns : list, optional
        The columns to show, in order (all by default).
    labels : dict, optional
        Labels for columns or row names that :func:`label` would not give.
    digits : int
        Decimals of the numbers.
    max_rows : int
        A longer table is folded behind a one-line summary.
    summary : str, optional
        That line (default: how many rows, and the first column's first and last values).
    index : bool, optional
        Show the index (default: when it is not a plain 0..n−1 range).
    links : dict, optional
        ``{column: {value: href}}``: the cells of ``column`` holding a listed value link to its page.
    caption : str, optional
        What the table shows and what to look at (MyST Markdown, one paragraph). With it the book
        numbers the table ("Table 6.2") and the prose cites it as ``{numref}`tbl-<name>```.
    label : str, optional
        The table's label for ``{numref}``; default ``tbl-<name>``. Needed when the view has no
        ``name`` or shows a saved table a second time.
    """
    if not isinstance(table, pd.DataFrame):
        if isinstance(table, pd.Series):
            table = table.to_frame()
        else:
            raise TypeError(f"table must be a DataFrame, got {type(table).__name__}")
    if name is not None and (not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", name)):
        raise ValueError(f"name must be the file name a table was saved under (letters, digits, _ . -), got {name!r}")
    if caption is not None and (not isinstance(caption, str) or not caption.strip()):
        raise ValueError(f"caption must be a non-empty string, got {caption!r}")
    if label is not None and (not isinstance(label, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", label)):
        raise ValueError(f"label must be a name for {{numref}} (a letter, then letters, digits, _ or -), got {label!r}")
    if label is not None and caption is None:
        raise ValueError("label needs a caption: only a captioned table is numbered and can be cited")
    if caption is not None and label is None:
        if name is None:
            raise ValueError("a captioned table needs a label (or a name, which gives the label tbl-<name>)")
        label = f"tbl-{name}".replace(".", "-")
    if columns is not None:
        missing = [c for c in columns if c not in table.columns]
        if missing:
            raise ValueError(f"columns {missing} are not in the table; it has {list(table.columns)}")
        table = table[list(columns)]
    if isinstance(digits, bool) or not isinstance(digits, int) or digits < 0:
        raise ValueError(f"digits must be a non-negative integer, got {digits!r}")
    names = {**NAMES, **(labels or {})}

    def text_of(key) -> str:
        if isinstance(key, tuple):
            return " · ".join(text_of(k) for k in key if str(k) != "")
        return names.get(key, label_of(key)) if isinstance(key, str) else cell(key, digits)

    show_index = index if index is not None else not isinstance(table.index, pd.RangeIndex)
    head = ([text_of(table.index.name) if table.index.name else ""] if show_index else []) + [text_of(c) for c in table.columns]
    links = links or {}
    columns = [table.iloc[:, j].tolist() for j in range(table.shape[1])]  # each column keeps its type (a row would make an int a float)
    html_rows, markdown_rows = [], []
    for i, key in enumerate(table.index):
        html_cells, markdown_cells = [], []
        for column, v in zip(table.columns, (values[i] for values in columns)):
            text = cell(v, digits) if not isinstance(v, str) else names.get(v, v)
            html = _html.escape(text) if not isinstance(v, str) else breakable(text)
            markdown = markdown_text(text) if isinstance(v, str) else markdown_text(text, longest=10**9)
            href = links.get(column, {}).get(v) if isinstance(v, str) else None
            if href:
                html, markdown = (f"<a href=\"{_html.escape(href)}\">{part}</a>" for part in (html, markdown))
            html_cells.append(f"<td>{html}</td>")
            markdown_cells.append(markdown)
        lead = [text_of(key)] if show_index else []
        html_rows.append("<tr>" + "".join(f"<th>{_html.escape(t)}</th>" for t in lead) + "".join(html_cells) + "</tr>")
        markdown_rows.append([markdown_text(t) for t in lead] + markdown_cells)
    title = f"<caption>{_html.escape(' '.join(caption.split()))}</caption>" if caption else ""
    body = (f"<table class=\"emma-view\">{title}<thead><tr>" + "".join(f"<th>{_html.escape(h)}</th>" for h in head) + "</tr></thead><tbody>"
            + "".join(html_rows) + "</tbody></table>")
    folded = len(table) > max_rows
    line = ""
    if folded:
        first = table.iloc[:, 0] if table.shape[1] else pd.Series(table.index)
        line = summary or f"{len(table)} rows ({_html.escape(cell(first.iloc[0], digits))} … {_html.escape(cell(first.iloc[-1], digits))}): show them"
        body = f"<details><summary>{line}</summary>{body}</details>"
    link = f"<p class=\"emma-download\"><a href=\"{TABLES_URL}/{name}.csv\" download>full table: {name}.csv</a></p>" if name else ""
    text = table.to_string(max_rows=max_rows, max_colwidth=60)
    markdown = None
    if caption:
        directive = _list_table([markdown_text(h) for h in head], markdown_rows, caption, label)
        parts = ["<div class=\"emma-table\">", *([f"<details><summary>{line}</summary>", directive, "</details>"] if folded else [directive])]
        markdown = "\n\n".join([*parts, *([link] if link else []), "</div>"]) + "\n"
    return TableView(f"<div class=\"emma-table\">{body}{link}</div>", text, markdown, label)


def plural(n: int, word: str, many: str | None = None) -> str:
    """``n`` and ``word`` in the right number: ``plural(1, "seed")`` is "1 seed", ``plural(5, "seed")`` "5 seeds".

    >>> plural(1, "seed"), plural(3, "seed"), plural(2, "analysis", "analyses")
    ('1 seed', '3 seeds', '2 analyses')
    """
    n = checks.integer(n, "n", low=0)
    return f"{n} {word if n == 1 else (many or word + 's')}"
