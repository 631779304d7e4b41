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

from emma.engine.evaluation import apply_rules, select
from emma.engine.protocol import ORIGINAL, Protocol
from emma.util import checks

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


SEED_COLUMNS = ["variant", "group", "row", "metric", "thesis", "seed", "value"]
SCORE_COLUMNS = ["variant", "group", "row", "metric", "thesis", "mean", "low", "high", "n_seeds"]


def seed_scores(study: dict, protocols, thesis: pd.DataFrame) -> pd.DataFrame:
    """Every thesis number beside each variant's F1 in each seed, where the variant's models exist.

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
        Long format, one row per (variant, thesis number, seed): ``variant, group`` ("baselines"
        or "emma"), ``row`` (the thesis row), ``metric``, ``thesis``, ``seed``, ``value``; rows
        where the models are missing are left out.
    """
    keys = {family: np.array([repr(p.key(family)) for p in result.protocols]) for family, result in study.items()}  # once per model
    rows = []
    for protocol in protocols:
        name = variant_name(protocol)
        for _, t in thesis.iterrows():
            family = t["model"]
            if family not in study:
                continue
            found = keys[family] == repr(protocol.key(family))
            table = study[family].table
            if family == "with":
                for c in ("rho", "lambda_c", "lambda_e"):
                    found &= np.isclose(table[c].to_numpy(dtype=float), float(t[c]), rtol=1e-12, atol=1e-12)
            if not found.any():
                continue
            table = apply_rules(select(study[family], np.flatnonzero(found)), [protocol] * int(found.sum())).table
            label = family if family != "with" else f"with (thesis rank {int(t['thesis_rank'])})"
            for metric in METRICS:
                if pd.isna(t[f"thesis_{metric}"]):
                    continue
                for seed, value in zip(table["seed"], table[metric].to_numpy(dtype=float)):
                    rows.append({"variant": name, "group": "emma" if family == "with" else "baselines", "row": label, "metric": metric,
                                 "thesis": float(t[f"thesis_{metric}"]), "seed": int(seed), "value": float(value)})
    return pd.DataFrame(rows, columns=SEED_COLUMNS)


def collect_seed_scores(studies, protocols, thesis: pd.DataFrame) -> pd.DataFrame:
    """:func:`seed_scores` over several studies (a first and a second stage), each (variant, number, seed) once.

    Where two studies hold the same variant's models for the same thesis row, the first wins.
    """
    frames = [f for f in (seed_scores(study, protocols, thesis) for study in studies) if len(f)]
    if not frames:
        return pd.DataFrame(columns=SEED_COLUMNS)
    first = pd.concat([f.assign(_study=i) for i, f in enumerate(frames)], ignore_index=True)
    owner = first.groupby(["variant", "row", "metric"])["_study"].transform("min")  # a number's seeds all come from one study
    return first[first["_study"] == owner].drop(columns="_study").drop_duplicates(["variant", "row", "metric", "seed"]).reset_index(drop=True)


def collect_scores(studies, protocols, thesis: pd.DataFrame) -> pd.DataFrame:
    """Per (variant, thesis number): the mean and range over seeds of :func:`collect_seed_scores`."""
    return scores_from_seeds(collect_seed_scores(studies, protocols, thesis))


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


