"""A digest of code and of the values it reads: how work defined outside the package enters cache keys.

A model family or a failure written in a chapter (or any module outside the package) is keyed by
what determines its result, not by its name: :func:`code_fingerprint` digests

* a function's bytecode and constants (not its name, file or line numbers: moving code does not
  change its digest), its default arguments, the values of its closure cells and of every global
  it reads, recursively: a global that is itself a function or class defined outside the package
  is digested the same way, and of a module defined outside the package only the attributes the
  code names;
* a class's bases and everything defined in its body (methods, class attributes, dataclass fields);
* a value's content: tensors and arrays by their dtype, shape and bytes, data frames by their
  columns, index and values, containers item by item (sets and dicts in a sorted order), any other
  object by what pickling it would store (``__reduce_ex__``).

Functions, classes and modules of the package ``emma``, of the standard library and of installed
libraries are keyed by module and qualified name only (their version is in the engine's version and
the run keys), with the closure cells of a nested one. The digest is the same in every process
that defines the same code and values: no ``id()``, no ``hash()``, no memory address enters it.

What cannot be fingerprinted (an object that cannot be pickled, such as a lock or an open file, or
one that is nothing but its memory address, such as a bare ``object()``) makes the digest the text
``<uncacheable: what, where>`` instead; :func:`emma.util.cache.cached` recognises it in a key and
computes its value without reading or writing the cache, with an
:class:`emma.util.cache.UncacheableWarning` naming the object.
"""
from __future__ import annotations

import dis
import functools
import hashlib
import re
import sys
import sysconfig
import types
from pathlib import Path

#: The word that marks a digest which could not be computed: ``<uncacheable: what, where>``.
UNCACHEABLE = "uncacheable"
#: Class attributes that never change what a class computes (documentation, bookkeeping, caches).
_CLASS_SKIP = frozenset({"__dict__", "__weakref__", "__module__", "__doc__", "__qualname__", "_abc_impl", "__slotnames__",
                         "__firstlineno__", "__static_attributes__"})
#: Plain values, digested by their type and ``repr`` (never memoised: equal values are interchangeable).
_PLAIN = (type(None), bool, int, float, complex, str, bytes, type(Ellipsis), type(NotImplemented))
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_DESCRIPTORS = (types.WrapperDescriptorType, types.MethodDescriptorType, types.ClassMethodDescriptorType,
                types.GetSetDescriptorType, types.MemberDescriptorType)


class _Unfingerprintable(Exception):
    """Raised inside the walk; :func:`code_fingerprint` turns it into the ``<uncacheable: …>`` text."""


def code_fingerprint(obj, name: str | None = None) -> str:
    """A digest of ``obj``'s code and of every value it reads, stable across processes.

    Parameters
    ----------
    obj : object
        A function, a class, an instance (e.g. a :class:`emma.engine.registry.Family` or a
        :class:`emma.data.failures.Failure`), or a container of them (a dict of a dataclass's fields).
    name : str, optional
        How messages name ``obj`` (e.g. ``"family 'wide'"``); by default its qualified name or type.

    Returns
    -------
    str
        20 hexadecimal characters (SHA-256); equal for the same code and values in any process, and
        different when a function's bytecode or constants, a global or closure variable it reads
        (recursively), or a value's content changes. Where something cannot be fingerprinted, the
        text ``<uncacheable: …>`` naming it and the path that led there (see the module docstring).

    Examples
    --------
    >>> WIDTH = 4
    >>> def hidden(x):
    ...     return x[:WIDTH]
    >>> before = code_fingerprint(hidden)
    >>> WIDTH = 6
    >>> code_fingerprint(hidden) != before
    True
    >>> import threading
    >>> print(code_fingerprint({"lock": threading.Lock()}, "settings"))  # doctest: +ELLIPSIS
    <uncacheable: settings → lock (a _thread.lock) cannot be pickled (TypeError: ...)>
    """
    if name is not None and not isinstance(name, str):
        raise TypeError(f"name must be a str or None, got {type(name).__name__}")
    walker = _Walker([name or _describe(obj)])
    try:
        digest = walker.encode(obj)
    except _Unfingerprintable as problem:
        return f"<{UNCACHEABLE}: {_clean(str(problem))}>"
    except RecursionError:
        return f"<{UNCACHEABLE}: {_clean(' → '.join(walker.path[:6]))} is nested too deeply to fingerprint>"
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}".encode()  # bytecode differs between versions
    return hashlib.sha256(version + digest).hexdigest()[:20]


def _clean(text: str) -> str:
    """``text`` on one line without the marker's brackets, so that the marker can be found again in a key."""
    return " ".join(text.split()).replace("<", "‹").replace(">", "›")


