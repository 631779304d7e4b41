"""The toy tasks of the book's first chapter, the models that solve them, and the taxonomy of attention.

Each task exercises mechanisms of :mod:`emma.experiments.mechanisms` on generated data:

* alignment, reversing sequences of varying length (:func:`reversal_batch`, :class:`AlignmentModel`,
  :func:`train_alignment`): the additive, dot and general scores;
* reversal with self-attention (:class:`SelfAttentionReverser`, :func:`train_reversal`);
* two supporting facts, stories in the spirit of bAbI (:func:`two_facts_batch`, :class:`MemoryNetwork`,
  :func:`train_memory`, :func:`evaluate_memory`): memory hops, soft and hard.

Then how the chapter summarises its seeds (:func:`mean_std`, :func:`compare_runs`,
:func:`loss_band`). The taxonomy that places EMMA among the mechanisms is :mod:`emma.experiments.literature`.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from sklearn.metrics import accuracy_score
from torch import nn

from emma.claims.rules import PairedTest, paired_test
from emma.experiments.mechanisms import AdditiveAttention, MultiHeadSelfAttention, dot_attention, general_attention, hard_attention, memory_hop
from emma.util.runtime import seed_everything

# ----------------------------------------------------------------------------- task 1: alignment (reversal)

PAD = 0  # token 0 pads every sequence; symbols are 1..n_symbols


def reversal_batch(n: int, n_symbols: int, min_length: int, max_length: int, generator=None):
    """``n`` random sequences of symbols 1..n_symbols, lengths in [min_length, max_length], and their reversals.

    Returns ``source, target``, both (n, max_length) long, padded with :data:`PAD`.
    """
    if not 1 <= min_length <= max_length:
        raise ValueError(f"min_length must be in [1, max_length = {max_length}], got {min_length}")
    tokens = torch.randint(1, n_symbols + 1, (n, max_length), generator=generator)
    lengths = torch.randint(min_length, max_length + 1, (n,), generator=generator)
    position = torch.arange(max_length)
    valid = position < lengths[:, None]
    source = tokens.masked_fill(~valid, PAD)
    mirrored = (lengths[:, None] - 1 - position).clamp(min=0)  # target position t reads source position len-1-t
    return source, torch.gather(source, 1, mirrored).masked_fill(~valid, PAD)


class AlignmentModel(nn.Module):
    """A tiny attention decoder whose only varying part is the score function.

    Keys and values are the source tokens' embeddings plus learned position embeddings; the
    query of output step t is a learned embedding of t plus one of the source's length (all
    an RNN decoder would know about where it stands). The output is a linear readout of the
    context alone, so every token has to come through the attention. ``score`` is
    ``"additive"`` (Bahdanau et al. 2015), ``"dot"`` or ``"general"`` (Luong et al. 2015).
    """

    SCORES = ("additive", "dot", "general")

    def __init__(self, n_symbols: int = 8, max_length: int = 8, d: int = 32, score: str = "additive"):
        super().__init__()
        if score not in self.SCORES:
            raise ValueError(f"score must be one of {self.SCORES}, got {score!r}")
        self.score = score
        self.embed = nn.Embedding(n_symbols + 1, d, padding_idx=PAD)
        self.source_position = nn.Parameter(torch.randn(max_length, d))
        self.output_position = nn.Parameter(torch.randn(max_length, d))
        self.length = nn.Embedding(max_length + 1, d)
        self.readout = nn.Linear(d, n_symbols + 1)
        self.additive = AdditiveAttention(d, d, d // 2) if score == "additive" else None
        self.weight = nn.Parameter(torch.eye(d) / math.sqrt(d)) if score == "general" else None
        with torch.no_grad():  # embeddings of scale 1/√d: scores start near zero, the softmax near uniform
            for table in (self.embed.weight, self.source_position, self.output_position, self.length.weight):
                table.mul_(d**-0.5)

    def forward(self, source):
        """Logits (batch, L, vocabulary) and weights (batch, L output steps, L source positions)."""
        mask = (source != PAD)[:, None, :]  # (batch, 1, L): padding is never attended
        keys = self.embed(source) + self.source_position[: source.shape[1]]  # (batch, L, d)
        queries = self.output_position[: source.shape[1]] + self.length(mask.sum(-1))  # (batch, L, d)
        if self.score == "additive":
            context, weights = self.additive(queries, keys, keys, mask)
        elif self.score == "dot":
            context, weights = dot_attention(queries, keys, keys, mask)
        else:
            context, weights = general_attention(queries, keys, keys, self.weight, mask)
        return self.readout(context), weights


# ----------------------------------------------------------------------------- task 2: self-attention reversal


class SelfAttentionReverser(nn.Module):
    """Token and learned position embeddings, one multi-head self-attention layer, a linear readout."""

    def __init__(self, n_symbols: int = 8, length: int = 8, d_model: int = 32, n_heads: int = 2):
        super().__init__()
        self.embed = nn.Embedding(n_symbols + 1, d_model)
        self.position = nn.Parameter(torch.randn(length, d_model))
        self.attention = MultiHeadSelfAttention(d_model, n_heads)
        self.readout = nn.Linear(d_model, n_symbols + 1)

    def forward(self, tokens):
        """Logits (batch, L, vocabulary) and weights (batch, heads, L, L)."""
        out, weights = self.attention(self.embed(tokens) + self.position)
        return self.readout(out), weights


# ----------------------------------------------------------------------------- task 3: two supporting facts

PEOPLE = ("mary", "john", "sandra", "daniel")
OBJECTS = ("milk", "apple", "football", "book")
PLACES = ("kitchen", "garden", "hallway", "bedroom", "office")
#: The words of the toy stories; index 0 pads.
VOCABULARY = ("<pad>", "moved", "got", "where", *PEOPLE, *OBJECTS, *PLACES)
_WORD = {w: i for i, w in enumerate(VOCABULARY)}


class Stories(NamedTuple):
    """A batch of :func:`two_facts_batch`: word ids and the two supporting sentences."""

    stories: torch.Tensor  # (n, sentences, 3) e.g. "mary got milk", "mary moved hallway"
    questions: torch.Tensor  # (n, 2) "where milk"
    answers: torch.Tensor  # (n,) the place's word id
    support: torch.Tensor  # (n, 2) index of the "got" sentence (hop 1) and of the holder's move (hop 2)


def two_facts_batch(n: int, generator=None) -> Stories:
    """``n`` stories in the spirit of bAbI task 2, "two supporting facts" (Weston et al. 2016).

    Each of the four people moves once to a random place; two of them get one object each;
    the question asks where one object is. The answer needs two facts: who got the object,
    then where that person went. Sentences are shuffled.
    """
    person = torch.rand(n, len(PEOPLE), generator=generator).argsort(1)  # people[0:2] get the objects
    place = torch.randint(len(PLACES), (n, len(PEOPLE)), generator=generator)
    obj = torch.rand(n, len(OBJECTS), generator=generator).argsort(1)[:, :2]
    asked = torch.randint(2, (n,), generator=generator)
    word = lambda base, i: _WORD[base] + i  # noqa: E731 (ids of a word family are consecutive)
    moves = torch.stack([word("mary", person), torch.full_like(person, _WORD["moved"]), word("kitchen", place.gather(1, person))], -1)
    gots = torch.stack([word("mary", person[:, :2]), torch.full_like(obj, _WORD["got"]), word("milk", obj)], -1)
    sentences = torch.cat([gots, moves], 1)  # got 0, got 1, then the moves of person[0], person[1], ...
    order = torch.rand(n, sentences.shape[1], generator=generator).argsort(1)
    stories = sentences.gather(1, order[..., None].expand(-1, -1, 3))
    where = order.argsort(1)  # where[k] = shuffled position of sentence k
    support = torch.stack([where.gather(1, asked[:, None]), where.gather(1, 2 + asked[:, None])], -1).squeeze(1)
    questions = torch.stack([torch.full_like(asked, _WORD["where"]), word("milk", obj.gather(1, asked[:, None]).squeeze(1))], -1)
    answers = word("kitchen", place.gather(1, person).gather(1, asked[:, None]).squeeze(1))
    return Stories(stories, questions, answers, support)


class MemoryOutput(NamedTuple):
    """What :class:`MemoryNetwork` returns."""

    logits: torch.Tensor  # (n, vocabulary)
    weights: torch.Tensor  # (n, hops, sentences)
    log_prob: torch.Tensor  # (n,) log-probability of the sampled choices (hard attention), else 0


class MemoryNetwork(nn.Module):
    """End-to-end memory network with bag-of-words sentences and adjacent weight tying.

    Sukhbaatar et al. (2015, section 2.2): hop k reads memories with A_k and C_k, where
    A_{k+1} = C_k, the question is embedded with B = A_1 and the answer is W = C_Kᵀ; so
    K hops use K + 1 embedding matrices E_0, ..., E_K (A_k = E_{k-1}, C_k = E_k).
    ``forward(stories, questions, mode)``: ``mode`` is ``"soft"`` (:func:`memory_hop`),
    ``"argmax"`` or ``"sample"`` (:func:`hard_attention` at every hop).
    """

    def __init__(self, hops: int = 2, d: int = 24):
        super().__init__()
        if not isinstance(hops, int) or hops < 1:
            raise ValueError(f"hops must be a positive integer, got {hops!r}")
        self.hops = hops
        self.embeddings = nn.Parameter(0.3 * torch.randn(hops + 1, len(VOCABULARY), d))

    def forward(self, stories, questions, mode: str = "soft") -> MemoryOutput:
        if mode not in ("soft", "argmax", "sample"):
            raise ValueError(f"mode must be 'soft', 'argmax' or 'sample', got {mode!r}")
        words = self.embeddings[:, 1:]  # the padding word embeds to zero
        bag = F.one_hot(stories, len(VOCABULARY))[..., 1:].sum(-2).to(words.dtype)  # (n, sentences, words)
        state = F.one_hot(questions, len(VOCABULARY))[..., 1:].sum(-2).to(words.dtype) @ words[0]  # u = B q, (n, d)
        weights, log_prob = [], torch.zeros(len(stories), device=stories.device)
        for k in range(self.hops):
            m, c = bag @ words[k], bag @ words[k + 1]  # memories in and out, (n, sentences, d)
            if mode == "soft":
                state, p = memory_hop(state, m, c)
            else:
                scores = (m @ state.unsqueeze(-1)).transpose(-2, -1)  # (n, 1, sentences)
                out, p = hard_attention(scores, c, sample=mode == "sample")
                log_prob = log_prob + (p * scores.log_softmax(-1)).sum((-2, -1))
                state, p = state + out.squeeze(-2), p.squeeze(-2)
            weights.append(p)
        return MemoryOutput(state @ self.embeddings[-1].T, torch.stack(weights, 1), log_prob)


# ----------------------------------------------------------------------------- training helpers


class TaskResult(NamedTuple):
    """A model's held-out scores (accuracy by ``sklearn.metrics.accuracy_score``) and attention weights."""

    model: nn.Module
    accuracy: float  # tokens (tasks 1-2) or answers (task 3) right
    alignment: float  # share of attention maxima on the mirrored source position, or on both supporting facts
    weights: torch.Tensor  # held-out attention weights, on the CPU
    inputs: torch.Tensor  # the held-out inputs they belong to
    losses: torch.Tensor  # the training loss at every step (empty when only evaluated)


