"""Specifications of the attention mechanisms of the literature (emma/experiments/mechanisms.py, book chapter 1)."""
import pytest
import torch
import torch.nn.functional as F

from emma.experiments import mechanisms as mech

torch.set_num_threads(1)  # tiny tensors: threads only add overhead on a shared machine


def qkv(lead=(2, 3), n_q=4, n_k=5, d=6, d_v=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(*lead, n_q, d, generator=g, dtype=torch.float64),
            torch.randn(*lead, n_k, d, generator=g, dtype=torch.float64),
            torch.randn(*lead, n_k, d_v, generator=g, dtype=torch.float64))


def random_mask(shape, seed=1):
    mask = torch.rand(shape, generator=torch.Generator().manual_seed(seed)) > 0.5
    mask[..., 0] = True  # every query may see at least one key
    return mask


def additive(q, k, v, mask=None):
    g = torch.Generator().manual_seed(2)
    d_a = 3
    return mech.additive_attention(q, k, v, torch.randn(d_a, q.shape[-1], generator=g, dtype=q.dtype),
                                   torch.randn(d_a, k.shape[-1], generator=g, dtype=q.dtype),
                                   torch.randn(d_a, generator=g, dtype=q.dtype), mask)


def general(q, k, v, mask=None):
    weight = torch.randn(q.shape[-1], k.shape[-1], generator=torch.Generator().manual_seed(3), dtype=q.dtype)
    return mech.general_attention(q, k, v, weight, mask)


def hard(q, k, v, mask=None):
    return mech.hard_attention(q @ k.transpose(-2, -1), v, mask)


def sampled(q, k, v, mask=None):
    return mech.hard_attention(q @ k.transpose(-2, -1), v, mask, sample=True, generator=torch.Generator().manual_seed(4))


MECHANISMS = {"additive": additive, "dot": mech.dot_attention, "general": general,
              "scaled_dot_product": mech.scaled_dot_product_attention, "hard_argmax": hard, "hard_sampled": sampled}


# ----------------------------------------------------------------------------- weights and masks


@pytest.mark.parametrize("name", MECHANISMS)
def test_weights_are_a_distribution_over_the_keys(name):
    q, k, v = qkv()
    out, weights = MECHANISMS[name](q, k, v)
    assert weights.shape == (2, 3, 4, 5)
    assert (weights >= 0).all()
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 3, 4, dtype=weights.dtype))
    torch.testing.assert_close(out, weights @ v)  # the output is the weighted average of the values


@pytest.mark.parametrize("name", MECHANISMS)
def test_masked_keys_get_exactly_zero_weight(name):
    q, k, v = qkv()
    mask = random_mask((2, 3, 4, 5))
    _, weights = MECHANISMS[name](q, k, v, mask)
    assert (weights[~mask] == 0).all()
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 3, 4, dtype=weights.dtype))


@pytest.mark.parametrize("name", MECHANISMS)
def test_a_fully_masked_row_is_an_error_naming_the_mask(name):
    q, k, v = qkv()
    mask = random_mask((2, 3, 4, 5))
    mask[1, 2, 3] = False  # one query may see no key
    with pytest.raises(ValueError, match="mask must allow at least one key"):
        MECHANISMS[name](q, k, v, mask)


def test_a_key_padding_mask_equals_dropping_the_padded_keys():
    q, k, v = qkv()
    key_padding = torch.tensor([True, True, True, False, False])  # (n_k,), broadcast over batch and queries
    out, weights = mech.dot_attention(q, k, v, key_padding)
    kept = mech.dot_attention(q, k[..., :3, :], v[..., :3, :])
    torch.testing.assert_close(weights[..., :3], kept.weights)
    assert (weights[..., 3:] == 0).all()
    torch.testing.assert_close(out, kept.output)


def test_masked_softmax_rejects_a_mask_that_is_not_boolean():
    with pytest.raises(TypeError, match="mask must be a boolean tensor"):
        mech.masked_softmax(torch.zeros(2, 3), torch.ones(2, 3))


# ----------------------------------------------------------------------------- shapes


