"""Benchmark of the batched sweep engine (emma.engine.sweep) on this machine.

Prints, measured in one run:

* the time of one training step *per model* of the ``with`` family (EMMA in front of
  the base network, batch 32) for K = 1 (one model at a time, the same code),
  K = 125 and K = 625 models trained together, and the ratios to K = 1;
* the wall time of the thesis's whole grid: 125 configurations × 5 seeds
  (K = 625) × 35 epochs, with per-epoch validation and early stopping, under the book's
  protocol (SOUND) and under the replay of the original code's (ORIGINAL: batch-coupled
  potentials, early stopping on a pass over the training set, ...).

With ``--paths`` it prints instead, for the ``base`` and ``with`` families at K = 1, 125 and
625, the per-model time of one training step by each way of computing its gradient: the
hand-written one (:mod:`emma.engine.backprop`, the default for the thesis's families), autograd
through the family's registered forward pass and penalty (what any other registered family
gets), and that autograd step compiled with ``torch.compile`` (unless ``--no-compile``; after
the second K, torch reuses a graph compiled for any K), with the ratios to the hand-written step.
Each is the fastest of five blocks of steps; ``--threads 1`` steadies them on a busy machine.

With ``--against [REV]`` (default ``0772875``, the engine when its speed requirement was
written) it compares, in one run, the engine at that git revision with the working tree's: the
package at REV is extracted with ``git archive`` into a temporary folder and imported by a worker
process of its own, and for each of the thesis's six families the same workload (``--k`` models,
default 125, ``--epochs`` epochs, default 3, one thread) is trained by the old and the new engine
in turn (old, new, old, new, ...; ``--reps`` timed runs each, default 5, after ``--warmup``
untimed ones, default 1). It prints the median seconds of each engine's construction + ``fit``,
the ratio new/old and whether it is at most ``--max-slowdown`` (default 1.2) per family and
overall, and whether the two engines' test F1 columns are the same bit for bit (else by how
much they differ). A failed verdict is printed, not an error: the exit status is non-zero only
when something could not run. The details are in ``benchmarks/ab.py``.

Usage::

    .venv/bin/python benchmarks/sweep.py           # full (make benchmark)
    .venv/bin/python benchmarks/sweep.py --quick   # seconds
    .venv/bin/python benchmarks/sweep.py --paths   # hand-written vs autograd vs compiled steps
    .venv/bin/python benchmarks/sweep.py --against # this engine vs 0772875's, family by family
    .venv/bin/python benchmarks/sweep.py --against 0772875 --quick   # the same, tiny (K = 5, 1 epoch)
    ... --device cuda                                                             # on a GPU
"""
from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time

import ab  # benchmarks/ab.py, beside this script: the --against mode
import torch

from emma.data.splits import make_splits
from emma.engine.configs import TrainSettings, grid
from emma.engine.energy import fit_htru2_energy_models
from emma.engine.families import init_parameters
from emma.engine.launch import run_sweep
from emma.engine.protocol import ORIGINAL, SOUND
from emma.engine.stacked import loss_and_gradient
from emma.engine.sweep import SweepEngine
from emma.util.runtime import resolve_device

GRID_RHO = [1e-4, 1e-3, 1e-2, 1e-1, 1.0]
GRID_LAMBDA = [0.0, 1e-4, 1e-3, 1e-2, 1e-1]


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def engine_for(k: int, splits, energies, settings, device, seeds=(0, 1, 2, 3, 4), protocol=SOUND, family="with", gradient="auto") -> SweepEngine:
    """An engine of ``k`` models of ``family`` (default ``with``), configurations cycling through the grid."""
    configs = grid(GRID_RHO, GRID_LAMBDA, GRID_LAMBDA, seeds).iloc[:k] if k > 1 else grid([1e-4], [1e-3], [1e-2], [0])
    base = init_parameters("base", configs["seed"].tolist())
    return SweepEngine(family, configs, splits, settings, protocol=protocol, energies=energies, base=base, device=device, gradient=gradient)


