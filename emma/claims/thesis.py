"""Every number the book quotes from the thesis or its defense slides, each with its source.

Sources, as the comments below abbreviate them:

* *thesis*: A. Werenne, *Energy-based Multi-Modal Attention*, Master thesis, University of
  Liège, 2019, final version (its chapter, section, table and figure numbering);
* *slides*: the defense slides (results table and per-sample outcome table);
* *code*: the thesis's public code (github.com/awerenne/energy-based-multimodal-attention,
  2019), only where the text is silent.

These are reference values. A chapter shows them in labelled ``thesis_*`` columns or in the
``thesis_evidence`` of a claim, beside what it computed, never in place of it. A setting
that is also a knob of a chapter (hidden units, epochs, ...) keeps its literal default in the
chapter's parameters cell, where a reader can change it; ``tests/test_thesis.py`` checks that
those defaults are the settings recorded here.

Mappings are read-only (:class:`types.MappingProxyType`), so a chapter cannot change a
thesis number by accident.

>>> THESIS_SPLITS["test"]
(271, 2682)
>>> round(TRAINING_NSR_DB, 2)
-6.02
"""
from __future__ import annotations

import math
from types import MappingProxyType

import numpy as np
import pandas as pd

# ----------------------------------------------------------------------------- chapter 4: toy experiment

#: Settings of the toy energy-estimation experiment (thesis, section 4.3): a tied sigmoid
#: denoising autoencoder with ``d_hidden`` units, trained ``epochs`` epochs on batches of
#: ``batch_size`` with corruption σ = ``noise_std`` and Adam at ``lr``; the manifold figure
#: (thesis Figure 4.5) draws ``n_figure`` samples.
TOY_SETTINGS = MappingProxyType(
    {"n_figure": 200, "d_hidden": 8, "epochs": 25, "batch_size": 100, "noise_std": 0.008, "lr": 1e-3}
)

# ----------------------------------------------------------------------------- HTRU2: split and corruption

#: ``random_state`` of both stratified splits (code; the thesis states no seed).
SPLIT_SEED = 42
#: Fraction held out for validation + test by the first stratified split (code).
HELD_OUT_FRACTION = 0.33
#: The thesis's split table, (positives, negatives) per split (thesis, experiments chapter).
#: Train 11,992 (1,098 / 10,894), validation 2,953 (270 / 2,683), test 2,953 (271 / 2,682).
THESIS_SPLITS = MappingProxyType(
    {"train": (1_098, 10_894), "validation": (270, 2_683), "test": (271, 2_682)}
)

#: Noise σ of the corruption scheme during training (thesis, experiments chapter).
TRAINING_SIGMA = 0.5
#: The same as a noise-to-signal ratio: 10·log10(σ²) dB, −6.02 dB (signal variance 1 after
#: standardization; the code calls this quantity ``SNR``).
TRAINING_NSR_DB = 10.0 * math.log10(TRAINING_SIGMA**2)
#: Share of clean samples in the corruption scheme; the rest is split evenly between
#: IP-only and DM-only noise (thesis: 50 % clean, 25 % IP, 25 % DM).
CLEAN_FRACTION = 0.5


def thesis_split_table() -> pd.DataFrame:
    """The thesis's split table as the columns ``split, thesis_positives, thesis_negatives, thesis_total``.

    Returns
    -------
    DataFrame
        One row per split (train, validation, test), from :data:`THESIS_SPLITS`.

    Examples
    --------
    >>> table = thesis_split_table()
    >>> table["thesis_total"].tolist()
    [11992, 2953, 2953]
    """
    return pd.DataFrame(
        {
            "split": list(THESIS_SPLITS),
            "thesis_positives": [positives for positives, _ in THESIS_SPLITS.values()],
            "thesis_negatives": [negatives for _, negatives in THESIS_SPLITS.values()],
            "thesis_total": [positives + negatives for positives, negatives in THESIS_SPLITS.values()],
        }
    )


# ----------------------------------------------------------------------------- Experiment I: potential energy

