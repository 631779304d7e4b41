"""emma: the code behind the book *Energy-based Multi-Modal Attention, reproduced*."""
from .attention import EMMAOutput, attention_scores, energy_threshold, initial_parameters, project_parameters_
from .module import EMMA
from .regularizers import capacity, capacity_penalty, capacity_relu, energy_regularizer
from .data import fetch_htru2
from .noise import add_noise, corrupt, nsr_db_to_sigma, sigma_to_nsr_db
from .splits import make_splits
from .energy import ModeEnergies, fit_mode_autoencoders
from .protocol import ORIGINAL, SOUND, Protocol
from .configs import TrainSettings
from .launch import run_sweep
from .sweep import SweepEngine
from .autoencoder import DenoisingAutoencoder, UntiedAutoencoder, freeze, train_autoencoder
from .outputs import save_figure, save_table
from .runtime import resolve_device, seed_everything

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
    "ModeEnergies",
    "fit_mode_autoencoders",
    "Protocol",
    "SOUND",
    "ORIGINAL",
    "SweepEngine",
    "TrainSettings",
    "run_sweep",
    "DenoisingAutoencoder",
    "UntiedAutoencoder",
    "freeze",
    "train_autoencoder",
    "save_figure",
    "save_table",
    "resolve_device",
    "seed_everything",
]
