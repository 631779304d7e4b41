"""A sweep launched: read from the cache, or trained by one engine, or by parts at once.

:func:`run_sweep` is how chapters and studies train a sweep of :class:`emma.engine.sweep.SweepEngine`.
It keys the finished sweep by everything that produced it (:func:`emma.util.cache.cached`).
On the CPU a large sweep can be cut into parts (its models dealt out in turn, so that each part
holds as many of every protocol) trained at once on one thread each, one in this process and the others in worker processes: the engine's
step is a few hundred small tensor operations, which one thread runs nearly as fast as
two, so two parts on two cores take about as long as one part.
"""
from __future__ import annotations

import contextlib
import os
import time
from typing import Mapping

import numpy as np
import torch

from emma.data.splits import Splits, tensor_fingerprint
from emma.engine.configs import TrainSettings, check_configs
from emma.engine.evaluation import apply_rules, select
from emma.engine.families import FAMILIES
from emma.engine.protocol import SOUND, Protocol
from emma.engine.registry import fingerprint, get_family
from emma.engine.results import SweepResult, merge_results
from emma.engine.streams import energies_for
from emma.engine.sweep import ENGINE_VERSION, SMALL_SWEEP, SweepEngine
from emma.util.cache import cached
from emma.util.runtime import resolve_device, single_cpu_thread, worker_pool


def run_sweep(family: str, configs, splits: Splits, settings: TrainSettings = TrainSettings(), *, protocol: Protocol = SOUND,
              energies=None, base: Mapping[str, torch.Tensor] | None = None, device="cpu", cache_dir: str | os.PathLike | None = None,
              progress: bool | None = None, workers: int = 1, one_thread: bool = False) -> SweepResult:
    """Train K models of one family as one batched computation, or load the finished sweep from the cache.

    Parameters
    ----------
    family, configs, splits, settings, protocol, energies, base, device
        As :class:`SweepEngine`.
    cache_dir : path, optional
        Where :func:`emma.util.cache.cached` keeps finished sweeps; the key holds the family,
        every model's configuration and the protocol fields that can change it
        (:meth:`~emma.engine.protocol.Protocol.key`), the settings, the data, the autoencoders,
        the base parameters, the device type and the engine version.
    progress : bool, optional
        Show a progress bar (default: unless :func:`emma.util.runtime.progress_disabled`).
    workers : int
        On the CPU, a sweep of at least :data:`SMALL_SWEEP` models is cut into this many
        parts, its models dealt out in turn (models of a slower protocol do not all land in one
        part), trained at once on one thread each: one in this process
        (with the progress bar), the others in worker processes. A model's row does not depend
        on what is stacked beside it, so the parts give the models of one sweep up to the last
        bits of float arithmetic; the number of parts is part of the cache key all the same.
    one_thread : bool
        Train on one CPU thread whatever the sweep's size: for a sweep trained beside others at
        once (:func:`emma.experiments.study.run_study`'s workers), where two threads per process would
        oversubscribe the cores (measured: a 90-model base sweep took 106 s instead of 17 s).

    Returns
    -------
    SweepResult
        (:class:`emma.engine.results.SweepResult`) ``table`` (one row per model: configuration, ``protocol`` label, ``f1_clean``,
        ``f1_ip_noisy``, ``f1_dm_noisy`` (each test subset scored as one call),
        ``f1_noisy_test`` (the whole noisy test set as one call), ``val_f1_*``,
        ``threshold``, ``best_epoch``, ``best_loss``, ``retrain_epochs``, for ``with``
        the learned ``capacity``), ``curves`` (per model and epoch: ``train_loss``,
        ``val_loss``, ``stop_loss``), ``params`` (final parameters, leading axis K),
        ``protocols``, ``psi_min``, ``settings``, ``family``, ``seconds`` (wall time) and
        ``timing`` (seconds to build the engine, to fit and to score; the slowest part's).
    """
    device = resolve_device(device)
    frame = check_configs(configs, protocol)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    spec = get_family(family)
    # a family registered outside the package (in a notebook, say) does not exist in a spawned worker
    parts = workers if device.type == "cpu" and len(frame) >= SMALL_SWEEP and family in FAMILIES else 1
    protocols = list(frame["protocol"])
    ae_keys = sorted({(s, p.autoencoders_on_corrupted) for s, p in zip(frame["seed"], protocols)})
    key = {
        "engine": ENGINE_VERSION,
        "family": family if family in FAMILIES else {"name": family, "code": fingerprint(family)},
        "configs": frame.drop(columns="protocol").to_dict(orient="list"),
        "protocols": [p.key(family) for p in protocols],
        "settings": settings.key(),
        "data": [getattr(splits, s).fingerprint() for s in ("train", "val", "test")],
        "energies": None if energies is None or not spec.uses_energies else [
            {**energies_for(energies, s, ae).settings, "psi_min": energies_for(energies, s, ae).psi_min.tolist()} for s, ae in ae_keys
        ],
        "base": None if base is None or not spec.from_base else tensor_fingerprint(*[base[n] for n in sorted(base)]),
        "device": device.type,
        "torch": torch.__version__.split("+")[0],
        **({"parts": {"n": parts, "split": "dealt"}} if parts > 1 else {}),
    }

    def compute():
        start = time.perf_counter()
        if parts == 1:
            out = _train(family, frame, splits, settings, energies, base, device, progress, one_thread=one_thread or len(frame) < SMALL_SWEEP)
        else:
            chunks = [c for c in (np.arange(i, len(frame), parts) for i in range(parts)) if len(c)]  # dealt out, so each part mixes the protocols
            jobs = [(family, frame.iloc[c].reset_index(drop=True), splits, settings, energies,
                     None if base is None else {n: v[torch.as_tensor(c)] for n, v in base.items()}, device) for c in chunks]
            with worker_pool(len(jobs) - 1) as pool:  # no orphans if we are killed
                futures = [pool.submit(_train, *job, False, True) for job in jobs[1:]]
                first = _train(*jobs[0], progress, True)
                merged = merge_results([first] + [f.result() for f in futures])
                out = select(merged, np.argsort(np.concatenate(chunks))).replace(timing=merged.timing)  # in the sweep's order, as one engine would return it
        out.seconds = time.perf_counter() - start
        return out

    # the threshold rule is not in the key (it never changes training): score under the protocols asked for
    return apply_rules(SweepResult.of(cached(f"sweep_{family}", key, compute, cache_dir)), protocols)


def _train(family, frame, splits, settings, energies, base, device, progress, one_thread: bool) -> SweepResult:
    """One engine's sweep, trained and scored (in this process or a worker's)."""
    # a few small models gain nothing from intra-op threads; hundreds stacked do, unless the other core trains a part
    with single_cpu_thread(device) if one_thread else contextlib.nullcontext():
        start = time.perf_counter()
        engine = SweepEngine(family, frame, splits, settings, energies=energies, base=base, device=device)
        built = time.perf_counter()
        engine.fit(progress=progress)
        fitted = time.perf_counter()
        out = engine.result()
    out.timing = {"build": built - start, "fit": fitted - built, "score": time.perf_counter() - fitted}
    return out
