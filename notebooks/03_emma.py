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
# # Energy-based Multi-Modal Attention
#
# ```{admonition} What you will learn
# - How EMMA turns each mode's potential energy into modal energies, importance scores and attention scores (eq. 5.2–5.7).
# - What the module does, at its initial parameters, to a mode corrupted by noise.
# - How each step of the thesis's mathematics is checked twice, with sympy and with numbers, and where the thesis is wrong.
# ```
#
# This chapter builds the EMMA module of thesis §5 {cite:p}`werenne2019` step by step:
# potential energies become self, shared and modal energies, a Boltzmann distribution turns the
# modal energies into importance scores, and a clipped hyperbolic tangent turns those into the
# attention scores that scale each mode. We then re-derive every piece of mathematics in
# thesis §5 and in its appendix B, check each step twice, once with sympy {cite:p}`meurer2017` and
# once with numbers computed on the module itself (autograd, quadrature, simulation), and end
# with the list of places where the draft, the final thesis and the checks disagree.

# %% tags=["parameters"]
profile = "full"  # full: all sizes below; quick: smaller grids and fewer draws so that CI stays fast
device = "auto"  # "auto" | "cpu" | "cuda" (only the module demonstration runs on it; the checks run in float64 on the CPU)
seeds = [0]  # the random draws of the checks and of the module demonstration use the first seed (they are checks, not estimates)
output_dir = "_build"
# Figure 5.4: modal energies of a few modes and the two coldness values of the thesis
boltzmann_energies = [2.0, 5.0, 10.0, 20.0, 40.0]
coldness_low_temperature = 0.1
coldness_high_temperature = 0.001
# Figure 5.5: (g_a, b_a) pairs drawn on the attention function
attention_settings = [(1.0, 0.0), (5.0, 1.0), (1.0, 0.8)]
# shared-energy figure: the self energy e_i held fixed while e_j varies
shared_self_energy = 10.0
# module demonstration: toy modes, one denoising autoencoder each
demo_widths = [4, 4, 3]  # one width per mode
demo_latent = 2  # the toy modes lie near a plane of this dimension
demo_n_train = 4_000
demo_n_test = 600
demo_hidden = 12
demo_epochs = 20
demo_batch_size = 64
demo_dae_noise = 0.1  # corruption σ while training the autoencoders
demo_corruption = 1.0  # σ of the white noise added to a corrupted mode
demo_coldness = 1.0
# the checks
check_grid = 24  # grid points per axis of (g_a, b_a) in check 2
check_draws = 8  # random parameter draws per number of modes in check 4
coupling_draws = 2_000  # draws per (M, coupling) in the boxed-gradient study
couplings = [0.0, 0.1, 0.25, 0.5, 0.75, 1.0]  # w_ij ~ U(-s, s)
coupling_modes = [2, 3, 5]
simulation_steps = 300  # gradient steps on the energy regularizer alone (check 5)
simulation_lr = 0.05

# %%
from emma.util.display import show
from emma.util.runtime import check_profile

_ = check_profile(profile)

# %%
import matplotlib.pyplot as plt
import sympy as sp
from IPython.display import Markdown, Math, display

from emma.experiments import emma_figures as figures
from emma.experiments import emma_module as em
from emma.method import derivations
from emma.util import resolve_device, save_figure, save_table

device, seed = resolve_device(device), seeds[0]
print(f"device: {device}, profile: {profile}, seed: {seed}")

# %% [markdown]
# ## The problem
#
# A sample consists of $M$ modes $\mathbf{x}_1, \dots, \mathbf{x}_M$, possibly of different
# sizes, and a multi-modal network predicts $\hat y$ from all of them. The premise of the thesis
# is that when one mode of a sample is corrupted, another one usually is not, so the network
# would do better if it could move its attention away from the damaged mode. EMMA computes one
# score $\beta_i \in [0, 1)$ per mode and hands the network $\beta_i \mathbf{x}_i$ instead of
# $\mathbf{x}_i$. It sits in front of an existing network and needs nothing from it except the
# gradient of its loss.
#
# (emma-framework)=
# ## The framework
#
# The importance of a mode mixes three things: how much it helps the prediction (*relevance*),
# how unusual the current input is (*outlyingness*), and how it interacts with the other modes
# (*coupling*). EMMA folds all three into one *modal energy* per mode,
#
# $$
# E_i = f(\Psi_i) + \sum_{k \neq i} g\big[f(\Psi_i), f(\Psi_k)\big], \tag{5.1}
# $$
#
# a learnable function of the potential energies $\Psi_i$ of the previous chapter ({doc}`02_energy_estimation`): $f$ relates
# outlyingness to relevance, $g$ learns the coupling. The rest is normalisation (energies to
# importance scores) and a gate (importance to attention). The figure ({numref}`fig-emma-framework`) shows the five steps.

