"""A run's parameters: read from files and ``-p`` pairs, given to the chapters that declare them, checked before any kernel starts.

* :func:`read_parameter_file` and :func:`parse_pair` read the layers (a profile, ``-f`` files,
  ``-p KEY VALUE`` pairs, all YAML); a malformed one is a one-line ``ValueError`` naming the file
  or the pair.
* :func:`resolve_parameters` gives every chapter the parameters it declares; a key no chapter of
  the book declares (a typo) is an error naming it.
* :func:`check_sections` checks every chapter section of a file, for a chapter run or not: a
  mapping of parameters the chapter declares, each value valid.
* :func:`check_parameters` checks each resolved value against the chapter's declaration. The type
  comes from the default in the chapter's ``parameters`` cell (an ``int`` default wants an int, a
  list of ints a list of ints, a ``None`` default allows anything); the ranges and choices come
  from :data:`emma_book.rules.RULES`, shared by every chapter that declares the name, and from
  :data:`emma_book.rules.CHAPTER_RULES`, a chapter's own. Every parameter of every chapter has one
  (``tests/test_parameters.py``). The message names the chapter, the parameter, the value
  and what was expected: ``chapter 'robustness': parameter seeds = [0, 0] is invalid; expected a
  non-empty list of distinct non-negative ints``.
* :func:`absolute_paths` makes the path parameters (:data:`PATHS`) absolute, against the caller's
  working folder, before anything uses them: the kernel runs in the checkout, and every output
  must land in the one folder the caller named.
"""
from __future__ import annotations

import difflib
import os
from pathlib import Path

import yaml

from emma_book import layout
from emma_book.rules import default_value, rule_for, type_rule


def _yaml_problem(error: yaml.YAMLError) -> str:
    """One line saying what YAML found wrong, and where (line and column, 1-based)."""
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    mark = getattr(error, "problem_mark", None)
    return f"{problem} (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else problem


def read_parameter_file(path: str | os.PathLike) -> dict:
    """A YAML mapping of parameter names to values; a key naming a chapter may hold that chapter's own mapping.

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        The file is not valid YAML, or not a mapping (one line, naming the file).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"parameter file {path} does not exist")
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ValueError(f"parameter file {path} is not valid YAML: {_yaml_problem(error)}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"parameter file {path} cannot be read: {error}") from None
    if not isinstance(values, dict):
        raise ValueError(f"parameter file {path} must hold a mapping of parameter names to values, got {type(values).__name__}")
    return values


def parse_pair(key: str, value: str):
    """The value of ``-p KEY VALUE``, read as YAML; a malformed one is a ``ValueError`` naming the pair.

    >>> parse_pair("seeds", "[0, 1]")
    [0, 1]
    """
    try:
        return yaml.safe_load(value)
    except yaml.YAMLError as error:
        raise ValueError(f"-p {key} {value!r}: VALUE is not valid YAML: {_yaml_problem(error)}") from None


def _book_chapters(chapters=()) -> dict:
    """The book's chapters (``notebooks/``) and ``chapters``, by name."""
    return {c.name: c for c in [*layout.chapters(layout.ROOT / "notebooks"), *chapters]}


def _unknown_message(unknown: list[str], known) -> str:
    """``no chapter declares the parameter(s) [...]``, with the nearest declared names where one is close."""
    near = {name: difflib.get_close_matches(name, sorted(known), n=1) for name in unknown}
    hints = [f"{name!r}: did you mean {match[0]!r}?" for name, match in near.items() if match]
    return f"no chapter declares the parameter(s) {unknown}" + (f" ({'; '.join(hints)})" if hints else "")


def resolve_parameters(chapters, layers) -> tuple[dict, dict]:
    """Each chapter's parameters from ``layers`` (mappings, later ones winning), restricted to what it declares.

    Parameters
    ----------
    chapters : list of emma_book.build.Chapter
    layers : list of dict
        E.g. the profile's file, then ``-f`` files, then the ``-p`` pairs. A key equal to a
        chapter's name (``robustness``) holds parameters for that chapter only.

    Returns
    -------
    parameters : dict of chapter name to dict
    not_declared : dict of parameter name to the chapter names that do not declare it
        A key some chapter of the book declares but some of ``chapters`` do not (a profile sets
        the parameters of every chapter, whichever run).

    Raises
    ------
    ValueError
        A key no chapter declares (and that names no chapter): a typo, named, with the nearest
        declared name; a section of a chapter in ``chapters`` that is no mapping or names a
        parameter the chapter does not declare.
    """
    book = _book_chapters(chapters)
    declared = {c.name: set(c.parameters()) for c in chapters}
    everywhere = set().union(*declared.values()) if declared else set()
    anywhere = everywhere.union(*(set(c.parameters()) for name, c in book.items() if name not in declared))
    parameters = {c.name: {} for c in chapters}
    not_declared: dict[str, set] = {}
    for layer in layers:
        shared = {k: v for k, v in layer.items() if k not in book}
        unknown = sorted(set(shared) - anywhere)
        if unknown:
            raise ValueError(_unknown_message(unknown, anywhere))
        for chapter in chapters:
            own = layer.get(chapter.name) or {}
            if not isinstance(own, dict):
                raise ValueError(f"the section {chapter.name!r} of a parameter file must be a mapping, got {own!r}")
            wrong = sorted(set(own) - declared[chapter.name])
            if wrong:
                raise ValueError(f"chapter {chapter.name!r} has no parameter(s) {wrong}; it declares {sorted(declared[chapter.name])}")
            for key, value in shared.items():
                if key in declared[chapter.name]:
                    parameters[chapter.name][key] = value
                else:
                    not_declared.setdefault(key, set()).add(chapter.name)
            parameters[chapter.name].update(own)
    return parameters, {k: sorted(v) for k, v in not_declared.items()}


