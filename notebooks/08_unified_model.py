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
# # A unified model of multi-modal attention
#
# ```{admonition} What you will learn
# - How the thesis's closing proposal, exogenous, endogenous and crossmodal attention in one module, can be built.
# - How an ablation over the eight on/off combinations of the parts tests whether each part does its job.
# - Whether the composition helps on a task made for it, and on the thesis's pulsar data against EMMA alone.
# ```
#
# The thesis ends its technical part with a proposal rather than an experiment (thesis §7,
# Figure 7.1 {cite:p}`werenne2019`). Psychology distinguishes three kinds of multi-modal
# attention {cite:p}`driver1998`: *endogenous* (we choose to attend to something), *exogenous*
# (attention is captured by an unexpected event) and *crossmodal* (what one sense perceives
# steers another).
# EMMA was built as the exogenous kind; deep learning already had the other two. Thesis §7
# puts the three in one module and sums up what each should do: "the exogenous module masks
# perturbations, the endogenous module learns to attend to important information inside each
# mode, and the crossmodal extracts knowledge by looking at the whole picture."
#
# The chapter asks: built as the figure describes, and given a task in which each part has a
# job, does the composition beat its parts? And does it help on the thesis's data, HTRU2,
# against EMMA alone? We build the module (`emma.experiments.unified`), train all eight on/off combinations
# of its parts over several seeds (`emma.experiments.unified_study`), then take the best combination to HTRU2; each
# step is one call of `emma.experiments.unified_results`, and `emma.experiments.unified_figures` draws them.

# %% tags=["parameters"]
profile = "full"  # full: all seeds and epochs; quick: the smaller sizes of profiles/quick.yaml so that CI stays fast
device = "auto"  # auto, cpu or cuda
seeds = [0, 1, 2, 3, 4]  # one synthetic data set, set of autoencoders, initialisation and data order per seed
output_dir = "_build"
data_home = None  # a folder holding HTRU_2.csv; None: EMMA_DATA_DIR, then the user cache
cache_dir = None  # the HTRU2 autoencoders are kept here; None: output_dir/cache
# the synthetic task (emma.experiments.unified_study.make_task)
widths = [6, 6, 6, 6]  # one width per mode; mode i carries factor i mod n_factors
n_factors = 2  # the label is the sign of the product of this many latent factors
n_train = 2000
n_test = 2000
corrupted_fraction = 0.5  # share of samples with one mode drowned in noise
corruption_std = 3.0  # standard deviation of that noise (features have unit variance)
# the unified model
coldness = 0.5  # EMMA rho on the synthetic task
d_model = 8  # width of a mode token
d_hidden = 16  # hidden units of the classifier behind the attention
dae_hidden = None  # hidden units of each per-mode denoising autoencoder; None: as TASK_DAE (emma.experiments.unified_study)
dae_noise_std = None  # corruption of the autoencoders while they train; None: as TASK_DAE
dae_epochs = None  # None: as TASK_DAE
epochs = 25
batch_size = 250
lr = 0.02
lambda_e = 0.0  # energy regularizer of eq. 5.12 (0: off)
lambda_c = 0.0  # capacity regularizer of eq. 5.12 (0: off)
# HTRU2
htru2_seeds = [0, 1, 2, 3, 4]  # corruption draw, initialisation and data order per seed
split_seed = 42  # the thesis split
htru2_sigma = 0.5  # training and test noise of the thesis, -6 dB
htru2_clean_fraction = 0.5  # 50 percent clean, 25 percent IP noisy, 25 percent DM noisy
htru2_coldness = 1.0  # EMMA rho on HTRU2: the largest of the thesis grid
htru2_fusion = "early"  # the thesis classifier reads the concatenated modes
htru2_dae_epochs = 3
htru2_epochs = 3
htru2_batch_size = 512
htru2_lr = 0.01
alpha = 0.05  # level of every one-sided test, Holm-corrected over the claims

# %%
import os
import time

import matplotlib.pyplot as plt
from IPython.display import Markdown, display
from myst_nb import glue

from emma.experiments import unified_figures as figures
from emma.experiments import unified_results as results
from emma.experiments import unified_study as study
from emma.util.display import show
from emma.util.outputs import save_figure, save_table
from emma.util.runtime import check_profile, resolve_device, seed_everything

