"""What the potential energy says: Ψ as noise grows, Ψ on an unseen class, and the code's coupled potential.

The potential used throughout the book is the per-sample one of
:meth:`emma.method.autoencoder.DenoisingAutoencoder.potential`. The thesis's code added
½‖X − b_r‖² over the *whole mini-batch* to each sample; :func:`batch_coupled_potential`
reproduces that behaviour only so the book can show what it does. :func:`potential_claims`
judges the chapter's claims from these measurements.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import roc_auc_score

from emma.claims.registry import min_effect
from emma.claims.rules import INCONCLUSIVE, NOT_REPRODUCED, PARTLY, REPRODUCED, PairedTest, apply_holm, claims_table, paired_test, per_mode, sub_cases
from emma.claims.thesis import NOISE_SWEEP_SIGMA
from emma.data.htru2 import MODE_NAMES, MODE_SLICES
from emma.data.noise import add_noise, sigma_to_nsr_db
from emma.data.splits import Split
from emma.engine.autoencoders import EnergyModels
from emma.method.autoencoder import DenoisingAutoencoder, check_batch


@torch.no_grad()
def potential_vs_noise(
    energies: EnergyModels,
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
    energies : EnergyModels
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
def unseen_class_auroc(energies: EnergyModels, split: Split, unseen, reference_mean: torch.Tensor | None = None) -> pd.DataFrame:
    """How well each per-mode score flags samples of a class the autoencoders did not see.

    AUROC with the unseen samples as the positive class and the score as the ranking:
    1 = every unseen sample scores higher than every seen one, 0.5 = chance, below 0.5 =
    the unseen class scores *lower*.

    Parameters
    ----------
    energies : EnergyModels
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


def _check_table(table, name: str, columns: set, keep=None) -> pd.DataFrame:
    if not isinstance(table, pd.DataFrame) or not columns <= set(table.columns):
        raise ValueError(f"{name} must be a DataFrame with the columns {sorted(columns)}")
    if keep is not None:
        column, value = keep
        table = table[table[column] == value]
        if table.empty:
            raise ValueError(f"{name} must hold rows with {column} = {value!r}")
    return table


def _cases(noise_table, ood_table, missing_table, training_sigma: float):
    """Check the summary's tables and pick its cases: Ψ at the training noise, the pulsar-only autoencoders
    on the unseen class, the missing mode for the autoencoders EMMA uses."""
    _check_table(noise_table, "noise_table", {"mode", "sigma", "psi_auroc", "recon_auroc"})
    if not np.isclose(noise_table["sigma"], training_sigma).any():
        raise ValueError(f"noise_table must hold rows at training_sigma = {training_sigma!r}")
    return (noise_table[np.isclose(noise_table["sigma"], training_sigma)],
            _check_table(ood_table, "ood_table", {"trained_on", "epochs", "mode", "psi_auroc", "recon_auroc"}, ("trained_on", "pulsars only")),
            _check_table(missing_table, "missing_table", {"trained_on", "mode", "percentile_of_missing"}, ("trained_on", "all training rows")))


def describe_test(test: PairedTest, units: str, alpha: float = 0.05) -> str:
    """A test's evidence in one line, naming what its values are paired over (``units``, e.g. "(seed, mode) pairs")."""
    if test.n < 2 or not np.isfinite(test.ci_low):
        return f"effect {test.effect:+.3g} ({test.note})"
    return (f"effect {test.effect:+.3g} ({100 * (1 - 2 * alpha):.0f} % CI {test.ci_low:+.3g} to {test.ci_high:+.3g}) over {test.n} {units}, "
            f"p = {test.p_value:.2g}; minimum {test.min_effect:g}, detectable {test.detectable_effect:.3g}")


