"""The appendix "API reference": every public object of the packages, from their docstrings, one page per subpackage.

The overview ``book/api.rst`` lists the subpackages (directive ``emma-api-index``: each one's
first sentence, linked) and documents the package ``emma`` itself (its docstring and the names it
re-exports); each subpackage of ``emma`` and the book's tooling ``emma_book`` has its page under
``book/api/`` (``_toc.yml`` lists them as the overview's sections), holding one directive,
``.. emma-api:: emma.engine``. This Sphinx extension (listed in ``_config.yml``) expands them when
the book is built: nothing is generated into the checkout, and a module or a name added to a
package appears on its page without an edit. A page documents its package (:func:`pages`) and
the subpackages below it: for each, its docstring and a table of the names it exports, then a
section per public module (:func:`modules`) with the module's docstring, a table of its public
objects (:func:`public_names`) and each of them, documented by ``sphinx.ext.autodoc``
(numpy-style docstrings read by ``sphinx.ext.napoleon``).

A table's summary of an entry is its first sentence (:func:`first_sentence`), never cut at an
abbreviation such as "eq." or "e.g."; its signature wraps between the parameters (:class:`Summary`).
A name a package re-exports is documented once, in the module that defines it; a reference to
it through the package (``:func:`emma.engine.run_sweep```, or ``:func:`run_sweep``` in the
docstring of :mod:`emma.engine`), from any page, is sent there by :func:`resolve_alias`.
"""
from __future__ import annotations

import ast
import contextlib
import importlib
import inspect
import pkgutil
import re
from dataclasses import dataclass, field
from types import ModuleType

import sphinx.ext.autosummary as autosummary
from docutils import nodes
from docutils.parsers.rst import Directive
from docutils.parsers.rst.states import RSTStateMachine, state_classes
from docutils.utils import new_document
from sphinx import addnodes
from sphinx.transforms import SphinxTransform
from sphinx.util.docutils import NullReporter

#: The packages the reference documents (the Sphinx setting ``emma_api_packages``, which a test changes).
PACKAGES = ("emma", "emma_book")
#: The order of the packages (the layers, as :mod:`emma` lists them, then the tooling); any other package follows them.
LAYERS = ("emma", "emma.method", "emma.data", "emma.engine", "emma.experiments", "emma.claims", "emma.util", "emma_book")
#: A constant's value is shown when its ``repr`` is at most this long and names no object's address or path.
VALUE_WIDTH = 60
_UNREADABLE = re.compile(r" object at 0x|PosixPath\(|WindowsPath\(|^<")
#: Words that end with a period inside a sentence (compared without it, in lower case): "eq. 5.2", "e.g.", "et al.".
ABBREVIATIONS = frozenset({
    "eq", "eqs", "e.g", "i.e", "cf", "vs", "fig", "figs", "resp", "al", "approx", "sec", "secs", "ch", "chap",
    "p", "pp", "ref", "refs", "tab", "thm", "viz", "ca", "incl",
})
_SPAN = re.compile(r"(?::[\w:+.-]+:)?`(?:[^`\\]|\\.)+`_{0,2}|``.+?``")  # inline literal, interpreted text or a role
_OPENERS, _CLOSERS = "([{", ")]}"


def _is_public(name: str) -> bool:
    return not any(part.startswith("_") for part in name.split("."))