# %%
check_profile(profile)  # the quick profile's sizes live in profiles/quick.yaml (section unified_model)
device = resolve_device(device)
seed_everything(seeds[0])
cache_dir = cache_dir if cache_dir is not None else os.path.join(output_dir, "cache")
options = dict(coldness=coldness, d_model=d_model, d_hidden=d_hidden, fusion="late")
dae = study.TASK_DAE.override(d_hidden=dae_hidden, noise_std=dae_noise_std, epochs=dae_epochs)  # the task's autoencoders
chapter_start = time.perf_counter()
print(f"device: {device}, profile: {profile}, seeds: {seeds}, epochs: {epochs}")

# %% [markdown]
# ## Reading Figure 7.1
#
# The whole description is one paragraph: "the multi-modal input is forwarded in parallel
# through an exo- and endogenous module. The exogenous module outputs attention scores as in
# Chapter 5 [thesis §5]. In a similar way, the endogenous module outputs attention masks, where each mask
# is structured as the corresponding mode and indicates where to focus attention inside the
# mode. The scores and masks are multiplied and applied to the input. To refine the result is
# processed by the crossmodal component." For modes $x_1, \dots, x_M$ ($x_i$ of width $d_i$)
# we read it as
#
# $$
# z_i = \beta_i \,(m_i \odot x_i), \qquad
# t_i = E_i z_i, \qquad
# h_i = t_i + \sum_{j \ne i} A_{ij} V t_j, \qquad
# A_{i\cdot} = \operatorname{softmax}_{j \ne i}\!\left(\frac{(Q t_i)^\top (K t_j)}{\sqrt{d}}\right),
# $$
#
# followed by a classifier on the $h_i$. Where the text leaves a choice, we make the simplest one
# and say so:
#
# - **Exogenous**: $\beta$ is EMMA exactly as in thesis §5 ({doc}`03_emma`; `emma.EMMA`, with one denoising
#   autoencoder per mode {cite:p}`vincent2008` as its energy model). The module holds an
#   `EMMA` instance and calls its functional core.
# - **Endogenous**: "structured as the corresponding mode" and "in parallel" — a mask of the
#   mode's shape computed from the raw mode alone, $m_i = \sigma(W_i x_i + b_i)$. A single
#   layer is the smallest map whose mask can differ from sample to sample.
# - **Composition**: "multiplied and applied to the input" — the score and the mask multiply
#   each other and the mode, $\beta_i m_i \odot x_i$.
# - **Crossmodal**: the text says what it is for, not what it is. We embed each gated mode as a
#   token $t_i$ and let each token attend to the *other* modes' tokens with scaled dot-product
#   attention {cite:p}`vaswani2017`, the form crossmodal attention usually takes in multi-modal
#   deep learning {cite:p}`libovicky2018`, with a residual so
#   that a mode keeps its own content. With two modes the softmax has a single entry (weight 1)
#   and only the value path $V t_j$ is learned.
# - **Behind the attention**: the figure's multi-modal network. In the ablation it is *late
#   fusion* (one small network per mode, logits added), so an interaction between modes can
#   only come through the crossmodal part; with early fusion a network on the concatenation
#   could learn the interaction itself, and the ablation would not see the crossmodal part at
#   work. On HTRU2 we use early fusion, a network on the concatenated tokens, as the thesis's
#   classifier reads both modes at once.
# - **Not built**: the feedback of the previous prediction to the attention modules, which the
#   text proposes for sequences; neither task here is a sequence.
#
# Each part is a constructor flag; a part that is off has no parameters and acts as the
# identity (β = 1, m = 1, $h_i = t_i$). {numref}`tbl-unified_parameter_counts` counts the parameters of each part for the
# full model on the synthetic task.

# %%
parameter_counts = results.parameter_counts(widths, n_factors=n_factors, corrupted_fraction=corrupted_fraction, corruption_std=corruption_std,
                                            dae=dae, seed=seeds[0], device=device, **options)
save_table(parameter_counts, "unified_parameter_counts", output_dir)
show(parameter_counts, "unified_parameter_counts", caption="The parts of the full model on the synthetic task, their trainable parameters "
     "and what each outputs. The exogenous part's autoencoders are frozen, so EMMA adds only its few parameters of eq. 5.7.")

