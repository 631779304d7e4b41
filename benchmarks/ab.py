"""A/B comparison of the sweep engine at a git revision against the working tree's, in one run.

Used by ``benchmarks/sweep.py --against REV``. The package at ``REV`` is extracted with
``git archive REV emma`` into a temporary folder; two worker processes are started with the
same Python, one importing ``emma`` from that folder (the *old* engine), one from this
checkout (the *new* engine), each with its package's folder first on ``sys.path`` (checked:
a worker that imports ``emma`` from anywhere else stops with an error). The two layouts of the
package (flat modules such as ``emma/sweep.py`` before 4c34859, subpackages such as
``emma/engine/sweep.py`` after) are mapped explicitly in :data:`LAYOUTS`.

Each worker is kept alive for the whole run. It does the one-off setup once, untimed: the data
splits (``$EMMA_DATA_DIR`` as usual), the mode autoencoders (one set for every model, as the rest
of this benchmark; cached, the new engine's in the rest of the benchmark's cache folder, the
old one's in a folder of its commit's own beside it) and a trained ``base``
sweep (the starting point of ``without`` and ``with``, one base model per seed). Then, for every
family, it runs what :func:`emma.engine.launch.run_sweep` runs for an uncached sweep
(``_train``): build the :class:`SweepEngine`, ``fit``, ``result``. The timed part is the
engine's construction + ``fit`` (wall time): the verdict compares the medians; the median of
the ratios of the runs made one after the other (old run i, new run i) and the ratio of each
engine's fastest run are shown beside it, as second opinions on a busy machine. ``result`` (thresholds and test scores) is
timed apart and shown. Keeping the workers alive means the setup is paid once and each timed run
starts from a warmed-up process (imports, allocator); the runs alternate between the two
engines (old, new, old, new, ...), one untimed warm-up run of each first, and the repetitions of a
family are spread over the whole run (repetition 1 of every family, then repetition 2, ...) so a
burst of load from other processes on a shared machine hits one repetition of many families
rather than every repetition of one. Both workers train on the same number of threads (1 by
default) and only one trains at a time.

The workload is the same for both engines and sent to them by this process: ``k`` models of each
family, seeds 0 … k−1, under the SOUND protocol and ``TrainSettings(epochs=epochs)``; the
``with`` models take the first ``k`` configurations (ρ, λ_c, λ_e) of the thesis's grid (cycling
after 125), model i with seed i, and start from the trained base of its seed, as ``without``.
The two engines' tables are compared: the same results means the test F1 columns
(:data:`TEST_F1`) are equal bit for bit; any other numeric column that differs is named.
"""
from __future__ import annotations

import dataclasses
import gc
import math
import os
import pickle
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

#: The engine as it stood when the speed requirement was written (2026-12-03).
DEFAULT_REV = "0772875"
#: The thesis's families, in the order of its results table.
FAMILIES = ("ip_only", "dm_only", "base", "without", "alternative", "with")
#: Families that start from a trained ``base`` model of the same seed.
FROM_BASE = ("without", "with")
#: The test F1 columns that must agree for the two engines to give the same results.
TEST_F1 = ("f1_clean", "f1_ip_noisy", "f1_dm_noisy", "f1_noisy_test")
#: Where each layout of the package keeps what the workers use.
LAYOUTS = {
    "flat": {  # up to 0772875: emma/sweep.py, emma/models.py, ...
        "make_splits": "emma.splits",
        "fit_mode_autoencoders": "emma.energy",
        "TrainSettings": "emma.configs",
        "SweepEngine": "emma.sweep",
    },
    "subpackages": {  # from 4c34859: emma/engine/sweep.py, emma/data/splits.py, ...
        "make_splits": "emma.data.splits",
        "fit_mode_autoencoders": "emma.engine.energy",  # fit_htru2_energy_models since issue 26 (_energies)
        "TrainSettings": "emma.engine.configs",
        "SweepEngine": "emma.engine.sweep",
    },
}
GRID_RHO = [1e-4, 1e-3, 1e-2, 1e-1, 1.0]
GRID_LAMBDA = [0.0, 1e-4, 1e-3, 1e-2, 1e-1]
ROOT = Path(__file__).resolve().parents[1]


def layout_of(root: str | os.PathLike) -> str:
    """The layout (a key of :data:`LAYOUTS`) of the package ``emma`` under ``root``."""
    package = Path(root) / "emma"
    if (package / "engine" / "sweep.py").is_file():
        return "subpackages"
    if (package / "sweep.py").is_file():
        return "flat"
    raise ValueError(f"{package} holds no sweep engine (neither emma/engine/sweep.py nor emma/sweep.py)")


