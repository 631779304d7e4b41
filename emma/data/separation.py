"""How well each feature alone tells pulsars from the other candidates, without a threshold.

:func:`feature_separation` scores every feature (a column of HTRU2's ``features``, or of any
table) by its AUROC as a score on its own, direction-free; the chapter
:doc:`The pulsar data </book/chapters/04_pulsar_data>` reports it for the eight features of the two modes.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import roc_auc_score


def feature_separation(features, target) -> pd.DataFrame:
    """How well each feature alone ranks pulsars against non-pulsars, without a threshold.

    Parameters
    ----------
    features : array-like of shape (n, k)
        One column per feature (numpy array, tensor or DataFrame).
    target : array-like of shape (n,)
        The class, 0 or 1.

    Returns
    -------
    pandas.DataFrame
        One row per column: ``separation_auroc`` = max(AUROC, 1 − AUROC) (0.5 chance, 1 perfect,
        whichever way the feature points) and ``pulsars_higher`` (AUROC > 0.5), with the AUROC
        from :func:`sklearn.metrics.roc_auc_score`.
    """
    values = np.asarray(features.cpu() if isinstance(features, torch.Tensor) else features, dtype=float)
    labels = np.asarray(target.cpu() if isinstance(target, torch.Tensor) else target)
    if values.ndim != 2 or len(values) != len(labels):
        raise ValueError(f"features must have shape (n, k) with n = len(target) = {len(labels)}, got {values.shape}")
    aurocs = np.array([roc_auc_score(labels, values[:, j]) for j in range(values.shape[1])])
    return pd.DataFrame({"separation_auroc": np.maximum(aurocs, 1 - aurocs), "pulsars_higher": aurocs > 0.5})