# %% [markdown]
# ## A task in which every part has a job
#
# `emma.experiments.unified_study.make_task` draws latent factors $u_1, \dots, u_F \sim \mathcal N(0, 1)$ and sets
# the label to 1 when their product is positive. The modes take the factors in turn (the first
# mode carries $u_1$, the second $u_2$, ..., the $(F+1)$-th $u_1$ again) and each carries one
# only, so the label is an interaction *across* modes: no mode alone says anything about it (the
# crossmodal part's job). Inside a mode, feature 0 is a selector: the factor sits in feature 1
# when the selector is positive and in feature 2 otherwise; the other features are noise. Where
# to look depends on the sample and is written in the mode itself (the endogenous part's job).
# Finally a share of the samples get heavy Gaussian noise on every feature of one mode drawn at
# random; with four modes and two factors each factor is carried twice, so a sample always keeps
# a clean copy of each (the exogenous part's job). The score is **accuracy** (the classes are
# balanced), on clean and on corrupted test samples separately.
#
# The left panel of {numref}`fig-unified-task` shows the interaction on the test samples of the first seed, the right one how
# far the corruption pushes a mode from its clean distribution.

# %% mystnb={"figure": {"caption": "The synthetic task on the test samples of the first seed. Left: the factors carried by modes 1 and 2 for samples whose two modes are clean, coloured by label (blue 0, red 1); the label is the sign of their product, so each quadrant has one colour and neither factor alone decides it. Right: the norm of mode 1 when clean and when corrupted; the further apart the two distributions, the easier a corrupted mode is to spot.", "name": "fig-unified-task"}, "image": {"alt": "Left, a scatter plot of the factor of mode 2 against the factor of mode 1, blue and red points filling opposite quadrants like a checkerboard. Right, two step histograms of the norm of mode 1, a narrow clean one and a wider corrupted one further right."}}
tasks = results.make_tasks(seeds, n_train, n_test, widths=widths, n_factors=n_factors, corrupted_fraction=corrupted_fraction,
                           noise_std=corruption_std)
fig = figures.task(tasks[seeds[0]][1], corruption_std)
_ = save_figure(fig, "unified_task", output_dir)
plt.show()

# %% [markdown]
# ## The ablation: eight combinations of the three parts
#
# For every seed: the data, one autoencoder per mode on the clean training samples (EMMA's
# energy models, frozen), then the eight models, one per combination. All seeds of one
# combination train as one batched computation (`emma.experiments.unified_study.fit` on the
# engine's core, `emma.engine.stacked.StackedModels`: the parameters of the models stacked on a
# leading axis, the loss vmapped, which gives the same result as separate runs). Binary cross-entropy, Adam {cite:p}`kingma2015`, no early stopping; EMMA's coldness is
# `coldness` and its two regularizers of eq. 5.12 are off unless `lambda_e` and `lambda_c` say
# otherwise. {numref}`tbl-unified_ablation` gives the accuracy on the test set, mean and standard deviation over seeds
# ({numref}`fig-unified-ablation` draws every seed).

# %%
ablation = results.run_ablation(tasks, dae=dae, epochs=epochs, batch_size=batch_size, lr=lr, lambda_e=lambda_e, lambda_c=lambda_c, alpha=alpha,
                                device=device, **options)
save_table(ablation.table, "unified_ablation", output_dir)
show(ablation.table, "unified_ablation", columns=["model", "exogenous", "endogenous", "crossmodal", "acc_clean_mean", "acc_corrupted_mean", "n_seeds"],
     caption="Test accuracy of the eight combinations of the parts on clean and on corrupted test samples, mean over seeds. Compare the "
     "full model (all three parts) with the rows that lack one part.")

# %% mystnb={"figure": {"caption": "Test accuracy of the eight combinations of the three parts, on clean (grey) and on corrupted (red) test samples: bars are means over seeds with their standard deviation, dots single seeds, the dotted line chance. Look for the combinations that rise above chance on the corrupted samples, and for the full model against the others.", "name": "fig-unified-ablation"}, "image": {"alt": "Bar chart with paired grey and red bars for each of the eight combinations of parts, named along the horizontal axis, with error bars and black dots for the seeds, and a dotted horizontal line at accuracy 0.5."}}
fig = figures.ablation(ablation)
_ = save_figure(fig, "unified_ablation", output_dir)
plt.show()

# %% [markdown]
# ## What each part attends to
#
# Accuracy says whether a part helps; the weights say whether it helps *for the reason the
# thesis gives*. For every model with the part on: the exogenous β of corrupted and of clean
# modes; the endogenous mask on the feature that holds the signal and on the other features
# (clean modes); the crossmodal weight a mode puts on the clean modes that carry the *other*
# factor (the ones it needs), next to what uniform weights would put there ({numref}`tbl-unified_attention`,
# {numref}`fig-unified-attention`).

