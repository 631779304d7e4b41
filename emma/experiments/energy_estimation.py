"""The studies of the chapter :doc:`Energy estimation </book/chapters/02_energy_estimation>`: two estimators of a denoising autoencoder on two toy manifolds.

Thesis §4 derives two numbers from a tied denoising autoencoder that should be low near its
training data, the reconstruction error ‖r(x) − x‖² and the potential energy Ψ (eq. 4.7), and
compares them on a wave and a circle (:mod:`emma.experiments.manifolds`). The chapter's steps, one
call each:

* :func:`train_manifold_models`: one tied autoencoder per manifold and seed, and an untied control
  trained on the same data (:class:`ManifoldModels`, with the figures of their learning curves and fields);
* :func:`estimator_grid`: both estimators on a square grid (:class:`EstimatorGrid`, with their heatmaps);
* :func:`derivation_checks`: eq. 4.7 against the field, the draft's eq. 4.6 as printed, and the
  symmetry of the Jacobian (eq. 4.3), on every trained model;
* :func:`estimator_separation`: how well each estimator tells on- from off-manifold points, what it
  says at the centre of the circle, and the chapter's two claims (:class:`Separation`).

:func:`manifolds_figure` draws the training data.
"""
from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score

from emma.claims.registry import min_effect
from emma.claims.rules import apply_holm, claims_table, paired_test, sub_cases
from emma.engine.autoencoders import TOY_DAE, DAESettings, check_dae, train_many_autoencoders
from emma.experiments.manifolds import MANIFOLDS, distance_to_manifold, grid, sample_manifold
from emma.experiments.potentials import all_sub_cases
from emma.method.autoencoder import DenoisingAutoencoder, UntiedAutoencoder, jacobian_asymmetry, potential_gradient_error
from emma.util import checks, plots
from emma.util.display import plural
from emma.util.runtime import seed_everything

#: The largest error a derivation check allows: a few float32 rounding errors of the field's magnitude.
CHECK_TOLERANCE = 1e-4
#: The two estimators, as the tables name them.
ESTIMATORS = ("reconstruction error", "potential energy")
#: The columns of the claims table that the chapter shows (the saved table keeps them all).
CLAIMS_SHOWN = ("claim", "kind", "our_evidence", "effect", "ci_low", "ci_high", "min_effect", "n_seeds", "verdict")


def manifolds_figure(seed: int, n: int):
    """``n`` samples of each manifold, drawn with seed ``seed`` (thesis Figure 4.5)."""
    generator = seed_everything(checks.integer(seed, "seed", low=0))
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.6))
    for ax, kind in zip(axes, MANIFOLDS):
        points = sample_manifold(kind, n, generator)
        ax.scatter(points[:, 0], points[:, 1], s=6)
        ax.set(title=f"{kind} ({n} samples)", aspect="equal", xlabel="$x_1$", ylabel="$x_2$")
    plots.legible(fig)
    fig.tight_layout()
    return fig


@dataclass
class ManifoldModels:
    """What :func:`train_manifold_models` returns.

    Attributes
    ----------
    seeds : list of int
    models, untied : dict
        ``{(manifold, seed): autoencoder}``, trained: the tied :class:`~emma.method.autoencoder.DenoisingAutoencoder`
        and the :class:`~emma.method.autoencoder.UntiedAutoencoder` control.
    curves : dict
        ``{(manifold, seed): DataFrame}``, the tied models' learning curves (training and validation loss per epoch).
    device : torch.device or str
    """

    seeds: list
    models: dict
    untied: dict
    curves: dict
    device: object = "cpu"

    def learning_curves_figure(self):
        """The first seed's tied models' learning curves, one per manifold."""
        seed = self.seeds[0]
        return plots.learning_curves({kind: self.curves[kind, seed] for kind in MANIFOLDS}, title=f"Tied DAE learning curves (seed {seed})")

    def vector_fields_figure(self, grid_limit: float, steps: int, n_figure: int):
        """The first seed's reconstruction fields r(x) − x on a ``steps`` × ``steps`` grid over [−grid_limit, grid_limit]²,
        over ``n_figure`` samples of the manifold drawn as in :func:`manifolds_figure` (thesis Figure 4.6)."""
        xs, ys, mesh = grid(checks.number(grid_limit, "grid_limit", low=0.0, low_open=True), steps)
        fig, axes = plt.subplots(1, 2, figsize=(10, 4.6))
        for ax, kind in zip(axes, MANIFOLDS):
            model = self.models[kind, self.seeds[0]]
            with torch.no_grad():
                field = (model.reconstruct(mesh.to(self.device)) - mesh.to(self.device)).cpu()
            data = sample_manifold(kind, n_figure, seed_everything(self.seeds[0]))
            plots.vector_field(ax, xs, ys, field, data=data, title=f"$r(x) - x$, {kind}")
        plots.legible(fig)
        fig.tight_layout()
        return fig


