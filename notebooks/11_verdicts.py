# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Verdicts and errata
#
# This appendix computes nothing new: it gathers what the chapters decided. Every claim
# they judged is listed with its evidence and verdict, and every statement of the thesis that a
# check found wrong is listed with the check that shows it. It reads the tables the other
# chapters wrote to `output_dir`, so run it after them (as `emma-book run` does).

# %% tags=["parameters"]
profile = "full"  # full: the thesis settings; quick: smaller sizes (nothing here depends on it)
device = "auto"  # unused here, kept for a uniform interface
output_dir = "_build"

# %%
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown
from myst_nb import glue

from emma import save_figure, save_table
from emma.claims.errata import collect_errata
from emma.claims.report import KINDS, VERDICTS, chapter_links, claim_counts, collect_claims
from emma.experiments.findings import Prose, book_findings
from emma.util.display import show
from emma.util.plots import legible
from emma.util.runtime import check_profile

_ = check_profile(profile)

# %% [markdown]
# ## Every claim, with its verdict
#
# Every claims table the chapters wrote is collected here, extension chapters included. Each
# claim quotes the sentence of its source it tests (`quote`, at `location`: the final thesis's
# file and line at commit `7302713`, a section of the draft, or a page of the slides), and a
# claim judged by a test carries the smallest effect that matters, declared before the run
# (`min_effect`), the effect found in the claimed direction with its interval (`ci_low`,
# `ci_high`), the seeds, and the effect the test could detect with 80 % power
# (`detectable_effect`). The five verdicts: *reproduced* (significant after Holm's correction
# within its kind, at least the minimum effect, under every decision rule), *rule-dependent*
# (reproduced under the thesis's ROC-corner rule only), *partly reproduced* (some of its named
# sub-cases hold), *inconclusive* (the interval holds both zero and the minimum effect) and *not
# reproduced* (reversed, or smaller than the minimum effect). {numref}`fig-verdicts-claims` counts
# them by chapter and verdict.

# %%
claims = collect_claims(output_dir)
save_table(claims, "book_claims", output_dir)
show(claims, "book_claims", columns=["chapter", "claim", "kind", "min_effect", "effect", "ci_low", "ci_high", "n_seeds", "verdict"],
     max_rows=80, summary="every claim of the book, with its effect and verdict",
     links={"chapter": chapter_links(output_dir)})  # each chapter name links to the section that judges its claims

# %% [markdown]
# Where each claim comes from: the sentence it tests, quoted, and its place in the final thesis
# (file and line at commit `7302713`), the draft (section) or the defense slides (page); a
# conjecture of the book names the chapter that states it.

# %%
show(claims, "book_claims", columns=["claim", "quote", "location"], max_rows=80, summary="the source of every claim")

# %% mystnb={"figure": {"caption": "The claims judged in each chapter, split by verdict: reproduced (teal), rule-dependent (green), partly reproduced (yellow), inconclusive (grey) and not reproduced (orange). The length of a bar is the number of claims a chapter judged; its colours show how many of them stand.", "name": "fig-verdicts-claims"}, "image": {"alt": "Horizontal stacked bar chart, one bar per chapter, with teal, green, yellow, grey and orange segments for the reproduced, rule-dependent, partly reproduced, inconclusive and not reproduced claims, and the number of claims along the horizontal axis."}}
counts = claim_counts(claims)
fig, ax = plt.subplots(figsize=(8, 3.6), layout="constrained")
counts.plot.barh(stacked=True, ax=ax, color=["#2a9d8f", "#8ab17d", "#e9c46a", "#bdbdbd", "#e76f51"], legend=False)
ax.set(xlabel="claims", ylabel="chapter", title="Verdicts on the thesis's claims")
ax.invert_yaxis()  # the chapters in the book's order, top down
fig.legend(*ax.get_legend_handles_labels(), fontsize=8, loc="outside right center")  # beside the bars, never over them
legible(fig)
_ = save_figure(fig, "book_claim_verdicts", output_dir)
save_table(counts.reset_index(), "book_claim_counts", output_dir)
glue("verdicts_figure", fig, display=False)  # the landing page's figure and table
glue("verdicts_counts", counts, display=False)

# %%
show(counts, "book_claim_counts")

# %% [markdown]
# The same claims by kind: *core* (what the thesis's abstract, contributions and research
# questions assert), *secondary* (its other statements: literature, details of a derivation,
# descriptions of a figure, side comparisons) and *book* (conjectures this book tests beyond the
# thesis); the column `kind` of the table above says which each claim is.

# %%
kind_counts = claim_counts(claims, by="kind")
save_table(kind_counts.reset_index(), "book_claim_counts_by_kind", output_dir)
show(kind_counts, "book_claim_counts_by_kind")
glue("verdicts_n_claims", len(claims), display=False)  # the landing page and the conclusion quote these counts
for kind in KINDS:
    glue(f"verdicts_n_{kind}", int(kind_counts.loc[kind].sum()), display=False)
    glue(f"verdicts_{kind}_tally", Prose(", ".join(f"{int(kind_counts.loc[kind, v])} {v}" for v in VERDICTS)), display=False)

# %% [markdown]
# ## What the book finds
#
# The landing page opens with these sentences, written by the code from the chapters' tables
# (the decision rules and the confirmation seeds of Experiment II, the configuration chosen on
# validation, the replay and the forensic test, the errata, the claims above):

# %%
findings = book_findings(output_dir)
for i, finding in enumerate(findings, start=1):  # the landing page lists them, one bullet each
    glue(f"book_finding_{i}", Prose(finding), display=False)
save_table(pd.DataFrame({"finding": findings}), "book_findings", output_dir)
Markdown("\n".join(f"- {finding}" for finding in findings))

# %% [markdown]
# ## Errata
#
# Every disagreement found among the thesis's draft, its final text, its public code and the
# book's checks, each with the table (and the number in it) or the check that shows it. The
# corrected statements are in the chapters, next to the checks; the code's differences are
# the fields of `emma.engine.protocol.Protocol`, replayed and measured in
# {doc}`07_replay` and documented in the appendix {doc}`../original_code`.

# %%
errata = collect_errata(output_dir)
save_table(errata, "book_errata", output_dir)
show(errata, "book_errata")

# %% [markdown]
# ## What this appendix finds

# %%
where = {"draft": "the draft", "final": "the final text", "slides": "the defense slides", "code": "the public code"}
by_source = {s: errata.loc[errata["source"] == s, "status"].value_counts() for s in where if (errata["source"] == s).any()}
Markdown("\n".join([
    f"- {len(claims)} claims judged across {claims['chapter'].nunique()} chapters: "
    + ", ".join(f"{int(counts[v].sum())} {v}" for v in VERDICTS) + "; by kind: "
    + "; ".join(f"{k} {int(kind_counts.loc[k].sum())} (" + ", ".join(f"{int(kind_counts.loc[k, v])} {v}" for v in VERDICTS) + ")" for k in KINDS) + ".",
    f"- {len(errata)} errata: " + "; ".join(f"{int(n.sum())} in {where.get(s, s)} (" + ", ".join(f"{status}: {int(k)}" for status, k in n.items()) + ")"
                                            for s, n in by_source.items()) + ".",
]))
