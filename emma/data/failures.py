"""How a mode fails: each failure of a sensor is an object.

A :class:`Failure` says what a mode's four columns read once its sensor fails. The thesis
knows one failure, additive Gaussian noise (:class:`Gaussian`); this module adds a dead
sensor that reads zero in raw units (:class:`Zeroed`), a mode replaced by the training mean
(:class:`MeanFilled`) and a mode taken from another sample (:class:`Swapped`).

Every failure has a *severity*, one number that grades it:

* :class:`Gaussian`: σ ≥ 0, the standard deviation of the noise added to the mode;
* the others: a fraction s ∈ [0, 1] that blends the mode towards its failed reading,
  x ← (1 − s) · x + s · x_failed, so s = 0 leaves the mode as it is and s = 1 (the
  default) is the full failure.

:meth:`Failure.apply` fails the chosen modes of the chosen rows of a standardized split;
:func:`corrupt_modes` is the thesis's scheme (50 % of samples clean, 25 % failed on IP
only, 25 % on DM only) with any failure. A failure is a frozen dataclass: its class and
fields make its :meth:`~Failure.key`, which enters cache keys; for a class defined outside
the package (in a chapter), the key also holds a digest of its code and of every value that
code reads (:func:`emma.util.fingerprint.code_fingerprint`), so editing ``failed`` or a
constant it reads is never served the results of the old one.

A new failure is a subclass that implements :meth:`Failure.failed`, what every sample's
sensors would read under it (an (n, 8) tensor in standardized units); the scheme and the
blending come from the base class:

>>> from dataclasses import dataclass
>>> @dataclass(frozen=True)
... class Saturated(Failure):
...     '''The sensor saturates at ±1 standard deviation.'''
...     severity: float = 1.0
...     def failed(self, x, generator, standardization):
...         return x.clamp(-1.0, 1.0)
>>> x = torch.tensor([[3.0] * 4 + [-3.0] * 4])
>>> Saturated().apply(x, torch.tensor([[False, True]]))
tensor([[ 3.,  3.,  3.,  3., -1., -1., -1., -1.]])
>>> Saturated(0.5).apply(x, torch.tensor([[True, False]]))[0, :4]
tensor([2., 2., 2., 2.])
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Mapping

import numpy as np
import torch

from emma.data.htru2 import FEATURE_NAMES, MODE_NAMES
from emma.util import checks
from emma.util.fingerprint import code_fingerprint

#: Columns per mode: mode m covers columns 4m .. 4m + 3.
_WIDTH = len(FEATURE_NAMES) // len(MODE_NAMES)
#: Every Failure subclass by its ``kind`` (module and qualified name), to rebuild a failure from its record.
_KINDS: dict[str, type] = {}


def _check_features(x) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError(f"x must be a floating-point torch.Tensor of shape (n, 8), got {type(x).__name__}")
    if x.dim() != 2 or x.shape[1] != len(FEATURE_NAMES):
        raise ValueError(f"x must have shape (n, {len(FEATURE_NAMES)}), got {tuple(x.shape)}")
    return x


def _gaussian(shape, generator: torch.Generator | None, like: torch.Tensor) -> torch.Tensor:
    """Standard normal noise drawn on the generator's device, moved next to ``like``."""
    device = generator.device if generator is not None else like.device
    return torch.randn(shape, generator=generator, device=device, dtype=like.dtype).to(like.device)


@dataclass(frozen=True)
class Standardization:
    """How the splits were standardized: x_std = (x_raw − mean) / std, per feature.

    Attributes
    ----------
    mean, std : numpy.ndarray
        The training split's per-feature mean and population standard deviation in raw
        units, shape (8,) (:class:`emma.data.splits.Splits` holds them).
    """

    mean: np.ndarray
    std: np.ndarray

    def __post_init__(self):
        for name in ("mean", "std"):
            value = np.asarray(getattr(self, name), dtype=np.float64)
            if value.shape != (len(FEATURE_NAMES),) or not np.isfinite(value).all():
                raise ValueError(f"{name} must be {len(FEATURE_NAMES)} finite numbers (one per feature), got shape {value.shape}")
            object.__setattr__(self, name, value)
        if (self.std <= 0).any():
            raise ValueError(f"std must be > 0 for every feature, got {self.std.tolist()}")

    @classmethod
    def of(cls, splits) -> "Standardization":
        """The standardization of :class:`emma.data.splits.Splits` (its ``mean`` and ``std``)."""
        return cls(splits.mean, splits.std)

    def standardized(self, raw) -> np.ndarray:
        """Raw values (broadcast against shape (8,)) in standardized units."""
        return (np.asarray(raw, dtype=np.float64) - self.mean) / self.std


