"""`emma-book build` brings the book up to date first (emma_book.update): which chapters it executes, how, and when it refuses.

Every test works in a scratch book of three synthetic chapters (``alpha``, ``beta``, ``gamma``)
with its own profiles, and papermill is replaced by a stand-in that writes the executed notebook
as papermill would (its parameters in the metadata): nothing here starts a kernel or Sphinx.
The slow test at the end runs the real sequence of the README on a fresh copy of the checkout.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
import yaml
from conftest import scratch_book

from emma_book import build as book
from emma_book import cli, runs, update

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    """A scratch book whose chapters the stand-in executes: its ``root``, what was ``executed`` (name, parameters), ``failing`` names, ``built`` calls."""
    root = scratch_book(tmp_path / "root", monkeypatch, ("alpha", "beta", "gamma"), quick="profile: quick\nalpha:\n  seeds: [0]\n")
    executed, failing = [], set()

    def execute(chapter, parameters, *, output=None, progress=True, kernel_name="python3", failed=None):
        executed.append((chapter.name, dict(parameters)))
        if chapter.name in failing:
            raise book.ChapterFailed(f"chapter {chapter.name!r} failed in cell [2] (RuntimeError: deliberate)")
        output.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nbformat.v4.new_notebook(metadata={"papermill": {"parameters": dict(parameters)}}), output)
        return output

    built = []
    monkeypatch.setattr(book, "execute", execute)
    monkeypatch.setattr(book, "build", lambda **kwargs: built.append(kwargs) or 0)
    return SimpleNamespace(root=root, executed=executed, failing=failing, built=built)


def _ran(scratch) -> list[str]:
    names = [name for name, _ in scratch.executed]
    scratch.executed.clear()
    return names


def test_build_executes_the_chapters_not_executed_in_the_profile_of_those_that_are(scratch, capsys):
    assert cli.main(["run", "beta", "--profile", "quick", "--device", "cpu"]) == 0
    assert _ran(scratch) == ["beta"]
    capsys.readouterr()
    assert cli.main(["build"]) == 0
    out = capsys.readouterr().out
    assert "2 of 3 chapters have no up-to-date run in book/chapters" in out and "(quick profile, device cpu;" in out
    assert [line.split() for line in out.splitlines() if line.startswith("   ") and "not executed yet" in line] == [
        ["alpha", "not", "executed", "yet"], ["gamma", "not", "executed", "yet"]]
    assert scratch.executed == [  # as `emma-book run --profile quick --device cpu` would: alpha's quick section applies
        ("alpha", {"profile": "quick", "device": "cpu", "seeds": [0]}),
        ("gamma", {"profile": "quick", "device": "cpu"}),
    ]
    assert len(scratch.built) == 1 and scratch.built[0]["executed"] is None
    _ran(scratch)
    assert cli.main(["status", "--profile", "quick", "--device", "cpu"]) == 0
    assert all(line.endswith("up to date") for line in capsys.readouterr().out.splitlines())
    assert cli.main(["build"]) == 0
    assert _ran(scratch) == [] and "every chapter has an up-to-date run in book/chapters" in capsys.readouterr().out


def test_build_executes_a_stale_chapter_again_with_its_own_parameters(scratch, capsys):
    assert cli.main(["run", "--profile", "quick", "--device", "cpu", "-p", "seeds", "[7]"]) == 0
    _ran(scratch)
    source = scratch.root / "notebooks" / "03_gamma.py"
    source.write_text(source.read_text() + "print('edited')\n")
    capsys.readouterr()
    assert cli.main(["build"]) == 0
    out = capsys.readouterr().out
    assert "   gamma                    chapter source changed" in out.splitlines()
    assert scratch.executed == [("gamma", {"profile": "quick", "device": "cpu", "seeds": [7]})]  # not the profile's seeds
    assert "note: gamma ran with its own seeds, not the quick profile's on cpu" in out
    assert len(scratch.built) == 1


def test_a_fresh_book_is_executed_in_the_quick_profile_unless_told(scratch, capsys):
    assert cli.main(["build"]) == 0
    assert [(name, p["profile"], p["device"]) for name, p in scratch.executed] == [(n, "quick", "auto") for n in ("alpha", "beta", "gamma")]
    shutil.rmtree(scratch.root / "book" / "chapters")
    scratch.executed.clear()
    assert cli.main(["build", "--profile", "full", "--device", "cpu"]) == 0
    assert scratch.executed == [(n, {"profile": "full", "device": "cpu"}) for n in ("alpha", "beta", "gamma")]


def test_build_refuses_chapters_executed_in_different_profiles_in_one_line(scratch, capsys):
    assert cli.main(["run", "alpha", "--profile", "quick"]) == 0
    assert cli.main(["run", "beta", "--profile", "full"]) == 0
    _ran(scratch)
    capsys.readouterr()
    assert cli.main(["build"]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("emma-book: error: the chapters executed in book/chapters ran in different profiles")
    assert "(quick: alpha; full: beta)" in error and "--no-run" in error
    assert scratch.executed == [] and scratch.built == []
    assert cli.main(["run", "beta", "--profile", "quick"]) == 0
    _ran(scratch)
    assert cli.main(["build", "--profile", "full"]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "--profile full disagrees with the chapters executed in book/chapters (quick: alpha, beta)" in error
    assert scratch.executed == [] and scratch.built == []


_BUILD = book.build  # the real one, taken before any test replaces it


def test_no_run_executes_nothing_refuses_a_chapter_not_executed_and_names_stale_ones(scratch, capsys, monkeypatch):
    monkeypatch.setattr(book, "build", lambda **kwargs: _BUILD(scratch.root, **kwargs))  # the real build of the scratch book
    assert cli.main(["run", "alpha", "--profile", "quick"]) == 0
    _ran(scratch)
    source = scratch.root / "notebooks" / "01_alpha.py"
    source.write_text(source.read_text() + "print('edited')\n")
    capsys.readouterr()
    assert cli.main(["build", "--no-run"]) == 1
    captured = capsys.readouterr()
    assert scratch.executed == []
    assert "emma-book build: warning: chapter 'alpha' is built from a run that is not up to date (chapter source changed)" in captured.err
    assert "emma-book: error: these chapters have not been executed yet" in captured.err and "beta, gamma" in captured.err
    assert cli.main(["build", "--no-run", "--profile", "quick"]) == 1
    assert "--no-run executes none" in capsys.readouterr().err


def test_a_chapter_that_fails_while_build_executes_it_fails_the_build(scratch, capsys):
    scratch.failing.add("beta")
    assert cli.main(["build"]) == 1
    error = capsys.readouterr().err
    assert "emma-book: error: chapter 'beta' failed in cell [2]" in error
    assert _ran(scratch) == ["alpha", "beta"] and scratch.built == []  # gamma never ran; nothing was built
    assert (scratch.root / "book" / "chapters" / "01_alpha.ipynb").is_file() and not (scratch.root / "book" / "chapters" / "02_beta.ipynb").exists()


def test_build_from_another_output_folder_executes_into_it_or_says_it_cannot(scratch, tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.main(["build", "--chapters", str(out / "chapters")]) == 0
    assert [p["output_dir"] for _, p in scratch.executed] == [str(out)] * 3
    assert sorted(p.name for p in (out / "chapters").iterdir()) == ["01_alpha.ipynb", "02_beta.ipynb", "03_gamma.ipynb"]
    capsys.readouterr()
    assert cli.main(["build", "--chapters", str(tmp_path / "loose")]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "alpha, beta, gamma" in error and "--no-run" in error


def test_plan_names_a_bad_argument():
    with pytest.raises(ValueError, match="profile must be one of"):
        update.plan(profile="slow")
    with pytest.raises(ValueError, match="device must be one of"):
        update.plan(device="tpu")
    with pytest.raises(ValueError, match="executed must be a folder"):
        update.target(3)
    with pytest.raises(ValueError, match="folder must be the folder of executed notebooks"):
        update.present_runs(book.chapters(), None)
    with pytest.raises(ValueError, match="parameters must be a dict"):
        update.reasons(book.chapters()[0], [])


def test_a_hand_edited_executed_notebook_is_stale_and_build_executes_it_again_or_refuses_it(scratch, capsys, monkeypatch):
    assert cli.main(["run", "--profile", "quick", "--device", "cpu"]) == 0
    _ran(scratch)
    path = scratch.root / "book" / "chapters" / "03_gamma.ipynb"

    def edit():  # a number changed by hand in the executed notebook
        data = json.loads(path.read_text())
        data["cells"].append(nbformat.v4.new_markdown_cell("17,898 became 99,999"))
        path.write_text(json.dumps(data))

    edit()
    capsys.readouterr()
    assert cli.main(["status", "--profile", "quick", "--device", "cpu"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].split(None, 1) == ["gamma", "stale: executed notebook changed since the run wrote it"]
    assert cli.main(["build"]) == 0
    assert "   gamma                    executed notebook changed since the run wrote it" in capsys.readouterr().out.splitlines()
    assert _ran(scratch) == ["gamma"]
    edit()
    monkeypatch.setattr(book, "build", lambda **kwargs: _BUILD(scratch.root, **kwargs))  # the real build of the scratch book
    assert cli.main(["build", "--no-run"]) == 1
    error = capsys.readouterr().err.splitlines()[-1]
    assert error.startswith("emma-book: error: chapter 'gamma': ") and error.endswith("was changed after its run wrote it; "
                                                                                  "the book publishes only what runs wrote: run `emma-book run gamma` "
                                                                                  "again (with the output_dir it ran with)")
    assert _ran(scratch) == []


def test_build_stops_in_one_line_naming_the_run_that_holds_the_output_folder(scratch, capsys, monkeypatch):
    assert cli.main(["run", "--profile", "quick"]) == 0
    monkeypatch.setattr(book, "build", lambda **kwargs: _BUILD(scratch.root, **kwargs))
    capsys.readouterr()
    with runs.locked(scratch.root / "_build"):
        assert cli.main(["build", "--no-run"]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert error.startswith(f"emma-book: error: the output folder {scratch.root / '_build'} is in use by another run: pid {os.getpid()} ")


def _git_files() -> list[str]:
    """The files a clone of this working tree, committed, would hold: the tracked ones and those git does not ignore."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [name for name in listed.split("\0") if name and (ROOT / name).is_file()]


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("EMMA_TEST_FRESH_BUILD") != "1", reason="executes every chapter and builds the book (minutes): set EMMA_TEST_FRESH_BUILD=1")
def test_new_run_build_works_from_a_fresh_clone(tmp_path):
    """The README's sequence on a fresh copy of the checkout (:func:`_git_files`): `new demo`, `run demo --profile quick`, `build`.

    The commands run in their own processes, importing the package from the copy (PYTHONPATH), so
    nothing of this checkout's own outputs is read. Here (2 cores, shared) it took 6.4 min: `new` 8 s,
    `run demo` 18 s, `build` 5.8 min (every other chapter executed in the quick profile, then Sphinx).
    """
    clone = tmp_path / "clone"
    for name in _git_files():
        (clone / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, clone / name)
    env = {**os.environ, "PYTHONPATH": str(clone), "EMMA_QUIET": "1"}

    def emma_book(*args: str) -> str:
        started = time.time()
        done = subprocess.run([sys.executable, "-m", "emma_book", *args], cwd=clone, env=env, capture_output=True, text=True)
        print(f"emma-book {' '.join(args)}: {time.time() - started:.0f} s", flush=True)
        assert done.returncode == 0, f"emma-book {' '.join(args)} failed:\n{done.stdout[-6000:]}\n{done.stderr[-6000:]}"
        return done.stdout

    emma_book("new", "demo")
    demo = next(path.stem for path in (clone / "notebooks").glob("*_demo.py"))
    emma_book("run", "demo", "--profile", "quick")
    out = emma_book("build")
    assert "have no up-to-date run in book/chapters" in out and "(quick profile, device auto;" in out
    assert f"== {demo.split('_', 1)[1]}:" not in out, "the demo chapter, executed by `run`, is not executed again"
    others = [chapter.name for chapter in book.chapters(clone / "notebooks") if chapter.stem != demo]
    assert all(f"   {name:<24} not executed yet" in out.splitlines() for name in others), out[:3000]
    page = clone / "_build" / "html" / "book" / "chapters" / f"{demo}.html"
    assert page.is_file(), f"no page {page.relative_to(clone)} in the built book"
    toc = yaml.safe_load((clone / "_toc.yml").read_text())
    extensions = next(part for part in toc["parts"] if part["caption"] == "Extensions")
    assert {"file": f"book/chapters/{demo}"} in extensions["chapters"]
    index = (clone / "_build" / "html" / "book" / "intro.html").read_text()
    assert f'href="chapters/{demo}.html"' in index, "the demo chapter is not in the book's table of contents"
    for chapter in book.chapters(clone / "notebooks"):  # every chapter executed, in the demo's profile
        notebook = nbformat.read(clone / "book" / "chapters" / f"{chapter.stem}.ipynb", as_version=4)
        assert notebook.metadata["papermill"]["parameters"]["profile"] == "quick", chapter.name
