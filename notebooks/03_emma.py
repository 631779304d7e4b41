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
import functools
import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import sympy as sp
import torch
from IPython.display import Math, display
from matplotlib.patches import FancyBboxPatch

from emma import DenoisingAutoencoder, resolve_device, save_figure, save_table, seed_everything, train_autoencoder
from emma.method import derivations
from emma.method.module import EMMA
from emma.method.regularizers import capacity, capacity_relu
from emma.util.plots import legible

device = resolve_device(device)
seed = seeds[0]
generator = seed_everything(seed)
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
def draw_box(ax, x, y, w, h, text, color):
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02", fc=color, ec="0.3"))
    ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=9)


def arrow(ax, start, end):
    ax.annotate("", xy=end, xytext=start, arrowprops={"arrowstyle": "->", "color": "0.3"})


fig, ax = plt.subplots(figsize=(11, 4.2))
rows = {1: 3.0, 2: 1.8, "M": 0.3}
for label, y in rows.items():
    draw_box(ax, 0.0, y, 0.8, 0.6, f"$\\mathbf{{x}}_{{{label}}}$", "#e8eef7")
    draw_box(ax, 1.3, y, 1.3, 0.6, f"DAE {label}\n$\\Psi_{{{label}}}$", "#fdf1d6")
    draw_box(ax, 9.6, y, 0.9, 0.6, f"$\\beta_{{{label}}}\\,\\mathbf{{x}}_{{{label}}}$", "#e8eef7")
    arrow(ax, (0.8, y + 0.3), (1.3, y + 0.3))
    arrow(ax, (2.6, y + 0.3), (3.2, 1.95))
    arrow(ax, (9.2, 1.95), (9.6, y + 0.3))
    arrow(ax, (10.5, y + 0.3), (10.9, 1.95))
for x in (0.4, 1.95, 10.05):
    ax.text(x, 1.15, "$\\vdots$", ha="center", fontsize=14)
draw_box(ax, 3.2, 1.2, 1.9, 1.5, "step 2\nenergies\n$e_i,\\ e_{ij},\\ E_i$\n(eq. 5.2–5.5)", "#e3f1e3")
draw_box(ax, 5.5, 1.2, 1.7, 1.5, "step 3\nimportance\n$\\alpha = \\mathrm{softmax}(-\\rho E)$\n(eq. 5.6)", "#e3f1e3")
draw_box(ax, 7.6, 1.2, 1.6, 1.5, "step 4\nattention\n$\\beta_i$ (eq. 5.7)", "#e3f1e3")
arrow(ax, (5.1, 1.95), (5.5, 1.95))
arrow(ax, (7.2, 1.95), (7.6, 1.95))
draw_box(ax, 10.9, 1.45, 1.5, 1.0, "multi-modal\nnetwork $\\to \\hat y$", "#f4e1e1")
ax.text(1.95, 3.85, "step 1 (chapter 4): frozen", ha="center", fontsize=9)
ax.text(10.05, 3.85, "each mode scaled by its $\\beta_i$", ha="center", fontsize=9)
ax.text(6.2, 0.35, "step 5: trained end to end with\nthe network's loss and two\nregularisers (eq. 5.12)",
        ha="center", fontsize=9, style="italic")
ax.set_xlim(-0.2, 12.6)
ax.set_ylim(0.0, 4.1)
ax.axis("off")
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
e_j = np.linspace(math.e, 4 * shared_self_energy, 200)
fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
for gamma in [0.0, 0.25, 0.5, 0.75, 1.0]:
    axes[0].plot(e_j, 1.0 * shared_self_energy**gamma * e_j ** (1 - gamma), label=f"$\\gamma_{{ij}} = {gamma}$")
for weight in [1.0, 0.5, 0.0, -0.5, -1.0]:
    axes[1].plot(e_j, weight * shared_self_energy**0.5 * e_j**0.5, label=f"$w_{{ij}} = {weight}$")
