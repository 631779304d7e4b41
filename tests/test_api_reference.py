"""The appendix "API reference" (book/api.rst and one page per subpackage in book/api/, written by emma_book.api).

The sentence splitter that cuts a summary is checked on its own; a small Sphinx project
documenting two made-up packages (one with subpackages, one without, like ``emma`` and
``emma_book``) checks the directives, the pages and the links between them quickly; the
quick-profile book that tests/test_pipeline.py builds (once per test run) checks that each page
lists every public module and object of its subpackage, with summaries cut at a sentence's end.
"""
from __future__ import annotations

import ast
import html as markup
import importlib
import inspect
import pkgutil
import re
import sys
from pathlib import Path

import pytest
import test_pipeline
import yaml
from test_pipeline import ROOT

from emma_book import api

FAKE = {
    "apifake/__init__.py": '"""A made-up package.\n\n:mod:`~apifake.zeta` comes first, then the rest.\n"""\n'
                           "from apifake.alpha import run\nfrom apifake._hidden import helper\n\n__all__ = ['run', 'helper']\n",
    "apifake/alpha.py": '"""Alpha: plain definitions.\n\nSee ``apifake.run`` and :func:`apifake.run`.\n"""\n'
                        "from pathlib import Path\n\nROOT = Path('/nowhere')\nLIMIT = 3\n\n\n"
                        'def run(x, first_argument=1, second_argument=2, third_argument=3, fourth_argument=4):\n'
                        '    """Run on ``x`` as in eq. 5.2 (e.g. twice, cf. Fig. 3). Then stop."""\n\n\n'
                        'def _private():\n    """Not on the page."""\n\n\n'
                        'class Thing:\n    """A thing."""\n\n    def go(self, root=ROOT):\n        """Go; see :meth:`run`."""\n',
    "apifake/zeta.py": '"""Zeta: a module with ``__all__``."""\n__all__ = ["kept"]\n\n\n'
                       'def kept():\n    """Listed."""\n\n\ndef dropped():\n    """Not in __all__."""\n',
    "apifake/_hidden.py": 'def helper():\n    """Defined in a private module, exported by the package."""\n',
    "apifake/sub/__init__.py": '"""A subpackage, i.e. a page of its own. More text."""\n',
    "apifake/sub/beta.py": '"""Beta."""\n\n\ndef beta():\n    """In the subpackage; see :func:`apitool.tool.use`."""\n',
    "apifake/sub/deep/__init__.py": '"""A package below the subpackage, on its page."""\n',
    "apifake/sub/deep/gamma.py": '"""Gamma."""\n\n\ndef gamma():\n    """Deep down."""\n',
    "apitool/__init__.py": '"""A second package, without subpackages: one page. It uses :mod:`apifake`."""\n',
    "apitool/tool.py": '"""The tool; it calls :func:`apifake.alpha.run` and ``apifake.sub.beta.beta``."""\n\n\n'
                       'def use():\n    """Use the tool."""\n',
}
CONF = """extensions = ["sphinx.ext.autodoc", "sphinx.ext.autosummary", "sphinx.ext.napoleon", "emma_book.api"]
emma_api_packages = ["apifake", "apitool"]
autodoc_preserve_defaults = True
autosummary_generate = False
html_domain_indices = False
"""
PAGES = {
    "index.rst": "API\n===\n\nThe package's entry point is ``apifake.run``; ``apifake.nothing`` stays code.\n\n"
                 ".. emma-api-index::\n\nThe package\n-----------\n\n.. emma-api:: apifake\n\n"
                 ".. toctree::\n   :hidden:\n\n   api/sub\n   api/apitool\n",
    "api/sub.rst": "``apifake.sub``\n===============\n\n.. emma-api:: apifake.sub\n",
    "api/apitool.rst": "``apitool``\n===========\n\n.. emma-api:: apitool\n",
}
#: An abbreviation at the end of a summary: the sentence was cut at its period.
ENDS_IN_ABBREVIATION = re.compile(r"(?:^|[\s(])(?:eqs?|e\.g|i\.e|cf|vs|figs?|resp|al|secs?|ch|pp?|refs?|viz)\.$", re.IGNORECASE)