def _describe(obj) -> str:
    name = getattr(obj, "__qualname__", None)
    return name if isinstance(name, str) else f"a {type(obj).__module__}.{type(obj).__qualname__}"


def _digest(tag: str, *parts: bytes) -> bytes:
    """SHA-256 of a tag and length-prefixed parts (so that no two different sequences collide)."""
    h = hashlib.sha256(tag.encode())
    for part in parts:
        h.update(len(part).to_bytes(8, "little"))
        h.update(part)
    return h.digest()


@functools.lru_cache(maxsize=None)
def _library_roots() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    roots = {paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths}
    return tuple(str(Path(p).resolve()) + "/" for p in roots)


@functools.lru_cache(maxsize=4096)
def _library_module(module: str | None) -> bool:
    """Whether ``module`` belongs to ``emma``, the standard library or an installed library (keyed by name)."""
    if not isinstance(module, str) or not module or module == "__main__":
        return False
    top = module.split(".")[0]
    if top == "emma" or top in sys.builtin_module_names or top in getattr(sys, "stdlib_module_names", ()):
        return True
    loaded = sys.modules.get(module) or sys.modules.get(top)
    file = getattr(loaded, "__file__", None)
    if not file:
        return False  # made at run time, or the __main__ of a notebook: defined outside the package
    path = str(Path(file).resolve())
    return any(part in ("site-packages", "dist-packages") for part in Path(path).parts) or path.startswith(_library_roots())


def _library_class(cls: type) -> bool:
    """A class of a library module, found there under its name (or nested in a library's function)."""
    if not _library_module(cls.__module__):
        return False
    if "<locals>" in cls.__qualname__:
        return True
    found = sys.modules.get(cls.__module__)
    for part in cls.__qualname__.split("."):
        found = getattr(found, part, None)
    return found is cls  # else made at run time (a doctest, a class redefined by exec): keyed by its content


_GLOBAL_OPS = frozenset({"LOAD_GLOBAL", "LOAD_NAME", "STORE_GLOBAL", "DELETE_GLOBAL"})


@functools.lru_cache(maxsize=4096)
def _names_read(code: types.CodeType) -> tuple[frozenset, frozenset]:
    """The global names ``code`` (and the code nested in it) reads or writes, and every name it uses (attributes among them)."""
    globals_, others = set(), set(code.co_names)
    for instruction in dis.get_instructions(code):
        if instruction.opname in _GLOBAL_OPS and isinstance(instruction.argval, str):
            globals_.add(instruction.argval)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            inner = _names_read(const)
            globals_ |= inner[0]
            others |= inner[1]
    return frozenset(globals_), frozenset(others)


