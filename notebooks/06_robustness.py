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
# # Experiment II: robustness to a failing mode
#
# ```{admonition} What you will learn
# - How EMMA, data augmentation and an attention fusion compare when one mode of HTRU2 fails, the configuration chosen on validation.
# - Why a verdict needs many seeds and a rule fixed in advance: the grid chooses, a confirmation stage judges.
# - How much the decision threshold and the original code's protocol change each verdict.
# ```
#
# The thesis's main experiment puts EMMA in front of a small pulsar classifier, corrupts one
# of the two modes of HTRU2 with Gaussian noise, and asks whether the classifier with EMMA
# ("with") stays more accurate than the same classifier trained on the same corrupted data
# without it ("without", plain data augmentation), than an attention fusion from the
# literature ("alternative") and than the classifier trained on clean data ("base"). This
# chapter trains every model of that study, the whole grid of 125 EMMA configurations over
# several seeds, as one batched computation; selects the configuration on the validation
# set; redraws every figure of the thesis's study with seed spread; measures how much of the
# thesis's numbers the original code's protocol reproduces ({doc}`07_replay`
# takes that apart); and closes with a verdict per claim under both protocols.

# %% tags=["parameters"]
profile = "full"  # "full": the thesis's settings; "quick" only shrinks sizes so CI stays fast
device = "auto"  # "auto" | "cpu" | "cuda"
seeds = [0, 1, 2, 3, 4]  # the grid's seeds: one autoencoder pair, noise draw, data order and initialisation per seed
confirm_seeds = list(range(20))  # the confirmation stage: the selected and the thesis's first configuration, every baseline
replay_seeds = list(range(20))  # the next chapter's replay of the thesis's printed rows, trained here beside the grid
output_dir = "_build"
data_home = None  # a folder holding HTRU_2.csv; None: $EMMA_DATA_DIR, then the user cache
cache_dir = None  # trained autoencoders and finished sweeps are kept here; None: <output_dir>/cache
workers = 2  # CPU processes training at once: the small independent sweeps, parts of the large ones
split_seed = 42  # the thesis's split
# autoencoders (as in the chapter "Potential energy on HTRU2", so its cache is reused)
dae_hidden = None  # hidden units of each autoencoder; None: as THESIS_DAE (emma.engine.autoencoders), the thesis setup
dae_noise_std = None  # None: as THESIS_DAE
dae_epochs = None  # None: as THESIS_DAE
dae_batch_size = None  # None: as THESIS_DAE
# classifiers: the thesis's protocol
epochs = 35  # the code's 35 (the text says 30)
batch_size = 32
lr = 1e-3
sigma_train = 0.5  # noise σ of the corruption scheme in training, validation and test (−6 dB)
clean_fraction = 0.5  # 50 % clean, 25 % IP noisy, 25 % DM noisy
# the grid
rhos = [1e-4, 1e-3, 1e-2, 1e-1, 1.0]  # coldness ρ
lambdas_c = [0.0, 1e-4, 1e-3, 1e-2, 1e-1]  # capacity regularizer λ_c
lambdas_e = [0.0, 1e-4, 1e-3, 1e-2, 1e-1]  # energy regularizer λ_e
lambda_reading = "slides"  # how to read the thesis table's λ columns: "slides" (ρ, λ_e, λ_c) or "thesis" (ρ, λ_c, λ_e)
# figures
n_curve_models = 3  # EMMA models shown in the training curves
distribution_sigmas = [0.5, 2.0]  # noise of the α/β distributions (thesis Figure 1)
surface_sigmas = [0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0]  # grid of (σ_IP, σ_DM) for the β surfaces
temperature_rhos = [1e-4, 1e-1]  # the two coldnesses the thesis compares, at the two λ below
temperature_lambda_c = 1e-3
temperature_lambda_e = 1e-2
continuum_sigmas = [0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0]  # noise on one mode (β curves)
both_modes_sigmas = [0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0]  # noise on both modes (total energy)
nsr_db_levels = [-20.0, -15.0, -10.0, -6.0, -3.0, 0.0, 3.0, 5.0, 7.5, 10.0]  # robustness generalisation
outcome_nsr_db = 5.0  # the slides' per-sample outcome table
level_off_tolerance = 0.05  # "levels off near the single-mode F1": mean F1 there within this of the single-mode F1
# verdict rules (emma.claims.rules)
alpha = 0.05  # level of every one-sided test, Holm-corrected over the chapter's claims
level_off_top_k = 3  # "levels off": the flatness test runs over the highest level_off_top_k NSR levels
slope_tolerance = 0.005  # ... flat when the slope's confidence interval lies within ± this F1 per dB