# %% mystnb={"figure": {"caption": "The EMMA framework in five steps: each mode's input goes through its frozen autoencoder to a potential energy Ψ (step 1); the energies become modal energies (step 2), importance scores α (step 3) and attention scores β (step 4); each mode enters the network scaled by its β, and everything after step 1 is trained end to end (step 5).", "name": "fig-emma-framework"}, "image": {"alt": "Block diagram read from left to right: inputs x_1, x_2 to x_M, each into its own denoising autoencoder giving Ψ; arrows join into three green boxes, energies, importance, attention; arrows fan out to the inputs scaled by β, which feed a red box, the multi-modal network, giving the prediction."}}
fig = figures.framework_diagram()
save_figure(fig, "emma_framework", output_dir)
plt.show()

# %% [markdown]
# (emma-step-1)=
# ## Step 1: potential energies
#
# The previous chapter ({ref}`energy-potential`) derived, for a tied-weight denoising autoencoder with a sigmoid hidden
# layer, a potential energy whose negative gradient is the reconstruction field
# {cite:p}`kamyshanska2014`:
#
# $$
# \Psi(\mathbf{x}) = -\sum_k \log\big(1 + e^{W_{k\cdot}\mathbf{x} + b_{h,k}}\big)
#   + \tfrac12 \lVert \mathbf{x} - \mathbf{b}_r \rVert_2^2 + \text{const}. \tag{4.7}
# $$
#
# One autoencoder is trained per mode and then frozen. Check 1 below re-derives eq. 4.7
# from the integral of eq. 4.5 and settles the sign of the quadratic term, on which the
# draft's intermediate eq. 4.6 disagrees.
#
# (emma-step-2)=
# ## Step 2: from potential to modal energies
#
# The constant dropped from eq. 4.7 lets $\Psi$ take any real value, yet later steps raise
# energies to real powers and take their logarithm. The thesis therefore shifts each potential
# so that the lowest training-set value $\Psi_i^{\min}$ lands on Euler's number
# $e = 2.718\ldots$, and clamps anything lower:
#
# $$
# \Psi'_i = \max\big(e,\ \Psi_i - \Psi_i^{\min} + e\big). \tag{5.2}
# $$
#
# The *self energy* rescales and shifts it, so that potentials of different scales become
# comparable and the network's loss can weigh a mode's relevance:
#
# $$
# e_i = w_i \Psi'_i + b_i, \qquad w_i \ge 1,\ b_i \ge 0. \tag{5.3}
# $$
#
# With these constraints $e_i \ge e$, so $\log e_i \ge 1$ wherever a gradient needs it. The
# *shared energy* of mode $j$ on mode $i$ is a weighted geometric mean of the two self energies,
#
# $$
# e_{ij} = w_{ij}\, e_i^{\gamma_{ij}}\, e_j^{1-\gamma_{ij}}, \qquad w_{ij} \in [-1, 1],\ \gamma_{ij} \in [0, 1], \tag{5.4}
# $$
#
# and the *modal energy* adds them up:
#
# $$
# E_i = e_i + \sum_{k \neq i} e_{ik}, \qquad E_{\text{total}} = \sum_i E_i . \tag{5.5}
# $$
#
# $\gamma_{ij}$ sets how much mode $j$ matters to mode $i$: at $\gamma_{ij} = 1$ the shared
# energy is $w_{ij} e_i$ and ignores mode $j$; at $\gamma_{ij} = 0$ it is $w_{ij} e_j$ and
# follows mode $j$ alone. The sign of $w_{ij}$ decides the direction: with $w_{ij} > 0$ a rise
# of $e_j$ raises $E_i$, with $w_{ij} < 0$ it lowers it. $w_{ij}$ and $w_{ji}$ are separate,
# so the influence can be one-sided. The figure ({numref}`fig-emma-shared-energy`) holds $e_i$ fixed and moves $e_j$.

# %% mystnb={"figure": {"caption": "The shared energy e_ij of eq. 5.4 as the other mode's self energy e_j grows, with e_i fixed (dotted line). Left: γ_ij sets how much e_ij follows e_j, from not at all (γ_ij = 1) to entirely (γ_ij = 0). Right: the sign and size of w_ij decide whether a rise of e_j raises or lowers e_ij.", "name": "fig-emma-shared-energy"}, "image": {"alt": "Two line plots of the shared energy e_ij against e_j. Left: five curves for gamma from 0 to 1, from a straight rising line to a flat one. Right: five curves for w from 1 to minus 1, rising, flat at zero or falling."}}
fig = figures.shared_energy_figure(shared_self_energy)
save_figure(fig, "emma_shared_energy", output_dir)
plt.show()

# %% [markdown]
# (emma-step-3)=
# ## Step 3: from modal energies to importance scores
#
# The modal energies become importance scores through a Boltzmann (Gibbs) distribution over
# the modes,
#
# $$
# \alpha_i = \frac{1}{Z} e^{-\rho E_i}, \qquad Z = \sum_{k=1}^M e^{-\rho E_k}, \tag{5.6}
# $$
#
# so that $\alpha$ is positive, sums to one, and favours low energies. The *coldness* $\rho$ is
# the inverse temperature: a cold distribution (large $\rho$) gives almost all importance to the
# lowest energy, a hot one (small $\rho$) spreads it evenly. The module computes
# $\log\alpha$ with a log-softmax, which stays finite for any $\rho E$. The figure ({numref}`fig-emma-boltzmann-temperatures`) is the
# thesis's Figure 5.4 with our choice of energies.

