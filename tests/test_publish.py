"""The book publishes only its runs (emma_book.publish): what `build` stages and the branch carries, and how a build replaces the site.

Every test works in a small fake book: two chapters whose "runs" wrote their tables and figures
through the package's own logging (:func:`emma_book.rerun.recording_reads`) and stored their run
keys as ``emma-book run`` does. Jupyter Book is replaced by a stub script (``jupyter_book_command``)
that writes a page, fails, or sleeps: nothing here starts a kernel or Sphinx.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from emma.claims.report import TABLES_URL, read_table
from emma.util.outputs import READS_LOG, RUN_DIR, save_figure, save_table
from emma_book import branch, publish, rerun, runs
from emma_book import build as book

ROOT = Path(__file__).resolve().parent.parent
SHA = "0123456789abcdef0123456789abcdef01234567"
CHAPTER = '''# %% [markdown]
# # {title}

# %% tags=["parameters"]
profile = "full"
device = "auto"
output_dir = "_build"
'''
# A stand-in for Jupyter Book: writes <path-output>/_build/html/index.html, then exits with MODE's code or sleeps.
STUB = '''
import fcntl, os, sys, time
from pathlib import Path
mode, args = sys.argv[1], sys.argv[2:]
page = Path(args[args.index("--path-output") + 1]) / "_build" / "html" / "index.html"
page.parent.mkdir(parents=True)
page.write_text("the new book")
lock = Path(os.environ["STUB_LOCK"])
fd = os.open(lock, os.O_RDWR)
try:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    said = "free"
except BlockingIOError:
    said = "busy"
Path(os.environ["STUB_REPORT"]).write_text(f"{os.getpid()} {said}")
if mode == "sleep":
    time.sleep(120)
sys.exit(0 if mode == "ok" else 1)
'''


class _Figure:
    """What save_figure needs of a matplotlib figure."""

    def savefig(self, path, **kwargs):
        Path(path).write_bytes(b"\x89PNG a figure")


def _run(root: Path, chapter, body) -> Path:
    """Execute ``chapter`` as `emma-book run` would, ``body`` standing for its kernel; return its executed notebook."""
    parameters = {"output_dir": str(root / "_build")}
    executed = root / "book" / "chapters"
    executed.mkdir(parents=True, exist_ok=True)
    key = rerun.run_key(chapter, parameters, executed, package={})
    with rerun.recording_reads(root / "reads.jsonl") as log:
        body()
    path = executed / f"{chapter.stem}.ipynb"
    notebook = nbformat.v4.new_notebook(metadata={"papermill": {"parameters": parameters}})
    notebook.cells = [nbformat.v4.new_code_cell("print(count)", outputs=[nbformat.v4.new_output("stream", text=f"{chapter.name}: 17,898 candidates\n")])]
    nbformat.write(notebook, path)
    writes = rerun.logged_writes(log, parameters)
    rerun.store_key(path, rerun.with_reads(key, rerun.logged_reads(log, parameters), writes))
    return path


@pytest.fixture
def fake_book(tmp_path, monkeypatch):
    """A book of two executed chapters: alpha wrote a table and a figure, beta a table and read alpha's; an old site in _build/html."""
    root = tmp_path / "root"
    (root / "notebooks").mkdir(parents=True)
    (root / "notebooks" / "01_alpha.py").write_text(CHAPTER.format(title="Alpha"))
    (root / "notebooks" / "02_beta.py").write_text(CHAPTER.format(title="Beta"))
    (root / "book").mkdir()
    (root / "book" / "intro.md").write_text("# A book\n")
    (root / "_config.yml").write_text("title: A book\n")
    (root / "_toc.yml").write_text("format: jb-book\nroot: book/intro\n")
    (root / branch.RUNTIME_LOCK).write_text("numpy==2.0.0\n")
    out = root / "_build"
    alpha, beta = book.chapters(root / "notebooks")
    _run(root, alpha, lambda: (save_table(pd.DataFrame({"x": [1, 2]}), "alpha_numbers", out), save_figure(_Figure(), "alpha_plot", out)))
    _run(root, beta, lambda: (read_table(out, "alpha_numbers"), save_table(pd.DataFrame({"y": [3]}), "beta_numbers", out)))
    (out / "html").mkdir()
    (out / "html" / "index.html").write_text("the previous book")
    monkeypatch.setattr(book, "_stage_mathjax", lambda destination: destination.mkdir(parents=True))  # 24 MB, nothing to check here
    return root