def time_step(engine: SweepEngine, n_steps: int, warmup: int = 5) -> float:
    """Seconds per training step of all the engine's models together."""
    b, n = engine.settings.batch_size, engine.train.x.shape[1]
    order = engine.new_order(n, per_model=False)
    n_batches = n // b
    active = torch.ones(engine.k, dtype=torch.bool, device=engine.device)
    for i in range(warmup):
        engine.train_step(engine.train, order[:, (i % n_batches) * b : (i % n_batches + 1) * b], active)
    _sync(engine.device)
    start = time.perf_counter()
    for i in range(n_steps):
        engine.train_step(engine.train, order[:, (i % n_batches) * b : (i % n_batches + 1) * b], active)
    _sync(engine.device)
    return (time.perf_counter() - start) / n_steps


def build_parser() -> argparse.ArgumentParser:
    """The benchmark's command line."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="few steps and a 2-epoch grid, for a smoke test")
    parser.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--steps", type=int, default=None, help="timed steps per K (default 200, quick 20)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs of the full-grid run (default 35, quick 1); with --against, of each sweep (default 3, quick 1)")
    parser.add_argument("--workers", type=int, default=2, help="parts of the full grid trained at once on the CPU (emma.engine.launch.run_sweep)")
    parser.add_argument("--paths", action="store_true", help="time a step by each gradient path (hand-written, autograd, compiled) instead")
    parser.add_argument("--no-compile", action="store_true", help="with --paths: skip the torch.compile'd autograd step")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's; with --against: 1); 1 steadies timings on a busy machine")
    ab_options = parser.add_argument_group("A/B against an earlier engine (--against)")
    ab_options.add_argument("--against", nargs="?", const=ab.DEFAULT_REV, default=None, metavar="REV",
                            help=f"compare the engine at git revision REV (default {ab.DEFAULT_REV}) with the working tree's, family by family")
    ab_options.add_argument("--k", type=int, default=None, help="with --against: models per family (default 125, quick 5)")
    ab_options.add_argument("--reps", type=int, default=None, help="with --against: timed runs per family and engine (default 5, quick 3)")
    ab_options.add_argument("--warmup", type=int, default=1, help="with --against: untimed runs per family and engine first (default 1)")
    ab_options.add_argument("--families", nargs="+", default=list(ab.FAMILIES), metavar="FAMILY", help="with --against: the families to time (default all six)")
    ab_options.add_argument("--max-slowdown", type=float, default=1.2, help="with --against: the largest ratio new/old that passes (default 1.2)")
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.against is not None:
        if args.paths:
            parser.error("--against and --paths are separate modes: give one")
        return against(parser, args)
    ab_only = [name for name, value in (("--k", args.k), ("--reps", args.reps)) if value is not None]
    if ab_only:
        parser.error(f"{', '.join(ab_only)} only apply with --against")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    steps = args.steps or (20 if args.quick else 200)
    epochs = args.epochs or (1 if args.quick else 35)
    print(f"torch {torch.__version__}, {platform.processor() or platform.machine()}, threads {torch.get_num_threads()}, device {device}")

    splits = make_splits(device="cpu")
    energies = fit_htru2_energy_models(splits, [0], cache_dir=os.path.join(tempfile.gettempdir(), "emma-bench-cache"), progress=False)[0]
    if args.paths:
        paths(args, splits, energies, device, steps)
        return
    run(args, splits, energies, device, steps, epochs)  # default threads, as emma.engine.launch.run_sweep trains large sweeps


def against(parser: argparse.ArgumentParser, args) -> None:
    """The A/B mode (--against): the engine at a revision vs the working tree's, printed as a table with verdicts."""
    k = args.k if args.k is not None else (5 if args.quick else 125)
    epochs = args.epochs if args.epochs is not None else (1 if args.quick else 3)
    reps = args.reps if args.reps is not None else (3 if args.quick else 5)
    threads = args.threads if args.threads is not None else 1
    options = {"k": k, "epochs": epochs, "reps": reps, "warmup": args.warmup, "threads": threads, "families": tuple(args.families),
               "max_slowdown": args.max_slowdown}
    try:
        ab.check_options(args.against, **options)
        device = resolve_device(args.device).type
    except ValueError as error:
        parser.error(str(error))
    start = time.perf_counter()
    frame, setup = ab.run_ab(args.against, device=device, **options)
    print(ab.report(frame, setup, rev=args.against, epochs=epochs, reps=reps, warmup=args.warmup, max_slowdown=args.max_slowdown))
    print(f"wall time of the A/B run: {time.perf_counter() - start:.1f} s ({platform.processor() or platform.machine()}, {os.cpu_count()} CPUs)")


