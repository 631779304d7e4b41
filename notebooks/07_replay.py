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
# # Explaining the thesis's numbers: the original protocol replayed
#
# ```{admonition} What you will learn
# - How to replay a study under the protocol its code followed, and measure how much of a gap that explains.
# - Why one printed run, and a top ten chosen on the test set, must be read against one run's spread and ranks, not means.
# - How to test a guess at what the thesis ran with a choice fixed in advance, and to decompose a gap field by field.
# ```
#
# Under the book's protocol ({doc}`06_robustness`), most models of the robustness study
# score below the thesis's table, even the base model trained on clean data. Could the thesis's
# code explain this? It followed a protocol the text never describes. Reading and running that
# code (github.com/awerenne/energy-based-multimodal-attention, `code/experiment-3/main.py` and
# `code/data/data.py`) shows at least nine differences, each a field of
# `emma.engine.protocol.Protocol` and a section of the appendix {doc}`../original_code`. This chapter
# replays the whole study under the code's protocol (`ORIGINAL`), puts the replay beside every
# row of the thesis's table, and reads that table as what it is: one run, judged against where a
# single run of the code falls, its ten EMMA rows that run's best ten chosen on the test set. It
# states the share of the gap the replay closes, switches the fields
# back to the book's protocol (`SOUND`) one at a time and cumulatively to say which difference
# moves which number, and tests, with a choice fixed in advance, whether any other state of the
# same code explains the table. Nothing here is tuned towards the thesis: where the replay does
# not land on a thesis number, the tables show the residual.

# %% tags=["parameters"]
profile = "full"  # "full": the thesis's settings; "quick" only shrinks sizes so CI stays fast
device = "auto"  # "auto" | "cpu" | "cuda"
seeds = [0, 1, 2, 3, 4]  # one autoencoder pair, noise draw, data order and initialisation per seed
replay_seeds = list(range(20))  # the printed numbers replayed run by run, for the prediction interval of one run
confirm_seeds = list(range(20))  # as in "Experiment II": its confirmation stage trains with this chapter's first stage
output_dir = "_build"
data_home = None  # a folder holding HTRU_2.csv; None: $EMMA_DATA_DIR, then the user cache
cache_dir = None  # trained models are kept here; None: <output_dir>/cache (shared with "Experiment II")
workers = 2  # CPU processes training at once: the small independent sweeps, parts of the large ones
split_seed = 42  # the thesis's split
# autoencoders and classifiers: as in the chapter "Experiment II", so its trained study is reused
dae_hidden = None  # hidden units of each autoencoder; None: as THESIS_DAE (emma.engine.autoencoders), the thesis setup
dae_noise_std = None  # None: as THESIS_DAE
dae_epochs = None  # None: as THESIS_DAE
dae_batch_size = None  # None: as THESIS_DAE
epochs = 35
batch_size = 32
lr = 1e-3
sigma_train = 0.5
clean_fraction = 0.5
rhos = [1e-4, 1e-3, 1e-2, 1e-1, 1.0]
lambdas_c = [0.0, 1e-4, 1e-3, 1e-2, 1e-1]
lambdas_e = [0.0, 1e-4, 1e-3, 1e-2, 1e-1]
lambda_reading = "slides"  # how to read the thesis table's λ columns (see "Experiment II")
# the decomposition: the order in which ORIGINAL's fields switch to SOUND's, cumulatively
switch_order = ["corruption_in_place", "autoencoders_on_corrupted", "early_stopping", "retrain", "drop_last", "potential", "omega", "init", "selection"]
# the forensic test: EMMA's models are trained under every variant ("all"), or only under the one chosen on the baselines ("chosen": 16 times fewer)
forensic_emma = "all"

# %%
from emma.util.display import show
from emma.util.runtime import check_profile

_ = check_profile(profile)

# %%
import os

import matplotlib.pyplot as plt
from IPython.display import Markdown, display
from myst_nb import glue

from emma.claims import thesis
from emma.data.splits import make_splits
from emma.engine.autoencoders import THESIS_DAE
from emma.engine.configs import TrainSettings
from emma.experiments import decomposition as dc
from emma.experiments import outcomes
from emma.experiments import replay_figures as rf
from emma.experiments import replay_study as rs
from emma.experiments import robustness as rb
from emma.experiments.forensics import VIEW, candidates_table
from emma.util.outputs import save_figure, save_table
from emma.util.runtime import resolve_device

