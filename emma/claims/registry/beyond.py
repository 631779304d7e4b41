"""The claims of the chapters that go beyond the thesis's experiments: 8, 9 and 12.

* **A unified model** (chapter 8, :func:`emma.experiments.unified_study.unified_claims`): the
  thesis proposes the model without an experiment, so every claim is the book's; each rephrases a
  sentence of the thesis, which its ``test`` names.
* **More than two modes** (chapter 9, :func:`emma.experiments.modes_verdicts.modes_claims`): two
  statements of the thesis (the constraint on clean modes, the quadratic cost) and three
  conjectures of the book read from the draft's notes for future work (§8.3).
* **Beyond Gaussian noise** (chapter 12, :func:`emma.experiments.failures_study.failure_claims`):
  the book's questions, one set per failure of a mode. The failures are the chapter's
  parameters, so their claims are built from one wording per question
  (:data:`FAILURE_QUESTIONS`) by :func:`failure_claims_for` and registered by
  :func:`emma.claims.registry.register_failure_claims`; those of the chapter's four default failures
  (:data:`DEFAULT_FAILURES`) are registered at import.

Minimum effects, fixed before any run. Accuracy and F1 gains: 0.02, the smallest gain the
thesis's table reports for EMMA over data augmentation (+0.024 F1), as in
:mod:`emma.claims.registry.robustness`. Attention quantities with range [0, 1] (β, a mask, a
crossmodal weight): 0.05, a twentieth of the range. An AUROC above chance: 0.2 (an AUROC of 0.7, as in :mod:`.background`). A rank
correlation with M: 0.3, a medium correlation by Cohen's convention.
"""
from __future__ import annotations

import re

from emma.claims.registry._claim import Claim
from emma.claims.registry.background import _AUROC_REASON, AUROC_ABOVE_CHANCE

# ----------------------------------------------------------------------------- shared minimum effects

_ACCURACY = dict(min_effect=0.02, unit="accuracy", reason="two points, as for F1: the smallest gain the thesis's table reports for EMMA "
                                                          "over data augmentation is +0.024 F1; below it a gain is within one model's seed spread")
_F1 = dict(min_effect=0.02, unit="F1", reason="the smallest gain the thesis's table reports for EMMA over data augmentation (IP-noisy, +0.024); "
                                              "below it a gain is within one model's seed spread")
_AUROC = dict(min_effect=AUROC_ABOVE_CHANCE, unit="AUROC", reason=_AUROC_REASON)
_RANK = dict(min_effect=0.3, unit="Spearman ρ", reason="a medium correlation (Cohen); a weaker one is no trend with M worth the name")


def _unit_range(unit: str, what: str) -> dict:
    return dict(min_effect=0.05, unit=unit, reason=f"a twentieth of {what}'s range [0, 1]: a smaller difference barely changes the input it weighs")


# ----------------------------------------------------------------------------- chapter 8: a unified model

_UNIFIED = "chapter 8, A unified model of multi-modal attention"
_JOBS = "its summary sentence is testable: each part does its own job, and together they make a complete multi-modal attention"
_DRAFT_SUMMARY = ("rephrases the draft's summary (§7): 'the exogenous module masks perturbations, the endogenous module learns to attend "
                  "to important information inside each mode, and the crossmodal extracts knowledge by looking at the whole picture'")

UNIFIED = (
    Claim("unified_exogenous_masks", "The exogenous module masks perturbations: in the full model, corrupted modes get a lower β than clean ones",
          "book", "book", _JOBS, _UNIFIED,
          "paired t-test over seeds of the mean β of the clean modes − that of the corrupted modes, full model, synthetic test set; "
          + _DRAFT_SUMMARY, **_unit_range("β", "β")),
    Claim("unified_endogenous_attends", "The endogenous module attends to the important information inside each mode: its mask weighs the "
          "feature holding the signal more than the other features", "book", "book", _JOBS, _UNIFIED,
          "paired t-test over seeds of the mean mask on the feature holding the signal − that on the other features (clean modes), full "
          "model, synthetic test set; " + _DRAFT_SUMMARY, **_unit_range("mask", "a mask")),
    Claim("unified_crossmodal_whole_picture", "The crossmodal module looks at the whole picture: a mode puts more of its crossmodal weight on "
          "the clean modes carrying the other factor than uniform weights would", "book", "book", _JOBS, _UNIFIED,
          "paired t-test over seeds of that weight − the share uniform weights give those modes, full model, synthetic test set; "
          + _DRAFT_SUMMARY, **_unit_range("crossmodal weight", "a crossmodal weight")),
    Claim("unified_complete", "Together the three parts make a complete multi-modal attention: the full model beats each of the seven other "
          "combinations, on clean and on corrupted accuracy", "book", "book", "does the composition beat its parts?", _UNIFIED,
          "14 sub-cases (7 combinations × 2 scores), each a paired t-test over seeds of the full model's accuracy − the combination's, "
          "Holm-corrected over the 14; rephrases the final thesis's 'we claim to have all the ingredients to construct a complete multi-modal "
          "network like humans' (report/chapters/8-unified.tex L4)", **_ACCURACY),
    Claim("unified_htru2_beats_emma", "On HTRU2, the best combination of the ablation (the full model if that is EMMA alone) beats EMMA alone "
          "in F1 on noisy test samples", "book", "book", "And does it help on the thesis's data, HTRU2, against EMMA alone?", _UNIFIED,
          "paired t-test over seeds of the test F1 on noisy samples, best combination − EMMA alone, same corrupted data per seed; asks the "
          "thesis's research question 1 (draft §5.8) of the unified model", **_F1),
)

