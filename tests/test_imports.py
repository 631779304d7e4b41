"""The two packages' import graphs: no circle in either, imports inside functions counted; the science never imports the tooling."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def modules(package: str) -> dict[str, Path]:
    """Every module of ``package`` by dotted name (a package by its own name)."""
    out = {}
    for path in (ROOT / package).rglob("*.py"):
        parts = list(path.with_suffix("").relative_to(ROOT).parts)
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def imports(path: Path):
    """Every ``(module, names)`` ``path`` imports, at the top or inside a function (absolute imports; the packages use no others)."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []


def graph(package: str) -> dict[str, set[str]]:
    """Module -> the modules of the same package it imports (``from a import b`` with ``a.b`` a module counts as ``a.b``)."""
    known = modules(package)
    edges = {name: set() for name in known}
    for name, path in known.items():
        for module, names in imports(path):
            targets = [f"{module}.{n}" if f"{module}.{n}" in known else module for n in names] or [module]
            edges[name].update(t for t in targets if t in known and t != name)
    return edges


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_the_circle_finder_finds_a_circle_hidden_in_a_function(tmp_path, monkeypatch):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from pkg.b import f\n")
    (package / "b.py").write_text("def f():\n    from pkg import a\n    return a\n")
    (package / "c.py").write_text("import pkg.a\n")
    monkeypatch.setattr(__import__(__name__), "ROOT", tmp_path)
    assert circles(graph("pkg")) == [["pkg.a", "pkg.b"]]


@pytest.mark.parametrize("package", ["emma", "emma_book"])
def test_no_package_imports_itself_in_a_circle(package):
    assert circles(graph(package)) == []


def test_the_science_never_imports_the_tooling_and_the_tooling_takes_only_public_names():
    for path in modules("emma").values():
        assert not [m for m, _ in imports(path) if m.split(".")[0] == "emma_book"], f"{path} imports emma_book"
    private = [(path.name, module, name) for path in modules("emma_book").values() for module, names in imports(path)
               if module.split(".")[0] == "emma" for name in names if name.startswith("_")]
    assert private == []
