"""Attention mechanisms of the deep-learning literature, for the book's first chapter.

Every mechanism returns an :class:`Attention` ``(output, weights)``. The shapes follow one
convention: ``query`` (..., n_q, d_q), ``key`` (..., n_k, d_k), ``value`` (..., n_k, d_v), any
leading batch shape; ``weights`` (..., n_q, n_k) sum to one over the keys; ``output``
(..., n_q, d_v). A ``mask`` is boolean, broadcastable to (..., n_q, n_k), True where attention
is allowed (PyTorch's convention). A row that masks every key has no distribution to
normalise: it raises a ``ValueError`` (PyTorch's own function silently returns zeros there).

* :func:`additive_attention`, :class:`AdditiveAttention`: Bahdanau et al. (2015);
* :func:`dot_attention`, :func:`general_attention`: Luong et al. (2015);
* :func:`scaled_dot_product_attention`, :class:`MultiHeadSelfAttention`: Vaswani et al. (2017);
* :func:`memory_hop`: one hop of an end-to-end memory network, Sukhbaatar et al. (2015);
* :func:`hard_attention`: one key per query, argmax or sampled, against the soft ones (Xu et al. 2015).

The toy tasks that train them, and the taxonomy that places EMMA among them, are in
:mod:`emma.experiments.attention_tasks`.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn


class Attention(NamedTuple):
    """What every mechanism returns."""

    output: torch.Tensor  # (..., n_q, d_v) the weighted values
    weights: torch.Tensor  # (..., n_q, n_k) one distribution over the keys per query


# ----------------------------------------------------------------------------- checks


def _check_tensor(value, name: str, min_dim: int = 2) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if not value.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {value.dtype}")
    if value.dim() < min_dim:
        raise ValueError(f"{name} must have at least {min_dim} dimensions, got shape {tuple(value.shape)}")
    return value


def _check_qkv(query, key, value, same_width: bool) -> None:
    _check_tensor(query, "query"), _check_tensor(key, "key"), _check_tensor(value, "value")
    if value.shape[-2] != key.shape[-2]:
        raise ValueError(f"value must have one row per key ({key.shape[-2]}), got shape {tuple(value.shape)}")
    if same_width and key.shape[-1] != query.shape[-1]:
        raise ValueError(f"key must have the width of query ({query.shape[-1]}), got shape {tuple(key.shape)}")


def masked_softmax(scores: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Softmax over the last axis, with zero weight wherever ``mask`` is False.

    Parameters
    ----------
    scores : Tensor, shape (..., n_k)
    mask : bool Tensor broadcastable to ``scores``, optional
        True where attention is allowed. Every row must allow at least one key.

    Examples
    --------
    >>> masked_softmax(torch.zeros(1, 3), torch.tensor([[True, True, False]]))
    tensor([[0.5000, 0.5000, 0.0000]])
    """
    if mask is None:
        return scores.softmax(-1)
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        got = getattr(mask, "dtype", type(mask).__name__)
        raise TypeError(f"mask must be a boolean tensor (True where attention is allowed), got {got}")
    try:
        mask = torch.broadcast_to(mask, scores.shape)
    except RuntimeError:
        raise ValueError(f"mask must broadcast to the scores' shape {tuple(scores.shape)}, got {tuple(mask.shape)}") from None
    if not bool(mask.any(-1).all()):
        raise ValueError("mask must allow at least one key in every row: a fully masked row has no distribution to normalise")
    return scores.masked_fill(~mask, float("-inf")).softmax(-1)


def _attend(scores: torch.Tensor, value: torch.Tensor, mask) -> Attention:
    weights = masked_softmax(scores, mask)
    return Attention(weights @ value, weights)


# ----------------------------------------------------------------------------- mechanisms