# %%
from emma.util.display import show
from emma.util.runtime import check_profile

_ = check_profile(profile)

# %%
import os
import time

import matplotlib.pyplot as plt
from IPython.display import Markdown

from emma.claims import thesis
from emma.data.splits import make_splits
from emma.engine.autoencoders import THESIS_DAE
from emma.engine.configs import TrainSettings
from emma.experiments import robustness as rb
from emma.experiments import robustness_figures as rf
from emma.util.outputs import save_figure, save_table
from emma.util.runtime import resolve_device

# %%
device = resolve_device(device)
cache_dir = cache_dir if cache_dir is not None else os.path.join(output_dir, "cache")
chapter_start = time.perf_counter()
print(f"device: {device}, profile: {profile}, seeds: {seeds}, epochs: {epochs}, grid: {len(rhos) * len(lambdas_c) * len(lambdas_e)} configurations")

# %% [markdown]
# (robustness-protocol)=
# ## The protocol, and the choices the thesis left open
#
# **Data.** HTRU2 split as in {doc}`04_pulsar_data` (stratified, seed 42, 67 / 16.5 /
# 16.5 %), standardized with the training split's statistics. Each split is corrupted
# separately by the thesis's scheme: 50 % of the samples clean, 25 % with Gaussian noise of
# σ = 0.5 on IP only, 25 % on DM only. Since every feature has unit variance, the
# noise-to-signal ratio is NSR = 10 log₁₀ σ² dB, so σ = 0.5 is −6 dB. *Our choice:* the
# corruption of each split is drawn once per seed and stays fixed over the epochs (one
# corrupted data set per seed), and models that share a seed share the draw, so the 125
# configurations are compared on common random numbers. The test-set draw is the same for
# every family.
#
# **Models** (layer sizes from the thesis's code). IP-only and DM-only: 4 → 2 → 1; base:
# 8 → 8 → 4 → 1, ReLU; without: base fine-tuned on corrupted data; alternative: the
# attention fusion of {cite:t}`shon2018` as the code has it, a linear layer 8 → 2 giving one
# unnormalised weight $a_i$ per mode, the fused input $a_1 x_{IP} + a_2 x_{DM}$, then
# 4 → 2 → 1; with: EMMA (frozen autoencoders, one pair per seed, from
# {doc}`05_potential_energy`) multiplying each mode by its $\beta_i$, in front of the base network,
# started from the trained base and trained end to end with
#
# $$ \tilde{\mathcal{L}} = \mathcal{L}(y, \hat y) + \lambda_c (g_a - b_a) - \lambda_e \Omega, \qquad \Omega = \sum_k \xi_k \log \alpha_k . \tag{5.12} $$
#
# **Training.** Binary cross-entropy on logits, Adam {cite:p}`kingma2015` with learning rate
# $10^{-3}$, batch 32, early stopping on the validation loss (each model keeps the epoch of
# its lowest validation cross-entropy). *Choices:* no class weight (the text mentions one,
# the code had it commented out); 35 epochs as in the code (the text says 30); the
# validation loss is the cross-entropy alone, without the regularizers.
#
# **Decision and metric.** The threshold is the one of 21 points of [0, 1] whose ROC point
# on the validation set is closest to the corner (FPR 0, TPR 1); F1 on the test set, separately
# on clean, IP-noisy and DM-noisy samples, all with scikit-learn {cite:p}`pedregosa2011`.
#
# **Selection.** The thesis ranked the 125 configurations by F1 on the noisy *test*
# samples, which lets the test set choose the model. We select on the **validation** set
# (mean of the validation F1 on IP-noisy and DM-noisy samples, averaged over seeds) and show
# the thesis's test-set ranking beside it, labelled as such.
#
# **The λ columns.** The final thesis heads its table ρ, λ_c, λ_e; the defense slides head the
# same numbers ρ, λ_e, λ_c, and the thesis's own figure captions name its first row
# ρ = 10⁻⁴, λ_e = 10⁻³, λ_c = 10⁻², as the slides do. Two sources against one heading: we
# adopt the slides' reading (`lambda_reading = "slides"`; the parameter switches it).
#
# **The engine.** Trained one after another, as the original code did, the 125
# configurations take about 100 minutes for one seed on a 2-core machine. Here all models of a
# family are one batched computation (`emma.engine.sweep`): parameters stacked on a model axis,
# one Adam step for all, one batched validation pass per epoch; each model keeps its own
# hyperparameters, seed, data order, noise draw, early stopping and threshold. Finished
# sweeps are cached under a key of everything that produced them.
#
# **Two protocols.** Everything above is the book's protocol, `emma.engine.protocol.SOUND`, and
# gives this chapter's headline numbers. The thesis's code followed another one, which its
# text never describes (in-place corruption of the "clean" sets, early stopping on the
# training loss, retraining after the threshold, a batch-coupled potential, ...; see
# {doc}`07_replay`). `emma.engine.protocol.ORIGINAL` replays it. Both are
# trained side by side here, stacked on the engine's model axis, so that every claim below
# gets a verdict under each; {numref}`tbl-robustness_protocol_fields` lists every field of the two, and its `source` names the
# section of the appendix {doc}`../original_code` that documents the field.