def _fit(model, batches, loss, lr: float) -> torch.Tensor:
    """Adam on ``loss(model, *batch)`` for each batch in turn (one step per batch); the losses, on the CPU."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    losses = []
    for batch in zip(*batches):
        optimizer.zero_grad()
        value = loss(model, *batch)
        value.backward()
        optimizer.step()
        losses.append(value.detach())
    model.eval()
    return torch.stack(losses).cpu()


def _stream(seed: int, steps: int, batch_size: int, make, device):
    """The whole training stream of one run, drawn at once: a tuple of tensors, each split into ``steps`` batches."""
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    seed_everything(seed)  # the model's initialisation (and the draws of sampled hard attention)
    data = make(steps * batch_size, torch.Generator().manual_seed(seed))
    return [t.to(device).split(batch_size) for t in data]


def held_out_generator(seed: int) -> torch.Generator:
    """The generator of seed ``seed``'s held-out samples, a stream apart from every training stream."""
    return torch.Generator().manual_seed(10_000 + seed)


def _alignment_loss(model, source, target):
    return F.cross_entropy(model(source)[0].flatten(0, 1), target.flatten(), ignore_index=PAD)


def train_alignment(score: str = "additive", *, seed: int = 0, steps: int = 50, batch_size: int = 256, n_test: int = 500,
                    n_symbols: int = 8, min_length: int = 4, max_length: int = 8, lr: float = 0.03, device="cpu") -> TaskResult:
    """Train :class:`AlignmentModel` to reverse sequences; score it on fresh ones.

    ``alignment`` is the share of output tokens whose largest weight sits on the mirrored source position.
    """
    make = lambda n, g: reversal_batch(n, n_symbols, min_length, max_length, g)  # noqa: E731
    stream = _stream(seed, steps, batch_size, make, device)
    model = AlignmentModel(n_symbols, max_length, score=score).to(device)
    losses = _fit(model, stream, _alignment_loss, lr)
    source, target = make(n_test, held_out_generator(seed))
    with torch.no_grad():
        logits, weights = (t.cpu() for t in model(source.to(device)))
    valid = target != PAD
    mirrored = valid.sum(1, keepdim=True) - 1 - torch.arange(max_length)
    accuracy = accuracy_score(target[valid].numpy(), logits.argmax(-1)[valid].numpy())
    return TaskResult(model, float(accuracy), float((weights.argmax(-1) == mirrored)[valid].float().mean()), weights, source, losses)