# %% mystnb={"figure": {"caption": "The Boltzmann distribution of eq. 5.6 turns modal energies (left) into importance scores (right). At low temperature (large coldness ρ) nearly all the importance goes to the mode of lowest energy; at high temperature it is spread almost evenly.", "name": "fig-emma-boltzmann-temperatures"}, "image": {"alt": "Two bar charts over the modes. Left: the modal energy of each mode. Right: paired bars of the importance alpha of each mode at a low and at a high temperature; the low-temperature bars concentrate on the lowest-energy mode, the high-temperature ones are nearly equal."}}
fig = figures.boltzmann_figure(boltzmann_energies, coldness_low_temperature, coldness_high_temperature)
save_figure(fig, "emma_boltzmann_temperatures", output_dir)
plt.show()

# %% [markdown]
# (emma-step-4)=
# ## Step 4: from importance to attention scores
#
# The attention score of a mode is a gain and a bias applied to its importance, passed
# through a hyperbolic tangent and clipped at zero:
#
# $$
# \beta_i = \max\big(0,\ \tanh(g_a \alpha_i - b_a)\big), \qquad g_a > 0,\ b_a \in [0, 1]. \tag{5.7}
# $$
#
# The draft prints eq. 5.7 without the $\max$; its Figure 5.5 and the final thesis add it, and
# so does the module. A single gain and a single bias, shared by all modes, keep $\alpha$
# meaningful as a relative importance and give two readable quantities.
#
# **Energy threshold.** Mode $i$ passes ($\beta_i > 0$) exactly when $g_a\alpha_i > b_a$.
# Taking logarithms of eq. 5.6,
#
# $$
# \beta_i > 0 \iff E_i < \frac{\log(g_a / b_a) - \log Z}{\rho} = E_{\text{threshold}} . \tag{5.8}
# $$
#
# $E_{\text{threshold}}$ is the largest modal energy a mode may have and still pass. It moves
# with each sample through $Z$, and it is infinite when $b_a = 0$. The draft writes $\ge$
# here; check 3 shows the inequality is $<$.
#
# **Capacity.** Borrowing the idea of attention as a limited resource from psychology (the
# thesis cites Kahneman), the capacity is the area under the attention function over the range
# of $\alpha$:
#
# $$
# \text{capacity} \triangleq \int_0^1 \tanh(g_a \alpha - b_a)\, d\alpha \tag{5.9}
# $$
#
# With $u = g_a\alpha - b_a$, $d\alpha = du / g_a$, and $\int \tanh u\, du = \log\cosh u$:
#
# $$
# d\alpha = \frac{1}{g_a} du \tag{5.10}
# $$
#
# $$
# \text{capacity} = \frac{1}{g_a}\Big[\log\cosh u\Big]_{-b_a}^{g_a - b_a}
#   = \frac{1}{g_a}\log\frac{\cosh(g_a - b_a)}{\cosh(b_a)} . \tag{5.11}
# $$
#
# This is the final thesis's formula; the draft has $\cosh(g_a + b_a)$, which is the area under
# $\tanh(g_a\alpha + b_a)$. Eq. 5.11 ignores the $\max$: it subtracts the negative area left of
# the threshold and is itself negative when $b_a > g_a/2$. The function the module uses has
# capacity
#
# $$
# \int_0^1 \max\big(0, \tanh(g_a\alpha - b_a)\big)\, d\alpha = \frac{1}{g_a}\log\cosh\big(\max(g_a - b_a, 0)\big)
#   \quad (b_a \ge 0),
# $$
#
# the area right of the threshold $\alpha = b_a/g_a$, never negative. Both are implemented
# (`capacity`, `capacity_relu`) and checked in check 2. The figure ({numref}`fig-emma-attention-function`) is the thesis's Figure 5.5
# with the threshold and both capacities drawn on it.

# %% mystnb={"figure": {"caption": "The attention function of eq. 5.7 for three settings of the gain g_a and bias b_a. The blue area is the capacity with the max, the red one what eq. 5.11 subtracts because it ignores the max, and the dotted line the threshold of eq. 5.8; compare the two capacities in each panel's title.", "name": "fig-emma-attention-function"}, "image": {"alt": "Three panels of attention beta against importance alpha: a dashed tanh curve, the solid clipped curve max(0, tanh), a blue shaded area under the clipped curve between alpha 0 and 1, and, where the bias is positive, a red shaded area between the tanh curve and zero left of a dotted vertical threshold line."}}
fig = figures.attention_function_figure(attention_settings)
save_figure(fig, "emma_attention_function", output_dir)
plt.show()

