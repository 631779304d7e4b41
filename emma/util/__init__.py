"""The base every layer stands on: devices and seeds, atomic outputs, caches, and how the book shows tables and figures.

Modules
-------
:mod:`~emma.util.runtime`
    The device (``auto``/``cpu``/``cuda``), seeds, progress bars, the run profile.
:mod:`~emma.util.outputs`
    Atomic writes; :func:`save_table` and :func:`save_figure`, where a chapter's outputs go.
:mod:`~emma.util.cache`
    Results cached on disk, keyed by everything that produced them.
:mod:`~emma.util.fingerprint`
    Digests of code and of what it reads, for cache keys.
:mod:`~emma.util.display`
    A table as the book shows it (readable names, no ``NaN``, a width that fits).
:mod:`~emma.util.plots`
    Figure helpers (legible sizes, the families' colours).
"""
from emma.util.cache import cache_key, cached
from emma.util.outputs import atomic_write, save_figure, save_table
from emma.util.runtime import check_profile, progress_disabled, resolve_device, seed_everything, single_cpu_thread

__all__ = ["atomic_write", "cache_key", "cached", "check_profile", "progress_disabled", "resolve_device", "save_figure",
           "save_table", "seed_everything", "single_cpu_thread"]
