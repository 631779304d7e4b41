"""The book's Sphinx extension (listed in ``_config.yml``), its page-level touches.

sphinx-book-theme's download menu offers each page's source, here the executed notebook
(``.ipynb``); chapter pages also offer their jupytext source ``notebooks/NN_name.py``, and every
page the book's PDF edition when the build has one. And every script appears once per page.
"""
from __future__ import annotations

from pathlib import Path

PDF_EDITION = "emma-book.pdf"  # the PDF edition's name, in _build/pdf/ and at the site's root (emma_book.pdf.NAME)


def setup(app):
    """Sphinx extension (``_config.yml`` lists ``emma_book.build``, which re-exports this): the book's page-level touches.

    sphinx-book-theme's download menu offers the page's source, here the executed notebook
    (``.ipynb``); chapter pages also offer their ``notebooks/NN_name.py``, which
    :func:`emma_book.build.stage` puts in the site through ``html_extra_path``, and every page the book's PDF edition when the
    build has one. And every script appears once per page.
    """
    app.connect("html-page-context", _offer_jupytext_source, priority=502)  # after the theme's buttons (501)
    app.connect("html-page-context", _offer_pdf_edition, priority=503)
    app.connect("html-page-context", _drop_duplicate_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def _drop_duplicate_scripts(app, pagename, templatename, context, doctree) -> None:
    """Each script once per page: sphinx-thebe's inline configuration (``const THEBE_JS_URL``)
    reaches Sphinx 7's page context twice, and its second copy is a JavaScript error."""
    seen, unique = set(), []
    for script in context.get("script_files", []):
        key = (getattr(script, "filename", script) or "", tuple(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def _offer_jupytext_source(app, pagename, templatename, context, doctree) -> None:
    name = f"{Path(pagename).name}.py"
    if not pagename.startswith("book/chapters/") or not (Path(app.srcdir) / "_extra" / "notebooks" / name).exists():
        return
    for group in context.get("header_buttons", []):
        if group.get("label") != "download-buttons":
            continue
        for button in group["buttons"]:
            if button.get("label") == "download-source-button":
                button["tooltip"] = "Download the executed notebook"
        group["buttons"].insert(1, {
            "type": "link",
            "url": context["pathto"](f"notebooks/{name}", 1),
            "text": ".py",
            "tooltip": "Download the chapter's jupytext source",
            "icon": "fas fa-file-code",
            "label": "download-jupytext-button",
        })


def _offer_pdf_edition(app, pagename, templatename, context, doctree) -> None:
    """Every page's download menu offers the PDF edition when the build has one (``stage(pdf=...)``),
    after the theme's ``.pdf`` button, which prints the page alone."""
    if not (Path(app.srcdir) / "_extra" / PDF_EDITION).exists():
        return
    for group in context.get("header_buttons", []):
        if group.get("label") == "download-buttons":
            group["buttons"].append({
                "type": "link",
                "url": context["pathto"](PDF_EDITION, 1),
                "text": "PDF edition",
                "tooltip": "Download the whole book as one PDF",
                "icon": "fas fa-book",
                "label": "download-pdf-edition-button",
            })
