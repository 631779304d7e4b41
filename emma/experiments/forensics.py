"""A forensic test of what the thesis ran, pre-registered before anything is evaluated.

The replay (:data:`emma.engine.protocol.ORIGINAL`) follows the thesis's public code line by line, and
still misses most of the thesis's table. Could another state of the same code have produced it?
The code offers its own alternatives for five fields of :class:`~emma.engine.protocol.Protocol`: a
line commented out, a default that one call overrides, the text's description beside the
code's behaviour. This module fixes, *before any model is trained or scored*:

1. the candidate set, :data:`CANDIDATES`: every field's two values, each cited to the line of
   the original code (commit ``7302713``) or to the thesis's text it comes from; every
   combination applied to ``ORIGINAL`` is a variant (:func:`variants`, 2⁵ = 32);
2. the criterion, :func:`fit_table`: the mean absolute difference between a variant's F1 (mean
   over seeds) and the thesis's numbers;
3. the choice, :func:`choose`: the variant that fits the thesis's **baseline** numbers best
   (IP only, DM only, base, without, alternative), the first in :func:`variants`' order on a tie;
4. the out-of-sample test: that variant's fit on the thesis's **EMMA** numbers (its top 10),
   which played no part in the choice.

Nothing here is tuned towards the thesis: the candidates are the code's own, and the EMMA rows
only test the choice.

>>> len(variants()), variants()[0] == ORIGINAL
(32, True)
"""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from emma.engine.protocol import ORIGINAL, Protocol
from emma.experiments.study import rows_for, under

#: The original code at the commit the book reads.
CODE = "https://github.com/awerenne/energy-based-multimodal-attention/blob/7302713/code"

#: Each field's two candidate values, the original code's first, and where each comes from.
CANDIDATES = {
    "threshold": (
        ("roc_corner", f"{CODE}/experiment-3/main.py#L163 (optimal_threshold on the validation set)"),
        ("fixed", f"{CODE}/experiment-3/main.py#L27 (MLP.__init__: self.threshold = 0.5, kept unless overridden)"),
    ),
    "class_weight": (
        (None, f"{CODE}/experiment-3/main.py#L221 (BCEWithLogitsLoss without a weight)"),
        (10.0, f"{CODE}/experiment-3/main.py#L220 (pos_weight=10, commented out; the text mentions a class weight)"),
    ),
    "corruption_in_place": (
        (True, f"{CODE}/data/data.py#L59-L66 (apply_corruption writes into X.data.numpy())"),
        (False, "thesis text: the clean sets stay clean and corrupted copies are made"),
    ),
    "early_stopping": (
        ("training", f"{CODE}/experiment-3/main.py#L155 (the stopping curve is the loss on X_train)"),
        ("validation", "thesis text: early stopping on the validation loss"),
    ),
    "retrain": (
        (True, f"{CODE}/experiment-3/main.py#L167 (best_epoch more epochs on train + validation)"),
        (False, "thesis text: no retraining is described"),
    ),
}
#: The families of the baselines the variant is chosen on, as the thesis's table names them.
BASELINES = ("ip_only", "dm_only", "base", "without", "alternative")
#: The three F1 columns of the thesis's table.
METRICS = ("f1_clean", "f1_ip_noisy", "f1_dm_noisy")


def variants(start: Protocol = ORIGINAL) -> list[Protocol]:
    """Every combination of :data:`CANDIDATES` applied to ``start``; the code's own values first."""
    names = list(CANDIDATES)
    return [start.switch(**dict(zip(names, values))) for values in itertools.product(*[[v for v, _ in CANDIDATES[n]] for n in names])]


def variant_name(protocol: Protocol, start: Protocol = ORIGINAL) -> str:
    """``"as coded"`` or the fields that differ from the code, e.g. ``"threshold=fixed, retrain=False"``.

    >>> variant_name(ORIGINAL.switch(threshold="fixed"))
    'threshold=fixed'
    """
    changed = protocol.differences(start)
    return "as coded" if not changed else ", ".join(f"{n}={getattr(protocol, n)}" for n in changed)  # commas let a table wrap it


def candidates_table() -> pd.DataFrame:
    """The pre-registered candidates: one row per (field, value) with its source."""
    return pd.DataFrame([{"field": name, "value": str(value), "as_coded": i == 0, "source": source}
                         for name, options in CANDIDATES.items() for i, (value, source) in enumerate(options)])


