"""What the book finds, in words and one figure, written from the tables the chapters saved.

The landing page opens with :func:`book_findings` (at most six sentences) and
:func:`summary_figure`; the appendix :doc:`Verdicts </book/chapters/A1_verdicts>` glues the sentences,
the chapter :doc:`Conclusion </book/chapters/10_conclusion>` the figure. Every number in a
sentence is read from a table of ``<output_dir>/tables``; no sentence says more than its table:

* the decision rule (``decision_rule_verdicts``, the chapter :doc:`Experiment II </book/chapters/06_robustness>`): under which rules
  EMMA's edge over data augmentation on noisy samples is significant;
* the replay (``gap_explained``, ``replay_f1``, ``selection_order_statistics``, the chapter
  :doc:`Explaining the thesis's numbers </book/chapters/07_replay>`): how far the code's protocol
  comes, the thesis numbers inside the prediction interval of one run, and the share of the EMMA
  rows' offset that ranking one run on its test set explains;
* the forensic test (``forensic_variants``, ``forensic_choice_bootstrap``): whether any variant of
  the code explains the table, how firm the choice is, and what remains;
* the errata of the derivation (:func:`emma.claims.errata.collect_errata`);
* the claims by kind (:func:`emma.claims.report.collect_claims`).
"""
from __future__ import annotations

import os

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from emma.claims.errata import collect_errata
from emma.claims.report import claim_counts, collect_claims, read_table
from emma.claims.rules import REPRODUCED, VERDICTS
from emma.experiments.decision import COMPARISONS, RULES, THESIS_RULE
from emma.experiments.forensics import explains
from emma.experiments.selection import selection_offset, thesis_rank_means
from emma.util.display import label
from emma.util.plots import legible

#: The test subsets of the thesis's table.
SUBSETS = ("clean", "ip_noisy", "dm_noisy")
#: The groups of the thesis's rows in the summary figure, in order, with their labels.
FIGURE_ROWS = {"ip_only": "IP only", "dm_only": "DM only", "base": "base", "without": "without", "alternative": "alternative"}


def _join(words) -> str:
    words = list(words)
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1] if words else ""


class Prose(str):
    """Text whose plain representation is itself, so myst-nb's ``{glue:text}`` role can paste it into another page.

    (A glued ``str`` would show its quotes; a glued ``Markdown`` object cannot be pasted across
    documents.)

    >>> from IPython.lib.pretty import pretty
    >>> pretty(Prose("EMMA holds."))
    'EMMA holds.'
    """

    def _repr_pretty_(self, printer, cycle):
        printer.text(str(self))


#: The decision rules as a sentence names them.
RULE_WORDS = {"roc_corner": "the ROC corner", "fixed": "a fixed 0.5 threshold", "f1_validation": "the F1-optimal threshold on validation",
              "auroc": "the AUROC", "ap": "the average precision"}


