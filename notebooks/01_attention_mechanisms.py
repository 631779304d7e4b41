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
# # Attention mechanisms
#
# ```{admonition} What you will learn
# - What an attention mechanism computes: a softmax over the scores of a query against keys, then an average of values.
# - How additive, dot, general, scaled dot-product, multi-head, memory-hop and hard attention differ, each on a task of its own.
# - Where EMMA sits among the attention mechanisms of deep learning, and what the draft's claims about them are worth.
# ```
#
# EMMA is an attention mechanism, and the thesis places it against the attention mechanisms
# of deep learning in a literature review (thesis §3, in the draft {cite:p}`werenne2019`),
# which the draft leaves as an outline: a paragraph on attention in psychology, a reading list,
# and the argument it meant to make, that earlier mechanisms attend to parts of a mode, are
# specific to their architectures, and do nothing against noisy, missing or unseen modes. This
# chapter writes that review as code. It asks: **what does an attention mechanism compute,
# which kinds does deep learning have, and where among them does EMMA sit?**
#
# Each mechanism the review needs is implemented in `emma.experiments.mechanisms`, tested against its
# definition (and against PyTorch's own where PyTorch has one), and trained on a small task it
# was made for (the tasks are in `emma.experiments.attention_tasks`, each study of this chapter is
# one call into `emma.experiments.attention_study`), with its weights drawn as a heatmap.
# The chapter ends with a taxonomy that places EMMA, and with a verdict on the draft's two
# claims about the mechanisms before it.

# %% tags=["parameters"]
profile = "full"  # full: five seeds at the sizes below; quick (profiles/quick.yaml): two seeds and shorter runs so that CI stays fast
device = "auto"  # auto, cpu or cuda
seeds = [0, 1, 2, 3, 4]  # one initialisation and one stream of generated training data per seed
output_dir = "_build"
batch_size = 256  # every task: one fresh batch of generated samples per Adam step
n_test = 500  # held-out samples per task and seed
alpha = 0.05  # level of every one-sided paired t-test over seeds
loss_min_effect = 0.01  # the smallest difference of mean training loss that matters (cross-entropy)
accuracy_min_effect = 0.05  # the smallest difference of answer accuracy that matters (one story in twenty)
# task 1, alignment: reverse sequences of n_symbols symbols, lengths min_length to max_length
n_symbols = 8
min_length = 4
max_length = 8
alignment_scores = ["additive", "dot", "general"]  # the score functions compared
alignment_steps = 50
alignment_lr = 0.03  # Adam learning rate
# task 2, self-attention: reverse sequences of a fixed length
reversal_length = 8
n_heads = 2
reversal_steps = 60
reversal_lr = 0.02
# task 3, two supporting facts: memory networks
memory_width = 24  # embedding width
memory_steps = 60
memory_lr = 0.02
n_stories_shown = 2  # held-out stories in the memory heatmaps

# %%
import matplotlib.pyplot as plt
from IPython.display import Markdown
from myst_nb import glue

from emma import resolve_device, save_figure, save_table
from emma.experiments import attention_study as study
from emma.experiments import literature
from emma.util.display import show
from emma.util.runtime import check_profile

# %%
_ = check_profile(profile)
device = resolve_device(device)
print(f"device: {device}, profile: {profile}, seeds: {seeds}")

# %% [markdown]
# ## Attention in psychology
#
# In psychology, attention names the processes that select some of the incoming stimuli for
# more thorough processing. It is oriented *endogenously* when we choose to attend, following
# a goal (listening to one voice at a party), and *exogenously* when a stimulus captures it
# reflexively (someone calls our name) {cite:p}`spence2010`. Attention also works *across*
# the senses: where we attend in one modality steers where we attend in the others, which is
# *crossmodal* attention {cite:p}`driver1998`. A second view, which the thesis borrows for
# EMMA's capacity, treats attention as a limited resource shared among the inputs
# {cite:p}`kahneman1973`. The draft's paragraph on psychology follows the opening of
# {cite:t}`spence2010` closely; thesis §7 (in the draft) uses these three kinds to classify the
# attention of deep learning, and so do we:

# %%
Markdown(literature.kinds_markdown())

