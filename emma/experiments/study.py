"""The robustness study end to end, under one protocol or many side by side.

A *plan* lists the models to train: one row per (family, seed, configuration, protocol).
:func:`run_study` fits the autoencoders each protocol needs, then trains every family as
one batched sweep (:func:`emma.engine.launch.run_sweep`) with all the plan's protocols stacked
on the model axis, in dependency order (``base`` before ``without`` and ``with``). Rows
whose protocols agree on every field that can change a family's models
(:meth:`emma.engine.protocol.Protocol.key`) are trained once.
"""
from __future__ import annotations

import pandas as pd

from emma.engine.autoencoders import THESIS_DAE, DAESettings
from emma.engine.configs import TrainSettings
from emma.engine.energy import fit_htru2_energy_models
from emma.engine.evaluation import apply_rules, base_for, select
from emma.engine.families import FAMILIES
from emma.engine.launch import run_sweep
from emma.engine.protocol import Protocol
from emma.engine.results import SweepResult, merge_results
from emma.engine.streams import in_place_splits
from emma.util import checks
from emma.util.runtime import resolve_device, worker_pool


def plan(protocols, seeds, configs=None, families=FAMILIES) -> pd.DataFrame:
    """The models of a study: every family × seed × protocol; ``with`` also × each configuration.

    Parameters
    ----------
    protocols : Protocol or sequence of Protocol
    seeds : sequence of int
        At least one, distinct, each >= 0 (:func:`emma.util.checks.seeds`).
    configs : DataFrame or list of dict, optional
        ``rho, lambda_c, lambda_e`` of the ``with`` configurations (required when
        ``families`` has ``with``): ρ a finite number > 0, λ_c and λ_e finite and >= 0;
        a ``protocol`` column restricts a row to one protocol.
    families : sequence of str

    Raises
    ------
    ValueError
        Bad seeds, or a configuration with a missing or bad value (named ``configs[i]``).

    Examples
    --------
    >>> from emma.engine.protocol import SOUND
    >>> len(plan(SOUND, [0, 1], [{"rho": 1e-4, "lambda_c": 0.0, "lambda_e": 0.0}]))
    12
    """
    protocols = [protocols] if isinstance(protocols, Protocol) else list(protocols)
    if not protocols or not all(isinstance(p, Protocol) for p in protocols):
        raise TypeError("protocols must be a Protocol or a non-empty sequence of them")
    unknown = sorted(set(families) - set(FAMILIES))
    if unknown:
        raise ValueError(f"families must be among {FAMILIES}, got {unknown}")
    seeds = checks.seeds(seeds, "seeds")
    if configs is not None:
        configs = _check_plan_configs(configs)
    rows = []
    for family in families:
        for protocol in protocols:
            for seed in seeds:
                if family != "with":
                    rows.append({"family": family, "seed": int(seed), "rho": 1.0, "lambda_c": 0.0, "lambda_e": 0.0, "protocol": protocol})
                    continue
                if configs is None:
                    raise ValueError("a plan with the 'with' family needs configs (rho, lambda_c, lambda_e)")
                for config in configs:
                    if config.get("protocol", protocol) == protocol:
                        rows.append({"family": "with", "seed": int(seed), "rho": config["rho"], "lambda_c": config["lambda_c"],
                                     "lambda_e": config["lambda_e"], "protocol": protocol})
    return pd.DataFrame(rows)


#: The keys of a ``with`` configuration of :func:`plan`.
PLAN_CONFIG_KEYS = ("rho", "lambda_c", "lambda_e", "protocol")


def _check_plan_configs(configs) -> list[dict]:
    """The ``with`` configurations of :func:`plan` as records, each ρ > 0 and λ_c, λ_e >= 0 (all finite), no other key than :data:`PLAN_CONFIG_KEYS`."""
    if isinstance(configs, (str, bytes, dict)) or not isinstance(configs, (pd.DataFrame, list, tuple)):
        raise TypeError(f"configs must be a DataFrame or a list of dicts with rho, lambda_c and lambda_e, got {type(configs).__name__}")
    records = pd.DataFrame(configs).to_dict(orient="records") if isinstance(configs, pd.DataFrame) else list(configs)
    if not records:
        raise ValueError("configs must hold at least one configuration (rho, lambda_c, lambda_e)")
    checked = []
    for i, config in enumerate(records):
        if not isinstance(config, dict):
            raise TypeError(f"configs[{i}] must be a dict with rho, lambda_c and lambda_e, got {type(config).__name__}")
        unknown = sorted(map(str, set(config) - set(PLAN_CONFIG_KEYS)))
        if unknown:  # a typo (lamda_e) would otherwise train with lambda_e = 0
            raise ValueError(f"configs[{i}] has unknown key(s) {unknown}; a configuration holds only {list(PLAN_CONFIG_KEYS)}")
        for key in ("rho", "lambda_c", "lambda_e"):
            if key not in config:
                raise ValueError(f"configs[{i}] has no {key!r}: every configuration needs rho, lambda_c and lambda_e")
        if "protocol" in config and not isinstance(config["protocol"], Protocol):
            if not pd.isna(config["protocol"]):  # a DataFrame fills a missing protocol with nan: that row is for every protocol
                raise TypeError(f"configs[{i}]: protocol must be a Protocol, got {config['protocol']!r}")
            config = {k: v for k, v in config.items() if k != "protocol"}
        config = {**config, "rho": checks.number(config["rho"], f"configs[{i}]: rho", low=0.0, low_open=True),
                  "lambda_c": checks.number(config["lambda_c"], f"configs[{i}]: lambda_c", low=0.0),
                  "lambda_e": checks.number(config["lambda_e"], f"configs[{i}]: lambda_e", low=0.0)}
        checked.append(config)
    return checked