# %%
device = resolve_device(device)
cache_dir = cache_dir if cache_dir is not None else os.path.join(output_dir, "cache")
print(f"device: {device}, profile: {profile}, seeds: {seeds}, epochs: {epochs}")

# %% [markdown]
# (replay-protocols)=
# ## The two protocols
#
# {numref}`tbl-protocol_fields` has one row per field of `Protocol`; the appendix {doc}`../original_code` documents the code's
# value of each, with links to the lines of the code. Three matter before any model trains. The code's `apply_corruption` writes its noise into the
# array it is given, so after its three calls the "clean" training, validation and test sets
# carry the noisy copies' draw, unpermuted: the base, IP-only and DM-only models train and
# choose their threshold on half-corrupted data (`corruption_in_place`), and so do the
# autoencoders and Ψ_min (`autoencoders_on_corrupted`). The code's potential adds ½‖X − b_r‖²
# of the whole batch of each call to every sample (`potential`), so a sample's energy
# depends on what it is evaluated with: mini-batches of 32 in training, each test subset for
# the table, the whole noisy test set for the ranking.

# %%
fields = rb.protocol_fields()  # the same table as the previous chapter's
save_table(fields, "protocol_fields", output_dir)
show(fields, "protocol_fields", columns=["field", "sound", "original", "source"],
     caption="Every field of the protocol under the book's protocol (sound) and the original code's (original), with the appendix section "
             "that documents the code's value. The rows that differ are what this chapter switches, one at a time.")

# %% [markdown]
# Each `source` is the label of a section of the appendix {doc}`../original_code`: what the
# thesis's text says, what the code does (with links to its lines at commit `7302713`), and the
# field's two values. For example, `original-in-place-corruption` is the section
# {ref}`original-in-place-corruption`.

# %% [markdown]
# ## The replay
#
# The whole study under both protocols: six families, every configuration of the grid, every
# seed, stacked on the engine's model axis (the same call as {doc}`06_robustness`, so
# its trained models are read from the cache). The thesis printed one run: the grid's few seeds
# per configuration are enough to choose a configuration, but a single run falls outside the
# range of five others one time in three by chance alone. So the same call also replays every
# printed number on `replay_seeds` (20 at the thesis's settings), one run per seed: the five
# baselines and EMMA at the thesis's ten configurations, under the code's protocol.

# %%
splits = make_splits(seed=split_seed, data_home=data_home, device="cpu")
settings = TrainSettings(epochs=epochs, batch_size=batch_size, lr=lr, sigma=sigma_train, clean_fraction=clean_fraction)
dae_settings = THESIS_DAE.override(d_hidden=dae_hidden, noise_std=dae_noise_std, epochs=dae_epochs, batch_size=dae_batch_size, lr=lr)
thesis_table, printed = thesis.thesis_results(lambda_reading), thesis.thesis_configs(lambda_reading)
trained = rb.train(splits, settings, dae=dae_settings, seeds=seeds, rhos=rhos, lambdas_c=lambdas_c, lambdas_e=lambdas_e, order=switch_order,
                   confirm_seeds=confirm_seeds, replay_seeds=replay_seeds, thesis_configs=printed, device=device, cache_dir=cache_dir, workers=workers)

# %% [markdown]
# (replay-table)=
# ### The thesis's table, replayed
#
# {numref}`tbl-replay_f1` has one row per row of the thesis's table: the replay's F1 (mean over `replay_seeds`), the book's
# protocol's mean on the grid's seeds (`book: …`), and the thesis's number. The yardstick for one
# printed run is the **95 % prediction interval of a single run**: mean ± t · s · √(1 + 1/n) over
# the n replayed runs (`emma.experiments.selection.prediction_interval`, a normal model). A thesis
# number inside it is one a single run of the code could have printed; one outside is a residual
# the protocol does not explain. The CSV keeps, beside it, whether the number lies within the
# replay's range over the grid's seeds, the yardstick of earlier versions of this chapter.