# %% [markdown]
# The draft is not consistent about EMMA's own kind: its first contribution calls EMMA a
# module "mimicking human's endogenous attention", thesis §7 calls it the first
# *exogenous* mechanism (a sentence earlier, the same chapter says that many *exogenous* and
# crossmodal mechanisms already exist, where *endogenous* must be meant). EMMA's weights are
# set by how unusual each mode's input is, not by a goal, so we follow thesis §7: exogenous.
#
# ## Attention in deep learning
#
# In deep learning an attention mechanism is a differentiable lookup. A *query*
# $\mathbf q_i$ is compared with $n$ *keys* $\mathbf k_1, \dots, \mathbf k_n$; a softmax turns
# the scores into weights that sum to one; the output is the weighted average of the *values*
# $\mathbf v_j$ that go with the keys:
#
# $$
# e_{ij} = \operatorname{score}(\mathbf q_i, \mathbf k_j), \qquad
# a_{ij} = \frac{\exp e_{ij}}{\sum_{j'} \exp e_{ij'}}, \qquad
# \mathbf o_i = \sum_j a_{ij} \mathbf v_j .
# $$
#
# A boolean *mask* removes keys a query must not see (padding, the future): their score is
# set to $-\infty$, so their weight is exactly zero. A query that may see no key at all has no
# distribution to normalise; `emma.experiments.mechanisms` raises an error there, where PyTorch's own
# function silently returns zeros. Every function returns `(output, weights)` and accepts
# any leading batch shape. The mechanisms differ in the score ({numref}`tbl-attention-scores`)
# and in what queries, keys and values are: positions of the sentence being translated,
# positions of the same sequence, sentences of a story, regions of an image, or, for EMMA,
# whole modes.
#
# ```{table} The score functions of this chapter's mechanisms, and the papers that introduced them. Only the score changes from one mechanism to the next; the softmax and the average of the values stay.
# :name: tbl-attention-scores
#
# | mechanism | score$(\mathbf q, \mathbf k)$ | source |
# |---|---|---|
# | additive | $\mathbf v_a^\top \tanh(W_q \mathbf q + W_k \mathbf k)$ | {cite:t}`bahdanau2015` |
# | dot | $\mathbf q^\top \mathbf k$ | {cite:t}`luong2015` |
# | general | $\mathbf q^\top W \mathbf k$ | {cite:t}`luong2015` |
# | scaled dot product | $\mathbf q^\top \mathbf k / \sqrt{d}$ | {cite:t}`vaswani2017` |
# ```
#
# ## Additive, dot and general attention: learning an alignment
#
# Attention entered deep learning in neural machine translation {cite:p}`bahdanau2015`:
# instead of squeezing the source sentence into one vector, the decoder looks back at every
# source position at every output step, and the weights form a soft *alignment* between the
# two sentences. {cite:t}`luong2015` compared it with simpler, multiplicative scores.
#
# Our alignment task is the simplest translation there is: reverse a sequence of symbols, of
# length between {glue:text}`attn_min_length` and {glue:text}`attn_max_length`. Output step
# $t$ must read source position $\ell - 1 - t$, so the right alignment is the anti-diagonal
# whose position depends on the length $\ell$. The model (`AlignmentModel`) keeps only what
# this needs: keys and values are token plus position embeddings, the query of step $t$ is an
# embedding of $t$ plus one of the length (what a recurrent decoder would know), padding is
# masked, and the output is read from the context vector alone, so every token must come
# through the attention. Only the score changes between the three runs.

# %%
alignment = study.alignment_study(
    alignment_scores, seeds, steps=alignment_steps, batch_size=batch_size, n_test=n_test, n_symbols=n_symbols,
    min_length=min_length, max_length=max_length, lr=alignment_lr, min_effect=loss_min_effect, alpha=alpha, device=device)
for name, value in alignment.glued.items():
    glue(name, value, display=False)

# %%
save_table(alignment.runs, "attention_alignment_runs", output_dir)
show(alignment.summary(), "attention_alignment_runs",
     caption="Reversal under each score function, over seeds (mean ± std): held-out tokens reversed correctly, tokens whose largest weight sits on the mirrored source position, and the training loss averaged over the run. The lower that loss, the faster the score learned.")

