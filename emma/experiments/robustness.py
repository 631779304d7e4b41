"""Experiment II, the robustness study, as the chapter :doc:`Experiment II </book/chapters/06_robustness>` reads it.

Each step is one call returning a typed result with its tables:

* :func:`protocol_fields`: every field of the two protocols, side by side (also shown by the
  chapter :doc:`Explaining the thesis's numbers </book/chapters/07_replay>`);
* :func:`train`: the autoencoders and the first stage of the study
  (:func:`emma.experiments.replay.robustness_study`), both protocols stacked, as a :class:`Trained`;
* :func:`choose`: the configuration each protocol selects on its grid (:class:`Chosen`);
* :func:`headline`: the thesis's table beside ours, and the whole grid (:class:`Headline`);
* :func:`confirm`: the confirmation stage on many seeds (:class:`Confirmed`);
* :func:`capacity_tables`, :func:`beta_surface`, :func:`curves`, :func:`regularizer_curves`,
  :func:`outcomes`: what the figures of the selected EMMA draw and the chapter saves;
* :func:`decide` and :func:`judge`: every comparison under every decision rule, and the claims'
  verdicts under both protocols; :func:`findings` writes them out.

The figures are :mod:`emma.experiments.robustness_figures`'. Every function makes the same calls,
in the same order, as the chapter made them before they moved here, so no number changes.

>>> list(protocol_fields().columns[:3])
['field', 'sound', 'source']
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from emma.claims.thesis import ROBUSTNESS_FIGURE_CAPACITY, SLIDES_OUTCOMES, TEMPERATURE_CAPACITIES, TEMPERATURE_LAMBDA_C, TEMPERATURE_LAMBDA_E
from emma.data.noise import nsr_db_to_sigma, sigma_to_nsr_db
from emma.engine.autoencoders import DAESettings
from emma.engine.configs import TrainSettings, grid
from emma.engine.evaluation import config_rows, generalisation_curves, noise_response, per_sample_outcomes, select, single_mode_f1, study_curves
from emma.engine.protocol import ORIGINAL, SOUND, SWITCH_ORDER
from emma.engine.ranking import rank_grid, regularizer_levels, selected_config, summarise
from emma.experiments.confirmation import Confirmation, confirmation_configs, confirmation_study, confirmed_table, grid_edges
from emma.experiments.decision import DecisionStudy, decision_study, judge_claims_under_rules
from emma.experiments.replay import robustness_study
from emma.experiments.study import under
from emma.experiments.verdicts import both_protocols, robustness_claims, robustness_evidence, robustness_summary
from emma.util import checks

#: The baselines of the thesis's table, in its order.
BASELINES = ("ip_only", "dm_only", "base", "without", "alternative")
#: The three test subsets' F1 columns.
F1_COLUMNS = ["f1_clean", "f1_ip_noisy", "f1_dm_noisy"]
#: The thesis's numbers beside ours.
THESIS_COLUMNS = ["thesis_f1_clean", "thesis_f1_ip_noisy", "thesis_f1_dm_noisy"]
#: A model's identity and its F1 (mean and std over seeds), the first columns of :class:`Headline`'s tables.
OUT_COLUMNS = ["model", "rho", "lambda_c", "lambda_e", "n_seeds"] + [f"{c}_{s}" for c in F1_COLUMNS for s in ("mean", "std")]
_CONFIG = ["rho", "lambda_c", "lambda_e"]


def protocol_fields() -> pd.DataFrame:
    """One row per field of :class:`~emma.engine.protocol.Protocol`: ``field``, its ``sound`` and ``original`` value,
    and the ``source``, the section of the appendix :doc:`/book/original_code` that documents it."""
    fields = SOUND.table().rename(columns={"value": "sound"})
    fields["original"] = ORIGINAL.table()["value"].to_numpy()
    return fields


@dataclass
class Trained:
    """The first stage of the study (:func:`train`): every model of both protocols, and what trained them.

    ``study`` holds the grid's seeds, ``every`` every model of the stage (the confirmation's and
    the replay's seeds too); ``sweeps`` and ``original`` are ``study`` under
    :data:`~emma.engine.protocol.SOUND` and :data:`~emma.engine.protocol.ORIGINAL`; ``timing``
    the training time of each family's sweep (a saved table).
    """

    splits: object
    settings: TrainSettings
    dae: DAESettings
    seeds: list
    axes: dict  # rho, lambda_c, lambda_e -> the grid's values
    energies: dict  # (seed, fitted_on_corrupted) -> frozen energy models, every seed of the stage
    study: dict
    every: dict
    sweeps: dict
    original: dict
    timing: pd.DataFrame
    device: str = "cpu"
    cache_dir: str | None = None
    workers: int = 1

    @property
    def configs(self) -> pd.DataFrame:
        """The grid's configurations, ``rho, lambda_c, lambda_e``."""
        return grid(self.axes["rho"], self.axes["lambda_c"], self.axes["lambda_e"], [0]).drop(columns="seed")

    def psi_min(self) -> dict:
        """Ψ_min of each autoencoder pair of the grid's seeds, rounded: ``{(seed, fitted_on_corrupted): [Ψ_IP, Ψ_DM]}``."""
        return {k: [round(v, 2) for v in e.psi_min.tolist()] for k, e in self.energies.items() if k[0] in self.seeds}