def _reversal_loss(model, tokens):
    return F.cross_entropy(model(tokens)[0].flatten(0, 1), tokens.flip(-1).flatten())


def train_reversal(*, seed: int = 0, steps: int = 60, batch_size: int = 256, n_test: int = 500, n_symbols: int = 8,
                   length: int = 8, n_heads: int = 2, lr: float = 0.02, device="cpu") -> TaskResult:
    """Train :class:`SelfAttentionReverser` on fixed-length reversal; ``alignment`` uses the heads' mean weights."""
    make = lambda n, g: reversal_batch(n, n_symbols, length, length, g)[:1]  # noqa: E731
    stream = _stream(seed, steps, batch_size, make, device)
    model = SelfAttentionReverser(n_symbols, length, n_heads=n_heads).to(device)
    losses = _fit(model, stream, _reversal_loss, lr)
    (tokens,) = make(n_test, held_out_generator(seed))
    with torch.no_grad():
        logits, weights = (t.cpu() for t in model(tokens.to(device)))
    accuracy = accuracy_score(tokens.flip(-1).flatten().numpy(), logits.argmax(-1).flatten().numpy())
    mirrored = torch.arange(length - 1, -1, -1)
    return TaskResult(model, float(accuracy), float((weights.mean(1).argmax(-1) == mirrored).float().mean()), weights, tokens, losses)


