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
# # Experiment I: potential energy as a measure of failure
#
# ```{admonition} What you will learn
# - How EMMA's measure of a failing mode, the potential energy Ψ of a per-mode denoising autoencoder, is computed.
# - How well Ψ flags a noisy mode, an unseen class and a missing mode, beside the reconstruction error.
# - Why a potential computed over a whole batch, as the thesis's code did, seems to rise with noise.
# ```
#
# EMMA decides how much to trust each mode from the potential energy Ψ of an
# autoencoder trained on that mode alone: a mode whose input is unlike the training data
# should get a high Ψ. This chapter tests that premise on HTRU2 at the thesis's setup.
# We train one denoising autoencoder per mode, record Ψ_min for the next chapters, and
# then ask three questions: does Ψ rise as noise is added to a mode, does Ψ set apart a
# class the autoencoder never saw, and where does a missing mode (all zeros) land? For
# each we put the reconstruction error beside Ψ, repeat over several seeds, and end with
# a table that judges each claim of the thesis by a test over seeds.

# %% tags=["parameters"]
profile = "full"  # "full": the thesis's settings; "quick" only shrinks sizes so CI stays fast
device = "auto"  # "auto" | "cpu" | "cuda"
seeds = [0, 1, 2, 3, 4]  # one pair of autoencoders (IP, DM) and one noise draw per seed
output_dir = "_build"
data_home = None  # a folder holding HTRU_2.csv; None: $EMMA_DATA_DIR, then the user cache
cache_dir = None  # trained autoencoders are stored here and reused; None: <output_dir>/cache
split_seed = 42  # the thesis's split
dae_hidden = None  # hidden units per autoencoder; None: as THESIS_DAE (emma.engine.autoencoders), the thesis setup
dae_noise_std = None  # corruption σ while training the autoencoders; None: as THESIS_DAE
dae_epochs = None  # None: as THESIS_DAE
dae_batch_size = None  # None: as THESIS_DAE
lr = 1e-3  # Adam learning rate (thesis)
sigma_max = 2.0  # noise sweep from σ 0 up to sigma_max (thesis: 0 to 2)
n_sigmas = 21  # points in the sweep
training_sigma = 0.5  # the noise the classifiers of later chapters train with (−6 dB)
ood_long_epochs = [100, 300]  # longer trainings of the pulsar-only autoencoders, as a check
n_batch = 100  # batch size the thesis's code evaluated Ψ on (for the comparison)
coupling_sigmas = [0.0, 0.5, 1.0, 2.0]  # noise levels of that comparison

# %%
import os

import matplotlib.pyplot as plt
from IPython.display import Markdown

from emma.engine.autoencoders import THESIS_DAE
from emma.experiments import potential_figures as figures
from emma.experiments import potential_study as study
from emma.util.display import show
from emma.util.outputs import save_figure, save_table
from emma.util.runtime import check_profile

# %%
_ = check_profile(profile)
cache_dir = cache_dir if cache_dir is not None else os.path.join(output_dir, "cache")
dae = THESIS_DAE.override(d_hidden=dae_hidden, noise_std=dae_noise_std, epochs=dae_epochs, batch_size=dae_batch_size, lr=lr)

# %% [markdown]
# ## The potential energy of one mode
#
# Each mode $i$ gets its own tied-weight denoising autoencoder with a sigmoid hidden
# layer, $r(x) = W^\top \sigma(Wx + b_h) + b_r$, trained to undo a small Gaussian
# corruption of its four standardized features. Its reconstruction field is the
# negative gradient of the potential energy (thesis §4; {ref}`energy-potential`)
#
# $$\Psi(x) = -\sum_k \operatorname{softplus}(W_k x + b_{h,k}) + \tfrac12 \lVert x - b_r \rVert^2 + \text{const}, \tag{4.7}$$
#
# and the thesis reads Ψ as proportional to the negative log-likelihood of the mode's
# data (eq. 4.4): low on the data, high away from it. EMMA then uses
# $\Psi'_i = \max(e, \Psi_i - \Psi_i^{\min} + e)$ (eq. 5.2), with $\Psi_i^{\min}$ the
# lowest Ψ on the training set, which is why we record Ψ_min here.
#
# **Which Ψ this chapter computes.** Ours is the per-sample potential of eq. 4.7: a
# sample's Ψ depends on that sample alone. The thesis's code added
# $\tfrac12 \lVert X - b_r \rVert^2$ taken over the *whole mini-batch* $X$ to every
# sample, so a sample's value depended on the batch it was evaluated in. Its
# noise-sweep figure was computed on batches of 100 samples; the section "What the
# original code measured" shows what that does.