# %%
show(rb.protocol_fields(), "protocol_fields", columns=["field", "sound", "original", "source"], label="tbl-robustness_protocol_fields",
     caption="Every field of the protocol under the book's protocol (sound) and the original code's (original), with the section of the "
             "appendix that documents it. Each row whose two values differ is one way the two protocols part.")

# %%
splits = make_splits(seed=split_seed, data_home=data_home, device="cpu")
settings = TrainSettings(epochs=epochs, batch_size=batch_size, lr=lr, sigma=sigma_train, clean_fraction=clean_fraction)
dae_settings = THESIS_DAE.override(d_hidden=dae_hidden, noise_std=dae_noise_std, epochs=dae_epochs, batch_size=dae_batch_size, lr=lr)

# %% [markdown]
# ## Training every model
#
# The autoencoders of each seed (on the clean training set for the book's protocol, on the
# half-corrupted one for the replay), then one sweep per family, with both protocols and every
# seed stacked on the model axis: the baselines first (also under each intermediate protocol
# of the next chapter's decomposition, {ref}`replay-decomposition`), then "without" and the grid of EMMA configurations,
# which start from the trained base of their seed and protocol. The same sweeps carry what
# needs no choice made on the grid: every baseline on the confirmation seeds (below), and the
# thesis's printed rows replayed on `replay_seeds` for the next chapter; stacked beside the
# grid's models they cost little. Everything on this page up to the confirmation reads the
# grid's seeds only. {numref}`tbl-robustness_training_time` counts the models of each family's sweep.

# %%
trained = rb.train(splits, settings, dae=dae_settings, seeds=seeds, rhos=rhos, lambdas_c=lambdas_c, lambdas_e=lambdas_e,
                   confirm_seeds=confirm_seeds, replay_seeds=replay_seeds, thesis_configs=thesis.thesis_configs(lambda_reading),
                   device=device, cache_dir=cache_dir, workers=workers)  # the printed configurations: for the next chapter's replay
print("Ψ_min per (seed, fitted on corrupted data):", trained.psi_min())
save_table(trained.timing, "robustness_training_time", output_dir)
show(trained.timing, "robustness_training_time",
     caption="Each family's sweep, every seed and protocol stacked on the model axis: how many models it holds and how long it trained, in seconds.")

# %% [markdown]
# (robustness-selection)=
# ## Selecting the configuration
#
# Every configuration's scores, averaged over seeds. The selected configuration maximises
# the mean validation F1 on noisy samples; `rank_test` is the rank the thesis's procedure
# (F1 on the whole noisy *test* set) would give it. {numref}`tbl-robustness_f1` sets the baselines, the
# thesis's ten configurations and the selected one beside the thesis's numbers; {numref}`tbl-robustness_grid`
# lists the grid's best configurations by validation.

# %%
chosen = rb.choose(trained)
print(chosen)

# %%
thesis_table = thesis.thesis_results(lambda_reading)
results = rb.headline(trained, chosen, thesis_table)
save_table(results.table, "robustness_f1", output_dir)
show(results.table, "robustness_f1", columns=["model", "rho", "lambda_c", "lambda_e", "f1_clean_mean", "f1_ip_noisy_mean", "f1_dm_noisy_mean", "thesis_f1_clean", "thesis_f1_ip_noisy", "thesis_f1_dm_noisy", "rank_validation"],
     caption="Test F1 (mean over the grid's seeds, book's protocol) of the baselines, of EMMA at the thesis's ten configurations and at the "
             "one selected on validation, beside the thesis's numbers. Read each row against its thesis columns.")

