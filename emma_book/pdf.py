"""The PDF edition: the whole book on one page (Sphinx's ``singlehtml`` builder), printed by headless Chromium.

``emma-book build --pdf`` (``make pdf``) builds the staged book once more with the ``singlehtml``
builder into ``<root>/_build/singlehtml``, makes that page printable (:func:`printable_page`) and
prints it to ``<root>/_build/pdf/emma-book.pdf`` with the Chromium the browser tests use (Debian's
``chromium``, driven by Playwright; :func:`print_pdf`): A4, math typeset by the site's own MathJax,
figures, a page break before each chapter, PDF bookmarks from the headings and page numbers in the
footer; pypdf then gives the bookmarks the headings' own text, as plain text (:func:`retitle_outline`,
:func:`plain_title`). Nothing is fetched from the network. The HTML book built next offers the PDF
in every page's download menu (:func:`edition`).

The API reference (the appendix ``book/api`` and its pages, :mod:`emma_book.api`) is left out:
hundreds of pages of signatures are read on the site, not on paper. The PDF's contents say where
it is online (:func:`online_address`), and a name in the text that links to its entry links to
the entry online.

This route needs no TeX: jupyter-book's ``pdflatex`` needs TeX Live (hundreds of MB of packages)
and its ``pdfhtml`` downloads its own Chromium through pyppeteer, which an offline machine cannot.
"""
from __future__ import annotations

import html
import logging
import os
import re
import shutil
from pathlib import Path

import yaml

from emma_book import build as book
from emma_book import layout

NAME = book.PDF_EDITION  # emma-book.pdf: in <root>/_build/pdf/ and at the root of the HTML site
PAGE = "emma-book.html"  # the printable single page, beside the singlehtml build's own
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
TIMEOUT_MS = 180_000  # loading the page, typesetting its math, loading its images: each at most this
LEFT_OUT = "book/api"  # the page of _toc.yml the PDF leaves out, with its sections: the API reference

# Page numbers at the foot of every page (Chromium fills the spans pageNumber and totalPages).
FOOTER = (
    '<div style="width: 100%; font-size: 8px; color: #555; text-align: center; font-family: sans-serif;">'
    '<span class="pageNumber"></span> / <span class="totalPages"></span></div>'
)
HEADER = "<span></span>"  # no header (Chromium's default prints the date and the title)

# The PDF edition's own print rules, on top of book/_static/emma.css's @media print (which any
# printed page of the site gets): the title page with the contents, each page of the book on a
# new sheet, chapter titles shown (sphinx-book-theme hides a page's first h1 in print, as the
# print title block repeats it; here only the first page's is repeated), and the text as wide as
# the page's (the theme's print rules indent it by 2rem and pad the article by 2rem a side). The
# text is set at 14 CSS px, 10.5 pt, a book's size (the screen's 16 px print as 12 pt).
PRINT_CSS = """
html { font-size: 14px !important; }
#jb-print-docs-body { break-after: page; }
#emma-contents h2 { font-size: 1.4em; margin-top: 1em; }
#emma-contents p.caption { font-weight: bold; margin: 0.8em 0 0.2em; }
#emma-contents ul { list-style: none; padding-left: 1.5em; margin: 0; }
#emma-contents a { text-decoration: none; }
.emma-table details > summary, .emma-download { display: none; }  /* unfolded; the CSV's link is the site's */
span[id^="document-"] + section { break-before: page; }
.bd-main .bd-content .bd-article span[id^="document-"] + section > h1 { display: block !important; margin-top: 0; }
.bd-main .bd-content .bd-article h1 { font-size: 2em; }
.bd-main .bd-content .bd-article h2 { font-size: 1.5em; }
.bd-main .bd-content .bd-article h3 { font-size: 1.25em; }
.bd-main .bd-content .bd-article h4 { font-size: 1.1em; }
.bd-main .bd-content { margin-left: 0; }
.bd-main .bd-content .bd-article-container .bd-article { padding-left: 0; padding-right: 0; }
"""
# The page is laid out at the width of the printed text (A4 less the side margins), in print media.
MARGIN = {"top": "18mm", "bottom": "18mm", "left": "15mm", "right": "15mm"}
TEXT_WIDTH_PX = round((210 - 15 - 15) / 25.4 * 96)

