"""emma: the code behind the book *Energy-based Multi-Modal Attention, reproduced*.

The package has one subpackage per layer, each stating its API in its ``__init__``:

* :mod:`emma.method`: what EMMA computes (energies, attention, regularizers, autoencoders, derivations);
* :mod:`emma.data`: HTRU2, its splits, corruption of a mode;
* :mod:`emma.engine`: the batched training engine (families, optimisation, sweeps, evaluation);
* :mod:`emma.experiments`: one module per study of the book;
* :mod:`emma.claims`: verdict rules, the thesis's numbers, collected verdicts;
* :mod:`emma.util`: devices, seeds, atomic outputs, caches, tables and figures.

The book's tooling (the ``emma-book`` command, run keys, the site and the PDF) is the package
``emma_book`` beside it, which imports ``emma``; ``emma`` never imports it.

The names below are the ones a new experiment needs most.
"""
from emma.data import add_noise, corrupt, fetch_htru2, make_splits, nsr_db_to_sigma, sigma_to_nsr_db
from emma.engine import (
    ORIGINAL,
    SOUND,
    THESIS_DAE,
    DAESettings,
    EnergyModels,
    Protocol,
    SweepEngine,
    TrainSettings,
    fit_energy_models,
    fit_htru2_energy_models,
    run_sweep,
)
from emma.method import (
    EMMA,
    DenoisingAutoencoder,
    EMMAOutput,
    UntiedAutoencoder,
    attention_scores,
    capacity,
    capacity_penalty,
    capacity_relu,
    energy_regularizer,
    energy_threshold,
    freeze,
    initial_parameters,
    project_parameters_,
    train_one_autoencoder,
)
from emma.util import resolve_device, save_figure, save_table, seed_everything

__all__ = [
    "EMMA",
    "EMMAOutput",
    "attention_scores",
    "capacity",
    "capacity_penalty",
    "capacity_relu",
    "energy_regularizer",
    "energy_threshold",
    "initial_parameters",
    "project_parameters_",
    "add_noise",
    "corrupt",
    "fetch_htru2",
    "make_splits",
    "nsr_db_to_sigma",
    "sigma_to_nsr_db",
    "DAESettings",
    "THESIS_DAE",
    "EnergyModels",
    "fit_energy_models",
    "fit_htru2_energy_models",
    "Protocol",
    "SOUND",
    "ORIGINAL",
    "SweepEngine",
    "TrainSettings",
    "run_sweep",
    "DenoisingAutoencoder",
    "UntiedAutoencoder",
    "freeze",
    "train_one_autoencoder",
    "save_figure",
    "save_table",
    "resolve_device",
    "seed_everything",
]
