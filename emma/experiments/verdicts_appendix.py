"""The appendix :doc:`Verdicts and errata </book/chapters/A1_verdicts>`: every claim of the book with its verdict, counted.

The appendix computes nothing new. It gathers what the chapters decided: the claims tables
(:func:`emma.claims.report.collect_claims`), the errata (:func:`emma.claims.errata.collect_errata`)
and the book's findings (:func:`emma.experiments.findings.book_findings`). This module holds what it
does with them:

* :func:`gathered_claims`: the claims of the kinds asked for;
* :func:`verdicts_figure`: the claims of each chapter, split by verdict;
* :func:`kind_glue`: the counts by kind, glued for the landing page and the conclusion;
* :func:`appendix_findings`: what the appendix finds, in words.
"""
from __future__ import annotations

import os

import pandas as pd

from emma.claims.report import KINDS, VERDICTS, collect_claims
from emma.experiments.findings import Prose

#: The colour of each verdict of :data:`emma.claims.rules.VERDICTS`, from reproduced to not reproduced.
VERDICT_COLORS = ["#2a9d8f", "#8ab17d", "#e9c46a", "#bdbdbd", "#e76f51"]
#: What each source of an erratum is called in words.
SOURCES = {"draft": "the draft", "final": "the final text", "slides": "the defense slides", "code": "the public code"}


def gathered_claims(output_dir: str | os.PathLike = "_build", kinds=KINDS) -> pd.DataFrame:
    """Every claim the chapters judged (:func:`emma.claims.report.collect_claims`) whose kind is one of ``kinds``.

    Parameters
    ----------
    output_dir : path
        The folder the chapters wrote their tables into.
    kinds : sequence of str
        Kinds of :data:`emma.claims.rules.KINDS` (``core``, ``secondary``, ``book``); all by default.
    """
    if isinstance(kinds, str) or not kinds or any(kind not in KINDS for kind in kinds):
        raise ValueError(f"kinds must be a non-empty list of kinds of claims among {list(KINDS)}, got {kinds!r}")
    claims = collect_claims(output_dir)
    if set(kinds) == set(KINDS):
        return claims
    return claims[claims["kind"].isin(kinds)].reset_index(drop=True)


def verdicts_figure(counts: pd.DataFrame):
    """A horizontal stacked bar per chapter (``counts``: :func:`emma.claims.report.claim_counts` by chapter), one colour per verdict."""
    import matplotlib.pyplot as plt

    from emma.util.plots import legible

    if not isinstance(counts, pd.DataFrame) or list(counts.columns) != list(VERDICTS):
        raise ValueError(f"counts must be claim_counts' table, one column per verdict {list(VERDICTS)}")
    fig, ax = plt.subplots(figsize=(8, 3.6), layout="constrained")
    counts.plot.barh(stacked=True, ax=ax, color=VERDICT_COLORS, legend=False)
    ax.set(xlabel="claims", ylabel="chapter", title="Verdicts on the thesis's claims")
    ax.invert_yaxis()  # the chapters in the book's order, top down
    fig.legend(*ax.get_legend_handles_labels(), fontsize=8, loc="outside right center")  # beside the bars, never over them
    legible(fig)
    return fig


def kind_glue(claims: pd.DataFrame, kind_counts: pd.DataFrame) -> dict:
    """The numbers the landing page and the conclusion quote, by glue name: ``verdicts_n_claims``, and per kind
    ``verdicts_n_<kind>`` and ``verdicts_<kind>_tally`` (e.g. "3 reproduced, 0 rule-dependent, ...").

    >>> counts = pd.DataFrame([[2, 0, 0, 1, 0], [0, 0, 0, 0, 0], [1, 0, 0, 0, 0]], index=list(KINDS), columns=list(VERDICTS))
    >>> glued = kind_glue(pd.DataFrame({"claim": range(4)}), counts)
    >>> glued["verdicts_n_claims"], glued["verdicts_n_core"], glued["verdicts_book_tally"]
    (4, 3, '1 reproduced, 0 rule-dependent, 0 partly reproduced, 0 inconclusive, 0 not reproduced')
    """
    if not isinstance(kind_counts, pd.DataFrame) or list(kind_counts.index) != list(KINDS):
        raise ValueError(f"kind_counts must be claim_counts' table by kind, one row per kind {list(KINDS)}")
    glued = {"verdicts_n_claims": len(claims)}
    for kind in KINDS:
        glued[f"verdicts_n_{kind}"] = int(kind_counts.loc[kind].sum())
        glued[f"verdicts_{kind}_tally"] = Prose(", ".join(f"{int(kind_counts.loc[kind, v])} {v}" for v in VERDICTS))
    return glued


def appendix_findings(claims: pd.DataFrame, counts: pd.DataFrame, kind_counts: pd.DataFrame, errata: pd.DataFrame) -> str:
    """What the appendix finds, as two Markdown bullets: the claims by verdict and kind, the errata by source and status."""
    if not {"chapter"} <= set(claims.columns) or not {"source", "status"} <= set(errata.columns):
        raise ValueError("claims must be collect_claims' table and errata collect_errata's (with source and status)")
    by_source = {s: errata.loc[errata["source"] == s, "status"].value_counts() for s in SOURCES if (errata["source"] == s).any()}
    return "\n".join([
        f"- {len(claims)} claims judged across {claims['chapter'].nunique()} chapters: "
        + ", ".join(f"{int(counts[v].sum())} {v}" for v in VERDICTS) + "; by kind: "
        + "; ".join(f"{k} {int(kind_counts.loc[k].sum())} (" + ", ".join(f"{int(kind_counts.loc[k, v])} {v}" for v in VERDICTS) + ")" for k in KINDS) + ".",
        f"- {len(errata)} errata: " + "; ".join(f"{int(n.sum())} in {SOURCES.get(s, s)} (" + ", ".join(f"{status}: {int(k)}" for status, k in n.items()) + ")"
                                                for s, n in by_source.items()) + ".",
    ])
