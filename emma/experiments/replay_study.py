"""The chapter :doc:`Explaining the thesis's numbers </book/chapters/07_replay>`, step by step, in typed results.

The first stage is Experiment II's (:func:`emma.experiments.robustness.train`, read from its
cache); then:

* :func:`replay_table`: the thesis's table replayed under the original code's protocol, the
  landing page's view of it, and how far each protocol sits from the thesis (:class:`ReplayTable`);
* :func:`ranking`: both protocols' grids, the replay's top ten by the thesis's rule, and the
  thesis's top ten as order statistics of one run (:class:`Ranking`);
* :func:`choose_variant` and :func:`forensic`: the forensic test, its choice made on the
  baselines before any EMMA model is scored, then tested on the EMMA rows (:class:`Forensic`);
* :func:`findings`: the chapter's closing bullets.

The decomposition is :mod:`emma.experiments.decomposition`'s, the figures
:mod:`emma.experiments.replay_figures`'.

>>> sorted(REPLAY_LABELS)[:2]
['f1_clean_mean', 'f1_dm_noisy_mean']
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from emma.claims.report import read_table
from emma.engine.protocol import ORIGINAL, Protocol
from emma.engine.ranking import rank_grid, selected_config
from emma.experiments.decomposition import strongest_switch
from emma.experiments.findings import forensic_sentence, remains_sentence, replay_sentence
from emma.experiments.forensics import (
    bootstrap_sentence,
    choice_bootstrap,
    choose,
    collect_scores,
    collect_seed_scores,
    fit_table,
    forensic_test,
    printed_numbers,
    variants,
)
from emma.experiments.replay import METRICS, gap_explained, headline, prediction_view, replay_f1, thesis_gap, top10_side_by_side
from emma.experiments.robustness import Trained
from emma.experiments.selection import order_statistics, selection_offset, thesis_rank_means
from emma.experiments.study import under
from emma.util.display import NAMES, cell, plural

#: Labels of :func:`emma.experiments.replay.replay_f1`'s mean columns: the replay's and the book's protocol's.
REPLAY_LABELS = {f"{prefix}f1_{subset}_mean": f"{who}: {name}" for prefix, who in (("", "replay"), ("sound_", "book"))
                 for subset, name in (("clean", "clean"), ("ip_noisy", "IP-noisy"), ("dm_noisy", "DM-noisy"))}


def headline_view(headline: pd.DataFrame) -> pd.DataFrame:
    """:func:`emma.experiments.replay.headline` as a reader reads it, every cell text: the family's name, F1 to three
    decimals, "—" where the thesis printed nothing. Saved as the table ``replay_headline``, which the landing page
    shows with a ``csv-table`` directive (numbered there, and cited as ``tbl-replay_headline``).

    >>> headline_view(pd.DataFrame({"clean: thesis": [0.8123, float("nan")]}, index=pd.Index(["ip_only", "x"], name="model"))).values.tolist()
    [['IP only', '0.812'], ['x', '—']]
    """
    if not isinstance(headline, pd.DataFrame) or headline.index.name != "model":
        raise ValueError("headline must be emma.experiments.replay.headline's table (indexed by model)")
    view = headline.reset_index()
    view["model"] = [NAMES.get(model, model) for model in view["model"]]
    for column in view.columns[1:]:
        view[column] = [cell(value) for value in view[column]]
    return view


#: The columns of the replay's table the chapter shows.
REPLAY_VIEW = ["model", *(f"{p}{m}_mean" for p in ("", "sound_") for m in METRICS), *(f"thesis_{m}" for m in METRICS)]


def _check(trained):
    if not isinstance(trained, Trained):
        raise TypeError(f"trained must be the Trained of emma.experiments.robustness.train, got {type(trained).__name__}")


def selected_row(output_dir: str | os.PathLike) -> dict:
    """The configuration Experiment II chose on validation, as a last row of the landing page's table: its label and its
    confirmed F1 (means over the confirmation seeds), read from that chapter's tables ``robustness_selection`` and
    ``robustness_confirmed`` (:func:`emma.claims.report.read_table`)."""
    chosen = read_table(output_dir, "robustness_selection").iloc[0]
    confirmed = read_table(output_dir, "robustness_confirmed").set_index("model").loc["with (selected)"]
    edge = f"; edge of the grid: {chosen['edges']}" if isinstance(chosen["edges"], str) and chosen["edges"] else ""
    return {"model": f"with, chosen on validation (ρ {chosen['rho']:g}, λ_c {chosen['lambda_c']:g}, λ_e {chosen['lambda_e']:g}; "
                     f"{int(confirmed['n_seeds'])} seeds{edge})", **{m: confirmed[f"{m}_mean"] for m in METRICS}}


@dataclass
class ReplayTable:
    """The thesis's table replayed (:func:`replay_table`).

    ``table``: :func:`emma.experiments.replay.replay_f1` (saved as ``replay_f1``); ``headline`` the
    landing page's view; ``gap``: :func:`~emma.experiments.replay.thesis_gap`; ``explained``:
    :func:`~emma.experiments.replay.gap_explained` (saved as ``gap_explained``).
    """

    table: pd.DataFrame
    headline: pd.DataFrame
    gap: pd.DataFrame
    explained: pd.DataFrame

    @property
    def clean(self) -> pd.Series:
        """``explained``'s row of every group on clean test samples."""
        return self.explained[(self.explained["group"] == "all") & (self.explained["subset"] == "clean")].iloc[0]

    def intervals(self) -> pd.DataFrame:
        """Each thesis number against the prediction interval of one replayed run (:func:`emma.experiments.replay.prediction_view`)."""
        return prediction_view(self.table)

    def glued(self) -> dict:
        """The numbers the prose glues: the mean distance of each protocol on clean samples, the thesis numbers inside
        the prediction interval of one run, and the numbers printed."""
        overall = self.gap.set_index("metric").loc["all"]
        return {"replay_distance_book_clean": float(self.clean["mean_abs_book"]), "replay_distance_replay_clean": float(self.clean["mean_abs_replay"]),
                "replay_inside": int(overall["inside_prediction_interval"]), "replay_printed": int(overall["printed"])}

    def inside_text(self, n_replay_seeds: int, n_seeds: int) -> str:
        """How many thesis numbers one replayed run could print, and each protocol's mean distance from them."""
        overall = self.gap.set_index("metric").loc["all"]
        return (f"Of the thesis's {int(overall['printed'])} F1 numbers, **{int(overall['inside_prediction_interval'])}** lie inside the prediction "
                f"interval of one replayed run ({plural(n_replay_seeds, 'seed')}), and {int(overall['inside_replay_range'])} within the replay's "
                f"range over the grid's {plural(n_seeds, 'seed')}. The mean absolute distance from the thesis's numbers is "
                f"{overall['replay_distance']:.3f} for the replay and {overall['book_distance']:.3f} for the book's protocol.")

    def distance_text(self) -> str:
        """How much closer to the thesis the replay comes than the book's protocol, on clean samples and over all numbers."""
        clean_all, everything = self.clean, self.explained.iloc[-1]
        closer_share = clean_all["abs_difference"] / clean_all["mean_abs_book"] if clean_all["mean_abs_book"] > 0 else 0.0
        return (f"On clean test samples, the book's protocol is {clean_all['mean_abs_book']:.3f} F1 from the thesis's numbers on average over "
                f"{int(clean_all['printed'])} of them, and the replay of the code {clean_all['mean_abs_replay']:.3f}: it comes closer for "
                f"{int(clean_all['closer'])} numbers and farther for {int(clean_all['farther'])}. Over all {int(everything['printed'])} numbers, "
                f"{everything['mean_abs_book']:.3f} against {everything['mean_abs_replay']:.3f}. "
                + (f"The code's protocol removes {closer_share:.0%} of the book's distance on clean samples" if closer_share >= 0 else
                   f"On average the code's protocol moves the clean numbers {-closer_share:.0%} farther from the thesis's than the book's protocol")
                + ("; the rest of this chapter tests what could explain the remainder." if closer_share < 0.5 else "."))


