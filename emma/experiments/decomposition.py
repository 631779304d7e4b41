"""The gap between the original code's protocol and the book's, decomposed field by field.

Start from :data:`~emma.engine.protocol.ORIGINAL`, switch one field at a time to its
:data:`~emma.engine.protocol.SOUND` value (*single*), then all of them one after another
(*cumulative*, the steps adding up to SOUND − ORIGINAL), and measure each switch's paired effect
over the seeds on every family's F1:

* :func:`second_stage`: what the decomposition and the forensic test need beyond the first stage
  (EMMA at two configurations under every step, at the thesis's ten under every variant of the
  code), trained and combined with it, and decomposed (:class:`Decomposition`);
* :func:`decomposition_plan`, :func:`decompose` and :func:`decomposition_view`: the plan, the
  paired effects and their view for reading;
* :func:`waterfalls`: every family's bars from the thesis's number through the replay to the
  book's (:func:`emma.experiments.replay.waterfall`);
* :func:`explain` and :func:`explanation`: the sentences that name the switches explaining most of the gap.

>>> d = pd.DataFrame({"switch": ["retrain", "potential"], "family": ["base", "base"], "step": ["single"] * 2,
...                   "delta_f1_clean_mean": [0.01, -0.05], "delta_f1_clean_std": [0.0, 0.0]})
>>> strongest_switch(d)["switch"]
'potential'
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from emma.engine.protocol import ORIGINAL, SOUND, SWITCH_ORDER, Protocol, decomposition_steps
from emma.experiments.forensics import variants as code_variants
from emma.experiments.replay import METRICS, config_scores, waterfall
from emma.experiments.robustness import Trained
from emma.experiments.study import combine, plan, run_study, unseen
from emma.util.display import label

#: The families of the decomposition: the baselines the thesis beats, and two EMMA configurations.
DECOMPOSITION_FAMILIES = ("base", "without", "alternative", "with (thesis rank 1)", "with (selected)")
#: The families of the waterfall figure, each also a row of the thesis's table (:func:`emma.experiments.replay.replay_f1`).
WATERFALL_FAMILIES = ("base", "without", "alternative", "with (thesis rank 1)")


def decomposition_plan(steps, seeds, rank1: dict, selected: dict) -> pd.DataFrame:
    """The second stage: ``with`` at two configurations under every step protocol (the baselines are in :func:`study_plan`).

    ``selected`` maps a selection rule ("validation", "test") to the configuration it picked
    on the full grid of the endpoint protocol that uses it; a step takes its own rule's pick.
    """
    frames = []
    for protocol in list(dict.fromkeys([ORIGINAL, SOUND] + [s["protocol"] for s in steps])):
        configs = pd.DataFrame([rank1, selected[protocol.selection]]).drop_duplicates()
        frames.append(plan(protocol, seeds, configs, families=("with",)))
    return pd.concat(frames, ignore_index=True)


def _family_scores(study: dict, protocol: Protocol, family: str, rank1: dict, selected: dict) -> pd.DataFrame:
    if family == "with (thesis rank 1)":
        return config_scores(study["with"], protocol, **rank1)
    if family == "with (selected)":
        return config_scores(study["with"], protocol, **selected[protocol.selection])
    return config_scores(study[family], protocol)


def decompose(study: dict, steps, rank1: dict, selected: dict, families=DECOMPOSITION_FAMILIES) -> pd.DataFrame:
    """Paired effects over seeds of each switch on each family's F1.

    ``single``: F1 with only that field switched to SOUND minus F1 under ORIGINAL.
    ``cumulative``: F1 after switching the fields up to this one minus F1 before it; these
    deltas add up to SOUND − ORIGINAL.

    Returns
    -------
    DataFrame
        ``switch, family, step``, and ``delta_<metric>_mean`` / ``delta_<metric>_std`` per metric.
    """
    rows = []
    previous = ORIGINAL
    for step in steps:
        reference = ORIGINAL if step["step"] == "single" else previous
        for family in families:
            now = _family_scores(study, step["protocol"], family, rank1, selected).sort_values("seed")
            then = _family_scores(study, reference, family, rank1, selected).sort_values("seed")
            if list(now["seed"]) != list(then["seed"]) or not len(now):
                raise ValueError(f"{family}: the decomposition needs the same seeds under {step['protocol'].label()} and {reference.label()}")
            row = {"switch": step["switch"], "family": family, "step": step["step"]}
            for metric in METRICS:
                diff = now[metric].to_numpy(dtype=float) - then[metric].to_numpy(dtype=float)
                row[f"delta_{metric}_mean"] = diff.mean()
                row[f"delta_{metric}_std"] = diff.std(ddof=1) if len(diff) > 1 else np.nan
            rows.append(row)
        if step["step"] == "cumulative":
            previous = step["protocol"]
    return pd.DataFrame(rows)


def decomposition_view(decomposition: pd.DataFrame, step: str, metric: str = "f1_clean") -> pd.DataFrame:
    """The decomposition for reading: one row per switch, one column per family, "mean ± std" of ``metric``'s change.

    >>> d = pd.DataFrame({"switch": ["retrain"], "family": ["base"], "step": ["single"], "delta_f1_clean_mean": [0.0123], "delta_f1_clean_std": [0.004]})
    >>> decomposition_view(d, "single").loc["retrain", "base"]
    '+0.012 ± 0.004'
    """
    if step not in ("single", "cumulative"):
        raise ValueError(f"step must be 'single' or 'cumulative', got {step!r}")
    if f"delta_{metric}_mean" not in decomposition:
        raise ValueError(f"metric must be one of {list(METRICS)}, got {metric!r}")
    part = decomposition[decomposition["step"] == step]
    text = [f"{m:+.3f}" + (f" ± {sd:.3f}" if pd.notna(sd) else "") for m, sd in zip(part[f"delta_{metric}_mean"], part[f"delta_{metric}_std"])]
    view = part.assign(change=text).pivot(index="switch", columns="family", values="change")
    return view.loc[list(dict.fromkeys(part["switch"])), list(dict.fromkeys(part["family"]))].rename_axis(index=None, columns=None)


def explain(replay: pd.DataFrame, decomposition: pd.DataFrame, metric: str = "f1_clean", top: int = 2) -> list[str]:
    """Sentences, one per family, naming the cumulative switches that move ``metric`` most and the replay's residual."""
    lines = []
    rows = {"base": "base", "without": "without", "alternative": "alternative", "with (thesis rank 1)": "with (thesis rank 1)"}
    for family in decomposition["family"].unique():
        steps = decomposition[(decomposition["family"] == family) & (decomposition["step"] == "cumulative")]
        total = steps[f"delta_{metric}_mean"].sum()
        biggest = steps.reindex(steps[f"delta_{metric}_mean"].abs().sort_values(ascending=False).index).head(top)
        named = ", ".join(f"`{r['switch']}` ({r[f'delta_{metric}_mean']:+.3f})" for _, r in biggest.iterrows())
        text = f"- **{family}**: from the replay to the book's protocol, {label(metric)} moves by {total:+.3f}; most of it comes from {named}"
        if family in rows and rows[family] in set(replay["model"]):
            r = replay.set_index("model").loc[rows[family]]
            if pd.notna(r[f"thesis_{metric}"]) and pd.notna(r[f"{metric}_mean"]):
                text += (f". The replay itself sits {r[f'{metric}_mean'] - r[f'thesis_{metric}']:+.3f} from the thesis's "
                         f"{r[f'thesis_{metric}']:.4f} (thesis number {'inside' if r[f'thesis_in_replay_pi_{metric[3:]}'] == True else 'outside'} "  # noqa: E712
                         "the prediction interval of one replayed run)")
        lines.append(text + ".")
    return lines


