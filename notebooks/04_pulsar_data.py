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
# # The pulsar data
#
# ```{admonition} What you will learn
# - What a pulsar candidate of HTRU2 is, and which four features make each of its two modes, IP and DM.
# - How unbalanced the classes are, how well each feature separates them, and how the two modes are correlated.
# - How the thesis splits, standardizes and corrupts the data, and what Gaussian noise of a given power does to a mode.
# ```
#
# Every experiment of the thesis on real data uses one table: HTRU2, 17,898 pulsar
# candidates described by two groups of four numbers {cite:p}`lyon2016,htru2uci`.
# This chapter says what a candidate is and what its two *modes* measure, shows how
# unbalanced the classes are, how each feature differs between pulsars and the rest,
# how strongly the two modes are correlated, how the thesis splits and standardizes
# the data (our split table beside the thesis's), and what Gaussian noise at −20, −6
# and +6 dB does to a mode. Everything here comes from `emma.data`, through the
# functions of `emma.experiments.pulsar_data`.

# %% tags=["parameters"]
profile = "full"  # "full": the thesis's settings; "quick" only shrinks sizes so CI stays fast
device = "auto"  # "auto" | "cpu" | "cuda"
split_seed = 42  # random_state of both stratified splits (the thesis uses 42)
output_dir = "_build"
data_home = None  # a folder holding HTRU_2.csv; None: $EMMA_DATA_DIR, then the user cache
test_size = 0.33  # fraction held out for validation + test
seeds = [0]  # the noise drawn in this chapter uses the first seed
noise_levels_db = [-20.0, -6.0, 6.0]  # noise-to-signal ratios shown
training_sigma = 0.5  # σ of the thesis's corruption during training (−6 dB)
max_points = None  # samples per class drawn in scatter plots (None: all)

# %%
from emma.util.display import show
from emma.util.runtime import check_profile

_ = check_profile(profile)

# %%
import matplotlib.pyplot as plt
from IPython.display import Markdown
from myst_nb import glue

from emma.data import fetch_htru2, make_splits, sigma_to_nsr_db
from emma.experiments import pulsar_data as pdata
from emma.experiments import pulsar_figures as figures
from emma.util import resolve_device, save_figure, save_table

device = resolve_device(device)

# %% [markdown]
# (pulsar-candidate)=
# ## What a candidate is
#
# A pulsar is a rotating neutron star whose beam of radio emission sweeps past the
# Earth once per turn, so a radio telescope sees a faint pulse repeating with a very
# stable period. Surveys such as the High Time Resolution Universe survey (HTRU) search
# the sky for such periodic signals and produce millions of *candidates*: a period, a
# dispersion measure and the data folded at that period. Almost all candidates are
# radio interference or noise; deciding which are real pulsars is the classification
# task {cite:p}`lyon2016`.
#
# {cite:t}`lyon2016` describe each candidate by eight numbers taken from two curves:
#
# - **IP, the integrated pulse profile**: the signal folded at the candidate's period
#   and summed over the observation, intensity against rotational phase. A real pulsar
#   gives a narrow, stable peak; interference gives flat or broad shapes.
# - **DM, the DM-SNR curve**: radio waves are delayed by the free electrons along their
#   path, low frequencies more than high ones. The total delay is set by the *dispersion
#   measure* (DM), unknown in advance, so the search tries many DM values and records
#   the signal-to-noise ratio of each trial. A real, distant source peaks at a non-zero
#   DM; terrestrial interference peaks at DM ≈ 0.
#
# Each curve is summarised by the same four statistics: mean, standard deviation,
# excess kurtosis and skewness. The thesis treats the two curves as two *modes* of
# four features each: IP = columns 0–3, DM = columns 4–7 {cite:p}`werenne2019`.

# %% [markdown]
# ## Loading the data
#
# `fetch_htru2` looks for `HTRU_2.csv` in `data_home`, then in the folder named by the
# environment variable `EMMA_DATA_DIR`, then in the user cache (`~/.cache/emma`); only
# when all three lack it does it download the UCI archive into the cache. Whatever it
# finds is checked before use: 17,898 rows of 9 finite numbers, no header, a class
# column of 0 and 1 with 1,639 ones. A file failing any check is rejected with a
# message naming the problem and the file. {numref}`tbl-pulsar_head` shows the first candidates.

