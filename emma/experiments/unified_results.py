"""The chapter :doc:`A unified model </book/chapters/08_unified_model>` in a few calls, each returning a typed result.

* :func:`parameter_counts`: the parts of the full model and their trainable parameters;
* :func:`make_tasks`: the synthetic task of :func:`emma.experiments.unified_study.make_task`, one per seed;
* :func:`run_ablation`: the eight combinations of the parts on every seed, their accuracy, what they attend to and the
  tests of the full model against the others (:class:`Ablation`);
* :func:`compare_on_htru2`: the best combination against EMMA alone on HTRU2 (:class:`HTRU2Comparison`);
* :func:`claims` and :func:`findings`: the chapter's claims, judged, and its verdicts as a list.

The model is :mod:`emma.experiments.unified`, the experiments' machinery :mod:`emma.experiments.unified_study`, the
figures :mod:`emma.experiments.unified_figures`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import pandas as pd
import torch

from emma.claims.registry import min_effect
from emma.claims.rules import paired_test
from emma.data.splits import make_splits
from emma.engine.autoencoders import DAESettings, check_dae
from emma.engine.energy import fit_htru2_energy_models
from emma.experiments import unified, unified_study
from emma.method.autoencoder import DenoisingAutoencoder
from emma.util import checks
from emma.util.tables import over_seeds

#: The score columns of the ablation's tables.
ACCURACY = ["acc_clean", "acc_corrupted"]
WEIGHTS = ["beta_clean", "beta_corrupted", "mask_signal", "mask_other", "cross_to_needed", "cross_to_needed_uniform"]
F1 = ["f1_clean", "f1_ip_noisy", "f1_dm_noisy", "f1_noisy"]
#: EMMA alone, the reference arm on HTRU2, and the full model.
EMMA_ALONE = dict(exogenous=True, endogenous=False, crossmodal=False)
FULL = dict(exogenous=True, endogenous=True, crossmodal=True)
#: The settings of HTRU2's per-mode autoencoders in :func:`compare_on_htru2` (one pair, seed 0, shared by both arms): 12
#: hidden units, corruption σ = 0.01, 3 epochs of batches of 256, Adam at 10⁻².
HTRU2_DAE = DAESettings(d_hidden=12, noise_std=0.01, epochs=3, batch_size=256, lr=1e-2)


def _check(value, cls, name: str):
    if not isinstance(value, cls):
        raise TypeError(f"{name} must be of type {cls.__name__} (from emma.experiments.unified_results), got {type(value).__name__}")
    return value


def _all_on(table: pd.DataFrame) -> pd.Series:
    return table[list(unified.PARTS)].all(axis=1)


def parameter_counts(widths: Sequence[int], *, n_factors: int, corrupted_fraction: float, corruption_std: float, dae: DAESettings,
                     seed: int = 0, device="cpu", **options) -> pd.DataFrame:
    """The parts of the full model on the synthetic task, with their trainable parameters and outputs.

    The model is built around untrained autoencoders of the settings ``dae`` (only the shapes matter) and run once on 64 samples of
    :func:`emma.experiments.unified_study.make_task` drawn with a generator seeded ``seed``; ``options`` go to
    :func:`emma.experiments.unified.build` (coldness, d_model, d_hidden, fusion). The autoencoders draw their initial
    weights from torch's global generator.

    Returns
    -------
    DataFrame
        One row per part: ``part``, ``trainable parameters``, ``output`` (table ``unified_parameter_counts``).
    """
    dae = check_dae(dae)
    task = unified_study.make_task(64, widths, n_factors, corrupted_fraction, corruption_std, generator=torch.Generator().manual_seed(seed))
    energy = [DenoisingAutoencoder(w, dae.d_hidden, dae.noise_std) for w in widths]  # untrained: only the shapes matter here
    model = unified.build(FULL, widths, energy, [0.0] * len(widths), device=device, **options)
    out = model([x.to(device) for x in task.modes])
    parts = [
        ("exogenous (EMMA; autoencoders frozen)", model.exogenous, f"beta {tuple(out.beta.shape)}"),
        ("endogenous masks", model.endogenous, f"{len(out.masks)} masks {[tuple(m.shape) for m in out.masks]}"),
        ("token embeddings", model.embed, "tokens (batch, M, d_model)"),
        ("crossmodal attention", model.crossmodal, f"weights {tuple(out.crossmodal.shape)}"),
        (f"classifier ({model.fusion} fusion)", model.head, f"logits {tuple(out.logits.shape)}"),
    ]
    return pd.DataFrame([{"part": name, "trainable parameters": sum(p.numel() for p in module.parameters() if p.requires_grad), "output": shape}
                         for name, module, shape in parts])


def make_tasks(seeds: Sequence[int], n_train: int, n_test: int, **task) -> dict:
    """seed -> (train Task, test Task) of :func:`emma.experiments.unified_study.make_task` (``task``: its settings), both
    drawn in that order from one generator seeded with the seed."""
    seeds = checks.seeds(seeds, "seeds")
    n_train, n_test = checks.positive_int(n_train, "n_train"), checks.positive_int(n_test, "n_test")
    tasks = {}
    for seed in seeds:
        generator = torch.Generator().manual_seed(seed)
        tasks[seed] = tuple(unified_study.make_task(n, generator=generator, **task) for n in (n_train, n_test))
    return tasks


# ----------------------------------------------------------------------------- the ablation


@dataclass
class Ablation:
    """The eight combinations of the parts, trained on every seed of the synthetic task.

    Attributes
    ----------
    scores : DataFrame
        One row per (combination, seed): the three flags, ``seed``, accuracy and attention
        (:func:`emma.experiments.unified_study.task_scores`).
    models : dict
        (exogenous, endogenous, crossmodal) -> the trained models, one per seed.
    table : DataFrame
        Accuracy per combination, mean and sd over seeds, with ``model`` (its label) first (table ``unified_ablation``).
    attention : DataFrame
        What each part attends to, per combination with at least one part (table ``unified_attention``).
    composition : DataFrame
        The full model against each other combination, Holm-corrected over the 14 tests
        (:func:`emma.experiments.unified_study.composition_table`; table ``unified_composition_tests``).
    alpha : float
    """

    scores: pd.DataFrame
    models: dict
    table: pd.DataFrame
    attention: pd.DataFrame
    composition: pd.DataFrame
    alpha: float

    @property
    def full(self) -> pd.Series:
        """The row of :attr:`table` of the full model."""
        return self.table[_all_on(self.table)].iloc[0]

    @property
    def runner_up(self) -> pd.Series:
        """The row of :attr:`table` of the best other combination (highest mean accuracy on corrupted samples)."""
        return self.table[~_all_on(self.table)].sort_values("acc_corrupted_mean").iloc[-1]

    def weights_text(self) -> str:
        """What the full model's parts attend to, in two sentences written from :attr:`attention`."""
        w = self.attention[_all_on(self.attention)].iloc[0]
        lift = w["cross_to_needed_mean"] - w["cross_to_needed_uniform_mean"]
        return (
            f"In the full model, EMMA gives corrupted modes a mean β of {w['beta_corrupted_mean']:.3f} against "
            f"{w['beta_clean_mean']:.3f} for clean ones; the masks weigh the feature holding the signal "
            f"{w['mask_signal_mean']:.3f} against {w['mask_other_mean']:.3f} for the others; and a mode puts "
            f"{w['cross_to_needed_mean']:.3f} of its crossmodal weight on the clean modes carrying the other factor, "
            f"{lift:+.3f} from what uniform weights would put there. "
            + ("The crossmodal weights thus barely select: the part helps through its value path, each mode receiving "
               "a projection of all the others (per-mode embeddings can keep their contents apart), rather than by picking the mode it needs."
               if abs(lift) < 0.05 else "The crossmodal weights lean towards the modes a mode needs.")
        )

    def composition_text(self) -> str:
        """Whether the full model beats every other combination, in two sentences written from :attr:`composition`."""
        full, runner_up, tests, alpha = self.full, self.runner_up, self.composition, self.alpha
        all_significant = tests["verdict"].eq("reproduced").all()  # significant after Holm, and at least the minimum effect
        all_ahead = bool((tests["difference"] > 0).all())
        verdict = ("**beats every one of its parts and pairs of parts**, on clean and on corrupted samples, each difference significant at level "
                   f"{alpha:g} after Holm's correction and at least the minimum effect" if all_significant
                   else "is **ahead of every other combination on average**, but not every difference is significant" if all_ahead
                   else "does **not** beat all of its parts")
        return (
            f"On this task the full model (exogenous + endogenous + crossmodal) {verdict}. It reaches an accuracy of "
            f"{full['acc_clean_mean']:.3f} ± {full['acc_clean_std']:.3f} on clean and {full['acc_corrupted_mean']:.3f} ± "
            f"{full['acc_corrupted_std']:.3f} on corrupted test samples; the best of the seven other combinations, "
            f"{runner_up['model']}, reaches {runner_up['acc_clean_mean']:.3f} and {runner_up['acc_corrupted_mean']:.3f}. "
            f"The smallest paired gain of the full model over another combination is {tests['difference'].min():+.3f} "
            f"(largest p-value {tests['p_value'].max():.2g})."
        )

    def glue_values(self) -> dict:
        """The values the chapter's prose cites: ``unified_full_acc_clean``, ``unified_full_acc_corrupted``, ``unified_runner_up``,
        ``unified_runner_up_acc_corrupted`` and ``unified_min_gain``."""
        full, runner_up = self.full, self.runner_up
        return {"unified_full_acc_clean": float(full["acc_clean_mean"]), "unified_full_acc_corrupted": float(full["acc_corrupted_mean"]),
                "unified_runner_up": runner_up["model"], "unified_runner_up_acc_corrupted": float(runner_up["acc_corrupted_mean"]),
                "unified_min_gain": float(self.composition["difference"].min())}

    def htru2_arms(self) -> dict:
        """The two arms taken to HTRU2: the best combination (highest mean accuracy on corrupted, then on clean samples; the
        full model if that is EMMA alone), and EMMA alone. Name -> parts."""
        best = self.table.sort_values(["acc_corrupted_mean", "acc_clean_mean"]).iloc[-1]
        best_parts = {p: bool(best[p]) for p in unified.PARTS}
        if best_parts == EMMA_ALONE:
            best_parts = dict(FULL)
        return {unified.label(best_parts): best_parts, "EMMA alone": dict(EMMA_ALONE)}