def additive_attention(query, key, value, w_query, w_key, v, mask=None) -> Attention:
    """Additive (concat) attention, score(q, k) = vᵀ tanh(W_q q + W_k k) (Bahdanau et al. 2015).

    Parameters
    ----------
    query, key, value : Tensor
        Shapes (..., n_q, d_q), (..., n_k, d_k), (..., n_k, d_v).
    w_query, w_key : Tensor, shapes (d_a, d_q) and (d_a, d_k)
    v : Tensor, shape (d_a,)
    mask : bool Tensor, optional

    Examples
    --------
    >>> q, k = torch.ones(1, 2), torch.eye(3, 2)
    >>> additive_attention(q, k, k, torch.eye(2), torch.eye(2), torch.ones(2)).weights.sum().item()
    1.0
    """
    _check_qkv(query, key, value, same_width=False)
    _check_tensor(w_query, "w_query"), _check_tensor(w_key, "w_key"), _check_tensor(v, "v", 1)
    if w_query.shape != (v.shape[0], query.shape[-1]) or w_key.shape != (v.shape[0], key.shape[-1]):
        raise ValueError(f"w_query, w_key must have shapes (d_a, d_q), (d_a, d_k) with d_a = len(v) = {v.shape[0]}")
    hidden = torch.tanh((query @ w_query.T).unsqueeze(-2) + (key @ w_key.T).unsqueeze(-3))  # (..., n_q, n_k, d_a)
    return _attend(hidden @ v, value, mask)


class AdditiveAttention(nn.Module):
    """:func:`additive_attention` with learned ``W_q``, ``W_k`` and ``v``."""

    def __init__(self, d_query: int, d_key: int, d_attention: int):
        super().__init__()
        self.w_query = nn.Parameter(torch.randn(d_attention, d_query) / math.sqrt(d_query))
        self.w_key = nn.Parameter(torch.randn(d_attention, d_key) / math.sqrt(d_key))
        self.v = nn.Parameter(torch.randn(d_attention) / math.sqrt(d_attention))

    def forward(self, query, key, value, mask=None) -> Attention:
        return additive_attention(query, key, value, self.w_query, self.w_key, self.v, mask)


def dot_attention(query, key, value, mask=None) -> Attention:
    """Dot attention, score(q, k) = qᵀk (Luong et al. 2015, "dot")."""
    _check_qkv(query, key, value, same_width=True)
    return _attend(query @ key.transpose(-2, -1), value, mask)


def general_attention(query, key, value, weight, mask=None) -> Attention:
    """Bilinear attention, score(q, k) = qᵀ W k (Luong et al. 2015, "general"); ``weight`` (d_q, d_k)."""
    _check_qkv(query, key, value, same_width=False)
    _check_tensor(weight, "weight")
    if weight.shape != (query.shape[-1], key.shape[-1]):
        raise ValueError(f"weight must have shape (d_q, d_k) = {(query.shape[-1], key.shape[-1])}, got {tuple(weight.shape)}")
    return _attend(query @ weight @ key.transpose(-2, -1), value, mask)


def scaled_dot_product_attention(query, key, value, mask=None) -> Attention:
    """Scaled dot-product attention, softmax(QKᵀ/√d) V (Vaswani et al. 2017, eq. 1).

    Examples
    --------
    >>> q = torch.randn(2, 5, 3, 4)  # (batch, heads, n_q, d)
    >>> out, w = scaled_dot_product_attention(q, q, q)
    >>> tuple(out.shape), tuple(w.shape)
    ((2, 5, 3, 4), (2, 5, 3, 3))
    """
    _check_qkv(query, key, value, same_width=True)
    return _attend(query @ key.transpose(-2, -1) / math.sqrt(query.shape[-1]), value, mask)