# %% [markdown]
# (emma-step-5)=
# ## Step 5: training and regularisation
#
# Training has two phases: the autoencoders are trained on their own modes and frozen, then
# EMMA is placed in front of the multi-modal network and both are trained end to end on a mix
# of clean and corrupted samples. The final thesis adds two regularisers to the network's loss
# $\mathcal{L}$:
#
# \begin{equation*}
# \begin{gathered}
# \tilde{\mathcal{L}} = \mathcal{L}(y, \hat y) + \lambda_c (g_a - b_a) - \lambda_e \Omega, \qquad
# \Omega = \sum_{k=1}^M \xi_k \log\alpha_k, \\
# \xi_k = \begin{cases} -1 & \text{if } \mathbf{x}_k \text{ is corrupted} \\ +1 & \text{otherwise.} \end{cases}
# \end{gathered} \tag{5.12}
# \end{equation*}
#
# The capacity term pushes $g_a$ down and $b_a$ up for $\lambda_c > 0$, both of which shrink the
# capacity (the draft penalises $g_a$ alone). The energy term keeps modal energies faithful to
# the potentials: it rewards high importance for clean modes and low importance for corrupted
# ones. On its own, with $\theta$ the parameters of step 2, gradient descent on
# $\tilde{\mathcal L}$ moves them as
#
# $$
# \theta' \leftarrow \theta + \epsilon \lambda_e \nabla_\theta \Omega . \tag{5.13}
# $$
#
# Since $\log\alpha_k = -\rho E_k - \log Z$,
#
# $$
# \nabla_\theta \Omega = \sum_{k=1}^M \xi_k \nabla_\theta \log\alpha_k \tag{5.14}
# $$
#
# $$
# \nabla_\theta \log\alpha_k = \rho\Big[-(1 - \alpha_k)\nabla_\theta E_k + \sum_{l \neq k}\alpha_l \nabla_\theta E_l\Big] . \tag{5.15}
# $$
#
# The thesis then assumes that the parameters $\theta_i = \{w_i, b_i, w_{ik}, \gamma_{ik}\}$
# enter $E_i$ only, so that
#
# \begin{equation*}
# \nabla_{\theta_i}\log\alpha_k = \begin{cases} -\rho(1-\alpha_i)\nabla_{\theta_i}E_i & i = k \\ \rho\,\alpha_i\nabla_{\theta_i}E_i & i \neq k, \end{cases} \tag{5.16}
# \end{equation*}
#
# and, summing over clean and corrupted modes (eq. 5.17 and 5.18, with $M'$ the number of clean
# modes of the sample),
#
# $$
# \boxed{\nabla_{\theta_i}\Omega = -\big[(M - 2M')\alpha_i + \xi_i\big]\rho\,\nabla_{\theta_i}E_i} . \tag{5.19}
# $$
#
# With $M' = \lfloor (M+1)/2 \rfloor$ clean modes, the bracket is $\xi_i$ for even $M$ and
# $\xi_i - \alpha_i$ for odd $M$:
#
# $$
# \theta'_i \leftarrow \theta_i - \epsilon\lambda_e\rho\,\xi_i\nabla_{\theta_i}E_i \qquad (M \text{ even}), \tag{5.20}
# $$
#
# \begin{equation*}
# \theta'_i \leftarrow \begin{cases} \theta_i - \epsilon\lambda_e\rho(1-\alpha_i)\nabla_{\theta_i}E_i & \text{clean} \\ \theta_i + \epsilon\lambda_e\rho(1+\alpha_i)\nabla_{\theta_i}E_i & \text{corrupted} \end{cases} \qquad (M \text{ odd}), \tag{5.21}
# \end{equation*}
#
# so clean energies go down and corrupted ones go up. For one more clean mode,
# $M' = \lfloor (M+1)/2 \rfloor + 1$, the thesis writes
#
# $$
# \theta'_i \leftarrow \theta_i - \epsilon\lambda_e\rho(\alpha_i + \xi_i)\nabla_{\theta_i}E_i \tag{5.22}
# $$
#
# and concludes that all energies collapse downwards. Checks 4 and 5 test the assumption
# behind eq. 5.16 and each of these formulas.
#
# (emma-module)=
# ## The module
#
# `emma.EMMA` implements steps 2 to 4 on top of frozen energy models, one per mode. The whole
# computation is one pure function, `emma.method.attention.attention_scores`, vectorised over samples,
# modes and pairs of modes, which a sweep can also map over a stack of models with
# `torch.func.vmap`. The constraints of eq. 5.3, 5.4 and 5.7 live in one function,
# `project_parameters_`, which `EMMA.clamp_()` calls after every optimiser step; the starting
# values are those of the final thesis: $w_i = 1$, $b_i = 0$,
# $w_{ij} \sim \mathcal U\big(-\tfrac{1}{M-1}, \tfrac{1}{M-1}\big)$, $\gamma_{ij} = 0.5$,
# $g_a = 1$, $b_a = 0$.
#
# To see it work before any training, we make three toy modes of different widths, each lying
# near a random plane, train one denoising autoencoder per mode, and feed EMMA test samples with
# no mode, or exactly one mode, corrupted by white noise.

# %%
demo = em.module_demo(demo_widths, latent=demo_latent, n_train=demo_n_train, n_test=demo_n_test, hidden=demo_hidden,
                      epochs=demo_epochs, batch_size=demo_batch_size, dae_noise=demo_dae_noise,
                      corruption=demo_corruption, coldness=demo_coldness, seed=seed, device=device)
