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
# # More than two modes
#
# ```{admonition} What you will learn
# - How EMMA's attention behaves with M modes, on a synthetic task and on digits cut into patches.
# - Whether the constraint on the number of clean modes, M′ = ⌊(M+1)/2⌋, matters in training.
# - How the coldness needed and the cost of a training step grow with M.
# ```
#
# Every experiment of the thesis has two modes, yet EMMA is written for any number $M$ of them
# {cite:p}`werenne2019`: the shared energies $e_{ij}$ couple every pair of modes, the importance
# scores are a Boltzmann distribution over all $M$ modal energies, and the derivation of the
# energy regularizer (eq. 5.19–5.22) rests on a constraint on how many modes are clean,
# $M' = \lfloor (M+1)/2 \rfloor$. The draft's notes for future work (thesis §8.3) are terse: with multiple
# modes something "blows up", with a hundred modes something "tends to zero", "add a common gain?";
# and its conclusion notes that EMMA "scales up quadratically with the number of modes". We read
# them as three testable expectations: the coldness ρ needed grows without bound with $M$, the
# scores tend to zero, and the cost of training grows as $M^2$. This chapter tests them, tests the
# constraint on clean modes, and asks the thesis's question again for $M > 2$: does EMMA keep its
# robustness gain over the same network trained on the same corrupted data without it?
#
# It uses two data sets: a synthetic task whose $M$ modes are noisy views of one shared latent,
# so that $M$ can be anything, and scikit-learn's bundled handwritten digits
# {cite:p}`pedregosa2011,alpaydin1998` cut into 4 quadrant modes or 16 patch modes.

# %% tags=["parameters"]
profile = "full"  # full: every M and 5 seeds; quick: fewer M, seeds and epochs so CI stays fast
device = "auto"  # auto, cpu or cuda
seeds = [0, 1, 2, 3, 4]  # one split, autoencoder set, corruption draw, data order and initialisation per seed
output_dir = "_build"
synthetic_n_modes = [2, 3, 4, 6, 8, 16]  # M of the synthetic task
digit_blocks = [4, 2]  # digits cut into blocks of this side: 4 gives 4 quadrant modes, 2 gives 16 patch modes
max_levels = 7  # every k from 1 to M-1 when there are at most this many, else five levels (1, M/4, M/2, 3M/4, M-1)
n_samples = 1200  # synthetic samples
split = [0.5, 0.25, 0.25]  # train, validation, test shares of every data set, stratified
mode_dim = 4  # width of each synthetic mode
latent_dim = 2  # dimension of the shared latent
n_classes = 4  # synthetic classes: equal angle sectors of the latent
view_noise = 0.5  # each synthetic mode's own noise
data_seed = 0  # the synthetic task (loadings, latents, noise); each seed splits the data its own way
sigma = 2.0  # corruption noise on the standardized features of a corrupted mode
clean_fraction = 0.5  # share of clean training samples, the rest with k corrupted modes
dae_hidden = None  # hidden units of each mode denoising autoencoder; None: as MODES_DAE (emma.experiments.modes_study)
dae_noise_std = None  # its training corruption; None: as MODES_DAE
dae_epochs = None  # None: as MODES_DAE
hidden = 32  # hidden units of the classifier
epochs = 10
batch_size = 64
lr = 0.01  # Adam
coldness = 1.0  # rho of the main study
lambda_e = 0.01  # energy regularizer of the with model
lambda_c = 0.0  # capacity regularizer
sweep_coldness = [0.01, 0.1, 1.0, 10.0]  # coldness sweep on the synthetic task, with half of the modes corrupted (rounded down)
separation_level = 0.5  # the coldness needed: where the alpha separation reaches this level
step_cost_modes = [2, 4, 8, 16, 32, 64, 128]  # M of the step-cost measurement
step_cost_repeats = 10  # timed steps per M, the median is reported
alpha = 0.05  # level of every test

# %%
import matplotlib.pyplot as plt
from IPython.display import Markdown
from myst_nb import glue

from emma.experiments import many_modes as mm
from emma.experiments import modes, modes_study, modes_verdicts
from emma.experiments import modes_figures as figures
from emma.util.display import show
from emma.util.outputs import save_figure, save_table
from emma.util.runtime import check_profile, resolve_device, seed_everything

# %%
_ = check_profile(profile)
device = resolve_device(device)
seed_everything(data_seed)
print(f"device: {device}, profile: {profile}, seeds: {seeds}, synthetic M: {synthetic_n_modes}, digit blocks: {digit_blocks}")

