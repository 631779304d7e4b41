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
  from :data:`RULES`, shared by every chapter that declares the name, and from
  :data:`CHAPTER_RULES`, a chapter's own. Every parameter of every chapter has one
  (``tests/test_parameters.py``). The message names the chapter, the parameter, the value
  and what was expected: ``chapter 'robustness': parameter seeds = [0, 0] is invalid; expected a
  non-empty list of distinct non-negative ints``.
* :func:`absolute_paths` makes the path parameters (:data:`PATHS`) absolute, against the caller's
  working folder, before anything uses them: the kernel runs in the checkout, and every output
  must land in the one folder the caller named.
"""
from __future__ import annotations

import ast
import difflib
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from emma.engine.protocol import SWITCH_ORDER
from emma.experiments.manifolds import MANIFOLDS
from emma_book import layout

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


@dataclass(frozen=True)
class Rule:
    """What a parameter's value must be: ``accepts(value)`` is false, or a string saying why not, when it is not."""

    expected: str
    accepts: Callable[[object], object]


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_finite(value) -> bool:
    return _is_number(value) and math.isfinite(value)


def _span(low, high, low_open: bool = False, high_open: bool = False) -> str:
    if low is not None and high is not None:
        return f" in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    if low is not None:
        return f" {'>' if low_open else '>='} {low}"
    return f" {'<' if high_open else '<='} {high}" if high is not None else ""


def _within(value, low, high, low_open: bool = False, high_open: bool = False) -> bool:
    return ((low is None or value > low or (value == low and not low_open))
            and (high is None or value < high or (value == high and not high_open)))


def integer(low: int | None = None, high: int | None = None) -> Rule:
    """An int in ``[low, high]`` (either bound optional)."""
    return Rule(f"an int{_span(low, high)}", lambda v: _is_int(v) and _within(v, low, high))


def number(low: float | None = None, high: float | None = None, *, low_open: bool = False, high_open: bool = False) -> Rule:
    """A finite number (an int will do) within the bounds, closed unless ``low_open`` / ``high_open``."""
    return Rule(f"a finite number{_span(low, high, low_open, high_open)}", lambda v: _is_finite(v) and _within(v, low, high, low_open, high_open))


def positive() -> Rule:
    """A finite number > 0."""
    return number(0, low_open=True)


def one_of(*choices) -> Rule:
    """One of ``choices`` (strings, or ints), of the same type."""
    return Rule(f"one of {', '.join(map(str, choices))}",
                lambda v: not isinstance(v, bool) and any(type(v) is type(c) and v == c for c in choices))


def _ok(rule: Rule, value) -> bool:
    verdict = rule.accepts(value)
    return bool(verdict) and not isinstance(verdict, str)


def list_of(item: Rule, items: str, *, least: int = 1, distinct: bool = False) -> Rule:
    """A list of at least ``least`` values, each accepted by ``item`` (``items`` says what they are, plural), optionally distinct."""
    size = "non-empty " if least == 1 else ""
    count = f"at least {least} " if least > 1 else ""

    def accepts(value) -> bool:
        if not isinstance(value, list) or len(value) < least or not all(_ok(item, x) for x in value):
            return False
        return not distinct or len(set(value)) == len(value)

    return Rule(f"a {size}list of {count}{'distinct ' if distinct else ''}{items}", accepts)


def maybe(rule: Rule) -> Rule:
    """None, or what ``rule`` accepts."""
    return Rule(f"None or {rule.expected}", lambda v: v is None or rule.accepts(v))


#: The largest seed every consumer of a chapter's seeds accepts: numpy's legacy seeding and
#: scikit-learn's ``random_state`` take [0, 2**32 - 1] (torch takes more).
SEED_LIMIT = 2**32 - 1


def _seeds(value):
    if not (isinstance(value, list) and value and all(_is_int(s) and s >= 0 for s in value) and len(set(value)) == len(value)):
        return False
    large = [s for s in value if s > SEED_LIMIT]
    if large:
        return (f"seed {large[0]} is larger than {SEED_LIMIT} (2**32 - 1), the largest numpy and scikit-learn take as a seed; "
                f"expected a non-empty list of distinct ints in [0, {SEED_LIMIT}]")
    return True