# %%
save_table(ablation.attention, "unified_attention", output_dir)
show(ablation.attention, "unified_attention", columns=["model"] + [f"{c}_mean" for c in results.WEIGHTS],
     caption="What each part attends to, for every combination that has it (means over seeds): EMMA's β of clean and of corrupted "
     "modes, the endogenous mask on the feature holding the signal and elsewhere, and the crossmodal weight on the modes a mode needs, "
     "learned and uniform. Compare the columns in pairs.")

# %% mystnb={"figure": {"caption": "What each part attends to, for every model that has it (mean ± standard deviation over seeds). Top: EMMA's β of clean and of corrupted modes; middle: the endogenous mask on the feature holding the signal and on the others; bottom: the crossmodal weight on the modes a mode needs, learned and under uniform weights. A part works for the thesis's reason when its two markers sit far apart.", "name": "fig-unified-attention"}, "image": {"alt": "Three stacked dot plots with horizontal error bars, one row per model along the vertical axis and a weight between 0 and 1 along the horizontal axis, blue circles and orange squares for the two quantities compared in each panel."}}
fig = figures.attention(ablation)
_ = save_figure(fig, "unified_attention", output_dir)
plt.show()

# %%
display(Markdown(ablation.weights_text()))

# %% [markdown]
# ## Does the composition beat its parts?
#
# The full model against each of the seven other combinations, seed by seed (the models of a
# seed share the data): a one-sided paired t-test (`emma.claims.rules.paired_test`) on each score,
# against the minimum effect registered with the claim (`emma.claims.registry.beyond`),
# Holm-corrected over the fourteen tests (`unified_study.composition_table`), in {numref}`tbl-unified_composition_tests`.
# The sentences under the table are written by the code from these numbers.

# %%
save_table(ablation.composition, "unified_composition_tests", output_dir)
show(ablation.composition, "unified_composition_tests", columns=["against", "score", "difference", "ci_low", "ci_high", "p_value", "p_holm", "verdict"],
     digits=4, caption="The full model against each other combination, on clean and on corrupted accuracy: the paired difference over "
     "seeds with its interval, the one-sided p-value before and after Holm's correction over the fourteen tests, and the verdict.")

# %%
display(Markdown(ablation.composition_text()))
for name, value in ablation.glue_values().items():  # the values the closing prose cites
    glue(name, value, display=False)

# %% [markdown]
# ## On HTRU2: the best combination against EMMA alone
#
# The best combination of the ablation (highest mean accuracy on corrupted samples; if that
# were EMMA alone, the full model) against EMMA alone, on the thesis's data and corruption
# scheme: HTRU2 split and standardised as in {doc}`04_pulsar_data`, each split corrupted
# as in {doc}`06_robustness` (half the samples clean, a quarter with Gaussian noise of
# σ = `htru2_sigma` on IP only, a quarter on DM only), modes IP = features 0–3 and DM = 4–7
# {cite:p}`lyon2016`. Both arms are the same module with the same classifier (early fusion),
# the same pair of autoencoders, the same corrupted data per seed, trained from scratch for the
# same few epochs; they differ only in the parts switched on. The threshold is the thesis's
# ROC-corner rule on the validation set; the score is F1 on the test set. This is a small, fast
# comparison (few epochs, no early stopping), not a replay of the thesis's training protocol,
# so its F1 values ({numref}`tbl-unified_htru2`) are to be compared within this table, not with {doc}`06_robustness`;
# {numref}`fig-unified-htru2` pairs the two arms seed by seed.

# %%
htru2 = results.compare_on_htru2(ablation.htru2_arms(), htru2_seeds, split_seed=split_seed, data_home=data_home, cache_dir=cache_dir,
                                 dae=results.HTRU2_DAE.override(epochs=htru2_dae_epochs), epochs=htru2_epochs, batch_size=htru2_batch_size,
                                 lr=htru2_lr, sigma=htru2_sigma, clean_fraction=htru2_clean_fraction, lambda_e=lambda_e, lambda_c=lambda_c,
                                 alpha=alpha, device=device, coldness=htru2_coldness, d_model=d_model, d_hidden=d_hidden, fusion=htru2_fusion)
save_table(htru2.table, "unified_htru2", output_dir)
show(htru2.table, "unified_htru2", columns=["model", "f1_clean_mean", "f1_ip_noisy_mean", "f1_dm_noisy_mean", "f1_noisy_mean", "f1_noisy_diff", "f1_noisy_p"],
     caption="Test F1 on HTRU2 of the best combination of the ablation and of EMMA alone, on clean samples, with one mode noisy and on all "
     "noisy samples (means over seeds), with the paired difference on the noisy samples and its one-sided p-value.")