def _memory_loss(model, stories, questions, answers, support, hard: bool = False):
    out = model(stories, questions, "sample" if hard else "soft")
    nll = F.cross_entropy(out.logits, answers, reduction="none")
    if not hard:
        return nll.mean()
    advantage = (nll.mean() - nll).detach()  # the reward −nll minus the batch's mean reward (the baseline)
    return nll.mean() - (advantage * out.log_prob).mean()  # REINFORCE for the choices, backprop for the rest


def evaluate_memory(model: "MemoryNetwork", mode: str = "soft", *, seed: int = 0, n_test: int = 1000, device="cpu") -> TaskResult:
    """Score a :class:`MemoryNetwork` on fresh stories with attention ``mode`` ("soft", "argmax" or "sample").

    ``alignment``: share of stories whose largest weight at hop k is the k-th supporting fact
    (two hops only; ``NaN`` otherwise).
    """
    test = two_facts_batch(n_test, held_out_generator(seed))
    with torch.no_grad():
        out = model(test.stories.to(device), test.questions.to(device), mode)
    weights = out.weights.cpu()
    accuracy = accuracy_score(test.answers.numpy(), out.logits.argmax(-1).cpu().numpy())
    alignment = float((weights.argmax(-1) == test.support).all(1).float().mean()) if model.hops == 2 else float("nan")
    return TaskResult(model, float(accuracy), alignment, weights, test.stories, torch.empty(0))


