"""Experiment II's confirmation stage: the chosen configurations and every baseline on many seeds.

The grid of 125 configurations runs on a few seeds, enough to choose a configuration on the
validation set. The claims are then judged on a second, independent stage: the configuration
chosen on validation, the thesis's own first configuration and every baseline, retrained on
``seeds`` (at least 20 at the thesis's settings) under the book's protocol. A difference of
0.02 F1 between two models with a seed spread of 0.03 needs about 20 seeds to be detected
with 80 % power (:func:`emma.claims.rules.detectable_effect`); five seeds detect only about
twice that.

>>> grid_edges({"rho": 1.0, "lambda_c": 0.1, "lambda_e": 0.0}, {"rho": [1e-4, 1.0], "lambda_c": [0.0, 0.1], "lambda_e": [0.0, 0.1]})
['ρ (largest value, 1)', 'λ_c (largest value, 0.1)']
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from emma.engine.autoencoders import DAESettings
from emma.engine.configs import TrainSettings
from emma.engine.evaluation import config_rows, generalisation_curves, select
from emma.engine.families import FAMILIES
from emma.engine.protocol import SOUND
from emma.engine.ranking import summarise
from emma.experiments.study import combine, fit_study_energies, pick, plan, run_study, under, unseen
from emma.util import checks

_SYMBOLS = {"rho": "ρ", "lambda_c": "λ_c", "lambda_e": "λ_e"}


def grid_edges(config: dict, axes: dict) -> list[str]:
    """The grid axes on whose largest value ``config`` lies (and ρ on its smallest), in words.

    A regularizer at 0 is switched off, not at an edge; ρ at its smallest value is an edge too,
    since the grid could go warmer. ``config`` maps ``rho``, ``lambda_c``, ``lambda_e`` to the
    chosen values; ``axes`` maps them to the grid's values.
    """
    out = []
    for name in ("rho", "lambda_c", "lambda_e"):
        values = sorted(float(v) for v in axes[name])
        chosen = float(config[name])
        if len(values) > 1 and chosen == values[-1] and chosen > 0:
            out.append(f"{_SYMBOLS[name]} (largest value, {chosen:g})")
        elif len(values) > 1 and name == "rho" and chosen == values[0]:
            out.append(f"{_SYMBOLS[name]} (smallest value, {chosen:g})")
    return out


def confirmation_configs(selected: dict, rank1: dict) -> dict:
    """The ``with`` configurations of the confirmation stage, by label: the one chosen on validation, the thesis's
    first, and the chosen one with each regularizer it uses switched off (research question 2).

    >>> list(confirmation_configs({"rho": 1.0, "lambda_c": 0.1, "lambda_e": 0.0}, {"rho": 1e-4, "lambda_c": 0.01, "lambda_e": 0.001}))
    ['with (selected)', 'with (thesis rank 1)', 'with (selected, lambda_c = 0)']
    """
    configs = {"with (selected)": dict(selected), "with (thesis rank 1)": dict(rank1)}
    for name in ("lambda_c", "lambda_e"):
        if selected[name] > 0:
            configs[f"with (selected, {name} = 0)"] = {**selected, name: 0.0}
    return configs


@dataclass
class Confirmation:
    """The confirmation stage (:func:`confirmation_study`): everything trained under the book's protocol on its seeds."""

    seeds: list
    energies: dict  # (seed, False) -> EnergyModels
    sweeps: dict  # family -> sweep result under SOUND (``with`` holds every confirmed configuration)
    configs: dict  # label -> {rho, lambda_c, lambda_e}

    def config(self, label: str) -> dict:
        """The sub-sweep of the ``with`` models at the configuration ``label``, one model per seed."""
        if label not in self.configs:
            raise ValueError(f"label must be one of {sorted(self.configs)}, got {label!r}")
        return select(self.sweeps["with"], config_rows(self.sweeps["with"], **self.configs[label]))

    def regularizer_curves(self, splits, nsr_db_levels) -> pd.DataFrame:
        """Generalisation curves of the chosen configuration with each regularizer at its chosen value ("good") and at 0
        ("none"), for the regularizers it uses: ``regularizer, level, value`` and the curves' columns."""
        frames = []
        for name in ("lambda_c", "lambda_e"):
            off = f"with (selected, {name} = 0)"
            if off not in self.configs:
                continue
            for level, label in (("good", "with (selected)"), ("none", off)):
                frame = generalisation_curves(self.config(label), splits, nsr_db_levels, energies=self.energies)
                frames.append(frame.assign(regularizer=name, level=level, value=self.configs[label][name]))
        columns = ["regularizer", "level", "value", "seed", "nsr_db", "f1"]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def confirmation_study(splits, seeds, configs: dict, settings: TrainSettings, *, dae: DAESettings, trained=(), energies=None, device="cpu", cache_dir=None,
                       workers: int = 1, progress=None) -> Confirmation:
    """Train every family and the ``with`` configurations ``configs`` under :data:`~emma.engine.protocol.SOUND` on ``seeds``.

    Parameters
    ----------
    splits : Splits
    seeds : sequence of int
        The confirmation seeds (distinct, >= 0).
    configs : dict of str to dict
        A label per configuration (e.g. ``"with (selected)"``) and its ``rho``, ``lambda_c``, ``lambda_e``.
    trained : sequence of dict of family to sweep result
        Studies whose models are read instead of trained again (the first stage's ``every``,
        :func:`emma.experiments.replay.robustness_study`, holds every baseline on these seeds).
    energies : dict, optional
        The autoencoders those models used, ``{(seed, False): EnergyModels}`` for every seed; by
        default fitted here.
    settings, dae, device, cache_dir, workers, progress
        As :func:`emma.experiments.replay.robustness_study`.
    """
    seeds = checks.seeds(seeds, "seeds")
    if not isinstance(configs, dict) or not configs:
        raise ValueError(f"configs must be a non-empty dict of label to {{rho, lambda_c, lambda_e}}, got {configs!r}")
    for label, config in configs.items():
        if not isinstance(config, dict) or set(config) != {"rho", "lambda_c", "lambda_e"}:
            raise ValueError(f"configs[{label!r}] must hold exactly rho, lambda_c and lambda_e, got {config!r}")
    if energies is None:
        energies = fit_study_energies(splits, seeds, [SOUND], settings, dae=dae, device=device, cache_dir=cache_dir)
    table = pd.DataFrame(list(configs.values())).drop_duplicates()
    models = plan([SOUND], seeds, table, families=FAMILIES)
    earlier = combine(*trained)
    new = run_study(splits, unseen(models, earlier), settings, energies=energies, base=earlier.get("base"), device=device, cache_dir=cache_dir,
                    progress=progress, workers=workers)
    found = pick(combine(earlier, new), models)  # every model of the plan, once, in its order
    return Confirmation(list(seeds), energies, {family: under(result, SOUND) for family, result in found.items()}, dict(configs))