def decision_sentence(verdicts: pd.DataFrame) -> str:
    """EMMA against data augmentation under the book's protocol: the effect, its interval and seeds, under each rule, in words.

    ``verdicts`` is the table ``decision_rule_verdicts`` (``protocol, claim, rule, effect, ci_low,
    ci_high, n_seeds, min_effect, verdict``).
    """
    needed = {"protocol", "claim", "rule", "effect", "ci_low", "ci_high", "n_seeds", "min_effect", "verdict"}
    if not isinstance(verdicts, pd.DataFrame) or not needed <= set(verdicts.columns):
        raise ValueError(f"verdicts must be the table decision_rule_verdicts, a DataFrame with the columns {sorted(needed)}")
    sound = verdicts[verdicts["protocol"] == "sound"]
    claims = {c[0]: subset for c, subset in zip(COMPARISONS[:2], ("IP-noisy", "DM-noisy"))}
    rules = [r for r in RULES if r in set(sound["rule"])]
    words = {r: RULE_WORDS.get(r, RULES[r]) for r in rules}
    thesis = words[THESIS_RULE]
    others = [r for r in rules if r != THESIS_RULE]
    at_thesis, elsewhere, holds = [], [], {}
    for claim, subset in claims.items():
        rows = sound[sound["claim"] == claim].set_index("rule")
        at_thesis.append(f"{rows.loc[THESIS_RULE, 'effect']:+.3f} (CI {rows.loc[THESIS_RULE, 'ci_low']:+.3f} to "
                         f"{rows.loc[THESIS_RULE, 'ci_high']:+.3f}) on {subset} samples")
        if others:
            effects = rows.loc[others, "effect"]
            elsewhere.append(f"from {effects.min():+.3f} to {effects.max():+.3f} on {subset} samples")
        holds[subset] = [words[r] for r in rules if rows.loc[r, "verdict"] == REPRODUCED]
    n = int(sound["n_seeds"].min())
    minimum = float(sound[sound["claim"].isin(list(claims))]["min_effect"].iloc[0])
    text = (f"Under the book's protocol, on {n} seeds, EMMA's test F1 minus data augmentation's at the thesis's decision rule, "
            f"{thesis}, is {' and '.join(at_thesis)}; the claim asks for at least {minimum:+.2f}. "
            + (f"Under the {len(others)} other rules ({_join(words[r] for r in others)}) it ranges {' and '.join(elsewhere)}. " if others else ""))
    both = [r for r in holds["IP-noisy"] if r in holds["DM-noisy"]]
    if len(both) == len(rules):
        return text + "The edge is reproduced under every decision rule tested."
    if both:
        return text + f"The edge on both noisy subsets is reproduced only under {_join(both)}: it depends on the decision rule."
    some = [f"on {subset} samples under {_join(where)}" for subset, where in holds.items() if where]
    if some:
        return text + f"No decision rule reproduces the edge on both noisy subsets; it is reproduced only {' and '.join(some)}."
    return text + "The edge is reproduced on neither noisy subset under any decision rule."


def selection_sentence(robustness_f1: pd.DataFrame, confirmed: pd.DataFrame, edges: str) -> str:
    """The configuration chosen on validation beside the thesis's top 10, and whether it lies at the grid's edge."""
    chosen = robustness_f1[robustness_f1["model"] == "with (selected on validation)"].iloc[0]
    top = robustness_f1[robustness_f1["model"].str.startswith("with (thesis top 10")]
    again = confirmed[confirmed["model"] == "with (selected)"].iloc[0]
    edge = f", at the edge of the grid on {edges}" if isinstance(edges, str) and edges else ", inside the grid"
    scored = top["f1_ip_noisy_mean"].dropna()  # a configuration of the thesis outside the grid has no score
    span = f"{scored.min():.3f} to {scored.max():.3f}" if len(scored) else ""
    thesis = ("where the grid holds none of the thesis's top 10" if not len(scored) else f"where the thesis's top 10 score {span}" if len(scored) == len(top)
              else f"where the one of the thesis's top 10 that the grid holds scores {scored.iloc[0]:.3f}" if len(scored) == 1
              else f"where the {len(scored)} of the thesis's top 10 that the grid holds score {span}")
    return (f"The configuration chosen on the validation set is ρ = {chosen['rho']:g}, λ_c = {chosen['lambda_c']:g}, λ_e = {chosen['lambda_e']:g}{edge}; "
            f"on the grid's seeds it scores {chosen['f1_ip_noisy_mean']:.3f} on IP-noisy samples {thesis}, and {again['f1_ip_noisy_mean']:.3f} over "
            f"{int(again['n_seeds'])} confirmation seeds.")


