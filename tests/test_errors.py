"""What stops `emma-book run` or `build` is said in one line an operator can act on, and loses nothing committed.

A dead kernel names the chapter, the cell and the likely cause, and keeps the partial notebook in
``failed/``; a full disk names the output folder and the space needed; Ctrl-C names the chapter and
exits with 130; a cache warning raised in a kernel is repeated by the command; a kernel's
connection file does not outlive its execution; and `build` after a run interrupted once it had
committed finishes that run instead of executing the chapter again with older parameters.

All but the first test work in a scratch book of two synthetic chapters whose executor is a
stand-in writing the executed notebook as papermill would: nothing there starts a kernel. The
first executes a chapter that kills its own kernel (about 2 s).
"""
from __future__ import annotations

import errno
import json
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
from conftest import scratch_book

from emma_book import build as book
from emma_book import cli, layout, rerun, runs

DYING = '''# %% [markdown]
# # Dying

# %% tags=["parameters"]
profile = "full"
device = "auto"
output_dir = "_build"
seen = ""

# %%
import os
import pathlib
from ipykernel import get_connection_file
pathlib.Path(seen).write_text(get_connection_file())
os.kill(os.getpid(), 9)
'''

WARNING = ("/work/emma/util/cache.py:201: CorruptCacheWarning: cache file /cache/sweep-0123.pt is not usable: it holds a bare value, "
           "not an envelope; moved it to /cache/sweep-0123.pt.corrupt-20250101T000000-1, and the value is computed again\n"
           "  warnings.warn(\n")


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    """A scratch book of ``alpha`` and ``beta``; ``on[name](chapter, output)`` runs inside the stand-in executor, before it writes."""
    root = scratch_book(tmp_path / "root", monkeypatch, ("alpha", "beta"))
    executed, on, outputs = [], {}, {}

    def execute(chapter, parameters, *, output=None, progress=True, kernel_name="python3", failed=None):
        executed.append((chapter.name, dict(parameters)))
        if chapter.name in on:
            on[chapter.name](chapter, output)
        notebook = nbformat.v4.new_notebook(metadata={"papermill": {"parameters": dict(parameters)}})
        notebook.cells.append(nbformat.v4.new_code_cell("work()", outputs=outputs.get(chapter.name, [])))
        output.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, output)
        return output

    built = []
    monkeypatch.setattr(book, "execute", execute)
    monkeypatch.setattr(book, "build", lambda **kwargs: built.append(kwargs) or 0)
    return SimpleNamespace(root=root, executed=executed, on=on, outputs=outputs, built=built, chapters=root / "book" / "chapters")


def _names(scratch) -> list[str]:
    names = [name for name, _ in scratch.executed]
    scratch.executed.clear()
    return names


def test_a_dead_kernel_is_one_line_naming_the_chapter_and_the_cause_and_its_notebook_is_kept(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    (folder / "01_dying.py").write_text(DYING)
    monkeypatch.setattr(layout, "NOTEBOOKS", folder)
    out, seen = tmp_path / "out", tmp_path / "connection-file"
    code = cli.main(["run", "dying", "--profile", "quick", "--device", "cpu", "-p", "output_dir", str(out), "-p", "seen", str(seen)])
    error = capsys.readouterr().err
    kept = out / "failed" / "01_dying" / "01_dying.ipynb"
    assert code == 1
    code_cells = [cell for cell in nbformat.read(kept, as_version=4).cells if cell.cell_type == "code"]
    assert "os.kill(os.getpid(), 9)" in code_cells[-1].source  # up to the cell that died, its execution count the last
    lines = [line for line in error.splitlines() if not line.startswith("[IPKernelApp]")]  # the kernel's own start-up notice
    assert lines == [f"emma-book: error: chapter 'dying': its kernel died in cell [{len(code_cells)}], most likely killed: "
                     f"out of memory (the system's OOM killer) or by a signal; the executed notebook up to there is in {kept}"], error
    connection = Path(seen.read_text())
    assert out / "runs" in connection.parents, f"the kernel's connection file {connection} is not the run's"
    assert not connection.exists() and not list((out / "runs").iterdir())
    assert not (out / "chapters" / "01_dying.ipynb").exists()


def test_a_full_disk_is_one_line_naming_the_folder_and_loses_nothing_committed(scratch, monkeypatch, capsys):
    real = rerun.store_key

    def full(path, key):
        if Path(path).name == "02_beta.ipynb":
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, key)

    monkeypatch.setattr(rerun, "store_key", full)
    assert cli.main(["run", "--profile", "quick"]) == 1
    error = capsys.readouterr().err
    out = (scratch.root / "_build").resolve()
    kept = out / "failed" / "02_beta" / "02_beta.ipynb"
    assert error.count("\n") == 1 and error.startswith(f"emma-book: error: no space left on the device of {out} (")
    size = kept.stat().st_size
    assert f" free, about {size} bytes needed) while chapter 'beta' ran: free some space and rerun; " in error
    assert error.endswith(f"the chapters finished before it are kept; its executed notebook is kept in {kept}\n")
    assert rerun.stored_key(scratch.chapters / "01_alpha.ipynb") is not None  # alpha, committed before, stays
    assert not (scratch.chapters / "02_beta.ipynb").exists() and not list((out / "runs").iterdir())
    monkeypatch.setattr(rerun, "store_key", real)
    _names(scratch)
    assert cli.main(["run", "--profile", "quick"]) == 0
    assert _names(scratch) == ["beta"]