def resolve(rev: str, repo: str | os.PathLike = ROOT) -> str:
    """The full commit hash of ``rev`` in ``repo``; a ValueError naming ``--against`` if there is none."""
    if not isinstance(rev, str) or not rev or rev.startswith("-"):
        raise ValueError(f"--against must name a git revision, got {rev!r}")
    done = subprocess.run(["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], capture_output=True, text=True)
    if done.returncode != 0:
        raise ValueError(f"--against {rev!r}: no such commit in {repo}")
    return done.stdout.strip()


def extract(rev: str, dest: str | os.PathLike, repo: str | os.PathLike = ROOT) -> Path:
    """``git archive rev emma`` of ``repo``, unpacked under ``dest``; returns ``dest``."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(repo), "archive", "--format=tar", resolve(rev, repo), "emma"], capture_output=True)
    if archive.returncode != 0:
        raise ValueError(f"--against {rev!r}: git archive failed in {repo}: {archive.stderr.decode(errors='replace').strip()}")
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    layout_of(dest)  # names the revision's problem early
    return dest


def workloads(k: int) -> dict[str, list[dict]]:
    """Each family's configurations: ``k`` models, seeds 0 … k−1 (``with``: the grid's first ``k`` (ρ, λ_c, λ_e), cycling)."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"--k must be a positive integer, got {k!r}")
    grid = [(r, c, e) for r in GRID_RHO for c in GRID_LAMBDA for e in GRID_LAMBDA]
    plain = [{"seed": i, "rho": 1.0, "lambda_c": 0.0, "lambda_e": 0.0} for i in range(k)]  # as emma.experiments.study.plan
    out = {family: plain for family in FAMILIES}
    out["with"] = [{"seed": i, "rho": grid[i % len(grid)][0], "lambda_c": grid[i % len(grid)][1], "lambda_e": grid[i % len(grid)][2]} for i in range(k)]
    return out


# ---------------------------------------------------------------------------------------------
# the worker (a subprocess; imports emma from its root only)


def _send(stream, message) -> None:
    pickle.dump(message, stream, protocol=pickle.HIGHEST_PROTOCOL)
    stream.flush()


def worker(root: str) -> None:
    """Serve setup and timing requests on stdin/stdout (pickles) with the package under ``root``."""
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything the library prints goes to stderr, not into the replies
    requests = sys.stdin.buffer
    sys.path.insert(0, root)
    state = {}
    while True:
        try:
            request = pickle.load(requests)
        except EOFError:
            return
        try:
            if request["op"] == "setup":
                reply = _setup(root, state, **request["args"])
            elif request["op"] == "run":
                reply = _run(state, **request["args"])
            else:
                raise ValueError(f"unknown request {request['op']!r}")
            _send(replies, {"ok": True, **reply})
        except BaseException:  # noqa: BLE001 - the parent reports it, naming the version
            _send(replies, {"ok": False, "error": traceback.format_exc()})


def _setup(root, state, *, configs, epochs, threads, device, cache_dir):
    import importlib

    import torch

    layout = layout_of(root)
    names = {name: _energies if name == "fit_mode_autoencoders" else getattr(importlib.import_module(module), name)
             for name, module in LAYOUTS[layout].items()}
    import emma

    if Path(emma.__file__).resolve().parent != (Path(root) / "emma").resolve():
        raise RuntimeError(f"imported emma from {emma.__file__}, not from {root}: another emma shadows it on sys.path")
    torch.set_num_threads(threads)
    device = torch.device(device)
    splits = names["make_splits"](device="cpu")
    energies = names["fit_mode_autoencoders"](LAYOUTS[layout]["fit_mode_autoencoders"], splits, cache_dir=cache_dir, progress=False)
    settings = names["TrainSettings"](epochs=epochs)
    engine_class = names["SweepEngine"]
    state.update(splits=splits, energies=energies, settings=settings, engine_class=engine_class, device=device, configs=configs, torch=torch)
    base = _train(state, "base", base=None)[0]
    seeds = [int(s) for s in _field(base, "table")["seed"]]
    state["base"] = {family: {n: v[[seeds.index(c["seed"]) for c in configs[family]]] for n, v in _field(base, "params").items()} for family in FROM_BASE}
    return {"emma": emma.__file__, "layout": layout, "torch": torch.__version__, "threads": torch.get_num_threads(),
            "settings": {f.name: getattr(settings, f.name) for f in dataclasses.fields(settings)}}


def _train(state, family, base):
    """One sweep trained and scored as run_sweep's _train does; (result, build s, fit s, score s)."""
    import pandas as pd

    torch = state["torch"]
    sync = torch.cuda.synchronize if state["device"].type == "cuda" else (lambda: None)
    configs = pd.DataFrame(state["configs"][family])
    gc.collect()
    sync()
    start = time.perf_counter()
    engine = state["engine_class"](family, configs, state["splits"], state["settings"], energies=state["energies"] if family == "with" else None,
                                   base=base, device=state["device"])
    sync()
    built = time.perf_counter()
    engine.fit(progress=False)
    sync()
    fitted = time.perf_counter()
    result = engine.result()
    scored = time.perf_counter()
    return result, built - start, fitted - built, scored - fitted


def _run(state, *, family):
    result, build, fit, score = _train(state, family, state["base"].get(family))
    return {"table": _field(result, "table"), "build": build, "fit": fit, "score": score}


def _energies(module: str, splits, **kwargs):
    """The autoencoders of seed 0, by the function of ``module`` each version has (one name for them since issue 26)."""
    import importlib

    energy = importlib.import_module(module)
    if hasattr(energy, "fit_htru2_energy_models"):
        return energy.fit_htru2_energy_models(splits, [0], **kwargs)[0]
    return energy.fit_mode_autoencoders(splits, **kwargs)


def _field(result, name: str):
    """A field of a sweep's result: a key of the dictionaries of older versions, an attribute of a SweepResult."""
    return result[name] if isinstance(result, dict) else getattr(result, name)


# ---------------------------------------------------------------------------------------------
# the parent


class Worker:
    """A worker process serving one version of the package (see :func:`worker`)."""

    def __init__(self, name: str, root: str | os.PathLike, threads: int):
        self.name, self.root = name, str(root)
        env = {**{n: v for n, v in os.environ.items() if n != "PYTHONPATH"},  # the worker's sys.path names its package, nothing else
               **{v: str(threads) for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}}
        code = f"import sys; sys.path.insert(0, {str(Path(__file__).resolve().parent)!r}); import ab; ab.worker({self.root!r})"
        self.process = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=tempfile.gettempdir(), env=env)

    def request(self, op: str, **args) -> dict:
        """Send one request and wait for its reply; a RuntimeError naming this version on failure."""
        try:
            _send(self.process.stdin, {"op": op, "args": args})
            reply = pickle.load(self.process.stdout)
        except (EOFError, BrokenPipeError, pickle.UnpicklingError) as error:
            code = self.process.poll()
            raise RuntimeError(f"the {self.name} engine's worker died during {op!r} (exit code {code}): {type(error).__name__}; see its stderr above") from None
        if not reply.pop("ok"):
            raise RuntimeError(f"the {self.name} engine's worker failed during {op!r} {args.get('family', '')}:\n{reply['error']}")
        return reply

    def close(self) -> None:
        """Close its stdin (it then exits) and wait for it; kill it if it does not exit."""
        if self.process.poll() is None:
            try:
                self.process.stdin.close()
                self.process.wait(timeout=30)
            except (subprocess.TimeoutExpired, BrokenPipeError, OSError):
                self.process.kill()
                self.process.wait()