def first_sentence(text: str) -> str:
    """The first sentence of ``text`` (reStructuredText, its lines joined), the whole text when it has one sentence.

    A sentence ends at ``.``, ``?`` or ``!`` (and any closing quote or bracket after it) followed by
    a space and a word that does not start in lower case, outside brackets and outside inline
    markup (````code````, ``:func:`x```); a period ending an abbreviation (:data:`ABBREVIATIONS`:
    "eq.", "e.g.", "cf.") or an initial ("A. Werenne") ends no sentence.

    >>> first_sentence("The capacity of eq. 5.3 (cf. Fig. 2). It is positive.")
    'The capacity of eq. 5.3 (cf. Fig. 2).'
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    text = " ".join(text.split())
    depth, i = 0, 0
    while i < len(text):
        span = _SPAN.match(text, i) if text[i] in ":`" else None
        if span:
            i = span.end()
            continue
        char = text[i]
        if char in _OPENERS:
            depth += 1
        elif char in _CLOSERS:
            depth = max(0, depth - 1)
        elif char in ".?!" and depth == 0:
            end = i + 1
            while end < len(text) and text[end] in "\"'”’" + _CLOSERS:
                end += 1
            if end == len(text):
                return text
            word = text[:i].rsplit(" ", 1)[-1].lstrip("\"'“‘" + _OPENERS)
            abbreviation = char == "." and (word.lower() in ABBREVIATIONS or re.fullmatch(r"[A-Z]", word))
            if text[end] == " " and not text[end + 1].islower() and not abbreviation:
                return text[:end]
        i += 1
    return text


def _parse(lines: list[str], settings) -> nodes.document:
    document = new_document("", settings)
    document.reporter = NullReporter()
    RSTStateMachine(state_classes, "Body").run(lines, document)
    return document


def extract_summary(doc: list[str], document) -> str:
    """A table's summary of an entry, from its docstring's lines: the first sentence of the first paragraph
    (:func:`first_sentence`); a heading's text or the first line when the docstring opens with something else.

    It replaces autosummary's, which ends the sentence at any period followed by a space ("(eq.").
    A cut that would break inline markup keeps the whole paragraph.
    """
    lines = list(doc)
    while lines and not lines[0].strip():
        lines.pop(0)
    lines = lines[:next((i for i, line in enumerate(lines) if not line.strip()), len(lines))]
    if not lines:
        return ""
    node = _parse(lines, document.settings)
    if len(node) and isinstance(node[0], nodes.section):
        return node[0].astext().strip()
    if not len(node) or not isinstance(node[0], nodes.paragraph):
        return lines[0].strip()
    paragraph = " ".join(line.strip() for line in lines)
    summary = first_sentence(paragraph)
    if summary != paragraph and any(_parse([summary], document.settings).findall(nodes.system_message)):
        summary = paragraph
    return re.sub(r"::$", ".", summary)


def packages(root: str) -> list[str]:
    """The public packages of ``root`` (itself included): the :data:`LAYERS` first, in that order,
    then any other one under the layer it belongs to, alphabetically."""
    package = importlib.import_module(root)
    found = [root] + [info.name for info in pkgutil.walk_packages(getattr(package, "__path__", []), f"{root}.")
                      if info.ispkg and _is_public(info.name)]

    def order(name: str) -> tuple:
        layer = max((layer for layer in LAYERS if name == layer or name.startswith(f"{layer}.")), key=len, default=None)
        return (LAYERS.index(layer) if layer else len(LAYERS), name)

    return sorted(found, key=order)


def pages(roots: tuple[str, ...] = PACKAGES) -> list[str]:
    """The packages with a page of their own: each direct subpackage of a root, and a root without
    subpackages (``emma_book``). A root with subpackages (``emma``) is documented on the overview."""
    found = []
    for root in roots:
        children = [name for name in packages(root) if name.count(".") == root.count(".") + 1]
        found += children or [root]
    return found


def page_packages(package: str, roots: tuple[str, ...] = PACKAGES) -> list[str]:
    """What the page of ``package`` (a root or one of :func:`pages`) documents: ``package`` and every
    package below it without a page of its own, in :func:`packages`' order."""
    homes = [*roots, *pages(roots)]
    if package not in homes:
        raise ValueError(f"package must be one of {homes} (the packages with a page), not {package!r}")

    def page_of(name: str) -> str:
        return max((home for home in homes if name == home or name.startswith(f"{home}.")), key=len)

    root = max((root for root in roots if package == root or package.startswith(f"{root}.")), key=len)
    return [name for name in packages(root) if page_of(name) == package]


def modules(package: str) -> list[str]:
    """The public modules of ``package`` (not its subpackages), in the order in which the
    package's docstring first links to them (with the role ``mod``), then the others alphabetically."""
    module = importlib.import_module(package)
    names = [f"{package}.{info.name}" for info in pkgutil.iter_modules(getattr(module, "__path__", []))
             if not info.ispkg and _is_public(info.name)]
    mentioned = [f"{package}.{m[1:]}" if m.startswith(".") else m for m in re.findall(r":mod:`~?([\w.]+)`", module.__doc__ or "")]
    rank = {name: i for i, name in reversed(list(enumerate(mentioned)))}
    return sorted(names, key=lambda name: (rank.get(name, len(rank)), name))