# %% [markdown]
# {numref}`tbl-attention_alignment_runs` gives, over seeds (mean ± std), the share of held-out tokens reversed correctly,
# the share whose largest attention weight sits on the mirrored source position, and the
# training loss averaged over the run, a measure of how fast each score learns. The curves
# show the loss step by step ({numref}`fig-attention-alignment-curves`: geometric mean over seeds, with a band of one geometric standard
# deviation).

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Training loss of the reversal model under each score function: geometric mean over seeds, with a band of one geometric standard deviation. The lower a curve lies, the faster that score learns the alignment.", "name": "fig-attention-alignment-curves"}, "image": {"alt": "Line plot of the training cross-entropy, on a logarithmic axis, against the Adam step: one curve with a shaded band for each score function, additive, dot and general."}}
fig = alignment.curves_figure()
_ = save_figure(fig, "attention_alignment_curves", output_dir)
plt.show()

# %%
Markdown(alignment.tests_markdown())

# %% [markdown]
# The heatmaps ({numref}`fig-attention-alignment-heatmaps`) show the weights of the first seed's models on the held-out set, averaged over
# the sequences of full length (top) and over those of length
# {glue:text}`attn_min_length` (bottom). Rows are output steps, columns source positions. The
# mass lies on the anti-diagonal, which moves with the length; in the bottom row the padded
# columns get exactly zero weight, as the mask demands.

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Attention weights of the three scores on held-out sequences, averaged over those of full length (top row) and of the shortest length (bottom row). Look for the anti-diagonal: it moves with the length, and the padded columns of the bottom row get no weight.", "name": "fig-attention-alignment-heatmaps"}, "image": {"alt": "Two rows of heatmaps, one column per score function (additive, dot, general): output step against source position, coloured by attention weight from 0 to 1. The bright cells run along the anti-diagonal."}}
fig = alignment.heatmaps_figure()
_ = save_figure(fig, "attention_alignment_heatmaps", output_dir)
plt.show()

# %% [markdown]
# ## Scaled dot-product and multi-head self-attention
#
# The Transformer {cite:p}`vaswani2017` drops recurrence and lets every position of a sequence
# attend to every position of the same sequence (*self*-attention), with the dot product
# scaled by $\sqrt d$ so that the softmax does not saturate as the width $d$ grows:
#
# $$
# \operatorname{Attention}(Q, K, V) = \operatorname{softmax}\!\Big(\frac{QK^\top}{\sqrt d}\Big) V .
# $$
#
# *Multi-head* attention projects the inputs $h$ times, with separate learned matrices, runs
# the heads side by side and projects their concatenated outputs back. Our
# `scaled_dot_product_attention` and `MultiHeadSelfAttention` are built on the general form
# above; before using them we check them against PyTorch's, with a mask and two leading batch
# axes for the first, and with PyTorch's weights copied into ours for the second (the test
# suite checks both too).

# %%
agreement = study.torch_agreement(seeds[0], n_heads)
for name, value in agreement.glued.items():
    glue(name, value, display=False)

# %% [markdown]
# Both agree with PyTorch to rounding error: the largest differences are
# {glue:text}`attn_sdpa_max_difference:.1e` (scaled dot product) and
# {glue:text}`attn_mha_max_difference:.1e` (multi-head, outputs and weights).
#
# The task is reversal again, now of sequences of fixed length
# {glue:text}`attn_reversal_length`: token and learned position embeddings, one layer of
# {glue:text}`attn_n_heads`-head self-attention and a linear readout. Position $i$ has to find
# position $L - 1 - i$ of its own sequence, from the position embeddings alone ({numref}`fig-attention-self-attention-heatmaps`
# shows the weights it learns).

# %%
reversal = study.reversal_study(seeds, steps=reversal_steps, batch_size=batch_size, n_test=n_test, n_symbols=n_symbols,
                                length=reversal_length, n_heads=n_heads, lr=reversal_lr, device=device)
for name, value in reversal.glued.items():
    glue(name, value, display=False)
save_table(reversal.runs, "attention_self_attention_runs", output_dir)
show(reversal.summary(), "attention_self_attention_runs",
     caption="One layer of multi-head self-attention reversing sequences of fixed length, over seeds: held-out tokens reversed correctly, and positions whose head-averaged weight peaks on the mirrored position.")

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Self-attention weights of each head, and of their mean, averaged over the held-out sequences (first seed). The mean of the heads should draw the anti-diagonal, each position attending to its mirror; a single head may cover only part of it.", "name": "fig-attention-self-attention-heatmaps"}, "image": {"alt": "A row of square heatmaps, one per attention head and one for the mean of the heads: attending position against attended position, coloured by attention weight from 0 to 1."}}
fig = reversal.heatmaps_figure()
_ = save_figure(fig, "attention_self_attention_heatmaps", output_dir)
plt.show()