def _cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def _device(value):
    if value == "cuda" and not _cuda_available():
        return "this machine has no CUDA device (torch.cuda.is_available() is False); expected auto or cpu"
    return isinstance(value, str) and value in ("auto", "cpu", "cuda")


def _path(value) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _folder(value):
    if value is None:
        return True
    if not _path(value):
        return False
    return True if Path(value).expanduser().is_dir() else f"no folder {value} exists; expected None or a folder holding HTRU_2.csv"


def _pairs(value) -> bool:
    """(g_a, b_a) pairs: g_a > 0, b_a finite."""
    return isinstance(value, list) and bool(value) and all(
        isinstance(p, (list, tuple)) and len(p) == 2 and _is_finite(p[0]) and p[0] > 0 and _is_finite(p[1]) for p in value)


def _shares(value) -> bool:
    return (isinstance(value, list) and len(value) == 3 and all(_is_finite(x) and 0 < x < 1 for x in value)
            and abs(sum(value) - 1) < 1e-9)


SEEDS = Rule("a non-empty list of distinct non-negative ints", _seeds)
SEED = integer(0, SEED_LIMIT)
PATH = Rule("a non-empty path", _path)
EPOCHS = integer(1)
_SIZE, _RATE, _NOISE, _FRACTION, _COLDNESS = integer(1), positive(), number(0), number(0, 1), positive()
_SIGMAS = list_of(number(0), "finite numbers >= 0")
_DB = list_of(number(), "finite numbers (dB)")


def _named(rule: Rule, *names: str) -> dict[str, Rule]:
    return dict.fromkeys(names, rule)