def train(splits, settings: TrainSettings, *, dae: DAESettings, seeds, rhos, lambdas_c, lambdas_e, confirm_seeds=(), replay_seeds=(), thesis_configs=None,
          order=SWITCH_ORDER, device="cpu", cache_dir=None, workers: int = 1) -> Trained:
    """The autoencoders and every model of the study's first stage (:func:`emma.experiments.replay.robustness_study`).

    Parameters
    ----------
    splits : Splits
    settings : TrainSettings
    dae : DAESettings
        The autoencoders' settings (:data:`emma.engine.autoencoders.THESIS_DAE`, as the chapter overrides it).
    seeds : sequence of int
        The grid's seeds.
    rhos, lambdas_c, lambdas_e : sequence of float
        The grid's axes; every combination is one EMMA configuration.
    confirm_seeds, replay_seeds, thesis_configs, order, device, cache_dir, workers
        As :func:`emma.experiments.replay.robustness_study`; both chapters pass the same, so the
        second reads the first's models from ``cache_dir``.
    """
    seeds = checks.seeds(seeds, "seeds")
    axes = {}
    for name, values in (("rho", rhos), ("lambda_c", lambdas_c), ("lambda_e", lambdas_e)):
        if isinstance(values, (str, bytes)) or not hasattr(values, "__len__") or not len(values):
            raise ValueError(f"{name} values must be a non-empty sequence of numbers, got {values!r}")
        axes[name] = list(values)
    configs = grid(axes["rho"], axes["lambda_c"], axes["lambda_e"], [0]).drop(columns="seed")
    energies, study, every = robustness_study(splits, seeds, configs, settings, dae=dae, order=order, confirm_seeds=confirm_seeds,
                                              replay_seeds=replay_seeds, thesis_configs=thesis_configs, device=device, cache_dir=cache_dir,
                                              workers=workers)
    timing = pd.DataFrame([{"family": f, "models (every seed and protocol)": len(r.table), "training_seconds": round(r.seconds, 1)}
                           for f, r in every.items()])
    return Trained(splits, settings, dae, list(seeds), axes, energies, study, every, {f: under(r, SOUND) for f, r in study.items()},
                   {f: under(r, ORIGINAL) for f, r in study.items()}, timing, device, cache_dir, workers)


@dataclass
class Chosen:
    """The configuration each protocol selects on its grid (:func:`choose`).

    ``grid``: :func:`emma.engine.ranking.rank_grid` of the book's protocol with ``test_score``
    (mean noisy-test F1); ``config`` its pick on validation, ``row`` that configuration's row and
    ``sweep`` its models; ``original_grid``, ``original_config`` and ``original_sweep`` the same
    under the original code's protocol, which picks on the test set.
    """

    grid: pd.DataFrame
    config: dict
    row: pd.Series
    sweep: object
    original_grid: pd.DataFrame
    original_config: dict
    original_sweep: object

    def __str__(self) -> str:
        return (f"selected on validation: {self.config} (rank by the thesis's test-set procedure: {int(self.row['rank_test'])})\n"
                f"selected by the original protocol (test set): {self.original_config}")

    @property
    def original_capacity(self) -> float:
        """The mean learned capacity of the original protocol's pick."""
        return self.original_grid.set_index(_CONFIG).loc[tuple(self.original_config.values()), "capacity_mean"]