# %%
replay = rs.replay_table(trained, thesis_table, rs.selected_row(output_dir))  # the last row: the previous chapter's choice
save_table(replay.table, "replay_f1", output_dir)
save_table(rs.headline_view(replay.headline), "replay_headline", output_dir)  # the landing page's table
show(replay.table, "replay_f1", columns=rs.REPLAY_VIEW, labels=rs.REPLAY_LABELS,
     caption="The thesis's table replayed: per printed row, the replay's test F1 (mean over the replay's seeds), the book's protocol's (mean "
             "over the grid's seeds) and the thesis's number. A thesis number far from its replay column is a residual of the protocol.")

# %% [markdown]
# The prediction intervals, row by row ({numref}`tbl-replay_intervals`): the thesis's number, marked `in` where it lies inside the
# interval of one replayed run and `out` where it does not, and the interval. (The normal model can
# reach past 1 where the runs spread widely; an F1 cannot.)

# %%
show(replay.intervals(), "replay_f1", label="tbl-replay_intervals",
     caption="Each thesis number against the 95 % prediction interval of one replayed run: in where a single run of the code could have "
             "printed it, out where it could not.")

# %%
save_table(replay.explained, "gap_explained", output_dir)
for name, value in replay.glued().items():
    glue(name, value, display=False)
Markdown(replay.inside_text(len(replay_seeds), len(seeds)))

# %% [markdown]
# (replay-gap)=
# ### How much of the gap the replay explains
#
# For each group of the thesis's rows and each test subset ({numref}`tbl-gap_explained`), on absolute distances: how far the
# book's numbers are from the thesis's on average (`mean_abs_book`, mean |thesis − book|), how far
# the replay's are (`mean_abs_replay`), and for how many printed numbers the replay comes closer
# and farther. Signed means cancel: a group where the book is above the thesis on one row and
# below on another shows a gap near zero. So a share of the signed gap that the replay closes
# (`share_closed`) is given only where that gap exceeds the replay's own seed spread; elsewhere
# `share_note` says why there is none.

# %%
show(replay.explained, "gap_explained", columns=["group", "subset", "printed", "mean_abs_book", "mean_abs_replay", "closer", "farther", "spread",
                                                 "share_closed"],
     caption="How far each protocol sits from the thesis's numbers, per group of rows and test subset: the mean absolute distances, how many "
             "numbers the replay brings closer or moves farther, and the share of the signed gap it closes where that gap exceeds the seed spread.")

# %%
Markdown(replay.distance_text())

# %% [markdown]
# ### The ranking
#
# The thesis ranked its 125 models by F1 on the whole noisy test set, scored in one call
# (appendix: {ref}`original-ranking`; under the batch-coupled potential, one call couples every test sample).
# The replay's own top 10 by that rule, mean over seeds, beside the thesis's top 10, and
# where the replay ranks each of the thesis's configurations ({numref}`tbl-replay_top10`).

# %%
ranked = rs.ranking(trained, thesis_table, replay.table)
save_table(ranked.top10, "replay_top10", output_dir)
show(ranked.top10, "replay_top10",
     caption="The replay's ten best configurations by the thesis's ranking rule (noisy test F1, mean over seeds) beside the thesis's top ten, "
             "and the replay's rank of each of the thesis's configurations; an empty rank: the configuration is not in this grid.")

# %% [markdown]
# (replay-order-statistics)=
# ### The thesis's top ten are the best of one run
#
# The thesis printed one run, and its ten EMMA rows are that run's ten best of 125 by the noisy
# *test* F1. Comparing them with the mean over seeds of the same ten configurations, as
# {numref}`tbl-replay_f1` does, sets maxima against means. Rank k of the thesis is compared here with rank k of each
# replayed run, ranked as the code ranks ({ref}`original-ranking`): the median over runs and the
# central 95 % of them, under the original code's protocol and, where ranking on the test set is
# the leak it is, under the book's. A ranking needs the whole grid in every run, so this rests on
# the grid's runs (`seeds`): the runs on `replay_seeds` behind the prediction intervals above
# replay the ten printed configurations only, not the 125 they were chosen from. {numref}`tbl-selection_order_statistics`
# shows the original code's protocol.