#: Rules every chapter that declares the name shares, beyond the type its default gives.
RULES: dict[str, Rule] = {
    "profile": one_of("quick", "full"),
    "device": Rule("one of auto, cpu, cuda", _device),
    "output_dir": PATH,
    "data_home": Rule("None or the path of an existing folder", _folder),
    "cache_dir": maybe(PATH),
    **_named(SEEDS, "seeds", "htru2_seeds", "confirm_seeds", "replay_seeds"),
    **_named(SEED, "split_seed", "data_seed"),
    "workers": integer(1),
    "max_points": maybe(integer(1)),
    **_named(EPOCHS, "epochs", "demo_epochs", "htru2_epochs", "htru2_dae_epochs"),
    **_named(_SIZE, "batch_size", "demo_batch_size", "htru2_batch_size", "n_train", "n_test", "demo_n_train", "demo_n_test",
             "demo_hidden", "d_hidden", "d_model", "hidden"),
    # the autoencoders' settings: None takes the chapter's named DAESettings' (emma.engine.autoencoders.DAESettings.override)
    "dae_epochs": maybe(EPOCHS), **_named(maybe(_SIZE), "dae_batch_size", "dae_hidden"), "dae_noise_std": maybe(_NOISE),
    **_named(_RATE, "lr", "alignment_lr", "memory_lr", "reversal_lr", "simulation_lr", "htru2_lr"),
    "alpha": number(0, 1, low_open=True, high_open=True),
    **_named(_NOISE, "sigma_train", "training_sigma", "htru2_sigma"),
    **_named(_FRACTION, "clean_fraction", "htru2_clean_fraction"),
    **_named(_COLDNESS, "rho", "coldness", "htru2_coldness"),
    **_named(number(0), "lambda_c", "lambda_e"),
    "rhos": list_of(positive(), "finite numbers > 0"),
    **_named(list_of(number(0), "finite numbers >= 0"), "lambdas_c", "lambdas_e"),
    "lambda_reading": one_of("slides", "thesis"),
}
#: A chapter's own rules, for the parameters only it declares or where its name means something the shared rule does not say.
CHAPTER_RULES: dict[str, dict[str, Rule]] = {
    "attention_mechanisms": {
        "loss_min_effect": positive(), "accuracy_min_effect": number(0, 1, low_open=True),
        "n_symbols": integer(2), **_named(integer(1), "min_length", "max_length", "reversal_length", "n_heads", "memory_width", "n_stories_shown"),
        "alignment_scores": list_of(one_of("additive", "dot", "general"), "score functions among additive, dot, general", distinct=True),
        **_named(integer(1), "alignment_steps", "reversal_steps", "memory_steps"),
    },
    "energy_estimation": {
        "n_figure": integer(1, 100_000), "grid_limit": positive(), **_named(integer(2, 2_000), "field_steps", "heatmap_steps"),
        "n_check_points": integer(1), **_named(positive(), "on_manifold", "off_manifold"),
    },
    "emma": {
        "boltzmann_energies": list_of(number(), "finite numbers"), **_named(positive(), "coldness_low_temperature", "coldness_high_temperature"),
        "attention_settings": Rule("a non-empty list of [g_a, b_a] pairs, g_a a finite number > 0 and b_a a finite number", _pairs),
        "shared_self_energy": positive(), "demo_widths": list_of(integer(1), "ints >= 1 (one width per mode)", least=2), "demo_latent": integer(1),
        **_named(number(0), "demo_dae_noise", "demo_corruption"), "demo_coldness": positive(),
        "check_grid": integer(2), **_named(integer(1), "check_draws", "coupling_draws", "simulation_steps"),
        "couplings": list_of(number(0), "finite numbers >= 0"), "coupling_modes": list_of(integer(2), "ints >= 2"),
    },
    "pulsar_data": {"test_size": number(0, 1, low_open=True, high_open=True), "noise_levels_db": _DB},
    "potential_energy": {
        "sigma_max": positive(), "n_sigmas": integer(2), "ood_long_epochs": list_of(integer(1), "ints >= 1", least=0),
        "n_batch": integer(1), "coupling_sigmas": _SIGMAS,
    },
    "robustness": {
        "n_curve_models": integer(1), **_named(_SIGMAS, "distribution_sigmas", "surface_sigmas", "continuum_sigmas", "both_modes_sigmas"),
        "temperature_rhos": list_of(positive(), "finite numbers > 0"), **_named(number(0), "temperature_lambda_c", "temperature_lambda_e"),
        "nsr_db_levels": _DB, "outcome_nsr_db": number(), "level_off_tolerance": number(0, 1, low_open=True), "level_off_top_k": integer(2),
        "slope_tolerance": positive(),
    },
    "replay": {
        "switch_order": Rule(f"a list of the fields {', '.join(SWITCH_ORDER)}, each once, in any order",
                             lambda v: isinstance(v, list) and sorted(map(str, v)) == sorted(SWITCH_ORDER) and all(isinstance(x, str) for x in v)),
        "forensic_emma": one_of("chosen", "all"),
    },
    "unified_model": {
        "widths": list_of(integer(1), "ints >= 1 (one width per mode)", least=2), "n_factors": integer(1),
        "corrupted_fraction": _FRACTION, "corruption_std": number(0), "htru2_fusion": one_of("early", "late"),
    },
    "many_modes": {
        "synthetic_n_modes": list_of(integer(2), "ints >= 2"), "digit_blocks": list_of(one_of(1, 2, 4), "block sides among 1, 2, 4", distinct=True),
        "max_levels": integer(1), "n_samples": integer(10), "split": Rule("three shares in (0, 1), train, validation, test, summing to 1", _shares),
        **_named(integer(1), "mode_dim", "latent_dim", "step_cost_repeats"), "n_classes": integer(2), **_named(number(0), "view_noise", "sigma"),
        "sweep_coldness": list_of(positive(), "finite numbers > 0"), "separation_level": number(0, 1, low_open=True, high_open=True),
        "step_cost_modes": list_of(integer(2), "ints >= 2"),
    },
    "conclusion": {"manifold": one_of(*MANIFOLDS), "dae_second": integer(1), "n_points": integer(1)},
    "verdicts": {"kinds": list_of(one_of("core", "secondary", "book"), "kinds among core, secondary, book", distinct=True),
                 "max_rows": integer(1)},
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


def rule_for(name: str, chapter: str | None = None) -> Rule | None:
    """The named rule of the parameter ``name`` in ``chapter``: the chapter's own (:data:`CHAPTER_RULES`), else the shared one (:data:`RULES`)."""
    return (CHAPTER_RULES.get(chapter) or {}).get(name) or RULES.get(name)


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
