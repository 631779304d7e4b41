"""The checks every public function applies to its arguments, in one place.

Each check returns the value in a plain Python type (numpy scalars are accepted: ``np.float32(0.1)``
is a number, ``np.int64(3)`` an integer) or raises a :class:`ValueError` that names the argument and
says what was expected. ``bool`` is never a number here, though Python counts it as one.

>>> integer(np.int64(3), "epochs", low=1)
3
>>> number(np.float32(0.5), "sigma", low=0.0)
0.5
>>> seeds([2, 0], "seeds")
[2, 0]
>>> seeds([0, 0], "seeds")
Traceback (most recent call last):
...
ValueError: seeds must not repeat a seed (0 appears twice); got [0, 0]
"""
from __future__ import annotations

import math
from typing import Iterable

import numpy as np

_INTEGERS = (int, np.integer)
_NUMBERS = (int, float, np.integer, np.floating)


def is_number(value) -> bool:
    """Whether ``value`` is a real number (Python or numpy), not a bool."""
    return isinstance(value, _NUMBERS) and not isinstance(value, (bool, np.bool_))


def integer(value, name: str, *, low: int | None = None, high: int | None = None) -> int:
    """``value`` as an int, checked against ``low <= value <= high`` (bounds optional)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, _INTEGERS):
        raise ValueError(f"{name} must be an integer{_bounds(low, high)}, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name} must be an integer{_bounds(low, high)}, got {value!r}")
    return int(value)


def positive_int(value, name: str) -> int:
    """``value`` as an int >= 1."""
    return integer(value, name, low=1)


def number(value, name: str, *, low: float | None = None, high: float | None = None, low_open: bool = False,
           high_open: bool = False) -> float:
    """``value`` as a finite float, checked against its bounds (closed unless ``low_open`` / ``high_open``)."""
    expected = f"a finite number{_bounds(low, high, low_open, high_open)}"
    if not is_number(value) or not math.isfinite(float(value)):
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    v = float(value)
    if low is not None and (v < low or (low_open and v == low)):
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    if high is not None and (v > high or (high_open and v == high)):
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return v


def fraction(value, name: str) -> float:
    """``value`` as a float in [0, 1]."""
    return number(value, name, low=0.0, high=1.0)


def one_of(value, name: str, choices: Iterable):
    """``value`` if it is one of ``choices``."""
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


def seeds(values, name: str = "seeds") -> list[int]:
    """A non-empty list of distinct non-negative integer seeds (a list or tuple, not a bare integer)."""
    if isinstance(values, (str, bytes)) or not isinstance(values, (list, tuple, np.ndarray)):
        raise ValueError(f"{name} must be a list of non-negative integers such as [0, 1, 2], got {values!r}")
    out = [integer(v, f"each of {name}", low=0) for v in values]
    if not out:
        raise ValueError(f"{name} must hold at least one seed, got {values!r}")
    repeated = sorted({s for s in out if out.count(s) > 1})
    if repeated:
        raise ValueError(f"{name} must not repeat a seed ({repeated[0]} appears twice); got {list(values)!r}")
    return out


def _bounds(low, high, low_open: bool = False, high_open: bool = False) -> str:
    if low is not None and high is not None:
        return f" in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    if low is not None:
        return f" {'>' if low_open else '>='} {low}"
    if high is not None:
        return f" {'<' if high_open else '<='} {high}"
    return ""
