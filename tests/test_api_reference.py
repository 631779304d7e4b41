"""The appendix "API reference" (book/api.rst, expanded by emma_book.api when the book is built).

A small Sphinx project documenting a made-up package checks the directive and the links quickly;
the quick-profile book that tests/test_pipeline.py builds (once per test run) checks that the
page lists every public object of every package of ``emma``.
"""
from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
import sys
from pathlib import Path

import pytest
import test_pipeline
from test_pipeline import ROOT

FAKE = {
    "__init__.py": '"""A made-up package.\n\n:mod:`~apifake.zeta` comes first, then the rest.\n"""\n'
                   "from apifake.alpha import run\nfrom apifake._hidden import helper\n\n__all__ = ['run', 'helper']\n",
    "alpha.py": '"""Alpha: plain definitions.\n\nSee ``apifake.run`` and :func:`apifake.run`.\n"""\n'
                "from pathlib import Path\n\nROOT = Path('/nowhere')\nLIMIT = 3\n\n\n"
                'def run(x):\n    """Run on ``x``."""\n\n\n'
                'def _private():\n    """Not on the page."""\n\n\n'
                'class Thing:\n    """A thing."""\n\n    def go(self, root=ROOT):\n        """Go; see :meth:`run`."""\n',
    "zeta.py": '"""Zeta: a module with ``__all__``."""\n__all__ = ["kept"]\n\n\n'
               'def kept():\n    """Listed."""\n\n\ndef dropped():\n    """Not in __all__."""\n',
    "_hidden.py": 'def helper():\n    """Defined in a private module, exported by the package."""\n',
    "sub/__init__.py": '"""A subpackage."""\n',
    "sub/beta.py": '"""Beta."""\n\n\ndef beta():\n    """In the subpackage."""\n',
}
CONF = """extensions = ["sphinx.ext.autodoc", "sphinx.ext.autosummary", "sphinx.ext.napoleon", "emma_book.api"]
emma_api_package = "apifake"
autodoc_preserve_defaults = True
autosummary_generate = False
html_domain_indices = False
"""
INDEX = "API\n===\n\nThe package's entry point is ``apifake.run``; ``apifake.nothing`` stays code.\n\n.. emma-api::\n"


@pytest.fixture(scope="module")
def fake_site(tmp_path_factory):
    """The made-up package documented by a Sphinx build: the source folder and the page's HTML."""
    from sphinx.application import Sphinx

    root = tmp_path_factory.mktemp("api")
    for name, text in FAKE.items():
        (root / "apifake" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "apifake" / name).write_text(text)
    source = root / "source"
    source.mkdir()
    (source / "conf.py").write_text(CONF)
    (source / "index.rst").write_text(INDEX)
    before = sorted(p.relative_to(source) for p in source.rglob("*"))
    sys.path.insert(0, str(root))
    try:
        app = Sphinx(source, source, root / "html", root / "doctrees", "html", status=None, warningiserror=True)
        app.build()
    finally:
        sys.path.remove(str(root))
        for name in [m for m in sys.modules if m == "apifake" or m.startswith("apifake.")]:
            del sys.modules[name]
    assert sorted(p.relative_to(source) for p in source.rglob("*") if "__pycache__" not in p.parts) == before, \
        "the build wrote into the source folder"
    return (root / "html" / "index.html").read_text()


def _ids(html: str) -> set[str]:
    return set(re.findall(r'\bid="([^"]+)"', html))


def test_every_public_object_has_an_entry_and_nothing_else(fake_site):
    ids = _ids(fake_site)
    documented = {i for i in ids if i.startswith("apifake.")}
    assert documented == {
        "apifake.alpha.ROOT", "apifake.alpha.LIMIT", "apifake.alpha.run", "apifake.alpha.Thing", "apifake.alpha.Thing.go",
        "apifake.zeta.kept", "apifake.helper", "apifake.sub.beta.beta",
    }
    assert {"module-apifake", "module-apifake.alpha", "module-apifake.zeta", "module-apifake.sub", "module-apifake.sub.beta"} <= ids


