"""emma: the code behind the book *Energy-based Multi-Modal Attention, reproduced*."""
from .autoencoder import DenoisingAutoencoder, UntiedAutoencoder, freeze, train_autoencoder
from .outputs import save_figure, save_table
from .runtime import resolve_device, seed_everything

__all__ = [
    "DenoisingAutoencoder",
    "UntiedAutoencoder",
    "freeze",
    "train_autoencoder",
    "save_figure",
    "save_table",
    "resolve_device",
    "seed_everything",
]