@pytest.mark.parametrize(("text", "sentence"), [
    ("EMMA's steps 2–4 (eq. 5.2–5.7) from potentials to attention scores. More.",
     "EMMA's steps 2–4 (eq. 5.2–5.7) from potentials to attention scores."),
    ("Capacity of eq. 5.11 (final thesis). Then.", "Capacity of eq. 5.11 (final thesis)."),
    ("Per-sample threshold, e.g. for one mode, i.e. the first. Next.", "Per-sample threshold, e.g. for one mode, i.e. the first."),
    ("Compare Fig. 3 vs. Fig. 4, resp. Eq. 2 and Eqs. 3 (cf. Sec. 2). Next.", "Compare Fig. 3 vs. Fig. 4, resp. Eq. 2 and Eqs. 3 (cf. Sec. 2)."),
    ("After Werenne et al. 2019 and A. Werenne. Next.", "After Werenne et al. 2019 and A. Werenne."),
    ("Inside ``x. Y`` and :func:`a. B` no end. Next.", "Inside ``x. Y`` and :func:`a. B` no end."),
    ("The value (one. Two) stays. Next.", "The value (one. Two) stays."),
    ("Is it done? Yes.", "Is it done?"),
    ('He said "stop." Then left.', 'He said "stop."'),
    ("A version 1.2. Then more.", "A version 1.2."),
    ("A sentence. lower case goes on. Next.", "A sentence. lower case goes on."),
    ("One sentence without a period", "One sentence without a period"),
    ("Spread\n   over   lines. Next.", "Spread over lines."),
    ("", ""),
])
def test_the_first_sentence_ends_at_a_sentence_end_not_at_an_abbreviation(text, sentence):
    assert api.first_sentence(text) == sentence
    assert not ENDS_IN_ABBREVIATION.search(api.first_sentence(text))


def test_the_sentence_splitter_refuses_what_is_not_text():
    with pytest.raises(TypeError, match="text must be a str, got list"):
        api.first_sentence(["a list"])


def test_every_subpackage_has_its_page_listed_under_the_overview_in_the_table_of_contents():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    entries = [entry for part in toc["parts"] for entry in part.get("chapters", []) if entry["file"] == "book/api"]
    assert len(entries) == 1, "_toc.yml lists the overview book/api once"
    expected = api.pages()
    assert expected == ["emma.method", "emma.data", "emma.engine", "emma.experiments", "emma.claims", "emma.util", "emma_book"]
    listed = [section["file"] for section in entries[0].get("sections", [])]
    assert listed == [f"book/api/{name.rsplit('.', 1)[-1]}" for name in expected]
    for name, page in zip(expected, listed):
        directives = re.findall(r"^\.\. emma-api:: (\S+)$", (ROOT / f"{page}.rst").read_text(), flags=re.MULTILINE)
        assert directives == [name], f"{page}.rst must document {name} (and only it)"
    assert re.findall(r"^\.\. emma-api:: (\S+)$", (ROOT / "book" / "api.rst").read_text(), flags=re.MULTILINE) == ["emma"]


def test_a_package_without_a_page_is_refused_by_the_directive():
    with pytest.raises(ValueError, match=r"package must be one of .*'emma.method'.* not 'emma.method.derivations'"):
        api.page_packages("emma.method.derivations")
    assert api.page_packages("emma.method") == ["emma.method", "emma.method.derivations"]
    assert api.page_packages("emma") == ["emma"]