def test_modules_follow_their_package_docstring_then_the_alphabet(fake_site):
    assert fake_site.index('id="module-apifake.zeta"') < fake_site.index('id="module-apifake.alpha"')
    assert fake_site.index('id="module-apifake.alpha"') < fake_site.index('id="module-apifake.sub"')


def test_a_readable_constant_shows_its_value_and_a_path_does_not(fake_site):
    text = re.sub(r"<[^>]+>", "", fake_site)
    assert re.search(r"LIMIT\s*=\s*3", text)
    assert "PosixPath" not in text and "/nowhere" not in text
    assert re.search(r"go\(\s*root\s*=\s*ROOT\s*\)", text), "a default shows as written"


def test_reexported_names_and_code_names_link_to_the_defining_module(fake_site):
    links = re.findall(r'<a class="reference internal" href="#([^"]+)"[^>]*>(.*?)</a>', fake_site, flags=re.DOTALL)
    texts = {re.sub(r"<[^>]+>", "", inner).strip(): target for target, inner in links}
    assert texts["apifake.run"] == "apifake.alpha.run"  # ``apifake.run`` in the page's prose
    assert texts["apifake.run()"] == "apifake.alpha.run"  # :func:`apifake.run` in a docstring
    assert texts["run()"] == "apifake.alpha.run"  # :meth:`run` from a method, one entry of that name
    exported = fake_site[fake_site.index('id="module-apifake"'):fake_site.index('id="module-apifake.zeta"')]
    assert 'href="#apifake.alpha.run"' in exported, "the package's table links to the defining module"
    assert "apifake.nothing" not in texts


# --- the book's own page ------------------------------------------------------------------------


def _expected_public_objects() -> dict[str, set[str]]:
    """Every public object of every package of emma, by the section that must list it, found by
    importing each package and module: ``__all__`` where there is one, else each name bound in
    the module's own source (a def, a class, an assignment), not imported, without a leading underscore."""
    import emma

    found: dict[str, set[str]] = {}
    names = ["emma"] + [info.name for info in pkgutil.walk_packages(emma.__path__, "emma.")]
    for name in names:
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
def api_page(tmp_path_factory) -> tuple[Path, str]:
    root, code = test_pipeline.built_quick_book(tmp_path_factory)
    if code != 0:
        pytest.fail("the quick-profile book did not build (see test_book_builds_without_warnings_and_shows_every_chapter)")
    return root, (root / "_build" / "html" / "book" / "api.html").read_text()


def _sections(html: str) -> dict[str, str]:
    """The page cut at each module's (or package's) target: module name -> its part of the page."""
    starts = [(m.start(), m.group(1)) for m in re.finditer(r'id="module-([\w.]+)"', html)]
    return {name: html[start:end] for (start, name), (end, _) in zip(starts, starts[1:] + [(len(html), "")])}


@pytest.mark.slow
def test_the_api_page_lists_every_public_object_of_every_package(api_page):
    _, html = api_page
    ids, sections = _ids(html), _sections(html)
    missing = []
    for section, names in _expected_public_objects().items():
        assert section in sections, f"no section for {section}"
        linked = {target for target in re.findall(r'href="#([^"]+)"', sections[section]) if target in ids}
        for name in names:
            # documented in its own section, or (a package's export) linked from there to where it is documented
            if f"{section}.{name}" not in ids and not any(target.rsplit(".", 1)[-1] == name for target in linked):
                missing.append(f"{section}.{name}")
    assert not missing, f"public objects the API page does not list: {missing}"


@pytest.mark.slow
def test_the_api_page_is_in_the_appendices_and_the_build_leaves_the_checkout_alone(api_page):
    root, html = api_page
    assert "API reference" in html
    pages = {p.relative_to(root / "book") for p in (root / "book").rglob("*") if "chapters" not in p.parts}
    assert pages == {p.relative_to(ROOT / "book") for p in (ROOT / "book").rglob("*") if "chapters" not in p.parts and "__pycache__" not in p.parts}