def _defined_names(module: ModuleType) -> list[str]:
    """The names a module's source binds at its top level (functions, classes, assignments), in order."""
    try:
        tree = ast.parse(inspect.getsource(module))
    except (OSError, TypeError):
        return [name for name, value in vars(module).items() if getattr(value, "__module__", None) == module.__name__]
    names: list[str] = []

    def visit(statements) -> None:
        for node in statements:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.append(node.name)
            elif isinstance(node, ast.Assign):
                names.extend(target.id for target in node.targets if isinstance(target, ast.Name))
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
                names.append(node.target.id)
            elif isinstance(node, (ast.If, ast.Try)):
                visit(node.body + getattr(node, "orelse", []) + getattr(node, "finalbody", []))

    visit(tree.body)
    return list(dict.fromkeys(names))


def public_names(module: ModuleType) -> list[str]:
    """A module's public objects: its ``__all__`` when it has one, else every name its own source
    defines at the top level (functions, classes, constants; not what it imports) without a
    leading underscore, in the order of the source."""
    if hasattr(module, "__all__"):
        return list(module.__all__)
    return [name for name in _defined_names(module) if not name.startswith("_") and not inspect.ismodule(getattr(module, name, None))]


@dataclass
class Reference:
    """What the pages document: each package's own names and re-exports, each module's names,
    and where each object is documented (``home``: the object's ``id`` -> its full documented name)."""

    packages: dict[str, list[str]] = field(default_factory=dict)  # package -> the names documented in its section
    exports: dict[str, list[str]] = field(default_factory=dict)  # package -> the full names its table links to
    modules: dict[str, list[str]] = field(default_factory=dict)  # module -> its public names
    home: dict[int, str] = field(default_factory=dict)


def reference(roots: tuple[str, ...] = PACKAGES) -> Reference:
    """Walk the packages of ``roots``: what each package's and module's section documents or links to."""
    found = Reference()
    every = [package for root in roots for package in packages(root)]
    for package in every:
        for name in modules(package):
            module = importlib.import_module(name)
            found.modules[name] = public_names(module)
            for member in found.modules[name]:
                found.home.setdefault(id(getattr(module, member)), f"{name}.{member}")
    for package in every:
        module = importlib.import_module(package)
        found.packages[package], found.exports[package] = [], []
        for member in public_names(module):
            home = found.home.get(id(getattr(module, member)))
            if home is not None and home.rsplit(".", 1)[1] == member:
                found.exports[package].append(home)
            else:  # defined in the package itself or in a private module: documented in the package's section
                found.packages[package].append(member)
                found.home.setdefault(id(getattr(module, member)), f"{package}.{member}")
    return found


def _heading(text: str, underline: str) -> list[str]:
    return ["", text, underline * len(text), ""]


def _object(module: ModuleType, full_name: str, member: str) -> list[str]:
    value = getattr(module, member)
    if inspect.isclass(value):
        return [f".. autoclass:: {full_name}", "   :members:", "   :show-inheritance:", ""]
    if callable(value):
        return [f".. autofunction:: {full_name}", ""]
    shown = repr(value)
    readable = len(shown) <= VALUE_WIDTH and not _UNREADABLE.search(shown)
    return [f".. autodata:: {full_name}", *([] if readable else ["   :no-value:"]), ""]


def _summary(names: list[str], current: str) -> list[str]:
    """A table of ``names`` (:class:`Summary`), each named relative to the ``current`` module, as
    autosummary wants it, and shown by its last component."""
    if not names:
        return []
    return [".. emma-summary::", "", *(f"   ~{name.removeprefix(current + '.')}" for name in names), ""]


HEADINGS = "-~^'"  # the underlines of the sections a page's directive writes, below the page's title


def page_lines(package: str, roots: tuple[str, ...] = PACKAGES) -> list[str]:
    """The reStructuredText ``.. emma-api:: package`` inserts, below the page's title: the package's
    docstring, its exports and its own names, a section per module, then a section per package
    below it without a page of its own (:func:`page_packages`), with its modules one level down."""
    found = reference(roots)
    lines: list[str] = []
    for name in page_packages(package, roots):
        depth = name.count(".") - package.count(".")
        module = importlib.import_module(name)
        lines += (_heading(f"``{name}``", HEADINGS[depth - 1]) if depth else []) + [f".. automodule:: {name}", ""]
        if found.exports[name]:
            lines += [".. rubric:: Exported here, documented in their module", ""] + _summary(found.exports[name], name)
        for member in found.packages[name]:
            lines += _object(module, f"{name}.{member}", member)
        for child in modules(name):
            submodule = importlib.import_module(child)
            lines += _heading(f"``{child}``", HEADINGS[depth]) + [f".. automodule:: {child}", ""]
            lines += _summary(found.modules[child], child)
            for member in found.modules[child]:
                lines += _object(submodule, f"{child}.{member}", member)
    return lines