# %% [markdown]
# (potential-autoencoders)=
# ## Autoencoders per mode
#
# The thesis's setup: 4 inputs, 12 hidden units, corruption σ = 0.01, Adam
# {cite:p}`kingma2015` with learning rate 10⁻³, 30 epochs, batch 64, on the training
# split of the previous chapter ({ref}`pulsar-split`; standardized with its own statistics), the settings
# `THESIS_DAE` that the cell above adjusts from the parameters. One pair of
# autoencoders per seed; the trained models are cached, and the robustness chapters
# ({doc}`06_robustness`, {doc}`07_replay`) load the same ones. All of them are trained at once, stacked on a model axis
# (`emma.experiments.potential_study.main_autoencoders`, on `emma.engine.energy.fit_htru2_energy_models`); each ends
# where it would alone, with its own seed's initial weights, batch order and corruption noise.

# %%
main = study.main_autoencoders(seeds, dae=dae, data_home=data_home, split_seed=split_seed, device=device, cache_dir=cache_dir)

# %% mystnb={"figure": {"caption": "Learning curves of the two per-mode autoencoders of the first seed: training loss on corrupted inputs, validation loss on clean ones, per epoch. Look at how close each mode's two curves are, and at which mode reconstructs better.", "name": "fig-potential-learning-curves"}, "image": {"alt": "Line plot of the mean squared reconstruction error per sample, on a logarithmic axis, against the epoch: a training and a validation curve for the IP and for the DM autoencoder, all falling."}}
fig = figures.learning_curves(main)
save_figure(fig, "potential_learning_curves", output_dir)
plt.show()

# %% [markdown]
# Training loss is measured on corrupted inputs, validation loss on clean ones (with a
# corruption of σ = 0.01 the corruption alone barely separates them; the curves of {numref}`fig-potential-learning-curves` show how
# far apart each mode's are). The thesis stops at epoch 30, and so do we, since the
# following chapters use exactly these autoencoders. The DM mode, whose four features are nearly one quantity (previous
# chapter, {doc}`04_pulsar_data`), is the easier to reconstruct. {numref}`tbl-potential_psi_min` gives Ψ_min per mode for
# eq. 5.2 (the linked table has each seed); its spread across seeds is mostly the free additive constant of Ψ.

# %%
save_table(main.psi_min, "potential_psi_min", output_dir)
show(main.psi_min_summary(), "potential_psi_min", caption="Ψ_min, the lowest potential on the training rows (eq. 5.2), and the final "
     "training and validation losses of each mode's autoencoder: mean and standard deviation over seeds. Compare the two modes' losses.")

# %% [markdown]
# ## Ψ as noise grows
#
# For each mode we add Gaussian noise $\mathcal N(0, \sigma^2)$ to that mode's four
# features of every test sample, with σ from 0 to 2 (−∞ to +6 dB), and compute the
# mode's Ψ. The thesis plots the mean and ±2 standard deviations; we do the same for
# each seed and average over seeds. Ψ is only defined up to an additive constant (the
# one eq. 4.7 drops), and its level differs from one trained autoencoder to the next,
# so the figure ({numref}`fig-potential-vs-noise`) shows the *rise* of Ψ over the clean mean of the same seed
# ({numref}`tbl-potential_vs_noise` keeps both). One caveat before the numbers: the quadratic term
# of eq. 4.7 grows with the noise whatever the autoencoder learned, by
# $\tfrac12 \cdot 4\sigma^2 = 2\sigma^2$ on average for four features. The dashed line
# shows what that term alone would add to the clean Ψ; the learned part is the
# difference between the two curves.