# %%
save_table(results.grid, "robustness_grid", output_dir)
show(results.grid.head(15), "robustness_grid", columns=["rho", "lambda_c", "lambda_e", "f1_clean_mean", "f1_ip_noisy_mean", "f1_dm_noisy_mean", "validation_score", "rank_validation", "rank_test", "capacity_mean"],
     caption="The grid's best configurations by the validation ranking, with their test F1 (mean over seeds) and their rank by the thesis's "
             "test-set rule. Where the two ranks disagree, choosing on the test set would have picked another model.")

# %% [markdown]
# The thesis's ten best configurations were picked by their test F1 on one seed. Over
# several seeds, how far apart the configurations of the grid really are shows in the seed
# spread: the next figure ({numref}`fig-robustness-grid-ranking`) puts every configuration's noisy-sample F1 (mean ± std) in the
# order of our validation ranking, with the thesis's top 10 marked.

# %% mystnb={"figure": {"caption": "Every EMMA configuration of the grid, in the order of the validation ranking: noisy-sample test F1, mean ± standard deviation over seeds, with the thesis's top 10 circled and the baselines as dashed lines. Compare the error bars with the differences between neighbouring configurations: where the bars overlap, the ranking is mostly noise.", "name": "fig-robustness-grid-ranking"}, "image": {"alt": "Scatter of points with error bars, test F1 against the configuration's validation rank; some points circled in red; three horizontal dashed lines for the without, base and alternative models."}}
fig = rf.grid_ranking(results.grid, results.baselines)
save_figure(fig, "robustness_grid_ranking", output_dir)
plt.show()

# %% [markdown]
# (robustness-confirmation)=
# ## Confirming on more seeds
#
# The grid runs on a few seeds: enough to choose a configuration, not to judge it. The effects at
# stake are a few hundredths of F1, about the seed-to-seed spread of a difference between two
# models, and a paired test detects such an effect with 80 % power only on about twenty seeds
# (`detectable_effect` in {numref}`tbl-robustness_claims` says what each test could detect). So the
# claims are judged on a second stage, fixed before it runs: the configuration chosen on
# validation, the thesis's own first configuration, the chosen configuration with each of its
# regularizers switched off (for research question 2), and every baseline, trained again under
# the book's protocol on `confirm_seeds` ({numref}`tbl-robustness_confirmed` gives their number).

# %%
confirmed = rb.confirm(trained, chosen, thesis_table, confirm_seeds)  # the baselines: from the first stage
save_table(confirmed.table, "robustness_confirmed", output_dir)
show(confirmed.table, "robustness_confirmed", columns=["model", "n_seeds", "f1_clean_mean", "f1_clean_std", "f1_ip_noisy_mean", "f1_ip_noisy_std",
                                                       "f1_dm_noisy_mean", "f1_dm_noisy_std", "thesis_f1_clean", "thesis_f1_ip_noisy", "thesis_f1_dm_noisy"],
     caption="Every baseline and the confirmed EMMA configurations retrained on the confirmation seeds: test F1, mean and standard deviation "
             "over the seeds, beside the thesis's numbers. The verdicts below rest on these models.")

# %% [markdown]
# ## Training curves
#
# Mean cross-entropy per epoch (training: corrupted or clean training data as the family
# trains on; validation: the matching validation data) for the base model, the without model
# and a few EMMA models, first seed ({numref}`fig-robustness-training-curves`). The dot marks the epoch early stopping kept.

# %% mystnb={"figure": {"caption": "Training (left) and validation (right) cross-entropy per epoch for the base model, the without model and a few EMMA models of the first seed; the dots mark the epoch early stopping kept. Look at where the validation curves stop improving and how far apart the families end.", "name": "fig-robustness-training-curves"}, "image": {"alt": "Two line plots of binary cross-entropy on a logarithmic axis against the epoch, one colour per model; the validation panel carries one dot per model at the epoch kept; the legend below names the models."}}
fig = rf.training_curves(trained, chosen, n_curve_models)
save_figure(fig, "robustness_training_curves", output_dir)
plt.show()

# %% [markdown]
# (robustness-capacities)=
# ## Learned capacities
#
# The capacity $\int_0^1 \tanh(g_a\alpha - b_a)\,d\alpha = \frac{1}{g_a}\log\frac{\cosh(g_a - b_a)}{\cosh b_a}$
# (eq. 5.11) of every trained EMMA, against λ_c: the regularizer λ_c (g_a − b_a) is meant to
# shrink it ({numref}`fig-robustness-capacities`). The thesis reports the learned capacities of three of its models;
# {numref}`tbl-robustness_capacity_reported`, after the figure, puts ours beside them.