def all_sub_cases(tests: dict, units: str, alpha: float = 0.05) -> dict:
    """A claim that needs every named sub-case, each judged by its own test: verdict, ``cases`` text and evidence columns.

    Every sub-case reproduced: *reproduced*; some reproduced and some not reproduced: *partly
    reproduced*; none reproduced and some not reproduced: *not reproduced*; otherwise
    *inconclusive*. Without inconclusive sub-cases this is :func:`emma.claims.rules.sub_cases`;
    the ``cases`` text then names the inconclusive ones apart. The evidence columns and the
    p-value are those of the weakest sub-case (the largest p-value): the intersection–union test
    of "all hold", which needs no correction.

    Parameters
    ----------
    tests : dict of str to PairedTest
        Each sub-case's name and its test (:func:`emma.claims.rules.paired_test`).
    units : str
        What each test pairs over, for the text.

    Examples
    --------
    >>> from emma.claims.rules import paired_test
    >>> judged = all_sub_cases({"a": paired_test([0.9, 0.95, 0.92], [0.5] * 3, min_effect=0.2),
    ...                         "b": paired_test([0.5, 0.52, 0.49], [0.5] * 3, min_effect=0.2)}, "seeds")
    >>> judged["verdict"], judged["cases"]
    ('partly reproduced', '1 of 2 sub-cases hold: a; not: b')
    """
    if not isinstance(tests, dict) or not tests or not all(isinstance(t, PairedTest) for t in tests.values()):
        raise ValueError(f"tests must be a non-empty dict of sub-case name to PairedTest, got {tests!r}")
    open_ = [name for name, test in tests.items() if test.verdict == INCONCLUSIVE]
    judged = sub_cases({name: test.verdict == REPRODUCED for name, test in tests.items()})
    if open_:
        held = [name for name, test in tests.items() if test.verdict == REPRODUCED]
        failed = [name for name, test in tests.items() if test.verdict == NOT_REPRODUCED]
        judged = {"verdict": PARTLY if held and failed else NOT_REPRODUCED if failed else INCONCLUSIVE,
                  "cases": f"{len(held)} of {len(tests)} sub-cases hold" + (f": {', '.join(held)}" if held else "")
                  + (f"; not: {', '.join(failed)}" if failed else "") + f"; inconclusive: {', '.join(open_)}"}
    weakest = max(tests.values(), key=lambda t: np.inf if np.isnan(t.p_value) else t.p_value)
    return {**weakest.row(), "verdict": judged["verdict"], "cases": judged["cases"],
            "sub_case_evidence": "; ".join(f"{name}: {describe_test(test, units, alpha)} ({test.verdict})" for name, test in tests.items())}


def _mode_means(table: pd.DataFrame, column: str, fmt: str = "{:.3f}") -> str:
    return per_mode(table.groupby("mode", sort=False, as_index=False)[column].mean(), column, fmt)