def fit_study_energies(splits, seeds, protocols, settings: TrainSettings, *, dae: DAESettings = THESIS_DAE, device="cpu", cache_dir=None) -> dict:
    """The energy models every (seed, protocol) of a study needs: ``{(seed, fitted_on_corrupted): EnergyModels}``.

    How it differs from :func:`emma.engine.energy.fit_htru2_energy_models`, which fits them
    (every seed and kind in one stack, cached): it reads the protocols. Under
    ``autoencoders_on_corrupted`` they are fitted on the training split carrying the seed's
    corruption draw, as the code's in-place corruption left it (appendix: original-psi-min);
    the result is keyed as :func:`run_study` looks them up.
    ``dae`` is the autoencoders' :class:`~emma.engine.autoencoders.DAESettings` (default the thesis's).
    """
    if not isinstance(dae, DAESettings):
        raise TypeError(f"dae must be a DAESettings (emma.engine.autoencoders), got {type(dae).__name__}")
    kinds = sorted({p.autoencoders_on_corrupted for p in protocols})
    keys = [(int(seed), on_corrupted) for seed in seeds for on_corrupted in kinds]
    each = [in_place_splits(splits, seed, settings) if on_corrupted else splits for seed, on_corrupted in keys]
    fitted = fit_htru2_energy_models(each, [seed for seed, _ in keys], dae=dae, device=device, cache_dir=cache_dir)  # one stack for all
    return dict(zip(keys, fitted))


def _unique(rows: pd.DataFrame, family: str) -> pd.DataFrame:
    key = rows.apply(lambda r: (r["seed"], r["rho"], r["lambda_c"], r["lambda_e"], repr(r["protocol"].key(family))), axis=1)
    return rows.loc[~key.duplicated()].reset_index(drop=True)


def run_study(splits, models: pd.DataFrame, settings: TrainSettings = TrainSettings(), *, energies, base: dict | None = None, device="cpu",
              cache_dir=None, progress=None, workers: int = 1) -> dict:
    """Train every model of a :func:`plan`; one sweep per family, every protocol stacked.

    ``base`` is a finished ``base`` sweep to start ``without`` and ``with`` from, for a plan
    without the ``base`` family, or with it for some seeds only (a second stage of a study: the
    plan's own ``base`` models are trained and both are looked up; the result's ``base`` is then
    the new one). With ``workers`` > 1 (on the CPU),
    the families that start from nothing (``ip_only``, ``dm_only``, ``base``, ``alternative``)
    train in that many worker processes at once: each sweep is independent of the others, so
    the results are the same as one after the other (tested); the small sweeps use one core
    each, and a second core would otherwise idle. The large sweeps that follow (``with``
    over a grid) are cut into ``workers`` parts trained at once (:func:`emma.engine.launch.run_sweep`).

    Returns
    -------
    dict of family to sweep result
        As :func:`emma.engine.launch.run_sweep`; look a protocol's models up with :func:`rows_for`.
    """
    if not isinstance(models, pd.DataFrame) or not {"family", "seed", "protocol"} <= set(models):
        raise TypeError("models must be the DataFrame of emma.experiments.study.plan")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    given = base
    sweeps = {} if base is None else {"base": base}
    order = [f for f in ("ip_only", "dm_only", "base", "alternative", "without", "with") if f in set(models["family"])]
    needs_base = {"without", "with"} & set(order)
    if needs_base and "base" not in order and base is None:
        raise ValueError("a plan with 'without' or 'with' needs the 'base' family too, or base=<a finished base sweep>")
    rows = {family: _unique(models[models["family"] == family].drop(columns="family"), family) for family in order}
    independent = [f for f in ("base", "alternative", "ip_only", "dm_only") if f in order]  # the longest first
    if workers > 1 and len(independent) > 1 and resolve_device(device).type == "cpu":
        with worker_pool(min(workers, len(independent))) as pool:  # no orphans if we are killed
            futures = {family: pool.submit(run_sweep, family, rows[family], splits, settings, device=device, cache_dir=cache_dir, progress=False,
                                              one_thread=True)
                       for family in independent}
            sweeps.update({family: future.result() for family, future in futures.items()})
    for family in order:
        if family in sweeps and family in independent:
            continue
        starts = merge_results([given, sweeps["base"]]) if given is not None and "base" in order else sweeps.get("base")  # given and new seeds
        base = base_for(starts, rows[family]["seed"], rows[family]["protocol"]) if family in needs_base else None
        sweeps[family] = run_sweep(family, rows[family], splits, settings, energies=energies if family == "with" else None, base=base,
                                   device=device, cache_dir=cache_dir, progress=progress, workers=workers)
    return {family: sweeps[family] for family in (["base"] if "base" in sweeps and "base" not in order else []) + order}


