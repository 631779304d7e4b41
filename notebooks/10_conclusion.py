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
# # Conclusion
#
# ```{admonition} What you will learn
# - How the thesis's three research questions are answered from the claims the chapters judged.
# - Why a tied autoencoder with two hidden layers has no potential energy, measured on its Jacobian.
# - Where the book's numbers stand beside the thesis's table and the replay of its code.
# ```
#
# The thesis ends with an outline: a summary, its contributions, the answers to the three research
# questions of thesis §5.8, and future work (thesis §8). This chapter writes that conclusion from the
# book's evidence. Each research question is answered by the claims the chapters judged, under the
# book's protocol and under the replay of the thesis's code; and the limit of the potential energy
# that thesis §4.4 states in one
# sentence, that tied weights make the reconstruction field a gradient only with one hidden
# layer, is measured. It reads the tables the other chapters wrote to `output_dir`, so run it
# after them (as `emma-book run` does).

# %% tags=["parameters"]
profile = "full"  # full: the settings below; quick: fewer seeds and epochs for the autoencoders
device = "auto"  # unused: the integrability check runs in float64 on the CPU
seeds = [0, 1, 2, 3, 4]  # one pair of autoencoders (one and two hidden layers) per seed
output_dir = "_build"
# the integrability limit of §4.4: autoencoders on the circle manifold of the chapter on energy estimation
manifold = "circle"
n_train = 4_000
dae_hidden = None  # first hidden layer; None: as TOY_DAE (emma.engine.autoencoders), that chapter setup
dae_second = 4  # the second hidden layer of the deeper autoencoder
dae_epochs = None  # None: as TOY_DAE
dae_batch_size = None  # None: as TOY_DAE
dae_noise_std = None  # None: as TOY_DAE
lr = 1e-3
n_points = 300  # points near the manifold where the Jacobians are compared

# %%
import matplotlib.pyplot as plt
from IPython.display import Markdown
from myst_nb import glue

from emma import save_figure, save_table
from emma.claims.report import read_table
from emma.engine.autoencoders import TOY_DAE
from emma.experiments import conclusion
from emma.experiments.findings import summary_figure
from emma.util.display import show
from emma.util.runtime import check_profile

_ = check_profile(profile)

# %% [markdown]
# ## The research questions
#
# The draft asks three research questions (thesis §5.8), and the final thesis keeps them as the
# structure of its experiments; its abstract states the second more precisely, as a claim about
# failures *more intense than those seen in training*, and so it is asked here. Each question
# gathers the *core* claims on its topic (those the thesis's abstract, contributions and research
# questions assert), each judged in {doc}`06_robustness` against a minimum effect declared before
# the run, with its effect, interval and seeds ({numref}`tbl-research_questions`):

# %%
answers = conclusion.answer_questions(output_dir)
save_table(answers, "research_questions", output_dir)
show(answers, "research_questions", columns=["question", "claim", "effect", "ci_low", "ci_high", "min_effect", "n_seeds", "verdict", "verdict_original"],
     caption="The core claims behind each research question of thesis §5.8: the effect in the claimed direction with its "
     "interval, the minimum effect that matters and the seeds, and the verdict under the book's protocol and under the "
     "thesis's original protocol. A question is answered by all of its rows together.")

# %%
summary = conclusion.question_verdicts(answers)
save_table(summary, "research_question_verdicts", output_dir)
Markdown(conclusion.question_lines(summary))

# %% [markdown]
# The answers in words, generated from the same tables: the first question's claims compare EMMA
# with data augmentation on noisy samples, at and past the training noise; the second's, each
# regularizer at its selected value against none, past the training noise; the third's, the
# attention against EMMA fed shuffled potentials, and the total energy against chance.

# %%
Markdown("\n\n".join(conclusion.answer_sentences(answers)))

# %% [markdown]
# ## A limitation: deeper autoencoders have no potential energy
#
# Thesis §4.4 notes that the integrability criterion (eq. 4.3, a symmetric Jacobian of the reconstruction)
# holds for tied weights only because there is one hidden layer. With a second hidden layer and
# tied weights, r(x) = W₁ᵀ σ(W₂ᵀ σ(W₂ σ(W₁x))) has the Jacobian W₁ᵀ D′ W₂ᵀ D₂ W₂ D₁ W₁, whose two
# diagonal factors D₁ and D′ differ, so it is in general not symmetric. Measured on autoencoders
# trained on the circle manifold, with one and two hidden layers, one pair per seed
# ({numref}`tbl-integrability_by_depth` and {numref}`fig-conclusion-integrability`):

# %%
dae = TOY_DAE.override(d_hidden=dae_hidden, noise_std=dae_noise_std, epochs=dae_epochs, batch_size=dae_batch_size, lr=lr)
limit = conclusion.integrability_study(seeds, manifold=manifold, n_train=n_train, d_second=dae_second, dae=dae, n_points=n_points)
save_table(limit.table, "integrability_by_depth", output_dir)
save_table(limit.claims, "conclusion_claims", output_dir)
show(limit.table.groupby("depth")[["asymmetry_max", "relative_median"]].agg(["mean", "std"]), "integrability_by_depth",
     caption="The asymmetry of the reconstruction's Jacobian per number of hidden layers, mean and standard deviation over "
     "seeds: its largest value |J − Jᵀ| over the points, and its median relative to the Jacobian's size. Compare the two rows.")