print(demo.model)

# %%
save_table(demo.scores, "emma_demo_scores", output_dir)
assert demo.corrupted_modes_lose_importance  # the demonstration's point: a corrupted mode loses importance
show(demo.view, "emma_demo_scores", caption="EMMA at its initial parameters on the toy modes: the mean potential Ψ, "
     "importance α and attention β of each mode (columns), with no mode or one mode corrupted (rows). "
     "Compare each mode's α in the row where it is corrupted with the row 'none'.")

# %% [markdown]
# Each row of {numref}`tbl-emma_demo_scores` averages over the test samples. Corrupting a mode raises its potential and with it
# its modal energy, so its importance and attention fall, and the importance it loses is shared
# among the other modes (through the shared energies the corruption also nudges the other modes'
# energies a little). This is only the mechanism at the initial parameters: whether learning $w$, $\gamma$, $g_a$ and
# $b_a$ end to end helps a classifier is the question of the experiments chapters
# ({doc}`05_potential_energy`, {doc}`06_robustness`).
#
# ## Checking the derivation
#
# Every step above is now checked twice: symbolically with sympy, and numerically on the
# package's own code in double precision. Each check is one row of {numref}`tbl-derivation_checks`. `passed`
# refers to the statement as we corrected it where the thesis is wrong, `thesis_verdict` says
# whether the thesis's statement as printed holds, and `note` quantifies the difference.
#
# ### An independent evaluation of eq. 5.2–5.7
#
# Check 7 compares the module with a second implementation that shares no code with it:
# `emma.experiments.emma_module.sympy_equations` writes eq. 5.2–5.7 with sympy, straight from
# the equations above. Here is the modal energy of the first of three modes as sympy sees it.

# %%
modal_3 = em.sympy_equations(3).modal  # the sympy reference of check 7 (emma.experiments.emma_module.sympy_reference)
display(Math(derivations.aligned_terms("E_1", modal_3[0])))  # one term of the sum per line

# %% [markdown]
# ### The checks table

# %%
checks = em.derivation_checks(n_draws=check_draws, n_grid=check_grid, steps=simulation_steps, seed=seed)
save_table(checks, "derivation_checks", output_dir)
assert checks["passed"].all(), checks.loc[~checks["passed"], ["check", "note"]]
show(checks, "derivation_checks", columns=["check", "equation", "method", "max_abs_error", "tolerance", "passed", "thesis_verdict"],
     caption="The seven checks of the derivation, one per row: the largest error of the corrected statement against its "
     "tolerance, and whether the thesis's statement as printed holds (thesis verdict).")

# %% [markdown]
# The `note` of each row:

# %%
for _, row in checks.iterrows():
    print(f"{row['check']} (eq. {row['equation']}): {row['note']}\n")

# %% [markdown]
# (emma-check-1)=
# ### Check 1: the potential energy
#
# Integrating $-(r(\mathbf{x}) - \mathbf{x})$ along the segment from $0$ to $\mathbf{x}$
# (eq. 4.5) for a symbolic tied autoencoder with two inputs and two hidden units, sympy finds
# eq. 4.7 plus a term that does not depend on $\mathbf{x}$:

# %%
potential = derivations.symbolic_potential()
display(Math(r"\Psi_{\text{line}}(\mathbf{x}) - \Psi_{4.7}(\mathbf{x}) = " + sp.latex(potential["difference_4_7"])))
display(Math(r"\nabla\Psi_{4.6} + r(\mathbf{x}) - \mathbf{x} = " + sp.latex(potential["field_error_4_6"].T)))

# %% [markdown]
# The constant is $-\Psi_{4.7}(0)$, as it should be. The draft's eq. 4.6,
# $-\int f - \tfrac12\lVert\mathbf{x} + \mathbf{b}_r\rVert^2$, has the quadratic term with the
# wrong sign: its gradient field misses the reconstruction field by $-2\mathbf{x}$. Eq. 4.7, and
# the `potential` of `emma.DenoisingAutoencoder`, are right; autograd and a Gauss–Legendre line
# integral on a random autoencoder agree with them to rounding error.
#
# (emma-check-2)=
# ### Check 2: the capacity
#
# sympy's integral of eq. 5.9 (with $-b_a$, as in eq. 5.7), before any simplification:

# %%
capacity_sym = derivations.symbolic_capacity()
display(Math(r"\int_0^1 \tanh(g_a\alpha - b_a)\,d\alpha = " + sp.latex(capacity_sym["integral"])))
display(Math(r"\int_{b_a/g_a}^1 \tanh(g_a\alpha - b_a)\,d\alpha = " + sp.latex(capacity_sym["integral_relu"])))

