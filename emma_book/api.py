"""The appendix "API reference": every public object of the package, from its docstrings.

The page ``book/api.rst`` holds one directive, ``.. emma-api::``, which this Sphinx extension
(listed in ``_config.yml``) expands when the book is built: nothing is generated into the
checkout, and a module or a name added to the package appears on the page without an edit.
It writes, for each package (:func:`packages`), a section with the package's docstring and a
table of the names it exports, then a section per public module (:func:`modules`) with the
module's docstring and each of its public objects (:func:`public_names`), documented by
``sphinx.ext.autodoc`` (numpy-style docstrings read by ``sphinx.ext.napoleon``).

A name a package re-exports is documented once, in the module that defines it; a reference to
it through the package (``:func:`emma.engine.run_sweep```, or ``:func:`run_sweep``` in the
docstring of :mod:`emma.engine`) is sent there by :func:`resolve_alias`.
"""
from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
from dataclasses import dataclass, field
from types import ModuleType

from docutils import nodes
from docutils.parsers.rst import Directive
from sphinx import addnodes
from sphinx.transforms import SphinxTransform

#: The package the page documents (the Sphinx setting ``emma_api_package``, which a test changes).
PACKAGE = "emma"
#: The order of the packages on the page (the layers, as :mod:`emma` lists them); any other package follows them.
LAYERS = ("emma", "emma.method", "emma.data", "emma.engine", "emma.experiments", "emma.claims", "emma.util", "emma_book")
#: A constant's value is shown when its ``repr`` is at most this long and names no object's address or path.
VALUE_WIDTH = 60
_UNREADABLE = re.compile(r" object at 0x|PosixPath\(|WindowsPath\(|^<")


def _is_public(name: str) -> bool:
    return not any(part.startswith("_") for part in name.split("."))


def packages(root: str = PACKAGE) -> list[str]:
    """The public packages of ``root`` (itself included): the :data:`LAYERS` first, in that order,
    then any other one under the layer it belongs to, alphabetically."""
    package = importlib.import_module(root)
    found = [root] + [info.name for info in pkgutil.walk_packages(package.__path__, f"{root}.") if info.ispkg and _is_public(info.name)]

    def order(name: str) -> tuple:
        layer = max((layer for layer in LAYERS if name == layer or name.startswith(f"{layer}.")), key=len, default=None)
        return (LAYERS.index(layer) if layer else len(LAYERS), name)

    return sorted(found, key=order)


def modules(package: str) -> list[str]:
    """The public modules of ``package`` (not its subpackages), in the order in which the
    package's docstring first links to them (with the role ``mod``), then the others alphabetically."""
    module = importlib.import_module(package)
    names = [f"{package}.{info.name}" for info in pkgutil.iter_modules(module.__path__) if not info.ispkg and _is_public(info.name)]
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
    """What the page documents: each package's own names and re-exports, each module's names,
    and where each object is documented (``home``: the object's ``id`` -> its full documented name)."""

    packages: dict[str, list[str]] = field(default_factory=dict)  # package -> the names documented in its section
    exports: dict[str, list[str]] = field(default_factory=dict)  # package -> the full names its table links to
    modules: dict[str, list[str]] = field(default_factory=dict)  # module -> its public names
    home: dict[int, str] = field(default_factory=dict)


def reference(root: str = PACKAGE) -> Reference:
    """Walk the packages of ``root``: what each section of the page documents or links to."""
    found = Reference()
    for package in packages(root):
        for name in modules(package):
            module = importlib.import_module(name)
            found.modules[name] = public_names(module)
            for member in found.modules[name]:
                found.home.setdefault(id(getattr(module, member)), f"{name}.{member}")
    for package in packages(root):
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
    """A table of ``names`` (with their docstrings' first lines), each named relative to the
    ``current`` module, as autosummary wants it, and shown by its last component."""
    if not names:
        return []
    return [".. autosummary::", "", *(f"   ~{name.removeprefix(current + '.')}" for name in names), ""]


def page_lines(root: str = PACKAGE) -> list[str]:
    """The reStructuredText the directive inserts: a section per package, then one per module."""
    found = reference(root)
    lines: list[str] = []
    for package in packages(root):
        module = importlib.import_module(package)
        lines += _heading(f"``{package}``", "-") + [f".. automodule:: {package}", ""]
        if found.exports[package]:
            lines += [".. rubric:: Exported here, documented in their module", ""] + _summary(found.exports[package], package)
        for member in found.packages[package]:
            lines += _object(module, f"{package}.{member}", member)
        for name in modules(package):
            submodule = importlib.import_module(name)
            lines += _heading(f"``{name}``", "~") + [f".. automodule:: {name}", ""]
            lines += _summary(found.modules[name], name)
            for member in found.modules[name]:
                lines += _object(submodule, f"{name}.{member}", member)
    return lines


class ApiDirective(Directive):
    """The directive ``emma-api``, the whole API reference of the package ``emma_api_package``, inserted in place."""

    has_content = False

    def run(self) -> list:
        source = self.state_machine.get_source(self.lineno)
        self.state_machine.insert_input(page_lines(self.state.document.settings.env.config.emma_api_package), source)
        return []


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
    matches = [name for name, _ in matches if name.startswith(f"{app.config.emma_api_package}.")]
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
        app._emma_api_homes = reference(app.config.emma_api_package).home
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
    """Inline code that names an object of the package (````emma.engine.launch.run_sweep````,
    ````emma.EMMA````) links to its entry on the API page, on every page; Sphinx leaves it plain
    code when the page documents no such object."""

    default_priority = 500

    def apply(self, **kwargs) -> None:
        for literal in list(self.document.findall(nodes.literal)):
            text = literal.astext()
            if (not re.fullmatch(rf"{re.escape(self.config.emma_api_package)}(\.\w+)+(\(\))?", text)
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
    """Sphinx extension: the directive ``emma-api`` and the resolution of re-exported names."""
    app.setup_extension("sphinx.ext.autodoc")
    app.setup_extension("sphinx.ext.autosummary")
    app.add_config_value("emma_api_package", PACKAGE, "env")
    app.add_directive("emma-api", ApiDirective)
    app.connect("missing-reference", resolve_alias)
    app.add_transform(LinkCodeNames)
    app.connect("autodoc-process-docstring", drop_type_docstring, priority=400)  # before napoleon reads it
    return {"parallel_read_safe": True, "parallel_write_safe": True}
