"""The studies of the chapter :doc:`Attention mechanisms </book/chapters/01_attention_mechanisms>`, one call each, with their tables, figures and tests.

* :func:`alignment_study`: the additive, dot and general scores learn to reverse sequences of varying length;
* :func:`torch_agreement`: our scaled dot-product and multi-head attention against PyTorch's;
* :func:`reversal_study`: one layer of multi-head self-attention reverses fixed-length sequences;
* :func:`memory_study`: memory networks with one and two hops, soft and hard, on two supporting facts;
* :func:`example_story`: one held-out story, as the reader meets it.

Each study trains one model per setting and seed with :mod:`emma.experiments.attention_tasks`
(every run seeds itself, so a run gives the same numbers alone or among others), returns a result
holding its runs (``results``), its table (``runs``, one row per run) and its paired tests over seeds,
and draws its figures with :mod:`emma.experiments.attention_figures`. ``glued`` gives the values the
chapter's prose cites, under the names it cites them by. The taxonomy that places EMMA is
:func:`emma.experiments.literature.review`.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import torch
import torch.nn.functional as F
from tqdm import tqdm

from emma.claims.rules import PairedTest
from emma.experiments import attention_figures as figures
from emma.experiments import attention_tasks as tasks
from emma.experiments import mechanisms as mech
from emma.util import checks
from emma.util.runtime import progress_disabled, seed_everything, single_cpu_thread

#: The memory networks compared: name → (hops, attention during training).
MEMORY_NETWORKS = {"one hop, soft": (1, "soft"), "two hops, soft": (2, "soft"), "two hops, hard": (2, "hard")}
#: The row of the soft two-hop networks tested with an argmax at each hop.
TESTED_HARD = "two hops, soft, tested hard"
#: The paired tests of answer accuracy: (better, worse, the label of its glued p-value).
MEMORY_TESTS = (("two hops, soft", "one hop, soft", "hops"), ("two hops, soft", "two hops, hard", "soft_vs_hard"))


def _line(test: PairedTest, what: str, outcome: str, alpha: float) -> str:
    return f"* {what}: {test.describe()}; {outcome} (one-sided paired t-test, α = {alpha})."


@dataclass
class AlignmentStudy:
    """What :func:`alignment_study` returns.

    Attributes
    ----------
    results : dict
        ``{(score, seed): TaskResult}``, the trained models and their held-out weights.
    runs : DataFrame
        One row per score and seed: ``token_accuracy``, ``alignment_accuracy`` (share of held-out tokens whose
        largest weight sits on the mirrored source position) and ``mean_training_loss``; the table
        ``attention_alignment_runs``.
    tests : dict
        ``{score: PairedTest}``: is the additive score's mean training loss lower than that score's, seed by seed?
    alpha, min_length, max_length
        The tests' level and the shortest and longest sequences.
    """

    results: dict
    runs: pd.DataFrame
    tests: dict
    alpha: float
    min_length: int
    max_length: int

    @property
    def scores(self) -> list[str]:
        return list(dict.fromkeys(score for score, _ in self.results))

    @property
    def seeds(self) -> list[int]:
        return list(dict.fromkeys(seed for _, seed in self.results))

    def summary(self) -> pd.DataFrame:
        """The runs over seeds, one row per score: ``mean ± std`` of each column."""
        columns = ["token_accuracy", "alignment_accuracy", "mean_training_loss"]
        return self.runs.groupby("score", sort=False)[columns].agg(tasks.mean_std)

    def tests_markdown(self) -> str:
        """The paired tests as a Markdown list, one line per score compared with the additive one."""
        lines = []
        for other, test in self.tests.items():
            verdict = "lower by at least the minimum" if test.verdict == "reproduced" else f"not shown lower ({test.verdict})"
            lines.append(_line(test, f"Mean training loss, {other} minus additive", f"additive is {verdict}", self.alpha))
        return "\n".join(lines)

    @property
    def glued(self) -> dict:
        """The values the prose cites: the lengths, the tests' p-values, each score's mean accuracies."""
        values = {"attn_min_length": self.min_length, "attn_max_length": self.max_length}
        values.update({f"attn_align_additive_vs_{other}_p": float(test.p_value) for other, test in self.tests.items()})
        for score in self.scores:
            part = self.runs.query("score == @score")
            values[f"attn_align_{score}_accuracy"] = float(part["token_accuracy"].mean())
            values[f"attn_align_{score}_alignment"] = float(part["alignment_accuracy"].mean())
        return values

    def curves_figure(self):
        """The training loss of each score over seeds (:func:`emma.experiments.attention_figures.alignment_curves`)."""
        return figures.alignment_curves(self.results, self.scores, self.seeds)

    def heatmaps_figure(self):
        """The first seed's weights (:func:`emma.experiments.attention_figures.alignment_heatmaps`)."""
        return figures.alignment_heatmaps(self.results, self.scores, self.seeds[0], self.min_length, self.max_length)