def confirmed_table(confirmation: Confirmation, thesis: pd.DataFrame) -> pd.DataFrame:
    """Every confirmed model's test F1 over the confirmation seeds (mean, std, n) beside the thesis's number.

    ``thesis`` is :func:`emma.claims.thesis.thesis_results` (``model``, ``rho``, ``lambda_c``,
    ``lambda_e``, ``thesis_f1_<subset>``); a confirmed configuration outside the thesis's top 10
    gets no thesis number.
    """
    columns = ["thesis_f1_clean", "thesis_f1_ip_noisy", "thesis_f1_dm_noisy"]
    rows = []
    for family in ("ip_only", "dm_only", "base", "without", "alternative"):
        row = summarise(confirmation.sweeps[family].table).iloc[0].to_dict()
        rows.append({"model": family, **row, **thesis[thesis["model"] == family][columns].iloc[0].to_dict()})
    printed = thesis[thesis["model"] == "with"]
    for label, config in confirmation.configs.items():
        row = summarise(confirmation.config(label).table).iloc[0].to_dict()
        match = printed[(printed["rho"] == config["rho"]) & (printed["lambda_c"] == config["lambda_c"]) & (printed["lambda_e"] == config["lambda_e"])]
        reference = match[columns].iloc[0].to_dict() if len(match) else {c: float("nan") for c in columns}
        rows.append({**row, "model": label, **reference})
    out = pd.DataFrame(rows)
    first = ["model", "rho", "lambda_c", "lambda_e", "n_seeds"]
    return out[[c for c in first if c in out] + [c for c in out if c not in first]]