@pytest.mark.parametrize("lead", [(), (7,), (2, 3)])
@pytest.mark.parametrize("name", MECHANISMS)
def test_any_leading_batch_shape(name, lead):
    q, k, v = qkv(lead=lead)
    out, weights = MECHANISMS[name](q, k, v)
    assert out.shape == (*lead, 4, 7) and weights.shape == (*lead, 4, 5)


def test_memory_hop_shapes_and_update():
    g = torch.Generator().manual_seed(0)
    u, m, c = torch.randn(2, 3, 6, generator=g), torch.randn(2, 3, 5, 6, generator=g), torch.randn(2, 3, 5, 6, generator=g)
    state, p = mech.memory_hop(u, m, c)
    assert state.shape == (2, 3, 6) and p.shape == (2, 3, 5)
    expected_p = torch.softmax((m @ u.unsqueeze(-1)).squeeze(-1), -1)  # p_i = softmax(uᵀ m_i)
    torch.testing.assert_close(p, expected_p)
    torch.testing.assert_close(state, u + (expected_p.unsqueeze(-1) * c).sum(-2))  # u + o


def test_memory_hop_mask_zeroes_masked_memories():
    g = torch.Generator().manual_seed(0)
    u, m = torch.randn(4, 6, generator=g), torch.randn(4, 5, 6, generator=g)
    mask = torch.tensor([True, True, False, True, False])
    _, p = mech.memory_hop(u, m, m, mask)
    assert (p[:, ~mask] == 0).all()


def test_multi_head_weights_come_per_head():
    x = torch.randn(2, 3, 5, 8)
    out, weights = mech.MultiHeadSelfAttention(8, 4)(x)
    assert out.shape == (2, 3, 5, 8) and weights.shape == (2, 3, 4, 5, 5)


# ----------------------------------------------------------------------------- against PyTorch


@pytest.mark.parametrize("with_mask", [False, True])
def test_scaled_dot_product_attention_equals_torch(with_mask):
    q, k, v = qkv(lead=(2, 3))
    mask = random_mask((2, 3, 4, 5)) if with_mask else None
    ours = mech.scaled_dot_product_attention(q, k, v, mask)
    torch.testing.assert_close(ours.output, F.scaled_dot_product_attention(q, k, v, attn_mask=mask))
    scores = q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    torch.testing.assert_close(ours.weights, scores.softmax(-1))


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("with_mask", [False, True])
def test_multi_head_self_attention_equals_torch_with_copied_weights(bias, with_mask):
    torch.manual_seed(0)
    theirs = torch.nn.MultiheadAttention(8, 2, bias=bias, batch_first=True).double()
    torch.nn.init.normal_(theirs.out_proj.weight)
    ours = mech.MultiHeadSelfAttention(8, 2, bias=bias).double()
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(3, 5, 8, dtype=torch.float64)
    mask = random_mask((5, 5)) if with_mask else None
    reference, reference_weights = theirs(x, x, x, attn_mask=None if mask is None else ~mask,  # torch: True = blocked
                                          average_attn_weights=False)
    out, weights = ours(x, mask)
    torch.testing.assert_close(out, reference)
    torch.testing.assert_close(weights, reference_weights)


def test_multi_head_state_dict_loads_back_into_torch():
    ours = mech.MultiHeadSelfAttention(8, 2)
    theirs = torch.nn.MultiheadAttention(8, 2, batch_first=True)
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(2, 4, 8)
    torch.testing.assert_close(ours(x).output, theirs(x, x, x)[0])


# ----------------------------------------------------------------------------- individual mechanisms


def test_additive_score_is_v_tanh_of_the_sum():
    q, k, v = torch.tensor([[1.0, 0.0]]), torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]), torch.eye(3)
    w_q, w_k, v_a = torch.tensor([[1.0, 2.0]]), torch.tensor([[0.5, -1.0]]), torch.tensor([2.0])
    scores = 2.0 * torch.tanh(torch.tensor([1.0 + 0.5, 1.0 - 1.0, 1.0 - 0.5]))
    torch.testing.assert_close(mech.additive_attention(q, k, v, w_q, w_k, v_a).weights, scores.softmax(-1)[None])


