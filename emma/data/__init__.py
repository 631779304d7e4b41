"""The data: the HTRU2 file, its splits, and the failures a mode can suffer.

Modules
-------
:mod:`~emma.data.htru2`
    Finding, checking and reading HTRU2; its two modes (IP and DM).
:mod:`~emma.data.separation`
    How well each feature alone separates pulsars from the rest (a direction-free AUROC).
:mod:`~emma.data.splits`
    Stratified, standardized train/validation/test splits.
:mod:`~emma.data.noise`
    Gaussian corruption of a mode and the noise-to-signal ratio.
:mod:`~emma.data.failures`
    Failures of a mode as objects (Gaussian noise, zeroed, mean-filled, swapped) and the
    thesis's scheme with any of them.
"""
from emma.data.failures import Failure, Gaussian, MeanFilled, Standardization, Swapped, Zeroed, corrupt_modes, scheme_mask
from emma.data.htru2 import CLASS_COLUMN, FEATURE_NAMES, HTRU2, MODE_NAMES, MODE_SLICES, fetch_htru2, read_htru2
from emma.data.noise import add_noise, corrupt, nsr_db_to_sigma, sigma_to_nsr_db
from emma.data.splits import Split, Splits, make_splits, split_arrays

__all__ = ["CLASS_COLUMN", "FEATURE_NAMES", "HTRU2", "MODE_NAMES", "MODE_SLICES", "Split", "Splits", "add_noise", "corrupt",
           "fetch_htru2", "make_splits", "nsr_db_to_sigma", "read_htru2", "sigma_to_nsr_db",
           "Failure", "Gaussian", "MeanFilled", "Standardization", "Swapped", "Zeroed", "corrupt_modes", "scheme_mask", "split_arrays"]