# %% [markdown]
# Held-out token accuracy {glue:text}`attn_self_accuracy:.3f` and share of positions whose
# head-averaged weight peaks on the mirrored position {glue:text}`attn_self_alignment:.3f`
# (means over seeds, {numref}`tbl-attention_self_attention_runs`). The heads need not each draw the full anti-diagonal: they may split the
# positions between them, and what matters is their combination.
#
# ## Memory networks: attention in hops
#
# An end-to-end memory network {cite:p}`sukhbaatar2015` answers a question about a story. Each
# sentence $x_i$ is embedded twice, as a memory $\mathbf m_i = A x_i$ to be matched and as an
# output $\mathbf c_i = C x_i$ to be read; the question embedding $\mathbf u = B q$ is the
# query. One *hop* is one attention step, and its output updates the query:
#
# $$
# p_i = \operatorname{softmax}_i(\mathbf u^\top \mathbf m_i), \qquad
# \mathbf o = \sum_i p_i \mathbf c_i, \qquad \mathbf u \leftarrow \mathbf u + \mathbf o .
# $$
#
# Stacking hops lets the network chain facts. Our stories are in the spirit of task 2 of bAbI,
# "two supporting facts" {cite:p}`weston2016`: four people each move to a place, two of them
# get an object, and the question asks where one object is. The answer needs the sentence
# saying who got the object, then the sentence saying where that person went, and the question
# names only the object. bAbI's stories are longer and people move several times, so the
# order of events matters there; here each person moves once and the sentences are shuffled,
# which keeps the two-fact chain and drops the bookkeeping of time. The generator is
# `two_facts_batch`; one held-out story:

# %%
Markdown(study.example_story(seeds[0]))

# %% [markdown]
# The network uses bag-of-words sentences and ties the embeddings of adjacent hops as the
# paper does ($A_{k+1} = C_k$, $B = A_1$, answer matrix $C_K^\top$). We train it with one hop
# and with two, {glue:text}`attn_memory_steps` Adam steps each. We also train the two-hop
# network with *hard* attention, below.

# %%
memory = study.memory_study(seeds, steps=memory_steps, batch_size=batch_size, n_test=n_test, d=memory_width, lr=memory_lr,
                            min_effect=accuracy_min_effect, alpha=alpha, device=device)
for name, value in memory.glued.items():
    glue(name, value, display=False)
save_table(memory.runs, "attention_memory_runs", output_dir)
show(memory.summary(), "attention_memory_runs",
     caption="Memory networks on two supporting facts, over seeds: held-out questions answered, and stories whose largest weight at each hop sits on the supporting fact of that hop (undefined for one hop). Compare one hop with two, and soft training with hard.")

# %% [markdown]
# In {numref}`tbl-attention_memory_runs`, `both_facts_found` is the share of held-out stories whose largest weight at hop 1 is on the
# sentence saying who got the object and at hop 2 on that person's move (undefined for one
# hop). The paired tests compare the networks seed by seed:

# %%
Markdown(memory.tests_markdown())

# %% [markdown]
# With one hop the network can find the sentence that names the object, but not the place of
# the person in it: the question does not name that person. Two hops can find both facts.
#
# ## Hard against soft attention
#
# Soft attention returns a weighted average of all values and is trained by back-propagation.
# *Hard* attention picks one value, the most likely one or one drawn from the weights
# {cite:p}`xu2015`; the choice has no gradient, so a sampled hard attention is trained with the
# score-function (REINFORCE) estimator {cite:p}`williams1992`: the log-probability of the
# choices made is pushed up in proportion to how much better than average the answer turned
# out. {cite:t}`xu2015` use it to caption images, choosing one image region per word. Here the
# two-hop network samples one sentence per hop while training, with the batch's mean reward as
# baseline, and takes the most likely sentence at test. The estimator is noisy, and a network
# that keeps drawing the wrong sentences early is rarely rewarded for the right ones. The
# reverse swap costs nothing: the soft network can be tested with an argmax at each hop (row
# *tested hard* of {numref}`tbl-attention_memory_runs`), which keeps its accuracy only where its soft weights were
# already peaked on one sentence.

# %%
Markdown(memory.hard_against_soft())