# %%
data = fetch_htru2(data_home)
print(f"read {data.path.name} ({data.path.stat().st_size:,} bytes)")  # the folder is the machine's, not the reader's
show(data.frame.head(), index=True, label="tbl-pulsar_head", caption="The first five candidates of HTRU2 as read: "
     "the four IP features, the four DM features and the class (1 for a pulsar).")

# %% [markdown]
# ## Class imbalance
#
# Fewer than one candidate in ten is a pulsar ({numref}`tbl-pulsar_class_balance`). A classifier that answers "non-pulsar"
# every time is right {glue:text}`pulsar_majority_share:.1%` of the time and useless, which is why
# the thesis measures its classifiers with the F1 score of the pulsar class rather than with accuracy.

# %%
class_balance = pdata.class_balance(data)
save_table(class_balance, "pulsar_class_balance", output_dir)
glue("pulsar_majority_share", pdata.majority_share(class_balance), display=False)
show(class_balance, "pulsar_class_balance", caption="The candidates per class: count and share. "
     "The pulsars are the small class.")

# %% [markdown]
# ## The features per class and per mode
#
# The histograms ({numref}`fig-pulsar-feature-distributions`) show each feature for the two classes separately (each normalised to
# unit area, so the small pulsar class stays visible). The features have long tails:
# each panel's horizontal axis spans the 0.5 % to 99.5 % quantiles of that feature, and
# the few values outside are not drawn (they are still in the data).

# %% mystnb={"figure": {"caption": "Each HTRU2 feature for non-pulsars (grey) and pulsars (red), each class normalised to unit area; top row the four features of the integrated profile (IP), bottom row those of the DM-SNR curve (DM). Look for the panels where the two classes overlap least: they are the features that separate the classes on their own.", "name": "fig-pulsar-feature-distributions"}, "image": {"alt": "Eight overlaid histograms in two rows of four, one per feature, grey for non-pulsars and red for pulsars; in most IP panels the red pulsar histogram sits apart from the grey one, in the DM panels they overlap more."}}
fig = figures.feature_distributions_figure(data)
save_figure(fig, "pulsar_feature_distributions", output_dir)
plt.show()

# %% [markdown]
# How well does one feature on its own tell the classes apart? The area under the ROC
# curve (AUROC, {cite:t}`pedregosa2011`'s `roc_auc_score`) of a feature used as a score
# answers that without choosing a threshold: 0.5 is chance, 1 a perfect ranking. We
# report `max(AUROC, 1 − AUROC)` so that a feature that is *lower* for pulsars also
# counts as informative, and the direction separately ({numref}`tbl-pulsar_feature_separation`).

# %%
feature_separation = pdata.separation_table(data)
save_table(feature_separation, "pulsar_feature_separation", output_dir)
show(feature_separation, "pulsar_feature_separation", caption="Each feature's median per class and how well it alone "
     "separates the classes: max(AUROC, 1 − AUROC) of the feature used as a score, and whether pulsars score higher or lower.")

# %%
for _, row in pdata.most_separating(feature_separation).iterrows():
    print(f"most separating feature of {row['mode']}: {row.feature} (AUROC {row.separation_auroc:.3f})")

# %% [markdown]
# Both modes carry information about the class, and three of the four IP features separate
# it better one by one than any DM feature ({numref}`tbl-pulsar_feature_separation`; the IP standard deviation is the
# exception): pulsars have a narrower, more peaked profile
# (lower mean and standard deviation, higher excess kurtosis and skewness) and a
# broader, less peaked DM-SNR curve. That asymmetry matters later: a classifier that
# loses the IP mode loses more than one that loses the DM mode.

# %% [markdown]
# ## Correlation between the modes
#
# EMMA's *shared energies* exist because modes can depend on each other. We measure
# the dependence with Spearman's rank correlation, which is insensitive to the long
# tails seen above. The heat map ({numref}`fig-pulsar-feature-correlation`) shows all eight features; the block framed by the
# lines is the IP–DM cross-correlation.

# %% mystnb={"figure": {"caption": "Spearman rank correlation between the eight HTRU2 features, red positive and blue negative. The two blocks on the diagonal are the correlations within the IP and within the DM mode; the framed off-diagonal block is the correlation across the two modes.", "name": "fig-pulsar-feature-correlation"}, "image": {"alt": "An 8 by 8 heatmap of rank correlations from minus 1 (blue) to 1 (red), each cell annotated with its value, the features named along both axes; black lines split it into IP and DM blocks, with strong correlations inside the diagonal blocks and weak ones across."}}
fig = figures.correlation_figure(data)
save_figure(fig, "pulsar_feature_correlation", output_dir)
plt.show()