# %% mystnb={"figure": {"caption": "The learned capacity of every trained EMMA against the capacity regularizer's weight λ_c, one line per coldness ρ, mean ± standard deviation over λ_e and seeds. If the regularizer works, each line falls as λ_c grows.", "name": "fig-robustness-capacities"}, "image": {"alt": "Line plot with error bars of the learned capacity against lambda_c on a categorical axis, one coloured line per value of rho."}}
fig = rf.capacities(trained)
save_figure(fig, "robustness_capacities", output_dir)
plt.show()

# %% tags=["hide-input"]
capacities, reported = rb.capacity_tables(trained, chosen)
save_table(capacities, "robustness_capacity", output_dir)
save_table(reported, "robustness_capacity_reported", output_dir)
show(reported, "robustness_capacity_reported",
     caption="The learned capacity (eq. 5.11) of the models whose capacity the thesis reports: ours, mean and standard deviation over seeds, "
             "beside the thesis's. An empty cell: that configuration is not in this grid.")

# %% [markdown]
# ## What the selected EMMA attends to
#
# ### Importance and attention at σ = 0.5 and σ = 2
#
# The thesis's first figure ({numref}`fig-robustness-alpha-beta-distributions`): the distributions of α and β of its best model over the test
# samples, corrupted by the training scheme at σ = 0.5 and at σ = 2, per corruption case.
# Here for the validation-selected configuration, all seeds pooled. Since α_DM = 1 − α_IP,
# α_IP alone is shown.

# %% mystnb={"figure": {"caption": "Distributions of the importance α_IP and of the attention β_IP and β_DM of the selected EMMA over the test samples, by corruption case, at the training noise (top row) and at a stronger noise (bottom row); all seeds pooled. EMMA works as intended when the samples with a noisy mode get a lower β for that mode than the clean samples.", "name": "fig-robustness-alpha-beta-distributions"}, "image": {"alt": "A grid of overlaid histograms, one row per noise level and three columns, alpha IP, beta IP and beta DM, one colour per corruption case: clean, IP noisy, DM noisy."}}
fig = rf.alpha_beta_distributions(trained, chosen, distribution_sigmas)
save_figure(fig, "robustness_alpha_beta_distributions", output_dir)
plt.show()

# %% [markdown]
# ### Attention over two noise levels
#
# β_IP and β_DM as the noise on each mode varies independently (all test samples noisy at
# (σ_IP, σ_DM)), mean over samples and seeds: the thesis's 3-D surfaces ({numref}`fig-robustness-beta-surfaces`).

# %% mystnb={"figure": {"caption": "Mean attention of the selected EMMA over the test samples when both modes are noisy, as surfaces over the noise σ_IP on IP and σ_DM on DM: β_IP (left) and β_DM (right). Each mode's β should fall along its own noise axis and hold, or rise, along the other mode's.", "name": "fig-robustness-beta-surfaces"}, "image": {"alt": "Two 3-D surface plots over the plane of sigma IP and sigma DM, the height being beta IP on the left and beta DM on the right, coloured by height."}}
surface = rb.beta_surface(trained, chosen, surface_sigmas)
save_table(surface, "robustness_beta_surface", output_dir)
fig = rf.beta_surfaces(surface, surface_sigmas)
save_figure(fig, "robustness_beta_surfaces", output_dir)
plt.show()

# %% [markdown]
# ### Two temperatures
#
# The thesis compares ρ = 10⁻⁴ and ρ = 10⁻¹ (λ_e = 10⁻², λ_c = 10⁻³): the distributions of
# α at σ = 0.5 and 2, and β as noise grows on one mode (their learned capacities are in the
# table of the previous section); {numref}`fig-robustness-temperatures` shows both.

# %% mystnb={"figure": {"caption": "Two coldnesses ρ compared (rows). Left and middle: the distribution of α_IP over the test samples by corruption case, at two noise levels. Right: the mean β of the noisy mode (red) and of the clean mode (green) as noise grows on IP (solid) or on DM (dashed), with the learned capacity in the title. A colder EMMA separates the cases more sharply.", "name": "fig-robustness-temperatures"}, "image": {"alt": "A two by three grid: in each row two panels of overlaid alpha IP histograms, one colour per corruption case, and a line plot of beta against the noise of one mode, red lines for the noisy mode and green for the clean one."}}
fig = rf.temperatures(trained, temperature_rhos, temperature_lambda_c, temperature_lambda_e, distribution_sigmas, continuum_sigmas)
save_figure(fig, "robustness_temperatures", output_dir)
plt.show()