def replay_table(trained: Trained, thesis: pd.DataFrame, selected: dict | None = None) -> ReplayTable:
    """The thesis's table (:func:`emma.claims.thesis.thesis_results`) beside the replay on the replay's seeds and the book's
    protocol on the grid's; ``selected`` (:func:`selected_row`) adds Experiment II's choice to the landing page's view."""
    _check(trained)
    replay = replay_f1(trained.study, thesis, trained.every)
    return ReplayTable(replay, headline(replay, selected), thesis_gap(replay), gap_explained(replay))


@dataclass
class Ranking:
    """Both protocols' grids ranked (:func:`ranking`).

    ``sound_grid`` and ``original_grid``: :func:`emma.engine.ranking.rank_grid`; ``grids`` both in one table
    (``replay_grid``); ``top10``: the replay's top ten beside the thesis's (``replay_top10``); ``order``: the thesis's
    ranks against the replayed runs' (``selection_order_statistics``); ``offset``: how much of the EMMA rows' offset
    the selection on the test set explains (:func:`emma.experiments.selection.selection_offset`).
    """

    sound_grid: pd.DataFrame
    original_grid: pd.DataFrame
    top10: pd.DataFrame
    order: pd.DataFrame
    offset: dict

    @property
    def grids(self) -> pd.DataFrame:
        return pd.concat([self.sound_grid.assign(protocol="sound"), self.original_grid.assign(protocol="original")], ignore_index=True)

    @property
    def selected(self) -> dict:
        """Each selection rule's pick on its protocol's grid: ``{"test": …, "validation": …}``."""
        return {"test": selected_config(self.original_grid, "test"), "validation": selected_config(self.sound_grid, "validation")}

    def order_text(self) -> str:
        """How many of the thesis's EMMA numbers lie inside the replayed runs' rank-by-rank range, and what the selection explains."""
        order, offset = self.order, self.offset
        inside = order.groupby("protocol")["inside"].agg(lambda v: int((v == True).sum())).to_dict()  # noqa: E712 (NaN: nothing printed)
        ranked = order.groupby("protocol")["thesis"].agg(lambda v: int(v.notna().sum())).to_dict()
        runs = int(order["n_runs"].max())
        return (f"Against the ranks of {plural(runs, 'replayed run')}, {inside.get('original', 0)} of the thesis's "
                f"{ranked.get('original', 0)} EMMA numbers lie inside the central 95 % of the original protocol's runs, and "
                f"{inside.get('sound', 0)} of {ranked.get('sound', 0)} inside the book's protocol's. The thesis's EMMA rows sit "
                f"{offset['offset_means']:+.3f} F1 from the replay's means of the same configurations, and {offset['offset_ranks']:+.3f} from "
                f"the replay's rank-by-rank medians: "
                + (f"ranking one run on its test set explains {offset['explained']:.0%} of that offset."
                   if np.isfinite(offset["explained"]) and offset["explained"] >= 0
                   else "ranking one run on its test set does not explain it (the rank-by-rank medians sit no closer)." if np.isfinite(offset["explained"])
                   else "there is no offset to explain.")
                + f" With {plural(runs, 'run')}, the central 95 % is essentially the runs' range.")