# %% [markdown]
# (modes-constraint)=
# ## Modes, corruption and the constraint
#
# **Synthetic modes.** A latent $z \in \mathbb{R}^2$ is drawn from a standard normal, and mode
# $m$ is the noisy linear view $x_m = z A_m + \sigma_v \varepsilon_m$ with its own random loading
# $A_m$ and its own noise. The class is the angle sector of $z$. One mode alone is a blurred view
# of $z$; the modes together see it sharply, and every mode is as useful as every other.
#
# **Digits.** The 1,797 images of 8×8 pixels are cut into square blocks, row by row: 4 quadrants
# of 16 pixels or 16 patches of 4 pixels, each block one mode. The modes are far from
# exchangeable here: border patches are nearly blank.
#
# **Corruption.** As in the thesis, a corrupted mode gets Gaussian white noise on every
# (standardized) feature, and half of the training samples stay clean. The other half, and
# every validation and test sample, have exactly $k$ corrupted modes, chosen at random per
# sample. Below ({numref}`fig-modes-digit-patches`), one digit with its 16 patch modes at four corruption levels (for the picture,
# noise of standard deviation 0.5 on pixels scaled to [0, 1]).

# %% mystnb={"figure": {"caption": "One 8×8 digit cut into 16 patch modes of 2×2 pixels (blue grid), with more and more of its patches corrupted by Gaussian noise, from none to all but one. Watch the digit fade as the corrupted patches take over.", "name": "fig-modes-digit-patches"}, "image": {"alt": "Four grey-scale images of the same handwritten digit on an 8 by 8 pixel grid divided by blue lines into 16 patches; from left to right more patches are replaced by noise until the digit is no longer recognisable."}}
digits = mm.digit_data(digit_blocks)  # {block side: the digits cut into blocks of that side}
fig = figures.digit_patches_figure(digits[2], seed=data_seed)
_ = save_figure(fig, "modes_digit_patches", output_dir)
plt.show()

# %% [markdown]
# **The constraint.** Eq. 5.19 gives the gradient of the energy regularizer on the parameters
# $\theta_i$ of mode $i$ as $-[(M - 2M')\alpha_i + \xi_i]\rho\nabla_{\theta_i}E_i$, with $M'$ the number
# of clean modes. The thesis then *imposes* $M' = \lfloor (M+1)/2 \rfloor$, for which the bracket is
# $\xi_i$ (even $M$, eq. 5.20) or $\xi_i - \alpha_i$ (odd $M$, eq. 5.21), and warns that other
# values have "undesired effects". A sample with $k$ corrupted modes keeps $M - k$ clean ones, so
# the constraint holds for $k \le M - M'$. With $M - k$ clean modes the factor $M - 2M'$ of the
# bracket is $2k - M$; {ref}`check 5 <emma-check-5>` of {doc}`03_emma` found that the
# bracket turns against the regularizer's purpose only once $2k - M \ge 2$, and then only for a
# corrupted mode whose importance exceeds $1/(2k - M)$: that mode's energy is pushed *down*. Here
# we train with every $k$ and look; {numref}`tbl-modes-levels` lists the levels on each side.

