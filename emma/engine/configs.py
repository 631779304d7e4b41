"""What a sweep trains: the training settings shared by every protocol, and the table of models.

Examples
--------
>>> len(grid([1e-4, 1e-1], [0.0], [0.0, 1e-2], seeds=[0, 1]))
8
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping

import pandas as pd

from emma.data.failures import Failure, Gaussian, check_failure
from emma.engine.protocol import SOUND, Protocol
from emma.util import checks

#: The keys of one model's configuration (:func:`check_configs`): its seed, (ρ, λ_c, λ_e) and protocol.
CONFIG_KEYS = ("seed", "rho", "lambda_c", "lambda_e", "protocol")


@dataclass(frozen=True)
class TrainSettings:
    """The training settings shared by every protocol (thesis defaults).

    Attributes
    ----------
    epochs : int
        Upper limit of epochs (35 in the code; the text says 30).
    batch_size : int
    lr : float
        Adam's learning rate.
    sigma : float
        Noise σ of the corruption scheme (0.5, i.e. NSR −6 dB) when ``failure`` is None.
    clean_fraction : float
        Fraction of samples left clean by the scheme.
    failure : emma.data.failures.Failure, optional
        How the failed mode of a corrupted sample fails, in the training, validation and
        test streams. None (the default) means ``Gaussian(sigma)``, the thesis's noise;
        when a failure is given, ``sigma`` is not used. :func:`dataclasses.asdict` of a
        failure (as a sweep's recorded ``settings`` holds it) is accepted and rebuilt.
    """

    epochs: int = 35
    batch_size: int = 32
    lr: float = 1e-3
    sigma: float = 0.5
    clean_fraction: float = 0.5
    failure: Failure | None = None

    def __post_init__(self):
        for name in ("epochs", "batch_size"):
            checks.positive_int(getattr(self, name), name)
        checks.number(self.lr, "lr", low=0.0, low_open=True)
        checks.number(self.sigma, "sigma", low=0.0)
        checks.fraction(self.clean_fraction, "clean_fraction")
        if isinstance(self.failure, Mapping):  # a sweep's record: dataclasses.asdict turned the failure into a dict
            object.__setattr__(self, "failure", Failure.from_record(self.failure))
        if self.failure is not None:
            check_failure(self.failure, "failure")

    @classmethod
    def from_record(cls, values: Mapping) -> "TrainSettings":
        """The settings a mapping names (a sweep's recorded ``settings``, a configuration file's section).

        Raises
        ------
        ValueError
            A key that is no setting (a typo such as ``epoch``), named, with the settings there are.

        Examples
        --------
        >>> TrainSettings.from_record({"epochs": 3}).epochs
        3
        """
        if not isinstance(values, Mapping):
            raise TypeError(f"values must be a mapping of setting names to values, got {type(values).__name__}")
        fields = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(map(str, set(values) - set(fields)))
        if unknown:
            raise ValueError(f"TrainSettings has no setting(s) {unknown}; its settings are {fields}")
        return cls(**values)

    @property
    def effective_failure(self) -> Failure:
        """The failure the scheme applies: ``failure``, or ``Gaussian(sigma)`` when it is None."""
        return Gaussian(self.sigma) if self.failure is None else self.failure

    def key(self) -> dict[str, Any]:
        """The settings for a cache key: every field, ``failure`` as its :meth:`~emma.data.failures.Failure.key`.

        With the default ``failure=None`` the key is what it was before failures existed
        (the field is left out), so sweeps cached then are found again.
        """
        key = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "failure"}
        if self.failure is not None:
            key["failure"] = self.failure.key()
        return key


def grid(rhos, lambdas_c, lambdas_e, seeds) -> pd.DataFrame:
    """Every combination of (ρ, λ_c, λ_e) and seed, one row per model (seed varies slowest)."""
    rows = [
        {"seed": int(s), "rho": float(r), "lambda_c": float(c), "lambda_e": float(e)}
        for s in seeds
        for r in rhos
        for c in lambdas_c
        for e in lambdas_e
    ]
    return pd.DataFrame(rows)


def check_configs(configs, protocol: Protocol = SOUND) -> pd.DataFrame:
    """The model table: ``seed, rho, lambda_c, lambda_e, protocol`` (defaults ρ = 1, λ = 0; ``protocol`` filled where absent).

    Raises
    ------
    ValueError
        No model, a key that is none of :data:`CONFIG_KEYS` (a typo such as ``lamda_e`` would
        otherwise train with λ_e = 0; named, with the keys there are), or a bad value, named
        ``configs[i]``: a seed that is no non-negative integer, ρ that is no finite number > 0,
        λ_c or λ_e no finite number >= 0.
    TypeError
        ``configs`` is neither a DataFrame nor a list of dicts; a protocol is no Protocol.
    """
    if isinstance(configs, Mapping) or not isinstance(configs, (pd.DataFrame, list, tuple)):
        raise TypeError("configs must be a DataFrame or a list of dicts with a 'seed' (and rho, lambda_c, lambda_e)")
    if not isinstance(protocol, Protocol):
        raise TypeError(f"protocol must be an emma.engine.protocol.Protocol, got {type(protocol).__name__}")
    if not isinstance(configs, pd.DataFrame):
        for i, config in enumerate(configs):
            if not isinstance(config, Mapping):
                raise TypeError(f"configs[{i}] must be a dict with a 'seed' (and rho, lambda_c, lambda_e), got {type(config).__name__}")
    frame = pd.DataFrame(list(configs) if not isinstance(configs, pd.DataFrame) else configs).reset_index(drop=True)
    unknown = sorted(map(str, set(frame.columns) - set(CONFIG_KEYS)))
    if unknown:
        raise ValueError(f"configs: unknown key(s) {unknown}; a model's configuration holds only {list(CONFIG_KEYS)}")
    if len(frame) == 0 or "seed" not in frame:
        raise ValueError("configs must hold at least one model, each with a 'seed'")
    for column, default in (("rho", 1.0), ("lambda_c", 0.0), ("lambda_e", 0.0)):
        if column not in frame:
            frame[column] = default
    if "protocol" not in frame:
        frame["protocol"] = [protocol] * len(frame)
    if not all(isinstance(p, Protocol) for p in frame["protocol"]):
        raise TypeError("configs: every entry of the 'protocol' column must be a Protocol")
    for i, (seed, rho, lambda_c, lambda_e) in enumerate(frame[["seed", "rho", "lambda_c", "lambda_e"]].itertuples(index=False)):
        if not (checks.is_number(seed) and float(seed).is_integer() and 0 <= seed < 2**63):
            raise ValueError(f"configs[{i}]: seed must be an integer in [0, 2**63), got {seed!r}")
        checks.number(rho, f"configs[{i}]: rho (coldness ρ)", low=0.0, low_open=True)
        checks.number(lambda_c, f"configs[{i}]: lambda_c", low=0.0)
        checks.number(lambda_e, f"configs[{i}]: lambda_e", low=0.0)
    frame["seed"] = frame["seed"].astype(int)
    return frame[list(CONFIG_KEYS)]
