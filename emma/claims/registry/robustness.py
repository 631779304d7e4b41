"""The claims of Experiment II (chapter 6) and of the research questions (chapter 10).

The core claims are re-derived from the final thesis's abstract (``report/master-thesis.tex``), its
three contributions (``report/chapters/1-introduction.tex`` L57–59) and the three research
questions of the draft (§5.8), which the final text keeps as the experiments' structure:

1. does EMMA make the network more robust than data augmentation (abstract L178, contribution 1)?
2. do the two regularizers generalise the robustness to failures **more intense than in
   training** (abstract L180, contribution 2)? Tested past the training noise, never at it.
3. is the model more interpretable with EMMA (``5-emma.tex`` L256)?

Minimum effects. F1 differences: 0.02, the smallest gain the thesis's own table reports for EMMA
over data augmentation (IP-noisy: 0.7333 against 0.7097); a smaller gain is within the seed
spread of one model. The clean-accuracy margin: 0.01 F1. β: 0.05, a twentieth of its range.
AUROC: 0.2 above chance (an AUROC of 0.7, the conventional lower bound of acceptable discrimination, as
in :mod:`.background`), 0.05 between two scores of the same samples. Capacity: 0.05, a twentieth of its range [0, 1].
"""
from emma.claims.registry._claim import Claim
from emma.claims.registry.background import _AUROC_REASON, AUROC_ABOVE_CHANCE

_F1 = dict(min_effect=0.02, unit="F1", reason="the smallest gain the thesis's table reports for EMMA over data augmentation (IP-noisy, +0.024); "
                                                  "below it a gain is within one model's seed spread")
_RESULTS = ("models equipped with the attention module (model-with) consistently outperform model-without and base-model on noisy data "
            "by a significant margin")
_RESULTS_AT = "report/chapters/7-experiments.tex L106"
_ABSTRACT_RQ2 = "Secondly, two new regularizers are developed to generalize the robustness to more intensive failing modes (relative to the training set)."
_PAST = "paired t-test over seeds of the F1 averaged over the NSR levels above the training NSR, both modes"