def replay_sentence(explained: pd.DataFrame, replay: pd.DataFrame, order: pd.DataFrame) -> str:
    """What the thesis's table is: how many of its numbers one replayed run could print, and what ranking one run on its test set explains.

    ``explained`` is ``gap_explained``, ``replay`` is ``replay_f1`` (with its prediction intervals),
    ``order`` is ``selection_order_statistics`` (its ``original`` protocol's rows).
    """
    needed = {"model", *(f"thesis_in_replay_pi_{s}" for s in SUBSETS), *(f"thesis_f1_{s}" for s in SUBSETS), "n_seeds"}
    if not isinstance(replay, pd.DataFrame) or not needed <= set(replay.columns):
        raise ValueError(f"replay must be the table replay_f1, a DataFrame with the columns {sorted(needed)}")
    everything = explained[(explained["group"] == "all") & (explained["subset"] == "all")].iloc[0]
    inside = int(sum((replay[f"thesis_in_replay_pi_{s}"] == True).sum() for s in SUBSETS))  # noqa: E712 (NaN: nothing printed)
    printed = int(sum(replay[f"thesis_in_replay_pi_{s}"].notna().sum() for s in SUBSETS))
    original = order[order["protocol"] == "original"]
    offset = selection_offset(original, thesis_rank_means(replay))
    ranks = original.dropna(subset=["thesis"])
    text = (f"The thesis printed one run: replaying its own code on {int(replay['n_seeds'].max())} seeds, {inside} of the {printed} printed F1 "
            f"numbers lie inside the 95 % prediction interval of a single run, and the replay sits {everything['mean_abs_replay']:.3f} F1 from "
            f"them on average, against {everything['mean_abs_book']:.3f} for the book's protocol.")
    if not np.isfinite(offset["explained"]):
        return text
    return text + (f" Its ten EMMA rows are that run's best ten of the grid, ranked on the test set: against the replay's runs ranked the same "
                   f"way ({int(ranks['n_runs'].max())} runs), {int((ranks['inside'] == True).sum())} of {len(ranks)} lie in the runs' central 95 %, "  # noqa: E712
                   f"and their offset shrinks from {offset['offset_means']:+.3f} to {offset['offset_ranks']:+.3f} F1: "
                   + (f"the selection explains {offset['explained']:.0%} of it." if offset["explained"] >= 0 else "the selection does not explain it."))


def forensic_sentence(fits: pd.DataFrame, bootstrap: pd.DataFrame | None = None) -> str:
    """The forensic test in one sentence, from the tables ``forensic_variants`` and ``forensic_choice_bootstrap``."""
    row = fits[fits["chosen"].astype(bool)].iloc[0]
    verdict = explains(row)
    firm = ""
    if bootstrap is not None:
        share = float(bootstrap.set_index("variant").loc[row["variant"], "win_share"])
        firm = f", chosen again in {share:.0%} of {int(bootstrap['resamples'].iloc[0]):,} seed resamples"
    text = (f"Of {len(fits)} variants of the code built from its own alternatives, the one that fits the thesis's baselines best "
            f"({row['variant']}{firm}) ")
    if verdict["emma"] is None:
        return text + "was not tested on the EMMA rows."
    tested = fits[fits["emma_printed"].notna()]
    closest = tested.sort_values("emma_mad", kind="stable").iloc[0]
    explaining = [v for v, r in tested.set_index("variant").iterrows() if explains(r)["emma"]]
    return text + ("explains" if verdict["emma"] else "does not explain") + (
        f" its EMMA rows out of sample ({int(row['emma_inside'])} of {int(row['emma_printed'])} inside its seed range, "
        f"{row['emma_mad']:.3f} F1 away on average)") + (
        f"; of the {len(tested)} variants whose EMMA models were trained, " + (
            f"{len(explaining)} would explain them by the same criterion, the closest ({closest['variant']}) {closest['emma_mad']:.3f} F1 away."
            if explaining else f"none explains them, the closest ({closest['variant']}) {closest['emma_mad']:.3f} F1 away.")
        if len(tested) > 1 else ".")


def remains_sentence(replay: pd.DataFrame, order: pd.DataFrame) -> str:
    """What neither one run's spread nor the selection on the test set explains, from ``replay_f1`` and ``selection_order_statistics``."""
    baselines = replay[~replay["model"].str.startswith("with (")]
    outside = []
    for subset in SUBSETS:
        miss = baselines[baselines[f"thesis_in_replay_pi_{subset}"] == False]  # noqa: E712 (NaN: nothing printed)
        for _, r in miss.iterrows():
            outside.append((abs(r[f"thesis_f1_{subset}"] - r[f"f1_{subset}_mean"]), r["model"], subset, r[f"thesis_f1_{subset}"],
                            r[f"f1_{subset}_pi_low"], r[f"f1_{subset}_pi_high"]))
    n_baselines = int(sum(baselines[f"thesis_in_replay_pi_{s}"].notna().sum() for s in SUBSETS))
    ranks = order[(order["protocol"] == "original")].dropna(subset=["thesis"])
    emma_out = int((ranks["inside"] == False).sum())  # noqa: E712
    text = (f"What remains: {len(outside)} of the {n_baselines} baseline numbers lie outside the prediction interval of one replayed run, and "
            f"{emma_out} of the {len(ranks)} EMMA numbers outside the replayed runs' rank-by-rank range")
    if not outside:
        return text + "."
    _, model, subset, thesis, low, high = max(outside)
    return text + (f"; the farthest, {label(model)} on {label(subset)} samples, printed {thesis:.3f} against an interval of "
                   f"{low:.3f} to {high:.3f}.")