# A table still wider than the text once its columns have wrapped is scaled down to fit it (CSS
# zoom), rather than cut at the page's edge or shrinking the whole book. Returns how many were.
FIT_TABLES = """() => {
    const article = document.querySelector("article.bd-article");
    const right = article.getBoundingClientRect().right;
    let fitted = 0;
    for (const table of article.querySelectorAll("table")) {
        const box = table.getBoundingClientRect();
        if (box.width > 0 && box.right > right + 1) {
            table.style.zoom = Math.max(0.4, (right - box.left) / box.width).toFixed(3);
            fitted += 1;
        }
    }
    return fitted;
}"""

# Resolves when the page is ready to print: every fold is open (paper cannot unfold a long table;
# the folded code is left out by the print stylesheet), MathJax has typeset every formula, the
# fonts and every image have loaded (the theme loads images lazily: they are made eager first).
READY = """async () => {
    document.querySelectorAll("details").forEach((fold) => { fold.open = true; });
    document.querySelectorAll("img[loading=lazy]").forEach((image) => { image.loading = "eager"; });
    if (!window.MathJax || !window.MathJax.startup || !window.MathJax.startup.promise) {
        throw new Error("MathJax did not load: the page has no window.MathJax.startup.promise");
    }
    await window.MathJax.startup.promise;
    await Promise.all(Array.from(document.images).map((image) => image.complete ? null
        : new Promise((done) => { image.addEventListener("load", done); image.addEventListener("error", done); })));
    await document.fonts.ready;
    return {
        math: document.querySelectorAll(".math").length,
        typeset: document.querySelectorAll(".math mjx-container").length,
        broken: Array.from(document.images).filter((image) => !image.naturalWidth).map((image) => image.getAttribute("src")),
    };
}"""


# The text of every heading the printed page shows, in order: what Chromium's outline holds, one
# bookmark per heading. A formula in a heading is written as plain text, from the MathML that
# MathJax made of it (γ_ij for $\gamma_{ij}$, M > 2 for $M > 2$), never as its TeX source.
HEADINGS = """() => {
    const startup = window.MathJax && window.MathJax.startup;
    const items = startup && startup.document ? Array.from(startup.document.math) : [];
    const mathml = new Map(items.map((item) => [item.typesetRoot, startup.toMML ? startup.toMML(item.root) : ""]));
    const SPACED = /^[=<>≤≥≠≈∼∝∈∉⊂⊆→←↦+−±×·]$/;
    const plain = (node) => {
        const kids = Array.from(node.children || []);
        const all = () => Array.from(node.childNodes).map((child) => child.nodeType === Node.TEXT_NODE ? child.nodeValue : plain(child)).join("");
        switch (node.localName) {
            case "annotation": case "annotation-xml": return "";
            case "msub": return `${plain(kids[0])}_${plain(kids[1])}`;
            case "msup": return `${plain(kids[0])}^${plain(kids[1])}`;
            case "msubsup": return `${plain(kids[0])}_${plain(kids[1])}^${plain(kids[2])}`;
            case "mfrac": return `${plain(kids[0])}/${plain(kids[1])}`;
            case "msqrt": return `√(${all()})`;
            case "mo": { const t = node.textContent.trim(); return SPACED.test(t) ? ` ${t} ` : t; }
            default: return kids.length ? kids.map(plain).join("") : node.textContent;
        }
    };
    const formula = (container) => {
        const source = mathml.get(container);
        if (!source) return "";
        const parsed = new DOMParser().parseFromString(source, "application/xml").documentElement;
        return parsed.localName === "parsererror" ? "" : plain(parsed);
    };
    const text = (node) => {
        if (node.nodeType === Node.TEXT_NODE) return node.nodeValue;
        if (node.nodeType !== Node.ELEMENT_NODE || node.classList.contains("headerlink")) return "";
        if (node.tagName.toLowerCase() === "mjx-container") return formula(node);
        return Array.from(node.childNodes).map(text).join("");
    };
    return Array.from(document.querySelectorAll("h1, h2, h3, h4, h5, h6"))
        .filter((heading) => heading.getClientRects().length > 0)
        .map((heading) => text(heading).replace(/\\s+/g, " ").trim());
}"""


class PdfError(RuntimeError):
    """The PDF edition could not be made; the message names what is missing or what failed."""


