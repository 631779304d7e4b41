"""The rules a chapter parameter's value must follow: its type from the chapter's default, its range or choices by name.

:func:`type_rule` reads the type from the default in the chapter's ``parameters`` cell (an ``int``
default wants an int, a list of ints a list of ints, ``None`` allows anything); :data:`RULES` holds
the ranges and choices shared by every chapter that declares a name, :data:`CHAPTER_RULES` a
chapter's own, and :func:`rule_for` picks the one that applies. :mod:`emma_book.params` checks a
run's values with them, before any kernel starts.
"""
from __future__ import annotations

import ast
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from emma.engine.protocol import SWITCH_ORDER
from emma.experiments.manifolds import MANIFOLDS

_NOTHING = object()  # a default papermill read but Python cannot evaluate as a literal: no type to check


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
