"""The registered claims judged in the chapters on background: the literature (chapter 1), energy estimation
(chapter 2), Experiment I on the potential energy (chapter 5), and the integrability limit of thesis §4.4
(measured in the conclusion).

One of them is *core*: the literature gap of the draft's contribution 2 (no exogenous attention before
EMMA). The others are not: the final thesis's abstract, its three contributions and its three research
questions assert a robust attention module, its regularizers and a unified model, not a property of Ψ.

The minimum effects on the AUROC scale share one anchor: an AUROC of 0.7 is the conventional lower
bound of *acceptable* discrimination (Hosmer and Lemeshow), the least a score "distinguishes fairly
well" or shows "a clear difference" with.
"""
from emma.claims.registry._claim import Claim

#: The least AUROC above chance (0.5) that counts as telling two groups apart (0.7: acceptable discrimination).
AUROC_ABOVE_CHANCE = 0.2
_AUROC_REASON = "AUROC 0.7, the conventional lower bound of acceptable discrimination (Hosmer and Lemeshow)"

CLAIMS: tuple[Claim, ...] = (
    # ---------------------------------------------------------------- chapter 1: the literature (draft only)
    Claim(
        id="earlier_attend_part_of_mode",
        claim="Earlier multi-modal attention mechanisms attend only to a part of a mode, never to modes as wholes",
        kind="secondary", source="draft", location="§3",
        quote="others attend only a part of the mode.",
        test="each multi-modal mechanism of the reviewed literature other than EMMA, a named sub-case: does it attend to "
             "positions within a mode rather than to whole modes?",
    ),
    Claim(
        id="no_exogenous_before_emma",
        claim="No attention mechanism in deep learning before EMMA is exogenous, with weights driven by the input's quality "
              "(the literature gap of the draft's contribution 2)",
        kind="core", source="draft", location="§1.3",
        quote="a review of the literature from a Psychological standpoint on attention reveals current multi-modal attention mechanisms in DL "
              "are incomplete",
        test="each reviewed mechanism other than EMMA, a named sub-case: do its weights ignore the input's quality?",
    ),
    # ---------------------------------------------------------------- chapter 2: energy estimation
    Claim(
        id="reconstruction_error_blind_at_centre",
        claim="At the centre of the circle (a source of the field) the reconstruction error is as low as on the circle; the potential energy is not",
        kind="secondary", source="final", location="report/chapters/4-energy-approx.tex L168",
        quote="However, the norm of the reconstruction error has also low values at the origin, due to the source in its vector field.",
        test="the centre's percentile among on-circle grid points, two named sub-cases holding in every seed: below the median "
             "for the reconstruction error, above it for the potential energy",
    ),
    Claim(
        id="estimators_low_near_manifold",
        claim="Both estimators are low near the manifold and high elsewhere",
        kind="secondary", source="final", location="report/chapters/4-energy-approx.tex L168",
        quote="We can see that the two estimators have low values in the neighbourhood of the manifold and are high everywhere else.",
        test="AUROC of on- against off-manifold grid points, four named sub-cases (manifold × estimator), each AUROC − 0.5 "
             "by a one-sample t-test over seeds; the claim needs all four (intersection–union test: its p-value is the largest)",
        min_effect=AUROC_ABOVE_CHANCE, unit="AUROC", reason=_AUROC_REASON + "; 'high everywhere else' asks at least that",
    ),
    Claim(
        id="deeper_tied_autoencoder_not_gradient",
        claim="With two hidden layers, tied weights no longer make the reconstruction field a gradient",
        kind="secondary", source="draft", location="§4.4",
        quote="The integrability criterion is guaranteed to be satisfied when using tied weights, this assumption is valid only because "
              "there are no more than one hidden layer. Adding more non-linear layers breaks the criterion.",
        test="median relative Jacobian asymmetry |J − Jᵀ| / |J| of a tied autoencoder with two hidden layers minus that of one "
             "with one (zero up to rounding), paired over seeds; one-sided paired t-test",
        min_effect=0.01, unit="relative Jacobian asymmetry",
        reason="1 % of the Jacobian's size: twelve orders of magnitude above float64 rounding, and a field that far from "
               "symmetric has no potential worth the name",
    ),
    # ---------------------------------------------------------------- chapter 5: Experiment I, the potential energy
    Claim(
        id="psi_rises_with_noise",
        claim="Ψ of a mode rises as noise on it grows, beyond the rise of its quadratic term ½‖x − b_r‖², which any autoencoder gives",
        kind="secondary", source="final", location="report/chapters/7-experiments.tex L46",
        quote="The results for each mode are shown in Figure …, which confirms that the potential energy can capture the noise in "
              "test data, relative to training samples.",
        test="rise of mean Ψ from σ = 0 to the largest σ minus the rise of ½‖x − b_r‖² alone (the rise of the learned part "
             "−Σ softplus), in standard deviations of clean Ψ, paired over (seed, mode); one-sided paired t-test",
        min_effect=0.5, unit="standard deviations of clean Ψ",
        reason="Ψ has no fixed scale (eq. 4.7 drops a constant, each autoencoder has its own), so its rise is measured in the "
               "spread of clean Ψ; half of it is a medium effect (Cohen's d = 0.5)",
    ),
    Claim(
        id="psi_separates_noisy_mode",
        claim="Ψ tells a noisy mode from the same mode clean, at the noise the classifiers are trained with",
        kind="secondary", source="final", location="report/chapters/7-experiments.tex L4",
        quote="We claimed that this metric could be used to distinguish normal samples from failing ones.",
        test="AUROC of Ψ, test samples with noise at the training σ against the same samples clean, per (seed, mode); "
             "AUROC − 0.5 by a one-sample t-test",
        min_effect=AUROC_ABOVE_CHANCE, unit="AUROC", reason=_AUROC_REASON + "; the thesis looks for 'a clear difference'",
    ),
    Claim(
        id="psi_flags_unseen_class",
        claim="Autoencoders trained on pulsars only give the unseen non-pulsars a higher Ψ",
        kind="secondary", source="final", location="report/chapters/7-experiments.tex L64",
        quote="Indeed, in most cases, the potential energies of likely data (positive samples) are noticeably lower than that of "
              "unlikely data (negative samples).",
        test="AUROC of Ψ for flagging test non-pulsars, per (seed, mode), AUROC − 0.5 by a one-sample t-test at each training "
             "length, a named sub-case each (the thesis's, then longer); the claim needs all (intersection–union test)",
        min_effect=AUROC_ABOVE_CHANCE, unit="AUROC", reason=_AUROC_REASON + "; the thesis: Ψ values 'allow to distinguish fairly well'",
    ),
    Claim(
        id="psi_beats_reconstruction_error",
        claim="Ψ is a better measure of a failing mode than the reconstruction error",
        kind="secondary", source="final", location="report/chapters/4-energy-approx.tex L168",
        quote="However, the norm of the reconstruction error has also low values at the origin… This issue makes it difficult in "
              "general to use it as a robust criterion to detect and quantify out-of-distribution samples.",
        test="AUROC of Ψ minus AUROC of the reconstruction error, paired over (failure condition, mode, seed): noise at the "
             "training σ and at the largest σ, the unseen class at each training length, the rare class for the main "
             "autoencoders; one-sided paired t-test",
        min_effect=0.05, unit="AUROC",
        reason="a tenth of the AUROC's range above chance: a smaller gain would not make one score the better failure measure",
    ),
    Claim(
        id="missing_mode_high_psi",
        claim="A missing mode, fed as zeros, gets a high Ψ, as a failing mode should",
        kind="secondary", source="draft", location="§1.2",
        quote="The less outlying a mode, the more information of the mode EMMA will let pass by. We denote outlyingness as a "
              "general notion for noisiness, missing and unseen values.",
        test="percentile of Ψ(0) among the clean test samples' Ψ, minus 50 (the median), per (seed, mode), autoencoders "
             "trained on all training rows; one-sample t-test",
        min_effect=45.0, unit="percentile points above the median",
        reason="Ψ(0) at the 95th percentile of clean Ψ: a detector that flags it alarms on 5 % of clean samples, the usual rate",
    ),
)