def potential_claims(runs: pd.DataFrame, ood_runs: pd.DataFrame, missing_runs: pd.DataFrame, *, training_sigma: float,
                     alpha: float = 0.05) -> pd.DataFrame:
    """The chapter :doc:`Potential energy </book/chapters/05_potential_energy>`'s claims table, one row per registered
    claim (:mod:`emma.claims.registry.background`), each judged by a test over seeds with its pre-declared
    minimum effect, Holm-adjusted (:func:`emma.claims.rules.apply_holm`).

    Parameters
    ----------
    runs : DataFrame
        :func:`potential_vs_noise` per seed: ``mode, seed, sigma, psi_mean, psi_std, quadratic_mean, psi_auroc,
        recon_auroc``, with σ = 0 and ``training_sigma`` among the σ.
    ood_runs : DataFrame
        :func:`unseen_class_auroc` per seed: ``trained_on, epochs, mode, seed, psi_auroc, recon_auroc``; the rows
        ``trained_on == "pulsars only"`` judge the unseen class, one sub-case per ``epochs``.
    missing_runs : DataFrame
        A missing mode per seed: ``trained_on, mode, seed, percentile_of_missing, missing_minus_median``; the
        rows ``trained_on == "all training rows"`` are judged.
    training_sigma : float
        The classifiers' training noise.
    alpha : float
        Level of each one-sided test (the intervals are 1 − 2α).
    """
    runs = _check_table(runs, "runs", {"mode", "seed", "sigma", "psi_mean", "psi_std", "quadratic_mean", "psi_auroc", "recon_auroc"})
    ood_all = _check_table(ood_runs, "ood_runs", {"trained_on", "epochs", "mode", "seed", "psi_auroc", "recon_auroc"})
    pulsar_only = _check_table(ood_runs, "ood_runs", set(), ("trained_on", "pulsars only"))
    missing = _check_table(missing_runs, "missing_runs", {"trained_on", "mode", "seed", "percentile_of_missing", "missing_minus_median"},
                           ("trained_on", "all training rows"))
    if not (runs["sigma"] == 0).any() or not np.isclose(runs["sigma"], training_sigma).any():
        raise ValueError(f"runs must hold rows at sigma = 0 and at training_sigma = {training_sigma!r}")
    # Each (seed, mode) is an autoencoder trained on its own: the unit the tests pair over.
    sigma_max, n_seeds, pairs = float(runs["sigma"].max()), int(runs["seed"].nunique()), "(seed, mode) autoencoders"
    clean, top = runs[runs["sigma"] == 0], runs[runs["sigma"] == sigma_max]
    at_train = runs[np.isclose(runs["sigma"], training_sigma)]
    rows = []

    def add(claim_id, thesis, text, test, units=pairs):
        rows.append({"id": claim_id, "thesis_evidence": thesis, "our_evidence": f"{text}: {describe_test(test, units, alpha)}",
                     **test.row(), "n_seeds": n_seeds})

    # 1. Ψ rises with noise beyond its quadratic term: the rise of the learned part −Σ softplus, in clean-Ψ sd.
    rise = clean.merge(top, on=["mode", "seed"], suffixes=("_0", "_max"))
    if (rise["psi_std_0"] <= 0).any():
        raise ValueError("runs must have psi_std > 0 at sigma = 0 (the spread of clean Ψ is the unit of the rise)")
    rise = rise.assign(psi_rise=rise["psi_mean_max"] - rise["psi_mean_0"], quadratic_rise=rise["quadratic_mean_max"] - rise["quadratic_mean_0"])
    rise["learned_rise"] = rise["psi_rise"] - rise["quadratic_rise"]
    monotone = runs.sort_values("sigma").groupby(["mode", "seed"])["psi_mean"].apply(lambda s: bool(np.all(np.diff(s) > 0)))
    add("psi_rises_with_noise", f"eq. 4.4 (Ψ ∝ −log p); the thesis's noise sweep (σ {NOISE_SWEEP_SIGMA[0]:g} to {NOISE_SWEEP_SIGMA[1]:g}): mean ± 2 sd of Ψ",
        f"from σ = 0 to {sigma_max:g}, mean Ψ rises by {_mode_means(rise, 'psi_rise', '{:+.2f}')} and rises at every step in "
        f"{int(monotone.sum())} of {len(monotone)} (mode, seed) runs, but ½‖x − b_r‖² alone rises by "
        f"{_mode_means(rise, 'quadratic_rise', '{:+.2f}')}: the learned part moves by {_mode_means(rise, 'learned_rise', '{:+.2f}')} "
        f"(clean-Ψ sd {_mode_means(rise, 'psi_std_0', '{:.2f}')}); learned part in clean-Ψ sd",
        paired_test((rise["psi_rise"] / rise["psi_std_0"]).to_numpy(), (rise["quadratic_rise"] / rise["psi_std_0"]).to_numpy(),
                    min_effect=min_effect("psi_rises_with_noise"), alpha=alpha))

    # 2. Ψ tells a noisy mode from the same mode clean, at the training noise.
    auroc = at_train["psi_auroc"].to_numpy(float)
    add("psi_separates_noisy_mode", "Figure: the mean of Ψ climbs with σ (Experiment I); no separation measured",
        f"AUROC of Ψ, noisy vs clean, at σ = {training_sigma:g}: {_mode_means(at_train, 'psi_auroc')} (at σ = {sigma_max:g}: "
        f"{_mode_means(top, 'psi_auroc')}); AUROC − 0.5",
        paired_test(auroc, np.full_like(auroc, 0.5), min_effect=min_effect("psi_separates_noisy_mode"), alpha=alpha))

    # 3. Pulsar-only autoencoders flag the unseen class: one sub-case per training length, all needed.
    tests = {f"{n} epochs": paired_test(part["psi_auroc"].to_numpy(float), np.full(len(part), 0.5), min_effect=min_effect("psi_flags_unseen_class"),
                                        alpha=alpha) for n, part in pulsar_only.groupby("epochs", sort=False)}
    judged = all_sub_cases(tests, pairs, alpha)
    rows.append({"id": "psi_flags_unseen_class", "thesis_evidence": "Figure: Ψ of pulsars and non-pulsars, autoencoders trained on pulsars",
                 "our_evidence": f"{judged['cases']}; AUROC of Ψ for the non-pulsars − 0.5, per training length: {judged.pop('sub_case_evidence')}",
                 **judged, "n_seeds": n_seeds})

    # 4. Ψ against the reconstruction error, paired over every failure condition, mode and seed.
    conditions = pd.concat([at_train.assign(condition=f"noise σ = {training_sigma:g}"), top.assign(condition=f"noise σ = {sigma_max:g}"),
                            ood_all.assign(condition=ood_all["trained_on"] + ", " + ood_all["epochs"].astype(str) + " epochs")])
    wins = conditions["psi_auroc"] > conditions["recon_auroc"]
    gaps = (conditions["psi_auroc"] - conditions["recon_auroc"]).groupby(conditions["condition"], sort=False).mean()
    add("psi_beats_reconstruction_error", "argued from the circle's centre (ch. 4); no comparison on data",
        f"Ψ has the higher AUROC in {int(wins.sum())} of {len(wins)} (condition, mode, seed) cases; mean AUROC Ψ − reconstruction "
        f"error: {', '.join(f'{c} {d:+.3f}' for c, d in gaps.items())}",
        paired_test(conditions["psi_auroc"].to_numpy(float), conditions["recon_auroc"].to_numpy(float),
                    min_effect=min_effect("psi_beats_reconstruction_error"), alpha=alpha), "(condition, mode, seed) cases")

    # 5. A missing mode (zeros) reads as failing: its percentile among clean Ψ, above the median.
    percentile = missing["percentile_of_missing"].to_numpy(float)
    noise_rise = at_train.merge(clean, on=["mode", "seed"], suffixes=("", "_0")).assign(
        psi_rise=lambda t: t["psi_mean"] - t["psi_mean_0"])
    add("missing_mode_high_psi", "not evaluated: 'missing values are implicitly solved by replacing them by zeros' (Experiment I)",
        f"percentile of Ψ(0) among clean test Ψ: {_mode_means(missing, 'percentile_of_missing', '{:.1f}')}; Ψ(0) − median clean Ψ: "
        f"{_mode_means(missing, 'missing_minus_median', '{:+.3f}')}, against a mean rise of {_mode_means(noise_rise, 'psi_rise', '{:+.3f}')} "
        f"under noise σ = {training_sigma:g}; percentile − 50",
        paired_test(percentile, np.full_like(percentile, 50.0), min_effect=min_effect("missing_mode_high_psi"), alpha=alpha))
    return apply_holm(claims_table(rows), alpha)


