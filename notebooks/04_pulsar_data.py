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
# Every experiment of the thesis on real data uses one table: HTRU2, 17,898 pulsar
# candidates described by two groups of four numbers {cite:p}`lyon2016,htru2uci`.
# This chapter says what a candidate is and what its two *modes* measure, shows how
# unbalanced the classes are, how each feature differs between pulsars and the rest,
# how strongly the two modes are correlated, how the thesis splits and standardizes
# the data (our split table beside the thesis's), and what Gaussian noise at −20, −6
# and +6 dB does to a mode. Everything here comes from `emma.data.htru2`.

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
import numpy as np
import pandas as pd
import torch
from myst_nb import glue

from emma.claims.thesis import thesis_split_table
from emma.data.htru2 import CLASS_COLUMN, FEATURE_NAMES, MODE_NAMES, MODE_SLICES, fetch_htru2
from emma.data.htru2 import feature_separation as separation_of
from emma.data.noise import add_noise, corrupt, nsr_db_to_sigma, sigma_to_nsr_db
from emma.data.splits import make_splits
from emma.util.outputs import save_figure, save_table
from emma.util.plots import legible
from emma.util.runtime import resolve_device

device = resolve_device(device)
CLASS_NAMES = {0: "non-pulsar", 1: "pulsar"}
CLASS_COLORS = {0: "tab:gray", 1: "tab:red"}

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
# message naming the problem and the file.

# %%
data = fetch_htru2(data_home)
print(f"read {data.path.name} ({data.path.stat().st_size:,} bytes)")  # the folder is the machine's, not the reader's
show(data.frame.head(), index=True)

# %% [markdown]
# ## Class imbalance
#
# Fewer than one candidate in ten is a pulsar. A classifier that answers "non-pulsar"
# every time is right {glue:text}`pulsar_majority_share:.1%` of the time and useless, which is why
# the thesis measures its classifiers with the F1 score of the pulsar class rather than with accuracy.

# %%
counts = data.frame[CLASS_COLUMN].value_counts().sort_index()
class_balance = pd.DataFrame(
    {
        "class": [CLASS_NAMES[c] for c in counts.index],
        "label": counts.index,
        "count": counts.values,
        "share": (counts.values / counts.sum()).round(4),
    }
)
save_table(class_balance, "pulsar_class_balance", output_dir)
glue("pulsar_majority_share", float(counts.max() / counts.sum()), display=False)
show(class_balance, "pulsar_class_balance")

# %% [markdown]
# ## The features per class and per mode
#
# The histograms ({numref}`fig-pulsar-feature-distributions`) show each feature for the two classes separately (each normalised to
# unit area, so the small pulsar class stays visible). The features have long tails:
# each panel's horizontal axis spans the 0.5 % to 99.5 % quantiles of that feature, and
# the few values outside are not drawn (they are still in the data).

# %% mystnb={"figure": {"caption": "Each HTRU2 feature for non-pulsars (grey) and pulsars (red), each class normalised to unit area; top row the four features of the integrated profile (IP), bottom row those of the DM-SNR curve (DM). Look for the panels where the two classes overlap least: they are the features that separate the classes on their own.", "name": "fig-pulsar-feature-distributions"}, "image": {"alt": "Eight overlaid histograms in two rows of four, one per feature, grey for non-pulsars and red for pulsars; in most IP panels the red pulsar histogram sits apart from the grey one, in the DM panels they overlap more."}}
fig, axes = plt.subplots(2, 4, figsize=(10, 5.4))
for row, mode in enumerate(MODE_NAMES):
    for col, name in enumerate(FEATURE_NAMES[MODE_SLICES[mode]]):
        ax = axes[row, col]
        low, high = np.quantile(data.frame[name], [0.005, 0.995])
        bins = np.linspace(low, high, 50)
        for label in (0, 1):
            values = data.frame.loc[data.frame[CLASS_COLUMN] == label, name]
            ax.hist(values, bins=bins, density=True, histtype="stepfilled", alpha=0.45,
                    color=CLASS_COLORS[label], label=CLASS_NAMES[label])
        ax.set(xlabel=name, yticks=[])
    axes[row, 0].set_ylabel(f"mode {mode}\ndensity")
