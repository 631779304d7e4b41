"""Runs that cannot lie (emma_book.runs, emma_book.params): outputs bound to their run, one run per folder, early errors."""
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from emma.claims.report import read_table
from emma.util.outputs import RUN_DIR, save_table
from emma_book import build as book
from emma_book import cli, layout, params, rerun, rules, runs

ROOT = Path(__file__).resolve().parent.parent

WRITER = '''# %% [markdown]
# # Writer

# %% tags=["parameters"]
profile = "full"
device = "auto"
output_dir = "_build"
value = 0
pause = 0.0

# %%
import os
import pathlib
import time
import pandas as pd
from emma.claims.report import read_table
from emma.util.outputs import save_table
pathlib.Path(output_dir).parent.joinpath("kernel-started").write_text(str(os.getpid()))  # the tests kill a run from here on
for i in range(3):
    save_table(pd.DataFrame({"value": [value], "i": [i]}), f"writer_t{i}", output_dir)
    assert read_table(output_dir, f"writer_t{i}")["value"].tolist() == [value]  # its own table, read back
    time.sleep(pause)
if value < 0:
    raise RuntimeError("deliberate failure")
'''

DRIVER = "import sys\nfrom pathlib import Path\nfrom emma_book import cli, layout\nlayout.NOTEBOOKS = Path(sys.argv[1])\nsys.exit(cli.main(sys.argv[2:]))\n"