# %%
sweep = study.noise_sweep(main, sigma_max=sigma_max, n_sigmas=n_sigmas, training_sigma=training_sigma)
save_table(sweep.table, "potential_vs_noise", output_dir)
show(sweep.table, "potential_vs_noise", columns=["mode", "sigma", "nsr_db", "psi_mean", "psi_rise", "psi_auroc", "recon_auroc", "n_seeds"],
     caption="Ψ of the test samples as Gaussian noise of standard deviation σ is added to one mode: its mean and its rise over the clean "
     "mean, and the AUROC of Ψ and of the reconstruction error for telling the noisy samples from the same samples clean (means over seeds). "
     "Read the two AUROC columns side by side.")

# %% mystnb={"figure": {"caption": "The rise of Ψ over its clean mean as Gaussian noise of standard deviation σ is added to one mode, per mode: mean over seeds (thick; thin lines one seed each) with a band of ± 2 standard deviations over the test samples. The dashed line is what the quadratic term of eq. 4.7 alone adds; the gap between it and the thick curve is what the autoencoder learned.", "name": "fig-potential-vs-noise"}, "image": {"alt": "Two line plots, IP and DM, of the rise of Ψ against the noise σ: a rising thick curve with thin per-seed curves and a widening shaded band, below a steeper dashed curve; a dotted vertical line marks the training noise."}}
fig = figures.potential_vs_noise(sweep)
save_figure(fig, "potential_vs_noise", output_dir)
plt.show()

# %% [markdown]
# The mean of Ψ rises with σ in both modes and for every seed. But it rises more slowly
# than the dashed line: as noise pushes a sample off the data, the learned (softplus)
# part of Ψ *falls* and takes back part of what the quadratic term adds (which is why the claims
# table at the end judges the rise of that learned part, not of Ψ). The band of
# ±2 standard deviations widens about as fast as the mean moves, so at moderate noise
# many noisy samples have a Ψ that clean samples also have.
#
# Whether a noisy mode can be told from a clean one is a ranking question, so we
# measure it with the AUROC of Ψ, noisy test samples against the same samples clean
# (0.5 = chance, 1 = every noisy sample above every clean one), and the same for the
# reconstruction error $\lVert r(x) - x \rVert^2$ ({numref}`fig-potential-noise-detection`).

# %% mystnb={"figure": {"caption": "How well each score tells noisy test samples from the same samples clean, as the noise σ on the mode grows: AUROC of the potential Ψ (solid) and of the reconstruction error (dashed), mean ± standard deviation over seeds; 0.5 is chance, the grey line our threshold for a clear separation. The higher curve is the better detector of a failing mode.", "name": "fig-potential-noise-detection"}, "image": {"alt": "Two line plots, IP and DM, of the AUROC against the noise σ, with error bars: a solid curve for Ψ and a dashed one for the reconstruction error, both rising from 0.5; a grey horizontal threshold line and a dotted vertical line at the training noise."}}
fig = figures.noise_detection(sweep)
save_figure(fig, "potential_noise_detection", output_dir)
plt.show()

# %% [markdown]
# Ψ does flag a noisy mode better than chance, increasingly so as σ grows, but the
# reconstruction error flags it better at every noise level and in both modes. The AUROCs at
# the noise the classifiers are trained with and at the largest σ:

# %%
print(sweep.auroc_lines())

# %% [markdown]
# ## Out of distribution: autoencoders trained on pulsars only
#
# The thesis's second test trains the per-mode autoencoders on the pulsars of the
# training split only and compares Ψ of test pulsars (seen class) with Ψ of test
# non-pulsars (unseen class). The expectation: higher Ψ on the unseen class. We report
# the AUROC of each score for flagging the unseen class ({numref}`tbl-potential_ood_auroc`), beside the reconstruction error
# and beside a baseline that needs no autoencoder at all: the squared distance of the
# mode to the mean of the training rows.
#
# The pulsar class is small (1,098 training rows, 18 mini-batches per epoch), so 30
# epochs are only 540 optimizer steps. We therefore also train the same autoencoders
# longer, to see whether the result belongs to Ψ or to an unfinished training.