def fastest_step(engine: SweepEngine, n_steps: int, blocks: int = 5) -> float:
    """Seconds per training step of all the engine's models: the fastest of ``blocks`` blocks (steady on a shared machine)."""
    return min(time_step(engine, max(1, n_steps // blocks), warmup=1 if block else 5) for block in range(blocks))


def paths(args, splits, energies, device, steps):
    """Per-model step time of the hand-written, autograd and compiled-autograd gradients, and their ratios."""
    settings = TrainSettings(epochs=1)
    for family in ("base", "with"):
        for k in (1, 125, 625):
            times = {}
            for path in ("hand", "autograd", "compiled"):
                engine = engine_for(k, splits, energies, settings, device, family=family, gradient="hand" if path == "hand" else "autograd")
                if path == "compiled":
                    if args.no_compile:
                        continue
                    engine.stack.gradient_of = torch.compile(loss_and_gradient)  # as SweepEngine(compile=True) sets it
                    start = time.perf_counter()
                    try:
                        time_step(engine, 1, warmup=2)  # compiles (and recompiles once for the second step's guards, if any)
                    except Exception as error:  # noqa: BLE001 - the benchmark reports why compile did not work
                        print(f"{family:>5} K = {k:4d}: torch.compile failed: {type(error).__name__}: {str(error).splitlines()[0][:160]}")
                        continue
                    compile_seconds = time.perf_counter() - start
                times[path] = fastest_step(engine, steps) / k
            line = ", ".join(f"{path} {1e6 * t:8.2f} µs" for path, t in times.items())
            ratios = ", ".join(f"{path}/hand {t / times['hand']:5.2f}x" for path, t in times.items() if path != "hand")
            extra = f" (compiling and 3 steps: {compile_seconds:.1f} s)" if "compiled" in times else ""
            print(f"{family:>5} K = {k:4d}: per model-step {line}; {ratios}{extra}")


def run(args, splits, energies, device, steps, epochs):
    settings = TrainSettings(epochs=epochs)

    per_model = {}
    for k in (1, 125, 625):
        engine = engine_for(k, splits, energies, settings, device)
        seconds = time_step(engine, steps)
        per_model[k] = seconds / k
        print(f"K = {k:4d}: {1e3 * seconds:8.3f} ms per step of all K, {1e6 * seconds / k:9.2f} µs per model-step")
    for k in (125, 625):
        print(f"per-model step, K = 1 / K = {k}: {per_model[1] / per_model[k]:6.1f}x cheaper")

    full = {}
    for name, protocol, workers in (("sound", SOUND, 1), ("sound", SOUND, args.workers), ("original (replay)", ORIGINAL, args.workers)):
        if (name, workers) in full:
            continue
        configs = grid(GRID_RHO, GRID_LAMBDA, GRID_LAMBDA, (0, 1, 2, 3, 4))
        base = init_parameters("base", configs["seed"].tolist())
        out = run_sweep("with", configs, splits, settings, protocol=protocol, energies=energies, base=base, device=device, progress=False, workers=workers)
        fixed, per_epoch = out.seconds - out.timing["fit"], out.timing["fit"] / epochs
        full[name, workers] = fixed + 35 * per_epoch
        how = "one process" if workers == 1 or device.type != "cpu" else f"{workers} parts at once, one thread each"
        print(f"full grid, {name} protocol, {how} (125 configurations x 5 seeds = 625 models, {epochs} epochs, per-epoch "
              f"early-stopping pass, thresholds and test F1): {out['seconds']:.1f} s ({fixed:.1f} s setup and scoring, {per_epoch:.1f} s per epoch)")
        if epochs < 35:
            print(f"  (extrapolated to 35 epochs: {full[name, workers]:.0f} s = {full[name, workers] / 60:.2f} min)")
    if args.workers > 1 and device.type == "cpu":
        print(f"full grid, sound protocol: one process / {args.workers} parts = {full['sound', 1] / full['sound', args.workers]:.2f}x")


if __name__ == "__main__":
    main()