axes[0, 0].legend(fontsize=8)
fig.suptitle("HTRU2 features by class (each class normalised to unit area)")
legible(fig)
fig.tight_layout()
save_figure(fig, "pulsar_feature_distributions", output_dir)
plt.show()

# %% [markdown]
# How well does one feature on its own tell the classes apart? The area under the ROC
# curve (AUROC, {cite:t}`pedregosa2011`'s `roc_auc_score`) of a feature used as a score
# answers that without choosing a threshold: 0.5 is chance, 1 a perfect ranking. We
# report `max(AUROC, 1 − AUROC)` so that a feature that is *lower* for pulsars also
# counts as informative, and the direction separately.

# %%
medians = data.frame.groupby(CLASS_COLUMN)[list(FEATURE_NAMES)].median()
feature_separation = pd.concat(
    [
        pd.DataFrame({
            "feature": FEATURE_NAMES,
            "mode": ["IP" if name.startswith("ip") else "DM" for name in FEATURE_NAMES],
            "median_non_pulsar": medians.loc[0].to_numpy(),
            "median_pulsar": medians.loc[1].to_numpy(),
        }),
        separation_of(data.features, data.target),
    ],
    axis=1,
).round(4)
save_table(feature_separation, "pulsar_feature_separation", output_dir)
show(feature_separation, "pulsar_feature_separation")

# %%
best = feature_separation.loc[feature_separation.groupby("mode")["separation_auroc"].idxmax()]
for _, row in best.iterrows():
    print(f"most separating feature of {row['mode']}: {row.feature} (AUROC {row.separation_auroc:.3f})")

# %% [markdown]
# Both modes carry information about the class, and three of the four IP features separate
# it better one by one than any DM feature (the table; the IP standard deviation is the
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
spearman = data.frame[list(FEATURE_NAMES)].corr(method="spearman")
fig, ax = plt.subplots(figsize=(6.5, 5.5))
image = ax.imshow(spearman.values, cmap="RdBu_r", vmin=-1, vmax=1)
ax.set_xticks(range(8), FEATURE_NAMES, rotation=60, ha="right")
ax.set_yticks(range(8), FEATURE_NAMES)
for i in range(8):
    for j in range(8):
        value = spearman.values[i, j]
        ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7, color="w" if abs(value) > 0.6 else "k")
ax.axhline(3.5, color="k", lw=1)
ax.axvline(3.5, color="k", lw=1)
fig.colorbar(image, ax=ax, label="Spearman correlation")
ax.set_title("Rank correlation of the HTRU2 features")
legible(fig)
fig.tight_layout()
save_figure(fig, "pulsar_feature_correlation", output_dir)
plt.show()

# %% [markdown]
# Within each mode the features are strongly tied: the four DM statistics are almost one
# quantity in rank order, the IP statistics somewhat less so. Across the two modes the
# rank correlation over all candidates is weak. The table computes the cross-mode block
# for all candidates and within each class, since a dependence can hide inside one
# class when the classes are pooled.

# %%
ip_names, dm_names = list(FEATURE_NAMES[0:4]), list(FEATURE_NAMES[4:8])
rows = []
for group, frame in [("all", data.frame)] + [(CLASS_NAMES[c], data.frame[data.frame[CLASS_COLUMN] == c]) for c in (0, 1)]:
    block = frame[list(FEATURE_NAMES)].corr(method="spearman").loc[ip_names, dm_names]
    strongest = block.abs().stack().idxmax()
    rows.append(
        {
            "candidates": group,
            "n": len(frame),
            "mean_abs_cross_correlation": block.abs().values.mean(),
            "strongest_pair": f"{strongest[0]} / {strongest[1]}",
            "strongest_correlation": block.loc[strongest],
        }
    )
cross_mode = pd.DataFrame(rows).round(3)
save_table(cross_mode, "pulsar_cross_mode_correlation", output_dir)
show(cross_mode, "pulsar_cross_mode_correlation")

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
# `train_test_split`. Our counts stand beside the thesis's (columns `thesis_*`, from
# `emma.claims.thesis`).