def errata_sentence(errata: pd.DataFrame) -> str:
    """The errata in one sentence, counted by the document that prints them.

    An error of the draft stays the draft's: the sentence says how many of them the final thesis
    corrects (and the defense slides withdraw), and never lays them at the thesis's door.

    Parameters
    ----------
    errata : DataFrame
        :func:`emma.claims.errata.collect_errata`'s table: at least ``source`` (one of
        :data:`emma.claims.errata.SOURCES`), ``where`` and ``status`` (one of
        :data:`emma.claims.errata.STATUSES`).

    Examples
    --------
    >>> errata = pd.DataFrame({"source": ["draft", "draft", "final", "code"],
    ...                        "where": ["draft §4.2, eq. 4.6", "draft §5.6, eq. 5.19", "report/chapters/5-emma.tex L123", "code/data/data.py L59"],
    ...                        "status": ["corrected in the final thesis", "stands", "stands", "stands"]})
    >>> print(errata_sentence(errata))  # doctest: +NORMALIZE_WHITESPACE
    2 statements of the draft's derivation do not hold as printed (eq. 4.6 and 5.19), 1 of which the final thesis corrects;
    1 statement of the final text contradicts its own equations, its other chapters or its code; and 1 practice of the
    public code differs from the text; each is corrected or replayed where it is checked.
    """
    from emma.claims.errata import SOURCES, STATUSES

    if not isinstance(errata, pd.DataFrame) or not {"source", "where", "status"} <= set(errata.columns):
        raise ValueError("errata must be collect_errata's table, a DataFrame with the columns source, where and status")
    for column, allowed in (("source", SOURCES), ("status", STATUSES)):
        unknown = sorted(set(errata[column].astype(str)) - set(allowed))
        if unknown:
            raise ValueError(f"errata: {column} must be one of {allowed}, got {unknown}")

    def many(n: int, noun: str, verb: str, verbs: str) -> str:
        return f"{n} {noun if n == 1 else noun.replace(' of', 's of', 1)} {verb if n == 1 else verbs}"

    draft = errata[errata["source"] == "draft"]
    labels = [where.split(", ", 1)[-1].removeprefix("draft ") for where in dict.fromkeys(draft["where"])]
    equations = [label.removeprefix("eq. ") for label in labels if label.startswith("eq. ")]
    named = _join(([f"eq. {_join(equations)}"] if equations else []) + [label for label in labels if not label.startswith("eq. ")])
    if len(draft):
        corrected, withdrawn = (int((draft["status"] == status).sum()) for status in STATUSES[1:3])
        parts = [many(len(draft), "statement of the draft's derivation", "does", "do") + f" not hold as printed ({named}), "
                 + f"{corrected or 'none'} of which the final thesis corrects"
                 + (f" and {withdrawn} of which the defense slides withdraw" if withdrawn else "")]
    else:
        parts = ["every statement of the draft's derivation that the book checks holds as printed"]
    for source, noun, verb, verbs, rest in (
            ("final", "statement of the final text", "contradicts", "contradict", "its own equations, its other chapters or its code"),
            ("slides", "statement of the defense slides", "does", "do", "not hold"),
            ("code", "practice of the public code", "differs", "differ", "from the text")):
        n = int((errata["source"] == source).sum())
        if n:
            parts.append(f"{many(n, noun, verb, verbs)} {rest}")
    text = parts[0] if len(parts) == 1 else "; ".join(parts[:-1]) + "; and " + parts[-1]
    return text[0].upper() + text[1:] + "; each is corrected or replayed where it is checked."