def _stub(tmp_path: Path, monkeypatch, root: Path, mode: str) -> Path:
    """Make ``jupyter-book`` the stub in ``mode``; return the file where it reports its pid and whether the lock was free."""
    script = tmp_path / "stub.py"
    script.write_text(STUB)
    report = tmp_path / "stub-report"
    monkeypatch.setattr(book, "jupyter_book_command", lambda: [sys.executable, str(script), mode])
    monkeypatch.setenv("STUB_LOCK", str(root / "_build" / runs.LOCK))
    monkeypatch.setenv("STUB_REPORT", str(report))
    return report


def _staged(staging: Path, kind: str) -> list[str]:
    return sorted(p.name for p in (staging / "book" / "_static" / kind).iterdir())


def test_a_stray_table_or_figure_in_the_output_folder_is_not_published(fake_book):
    (fake_book / "_build" / "tables" / "stray_results.csv").write_text("z\n42\n")
    (fake_book / "_build" / "figures" / "stray_figure.png").write_bytes(b"\x89PNG stray")
    staging = book.stage(fake_book)
    assert _staged(staging, "tables") == ["alpha_numbers.csv", "beta_numbers.csv"]
    assert _staged(staging, "figures") == ["alpha_plot.png"]
    assert (staging / "book" / "_static" / "tables" / "alpha_numbers.csv").read_bytes() == (fake_book / "_build" / "tables" / "alpha_numbers.csv").read_bytes()


def test_a_recorded_table_changed_or_gone_stops_the_staging_in_one_line_naming_it_and_its_chapter(fake_book):
    table = fake_book / "_build" / "tables" / "alpha_numbers.csv"
    table.write_text("x\n1\n999\n")
    with pytest.raises(ValueError, match=r"chapter 'alpha': .*alpha_numbers\.csv differs from what its run wrote") as raised:
        book.stage(fake_book)
    assert "\n" not in str(raised.value)
    table.unlink()
    with pytest.raises(ValueError, match=r"chapter 'alpha': its run wrote tables/alpha_numbers\.csv, and .* is missing"):
        book.stage(fake_book)


def test_a_hand_edited_executed_notebook_is_stale_and_not_published(fake_book):
    alpha = book.chapters(fake_book / "notebooks")[0]
    path = fake_book / "book" / "chapters" / f"{alpha.stem}.ipynb"
    parameters = {"output_dir": str(fake_book / "_build")}
    assert rerun.stale(rerun.run_key(alpha, parameters, path.parent, package={}), path) == []
    path.write_text(path.read_text().replace("17,898", "99,999"))
    assert rerun.stale(rerun.run_key(alpha, parameters, path.parent, package={}), path) == [rerun.NOTEBOOK_CHANGED]
    with pytest.raises(ValueError, match=rf"chapter 'alpha': {path} was changed after its run wrote it"):
        book.stage(fake_book)


def test_a_notebook_whose_key_records_no_digest_of_it_is_not_published(fake_book):
    path = fake_book / "book" / "chapters" / "02_beta.ipynb"
    notebook = nbformat.read(path, as_version=4)
    del notebook.metadata[rerun.METADATA_KEY]["parts"][rerun.NOTEBOOK]
    nbformat.write(notebook, path)
    with pytest.raises(ValueError, match="chapter 'beta': the run key of .* records no digest of the notebook"):
        book.stage(fake_book)


def test_a_build_that_succeeds_replaces_the_site_and_one_that_fails_leaves_the_previous(fake_book, tmp_path, monkeypatch, capsys):
    killed = fake_book / "_build" / ".html-left-by-a-killed-build"
    killed.mkdir()
    _stub(tmp_path, monkeypatch, fake_book, "fail")
    assert book.build(fake_book) == 1
    assert (fake_book / "_build" / "html" / "index.html").read_text() == "the previous book"
    assert "the html build failed (exit code 1)" in capsys.readouterr().err
    assert not killed.exists()
    _stub(tmp_path, monkeypatch, fake_book, "ok")
    assert book.build(fake_book) == 0
    assert (fake_book / "_build" / "html" / "index.html").read_text() == "the new book"
    assert [p.name for p in (fake_book / "_build").iterdir() if p.name.startswith(".html")] == []