CLAIMS = (
    Claim("beats_augmentation_ip", "EMMA beats data augmentation on IP-noisy samples at the training noise", "core", "final", _RESULTS, _RESULTS_AT,
          "paired t-test over seeds of the test F1 on IP-noisy samples, EMMA (selected on validation) − data augmentation ('without')", **_F1),
    Claim("beats_augmentation_dm", "EMMA beats data augmentation on DM-noisy samples at the training noise", "core", "final", _RESULTS, _RESULTS_AT,
          "paired t-test over seeds of the test F1 on DM-noisy samples, EMMA (selected on validation) − data augmentation ('without')", **_F1),
    Claim("keeps_clean_accuracy", "EMMA keeps the clean accuracy of the base model", "secondary", "final",
          "using the attention module appears to slightly improve the F1-score on uncorrupted data as well compared to the base-model",
          _RESULTS_AT, "non-inferiority t-test over seeds of the clean test F1, EMMA − base, margin 0.01 F1",
          min_effect=-0.01, unit="F1", reason="a loss of 0.01 F1 on clean samples is the largest that still counts as keeping the accuracy"),
    Claim("beats_alternative", "EMMA beats the attention fusion of Shon et al. on noisy samples", "secondary", "final",
          "MMN models fitted with the attention module displayed improved predictive performance, robustness, interpretability",
          "report/chapters/7-experiments.tex L339", "paired t-test over seeds of the mean of the IP- and DM-noisy test F1, EMMA − 'alternative'", **_F1),
    Claim("beats_base_noisy", "EMMA is more robust than the base model on noisy samples", "secondary", "final", _RESULTS, _RESULTS_AT,
          "paired t-test over seeds of the mean of the IP- and DM-noisy test F1, EMMA − base", **_F1),
    Claim("generalises_past_training", "Past the training NSR, 'with' stays above 'without' (robustness generalisation)", "core", "final",
          "the performance of the model-with remain more stable than that of the other models", "report/chapters/7-experiments.tex L263",
          _PAST + ", EMMA − data augmentation", **_F1),
    Claim("levels_off_ip", "With IP failing, EMMA levels off near the single clean mode's F1", "secondary", "slides",
          "Figure 1: F1-score, noisy IP-mode", "p. 6 (the slide after the results table, p. 5/9)",
          "two sub-cases: the slope over the highest NSR levels is equivalent to 0 (TOST), and the mean F1 there is within the closeness of the "
          "DM-only F1"),
    Claim("levels_off_dm", "With DM failing, EMMA levels off near the single clean mode's F1", "secondary", "slides",
          "Robustness generalization for DM mode", "p. 6 (the slide after the results table, p. 5/9)",
          "two sub-cases: the slope over the highest NSR levels is equivalent to 0 (TOST), and the mean F1 there is within the closeness of the "
          "IP-only F1"),
    Claim("attention_shifts_ip", "The attention of a mode falls as that mode gets noisy (β_IP), more than with shuffled energies", "core", "final",
          "clear changes in allocation can be observed as a result of the application of noise onto the different modes",
          "report/chapters/7-experiments.tex L135",
          "paired t-test over seeds of the drop of β_IP from clean to IP-noisy samples (training scheme, largest σ of the surfaces), "
          "EMMA − the same EMMA with its potentials shuffled between samples",
          min_effect=0.05, unit="β", reason="a twentieth of β's range [0, 1]: a smaller drop leaves the failing mode's features almost unchanged"),
    Claim("attention_shifts_dm", "The attention of a mode falls as that mode gets noisy (β_DM), more than with shuffled energies", "core", "final",
          "clear changes in allocation can be observed as a result of the application of noise onto the different modes",
          "report/chapters/7-experiments.tex L135",
          "paired t-test over seeds of the drop of β_DM from clean to DM-noisy samples (training scheme, largest σ of the surfaces), "
          "EMMA − the same EMMA with its potentials shuffled between samples",
          min_effect=0.05, unit="β", reason="a twentieth of β's range [0, 1]: a smaller drop leaves the failing mode's features almost unchanged"),
    Claim("total_energy_flags_errors", "The total energy tells wrong predictions from right ones (an uncertainty proxy)", "core", "final",
          "the total energy captures the overall amount of perturbation in a given sample, and can thus serve as a good proxy for quantifying "
          "the uncertainty on the predictions at test time", "report/chapters/7-experiments.tex L243",
          "paired t-test over seeds of the AUROC of the per-sample total energy Σ E_i for the per-sample error, against chance (0.5); "
          "both modes noisy at σ drawn from the total-energy sweep",
          min_effect=AUROC_ABOVE_CHANCE, unit="AUROC", reason=_AUROC_REASON),
    Claim("total_energy_beyond_psi", "The total energy flags errors better than the potential energies alone", "book", "book",
          "EMMA's modal energies add to the autoencoders' potentials what tells a wrong prediction", "chapter 6, Experiment II",
          "paired t-test over seeds of the AUROC of the total energy − that of Σ_i Ψ_i, for the same per-sample errors",
          min_effect=0.05, unit="AUROC", reason="between two scores of the same samples, as for Ψ against the reconstruction error: "
                                                 "a twentieth of the AUROC's range"),
    Claim("capacity_extremes", "Too little and too much capacity both hurt", "secondary", "final",
          "When the capacity is too low, no sufficient amount of information is passed to the MMN, leading to wrong predictions. Similarly, "
          "if the capacity is too high, the perturbations of the failing modes will pass and cause a decrease in performances.",
          "report/chapters/5-emma.tex L143",
          "two sub-cases over the grid, split at the median learned capacity: noisy test F1 rises with capacity below it, falls above it "
          "(one-sided Spearman tests)"),
    Claim("capacity_regularizer_lowers_capacity", "The capacity regularizer λ_c lowers the learned capacity", "core", "final",
          "A common attention function is modified, establishing a link to the concept of capacity of psychology, which pertains to the amount "
          "of attention allocated among inputs. Subsequently, a new regularizer is introduced to control the capacity",
          "report/chapters/1-introduction.tex L58",
          "paired t-test over (seed, ρ, λ_e) of the learned capacity (eq. 5.11) at λ_c = 0 − at the largest λ_c of the grid",
          min_effect=0.05, unit="capacity", reason="a twentieth of the capacity's range [0, 1]"),
    Claim("capacity_regularizer_generalises", "The capacity regularizer λ_c improves the F1 past the training noise", "core", "final",
          _ABSTRACT_RQ2, "report/master-thesis.tex L180",
          _PAST + ", EMMA at the selected λ_c − the same configuration with λ_c = 0 (or the selected value against 0 when it is 0: no test)", **_F1),
    Claim("energy_regularizer_generalises", "The energy regularizer λ_e improves the F1 past the training noise", "core", "final",
          _ABSTRACT_RQ2, "report/master-thesis.tex L180",
          _PAST + ", EMMA at the selected λ_e − the same configuration with λ_e = 0 (or the selected value against 0 when it is 0: no test)", **_F1),
)