#: One denoising autoencoder per HTRU2 mode (thesis, Experiment I): tied weights, sigmoid,
#: 4 inputs, ``d_hidden`` hidden units, corruption σ = ``noise_std``, Adam at ``lr``,
#: ``epochs`` epochs, batch ``batch_size`` (the batch is the code's, in the first study).
MODE_DAE_SETTINGS = MappingProxyType({"d_hidden": 12, "noise_std": 0.01, "epochs": 30, "batch_size": 64, "lr": 1e-3})
#: The noise sweep of the potential-energy figure (thesis, Experiment I): σ on one mode from
#: 0 to 2, Ψ of the test samples drawn as mean ± 2 std.
NOISE_SWEEP_SIGMA = (0.0, 2.0)
#: Batch size on which the code evaluated Ψ for that figure (code; its Ψ is batch-coupled).
CODE_PSI_BATCH = 100

# ----------------------------------------------------------------------------- Experiment II: robustness

#: The classifiers' training protocol (thesis, Experiment II; code where noted): Adam at
#: ``lr``, batch ``batch_size``, up to ``epochs`` epochs (code: 35; the text says
#: ``epochs_text``), a decision threshold picked among ``n_thresholds`` values in [0, 1].
CLASSIFIER_SETTINGS = MappingProxyType({"lr": 1e-3, "batch_size": 32, "epochs": 35, "epochs_text": 30, "n_thresholds": 21})
#: The hyperparameter grid of EMMA (thesis, Experiment II): 5 × 5 × 5 = 125 models, one seed.
GRID_RHOS = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)
GRID_LAMBDAS_C = (0.0, 1e-4, 1e-3, 1e-2, 1e-1)
GRID_LAMBDAS_E = (0.0, 1e-4, 1e-3, 1e-2, 1e-1)

#: The thesis's results table (final thesis; F1 on the test set), as printed: the two
#: λ columns in the order of the final thesis's heading, see :func:`thesis_results`.
#: Rows: (model, ρ, first λ column, second λ column, F1 clean, F1 IP noisy, F1 DM noisy).
THESIS_TABLE = [
    ("ip_only", None, None, None, 0.8235, 0.5926, None),
    ("dm_only", None, None, None, 0.6612, None, 0.3920),
    ("base", None, None, None, 0.8830, 0.6441, 0.6569),
    ("without", None, None, None, 0.8671, 0.7097, 0.7683),
    ("alternative", None, None, None, 0.7726, 0.6129, 0.6882),
    ("with", 1e-4, 1e-3, 1e-2, 0.8881, 0.7333, 0.8077),
    ("with", 1e-4, 0.0, 1e-2, 0.8849, 0.7285, 0.8183),
    ("with", 1e-4, 1e-4, 1e-2, 0.8945, 0.7333, 0.8182),
    ("with", 1e-3, 1e-3, 0.0, 0.8809, 0.7347, 0.8186),
    ("with", 1e-4, 1e-2, 1e-3, 0.8736, 0.7383, 0.7848),
    ("with", 1e-1, 1e-2, 0.0, 0.8826, 0.7467, 0.7925),
    ("with", 1e-4, 1e-3, 0.0, 0.8786, 0.7190, 0.7826),
    ("with", 1e-3, 1e-1, 1e-2, 0.8800, 0.7432, 0.8344),
    ("with", 1e-4, 0.0, 1e-4, 0.8723, 0.7051, 0.7853),
    ("with", 1e-4, 1e-4, 1e-3, 0.8794, 0.7053, 0.7853),
]

#: The thesis's top-10 ranking of the 125 EMMA models (by F1 on the whole noisy test set):
#: rank ``i + 1`` is ``THESIS_RANKING[i]`` = (ρ, first λ column, second λ column) as printed,
#: i.e. the ``with`` rows of :data:`THESIS_TABLE` in order.
THESIS_RANKING = tuple(row[1:4] for row in THESIS_TABLE if row[0] == "with")