def variant_scores(study: dict, protocols, thesis: pd.DataFrame) -> pd.DataFrame:
    """Every thesis number beside each variant's F1 over seeds, where the variant's models exist.

    Parameters
    ----------
    study : dict of family to sweep result
        Sweeps holding the variants' models (:func:`emma.experiments.study.run_study`); ``with`` may lack some.
    protocols : sequence of Protocol
    thesis : DataFrame
        :func:`emma.claims.thesis.thesis_results`.

    Returns
    -------
    DataFrame
        Long format, one row per (variant, thesis number): ``variant, group`` ("baselines" or
        "emma"), ``row`` (the thesis row), ``metric``, ``thesis``, ``mean``, ``low``, ``high`` (the
        range over seeds) and ``n_seeds``; rows where the models are missing are left out.
    """
    rows = []
    for protocol in protocols:
        name = variant_name(protocol)
        for _, t in thesis.iterrows():
            family = t["model"]
            if family not in study:
                continue
            config = {} if family != "with" else {"rho": t["rho"], "lambda_c": t["lambda_c"], "lambda_e": t["lambda_e"]}
            if not rows_for(study[family], protocol, **config):
                continue
            table = under(study[family], protocol, **config)["table"]
            label = family if family != "with" else f"with (thesis rank {int(t['thesis_rank'])})"
            for metric in METRICS:
                if pd.isna(t[f"thesis_{metric}"]):
                    continue
                values = table[metric].to_numpy(dtype=float)
                rows.append({"variant": name, "group": "emma" if family == "with" else "baselines", "row": label, "metric": metric,
                             "thesis": float(t[f"thesis_{metric}"]), "mean": values.mean(), "low": values.min(), "high": values.max(), "n_seeds": len(values)})
    return pd.DataFrame(rows)


def collect_scores(studies, protocols, thesis: pd.DataFrame) -> pd.DataFrame:
    """:func:`variant_scores` over several studies (a first and a second stage), each number once.

    Where two studies hold the same variant's models for the same thesis row, the first wins.
    """
    frames = [variant_scores(study, protocols, thesis) for study in studies]
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=["variant", "group", "row", "metric", "thesis", "mean", "low", "high", "n_seeds"])
    return pd.concat(frames, ignore_index=True).drop_duplicates(["variant", "row", "metric"]).reset_index(drop=True)


def printed_numbers(thesis: pd.DataFrame) -> dict[str, int]:
    """How many F1 numbers the thesis prints for its baselines and for its EMMA rows.

    >>> from emma.claims.thesis import thesis_results
    >>> printed_numbers(thesis_results("slides"))
    {'baselines': 13, 'emma': 30}
    """
    numbers = thesis[[f"thesis_{m}" for m in METRICS]].notna().sum(axis=1)
    return {"baselines": int(numbers[thesis["model"] != "with"].sum()), "emma": int(numbers[thesis["model"] == "with"].sum())}


def fit_table(scores: pd.DataFrame, protocols, printed: dict | None = None) -> pd.DataFrame:
    """Each variant's fit to the thesis: mean absolute difference and numbers inside the seed range, per group.

    Parameters
    ----------
    printed : dict, optional
        :func:`printed_numbers`: a group is scored only where the variant's models cover every
        thesis number of it (so every fit in a column rests on the same numbers); by default
        whatever is there.

    Returns
    -------
    DataFrame
        One row per variant, in ``protocols``' order: ``variant``, its five fields,
        ``baselines_mad``, ``baselines_offset`` (mean signed difference), ``baselines_inside``,
        ``baselines_printed``, and the same for ``emma`` (``NaN`` where its EMMA models were not
        trained for every row).
    """
    if not isinstance(scores, pd.DataFrame) or not {"variant", "group", "thesis", "mean", "low", "high"} <= set(scores.columns):
        raise ValueError("scores must be the DataFrame of variant_scores")
    rows = []
    for protocol in protocols:
        name = variant_name(protocol)
        row = {"variant": name, **{field: getattr(protocol, field) for field in CANDIDATES}}
        for group in ("baselines", "emma"):
            part = scores[(scores["variant"] == name) & (scores["group"] == group)]
            if printed is not None and len(part) < printed[group]:
                part = part.iloc[:0]  # incomplete: not comparable with the others
            inside = (part["low"] <= part["thesis"]) & (part["thesis"] <= part["high"])
            row[f"{group}_mad"] = float((part["mean"] - part["thesis"]).abs().mean()) if len(part) else np.nan
            row[f"{group}_offset"] = float((part["mean"] - part["thesis"]).mean()) if len(part) else np.nan
            row[f"{group}_inside"] = int(inside.sum()) if len(part) else np.nan
            row[f"{group}_printed"] = len(part) if len(part) else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def choose(fits: pd.DataFrame) -> str:
    """The variant with the smallest mean absolute difference on the baselines; the first on a tie.

    Only ``baselines_mad`` enters: the EMMA columns are the out-of-sample test.

    >>> choose(pd.DataFrame({"variant": ["a", "b", "c"], "baselines_mad": [0.05, 0.02, 0.02], "emma_mad": [0.0, 0.5, 0.5]}))
    'b'
    """
    if not isinstance(fits, pd.DataFrame) or not {"variant", "baselines_mad"} <= set(fits.columns):
        raise ValueError("fits must be the DataFrame of fit_table (variant, baselines_mad)")
    if fits["baselines_mad"].isna().all():
        raise ValueError("no variant has its baselines trained: nothing to choose from")
    return str(fits.loc[fits["baselines_mad"].idxmin(), "variant"])


