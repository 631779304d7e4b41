"""A run's parameters: read from files and ``-p`` pairs, given to the chapters that declare them, checked before any kernel starts.

* :func:`read_parameter_file` and :func:`parse_pair` read the layers (a profile, ``-f`` files,
  ``-p KEY VALUE`` pairs, all YAML); a malformed one is a one-line ``ValueError`` naming the file
  or the pair.
* :func:`resolve_parameters` gives every chapter the parameters it declares.
* :func:`check_parameters` checks each resolved value against the chapter's declaration. The type
  comes from the default in the chapter's ``parameters`` cell (an ``int`` default wants an int, a
  list of ints a list of ints, a ``None`` default allows anything); the ranges and choices come
  from :data:`RULES`, shared by every chapter that declares the name, and from
  :data:`CHAPTER_RULES`, a chapter's own. The message names the chapter, the parameter, the value
  and what was expected: ``chapter 'robustness': parameter seeds = [0, 0] is invalid; expected a
  non-empty list of distinct non-negative ints``.
"""
from __future__ import annotations

import ast
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

_NOTHING = object()  # a default papermill read but Python cannot evaluate as a literal: no type to check


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


def resolve_parameters(chapters, layers) -> tuple[dict, dict]:
    """Each chapter's parameters from ``layers`` (mappings, later ones winning), restricted to what it declares.

    Parameters
    ----------
    chapters : list of emma.book.build.Chapter
    layers : list of dict
        E.g. the profile's file, then ``-f`` files, then the ``-p`` pairs. A key equal to a
        chapter's name (``robustness``) holds parameters for that chapter only.

    Returns
    -------
    parameters : dict of chapter name to dict
    not_declared : dict of parameter name to the chapter names that do not declare it

    Raises
    ------
    ValueError
        A key no selected chapter declares (and that names no chapter).
    """
    from emma.book.build import ROOT
    from emma.book.build import chapters as book_chapters

    sections = {c.name for c in book_chapters(ROOT / "notebooks")} | {c.name for c in chapters}  # the book's chapters, and those run
    declared = {c.name: set(c.parameters()) for c in chapters}
    everywhere = set().union(*declared.values()) if declared else set()
    parameters = {c.name: {} for c in chapters}
    not_declared: dict[str, set] = {}
    for layer in layers:
        shared = {k: v for k, v in layer.items() if k not in sections}
        unknown = sorted(set(shared) - everywhere)
        if unknown:
            raise ValueError(f"no chapter selected declares the parameter(s) {unknown}")
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


@dataclass(frozen=True)
class Rule:
    """What a parameter's value must be: ``accepts(value)`` is false, or a string saying why not, when it is not."""

    expected: str
    accepts: Callable[[object], object]


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def at_least(low: float, kind: str = "int") -> Rule:
    """An int (or, ``kind="float"``, a number) no smaller than ``low``."""
    test = _is_int if kind == "int" else _is_number
    return Rule(f"{'an int' if kind == 'int' else 'a number'} >= {low}", lambda v: test(v) and v >= low)


def positive() -> Rule:
    """A number > 0."""
    return Rule("a number > 0", lambda v: _is_number(v) and v > 0)


def one_of(*choices: str) -> Rule:
    """One of the strings ``choices``."""
    return Rule(f"one of {', '.join(choices)}", lambda v: isinstance(v, str) and v in choices)


def _seeds(value) -> bool:
    return isinstance(value, list) and bool(value) and all(_is_int(s) and s >= 0 for s in value) and len(set(value)) == len(value)


def _cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def _device(value):
    if value == "cuda" and not _cuda_available():
        return "this machine has no CUDA device (torch.cuda.is_available() is False); expected auto or cpu"
    return isinstance(value, str) and value in ("auto", "cpu", "cuda")


SEEDS = Rule("a non-empty list of distinct non-negative ints", _seeds)
EPOCHS = at_least(1)
#: Rules every chapter that declares the name shares, beyond the type its default gives.
RULES: dict[str, Rule] = {
    "profile": one_of("quick", "full"),
    "device": Rule("one of auto, cpu, cuda", _device),
    "output_dir": Rule("a non-empty path", lambda v: isinstance(v, str) and bool(v.strip())),
    "seeds": SEEDS,
    "htru2_seeds": SEEDS,
    "confirm_seeds": SEEDS,
    "replay_seeds": SEEDS,
    "workers": at_least(1),
    "max_points": Rule("None or an int >= 1", lambda v: v is None or (_is_int(v) and v >= 1)),
    **{name: EPOCHS for name in ("epochs", "dae_epochs", "demo_epochs", "htru2_epochs", "htru2_dae_epochs")},
    **{name: at_least(1) for name in ("batch_size", "dae_batch_size", "demo_batch_size", "htru2_batch_size",
                                      "n_train", "n_test", "demo_n_train", "demo_n_test")},
    **{name: positive() for name in ("lr", "alignment_lr", "memory_lr", "reversal_lr", "simulation_lr", "htru2_lr")},
}
#: A chapter's own rules, where its parameter means something the shared name does not say.
CHAPTER_RULES: dict[str, dict[str, Rule]] = {
    "robustness": {"lambda_reading": one_of("slides", "thesis")},
    "replay": {"lambda_reading": one_of("slides", "thesis"), "forensic_emma": one_of("chosen", "all")},
}


def default_value(text: str):
    """The value of a default as the parameters cell writes it (``"[0, 1]"`` -> ``[0, 1]``); unknown when not a literal."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return _NOTHING


def type_rule(default) -> Rule | None:
    """The rule the default's type gives: int, float (an int will do), bool, str, a list of ints, floats or strings.

    None (and a default that is no literal) allows anything.

    >>> type_rule(3).expected, type_rule([0.1, 1]).expected
    ('an int', 'a list of numbers')
    """
    if default is None or default is _NOTHING:
        return None
    if isinstance(default, bool):
        return Rule("true or false", lambda v: isinstance(v, bool))
    if _is_int(default):
        return Rule("an int", _is_int)
    if isinstance(default, float):
        return Rule("a number", _is_number)
    if isinstance(default, str):
        return Rule("a string", lambda v: isinstance(v, str))
    if isinstance(default, list) and default:
        for test, name in ((_is_int, "ints"), (_is_number, "numbers"), (lambda x: isinstance(x, str), "strings")):
            if all(test(x) for x in default):
                return Rule(f"a list of {name}", lambda v, test=test: isinstance(v, list) and all(test(x) for x in v))
        return Rule("a list", lambda v: isinstance(v, list))
    return None


def problem(name: str, value, default_text: str, chapter: str | None = None) -> str | None:
    """Why ``value`` does not fit the parameter ``name`` (declared with ``default_text``), or None when it does."""
    named = (CHAPTER_RULES.get(chapter) or {}).get(name) or RULES.get(name)
    for rule in (named, type_rule(default_value(default_text))):  # the named rule first: it says more
        if rule is None:
            continue
        verdict = rule.accepts(value)
        if isinstance(verdict, str):
            return f"parameter {name} = {value!r} is invalid: {verdict}"
        if not verdict:
            return f"parameter {name} = {value!r} is invalid; expected {rule.expected}"
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
