"""The thesis's table replayed under the original code's protocol.

* :func:`robustness_study`: the first stage of the study, shared by the chapters
  :doc:`Experiment II </book/chapters/06_robustness>` and "Explaining the thesis's numbers" (:func:`study_plan`);
* :func:`replay_f1`: one row per row of the thesis's table, with the replay's F1 (mean and
  std over seeds), the book's protocol's means, the thesis's numbers, and whether each
  thesis number lies within the replay's range over seeds; :func:`thesis_gap` and
  :func:`gap_explained` say how far each protocol sits from the thesis;
* :func:`waterfall`: the bars from a thesis number through the replay to the book's, along the
  decomposition of :mod:`emma.experiments.decomposition`.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from emma.engine.autoencoders import DAESettings
from emma.engine.evaluation import apply_rules, select
from emma.engine.protocol import ORIGINAL, SOUND, SWITCH_ORDER, Protocol, decomposition_steps
from emma.engine.results import SweepResult
from emma.experiments.forensics import BASELINES, variants  # the baselines of the thesis's table, in its order
from emma.experiments.selection import prediction_interval
from emma.experiments.study import fit_study_energies, plan, restrict, rows_for, run_study
from emma.util.display import label

#: The three F1 columns of the thesis's table.
METRICS = ("f1_clean", "f1_ip_noisy", "f1_dm_noisy")


def config_scores(result: SweepResult, protocol: Protocol, rho=None, lambda_c=None, lambda_e=None) -> pd.DataFrame:
    """The scores of ``result``'s models trained under ``protocol`` (at one configuration, when given), each at its protocol's rules."""
    config = {} if rho is None else {"rho": rho, "lambda_c": lambda_c, "lambda_e": lambda_e}
    rows = rows_for(result, protocol, **config)
    return apply_rules(select(result, rows), [protocol] * len(rows)).table if rows else pd.DataFrame(columns=result.table.columns)


def replay_f1(study: dict, thesis: pd.DataFrame, runs: dict | None = None, original: Protocol = ORIGINAL, sound: Protocol = SOUND,
              level: float = 0.95) -> pd.DataFrame:
    """The thesis's table (``thesis``: :func:`emma.claims.thesis.thesis_results`) beside the replay and the book's protocol.

    Parameters
    ----------
    study : dict of family to sweep result
        The grid's study (:func:`robustness_study`): the book's protocol's numbers and the replay's range over its seeds.
    runs : dict of family to sweep result, optional
        The replay on many seeds (:func:`robustness_study`'s ``every``: the printed rows on the
        replay's seeds), for the replay's mean, spread and the prediction interval of one run; by
        default ``study``.

    Returns
    -------
    DataFrame
        One row per thesis row: ``model, rho, lambda_c, lambda_e, n_seeds`` (of ``runs``), the
        replay's ``<metric>_mean`` / ``<metric>_std``, ``<metric>_pi_low`` / ``<metric>_pi_high``
        (the ``level`` prediction interval of a single run,
        :func:`emma.experiments.selection.prediction_interval`), ``sound_<metric>_mean`` /
        ``sound_<metric>_std``, ``thesis_<metric>``, ``thesis_in_replay_pi_<subset>`` (inside that
        interval), ``n_range_seeds``, ``grid_<metric>_mean`` (the replay's mean over the grid's
        seeds, those the decomposition pairs) and ``thesis_in_replay_range_<subset>`` (min ≤
        thesis ≤ max over the grid's seeds); ``NaN`` where the thesis printed no number or the
        models are missing.
    """
    runs = study if runs is None else runs
    rows = []
    for _, t in thesis.iterrows():
        family = t["model"]
        config = {} if family != "with" else {"rho": t["rho"], "lambda_c": t["lambda_c"], "lambda_e": t["lambda_e"]}
        replay = config_scores(runs[family], original, **config)
        grid = config_scores(study[family], original, **config)
        ours = config_scores(study[family], sound, **config)
        row = {"model": family if family != "with" else f"with (thesis rank {int(t['thesis_rank'])})", "rho": t["rho"],
               "lambda_c": t["lambda_c"], "lambda_e": t["lambda_e"], "n_seeds": len(replay)}
        for metric in METRICS:
            values = replay[metric].to_numpy(dtype=float)
            row[f"{metric}_mean"] = values.mean() if len(values) else np.nan
            row[f"{metric}_std"] = values.std(ddof=1) if len(values) > 1 else np.nan
            row[f"{metric}_pi_low"], row[f"{metric}_pi_high"] = prediction_interval(values, level) if len(values) else (np.nan, np.nan)
        for metric in METRICS:
            row[f"sound_{metric}_mean"] = ours[metric].mean() if len(ours) else np.nan
            row[f"sound_{metric}_std"] = ours[metric].std(ddof=1) if len(ours) > 1 else np.nan
        for metric in METRICS:
            row[f"thesis_{metric}"] = t[f"thesis_{metric}"]
        for metric in METRICS:
            value = t[f"thesis_{metric}"]
            low, high = row[f"{metric}_pi_low"], row[f"{metric}_pi_high"]
            row[f"thesis_in_replay_pi_{metric[3:]}"] = np.nan if pd.isna(value) or not np.isfinite(low) else bool(low <= value <= high)
        row["n_range_seeds"] = len(grid)
        for metric in METRICS:
            row[f"grid_{metric}_mean"] = grid[metric].mean() if len(grid) else np.nan
        for metric in METRICS:
            value, values = t[f"thesis_{metric}"], grid[metric].to_numpy(dtype=float)
            row[f"thesis_in_replay_range_{metric[3:]}"] = np.nan if pd.isna(value) or not len(values) else bool(values.min() <= value <= values.max())
        rows.append(row)
    return pd.DataFrame(rows)


def prediction_view(replay: pd.DataFrame) -> pd.DataFrame:
    """:func:`replay_f1`'s prediction intervals as a reader reads them: per row and subset, the thesis's number, the interval, inside or not.

    Columns ``model`` and, per subset, ``<subset>: thesis`` (the number, then ``in`` or ``out``:
    inside the interval or not) and ``<subset>: one run (95 %)`` (text ``a–b``); both empty where
    the thesis printed nothing.
    """
    needed = {"model"} | {f"{m}_pi_{b}" for m in METRICS for b in ("low", "high")} | {f"thesis_{m}" for m in METRICS}
    if not isinstance(replay, pd.DataFrame) or not needed <= set(replay.columns):
        raise ValueError(f"replay must be the DataFrame of replay_f1, with the columns {sorted(needed)}")
    out = pd.DataFrame({"model": replay["model"]})
    for metric in METRICS:
        name = label(metric[3:])
        printed = replay[f"thesis_{metric}"].notna() & replay[f"{metric}_pi_low"].notna()
        inside = (replay[f"{metric}_pi_low"] <= replay[f"thesis_{metric}"]) & (replay[f"thesis_{metric}"] <= replay[f"{metric}_pi_high"])
        out[f"{name}: thesis"] = [f"{t:.3f} {'in' if i else 'out'}" if p else "" for t, i, p in zip(replay[f"thesis_{metric}"], inside, printed)]
        out[f"{name}: one run (95 %)"] = [f"{lo:.3f}–{hi:.3f}" if p else "" for lo, hi, p in
                                          zip(replay[f"{metric}_pi_low"], replay[f"{metric}_pi_high"], printed)]
    return out


def headline(replay: pd.DataFrame, selected: dict | None = None) -> pd.DataFrame:
    """The thesis's F1 beside the book's protocol and the replay (means over seeds), one row per row of its table.

    The landing page's table: ``model``, and for clean, IP-noisy and DM-noisy test samples the
    columns ``<subset>: thesis``, ``<subset>: book``, ``<subset>: replay``. ``selected`` adds the
    configuration the book chose on validation as a last row: ``{"model": label, "f1_clean": …,
    "f1_ip_noisy": …, "f1_dm_noisy": …}`` (the book's numbers; the thesis printed none for it).
    """
    out = pd.DataFrame({"model": [m if m != "with" else f"with (ρ {r:g}, λ_c {c:g}, λ_e {e:g})" for m, r, c, e in
                                  zip(replay["model"], replay["rho"], replay["lambda_c"], replay["lambda_e"])]})
    for metric, subset in (("f1_clean", "clean"), ("f1_ip_noisy", "IP noisy"), ("f1_dm_noisy", "DM noisy")):
        out[f"{subset}: thesis"] = replay[f"thesis_{metric}"].to_numpy()
        out[f"{subset}: book"] = replay[f"sound_{metric}_mean"].to_numpy()
        out[f"{subset}: replay"] = replay[f"{metric}_mean"].to_numpy()
    if selected is not None:
        row = {"model": selected["model"]}
        for metric, subset in (("f1_clean", "clean"), ("f1_ip_noisy", "IP noisy"), ("f1_dm_noisy", "DM noisy")):
            row.update({f"{subset}: thesis": np.nan, f"{subset}: book": selected[metric], f"{subset}: replay": np.nan})
        out = pd.concat([out, pd.DataFrame([row])], ignore_index=True)
    return out.set_index("model").round(3)


def thesis_gap(replay: pd.DataFrame) -> pd.DataFrame:
    """Per test subset, and over all three (``metric`` = ``all``): how many thesis F1 numbers the replay's seed
    range and its prediction interval of one run hold, and how far each protocol sits from them.

    Columns ``metric, printed, inside_replay_range, inside_prediction_interval, replay_offset`` (mean signed replay − thesis),
    ``replay_distance`` and ``book_distance`` (mean absolute distance to the thesis's numbers).
    """
    def row(metric, metrics):
        thesis = replay[[f"thesis_{m}" for m in metrics]].to_numpy(dtype=float)
        ours, book = (replay[[f"{prefix}{m}_mean" for m in metrics]].to_numpy(dtype=float) for prefix in ("", "sound_"))
        inside = replay[[f"thesis_in_replay_range_{m[3:]}" for m in metrics]]
        in_pi = replay[[f"thesis_in_replay_pi_{m[3:]}" for m in metrics]]
        return {"metric": metric, "printed": int(np.isfinite(thesis).sum()), "inside_replay_range": int((inside == True).sum().sum()),  # noqa: E712
                "inside_prediction_interval": int((in_pi == True).sum().sum()),  # noqa: E712
                "replay_offset": float(np.nanmean(ours - thesis)), "replay_distance": float(np.nanmean(np.abs(ours - thesis))),
                "book_distance": float(np.nanmean(np.abs(book - thesis)))}

    return pd.DataFrame([row(m, [m]) for m in METRICS] + [row("all", list(METRICS))])


#: The groups of the thesis's rows in :func:`gap_explained`, in the table's order.
GAP_GROUPS = {"ip_only": "IP only", "dm_only": "DM only", "base": "base", "without": "data augmentation (without)",
              "alternative": "attention fusion (alternative)", "with": "EMMA (thesis top 10)"}


def gap_explained(replay: pd.DataFrame) -> pd.DataFrame:
    """How much closer to the thesis's numbers the replay of the code comes than the book's protocol, on absolute distances.

    For each group of the thesis's rows (:data:`GAP_GROUPS`; the ten EMMA rows together) and
    test subset, over the thesis numbers printed there:

    * ``mean_abs_book`` and ``mean_abs_replay``: the mean absolute differences ``|thesis − book|`` and ``|thesis − replay|``;
    * ``abs_difference``: their difference, book − replay (> 0: the replay comes closer);
    * ``closer`` and ``farther``: how many printed numbers the replay brings closer than the book's
      protocol, and how many it moves farther;
    * ``gap`` (thesis − book), ``closed`` (replay − book) and ``remaining`` (thesis − replay), signed means;
    * ``spread``: the replay's seed standard deviation, averaged over the rows;
    * ``share_closed``: closed / gap, given only where the book's gap exceeds the replay's seed
      spread (a share of a gap within the noise means nothing); ``share_note`` says why not otherwise.

    Rows ``all`` pool every group of a subset, and the last row pools everything.

    Parameters
    ----------
    replay : DataFrame
        :func:`replay_f1` (means and standard deviations over seeds).

    Examples
    --------
    >>> r = pd.DataFrame({"model": ["base"], **{f"{p}{m}{q}": [np.nan] for m in METRICS
    ...                   for p, q in (("thesis_", ""), ("sound_", "_mean"), ("", "_mean"), ("", "_std"))}})
    >>> r[["thesis_f1_clean", "sound_f1_clean_mean", "f1_clean_mean", "f1_clean_std"]] = [0.88, 0.80, 0.82, 0.01]
    >>> gap_explained(r).iloc[0][["mean_abs_book", "mean_abs_replay", "closer", "share_closed"]].astype(float).round(3).tolist()
    [0.08, 0.06, 1.0, 0.25]
    """
    needed = {"model"} | {f"{p}{m}{q}" for m in METRICS for p, q in (("thesis_", ""), ("sound_", "_mean"), ("", "_mean"), ("", "_std"))}
    if not isinstance(replay, pd.DataFrame) or not needed <= set(replay.columns):
        raise ValueError(f"replay must be the DataFrame of replay_f1, with the columns {sorted(needed)}")
    family = replay["model"].str.replace(r" \(thesis rank \d+\)", "", regex=True)
    long = []
    for metric in METRICS:
        long.append(pd.DataFrame({"group": family.map(GAP_GROUPS).fillna(family), "subset": metric[3:], "thesis": replay[f"thesis_{metric}"],
                                  "book": replay[f"sound_{metric}_mean"], "replay": replay[f"{metric}_mean"], "spread": replay[f"{metric}_std"]}))
    long = pd.concat(long, ignore_index=True).dropna(subset=["thesis", "book", "replay"])

    def summary(part, group, subset):
        gap, closed = (part["thesis"] - part["book"]).mean(), (part["replay"] - part["book"]).mean()
        to_book, to_replay = (part["thesis"] - part["book"]).abs(), (part["thesis"] - part["replay"]).abs()
        spread = part["spread"].mean()  # NaN with one seed: no spread to compare with
        shown = bool(np.isfinite(spread) and abs(gap) > spread)
        note = "" if shown else (f"the gap {gap:+.3f} lies within the replay's seed spread {spread:.3f}" if np.isfinite(spread)
                                 else "one seed: no spread to compare the gap with")
        return {"group": group, "subset": subset, "printed": len(part), "thesis": part["thesis"].mean(), "book": part["book"].mean(),
                "replay": part["replay"].mean(), "mean_abs_book": to_book.mean(), "mean_abs_replay": to_replay.mean(),
                "abs_difference": to_book.mean() - to_replay.mean(), "closer": int((to_replay < to_book).sum()),
                "farther": int((to_replay > to_book).sum()), "gap": gap, "closed": closed, "remaining": (part["thesis"] - part["replay"]).mean(),
                "spread": spread, "share_closed": closed / gap if shown else np.nan, "share_note": note}

    order = [g for g in GAP_GROUPS.values() if g in set(long["group"])]
    rows = [summary(long[(long["group"] == g) & (long["subset"] == m[3:])], g, m[3:]) for m in METRICS for g in order
            if ((long["group"] == g) & (long["subset"] == m[3:])).any()]
    rows += [summary(long[long["subset"] == m[3:]], "all", m[3:]) for m in METRICS]
    rows.append(summary(long, "all", "all"))
    return pd.DataFrame(rows)


def top10_side_by_side(ranked: pd.DataFrame, thesis: pd.DataFrame, n: int = 10) -> pd.DataFrame:
    """The replay's top ``n`` by the thesis's ranking rule (``rank_test``) beside the thesis's own top ``n``."""
    ours = ranked.sort_values("rank_test").head(n).reset_index(drop=True)
    theirs = thesis[thesis["model"] == "with"].sort_values("thesis_rank").head(n).reset_index(drop=True)
    index = pd.RangeIndex(max(len(ours), len(theirs)))
    out = pd.DataFrame({"rank": index + 1}, index=index)
    for c in ("rho", "lambda_c", "lambda_e"):
        out[f"replay_{c}"] = ours[c].reindex(index)
    out["replay_f1_noisy_test_mean"] = ours["f1_noisy_test_mean"].reindex(index)
    for c in ("rho", "lambda_c", "lambda_e"):
        out[f"thesis_{c}"] = theirs[c].reindex(index)
    keyed = ranked.set_index(["rho", "lambda_c", "lambda_e"])
    out["replay_rank_of_thesis_config"] = pd.Series([
        keyed.loc[k, "rank_test"] if k in keyed.index else np.nan for k in zip(theirs["rho"], theirs["lambda_c"], theirs["lambda_e"])
    ], dtype="Int64").reindex(index)  # a whole rank; empty where the grid lacks the configuration
    return out


def study_plan(seeds, configs, order=SWITCH_ORDER, *, confirm_seeds=(), replay_seeds=(), thesis_configs=None) -> pd.DataFrame:
    """The first stage of the study, shared by the chapters :doc:`Experiment II </book/chapters/06_robustness>` and "Explaining the thesis's numbers".

    On the grid's ``seeds``: every baseline under SOUND, ORIGINAL, every step of the
    decomposition and every variant of the forensic test (:func:`emma.experiments.forensics.variants`;
    they are cheap, and stacked they train in the time of a few), and the whole grid of ``with``
    under SOUND and ORIGINAL. On more seeds, what needs no choice made on the grid: every baseline
    under SOUND on ``confirm_seeds`` (the confirmation stage), and the thesis's printed rows under
    ORIGINAL on ``replay_seeds`` (its baselines and ``with`` at ``thesis_configs``, for the
    prediction interval of one run). Stacked beside the grid's models they cost little; trained
    apart, each small sweep pays the whole cost of its steps. Both chapters call it with the same
    arguments, so the second reads the first's models from the cache.
    """
    steps = [s["protocol"] for s in decomposition_steps(order=order)]
    baselines = list(dict.fromkeys([SOUND, ORIGINAL] + steps + variants()))
    frames = [plan(baselines, seeds, families=BASELINES), plan([SOUND, ORIGINAL], seeds, configs, families=("with",))]
    if len(confirm_seeds):
        frames.append(plan(SOUND, confirm_seeds, families=BASELINES))
    if len(replay_seeds):
        if thesis_configs is None:
            raise ValueError("replay_seeds needs thesis_configs (rho, lambda_c, lambda_e of the thesis's printed EMMA rows)")
        frames += [plan(ORIGINAL, replay_seeds, families=BASELINES), plan(ORIGINAL, replay_seeds, thesis_configs, families=("with",))]
    return pd.concat(frames, ignore_index=True)


class FirstStage(NamedTuple):
    """:func:`robustness_study`'s result: the autoencoders, the grid's seeds, and every model trained."""

    energies: dict  # (seed, fitted_on_corrupted) -> EnergyModels, for every seed of the stage
    study: dict  # family -> sweep result, the models of the grid's seeds only
    every: dict  # family -> sweep result, every model of the stage (the grid's seeds, the confirmation's and the replay's)


def robustness_study(splits, seeds, configs, settings, *, dae: DAESettings, order=SWITCH_ORDER, confirm_seeds=(), replay_seeds=(), thesis_configs=None,
                     device="cpu", cache_dir=None, progress=None, workers: int = 1) -> FirstStage:
    """The autoencoders and the first stage of the study (:func:`study_plan`), as both chapters train them.

    The autoencoders are fitted for every seed under both protocols, in one stack. ``study`` holds
    the grid's seeds only, so that every comparison on the grid pairs the same seeds; ``every``
    adds the confirmation's and the replay's (for :func:`emma.experiments.confirmation.confirmation_study`
    and :func:`replay_f1`).
    """
    every_seed = sorted({int(s) for s in (*seeds, *confirm_seeds, *replay_seeds)})
    energies = fit_study_energies(splits, every_seed, [SOUND, ORIGINAL], settings, dae=dae, device=device, cache_dir=cache_dir)
    models = study_plan(seeds, configs, order, confirm_seeds=confirm_seeds, replay_seeds=replay_seeds, thesis_configs=thesis_configs)
    every = run_study(splits, models, settings, energies=energies, device=device, cache_dir=cache_dir, progress=progress, workers=workers)
    return FirstStage(energies, restrict(every, seeds), every)


def waterfall(replay: pd.DataFrame, decomposition: pd.DataFrame, family: str, metric: str, thesis_row: str) -> pd.DataFrame:
    """The bars of one waterfall: thesis → replay (residual) → each cumulative switch → SOUND.

    The replay's bar is its mean over the grid's seeds (``grid_<metric>_mean`` of :func:`replay_f1`),
    the seeds the decomposition's switches are paired on, so that the bars end at the book's number.
    Returns ``label, start, delta, end`` per bar (the first and last are totals, start 0).
    """
    row = replay.set_index("model").loc[thesis_row]
    thesis = row[f"thesis_{metric}"]
    replayed = row[f"grid_{metric}_mean"] if f"grid_{metric}_mean" in row else row[f"{metric}_mean"]  # the seeds the switches are paired on
    bars = [{"label": "thesis", "start": 0.0, "delta": thesis}, {"label": "replay − thesis", "start": thesis, "delta": replayed - thesis}]
    level = replayed
    steps = decomposition[(decomposition["family"] == family) & (decomposition["step"] == "cumulative")]
    for _, s in steps.iterrows():
        bars.append({"label": s["switch"], "start": level, "delta": s[f"delta_{metric}_mean"]})
        level += s[f"delta_{metric}_mean"]
    bars.append({"label": "sound", "start": 0.0, "delta": level})
    out = pd.DataFrame(bars)
    out["end"] = out["start"] + out["delta"]
    return out