# %% [markdown]
# Within each mode the features are strongly tied: the four DM statistics are almost one
# quantity in rank order, the IP statistics somewhat less so. Across the two modes the
# rank correlation over all candidates is weak. {numref}`tbl-pulsar_cross_mode_correlation` computes the cross-mode block
# for all candidates and within each class, since a dependence can hide inside one
# class when the classes are pooled.

# %%
cross_mode = pdata.cross_mode_correlation(data)
save_table(cross_mode, "pulsar_cross_mode_correlation", output_dir)
show(cross_mode, "pulsar_cross_mode_correlation", caption="Spearman correlation between the four IP and the four DM "
     "features, over all candidates and within each class: its mean absolute value, and the strongest pair.")

# %% [markdown]
# Pooled over all candidates the two modes look nearly independent; among the pulsars
# they are clearly coupled, the mean of the profile falling as the mean of the DM-SNR
# curve rises. So the modes are far from redundant, which is what lets one mode stand in
# for the other when it fails, yet they are not unrelated either: this is the kind of
# coupling EMMA's shared energies are meant to capture.

# %% [markdown]
# (pulsar-split)=
# ## The split
#
# The thesis's code holds out 33 % of the candidates with a stratified split
# (`random_state=42`), then halves the held-out part, again stratified, into a
# validation and a test set. `make_splits` does the same with scikit-learn's
# `train_test_split`. In {numref}`tbl-pulsar_splits` our counts stand beside the thesis's
# (columns `thesis_*`, from `emma.claims.thesis`).

# %%
splits = make_splits(data, seed=split_seed, test_size=test_size, device=device)
pulsar_splits = pdata.split_table(splits)
save_table(pulsar_splits, "pulsar_splits", output_dir)
show(pulsar_splits, "pulsar_splits", caption="Pulsars (positives), other candidates and their total per split, ours "
     "beside the thesis's table, and the difference of the totals.")

# %% [markdown]
# The positives agree in every split. One non-pulsar sits in our test split where the
# thesis has it in the training split: scikit-learn rounds the held-out size *up*,
# ⌈0.33 × 17,898⌉ = ⌈5,906.3⌉ = 5,907, while the thesis's table holds out 5,906. We
# do not know which library version produced the thesis's table; a one-sample
# difference in 17,898 changes none of the conclusions, and we keep the library's
# behaviour rather than patch it to match.

# %% [markdown]
# ## Standardization
#
# The features live on very different scales (the DM skewness reaches the hundreds,
# the IP excess kurtosis stays within a few units), so every feature is standardized,
# $x \mapsto (x - \mu)/s$, with the mean $\mu$ and the population standard deviation
# $s$ of the **training** split only, applied unchanged to validation and test. Using
# all the data would leak test information into training. After standardization every
# feature has variance 1 on the training split, which is what makes the
# noise-to-signal ratio below meaningful. On the other splits the mean and standard
# deviation are close to, but not exactly, 0 and 1 ({numref}`tbl-pulsar_standardization`).

# %%
standardization = pdata.standardization_table(splits)
save_table(standardization, "pulsar_standardization", output_dir)
show(standardization, "pulsar_standardization", caption="Per feature, the training split's raw mean and standard "
     "deviation, then the mean and standard deviation of each split after standardization.")

# %% [markdown]
# (pulsar-noise)=
# ## Noise on a mode
#
# The thesis simulates a failing sensor by adding Gaussian white noise
# $\varepsilon \sim \mathcal N(0, \sigma^2)$ to every feature of one mode, after
# standardization. Because each standardized feature has variance 1, the ratio of noise
# power to signal power is $\sigma^2$, and in decibels
#
# $$\mathrm{NSR} = 10 \log_{10} \frac{\sigma^2}{1}\ \mathrm{dB}.$$
#
# So σ = 0.1 is −20 dB, σ = 0.5 (the thesis's training noise) is −6 dB, σ = 1 is 0 dB and
# σ = 2 is +6 dB ({numref}`tbl-pulsar_noise_levels` converts the levels of this chapter). The
# thesis's code calls this quantity `SNR`, but it grows with the noise: it is a noise-to-signal
# ratio, and this book calls it NSR throughout.

# %%
levels = pdata.noise_levels(noise_levels_db)
print(f"training noise σ = {training_sigma} is {sigma_to_nsr_db(training_sigma):.2f} dB")
show(levels, digits=4, label="tbl-pulsar_noise_levels", caption="The noise levels of this chapter: the noise-to-signal "
     "ratio in dB, its σ, and σ converted back to dB.")