def _labelled(table: pd.DataFrame) -> pd.DataFrame:
    table.insert(0, "model", [unified.label(row) for _, row in table.iterrows()])
    return table


def run_ablation(tasks: dict, *, dae: DAESettings, epochs: int, batch_size: int, lr: float,
                 lambda_e: float = 0.0, lambda_c: float = 0.0, alpha: float = 0.05, device="cpu", **options) -> Ablation:
    """Fit the energy models of every seed's training task, then train and score the eight combinations of the parts.

    Parameters
    ----------
    tasks : dict
        seed -> (train Task, test Task), as :func:`make_tasks` gives them.
    dae : DAESettings
        The per-mode autoencoders (:func:`emma.experiments.unified_study.fit_task_energies`; default there
        :data:`emma.experiments.unified_study.TASK_DAE`).
    epochs, batch_size, lr, lambda_e, lambda_c, device, options
        The training of the models (:func:`emma.experiments.unified_study.run_ablation`); ``options`` go to
        :class:`emma.experiments.unified.UnifiedAttention` (coldness, d_model, d_hidden, fusion).
    alpha : float
        Level of the paired tests of the full model against the others.

    Returns
    -------
    Ablation
    """
    if not isinstance(tasks, dict) or not tasks:
        raise ValueError(f"tasks must be a non-empty dict seed -> (train Task, test Task), as make_tasks gives, got {type(tasks).__name__}")
    alpha = checks.number(alpha, "alpha", low=0.0, high=0.5, low_open=True, high_open=True)
    seeds = list(tasks)
    fitted = unified_study.fit_task_energies([tasks[s][0] for s in seeds], seeds, dae=dae)
    scores, trained = unified_study.run_ablation(tasks, dict(zip(seeds, fitted)), epochs=epochs, batch_size=batch_size, lr=lr, lambda_e=lambda_e,
                                                 lambda_c=lambda_c, device=device, **options)
    table = _labelled(over_seeds(scores, unified_study.PARTS, ACCURACY))
    attention = _labelled(over_seeds(scores, unified_study.PARTS, WEIGHTS))
    attention = attention[attention[list(unified.PARTS)].any(axis=1)]
    return Ablation(scores, trained, table, attention, unified_study.composition_table(scores, alpha), alpha)