# %%
unseen = study.unseen_class(main, long_epochs=ood_long_epochs)
save_table(unseen.table, "potential_ood_auroc", output_dir)
show(unseen.table, "potential_ood_auroc", columns=["trained_on", "flagged_class", "epochs", "mode", "psi_auroc", "recon_auroc", "distance_auroc",
     "n_seeds"], caption="How well each score flags the class the autoencoders did not see (AUROC, mean over seeds; 0.5 is chance, below "
     "0.5 the class scores lower): Ψ, the reconstruction error and the distance to the training mean, per training length and mode. The "
     "last rows are the main autoencoders flagging the rare pulsars.")

# %% [markdown]
# The histograms ({numref}`fig-potential-ood-histograms`) show one seed: Ψ at the thesis's 30 epochs, Ψ after the longest
# training, and the reconstruction error at 30 epochs (as log₁₀), for test pulsars and
# non-pulsars. The Ψ panels span the values up to their 99.5 % quantile.

# %% mystnb={"figure": {"caption": "Autoencoders trained on pulsars only (first seed): the distribution of each score on test pulsars (seen class) and non-pulsars (unseen class), per mode (rows). Columns: Ψ after the thesis's number of epochs, Ψ after the longest training, and the reconstruction error. A good score puts the unseen class to the right of the seen one.", "name": "fig-potential-ood-histograms"}, "image": {"alt": "Two rows (IP, DM) of three overlaid histograms each, one colour for non-pulsars and one for pulsars; the horizontal axes are Ψ after short and long training and the log10 reconstruction error."}}
fig = figures.unseen_class_histograms(main, unseen)
save_figure(fig, "potential_ood_histograms", output_dir)
plt.show()

# %% mystnb={"figure": {"caption": "Learning curves of the pulsar-only autoencoders trained longest (first seed), per mode; the dotted line marks the thesis's number of epochs. Look at how far the losses still fall after that line: at the thesis's stopping point these autoencoders are far from trained.", "name": "fig-potential-ood-learning-curves"}, "image": {"alt": "Line plot of the mean squared reconstruction error per sample, on a logarithmic axis, against the epoch: training and validation curves for the IP and DM autoencoders, still falling well after a dotted vertical line labelled with the thesis's number of epochs."}}
fig = figures.unseen_class_learning_curves(unseen)
save_figure(fig, "potential_ood_learning_curves", output_dir)
plt.show()

# %% [markdown]
# At the thesis's 30 epochs the result the thesis expects is there: the non-pulsars get a
# clearly higher Ψ than the pulsars in both modes, and Ψ beats the reconstruction error,
# which barely separates the classes in the IP mode. Three things qualify it.
#
# - The distance to the pulsars' mean, with no autoencoder at all, does almost as well.
# - The learning curves ({numref}`fig-potential-ood-learning-curves`) show that at 30 epochs the pulsar-only autoencoders are far from
#   trained. Trained ten times longer, the DM autoencoder gives the unseen non-pulsars a
#   *lower* Ψ than the pulsars it was trained on, and the IP separation weakens; the
#   reconstruction error is then the better score in both modes. The separation at 30 epochs belongs to an
#   unfinished autoencoder whose Ψ is still close to a distance from the centre of the
#   data.
# - The autoencoders EMMA actually uses are trained on all training rows, where pulsars
#   are the rare class. For them Ψ does not flag pulsars as unusual (IP: pulsars get the
#   *lower* Ψ), while the reconstruction error does.

# %% [markdown]
# ## A missing mode
#
# A sensor that delivers nothing is often fed to a network as zeros. After
# standardization, zero is the training mean of every feature, a point in the middle
# of the training data's range. Where does its Ψ land among the clean test samples? We
# give its percentile (the share of clean test samples with a lower Ψ), for the main
# autoencoders and for the pulsar-only ones at 30 epochs ({numref}`tbl-potential_missing_mode`).