@pytest.fixture(scope="module")
def fake_site(tmp_path_factory) -> dict[str, str]:
    """The made-up packages documented by a Sphinx build: each page's name (``api/sub``) -> its HTML."""
    from sphinx.application import Sphinx

    root = tmp_path_factory.mktemp("api")
    source = root / "source"
    for name, text in {**FAKE, **{f"source/{page}": text for page, text in PAGES.items()}, "source/conf.py": CONF}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    before = sorted(p.relative_to(source) for p in source.rglob("*"))
    sys.path.insert(0, str(root))
    try:
        app = Sphinx(source, source, root / "html", root / "doctrees", "html", status=None, warningiserror=True)
        app.build()
    finally:
        sys.path.remove(str(root))
        for name in [m for m in sys.modules if m.split(".")[0] in ("apifake", "apitool")]:
            del sys.modules[name]
    assert sorted(p.relative_to(source) for p in source.rglob("*") if "__pycache__" not in p.parts) == before, \
        "the build wrote into the source folder"
    return {page.removesuffix(".rst"): (root / "html" / page.replace(".rst", ".html")).read_text() for page in PAGES}


def _ids(html: str) -> set[str]:
    return set(re.findall(r'\bid="([^"]+)"', html))


def _links(html: str) -> dict[str, str]:
    """Each internal link's text -> its target (``page.html#id``, or ``#id`` on the same page)."""
    found = re.findall(r'<a class="reference internal" href="([^"]*#[^"]+)"[^>]*>(.*?)</a>', html, flags=re.DOTALL)
    return {" ".join(markup.unescape(re.sub(r"<[^>]+>", "", inner)).split()): target for target, inner in found}


def _summaries(html: str) -> list[str]:
    """The second column of every summary table: each entry's summary, as text."""
    cells = re.findall(r'<tr class="row-[^"]+"><td>.*?</td>\s*<td>(.*?)</td>', html, flags=re.DOTALL)
    return [" ".join(markup.unescape(re.sub(r"<[^>]+>", "", cell)).split()) for cell in cells]


def test_each_package_is_documented_on_its_own_page_and_nothing_else(fake_site):
    documented = {page: {i for i in _ids(html) if i.startswith(("apifake.", "apitool."))} for page, html in fake_site.items()}
    assert documented == {
        "index": {"apifake.alpha.ROOT", "apifake.alpha.LIMIT", "apifake.alpha.run", "apifake.alpha.Thing",
                  "apifake.alpha.Thing.go", "apifake.zeta.kept", "apifake.helper"},
        "api/sub": {"apifake.sub.beta.beta", "apifake.sub.deep.gamma.gamma"},
        "api/apitool": {"apitool.tool.use"},
    }
    assert {"module-apifake", "module-apifake.alpha", "module-apifake.zeta"} <= _ids(fake_site["index"])
    assert {"module-apifake.sub", "module-apifake.sub.beta", "module-apifake.sub.deep", "module-apifake.sub.deep.gamma"} <= _ids(fake_site["api/sub"])
    assert {"module-apitool", "module-apitool.tool"} <= _ids(fake_site["api/apitool"])


def test_the_overview_lists_each_page_with_its_first_sentence_linked(fake_site):
    overview = fake_site["index"]
    items = re.findall(r"<li><p>(.*?)</p></li>", overview, flags=re.DOTALL)
    texts = [" ".join(markup.unescape(re.sub(r"<[^>]+>", "", item)).split()) for item in items]
    assert texts == ["apifake.sub — A subpackage, i.e. a page of its own.",
                     "apitool — A second package, without subpackages: one page."]
    assert 'href="api/sub.html#module-apifake.sub"' in items[0] and 'href="api/apitool.html#module-apitool"' in items[1]


def test_modules_follow_their_package_docstring_then_the_alphabet_and_a_deeper_package_follows(fake_site):
    overview, sub = fake_site["index"], fake_site["api/sub"]
    assert overview.index('id="module-apifake.zeta"') < overview.index('id="module-apifake.alpha"')
    assert sub.index('id="module-apifake.sub.beta"') < sub.index('id="module-apifake.sub.deep"') < sub.index('id="module-apifake.sub.deep.gamma"')