# %% [markdown]
# The heatmaps ({numref}`fig-attention-memory-heatmaps`) show, on the same held-out stories, the weights of the soft two-hop network of
# the first seed and of the hard-trained networks of the seeds with the highest and the lowest
# held-out accuracy.

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Where each hop looks: the weights of hop 1 and hop 2 over the sentences of held-out stories (one column per story), for the soft two-hop network (top) and the hard-trained networks of the seeds with the highest and the lowest accuracy. A network that chains the two facts puts hop 1 on the sentence saying who got the object and hop 2 on where that person went.", "name": "fig-attention-memory-heatmaps"}, "image": {"alt": "A grid of small heatmaps, one row per network and one column per story, each with two columns (hop 1, hop 2) and one row per sentence of the story, the sentences written as row labels; a bright cell marks the sentence a hop attends to."}}
fig = memory.heatmaps_figure(n_stories_shown)
_ = save_figure(fig, "attention_memory_heatmaps", output_dir)
plt.show()

# %% [markdown]
# ## Where EMMA sits
#
# The draft's chapter 3 lists {glue:text}`attn_review_listed` papers, two on multi-modal learning
# and ten on attention in deep learning, and stops there. The taxonomy ({numref}`tbl-attention_taxonomy`, and the map of
# {numref}`fig-attention-taxonomy-map`) gives each of them a row: it covers
# {glue:text}`attn_review_covered` of the {glue:text}`attn_review_listed` papers of the thesis's
# chapter 3, adds the {glue:text}`attn_review_book_additions` mechanisms of this chapter that the
# list does not name (marked "book's addition"), and EMMA. Every row sits on the three axes of the
# thesis: what the weights are spread over (positions within one mode, positions of another mode,
# or whole modes), what sets them (the content of the inputs, a query learned once for all
# inputs, or the quality of the input), and which kind of attention that makes; it also says
# whether the weights see the quality of the input at all, and why the row sits where it does.
#
# The list, in the draft's order. Two surveys frame it, {cite:t}`baltrusaitis2019` on multimodal
# machine learning and {cite:t}`galassi2019` on attention in natural language processing; with no
# mechanism of their own, they are placed by the attention they review. {cite:t}`liu2018` combine
# the predictions of the modes so that training leans, sample by sample, on the more reliable
# ones. The Transformer of {cite:t}`vaswani2017` attends within a sequence, and
# {cite:t}`libovicky2018` spread its cross-attention over several sources. Five cross-modal
# mechanisms weigh the positions of a mode by content, guided by another: {cite:t}`ephrat2018`
# (audio masks guided by the speaker's face), {cite:t}`wang2018` (video and audio for captions),
# {cite:t}`li2019` (colour and depth for object detection), {cite:t}`lee2018` (image regions and
# words) and {cite:t}`afouras2018` (audio and lips for speech recognition). {cite:t}`grimm2017`
# read where an already trained network looks, after the fact. The attention fusion of
# {cite:t}`shon2018`, the "alternative" of the robustness chapter ({doc}`06_robustness`), weighs
# a voice and a face embedding as wholes, with one weight per mode from a learned layer over
# both. Trained on corrupted data, as in the thesis's experiment, its weights can learn to follow
# the noise they were shown, and only that noise. The final thesis's chapter 3 keeps
# {glue:text}`attn_review_in_final` of the {glue:text}`attn_review_listed` papers and discusses
# {cite:t}`bahdanau2015`, one of the book's additions, among others. EMMA {cite:p}`werenne2019`
# also weighs modes as wholes, but its weights come from an explicit measure of how unusual each
# mode's input is, the potential energy of an autoencoder trained on the clean mode, which reacts
# to any departure from the training data, seen or not ({doc}`05_potential_energy` tests that
# premise).

# %%
review = literature.review()
for name, value in review.glued.items():
    glue(name, value, display=False)
save_table(review.taxonomy, "attention_taxonomy", output_dir)
show(review.taxonomy, "attention_taxonomy", columns=literature.TAXONOMY_SHOWN,
     caption="The taxonomy: every paper of the draft's chapter 3, the mechanisms this chapter adds, and EMMA, placed by what their weights are spread over, what sets them, their kind, and whether they see the quality of the input. Look at the last two columns of EMMA's row.")

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The rows of the taxonomy, placed by what their weights are spread over (horizontal) and by what sets them (vertical), coloured by kind; a dashed box is a paper with no mechanism of its own (a survey, placed by the attention it reviews, a fusion method, an analysis method). EMMA sits alone in the top right corner: whole modes, weighed by the quality of their input.", "name": "fig-attention-taxonomy-map"}, "image": {"alt": "A three by three map. Horizontal: positions within a mode, positions across modes, modes as wholes. Vertical: content, learned query, input quality. Each row of the taxonomy is a labelled box; the within-mode mechanisms stack at content, the cross-modal ones stack at positions across modes and content, the multiplicative combination sits at modes as wholes and content, the attention-based fusion at modes as wholes and learned query, and EMMA alone at modes as wholes and input quality."}}
fig = review.figure()
_ = save_figure(fig, "attention_taxonomy_map", output_dir)
plt.show()