@dataclass
class Decomposition:
    """The second stage (:func:`second_stage`): the configurations it decomposes, the steps, every model, and the effects.

    ``rank1`` is the thesis's first configuration (or, when the grid lacks it, the replay's own
    rank 1, and ``note`` says so); ``selected`` each selection rule's pick; ``studies`` the first
    stage's models and the second's, combined; ``table`` :func:`decompose`'s effects (saved as
    ``protocol_decomposition``).
    """

    rank1: dict
    selected: dict
    steps: list
    studies: dict
    table: pd.DataFrame
    note: str = ""

    def view(self, step: str, metric: str = "f1_clean") -> pd.DataFrame:
        """The effects of the ``single`` or ``cumulative`` switches on ``metric``, for reading (:func:`decomposition_view`)."""
        return decomposition_view(self.table, step, metric)


def second_stage(trained: Trained, selected: dict, thesis_configs: pd.DataFrame, *, order=SWITCH_ORDER, variants=None) -> Decomposition:
    """Train what the decomposition and the forensic test need beyond the first stage, and decompose the gap.

    Parameters
    ----------
    trained : Trained
        The first stage (:func:`emma.experiments.robustness.train`); its models are read, not trained again.
    selected : dict
        ``{"test": config, "validation": config}``: each protocol's pick on its full grid.
    thesis_configs : DataFrame
        The thesis's ten configurations in its ranking's order (:func:`emma.claims.thesis.thesis_configs`);
        the first is the decomposition's ``with (thesis rank 1)``.
    order : sequence of str
        The order of the cumulative switches (:func:`emma.engine.protocol.decomposition_steps`).
    variants : list of Protocol, optional
        The variants of the code under which EMMA trains at the thesis's ten configurations (default every one,
        :func:`emma.experiments.forensics.variants`).
    """
    if not isinstance(trained, Trained):
        raise TypeError(f"trained must be the Trained of emma.experiments.robustness.train, got {type(trained).__name__}")
    if not isinstance(selected, dict) or set(selected) != {"test", "validation"}:
        raise ValueError(f"selected must map 'test' and 'validation' to a configuration, got {selected!r}")
    if not isinstance(thesis_configs, pd.DataFrame) or not len(thesis_configs) or not {"rho", "lambda_c", "lambda_e"} <= set(thesis_configs):
        raise ValueError("thesis_configs must be a non-empty DataFrame of rho, lambda_c, lambda_e (emma.claims.thesis.thesis_configs)")
    rank1 = {k: float(thesis_configs[k].iloc[0]) for k in ("rho", "lambda_c", "lambda_e")}
    note = ""
    if not trained.configs.apply(lambda r: all(np.isclose(r[k], rank1[k]) for k in rank1), axis=1).any():
        rank1 = dict(selected["test"])  # a grid without the thesis's rank 1 (quick profile)
        note = "the thesis's rank-1 configuration is not in this grid; the replay's own rank 1 stands in for it"
    steps = decomposition_steps(order=order)
    emma_variants = code_variants() if variants is None else list(variants)
    models = unseen(pd.concat([decomposition_plan(steps, trained.seeds, rank1, selected),
                               plan(emma_variants, trained.seeds, thesis_configs, families=("with",))], ignore_index=True), trained.study)
    second = run_study(trained.splits, models, trained.settings, energies=trained.energies, base=trained.study["base"], device=trained.device,
                       cache_dir=trained.cache_dir, workers=trained.workers)
    studies = combine(trained.study, {f: r for f, r in second.items() if f == "with"})  # the grid's models and the new ones
    return Decomposition(rank1, selected, steps, studies, decompose(studies, steps, rank1, selected), note)