# %% [markdown]
# ### Total energy as an uncertainty proxy
#
# With noise growing on *both* modes, the thesis reads the total energy $\sum_i E_i$ as a
# measure of how uncertain the prediction is: it should rise as F1 falls ({numref}`fig-robustness-total-energy`).

# %% mystnb={"figure": {"caption": "Mean total energy Σ E_i of the selected EMMA (purple, left axis) and test F1 (blue, right axis) as the noise σ grows on both modes at once, mean ± standard deviation over seeds. For the total energy to act as an uncertainty proxy, it must rise while F1 falls.", "name": "fig-robustness-total-energy"}, "image": {"alt": "Line plot with two vertical axes against sigma on both modes: the mean total energy on the left axis in purple with circles, and F1 on the right axis in blue with squares."}}
fig = rf.total_energy(trained, chosen, both_modes_sigmas)
save_figure(fig, "robustness_total_energy", output_dir)
plt.show()

# %% [markdown]
# (robustness-generalisation)=
# ## Robustness generalisation
#
# The thesis's headline figure ({numref}`fig-robustness-generalisation`): F1 on the test set when *every* sample has one mode
# corrupted, as the noise grows past the training noise (dashed vertical line, −6 dB). The
# horizontal line is the F1 of the single-mode classifier on the other, clean mode: what
# a model that learned to ignore the failing mode could reach. Bands: ± std over seeds.
# Top row, the book's protocol; bottom row, the original code's, with its own selected
# configuration (chosen on the test set) and its test set already corrupted in place.

# %% mystnb={"figure": {"caption": "Test F1 when every sample has one mode corrupted (left: IP, right: DM), as the noise grows past the training noise (dashed vertical line), for the four families, mean ± standard deviation over seeds; the dotted line is the single-mode classifier on the clean mode. Top row: the book's protocol; bottom row: the original code's. The thesis's claim holds where the blue EMMA curve stays above the others to the right of the dashed line.", "name": "fig-robustness-generalisation"}, "image": {"alt": "A two by two grid of line plots of F1 against NSR in dB, each with four coloured curves and shaded bands (base grey, without orange, alternative green, with blue), a dashed vertical line at the training noise and a dotted horizontal line; the legend sits below the grid."}}
curves = rb.curves(trained, chosen, confirmed, nsr_db_levels)
save_table(curves.table(), "robustness_generalisation", output_dir)
fig = rf.generalisation(curves, chosen, sigma_train)
save_figure(fig, "robustness_generalisation", output_dir)
plt.show()

# %% [markdown]
# ### Attention against the noise of one mode
#
# The slides' Figures 2 and 4 ({numref}`fig-robustness-beta-vs-nsr`): the mean attention β of each mode as one mode's noise grows,
# for the selected EMMA, under both protocols. EMMA works as the thesis describes when the
# noisy mode's β falls and the clean mode's does not.

# %% mystnb={"figure": {"caption": "Mean attention β_IP (blue) and β_DM (orange) of the selected EMMA as the noise grows on IP only (left) or on DM only (right), mean ± standard deviation over seeds; the dashed line is the training noise. Top row: the book's protocol; bottom row: the original code's. Look for the noisy mode's β falling while the clean mode's holds.", "name": "fig-robustness-beta-vs-nsr"}, "image": {"alt": "A two by two grid of line plots of mean attention beta between 0 and 1 against NSR in dB, a blue curve for beta IP and an orange one for beta DM, with shaded bands and a dashed vertical line."}}
fig = rf.beta_vs_nsr(curves, sigma_train)
save_figure(fig, "robustness_beta_vs_nsr", output_dir)
plt.show()

# %% [markdown]
# ## Influence of the two regularizers
#
# Holding ρ and the other λ at the selected configuration, λ_c (then λ_e) set to none (0),
# the selected ("good") value, and the largest of the grid ("high"): F1 and the attention
# of the noisy mode as noise grows on IP, then on DM ({numref}`fig-robustness-regularizers`). Where the selected value is 0, "good"
# is the best non-zero value by validation.