def check_sections(layer: dict, source: str, chapters=()) -> None:
    """Check every chapter section of ``layer`` (a parameter file), whether that chapter runs or not.

    A section must be a mapping of parameters its chapter declares, each value valid
    (:func:`problem`). ``source`` names the layer in the message (``parameter file x.yaml``).

    Raises
    ------
    ValueError
        One line: the source, the chapter and what is wrong.
    """
    if not isinstance(layer, dict):
        raise ValueError(f"{source} must hold a mapping of parameter names to values, got {type(layer).__name__}")
    for name, chapter in _book_chapters(chapters).items():
        if name not in layer:
            continue
        own = layer[name] if layer[name] is not None else {}
        if not isinstance(own, dict):
            raise ValueError(f"{source}: the section {name!r} must be a mapping of chapter {name!r}'s parameters to values, got {own!r}")
        declared = chapter.parameters()
        wrong = sorted(set(own) - set(declared))
        if wrong:
            raise ValueError(f"{source}: chapter {name!r} has no parameter(s) {wrong}; it declares {sorted(declared)}")
        for key, value in own.items():
            message = problem(key, value, declared[key], name)
            if message:
                raise ValueError(f"{source}: chapter {name!r}: {message}")


def refuse_profile(layer: dict, profile: str, source: str) -> None:
    """Refuse a ``profile`` in ``layer`` (top level or a chapter's section) that is not ``profile``, the run's ``--profile``.

    The profile picks the sizes (``profiles/<profile>.yaml``) and labels the run; set anywhere
    else, it would label one profile's sizes with another's name.
    """
    values = {"": layer.get("profile", profile)}
    values.update({name: own["profile"] for name, own in layer.items() if isinstance(own, dict) and "profile" in own})
    for where, value in values.items():
        if value != profile:
            place = f"the section {where!r} of {source}" if where else source
            wanted = f"use --profile {value}" if value in ("quick", "full") else "use --profile quick or --profile full"
            raise ValueError(f"{place} sets profile: {value!r}, but this run's profile is {profile!r} (--profile): the profile is "
                             f"chosen with --profile only; {wanted} and drop profile from the file")


#: The parameters that name a folder: made absolute against the caller's working folder (:func:`absolute_paths`).
PATHS = ("output_dir", "data_home", "cache_dir")


def absolute_paths(parameters: dict, folder: str | os.PathLike | None = None) -> dict:
    """``parameters`` (chapter name to its values) with each relative path of :data:`PATHS` made absolute against ``folder``.

    ``folder`` is the caller's working folder (the default). The kernel runs in the checkout, and
    the CLI places the executed notebook, the tables, the figures and the lock from the same
    value: an absolute path sends every output to the one folder the caller meant. A ``~`` is
    expanded. Values that are not non-empty strings are left for :func:`check_parameters` to refuse.
    """
    base = Path(folder) if folder is not None else Path.cwd()
    out = {}
    for name, values in parameters.items():
        values = dict(values)
        for key in PATHS:
            value = values.get(key)
            if isinstance(value, str) and value.strip():
                path = Path(value).expanduser()
                values[key] = os.path.normpath(path if path.is_absolute() else base / path)
        out[name] = values
    return out


def _yaml_text_hint(value) -> str:
    """A hint for a number YAML read as text (``1e12``, ``1e-3``: YAML 1.1 wants a decimal point), or nothing."""
    texts = [value] if isinstance(value, str) else [x for x in value if isinstance(x, str)] if isinstance(value, list) else []
    for text in texts:
        try:
            float(text)
        except ValueError:
            continue
        mantissa, e, exponent = text.strip().lower().partition("e")
        written = f"{mantissa if '.' in mantissa else mantissa + '.0'}{e}{exponent}"
        return f" (YAML reads {text} as text, not a number: write {written}, with a decimal point, or the number in full)"
    return ""


def problem(name: str, value, default_text: str, chapter: str | None = None) -> str | None:
    """Why ``value`` does not fit the parameter ``name`` (declared with ``default_text``), or None when it does."""
    for rule in (rule_for(name, chapter), type_rule(default_value(default_text))):  # the named rule first: it says more
        if rule is None:
            continue
        verdict = rule.accepts(value)
        if isinstance(verdict, str):
            return f"parameter {name} = {value!r} is invalid: {verdict}"
        if not verdict:
            return f"parameter {name} = {value!r} is invalid; expected {rule.expected}{_yaml_text_hint(value)}"
    return None


def check_parameters(chapters, parameters: dict) -> None:
    """Check every resolved parameter of every chapter (``parameters``: chapter name to its values).

    Raises
    ------
    ValueError
        One line: the chapter, the parameter, its value and what was expected.
    """
    for chapter in chapters:
        declared = chapter.parameters()
        for name, value in (parameters.get(chapter.name) or {}).items():
            if name in declared:
                message = problem(name, value, declared[name], chapter.name)
                if message:
                    raise ValueError(f"chapter {chapter.name!r}: {message}")