axes[0].set_title(f"$w_{{ij}} = 1$, $e_i = {shared_self_energy:g}$: $\\gamma_{{ij}}$ sets the coupling")
axes[1].set_title(f"$\\gamma_{{ij}} = 0.5$, $e_i = {shared_self_energy:g}$: $w_{{ij}}$ sets its sign and size")
for ax in axes:
    ax.axvline(shared_self_energy, color="0.7", lw=0.8, ls=":")
    ax.set_xlabel("self energy of the other mode, $e_j$")
    ax.legend(fontsize=8)
axes[0].set_ylabel("shared energy $e_{ij}$ (eq. 5.4)")
legible(fig)
fig.tight_layout()
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
energies = torch.tensor(boltzmann_energies, dtype=torch.float64)
labels = [f"{i + 1}" for i in range(len(energies))]
fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
axes[0].bar(labels, energies.numpy(), color="0.6")
axes[0].set_ylabel("modal energy $E_i$")
axes[0].set_title("input")
width = 0.38
for k, (rho, name) in enumerate([(coldness_low_temperature, "low temperature"), (coldness_high_temperature, "high temperature")]):
    alpha = torch.softmax(-rho * energies, dim=0).numpy()
    axes[1].bar(np.arange(len(energies)) + (k - 0.5) * width, alpha, width, label=f"$\\rho = {rho:g}$ ({name})")
axes[1].set_xticks(range(len(energies)), labels)
axes[1].set_ylabel("importance $\\alpha_i$ (eq. 5.6)")
axes[1].set_title("output")
axes[1].legend(fontsize=8)
for ax in axes:
    ax.set_xlabel("mode $i$")
legible(fig)
fig.tight_layout()
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
alpha_axis = torch.linspace(-0.25, 1.0, 400, dtype=torch.float64)
fig, axes = plt.subplots(1, len(attention_settings), figsize=(3.4 * len(attention_settings), 3.8), sharey=True)
for ax, (g_a, b_a) in zip(np.atleast_1d(axes), attention_settings):
    raw = torch.tanh(g_a * alpha_axis - b_a)
    used = raw.clamp_min(0.0)
    ax.plot(alpha_axis, raw, ls="--", color="0.5", label="$\\tanh(g_a\\alpha - b_a)$")
    ax.plot(alpha_axis, used, color="C0", lw=2, label="$\\beta = \\max(0, \\tanh(\\cdot))$ (eq. 5.7)")
    inside = (alpha_axis >= 0) & (alpha_axis <= 1)
    ax.fill_between(alpha_axis[inside], 0, used[inside], color="C0", alpha=0.2, label="capacity with the max")
    negative = inside & (raw < 0)
    if negative.any():
        ax.fill_between(alpha_axis[negative], raw[negative], 0, color="C3", alpha=0.15, label="subtracted by eq. 5.11")
    cap, cap_relu = capacity(g_a, b_a).item(), capacity_relu(g_a, b_a).item()
    if b_a > 0:
        ax.axvline(b_a / g_a, color="C3", ls=":", label="threshold $\\alpha = b_a/g_a$ (eq. 5.8)")
    ax.axhline(0, color="0.8", lw=0.8)
    ax.set_title(f"$g_a = {g_a:g}$, $b_a = {b_a:g}$\ncapacity: eq. 5.11 = {cap:.3f},\nwith max = {cap_relu:.3f}", fontsize=9)
    ax.set_xlabel("importance $\\alpha$")
np.atleast_1d(axes)[0].set_ylabel("attention $\\beta$")
legend = {}
for ax in np.atleast_1d(axes):
    for handle, label in zip(*ax.get_legend_handles_labels()):
        legend.setdefault(label, handle)
fig.legend(legend.values(), legend.keys(), loc="lower center", ncol=3, fontsize=8, frameon=False)
legible(fig)
fig.tight_layout(rect=(0, 0.17, 1, 1))
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
def toy_mode(n, width, basis, gen):
    latent = torch.randn(n, demo_latent, generator=gen)
    return latent @ basis + 0.05 * torch.randn(n, width, generator=gen)  # (n, width)