# %% mystnb={"figure": {"caption": "The effect of each regularizer with the rest of the selected configuration held fixed: λ_c (top two rows) and λ_e (bottom two rows) at none, the selected (good) and the largest (high) value. For each, test F1 and the mean attention β of the noisy mode as noise grows on IP (left) or on DM (right). A useful regularizer raises F1 and lowers the noisy mode's β at high noise.", "name": "fig-robustness-regularizers"}, "image": {"alt": "A four by two grid of line plots against NSR in dB: rows alternate F1 and beta of the noisy mode, for lambda_c and then lambda_e; one line per level of the regularizer, grey for none, blue for good, red for high."}}
influence = rb.regularizer_curves(trained, chosen, nsr_db_levels)
fig = rf.regularizers(influence)
save_figure(fig, "robustness_regularizers", output_dir)
plt.show()
_ = save_table(influence, "robustness_regularizer_curves", output_dir)

# %% [markdown]
# ## Per-sample outcomes at NSR 5 dB
#
# The slides show, for the best model at NSR 5 dB under the training scheme (half clean, a
# quarter noisy on each mode), the rate of correct and wrong predictions per class and case.
# Ours for the selected configuration, mean ± std over seeds, beside the slides' numbers
# ({numref}`tbl-robustness_outcomes_5db`).

# %%
outcomes = rb.outcomes(trained, chosen, outcome_nsr_db)
save_table(outcomes, "robustness_outcomes_5db", output_dir)
show(outcomes, "robustness_outcomes_5db", columns=["class", "case", "rate_correct_mean", "rate_correct_std", "slides_rate_correct"],
     caption="The selected EMMA's rate of correct predictions per class and corruption case at NSR 5 dB, mean and standard deviation over "
             "seeds, beside the slides' rates. The pulsar rows, the minority class, decide F1.")

# %% [markdown]
# (robustness-decision-rule)=
# ## The decision rule, settled
#
# F1 needs a threshold, and the rule that picks it shapes every F1 of this chapter ({numref}`fig-robustness-decision-rules`): on a set
# with 9 % pulsars, the ROC point closest to the corner trades many false positives for
# recall, and F1 pays for false positives. So every comparison of the thesis is judged here
# five times, on the same trained models and the same corrupted test set: F1 at three
# thresholds (the thesis's ROC corner, the fixed 0.5 that the original code's models keep
# unless that rule overrides it, and the F1-optimal threshold on validation), and two
# threshold-free scores of the predicted probabilities, the area under the ROC curve and the
# average precision (`sklearn.metrics`). The families: base, data augmentation ("without"),
# the attention fusion ("alternative"), EMMA at the configuration selected on validation,
# and EMMA averaged over the thesis's ten best configurations, each under both protocols and
# over every seed. The robustness-generalisation claim (EMMA above data augmentation past the
# training noise) is judged under each rule too, on the curves of the section above.
# {numref}`tbl-decision_rules` gives each family's mean score on the noisy test samples under each rule.

# %%
decision = rb.decide(trained, chosen, confirmed, curves, thesis_table, alpha=alpha)
for name, table in (("decision_rule_scores", decision.scores), ("decision_rules", decision.summary), ("decision_rule_verdicts", decision.per_rule)):
    save_table(table, name, output_dir)
show(decision.view("sound", "noisy"), "decision_rules",  # mean of the IP- and DM-noisy scores over seeds, book's protocol
     caption="Each family's mean score over seeds on the noisy test samples under the book's protocol, one column per decision rule: F1 at "
             "three thresholds, then two threshold-free scores. A family whose place changes between columns is ranked by the rule, not the model.")

# %% mystnb={"figure": {"caption": "Each family's score under the book's protocol on clean, IP-noisy and DM-noisy test samples (panels), under each decision rule: F1 at three thresholds, then the threshold-free AUROC and average precision, mean ± standard deviation over seeds. Follow one family across the rules: a comparison that flips between rules is decided by the threshold, not by the model.", "name": "fig-robustness-decision-rules"}, "image": {"alt": "Three stacked panels sharing a horizontal axis of five decision rules, with one line of points and error bars per family: base, without, alternative, and two EMMA variants."}}
fig = rf.decision_rules(decision)
save_figure(fig, "decision_rules", output_dir)
plt.show()

# %% [markdown]
# Each comparison, judged under each rule ({numref}`tbl-decision_rule_verdicts`; paired t-tests over the seeds against the claim's
# minimum effect, Holm's correction over the comparisons of one rule). A comparison reproduced
# under the thesis's ROC-corner rule but not under another is *rule-dependent*; `holds_under`
# names where it holds.