def choice_bootstrap(seeds: pd.DataFrame, protocols, printed: dict, resamples: int = 1000, seed: int = 0, level: float = 0.95) -> pd.DataFrame:
    """How firmly the baselines choose the variant: the choice of :func:`choose` repeated on seeds resampled with replacement.

    Each resample draws as many seeds as there are, with replacement (``numpy.random.default_rng(seed)``),
    recomputes every variant's mean over the drawn seeds, its mean absolute difference from the
    thesis's baseline numbers, and chooses as :func:`choose` does (the first in ``protocols``' order on
    a tie). The EMMA numbers never enter the choice; each variant's out-of-sample fit is computed on
    the same resample.

    Parameters
    ----------
    seeds : DataFrame
        :func:`collect_seed_scores`: every variant on the same seeds.
    printed : dict
        :func:`printed_numbers`: a variant enters a group only with every number of it.

    Returns
    -------
    DataFrame
        One row per variant, in ``protocols``' order: ``wins`` (resamples it is chosen in),
        ``win_share``, ``baselines_mad`` and ``emma_mad`` on all the seeds, ``emma_mad_low`` and
        ``emma_mad_high`` (the central ``level`` of the resamples; ``NaN`` without EMMA models),
        ``emma_mad_when_chosen`` (its mean over the resamples that choose it) and ``resamples``.
    """
    resamples = checks.integer(resamples, "resamples", low=1)
    level = checks.number(level, "level", low=0.0, high=1.0, low_open=True, high_open=True)
    if not isinstance(seeds, pd.DataFrame) or not set(SEED_COLUMNS) <= set(seeds.columns):
        raise ValueError(f"seeds must be the DataFrame of collect_seed_scores, with the columns {SEED_COLUMNS}")
    names = [variant_name(p) for p in protocols]
    drawn = sorted(seeds["seed"].unique())
    rng = np.random.default_rng(checks.integer(seed, "seed", low=0))
    weights = np.stack([np.bincount(rng.integers(0, len(drawn), len(drawn)), minlength=len(drawn)) for _ in range(resamples)]) / len(drawn)
    weights = np.vstack([np.full(len(drawn), 1 / len(drawn)), weights])  # row 0: every seed once

    def fits(group: str) -> np.ndarray:
        """[variant, resample] mean absolute difference; NaN for a variant without every number of the group."""
        out = np.full((len(names), len(weights)), np.nan)
        for i, name in enumerate(names):
            part = seeds[(seeds["variant"] == name) & (seeds["group"] == group)]
            if not len(part):
                continue
            values = part.pivot_table(index=["row", "metric", "thesis"], columns="seed", values="value")
            if len(values) < printed[group]:
                continue
            if list(values.columns) != drawn or values.isna().any().any():
                raise ValueError(f"variant {name!r} lacks some of the seeds {drawn} in its {group} numbers: resample on common seeds only")
            thesis = values.index.get_level_values("thesis").to_numpy(dtype=float)
            out[i] = np.abs(values.to_numpy() @ weights.T - thesis[:, None]).mean(axis=0)
        return out

    baselines, emma = fits("baselines"), fits("emma")
    if np.isnan(baselines[:, 0]).all():
        raise ValueError("no variant has its baselines scored: nothing to choose from")
    winners = np.nanargmin(baselines[:, 1:], axis=0)  # the first on a tie, as choose()
    low, high = 50 * (1 - level), 50 * (1 + level)
    rows = []
    for i, name in enumerate(names):
        chosen = winners == i
        scored = np.isfinite(emma[i, 0])
        rows.append({"variant": name, "wins": int(chosen.sum()), "win_share": float(chosen.mean()), "baselines_mad": baselines[i, 0],
                     "emma_mad": emma[i, 0], "emma_mad_low": np.percentile(emma[i, 1:], low) if scored else np.nan,
                     "emma_mad_high": np.percentile(emma[i, 1:], high) if scored else np.nan,
                     "emma_mad_when_chosen": float(emma[i, 1:][chosen].mean()) if scored and chosen.any() else np.nan, "resamples": resamples})
    return pd.DataFrame(rows)


#: The pre-registered criterion for "explains": at least this share of a group's thesis numbers
#: lies inside the variant's range over seeds.
EXPLAINS = 0.5


#: The forensic table as the chapter shows it: columns and their labels.
VIEW = {"variant": "variant (what differs from the code)", "baselines_mad": "baselines: mean |Δ|", "baselines_inside": "baselines: inside",
        "emma_mad": "EMMA: mean |Δ|", "emma_inside": "EMMA: inside", "chosen": "chosen"}