def train_memory(hops: int = 2, attention: str = "soft", *, seed: int = 0, steps: int = 60, batch_size: int = 256,
                 n_test: int = 1000, d: int = 24, lr: float = 0.02, device="cpu") -> TaskResult:
    """Train :class:`MemoryNetwork` on :func:`two_facts_batch` and score it with :func:`evaluate_memory`.

    ``attention="soft"`` trains by back-propagation and tests soft; ``"hard"`` samples one
    sentence per hop in training, adds the REINFORCE term of Xu et al. (2015, section 4.1)
    with the batch's mean reward as baseline, and tests with the argmax.
    """
    if attention not in ("soft", "hard"):
        raise ValueError(f"attention must be 'soft' or 'hard', got {attention!r}")
    stream = _stream(seed, steps, batch_size, two_facts_batch, device)
    model = MemoryNetwork(hops, d).to(device)
    losses = _fit(model, stream, lambda *batch: _memory_loss(*batch, hard=attention == "hard"), lr)
    result = evaluate_memory(model, "soft" if attention == "soft" else "argmax", seed=seed, n_test=n_test, device=device)
    return result._replace(losses=losses)


def decode(stories: torch.Tensor) -> list[str]:
    """The sentences of one story as text, e.g. ``['mary got milk', ...]``."""
    return [" ".join(VOCABULARY[int(w)] for w in sentence if int(w) != PAD) for sentence in stories]


# ----------------------------------------------------------------------------- summaries over seeds


def mean_std(values, digits: int = 3) -> str:
    """Per-seed values as ``mean ± std`` (sample std, ddof 1; ``nan`` for one value).

    All ``NaN``, a score the run does not define (``alignment`` of a one-hop network), reads ``not defined``.

    Examples
    --------
    >>> mean_std([0.5, 0.7]), mean_std([float("nan")] * 2)
    ('0.600 ± 0.141', 'not defined')
    """
    if isinstance(digits, bool) or not isinstance(digits, int) or digits < 0:
        raise ValueError(f"digits must be a non-negative integer, got {digits!r}")
    values = np.asarray(values, dtype=float)
    if np.isnan(values).all():
        return "not defined"
    spread = values.std(ddof=1) if values.size > 1 else float("nan")
    return f"{values.mean():.{digits}f} ± {spread:.{digits}f}"


def compare_runs(runs: pd.DataFrame, by: str, column: str, better: str, worse: str, *, min_effect: float,
                 higher_is_better: bool = True, alpha: float = 0.05) -> PairedTest:
    """Does the group ``better`` of ``runs`` beat ``worse`` on ``column`` by at least ``min_effect``, seed by seed? (:func:`paired_test`)

    ``runs`` holds one row per (group, seed), the group in column ``by`` and the seed in ``seed``;
    the two groups are paired on their seeds, and must have the same ones. ``min_effect`` is the
    smallest difference that matters, in ``column``'s unit, declared before the run (a registered
    claim's: :func:`emma.claims.registry.min_effect`).
    """
    missing = sorted({by, column, "seed"} - set(runs.columns))
    if missing:
        raise ValueError(f"runs must have the columns {by!r}, {column!r} and 'seed', missing {missing}")
    groups = []
    for name in (better, worse):
        group = runs[runs[by] == name].set_index("seed")[column]
        if group.empty:
            raise ValueError(f"{'better' if name == better else 'worse'} must be a value of runs[{by!r}], got {name!r}")
        groups.append(group)
    if set(groups[0].index) != set(groups[1].index):
        raise ValueError(f"runs must hold the same seeds for {better!r} and {worse!r} to pair them")
    return paired_test(groups[0].to_numpy(), groups[1].loc[groups[0].index].to_numpy(), min_effect=min_effect,
                       higher_is_better=higher_is_better, alpha=alpha)


def loss_band(losses) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Geometric mean over seeds of training-loss curves, and the band of one geometric std, for a log axis.

    ``losses``: one curve per seed (``TaskResult.losses``), all as long, all positive.
    Returns ``centre, low, high``, each (steps,).
    """
    curves = [torch.as_tensor(c) for c in losses]
    if not curves or len({c.shape for c in curves}) != 1 or curves[0].dim() != 1 or not all((c > 0).all() for c in curves):
        raise ValueError("losses must be one or more equally long curves of positive losses")
    log = torch.stack(curves).log().numpy()  # (seeds, steps)
    centre, spread = log.mean(0), log.std(0)
    return np.exp(centre), np.exp(centre - spread), np.exp(centre + spread)
