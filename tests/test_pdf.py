"""The PDF edition (emma_book/pdf.py): the quick-profile book printed to one PDF by headless Chromium.

The book that tests/test_pipeline.py executes (once per test run) is built here with
``pdf.edition(...)``, as ``make pdf`` does, into a root of its own (the HTML the browser
tests open is left alone). The PDF is read back with pypdf: a page at least per chapter, every
chapter's title in its text, one bookmark per chapter in the book's order, page numbers; and the
site built beside it offers the PDF from every page. Without Chromium the slow tests skip, saying
so, except in CI (``CI`` set), where they fail, as the browser tests do.
"""
from __future__ import annotations

import os
import re
import shutil
import unicodedata
from pathlib import Path

import pytest
import test_pipeline

from emma_book import build as book
from emma_book import pdf

SLOW = pytest.mark.slow


def _plain(text: str) -> str:
    """Text as the chapter's source writes it: ligatures undone (NFKC), Sphinx's curly quotes straight."""
    return unicodedata.normalize("NFKC", text).translate(str.maketrans("‘’“”", "''\"\""))


def _squash(text: str) -> str:
    """Text compared without its layout: plain (:func:`_plain`), every space and line break dropped."""
    return re.sub(r"\s+", "", _plain(text))


@pytest.fixture(scope="module")
def edition(tmp_path_factory) -> Path:
    """The root of a book built with its PDF edition from the quick-profile chapters."""
    try:
        pdf.chromium()
    except pdf.PdfError as missing:
        if os.environ.get("CI"):
            pytest.fail(f"{missing}: CI builds the PDF edition, so .ci/run must install Chromium")
        pytest.skip(str(missing))
    pytest.importorskip("playwright")
    pytest.importorskip("pypdf")
    quick = test_pipeline.executed_quick_book(tmp_path_factory)
    root = tmp_path_factory.mktemp("pdf-book")
    test_pipeline._copy_book_sources(root)
    for kind in ("tables", "figures"):  # the run's full tables and figures, which the pages link and show
        if (quick / "_build" / kind).is_dir():
            shutil.copytree(quick / "_build" / kind, root / "_build" / kind)
    code = pdf.edition(root, executed=quick / "book" / "chapters")
    assert code == 0, "the strict build with the PDF edition failed: see the Sphinx output above"
    return root


@pytest.fixture(scope="module")
def reader(edition):
    import pypdf

    return pypdf.PdfReader(edition / "_build" / "pdf" / pdf.NAME)


@SLOW
def test_the_pdf_has_a_page_at_least_per_chapter_and_every_chapter_title(reader):
    chapters = book.chapters()
    assert len(reader.pages) >= len(chapters)
    text = _squash("".join(page.extract_text() for page in reader.pages))
    missing = [c.title for c in chapters if _squash(c.title) not in text]
    assert not missing, f"chapter titles not in the PDF's text: {missing}"


@SLOW
def test_the_pdf_has_a_bookmark_per_chapter_in_the_books_order(reader):
    # a numbered chapter's bookmark starts with its number ("1. Attention mechanisms")
    top = [re.sub(r"^\d+(\.\d+)*\.?\s+", "", _plain(item.title)) for item in reader.outline if not isinstance(item, list)]
    titles = [c.title for c in book.select([])]  # the book's order (_toc.yml): extensions before the appendix
    assert [t for t in top if t in titles] == titles, f"top-level bookmarks: {top}"
    pages = [reader.get_destination_page_number(item) for item in reader.outline if not isinstance(item, list)]
    assert pages == sorted(pages), "the bookmarks are not in page order"
    assert any(isinstance(item, list) and item for item in reader.outline), "no chapter has its sections as bookmarks"


@SLOW
def test_every_page_is_numbered(reader):
    total = len(reader.pages)
    for number in (1, total // 2, total):
        assert f"{number} / {total}" in reader.pages[number - 1].extract_text(), f"page {number} has no number"


@SLOW
def test_every_page_of_the_site_offers_the_pdf_edition(edition):
    html = edition / "_build" / "html"
    assert (html / pdf.NAME).read_bytes() == (edition / "_build" / "pdf" / pdf.NAME).read_bytes()
    toc = pdf.table_of_contents(edition)
    for page in [f"{name}.html" for name in (toc["root"], *test_pipeline._toc_files(toc))]:
        target = os.path.relpath(html / pdf.NAME, (html / page).parent)
        assert f'href="{target}"' in (html / page).read_text(), f"{page} does not link {target}"


def test_without_chromium_the_error_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.delenv("CHROMIUM", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(pdf.PdfError, match="Chromium not found.*apt-get install chromium"):
        pdf.chromium()


def test_the_pdf_edition_comes_only_with_the_html_book(capsys):
    from emma_book import cli

    assert cli.main(["build", "--pdf", "--builder", "linkcheck", "--no-run"]) == 1
    assert "PDF edition comes with the HTML book, not with the builder 'linkcheck'" in capsys.readouterr().err
    with pytest.raises(ValueError, match="PDF edition comes with the HTML book"):
        book.build(builder="linkcheck", edition=Path("emma-book.pdf"))