def test_build_holds_the_output_folder_lock_and_stops_when_another_holds_it(fake_book, tmp_path, monkeypatch):
    report = _stub(tmp_path, monkeypatch, fake_book, "ok")
    assert book.build(fake_book) == 0
    assert report.read_text().split()[1] == "busy"  # a run started during the build would have stopped
    report.unlink()
    with runs.locked(fake_book / "_build"):
        with pytest.raises(runs.OutputFolderBusy, match=f"in use by another run: pid {os.getpid()} "):
            book.build(fake_book)
    assert not report.exists(), "the builder ran while another process held the output folder"


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, killed but not yet reaped, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_killed_build_leaves_the_previous_site_and_no_builder_behind(fake_book, tmp_path):
    script = tmp_path / "stub.py"
    script.write_text(STUB)
    report = tmp_path / "stub-report"
    driver = tmp_path / "driver.py"
    driver.write_text(textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from emma_book import build as book
        book._stage_mathjax = lambda destination: destination.mkdir(parents=True)
        book.jupyter_book_command = lambda: [sys.executable, {str(script)!r}, "sleep"]
        sys.exit(book.build(Path({str(fake_book)!r})))
    """))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "STUB_LOCK": str(fake_book / "_build" / runs.LOCK), "STUB_REPORT": str(report)}
    process = subprocess.Popen([sys.executable, str(driver)], env=env)
    deadline = time.monotonic() + 120
    while not report.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert report.exists(), f"the build never started its builder (exit code {process.poll()})"
    builder = int(report.read_text().split()[0])
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + 5
    while _alive(builder) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(builder):
        os.kill(builder, signal.SIGKILL)
        pytest.fail("the builder outlived its killed build")
    assert (fake_book / "_build" / "html" / "index.html").read_text() == "the previous book"


def test_swap_in_puts_the_new_folder_in_place_of_the_previous_and_restore_finishes_a_cut_swap(tmp_path):
    final, fresh = tmp_path / "html", tmp_path / "fresh"
    fresh.mkdir()
    (fresh / "index.html").write_text("first")
    assert publish.swap_in(fresh, final) == final and (final / "index.html").read_text() == "first"
    fresh.mkdir()
    (fresh / "index.html").write_text("second")
    publish.swap_in(fresh, final)
    assert (final / "index.html").read_text() == "second" and not fresh.exists()
    final.rename(tmp_path / ".html.previous")  # the fallback cut between its two renames
    publish.restore(final)
    assert (final / "index.html").read_text() == "second"
    with pytest.raises(ValueError, match="fresh must be the folder"):
        publish.swap_in(tmp_path / "nowhere", final)
    with pytest.raises(ValueError, match="command must be a non-empty list"):
        publish.run_child([], tmp_path)
    with pytest.raises(ValueError, match="folders must map kinds"):
        publish.recorded_outputs(final / "x.ipynb", "x", {"notebooks": tmp_path})


def test_the_branch_carries_only_the_tables_runs_wrote_and_refuses_one_changed(fake_book, tmp_path):
    (fake_book / "_build" / "tables" / "stray_results.csv").write_text("z\n42\n")
    out = branch.write_branch(tmp_path / "out", SHA, "https://example.org/r", root=fake_book)
    tables = out / branch.TABLES
    assert sorted(p.name for p in tables.iterdir()) == ["alpha_numbers.csv", "beta_numbers.csv"]
    (fake_book / "_build" / "tables" / "beta_numbers.csv").write_text("y\n4\n")
    with pytest.raises(ValueError, match=r"chapter '02_beta': .*beta_numbers\.csv differs from what its run wrote"):
        branch.write_branch(tmp_path / "again", SHA, "https://example.org/r", root=fake_book)


def test_the_branch_refuses_a_table_read_that_no_run_in_it_wrote(fake_book, tmp_path):
    (fake_book / "book" / "chapters" / "01_alpha.ipynb").unlink()  # its table stays in _build/tables, unrecorded now
    with pytest.raises(FileNotFoundError, match=r"02_beta\.ipynb read tables/alpha_numbers\.csv, which no chapter's run"):
        branch.write_branch(tmp_path / "out", SHA, "https://example.org/r", root=fake_book)


def test_emma_tables_url_is_ignored_with_a_warning_inside_a_run(tmp_path, monkeypatch):
    served = tmp_path / "served"
    served.mkdir()
    (served / "other.csv").write_text("x\n1\n")
    monkeypatch.setenv(TABLES_URL, served.as_uri())
    monkeypatch.delenv(RUN_DIR, raising=False)
    monkeypatch.delenv(READS_LOG, raising=False)
    assert read_table(tmp_path / "launched", "other")["x"].tolist() == [1]  # a notebook launched alone fetches it
    monkeypatch.setenv(RUN_DIR, str(tmp_path / "out" / "runs" / "01_alpha-1"))  # what `emma-book run` sets for the kernel
    with pytest.warns(RuntimeWarning, match=r"\$EMMA_TABLES_URL .* is ignored inside `emma-book run`"):
        with pytest.raises(FileNotFoundError, match=r"other\.csv is missing: execute the chapter that writes the table 'other'"):
            read_table(tmp_path / "out", "other")
    assert not (tmp_path / "out" / "tables" / "other.csv").exists()
