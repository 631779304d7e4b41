"""The quick-profile book in a real browser, read offline.

Headless Chromium (Debian's package ``chromium``, driven by Playwright) opens every page of the
book that tests/test_pipeline.py builds (once per test run) from ``file://``, with every request
that would leave the machine refused, at 1400 px. On each page: MathJax has typeset the math and
left no raw TeX, every image has loaded, no JavaScript error was logged, nothing was fetched from
the network, every internal link resolves, no table or figure is wider than its column, no table
cell is truncated, no NaN or bare repr shows, every image is a captioned figure with alt text,
every equation shows its number once and every chapter is cited by a link. A screenshot of each page lands in ``_build/screenshots/``:
a by-product, never the assertion. A capture that fails (Chromium on a loaded machine: ``Unable to
capture screenshot``) is tried once more, then reported as a :class:`ScreenshotWarning`; the page's
checks decide its tests.

Without Chromium the tests skip, saying so, except in CI (``CI`` set), where they fail. Set
``CHROMIUM`` to use another Chromium executable.
"""
from __future__ import annotations

import os
import re
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import test_pipeline
import yaml
from test_pipeline import ROOT

from emma_book.pdf import offline_route

pytestmark = pytest.mark.slow

SCREENSHOTS = ROOT / "_build" / "screenshots"
#: Pages taller than this (px) are screenshot one screen only: a full-page capture of them runs past its timeout.
MAX_SCREENSHOT_HEIGHT = 40_000
# Raw TeX in the text a reader sees: \( \) \[ \] $$, an environment, or $...\command...$.
RAW_TEX = re.compile(r"\\\(|\\\)|\\\[|\\\]|\$\$|\\begin\{|\\end\{|\$[^$\n]*\\[A-Za-z]+[^$\n]*\$")


def _book_pages() -> list[str]:
    """Every page of the book, from the table of contents, then Sphinx's index and search pages."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"], *test_pipeline._toc_files(toc)]
    return [f"{name}.html" for name in files] + ["genindex.html", "search.html"]


PAGES = _book_pages()


class ScreenshotWarning(UserWarning):
    """A page's screenshot could not be taken, twice; the page's checks still ran."""


def screenshot(page, path: Path, *, full_page: bool, tries: int = 2) -> bool:
    """Save a screenshot of ``page`` to ``path``, trying ``tries`` times; whether one was saved.

    A screenshot is a by-product of a visit: any failure to take it (Playwright's ``Page.captureScreenshot:
    Unable to capture screenshot``, a timeout) is retried, then reported as a :class:`ScreenshotWarning`
    naming the file and the error, never raised.
    """
    if not isinstance(tries, int) or tries < 1:
        raise ValueError(f"tries must be an int >= 1, got {tries!r}")
    for attempt in range(1, tries + 1):
        try:
            page.screenshot(path=path, full_page=full_page)
            return True
        except Exception as error:  # noqa: BLE001 - any failure of the capture: the page's checks are the assertion
            last = error
    warnings.warn(f"no screenshot {Path(path).name} after {tries} tries: {type(last).__name__}: {str(last).splitlines()[0] if str(last) else ''}",
                  ScreenshotWarning, stacklevel=2)
    return False


def test_a_failed_screenshot_is_retried_once_then_a_warning_not_a_failure(tmp_path):
    class Page:
        def __init__(self, failures: int):
            self.failures, self.calls = failures, []

        def screenshot(self, path, full_page):
            self.calls.append((path, full_page))
            if len(self.calls) <= self.failures:
                raise RuntimeError("Page.captureScreenshot: Unable to capture screenshot\nCall log: ...")
            Path(path).write_bytes(b"png")

    once = Page(failures=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a success on the second try warns of nothing
        assert screenshot(once, tmp_path / "a.png", full_page=True) is True
    assert once.calls == [(tmp_path / "a.png", True)] * 2 and (tmp_path / "a.png").read_bytes() == b"png"
    twice = Page(failures=5)
    with pytest.warns(ScreenshotWarning, match=r"no screenshot b\.png after 2 tries: RuntimeError: Page\.captureScreenshot: Unable to capture screenshot$"):
        assert screenshot(twice, tmp_path / "b.png", full_page=False) is False
    assert len(twice.calls) == 2 and not (tmp_path / "b.png").exists()


def _chromium() -> str | None:
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser"):
        path = shutil.which(name) if name else None
        if path:
            return path
    return None


@pytest.fixture(scope="module")
def browser():
    executable = _chromium()
    if executable is None:
        reason = "Chromium is not installed (Debian: apt-get install chromium; or set CHROMIUM=/path/to/chromium)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}: CI runs the browser tests, so .ci/run must install it")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def site(built_book) -> Path:
    root, code = built_book
    if code != 0:
        pytest.fail("the quick-profile book did not build (see test_book_builds_without_warnings_and_shows_every_chapter)")
    return root / "_build" / "html"


@pytest.fixture(scope="session")
def built_book(tmp_path_factory):
    return test_pipeline.built_quick_book(tmp_path_factory)  # the build tests/test_pipeline.py checks


@dataclass
class Visit:
    """What a reader's browser met on one page."""

    errors: list[str]  # uncaught exceptions and console errors
    network: list[str]  # requests that would have left the machine (all refused)
    math: int  # elements Sphinx marked as math (class "math")
    typeset: int  # ... of which MathJax rendered (an mjx-container inside)
    math_errors: list[str]  # "TeX -> MathJax's error" for each formula MathJax could not parse
    text: str  # the text a reader sees, without code, scripts and rendered math
    images: list[dict]
    links: list[str]  # every link's absolute URL
    ids: set[str]
    overflowing: list[str]  # the start of each code block or printed output whose lines overflow its box
    wide: list[str]  # tables and figures wider than the page's column
    truncated: list[str]  # table cells that pandas cut to "…"
    uncaptioned: list[str]  # images of the page's article outside a captioned figure, or with no alt text or a hash for one
    numbers: list[str]  # display equations that show more than one number
    unnumbered: list[str]  # tables of the page's article without a numbered caption ("Table 6.2 ...")


