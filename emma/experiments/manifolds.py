"""The toy manifolds of thesis chapter 4 (section 4.3): a wave and a circle in the plane."""
from __future__ import annotations

import math

import torch

MANIFOLDS = ("wave", "circle")


def _check_kind(kind: str) -> str:
    if kind not in MANIFOLDS:
        raise ValueError(f"kind must be one of {MANIFOLDS}, got {kind!r}")
    return kind


def curve(kind: str, t: torch.Tensor) -> torch.Tensor:
    """Map parameters t ∈ [0, 2π] onto the manifold. Shape (n,) -> (n, 2).

    wave: x1 = t − π, x2 = sin t;  circle: x1 = 3 sin t, x2 = 3 cos t.
    """
    _check_kind(kind)
    if kind == "wave":
        return torch.stack([t - math.pi, torch.sin(t)], dim=1)
    return torch.stack([3 * torch.sin(t), 3 * torch.cos(t)], dim=1)


def sample_manifold(kind: str, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw ``n`` points t ~ U[0, 2π] and map them onto the manifold. Shape (n, 2).

    Examples
    --------
    >>> sample_manifold("circle", 3, torch.Generator().manual_seed(0)).norm(dim=1)
    tensor([3.0000, 3.0000, 3.0000])
    """
    _check_kind(kind)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    t = 2 * math.pi * torch.rand(n, generator=generator)
    return curve(kind, t)


def grid(limit: float, steps: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A square mesh over [−limit, limit]². Returns (xs, ys, points) with points (steps², 2)."""
    if not limit > 0:
        raise ValueError(f"limit must be > 0, got {limit!r}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 2:
        raise ValueError(f"steps must be an integer >= 2, got {steps!r}")
    axis = torch.linspace(-limit, limit, steps)
    ys, xs = torch.meshgrid(axis, axis, indexing="ij")
    return xs, ys, torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=1)


def distance_to_manifold(kind: str, points: torch.Tensor, resolution: int = 4096) -> torch.Tensor:
    """Euclidean distance of each point to the manifold, by a dense sampling of the curve. Shape (n,)."""
    _check_kind(kind)
    if not isinstance(points, torch.Tensor) or points.dim() != 2 or points.shape[1] != 2:
        raise ValueError(f"points must be a tensor of shape (n, 2), got {getattr(points, 'shape', type(points))}")
    t = torch.linspace(0, 2 * math.pi, resolution, dtype=points.dtype)
    dense = curve(kind, t)  # (resolution, 2)
    return torch.cdist(points, dense).min(dim=1).values
