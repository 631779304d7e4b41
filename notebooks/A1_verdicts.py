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
# ```{admonition} What you will learn
# - Which of the thesis's claims the book reproduces, chapter by chapter and by kind of claim.
# - Which sentence of its source each claim tests, and the effect that had to be reached.
# - Which statements of the draft, the final text, the slides and the code the checks found wrong.
# ```
#
# This appendix computes nothing new: it gathers what the chapters decided. Every claim
# they judged is listed with its evidence and verdict, and every statement of the thesis that a
# check found wrong is listed with the check that shows it. It reads the tables the other
# chapters wrote to `output_dir`, so run it after them (as `emma-book run` does).

# %% tags=["parameters"]
profile = "full"  # full: the thesis settings; quick: smaller sizes (nothing here depends on it)
device = "auto"  # unused here, kept for a uniform interface
output_dir = "_build"
kinds = ["core", "secondary", "book"]  # the kinds of claims gathered; leave one out to drop its claims
max_rows = 80  # a claims table of more rows is folded on the page behind a one-line summary

# %%
import pandas as pd
from IPython.display import Markdown
from myst_nb import glue

from emma import save_figure, save_table
from emma.claims import errata as book_errata
from emma.claims import report
from emma.experiments import findings as book
from emma.experiments import verdicts_appendix as appendix
from emma.util.display import show
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
# reproduced* (reversed, or smaller than the minimum effect). {numref}`tbl-book_claims` lists them
# and {numref}`fig-verdicts-claims` counts them by chapter and verdict.

# %%
claims = appendix.gathered_claims(output_dir, kinds)
save_table(claims, "book_claims", output_dir)
show(claims, "book_claims", columns=["chapter", "claim", "kind", "min_effect", "effect", "ci_low", "ci_high", "n_seeds", "verdict"],
     max_rows=max_rows, summary="every claim of the book, with its effect and verdict",
     links={"chapter": report.chapter_links(output_dir)},  # each chapter name links to the section that judges its claims
     caption="Every claim the chapters judged, with its chapter, kind, minimum effect, effect and interval, seeds and verdict.")

# %% [markdown]
# Where each claim comes from: the sentence it tests, quoted, and its place in the final thesis
# (file and line at commit `7302713`), the draft (section) or the defense slides (page); a
# conjecture of the book names the chapter that states it ({numref}`tbl-book-claims-sources`).

# %%
show(claims, "book_claims", columns=["claim", "quote", "location"], max_rows=max_rows, summary="the source of every claim",
     caption="The source of every claim: the sentence it tests, quoted, and where that sentence is.", label="tbl-book-claims-sources")

# %% mystnb={"figure": {"caption": "The claims judged in each chapter, split by verdict: reproduced (teal), rule-dependent (green), partly reproduced (yellow), inconclusive (grey) and not reproduced (orange). The length of a bar is the number of claims a chapter judged; its colours show how many of them stand.", "name": "fig-verdicts-claims"}, "image": {"alt": "Horizontal stacked bar chart, one bar per chapter, with teal, green, yellow, grey and orange segments for the reproduced, rule-dependent, partly reproduced, inconclusive and not reproduced claims, and the number of claims along the horizontal axis."}}
counts = report.claim_counts(claims)
fig = appendix.verdicts_figure(counts)
_ = save_figure(fig, "book_claim_verdicts", output_dir)
save_table(counts.reset_index(), "book_claim_counts", output_dir)
glue("verdicts_figure", fig, display=False)  # the landing page's figure and table
glue("verdicts_counts", counts, display=False)

# %% [markdown]
# The counts behind the figure ({numref}`tbl-book_claim_counts`):

# %%
show(counts, "book_claim_counts", caption="The claims judged in each chapter, counted by verdict.")

# %% [markdown]
# The same claims by kind: *core* (what the thesis's abstract, contributions and research
# questions assert), *secondary* (its other statements: literature, details of a derivation,
# descriptions of a figure, side comparisons) and *book* (conjectures this book tests beyond the
# thesis); the column `kind` of {numref}`tbl-book_claims` says which each claim is
# ({numref}`tbl-book_claim_counts_by_kind`).

# %%
kind_counts = report.claim_counts(claims, by="kind")
save_table(kind_counts.reset_index(), "book_claim_counts_by_kind", output_dir)
for name, value in appendix.kind_glue(claims, kind_counts).items():  # the landing page and the conclusion quote these counts
    glue(name, value, display=False)

# %%
show(kind_counts, "book_claim_counts_by_kind", caption="The claims of each kind, counted by verdict.")

# %% [markdown]
# ## What the book finds
#
# The landing page opens with these sentences, written by the code from the chapters' tables
# (the decision rules and the confirmation seeds of Experiment II, the configuration chosen on
# validation, the replay and the forensic test, the errata, the claims above):

# %%
findings = book.book_findings(output_dir)
for i, finding in enumerate(findings, start=1):  # the landing page lists them, one bullet each
    glue(f"book_finding_{i}", book.Prose(finding), display=False)
save_table(pd.DataFrame({"finding": findings}), "book_findings", output_dir)
Markdown("\n".join(f"- {finding}" for finding in findings))

# %% [markdown]
# ## Errata
#
# Every disagreement found among the thesis's draft, its final text, its public code and the
# book's checks, each with the table (and the number in it) or the check that shows it. The
# corrected statements are in the chapters, next to the checks; the code's differences are
# the fields of `emma.engine.protocol.Protocol`, replayed and measured in
# {doc}`07_replay` and documented in the appendix {doc}`../original_code`. {numref}`tbl-book_errata`
# lists them.

# %%
errata = book_errata.collect_errata(output_dir)
save_table(errata, "book_errata", output_dir)
show(errata, "book_errata", caption="Every erratum: where the statement is, what it says, what the book finds instead, and the check or table that shows it.")

# %% [markdown]
# ## What this appendix finds

# %%
Markdown(appendix.appendix_findings(claims, counts, kind_counts, errata))

# %% [markdown]
# ## Try it
#
# Gather only the core claims, those the thesis's abstract, contributions and research questions
# assert:
#
# ```bash
# emma-book run verdicts -p kinds '[core]'
# ```
#
# {numref}`tbl-book_claims` keeps the core claims alone, the bars of {numref}`fig-verdicts-claims`
# shorten to them (a chapter that judges no core claim drops out), and in
# {numref}`tbl-book_claim_counts_by_kind` the rows of the other kinds fall to zero. The counts the
# landing page quotes follow, once the book is built again.
#
# Fold the long tables of claims on the page:
#
# ```bash
# emma-book run verdicts -p max_rows 20
# ```
#
# {numref}`tbl-book_claims` and {numref}`tbl-book-claims-sources` hold more than 20 claims, so each
# is folded behind a one-line summary that opens it; the saved table `book_claims.csv`, the counts
# and the figure are unchanged.