def index_lines(roots: tuple[str, ...] = PACKAGES) -> list[str]:
    """The reStructuredText ``.. emma-api-index::`` inserts: a list of the packages with a page
    (:func:`pages`), each linked, with the first sentence of its docstring."""
    lines = []
    for name in pages(roots):
        doc = inspect.getdoc(importlib.import_module(name)) or ""
        paragraph = doc.split("\n\n", 1)[0]
        lines.append(f"* :mod:`{name}` — {first_sentence(paragraph)}" if paragraph.strip() else f"* :mod:`{name}`")
    return ["", *lines, ""]


class ApiDirective(Directive):
    """``.. emma-api:: PACKAGE``: the reference of a package with a page (:func:`page_lines`), inserted in place."""

    required_arguments = 1
    has_content = False

    def run(self) -> list:
        roots = tuple(self.state.document.settings.env.config.emma_api_packages)
        try:
            lines = page_lines(self.arguments[0], roots)
        except ValueError as error:
            raise self.error(f"emma-api: {error}") from None
        self.state_machine.insert_input(lines, self.state_machine.get_source(self.lineno))
        return []


class ApiIndexDirective(Directive):
    """``.. emma-api-index::``: the list of the reference's pages, one line each (:func:`index_lines`)."""

    has_content = False

    def run(self) -> list:
        roots = tuple(self.state.document.settings.env.config.emma_api_packages)
        self.state_machine.insert_input(index_lines(roots), self.state_machine.get_source(self.lineno))
        return []


@contextlib.contextmanager
def _summaries_by_sentence():
    """Within the block, autosummary summarizes an entry with :func:`extract_summary` (it reads the
    module's global; Sphinx reads the pages of one process one at a time)."""
    original = autosummary.extract_summary
    autosummary.extract_summary = extract_summary
    try:
        yield
    finally:
        autosummary.extract_summary = original


class Summary(autosummary.Autosummary):
    """``.. emma-summary::``, autosummary's table with two changes: an entry's summary is its first
    sentence (:func:`extract_summary`), and its signature wraps between the parameters (autosummary
    makes the first column's text non-breaking; the signature is set apart in a ``span.emma-signature``)."""

    def get_items(self, names: list[str]) -> list[tuple[str, str, str, str]]:
        with _summaries_by_sentence():
            return super().get_items(names)

    def get_table(self, items: list[tuple[str, str, str, str]]) -> list:
        made = super().get_table(items)
        for table in made:
            for row in table.findall(nodes.row):
                paragraph = row[0][0] if len(row) and len(row[0]) else None
                if not isinstance(paragraph, nodes.paragraph):
                    continue
                for index, child in enumerate(list(paragraph)):
                    if isinstance(child, nodes.Text) and child.astext().strip():
                        paragraph[index] = nodes.inline("", child.astext(), classes=["emma-signature"])
        return made
def resolve_alias(app, env, node, contnode):
    """``missing-reference``: a Python reference the page can answer although Sphinx found no
    entry of that name, resolved to where the page documents the object; else nothing.

    Tried in turn: the name as imported from the reference's module and class (a re-export such as
    ``emma.run_sweep``, ``run_sweep`` in the docstring of :mod:`emma.engine`, an inherited method
    such as ``Gaussian.apply``), then the one entry of the package whose name ends with it
    (``run_sweep`` in a module that does not import it). An ambiguous name stays unresolved."""
    if node.get("refdomain") != "py":
        return None
    domain = env.get_domain("py")
    target = node["reftarget"].lstrip("~.")
    module, cls = node.get("py:module"), node.get("py:class")
    scopes = [f"{module}.{cls}." if module and cls else None, f"{module}." if module else None, ""]
    for scope in filter(lambda scope: scope is not None, scopes):
        for full in _documented_names(scope + target, _homes(app)):
            found = domain.resolve_xref(env, node["refdoc"], app.builder, "obj", full, node, contnode)
            if found is not None:
                return found
    matches = domain.find_obj(env, module, cls, target, node.get("reftype"), 1)
    matches = [name for name, _ in matches if name.startswith(tuple(f"{root}." for root in app.config.emma_api_packages))]
    if len(matches) == 1:
        return domain.resolve_xref(env, node["refdoc"], app.builder, "obj", matches[0], node, contnode)
    return None