# %% [markdown]
# Both equal the closed forms above ($e^{g_a \cdot}$ of the two sides simplify to the same
# rational function of exponentials), and scipy quadrature on a grid of $(g_a, b_a)$ agrees with
# `capacity` and `capacity_relu`. The draft's $\cosh(g_a + b_a)$ does not. Note also that the
# draft's substitution step keeps the limits $0$ and $1$ for $u$; they become $-b_a$ and
# $g_a - b_a$.
#
# (emma-check-3)=
# ### Check 3: the energy threshold
#
# sympy solves $g_a e^{-\rho E}/Z = b_a$ for $E$ and finds the derivative of the left side
# negative, so the margin $g_a\alpha_i - b_a$ is positive exactly *below* the threshold. On
# random parameters and energies, $\beta_i > 0$ and $E_i < E_{\text{threshold}}$ agree on every
# pair, and the draft's $\ge$ disagrees on every pair.
#
# (emma-check-4)=
# ### Check 4: the gradient of the energy regulariser
#
# Eq. 5.15 and the bracket of eq. 5.19, $\partial\Omega/\partial E_i = -\rho[(M - 2M')\alpha_i + \xi_i]$,
# hold exactly (sympy, every corruption pattern for $M = 2, 3$). The assumption behind eq. 5.16
# does not: $w_i$ and $b_i$ change $e_i$, and $e_i$ also appears in every $e_{ki}$ that enters
# $E_k$. sympy gives, for $k \neq i$,

# %%
coupling = derivations.symbolic_energy_coupling(3)
display(Math(r"\frac{\partial E_2}{\partial b_1} = " + sp.latex(coupling[("b", 1, 0)])))
display(Math(r"\frac{\partial E_2}{\partial \gamma_{1 2}} = " + sp.latex(coupling[("gamma_ij", 1, 0)])))

# %% [markdown]
# so the exact gradient is
#
# $$
# \begin{gathered}
# \nabla_{\theta_i}\Omega = -\rho\sum_{k=1}^M \big[(M - 2M')\alpha_k + \xi_k\big]\nabla_{\theta_i}E_k , \\
# \frac{\partial E_k}{\partial b_i} = (1 - \gamma_{ki})\frac{e_{ki}}{e_i},\quad
# \frac{\partial E_k}{\partial w_i} = \Psi'_i (1 - \gamma_{ki})\frac{e_{ki}}{e_i} \quad (k \neq i),
# \end{gathered}
# $$
#
# which autograd through the module confirms. The boxed eq. 5.19 keeps only $k = i$: it is exact
# for $w_{ik}$ and $\gamma_{ik}$, and for $w_i, b_i$ when no shared weight couples the modes.
# How far off it is otherwise depends on the coupling. Below ({numref}`fig-emma-boxed-gradient-error`), single samples with random
# parameters in the constraint set, $w_{ij} \sim \mathcal U(-s, s)$, and the error of the boxed
# gradient with respect to the self biases $b_i$ (the one for $w_i$ is the same up to the factor
# $\Psi'_i$). The thesis's initial coupling is $s = 1/(M-1)$.

# %% mystnb={"figure": {"caption": "How far the boxed gradient of eq. 5.19 is from the exact one, for the self biases, as the coupling of the shared weights grows, per number of modes M. Left: median relative error (band up to the 90th percentile; dotted: the initial coupling 1/(M − 1)). Right: share of gradient components with the wrong sign. Both should be zero for uncoupled modes and grow with the coupling.", "name": "fig-emma-boxed-gradient-error"}, "image": {"alt": "Two line plots against the coupling s. Left: the relative error of the boxed gradient, one rising curve per number of modes with a shaded band and a dotted vertical line at its initial coupling. Right: the share of components with the wrong sign, rising from zero with the coupling."}}
boxed = em.boxed_gradient_study(coupling_modes, couplings, n_draws=coupling_draws, seed=seed)
save_table(boxed.table, "boxed_gradient_discrepancy", output_dir)
save_figure(boxed.figure, "emma_boxed_gradient_error", output_dir)
plt.show()

# %% tags=["hide-input"]
for m, error in boxed.at_initial_coupling.items():
    print(f"M = {m}: median relative error at the initial coupling s = 1/(M-1): {error:.2f}")
show(boxed.table, "boxed_gradient_discrepancy", caption="The boxed gradient of eq. 5.19 against the exact one, per number of "
     "modes M and coupling s: median and 90th-percentile relative error, and the share of components of the wrong sign.")

# %% [markdown]
# The error ({numref}`tbl-boxed_gradient_discrepancy`) grows roughly in proportion to the coupling and with the number of modes. It is
# already sizeable at the coupling EMMA starts from (printed above), and for strong coupling the
# boxed formula sometimes gets the sign of a component wrong. The conclusions the
# thesis draws from eq. 5.19, eq. 5.20–5.22, are therefore exact only for uncoupled modes.
# This does not affect training, which uses autograd, only the reading of the regulariser.
#
# (emma-check-5)=
# ### Check 5: the update rules and the "collapse"
#
# sympy reduces the bracket $(M - 2M')\alpha_i + \xi_i$ with $M = 2n$ or $2n + 1$:

# %%
rules = derivations.symbolic_update_rules()
display(Math(r"M' = \lfloor\tfrac{M+1}{2}\rfloor:\quad " + sp.latex(rules["even"]) + r"\ (M \text{ even}),\quad "
             + sp.latex(rules["odd"]) + r"\ (M \text{ odd})"))