bases = [torch.randn(demo_latent, d, generator=generator) / math.sqrt(demo_latent) for d in demo_widths]
train_modes = [toy_mode(demo_n_train, d, b, generator) for d, b in zip(demo_widths, bases)]
test_modes = [toy_mode(demo_n_test, d, b, generator) for d, b in zip(demo_widths, bases)]
autoencoders = []
for i, (d, x_train) in enumerate(zip(demo_widths, train_modes)):
    torch.manual_seed(seed + i)
    dae = DenoisingAutoencoder(d, demo_hidden, noise_std=demo_dae_noise).to(device)
    train_autoencoder(dae, x_train.to(device), epochs=demo_epochs, batch_size=demo_batch_size, seed=seed + i, desc=f"DAE mode {i + 1}")
    autoencoders.append(dae)
with torch.no_grad():
    psi_min = [dae.potential(x.to(device)).min().item() for dae, x in zip(autoencoders, train_modes)]
model = EMMA(autoencoders, psi_min=psi_min, coldness=demo_coldness, generator=generator).to(device)
print(model)

# %%
rows = []
n_modes = len(demo_widths)
for case in ["none"] + [f"mode {i + 1}" for i in range(n_modes)]:
    modes = [x.clone() for x in test_modes]
    if case != "none":
        k = int(case.split()[1]) - 1
        modes[k] = modes[k] + demo_corruption * torch.randn(modes[k].shape, generator=generator)
    with torch.no_grad():
        _, out = model([x.to(device) for x in modes])
    for i in range(n_modes):
        rows.append({
            "corrupted": case,
            "mode": i + 1,
            "psi": out.potentials[:, i].mean().item(),
            "modal_energy": out.modal_energies[:, i].mean().item(),
            "alpha": out.alpha[:, i].mean().item(),
            "beta": out.beta[:, i].mean().item(),
        })
demo_scores = pd.DataFrame(rows)
save_table(demo_scores, "emma_demo_scores", output_dir)
alpha_table = demo_scores.pivot(index="corrupted", columns="mode", values="alpha")
for i in range(n_modes):  # the demonstration's point: a corrupted mode loses importance
    assert alpha_table.loc[f"mode {i + 1}", i + 1] < alpha_table.loc["none", i + 1]
show(demo_scores.pivot(index="corrupted", columns="mode", values=["psi", "alpha", "beta"]), "emma_demo_scores")

# %% [markdown]
# Each row averages over the test samples. Corrupting a mode raises its potential and with it
# its modal energy, so its importance and attention fall, and the importance it loses is shared
# among the other modes (through the shared energies the corruption also nudges the other modes'
# energies a little). This is only the mechanism at the initial parameters: whether learning $w$, $\gamma$, $g_a$ and
# $b_a$ end to end helps a classifier is the question of the experiments chapters
# ({doc}`05_potential_energy`, {doc}`06_robustness`).
#
# ## Checking the derivation
#
# Every step above is now checked twice: symbolically with sympy, and numerically on the
# package's own code in double precision. Each check is one row of the table below. `passed`
# refers to the statement as we corrected it where the thesis is wrong, `thesis_verdict` says
# whether the thesis's statement as printed holds, and `note` quantifies the difference.
#
# ### An independent evaluation of eq. 5.2–5.7
#
# Check 7 compares the module with a second implementation that shares no code with it. We
# write that one here, with sympy, straight from the equations above, and print the modal
# energy of the first of three modes as sympy sees it.