# %%
save_table(ranked.order, "selection_order_statistics", output_dir)
show(ranked.order[ranked.order["protocol"] == "original"], "selection_order_statistics",
     columns=["rank", "subset", "thesis", "median", "low", "high", "inside", "n_runs"], max_rows=30,
     caption="Rank k of the thesis against rank k of each replayed run under the original code's protocol: the median over the runs, the "
             "central 95 % of them, and whether the thesis's number lies inside.")

# %%
Markdown(ranked.order_text())

# %% [markdown]
# ## What the original code drew that the book had not
#
# The code's plotting module draws three figures from the grid ({numref}`fig-replay-capacity` and
# {numref}`fig-replay-f1-heatmaps` redraw them) that the thesis's text uses
# without showing: the learned capacity against the coldness ρ, the F1 over (λ_e, λ_c) for
# each ρ, and the curve the draft plans under "Yerkes-Dodson", noisy-sample F1 against the
# learned capacity. Thesis §5.5 argues from the last that too little and too much capacity both
# hurt; {doc}`06_robustness` judges that claim under both protocols.

# %% mystnb={"figure": {"caption": "Two readings of the grid under the book's protocol (blue) and the original code's (red). Left: the learned capacity against the coldness ρ, mean ± standard deviation over the regularizer weights. Right: each configuration's F1 on the whole noisy test set against its learned capacity, the draft's Yerkes-Dodson curve; an inverted U would mean that too little and too much capacity both hurt.", "name": "fig-replay-capacity"}, "image": {"alt": "Left, a line plot with error bars of learned capacity against rho on a logarithmic axis, one line per protocol. Right, a scatter plot of noisy-test F1 against learned capacity, blue points for the book's protocol and red for the original code's."}}
save_table(ranked.grids, "replay_grid", output_dir)
fig = rf.capacity(ranked.grids)
save_figure(fig, "replay_capacity", output_dir)
plt.show()

# %% mystnb={"figure": {"caption": "F1 on the whole noisy test set for every configuration of the grid, mean over seeds: one heatmap over the regularizer weights λ_c (columns) and λ_e (rows) per coldness ρ (rows of panels), under the book's protocol (left) and the original code's (right), on one colour scale. Compare the two columns: where the bright cells sit says which regularizers each protocol rewards.", "name": "fig-replay-f1-heatmaps"}, "image": {"alt": "A grid of annotated heatmaps, two columns (sound and original protocol) and one row per value of rho; each heatmap has lambda_c along the horizontal axis and lambda_e along the vertical one, each cell coloured and labelled with its F1, with one shared colour bar."}}
fig = rf.heatmaps(ranked.grids, rhos)
save_figure(fig, "replay_f1_heatmaps", output_dir)
plt.show()

# %% [markdown]
# ## The slides' per-sample outcome table
#
# The slides report, for the best model, the rate of correct predictions per class and
# corruption case, labelled NSR 5 dB (appendix: {ref}`original-outcome-table`). The code that
# prints such a table corrupts `X_test` in place once more, predicts on that unpermuted `X_test`,
# and counts the outcomes against the labels and corruption indicator of the *permuted* noisy
# copy. It does so twice, at σ = 0.5 ([`main.py` L496–498](https://github.com/awerenne/energy-based-multimodal-attention/blob/7302713/code/experiment-3/main.py#L496-L498))
# and then at σ = 2 on top of it ([L499–501](https://github.com/awerenne/energy-based-multimodal-attention/blob/7302713/code/experiment-3/main.py#L499-L501)).
# {numref}`tbl-outcome_alignment` computes both calls for the replay's selected model, each both ways: as coded
# (each prediction paired with another sample's label) and aligned (each with its own), beside
# the slides' numbers.

# %%
alignment = outcomes.slides_alignment(rs.replayed_choice(trained, ranked), trained.splits, trained.settings, energies=trained.energies)
save_table(alignment, "outcome_alignment", output_dir)
display(Markdown(outcomes.alignment_sentence(alignment)))
show(alignment, "outcome_alignment", columns=["sigma", "class", "case", "rate_correct_as_coded", "rate_correct_aligned", "slides_rate_correct"],
     caption="The replay's selected EMMA under the code's two calls (σ): the rate of correct predictions per class and case as coded (each "
             "prediction paired with another sample's label) and aligned (with its own), beside the slides' rates.")