def choose(trained: Trained) -> Chosen:
    """Each protocol's selected configuration (by its ``selection`` rule) on the grid of :func:`train`."""
    if not isinstance(trained, Trained):
        raise TypeError(f"trained must be the Trained of train(), got {type(trained).__name__}")
    sweeps, original = trained.sweeps, trained.original
    ranked = rank_grid(sweeps["with"].table)
    ranked["test_score"] = ranked[["f1_ip_noisy_mean", "f1_dm_noisy_mean"]].mean(axis=1)
    config = selected_config(ranked, SOUND.selection)
    row = ranked[np.isclose(ranked["rho"], config["rho"]) & np.isclose(ranked["lambda_c"], config["lambda_c"])
                 & np.isclose(ranked["lambda_e"], config["lambda_e"])].iloc[0]
    best = select(sweeps["with"], config_rows(sweeps["with"], **config))
    original_grid = rank_grid(original["with"].table)
    original_config = selected_config(original_grid, ORIGINAL.selection)
    return Chosen(ranked, config, row, best, original_grid, original_config,
                  select(original["with"], config_rows(original["with"], **original_config)))


@dataclass
class Headline:
    """The chapter's results (:func:`headline`): ``table`` (saved as ``robustness_f1``) puts the baselines, the thesis's
    ten configurations and the one selected on validation beside the thesis's numbers; ``grid`` (``robustness_grid``)
    is every configuration in the order of the validation ranking; ``baselines`` the baselines' rows."""

    table: pd.DataFrame
    grid: pd.DataFrame
    baselines: pd.DataFrame


def headline(trained: Trained, chosen: Chosen, thesis: pd.DataFrame) -> Headline:
    """Our F1 (mean and std over the grid's seeds, book's protocol) beside the thesis's table (:func:`emma.claims.thesis.thesis_results`)."""
    if not isinstance(thesis, pd.DataFrame) or not {"model", "thesis_rank", *_CONFIG, *THESIS_COLUMNS} <= set(thesis.columns):
        raise ValueError("thesis must be the table of emma.claims.thesis.thesis_results")
    baseline_rows = []
    for family in BASELINES:
        row = summarise(trained.sweeps[family].table).iloc[0].to_dict()
        row.update({"rho": np.nan, "lambda_c": np.nan, "lambda_e": np.nan})
        row.update(thesis[thesis["model"] == family][THESIS_COLUMNS].iloc[0].to_dict())
        baseline_rows.append(row)
    baselines = pd.DataFrame(baseline_rows)
    thesis_with = thesis[thesis["model"] == "with"].drop(columns="model")
    top10 = thesis_with.merge(chosen.grid, on=_CONFIG, how="left")
    top10["model"] = "with (thesis top 10, rank " + top10["thesis_rank"].astype(int).astype(str) + ")"
    selected_row = chosen.grid[chosen.grid["rank_validation"] == 1].copy()
    selected_row["model"] = "with (selected on validation)"
    selected_row = selected_row.merge(thesis_with, on=_CONFIG, how="left")
    table = pd.concat([baselines, top10, selected_row], ignore_index=True)[OUT_COLUMNS + THESIS_COLUMNS + ["rank_validation", "rank_test", "capacity_mean"]]
    ranked = chosen.grid.merge(thesis_with, on=_CONFIG, how="left")
    ranked = ranked[OUT_COLUMNS + THESIS_COLUMNS + ["validation_score", "rank_validation", "test_score", "rank_test", "capacity_mean", "capacity_std"]]
    return Headline(table, ranked.sort_values("rank_validation"), baselines)


@dataclass
class Confirmed:
    """The confirmation stage (:func:`confirm`): ``stage`` (:class:`~emma.experiments.confirmation.Confirmation`), ``best``
    the selected configuration's models on its seeds, ``table`` (saved as ``robustness_confirmed``), ``rank1`` the thesis's first configuration."""

    stage: Confirmation
    best: object
    table: pd.DataFrame
    rank1: dict


def confirm(trained: Trained, chosen: Chosen, thesis: pd.DataFrame, seeds) -> Confirmed:
    """The selected and the thesis's first configuration, each regularizer of the selected one switched off, and every
    baseline, under the book's protocol on ``seeds`` (:func:`emma.experiments.confirmation.confirmation_study`; the
    baselines are read from the first stage)."""
    thesis_with = thesis[thesis["model"] == "with"].drop(columns="model")
    rank1 = thesis_with.loc[thesis_with["thesis_rank"] == 1, _CONFIG].iloc[0].to_dict()
    stage = confirmation_study(trained.splits, seeds, confirmation_configs(chosen.config, rank1), trained.settings, dae=trained.dae,
                               trained=[trained.every], energies=trained.energies, device=trained.device, cache_dir=trained.cache_dir,
                               workers=trained.workers)
    return Confirmed(stage, stage.config("with (selected)"), confirmed_table(stage, thesis), rank1)