def ranking(trained: Trained, thesis: pd.DataFrame, replay: pd.DataFrame) -> Ranking:
    """Both protocols' grids on the grid's seeds, ranked, and the thesis's top ten read as the best of one run (``replay``: its table)."""
    _check(trained)
    original_grid, sound_grid = rank_grid(trained.original["with"].table), rank_grid(trained.sweeps["with"].table)
    thesis_with = thesis[thesis["model"] == "with"]
    order = pd.concat([order_statistics(result["with"].table, thesis_with).assign(protocol=name)
                       for name, result in (("original", trained.original), ("sound", trained.sweeps))], ignore_index=True)
    offset = selection_offset(order[order["protocol"] == "original"], thesis_rank_means(replay))
    return Ranking(sound_grid, original_grid, top10_side_by_side(original_grid, thesis), order, offset)


def replayed_choice(trained: Trained, ranked: Ranking):
    """The replay's selected EMMA, one model per seed: the original protocol's pick on the test set."""
    _check(trained)
    return under(trained.study["with"], ORIGINAL, **ranked.selected["test"])


@dataclass
class Forensic:
    """The forensic test (:func:`choose_variant`, then :func:`forensic`).

    ``variants``: every variant of the code (:func:`emma.experiments.forensics.variants`); ``printed`` the thesis's
    numbers per group; ``baseline_fits`` each variant's fit on the baselines; ``name`` and ``protocol`` the variant
    chosen on them. After :func:`forensic`: ``table`` (``forensic_variants``), ``scores`` (``forensic_scores``),
    ``text`` the verdict in words, and ``bootstrap`` (``forensic_choice_bootstrap``), how firm the choice is.
    """

    variants: list
    printed: dict
    baseline_fits: pd.DataFrame
    name: str
    protocol: Protocol
    table: pd.DataFrame | None = None
    scores: pd.DataFrame | None = None
    text: str = ""
    bootstrap: pd.DataFrame | None = None

    def emma_variants(self, which: str = "all") -> list:
        """The variants under which EMMA trains at the thesis's ten configurations: ``"all"``, or only the ``"chosen"`` one (16 times fewer models)."""
        if which not in ("all", "chosen"):
            raise ValueError(f"which must be 'all' or 'chosen', got {which!r}")
        return [self.protocol] if which == "chosen" else list(self.variants)

    def bootstrap_text(self) -> str:
        """How often the baselines choose each variant over resampled seeds, in words (:func:`emma.experiments.forensics.bootstrap_sentence`)."""
        if self.bootstrap is None:
            raise ValueError("the choice has not been tested yet: call forensic() first")
        return bootstrap_sentence(self.bootstrap, self.name)