# %% mystnb={"figure": {"caption": "How far the Jacobian of the reconstruction field is from symmetric, median over points of |J − Jᵀ| / |J|, for tied-weight autoencoders with one and with two hidden layers, one point per seed. With one hidden layer it is zero up to rounding, so Ψ exists; with two it is not, and eq. 4.7 no longer applies.", "name": "fig-conclusion-integrability"}, "image": {"alt": "Scatter plot of the relative asymmetry of the Jacobian against the number of hidden layers, 1 or 2: the points for one layer lie at zero, those for two layers well above it."}}
fig = conclusion.integrability_figure(limit)
_ = save_figure(fig, "integrability_by_depth", output_dir)

# %%
Markdown(limit.describe())

# %% [markdown]
# ## What the book confirms of the thesis
#
# Every claim judged in the book, extension chapters included, is counted in the appendix
# {doc}`A1_verdicts`, which runs after every chapter: of
# {glue:text}`A1_verdicts.ipynb::verdicts_n_claims:.0f` claims,
# {glue:text}`A1_verdicts.ipynb::verdicts_n_core:.0f` are *core* (what the thesis's abstract,
# contributions and research questions assert):
# {glue:text}`A1_verdicts.ipynb::verdicts_core_tally:s`. The landing page opens with the same
# counts and with the book's findings, generated there from the chapters' tables. The EMMA
# module and its derivation are checked equation by equation in {doc}`03_emma` (with the errata
# of its gradient) rather than judged as claims.
#
# The figure below ({numref}`fig-conclusion-summary`) puts every number of the thesis's results
# table beside the book's protocol and the replay of the thesis's code.

# %% mystnb={"figure": {"caption": "The thesis's results table, row by row (IP only, DM only, base, data augmentation, the attention fusion, then EMMA's ten best configurations), on clean, IP-noisy and DM-noisy test samples: the thesis's F1 (black cross) beside this book's protocol (blue, mean ± standard deviation over seeds) and the replay of the thesis's own code (red, mean and the 95 % prediction interval of a single run). Where a cross sits outside the red bar, one run of the code would not be expected to print it.", "name": "fig-conclusion-summary"}, "image": {"alt": "Three stacked panels of F1 against the rows of the thesis's results table, named along the bottom axis: a black cross for the thesis, a blue circle with error bar for the book and a red square with its prediction interval for the replay at each row; a grey vertical line separates the baselines from EMMA's configurations."}}
replay_table = read_table(output_dir, "replay_f1")
summary_fig = summary_figure(replay_table)
_ = save_figure(summary_fig, "book_summary", output_dir)
glue("book_summary_figure", summary_fig, display=False)
plt.show()

# %% [markdown]
# ## Open questions
#
# What the book leaves open, each a natural next experiment for a new chapter that imports `emma`:
#
# - **The rest of the thesis's table.** Whatever part of the thesis's table the replay and the
#   variants of the code leave unexplained (the sentences above say how much) points to what the
#   repository cannot show: its figures and table were made from trained models loaded from files
#   that are not in it ({ref}`original-dumps`), in one unseeded run.
# - **The coupled gradient of Ω.** {ref}`Check 4 <emma-check-4>` of {doc}`03_emma` measures how far the boxed gradient
#   (eq. 5.19) is from the true one when shared energies couple the modes; an energy regularizer
#   built on the exact gradient is untested.
# - **A better failure signal.** EMMA only needs *some* energy per mode; swapping the estimator is a
#   one-line change to the energy models passed to `emma.EMMA`.
# - **Many modes.** The chapter {doc}`09_many_modes` tests the constraint on the number of clean
#   modes and the coldness as M grows; annealing the coldness, and a common gain for many modes
#   (thesis §8.3), are left open.
# - **The unified model on real data.** The chapter {doc}`08_unified_model` composes exogenous,
#   endogenous and crossmodal attention on a task built for it; a real multi-modal data set with
#   sequences, as thesis §7 suggests, is the next test.
#
# ## What this chapter finds

# %%
Markdown(conclusion.conclusion_findings(answers, summary, limit))

# %% [markdown]
# ## Try it
#
# Train the autoencoders on the wave manifold of {doc}`02_energy_estimation` instead of the circle,
# to see whether the limit depends on the data:
#
# ```bash
# emma-book run conclusion -p manifold wave
# ```
#
# In {numref}`fig-conclusion-integrability` the one-layer points stay at zero up to rounding: with
# one hidden layer and tied weights the Jacobian is symmetric whatever the data. The two-layer
# points move; expect them to stay well above zero, and the verdict stated below the figure to stand.
#
# Give the deeper autoencoder a wider second hidden layer, to see whether more capacity restores a
# potential:
#
# ```bash
# emma-book run conclusion -p dae_second 8
# ```
#
# The one-layer models are the same, so their row of {numref}`tbl-integrability_by_depth` does not
# change. The two-layer row does; nothing in the algebra above makes the Jacobian symmetric for a
# wider layer, so expect its asymmetry to stay clearly above zero.
