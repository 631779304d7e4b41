"""The PDF edition (emma_book/pdf.py): the quick-profile book printed to one PDF by headless Chromium.

The book that tests/test_pipeline.py executes (once per test run) is built here with
``pdf.edition(...)``, as ``make pdf`` does, into a root of its own (the HTML the browser
tests open is left alone). The PDF is read back with pypdf: a page at least per chapter, every
chapter's title in its text, one bookmark per chapter in the book's order, bookmarks in plain
text, page numbers, no API reference and fewer than 300 pages, every figure's caption beside its
image; and the site built beside it offers the PDF from every page. The print rules of
book/_static/emma.css (a table row never split, a figure with its caption) and the bookmarks'
plain text are also checked on small pages printed by the same Chromium. Without Chromium the
slow tests skip, saying so, except in CI (``CI`` set), where they fail, as the browser tests do.
"""
from __future__ import annotations

import os
import re
import shutil
import unicodedata
from pathlib import Path

import jupytext
import pytest
import test_pipeline
from test_pipeline import ROOT

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


# --- the API reference, left out --------------------------------------------------------------

SINGLE_PAGE = """<html><head><title>t</title></head><body><div id="jb-print-toc"></div><article class="bd-article">
<section id="intro"><h1>Intro</h1><p>Calls <a class="reference internal" href="book/intro.html#emma.x.run" title="emma.x.run"><code>emma.x.run</code></a>;
the reference is <a class="reference internal" href="#document-book/api">the appendix</a>;
see <a class="reference internal" href="#chapter">the chapter</a>.</p>
<span id="document-book/chapter"></span><section id="chapter"><h2>A chapter</h2><p>Text.</p></section>
<span id="document-book/api"></span><section id="api-reference"><h2>API reference</h2><p>Overview.</p>
<div class="toctree-wrapper"><span id="document-book/api/x"></span><section id="module-emma.x"><h3>emma.x</h3>
<section id="module-emma.x.y"><h4>emma.x.y</h4><dl><dt id="emma.x.run">run()</dt></dl></section></section></div></section>
<span id="document-book/references"></span><section id="references"><h2>References</h2><p>Books.</p></section>
</section></article></body></html>"""
SINGLE_TOC = {"root": "book/intro", "parts": [
    {"caption": "Chapters", "chapters": [{"file": "book/chapter"}]},
    {"caption": "Appendices", "chapters": [{"file": "book/api", "sections": [{"file": "book/api/x"}]}, {"file": "book/references"}]},
]}


@pytest.fixture
def single_page(tmp_path) -> Path:
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "intro.html").write_text(SINGLE_PAGE)
    return tmp_path


def test_the_printable_page_leaves_the_api_reference_out_and_links_it_online(single_page):
    text = pdf.printable_page(single_page, SINGLE_TOC, online="https://owner.github.io/book/").read_text()
    assert "document-book/api" not in re.sub(r'href="[^"]*"', "", text) and 'id="emma.x.run"' not in text and "Overview." not in text
    assert '<h1>A chapter</h1>' in text and '<h1>References</h1>' in text and "Books." in text, "the pages around it stay"
    assert 'href="https://owner.github.io/book/book/api/x.html#emma.x.run"' in text, "a name links to its entry online"
    assert 'href="https://owner.github.io/book/book/api.html">the appendix</a>' in text
    assert 'href="#chapter"' in text, "a link inside the PDF stays one"
    contents = re.search(r'<nav id="emma-contents">.*?</nav>', text, flags=re.DOTALL)[0]
    assert re.search(r"API reference: not in the PDF; online at <a href=\"https://owner.github.io/book/book/api.html\">", contents)
    assert contents.index("A chapter") < contents.index("API reference") < contents.index("References")


def test_without_an_address_online_a_link_to_the_api_reference_is_plain_text(single_page):
    text = pdf.printable_page(single_page, SINGLE_TOC, online=None).read_text()
    assert "<code>emma.x.run</code>;" in text and "emma.x.run</a>" not in text
    assert "API reference: not in the PDF; in the HTML edition, at book/api.html" in text
    kept = pdf.printable_page(single_page, SINGLE_TOC, left_out=None).read_text()
    assert 'id="emma.x.run"' in kept, "left_out=None prints every page"