def alignment_study(scores, seeds, *, steps: int, batch_size: int, n_test: int, n_symbols: int, min_length: int,
                    max_length: int, lr: float, min_effect: float, alpha: float = 0.05, device="cpu") -> AlignmentStudy:
    """Train :class:`~emma.experiments.attention_tasks.AlignmentModel` with each score and seed, and test the scores.

    Parameters
    ----------
    scores : sequence of str
        Score functions, ``"additive"`` among them: each other is compared with it.
    seeds : sequence of int
        One initialisation and one stream of training data per seed.
    steps, batch_size, n_test, n_symbols, min_length, max_length, lr
        As :func:`emma.experiments.attention_tasks.train_alignment`.
    min_effect : float
        The smallest difference of mean training loss that matters.
    alpha : float
        The level of the one-sided paired t-tests.
    device : str or torch.device
    """
    scores, seeds = list(scores), checks.seeds(seeds)
    if "additive" not in scores or len(set(scores)) != len(scores):
        raise ValueError(f"scores must be distinct score functions, 'additive' among them, got {scores!r}")
    alpha = checks.number(alpha, "alpha", low=0.0, high=1.0, low_open=True, high_open=True)
    runs = [(score, seed) for score in scores for seed in seeds]
    results = {}
    with single_cpu_thread(device):
        for score, seed in tqdm(runs, desc="alignment", disable=progress_disabled()):
            results[score, seed] = tasks.train_alignment(
                score, seed=seed, steps=steps, batch_size=batch_size, n_test=n_test, n_symbols=n_symbols,
                min_length=min_length, max_length=max_length, lr=lr, device=device)
    table = pd.DataFrame([
        {"score": score, "seed": seed, "token_accuracy": r.accuracy, "alignment_accuracy": r.alignment,
         "mean_training_loss": float(r.losses.mean())} for (score, seed), r in results.items()])
    tests = {other: tasks.compare_runs(table, "score", "mean_training_loss", "additive", other, min_effect=min_effect,
                                       higher_is_better=False, alpha=alpha) for other in scores if other != "additive"}
    return AlignmentStudy(results, table, tests, alpha, min_length, max_length)


@dataclass
class TorchAgreement:
    """The largest absolute differences from PyTorch's functions (:func:`torch_agreement`)."""

    sdpa: float  # scaled dot-product attention, outputs
    mha: float  # multi-head self-attention, outputs and weights

    @property
    def glued(self) -> dict:
        return {"attn_sdpa_max_difference": self.sdpa, "attn_mha_max_difference": self.mha}


def torch_agreement(seed: int, n_heads: int) -> TorchAgreement:
    """Compare our scaled dot-product and multi-head self-attention with PyTorch's on random inputs.

    The first with a random mask and two leading batch axes; the second, of width 8 and ``n_heads``
    heads, with PyTorch's weights copied into ours. ``seed`` seeds the inputs and the weights.
    """
    seed_everything(checks.integer(seed, "seed", low=0))
    n_heads = checks.positive_int(n_heads, "n_heads")
    if 8 % n_heads:
        raise ValueError(f"n_heads must divide the width 8 of the comparison, got {n_heads}")
    q, k, v = torch.randn(2, 3, 5, 4), torch.randn(2, 3, 6, 4), torch.randn(2, 3, 6, 7)  # (batch, heads, n, d)
    mask = torch.rand(2, 3, 5, 6) > 0.3
    mask[..., 0] = True  # every query may see at least one key
    ours = mech.scaled_dot_product_attention(q, k, v, mask)
    sdpa_difference = (ours.output - F.scaled_dot_product_attention(q, k, v, attn_mask=mask)).abs().max().item()
    x = torch.randn(4, 6, 8)  # (batch, positions, d_model)
    theirs = torch.nn.MultiheadAttention(8, n_heads, batch_first=True)
    mine = mech.MultiHeadSelfAttention(8, n_heads)
    mine.load_state_dict(theirs.state_dict())
    reference, reference_weights = theirs(x, x, x, average_attn_weights=False)
    out, weights = mine(x)
    mha_difference = max((out - reference).abs().max().item(), (weights - reference_weights).abs().max().item())
    return TorchAgreement(float(sdpa_difference), float(mha_difference))