def strongest_switch(decomposition: pd.DataFrame) -> pd.Series:
    """The row of the single switch that moves a clean F1 most, over every family (largest absolute mean change)."""
    if not isinstance(decomposition, pd.DataFrame) or not {"step", "switch", "family", "delta_f1_clean_mean"} <= set(decomposition):
        raise ValueError("decomposition must be the table of decompose")
    single = decomposition[decomposition["step"] == "single"]
    return single.assign(size=single["delta_f1_clean_mean"].abs()).sort_values("size", ascending=False).iloc[0]


def waterfalls(replay: pd.DataFrame, decomposition: pd.DataFrame) -> pd.DataFrame:
    """The bars of every waterfall (:func:`emma.experiments.replay.waterfall`), per family of :data:`WATERFALL_FAMILIES` the
    decomposition holds and per metric: ``label, start, delta, end, family, metric`` (saved as ``protocol_waterfall``)."""
    families = [f for f in WATERFALL_FAMILIES if f in set(decomposition["family"])]
    return pd.concat([waterfall(replay, decomposition, family, metric, family).assign(family=family, metric=metric)
                      for family in families for metric in METRICS], ignore_index=True)


def explanation(replay: pd.DataFrame, decomposition: pd.DataFrame, gap: pd.DataFrame) -> str:
    """What explains the gap, as Markdown: per test subset the switches that move each family most (:func:`explain`), what the
    protocol does not explain (``gap``: :func:`emma.experiments.replay.thesis_gap`), and the strongest single switch."""
    lines = ["**Clean test samples.**"] + explain(replay, decomposition, "f1_clean")
    lines += ["", "**IP-noisy test samples.**"] + explain(replay, decomposition, "f1_ip_noisy")
    lines += ["", "**DM-noisy test samples.**"] + explain(replay, decomposition, "f1_dm_noisy")
    lines += ["", "**What the protocol does not explain.** " + "; ".join(
        f"on {label(g.metric[3:])} samples, {g.inside_prediction_interval} of {g.printed} thesis numbers lie in the "
        f"prediction interval of one replayed run and the replay sits {g.replay_offset:+.3f} from the thesis on average"
        for g in gap[gap["metric"] != "all"].itertuples()) + "."]
    strongest = strongest_switch(decomposition)
    lines += ["", f"Switched alone, the field that moves a clean F1 most is `{strongest['switch']}` ({strongest['family']}: "
              f"{strongest['delta_f1_clean_mean']:+.3f} from the replay)."]
    return "\n".join(lines)