# ----------------------------------------------------------------------------- chapter 9: more than two modes

_MODES = "chapter 9, More than two modes"
#: The exponent of time ∝ M^p from which a cost counts as growing quadratically (halfway from linear to quadratic).
QUADRATIC_EXPONENT = 1.5

MODES = (
    Claim("modes_gain_beyond_two", "EMMA's robustness gain over data augmentation holds for more than two modes", "book", "book",
          "does EMMA keep its robustness gain over the same network trained on the same corrupted data without it?", _MODES,
          "one sub-case per data set and M > 2: a paired t-test over seeds of the test accuracy of 'with' − 'without', averaged over the "
          "numbers of corrupted modes that respect the constraint, Holm-corrected over the sub-cases; the thesis tests M = 2 only", **_ACCURACY),
    Claim("modes_constraint", "With fewer than M′ = ⌊(M+1)/2⌋ clean modes the energy regularizer misbehaves: its effect on the accuracy is "
          "lower than where the constraint holds", "secondary", "final",
          "…some undesired effects can appear if we do not add the constraint M' = ⌊(M+1)/2⌋", "report/chapters/5-emma.tex L241",
          "paired t-test over seeds of the effect of Ω on the test accuracy ('with' − 'with, λ_e = 0') averaged over the cells where the "
          "constraint holds − averaged over those where it does not (same data sets and M)", **_ACCURACY),
    Claim("modes_coldness_blows_up", "The coldness needed to separate corrupted from clean modes grows with the number of modes", "book", "book",
          "the coldness ρ needed grows without bound with M", _MODES,
          "one-sided Spearman correlation of the coldness needed with M, one point per seed and M, Fisher-z interval; reads the draft's "
          "future-work note 'Multiple modes then blows up' (§8.3)", **_RANK),
    Claim("modes_scores_vanish", "With many modes the attention scores of the clean modes fall towards zero", "book", "book",
          "the scores tend to zero", _MODES,
          "one-sided Spearman correlation of the clean modes' mean β with M (synthetic task, one corrupted mode), one point per seed and M, "
          "Fisher-z interval; reads the draft's future-work note 'Image 100 modes … then tend to zero. Solution add a common gain?' (§8.3)",
          **_RANK),
    Claim("modes_quadratic_cost", "The cost of a training step with EMMA grows quadratically with the number of modes", "secondary", "draft",
          "Scales up quadratically with number of modes", "§8",
          f"two sub-cases: the exponent p of time ∝ M^p fitted over the three largest M reaches {QUADRATIC_EXPONENT} for the whole training "
          "step with EMMA, and for EMMA's steps 2–4 alone (timings); the final thesis narrows the note to EMMA's number of parameters "
          "(report/chapters/5-emma.tex L151), quadratic by construction"),
)

# ----------------------------------------------------------------------------- chapter 12: beyond Gaussian noise