def chromium() -> str:
    """The Chromium executable: ``$CHROMIUM`` if set, else the first of :data:`CHROMIUM_NAMES` on the PATH."""
    named = os.environ.get("CHROMIUM")
    if named:
        path = shutil.which(named)
        if path is None:
            raise PdfError(f"CHROMIUM={named!r} is not an executable")
        return path
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    raise PdfError(
        "Chromium not found: the PDF edition is printed by headless Chromium "
        "(Debian: apt-get install chromium fonts-liberation; or set CHROMIUM=/path/to/chromium)"
    )


def offline_route(refused: list[str]):
    """A Playwright route handler that keeps a page offline: ``tab.route("**/*", offline_route(refused))``.

    Requests for ``file:``, ``data:`` and ``blob:`` addresses go through; any other is aborted as
    ``internetdisconnected`` and its URL appended to ``refused``, which then lists what the page
    asked of the network. Install it on a page or on a browser context (``context.route``);
    :func:`print_pdf` prints the book with it, and tests/test_browser.py reads the site with it.
    """

    def route_offline(route) -> None:
        if route.request.url.startswith(("file:", "data:", "blob:")):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort("internetdisconnected")

    return route_offline


def table_of_contents(root: Path) -> dict:
    """The book's ``_toc.yml``: ``root`` (its first page, e.g. ``book/intro``) and its ``parts``."""
    return yaml.safe_load((Path(root) / "_toc.yml").read_text())


def online_address(root: Path) -> str | None:
    """Where the HTML edition is online: GitHub Pages' address of the repository that ``_config.yml``
    names (``repository.url``, ``https://github.com/OWNER/NAME``), ``https://owner.github.io/NAME/``,
    where the Pages workflow (``.github/workflows/book.yml``) publishes the site; ``None`` when the
    book names no GitHub repository."""
    config = yaml.safe_load((Path(root) / "_config.yml").read_text()) or {}
    url = str((config.get("repository") or {}).get("url") or "")
    found = re.fullmatch(r"https://github\.com/([\w.-]+)/([\w.-]+?)(?:\.git)?/?", url)
    return f"https://{found[1].lower()}.github.io/{found[2]}/" if found else None