class MultiHeadSelfAttention(nn.Module):
    """Multi-head self-attention (Vaswani et al. 2017, section 3.2.2) on :func:`scaled_dot_product_attention`.

    The parameters carry the names of :class:`torch.nn.MultiheadAttention`'s
    (``in_proj_weight``, ``in_proj_bias``, ``out_proj``), so either loads the other's state dict.
    ``forward(x, mask)`` takes ``x`` (..., n, d_model) and a mask broadcastable to (..., n, n),
    True where attention is allowed (the boolean ``attn_mask`` of the torch module means the
    opposite); the weights come per head, (..., n_heads, n, n).
    """

    def __init__(self, d_model: int, n_heads: int, bias: bool = True):
        super().__init__()
        if not isinstance(n_heads, int) or n_heads < 1 or not isinstance(d_model, int) or d_model % n_heads:
            raise ValueError(f"n_heads must be a positive integer dividing d_model = {d_model}, got {n_heads!r}")
        self.d_model, self.n_heads = d_model, n_heads
        self.in_proj_weight = nn.Parameter(nn.init.xavier_uniform_(torch.empty(3 * d_model, d_model)))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * d_model)) if bias else None
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)

    def forward(self, x, mask=None) -> Attention:
        _check_tensor(x, "x")
        if x.shape[-1] != self.d_model:
            raise ValueError(f"x must have d_model = {self.d_model} features in its last axis, got shape {tuple(x.shape)}")
        *lead, n, _ = x.shape

        def heads(t):  # (..., n, d_model) -> (..., n_heads, n, d_head)
            return t.reshape(*lead, n, self.n_heads, -1).transpose(-3, -2)

        q, k, v = F.linear(x, self.in_proj_weight, self.in_proj_bias).chunk(3, dim=-1)
        out, weights = scaled_dot_product_attention(heads(q), heads(k), heads(v), None if mask is None else mask.unsqueeze(-3))
        return Attention(self.out_proj(out.transpose(-3, -2).reshape(*lead, n, self.d_model)), weights)


def memory_hop(state, memory_in, memory_out, mask=None) -> Attention:
    """One hop of an end-to-end memory network (Sukhbaatar et al. 2015, section 2.1).

    p = softmax(m_i · u), o = Σ p_i c_i, and the next controller state is u + o.

    Parameters
    ----------
    state : Tensor, shape (..., d)
        The controller state u (the embedded question at the first hop).
    memory_in, memory_out : Tensor, shape (..., n, d)
        The input and output embeddings m_i, c_i of the n memories.
    mask : bool Tensor broadcastable to (..., n), optional

    Returns
    -------
    Attention
        ``output`` the next state u + o (..., d); ``weights`` p (..., n).
    """
    _check_tensor(state, "state", 1)
    if mask is not None and isinstance(mask, torch.Tensor):
        mask = mask.unsqueeze(-2)
    out, weights = dot_attention(state.unsqueeze(-2), memory_in, memory_out, mask)
    if out.shape[-1] != state.shape[-1]:
        raise ValueError(f"memory_out must have the width of state ({state.shape[-1]}), got shape {tuple(memory_out.shape)}")
    return Attention(state + out.squeeze(-2), weights.squeeze(-2))


def hard_attention(scores, value, mask=None, sample: bool = False, generator=None) -> Attention:
    """Hard attention: each query takes one value, the best-scoring one or one drawn from softmax(scores).

    Xu et al. (2015) contrast it with soft attention's weighted average: the choice is not
    differentiable, so a sampled hard attention is trained with the score-function
    (REINFORCE) estimator. ``weights`` are one-hot (..., n_q, n_k).

    Examples
    --------
    >>> hard_attention(torch.tensor([[0.1, 2.0, 0.3]]), torch.eye(3)).weights
    tensor([[0., 1., 0.]])
    """
    _check_tensor(scores, "scores"), _check_tensor(value, "value")
    if value.shape[-2] != scores.shape[-1]:
        raise ValueError(f"value must have one row per key ({scores.shape[-1]}), got shape {tuple(value.shape)}")
    probs = masked_softmax(scores, mask)
    if sample:
        index = torch.multinomial(probs.reshape(-1, probs.shape[-1]), 1, generator=generator).reshape(probs.shape[:-1])
    else:
        index = probs.argmax(-1)
    weights = F.one_hot(index, probs.shape[-1]).to(value.dtype)
    return Attention(weights @ value, weights)
