"""The batched training engine: K models of one family trained as one computation.

Two layers. The core, :class:`~emma.engine.stacked.StackedModels`, trains K models of any kind
(any number of modes, any width, any loss) with their parameters in one buffer, one Adam, a
hand-written or autograd gradient and the constraints projected after each step: every
classifier of the book trains through it. On top of it, :class:`~emma.engine.sweep.SweepEngine`
adds what the HTRU2 sweeps need: registered families, the thesis's protocols, corruption
streams, early stopping and decision thresholds.

Modules
-------
:mod:`~emma.engine.stacked`
    The core: :class:`StackedModels`, K models trained together (any model, any data).
:mod:`~emma.engine.registry`
    What a model family is (:class:`Family`), and the registry any family plugs into the engine through.
:mod:`~emma.engine.families`
    The thesis's six families (parameters with a leading model axis K, forward passes), registered.
:mod:`~emma.engine.backprop`
    The hand-written gradients of the thesis's families (the fast path), and the autograd path of any family.
:mod:`~emma.engine.optim`
    Adam and early stopping over the model axis.
:mod:`~emma.engine.protocol`
    The training protocol: the book's (:data:`SOUND`), the original code's (:data:`ORIGINAL`) and every step between.
:mod:`~emma.engine.configs`
    The training settings and the table of models of a sweep.
:mod:`~emma.engine.streams`
    What each model sees: its seed's corrupted copy of each split and its data order.
:mod:`~emma.engine.training`
    Losses, thresholds (the decision rules) and F1 over many models.
:mod:`~emma.engine.sweep`
    :class:`SweepEngine`, which trains a sweep.
:mod:`~emma.engine.results`
    :class:`SweepResult`, what a finished sweep is.
:mod:`~emma.engine.launch`
    :func:`run_sweep`: cached sweeps, split over worker processes.
:mod:`~emma.engine.evaluation`
    Scoring a finished sweep: model outputs, per-subset F1, noise responses and curves.
:mod:`~emma.engine.ranking`
    Choosing a configuration of a sweep: scores over seeds, the two rankings, the configuration each picks.
:mod:`~emma.engine.autoencoders`
    :func:`fit_energy_models`, the one way the book fits EMMA's energy models (:class:`EnergyModels`), for any
    list of modes and seeds, with the autoencoders' settings :class:`DAESettings` (:data:`THESIS_DAE`, the thesis's).
:mod:`~emma.engine.autoencoder_stack`
    The stacked trainer underneath: many denoising autoencoders trained at once, each as alone.
:mod:`~emma.engine.energy`
    HTRU2's per-mode energy models, fitted (and cached) for the sweeps: :func:`fit_htru2_energy_models`.
"""
from emma.engine.autoencoders import THESIS_DAE, DAESettings, EnergyModels, fit_energy_models
from emma.engine.configs import TrainSettings, grid
from emma.engine.energy import fit_htru2_energy_models
from emma.engine.families import FAMILIES, forward, init_parameters
from emma.engine.launch import run_sweep
from emma.engine.protocol import ORIGINAL, SOUND, Protocol
from emma.engine.registry import Context, Family, get_family, register, registered, unregister
from emma.engine.results import SweepResult
from emma.engine.stacked import StackedModels
from emma.engine.sweep import SweepEngine

__all__ = [
    "SweepResult", "FAMILIES", "ORIGINAL", "SOUND", "THESIS_DAE", "Context", "DAESettings", "EnergyModels", "Family", "Protocol",
    "StackedModels", "SweepEngine", "TrainSettings", "fit_energy_models", "fit_htru2_energy_models", "forward",
    "get_family", "grid", "init_parameters", "register", "registered", "run_sweep", "unregister"
]