def test_a_readable_constant_shows_its_value_and_a_path_does_not(fake_site):
    text = re.sub(r"<[^>]+>", "", fake_site["index"])
    assert re.search(r"LIMIT\s*=\s*3", text)
    assert "PosixPath" not in text and "/nowhere" not in text
    assert re.search(r"go\(\s*root\s*=\s*ROOT\s*\)", text), "a default shows as written"


def test_reexported_names_and_code_names_link_to_the_defining_module(fake_site):
    texts = _links(fake_site["index"])
    assert texts["apifake.run"] == "#apifake.alpha.run"  # ``apifake.run`` in the page's prose
    assert texts["apifake.run()"] == "#apifake.alpha.run"  # :func:`apifake.run` in a docstring
    assert texts["run()"] == "#apifake.alpha.run"  # :meth:`run` from a method, one entry of that name
    overview = fake_site["index"]
    exported = overview[overview.index('id="module-apifake"'):overview.index('id="module-apifake.zeta"')]
    assert 'href="#apifake.alpha.run"' in exported, "the package's table links to the defining module"
    assert "apifake.nothing" not in texts


def test_references_to_an_object_on_another_page_resolve(fake_site):
    tool, sub = _links(fake_site["api/apitool"]), _links(fake_site["api/sub"])
    assert tool["apifake.alpha.run()"] == "../index.html#apifake.alpha.run"  # :func: from the second package
    assert tool["apifake.sub.beta.beta"] == "sub.html#apifake.sub.beta.beta"  # a code name, linked
    assert tool["apifake"] == "../index.html#module-apifake"
    assert sub["apitool.tool.use()"] == "apitool.html#apitool.tool.use"


def test_a_summary_is_the_first_sentence_and_a_signature_wraps(fake_site):
    summaries = _summaries(fake_site["index"])
    assert "Run on x as in eq. 5.2 (e.g. twice, cf. Fig. 3)." in summaries
    assert not [s for s in summaries if ENDS_IN_ABBREVIATION.search(s)]
    row = re.search(r'<td><p><a [^>]*href="#apifake.alpha.run".*?</p></td>', fake_site["index"], flags=re.DOTALL)[0]
    signature = re.search(r'<span class="emma-signature">(.*?)</span>', row, flags=re.DOTALL)
    assert signature and "first_argument, second_argument" in signature[1], "the signature's spaces may break"
    assert "\u00a0" not in signature[1] and "&#160;" not in signature[1]


# --- the book's own pages -----------------------------------------------------------------------


def _page_of(name: str) -> str:
    """The package whose page documents the package or module ``name``."""
    homes = [*api.PACKAGES, *api.pages()]
    return max((home for home in homes if name == home or name.startswith(f"{home}.")), key=len)


def _expected_public_objects() -> dict[str, set[str]]:
    """Every public object of every package of emma and emma_book, by the section that must list it, found by
    importing each package and module: ``__all__`` where there is one, else each name bound in
    the module's own source (a def, a class, an assignment), not imported, without a leading underscore."""
    found: dict[str, set[str]] = {}
    for root in api.PACKAGES:
        package = importlib.import_module(root)
        for name in [root] + [info.name for info in pkgutil.walk_packages(package.__path__, f"{root}.")]:
            if any(part.startswith("_") for part in name.split(".")):
                continue
            module = importlib.import_module(name)
            if hasattr(module, "__all__"):
                found[name] = set(module.__all__)
            elif not hasattr(module, "__path__"):
                bound = set()
                for node in ast.parse(inspect.getsource(module)).body:
                    if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                        bound.add(node.name)
                    elif isinstance(node, ast.Assign) or (isinstance(node, ast.AnnAssign) and node.value is not None):
                        bound |= {t.id for t in getattr(node, "targets", [getattr(node, "target", None)]) if isinstance(t, ast.Name)}
                found[name] = {n for n in bound if not n.startswith("_")}
            else:
                found[name] = set()
    return found


