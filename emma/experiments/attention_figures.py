"""The figures of the chapter :doc:`Attention mechanisms </book/chapters/01_attention_mechanisms>`: training curves and attention weights drawn as heatmaps.

Each function takes the trained runs of :mod:`emma.experiments.attention_study` (the
:class:`~emma.experiments.attention_tasks.TaskResult` of each run, keyed as there), draws one figure,
makes its text legible at the page's column width (:func:`emma.util.plots.legible`) and returns it;
the chapter saves and shows it. The studies' result objects call them
(:meth:`~emma.experiments.attention_study.AlignmentStudy.curves_figure` and the like).
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from emma.experiments import attention_tasks as tasks
from emma.util import checks
from emma.util.plots import legible


def _check_runs(results, name: str) -> dict:
    if not isinstance(results, dict) or not results:
        raise ValueError(f"{name} must be a non-empty dict of trained runs (TaskResult), got {type(results).__name__}")
    return results


def alignment_curves(results: dict, scores, seeds):
    """Training loss of the reversal model under each score: geometric mean over seeds and a band of one geometric std.

    Parameters
    ----------
    results : dict
        ``{(score, seed): TaskResult}`` of :func:`emma.experiments.attention_study.alignment_study`.
    scores, seeds : sequence
        The curves drawn (one per score) and the seeds averaged over.
    """
    results = _check_runs(results, "results")
    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    for score in scores:
        centre, low, high = tasks.loss_band([results[score, seed].losses for seed in seeds])  # the axis is logarithmic
        steps = np.arange(1, len(centre) + 1)
        ax.plot(steps, centre, label=score)
        ax.fill_between(steps, low, high, alpha=0.2)
    ax.set(xlabel="Adam step", ylabel="training cross-entropy", yscale="log", title="Reversal: training loss by score function")
    ax.legend()
    legible(fig)
    fig.tight_layout()
    return fig


def alignment_heatmaps(results: dict, scores, seed: int, min_length: int, max_length: int):
    """Held-out attention weights of each score's model of seed ``seed``, averaged over the sequences of full
    length (top row) and of length ``min_length`` (bottom row): output step against source position.
    """
    results = _check_runs(results, "results")
    min_length, max_length = checks.positive_int(min_length, "min_length"), checks.positive_int(max_length, "max_length")
    fig, axes = plt.subplots(2, len(scores), figsize=(3.4 * len(scores), 6.6), squeeze=False, layout="constrained")
    for col, score in enumerate(scores):
        result = results[score, seed]
        lengths = (result.inputs != tasks.PAD).sum(1)
        for row, length in enumerate([max_length, min_length]):
            mean_weights = result.weights[lengths == length][:, :length].mean(0).numpy()
            image = axes[row, col].imshow(mean_weights, cmap="viridis", vmin=0, vmax=1, aspect="auto")
            axes[row, col].set(title=f"{score}, length {length}", xlabel="source position", ylabel="output step",
                               xticks=range(max_length), yticks=range(length))
    fig.colorbar(image, ax=axes, shrink=0.6, label="attention weight")
    legible(fig)
    return fig


def self_attention_heatmaps(result: tasks.TaskResult):
    """The self-attention weights of each head of one trained reverser, and of their mean, averaged over its
    held-out sequences: attending position against attended position.
    """
    if not isinstance(result, tasks.TaskResult) or result.weights.dim() != 4:
        raise ValueError("result must be the TaskResult of train_reversal, with weights (sequences, heads, L, L)")
    weights = result.weights.mean(0)  # (heads, L, L), averaged over the held-out sequences
    panels = [(f"head {h + 1}", weights[h]) for h in range(weights.shape[0])] + [("mean of the heads", weights.mean(0))]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.3 * len(panels), 3.3), layout="constrained")
    for ax, (title, matrix) in zip(axes, panels):
        image = ax.imshow(matrix.numpy(), cmap="viridis", vmin=0, vmax=1)
        ax.set(title=title, xlabel="attended position", ylabel="attending position")
    fig.colorbar(image, ax=axes, shrink=0.8, label="attention weight")
    legible(fig)
    return fig


def memory_heatmaps(results: dict, runs: pd.DataFrame, seed: int, n_stories: int, device="cpu"):
    """Where each hop looks on ``n_stories`` held-out stories of seed ``seed``: the soft two-hop network of that
    seed (top row) and the hard-trained networks of the seeds with the highest and the lowest answer accuracy.

    Parameters
    ----------
    results : dict
        ``{(network, seed): TaskResult}`` of :func:`emma.experiments.attention_study.memory_study`.
    runs : DataFrame
        Its table, one row per network and seed (columns ``network``, ``seed``, ``answer_accuracy``).
    seed : int
        The seed of the soft network and of the held-out stories.
    n_stories : int
        Stories shown, one column each.
    device : str or torch.device
        Where the networks are.
    """
    results = _check_runs(results, "results")
    n_stories = checks.positive_int(n_stories, "n_stories")
    hard_accuracy = runs.query("network == 'two hops, hard'").set_index("seed")["answer_accuracy"]
    rows = [("two hops, soft", seed), ("two hops, hard", hard_accuracy.idxmax()), ("two hops, hard", hard_accuracy.idxmin())]
    test_stories = tasks.two_facts_batch(n_stories, tasks.held_out_generator(seed))  # the seed's held-out stories
    fig, axes = plt.subplots(len(rows), n_stories, figsize=(4.6 * n_stories, 2.3 * len(rows)), squeeze=False,
                             layout="constrained")
    for col in range(n_stories):
        sentences = tasks.decode(test_stories.stories[col])
        question = " ".join(tasks.decode(test_stories.questions[col:col + 1]))
        answer = tasks.VOCABULARY[int(test_stories.answers[col])]
        story, asked = test_stories.stories[col:col + 1].to(device), test_stories.questions[col:col + 1].to(device)
        for row, (name, row_seed) in enumerate(rows):
            with torch.no_grad():
                hops = results[name, row_seed].model(story, asked, "soft" if name.endswith("soft") else "argmax").weights[0]
            image = axes[row, col].imshow(hops.cpu().numpy().T, cmap="viridis", vmin=0, vmax=1, aspect="auto")
            axes[row, col].set(xticks=[0, 1], xticklabels=["1", "2"], yticks=range(len(sentences)), yticklabels=sentences,
                               xlabel="hop" if row == len(rows) - 1 else "", ylabel="sentence of the story" if col == 0 else "")
            axes[row, col].set_title(f"{question}? {answer}\n{name}, seed {row_seed}", fontsize=9)
            axes[row, col].tick_params(axis="y", labelsize=8)
    fig.colorbar(image, ax=axes, shrink=0.5, label="attention weight")
    legible(fig)
    return fig
