"""EMMA judged under every decision rule: three thresholds and two threshold-free metrics.

F1 needs a threshold, and the threshold rule shapes every F1 of the robustness study: on a
set with 9 % pulsars, the thesis's ROC-corner rule trades many false positives for recall.
This module scores the same trained models under

* three thresholds: the ROC corner (the thesis's rule), a fixed 0.5 (the default the original
  code's models keep unless that rule overrides it), and the F1-optimal one on validation, all
  chosen before any retraining (:meth:`emma.engine.sweep.SweepEngine.fit`);
* two threshold-free metrics of the predicted probabilities: the area under the ROC curve
  (:func:`sklearn.metrics.roc_auc_score`) and the average precision
  (:func:`sklearn.metrics.average_precision_score`),

and judges each comparison of the thesis once per rule (:func:`rule_verdicts`). A claim
reproduced under the thesis's rule but not under another is *rule-dependent*
(:func:`combine_rules`).
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import torch
from sklearn.metrics import average_precision_score, roc_auc_score

from emma.claims.registry import lookup, min_effect
from emma.claims.rules import INCONCLUSIVE, REPRODUCED, RULE_DEPENDENT, VERDICTS, holm, non_inferiority, paired_test
from emma.engine.configs import TrainSettings
from emma.engine.evaluation import config_rows, model_outputs, select
from emma.engine.results import SweepResult
from emma.engine.streams import corrupted_split
from emma.engine.training import SUBSETS

#: The decision rules, in the order tables and figures show them, with their labels.
RULES = {
    "roc_corner": "ROC corner (thesis)",
    "fixed": "fixed 0.5 (code's default)",
    "f1_validation": "F1-optimal on validation",
    "auroc": "AUROC (no threshold)",
    "ap": "average precision (no threshold)",
}
#: The rules that need a threshold; their scores are the sweep table's ``f1_<subset>_at_<rule>``.
THRESHOLD_RULES = ("roc_corner", "fixed", "f1_validation")
#: The thesis's comparisons of EMMA (``with``) with a baseline: (claim id, baseline, subset, test).
#: ``subset`` "noisy" is the mean of the IP-noisy and DM-noisy scores; the test is "beats"
#: (:func:`emma.claims.rules.paired_test` against the claim's registered minimum effect) or "keeps"
#: (:func:`emma.claims.rules.non_inferiority`, margin = −the registered minimum).
COMPARISONS = (
    ("beats_augmentation_ip", "without", "ip_noisy", "beats"),
    ("beats_augmentation_dm", "without", "dm_noisy", "beats"),
    ("keeps_clean_accuracy", "base", "clean", "keeps"),
    ("beats_alternative", "alternative", "noisy", "beats"),
    ("beats_base_noisy", "base", "noisy", "beats"),
)
#: The thesis's own decision rule: a claim is *reproduced* only if it holds under it and every other rule.
THESIS_RULE = "roc_corner"


@torch.no_grad()
def threshold_free(result: SweepResult, splits, *, energies=None) -> pd.DataFrame:
    """AUROC and average precision of every model of a sweep on each test subset, each subset one call.

    The models see the corrupted test set they are scored on in the sweep's table (the
    seed's draw), and batch-coupled potentials couple the rows of each subset, as
    :func:`emma.engine.evaluation.score_on_test` does.

    Returns
    -------
    DataFrame
        One row per model: ``seed`` and ``auroc_<subset>``, ``ap_<subset>`` for clean,
        IP-noisy and DM-noisy samples.
    """
    table = result.table
    settings = TrainSettings(**result.settings)
    seeds = table["seed"].tolist()
    draws = {s: corrupted_split(splits, "test", s, settings) for s in set(seeds)}
    masks = torch.stack([draws[s][1] for s in seeds])  # (K, n, 2)
    prob, _ = model_outputs(result, torch.stack([draws[s][0] for s in seeds]), energies, groups=masks[..., 0].long() + 2 * masks[..., 1].long())
    y = splits.test.y.cpu().numpy().astype(int)
    rows = []
    for k in range(len(table)):
        row = {"seed": int(seeds[k])}
        for name, (ip, dm) in SUBSETS.items():
            rows_k = (masks[k, :, 0].numpy() == ip) & (masks[k, :, 1].numpy() == dm)
            p = prob[k].numpy()[rows_k]
            row[f"auroc_{name}"] = float(roc_auc_score(y[rows_k], p))
            row[f"ap_{name}"] = float(average_precision_score(y[rows_k], p))
        rows.append(row)
    return pd.DataFrame(rows)


def comparison_families(sweeps: dict, selected: dict, top10) -> dict:
    """The models :func:`rule_scores` compares under one protocol.

    Parameters
    ----------
    sweeps : dict of family to sweep result
        Every family under the protocol (:func:`emma.experiments.study.under`), ``with`` over the grid.
    selected : dict
        The sub-sweep of the configuration the protocol selects, one model per seed.
    top10 : DataFrame
        ``rho, lambda_c, lambda_e`` of the thesis's top 10 (those in the grid are kept), or of its first row alone.

    Returns
    -------
    dict
        ``base``, ``without``, ``alternative``, ``with (selected)`` and, when the grid holds
        any of them, ``with (thesis top 10)`` (averaged per seed by :func:`rule_scores`), or
        ``with (thesis rank 1)`` when ``top10`` has one row.
    """
    out = {family: sweeps[family] for family in ("base", "without", "alternative")}
    out["with (selected)"] = selected
    rows = [i for c in top10[["rho", "lambda_c", "lambda_e"]].itertuples(index=False) for i in config_rows(sweeps["with"], *c)]
    if rows:
        out["with (thesis rank 1)" if len(top10) == 1 else "with (thesis top 10)"] = select(sweeps["with"], rows)
    return out


def rule_scores(results: dict, splits, *, energies=None, protocol: str = "") -> pd.DataFrame:
    """Every family's score on every test subset under every rule of :data:`RULES`, per seed.

    Parameters
    ----------
    results : dict of family to sweep result
        Each already scored under one protocol (:func:`emma.experiments.study.under`). A family with
        several models per seed (e.g. the thesis's top 10 configurations) is averaged over
        them, seed by seed.
    energies : EnergyModels or dict
        For the ``with`` families (any family whose sweep's ``family`` is ``with``).
    protocol : str
        A label copied into the ``protocol`` column.

    Returns
    -------
    DataFrame
        Long format: ``protocol, family, seed, subset, rule, score``; ``subset`` is clean,
        ip_noisy, dm_noisy or noisy (the mean of the two noisy subsets).
    """
    if not isinstance(results, dict) or not results:
        raise ValueError("results must be a non-empty dict of family name to sweep result")
    frames = []
    for family, result in results.items():
        table = result.table.reset_index(drop=True)
        free = threshold_free(result, splits, energies=energies if result.family == "with" else None)
        wide = pd.DataFrame({"seed": table["seed"].astype(int)})
        for rule in THRESHOLD_RULES:
            for subset in SUBSETS:
                wide[f"{rule}:{subset}"] = table[f"f1_{subset}_at_{rule}"].to_numpy(dtype=float)
        for rule in ("auroc", "ap"):
            for subset in SUBSETS:
                wide[f"{rule}:{subset}"] = free[f"{rule}_{subset}"].to_numpy()
        wide = wide.groupby("seed").mean()  # several configurations per seed: their mean
        for rule in RULES:
            wide[f"{rule}:noisy"] = (wide[f"{rule}:ip_noisy"] + wide[f"{rule}:dm_noisy"]) / 2
        long = wide.reset_index().melt(id_vars="seed", var_name="key", value_name="score")
        long[["rule", "subset"]] = long["key"].str.split(":", expand=True)
        frames.append(long.drop(columns="key").assign(family=family, protocol=protocol))
    out = pd.concat(frames, ignore_index=True)
    return out[["protocol", "family", "seed", "subset", "rule", "score"]]


#: The robustness-generalisation claim (:func:`emma.experiments.verdicts.robustness_claims`), judged per rule on the curves.
GENERALISATION_CLAIM = "generalises_past_training"
#: The curve column of each rule (:func:`emma.engine.evaluation.generalisation_curves`).
CURVE_COLUMNS = {"roc_corner": "f1_at_roc_corner", "fixed": "f1_at_fixed", "f1_validation": "f1_at_f1_validation", "auroc": "auroc", "ap": "ap"}


def past_training(curves: pd.DataFrame, training_nsr_db: float, column: str = "f1") -> pd.Series:
    """Per seed, ``column`` of generalisation curves averaged over the NSR levels above ``training_nsr_db`` (and both modes)."""
    beyond = curves[curves["nsr_db"] > training_nsr_db + 1e-6]
    return beyond.groupby("seed")[column].mean().sort_index()


def past_training_noise(curves: pd.DataFrame, rule: str, training_nsr_db: float) -> dict[str, pd.Series]:
    """Per seed, ``with``'s and ``without``'s score under ``rule``, averaged over the NSR levels above the training NSR and both modes."""
    return {family: past_training(curves[curves["family"] == family], training_nsr_db, CURVE_COLUMNS[rule]) for family in ("with", "without")}


def rule_verdicts(scores: pd.DataFrame, *, emma: str = "with (selected)", comparisons=COMPARISONS, alpha: float = 0.05,
                  curves: pd.DataFrame | None = None, training_nsr_db: float | None = None) -> pd.DataFrame:
    """Each comparison of :data:`COMPARISONS` judged under each rule, with Holm's correction within each rule.

    Parameters
    ----------
    scores : DataFrame
        :func:`rule_scores` of one protocol, holding the family ``emma`` and every baseline named.
    alpha : float
        Level of each test; the minimum effect (or, for "keeps", the margin) is the claim's registered one.
    curves : DataFrame, optional
        :func:`emma.engine.evaluation.study_curves` of the same protocol, with every rule's columns: then
        :data:`GENERALISATION_CLAIM` is judged under each rule too, past ``training_nsr_db``.

    Returns
    -------
    DataFrame
        ``claim`` (its id), ``rule, baseline, subset``, the evidence columns of :meth:`emma.claims.rules.PairedTest.row`,
        ``p_holm, verdict, evidence`` (one row per claim and rule).
    """
    needed = {"family", "seed", "subset", "rule", "score"}
    if not isinstance(scores, pd.DataFrame) or not needed <= set(scores.columns):
        raise ValueError(f"scores must be the DataFrame of rule_scores, with the columns {sorted(needed)}")
    missing = sorted(({emma} | {c[1] for c in comparisons}) - set(scores["family"]))
    if missing:
        raise ValueError(f"scores has no family {missing}; it holds {sorted(set(scores['family']))}")
    frames = []
    for rule in [r for r in RULES if r in set(scores["rule"])]:
        rows = []
        for claim, baseline, subset, kind in comparisons:
            part = scores[(scores["rule"] == rule) & (scores["subset"] == subset)]
            ours = part[part["family"] == emma].set_index("seed")["score"]
            theirs = part[part["family"] == baseline].set_index("seed")["score"]
            common = ours.index.intersection(theirs.index)
            test = (paired_test(ours[common], theirs[common], min_effect=min_effect(claim), alpha=alpha) if kind == "beats"
                    else non_inferiority(ours[common], theirs[common], -min_effect(claim), alpha=alpha))
            rows.append({"claim": claim, "rule": rule, "baseline": baseline, "subset": subset, **_columns(test)})
        if curves is not None:
            past = past_training_noise(curves, rule, training_nsr_db)
            test = paired_test(past["with"], past["without"], min_effect=min_effect(GENERALISATION_CLAIM), alpha=alpha)
            rows.append({"claim": GENERALISATION_CLAIM, "rule": rule, "baseline": "without", "subset": "past the training NSR", **_columns(test)})
        judged = pd.DataFrame(rows)
        judged["p_holm"] = holm(judged["p_value"].to_numpy(dtype=float))  # the rule's tests are one family
        downgrade = (judged["verdict"] == REPRODUCED) & (judged["p_holm"] >= alpha)
        judged.loc[downgrade, "verdict"] = INCONCLUSIVE
        frames.append(judged)
    out = pd.concat(frames, ignore_index=True)
    return out[["claim", "rule", "baseline", "subset", "effect", "ci_low", "ci_high", "n_seeds", "min_effect", "detectable_effect", "p_value", "p_holm",
                "verdict", "evidence"]]


def _columns(test) -> dict:
    return {"effect": test.effect, "ci_low": test.ci_low, "ci_high": test.ci_high, "n_seeds": test.n, "min_effect": test.min_effect,
            "detectable_effect": test.detectable_effect, "p_value": test.p_value, "verdict": test.verdict, "evidence": test.describe()}


def combine_rules(per_rule: pd.DataFrame) -> pd.DataFrame:
    """One verdict per claim over every rule of :func:`rule_verdicts`.

    *reproduced* when it is reproduced under the thesis's rule (:data:`THESIS_RULE`) and under
    every other; *rule-dependent* when it is reproduced under the thesis's rule but not under at
    least one other; otherwise the thesis's rule's own verdict (*inconclusive* or *not
    reproduced*), whatever other rules say. ``holds_under`` names the rules under which it is
    reproduced.

    Returns
    -------
    DataFrame
        ``claim``, ``verdict_<rule>`` per rule, ``verdict`` and ``holds_under`` (the labels of
        the rules under which it is reproduced, or "no rule").

    Examples
    --------
    >>> t = pd.DataFrame({"claim": ["c", "c"], "rule": ["roc_corner", "auroc"], "verdict": ["reproduced", "inconclusive"]})
    >>> combine_rules(t)[["verdict", "holds_under"]].values.tolist()
    [['rule-dependent', 'ROC corner (thesis)']]
    """
    if not isinstance(per_rule, pd.DataFrame) or not {"claim", "rule", "verdict"} <= set(per_rule.columns):
        raise ValueError("per_rule must be the DataFrame of rule_verdicts (claim, rule, verdict)")
    rows = []
    for claim, part in per_rule.groupby("claim", sort=False):
        verdicts = dict(zip(part["rule"], part["verdict"]))
        if THESIS_RULE not in verdicts:
            raise ValueError(f"claim {claim!r} is not judged under the thesis's rule {THESIS_RULE!r}")
        holds = [RULES[r] for r, v in verdicts.items() if v == REPRODUCED]
        thesis = verdicts[THESIS_RULE]
        overall = thesis if thesis != REPRODUCED else REPRODUCED if len(holds) == len(verdicts) else RULE_DEPENDENT
        rows.append({"claim": claim, **{f"verdict_{r}": v for r, v in verdicts.items()}, "verdict": overall,
                     "holds_under": ", ".join(holds) if holds else "no rule"})
    return pd.DataFrame(rows)


@dataclass
class DecisionStudy:
    """Every comparison under every rule, for each protocol (:func:`decision_study`)."""

    scores: pd.DataFrame  # rule_scores of every protocol, long format
    summary: pd.DataFrame  # rule_summary: mean and std over seeds
    per_rule: pd.DataFrame  # rule_verdicts of every protocol, with a ``protocol`` column
    combined: dict  # protocol -> combine_rules

    def view(self, protocol: str = "sound", subset: str = "noisy") -> pd.DataFrame:
        """One row per family, one column per rule (its label): the mean score over seeds on ``subset``."""
        part = self.summary[(self.summary["protocol"] == protocol) & (self.summary["subset"] == subset)]
        table = part.pivot_table(index="family", columns="rule", values="mean", sort=False)
        return table[[r for r in RULES if r in table.columns]].rename(columns=RULES).rename_axis(index=None, columns=None)

    def verdicts(self) -> pd.DataFrame:
        """One row per comparison: its verdict over every rule and where it holds, under each protocol."""
        frames = [table.set_index("claim")[["verdict", "holds_under"]]
                  .rename(columns={"verdict": f"verdict ({label})", "holds_under": f"holds under ({label})"})
                  for label, table in self.combined.items()]
        out = pd.concat(frames, axis=1).reset_index()
        out["claim"] = [lookup(c).claim for c in out["claim"]]  # the claim's words, not its id
        return out


def decision_study(protocols: dict, splits, *, energies, top10, alpha: float = 0.05, curves: dict | None = None,
                   training_nsr_db: float | None = None) -> DecisionStudy:
    """Score and judge every comparison of :data:`COMPARISONS` under every rule, for each protocol.

    Parameters
    ----------
    protocols : dict
        ``{label: (sweeps, selected)}``: each protocol's family sweeps (:func:`emma.experiments.study.under`)
        and its selected EMMA configuration, one model per seed.
    top10 : DataFrame or dict of label to DataFrame
        ``rho, lambda_c, lambda_e`` of the thesis's top 10 (:func:`comparison_families`), or one table per protocol.
    alpha
        As :func:`rule_verdicts`.
    curves : dict, optional
        ``{label: study_curves of that protocol}``, to judge :data:`GENERALISATION_CLAIM` per rule.
    """
    tops = top10 if isinstance(top10, dict) else {label: top10 for label in protocols}
    scores = pd.concat([rule_scores(comparison_families(sweeps, selected, tops[label]), splits, energies=energies, protocol=label)
                        for label, (sweeps, selected) in protocols.items()], ignore_index=True)
    per_rule = {label: rule_verdicts(scores[scores["protocol"] == label], alpha=alpha, training_nsr_db=training_nsr_db,
                                     curves=None if curves is None else curves[label]) for label in protocols}
    return DecisionStudy(scores, rule_summary(scores), pd.concat([v.assign(protocol=label) for label, v in per_rule.items()], ignore_index=True),
                         {label: combine_rules(v) for label, v in per_rule.items()})


def worst(*verdicts: str) -> str:
    """The least favourable of some verdicts.

    >>> worst("reproduced", "rule-dependent")
    'rule-dependent'
    """
    return VERDICTS[max(VERDICTS.index(v) for v in verdicts)]


def judge_claims_under_rules(claims: pd.DataFrame, combined: dict) -> pd.DataFrame:
    """A chapter's claims table with each rule's verdict of the claims :func:`combine_rules` judged.

    Parameters
    ----------
    claims : DataFrame
        :func:`emma.experiments.verdicts.both_protocols`' table (``verdict_sound``, ``verdict_original``).
    combined : dict
        ``{"sound": combine_rules(...), "original": combine_rules(...)}``.

    Returns
    -------
    DataFrame
        A copy where each judged claim's ``verdict_<protocol>`` is the worse of its own and the
        combination over rules (so at most *rule-dependent* when a rule fails), with
        ``<protocol>_<rule>`` verdicts and ``holds_under_<protocol>``; ``verdict`` follows
        ``verdict_sound``. Claims not compared under rules get "—" in those columns.
    """
    out = claims.copy()
    for protocol, table in combined.items():
        if f"verdict_{protocol}" not in out.columns:
            raise ValueError(f"claims has no column verdict_{protocol}")
        keyed = table.set_index("claim")
        unknown = sorted(set(keyed.index) - set(out["id"]))
        if unknown:
            raise ValueError(f"the rules judged claims the table does not hold: {unknown}")
        hit = out["id"].isin(keyed.index) & (out[f"verdict_{protocol}"] != "—")
        out.loc[hit, f"verdict_{protocol}"] = [worst(v, keyed.loc[c, "verdict"]) for c, v in zip(out.loc[hit, "id"], out.loc[hit, f"verdict_{protocol}"])]
        out[f"holds_under_{protocol}"] = [keyed.loc[c, "holds_under"] if c in keyed.index else "—" for c in out["id"]]
        for rule in RULES:
            if f"verdict_{rule}" in keyed.columns:
                out[f"{protocol}_{rule}"] = [keyed.loc[c, f"verdict_{rule}"] if c in keyed.index else "—" for c in out["id"]]
    out["verdict"] = out["verdict_sound"]
    return out


def rule_summary(scores: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard deviation over seeds of every (protocol, family, subset, rule): the table behind the figure."""
    out = scores.groupby(["protocol", "family", "subset", "rule"], sort=False)["score"].agg(["mean", "std", "count"]).reset_index()
    return out.rename(columns={"count": "n_seeds"})


def survives(combined: pd.DataFrame, claims=COMPARISONS[:2]) -> dict:
    """Whether EMMA's edge over data augmentation (the first two comparisons) holds under each rule.

    Returns ``{"all": bool, "rules": [labels of the rules under which both hold]}``.
    """
    rows = combined.set_index("claim").loc[[c[0] for c in claims]]
    rules = [r for r in RULES if f"verdict_{r}" in rows.columns and (rows[f"verdict_{r}"] == REPRODUCED).all()]
    return {"all": len(rules) == sum(f"verdict_{r}" in rows.columns for r in RULES), "rules": [RULES[r] for r in rules]}