@dataclass
class ReversalStudy:
    """What :func:`reversal_study` returns: ``results`` ``{seed: TaskResult}``; ``runs``, one row per seed with
    ``token_accuracy`` and ``alignment_accuracy`` (share of positions whose head-averaged weight peaks on the
    mirrored position), the table ``attention_self_attention_runs``; the sequences' ``length`` and ``n_heads``.
    """

    results: dict
    runs: pd.DataFrame
    length: int
    n_heads: int

    def summary(self) -> pd.DataFrame:
        """``mean ± std`` over seeds, one row per measure (token and alignment accuracy)."""
        return self.runs[["token_accuracy", "alignment_accuracy"]].agg(tasks.mean_std).to_frame("mean ± std over seeds")

    @property
    def glued(self) -> dict:
        return {"attn_reversal_length": self.length, "attn_n_heads": self.n_heads,
                "attn_self_accuracy": float(self.runs["token_accuracy"].mean()),
                "attn_self_alignment": float(self.runs["alignment_accuracy"].mean())}

    def heatmaps_figure(self):
        """The first seed's weights, head by head (:func:`emma.experiments.attention_figures.self_attention_heatmaps`)."""
        return figures.self_attention_heatmaps(next(iter(self.results.values())))


def reversal_study(seeds, *, steps: int, batch_size: int, n_test: int, n_symbols: int, length: int, n_heads: int, lr: float,
                   device="cpu") -> ReversalStudy:
    """Train :class:`~emma.experiments.attention_tasks.SelfAttentionReverser` once per seed
    (:func:`emma.experiments.attention_tasks.train_reversal`, whose arguments the others are).
    """
    seeds = checks.seeds(seeds)
    results = {}
    with single_cpu_thread(device):
        for seed in tqdm(seeds, desc="self-attention", disable=progress_disabled()):
            results[seed] = tasks.train_reversal(seed=seed, steps=steps, batch_size=batch_size, n_test=n_test, n_symbols=n_symbols,
                                                 length=length, n_heads=n_heads, lr=lr, device=device)
    runs = pd.DataFrame([{"seed": seed, "token_accuracy": r.accuracy, "alignment_accuracy": r.alignment} for seed, r in results.items()])
    return ReversalStudy(results, runs, length, n_heads)


def example_story(seed: int) -> str:
    """One held-out story of seed ``seed`` as Markdown: its numbered sentences, the question, the answer and the
    two supporting facts."""
    example = tasks.two_facts_batch(1, tasks.held_out_generator(checks.integer(seed, "seed", low=0)))
    return ("\n".join(f"{i + 1}. {s}" for i, s in enumerate(tasks.decode(example.stories[0])))
            + f"\n\n*{' '.join(tasks.decode(example.questions))}?* → **{tasks.VOCABULARY[int(example.answers[0])]}** "
            f"(supporting facts: sentences {int(example.support[0, 0]) + 1} then {int(example.support[0, 1]) + 1})")