# %% [markdown]
# EMMA occupies the corner no other row reaches: whole modes, weighed by the quality of their
# input. The draft makes two claims about the mechanisms before it (in its chapter 3 outline and
# in its chapter 7), which the taxonomy lets us judge on every row (for the papers reviewed here, the draft's list and the book's
# additions, not for the whole literature; {numref}`tbl-attention_claims`):

# %%
save_table(review.claims, "attention_claims", output_dir)
show(review.claims, "attention_claims", columns=literature.CLAIMS_SHOWN,
     caption="The draft's two claims about the attention mechanisms before EMMA, judged on every row of the taxonomy, each row a sub-case.")

# %% [markdown]
# ## What this chapter finds
#
# * An attention mechanism is a softmax over scores between a query and keys, followed by an
#   average of values; the mechanisms of the literature differ in the score and in what the
#   queries, keys and values are. All of them are implemented in `emma.experiments.mechanisms`; the scaled
#   dot-product and multi-head attention agree with PyTorch's to rounding error.
# * On reversal, with the same budget of Adam steps, held-out token accuracy was
#   {glue:text}`attn_align_additive_accuracy:.3f` with the additive score,
#   {glue:text}`attn_align_dot_accuracy:.3f` with the dot score and
#   {glue:text}`attn_align_general_accuracy:.3f` with the general score (means over seeds), and
#   the weights concentrate on the anti-diagonal that moves with the length. The paired tests
#   above say whether the additive score learned faster than the two products.
# * One layer of multi-head self-attention reversed fixed-length sequences with held-out token
#   accuracy {glue:text}`attn_self_accuracy:.3f`.
# * On two supporting facts, the memory network answered
#   {glue:text}`attn_memory_one_hop_soft_accuracy:.3f` of the held-out questions with one hop and
#   {glue:text}`attn_memory_two_hops_soft_accuracy:.3f` with two; trained with sampled hard
#   attention and REINFORCE, {glue:text}`attn_memory_two_hops_hard_accuracy:.3f`.
# * Every mechanism of the literature reviewed here, the {glue:text}`attn_review_listed` papers of
#   the draft's chapter 3 and the {glue:text}`attn_review_book_additions` the book adds, spreads its
#   weights by content or by a learned query; {glue:text}`attn_review_implicit` of them see the
#   quality of the input only as learned from corrupted training data, and none measures it. EMMA
#   is the one that weighs whole modes by the quality of their input, which makes it exogenous in
#   the thesis's sense. The draft's claim that earlier multi-modal mechanisms attend only to parts
#   of a mode holds only in part ({numref}`tbl-attention_claims`): the fusion of {cite:t}`shon2018`, which the
#   thesis itself uses as its baseline, and the combination of {cite:t}`liu2018` weigh modes as
#   wholes.

# %% [markdown]
# ## Try it
#
# Give the self-attention layer a single head, so that no head can leave part of the mirror to
# another:
#
# ```bash
# emma-book run attention_mechanisms -p n_heads 1
# ```
#
# {numref}`fig-attention-self-attention-heatmaps` then has two panels, the head and the mean of
# the heads, and they are the same matrix: the one head has to draw the whole anti-diagonal by
# itself. Whether it still reverses every held-out sequence is the first row of
# {numref}`tbl-attention_self_attention_runs`; in a quick run it did.
#
# Train the memory networks longer, to see whether REINFORCE catches up with back-propagation:
#
# ```bash
# emma-book run attention_mechanisms -p memory_steps 200
# ```
#
# In {numref}`tbl-attention_memory_runs`, expect the one-hop network to stay far from the
# two-hop ones, since more steps do not give it the second fact, and the hard-trained networks
# to split by seed: those that drew the right sentences early enough learn to answer almost
# everything, the others stay stuck where they were (in a quick run with two seeds, one of each),
# so the spread of their row may widen. {numref}`fig-attention-memory-heatmaps` shows the best
# and the worst of them side by side.
