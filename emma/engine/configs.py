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
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr!r}")
        if not self.sigma >= 0:
            raise ValueError(f"sigma must be >= 0, got {self.sigma!r}")
        if isinstance(self.failure, Mapping):  # a sweep's record: dataclasses.asdict turned the failure into a dict
            object.__setattr__(self, "failure", Failure.from_record(self.failure))
        if self.failure is not None:
            check_failure(self.failure, "failure")

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
    """The model table: ``seed, rho, lambda_c, lambda_e, protocol`` (``protocol`` filled where absent)."""
    if isinstance(configs, Mapping) or not isinstance(configs, (pd.DataFrame, list, tuple)):
        raise TypeError("configs must be a DataFrame or a list of dicts with a 'seed' (and rho, lambda_c, lambda_e)")
    if not isinstance(protocol, Protocol):
        raise TypeError(f"protocol must be an emma.engine.protocol.Protocol, got {type(protocol).__name__}")
    frame = pd.DataFrame(list(configs) if not isinstance(configs, pd.DataFrame) else configs).reset_index(drop=True)
    if len(frame) == 0 or "seed" not in frame:
        raise ValueError("configs must hold at least one model, each with a 'seed'")
    for column, default in (("rho", 1.0), ("lambda_c", 0.0), ("lambda_e", 0.0)):
        if column not in frame:
            frame[column] = default
    if "protocol" not in frame:
        frame["protocol"] = [protocol] * len(frame)
    if not all(isinstance(p, Protocol) for p in frame["protocol"]):
        raise TypeError("configs: every entry of the 'protocol' column must be a Protocol")
    frame["seed"] = frame["seed"].astype(int)
    if (frame["seed"] < 0).any():
        raise ValueError("configs: every seed must be a non-negative integer")
    if (frame["rho"] <= 0).any():
        raise ValueError("configs: every rho (coldness ρ) must be > 0")
    if (frame[["lambda_c", "lambda_e"]] < 0).any().any():
        raise ValueError("configs: lambda_c and lambda_e must be >= 0")
    first = ["seed", "rho", "lambda_c", "lambda_e", "protocol"]
    return frame[first + [c for c in frame if c not in first]]
