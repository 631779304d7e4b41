"""A chapter launched outside the checkout (Binder, Colab): the branch `notebooks` and its install cell.

The slow test at the end builds the branch from the executed quick-profile book, makes a fresh
virtual environment from the branch's requirements alone and executes the Conclusion there, in
the branch's folder, with papermill. It needs PyPI (through pip) and minutes, so it runs only
when ``EMMA_TEST_LAUNCH=1`` (``EMMA_TEST_LAUNCH=1 pytest -m slow tests/test_launch.py``); CI's
``locked`` job sets it. It installs the package from this checkout's HEAD commit, or from the
checkout ``EMMA_LAUNCH_CHECKOUT`` names. Here (2 cores) it took 4.5 min, of which the fresh
environment 80 s and the launched Conclusion 17 s; the rest executes the quick book.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pandas as pd
import pytest
import tomllib

from emma.util.outputs import digest
from emma_book import branch, cells, rerun
from emma_book import build as book

ROOT = Path(__file__).resolve().parent.parent
SHA = "0123456789abcdef0123456789abcdef01234567"
TOOLCHAIN = ("jupyter-book", "jupyter_book", "django-static-mathjax", "sphinx-book-theme", "playwright", "pypdf")


def _head() -> str:
    return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()


def test_the_install_cell_pins_the_commit_of_the_checkout_that_executes():
    cell = book.add_install_cell(nbformat.v4.new_notebook(), "https://example.org/r").cells[0]
    assert book.package_revision(ROOT) == _head()
    assert f'%pip install --quiet "emma-book @ git+https://example.org/r@{_head()}"' in cell.source
    assert f"executed this notebook ({_head()[:12]})" in cell.source


def test_outside_a_git_checkout_the_install_cell_takes_the_default_branch_and_says_so(tmp_path, monkeypatch):
    assert book.package_revision(tmp_path) is None
    monkeypatch.setattr(cells, "package_revision", lambda root=None: None)
    source = book.add_install_cell(nbformat.v4.new_notebook(), "https://example.org/r").cells[0].source
    assert source.splitlines()[-1].strip() == '%pip install --quiet "emma-book @ git+https://example.org/r"'
    assert "default branch" in source and "commit is unknown" in source


def test_a_chapter_needs_the_runtime_only_and_the_toolchain_is_the_extra_book():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = lambda requirements: {re.split(r"[<>=~! \[;]", r, maxsplit=1)[0].lower() for r in requirements}  # noqa: E731
    runtime, extras = names(project["dependencies"]), project["optional-dependencies"]
    assert {"torch", "numpy", "pandas", "papermill", "ipykernel", "myst-nb", "pyyaml", "nbformat"} <= runtime
    assert not runtime & set(TOOLCHAIN), runtime & set(TOOLCHAIN)
    assert {"jupyter-book", "django-static-mathjax"} <= names(extras["book"])
    assert {"pytest", "playwright", "pypdf"} <= names(extras["dev"])
    locked = (ROOT / branch.RUNTIME_LOCK).read_text().lower()
    assert "torch==" in locked and "myst-nb==" in locked
    assert not [name for name in TOOLCHAIN if f"\n{name}==" in locked]
    # the runtime's pins are those the published book is built with (make lock checks it too)
    book_lock = set((ROOT / "requirements-lock.txt").read_text().splitlines())
    assert [line for line in locked.splitlines() if line and line[0] not in "#-" and line not in {pin.lower() for pin in book_lock}] == []


def _executed(folder: Path, stem: str, reads: dict, output_dir: str, error: bool = False, writes: dict | None = None) -> Path:
    """An executed chapter with its run key as `emma-book run` stores it: the tables it read and wrote (name to digest), the notebook's digest."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell('output_dir = "_build"', metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(f'device = "cpu"\noutput_dir = "{output_dir}"\n', metadata={"tags": ["injected-parameters"]}),
        nbformat.v4.new_code_cell("x = 1"),
    ]
    if error:
        notebook.cells[-1].outputs = [nbformat.v4.new_output("error", ename="E", evalue="e", traceback=[])]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}.ipynb"
    nbformat.write(notebook, path)
    rerun.store_key(path, {"key": "", "parts": {"source": "s", **({"reads": reads} if reads else {}), **({"writes": writes} if writes else {})}})
    return path