#: The pre-registered criterion for "explains": at least this share of a group's thesis numbers
#: lies inside the variant's range over seeds.
EXPLAINS = 0.5


#: The forensic table as the chapter shows it: columns and their labels.
VIEW = {"variant": "variant (what differs from the code)", "baselines_mad": "baselines: mean |Δ|", "baselines_inside": "baselines: inside",
        "emma_mad": "EMMA: mean |Δ|", "emma_inside": "EMMA: inside", "chosen": "chosen"}


def forensic_test(studies, protocols, thesis: pd.DataFrame, chosen: str, book_mad: float) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """The finished test: every variant's fit (baselines and, where trained, EMMA), the scores behind it, and its sentence.

    ``chosen`` was picked by :func:`choose` on the baselines before the EMMA models were scored;
    the EMMA rows cannot change it (checked).
    """
    scores = collect_scores(studies, protocols, thesis)
    fits = fit_table(scores, protocols, printed_numbers(thesis))
    if choose(fits) != chosen:
        raise RuntimeError(f"the choice changed from {chosen!r} to {choose(fits)!r}: the baselines' scores must not depend on the EMMA rows")
    fits["chosen"] = fits["variant"] == chosen
    return fits, scores, verdict_sentence(fits, chosen, book_mad)


def explains(row) -> dict:
    """Whether a variant explains each group of thesis numbers by :data:`EXPLAINS` (None where not trained)."""
    return {group: None if not np.isfinite(row[f"{group}_printed"]) else bool(row[f"{group}_inside"] >= EXPLAINS * row[f"{group}_printed"])
            for group in ("baselines", "emma")}


def verdict_sentence(fits: pd.DataFrame, chosen: str, book_mad: float) -> str:
    """The forensic test's result in words, every number from ``fits``.

    ``book_mad`` is the book's own protocol's mean absolute difference from the thesis's EMMA
    numbers, the yardstick for how close "close" is.
    """
    if chosen not in set(fits["variant"]):
        raise ValueError(f"chosen must name a variant of fits, got {chosen!r}")
    row = fits.set_index("variant").loc[chosen]
    verdict = explains(row)
    text = (f"Of {len(fits)} variants of the code, the one that fits the thesis's {int(row['baselines_printed'])} baseline numbers best is "
            f"**{chosen}**: {row['baselines_mad']:.3f} F1 from them on average, {int(row['baselines_inside'])} of them inside its range "
            f"over seeds ({'enough' if verdict['baselines'] else 'not enough'} to explain the baselines by the pre-registered criterion, "
            f"at least {EXPLAINS:.0%} inside).")
    if verdict["emma"] is None:
        return text + " Its EMMA models were not trained, so the out-of-sample test did not run."
    tested = fits[fits["emma_printed"].notna()]
    closest = tested.sort_values("emma_mad").iloc[0]
    text += (f" Out of sample, on the thesis's {int(row['emma_printed'])} EMMA numbers, it sits {row['emma_mad']:.3f} F1 from them "
             f"({row['emma_offset']:+.3f} on average; the book's protocol {book_mad:.3f}), {int(row['emma_inside'])} of them inside its range.")
    if verdict["emma"]:
        return text + " By the pre-registered criterion, this variant of the code explains the thesis's EMMA rows."
    explaining = [v for v, r in tested.set_index("variant").iterrows() if explains(r)["emma"]]
    return text + (f" None of the {len(tested)} variants whose EMMA models were trained explains the thesis's EMMA rows by that criterion; "
                   f"the closest, {closest['variant']}, leaves {closest['emma_mad']:.3f} F1." if not explaining else
                   f" It does not explain the thesis's EMMA rows; of the {len(tested)} variants tested on them, {', '.join(explaining)} would.")