def train_manifold_models(seeds, *, n_train: int, dae: DAESettings = TOY_DAE, device="cpu") -> ManifoldModels:
    """Train one tied denoising autoencoder per manifold and seed, and an untied control on the same data.

    Each seed draws ``n_train`` training and ``n_train // 10`` validation samples of each manifold and the
    models' initial weights; all models are trained at once, stacked on a model axis
    (:func:`emma.engine.autoencoders.train_many_autoencoders`), each exactly as it would be alone with its seed.

    Parameters
    ----------
    seeds : sequence of int
    n_train : int
        Training samples per manifold and seed.
    dae : DAESettings
        How each autoencoder, tied or not, is built and trained (default: the thesis's, :data:`emma.engine.autoencoders.TOY_DAE`).
    device : str or torch.device
    """
    seeds = checks.seeds(seeds)
    n_train = checks.integer(n_train, "n_train", low=10)
    dae = check_dae(dae)
    models, untied, x_train, x_val = {}, {}, {}, {}
    for kind in MANIFOLDS:
        for seed in seeds:
            generator = seed_everything(seed)
            x_train[kind, seed] = sample_manifold(kind, n_train, generator).to(device)
            x_val[kind, seed] = sample_manifold(kind, n_train // 10, generator).to(device)
            models[kind, seed] = DenoisingAutoencoder(2, dae.d_hidden, dae.noise_std).to(device)
            untied[kind, seed] = UntiedAutoencoder(2, dae.d_hidden, dae.noise_std).to(device)  # the control, trained on the same data
    keys = list(models)
    trained = train_many_autoencoders(
        [models[key] for key in keys] + [untied[key] for key in keys],
        [x_train[key] for key in keys] * 2,
        x_val=[x_val[key] for key in keys] + [None] * len(keys),
        seeds=[seed for _, seed in keys] * 2,
        epochs=dae.epochs, batch_size=dae.batch_size, lr=dae.lr, desc="manifold autoencoders",
    )
    return ManifoldModels(seeds, models, untied, dict(zip(keys, trained)), device)


@dataclass
class EstimatorGrid:
    """What :func:`estimator_grid` returns: the grid (``xs``, ``ys`` of the mesh, ``points`` (steps², 2)) and
    ``estimates`` ``{(manifold, seed): {estimator: values}}``, each on the CPU, one value per point."""

    xs: torch.Tensor
    ys: torch.Tensor
    points: torch.Tensor
    estimates: dict

    def heatmaps_figure(self, seed: int):
        """Both estimators of seed ``seed`` over the square, on a logarithmic colour scale (thesis Figure 4.7);
        Ψ, defined up to a constant, is drawn shifted by its minimum over the grid (plus 10⁻³)."""
        seeds = sorted({s for _, s in self.estimates})
        if seed not in seeds:
            raise ValueError(f"seed must be one of the seeds of the estimates, {seeds}, got {seed!r}")
        fig, axes = plt.subplots(2, 2, figsize=(10, 8.4))
        for column, kind in enumerate(MANIFOLDS):
            for row, (estimator, values) in enumerate(self.estimates[kind, seed].items()):
                shown, label = (values - values.min() + 1e-3, "Ψ − min Ψ") if estimator == "potential energy" else (values, "‖r(x) − x‖²")
                plots.heatmap(axes[row, column], self.xs, self.ys, shown, title=f"{estimator}, {kind}", label=f"{label} (log scale)", log=True)
        plots.legible(fig)
        fig.tight_layout()
        return fig


@torch.no_grad()
def estimator_grid(models: ManifoldModels, grid_limit: float, steps: int) -> EstimatorGrid:
    """The reconstruction error and the potential energy of every tied model on a ``steps`` × ``steps`` grid
    over [−grid_limit, grid_limit]²."""
    if not isinstance(models, ManifoldModels):
        raise TypeError(f"models must be the ManifoldModels of train_manifold_models, got {type(models).__name__}")
    xs, ys, points = grid(checks.number(grid_limit, "grid_limit", low=0.0, low_open=True), steps)
    estimates = {}
    for key, model in models.models.items():
        x = points.to(models.device)
        estimates[key] = dict(zip(ESTIMATORS, (model.reconstruction_error(x).cpu(), model.potential(x).cpu())))
    return EstimatorGrid(xs, ys, points, estimates)


def potential_eq_4_6_as_printed(model: DenoisingAutoencoder):
    """The draft's eq. 4.6 as printed, with the sigmoid's integral: x ↦ −Σ softplus(Wx + b_h) − ½‖x + b_r‖².

    Its quadratic term has the wrong sign on both ‖·‖² and b_r, so −∇ of it is not the field r(x) − x.
    """
    return lambda x: -F.softplus(x @ model.weight.T + model.bias_hidden).sum(1) - 0.5 * ((x + model.bias_visible) ** 2).sum(1)


def derivation_checks(models: ManifoldModels, *, grid_limit: float, n_points: int, tolerance: float = CHECK_TOLERANCE) -> pd.DataFrame:
    """Check the derivation at ``n_points`` random points of [−grid_limit, grid_limit]², on every trained model.

    Four checks per manifold, each with the largest error over the seeds' models and whether it is
    expected to hold: −∇Ψ = r(x) − x with Ψ of eq. 4.7 (it should) and of the draft's eq. 4.6 as
    printed (it should not); the Jacobian of r symmetric for the tied models (it should) and for the
    untied control (it should not). The points are drawn with the first seed, the same for both manifolds.

    Returns
    -------
    DataFrame
        One row per check and manifold: ``check``, ``manifold``, ``points``, ``max_abs_error``, ``tolerance``,
        ``passed`` (error within the tolerance) and ``expected_to_hold``; the table ``energy_gradient_check``.
    """
    if not isinstance(models, ManifoldModels):
        raise TypeError(f"models must be the ManifoldModels of train_manifold_models, got {type(models).__name__}")
    grid_limit = checks.number(grid_limit, "grid_limit", low=0.0, low_open=True)
    n_points = checks.positive_int(n_points, "n_points")
    tolerance = checks.number(tolerance, "tolerance", low=0.0, low_open=True)
    seeds, rows = models.seeds, []
    for kind in MANIFOLDS:
        check_points = (2 * torch.rand(n_points, 2, generator=seed_everything(seeds[0])) - 1) * grid_limit
        check_points = check_points.to(models.device)
        tied = [models.models[kind, s] for s in seeds]
        found = {
            ("-grad Psi = r(x) - x, Psi of eq. 4.7", True): [potential_gradient_error(m, check_points).max() for m in tied],
            ("-grad Psi = r(x) - x, Psi of draft eq. 4.6 as printed", False): [
                potential_gradient_error(m, check_points, potential_eq_4_6_as_printed(m)).max() for m in tied
            ],
            ("Jacobian of r symmetric, tied weights (eq. 4.3)", True): [jacobian_asymmetry(m, check_points).max() for m in tied],
            ("Jacobian of r symmetric, untied control", False): [jacobian_asymmetry(models.untied[kind, s], check_points).max() for s in seeds],
        }
        for (check, expected), errors in found.items():
            error = float(torch.stack(errors).detach().max())
            rows.append({"check": check, "manifold": kind, "points": n_points * len(seeds), "max_abs_error": error,
                         "tolerance": tolerance, "passed": error <= tolerance, "expected_to_hold": expected})
    return pd.DataFrame(rows)


@dataclass
class Separation:
    """What :func:`estimator_separation` returns.

    Attributes
    ----------
    per_seed : DataFrame
        One row per manifold, seed and estimator: ``auroc_on_vs_off``, ``value_at_centre``, ``median_on_manifold``
        and ``centre_percentile_on_manifold`` (the share of on-manifold grid points below the value at the centre).
    table : DataFrame
        The AUROC over seeds per manifold and estimator; the table ``energy_estimator_separation``.
    centre : DataFrame
        The circle's centre over seeds per estimator; the table ``energy_circle_centre``.
    claims : DataFrame
        The chapter's two claims (thesis §4.3), judged; the table ``energy_claims``.
    """

    per_seed: pd.DataFrame
    table: pd.DataFrame
    centre: pd.DataFrame
    claims: pd.DataFrame


def _claims(per_seed: pd.DataFrame, n_seeds: int) -> pd.DataFrame:
    """The two claims of thesis §4.3 from the per-seed measurements (see the chapter for the rules)."""
    circle = per_seed[per_seed.manifold == "circle"]
    by_seed = circle.pivot(index="seed", columns="estimator", values="centre_percentile_on_manifold")
    centre_cases = sub_cases({
        "the reconstruction error is below the on-circle median at the centre": bool((by_seed["reconstruction error"] < 0.5).all()),
        "the potential energy is above it": bool((by_seed["potential energy"] > 0.5).all()),
    })
    low_near = all_sub_cases(
        {f"{m} / {e}": paired_test(part["auroc_on_vs_off"].to_numpy(), np.full(len(part), 0.5), min_effect=min_effect("estimators_low_near_manifold"))
         for (m, e), part in per_seed.groupby(["manifold", "estimator"])},
        "seeds",
    )
    low_near_evidence = low_near.pop("sub_case_evidence")
    return apply_holm(claims_table([
        {
            "id": "reconstruction_error_blind_at_centre",
            "thesis_evidence": "Figure 4.7 (qualitative)",
            "our_evidence": (
                f"{centre_cases['cases']} (each judged over {plural(len(by_seed), 'seed')}); mean centre percentile among on-circle points: "
                f"reconstruction error {by_seed['reconstruction error'].mean():.2f}, potential energy {by_seed['potential energy'].mean():.2f}"
            ),
            **centre_cases,
            "n_seeds": len(by_seed),
        },
        {
            "id": "estimators_low_near_manifold",
            "thesis_evidence": "Figure 4.7 (qualitative)",
            "our_evidence": f"{low_near['cases']}; AUROC on vs off manifold − 0.5: {low_near_evidence}",
            **low_near,
            "n_seeds": n_seeds,
        },
    ]))


@torch.no_grad()
def estimator_separation(models: ManifoldModels, estimates: EstimatorGrid, *, on_manifold: float, off_manifold: float) -> Separation:
    """How well each estimator separates on- from off-manifold grid points, and what it says at the centre of the circle.

    A grid point closer than ``on_manifold`` to the manifold counts as on it, one farther than
    ``off_manifold`` as off it; the points in between are left out of the AUROC
    (``sklearn.metrics.roc_auc_score``, off the manifold the positive class: 1 perfect, 0.5 chance).
    """
    if not isinstance(models, ManifoldModels):
        raise TypeError(f"models must be the ManifoldModels of train_manifold_models, got {type(models).__name__}")
    if not isinstance(estimates, EstimatorGrid) or set(estimates.estimates) != set(models.models):
        raise ValueError("estimates must be the EstimatorGrid of estimator_grid(models, ...), for the same models")
    on_manifold = checks.number(on_manifold, "on_manifold", low=0.0, low_open=True)
    off_manifold = checks.number(off_manifold, "off_manifold", low=on_manifold)
    centre = torch.zeros(1, 2, device=models.device)
    rows = []
    for kind in MANIFOLDS:
        distance = distance_to_manifold(kind, estimates.points)
        on, off = distance < on_manifold, distance > off_manifold
        labels = np.r_[np.zeros(int(on.sum())), np.ones(int(off.sum()))]  # 1 = off the manifold
        for seed in models.seeds:
            model = models.models[kind, seed]
            at_centre = {"reconstruction error": model.reconstruction_error(centre).item(), "potential energy": model.potential(centre).item()}
            for estimator, values in estimates.estimates[kind, seed].items():
                rows.append({
                    "manifold": kind, "seed": seed, "estimator": estimator,
                    "auroc_on_vs_off": roc_auc_score(labels, np.r_[values[on].numpy(), values[off].numpy()]),
                    "value_at_centre": at_centre[estimator],
                    "median_on_manifold": float(values[on].median()),
                    "centre_percentile_on_manifold": float((values[on] < at_centre[estimator]).float().mean()),
                })
    per_seed = pd.DataFrame(rows)
    table = (per_seed.groupby(["manifold", "estimator"])
             .agg(seeds=("seed", "count"), auroc_mean=("auroc_on_vs_off", "mean"), auroc_std=("auroc_on_vs_off", "std"))
             .reset_index())
    centre_table = (
        per_seed[per_seed.manifold == "circle"].groupby("estimator")
        .agg(seeds=("seed", "count"), value_at_centre_mean=("value_at_centre", "mean"), value_at_centre_std=("value_at_centre", "std"),
             median_on_manifold=("median_on_manifold", "mean"),
             centre_percentile_mean=("centre_percentile_on_manifold", "mean"), centre_percentile_min=("centre_percentile_on_manifold", "min"),
             centre_percentile_max=("centre_percentile_on_manifold", "max"))
        .reset_index()
    )
    return Separation(per_seed, table, centre_table, _claims(per_seed, len(models.seeds)))