@pytest.fixture
def checkout(tmp_path):
    """A checkout's files the branch takes: three executed chapters (one writes a table, two read it, one an appendix), a stray table, the runtime lock."""
    root = tmp_path / "root"
    executed = root / "book" / "chapters"
    (root / "_build" / "tables").mkdir(parents=True)
    (root / "_build" / "tables" / "a.csv").write_text("x\n1\n")
    (root / "_build" / "tables" / "b.csv").write_text("y\n2\n")  # no run wrote it
    _executed(executed, "01_first", {}, "/somewhere/else/_build", writes={"tables/a.csv": digest(b"x\n1\n")})
    _executed(executed, "10_conclusion", {"tables/a.csv": digest(b"x\n1\n")}, str(root / "_build"))
    _executed(executed, "A1_verdicts", {"tables/a.csv": digest(b"x\n1\n")}, str(root / "_build"))  # an appendix: lettered, not numbered
    (root / branch.RUNTIME_LOCK).write_text("# lock\n--extra-index-url https://example.org/whl\nnumpy==2.0.0\n")
    (root / "LICENSE").write_text("MIT\n")
    return root


def test_the_branch_carries_the_notebooks_the_tables_they_read_and_the_runtime(checkout, tmp_path):
    out = branch.write_branch(tmp_path / "out", SHA, "https://example.org/r", root=checkout)
    assert sorted(p.name for p in (out / "book" / "chapters").glob("*.ipynb")) == ["01_first.ipynb", "10_conclusion.ipynb", "A1_verdicts.ipynb"]
    # where a launched chapter's output_dir ("_build", relative to the notebook) finds them
    assert pd.read_csv(out / "book" / "chapters" / "_build" / "tables" / "a.csv")["x"].tolist() == [1]
    assert not (out / "book" / "chapters" / "_build" / "tables" / "b.csv").exists()  # only what the runs wrote
    assert (out / "requirements.txt").read_text().splitlines() == [
        "# lock", "--extra-index-url https://example.org/whl", "numpy==2.0.0", f"emma-book @ git+https://example.org/r@{SHA}"]
    assert (out / "runtime.txt").read_text() == "python-3.11\n"
    assert (out / "LICENSE").read_text() == "MIT\n"
    assert SHA in (out / "README.md").read_text()
    for stem in ("01_first", "10_conclusion"):
        cells = nbformat.read(out / "book" / "chapters" / f"{stem}.ipynb", as_version=4).cells
        assert book.INSTALL_TAG in cells[0].metadata["tags"]
        assert f'"emma-book @ git+https://example.org/r@{SHA}"' in cells[0].source
        injected = next(c for c in cells if "injected-parameters" in c.metadata["tags"]).source
        assert re.search(r'^output_dir = "_build"  #', injected, flags=re.MULTILINE), injected
        assert "/somewhere" not in injected and str(checkout) not in injected
        assert 'device = "cpu"' in injected


def test_the_branch_refuses_a_table_read_it_cannot_ship(checkout, tmp_path):
    _executed(checkout / "book" / "chapters", "01_first", {}, "/somewhere/else/_build")  # its run wrote no table now
    with pytest.raises(FileNotFoundError, match=r"10_conclusion\.ipynb read tables/a\.csv, which no chapter's run"):
        branch.write_branch(tmp_path / "out", SHA, "https://example.org/r", root=checkout)
    (checkout / "_build" / "tables" / "a.csv").write_text("x\n2\n")
    _executed(checkout / "book" / "chapters", "01_first", {}, "/somewhere/else/_build", writes={"tables/a.csv": digest(b"x\n1\n")})
    with pytest.raises(ValueError, match=r"chapter '01_first': .*a\.csv differs from what its run wrote"):
        branch.write_branch(tmp_path / "out2", SHA, "https://example.org/r", root=checkout)