def test_ctrl_c_names_the_chapter_exits_130_and_a_rerun_resumes(scratch, capsys):
    def interrupt(chapter, output):
        raise KeyboardInterrupt

    scratch.on["beta"] = interrupt
    try:
        code = cli.main(["run", "--profile", "quick"])
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C escaped `emma-book run` as a traceback")
    assert code == 130
    assert capsys.readouterr().err == "emma-book: interrupted: beta; rerun to resume\n"
    assert _names(scratch) == ["alpha", "beta"]
    assert (scratch.chapters / "01_alpha.ipynb").is_file() and not (scratch.chapters / "02_beta.ipynb").exists()
    del scratch.on["beta"]
    assert cli.main(["run", "--profile", "quick"]) == 0
    assert _names(scratch) == ["beta"]


def test_a_cache_warning_raised_in_a_kernel_is_repeated_after_the_chapter_naming_the_file(scratch, capsys):
    half = len(WARNING) // 3  # a warning's text may come in several stream outputs
    scratch.outputs["beta"] = [nbformat.v4.new_output("stream", name="stderr", text=WARNING[:half]),
                               nbformat.v4.new_output("stream", name="stdout", text="0.91\n"),
                               nbformat.v4.new_output("stream", name="stderr", text=WARNING[half:] + WARNING)]
    assert cli.main(["run", "--profile", "quick"]) == 0
    captured = capsys.readouterr()
    message = WARNING.split("CorruptCacheWarning: ")[1].splitlines()[0]
    assert captured.err == f"emma-book: warning: chapter 'beta': {message}\n"  # once, though the kernel said it twice
    assert "cache file /cache/sweep-0123.pt is not usable" in message
    assert captured.out.index("== beta:") < captured.out.index("wrote book/chapters/02_beta.ipynb")


def test_build_finishes_a_run_interrupted_after_its_commit_with_the_parameters_that_run_recorded(scratch, monkeypatch, capsys):
    assert cli.main(["run", "--profile", "quick", "--device", "cpu"]) == 0
    _names(scratch)
    source = scratch.root / "notebooks" / "02_beta.py"
    source.write_text(source.read_text() + "print('edited')\n")  # the notebook in book/chapters is now stale
    real = runs.promote

    def killed(run):
        raise KeyboardInterrupt  # after the COMMIT record, before anything moved

    monkeypatch.setattr(runs, "promote", killed)
    with pytest.raises(SystemExit, match="^130$"):
        try:
            raise SystemExit(cli.main(["run", "beta", "--profile", "quick", "--device", "cpu", "-p", "seeds", "[7]"]))
        except KeyboardInterrupt:
            raise SystemExit(130) from None  # as the shell sees a run killed by Ctrl-C (the test above checks the message)
    monkeypatch.setattr(runs, "promote", real)
    committed = list((scratch.root / "_build" / "runs").glob("02_beta-*/COMMIT"))
    assert len(committed) == 1
    assert nbformat.read(scratch.chapters / "02_beta.ipynb", as_version=4).metadata.papermill.parameters.get("seeds") is None
    _names(scratch)
    capsys.readouterr()
    assert cli.main(["build"]) == 0
    out = capsys.readouterr().out
    assert _names(scratch) == [], f"a committed run was executed again:\n{out}"
    assert f"finished making visible the outputs of the interrupted run {committed[0].parent.name}" in out
    assert "every chapter has an up-to-date run in book/chapters" in out
    assert nbformat.read(scratch.chapters / "02_beta.ipynb", as_version=4).metadata.papermill.parameters["seeds"] == [7]
    assert len(scratch.built) == 1 and not list((scratch.root / "_build" / "runs").iterdir())


def test_cache_warnings_and_disk_full_name_a_bad_argument(tmp_path):
    with pytest.raises(ValueError, match="notebook must be the path of an executed notebook"):
        runs.cache_warnings(3)
    assert runs.cache_warnings(tmp_path / "none.ipynb") == []
    with pytest.raises(ValueError, match="error must be an OSError, got str"):
        runs.disk_full("full", "alpha", tmp_path)
    message = str(runs.disk_full(OSError(errno.ENOSPC, "No space"), "alpha", tmp_path / "a" / "b", needed=2_500_000))
    assert message.startswith(f"no space left on the device of {tmp_path / 'a' / 'b'} (") and ", about 2.5 MB needed)" in message
    json.dumps(message)  # one plain line
    assert "\n" not in message