# %%
missing = study.missing_mode(main, unseen)
save_table(missing.table, "potential_missing_mode", output_dir)
show(missing.table, "potential_missing_mode", columns=["trained_on", "mode", "psi_missing", "test_median", "test_q95", "percentile_of_missing"],
     caption="Ψ of a missing mode fed as zeros beside the median and the 95th percentile of clean test Ψ, and its percentile among them "
     "(means over seeds), for the main and the pulsar-only autoencoders. Compare Ψ(0) with the median, not only the percentile.")

# %% mystnb={"figure": {"caption": "Where a missing mode, fed as zeros, lands among the Ψ of clean and of noisy test samples (autoencoders on all training rows, first seed), per mode: the solid black line is Ψ of the zeros, the dotted one the training minimum Ψ_min. Compare the distance of the black line from the clean peak with the shift that noise produces.", "name": "fig-potential-missing-mode"}, "image": {"alt": "Two panels, IP and DM, of step histograms of Ψ for clean test samples and for two noise levels, with a solid black vertical line for the missing mode and a dotted one for Ψ_min; the clean histogram is a narrow peak near the left."}}
fig = figures.missing_mode(main, sweep)
save_figure(fig, "potential_missing_mode", output_dir)
plt.show()

# %% [markdown]
# Clean Ψ is concentrated in a narrow peak ({numref}`fig-potential-missing-mode`), so the missing mode's percentile is a
# misleading number on its own: compare the distance of Ψ(0) from the clean median with
# the rise that noise at the classifiers' training σ produces ({numref}`tbl-potential_claims-verdicts`
# gives both), and with the values of a mode at the largest σ, far to the right. After
# standardization zero is the training mean, inside the bulk of the data, so a score
# that measures how far an input is from the data has little reason to flag it: where Ψ(0)
# does pass the percentile rule, it passes by a margin far smaller than noise produces.

# %% [markdown]
# (potential-original-code)=
# ## What the original code measured
#
# The thesis's code computed Ψ for a batch of test samples at once and added
# $\tfrac12\lVert X - b_r\rVert^2$ over the whole batch to each sample. With a batch of
# 100 samples of 4 features, that term grows on average by $100 \cdot 2\sigma^2$ as
# noise is added, against $2\sigma^2$ for one sample. {numref}`tbl-potential_batch_coupling` compares the two on the
# same random test samples (`n_batch` of them) and the same autoencoders (the first seed's).

# %%
coupling = study.batch_coupling(main, n_batch=n_batch, sigmas=coupling_sigmas)
save_table(coupling, "potential_batch_coupling", output_dir)
show(coupling, "potential_batch_coupling", digits=2, caption="Mean and standard deviation of Ψ over one batch of test samples with noise "
     "σ on one mode: per sample (eq. 4.7) and batch-coupled, as the thesis's code computed it. Follow each mean down the σ column.")

# %% [markdown]
# In the batch-coupled version the mean climbs far faster with σ ({numref}`tbl-potential_batch_coupling`), while
# the spread between samples is only that of the softplus part (every sample of a batch
# gets the same quadratic term). A curve of its mean ± 2 std against σ therefore leaves
# the clean level at once, even where, sample by sample, Ψ barely moves. If the thesis's figure
# came from this code, as the code in its repository suggests, its clean picture of Ψ
# rising with noise is mostly this batch effect. This chapter's numbers all use the
# per-sample Ψ.