def test_the_branch_refuses_an_unfinished_chapter_a_bad_sha_and_a_used_folder(checkout, tmp_path):
    _executed(checkout / "book" / "chapters", "02_failed", {}, "_build", error=True)
    with pytest.raises(ValueError, match="02_failed.*error output"):
        branch.write_branch(tmp_path / "out", SHA, "https://example.org/r", root=checkout)
    with pytest.raises(ValueError, match="--sha"):
        branch.write_branch(tmp_path / "out2", "main", "https://example.org/r", root=checkout)
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "x").write_text("")
    with pytest.raises(ValueError, match="used is not empty"):
        branch.write_branch(tmp_path / "used", SHA, "https://example.org/r", root=checkout)


def test_the_command_line_writes_the_branch_and_names_what_is_missing(checkout, tmp_path, capsys):
    assert branch.main([str(tmp_path / "out"), "--sha", SHA, "--repository", "https://example.org/r", "--root", str(checkout)]) == 0
    assert (tmp_path / "out" / "book" / "chapters" / "10_conclusion.ipynb").is_file()
    (checkout / branch.RUNTIME_LOCK).unlink()
    assert branch.main([str(tmp_path / "again"), "--sha", SHA, "--repository", "https://example.org/r", "--root", str(checkout)]) == 1
    assert f"{checkout / branch.RUNTIME_LOCK} is missing" in capsys.readouterr().err


def _fresh_environment(venv: Path, requirements: Path) -> dict:
    """A virtual environment with nothing of this one, from torch (the local wheel, as .ci/run) and
    the branch's requirements without emma-book (the install cell installs it, as on Colab) and
    without their index options (PyTorch's index is out of reach here; torch is already in)."""
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run(pip + ["--upgrade", "pip"], check=True)  # as Binder's and Colab's: venv's own pip 23 rejects git+file:///
    subprocess.run(pip + os.environ.get("TORCH", "torch==2.13.0").split(), check=True)
    lines = [line for line in requirements.read_text().splitlines() if not line.startswith(("--", "emma-book"))]
    (venv / "requirements.txt").write_text("\n".join(lines) + "\n")
    subprocess.run(pip + ["-r", str(venv / "requirements.txt")], check=True)
    keep = ("HOME", "LANG", "TMPDIR", "SSL_CERT_FILE")
    env = {k: v for k, v in os.environ.items() if k in keep or k.startswith("PIP_")}
    env["PATH"] = f"{venv / 'bin'}:/usr/local/bin:/usr/bin:/bin"
    env["JUPYTER_PATH"] = str(venv / "share" / "jupyter")  # the fresh environment's kernel, nobody else's
    return env


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("EMMA_TEST_LAUNCH") != "1", reason="needs PyPI and minutes: set EMMA_TEST_LAUNCH=1")
def test_the_conclusion_launched_from_the_branch_runs_in_a_fresh_environment(tmp_path_factory, tmp_path):
    import test_pipeline

    executed = test_pipeline.executed_quick_book(tmp_path_factory)
    # the package comes from a git checkout at its HEAD: this one, or (to launch uncommitted work)
    # a scratch clone with that work committed, named by EMMA_LAUNCH_CHECKOUT
    checkout = Path(os.environ.get("EMMA_LAUNCH_CHECKOUT", ROOT)).resolve()
    sha = book.package_revision(checkout)
    repository = f"file://{checkout}"
    out = branch.write_branch(tmp_path / "branch", sha, repository, root=ROOT,
                              executed=executed / "book" / "chapters", tables=executed / "_build" / "tables")
    started = time.monotonic()
    env = _fresh_environment(tmp_path / "venv", out / "requirements.txt")
    installed = time.monotonic() - started
    notebook = Path("book") / "chapters" / "10_conclusion.ipynb"
    launched = subprocess.run(
        [str(tmp_path / "venv" / "bin" / "python"), "-m", "papermill", str(notebook), str(tmp_path / "launched.ipynb"),
         "--cwd", str(notebook.parent), "--kernel", "python3", "--no-progress-bar"],
        cwd=out, env=env, capture_output=True, text=True, timeout=1200,
    )
    print(f"fresh environment {installed:.0f} s, the Conclusion {time.monotonic() - started - installed:.0f} s")
    assert launched.returncode == 0, launched.stderr[-4000:]
    cells = nbformat.read(tmp_path / "launched.ipynb", as_version=4).cells
    assert not [c for c in cells if any(o.get("output_type") == "error" for o in c.get("outputs", []))]
    said = "".join(o.get("text", "") for o in cells[0].outputs)
    assert cells[0].outputs and "ERROR" not in said, f"the install cell did not install the package: {said}"
    probe = ("import importlib.metadata as m, importlib.util as u, json; print(json.dumps([json.loads("
             "m.distribution('emma-book').read_text('direct_url.json')), [n for n in TOOLCHAIN if u.find_spec(n)]]))")
    direct, toolchain = json.loads(subprocess.run(
        [str(tmp_path / "venv" / "bin" / "python"), "-c", f"TOOLCHAIN = {['jupyter_book', 'mathjax', 'playwright', 'pypdf']!r}; {probe}"],
        cwd=out, env=env, capture_output=True, text=True, check=True).stdout)
    assert direct["vcs_info"]["commit_id"] == sha and direct["url"] == repository
    assert toolchain == [], f"a launched chapter installed the book's toolchain: {toolchain}"
    # it read and wrote the branch's tables, beside the notebook, not the executed book's
    assert (out / "book" / "chapters" / "_build" / "tables" / "research_questions.csv").is_file()