def plain_title(text: str) -> str:
    """A bookmark's title as plain text: any TeX left in ``text`` (a ``$``, a ``\\command``, its
    braces) is dropped, keeping the command's name, and the spaces are collapsed."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    text = re.sub(r"\\([A-Za-z]+|.)", r"\1", text.replace("$", ""))  # \gamma -> gamma, \{ -> {
    return " ".join(text.replace("{", "").replace("}", "").replace("\\", "").split())


def _strip_tags(fragment: str) -> str:
    fragment = re.sub(r'<a class="headerlink".*?</a>', "", fragment, flags=re.DOTALL)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", fragment)).split())


def _cut_document(text: str, name: str) -> tuple[str, dict[str, str], str]:
    """``text`` without the page ``name`` and the pages nested in it (the ``singlehtml`` page puts a
    page's sections inside it): the rest, the removed ids (id -> the page that held it), the page's title."""
    start = text.find(f'<span id="document-{name}"></span>')
    if start < 0:
        raise PdfError(f"the page {name!r} of _toc.yml is not in the single page")
    depth, end = 0, None
    for tag in re.finditer(r"<(/?)section\b[^>]*>", text[start:]):
        depth += -1 if tag[1] else 1
        if depth == 0:
            end = start + tag.end()
            break
    if end is None:
        raise PdfError(f"the page {name!r} opens no section that closes in the single page")
    removed, owner, ids = text[start:end], name, {}
    for piece in re.split(r'(<span id="document-[^"]+"></span>)', removed):
        marker = re.fullmatch(r'<span id="document-([^"]+)"></span>', piece)
        if marker:
            owner = marker[1]
        ids.update((found, owner) for found in re.findall(r'\bid="([^"]+)"', piece))
    title = re.search(r"<h\d[^>]*>(.*?)</h\d>", removed, flags=re.DOTALL)
    return text[:start] + text[end:], ids, _strip_tags(title[1]) if title else name


def _relink(text: str, removed: dict[str, str], online: str | None) -> str:
    """Links to what was cut out (``removed``: id -> its page) lead to the page online (``online``,
    the site's address), or become plain text when there is no such address."""

    def relink(link: re.Match) -> str:
        target = link[2]
        if target not in removed:
            return link[0]
        if online is None:
            return link[3]
        address = f"{online}{removed[target]}.html" + ("" if target.startswith("document-") else f"#{target}")
        opening = link[1].replace(f'href="#{target}"', f'href="{html.escape(address)}"', 1).replace("reference internal", "reference external")
        return f"{opening}{link[3]}</a>"

    return re.sub(r'(<a\b[^>]*?href="#([^"]+)"[^>]*>)(.*?)</a>', relink, text, flags=re.DOTALL)


def printable_page(singlehtml: Path, toc: dict, online: str | None = None, left_out: str | None = LEFT_OUT) -> Path:
    """Write the single page at the root of the ``singlehtml`` build, ready to print; return it.

    Sphinx writes the page at ``<root>.html`` (``book/intro.html``) but links its styles, scripts
    and most images from the build's root; the copy ``emma-book.html`` sits there. On it:

    * the few images written relative to ``book/`` are pointed at ``_images/``, and the page's
      links to itself become in-document anchors, so they stay links inside the PDF;
    * the page ``left_out`` of ``_toc.yml`` (:data:`LEFT_OUT`, the API reference) and its sections
      are cut out: a link to them leads to the site ``online`` (its address, :func:`online_address`),
      or is plain text without one, and the contents say where the page is;
    * every page after the first (Sphinx nests them one heading level down) gets its headings
      one level up: each chapter opens with an ``h1``, a top-level bookmark of the PDF;
    * the print-only title block gets the contents: the parts of ``_toc.yml`` and their pages,
      linked (a missing page is an error);
    * :data:`PRINT_CSS` puts the title and contents on the first sheet and each page of the book
      on a new one.
    """
    root_doc = toc["root"]
    source = Path(singlehtml) / f"{root_doc}.html"
    if not source.exists():
        raise PdfError(f"the singlehtml build wrote no {source}")
    text = source.read_text(encoding="utf-8")
    depth = "../" * root_doc.count("/")
    if depth:
        text = text.replace(f'src="{depth}_images/', 'src="_images/')
    text = text.replace(f'href="{root_doc}.html#', 'href="#')
    removed, left_out_title = {}, None
    if left_out is not None:
        text, removed, left_out_title = _cut_document(text, left_out)
        text = _relink(text, removed, online)
    first = text.find('<span id="document-')
    if first < 0:
        raise PdfError(f"{source} holds no page but the first one: is _toc.yml's root its only page?")
    text = text[:first] + re.sub(r"<(/?)h([2-6])\b", lambda m: f"<{m[1]}h{int(m[2]) - 1}", text[first:])
    contents = ['<nav id="emma-contents"><h2>Contents</h2>']
    for part in toc.get("parts", []):
        contents.append(f'<p class="caption">{html.escape(part.get("caption", ""))}</p><ul>')
        for entry in part.get("chapters", []):
            name = entry["file"]
            if name == left_out:
                where = (f'online at <a href="{html.escape(online + name)}.html">{html.escape(online + name)}.html</a>' if online
                         else f"in the HTML edition, at {html.escape(name)}.html")
                contents.append(f'<li class="emma-left-out">{html.escape(left_out_title)}: not in the PDF; {where}</li>')
                continue
            found = re.search(
                rf'<span id="document-{re.escape(name)}"></span>\s*<section[^>]*>\s*<h1[^>]*>(.*?)</h1>', text, flags=re.DOTALL,
            )
            if found is None:
                raise PdfError(f"the page {name!r} of _toc.yml is not in {source}")
            contents.append(f'<li><a href="#document-{html.escape(name)}">{html.escape(_strip_tags(found[1]))}</a></li>')
        contents.append("</ul>")
    contents.append("</nav>")
    anchor = '<div id="jb-print-toc">'
    if anchor not in text:
        raise PdfError(f"{source} has no print title block ({anchor}): has sphinx-book-theme changed?")
    text = text.replace(anchor, anchor + "".join(contents), 1)
    text = text.replace("</head>", f"<style>{PRINT_CSS}</style>\n</head>", 1)
    page = Path(singlehtml) / PAGE
    page.write_text(text, encoding="utf-8")
    return page


def print_pdf(page: Path, output: Path, executable: str | None = None) -> Path:
    """Print the HTML ``page`` to the PDF ``output`` with headless Chromium, offline; return ``output``.

    The page is opened from ``file://`` with every other request refused. Printing waits until
    MathJax has typeset the math and every image has loaded; a formula left untypeset or an image
    that did not load is an error.
    """
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise PdfError("the PDF edition needs the Python package playwright (pip install -e '.[dev]')") from None
    executable = executable or chromium()
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f".{output.name}.partial")
    refused: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable)
        try:
            tab = browser.new_page(viewport={"width": TEXT_WIDTH_PX, "height": 1000})
            tab.set_default_timeout(TIMEOUT_MS)
            tab.route("**/*", offline_route(refused))
            tab.goto(Path(page).resolve().as_uri(), wait_until="load")
            seen = tab.evaluate(READY)
            if seen["typeset"] < seen["math"]:
                raise PdfError(f"MathJax typeset {seen['typeset']} of the {seen['math']} formulas of {page}")
            if seen["broken"]:
                raise PdfError(f"images that did not load in {page}: {seen['broken'][:5]}")
            tab.emulate_media(media="print")  # the layout and the headings of the printed page
            tab.evaluate(FIT_TABLES)
            headings = tab.evaluate(HEADINGS)
            tab.pdf(
                path=partial,
                format="A4",
                margin=MARGIN,
                print_background=True,
                display_header_footer=True,
                header_template=HEADER,
                footer_template=FOOTER,
                outline=True,  # PDF bookmarks from the headings
                tagged=True,
            )
        finally:
            browser.close()
    if refused:
        partial.unlink(missing_ok=True)
        raise PdfError(f"the page asked for the network (refused): {refused[:5]}")
    retitle_outline(partial, headings)
    os.replace(partial, output)
    return output


