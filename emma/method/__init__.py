"""The method: what EMMA computes, independent of any training loop.

Modules
-------
:mod:`~emma.method.attention`
    EMMA's functional core for any number of modes: corrected potentials, self and shared
    energies, the Boltzmann importance scores α and the attention scores β (eq. 5.2–5.7).
:mod:`~emma.method.module`
    :class:`EMMA`, the same as a ``torch.nn.Module`` in front of frozen autoencoders.
:mod:`~emma.method.regularizers`
    The capacity and the energy regularizer of the loss (eq. 5.11–5.12).
:mod:`~emma.method.autoencoder`
    The denoising autoencoders whose potential energy Ψ feeds EMMA.
:mod:`~emma.method.derivations`
    The thesis's derivations, checked symbolically (sympy) and numerically.
"""
from emma.method.attention import EMMAOutput, attention_scores, energy_threshold, initial_parameters, project_parameters_
from emma.method.autoencoder import DenoisingAutoencoder, UntiedAutoencoder, freeze, train_one_autoencoder
from emma.method.module import EMMA
from emma.method.regularizers import capacity, capacity_penalty, capacity_relu, energy_regularizer

__all__ = ["EMMA", "EMMAOutput", "DenoisingAutoencoder", "UntiedAutoencoder", "attention_scores", "capacity", "capacity_penalty",
           "capacity_relu", "energy_regularizer", "energy_threshold", "freeze", "initial_parameters", "project_parameters_",
           "train_one_autoencoder"]