# %% mystnb={"figure": {"caption": "F1 on HTRU2 test samples of EMMA alone (left end of each line) and of the best combination of the ablation (right end), one line per seed: on clean samples, with IP noisy, with DM noisy and on all noisy samples. Lines rising to the right mean the extra parts help on that seed.", "name": "fig-unified-htru2"}, "image": {"alt": "Four panels of paired points joined by grey lines, one line per seed, from EMMA alone on the left to the best combination on the right, with test F1 on the vertical axis."}}
fig = figures.htru2(htru2)
_ = save_figure(fig, "unified_htru2", output_dir)
plt.show()

# %%
display(Markdown(htru2.text()))
for name, value in htru2.glue_values().items():  # unified_best_name, unified_htru2_diff, unified_htru2_p
    glue(name, value, display=False)

# %% [markdown]
# ## Claims
#
# Thesis §7 makes no measurement, but its summary sentence is testable: each part does its own
# job, and together they make a *complete* multi-modal attention. The claims, with their tests
# and the minimum effect that matters, are registered before the run (`emma.claims.registry.beyond`).
# One row per part: its mechanism in the full model, a paired t-test over seeds (β lower on
# corrupted modes, the mask higher on the feature holding the signal, the crossmodal weight on the
# modes a mode needs above the uniform share); the row also says what removing the part costs. One
# row for the composition, made of the fourteen comparisons above as sub-cases (*partly
# reproduced* when some hold), and one for the question the proposal implies on real data. A
# claim is *reproduced* when its interval lies above zero and its effect reaches the minimum,
# *not reproduced* when the interval lies below the minimum, *inconclusive* otherwise
# (`emma.claims.rules`); p-values are Holm-adjusted over the table. The synthetic task was built so
# that each part *can* help; a *reproduced* there means the parts are complementary when the data
# calls for each of them, not that real data does. {numref}`tbl-unified_claims` judges them.

# %%
claims = results.claims(ablation, htru2)
save_table(claims, "unified_claims", output_dir)
show(claims, "unified_claims", columns=["claim", "kind", "our_evidence", "effect", "ci_low", "ci_high", "min_effect", "verdict"],
     caption="The chapter's claims, each judged over seeds against its registered minimum effect: our evidence, the effect with its "
     "interval, and the verdict (p-values Holm-adjusted over the table).")

# %% [markdown]
# ## What this chapter finds
#
# On the synthetic task the full model scored an accuracy of {glue:text}`unified_full_acc_clean:.3f`
# on clean and {glue:text}`unified_full_acc_corrupted:.3f` on corrupted test samples; the best
# combination that lacks a part ({glue:text}`unified_runner_up`) scored
# {glue:text}`unified_runner_up_acc_corrupted:.3f` on corrupted samples, and the smallest paired gain
# of the full model over another combination was {glue:text}`unified_min_gain:+.3f`. On HTRU2, where
# two modes carry the same class and there is no cross-mode interaction to find, the best
# combination ({glue:text}`unified_best_name`) minus EMMA alone was {glue:text}`unified_htru2_diff:+.3f`
# in F1 on noisy test samples (p = {glue:text}`unified_htru2_p:.2g`). The verdicts, written by the
# code from the claims table:

# %%
display(Markdown(results.findings(claims)))

# %%
print(f"chapter run time: {time.perf_counter() - chapter_start:.0f} s")

# %% [markdown]
# ## Try it
#
# Make the corruption milder: noise of standard deviation 1 instead of 3, about the spread of a clean feature, so that a
# corrupted mode is harder to tell from a clean one but keeps more of its signal.
#
# ```bash
# emma-book run unified_model -p corruption_std 1.0
# ```
#
# In {numref}`fig-unified-task` the clean and corrupted norms of mode 1 overlap more. With a corruption this mild,
# expect the red bars of {numref}`fig-unified-ablation` to move closer to the grey ones, and EMMA's β of clean and of
# corrupted modes ({numref}`fig-unified-attention`, top) to lie closer together: there is less for the exogenous part to do.
#
# Corrupt HTRU2 twice as hard, σ = 1 (0 dB) instead of the thesis's σ = 0.5:
#
# ```bash
# emma-book run unified_model -p htru2_sigma 1.0
# ```
#
# Both arms of {numref}`tbl-unified_htru2` and {numref}`fig-unified-htru2` should lose F1 on the noisy test samples;
# the paired difference between the best combination and EMMA alone, in the table's last columns, tells whether the
# extra parts help more, or less, when a mode fails harder.