@dataclass(frozen=True)
class Failure:
    """A failure of a mode's sensor; subclass it and implement :meth:`~Failure.failed`.

    Subclasses are frozen dataclasses whose fields define the failure. The severity is the
    field named by ``SEVERITY_FIELD`` ("severity" unless a subclass says otherwise, e.g.
    :class:`Gaussian`'s "sigma"), a fraction in [0, 1] that blends each failed mode
    towards its failed reading: x ← (1 − s) · x + s · x_failed.

    Attributes
    ----------
    kind : str
        Module and qualified name of the class (set for you): a failure's record
        (:func:`dataclasses.asdict`) carries it, so :meth:`from_record` can rebuild it.
    """

    SEVERITY_FIELD: ClassVar[str] = "severity"
    #: Largest severity allowed (inclusive); the smallest is 0.
    SEVERITY_MAX: ClassVar[float] = 1.0
    kind: str = dataclasses.field(init=False, repr=False, compare=False)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _KINDS[f"{cls.__module__}.{cls.__qualname__}"] = cls

    def __post_init__(self):
        if type(self) is Failure:
            raise TypeError("Failure is a base class: use Gaussian, Zeroed, MeanFilled, Swapped or a subclass")
        object.__setattr__(self, "kind", f"{type(self).__module__}.{type(self).__qualname__}")
        name = self.SEVERITY_FIELD
        if name not in {f.name for f in dataclasses.fields(self)}:
            raise TypeError(f"{type(self).__name__} needs a dataclass field {name!r} (its severity); is it decorated with @dataclass(frozen=True)?")
        value = getattr(self, name)
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not math.isfinite(value) \
                or not 0 <= value <= self.SEVERITY_MAX:
            bound = "a finite number >= 0" if self.SEVERITY_MAX == math.inf else f"a number in [0, {self.SEVERITY_MAX:g}]"
            raise ValueError(f"{name} must be {bound}, got {value!r}")
        object.__setattr__(self, name, float(value))

    # ------------------------------------------------------------------ what a failure is

    def failed(self, x: torch.Tensor, generator: torch.Generator | None, standardization: Standardization | None) -> torch.Tensor:
        """What every sample's sensors would read under this failure: the one method a subclass implements.

        Parameters
        ----------
        x : torch.Tensor
            A standardized split, shape (n, 8). Do not modify it.
        generator : torch.Generator or None
            Source of any randomness (the global generator when None).
        standardization : Standardization or None
            The training split's statistics, for failures defined in raw units.

        Returns
        -------
        torch.Tensor
            Shape (n, 8), standardized units. :meth:`apply` keeps only the failed modes'
            columns of the failed rows.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement failed(x, generator, standardization)")

    def apply(self, x: torch.Tensor, mask: torch.Tensor, generator: torch.Generator | None = None,
              standardization: Standardization | None = None) -> torch.Tensor:
        """Fail the modes ``mask`` marks: x ← (1 − s) · x + s · failed(x) on those columns and rows.

        Parameters
        ----------
        x : torch.Tensor
            Standardized samples, shape (n, 8). Not modified.
        mask : torch.Tensor
            Bool, shape (n, 2): ``mask[k, m]`` fails mode m (IP, DM) of sample k.
        generator : torch.Generator, optional
        standardization : Standardization, optional
            Needed by failures in raw units (:class:`Zeroed`).

        Returns
        -------
        torch.Tensor
            A copy of ``x`` with the marked modes failed, shape (n, 8).
        """
        columns = self._column_mask(x, mask)
        failed = self.failed(x, generator, standardization)
        if not isinstance(failed, torch.Tensor) or failed.shape != x.shape:
            raise ValueError(f"{type(self).__name__}.failed must return a tensor of shape {tuple(x.shape)}, got "
                             f"{tuple(failed.shape) if isinstance(failed, torch.Tensor) else type(failed).__name__}")
        s = self.severity
        return torch.where(columns, (1.0 - s) * x + s * failed.to(x.dtype), x)

    # ------------------------------------------------------------------ its identity

    @property
    def severity(self) -> float:
        """The failure's grade (the field ``SEVERITY_FIELD``)."""
        return getattr(self, self.SEVERITY_FIELD)

    def with_severity(self, severity: float) -> "Failure":
        """The same failure at another severity."""
        return dataclasses.replace(self, **{self.SEVERITY_FIELD: severity})

    @property
    def label(self) -> str:
        """A readable name, e.g. "zeroed (s = 0.5)"."""
        name = type(self).__name__.lower()
        return name if self.severity == 1.0 else f"{name} ({self.SEVERITY_FIELD[0]} = {self.severity:g})"

    def key(self) -> str:
        """A stable text that identifies the failure, for cache keys: its kind and its fields.

        For a class defined outside this module (in a chapter, or in a chapter's module of
        :mod:`emma.experiments` that ``emma-book new`` wrote), followed by
        `` code=<digest>``: :func:`emma.util.fingerprint.code_fingerprint` of the class (its
        methods' bytecode and constants, and the values of the globals and closure variables
        they read, recursively) and of the field values. Where something in it cannot be
        fingerprinted, the digest is ``<uncacheable: …>`` naming it, and
        :func:`emma.util.cache.cached` computes without the cache, with a warning.
        """
        fields = [f.name for f in dataclasses.fields(self) if f.init]
        text = f"{self.kind}({', '.join(f'{name}={getattr(self, name)!r}' for name in fields)})"
        if type(self).__module__ == __name__:
            return text  # the failures of this module: versioned with the package, keys unchanged since they were introduced
        code = code_fingerprint((type(self), {name: getattr(self, name) for name in fields}), f"failure {self.kind}")
        return f"{text} code={code}"

    @staticmethod
    def from_record(record: Mapping[str, Any]) -> "Failure":
        """Rebuild a failure from :func:`dataclasses.asdict` of it (e.g. a sweep's ``settings``)."""
        if not isinstance(record, Mapping) or record.get("kind") not in _KINDS:
            raise ValueError(f"record must be dataclasses.asdict of a Failure whose class is defined, got {record!r}")
        cls = _KINDS[record["kind"]]
        return cls(**{f.name: record[f.name] for f in dataclasses.fields(cls) if f.init})

    def _column_mask(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        _check_features(x)
        if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool or tuple(mask.shape) != (x.shape[0], len(MODE_NAMES)):
            raise ValueError(f"mask must be a bool tensor of shape ({x.shape[0]}, {len(MODE_NAMES)}), got "
                             f"{tuple(mask.shape) if isinstance(mask, torch.Tensor) else type(mask).__name__}")
        return mask.to(x.device).repeat_interleave(_WIDTH, dim=1)  # (n, 8): mode m covers columns 4m..4m+3


@dataclass(frozen=True)
class Gaussian(Failure):
    """Additive Gaussian white noise N(0, σ²) on every column of the mode (the thesis's failure).

    Its severity is σ ≥ 0 (standardized units), not a blend: x ← x + σ · ε, ε ~ N(0, 1).
    The noise of the whole split, shape (n, 8), is drawn in one call of the generator,
    so :func:`corrupt_modes` with ``Gaussian(σ)`` draws exactly what
    :func:`emma.data.noise.corrupt` always drew.
    """

    sigma: float = 0.5
    SEVERITY_FIELD: ClassVar[str] = "sigma"
    SEVERITY_MAX: ClassVar[float] = math.inf

    def failed(self, x, generator, standardization):
        return x + self.sigma * _gaussian(x.shape, generator, x)

    def apply(self, x, mask, generator=None, standardization=None):
        columns = self._column_mask(x, mask)
        noise = self.sigma * _gaussian(x.shape, generator, x)
        return x + noise * columns

    @property
    def label(self) -> str:
        return f"Gaussian noise (σ = {self.sigma:g})"


@dataclass(frozen=True)
class Zeroed(Failure):
    """The sensor reads zero in raw units: standardized, −mean / std of each feature (needs the standardization).

    This is not :class:`MeanFilled`: a raw zero lies ``mean / std`` standard deviations
    below the training mean. Severity s ∈ [0, 1] blends towards it.
    """

    severity: float = 1.0

    def failed(self, x, generator, standardization):
        if not isinstance(standardization, Standardization):
            raise ValueError("standardization: Zeroed needs the training split's Standardization (raw-unit mean and std), got "
                             f"{type(standardization).__name__}")
        zero = torch.as_tensor(standardization.standardized(np.zeros(len(FEATURE_NAMES))), dtype=x.dtype, device=x.device)
        return zero.expand_as(x)


@dataclass(frozen=True)
class MeanFilled(Failure):
    """The mode is replaced by the training mean: 0 in standardized units. Severity s ∈ [0, 1] blends towards it."""

    severity: float = 1.0

    def failed(self, x, generator, standardization):
        return torch.zeros_like(x)

    @property
    def label(self) -> str:
        return "mean-filled" if self.severity == 1.0 else f"mean-filled (s = {self.severity:g})"


@dataclass(frozen=True)
class Swapped(Failure):
    """The mode is replaced by the same mode of another sample of the same split (drawn by the generator).

    For each mode, every sample k gets a donor drawn uniformly among the n − 1 other rows;
    the failed mode reads the donor's (unfailed) values, so the mode's marginal
    distribution is the split's while its link to the class and to the other mode is
    cut. Severity s ∈ [0, 1] blends towards the donor's values.
    """

    severity: float = 1.0

    def failed(self, x, generator, standardization):
        n = x.shape[0]
        if n < 2:
            raise ValueError(f"x: Swapped needs at least 2 samples to draw a donor from, got {n}")
        device = generator.device if generator is not None else x.device
        donors = torch.randint(0, n - 1, (n, len(MODE_NAMES)), generator=generator, device=device).to(x.device)  # (n, 2)
        rows = torch.arange(n, device=x.device).unsqueeze(1)
        donors = donors + (donors >= rows).long()  # skip the sample itself: uniform over the others
        return torch.gather(x, 0, donors.repeat_interleave(_WIDTH, dim=1))  # (n, 8)


def check_failure(failure, name: str = "failure") -> Failure:
    """``failure`` if it is a :class:`Failure` instance; a TypeError naming ``name`` otherwise."""
    if not isinstance(failure, Failure):
        raise TypeError(f"{name} must be an emma.data.failures.Failure (e.g. Gaussian(0.5), Zeroed()), got {type(failure).__name__}")
    return failure


def failure_family(failure) -> Callable[[float], Failure]:
    """``severity -> Failure`` from a Failure class, a factory, or a Failure instance (taken at other severities).

    >>> failure_family(Zeroed())(0.25), failure_family(Gaussian)(2.0)
    (Zeroed(severity=0.25), Gaussian(sigma=2.0))
    """
    if isinstance(failure, Failure):
        return failure.with_severity
    if not callable(failure):
        raise TypeError(f"failure must be a Failure, a Failure class or a callable severity -> Failure, got {type(failure).__name__}")

    def family(severity: float) -> Failure:
        return check_failure(failure(severity), f"failure({severity!r})")
    return family


def fail_every_sample(x: torch.Tensor, family: Callable[[float], Failure], severities, generator: torch.Generator | None = None,
                      standardization: Standardization | None = None) -> torch.Tensor:
    """``x`` with mode m of *every* sample failed by ``family(severities[m])``, IP first, from one generator.

    A mode at severity 0 is left alone (and draws nothing). ``severities`` holds one
    severity per mode (IP, DM).
    """
    _check_features(x)
    if len(severities) != len(MODE_NAMES):
        raise ValueError(f"severities must hold one severity per mode {MODE_NAMES}, got {severities!r}")
    for m, severity in enumerate(severities):
        if severity != 0:
            mask = torch.zeros(len(x), len(MODE_NAMES), dtype=torch.bool)
            mask[:, m] = True
            x = family(float(severity)).apply(x, mask, generator, standardization)
    return x


def scheme_mask(n: int, generator: torch.Generator | None = None, clean_fraction: float = 0.5, device="cpu") -> torch.Tensor:
    """Which mode of which sample the thesis's scheme fails: bool, shape (n, 2), at most one True per row.

    ``floor(n · (1 − clean_fraction))`` samples, drawn at random (one ``randperm`` of the
    generator), fail; half of them (rounded down) on IP only, the others on DM only.

    Raises
    ------
    ValueError
        ``n`` is not an integer >= 0, or ``clean_fraction`` not a fraction in [0, 1].
    """
    n = checks.integer(n, "n (the number of samples)", low=0)
    if isinstance(clean_fraction, bool) or not isinstance(clean_fraction, (int, float)) or not 0 <= clean_fraction <= 1:
        raise ValueError(f"clean_fraction must be a fraction in [0, 1], got {clean_fraction!r}")
    n_failed = int(math.floor(n * (1 - clean_fraction) + 1e-9))
    n_ip = n_failed // 2
    order = torch.randperm(n, generator=generator, device=generator.device if generator is not None else device).to(device)
    mask = torch.zeros(n, len(MODE_NAMES), dtype=torch.bool, device=device)  # (n, modes)
    mask[order[:n_ip], 0] = True
    mask[order[n_ip:n_failed], 1] = True
    return mask


def corrupt_modes(x: torch.Tensor, failure: Failure, generator: torch.Generator | None = None, clean_fraction: float = 0.5,
                  standardization: Standardization | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The thesis's scheme with any failure: some samples clean, the others failed on exactly one mode.

    The generator first draws which samples fail (:func:`scheme_mask`), then whatever the
    failure draws (:meth:`Failure.apply`).

    Parameters
    ----------
    x : torch.Tensor
        Standardized samples, shape (n, 8). Not modified.
    failure : Failure
    generator : torch.Generator, optional
        Seed it for reproducible data.
    clean_fraction : float, default 0.5
        Fraction of samples left clean, in [0, 1].
    standardization : Standardization, optional
        The training split's statistics (needed by :class:`Zeroed`).

    Returns
    -------
    x_failed : torch.Tensor
        Shape (n, 8).
    mask : torch.Tensor
        Bool, shape (n, 2): ``mask[k, m]`` is True when mode m of sample k failed (set by
        the scheme, also at severity 0).
    """
    _check_features(x)
    check_failure(failure)
    mask = scheme_mask(x.shape[0], generator, clean_fraction, x.device)
    return failure.apply(x, mask, generator, standardization), mask
