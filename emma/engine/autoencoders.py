"""EMMA's energy models, fitted the one way the book fits them: :func:`fit_energy_models`.

:func:`fit_energy_models` fits them for any list of modes and seeds: one tied sigmoid denoising
autoencoder per data set, initialised from its seed, all trained at once on a model axis
(:func:`~emma.engine.autoencoder_stack.train_many_autoencoders`, :mod:`emma.engine.autoencoder_stack`), frozen, with its Ψ_min
(:class:`EnergyModels`). How each one is built and trained is one :class:`DAESettings`; the
book's named settings are :data:`THESIS_DAE` (HTRU2's per-mode autoencoders) and :data:`TOY_DAE`
(the two manifolds of chapter 4), and a chapter overrides them with its parameters in one call
(:meth:`DAESettings.override`). HTRU2's per-mode models, cached for the sweeps, are
:func:`emma.engine.energy.fit_htru2_energy_models`'s.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields

import pandas as pd
import torch

from emma.engine.autoencoder_stack import per_model, train_many_autoencoders
from emma.method.autoencoder import DenoisingAutoencoder, check_batch, freeze
from emma.util import checks


@dataclass(frozen=True)
class DAESettings:
    """How one energy autoencoder is built and trained: a tied sigmoid denoising autoencoder (chapter 4, eq. 4.1).

    Every function of the book that fits autoencoders takes one (``dae=``); a chapter builds its
    own from a named default and its parameters in one call, :meth:`override`.

    Attributes
    ----------
    d_hidden : int
        Hidden units (>= 1).
    noise_std : float
        Corruption σ of the training inputs (>= 0).
    epochs : int
        Passes over the training rows (>= 1).
    batch_size : int
        Rows per mini-batch (>= 1).
    lr : float
        Adam's learning rate (> 0).

    Raises
    ------
    ValueError
        A setting out of its range, named.

    Examples
    --------
    >>> THESIS_DAE.override(epochs=5, d_hidden=None)
    DAESettings(d_hidden=12, noise_std=0.01, epochs=5, batch_size=64, lr=0.001)
    """

    d_hidden: int
    noise_std: float
    epochs: int
    batch_size: int
    lr: float = 1e-3

    def __post_init__(self):
        for name in ("d_hidden", "epochs", "batch_size"):
            object.__setattr__(self, name, checks.positive_int(getattr(self, name), name))
        object.__setattr__(self, "noise_std", checks.number(self.noise_std, "noise_std", low=0.0))
        object.__setattr__(self, "lr", checks.number(self.lr, "lr", low=0.0, low_open=True))

    def override(self, **values) -> "DAESettings":
        """These settings with ``values`` in place of theirs; a value of None keeps this one's.

        A chapter's ``dae_*`` parameters default to None, so that ``THESIS_DAE.override(epochs=dae_epochs, ...)``
        is the named default unless a parameter is set.

        Raises
        ------
        TypeError
            A name that is no setting.
        """
        names = [f.name for f in fields(self)]
        unknown = sorted(set(values) - set(names))
        if unknown:
            raise TypeError(f"{unknown} are no autoencoder settings; the settings are {names}")
        return DAESettings(**{name: getattr(self, name) if values.get(name) is None else values[name] for name in names})


#: The thesis's per-mode autoencoders of HTRU2 (Experiment I; :data:`emma.claims.thesis.MODE_DAE_SETTINGS`):
#: 4 inputs, 12 hidden units, σ = 0.01, 30 epochs of batches of 64, Adam at 10⁻³.
THESIS_DAE = DAESettings(d_hidden=12, noise_std=0.01, epochs=30, batch_size=64, lr=1e-3)
#: The thesis's toy autoencoders on the two manifolds of chapter 4 (section 4.3; :data:`emma.claims.thesis.TOY_SETTINGS`):
#: 2 inputs, 8 hidden units, σ = 0.008, 25 epochs of batches of 100, Adam at 10⁻³.
TOY_DAE = DAESettings(d_hidden=8, noise_std=0.008, epochs=25, batch_size=100, lr=1e-3)


def check_dae(dae, k: int | None = None, name: str = "dae") -> list[DAESettings] | DAESettings:
    """``dae`` checked: one :class:`DAESettings`, or, with ``k``, one or a list of ``k`` of them, as a list of ``k``.

    Raises
    ------
    TypeError
        Anything else (a dict of settings, say), named.
    ValueError
        A list of another length than ``k``.
    """
    if k is None:
        if not isinstance(dae, DAESettings):
            raise TypeError(f"{name} must be a DAESettings (e.g. emma.engine.autoencoders.THESIS_DAE.override(epochs=5)), "
                            f"got {type(dae).__name__}")
        return dae
    values = per_model(dae, k, name)
    return [check_dae(value, name=f"{name}[{i}]" if isinstance(dae, (list, tuple)) else name) for i, value in enumerate(values)]


@dataclass
class EnergyModels:
    """Frozen energy autoencoders and what the book needs from them: one model per data set (a mode, of a seed).

    From :func:`fit_energy_models`, or from :func:`emma.engine.energy.fit_htru2_energy_models`
    (one per seed: HTRU2's IP and DM autoencoders, in :data:`emma.data.htru2.MODE_NAMES` order).

    Attributes
    ----------
    models : list of DenoisingAutoencoder
        Trained, frozen (:func:`emma.method.autoencoder.freeze`), on the training device.
    psi_min : Tensor, shape (K,)
        Each model's lowest potential on its own (clean) training data, Ψ_min of eq. 5.2.
    curves : DataFrame
        The learning curves, one row per model and epoch: the model (``model``, its position in
        ``models``; HTRU2's name it by their mode, ``mode``), ``epoch``, ``train_loss`` and, for
        models with validation data, ``val_loss``.
    settings : dict
        Every setting that produced the models (HTRU2's: also their cache key, which the sweeps
        trained with them record); empty when not recorded.
    """

    models: list
    psi_min: torch.Tensor
    curves: pd.DataFrame
    settings: dict = field(default_factory=dict)

    def _inputs(self, x) -> list[torch.Tensor]:
        """Each model's input: ``x`` split by columns (model k's follow model k − 1's), or ``x`` itself when a list."""
        if isinstance(x, torch.Tensor):
            widths = [model.d_input for model in self.models]
            check_batch(x, sum(widths), "x")
            return list(torch.split(x, widths, dim=1))
        if not isinstance(x, (list, tuple)) or len(x) != len(self.models):
            raise ValueError(f"x must be a (n, {sum(m.d_input for m in self.models)}) tensor or a list of {len(self.models)} tensors, "
                             f"one per model, got {type(x).__name__} of length {len(x) if isinstance(x, (list, tuple)) else '?'}")
        return list(x)

    @torch.no_grad()
    def potentials(self, x) -> torch.Tensor:
        """Ψ of every sample under every model (eq. 4.7, per sample). Shape (n, K).

        ``x`` is a (n, Σ d_k) tensor, model k's columns after model k − 1's (HTRU2's standardized
        (n, 8) samples: IP then DM), or a list of K (n, d_k) tensors.
        """
        device = self.psi_min.device
        return torch.stack([model.potential(part.to(device)) for model, part in zip(self.models, self._inputs(x))], dim=1)

    @torch.no_grad()
    def reconstruction_errors(self, x) -> torch.Tensor:
        """‖r_k(x_k) − x_k‖² of every sample and model, ``x`` as in :meth:`potentials`. Shape (n, K)."""
        device = self.psi_min.device
        return torch.stack([model.reconstruction_error(part.to(device)) for model, part in zip(self.models, self._inputs(x))], dim=1)


def fit_energy_models(x_train, *, seeds, dae: DAESettings | list = THESIS_DAE, x_val=None, device=None, progress: bool | None = None,
                      desc: str = "energy autoencoders") -> EnergyModels:
    """The energy models of EMMA (chapter 4) for any list of modes and seeds: one tied sigmoid denoising
    autoencoder per data set, all trained at once. The one way the book fits them.

    Model k has ``x_train[k].shape[1]`` inputs and ``dae.d_hidden`` hidden units; its initial
    weights are drawn with :func:`torch.manual_seed` ``(seeds[k])`` (the global generator is left
    as it was), and its shuffling and corruption come from ``seeds[k]`` too
    (:func:`~emma.engine.autoencoder_stack.train_many_autoencoders`). Every study of the book goes through here: HTRU2's modes
    (:func:`emma.engine.energy.fit_htru2_energy_models`, which adds a cache), M modes of any width
    (:mod:`emma.experiments.modes_study`) and the unified model's tasks
    (:func:`emma.experiments.unified_study.fit_task_energies`).

    Parameters
    ----------
    x_train : sequence of Tensor
        Model k's training rows (n_k, d_k): e.g. each mode of each seed.
    seeds : sequence of int
        One per model.
    dae : DAESettings or sequence of DAESettings
        How every model is built and trained (default :data:`THESIS_DAE`), or one per model
        (their ``batch_size`` and ``lr`` equal: they share one optimiser's steps).
    x_val : sequence of (Tensor or None), optional
        Model k's validation rows, for the ``val_loss`` of its learning curves.
    device : str or torch.device, optional
        Where the models train and stay; that of ``x_train[0]`` by default.
    progress, desc
        As :func:`~emma.engine.autoencoder_stack.train_many_autoencoders`.

    Returns
    -------
    EnergyModels
        Its ``settings`` empty: the caller knows what it asked for.

    Raises
    ------
    ValueError, TypeError
        A bad argument, named.

    Examples
    --------
    >>> fitted = fit_energy_models([torch.randn(50, 4), torch.randn(30, 6)], seeds=[0, 1],
    ...                            dae=DAESettings(d_hidden=5, noise_std=0.1, epochs=2, batch_size=16), progress=False)
    >>> [m.d_input for m in fitted.models], tuple(fitted.psi_min.shape)
    ([4, 6], (2,))
    """
    if not isinstance(x_train, (list, tuple)) or not x_train or not all(isinstance(x, torch.Tensor) and x.dim() == 2 for x in x_train):
        raise ValueError("x_train must be a non-empty list of (n, d) tensors, one per model")
    if not isinstance(seeds, (list, tuple)) or len(seeds) != len(x_train):
        raise ValueError(f"seeds must be a list of one seed per model ({len(x_train)}), got {seeds!r}")
    seeds = [checks.integer(s, f"seeds[{k}]", low=0) for k, s in enumerate(seeds)]
    daes = check_dae(dae, len(x_train))
    for name in ("batch_size", "lr"):
        if len({getattr(d, name) for d in daes}) > 1:
            raise ValueError(f"dae must share one {name} across the models (they train in one stack), got {[getattr(d, name) for d in daes]}")
    device = x_train[0].device if device is None else torch.device(device)
    models = []
    for x, seed, d in zip(x_train, seeds, daes):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            models.append(DenoisingAutoencoder(x.shape[1], d.d_hidden, d.noise_std).to(device))
    x_train = [x.to(device) for x in x_train]
    x_val = None if x_val is None else [None if x is None else x.to(device) for x in x_val]
    curves = train_many_autoencoders(models, x_train, seeds=seeds, epochs=[d.epochs for d in daes], batch_size=daes[0].batch_size,
                                     lr=daes[0].lr, x_val=x_val, progress=progress, desc=desc)
    with torch.no_grad():
        psi_min = torch.stack([model.potential(check_batch(x, model.d_input, "x_train")).min() for model, x in zip(models, x_train)])
    curves = pd.concat([curve.assign(model=k) for k, curve in enumerate(curves)], ignore_index=True)
    curves = curves[["model", *(c for c in curves.columns if c != "model")]]
    return EnergyModels([freeze(model) for model in models], psi_min, curves)