WIDE_AT = """() => {
    const article = document.querySelector("article.bd-article") || document.querySelector("main");
    if (!article) return [];
    const column = article.getBoundingClientRect().width;
    return Array.from(article.querySelectorAll("table, img, figure"))
        .filter((element) => element.getBoundingClientRect().width > column + 1)
        .map((element) => `${element.tagName.toLowerCase()}: ${(element.getAttribute("alt") || element.textContent || "").trim().slice(0, 60)}`);
}"""

COLLECT = """async () => {
    const WIDE_AT = """ + WIDE_AT + """;
    if (window.MathJax && window.MathJax.startup && window.MathJax.startup.promise) {
        await window.MathJax.startup.promise;
    }
    const hidden = (node) => node.closest("pre, code, script, style, .highlight, mjx-container, noscript");
    const texts = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
        if (!hidden(walker.currentNode.parentElement)) texts.push(walker.currentNode.nodeValue);
    }
    const math = Array.from(document.querySelectorAll(".math"));
    return {
        math: math.length,
        typeset: math.filter((element) => element.querySelector("mjx-container")).length,
        math_errors: window.MathJax && window.MathJax.startup && window.MathJax.startup.document
            ? Array.from(window.MathJax.startup.document.math)
                .filter((item) => item.typesetRoot && item.typesetRoot.querySelector("mjx-merror"))
                .map((item) => `${item.math} -> ${item.typesetRoot.querySelector("mjx-merror").getAttribute("data-mjx-error")}`)
            : [],
        text: texts.join(" "),
        images: Array.from(document.images).map((image) => (
            {src: image.getAttribute("src"), complete: image.complete, width: image.naturalWidth})),
        links: Array.from(document.querySelectorAll("a[href]")).map((link) => link.href),
        ids: Array.from(document.querySelectorAll("[id]")).map((element) => element.id),
        overflowing: Array.from(document.querySelectorAll("div.cell_input pre, div.cell_output div.output pre"))
            .filter((block) => block.scrollWidth > block.clientWidth + 1)
            .map((block) => block.textContent.slice(0, 60)),
        wide: (WIDE_AT)(),
        truncated: Array.from(document.querySelectorAll("article td, article th"))
            .filter((cell) => ["...", "…"].includes(cell.textContent.trim())).map((cell) => cell.closest("table").textContent.trim().slice(0, 60)),
        uncaptioned: Array.from(document.querySelectorAll("article.bd-article img"))
            .filter((image) => !image.closest("figure") || !image.closest("figure").querySelector("figcaption")
                || !(image.getAttribute("alt") || "").trim() || /^[0-9a-f]{16,}$/i.test((image.getAttribute("alt") || "").trim()))
            .map((image) => `${image.getAttribute("src")} (alt: ${image.getAttribute("alt")})`),
        unnumbered: Array.from(document.querySelectorAll("article.bd-article table:not(.autosummary):not(.indextable)"))
            .filter((table) => !(table.querySelector(":scope > caption .caption-number") && table.querySelector(":scope > caption .caption-text")))
            .map((table) => table.textContent.trim().replace(/\\s+/g, " ").slice(0, 60)),
        numbers: Array.from(document.querySelectorAll("div.math"))
            .filter((element) => element.querySelectorAll("span.eqno").length + element.querySelectorAll("mjx-labels").length > 1)
            .map((element) => element.textContent.trim().slice(0, 60)),
    };
}"""