def capacity_tables(trained: Trained, chosen: Chosen) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The learned capacities: every configuration's over seeds (``robustness_capacity``), and ours beside the three the
    thesis reports (``robustness_capacity_reported``)."""
    best_config, best = chosen.config, chosen.row
    capacities = summarise(trained.sweeps["with"].table, columns=["capacity", "capacity_relu"])
    capacities["capacity_selected"] = (np.isclose(capacities["rho"], best_config["rho"]) & np.isclose(capacities["lambda_c"], best_config["lambda_c"])
                                       & np.isclose(capacities["lambda_e"], best_config["lambda_e"]))
    reported = [{"model": f"ρ = {rho:g}, λ_e = {TEMPERATURE_LAMBDA_E:g}, λ_c = {TEMPERATURE_LAMBDA_C:g}", "rho": rho, "lambda_c": TEMPERATURE_LAMBDA_C,
                 "lambda_e": TEMPERATURE_LAMBDA_E, "thesis_capacity": value} for rho, value in TEMPERATURE_CAPACITIES.items()]
    reported = pd.DataFrame(reported).merge(capacities[[*_CONFIG, "capacity_mean", "capacity_std"]], on=_CONFIG, how="left")
    reported = pd.concat([reported, pd.DataFrame([{"model": "the model of the robustness figure (ours: the selected one)",
                                                   "thesis_capacity": ROBUSTNESS_FIGURE_CAPACITY, "capacity_mean": best["capacity_mean"],
                                                   "capacity_std": best["capacity_std"]}])], ignore_index=True)
    return capacities, reported


def beta_surface(trained: Trained, chosen: Chosen, sigmas) -> pd.DataFrame:
    """Mean β_IP and β_DM of the selected EMMA over the test samples and seeds, every sample noisy at each (σ_IP, σ_DM) of ``sigmas`` × ``sigmas``."""
    pairs = [(a, b) for a in sigmas for b in sigmas]
    response = noise_response(chosen.sweep, trained.splits, pairs, energies=trained.energies, f1=False)
    return response.groupby(["sigma_ip", "sigma_dm"])[["beta_ip", "beta_dm"]].mean().reset_index()


@dataclass
class Curves:
    """The generalisation curves (:func:`curves`) of each protocol, and the single-mode F1 they are read against."""

    sound: pd.DataFrame  # the confirmation stage's families, the selected EMMA
    original: pd.DataFrame  # the original protocol's families on the grid's seeds, its own pick
    single_mode: dict
    original_single_mode: dict

    def table(self) -> pd.DataFrame:
        """Both protocols' curves in one table (``robustness_generalisation``), a ``protocol`` column telling them apart."""
        return pd.concat([self.sound.assign(protocol="sound"), self.original.assign(protocol="original")])


def curves(trained: Trained, chosen: Chosen, confirmed: Confirmed, nsr_db_levels) -> Curves:
    """F1 and β of base, without, alternative and the selected EMMA when every test sample has one mode corrupted at each NSR."""
    stage = confirmed.stage
    sound = study_curves(stage.sweeps, confirmed.best, trained.splits, nsr_db_levels, energies=stage.energies)
    original = study_curves(trained.original, chosen.original_sweep, trained.splits, nsr_db_levels, energies=trained.energies)
    return Curves(sound, original, single_mode_f1(stage.sweeps, trained.splits), single_mode_f1(trained.original, trained.splits))


def regularizer_curves(trained: Trained, chosen: Chosen, nsr_db_levels) -> pd.DataFrame:
    """Generalisation curves of the selected configuration with λ_c, then λ_e, at "none", "good" and "high"
    (:func:`emma.engine.ranking.regularizer_levels`), the rest held: ``regularizer, level, value`` and the curves' columns."""
    frames = []
    for name in ("lambda_c", "lambda_e"):
        for tag, value in regularizer_levels(chosen.grid, chosen.config, name, trained.axes[name]).items():
            rows = config_rows(trained.sweeps["with"], **{**chosen.config, name: value})
            if not rows:
                continue
            frame = generalisation_curves(select(trained.sweeps["with"], rows), trained.splits, nsr_db_levels, energies=trained.energies)
            frames.append(frame.assign(regularizer=name, level=tag, value=value))
    return pd.concat(frames, ignore_index=True)