def claims_sentences(claims: pd.DataFrame) -> list[str]:
    """The core claims' verdicts, and the book's own conjectures', counted from :func:`emma.claims.report.collect_claims`."""
    counts = claim_counts(claims, by="kind")

    def tally(row) -> str:
        return ", ".join(f"{int(row[v])} {v}" for v in VERDICTS if int(row[v])) or "none judged"

    out = [f"Of the thesis's {int(counts.loc['core'].sum())} core claims (its abstract, contributions and research questions): "
           f"{tally(counts.loc['core'])}."]
    n_book = int(counts.loc["book"].sum())
    if n_book:
        out.append(f"Of the {n_book} conjecture{'' if n_book == 1 else 's'} the book tests beyond the thesis: {tally(counts.loc['book'])}.")
    return [" ".join(out)]


def book_findings(output_dir: str | os.PathLike = "_build") -> list[str]:
    """At most six sentences: what the book finds, every number from the chapters' tables."""
    replay, order = read_table(output_dir, "replay_f1"), read_table(output_dir, "selection_order_statistics")
    sentences = [
        decision_sentence(read_table(output_dir, "decision_rule_verdicts")),
        selection_sentence(read_table(output_dir, "robustness_f1"), read_table(output_dir, "robustness_confirmed"),
                           read_table(output_dir, "robustness_selection")["edges"].iloc[0]),
        replay_sentence(read_table(output_dir, "gap_explained"), replay, order),
        forensic_sentence(read_table(output_dir, "forensic_variants"), read_table(output_dir, "forensic_choice_bootstrap"))
        + " " + remains_sentence(replay, order),
        errata_sentence(collect_errata(output_dir)),
        *claims_sentences(collect_claims(output_dir)),
    ]
    return sentences[:6]


def summary_figure(replay: pd.DataFrame):
    """Thesis, book and replay for every row of the thesis's table and each test subset: the book's seed spread, the replay's interval of one run.

    ``replay`` is the table ``replay_f1``. One panel per subset; a row without a thesis number
    there is left out. Returns the Figure.
    """
    labels = [FIGURE_ROWS.get(m, m.replace("with (thesis rank ", "EMMA #").replace(")", "")) for m in replay["model"]]
    fig, axes = plt.subplots(3, 1, figsize=(9, 8.5), sharex=True)
    x = np.arange(len(replay))
    for ax, metric, title in zip(axes, ("f1_clean", "f1_ip_noisy", "f1_dm_noisy"), ("clean", "IP-noisy", "DM-noisy")):
        printed = replay[f"thesis_{metric}"].notna().to_numpy()
        ax.scatter(x[printed], replay.loc[printed, f"thesis_{metric}"], marker="x", s=50, color="black", label="thesis", zorder=3)
        ax.errorbar(x[printed] - 0.15, replay.loc[printed, f"sound_{metric}_mean"], yerr=replay.loc[printed, f"sound_{metric}_std"],
                    fmt="o", ms=4, capsize=2, color="tab:blue", label="book (sound protocol), mean ± std over seeds")
        mean = replay.loc[printed, f"{metric}_mean"]
        interval = np.vstack([mean - replay.loc[printed, f"{metric}_pi_low"], replay.loc[printed, f"{metric}_pi_high"] - mean])
        ax.errorbar(x[printed] + 0.15, mean, yerr=interval, fmt="s", ms=4, capsize=2, color="tab:red",
                    label="replay of the thesis's code, mean and 95 % prediction interval of one run")
        ax.set_ylabel(f"F1, {title}\ntest samples")
        ax.axvline(4.5, color="0.8", lw=0.8)
        ax.grid(axis="y", alpha=0.3)
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, fontsize=8, loc="upper center", ncol=3, frameon=False)  # above the panels, never over a point
    axes[-1].set_xticks(x, labels, rotation=40, ha="right", fontsize=9)
    axes[-1].set_xlabel("row of the thesis's results table")
    legible(fig)
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    return fig