@pytest.fixture(scope="module")
def visit(browser, site):
    """``visit(page)``: open the page once, offline, screenshot it, and return what was met there."""
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)
    visits: dict[str, Visit] = {}

    def open_page(page_name: str) -> Visit:
        if page_name in visits:
            return visits[page_name]
        errors, network = [], []
        context = browser.new_context(viewport={"width": 1400, "height": 900})  # the width the book is checked at
        context.route("**/*", offline_route(network))
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(f"uncaught {error}"))
        page.on("console", lambda message: errors.append(f"console.error: {message.text}") if message.type == "error" else None)
        page.goto((site / page_name).as_uri(), wait_until="load")
        page.evaluate("() => document.querySelectorAll('img[loading=lazy]').forEach((image) => { image.loading = 'eager'; })")
        page.wait_for_function("() => Array.from(document.images).every((image) => image.complete)", timeout=30_000)
        seen = page.evaluate(COLLECT)
        # the whole page, unless it is longer than a screenshot can hold in time (the API reference): its first screen then
        whole = page.evaluate("() => document.documentElement.scrollHeight") <= MAX_SCREENSHOT_HEIGHT
        screenshot(page, SCREENSHOTS / (page_name.removesuffix(".html").replace("/", "__") + ".png"), full_page=whole)  # never the assertion
        context.close()
        visits[page_name] = Visit(errors=errors, network=network, **{**seen, "ids": set(seen["ids"])})
        return visits[page_name]

    return open_page


def test_every_page_of_the_site_is_checked(site):
    built = {p.relative_to(site).as_posix() for p in site.rglob("*.html") if p.relative_to(site).parts[0] not in ("_static", "_sources")}
    assert built - {"index.html"} == set(PAGES)


def test_the_site_root_redirects_to_the_first_page(browser, site):
    context = browser.new_context()
    page = context.new_page()
    page.goto((site / "index.html").as_uri())
    page.wait_for_url(f"**/{PAGES[0]}", timeout=10_000)
    context.close()


@pytest.mark.parametrize("page", PAGES)
def test_math_is_typeset_by_mathjax_and_no_raw_tex_is_left(visit, page):
    seen = visit(page)
    assert seen.typeset == seen.math, f"{seen.math - seen.typeset} of {seen.math} math elements not typeset"
    assert seen.math_errors == [], "formulas MathJax could not parse"
    assert not RAW_TEX.findall(seen.text), f"raw TeX on the page: {RAW_TEX.findall(seen.text)[:5]}"


def test_the_book_has_math_for_mathjax(visit):
    assert sum(visit(page).typeset for page in PAGES) > 0


@pytest.mark.parametrize("page", PAGES)
def test_every_image_has_loaded(visit, page):
    broken = [image["src"] for image in visit(page).images if not (image["complete"] and image["width"] > 0)]
    assert not broken, f"images that did not load: {broken}"


@pytest.mark.parametrize("page", PAGES)
def test_no_code_line_overflows_its_box(visit, page):
    assert not visit(page).overflowing, f"code blocks or outputs wider than their box: {visit(page).overflowing}"


@pytest.mark.parametrize("page", PAGES)
def test_no_javascript_error(visit, page):
    assert visit(page).errors == []


@pytest.mark.parametrize("page", PAGES)
def test_nothing_is_fetched_from_the_network(visit, page):
    assert visit(page).network == [], "the page needs the network (a CDN?) to render"