# ----------------------------------------------------------------------------- HTRU2


@dataclass
class HTRU2Comparison:
    """The best combination of the ablation against EMMA alone on corrupted HTRU2.

    Attributes
    ----------
    runs : DataFrame
        One row per (arm, seed) of :func:`emma.experiments.unified_study.htru2_scores`.
    table : DataFrame
        F1 per arm, mean and sd over seeds; the best arm's row adds ``<score>_diff`` and ``<score>_p``, its paired
        difference from EMMA alone and the one-sided p-value (table ``unified_htru2``).
    best_name : str
        The label of the best combination.
    alpha : float
    """

    runs: pd.DataFrame
    table: pd.DataFrame
    best_name: str
    alpha: float

    @property
    def diff(self) -> float:
        """Best combination minus EMMA alone, F1 on the noisy test samples, mean over seeds."""
        return float(self.table.set_index("model").loc[self.best_name, "f1_noisy_diff"])

    @property
    def p_value(self) -> float:
        """The one-sided paired p-value of :attr:`diff`."""
        return float(self.table.set_index("model").loc[self.best_name, "f1_noisy_p"])

    def text(self) -> str:
        """The outcome in one sentence written from :attr:`table`."""
        noisy, diff, p_value, best = self.table.set_index("model"), self.diff, self.p_value, self.best_name
        outcome = ("better than" if p_value < self.alpha else "not significantly better than") if diff > 0 else "not better than"
        n_seeds = self.runs["seed"].nunique()
        return (
            f"On HTRU2, {best} is **{outcome}** EMMA alone on the noisy test samples: F1 "
            f"{noisy.loc[best, 'f1_noisy_mean']:.3f} ± {noisy.loc[best, 'f1_noisy_std']:.3f} against "
            f"{noisy.loc['EMMA alone', 'f1_noisy_mean']:.3f} ± {noisy.loc['EMMA alone', 'f1_noisy_std']:.3f}, a paired difference of "
            f"{diff:+.3f} over {n_seeds} seeds (one-sided paired t-test, p = {p_value:.2g})."
        )

    def glue_values(self) -> dict:
        """The values the chapter's prose cites: ``unified_best_name``, ``unified_htru2_diff`` and ``unified_htru2_p``."""
        return {"unified_best_name": self.best_name, "unified_htru2_diff": self.diff, "unified_htru2_p": self.p_value}


