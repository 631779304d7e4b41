"""Plot recipes shared by the chapters (each returns the matplotlib Figure it drew)."""
from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.colors import LogNorm
import numpy as np
import pandas as pd


def learning_curves(curves: dict[str, pd.DataFrame], title: str = "Learning curves", ylabel: str = "loss"):
    """One line per (label, column) of each curves DataFrame (columns ``epoch`` and ``*_loss``)."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for label, frame in curves.items():
        for column in [c for c in frame.columns if c.endswith("loss")]:
            ax.plot(frame["epoch"], frame[column], label=f"{label}: {column.replace('_', ' ')}")
    ax.set(xlabel="epoch", ylabel=ylabel, title=title, yscale="log")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def vector_field(ax, xs, ys, field, data=None, title: str = ""):
    """Quiver plot of a 2-D field sampled on a mesh; ``field`` has shape (steps², 2)."""
    u = np.asarray(field[:, 0]).reshape(xs.shape)
    v = np.asarray(field[:, 1]).reshape(xs.shape)
    ax.quiver(np.asarray(xs), np.asarray(ys), u, v, np.hypot(u, v), cmap="viridis", angles="xy")
    if data is not None:
        ax.scatter(data[:, 0], data[:, 1], s=3, c="crimson", label="training manifold")
    ax.set(title=title, aspect="equal", xlabel="$x_1$", ylabel="$x_2$")
    return ax


def heatmap(ax, xs, ys, values, title: str = "", cmap: str = "magma", label: str = "", log: bool = False):
    """Filled heatmap of a scalar sampled on a mesh; ``values`` has shape (steps²,).

    With ``log`` the colours follow a logarithmic scale (all values must then be positive).
    """
    values = np.asarray(values).reshape(xs.shape)
    if log and not (values > 0).all():
        raise ValueError("values must all be positive for a logarithmic colour scale (log=True)")
    norm = LogNorm(values.min(), values.max()) if log else None
    image = ax.pcolormesh(np.asarray(xs), np.asarray(ys), values, cmap=cmap, shading="auto", norm=norm)
    ax.figure.colorbar(image, ax=ax, label=label)
    ax.set(title=title, aspect="equal", xlabel="$x_1$", ylabel="$x_2$")
    return ax
