"""The published book stands alone: no page or module cites files a reader cannot open."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: What a reader of the book cannot open: the project's private notes and its shared folder.
PRIVATE = ("notes item", "thesis-notes", "shared/")
TEXT_SUFFIXES = {".py", ".md", ".yml", ".bib"}
SCANNED_FOLDERS = ("emma", "notebooks", "book")
SCANNED_FILES = ("_toc.yml", "_config.yml")

APPENDIX = ROOT / "book" / "original_code.md"
LABELS = (
    "original-in-place-corruption",
    "original-psi-min",
    "original-early-stopping",
    "original-retrain",
    "original-omega",
    "original-shared-init",
    "original-coupled-potential",
    "original-ranking",
    "original-class-weight",
    "original-outcome-table",
    "original-drop-last",
    "original-threshold",
)
REPOSITORY = "https://github.com/awerenne/energy-based-multimodal-attention/"
LINE_LINK = re.compile(re.escape(REPOSITORY) + r"blob/7302713/code/[\w./-]+\.py#L\d+(-L\d+)?")


def _scanned_files() -> list[Path]:
    files = [ROOT / name for name in SCANNED_FILES if (ROOT / name).exists()]
    for folder in SCANNED_FOLDERS:
        for path in sorted((ROOT / folder).rglob("*")):
            hidden = any(part.startswith(".") or part == "__pycache__" for part in path.relative_to(ROOT).parts)
            if path.is_file() and path.suffix in TEXT_SUFFIXES and not hidden:
                files.append(path)
    return files


def test_no_page_or_module_cites_the_private_notes():
    offending = []
    for path in _scanned_files():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            lowered = line.lower()
            if any(needle in lowered for needle in PRIVATE):
                offending.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offending, "cite the appendix book/original_code.md instead of:\n" + "\n".join(offending)


def test_appendix_links_the_original_code_at_its_commit():
    assert APPENDIX.exists(), "book/original_code.md is missing"
    text = APPENDIX.read_text(encoding="utf-8")
    assert text.startswith("# The original code, step by step")
    missing = [label for label in LABELS if f"({label})=" not in text]
    assert not missing, f"labels missing from the appendix: {missing}"
    links = re.findall(r"https?://github\.com/[^\s)\]>]+", text)
    assert links, "the appendix links no line of the original code"
    wrong = [link for link in links if not LINE_LINK.fullmatch(link)]
    assert not wrong, f"links not at blob/7302713/ with a #L anchor: {wrong}"
    toc = (ROOT / "_toc.yml").read_text(encoding="utf-8")
    assert "file: book/original_code" in toc, "the appendix is not in _toc.yml"


#: A chapter cited by its quoted title ('the chapter "Experiment II"', 'the appendix "Verdicts and
#: errata"') or by its topic ('the chapter on HTRU2') instead of a link: {doc}`06_robustness` from a
#: chapter, {doc}`chapters/06_robustness` from a page of book/.
QUOTED_TITLE = re.compile(r"\b(?:chapter|appendix|page)s?\s+[\"“]|\bthe\s+chapter\s+on\b", re.IGNORECASE)


def _markdown_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, text) of the Markdown a reader sees: a page of book/, or the markdown cells of a
    jupytext percent-format chapter (its code cells, strings and comments included, are not prose)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    if path.suffix == ".md":
        return list(enumerate(lines, start=1))
    found, in_markdown = [], False
    for number, line in enumerate(lines, start=1):
        if line.startswith("# %%"):
            in_markdown = "[markdown]" in line
        elif in_markdown:
            found.append((number, line))
    return found


def test_chapters_cite_each_other_by_link():
    pages = sorted((ROOT / "notebooks").glob("*.py")) + sorted((ROOT / "book").glob("*.md"))
    assert pages, "no chapter or page found"
    offending = []
    for path in pages:
        lines = _markdown_lines(path)
        # a phrase may break across two lines of a cell: a line is at fault when a match starts in it,
        # read together with the next line
        for (number, line), (_, following) in zip(lines, lines[1:] + [(0, "")]):
            text = line.lstrip("#").strip()
            joined = text + " " + following.lstrip("#").strip()
            if any(match.start() < len(text) for match in QUOTED_TITLE.finditer(joined)):
                offending.append(f"{path.relative_to(ROOT)}:{number}: {text}")
    assert not offending, (
        "cite a chapter with a link, {doc}`06_robustness` from a chapter or {doc}`chapters/06_robustness` "
        "from book/*.md, not by its quoted title:\n" + "\n".join(offending)
    )


NOTATION = ROOT / "book" / "notation.md"
#: Every symbol of the book, as the first cell of its row in the tables of book/notation.md writes it.
SYMBOLS = {
    "α (importance scores)": r"$\alpha_i$",
    "β (attention scores)": r"$\beta_i$",
    "E_i (modal energy)": r"$E_i$",
    "e_i (self energy)": r"$e_i$",
    "e_ij (shared energy)": r"$e_{ij}$",
    "Ψ (potential energy)": r"$\Psi_i$",
    "Ψ′ (corrected potential)": r"$\Psi'_i$",
    "Ψ_min": r"$\Psi_i^{\min}$",
    "ρ (coldness)": r"$\rho$",
    "g_a (gain of the attention)": r"$g_a$",
    "b_a (bias of the attention)": r"$b_a$",
    "λ_c (capacity regularizer weight)": r"$\lambda_c$",
    "λ_e (energy regularizer weight)": r"$\lambda_e$",
    "ξ (corruption indicator)": r"$\xi_k$",
    "Ω (energy regularizer)": r"$\Omega$",
    "M (number of modes)": r"$M$",
    "M′ (clean modes)": r"$M'$",
    "w_i": r"$w_i$",
    "b_i": r"$b_i$",
    "w_ij": r"$w_{ij}$",
    "γ_ij": r"$\gamma_{ij}$",
    "Z (partition function)": r"$Z$",
    "σ (noise std)": r"$\sigma$",
    "NSR": "NSR",
}
#: The terms the glossary of book/notation.md defines.
TERMS = (
    "NSR", "ROC corner", "F1", "AP", "AUROC", "SOUND", "ORIGINAL", "batch-coupled potential",
    "ip_only", "IP only", "dm_only", "base", "without", "data augmentation", "alternative",
    "attention fusion", "with", "replay", "decomposition", "forensic test", "decision rule",
    "seed range", "core claim", "secondary claim", "book claim", "quick profile", "full profile",
)


def test_notation_page_defines_every_symbol():
    assert NOTATION.exists(), "book/notation.md is missing"
    text = NOTATION.read_text(encoding="utf-8")
    assert text.startswith("# Notation and terms")
    rows = [line for line in text.splitlines() if line.startswith("|") and not line.startswith("|---")]
    heads = [row.split("|")[1].strip() for row in rows]
    missing = [name for name, symbol in SYMBOLS.items()
               if not any(symbol in re.split(r",\s*", head) or head.startswith(symbol) for head in heads)]
    assert not missing, f"book/notation.md has no table row for: {missing}"
    incomplete = [row for row in rows if [cell.strip() for cell in row.split("|")[1:-1]].count("") or row.count("|") != 5]
    assert not incomplete, "every row gives a symbol, its meaning, its definition and where the book has it:\n" + "\n".join(incomplete)
    glossary = text[text.index("```{glossary}"):]
    glossary = glossary[:glossary.index("\n```", 3)]
    terms = {line.strip() for line in glossary.splitlines()[1:] if line and not line.startswith(" ")}
    assert not set(TERMS) - terms, f"the glossary of book/notation.md lacks: {sorted(set(TERMS) - terms)}"
    toc = (ROOT / "_toc.yml").read_text(encoding="utf-8")
    assert "file: book/notation" in toc and toc.index("file: book/notation") < toc.index("file: book/run_record"), (
        "_toc.yml must list book/notation among the appendices, before book/run_record"
    )


def test_every_figure_cell_has_a_caption_alt_and_label():
    """Every figure of the book is numbered, captioned, described for screen readers and cited by
    the prose of its chapter: a cell that calls ``save_figure(`` carries the myst-nb metadata
    ``mystnb.figure.caption``, ``mystnb.figure.name`` (``fig-...``, unique across the book) and
    ``mystnb.image.alt``, and the chapter's markdown refers to the name with ``{numref}``."""
    import jupytext

    problems, owners = [], {}
    notebooks = sorted((ROOT / "notebooks").glob("*.py"))
    assert notebooks, "no chapter in notebooks/"
    for path in notebooks:
        notebook = jupytext.read(path)
        markdown = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
        for cell in notebook.cells:
            if cell.cell_type != "code" or "save_figure(" not in cell.source:
                continue
            where = f"{path.name}, cell {cell.source.strip().splitlines()[0][:60]!r}"
            mystnb = cell.metadata.get("mystnb", {})
            figure, image = mystnb.get("figure", {}), mystnb.get("image", {})
            caption, name, alt = figure.get("caption", ""), figure.get("name", ""), image.get("alt", "")
            if not str(caption).strip():
                problems.append(f"{where}: no mystnb.figure.caption")
            if not str(alt).strip():
                problems.append(f"{where}: no mystnb.image.alt")
            if not str(name).startswith("fig-"):
                problems.append(f"{where}: mystnb.figure.name {name!r} does not start with 'fig-'")
                continue
            if name in owners:
                problems.append(f"{where}: the figure name {name!r} is also used in {owners[name]}")
            owners[name] = path.name
            if not re.search(r"\{numref\}`(?:[^`<]*<)?" + re.escape(name) + r">?`", markdown):  # {numref}`fig-x` or `Fig. %s <fig-x>`
                problems.append(f"{where}: the markdown of {path.name} never cites {{numref}}`{name}`")
    assert owners, "no figure cell found"
    assert not problems, "\n".join(problems)
