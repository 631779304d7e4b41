"""The book's studies. Each chapter calls one module of results (a typed result per section: its
tables, figures and claims) and one of figures; the modules below them hold the studies they share.

Background and method
    Chapter 1: :mod:`~emma.experiments.attention_study`, :mod:`~emma.experiments.attention_figures`
    (on :mod:`~emma.experiments.mechanisms`, :mod:`~emma.experiments.attention_tasks`, :mod:`~emma.experiments.literature`).
    Chapter 2: :mod:`~emma.experiments.energy_estimation` (on :mod:`~emma.experiments.manifolds`).
    Chapter 3: :mod:`~emma.experiments.emma_module`, :mod:`~emma.experiments.emma_figures`
    (on :mod:`~emma.experiments.interpretability`).
    Chapter 4: :mod:`~emma.experiments.pulsar_data`, :mod:`~emma.experiments.pulsar_figures`.
    Chapter 5: :mod:`~emma.experiments.potential_study`, :mod:`~emma.experiments.potential_figures`
    (on :mod:`~emma.experiments.potentials`).
Robustness (Experiments I and II), chapter 6
    :mod:`~emma.experiments.robustness`, :mod:`~emma.experiments.robustness_figures`; on
    :mod:`~emma.experiments.study` (the robustness study), :mod:`~emma.experiments.confirmation`,
    :mod:`~emma.experiments.verdicts`, :mod:`~emma.experiments.decision` (the decision rules).
The original code, chapter 7
    :mod:`~emma.experiments.replay_study`, :mod:`~emma.experiments.replay_figures`; on
    :mod:`~emma.experiments.replay`, :mod:`~emma.experiments.decomposition` (the protocol's fields one by one),
    :mod:`~emma.experiments.selection` (one run and its top ten), :mod:`~emma.experiments.forensics`,
    :mod:`~emma.experiments.outcomes` (the slides' outcome table).
Beyond the thesis, chapters 8 and 9
    :mod:`~emma.experiments.unified_results`, :mod:`~emma.experiments.unified_figures` (on
    :mod:`~emma.experiments.unified`, :mod:`~emma.experiments.unified_study`);
    :mod:`~emma.experiments.many_modes`, :mod:`~emma.experiments.modes_figures` (on :mod:`~emma.experiments.modes`,
    :mod:`~emma.experiments.modes_study`, :mod:`~emma.experiments.modes_verdicts`).
The verdict, chapter 10 and the appendix
    :mod:`~emma.experiments.conclusion`, :mod:`~emma.experiments.findings`, :mod:`~emma.experiments.verdicts_appendix`.
Extensions, chapter 12
    :mod:`~emma.experiments.beyond_gaussian` (on :mod:`~emma.experiments.failures_study`: other failures of a mode,
    a Ψ gate); :mod:`~emma.experiments.compare` (families side by side under one failure at several severities:
    a new family beside EMMA and data augmentation in one call).

Nothing is imported here: import the study you use.
"""