def compare_tables(old, new) -> dict:
    """Whether the test F1 columns of two sweeps' tables agree bit for bit, and the largest difference of any shared numeric column."""
    import numpy as np
    from pandas.api.types import is_numeric_dtype

    f1 = [c for c in TEST_F1 if c in old and c in new]
    if len(f1) != len(TEST_F1) or len(old) != len(new):
        missing = sorted(set(TEST_F1) - set(f1))
        raise RuntimeError(f"the two engines' tables differ in shape: {len(old)} vs {len(new)} rows, test F1 columns missing: {missing}")
    diff_f1 = max(float(np.nan_to_num(np.nanmax(np.abs(old[c].to_numpy(float) - new[c].to_numpy(float))), nan=0.0)) for c in f1)
    same_f1 = all(np.array_equal(old[c].to_numpy(float), new[c].to_numpy(float), equal_nan=True) for c in f1)
    numeric = [c for c in old if c in new and c not in f1 and is_numeric_dtype(old[c]) and is_numeric_dtype(new[c])]
    others = {c: float(np.nanmax(np.abs(old[c].to_numpy(float) - new[c].to_numpy(float)))) for c in numeric
              if not np.array_equal(old[c].to_numpy(float), new[c].to_numpy(float), equal_nan=True)}
    differing = np.any([(old[c].to_numpy(float) != new[c].to_numpy(float)) & ~(old[c].isna().to_numpy() & new[c].isna().to_numpy()) for c in f1],
                       axis=0)  # (K,): any test F1 of the model differs (NaN where both are NaN counts as the same)
    return {"same": same_f1, "max_f1_diff": diff_f1, "models_differing": int(differing.sum()), "other_columns_differing": others}


