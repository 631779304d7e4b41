"""No result typed by hand: every decimal in a chapter's prose is a setting, a reference or glued from the run.

A chapter's Markdown may name the thesis's equations and sections ("eq. 5.11", "§5.8"), settings
("σ = 0.5", "a fixed 0.5 threshold") and thesis figures, but a number the run computes reaches the
page only through a ``{glue:text}`` role or generated Markdown. The scan strips math, code,
glue roles and directives, then flags any decimal not preceded by a known reference word or a
setting's symbol.
"""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: What may precede a decimal in prose: references to the thesis, and settings named by their symbol.
ALLOWED_BEFORE = re.compile(
    r"((?i:eq\.|eqs\.|equation)(\s*\*\*)?|(?i:eq\.)\s*[\d.]+\s*(and|–|-)|\\tag\{|§|Figure|Table|version|Python|L|p\.|σ\s*=|"
    r"=|≥|≤|±|×|–|⌈|<|/|fixed|default|threshold|from|near|at|standard deviation|minus|the|their|[\d.]+ %\s*to|(?i:eq\.)\s*[\d., ]+(and)?)\s*$")
#: What may follow a decimal: the definition of a scale ("0.5 = chance") or a rounding shown step by step.
ALLOWED_AFTER = re.compile(r"^\s*(=|:|is)?\s*(chance|not at all)|^\s*×|^\s*/|^\s*⌉")
#: Stripped before scanning: math, inline code, glue and other roles, link targets, HTML comments.
# Fenced blocks go first: their code (a command with -p sigma 1.0) holds inline-code backticks of its own.
STRIP = [re.compile(p, re.S) for p in (r"```.*?```", r"\$\$.*?\$\$", r"\$[^$\n]+\$", r"`[^`\n]*`", r"\{[a-z:]+\}`[^`]*`", r"\]\([^)]*\)",
                                        r"<!--.*?-->", r"https?://\S+", r":::.*?:::", r"\\begin\{equation\*?\}.*?\\end\{equation\*?\}",
                                        r"(?m)^(    |\t).*$")]
DECIMAL = re.compile(r"(?<![\w.])(\d+\.\d+)(?![\w.])")


def prose_of(path: Path) -> str:
    """The Markdown of a chapter (the ``# %% [markdown]`` cells of a jupytext file) or of a page."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".md":
        return text
    cells, keep = [], False
    for line in text.splitlines():
        if line.startswith("# %%"):
            keep = "[markdown]" in line
            continue
        if keep and line.startswith("#"):
            cells.append(line[2:] if line.startswith("# ") else "")
    return "\n".join(cells)


def typed_numbers(text: str) -> list[str]:
    """Every decimal of ``text`` that no reference word or setting symbol introduces, with its context."""
    for pattern in STRIP:
        text = pattern.sub(" ", text)
    found = []
    for match in DECIMAL.finditer(text):
        before = text[max(0, match.start() - 24):match.start()]
        if not ALLOWED_BEFORE.search(before) and not ALLOWED_AFTER.search(text[match.end():match.end() + 24]):
            found.append(text[max(0, match.start() - 40):match.end() + 20].replace("\n", " "))
    return found


PAGES = sorted((ROOT / "notebooks").glob("*.py")) + sorted((ROOT / "book").glob("*.md"))


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.name)
def test_no_result_is_typed_by_hand_in_prose(path):
    assert typed_numbers(prose_of(path)) == []


def test_the_scan_catches_a_typed_result_and_spares_references():
    assert typed_numbers("EMMA scores 0.733 on IP-noisy samples.") != []
    assert typed_numbers("See eq. 5.11 and thesis §5.8; σ = 0.5 in training; {glue:text}`x:.3f` is glued.") == []