def test_general_with_identity_weight_is_dot():
    q, k, v = qkv()
    torch.testing.assert_close(mech.general_attention(q, k, v, torch.eye(6, dtype=q.dtype)).weights,
                               mech.dot_attention(q, k, v).weights)


def test_hard_attention_argmax_takes_the_best_scoring_value():
    scores = torch.tensor([[0.1, 2.0, 0.3], [5.0, 1.0, 4.0]])
    out, weights = mech.hard_attention(scores, torch.tensor([[10.0], [20.0], [30.0]]))
    torch.testing.assert_close(weights, torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]))
    torch.testing.assert_close(out, torch.tensor([[20.0], [10.0]]))


def test_sampled_hard_attention_draws_keys_with_the_soft_weights():
    scores = torch.tensor([[0.0, 1.0, 2.0]]).expand(20_000, 3)
    _, weights = mech.hard_attention(scores, torch.eye(3), sample=True, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(weights.mean(0), torch.tensor([0.0, 1.0, 2.0]).softmax(-1), atol=0.015, rtol=0)


def test_hard_attention_passes_no_gradient_to_the_scores():
    scores = torch.randn(4, 3, requires_grad=True)
    value = torch.randn(3, 2, requires_grad=True)
    mech.hard_attention(scores, value).output.sum().backward()
    assert scores.grad is None and value.grad is not None
    soft_scores = scores.detach().clone().requires_grad_()
    (mech.masked_softmax(soft_scores) @ value.detach()).sum().backward()
    assert soft_scores.grad.abs().sum() > 0  # soft attention does


# ----------------------------------------------------------------------------- bad input


BAD_INPUTS = [
    (lambda: mech.dot_attention([[1.0]], torch.ones(2, 3), torch.ones(2, 3)), TypeError, "query"),
    (lambda: mech.dot_attention(torch.ones(2, 3), torch.ones(2, 3, dtype=torch.long), torch.ones(2, 3)), TypeError, "key"),
    (lambda: mech.dot_attention(torch.ones(2, 3), torch.ones(2, 4), torch.ones(2, 3)), ValueError, "key"),
    (lambda: mech.dot_attention(torch.ones(2, 3), torch.ones(2, 3), torch.ones(4, 3)), ValueError, "value"),
    (lambda: mech.scaled_dot_product_attention(torch.ones(3), torch.ones(2, 3), torch.ones(2, 3)), ValueError, "query"),
    (lambda: mech.scaled_dot_product_attention(torch.ones(2, 3), torch.ones(2, 3), torch.ones(2, 3), torch.ones(2, 2)), TypeError, "mask"),
    (lambda: mech.scaled_dot_product_attention(torch.ones(2, 3), torch.ones(2, 3), torch.ones(2, 3),
                                               torch.ones(3, 3, dtype=torch.bool)), ValueError, "mask"),
    (lambda: mech.general_attention(torch.ones(2, 3), torch.ones(2, 4), torch.ones(2, 3), torch.eye(3)), ValueError, "weight"),
    (lambda: mech.additive_attention(torch.ones(2, 3), torch.ones(2, 3), torch.ones(2, 3), torch.ones(4, 3), torch.ones(4, 3),
                                     torch.ones(5)), ValueError, "w_query"),
    (lambda: mech.memory_hop(torch.ones(2, 3), torch.ones(2, 4, 3), torch.ones(2, 4, 5)), ValueError, "memory_out"),
    (lambda: mech.hard_attention(torch.ones(2, 3), torch.ones(4, 2)), ValueError, "value"),
    (lambda: mech.MultiHeadSelfAttention(8, 3), ValueError, "n_heads"),
    (lambda: mech.MultiHeadSelfAttention(8, 2)(torch.ones(2, 4, 6)), ValueError, "x"),
]


@pytest.mark.parametrize("call, error, argument", BAD_INPUTS)
def test_bad_input_raises_an_error_naming_the_argument(call, error, argument):
    with pytest.raises(error, match=rf"^{argument}\b"):
        call()