def outcomes(trained: Trained, chosen: Chosen, nsr_db: float) -> pd.DataFrame:
    """The rate of correct and wrong predictions of the selected EMMA per class and case at ``nsr_db`` under the
    training scheme, mean and std over seeds, beside the slides' (``robustness_outcomes_5db``)."""
    samples = per_sample_outcomes(chosen.sweep, trained.splits, float(nsr_db_to_sigma(nsr_db)), energies=trained.energies,
                                  clean_fraction=trained.settings.clean_fraction)
    samples["class"] = np.where(samples["pulsar"], "pulsar", "non-pulsar")
    per_seed = samples.groupby(["class", "case", "seed"])["correct"].mean().reset_index()
    table = per_seed.groupby(["class", "case"])["correct"].agg(["mean", "std"]).reset_index()
    table.columns = ["class", "case", "rate_correct_mean", "rate_correct_std"]
    table["rate_wrong_mean"] = 1 - table["rate_correct_mean"]
    table["slides_rate_correct"] = [SLIDES_OUTCOMES[(c, k)] for c, k in zip(table["class"], table["case"])]
    table["slides_rate_wrong"] = 1 - table["slides_rate_correct"]
    return table.sort_values(["class", "case"], ascending=[False, True]).reset_index(drop=True)


def decide(trained: Trained, chosen: Chosen, confirmed: Confirmed, curves: Curves, thesis: pd.DataFrame, *, alpha: float = 0.05) -> DecisionStudy:
    """Every comparison of the thesis under every decision rule, for both protocols (:func:`emma.experiments.decision.decision_study`):
    the book's on the confirmation seeds against the thesis's first configuration, the original code's on the grid's seeds
    against the thesis's ten."""
    return decision_study({"sound": (confirmed.stage.sweeps, confirmed.best), "original": (trained.original, chosen.original_sweep)}, trained.splits,
                          energies={**trained.energies, **confirmed.stage.energies},
                          top10={"sound": pd.DataFrame([confirmed.rank1]), "original": thesis[thesis["model"] == "with"]}, alpha=alpha,
                          curves={"sound": curves.sound, "original": curves.original}, training_nsr_db=sigma_to_nsr_db(trained.settings.sigma))


def judge(trained: Trained, chosen: Chosen, confirmed: Confirmed, curves: Curves, decision: DecisionStudy, nsr_db_levels, *, attention_sigma: float,
          error_sigmas, alpha: float = 0.05, top_k: int = 3, slope_tolerance: float = 0.005, closeness: float = 0.05) -> pd.DataFrame:
    """The claims table (``robustness_claims``): each claim judged under both protocols
    (:func:`emma.experiments.verdicts.robustness_claims`) and under every decision rule.

    ``attention_sigma`` and ``error_sigmas`` are the noise of the attention and total-energy
    evidence; ``alpha``, ``top_k``, ``slope_tolerance`` and ``closeness`` the verdict rules'.
    """
    rules = dict(alpha=alpha, top_k=top_k, slope_tolerance=slope_tolerance, closeness=closeness)
    options = dict(attention_sigma=attention_sigma, error_sigmas=error_sigmas)
    stage, splits = confirmed.stage, trained.splits
    regularizers = stage.regularizer_curves(splits, nsr_db_levels)  # research question 2
    sound = robustness_claims(robustness_evidence(stage.sweeps, confirmed.best, trained.sweeps["with"], chosen.grid, splits, stage.energies,
                                                  curves=curves.sound, single_mode=curves.single_mode, regularizers=regularizers, **options), **rules)
    original = robustness_claims(robustness_evidence(trained.original, chosen.original_sweep, trained.original["with"], chosen.original_grid, splits,
                                                     trained.energies, curves=curves.original, single_mode=curves.original_single_mode, **options),
                                 **rules)
    return judge_claims_under_rules(both_protocols(sound, original), decision.combined)


def selection(trained: Trained, chosen: Chosen) -> pd.DataFrame:
    """The configuration selected on validation, its rank by the thesis's test-set procedure and the grid's ``edges`` it
    lies on (``robustness_selection``; the next chapter and the landing page read it)."""
    edges = grid_edges(chosen.config, trained.axes)
    return pd.DataFrame([{**chosen.config, "rank_test": chosen.row["rank_test"], "edges": ", ".join(edges)}])


def findings(trained: Trained, chosen: Chosen, claims: pd.DataFrame, results: Headline) -> str:
    """The chapter's findings as Markdown bullets (:func:`emma.experiments.verdicts.robustness_summary`), every number from its tables."""
    edges = grid_edges(chosen.config, trained.axes)
    return robustness_summary(claims, results.table, results.baselines, selected={**chosen.config, "rank_test": chosen.row["rank_test"]},
                              grid_size=len(chosen.grid), edges=edges)