# %%
levels = mm.constraint_levels([*synthetic_n_modes, *(64 // b**2 for b in digit_blocks)], max_levels)
show(levels, caption="For each number of modes M, the clean modes M′ the derivation assumes, and the numbers k of corrupted "
     "modes that keep the constraint M − k ≥ M′ and that break it. The study trains with both.", label="tbl-modes-levels")

# %% [markdown]
# ## The study
#
# For each data set and $M$, one tied denoising autoencoder per mode and seed gives the potentials
# $\Psi_i$ (trained on the clean training split, all of them at once by
# `emma.engine.autoencoders.fit_energy_models`), and three classifiers share one small network
# (one hidden layer of `hidden` ReLU units over the $M$ concatenated modes): **without**, trained
# on the corrupted training set with no attention (data augmentation, the thesis's "without");
# **with**, the same network behind EMMA (`emma.method.attention.attention_scores`, the steps of
# `emma.EMMA`, with the thesis's initial values and constraints) trained end to end with the loss
# of eq. 5.12 and the energy regularizer $\lambda_e$; and **with, λ_e = 0**, the same without the
# regularizer. *Our choices:* each seed draws its own stratified split (shares `split`,
# standardized with the training statistics), so the spread over seeds includes the split; all
# three models start from the same initial network per seed and train from scratch for the same
# number of epochs (the thesis fine-tuned a base network), with Adam
# {cite:p}`kingma2015`, all models of a run at once on the engine's core
# (`emma.engine.stacked.StackedModels`), no capacity regularizer unless `lambda_c` says otherwise; the score is the
# accuracy (as `sklearn.metrics.accuracy_score`) on the test set with $k$ corrupted modes in every
# sample. On the synthetic task a coldness sweep trains "with" at every ρ of `sweep_coldness` at
# $k = \lfloor M/2 \rfloor$, the most corrupted modes the constraint allows. Every model of one data set and $M$, all seeds and all $k$, is one batched
# computation along a model axis (`emma.experiments.modes_study.run_modes_study`, called for each
# by `emma.experiments.many_modes.run_study`); {numref}`tbl-modes-timing` lists the runs.

# %%
dae = modes_study.MODES_DAE.override(d_hidden=dae_hidden, noise_std=dae_noise_std, epochs=dae_epochs, batch_size=batch_size)  # as the classifiers
settings = modes_study.StudySettings(sigma=sigma, clean_fraction=clean_fraction, dae=dae, hidden=hidden, epochs=epochs, batch_size=batch_size, lr=lr,
                                     lambda_e=lambda_e, lambda_c=lambda_c)
groups = [("synthetic", modes.synthetic_modes(n_samples, m, mode_dim=mode_dim, latent_dim=latent_dim, n_classes=n_classes,
                                              view_noise=view_noise, seed=data_seed)) for m in synthetic_n_modes]
groups += [("digits", digits[block]) for block in digit_blocks]

# %%
study = mm.run_study(groups, settings, seeds=seeds, coldness=coldness, sweep_coldness=sweep_coldness, max_levels=max_levels,
                     split=split, device=device)
save_table(study.scaling, "modes_scaling", output_dir)
save_table(study.runs, "modes_runs", output_dir)
show(study.timing, caption="The study's runs: per data set and number of modes M, the models trained at once, the training "
     "samples of each seed and the seconds the run took (these change with the machine).", label="tbl-modes-timing")

# %% [markdown]
# The table `modes_scaling` holds, per data set, $M$, $k$ and model, the mean and standard
# deviation over seeds of the test accuracy (`score`), of the accuracy on the clean test set
# (`score_clean`), and the mean α and β of the corrupted and of the clean modes. The view below
# averages it over the $k$ on each side of the constraint: each model's test accuracy, and the mean
# α of a corrupted mode under "with" ({numref}`tbl-modes_scaling`).

# %%
show(modes_verdicts.scaling_view(study.scaling), "modes_scaling", labels=modes_verdicts.SCALING_LABELS,
     caption="Each model's test accuracy averaged over the numbers k of corrupted modes on each side of the constraint, "
     "per data set and M (mean over seeds), with EMMA's gain over \"without\" and the importance α of a corrupted mode. "
     "Compare the gain where the constraint holds with the gain where it does not.")

# %% [markdown]
# ## Robustness for $M > 2$
#
# Test accuracy against the number of corrupted modes, mean ± std over seeds ({numref}`fig-modes-scores`). The dotted line
# marks the last $k$ for which the constraint holds ($M - k \ge M'$).

# %% mystnb={"figure": {"caption": "Test accuracy against the number k of corrupted modes, per data set and number of modes M, for the classifier without attention (grey), with EMMA (blue) and with EMMA but no energy regularizer (orange), mean ± standard deviation over seeds. Left of the dotted line the constraint on clean modes holds; the thesis's claim is the blue curve above the grey one there.", "name": "fig-modes-scores"}, "image": {"alt": "A grid of small line plots with error bars, test accuracy against k corrupted modes, three coloured lines per panel, each panel one data set and number of modes, with a dotted vertical line."}}
fig = figures.scores_figure(study.scaling)
_ = save_figure(fig, "modes_scores", output_dir)
plt.show()

# %% tags=["hide-input"]
Markdown(mm.describe_wins(study.runs, coldness))

# %% [markdown]
# The thesis's question for each $M > 2$: does "with" beat "without"? The test below pairs the
# two by seed, averages each seed's accuracy over the $k$ that leave at least $M'$ modes clean (the
# setting of the thesis's derivation), and runs a one-sided paired t-test against the claim's
# pre-declared minimum effect (`emma.experiments.modes_verdicts.gain_tests`, Holm-corrected over
# the data sets and $M > 2$); `ci_low` and `ci_high` bound the gain ({numref}`tbl-modes_gain`).

# %%
gain_table = modes_verdicts.gain_tests(modes.paired_differences(study.runs, "with", "without", coldness), alpha)
save_table(gain_table, "modes_gain", output_dir)
show(gain_table, "modes_gain", columns=["dataset", "n_modes", "gain_mean", "gain_std", "ci_low", "ci_high", "p_value", "p_holm", "verdict"], digits=4,
     caption="EMMA's gain in test accuracy over \"without\" per data set and M, each seed's gain averaged over the k that keep "
     "the constraint: mean and standard deviation over seeds, interval, p-values (Holm-adjusted over M > 2) and verdict. "
     "A gain is shown where the whole interval lies above zero.")

# %% [markdown]
# ## The constraint on clean modes
#
# **In training.** The mean importance of the corrupted modes (times $M$, so that 1 means "as
# important as a uniform share") over the corrupted training samples, epoch by epoch, for the
# largest synthetic $M$ with every $k$, with and without the energy regularizer ({numref}`fig-modes-training-alpha`).

# %% mystnb={"figure": {"caption": "The mean importance of the corrupted modes, times M, over the corrupted training samples, epoch by epoch, for the largest synthetic M and every number k of corrupted modes, with the energy regularizer (left) and without it (right); dashed lines break the constraint on clean modes. 1 means as important as a uniform share; EMMA works when the curves fall below it.", "name": "fig-modes-training-alpha"}, "image": {"alt": "Two line plots against the epoch, one line per k coloured from dark to light, solid where the constraint holds and dashed where it is broken."}}
largest = figures.largest_traced(synthetic_n_modes, max_levels)  # the largest M trained with every k
fig = figures.training_alpha_figure(study.histories, largest, coldness)
_ = save_figure(fig, "modes_training_alpha", output_dir)
plt.show()

# %% [markdown]
# **In the scores** ({numref}`fig-modes-regularizer-effect`). The effect of the energy regularizer, "with" minus "with, λ_e = 0" per seed,
# on the accuracy and on the importance of the corrupted modes, against the factor $2k - M$ of
# eq. 5.19. Right of the dotted line, fewer than $M'$ clean modes; on it or just left of it,
# exactly $M'$ (the thesis's setting); further left, more clean modes than $M'$, the case of
# eq. 5.22 (as are the clean half of the training samples, where $2k - M = -M$).

# %% mystnb={"figure": {"caption": "The effect of the energy regularizer Ω, with minus without it per seed, on the test accuracy (left) and on the mean importance α of the corrupted modes (right), against the factor 2k − M of eq. 5.19, per data set and number of modes; mean ± standard deviation over seeds. Right of the dotted line fewer than M′ modes are clean. Ω helps where the left markers sit above zero and the right ones below.", "name": "fig-modes-regularizer-effect"}, "image": {"alt": "Two scatter plots with error bars against 2k minus M, one marker series per data set and number of modes, with a horizontal line at zero and a dotted vertical line; the legend sits below."}}
omega = mm.regularizer_effect(study.runs, coldness)  # "with" − "with, λ_e = 0", per seed and per cell
fig = figures.regularizer_figure(omega)
_ = save_figure(fig, "modes_regularizer_effect", output_dir)
plt.show()

# %% tags=["hide-input"]
Markdown(omega.describe())

# %% [markdown]
# (modes-coldness)=
# ## The coldness as $M$ grows
#
# Thesis §8.3 expects the coldness ρ needed to "blow up" with many modes. On the synthetic task,
# "with" trained at each ρ of the sweep with $k = \lfloor M/2 \rfloor$: the accuracy, and the
# *separation* $(\bar\alpha_{clean} - \bar\alpha_{corrupted})\cdot(M - k)$, which is 0 for uniform
# importance and 1 when the clean modes hold all of it. The coldness *needed* is where the
# separation reaches `separation_level` (interpolated in $\log\rho$, per seed; {numref}`fig-modes-coldness`).
#
# Two properties of eq. 5.6 frame what to expect. If every corrupted mode sits an energy $\Delta$
# above every clean one, the separation is $(M-k)(1-u)/(M-k+ku)$ with $u = e^{-\rho\Delta}$: with
# half of the modes corrupted it depends on $\rho\Delta$ alone, not on $M$, and with a single clean
# mode it reaches ½ at $\rho = \log(k + 2)/\Delta$, a growth in $\log M$ rather than a blow-up.
# And coldness cuts both ways: as $\rho \to \infty$ all the importance goes to the one mode of
# lowest energy, so with many clean modes all but one of them are silenced too.

# %% mystnb={"figure": {"caption": "The coldness ρ on the synthetic task with half of the modes corrupted. Left: the separation of clean from corrupted importance against ρ, per number of modes M (dotted: the level that defines the coldness needed). Middle: test accuracy against ρ. Right: the coldness needed (per seed and median) and the best on validation against M. The thesis expects the needed coldness to blow up with M; look at how steeply the right panel rises.", "name": "fig-modes-coldness"}, "image": {"alt": "Three panels on logarithmic axes: separation and test accuracy against rho, one line per number of modes; and rho against M with blue dots per seed, a blue median line and a green dashed line for the best rho on validation."}}
cold = mm.coldness_study(study.runs, separation_level)
save_table(cold.table, "modes_coldness", output_dir)
fig = figures.coldness_figure(cold)
_ = save_figure(fig, "modes_coldness", output_dir)
plt.show()

# %% [markdown]
# {numref}`tbl-modes_coldness` gives the numbers behind the figure.

# %%
show(cold.table, "modes_coldness", columns=["n_modes", "n_corrupted", "coldness", "score_mean", "score_std", "separation_mean", "beta_clean_mean",
                                            "gain_mean", "rho_needed_median", "rho_best_median"],
     caption="The coldness sweep on the synthetic task with half of the modes corrupted: per M and ρ, the test accuracy, the "
     "separation of clean from corrupted importance, the clean modes' β and the learned gain (means over seeds), with the "
     "coldness needed and the best on validation (medians over seeds). Read how the coldness needed moves with M.")

# %% [markdown]
# The same section of the thesis expects the scores to "tend to zero" with many modes, and asks
# whether a common gain would help. EMMA has one, $g_a$ (eq. 5.7), learned. With one corrupted
# mode, the mean α and β of the clean modes and the learned gain, per $M$ (synthetic task, main
# coldness, mean over seeds; {numref}`tbl-modes-one-corrupted`):

# %%
one = mm.one_corrupted(study.runs, coldness)
show(one.groupby("n_modes")[["alpha_clean", "beta_clean", "gain"]].mean(), label="tbl-modes-one-corrupted",
     caption="With one corrupted mode on the synthetic task, per M: the importance α and the score β of a clean mode and "
     "EMMA's learned gain g_a (main coldness, means over seeds). If the scores tend to zero, β falls as M grows.")

# %% [markdown]
# ## The cost of a training step
#
# One training step (forward, backward, Adam, clamping) of one classifier behind an `emma.EMMA`
# module with $M$ autoencoders, batch `batch_size`, against the same classifier alone and
# against EMMA's steps 2–4 alone (whose shared energies form an $M \times M$ matrix per sample);
# one CPU thread, median over `step_cost_repeats` steps. The exponent $p$ of time $\propto M^p$ is
# fitted on the three largest $M$ ({numref}`fig-modes-step-cost`). Timings, unlike every other table of the book, change from run
# to run and with the load of the machine.

# %% mystnb={"figure": {"caption": "Milliseconds per training step against the number of modes M on logarithmic axes, for the classifier alone, EMMA's steps 2–4 alone and the classifier behind EMMA: median with the interquartile band; the legend gives each fitted exponent p of time ∝ M^p. A slope of 2 would be the quadratic cost of the shared energies.", "name": "fig-modes-step-cost"}, "image": {"alt": "Log-log line plot of milliseconds per training step against M, three lines with shaded bands, one per step being timed."}}
cost = mm.step_cost_study(step_cost_modes, mode_dim=mode_dim, hidden=hidden, n_classes=n_classes, batch_size=batch_size,
                          repeats=step_cost_repeats, seed=data_seed)
save_table(cost.table, "modes_step_cost", output_dir)
fig = figures.step_cost_figure(cost)
_ = save_figure(fig, "modes_step_cost", output_dir)
plt.show()

# %% [markdown]
# The medians of the figure, per step timed ({numref}`tbl-modes_step_cost`):

# %%
show(cost.table.pivot(index="n_modes", columns="step", values="ms_median"), "modes_step_cost", digits=2,
     caption="Milliseconds per training step against M (median over the timed steps, one CPU thread), for the whole step "
     "with EMMA, the classifier alone and EMMA's steps 2–4 alone. Read the growth down each column.")

# %% [markdown]
# ## Verdicts
#
# One row per claim or conjecture of the thesis that this chapter tests, each registered with its
# source, its test and, for a test, the minimum effect that matters, fixed before the run
# (`emma.claims.registry.beyond`). Its kind: what the thesis states (the constraint it derives, the
# quadratic cost its notes state) is *secondary*; what it only speculates about or leaves to
# future work (the gain beyond two modes, the coldness, the vanishing scores) is a conjecture of
# the *book*. The rules (`emma.claims.rules`): a claim is *reproduced* when its interval lies above
# zero and its effect reaches the minimum, *not reproduced* when the interval lies below the
# minimum, *inconclusive* otherwise. The robustness gain is made of one sub-case per data set and
# $M > 2$, the tests above (*partly reproduced* when some hold); the constraint is a paired t-test
# over seeds of the regularizer's effect on accuracy where the constraint holds against where it
# does not (the same data sets and $M$); the coldness and the scores are Spearman rank
# correlations with $M$, one point per seed and $M$, with a Fisher-z interval; the cost has two
# sub-cases, the fitted exponent of the whole step and of EMMA's energies alone reaching the
# threshold its registered test names, halfway from linear to quadratic. The columns `effect`,
# `ci_low`, `ci_high`, `n_seeds`, `min_effect` and `detectable_effect` (what the test finds with
# 80 % power) give the evidence; p-values are Holm-adjusted within each kind. {numref}`tbl-modes_claims`
# lists them.

# %%
verdicts = modes_verdicts.modes_claims(gain_table, omega.effect, omega.cells, cold.needed, cold.needed_summary, one, cost.exponents, cost.top,
                                       alpha=alpha, separation_level=separation_level)
save_table(verdicts.claims, "modes_claims", output_dir)
show(verdicts.claims, "modes_claims", columns=["claim", "kind", "our_evidence", "effect", "ci_low", "ci_high", "min_effect", "verdict"],
     caption="The claims and conjectures this chapter tests, each with its evidence, effect in the claimed direction, interval, "
     "minimum effect that matters and verdict.")

# %%
for name, value in verdicts.statistics.items():  # modes_gain_min, modes_omega_p, ... in the prose below
    glue(f"modes_{name}", value, display=False)

# %% [markdown]
# ## What this chapter finds
#
# Over the data sets and $M > 2$, EMMA's mean gain in accuracy over "without", on the samples
# whose corruption respects the constraint, lies between {glue:text}`modes_gain_min:+.3f` and
# {glue:text}`modes_gain_max:+.3f`. The energy regularizer changes the accuracy by
# {glue:text}`modes_omega_holds:+.3f` on average where the constraint holds and by
# {glue:text}`modes_omega_broken:+.3f` where it does not (one-sided Mann–Whitney
# $p$ = {glue:text}`modes_omega_p:.2g`). The coldness needed has a Spearman correlation of
# {glue:text}`modes_rho_spearman:+.2f` with $M$, the clean modes' β one of
# {glue:text}`modes_beta_spearman:+.2f`. A training step grows as $M$ to the power
# {glue:text}`modes_exponent_with:.2f` with EMMA, {glue:text}`modes_exponent_attention:.2f` for its
# energies alone and {glue:text}`modes_exponent_without:.2f` without it. In words, generated from
# the verdicts:

# %%
Markdown(mm.claim_sentences(verdicts.claims))

# %% [markdown]
# ## Try it
#
# Add a synthetic task with 32 modes to the study's six, to follow the trends one step further in $M$:
#
# ```bash
# emma-book run many_modes -p synthetic_n_modes '[2, 3, 4, 6, 8, 16, 32]'
# ```
#
# {numref}`fig-modes-scores` gains a panel for $M = 32$, trained at five levels $k$ (every $k$ would be
# too many), {numref}`tbl-modes_gain` a row, and the right panel of {numref}`fig-modes-coldness` a
# point: see whether the coldness needed keeps its trend. The run takes longer, most of it on the
# largest $M$.
#
# Corrupt the failed modes more mildly, with noise of standard deviation 0.5 instead of 2:
#
# ```bash
# emma-book run many_modes -p sigma 0.5
# ```
#
# A mildly noisy mode is harder for its energy to tell from a clean one and still carries some
# information, so expect EMMA's gain over "without" in {numref}`tbl-modes_gain` to shrink, and the
# separation of clean from corrupted importance in {numref}`fig-modes-coldness` to fall, perhaps
# never reaching the level that defines the coldness needed.