display(Math(r"M' = \lfloor\tfrac{M+1}{2}\rfloor + 1:\quad " + sp.latex(rules["even_plus_one"]) + r"\ (M \text{ even}),\quad "
             + sp.latex(rules["odd_plus_one"]) + r"\ (M \text{ odd})"))

# %% [markdown]
# Eq. 5.20 and 5.21 are right. Eq. 5.22 is not: with one clean mode too many the bracket is
# $\xi_i - 2\alpha_i$ or $\xi_i - 3\alpha_i$, not $\alpha_i + \xi_i$. And because $\Omega$ depends on
# the energies only through their differences, $\sum_k \partial\Omega/\partial E_k = 0$: when the
# energies are the parameters, their sum never moves, and they can never all decrease. A clean
# mode is pushed *up* only while $\alpha_i > 1/(2M' - M)$, which evens out the importance of the
# clean modes rather than collapsing anything. The unstable case is the opposite one, too *few*
# clean modes ($2M' - M \le -2$, e.g. every mode corrupted): a corrupted mode with
# $\alpha_i > 1/(M - 2M')$ is pushed *down*, which raises its $\alpha_i$ further.
#
# The simulations ({numref}`fig-emma-energy-regularizer-simulation`) run gradient ascent on $\Omega$ alone for one sample whose clean modes start
# near a potential of 2 and corrupted ones near 6. Top row: the energies are the parameters, the
# setting of the derivation. Bottom row: EMMA's own parameters, clamped after every step, with
# the coupling of eq. 5.4.

# %% mystnb={"figure": {"caption": "Gradient ascent on the energy regularizer Ω alone, one sample, for four combinations of the number of modes M and of clean modes M′ (columns): the energy of each clean (solid green) and corrupted (dashed red) mode, step by step. Top: the energies are the parameters; bottom: EMMA's own parameters. Look for which energies rise and which fall, and whether any collapse.", "name": "fig-emma-energy-regularizer-simulation"}, "image": {"alt": "Two rows of four line plots of the modal energies against the gradient step: green solid lines for clean modes and red dashed lines for corrupted modes. In the top row straight diverging lines; the bottom row on a symmetric logarithmic axis."}}
simulation = em.regularizer_simulation(simulation_steps, simulation_lr, seed)
save_figure(simulation.figure, "emma_energy_regularizer_simulation", output_dir)
plt.show()

# %%
save_table(simulation.directions, "energy_regularizer_directions", output_dir)
show(simulation.directions, "energy_regularizer_directions", caption="Gradient ascent on Ω alone, one run per case and "
     "parametrisation: the share of steps at which each clean energy fell and each corrupted energy rose.")

# %% [markdown]
# {numref}`tbl-energy_regularizer_directions` gives, for each run, the share of steps at which each clean energy fell and each
# corrupted energy rose. When the energies are the parameters (top row), the constrained cases
# do exactly what eq. 5.20–5.21 say, at every step. With one clean mode more (third column)
# nothing collapses: the clean energies still fall together, the corrupted one still rises, and
# their sum stays put. Only with every mode corrupted (last column) does the regulariser turn on
# itself and drive one mode's energy down.
#
# Through EMMA's own parameters (bottom row) two things change. $\Omega$ has no maximum in either
# row, but through EMMA's parameters the energies run off far faster (note the symlog scale),
# one reason $\lambda_e$ must stay small beside the network's loss. And in the case of eq. 5.22 the clean energies no longer fall
# steadily: their updates change direction from step to step, because a clean mode whose
# importance passes $1/(2M' - M)$ is pushed back up while the others are pushed down. This is an
# instability of the clean modes, as the thesis says, but not the collapse it describes: the
# corrupted energy keeps rising. With $M = 2$, the thesis's experiments, a clean sample has
# $M' = 2 = \lfloor 3/2 \rfloor + 1$: half of the training samples are exactly the case of
# eq. 5.22, where the regulariser pulls the two importance scores towards $\tfrac12$ each.
#
# (emma-check-6)=
# ### Check 6: the derivative with respect to $\gamma_{ij}$
#
# The thesis's appendix B.2 differentiates eq. 5.4:

# %%
gamma_sym = derivations.symbolic_gamma_gradient()
display(Math(r"\frac{\partial e_{ij}}{\partial\gamma_{ij}} = " + sp.latex(sp.factor(gamma_sym["derivative"]))))
display(Math(r"\frac{\partial e_{ij}}{\partial\gamma_{ij}} - \text{B.2} = " + sp.latex(sp.factor(gamma_sym["minus_thesis"]))))