# %%
splits = make_splits(data, seed=split_seed, test_size=test_size, device=device)
thesis_splits = thesis_split_table()  # emma.claims.thesis.THESIS_SPLITS
pulsar_splits = splits.sizes().merge(thesis_splits, on="split")
pulsar_splits["total_minus_thesis"] = pulsar_splits["total"] - pulsar_splits["thesis_total"]
save_table(pulsar_splits, "pulsar_splits", output_dir)
show(pulsar_splits, "pulsar_splits")

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
# deviation are close to, but not exactly, 0 and 1.

# %%
standardization = pd.DataFrame(
    {"feature": FEATURE_NAMES, "train_mean_raw": splits.mean, "train_std_raw": splits.std}
)
for name, part in (("train", splits.train), ("val", splits.val), ("test", splits.test)):
    standardization[f"{name}_mean"] = part.x.mean(dim=0).cpu().numpy()
    standardization[f"{name}_std"] = part.x.std(dim=0, unbiased=False).cpu().numpy()
standardization = standardization.round(4)
save_table(standardization, "pulsar_standardization", output_dir)
show(standardization, "pulsar_standardization")

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
# σ = 2 is +6 dB. The thesis's code calls this quantity `SNR`, but it grows with the
# noise: it is a noise-to-signal ratio, and this book calls it NSR throughout.

# %%
levels = pd.DataFrame({"nsr_db": noise_levels_db, "sigma": nsr_db_to_sigma(np.array(noise_levels_db))})
levels["sigma_to_nsr_db"] = sigma_to_nsr_db(levels["sigma"].to_numpy())
print(f"training noise σ = {training_sigma} is {sigma_to_nsr_db(training_sigma):.2f} dB")
show(levels, digits=4)

# %% [markdown]
# The figure ({numref}`fig-pulsar-noise-levels`) shows the test samples in the plane of each mode's two most separating
# features, clean and with noise added to that mode at each level. At −20 dB the cloud
# barely moves; at −6 dB the thin curve the samples lie on thickens into a band but the
# classes still separate; at +6 dB the noise has twice the spread of the data, the curve
# is gone and the classes overlap heavily.

# %% mystnb={"figure": {"caption": "Test samples in the plane of each mode's two most separating features, standardized, non-pulsars grey and pulsars red: clean (left), then with Gaussian noise of growing power on that mode only; top row the IP mode, bottom row the DM mode. Watch the thin curve the clean samples lie on thicken into a band and the two classes merge as the noise grows.", "name": "fig-pulsar-noise-levels"}, "image": {"alt": "Two rows of scatter plots, one column per noise level starting with clean: grey non-pulsar and red pulsar points, first along a thin curve, then in an ever wider cloud in which the classes overlap."}}
generator = torch.Generator().manual_seed(seeds[0])
test_y = splits.test.y.cpu().numpy().astype(int)
shown = np.concatenate(
    [
        np.random.default_rng(seeds[0]).permutation(np.flatnonzero(test_y == label))[:max_points]
        for label in (0, 1)
    ]
)
panels = [("clean", 0.0)] + [(f"{db:+.0f} dB (σ = {nsr_db_to_sigma(db):.2f})", nsr_db_to_sigma(db)) for db in noise_levels_db]
fig, axes = plt.subplots(2, len(panels), figsize=(2.5 * len(panels), 6.0), sharex="row", sharey="row")
for row, mode in enumerate(MODE_NAMES):
    pair = (
        feature_separation[feature_separation["mode"] == mode]
        .nlargest(2, "separation_auroc")["feature"]
        .map(FEATURE_NAMES.index)
        .tolist()
    )
    for col, (title, sigma) in enumerate(panels):
        noisy = add_noise(splits.test.x, sigma, mode, generator).cpu().numpy()
        ax = axes[row, col]
        for label in (0, 1):
            points = noisy[shown[test_y[shown] == label]]
            ax.scatter(points[:, pair[0]], points[:, pair[1]], s=3, alpha=0.5,
                       color=CLASS_COLORS[label], label=CLASS_NAMES[label])
        ax.set(title=f"{mode}: {title}", xlabel=FEATURE_NAMES[pair[0]])
        if col == 0:
            ax.set_ylabel(FEATURE_NAMES[pair[1]])