def test_a_chapter_launched_alone_fetches_the_tables_it_lacks_from_the_branch(tmp_path, monkeypatch):
    """On Colab a notebook opens without the branch's tables beside it: read_table fetches them from $EMMA_TABLES_URL."""
    import pandas as pd

    from emma.claims import report

    published = tmp_path / "published"
    published.mkdir()
    pd.DataFrame({"claim": ["c"], "verdict": ["reproduced"]}).to_csv(published / "some_claims.csv", index=False)
    here = tmp_path / "launched" / "_build"
    monkeypatch.delenv(report.TABLES_URL, raising=False)
    with pytest.raises(FileNotFoundError, match="execute the chapter"):
        report.read_table(here, "some_claims")  # in the checkout nothing is fetched
    monkeypatch.setenv(report.TABLES_URL, published.as_uri())
    assert report.read_table(here, "some_claims")["verdict"].tolist() == ["reproduced"]
    assert (here / "tables" / "some_claims.csv").read_bytes() == (published / "some_claims.csv").read_bytes()
    with pytest.raises(FileNotFoundError, match="fetching it from .*absent.csv"):
        report.read_table(here, "absent")


def test_the_install_cell_points_a_github_book_at_its_branchs_tables_only_outside_the_checkout():
    cell = book.add_install_cell(nbformat.v4.new_notebook(), "https://github.com/owner/emma-book", "a" * 40).cells[0].source
    lines = cell.splitlines()
    guard = lines.index('if importlib.util.find_spec("emma") is None:')
    fetch = next(i for i, line in enumerate(lines) if "EMMA_TABLES_URL" in line)
    assert fetch > guard and lines[fetch].startswith("    ")  # set only when emma is not installed, i.e. outside the checkout
    assert "https://raw.githubusercontent.com/owner/emma-book/notebooks/book/chapters/_build/tables" in lines[fetch]
    assert cells.tables_url("https://example.org/r") is None