def test_the_api_reference_is_online_where_the_pages_workflow_publishes_the_site(tmp_path):
    (tmp_path / "_config.yml").write_text('repository:\n  url: "https://github.com/Some-Owner/the-book"\n')
    assert pdf.online_address(tmp_path) == "https://some-owner.github.io/the-book/"
    (tmp_path / "_config.yml").write_text('repository:\n  url: "https://gitlab.com/owner/book"\n')
    assert pdf.online_address(tmp_path) is None
    assert pdf.online_address(ROOT).endswith(".github.io/emma-book/"), "the book's own _config.yml names a GitHub repository"


@pytest.mark.parametrize(("heading", "title"), [
    (r"Check 6: the derivative with respect to \gamma_{ij}", "Check 6: the derivative with respect to gamma_ij"),
    (r"Robustness for $M > 2$", "Robustness for M > 2"),
    ("Ψ as noise grows", "Ψ as noise grows"),
    ("  spread \n over lines ", "spread over lines"),
])
def test_a_bookmark_title_is_plain_text(heading, title):
    assert pdf.plain_title(heading) == title


def test_a_bookmark_title_must_be_text():
    with pytest.raises(TypeError, match="text must be a str, got NoneType"):
        pdf.plain_title(None)


@SLOW
def test_the_page_printed_holds_no_api_reference_and_says_where_it_is(edition):
    page = (edition / "_build" / "singlehtml" / pdf.PAGE).read_text()
    assert 'id="document-book/api"' not in page and not re.search(r'\bid="module-emma', page)
    assert re.search(r"API reference: not in the PDF; online at <a href=\"https://[^\"]+/book/api\.html\">", page)


@SLOW
def test_the_pdf_without_the_api_reference_is_under_300_pages(reader):
    assert len(reader.pages) < 300
    text = _squash("".join(page.extract_text() for page in reader.pages))
    assert "Exportedhere,documentedintheirmodule" not in text, "an API page was printed"


@SLOW
def test_every_bookmark_is_plain_text(reader):
    titles = []

    def walk(items):
        for item in items:
            if isinstance(item, list):
                walk(item)
            else:
                titles.append(item.title)

    walk(reader.outline)
    assert len(titles) > len(book.chapters())
    assert not [title for title in titles if "\\" in title or "$" in title], "a bookmark holds TeX"


@SLOW
def _caption_openings() -> list[str]:
    """The opening of every figure caption of the chapters (their cells' ``mystnb`` metadata), squashed;
    those that open with markup (math, emphasis) are left out, as the PDF's text does not show it as written."""
    openings = []
    for chapter in book.chapters():
        for cell in jupytext.read(chapter.source).cells:
            caption = cell.metadata.get("mystnb", {}).get("figure", {}).get("caption", "")
            if caption and caption[0].isalnum():
                openings.append(_squash(re.split(r"[$*`{]", caption)[0])[:20])
    return [opening for opening in openings if len(opening) >= 8]


def test_every_figure_caption_is_on_a_page_with_its_image(reader):
    """A page holding a figure's caption ("Fig. 6.2" then the caption's opening words) holds an image;
    a figure cited in the prose ("Fig. 6.2 shows ...") is no caption."""
    caption = re.compile(r"Fig\.\d+\.\d+(?:" + "|".join(re.escape(opening) for opening in set(_caption_openings())) + ")")
    pages = [(_squash(page.extract_text()), len(page.images)) for page in reader.pages]
    captions = [(number, len(caption.findall(text)), images) for number, (text, images) in enumerate(pages, start=1)]
    assert sum(found for _, found, _ in captions) > 0, "no figure caption found in the PDF's text"
    alone = [number for number, found, images in captions if found > images]
    assert not alone, f"pages with more figure captions than images (a caption apart from its figure): {alone}"


# --- the print rules of book/_static/emma.css, on small pages -----------------------------------


def _png(width: int, height: int) -> str:
    """A grey PNG of that size, as a data: URL (written by hand: zlib and the PNG chunks)."""
    import base64
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x88" * width for _ in range(height))
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    return "data:image/png;base64," + base64.b64encode(png).decode()


@pytest.fixture(scope="module")
def small_browser():
    """The Chromium the PDF edition is printed with, for small pages."""
    try:
        executable = pdf.chromium()
    except pdf.PdfError as missing:
        if os.environ.get("CI"):
            pytest.fail(f"{missing}: CI builds the PDF edition, so .ci/run must install Chromium")
        pytest.skip(str(missing))
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable)
        yield browser
        browser.close()