def _ids_in(path: Path, cache: dict[Path, set[str]] = {}) -> set[str]:  # noqa: B006 - a cache on purpose
    if path not in cache:
        cache[path] = set(re.findall(r'\bid="([^"]+)"', path.read_text(errors="replace")))
    return cache[path]


@pytest.mark.parametrize("page", PAGES)
def test_every_internal_link_resolves(visit, site, page):
    seen = visit(page)
    here = (site / page).resolve()
    broken = []
    for href in seen.links:
        url = urlsplit(href)
        if url.scheme != "file":
            continue  # the web (launch buttons, references): Sphinx's link check, run weekly
        target = Path(unquote(url.path)).resolve()
        if target.is_dir():
            target = target / "index.html"
        if site.resolve() not in target.parents or not target.exists():
            broken.append(href)
        elif url.fragment and target.suffix == ".html":
            ids = seen.ids if target == here else _ids_in(target)
            if unquote(url.fragment) not in ids:
                broken.append(href)
    assert not broken, f"links to nothing: {broken}"


@pytest.mark.parametrize("page", PAGES)
def test_no_table_or_figure_is_wider_than_its_column(visit, page):
    assert not visit(page).wide, f"wider than the page's column at 1400 px: {visit(page).wide}"





def test_no_table_or_figure_is_wider_than_its_column_on_a_narrow_screen(browser, site):
    context = browser.new_context(viewport={"width": 800, "height": 900})
    context.route("**/*", offline_route([]))
    page = context.new_page()
    wide = {}
    for name in PAGES:
        page.goto((site / name).as_uri(), wait_until="load")
        found = page.evaluate(WIDE_AT)
        if found:
            wide[name] = found
    context.close()
    assert not wide, f"wider than the page's column at 800 px: {wide}"


@pytest.mark.parametrize("page", PAGES)
def test_no_table_cell_is_truncated(visit, page):
    assert not visit(page).truncated, f"tables with cells cut to '…': {visit(page).truncated}"


# What a reader must never see: a missing value as NaN, a path object, an object's address.
BARE_REPRS = re.compile(r"\bNaN\b|PosixPath\(|<[\w.]+ object at 0x[0-9a-f]+>")


@pytest.mark.parametrize("page", PAGES)
def test_no_nan_or_bare_repr_is_shown(visit, page):
    assert not BARE_REPRS.findall(visit(page).text), f"shown to the reader: {BARE_REPRS.findall(visit(page).text)[:5]}"


@pytest.mark.parametrize("page", PAGES)
def test_every_image_is_a_captioned_figure_with_alt_text(visit, page):
    assert not visit(page).uncaptioned, f"images without a caption or a describing alt text: {visit(page).uncaptioned}"


@pytest.mark.parametrize("page", PAGES)
def test_every_table_has_a_numbered_caption(visit, page):
    """Like a figure, a table carries a number and a caption, and the prose cites it by that number
    (``emma.util.display.show(..., caption=...)``, or a ``{table}`` directive in a page). The API
    reference's summary tables (Sphinx's autosummary) and the general index's layout are indexes, not
    results, and are left out."""
    assert not visit(page).unnumbered, f"tables without a numbered caption: {visit(page).unnumbered}"


@pytest.mark.parametrize("page", PAGES)
def test_each_equation_shows_its_number_once(visit, page):
    assert not visit(page).numbers, f"equations numbered twice: {visit(page).numbers}"


# A chapter cited by its quoted title instead of a link.
QUOTED_CHAPTER = re.compile(r"\b[Cc]hapters? [\"“][^\"”]+[\"”]")


@pytest.mark.parametrize("page", PAGES)
def test_every_chapter_reference_is_a_link(visit, page):
    assert not QUOTED_CHAPTER.findall(visit(page).text), f"chapters cited by quoted title: {QUOTED_CHAPTER.findall(visit(page).text)[:5]}"


# The project's private notes, which a reader of the published book cannot open.
PRIVATE_NOTES = re.compile(r"shared/|thesis-notes|notes item", re.IGNORECASE)


@pytest.mark.parametrize("page", PAGES)
def test_no_page_cites_the_private_notes(visit, page):
    assert not PRIVATE_NOTES.findall(visit(page).text), f"cites notes a reader cannot open: {PRIVATE_NOTES.findall(visit(page).text)[:5]}"