# %% [markdown]
# (replay-forensic-test)=
# ## A forensic test of what the thesis ran
#
# The replay follows the code line by line and still misses most of the thesis's table. Could
# another state of the same code have produced it? The code offers its own alternatives for
# five fields: the fixed threshold its models keep unless the ROC rule overrides it
# ({ref}`original-threshold`), the class weight on a commented-out line
# ({ref}`original-class-weight`), and, against the text's description, the in-place corruption,
# early stopping on the training loss and the retraining. The test was fixed in code
# (`emma.experiments.forensics`) before any model was scored: every combination of these values (32
# variants of the code), the variant that best fits the thesis's **baseline** numbers (mean
# absolute difference of the mean over seeds), and then, out of sample, that variant's fit on
# the thesis's **EMMA** numbers, which played no part in the choice. {numref}`tbl-forensic_candidates` lists
# the candidates and the line each comes from.

# %%
show(candidates_table(), columns=["field", "value", "as_coded", "source"], label="tbl-forensic_candidates",
     caption="The candidate values of the forensic test's five fields, the original code's first, and the line of the code or the thesis "
             "each comes from. Every combination of them is one variant of the code.")

# %%
choice = rs.choose_variant(trained, thesis_table)
print(f"chosen on the baselines, before any EMMA model of it is scored: {choice.name}")

# %% [markdown]
# (replay-decomposition)=
# ## The decomposition
#
# Start from `ORIGINAL`; switch one field at a time to its `SOUND` value (*single*), then
# switch them all, one after another in the order of `switch_order` (*cumulative*: each step
# measured against the step before it, so the steps add up to SOUND − ORIGINAL). Every
# difference is paired over the seeds (same seed, same noise draw) and reported as mean and
# std. The families: base, without and alternative; EMMA at the thesis's rank-1
# configuration; and EMMA at the *selected* configuration, which each protocol picks by its
# own `selection` rule on its full grid (the test set under ORIGINAL, the validation set
# under SOUND). Two single switches go to values that neither protocol has but the code itself
# offers: the fixed threshold 0.5 ({ref}`original-threshold`) and the class weight 10 of its
# commented-out line ({ref}`original-class-weight`). {numref}`tbl-protocol_decomposition_single` (single) and
# {numref}`tbl-protocol_decomposition_cumulative` (cumulative) show the change of the clean
# F1 (mean ± std over seeds) per switch and family; the CSV holds all three test subsets.

# %%
stage = dc.second_stage(trained, ranked.selected, printed, order=switch_order, variants=choice.emma_variants(forensic_emma))
if stage.note:
    print(stage.note)
save_table(stage.table, "protocol_decomposition", output_dir)
show(stage.view("single"), "protocol_decomposition", label="tbl-protocol_decomposition_single",
     caption="The change of the clean test F1 (mean ± std over seeds) when one field alone switches from the original code's value to the "
             "book's, per family. The largest entries are the fields that matter most on their own.")

# %%
show(stage.view("cumulative"), "protocol_decomposition", label="tbl-protocol_decomposition_cumulative",
     caption="The change of the clean test F1 (mean ± std over seeds) at each step of switching the fields one after another, in the order "
             "of switch_order; each family's column adds up to the book's protocol minus the original code's.")

# %% [markdown]
# (replay-forensic-result)=
# ### The forensic test's result
#
# Every variant's fit on the baselines, and, out of sample, on the thesis's ten EMMA rows: EMMA is
# trained at the thesis's ten printed configurations under every variant (the threshold is
# chosen after training, so 32 variants train 16 sets of models, stacked on the engine's model
# axis; `forensic_emma = "chosen"` trains only the chosen variant's). The choice was made above,
# before any of these EMMA models was scored. {numref}`tbl-forensic_variants` gives every variant's fit.

# %%
tested = rs.forensic(choice, stage.studies, replay.table, thesis_table)
save_table(tested.table, "forensic_variants", output_dir)
save_table(tested.scores, "forensic_scores", output_dir)
show(tested.table.sort_values("baselines_mad"), "forensic_variants", columns=list(VIEW), labels=VIEW, max_rows=12,
     summary="all 32 variants, best fit on the baselines first",
     caption="Every variant of the code, best fit on the thesis's baselines first: its mean absolute distance from the baseline numbers and, "
             "out of sample, from the EMMA numbers, how many of each lie inside its seed range, and the variant chosen.")