# %%
@functools.cache
def emma_equations(m):
    """Eq. 5.2–5.7 for m modes as sympy expressions, and numeric functions of them."""
    psi, psi_min_ = sp.symbols(f"Psi_1:{m + 1}", real=True), sp.symbols(f"Psi^min_1:{m + 1}", real=True)
    w, b = sp.symbols(f"w_1:{m + 1}", positive=True), sp.symbols(f"b_1:{m + 1}", nonnegative=True)
    w_shared = sp.Matrix(m, m, lambda i, j: sp.Symbol(f"w_{i + 1}{j + 1}", real=True))
    gamma = sp.Matrix(m, m, lambda i, j: sp.Symbol(f"gamma_{i + 1}{j + 1}", nonnegative=True))
    g_a, b_a, rho = sp.symbols("g_a b_a rho", positive=True)
    corrected = [sp.Max(sp.E, psi[i] - psi_min_[i] + sp.E) for i in range(m)]  # eq. 5.2
    self_energy = [w[i] * corrected[i] + b[i] for i in range(m)]  # eq. 5.3
    modal = [
        self_energy[i]
        + sum(w_shared[i, j] * self_energy[i] ** gamma[i, j] * self_energy[j] ** (1 - gamma[i, j]) for j in range(m) if j != i)
        for i in range(m)
    ]  # eq. 5.4 and 5.5
    energy = sp.symbols(f"E_1:{m + 1}", real=True)  # the modal energies as inputs of steps 3 and 4
    partition = sum(sp.exp(-rho * e) for e in energy)
    alpha = [sp.exp(-rho * e) / partition for e in energy]  # eq. 5.6
    beta = [sp.Max(0, sp.tanh(g_a * a - b_a)) for a in alpha]  # eq. 5.7
    step_2 = sp.lambdify([*psi, *psi_min_, *w, *b, *w_shared, *gamma], modal, "mpmath")
    steps_3_4 = sp.lambdify([*energy, g_a, b_a, rho], [alpha, beta], "mpmath")
    return modal, step_2, steps_3_4


def by_sympy(potentials, psi_min, params, coldness):
    m = potentials.shape[1]
    _, step_2, steps_3_4 = emma_equations(m)
    fixed = [*psi_min, *params["self_weight"], *params["self_bias"], *params["shared_weight"].ravel(),
             *params["shared_gamma"].ravel()]
    result = {"modal_energies": [], "alpha": [], "beta": [], "total_energy": []}
    for row in potentials:
        modal = step_2(*row, *fixed)
        alpha, beta = steps_3_4(*modal, params["gain"], params["bias"], coldness)
        for key, value in zip(result, (modal, alpha, beta, sum(modal))):
            result[key].append(np.array(value, dtype=float))
    return {key: np.array(value) for key, value in result.items()}


modal_3, *_ = emma_equations(3)
display(Math(derivations.aligned_terms("E_1", modal_3[0])))  # one term of the sum per line

# %% [markdown]
# ### The checks table

# %%
checks = derivations.derivation_checks(
    n_draws=check_draws, n_grid=check_grid, steps=simulation_steps, seed=seed, reference=by_sympy
)
save_table(checks, "derivation_checks", output_dir)
assert checks["passed"].all(), checks.loc[~checks["passed"], ["check", "note"]]
show(checks, "derivation_checks", columns=["check", "equation", "method", "max_abs_error", "tolerance", "passed", "thesis_verdict"])

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
discrepancy = derivations.boxed_gradient_discrepancy(
    n_modes_list=tuple(coupling_modes), couplings=tuple(couplings), n_draws=coupling_draws, seed=seed
)
save_table(discrepancy, "boxed_gradient_discrepancy", output_dir)
fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
for m, part in discrepancy.groupby("n_modes"):
    line = axes[0].plot(part["coupling"], part["median_relative_error"], marker="o", label=f"M = {m} (median)")
    axes[0].fill_between(part["coupling"], 0, part["q90_relative_error"], color=line[0].get_color(), alpha=0.12)
    axes[0].axvline(1 / (m - 1), color=line[0].get_color(), ls=":", lw=0.8)
    axes[1].plot(part["coupling"], part["sign_flip_rate"], marker="o", label=f"M = {m}")