def _either(values) -> str:
    """``[30]`` -> "30", ``[30, 100]`` -> "30 or 100", ``[1, 2, 3]`` -> "1, 2 or 3"."""
    words = [str(v) for v in values]
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"


def failure_signal_summary(noise_table: pd.DataFrame, ood_table: pd.DataFrame, missing_table: pd.DataFrame, *, training_sigma: float,
                           good_auroc: float, missing_percentile: float) -> str:
    """One paragraph, written from the numbers, on how well Ψ measures a failing mode (tables as :func:`potential_claims`)."""
    at_train, pulsar_only, missing = _cases(noise_table, ood_table, missing_table, training_sigma)
    noisy = noise_table[noise_table["sigma"] > 0]
    recon_wins = int((noisy["recon_auroc"] > noisy["psi_auroc"]).sum())
    clear = pulsar_only.groupby("epochs", sort=False)["psi_auroc"].min() >= good_auroc
    flagged = [m for m, p in zip(missing["mode"], missing["percentile_of_missing"]) if p >= missing_percentile]
    unseen = ("at every training length tested" if clear.all() else
              "at no training length tested" if not clear.any() else
              f"only after {_either(clear.index[clear])} epochs of training, not after {_either(clear.index[~clear])}")
    return (f"At the classifiers' training noise (σ = {training_sigma:g}) Ψ separates a noisy mode from a clean one with an AUROC of "
            f"{per_mode(at_train, 'psi_auroc')}. The reconstruction error, which the thesis sets aside, has the higher AUROC in "
            f"{recon_wins} of the {len(noisy)} noise tests (every mode and σ > 0). Ψ separates an unseen class clearly (AUROC ≥ "
            f"{good_auroc:g} in every mode) {unseen}. A missing mode fed as zeros reads as failing (above the "
            f"{missing_percentile:g}th percentile of clean Ψ) in {', '.join(flagged) if flagged else 'no mode'}: "
            f"percentile {per_mode(missing, 'percentile_of_missing', '{:.1f}')}.")