def _keys(result: SweepResult) -> list:
    """Each model's (seed, configuration for ``with``, protocol key) in a sweep, in its order."""
    family, table = result.family, result.table
    configs = table[["seed", "rho", "lambda_c", "lambda_e"] if family == "with" else ["seed"]].to_numpy(dtype=float)
    return [(*(round(float(v), 12) for v in row), repr(p.key(family))) for row, p in zip(configs, result.protocols)]


def _row_key(row) -> tuple:
    """A plan row's key, as :func:`_keys` gives a model's."""
    config = (row["seed"], row["rho"], row["lambda_c"], row["lambda_e"]) if row["family"] == "with" else (row["seed"],)
    return (*(round(float(v), 12) for v in config), repr(row["protocol"].key(row["family"])))


def unseen(models: pd.DataFrame, *studies) -> pd.DataFrame:
    """The rows of a :func:`plan` that none of ``studies`` (dicts of family to sweep result) has trained already.

    A row counts as trained where a sweep of its family holds the same seed and configuration
    under a protocol that agrees on every field that can change its models
    (:meth:`~emma.engine.protocol.Protocol.key`): a second stage trains only what is new.
    """
    if not isinstance(models, pd.DataFrame) or not {"family", "seed", "protocol"} <= set(models):
        raise TypeError("models must be the DataFrame of emma.experiments.study.plan")
    trained = {}
    for study in studies:
        for family, result in study.items():
            trained.setdefault(family, set()).update(_keys(result))
    seen = [_row_key(row) in trained.get(row["family"], set()) for _, row in models.iterrows()]
    return models[[not s for s in seen]].reset_index(drop=True)


def restrict(study: dict, seeds) -> dict:
    """The models of ``seeds`` in every sweep of a study (a family without any is left out)."""
    wanted = {int(s) for s in checks.seeds(seeds, "seeds")}
    out = {}
    for family, result in study.items():
        rows = [i for i, seed in enumerate(result.table["seed"]) if int(seed) in wanted]
        if rows:
            out[family] = select(result, rows)
    return out


def combine(*studies) -> dict:
    """Several studies as one: each family's sweeps merged, in order (:func:`emma.engine.results.merge_results`).

    The studies must hold different models (a second stage trains only what :func:`unseen` leaves).
    """
    families = list(dict.fromkeys(family for study in studies for family in study))
    return {family: merge_results([study[family] for study in studies if family in study and len(study[family].table)]) for family in families}


def pick(study: dict, models: pd.DataFrame) -> dict:
    """The models of a :func:`plan` looked up in a study: per family, one row per plan row, in the plan's order.

    A plan row matches a model of the same seed and configuration whose protocol agrees on every
    field that can change it (:meth:`~emma.engine.protocol.Protocol.key`); the first such model wins.

    Raises
    ------
    ValueError
        A model of the plan that the study does not hold.
    """
    if not isinstance(models, pd.DataFrame) or not {"family", "seed", "protocol"} <= set(models):
        raise TypeError("models must be the DataFrame of emma.experiments.study.plan")
    out = {}
    for family in dict.fromkeys(models["family"]):
        if family not in study:
            raise ValueError(f"the study has no {family!r} sweep")
        first = {}
        for i, key in enumerate(_keys(study[family])):
            first.setdefault(key, i)
        wanted = [_row_key(row) for _, row in models[models["family"] == family].iterrows()]
        missing = [key for key in wanted if key not in first]
        if missing:
            raise ValueError(f"the {family!r} sweep lacks {len(missing)} model(s) of the plan, e.g. seed and configuration {missing[0][:-1]}")
        out[family] = select(study[family], [first[key] for key in wanted])
    return out


def rows_for(result: SweepResult, protocol: Protocol, **config) -> list[int]:
    """Positions of the models trained under ``protocol`` (and of one configuration, when given) in a sweep."""
    family = result.family
    wanted = repr(protocol.key(family))
    table = result.table
    hits = []
    for i, p in enumerate(result.protocols):
        if repr(p.key(family)) != wanted:
            continue
        if all(abs(float(table[c].iloc[i]) - float(v)) <= 1e-12 * max(1.0, abs(float(v))) for c, v in config.items()):
            hits.append(i)
    return hits


def under(result: SweepResult, protocol: Protocol, **config) -> SweepResult:
    """The sub-sweep of :func:`rows_for`; raises when it is empty."""
    rows = rows_for(result, protocol, **config)
    if not rows:
        raise ValueError(f"the {result.family!r} sweep has no model under {protocol.label()} {config or ''}")
    return apply_rules(select(result, rows), [protocol] * len(rows))
