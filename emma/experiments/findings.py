"""What the book finds, in words and one figure, written from the tables the chapters saved.

The landing page opens with :func:`book_findings` (at most six sentences) and
:func:`summary_figure`; the chapter :doc:`Conclusion </book/chapters/10_conclusion>` computes and glues both. Every number in a
sentence is read from a table of ``<output_dir>/tables``; no sentence says more than its table:

* the decision rule (``decision_rule_verdicts``, the chapter :doc:`Experiment II </book/chapters/06_robustness>`): under which rules
  EMMA's edge over data augmentation on noisy samples is significant;
* the replay (``gap_explained``, ``replay_f1``, the chapter :doc:`Explaining the thesis's numbers </book/chapters/07_replay>`):
  the share of the gap the code's protocol closes, and the thesis numbers inside its seed range;
* the forensic test (``forensic_variants``): whether any variant of the code explains the table;
* the errata of the derivation (:func:`emma.claims.report.collect_errata`);
* the claims by kind (:func:`emma.claims.report.collect_claims`).
"""
from __future__ import annotations

import os

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from emma.claims.report import claim_counts, collect_claims, collect_errata, read_table
from emma.claims.rules import VERDICTS
from emma.experiments.decision import COMPARISONS, RULES
from emma.experiments.forensics import explains
from emma.util.plots import legible

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


def _count(n) -> str:
    """``"1 is"`` or ``"3 are"``."""
    return f"{int(n)} {'is' if int(n) == 1 else 'are'}"


def decision_sentence(verdicts: pd.DataFrame) -> str:
    """Under which decision rules EMMA beats data augmentation on both noisy subsets (book's protocol).

    ``verdicts`` is the table ``decision_rule_verdicts`` (``protocol, claim, rule, verdict``).
    """
    sound = verdicts[verdicts["protocol"] == "sound"]
    claims = [c[0] for c in COMPARISONS[:2]]
    rules = [r for r in RULES if r in set(sound["rule"])]
    holds = [r for r in rules if (sound[(sound["rule"] == r) & sound["claim"].isin(claims)]["verdict"] == VERDICTS[0]).all()]
    if len(holds) == len(rules):
        return "Under the book's protocol, EMMA beats data augmentation on IP- and DM-noisy samples under every decision rule tested."
    if not holds:
        partial = []
        for claim, subset in zip(claims, ("IP-noisy", "DM-noisy")):
            where = [RULES[r] for r in rules if (sound[(sound["rule"] == r) & (sound["claim"] == claim)]["verdict"] == VERDICTS[0]).all()]
            if where:
                partial.append(f"on {subset} samples alone under {_join(where)}")
        return ("Under the book's protocol, EMMA does not significantly beat data augmentation on both noisy subsets under any of the "
                f"{len(rules)} decision rules tested (three thresholds, AUROC and average precision)"
                + (f"; it does {'; and '.join(partial)}, and nowhere else." if partial else "."))
    return (f"Under the book's protocol, EMMA's edge over data augmentation on both noisy subsets is significant under "
            f"{_join(RULES[r] for r in holds)}, but not under {_join(RULES[r] for r in rules if r not in holds)}: "
            "the thesis's headline claim depends on the decision rule.")


def replay_sentence(explained: pd.DataFrame, replay: pd.DataFrame) -> str:
    """How much of the clean-sample gap the replay closes, and how many thesis numbers its seed range holds."""
    clean = explained[(explained["group"] == "all") & (explained["subset"] == "clean")].iloc[0]
    subsets = ("clean", "ip_noisy", "dm_noisy")
    n_inside = int(sum((replay[f"thesis_in_replay_range_{s}"] == True).sum() for s in subsets))  # noqa: E712 (NaN: nothing printed)
    printed = int(sum((replay[f"thesis_f1_{s}"].notna() & replay[f"f1_{s}_mean"].notna()).sum() for s in subsets))  # those the grid covers
    return (f"Replaying the thesis's own code closes {clean['share_closed']:.0%} of the gap between the book and the thesis on clean "
            f"test samples ({clean['closed']:+.3f} of {clean['gap']:.3f} F1 on average), leaving {clean['remaining']:.3f}; "
            f"{n_inside} of the thesis's {printed} F1 numbers lie inside the replay's range over seeds.")


def forensic_sentence(fits: pd.DataFrame) -> str:
    """The forensic test in one sentence, from the table ``forensic_variants``."""
    row = fits[fits["chosen"].astype(bool)].iloc[0]
    verdict = explains(row)
    text = (f"Of {len(fits)} variants of the code built from its own alternatives, the one that fits the thesis's baselines best "
            f"({row['variant']}) ")
    if verdict["emma"] is None:
        return text + "was not tested on the EMMA rows."
    return text + ("explains" if verdict["emma"] else "does not explain") + (
        f" its EMMA rows out of sample ({int(row['emma_inside'])} of {int(row['emma_printed'])} inside its seed range, "
        f"{row['emma_mad']:.3f} F1 away on average).")


def errata_sentence(errata: pd.DataFrame) -> str:
    """The errata of the thesis's draft and text that stand, by where they are."""
    draft = errata[errata["source"] == "draft"]
    where = list(dict.fromkeys(draft["where"]))
    return (f"{len(draft)} statements of the thesis's derivation do not hold as printed ({_join(where)}), "
            f"and {int((errata['source'] == 'code').sum())} practices of its code differ from its text; each is corrected or replayed where it is checked.")


def claims_sentences(claims: pd.DataFrame) -> list[str]:
    """The core claims' verdicts, and what holds of the book's own conjectures beyond the thesis."""
    counts = claim_counts(claims, by="kind")
    core, book = counts.loc["core"], counts.loc["book"]
    out = [f"Of the thesis's {int(core.sum())} core claims (its abstract, contributions and research questions), "
           f"{_count(core[VERDICTS[0]])} reproduced, {int(core[VERDICTS[1]])} partly and {int(core[VERDICTS[2]])} not."]
    if int(book.sum()):
        out.append(f"Beyond the thesis, {int(book[VERDICTS[0]])} of the {int(book.sum())} conjectures the book tests hold, "
                   f"{int(book[VERDICTS[1]])} partly and {int(book[VERDICTS[2]])} not (the unified model, more than two modes).")
    return out


def book_findings(output_dir: str | os.PathLike = "_build") -> list[str]:
    """At most six sentences: what the book finds, every number from the chapters' tables."""
    sentences = [
        decision_sentence(read_table(output_dir, "decision_rule_verdicts")),
        replay_sentence(read_table(output_dir, "gap_explained"), read_table(output_dir, "replay_f1")),
        forensic_sentence(read_table(output_dir, "forensic_variants")),
        errata_sentence(collect_errata(output_dir)),
        *claims_sentences(collect_claims(output_dir)),
    ]
    return sentences[:6]


def summary_figure(replay: pd.DataFrame):
    """Thesis, book and replay for every row of the thesis's table and each test subset, with seed spreads.

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
        ax.errorbar(x[printed] + 0.15, replay.loc[printed, f"{metric}_mean"], yerr=replay.loc[printed, f"{metric}_std"],
                    fmt="s", ms=4, capsize=2, color="tab:red", label="replay of the thesis's code, mean ± std")
        ax.set_ylabel(f"F1, {title}\ntest samples")
        ax.axvline(4.5, color="0.8", lw=0.8)
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=8, loc="lower right", ncol=2)
    axes[-1].set_xticks(x, labels, rotation=40, ha="right", fontsize=9)
    axes[-1].set_xlabel("row of the thesis's results table")
    legible(fig)
    fig.tight_layout()
    return fig