def _documented_names(name: str, homes: dict[int, str]) -> list[str]:
    """The names under which the page may document what ``name`` imports as: the object's own
    ``module.qualname``, and its home (:class:`Reference`) followed by the rest of ``name``."""
    parts, names = name.split("."), []
    for cut in range(len(parts), 0, -1):
        obj = _lookup(".".join(parts[:cut]))
        if obj is None:
            continue
        if cut == len(parts) and isinstance(getattr(obj, "__qualname__", None), str) and isinstance(getattr(obj, "__module__", None), str):
            names.append(f"{obj.__module__}.{obj.__qualname__}")
        home = homes.get(id(obj))
        if home is not None and home.rsplit(".", 1)[-1] == parts[cut - 1]:
            names.append(".".join([home, *parts[cut:]]))
    return [candidate for candidate in dict.fromkeys(names) if candidate != name]


def _homes(app) -> dict[int, str]:
    if not hasattr(app, "_emma_api_homes"):
        app._emma_api_homes = reference(tuple(app.config.emma_api_packages)).home
    return app._emma_api_homes


def _lookup(name: str):
    """The object a dotted name imports as, or ``None``."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except Exception:  # noqa: BLE001 - not a module (or one that cannot be imported here)
            continue
        try:
            for part in parts[cut:]:
                obj = getattr(obj, part)
        except AttributeError:
            return None
        return obj
    return None


def drop_type_docstring(app, what, name, obj, options, lines) -> None:
    """``autodoc-process-docstring``: a constant without a ``#:`` comment of its own says nothing,
    rather than the docstring of its type (``dict() -> new empty dictionary``...)."""
    if what not in ("data", "attribute") or inspect.isclass(obj) or inspect.isroutine(obj):
        return
    inherited = inspect.getdoc(type(obj))
    if lines and inherited and lines[0].strip() == inherited.splitlines()[0].strip():
        lines[:] = []


class LinkCodeNames(SphinxTransform):
    """Inline code that names an object of the packages (````emma.engine.launch.run_sweep````,
    ````emma.EMMA````, ````emma_book.build.stage````) links to its entry in the API reference, on
    every page; Sphinx leaves it plain code when the reference documents no such object."""

    default_priority = 500

    def apply(self, **kwargs) -> None:
        roots = "|".join(re.escape(root) for root in self.config.emma_api_packages)
        for literal in list(self.document.findall(nodes.literal)):
            text = literal.astext()
            if (not re.fullmatch(rf"(?:{roots})(\.\w+)+(\(\))?", text)
                    or _inside(literal, (nodes.title, nodes.reference, addnodes.pending_xref, addnodes.desc_signature))):
                continue
            xref = addnodes.pending_xref("", refdomain="py", reftype="obj", reftarget=text.removesuffix("()"),
                                         refexplicit=True, refdoc=self.env.docname)
            literal.replace_self(xref)
            xref += literal


def _inside(node, kinds: tuple) -> bool:
    while node.parent is not None:
        node = node.parent
        if isinstance(node, kinds):
            return True
    return False


def setup(app):
    """Sphinx extension: the directives ``emma-api``, ``emma-api-index`` and ``emma-summary``, and the
    resolution of re-exported names."""
    app.setup_extension("sphinx.ext.autodoc")
    app.setup_extension("sphinx.ext.autosummary")
    app.add_config_value("emma_api_packages", PACKAGES, "env", types=(list, tuple))
    app.add_directive("emma-api", ApiDirective)
    app.add_directive("emma-api-index", ApiIndexDirective)
    app.add_directive("emma-summary", Summary)
    app.connect("missing-reference", resolve_alias)
    app.add_transform(LinkCodeNames)
    app.connect("autodoc-process-docstring", drop_type_docstring, priority=400)  # before napoleon reads it
    return {"parallel_read_safe": True, "parallel_write_safe": True}