@dataclass
class MemoryStudy:
    """What :func:`memory_study` returns.

    Attributes
    ----------
    results : dict
        ``{(network, seed): TaskResult}`` for each network of :data:`MEMORY_NETWORKS` and :data:`TESTED_HARD`.
    runs : DataFrame
        One row per network and seed: ``answer_accuracy`` and ``both_facts_found`` (the share of held-out stories
        whose largest weight at hop k is on the k-th supporting fact; undefined for one hop); the table
        ``attention_memory_runs``.
    tests : dict
        ``{label: (better, worse, PairedTest)}`` of :data:`MEMORY_TESTS`, on answer accuracy.
    alpha, steps, device
        The tests' level, the training steps, where the networks are.
    """

    results: dict
    runs: pd.DataFrame
    tests: dict
    alpha: float
    steps: int
    device: object = "cpu"

    def summary(self) -> pd.DataFrame:
        """``mean ± std`` over seeds of each column, one row per network."""
        return self.runs.groupby("network", sort=False)[["answer_accuracy", "both_facts_found"]].agg(tasks.mean_std)

    def tests_markdown(self) -> str:
        """The paired tests as a Markdown list."""
        lines = []
        for better, worse, test in self.tests.values():
            outcome = "higher by at least the minimum" if test.verdict == "reproduced" else f"not shown higher ({test.verdict})"
            lines.append(_line(test, f"Answer accuracy, {better} minus {worse}", outcome, self.alpha))
        return "\n".join(lines)

    def hard_against_soft(self) -> str:
        """One Markdown sentence: the two-hop networks' answer accuracy, trained soft, trained hard, trained soft and tested hard."""
        by_network = self.runs.groupby("network", sort=False)["answer_accuracy"]
        return (f"Answer accuracy over seeds: soft training {tasks.mean_std(by_network.get_group('two hops, soft'))}, "
                f"hard training {tasks.mean_std(by_network.get_group('two hops, hard'))}; the soft networks tested with an argmax "
                f"{tasks.mean_std(by_network.get_group(TESTED_HARD))}.")

    @property
    def glued(self) -> dict:
        """The training steps, the tests' p-values and each network's mean answer accuracy."""
        values = {"attn_memory_steps": self.steps}
        values.update({f"attn_memory_{label}_p": float(test.p_value) for label, (_, _, test) in self.tests.items()})
        for name in self.runs["network"].unique():
            values[f"attn_memory_{name.replace(', ', '_').replace(' ', '_')}_accuracy"] = float(
                self.runs.query("network == @name")["answer_accuracy"].mean())
        return values

    def heatmaps_figure(self, n_stories: int):
        """Where each hop looks on ``n_stories`` held-out stories (:func:`emma.experiments.attention_figures.memory_heatmaps`)."""
        seed = next(seed for _, seed in self.results)
        return figures.memory_heatmaps(self.results, self.runs, seed, n_stories, self.device)


def memory_study(seeds, *, steps: int, batch_size: int, n_test: int, d: int, lr: float, min_effect: float, alpha: float = 0.05,
                 device="cpu") -> MemoryStudy:
    """Train each memory network of :data:`MEMORY_NETWORKS` once per seed, test the soft two-hop ones with an argmax too,
    and compare the networks' answer accuracy seed by seed (:data:`MEMORY_TESTS`).

    Parameters
    ----------
    seeds : sequence of int
    steps, batch_size, n_test, d, lr
        As :func:`emma.experiments.attention_tasks.train_memory` (``d``: the embedding width).
    min_effect : float
        The smallest difference of answer accuracy that matters.
    alpha : float
        The level of the one-sided paired t-tests.
    device : str or torch.device
    """
    seeds = checks.seeds(seeds)
    alpha = checks.number(alpha, "alpha", low=0.0, high=1.0, low_open=True, high_open=True)
    results = {}
    with single_cpu_thread(device):
        for (name, (hops, kind)), seed in tqdm([(c, s) for c in MEMORY_NETWORKS.items() for s in seeds], desc="memory",
                                               disable=progress_disabled()):
            results[name, seed] = tasks.train_memory(hops, kind, seed=seed, steps=steps, batch_size=batch_size, n_test=n_test, d=d,
                                                     lr=lr, device=device)
        for seed in seeds:  # the soft two-hop network, tested with hard (argmax) attention
            results[TESTED_HARD, seed] = tasks.evaluate_memory(results["two hops, soft", seed].model, "argmax", seed=seed,
                                                               n_test=n_test, device=device)
    runs = pd.DataFrame([{"network": name, "seed": seed, "answer_accuracy": r.accuracy, "both_facts_found": r.alignment}
                         for (name, seed), r in results.items()])
    tests = {label: (better, worse, tasks.compare_runs(runs, "network", "answer_accuracy", better, worse, min_effect=min_effect,
                                                       alpha=alpha)) for better, worse, label in MEMORY_TESTS}
    return MemoryStudy(results, runs, tests, alpha, steps, device)