@pytest.fixture
def print_small_page(small_browser, tmp_path):
    """``print_small_page(body)``: the HTML ``body`` with the book's stylesheet, printed as the PDF edition is; its pypdf reader."""
    pypdf = pytest.importorskip("pypdf")
    stylesheet = (ROOT / "book" / "_static" / "emma.css").as_uri()

    def print_page(body: str):
        source, output = tmp_path / "page.html", tmp_path / "page.pdf"
        source.write_text(f'<html><head><link rel="stylesheet" href="{stylesheet}"></head><body>{body}</body></html>')
        refused: list[str] = []
        tab = small_browser.new_page(viewport={"width": pdf.TEXT_WIDTH_PX, "height": 1000})
        tab.route("**/*", pdf.offline_route(refused))
        tab.goto(source.as_uri(), wait_until="load")
        tab.emulate_media(media="print")
        tab.pdf(path=output, format="A4", margin=pdf.MARGIN, print_background=True)
        tab.close()
        assert not refused
        return pypdf.PdfReader(output)

    return print_page


@SLOW
def test_a_table_row_is_never_split_across_pages(print_small_page):
    lines = "<br>".join(f"line {i} of a cell that holds several lines" for i in range(8))
    rows = "".join(f"<tr><th>row {n}</th><td>first-{n}<br>{lines}<br>last-{n}</td></tr>" for n in range(40))
    reader = print_small_page(f"<table><thead><tr><th>name</th><th>text</th></tr></thead><tbody>{rows}</tbody></table>")
    assert len(reader.pages) > 3, "the table should run over several pages"
    for number, page in enumerate(reader.pages, start=1):
        text = page.extract_text()
        firsts, lasts = set(re.findall(r"first-(\d+)", text)), set(re.findall(r"last-(\d+)", text))
        assert firsts == lasts, f"page {number}: rows split across pages: {sorted(firsts ^ lasts)}"


@SLOW
@pytest.mark.parametrize("height", [400, 1000, 1600])  # fits a page, not the rest of one; fits with no caption; taller than a page
def test_a_figure_stays_with_its_caption(print_small_page, height):
    filler = "".join(f"<p>Paragraph {i} of the text before the figure, long enough to fill most of a page.</p>" for i in range(22))
    figure = (f'<figure><img alt="a figure" src="{_png(600, height)}" style="max-width: 100%; height: auto">'
              '<figcaption><p>Fig. 1.1 The caption of the figure, which must be printed on the page of its image.</p></figcaption></figure>')
    reader = print_small_page(filler + figure + "<p>The text after it.</p>")
    holding = [number for number, page in enumerate(reader.pages) if "The caption of the figure" in page.extract_text()]
    assert len(holding) == 1 and len(reader.pages[holding[0]].images) == 1, "the caption is not on its image's page"
    assert sum(len(page.images) for page in reader.pages) == 1, "the image is cut across pages"


@SLOW
def test_a_formula_in_a_heading_is_a_bookmark_in_plain_text(small_browser, tmp_path):
    """The bookmarks' text (pdf.HEADINGS) writes a formula from MathJax's MathML, not its TeX."""
    mathjax = book._mathjax_distribution() / "es5" / book.MATHJAX_ENTRY
    page = tmp_path / "headings.html"
    page.write_text(f'<html><head><script src="{mathjax.as_uri()}" defer></script></head><body>'
                    r"<h1>Robustness for \(M > 2\)</h1><h2>The derivative in \(\gamma_{ij}\)</h2>"
                    r"<h2>A ratio \(\frac{a}{b}\) and \(x^2\)</h2></body></html>")
    tab = small_browser.new_page()
    try:
        tab.route("**/*", pdf.offline_route([]))
        tab.goto(page.as_uri(), wait_until="load")
        tab.wait_for_function("() => window.MathJax && window.MathJax.startup && window.MathJax.startup.promise")
        tab.evaluate("() => window.MathJax.startup.promise")
        headings = tab.evaluate(pdf.HEADINGS)
    finally:
        tab.close()
    assert headings == ["Robustness for M > 2", "The derivative in γ_ij", "A ratio a/b and x^2"]
