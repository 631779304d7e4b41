"""The quick-profile book in a real browser, read offline.

Headless Chromium (Debian's package ``chromium``, driven by Playwright) opens every page of the
book that tests/test_pipeline.py builds (once per test run) from ``file://``, with every request
that would leave the machine refused. On each page: MathJax has typeset the math and left no raw
TeX, every image has loaded, no JavaScript error was logged, nothing was fetched from the network
and every internal link resolves. A screenshot of each page lands in ``_build/screenshots/``.

Without Chromium the tests skip, saying so, except in CI (``CI`` set), where they fail. Set
``CHROMIUM`` to use another Chromium executable.
"""
from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import yaml

import test_pipeline
from test_pipeline import ROOT

pytestmark = pytest.mark.slow

SCREENSHOTS = ROOT / "_build" / "screenshots"
# Raw TeX in the text a reader sees: \( \) \[ \] $$, an environment, or $...\command...$.
RAW_TEX = re.compile(r"\\\(|\\\)|\\\[|\\\]|\$\$|\\begin\{|\\end\{|\$[^$\n]*\\[A-Za-z]+[^$\n]*\$")


def _book_pages() -> list[str]:
    """Every page of the book, from the table of contents, then Sphinx's index and search pages."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"], *test_pipeline._toc_files(toc)]
    return [f"{name}.html" for name in files] + ["genindex.html", "search.html"]


PAGES = _book_pages()


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


COLLECT = """async () => {
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

        def offline(route):
            if route.request.url.startswith(("file:", "data:", "blob:")):
                route.continue_()
            else:
                network.append(route.request.url)
                route.abort("internetdisconnected")

        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.route("**/*", offline)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(f"uncaught {error}"))
        page.on("console", lambda message: errors.append(f"console.error: {message.text}") if message.type == "error" else None)
        page.goto((site / page_name).as_uri(), wait_until="load")
        page.evaluate("() => document.querySelectorAll('img[loading=lazy]').forEach((image) => { image.loading = 'eager'; })")
        page.wait_for_function("() => Array.from(document.images).every((image) => image.complete)", timeout=30_000)
        seen = page.evaluate(COLLECT)
        page.screenshot(path=SCREENSHOTS / (page_name.removesuffix(".html").replace("/", "__") + ".png"), full_page=True)
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