# %% [markdown]
# ## The thesis's claims
#
# Each row is a claim of the book's registry (`emma.claims.registry.background`): its wording,
# the sentence of the thesis it tests and where that sentence is, and the smallest effect that
# matters, fixed in the registry before any run. Each claim is judged by a one-sided t-test over
# the autoencoders trained (one per seed and mode, each trained on its own), with its two-sided
# interval at twice the level: *reproduced* when the interval lies above zero and the effect
# reaches the minimum, *not reproduced* when the interval lies entirely below the minimum,
# *inconclusive* otherwise; the p-values are Holm-adjusted over the table
# (`emma.experiments.potentials.potential_claims`, after the rules of `emma.claims.rules`).
# Four choices need saying.
#
# - *Ψ rises with noise* is judged on the learned part of Ψ. The quadratic term
#   ½‖x − b_r‖² grows with the noise for any autoencoder, trained or not, so the test takes the
#   rise of mean Ψ from σ = 0 to the largest σ, subtracts the rise of that term alone, and
#   measures what is left in standard deviations of clean Ψ (Ψ has no scale of its own). The
#   plain rise of Ψ stays in the evidence, beside it.
# - AUROCs are judged against chance: the effect is the AUROC minus 0.5.
# - *Ψ is the better failure measure* pairs the AUROC of Ψ with that of the reconstruction error
#   in every failure condition of this chapter, mode and seed: noise at the training σ and at the
#   largest σ, the unseen class at each training length, and the rare class for the main
#   autoencoders. An interval below the minimum says the claim is not reproduced.
# - The unseen class is judged at each training length, a named sub-case each; the claim needs
#   them all, so the row carries the test of the weakest (the intersection–union test).
#
# The minimum effects and their reasons, as the registry declares them, are in {numref}`tbl-potential_claims`.

# %%
claims = study.claims(sweep, unseen, missing)
save_table(claims, "potential_claims", output_dir)
show(claims, "potential_claims", columns=["claim", "min_effect", "unit", "min_effect_reason"],
     caption="The chapter's claims and the smallest effect that matters for each, fixed in the registry before any run, with its reason.")

# %% [markdown]
# The verdicts are in {numref}`tbl-potential_claims-verdicts`. The prose of this chapter describes the full profile; the quick profile trains
# for a few epochs and on fewer seeds, and its numbers and verdicts differ.

# %%
show(claims, "potential_claims", columns=["claim", "kind", "our_evidence", "effect", "ci_low", "ci_high", "min_effect", "n_seeds", "verdict"],
     caption="Each claim judged: our evidence, the effect with its interval over seeds, the minimum effect and the verdict. A claim is "
     "reproduced only when the whole interval lies above zero and the effect reaches the minimum.", label="tbl-potential_claims-verdicts")

# %% [markdown]
# ## What this means for EMMA
#
# On HTRU2, at the thesis's setup, the per-sample potential energy is a failure signal
# whose strength the tables above measure; in short (written from them):

# %%
Markdown(study.summary(sweep, unseen, missing))

# %% [markdown]
# None of this decides whether EMMA helps: its self-energy $e_i = w_i\Psi'_i + b_i$ is
# trained end to end, and the classifier behind it still sees the noisy mode itself. It
# does bound what the energy can contribute, and the robustness chapters ({doc}`06_robustness`,
# {doc}`07_replay`) should be read
# with it in mind: where EMMA helps, part of the help may come from the learned weights
# and the classifier rather than from Ψ measuring failure.

# %% [markdown]
# ## What this chapter finds

# %%
Markdown(study.findings(claims))

# %% [markdown]
# ## Try it
#
# Judge the noise claims at a stronger noise, σ = 1 (0 dB), instead of the classifiers' training noise:
#
# ```bash
# emma-book run potential_energy -p training_sigma 1
# ```
#
# The dotted line of {numref}`fig-potential-vs-noise` and {numref}`fig-potential-noise-detection` moves right, and the
# AUROC of Ψ printed for the training noise, and judged in {numref}`tbl-potential_claims-verdicts`, should be higher, as
# the AUROC curves rise with σ; see whether the verdict of *Ψ tells a noisy mode from a clean one* changes.
#
# Evaluate the thesis's batch-coupled potential on smaller batches:
#
# ```bash
# emma-book run potential_energy -p n_batch 10
# ```
#
# In {numref}`tbl-potential_batch_coupling` the batch-coupled mean climbs with σ roughly ten times more slowly than with
# batches of 100, since its quadratic term sums over the batch, while the per-sample means stay about where they were:
# the batch effect grows with the batch, not with what the autoencoder learned.
