"""The book's studies, one module per study; each chapter calls one or two of them.

Background and method
    :mod:`~emma.experiments.mechanisms`, :mod:`~emma.experiments.attention_tasks`, :mod:`~emma.experiments.literature`
    (chapter 1); :mod:`~emma.experiments.manifolds` (chapter 2); :mod:`~emma.experiments.potentials` (chapter 5).
Robustness (Experiments I and II)
    :mod:`~emma.experiments.study` (the robustness study), :mod:`~emma.experiments.verdicts`,
    :mod:`~emma.experiments.decision` (the decision rules).
The original code
    :mod:`~emma.experiments.replay`, :mod:`~emma.experiments.selection` (one run and its top ten),
    :mod:`~emma.experiments.forensics`, :mod:`~emma.experiments.outcomes` (the slides' outcome table).
Beyond the thesis
    :mod:`~emma.experiments.unified`, :mod:`~emma.experiments.unified_study` (the unified model);
    :mod:`~emma.experiments.modes`, :mod:`~emma.experiments.modes_study`, :mod:`~emma.experiments.modes_verdicts` (more than two modes).
The verdict
    :mod:`~emma.experiments.conclusion`, :mod:`~emma.experiments.findings`.
Extensions
    :mod:`~emma.experiments.failures_study` (beyond Gaussian noise: other failures of a mode, a Ψ gate);
    :mod:`~emma.experiments.compare` (families side by side under one failure at several severities: a new family
    beside EMMA and data augmentation in one call).

Nothing is imported here: import the study you use.
"""