def scores_from_seeds(seeds: pd.DataFrame) -> pd.DataFrame:
    """Per (variant, thesis number): the mean and range over the seeds of :func:`collect_seed_scores`."""
    if not isinstance(seeds, pd.DataFrame) or not set(SEED_COLUMNS) <= set(seeds.columns):
        raise ValueError(f"seeds must be the DataFrame of collect_seed_scores, with the columns {SEED_COLUMNS}")
    if not len(seeds):
        return pd.DataFrame(columns=SCORE_COLUMNS)
    keys = ["variant", "group", "row", "metric", "thesis"]
    out = seeds.groupby(keys, sort=False)["value"].agg(mean="mean", low="min", high="max", n_seeds="size").reset_index()
    return out[SCORE_COLUMNS]


def forensic_test(seeds: pd.DataFrame, protocols, thesis: pd.DataFrame, chosen: str, book_mad: float) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """The finished test: every variant's fit (baselines and, where trained, EMMA), the scores behind it, and its sentence.

    ``seeds`` is :func:`collect_seed_scores` over every stage. ``chosen`` was picked by
    :func:`choose` on the baselines before the EMMA models were scored; the EMMA rows cannot
    change it (checked).
    """
    scores = scores_from_seeds(seeds)
    fits = fit_table(scores, protocols, printed_numbers(thesis))
    if choose(fits) != chosen:
        raise RuntimeError(f"the choice changed from {chosen!r} to {choose(fits)!r}: the baselines' scores must not depend on the EMMA rows")
    fits["chosen"] = fits["variant"] == chosen
    return fits, scores, verdict_sentence(fits, chosen, book_mad)


def bootstrap_sentence(bootstrap: pd.DataFrame, chosen: str) -> str:
    """How often the baselines choose each variant over resampled seeds (:func:`choice_bootstrap`), in words."""
    if not isinstance(bootstrap, pd.DataFrame) or not {"variant", "wins", "win_share", "emma_mad_when_chosen", "resamples"} <= set(bootstrap.columns):
        raise ValueError("bootstrap must be the DataFrame of choice_bootstrap")
    if chosen not in set(bootstrap["variant"]):
        raise ValueError(f"chosen must name a variant of bootstrap, got {chosen!r}")
    ranked = bootstrap.sort_values("wins", ascending=False, kind="stable")
    winners = ranked[ranked["wins"] > 0]
    share = float(bootstrap.set_index("variant").loc[chosen, "win_share"])
    others = [f"{r.variant} ({r.win_share:.0%})" for r in winners.itertuples() if r.variant != chosen][:3]
    fits = winners["emma_mad_when_chosen"].dropna()
    return (f"Resampling the seeds {int(bootstrap['resamples'].iloc[0]):,} times and choosing again on the baselines alone, "
            f"{chosen} wins {share:.0%} of the resamples" + (f"; {_words(others)} win{'s' if len(others) == 1 else ''} most of the rest" if others else "")
            + (f". Over the {len(winners)} variants that ever win, the out-of-sample distance from the thesis's EMMA numbers, when chosen, "
               f"runs from {fits.min():.3f} to {fits.max():.3f} F1." if len(fits) else "."))


def _words(items) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


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
    explaining = tested[[bool(explains(r)["emma"]) for _, r in tested.iterrows()]].sort_values("emma_mad", kind="stable")
    if not len(explaining):
        return text + (f" None of the {len(tested)} variants whose EMMA models were trained explains the thesis's EMMA rows by that criterion; "
                       f"the closest, {closest['variant']}, leaves {closest['emma_mad']:.3f} F1.")
    named = "; ".join(f"*{r.variant}* ({r.emma_mad:.3f} F1 away, {int(r.emma_inside)} inside)" for r in explaining.head(3).itertuples())
    return text + (f" It does not explain the thesis's EMMA rows; of the {len(tested)} variants tested on them, {len(explaining)} would by the same "
                   f"criterion, none of them chosen by the baselines" + (f"; the closest: {named}." if len(explaining) > 1 else f": {named}."))