# %% [markdown]
# The figure ({numref}`fig-pulsar-noise-levels`) shows the test samples in the plane of each mode's two most separating
# features, clean and with noise added to that mode at each level. At −20 dB the cloud
# barely moves; at −6 dB the thin curve the samples lie on thickens into a band but the
# classes still separate; at +6 dB the noise has twice the spread of the data, the curve
# is gone and the classes overlap heavily.

# %% mystnb={"figure": {"caption": "Test samples in the plane of each mode's two most separating features, standardized, non-pulsars grey and pulsars red: clean (left), then with Gaussian noise of growing power on that mode only; top row the IP mode, bottom row the DM mode. Watch the thin curve the clean samples lie on thicken into a band and the two classes merge as the noise grows.", "name": "fig-pulsar-noise-levels"}, "image": {"alt": "Two rows of scatter plots, one column per noise level starting with clean: grey non-pulsar and red pulsar points, first along a thin curve, then in an ever wider cloud in which the classes overlap."}}
noise = pdata.noise_study(splits, feature_separation, noise_levels_db, seed=seeds[0], max_points=max_points)
save_figure(noise.figure, "pulsar_noise_levels", output_dir)
plt.show()

# %% [markdown]
# A number for the same picture ({numref}`tbl-pulsar_noise_separation`): the separation AUROC
# of each feature on the noisy test split, averaged over the mode's four features, and the best of the four. Even at
# +6 dB a single noisy feature still ranks pulsars above chance; the noise hides the
# class less than it hides the thin curve the clean data lie on, and it is that curve
# (the data manifold) that a per-mode autoencoder learns.

# %%
save_table(noise.separation, "pulsar_noise_separation", output_dir)
show(noise.separation, "pulsar_noise_separation", caption="The separation AUROC of a mode's features on the test split "
     "with noise on that mode, clean (−inf dB) and at each level: the mean over the four features and the best one.")

# %% [markdown]
# (pulsar-corruption)=
# ## The corruption scheme
#
# For training and evaluating the classifiers of the later chapters ({doc}`06_robustness`,
# {doc}`07_replay`) the thesis corrupts
# each split separately: half of the samples stay clean, a quarter get noise on the IP
# mode only and a quarter on the DM mode only, at σ = 0.5 during training. `corrupt`
# draws which samples get which from a seeded generator and returns, beside the noisy
# data, a (samples × modes) mask of the corrupted modes. When a split has an odd number
# of samples the extra one stays clean.

# %%
corruption_counts = pdata.corruption_counts(splits, training_sigma, seed=seeds[0], device=device)
save_table(corruption_counts, "pulsar_corruption_counts", output_dir)
show(corruption_counts, "pulsar_corruption_counts", caption="The thesis's corruption scheme on each split: the clean "
     "samples, those noisy on IP only or DM only, and the pulsars among the noisy ones.")

# %% [markdown]
# The samples to corrupt are drawn regardless of their class, so the share of pulsars
# among the noisy samples ({numref}`tbl-pulsar_corruption_counts`) only matches the overall 9 % on average. The next chapter,
# {doc}`05_potential_energy`, asks whether the potential energy of an autoencoder trained on each mode notices
# such noise.

# %% [markdown]
# ## What this chapter finds

# %%
Markdown(pdata.findings(class_balance, feature_separation, noise.separation, cross_mode, training_sigma))

# %% [markdown]
# ## Try it
#
# Put the noise at other levels, to watch the classes merge as its power grows:
#
# ```bash
# emma-book run pulsar_data -p noise_levels_db '[-10, 0, 10]'
# ```
#
# {numref}`fig-pulsar-noise-levels` gets one column per new level, {numref}`tbl-pulsar_noise_levels`
# one row per level, and {numref}`tbl-pulsar_noise_separation` one row per level and mode. The mean
# separation AUROC should fall as the level rises, and at +10 dB come closer to chance than at +6 dB.
#
# Draw another stratified split, to see what of the split is chance:
#
# ```bash
# emma-book run pulsar_data -p split_seed 7
# ```
#
# The counts of {numref}`tbl-pulsar_splits` stay the same, since a stratified split fixes how many
# candidates of each class go where; only which candidates go where changes. That shows in
# {numref}`tbl-pulsar_standardization`: the training split's raw means and standard deviations
# shift a little, most in the long-tailed DM features, and so do the standardized statistics of
# the validation and test splits.