class _Walker:
    """One walk over an object graph; ``memo`` numbers the objects met, so cycles and shared objects are references."""

    def __init__(self, path: list[str], memo: dict | None = None):
        self.path = path
        self.memo = {} if memo is None else dict(memo)  # id -> (position, the object, kept alive)

    # ----------------------------------------------------------------- helpers

    def fail(self, obj, reason: str):
        raise _Unfingerprintable(f"{' → '.join(self.path)} (a {type(obj).__module__}.{type(obj).__qualname__}) {reason}")

    def at(self, label: str, obj) -> bytes:
        """Encode ``obj`` with ``label`` added to the path that messages name."""
        self.path.append(label)
        try:
            return self.encode(obj)
        finally:
            self.path.pop()

    def sorted_parts(self, items, label, encode) -> list[bytes]:
        """``encode(walker, item)`` for each item by a walker of its own (a copy of the memo), sorted: the iteration order does not count."""
        parts = []
        for item in items:
            child = _Walker([*self.path, label(item)], self.memo)
            parts.append(encode(child, item))
        return sorted(parts)

    # ----------------------------------------------------------------- the dispatch

    def encode(self, obj) -> bytes:
        kind = type(obj)
        if kind in _PLAIN:
            text = obj if kind is bytes else repr(obj).encode("utf-8", "surrogatepass")
            return _digest(kind.__name__, text)
        seen = self.memo.get(id(obj))
        if seen is not None:
            return _digest("ref", str(seen[0]).encode())
        self.memo[id(obj)] = (len(self.memo), obj)
        if kind in (list, tuple):
            return _digest(kind.__name__, *(self.at(f"[{i}]", x) for i, x in enumerate(obj)))
        if kind in (dict, types.MappingProxyType):
            return _digest("dict", *self.sorted_parts(obj.items(), lambda item: _label(item[0]),
                                                      lambda walker, item: _digest("item", walker.encode(item[0]), walker.encode(item[1]))))
        if kind in (set, frozenset):
            return _digest(kind.__name__, *self.sorted_parts(obj, lambda item: "an element", _Walker.encode))
        if kind is types.CodeType:
            return self.code(obj)
        if kind is types.FunctionType:
            return self.function(obj)
        if kind is types.MethodType:
            return _digest("method", self.at("self", obj.__self__), self.encode(obj.__func__))
        if kind is types.CellType:
            try:
                return _digest("cell", self.encode(obj.cell_contents))
            except ValueError:
                return _digest("empty cell")
        if kind in (staticmethod, classmethod):
            return _digest(kind.__name__, self.encode(obj.__func__))
        if kind is property:
            return _digest("property", *(self.at(part, getattr(obj, part)) for part in ("fget", "fset", "fdel")))
        if kind is functools.cached_property:
            return _digest("cached_property", self.encode(obj.func))
        if kind is types.BuiltinFunctionType or kind in _DESCRIPTORS or kind is types.MethodWrapperType:
            return self.builtin(obj)
        if isinstance(obj, types.ModuleType):
            return self.module(obj, None)
        if isinstance(obj, type):
            return self.cls(obj)
        return self.value(obj)

    # ----------------------------------------------------------------- code

    def code(self, code: types.CodeType) -> bytes:
        """Bytecode, constants and names: what the code does, not where it is written."""
        numbers = (code.co_argcount, code.co_posonlyargcount, code.co_kwonlyargcount, code.co_flags)
        return _digest("code", code.co_code, getattr(code, "co_exceptiontable", b""), repr(numbers).encode(),
                       repr((code.co_names, code.co_varnames, code.co_freevars, code.co_cellvars)).encode(),
                       *(self.encode(const) for const in code.co_consts))

    def function(self, fn: types.FunctionType) -> bytes:
        cells = [self.at(f"closure variable {name}", cell) for name, cell in zip(fn.__code__.co_freevars, fn.__closure__ or ())]
        if _library_module(fn.__module__) and fn.__globals__ is getattr(sys.modules.get(fn.__module__), "__dict__", None):
            return _digest("library function", f"{fn.__module__}.{fn.__qualname__}".encode(), *cells)
        self.path.append(fn.__qualname__)
        try:
            names, attributes = _names_read(fn.__code__)
            scope = fn.__globals__
            globals_read = [self.global_value(name, scope[name], attributes) for name in sorted(names) if name in scope]
            return _digest("function", self.code(fn.__code__), self.at("defaults", fn.__defaults__),
                           self.at("keyword defaults", fn.__kwdefaults__), self.at("attributes", dict(fn.__dict__)), *cells, *globals_read)
        finally:
            self.path.pop()

    def global_value(self, name: str, value, attributes: frozenset) -> bytes:
        if isinstance(value, types.ModuleType):
            self.path.append(f"global {name}")
            try:
                return _digest("global", name.encode(), self.module(value, attributes))
            finally:
                self.path.pop()
        return _digest("global", name.encode(), self.at(f"global {name}", value))

    def module(self, module: types.ModuleType, names: frozenset | None) -> bytes:
        """A library module by name; one defined outside the package by the attributes the code names (all, when unknown)."""
        if _library_module(module.__name__):
            return _digest("library module", module.__name__.encode())
        space = vars(module)
        chosen = sorted(n for n in space if not n.startswith("__")) if names is None else sorted(n for n in names if n in space)
        return _digest("module", module.__name__.encode(), *(_digest(n, self.at(n, space[n])) for n in chosen))

    def builtin(self, obj) -> bytes:
        """A function or method written in C: by name, with the object it is bound to unless that is a module or class."""
        owner = getattr(obj, "__self__", None)
        name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", "?")
        if owner is None or isinstance(owner, (types.ModuleType, type)):
            module = getattr(obj, "__module__", None) or getattr(getattr(obj, "__objclass__", None), "__module__", None) \
                or getattr(owner, "__name__", None) or ""
            return _digest("builtin", f"{module}.{name}".encode())
        return _digest("bound builtin", name.encode(), self.at("bound to", owner))

    def cls(self, cls: type) -> bytes:
        if _library_class(cls):
            return _digest("library class", f"{cls.__module__}.{cls.__qualname__}".encode())
        self.path.append(f"class {cls.__qualname__}")
        try:
            meta = b"" if type(cls) is type else self.at("metaclass", type(cls))
            bases = [self.encode(base) for base in cls.__bases__]
            body = [_digest(n, self.at(n, v)) for n, v in sorted(vars(cls).items()) if n not in _CLASS_SKIP]
            return _digest("class", cls.__qualname__.encode(), meta, *bases, *body)
        finally:
            self.path.pop()

    # ----------------------------------------------------------------- values

    def value(self, obj) -> bytes:
        kind = type(obj)
        torch, numpy, pandas = (sys.modules.get(m) for m in ("torch", "numpy", "pandas"))
        if torch is not None and isinstance(obj, torch.Tensor):
            return self.tensor(obj, torch)
        if numpy is not None and isinstance(obj, (numpy.ndarray, numpy.generic)):
            return self.array(obj)
        if pandas is not None and isinstance(obj, (pandas.DataFrame, pandas.Series, pandas.Index)):
            return self.frame(obj, pandas)
        user = not _library_class(kind)
        if not user:
            name = _module_attribute(obj)
            if name is not None:  # a library's own singleton (dataclasses.MISSING, torch.float32): by name
                return _digest("library object", name.encode())
        try:
            reduced = obj.__reduce_ex__(4)
        except Exception as error:  # noqa: BLE001 - whatever stops pickling stops fingerprinting
            self.fail(obj, f"cannot be pickled ({type(error).__name__}: {_short(error)})")
        if isinstance(reduced, str):  # pickled by name; a wrapper's (functools.lru_cache) function counts too
            wrapped = getattr(obj, "__wrapped__", None)
            return _digest("global object", f"{kind.__module__}.{reduced}".encode(), b"" if wrapped is None else self.at("wrapped", wrapped))
        if not isinstance(reduced, tuple) or len(reduced) < 2:
            self.fail(obj, f"cannot be pickled (__reduce_ex__ gave {type(reduced).__name__})")
        reduced = tuple(reduced) + (None,) * (5 - len(reduced))
        rebuild, args, state, items, pairs = reduced[:5]
        bare = state is None and items is None and pairs is None and isinstance(args, tuple) and len(args) == 1 and args[0] is kind
        if not user and bare and _ADDRESS.search(repr(obj)):
            self.fail(obj, "is known by its memory address only (it has no state to fingerprint)")
        return _digest("object", self.at("type", kind), self.encode(rebuild), self.at("arguments", args), self.at("state", state),
                       self.at("items", None if items is None else list(items)), self.at("items", None if pairs is None else dict(pairs)))

    def tensor(self, t, torch) -> bytes:
        try:
            data = t.detach().cpu().resolve_conj().resolve_neg().contiguous().reshape(-1)
            try:
                raw = data.numpy().tobytes()
            except TypeError:  # a dtype numpy lacks (bfloat16): its bytes all the same
                raw = data.view(torch.uint8).numpy().tobytes()
        except Exception as error:  # noqa: BLE001 - sparse, meta or otherwise unreadable tensors
            self.fail(t, f"cannot be read ({type(error).__name__}: {_short(error)})")
        head = f"{type(t).__module__}.{type(t).__qualname__} {t.dtype} {tuple(t.shape)} {t.requires_grad}"
        return _digest("tensor", head.encode(), hashlib.sha256(raw).digest())

    def array(self, a) -> bytes:
        head = f"{type(a).__qualname__} {a.dtype.str} {getattr(a, 'shape', ())}".encode()
        if a.dtype.hasobject:
            return _digest("object array", head, self.at("values", a.tolist()))
        return _digest("array", head, hashlib.sha256(a.tobytes()).digest())

    def frame(self, obj, pandas) -> bytes:
        if isinstance(obj, pandas.Index):
            return _digest("index", type(obj).__name__.encode(), self.at("name", list(obj.names)), self.at("values", obj.to_numpy()))
        if isinstance(obj, pandas.Series):
            return _digest("series", self.at("name", obj.name), str(obj.dtype).encode(), self.at("index", obj.index),
                           self.at("values", obj.to_numpy()))
        columns = [_digest("column", str(obj[c].dtype).encode() if obj.columns.is_unique else b"", self.at(_label(c), obj.iloc[:, i].to_numpy()))
                   for i, c in enumerate(obj.columns)]
        return _digest("frame", self.at("columns", obj.columns), self.at("index", obj.index), self.at("attributes", dict(obj.attrs)), *columns)


def _label(key) -> str:
    return key if isinstance(key, str) else _short(repr(key), 60)


def _short(value, limit: int = 120) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _module_attribute(obj) -> str | None:
    """``module.name`` when ``obj`` is an attribute of its type's module (a library's singleton), else None."""
    module = sys.modules.get(type(obj).__module__)
    if module is None:
        return None
    for name, value in vars(module).items():
        if value is obj:
            return f"{module.__name__}.{name}"
    return None