# %%
Markdown(tested.text)

# %% [markdown]
# (replay-forensic-bootstrap)=
# ### How firm the choice is
#
# The choice rests on a few seeds and thin margins between variants. Resampling the seeds with
# replacement and choosing again on the baselines alone, 1,000 times, says how often each
# variant would have been chosen, and how far from the thesis's EMMA numbers it sits when it is
# (`emma.experiments.forensics.choice_bootstrap`; {numref}`tbl-forensic_choice_bootstrap`). The pre-registered choice above stays the headline.

# %%
save_table(tested.bootstrap, "forensic_choice_bootstrap", output_dir)
show(tested.bootstrap[tested.bootstrap["wins"] > 0].sort_values("wins", ascending=False), "forensic_choice_bootstrap",
     columns=["variant", "wins", "win_share", "baselines_mad", "emma_mad", "emma_mad_low", "emma_mad_high", "emma_mad_when_chosen"],
     caption="The variants the baselines choose over resamples of the seeds: how often each wins, and how far from the thesis's EMMA numbers "
             "it sits, with its interval, when it is chosen.")

# %%
Markdown(tested.bootstrap_text())

# %% [markdown]
# ### From the thesis's numbers to the book's
#
# Each panel of {numref}`fig-replay-waterfall` starts at the thesis's number, steps to the replay (the residual the protocol
# does not explain), then through the cumulative switches to the book's protocol. Green
# bars raise F1, red bars lower it.

# %% mystnb={"figure": {"caption": "From the thesis's F1 to the book's, per family (rows) and test subset (columns), read from the top: the thesis's number (grey), the replay's residual, then each cumulative switch from the original code's protocol to the book's, and the book's number (grey). Green bars raise F1, red bars lower it; the longest coloured bars are the fields that explain most of the gap.", "name": "fig-replay-waterfall"}, "image": {"alt": "A grid of horizontal waterfall charts, one row per family and one column per test subset, with F1 along the horizontal axis; the steps are named along the vertical axis of the first panel of each row, thesis at the top and sound at the bottom; grey total bars, green rises and red falls."}}
bars = dc.waterfalls(replay.table, stage.table)
fig = rf.waterfall(bars)
save_figure(fig, "protocol_waterfall", output_dir)
save_table(bars, "protocol_waterfall", output_dir)
plt.show()

# %% [markdown]
# ## What explains the gap
#
# Written by the code from the decomposition (clean test F1 first, the number the baselines
# missed by most), naming for each family the switches that move it most.

# %%
Markdown(dc.explanation(replay.table, stage.table, replay.gap))

# %% [markdown]
# ## What this chapter finds
#
# The thesis's table, read as what it is: one run of the code, its EMMA rows the best of that
# run chosen on the test set. What the spread of one run and that selection explain, what the
# completed forensic search explains, and what still remains:

# %%
Markdown(rs.findings(replay, ranked, stage.table, tested))

# %% [markdown]
# ## Try it
#
# Switch the fields in the reverse order: the cumulative decomposition measures each switch against the
# ones already made, so its steps depend on the order, while the single switches do not.
#
# ```bash
# emma-book run replay -p switch_order '[selection, init, omega, potential, drop_last, retrain, early_stopping, autoencoders_on_corrupted, corruption_in_place]'
# ```
#
# {numref}`tbl-protocol_decomposition_single` keeps its values, its rows listed in the new order; the rows of
# {numref}`tbl-protocol_decomposition_cumulative` and the steps of {numref}`fig-replay-waterfall` come in the new
# order with other sizes, but each family's column still adds up to the same difference between the two protocols.
#
# Train EMMA only under the variant of the code chosen on the baselines, instead of under all of them.
#
# ```bash
# emma-book run replay -p forensic_emma chosen
# ```
#
# The choice does not move, since it is made before any EMMA model is scored, and neither do the
# decomposition's tables. In {numref}`tbl-forensic_variants` only a few variants keep an EMMA fit: the
# chosen one, the variant that differs from it only in the threshold (chosen after training, on the same
# models), and those whose EMMA models the first stage already trained; the others' EMMA columns are empty.