_FAILURES = "chapter 12, Beyond Gaussian noise"
#: The failures of the chapter's default parameters, whose claims are registered at import.
DEFAULT_FAILURES = ("gaussian", "zeroed", "mean-filled", "swapped")
#: The chapter's questions, one wording each: id, claim, quote, test and minimum effect, as templates of
#: ``{f}`` (the failure tested; ``{f_id}`` in an id) and ``{g}`` (the failure of the transfer's training).
FAILURE_QUESTIONS = {
    "beats_augmentation": dict(
        id="beats_augmentation_{f_id}", claim="Trained and tested on {f}, EMMA beats data augmentation on samples with a failed mode",
        quote="Does EMMA beat the same network trained on the same failed data without it (\"without\", data augmentation)?",
        test="paired t-test over seeds of the test F1 on failed samples, EMMA ('with') − data augmentation ('without'), both trained on {f}",
        **_F1),
    "transfer": dict(
        id="beats_augmentation_{f_id}_trained_on_{g_id}",
        claim="Trained on {g} and tested on {f}, EMMA beats data augmentation on samples with a failed mode",
        quote="And does EMMA trained on Gaussian noise still help when the mode fails in another way?",
        test="paired t-test over seeds of the test F1 on samples failed by {f}, EMMA − data augmentation, both trained on {g}", **_F1),
    "beats_gate": dict(
        id="beats_gate_{f_id}", claim="Trained and tested on {f}, EMMA beats the Ψ gate on samples with a failed mode",
        quote="If EMMA's machinery matters, EMMA should beat it.",
        test="paired t-test over seeds of the test F1 on failed samples, EMMA − the Ψ gate, both trained on {f}", **_F1),
    "energy_flags": dict(
        id="energy_flags_{f_id}", claim="The potential energy flags {f}: for each mode, Ψ_i tells samples with that mode failed from clean ones",
        quote="EMMA can only react to a failure that its potential energy sees.",
        test="two sub-cases, IP and DM: a one-sided t-test over seeds of the AUROC of Ψ_i (failed against clean test samples) against "
             "chance, 0.5", **_AUROC),
}


def failure_slug(name: str) -> str:
    """A failure's name as it enters a claim id: lower case, every run of other characters an underscore.

    >>> failure_slug("mean-filled")
    'mean_filled'
    """
    if not isinstance(name, str) or not re.search(r"[A-Za-z0-9]", name):
        raise ValueError(f"a failure name must be a string with a letter or digit, got {name!r}")
    slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    return slug if slug[0].isalpha() else f"f_{slug}"


def failure_claim_id(question: str, failure: str, trained_on: str | None = None) -> str:
    """The id of ``question`` (a key of :data:`FAILURE_QUESTIONS`) for ``failure`` (and the transfer's training failure).

    >>> failure_claim_id("transfer", "mean-filled", "gaussian")
    'beats_augmentation_mean_filled_trained_on_gaussian'
    """
    if question not in FAILURE_QUESTIONS:
        raise ValueError(f"question must be one of {tuple(FAILURE_QUESTIONS)}, got {question!r}")
    if (question == "transfer") != (trained_on is not None):
        raise ValueError(f"trained_on names the training failure of the question 'transfer', and only of it; got {trained_on!r} for {question!r}")
    return FAILURE_QUESTIONS[question]["id"].format(f_id=failure_slug(failure), g_id=failure_slug(trained_on) if trained_on else "")


def failure_claims_for(failures, gaussian: str = "gaussian") -> list[Claim]:
    """The claims of chapter 12 for the failures named ``failures``, in the order the chapter's table lists them.

    Per failure f: EMMA beats data augmentation trained and tested on f; for f other than
    ``gaussian``, EMMA trained on ``gaussian`` beats data augmentation trained on it, tested on
    f; EMMA beats the Ψ gate trained and tested on f; Ψ flags f.

    Parameters
    ----------
    failures : sequence of str
        The failures' names (those of the chapter's table), without repeats.
    gaussian : str
        The one of them the transfer trains on.
    """
    if isinstance(failures, str) or not failures:
        raise ValueError(f"failures must be a non-empty sequence of failure names, got {failures!r}")
    names = [str(f) for f in failures]
    if len(set(map(failure_slug, names))) != len(names):
        raise ValueError(f"failures must name each failure once (ids compare names in lower case, punctuation as '_'), got {names}")
    if gaussian not in names:
        raise ValueError(f"gaussian must name one of the failures {names}, got {gaussian!r}")

    def build(question, f, g=None):
        spec = {k: v.format(f=f, g=g) if isinstance(v, str) else v for k, v in FAILURE_QUESTIONS[question].items() if k != "id"}
        return Claim(failure_claim_id(question, f, g), kind="book", source="book", location=_FAILURES, **spec)

    return ([build("beats_augmentation", f) for f in names] + [build("transfer", f, gaussian) for f in names if f != gaussian]
            + [build("beats_gate", f) for f in names] + [build("energy_flags", f) for f in names])


CLAIMS: tuple[Claim, ...] = UNIFIED + MODES + tuple(failure_claims_for(DEFAULT_FAILURES))
