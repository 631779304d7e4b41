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