axes[0, 0].legend(fontsize=8, markerscale=3)
fig.suptitle("Test samples, standardized, with noise on one mode")
legible(fig)
fig.tight_layout()
save_figure(fig, "pulsar_noise_levels", output_dir)
plt.show()

# %% [markdown]
# A number for the same picture: the separation AUROC of each feature on the noisy test
# split, averaged over the mode's four features, and the best of the four. Even at
# +6 dB a single noisy feature still ranks pulsars above chance; the noise hides the
# class less than it hides the thin curve the clean data lie on, and it is that curve
# (the data manifold) that a per-mode autoencoder learns.

# %%
rows = []
for mode in MODE_NAMES:
    for db in [-np.inf, *noise_levels_db]:
        sigma = float(nsr_db_to_sigma(db))
        noisy = add_noise(splits.test.x, sigma, mode, generator).cpu().numpy()
        separation = separation_of(noisy[:, MODE_SLICES[mode]], test_y)["separation_auroc"]
        rows.append({"mode": mode, "nsr_db": db, "sigma": sigma,
                     "mean_separation_auroc": separation.mean(), "best_separation_auroc": separation.max()})
noise_separation = pd.DataFrame(rows).round(4)
save_table(noise_separation, "pulsar_noise_separation", output_dir)
show(noise_separation, "pulsar_noise_separation")

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
rows = []
for name, part in (("train", splits.train), ("validation", splits.val), ("test", splits.test)):
    _, mask = corrupt(part.x, training_sigma, torch.Generator(device=device).manual_seed(seeds[0]))
    mask = mask.cpu()
    rows.append(
        {
            "split": name,
            "clean": int((~mask.any(dim=1)).sum()),
            "ip_noisy": int(mask[:, 0].sum()),
            "dm_noisy": int(mask[:, 1].sum()),
            "pulsars_ip_noisy": int((mask[:, 0] & (part.y.cpu() == 1)).sum()),
            "pulsars_dm_noisy": int((mask[:, 1] & (part.y.cpu() == 1)).sum()),
            "total": len(part),
        }
    )
corruption_counts = pd.DataFrame(rows)
save_table(corruption_counts, "pulsar_corruption_counts", output_dir)
show(corruption_counts, "pulsar_corruption_counts")

# %% [markdown]
# The samples to corrupt are drawn regardless of their class, so the share of pulsars
# among the noisy samples only matches the overall 9 % on average. The next chapter,
# {doc}`05_potential_energy`, asks whether the potential energy of an autoencoder trained on each mode notices
# such noise.

# %% [markdown]
# ## What this chapter finds

# %%
from IPython.display import Markdown

pulsar_share = float(class_balance.loc[class_balance["label"] == 1, "share"].iloc[0])
best = feature_separation.loc[feature_separation.groupby("mode")["separation_auroc"].idxmax()]
clean_level = noise_separation[noise_separation["sigma"] == 0.0].set_index("mode")["mean_separation_auroc"]
at_training = noise_separation.loc[(noise_separation["sigma"] - training_sigma).abs().groupby(noise_separation["mode"]).idxmin()].set_index("mode")
overall = cross_mode[cross_mode["candidates"] == "all"].iloc[0]
Markdown("\n".join([
    f"- {pulsar_share:.1%} of the {int(class_balance['count'].sum())} candidates are pulsars: F1, not accuracy, is the measure.",
    "- The best single feature of each mode separates the classes with AUROC "
    + ", ".join(f"{r.separation_auroc:.3f} ({r.feature})" for r in best.itertuples()) + ".",
    "- Noise at the training level (σ = " + f"{training_sigma}" + ") lowers the mean separation of a mode's features from "
    + ", ".join(f"{m} {clean_level[m]:.3f} to {at_training.loc[m, 'mean_separation_auroc']:.3f}" for m in at_training.index) + ".",
    f"- The two modes are nearly independent: mean |correlation| across modes {overall['mean_abs_cross_correlation']:.3f} "
    f"(strongest pair {overall['strongest_pair']}, {overall['strongest_correlation']:.3f}).",
]))