#: NSR (dB) of the slides' per-sample outcome table.
SLIDES_OUTCOMES_NSR_DB = 5.0
#: The slides' per-sample outcome table of the best model at NSR 5 dB under the training
#: scheme: rate of correct predictions per (class, case) (slides).
SLIDES_OUTCOMES = MappingProxyType(
    {
        ("pulsar", "clean"): 0.9029,
        ("pulsar", "IP noisy"): 0.6825,
        ("pulsar", "DM noisy"): 0.7297,
        ("non-pulsar", "clean"): 0.9843,
        ("non-pulsar", "IP noisy"): 0.8770,
        ("non-pulsar", "DM noisy"): 0.9503,
    }
)
#: The same table's rate of wrong predictions, as printed (slides). The slides truncate
#: rather than round, so ``1 − SLIDES_OUTCOMES`` can differ from these by 1e-4.
SLIDES_OUTCOMES_WRONG = MappingProxyType(
    {
        ("pulsar", "clean"): 0.0970,
        ("pulsar", "IP noisy"): 0.3174,
        ("pulsar", "DM noisy"): 0.2702,
        ("non-pulsar", "clean"): 0.0156,
        ("non-pulsar", "IP noisy"): 0.1229,
        ("non-pulsar", "DM noisy"): 0.0496,
    }
)

#: λ_e and λ_c of the two models the thesis compares for the coldness ρ (thesis, Experiment II:
#: the figure of α at σ = 0.5 and 2 and of β over a continuum of noise on each mode).
TEMPERATURE_LAMBDA_E = 1e-2
TEMPERATURE_LAMBDA_C = 1e-3
#: The learned capacities the thesis reports for those two models, by ρ (thesis, same figure).
TEMPERATURE_CAPACITIES = MappingProxyType({1e-4: 0.49, 1e-1: 0.63})
#: The learned capacity of the model of the robustness-generalisation figure (thesis,
#: Experiment II: F1 against NSR with one mode corrupted).
ROBUSTNESS_FIGURE_CAPACITY = 0.19
#: The NSR range (dB) the thesis's robustness figures sweep, roughly (thesis, Experiment II).
ROBUSTNESS_NSR_RANGE_DB = (-20.0, 10.0)


def thesis_results(reading: str = "slides") -> pd.DataFrame:
    """The thesis's table with its λ columns read as the slides (ρ, λ_e, λ_c) or as the final thesis (ρ, λ_c, λ_e).

    The final thesis heads the λ columns ρ, λ_c, λ_e; the slides head the same numbers
    ρ, λ_e, λ_c (and the thesis's figure captions agree with the slides).

    Parameters
    ----------
    reading : {"slides", "thesis"}
        Which heading to follow.

    Returns
    -------
    DataFrame
        Columns ``model, rho, lambda_c, lambda_e, thesis_f1_clean, thesis_f1_ip_noisy,
        thesis_f1_dm_noisy, thesis_rank`` (rank 1–10 of the ``with`` rows as printed).

    Examples
    --------
    >>> table = thesis_results("slides")
    >>> table.loc[table["thesis_rank"] == 1, ["rho", "lambda_e", "lambda_c"]].to_numpy().tolist()
    [[0.0001, 0.001, 0.01]]
    """
    if reading not in ("slides", "thesis"):
        raise ValueError(f"reading must be 'slides' or 'thesis', got {reading!r}")
    rows = []
    for model, rho, second, third, clean, ip, dm in THESIS_TABLE:
        lambda_c, lambda_e = (third, second) if reading == "slides" else (second, third)
        rows.append({"model": model, "rho": rho, "lambda_c": lambda_c, "lambda_e": lambda_e,
                     "thesis_f1_clean": clean, "thesis_f1_ip_noisy": ip, "thesis_f1_dm_noisy": dm})
    frame = pd.DataFrame(rows)
    frame["thesis_rank"] = np.where(frame["model"] == "with", frame.groupby("model").cumcount() + 1, np.nan)
    return frame


def thesis_configs(reading: str = "slides") -> pd.DataFrame:
    """The thesis's ten printed EMMA configurations, in its ranking's order: ``rho, lambda_c, lambda_e``.

    The ``with`` rows of :func:`thesis_results` (their index kept), the λ columns read as ``reading``
    says. The chapters :doc:`Experiment II </book/chapters/06_robustness>` and
    :doc:`Explaining the thesis's numbers </book/chapters/07_replay>` replay exactly these.

    >>> thesis_configs("slides").iloc[0].tolist()
    [0.0001, 0.01, 0.001]
    >>> len(thesis_configs("thesis"))
    10
    """
    table = thesis_results(reading)
    return table[table["model"] == "with"][["rho", "lambda_c", "lambda_e"]]