axes[0].set_ylabel(r"$\|\mathrm{boxed} - \mathrm{exact}\| / \|\mathrm{exact}\|$ for $\nabla_b\Omega$")
axes[0].set_title("relative error (shaded: up to the 90th percentile;\ndotted: the initial coupling 1/(M-1))", fontsize=9)
axes[1].set_ylabel("share of components with the wrong sign")
axes[1].set_title("boxed eq. 5.19 points the wrong way", fontsize=9)
for ax in axes:
    ax.set_xlabel("coupling $s$: $w_{ij} \\sim U(-s, s)$")
    ax.legend(fontsize=8)
legible(fig)
fig.tight_layout()
save_figure(fig, "emma_boxed_gradient_error", output_dir)
plt.show()

# %% tags=["hide-input"]
for m, part in discrepancy.groupby("n_modes"):
    at_init = np.interp(1 / (m - 1), part["coupling"], part["median_relative_error"])
    print(f"M = {m}: median relative error at the initial coupling s = 1/(M-1): {at_init:.2f}")
show(discrepancy, "boxed_gradient_discrepancy")

# %% [markdown]
# The error grows roughly in proportion to the coupling and with the number of modes. It is
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
cases = [(4, 2, "M = 4, M' = 2 (eq. 5.20)"), (3, 2, "M = 3, M' = 2 (eq. 5.21)"),
         (4, 3, "M = 4, M' = 3 (eq. 5.22)"), (3, 0, "M = 3, M' = 0 (all corrupted)")]
fig, axes = plt.subplots(2, len(cases), figsize=(2.9 * len(cases), 6.4), sharex=True)
shares = []
for col, (m, clean, title) in enumerate(cases):
    for row, parametrisation in enumerate(["energies", "module"]):
        trajectory = derivations.simulate_energy_regularizer(
            m, clean, steps=simulation_steps, lr=simulation_lr, parametrisation=parametrisation, seed=seed
        )
        shares.append({"case": title, "parameters": parametrisation, **derivations.direction_shares(trajectory)})
        ax = axes[row, col]
        labelled = set()
        for mode, part in trajectory.groupby("mode"):
            kind = "clean" if bool(part["clean"].iloc[0]) else "corrupted"
            ax.plot(part["step"], part["energy"], color="C2" if kind == "clean" else "C3",
                    ls="-" if kind == "clean" else "--", lw=1, label=None if kind in labelled else kind)
            labelled.add(kind)
        if parametrisation == "module":
            ax.set_yscale("symlog", linthresh=10)
        ax.set_title(title if row == 0 else "", fontsize=9)
        ax.legend(fontsize=7)
    axes[1, col].set_xlabel("gradient step on $\\Omega$")
axes[0, 0].set_ylabel("$E_i$, parameters $\\theta_i = E_i$")
axes[1, 0].set_ylabel("$E_i$, EMMA's parameters (symlog)")
legible(fig)
fig.tight_layout()
save_figure(fig, "emma_energy_regularizer_simulation", output_dir)
plt.show()

# %%
directions = pd.DataFrame(shares)
save_table(directions, "energy_regularizer_directions", output_dir)
show(directions, "energy_regularizer_directions")

# %% [markdown]
# The table gives, for each run, the share of steps at which each clean energy fell and each
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
from IPython.display import Markdown

falls = [(alpha_table.loc["none", i + 1], alpha_table.loc[f"mode {i + 1}", i + 1]) for i in range(n_modes)]
Markdown("\n".join([
    f"- {int(checks['passed'].sum())} of {len(checks)} derivation checks pass within their tolerance. What each says of the thesis: "
    + "; ".join(f"*{c}*: {v}" for c, v in zip(checks["check"], checks["thesis_verdict"])) + ".",
    "- On the toy modes, corrupting a mode lowers its importance score: "
    + ", ".join(f"mode {i + 1} from {clean:.3f} to {noisy:.3f}" for i, (clean, noisy) in enumerate(falls)) + ".",
]))