def choose_variant(trained: Trained, thesis: pd.DataFrame) -> Forensic:
    """The variant of the code that fits the thesis's baseline numbers best, chosen before any EMMA model of it is scored."""
    _check(trained)
    every = variants()
    printed = printed_numbers(thesis)
    fits = fit_table(collect_scores([trained.study], every, thesis[thesis["model"] != "with"]), every, printed)
    name = choose(fits)
    return Forensic(every, printed, fits, name, every[list(fits["variant"]).index(name)])


def forensic(choice: Forensic, studies: dict, replay: pd.DataFrame, thesis: pd.DataFrame) -> Forensic:
    """The choice tested out of sample on the thesis's EMMA rows (:func:`emma.experiments.forensics.forensic_test`), against
    the book's protocol's distance from them, and resampled over seeds (:func:`emma.experiments.forensics.choice_bootstrap`).

    ``studies`` holds every variant's models (:class:`emma.experiments.decomposition.Decomposition`'s ``studies``);
    ``replay`` is :func:`emma.experiments.replay.replay_f1`.
    """
    if not isinstance(choice, Forensic):
        raise TypeError(f"choice must be the Forensic of choose_variant, got {type(choice).__name__}")
    book_emma = replay[replay["model"].str.startswith("with (")]
    book_mad = float(np.nanmean(np.abs(book_emma[[f"sound_{m}_mean" for m in METRICS]].to_numpy() - book_emma[[f"thesis_{m}" for m in METRICS]].to_numpy())))
    seeds = collect_seed_scores([studies], choice.variants, thesis)
    table, scores, text = forensic_test(seeds, choice.variants, thesis, choice.name, book_mad)
    bootstrap = choice_bootstrap(seeds, choice.variants, choice.printed)
    return Forensic(choice.variants, choice.printed, choice.baseline_fits, choice.name, choice.protocol, table, scores, text, bootstrap)


def findings(replay: ReplayTable, ranked: Ranking, decomposition: pd.DataFrame, tested: Forensic) -> str:
    """The chapter's closing bullets, as Markdown: what one run and the selection explain, the decomposition's strongest
    switch, the forensic test's verdict, and what remains (:mod:`emma.experiments.findings`' sentences)."""
    clean, strongest = replay.clean, strongest_switch(decomposition)
    return "\n".join([
        "- " + replay_sentence(replay.explained, replay.table, ranked.order),
        f"- On clean test samples the replay comes closer to the thesis than the book for {int(clean['closer'])} of "
        f"{int(clean['printed'])} numbers (mean distance {clean['mean_abs_replay']:.3f} against {clean['mean_abs_book']:.3f} F1).",
        f"- The single switch that moves a clean F1 most is `{strongest['switch']}` ({strongest['family']}: {strongest['delta_f1_clean_mean']:+.3f}).",
        "- " + forensic_sentence(tested.table, tested.bootstrap),
        "- " + remains_sentence(replay.table, ranked.order),
    ])
