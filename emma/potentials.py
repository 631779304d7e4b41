"""What the potential energy says: Ψ as noise grows, Ψ on an unseen class, and the code's coupled potential.

The potential used throughout the book is the per-sample one of
:meth:`emma.autoencoder.DenoisingAutoencoder.potential`. The thesis's code added
½‖X − b_r‖² over the *whole mini-batch* to each sample; :func:`batch_coupled_potential`
reproduces that behaviour only so the book can show what it does.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import roc_auc_score

from .autoencoder import DenoisingAutoencoder, check_batch
from .data import MODE_NAMES, MODE_SLICES
from .energy import ModeEnergies
from .noise import add_noise, sigma_to_nsr_db
from .splits import Split


@torch.no_grad()
def potential_vs_noise(
    energies: ModeEnergies,
    split: Split,
    sigmas,
    generator: torch.Generator | None = None,
) -> pd.DataFrame:
    """Ψ of the samples of ``split`` as Gaussian noise of growing σ is added to one mode.

    For each mode and each σ, noise N(0, σ²) is added to that mode's four columns only,
    and the mode's potential Ψ_i and reconstruction error are computed per sample.
    How well each score tells the noisy samples from the same samples clean is
    measured by the area under the ROC curve (noisy = positive class, higher score =
    more likely noisy; 0.5 = no better than chance).

    Parameters
    ----------
    energies : ModeEnergies
    split : Split
        Usually ``splits.test``.
    sigmas : sequence of float
        Noise standard deviations, each ≥ 0.
    generator : torch.Generator, optional
        Source of the noise.

    Returns
    -------
    pandas.DataFrame
        One row per (mode, sigma): ``mode``, ``sigma``, ``nsr_db``, ``psi_mean`` and
        ``psi_std`` (over samples), ``quadratic_mean`` (mean of the ½‖x − b_r‖² part
        of Ψ alone), ``psi_auroc`` and ``recon_auroc`` (noisy vs clean), ``n``.
    """
    rows = []
    device = energies.psi_min.device
    for m, name in enumerate(MODE_NAMES):
        model = energies.models[m]
        clean = split.x[:, MODE_SLICES[name]].to(device)  # (n, 4)
        clean_psi, clean_recon = model.potential(clean), model.reconstruction_error(clean)
        labels = np.r_[np.zeros(len(clean)), np.ones(len(clean))]
        for sigma in sigmas:
            noisy = add_noise(split.x, float(sigma), name, generator)[:, MODE_SLICES[name]].to(device)  # (n, 4)
            psi = model.potential(noisy)  # (n,)
            recon = model.reconstruction_error(noisy)  # (n,)
            quadratic = 0.5 * ((noisy - model.bias_visible) ** 2).sum(dim=1)
            rows.append(
                {
                    "mode": name,
                    "sigma": float(sigma),
                    "nsr_db": sigma_to_nsr_db(float(sigma)),
                    "psi_mean": psi.mean().item(),
                    "psi_std": psi.std(unbiased=False).item(),
                    "quadratic_mean": quadratic.mean().item(),
                    "psi_auroc": roc_auc_score(labels, torch.cat([clean_psi, psi]).cpu().numpy()),
                    "recon_auroc": roc_auc_score(labels, torch.cat([clean_recon, recon]).cpu().numpy()),
                    "n": len(psi),
                }
            )
    return pd.DataFrame(rows)


@torch.no_grad()
def unseen_class_auroc(energies: ModeEnergies, split: Split, unseen, reference_mean: torch.Tensor | None = None) -> pd.DataFrame:
    """How well each per-mode score flags samples of a class the autoencoders did not see.

    AUROC with the unseen samples as the positive class and the score as the ranking:
    1 = every unseen sample scores higher than every seen one, 0.5 = chance, below 0.5 =
    the unseen class scores *lower*.

    Parameters
    ----------
    energies : ModeEnergies
    split : Split
        Samples to score (usually the test split).
    unseen : bool array-like of shape (n,)
        True for samples of the class left out of training.
    reference_mean : torch.Tensor of shape (8,), optional
        The mean of the training rows; adds the baseline score ``distance``, the squared
        distance of a mode to that mean, which needs no autoencoder at all.

    Returns
    -------
    pandas.DataFrame
        One row per mode: ``mode``, ``psi_auroc``, ``recon_auroc`` (and ``distance_auroc``).
    """
    labels = np.asarray(unseen.cpu() if isinstance(unseen, torch.Tensor) else unseen).astype(bool)
    if labels.shape != (len(split),) or labels.all() or not labels.any():
        raise ValueError(f"unseen must be a boolean mask of shape ({len(split)},) holding both classes")
    psi = energies.potentials(split.x).cpu().numpy()  # (n, M)
    recon = energies.reconstruction_errors(split.x).cpu().numpy()  # (n, M)
    rows = []
    for m, name in enumerate(MODE_NAMES):
        row = {"mode": name, "psi_auroc": roc_auc_score(labels, psi[:, m]), "recon_auroc": roc_auc_score(labels, recon[:, m])}
        if reference_mean is not None:
            columns = MODE_SLICES[name]
            distance = ((split.x[:, columns].cpu() - reference_mean[columns].cpu()) ** 2).sum(dim=1)
            row["distance_auroc"] = roc_auc_score(labels, distance.numpy())
        rows.append(row)
    return pd.DataFrame(rows)


@torch.no_grad()
def batch_coupled_potential(model: DenoisingAutoencoder, x: torch.Tensor) -> torch.Tensor:
    """The potential as the thesis's code computed it, for comparison only. Shape (batch,).

    Same as eq. 4.7 except that the quadratic term is ½‖X − b_r‖² summed over the
    *whole batch* X and added to every sample, so a sample's value depends on the
    other samples it is evaluated with. Do not use it as an energy.
    """
    check_batch(x, model.d_input)
    softplus_part = model.potential(x) - 0.5 * ((x - model.bias_visible) ** 2).sum(dim=1)  # −Σ softplus, (batch,)
    return softplus_part + 0.5 * ((x - model.bias_visible) ** 2).sum()