@pytest.fixture(scope="module")
def api_pages(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """The built book's root and its API pages: the package each page documents (``emma`` for the overview) -> its HTML."""
    root, code = test_pipeline.built_quick_book(tmp_path_factory)
    if code != 0:
        pytest.fail("the quick-profile book did not build (see test_book_builds_without_warnings_and_shows_every_chapter)")
    html = root / "_build" / "html" / "book"
    pages = {"emma": (html / "api.html").read_text()}
    for name in api.pages():
        path = html / "api" / f"{name.rsplit('.', 1)[-1]}.html"
        assert path.is_file(), f"no page {path.relative_to(root)} for {name}"
        pages[name] = path.read_text()
    return root, pages


def _sections(html: str) -> dict[str, str]:
    """A page cut at each module's (or package's) target: module name -> its part of the page."""
    starts = [(m.start(), m.group(1)) for m in re.finditer(r'id="module-([\w.]+)"', html)]
    return {name: html[start:end] for (start, name), (end, _) in zip(starts, starts[1:] + [(len(html), "")])}


@pytest.mark.slow
def test_every_public_module_of_each_subpackage_appears_on_its_page(api_pages):
    _, pages = api_pages
    misplaced = {name: page for page, html in pages.items() for name in _sections(html) if _page_of(name) != page}
    assert not misplaced, f"modules documented on another package's page: {misplaced}"
    missing = [name for name in _expected_public_objects() if name not in _sections(pages[_page_of(name)])]
    assert not missing, f"public modules missing from their package's page: {missing}"


@pytest.mark.slow
def test_the_api_pages_list_every_public_object_of_every_package(api_pages):
    _, pages = api_pages
    ids = set().union(*(_ids(html) for html in pages.values()))
    missing = []
    for section, names in _expected_public_objects().items():
        part = _sections(pages[_page_of(section)])[section]
        linked = {target.rsplit("#", 1)[1] for target in re.findall(r'href="([^"]*#[^"]+)"', part)} & ids
        for name in names:
            # documented in its own section, or (a package's export) linked from there to where it is documented
            if f"{section}.{name}" not in ids and not any(target.rsplit(".", 1)[-1] == name for target in linked):
                missing.append(f"{section}.{name}")
    assert not missing, f"public objects the API pages do not list: {missing}"


@pytest.mark.slow
def test_no_summary_ends_in_an_abbreviation(api_pages):
    _, pages = api_pages
    summaries = [summary for html in pages.values() for summary in _summaries(html)]
    assert len(summaries) > 100, "the summary tables were not found"
    cut = [summary for summary in summaries if ENDS_IN_ABBREVIATION.search(summary)]
    assert not cut, f"summaries cut at an abbreviation: {cut[:5]}"
    assert not any("\u00a0" in signature for html in pages.values()
                   for signature in re.findall(r'<span class="emma-signature">(.*?)</span>', html)), "a signature does not wrap"


@pytest.mark.slow
def test_the_tooling_has_its_page_and_every_reference_to_it_is_a_link(api_pages):
    _, pages = api_pages
    assert {"module-emma_book", "module-emma_book.build", "module-emma_book.api", "emma_book.api.first_sentence"} <= _ids(pages["emma_book"])
    reference = re.compile(r'(<a [^>]*>)?<code class="xref py py-\w+ docutils literal notranslate"><span class="pre">(emma_book[^<]*)</span>')
    unresolved = [m[2] for html in pages.values() for m in reference.finditer(html) if not m[1]]
    assert not unresolved, f"references to the tooling left as plain text: {unresolved[:5]}"


@pytest.mark.slow
def test_the_api_pages_are_in_the_appendices_and_the_build_leaves_the_checkout_alone(api_pages):
    root, pages = api_pages
    assert "API reference" in pages["emma"]
    for name in api.pages():
        assert f'href="api/{name.rsplit(".", 1)[-1]}.html#module-{name}"' in pages["emma"], f"the overview does not link {name}"
    pages_in = {p.relative_to(root / "book") for p in (root / "book").rglob("*") if "chapters" not in p.parts}
    assert pages_in == {p.relative_to(ROOT / "book") for p in (ROOT / "book").rglob("*") if "chapters" not in p.parts and "__pycache__" not in p.parts}