def compare_on_htru2(arms: dict, seeds: Sequence[int], *, split_seed: int = 42, data_home=None, cache_dir=None, dae: DAESettings = HTRU2_DAE,
                     epochs: int, batch_size: int, lr: float, sigma: float = 0.5, clean_fraction: float = 0.5, lambda_e: float = 0.0,
                     lambda_c: float = 0.0, alpha: float = 0.05, device="cpu", **options) -> HTRU2Comparison:
    """Train both ``arms`` (name -> parts, the best first and "EMMA alone" second, as :meth:`Ablation.htru2_arms` gives) on
    corrupted HTRU2, one model per seed, and test the first against the second.

    One pair of per-mode autoencoders (settings ``dae``, seed 0, cached in ``cache_dir``) serves both arms; the training is
    :func:`emma.experiments.unified_study.run_htru2` (``sigma``, ``clean_fraction``: the corruption; ``options``: the
    model's coldness, d_model, d_hidden, fusion). Each F1 is tested by a one-sided paired t-test
    (:func:`emma.claims.rules.paired_test`) against the minimum effect of the claim ``unified_htru2_beats_emma``.

    Returns
    -------
    HTRU2Comparison
    """
    if not isinstance(arms, dict) or len(arms) != 2 or list(arms)[1] != "EMMA alone":
        raise ValueError(f"arms must be a dict of two arms, the best combination first and 'EMMA alone' second, got {arms!r}")
    seeds = checks.seeds(seeds, "seeds")
    alpha = checks.number(alpha, "alpha", low=0.0, high=0.5, low_open=True, high_open=True)
    best_name = list(arms)[0]
    splits = make_splits(seed=split_seed, data_home=data_home, device="cpu")
    energy = fit_htru2_energy_models(splits, [0], dae=check_dae(dae), device=device, cache_dir=cache_dir)[0]
    runs = unified_study.run_htru2(splits, energy.models, energy.psi_min.tolist(), seeds, arms, epochs=epochs, batch_size=batch_size, lr=lr,
                                   sigma=sigma, clean_fraction=clean_fraction, lambda_e=lambda_e, lambda_c=lambda_c, device=device, **options)
    table = over_seeds(runs, ["model"], F1)
    for column in F1:
        ours, reference = (runs[runs["model"] == name].sort_values("seed")[column].to_numpy() for name in (best_name, "EMMA alone"))
        test = paired_test(ours, reference, min_effect=min_effect(unified_study.HTRU2_CLAIM), alpha=alpha)
        table.loc[table["model"] == best_name, [f"{column}_diff", f"{column}_p"]] = [test.mean, test.p_value]
    return HTRU2Comparison(runs, table, best_name, alpha)


# ----------------------------------------------------------------------------- claims


def claims(ablation: Ablation, htru2: HTRU2Comparison) -> pd.DataFrame:
    """The chapter's claims table (:func:`emma.experiments.unified_study.unified_claims`) from the ablation and HTRU2."""
    _check(ablation, Ablation, "ablation")
    _check(htru2, HTRU2Comparison, "htru2")
    return unified_study.unified_claims(ablation.scores, htru2.runs, (htru2.best_name, "EMMA alone"), ablation.alpha)


def findings(claims_table: pd.DataFrame) -> str:
    """The verdicts as a Markdown list: one line per claim, its verdict in bold and its evidence."""
    if not isinstance(claims_table, pd.DataFrame) or not {"claim", "verdict", "our_evidence"} <= set(claims_table.columns):
        raise ValueError("claims_table must be a claims table (columns claim, verdict, our_evidence), as claims() returns")
    return "\n".join(f"- {row['claim']}: **{row['verdict']}** ({row['our_evidence']})." for _, row in claims_table.iterrows())
