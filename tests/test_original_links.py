"""Every link to the thesis's repository, and every path of it the book names, exists at the commit the book reads."""
from pathlib import Path

import pytest

from emma.claims.original_repo import COMMIT, MANIFEST, REPOSITORY, check_links, check_location

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("book/*.md", "notebooks/*.py", "emma/**/*.py", "README.md")


def _files():
    return sorted({path for pattern in SCANNED for path in ROOT.glob(pattern) if "__pycache__" not in path.parts})


def test_the_book_links_only_lines_that_exist():
    files = _files()
    assert any(path.name == "original_code.md" for path in files) and len(files) > 20
    problems = [problem for path in files for problem in check_links(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))]
    assert problems == [], "\n".join(problems)


def test_the_links_built_in_code_exist_too():
    from emma.experiments.forensics import CANDIDATES  # links assembled from a prefix, invisible to the scan of the source

    assert check_links(repr(CANDIDATES), "emma.experiments.forensics.CANDIDATES") == []


def _link(path, anchor="", commit=COMMIT):
    return f"{REPOSITORY}/blob/{commit}/{path}{anchor}"


@pytest.mark.parametrize("text, problem", [
    (_link("code/emma/method/autoencoder.py", "#L30"), "code/emma/method/autoencoder.py is not a text file"),
    (_link("code/emma/autoencoder.py", "#L60-L68"), "line 68 is past the end of code/emma/autoencoder.py (67 lines"),
    (_link("code/emma/autoencoder.py", "#L31-L24"), "L31 comes after L24"),
    (_link("code/emma/autoencoder.py", "#L30", commit="0b764a9"), "unknown commit '0b764a9'"),
    ("the module `code/emma/method/autoencoder.py`", "code/emma/method/autoencoder.py is not a text file"),
    ("see report/chapters/7-experiments.tex L428", "line 428 is past the end of report/chapters/7-experiments.tex"),
    ("see code/experiment-3/main.py L500–L490", "L500 comes after L490"),
])
def test_a_wrong_reference_is_reported_with_its_line(text, problem):
    problems = check_links(f"first line\n{text}\n", "page.md")
    assert len(problems) == 1 and problems[0].startswith("page.md:2: ") and problem in problems[0], problems


def test_right_references_pass():
    text = " ".join([_link("code/emma/autoencoder.py", "#L24-L31"), _link("code/emma/autoencoder.py", "#L67"),
                     _link("code/experiment-3/main.py"), f"{REPOSITORY}/blob/{COMMIT}/code", "code/data/data.py L56–68",
                     "report/chapters/5-emma.tex L123", _link("code/emma/emma.py", commit="7302713b9a3f6ba5d04691c1bd03fac7b73f9fda")])
    assert check_links(text, "page.md") == []


def test_the_manifest_holds_the_files_the_book_reads():
    assert all(path.startswith(("code/", "report/")) and isinstance(n, int) and n >= 0 for path, n in MANIFEST.items())
    assert MANIFEST["code/experiment-3/main.py"] == 542 and "code/emma/autoencoder.py" in MANIFEST
    assert not any(path.endswith((".png", ".pdf")) for path in MANIFEST)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="text"):
        check_links(None, "page.md")
    with pytest.raises(ValueError, match="source_name"):
        check_links("text", "")
    with pytest.raises(ValueError, match="first"):
        check_location("code/data/data.py", "12")