def check_options(rev, *, k, epochs, reps, warmup, threads, families, max_slowdown) -> None:
    """Raise a ValueError naming the command-line option of the first bad argument of :func:`run_ab` (the revision last)."""
    for name, value, low in (("--k", k, 1), ("--epochs", epochs, 1), ("--reps", reps, 1), ("--warmup", warmup, 0), ("--threads", threads, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    if isinstance(max_slowdown, bool) or not isinstance(max_slowdown, (int, float)) or not math.isfinite(max_slowdown) or max_slowdown <= 0:
        raise ValueError(f"--max-slowdown must be a finite number > 0, got {max_slowdown!r}")
    if isinstance(families, str) or not families or any(f not in FAMILIES for f in families) or len(set(families)) != len(families):
        raise ValueError(f"--families must be distinct names among {', '.join(FAMILIES)}, got {families!r}")
    resolve(rev)


def run_ab(rev: str = DEFAULT_REV, *, k: int = 125, epochs: int = 3, reps: int = 5, warmup: int = 1, threads: int = 1, device: str = "cpu",
           families=FAMILIES, max_slowdown: float = 1.2, progress: bool | None = None):
    """Time every family under the engine at ``rev`` (old) and the working tree's (new), alternately; see the module's docstring.

    Returns
    -------
    (DataFrame, dict)
        One row per family (median seconds of each, ratio new/old, verdicts, same results) and
        what the workers reported at setup (package file, layout, settings, threads), with the
        resolved commit under ``"rev"``.
    """
    import numpy as np
    import pandas as pd
    from tqdm.auto import tqdm

    from emma.util.runtime import progress_disabled

    families = tuple(families)
    check_options(rev, k=k, epochs=epochs, reps=reps, warmup=warmup, threads=threads, families=families, max_slowdown=max_slowdown)
    quiet = progress_disabled() if progress is None else not progress
    commit = resolve(rev)
    configs = workloads(k)
    layout_of(ROOT)
    # the autoencoders' caches: the new engine's is the rest of this benchmark's; the old one's, its commit's own
    cache = Path(tempfile.gettempdir()) / "emma-bench-cache"
    caches = {"old": str(cache / f"ab-{commit[:12]}"), "new": str(cache)}
    with tempfile.TemporaryDirectory(prefix="emma-ab-") as tmp:
        workers = {"old": Worker(f"old ({rev})", extract(commit, Path(tmp) / "old"), threads), "new": Worker("new (working tree)", ROOT, threads)}
        try:
            setup = {}
            for name, w in tqdm(workers.items(), desc="setup of each engine (data, autoencoders, base)", disable=quiet, leave=False):
                setup[name] = w.request("setup", configs=configs, epochs=epochs, threads=threads, device=device, cache_dir=caches[name])
            shared = set(setup["old"]["settings"]) & set(setup["new"]["settings"])
            if any(setup["old"]["settings"][f] != setup["new"]["settings"][f] for f in shared):
                raise RuntimeError(f"the two engines' TrainSettings differ: {setup['old']['settings']} vs {setup['new']['settings']}")
            extra = {f: v for name in workers for f, v in setup[name]["settings"].items() if f not in shared and v is not None}
            if extra:
                raise RuntimeError(f"one engine's TrainSettings has fields the other lacks, set: {extra}")
            times = {(f, name): [] for f in families for name in workers}
            scores = {(f, name): [] for f in families for name in workers}
            tables = {}
            steps = [(rep, f, name) for rep in range(warmup + reps) for f in families for name in ("old", "new")]
            for rep, family, name in tqdm(steps, desc=f"A/B runs ({warmup} warm-up + {reps} timed per family and engine)", disable=quiet):
                reply = workers[name].request("run", family=family)
                if (family, name) not in tables:
                    tables[family, name] = reply["table"]
                elif not reply["table"].equals(tables[family, name]):
                    print(f"warning: the {name} engine gave another table for {family} in run {rep + 1} than in its first (not deterministic?)",
                          file=sys.stderr)
                if rep >= warmup:
                    times[family, name].append(reply["build"] + reply["fit"])
                    scores[family, name].append(reply["score"])
        finally:
            for w in workers.values():
                w.close()
    rows = []
    verdict = f"slowdown ≤ {max_slowdown:g}×"
    for family in families:
        old, new = float(np.median(times[family, "old"])), float(np.median(times[family, "new"]))
        same = compare_tables(tables[family, "old"], tables[family, "new"])
        fastest = min(times[family, "new"]) / min(times[family, "old"])
        rows.append({"family": family, "K": k, "old s": old, "new s": new, "new/old": new / old, verdict: "yes" if new / old <= max_slowdown else "no",
                     "paired": float(np.median(np.array(times[family, "new"]) / np.array(times[family, "old"]))), "fastest": fastest,
                     "same results": "yes" if same["same"] else "no", "max |ΔF1|": same["max_f1_diff"], "models differing": same["models_differing"],
                     "other columns differing": ", ".join(f"{c} ({d:.2g})" for c, d in same["other_columns_differing"].items()) or "-",
                     "old score s": float(np.median(scores[family, "old"])), "new score s": float(np.median(scores[family, "new"])),
                     "old runs s": " ".join(f"{t:.2f}" for t in times[family, "old"]), "new runs s": " ".join(f"{t:.2f}" for t in times[family, "new"])})
    return pd.DataFrame(rows), {**setup, "rev": commit}


def report(frame, setup, *, rev: str, epochs: int, reps: int, warmup: int, max_slowdown: float = 1.2) -> str:
    """The printed result of :func:`run_ab`: what ran, the table, and the verdicts per family and overall."""
    import pandas as pd

    verdict = f"slowdown ≤ {max_slowdown:g}×"
    lines = [
        f"A/B of the sweep engine: old = {rev} ({setup['rev'][:12]}, {setup['old']['layout']} layout, {setup['old']['emma']}), "
        f"new = the working tree ({setup['new']['emma']})",
        f"torch {setup['new']['torch']}, {setup['new']['threads']} thread(s) per engine; each family: K = {frame['K'].iloc[0]} models "
        f"(seeds 0..K-1), SOUND, TrainSettings(epochs={epochs}) = {setup['new']['settings']}",
        f"timed: SweepEngine(...) construction + fit() (result() apart: 'score s'); median of {reps} runs per engine, "
        f"alternating old/new, after {warmup} warm-up run(s) each; setup (data, autoencoders, base training) untimed; "
        "the verdict is on new/old, the ratio of the medians; for a busy machine, also 'paired': the median of the ratios "
        "new/old of the runs made one after the other, and 'fastest': the ratio of each engine's fastest run",
        "",
    ]
    shown = frame.drop(columns=["K", "models differing", "other columns differing"])
    with pd.option_context("display.width", 250, "display.max_columns", 30, "display.max_colwidth", 80):
        lines.append(shown.to_string(index=False, float_format=lambda v: f"{v:.3f}" if abs(v) >= 1e-3 or v == 0 else f"{v:.2e}"))
    lines.append("")
    for _, row in frame.iterrows():
        if row["same results"] == "no":
            lines.append(f"{row['family']}: test F1 differs for {row['models differing']} of {row['K']} models (max |ΔF1| {row['max |ΔF1|']:.3g})")
        if row["other columns differing"] != "-":
            lines.append(f"{row['family']}: other columns not bit-identical (max |Δ|): {row['other columns differing']}")
    if (frame["other columns differing"] == "-").all():
        lines.append("every other numeric column of the tables (thresholds, best epochs and losses, validation F1, ...) is bit-identical too")
    total = frame["new s"].sum() / frame["old s"].sum()
    lines.append(f"overall: {verdict} for every family: {'yes' if (frame[verdict] == 'yes').all() else 'no'} "
                 f"(worst new/old {frame['new/old'].max():.3f}, {frame.loc[frame['new/old'].idxmax(), 'family']}; all families' medians summed: {total:.3f})")
    lines.append(f"overall: same test F1 for every family: {'yes' if (frame['same results'] == 'yes').all() else 'no'}")
    return "\n".join(lines)