def retitle_outline(path: Path, headings: list[str]) -> None:
    """Give the PDF's bookmarks the headings' own text, in place.

    Chromium names each bookmark after the text it laid out for the heading: the lines of a
    wrapped heading run together without a space, and a heading at the top of a page can come
    out with its first line twice. It makes one bookmark per heading shown, in order; when the
    counts differ, the bookmarks keep Chromium's text and the difference is reported. Either way a
    title is plain text (:func:`plain_title`): no TeX, no ``$``.
    """
    try:
        from pypdf import PdfWriter
        from pypdf.generic import NameObject, TextStringObject
    except ImportError:
        raise PdfError("the PDF edition needs the Python package pypdf (pip install -e '.[dev]')") from None
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # not its notes on Chromium's cross-reference table
    writer = PdfWriter(clone_from=str(path))
    items = []

    def walk(node):
        while node is not None:
            node = node.get_object()
            items.append(node)
            walk(node.get("/First"))
            node = node.get("/Next")

    outlines = writer.root_object.get("/Outlines")
    walk(outlines.get_object().get("/First") if outlines is not None else None)
    if not items:
        raise PdfError(f"{path} has no outline: Chromium wrote no bookmarks")
    if len(items) != len(headings):
        print(f"   the PDF has {len(items)} bookmarks for {len(headings)} headings: their titles are Chromium's, as plain text", flush=True)
        headings = [str(item.get("/Title", "")) for item in items]
    for item, heading in zip(items, headings):
        item[NameObject("/Title")] = TextStringObject(plain_title(heading))
    writer.write(str(path))


def build(root: Path, executed: Path | None = None, strict: bool = True) -> int:
    """Build the single page and print it to ``<root>/_build/pdf/emma-book.pdf``; return the exit code.

    A failed (or, when ``strict``, warning) ``singlehtml`` build returns its exit code and prints
    nothing. Raises :class:`PdfError` when Chromium or Playwright is missing or printing fails.
    It holds the output folders' locks throughout (:func:`emma_book.build.holding_outputs`), so
    no other build replaces the single page while it is printed.
    """
    root = Path(root).resolve()
    with book.holding_outputs(root, executed):
        code = book.build(root, strict=strict, executed=executed, builder="singlehtml")
        if code != 0:
            return code
        page = printable_page(root / "_build" / "singlehtml", table_of_contents(root), online=online_address(root))
        output = print_pdf(page, root / "_build" / "pdf" / NAME)
    print(f"The PDF edition is {output}", flush=True)
    return 0


def edition(root: Path | None = None, executed: Path | None = None, strict: bool = True) -> int:
    """``make pdf``: the PDF edition (:func:`build`), then the HTML book that carries it (:func:`emma_book.build.build`).

    Both under the output folders' locks, held once; returns the first non-zero exit code, else 0.
    """
    root = Path(root if root is not None else layout.ROOT).resolve()
    with book.holding_outputs(root, executed):
        code = build(root, executed=executed, strict=strict)
        if code != 0:
            return code
        return book.build(root, strict=strict, executed=executed, edition=root / "_build" / "pdf" / NAME)
