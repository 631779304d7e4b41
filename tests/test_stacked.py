"""The engine's core (emma.engine.stacked): K models trained together are K models trained alone."""
import numpy as np
import pytest
import torch

from emma.engine.stacked import StackedModels, loss_and_gradient


def _problem(k=3, n=40, d=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    x, w_true = torch.randn(k, n, d, generator=g), torch.randn(k, d, generator=g)
    return x, (x @ w_true.unsqueeze(-1)).squeeze(-1) + 0.1 * torch.randn(k, n, generator=g)


def _loss_fn(x, y):
    def loss_fn(params, rows):  # rows (K, B): model k's own batch of its own data
        pred = torch.einsum("kbd,kd->kb", x.gather(1, rows.unsqueeze(-1).expand(-1, -1, x.shape[2])), params["w"]) + params["b"].unsqueeze(1)
        return ((pred - y.gather(1, rows)) ** 2).mean(1), pred.detach()
    return loss_fn


def test_stacked_models_train_as_each_would_alone_with_torch_adam():
    x, y = _problem()
    k, n, _ = x.shape
    init = {"w": 0.1 * torch.randn(k, x.shape[2], generator=torch.Generator().manual_seed(1)), "b": torch.zeros(k)}
    orders = [torch.randperm(n, generator=torch.Generator().manual_seed(7)) for _ in range(4)]
    stacked_orders = iter([torch.stack([o.roll(j) for j in range(k)]) for o in orders])  # each model its own order
    stack = StackedModels(init, lr=0.05)
    curve = stack.train(_loss_fn(x, y), n, epochs=4, batch_size=16, orders=lambda: next(stacked_orders))
    for j in range(k):  # the same model trained alone by torch.optim.Adam
        w, b = init["w"][j].clone().requires_grad_(True), init["b"][j].clone().requires_grad_(True)
        adam = torch.optim.Adam([w, b], lr=0.05)
        for epoch, order in enumerate(orders):
            order, total = order.roll(j), 0.0
            for start in range(0, n, 16):
                rows = order[start : start + 16]
                loss = ((x[j, rows] @ w + b - y[j, rows]) ** 2).mean()
                adam.zero_grad()
                loss.backward()
                adam.step()
                total += loss.item() * len(rows) / n
            assert curve[epoch, j] == pytest.approx(total, rel=1e-5)
        assert torch.allclose(stack.params["w"][j], w.detach(), atol=1e-6)
        assert torch.allclose(stack.params["b"][j], b.detach(), atol=1e-6)


def test_an_inactive_model_sits_the_step_out_and_projection_applies_after_each_step():
    x, y = _problem(k=2)
    stack = StackedModels({"w": torch.zeros(2, 5), "b": torch.zeros(2)}, lr=0.1, project=lambda p: p["w"].clamp_(min=0.0))
    rows = torch.arange(8).expand(2, 8)
    loss, pred = stack.step(_loss_fn(x, y), rows, active=torch.tensor([True, False]))
    assert loss.shape == (2,) and pred.shape == (2, 8)
    assert stack.params["w"][1].eq(0).all() and stack.params["b"][1] == 0  # untouched
    assert stack.optimizer.step_count.tolist() == [1.0, 0.0]
    assert (stack.params["w"] >= 0).all() and stack.params["b"][0] != 0


def test_given_gradients_equal_autograd_ones():
    x, y = _problem(k=2)
    init = {"w": torch.randn(2, 5, generator=torch.Generator().manual_seed(3)), "b": torch.zeros(2)}
    by_autograd, by_hand = StackedModels(init, lr=0.01), StackedModels(init, lr=0.01)
    rows = torch.arange(10).expand(2, 10)
    by_autograd.step(_loss_fn(x, y), rows)
    _, grad, _ = loss_and_gradient(_loss_fn(x, y), by_hand.flat, by_hand.shapes, rows)
    by_hand.apply({"w": grad[:, :5], "b": grad[:, 5]})
    assert torch.equal(by_autograd.flat, by_hand.flat)
    assert not torch.equal(by_autograd.flat, torch.cat([init["w"], init["b"].unsqueeze(1)], 1))  # it moved


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="params must be a non-empty dict"):
        StackedModels({}, lr=0.1)
    with pytest.raises(ValueError, match="one leading model axis K"):
        StackedModels({"a": torch.zeros(2, 1), "b": torch.zeros(3)}, lr=0.1)
    with pytest.raises(ValueError, match="lr"):
        StackedModels({"a": torch.zeros(2, 1)}, lr=0.0)
    stack = StackedModels({"a": torch.zeros(2, 1)}, lr=0.1)
    with pytest.raises(ValueError, match="one loss per model"):
        stack.step(lambda params: params["a"].sum())
    with pytest.raises(ValueError, match=r"orders must return a tensor of shape \(K, n\) = \(2, 4\)"):
        stack.train(lambda params, rows: params["a"].sum(1), 4, epochs=1, batch_size=2, orders=lambda: torch.arange(4))
    assert np.isfinite(stack.train(lambda params, rows: (params["a"] ** 2).sum(1), 4, epochs=1, batch_size=2,
                                   orders=lambda: torch.arange(4).expand(2, 4))).all()