# %%
show(decision.verdicts(), "decision_rule_verdicts",
     caption="Each comparison of the thesis judged under every decision rule, under each protocol: the verdict over all rules and the rules "
             "under which it holds.")

# %% [markdown]
# (robustness-verdicts)=
# ## Verdicts
#
# One row per claim of the thesis in this experiment ({numref}`tbl-robustness_claims`), each quoted from its source
# (`emma.claims.registry`), judged under both protocols. Every claim that compares two models
# declares, before the run, the smallest effect that matters (`min_effect`, in F1, β or AUROC)
# and is judged on the confirmation seeds: the effect in the claimed direction, its
# (1 − 2α) interval over seeds (a paired t interval), and the effect the test could detect with
# 80 % power. *Reproduced*: the interval lies above zero, the effect reaches the minimum, the
# test survives Holm's correction within its kind, and the claim holds under every decision
# rule of the section above; *rule-dependent*: all that under the thesis's ROC-corner rule, but
# not under some other rule (`holds_under_sound` names where it holds); *inconclusive*: the
# interval holds both zero and the minimum effect; *not reproduced*: the interval lies below the
# minimum effect, so no effect that matters is there. "Levels off" has two named sub-cases (a flat
# slope, closeness to the single-mode F1); *partly reproduced* means one of them holds. The
# attention claims are compared with the same EMMA fed potentials shuffled between samples, and
# the total energy with chance and with the potentials alone, so that nothing passes by
# construction. The headline `verdict` is the book's protocol's; `verdict_original` is the replay's,
# on the grid's seeds.

# %%
claims = rb.judge(trained, chosen, confirmed, curves, decision, nsr_db_levels, attention_sigma=max(surface_sigmas), error_sigmas=both_modes_sigmas,
                  alpha=alpha, top_k=level_off_top_k, slope_tolerance=slope_tolerance, closeness=level_off_tolerance)
save_table(claims, "robustness_claims", output_dir)
show(claims, "robustness_claims", columns=["claim", "effect", "ci_low", "ci_high", "min_effect", "detectable_effect",
                                           "verdict_sound", "holds_under_sound", "verdict_original"],  # seeds: the table's n_seeds
     caption="Each claim of this experiment: the effect in the claimed direction and its interval over the confirmation seeds, the smallest "
             "effect that matters and the effect the test could detect, and the verdict under the book's protocol and under the original code's.")

# %% [markdown]
# ## What this chapter finds
#
# The sentences below are written by the code from the numbers above (they change with the
# profile and the seeds, and are never typed in by hand). The question the thesis poses,
# whether EMMA does better than simply training the same network on corrupted data, is
# answered by the first two verdicts; the rest say whether the mechanism behaves as the
# thesis describes, and whether the original code's protocol changes the answer.

# %%
save_table(rb.selection(trained, chosen), "robustness_selection", output_dir)  # the landing page says when the choice lies at the grid's edge
Markdown(rb.findings(trained, chosen, claims, results))

# %%
print(f"chapter run time: {time.perf_counter() - chapter_start:.0f} s "
      f"(training time of the sweeps, cached or not: {trained.timing['training_seconds'].sum():.0f} s)")

# %% [markdown]
# ## Try it
#
# Train every model on noisier data: with σ = 1 (0 dB) in training, validation and test, the corruption is
# four times stronger in power than the thesis's.
#
# ```bash
# emma-book run robustness -p sigma_train 1.0
# ```
#
# The dashed training-noise line of {numref}`fig-robustness-generalisation` moves from −6 dB to 0 dB, and
# the noisy-sample columns of {numref}`tbl-robustness_f1` are scored on noisier test samples: expect the
# models trained on clean data (IP only, DM only, base) to lose F1 there. Whether the models trained on the
# corrupted data hold up, and EMMA's margin over data augmentation with them, is what the verdicts of
# {numref}`tbl-robustness_claims` then say.
#
# Judge every claim at a looser level, α = 0.1 instead of 0.05.
#
# ```bash
# emma-book run robustness -p alpha 0.1
# ```
#
# Nothing is trained again and no effect in {numref}`tbl-robustness_claims` moves, but each interval, a
# (1 − 2α) interval over the seeds, narrows and so does the detectable effect: a claim that was
# inconclusive because its interval held both zero and the minimum effect may now be settled either way.
# The looser level buys verdicts with a larger chance of a false one.