@pytest.fixture()
def book_dir(tmp_path, monkeypatch):
    """A folder of one synthetic chapter ``writer``, the chapters `emma-book` sees here and in :func:`_start`."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    (folder / "01_writer.py").write_text(WRITER)
    monkeypatch.setattr(layout, "NOTEBOOKS", folder)
    (tmp_path / "driver.py").write_text(DRIVER)
    return tmp_path


def _args(out: Path, value: int, pause: float = 0.0) -> list[str]:
    return ["run", "writer", "--profile", "quick", "--device", "cpu", "-p", "output_dir", str(out),
            "-p", "value", str(value), "-p", "pause", str(pause)]


def _start(root: Path, args: list[str]) -> subprocess.Popen:
    """`emma-book run` in its own process (and session, so that its kernel can be cleaned up after a kill)."""
    env = {**os.environ, "EMMA_QUIET": "1"}
    return subprocess.Popen([sys.executable, str(root / "driver.py"), str(root / "notebooks"), *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def _tables(out: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted((out / "tables").glob("*.csv"))}


def _kill(process: subprocess.Popen, after: float, marker: Path | None = None) -> None:
    """SIGKILL the `emma-book run` process ``after`` seconds after its kernel created ``marker`` (or
    after it started, without one; or when it ends first), then what it left running."""
    deadline = time.monotonic() + 120
    while marker is not None and not marker.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        process.wait(timeout=after)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        process.wait()
    try:
        os.killpg(process.pid, signal.SIGKILL)  # what it left running in its session
    except ProcessLookupError:
        pass
    kernel = int(marker.read_text() or 0) if marker is not None and marker.exists() else 0
    if kernel:  # the kernel runs in a session of its own (jupyter_client): kill it, and wait until it is gone
        deadline = time.monotonic() + 30
        with contextlib.suppress(ProcessLookupError):
            os.kill(kernel, signal.SIGKILL)
            while time.monotonic() < deadline and _alive(kernel):
                time.sleep(0.05)


def _alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie, dead but not yet reaped, does not)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


@pytest.mark.slow  # executes a synthetic chapter: a kernel per run (seconds each)
def test_a_run_killed_at_a_random_time_leaves_nothing_a_later_run_accepts(book_dir, capsys):
    out, marker = book_dir / "out", book_dir / "kernel-started"
    assert cli.main(_args(out, 0, 0.2)) == 0
    reference = _tables(out)
    assert sorted(reference) == ["writer_t0.csv", "writer_t1.csv", "writer_t2.csv"]
    rng = random.Random()
    for _ in range(2):
        after = rng.uniform(0.0, 1.0)  # while it writes its tables (3 x 0.2 s), commits, or after it ended
        marker.unlink(missing_ok=True)
        _kill(_start(book_dir, _args(out, 1, 0.2)), after, marker)
        capsys.readouterr()
        assert cli.main(_args(out, 0, 0.2)) == 0  # the first run's parameters
        assert _tables(out) == reference, f"killed {after:.2f} s after its kernel started; the rerun said:\n{capsys.readouterr().out}"
        assert not list((out / "runs").iterdir()), "a run folder left behind"
    after = rng.uniform(0.0, 1.0)
    marker.unlink(missing_ok=True)
    _kill(_start(book_dir, _args(out, 1, 0.2)), after, marker)
    assert cli.main(_args(out, 1, 0.2)) == 0  # the killed run's own parameters: its tables, every one
    assert [pd.read_csv(out / "tables" / f"writer_t{i}.csv")["value"].tolist() for i in range(3)] == [[1]] * 3, f"killed after {after:.2f} s"
    capsys.readouterr()
    assert cli.main(["status", *_args(out, 1, 0.2)[1:]]) == 0
    assert capsys.readouterr().out.split(None, 1)[1].strip() == "up to date"


@pytest.mark.slow  # executes a synthetic chapter: a kernel per run (seconds each)
def test_a_failed_chapter_leaves_the_visible_outputs_as_the_last_success_left_them(book_dir, capsys):
    out = book_dir / "out"
    assert cli.main(_args(out, 2)) == 0
    before = _tables(out)
    assert cli.main(_args(out, -1)) == 1
    assert "chapter 'writer' failed" in capsys.readouterr().err
    assert _tables(out) == before, "a failed run's tables reached the output folder"
    failed = out / "failed" / "01_writer"
    assert (failed / "01_writer.ipynb").is_file() and (failed / "tables" / "writer_t2.csv").is_file()  # kept for a look
    assert pd.read_csv(failed / "tables" / "writer_t0.csv")["value"].tolist() == [-1]
    assert not (ROOT / "_build" / "failed" / "01_writer.ipynb").exists(), "failures belong to the run's output folder"
    assert cli.main(["status", *_args(out, 2)[1:]]) == 0
    assert capsys.readouterr().out.split(None, 1)[1].strip() == "up to date"
    assert not list((out / "runs").iterdir())


@pytest.mark.slow  # executes a synthetic chapter: a kernel per run (seconds each)
def test_a_second_run_into_the_same_folder_refuses_at_once_naming_the_holder(book_dir, capsys):
    out = book_dir / "out"
    holder = _start(book_dir, _args(out, 0, 1.0))
    try:
        deadline = time.monotonic() + 60
        while not ((out / runs.LOCK).is_file() and (out / runs.LOCK).read_text()):
            assert holder.poll() is None and time.monotonic() < deadline, holder.stderr.read() if holder.poll() is not None else "no lock"
            time.sleep(0.05)
        started = time.monotonic()
        assert cli.main(_args(out, 1)) == 1
        assert time.monotonic() - started < 5  # at once: no kernel started
        error = capsys.readouterr().err
        assert f"output folder {out} is in use by another run: pid {holder.pid} on " in error, error
        assert error.count("\n") == 1
        assert holder.wait(timeout=120) == 0
    finally:
        _kill(holder, 0)


def test_the_lock_of_a_dead_run_is_taken_over(tmp_path):
    out = tmp_path / "out"
    code = f"import time\nfrom emma_book import runs\nwith runs.locked({str(out)!r}):\n    print('held', flush=True)\n    time.sleep(60)\n"
    dead = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert dead.stdout.readline().strip() == "held"
    with pytest.raises(runs.OutputFolderBusy, match=f"pid {dead.pid} on "), runs.locked(out):
        pass
    dead.kill()
    dead.wait()
    assert json.loads((out / runs.LOCK).read_text())["pid"] == dead.pid  # what it wrote is still there
    with runs.locked(out):
        assert json.loads((out / runs.LOCK).read_text())["pid"] == os.getpid()


def _committed_run(out: Path, values: dict) -> runs.RunFolder:
    """A run folder holding the tables ``values`` (name -> value) and an executed notebook, as a chapter leaves it."""
    run = runs.RunFolder(out, "01_writer")
    with run:
        for name, value in values.items():
            save_table(pd.DataFrame({"value": [value]}), name, out)
            assert read_table(out, name)["value"].tolist() == [value]  # found in the run folder
        run.notebook.parent.mkdir(parents=True)
        nbformat.write(nbformat.v4.new_notebook(), run.notebook)
        run.committed = True  # leave it for the test to commit
    return run


@pytest.mark.parametrize("moves", [0, 1, 2])  # a, b, then the notebook
def test_a_promotion_interrupted_after_any_move_is_finished_by_the_next_run(tmp_path, monkeypatch, moves):
    out = tmp_path / "out"
    save_table(pd.DataFrame({"value": [0]}), "a", out)
    save_table(pd.DataFrame({"value": [0]}), "b", out)
    run = _committed_run(out, {"a": 1, "b": 1})
    assert pd.read_csv(out / "tables" / "a.csv")["value"].tolist() == [0]  # nothing visible before the commit
    real, done = runs._move, []

    def dying(source, destination):
        if len(done) == moves:
            raise KeyboardInterrupt("killed")
        done.append(destination)
        real(source, destination)

    monkeypatch.setattr(runs, "_move", dying)
    final = out / "chapters" / "01_writer.ipynb"
    with pytest.raises(KeyboardInterrupt):
        run.commit(final)
    monkeypatch.setattr(runs, "_move", real)
    assert runs.recover(out) == [f"finished making visible the outputs of the interrupted run {run.path.name}"]
    assert [pd.read_csv(out / "tables" / f"{n}.csv")["value"].tolist() for n in "ab"] == [[1], [1]]
    assert final.is_file() and not run.path.exists()


def test_an_uncommitted_run_is_removed_unseen(tmp_path, monkeypatch):
    out = tmp_path / "out"
    monkeypatch.delenv(RUN_DIR, raising=False)
    run = runs.RunFolder(out, "01_writer")
    os.environ[RUN_DIR] = str(run.path)  # as the kernel of a run killed with its `emma-book run`
    try:
        save_table(pd.DataFrame({"value": [1]}), "a", out)
    finally:
        del os.environ[RUN_DIR]
    assert not (out / "tables" / "a.csv").exists()
    assert runs.recover(out) == [f"removed the unfinished run {run.path.name}: none of its outputs were made visible"]
    assert not (out / "tables" / "a.csv").exists() and not run.path.exists()


def test_a_written_output_changed_since_makes_the_chapter_stale(tmp_path):
    out = tmp_path / "out"
    chapter = book.Chapter(1, "writer", tmp_path / "01_writer.py")
    chapter.source.write_text(WRITER)
    parameters = {"output_dir": str(out)}
    executed = out / "chapters"
    key = rerun.run_key(chapter, parameters, executed)
    with rerun.recording_reads(tmp_path / "log.jsonl") as log:
        save_table(pd.DataFrame({"value": [1]}), "writer_t0", out)
    writes = rerun.logged_writes(log, parameters)
    assert list(writes) == ["tables/writer_t0.csv"]
    path = executed / "01_writer.ipynb"
    executed.mkdir(parents=True)
    nbformat.write(nbformat.v4.new_notebook(), path)
    rerun.store_key(path, rerun.with_reads(key, rerun.logged_reads(log, parameters), writes))

    def reasons():
        return rerun.stale(rerun.run_key(chapter, parameters, executed), path)

    assert reasons() == []
    (out / "tables" / "writer_t0.csv").write_text("value\n2\n")
    assert reasons() == ["tables/writer_t0.csv changed since the chapter wrote it"]
    (out / "tables" / "writer_t0.csv").unlink()
    assert reasons() == ["tables/writer_t0.csv missing since the chapter wrote it"]


# Parameters are checked before any kernel starts.

@pytest.fixture()
def no_kernel(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a kernel was started")

    monkeypatch.setattr(book, "execute", refuse)


@pytest.mark.parametrize(("pair", "message"), [
    (["seeds", "[]"], "parameter seeds = [] is invalid; expected a non-empty list of distinct non-negative ints"),
    (["seeds", "[0, 0]"], "parameter seeds = [0, 0] is invalid; expected a non-empty list of distinct non-negative ints"),
    (["seeds", "0"], "parameter seeds = 0 is invalid; expected a non-empty list of distinct non-negative ints"),
    (["epochs", "-3"], "parameter epochs = -3 is invalid; expected an int >= 1"),
    (["epochs", "2.5"], "parameter epochs = 2.5 is invalid; expected an int >= 1"),
    (["lambda_reading", "sideways"], "parameter lambda_reading = 'sideways' is invalid; expected one of slides, thesis"),
    (["rhos", "[0.1, x]"], "parameter rhos = [0.1, 'x'] is invalid; expected a non-empty list of finite numbers > 0"),
])
@pytest.mark.parametrize("command", ["run", "status"])
def test_a_bad_parameter_is_named_before_any_kernel_starts(tmp_path, capsys, no_kernel, pair, message, command):
    code = cli.main([command, "robustness", "--profile", "quick", "-p", "output_dir", str(tmp_path / "out"), "-p", *pair])
    error = capsys.readouterr().err
    assert code == 1
    assert error == f"emma-book: error: chapter 'robustness': {message}\n"
    assert not (tmp_path / "out").exists()


def test_cuda_is_refused_where_torch_sees_no_gpu(tmp_path, capsys, no_kernel, monkeypatch):
    monkeypatch.setattr(rules, "_cuda_available", lambda: False)
    assert cli.main(["run", "robustness", "--profile", "quick", "--device", "cuda", "-p", "output_dir", str(tmp_path)]) == 1
    assert capsys.readouterr().err == ("emma-book: error: chapter 'robustness': parameter device = 'cuda' is invalid: "
                                       "this machine has no CUDA device (torch.cuda.is_available() is False); expected auto or cpu\n")
    monkeypatch.setattr(rules, "_cuda_available", lambda: True)
    assert params.problem("device", "cuda", '"auto"') is None
    assert params.problem("device", "gpu", '"auto"') == "parameter device = 'gpu' is invalid; expected one of auto, cpu, cuda"


def test_a_malformed_parameter_file_or_pair_is_one_line_naming_it(tmp_path, capsys, no_kernel):
    bad = tmp_path / "bad.yaml"
    bad.write_text("seeds: [0, 1\nepochs: 3\n")
    assert cli.main(["run", "robustness", "-f", str(bad)]) == 1
    error = capsys.readouterr().err
    assert error.startswith(f"emma-book: error: parameter file {bad} is not valid YAML: ") and error.count("\n") == 1
    assert cli.main(["status", "robustness", "-p", "seeds", "[0, 1"]) == 1
    error = capsys.readouterr().err
    assert error.startswith("emma-book: error: -p seeds '[0, 1': VALUE is not valid YAML: ") and error.count("\n") == 1


def test_an_unusable_output_folder_is_one_line_naming_it(book_dir, capsys, no_kernel):
    long = book_dir / ("x" * 300) / "out"
    assert cli.main(_args(long, 0)) == 1
    assert capsys.readouterr().err == f"emma-book: error: cannot use the output folder {long}: File name too long\n"
    if os.geteuid() == 0:
        return  # root writes into a read-only folder
    locked = book_dir / "read-only"
    locked.mkdir(mode=0o500)
    try:
        assert cli.main(_args(locked / "out", 0)) == 1
        assert capsys.readouterr().err == f"emma-book: error: cannot use the output folder {locked / 'out'}: Permission denied\n"
    finally:
        locked.chmod(0o700)


def test_each_type_comes_from_the_default():
    assert params.problem("n", 3, "5") is None and params.problem("n", True, "5") == "parameter n = True is invalid; expected an int"
    assert params.problem("x", 1, "0.5") is None  # an int is a number
    assert params.problem("flag", "yes", "False") == "parameter flag = 'yes' is invalid; expected true or false"
    assert params.problem("path", 3, "None") is None and params.problem("path", "a", "None") is None  # None allows anything
    assert params.problem("names", ["a", 1], '["a", "b"]') == "parameter names = ['a', 1] is invalid; expected a list of strings"
    assert params.problem("workers", 0, "2") == "parameter workers = 0 is invalid; expected an int >= 1"