# %% [markdown]
# The logarithms enter with opposite signs, $e_{ij}(\log e_i - \log e_j) = e_{ij}\log(e_i/e_j)$,
# not with the same sign as in B.2 (whose product-rule line also loses $w_{ij}$ in one term).
# Autograd through `attention_scores` agrees with the corrected form. This is also where the
# floor at $e$ of eq. 5.2 matters: with $e_i \ge e$, $\log e_i$ is defined and at least 1.
#
# (emma-check-7)=
# ### Check 7: the module against the equations
#
# The table's last row compares `EMMA` (potentials from random autoencoders, random parameters
# in the constraint set, $\Psi_i^{\min}$ set so that half the potentials are clamped by eq. 5.2,
# $b_a > 0$ so that some $\beta_i$ are exactly zero) with the sympy evaluation written above; the
# potentials themselves are compared with eq. 4.7 in numpy. They agree to rounding error.
#
# (emma-disagreements)=
# ## Disagreements found
#
# Between the draft, the final thesis (as summarised in the project notes) and the checks of
# this chapter:
#
# 1. **Eq. 4.6** (draft): the quadratic term is $-\tfrac12\lVert\mathbf{x} + \mathbf{b}_r\rVert^2$;
#    it must be $+\tfrac12\lVert\mathbf{x} - \mathbf{b}_r\rVert^2$ as in eq. 4.7 (check 1).
# 2. **Eq. 5.3 and 5.4** (draft): $w_i \in \mathbb{R}^+$ and
#    $w_{ij} \in [-\tfrac{1}{M-1}, \tfrac{1}{M-1}]$; the final thesis constrains $w_i \ge 1$ and
#    $w_{ij} \in [-1, 1]$, with $\pm\tfrac{1}{M-1}$ only as the range of the initial values. The
#    module follows the final thesis (check 7).
# 3. **After eq. 5.4** (draft): a symmetry constraint $\gamma_{ij} = \gamma_{ji}$, which thesis
#    appendix B.1 relies on; the final constraint list has no such constraint and the module keeps
#    $\gamma$ free (check 6).
# 4. **Eq. 5.7** (draft): printed without the $\max(0, \cdot)$ that Figure 5.5 and the final
#    thesis use (check 7).
# 5. **Eq. 5.8** (draft): $E_i \ge E_{\text{threshold}}$; a mode passes when
#    $E_i < E_{\text{threshold}}$ (check 3).
# 6. **Eq. 5.9–5.11** (draft): $+b_a$ instead of $-b_a$, inconsistent with eq. 5.7, and the
#    substitution keeps the limits $0, 1$; the final eq. 5.11 is right for $\tanh$ alone, can be
#    negative, and is not the capacity of the clipped function the module uses,
#    $\log\cosh(\max(g_a - b_a, 0))/g_a$ (check 2).
# 7. **Eq. 5.12** (draft): the capacity term is $\lambda_c g_a$; the final thesis uses
#    $\lambda_c(g_a - b_a)$, implemented as `capacity_penalty` (section on step 5).
# 8. **Eq. 5.16–5.19**: the boxed gradient assumes $\theta_i$ enters $E_i$ only; $w_i, b_i$
#    also enter every $E_k$ through $e_{ki}$, and the boxed formula is off by a relative error
#    that grows with the coupling, with some components of the wrong sign (check 4).
# 9. **Eq. 5.22**: the bracket is $\xi_i - 2\alpha_i$ (even $M$) or $\xi_i - 3\alpha_i$ (odd
#    $M$), not $\alpha_i + \xi_i$, and the predicted collapse does not happen: the energies can
#    never all decrease. Through EMMA's own parameters the clean energies oscillate instead of
#    falling steadily, and with too few clean modes a corrupted energy is driven down (check 5).
# 10. **Thesis appendix B.2**: $\partial e_{ij}/\partial\gamma_{ij} = e_{ij}(\log e_i - \log e_j)$, not
#     $e_{ij}(\log e_i + \log e_j)$ (check 6).
# 11. **Thesis §5.3** (draft): the logarithm that needs positive arguments is that of the self
#     energies $e_i$ in the gradient with respect to $\gamma_{ij}$, not of $\Psi_i$; the floor at $e$
#     with $w_i \ge 1$, $b_i \ge 0$ guarantees $\log e_i \ge 1$ (check 6).

# %% [markdown]
# ## What this chapter finds

# %%
Markdown(em.findings(checks, demo))

# %% [markdown]
# ## Try it
#
# Make the Boltzmann distribution of eq. 5.6 ten times hotter in the module demonstration, to see
# how much of a corrupted mode's drop in importance comes from the coldness:
#
# ```bash
# emma-book run emma -p demo_coldness 0.1
# ```
#
# In {numref}`tbl-emma_demo_scores` the potentials Ψ stay as they were (the same autoencoders, and
# the same modal energies in the saved table), while the importance scores α and the attention
# scores β move towards an even share of the three modes: a corrupted mode should still lose
# importance, but the mode of lowest energy no longer takes most of it.
#
# Add a larger number of modes to the study of the boxed gradient, to see whether its error keeps
# growing with M:
#
# ```bash
# emma-book run emma -p coupling_modes '[2, 3, 5, 8]'
# ```
#
# {numref}`fig-emma-boxed-gradient-error` and {numref}`tbl-boxed_gradient_discrepancy` gain a line
# for M = 8, and the lines printed above the table its error at its initial coupling, 1/7. If the
# trend holds, its relative error lies above that of M = 5 at every coupling but zero, while the
# error at its initial coupling is smaller, since more modes start less coupled.
