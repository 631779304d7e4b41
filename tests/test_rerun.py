"""What a run executes (emma.book.rerun): parameters applied where declared, run keys, skipping, output folders."""
from pathlib import Path

import nbformat
import pytest

import shutil

from emma.book import build as book
from emma.book import cli
from emma.book import rerun

CHAPTER = '''# %% [markdown]
# # {title}

# %% tags=["parameters"]
profile = "full"
device = "auto"
output_dir = "_build"
{extra}

# %%
print(profile)
'''


def _chapters(tmp_path: Path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    (folder / "01_alpha.py").write_text(CHAPTER.format(title="Alpha", extra="seeds = [0, 1]\nepochs = 3"))
    (folder / "02_beta.py").write_text(CHAPTER.format(title="Beta", extra="epochs = 5"))
    return book.chapters(folder)


def test_a_parameter_applies_where_declared_and_is_reported_elsewhere(tmp_path):
    chapters = _chapters(tmp_path)
    parameters, not_declared = rerun.resolve_parameters(chapters, [{"profile": "quick"}, {"seeds": [7]}])
    assert parameters["alpha"] == {"profile": "quick", "seeds": [7]}
    assert parameters["beta"] == {"profile": "quick"}
    assert not_declared == {"seeds": ["beta"]}


def test_later_layers_win_and_chapter_sections_hold_their_own_values(tmp_path):
    chapters = _chapters(tmp_path)
    profile = {"profile": "quick", "alpha": {"epochs": 1}, "beta": {"epochs": 2}}
    parameters, _ = rerun.resolve_parameters(chapters, [profile, {"epochs": 9}])
    assert parameters["alpha"]["epochs"] == 9 and parameters["beta"]["epochs"] == 9  # -p wins over the profile
    parameters, _ = rerun.resolve_parameters(chapters, [{"epochs": 9}, profile])
    assert (parameters["alpha"]["epochs"], parameters["beta"]["epochs"]) == (1, 2)


def test_a_key_no_chapter_declares_is_an_error_naming_it(tmp_path):
    chapters = _chapters(tmp_path)
    with pytest.raises(ValueError, match="nonsense"):
        rerun.resolve_parameters(chapters, [{"nonsense": 1}])
    with pytest.raises(ValueError, match="beta.*seeds"):
        rerun.resolve_parameters(chapters, [{"beta": {"seeds": [1]}}])


def test_a_parameter_file_must_be_a_mapping(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("- 1\n- 2\n")
    with pytest.raises(ValueError, match="mapping"):
        rerun.read_parameter_file(path)
    with pytest.raises(FileNotFoundError, match="missing.yaml"):
        rerun.read_parameter_file(tmp_path / "missing.yaml")


def test_the_run_key_changes_with_each_input_and_stale_says_which(tmp_path):
    chapter = _chapters(tmp_path)[0]
    executed = tmp_path / "chapters" / f"{chapter.stem}.ipynb"
    executed.parent.mkdir()
    key = rerun.run_key(chapter, {"epochs": 3}, executed.parent)
    assert rerun.stale(key, executed) == ["not executed yet"]
    nbformat.write(nbformat.v4.new_notebook(), executed)
    rerun.store_key(executed, key)
    assert rerun.stale(key, executed) == []
    assert rerun.stale(rerun.run_key(chapter, {"epochs": 4}, executed.parent), executed) == ["parameters changed"]
    package = rerun.package_digest(chapter.source)
    assert rerun.stale(rerun.run_key(chapter, {"epochs": 3}, executed.parent, package={**package, "emma/x.py": "other"}), executed) == ["emma/x.py now imported"]
    chapter.source.write_text(chapter.source.read_text() + "\n# %%\nprint(1)\n")
    assert rerun.stale(rerun.run_key(chapter, {"epochs": 3}, executed.parent), executed) == ["chapter source changed"]


def test_a_chapter_that_reads_another_is_stale_when_that_one_ran_again(tmp_path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    (folder / "06_robustness.py").write_text(CHAPTER.format(title="Robustness", extra=""))
    (folder / "07_replay.py").write_text(CHAPTER.format(title="Replay", extra=""))
    robustness, replay = book.chapters(folder)
    executed = tmp_path / "chapters"
    executed.mkdir()
    for chapter in (robustness, replay):
        nbformat.write(nbformat.v4.new_notebook(), executed / f"{chapter.stem}.ipynb")
    rerun.store_key(executed / "06_robustness.ipynb", rerun.run_key(robustness, {}, executed))
    key = rerun.run_key(replay, {}, executed)
    rerun.store_key(executed / "07_replay.ipynb", key)
    assert rerun.stale(rerun.run_key(replay, {}, executed), executed / "07_replay.ipynb") == []
    rerun.store_key(executed / "06_robustness.ipynb", rerun.run_key(robustness, {"x": 1}, executed))
    assert rerun.stale(rerun.run_key(replay, {}, executed), executed / "07_replay.ipynb") == ["chapters read changed"]


def test_a_run_into_another_output_dir_leaves_the_book_pages_alone(tmp_path):
    chapter = book.chapters()[0]
    assert book.executed_path(chapter) == book.EXECUTED / f"{chapter.stem}.ipynb"
    assert book.executed_path(chapter, "_build") == book.EXECUTED / f"{chapter.stem}.ipynb"
    assert book.executed_path(chapter, tmp_path / "elsewhere") == tmp_path / "elsewhere" / "chapters" / f"{chapter.stem}.ipynb"


def _package(tmp_path: Path) -> Path:
    """A small package ``emma``: a imports b (relatively), c stands alone, sub/d imports b from the parent."""
    package = tmp_path / "pkg" / "emma"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("from .a import f\n")
    (package / "a.py").write_text("import math\nfrom .b import g\n\ndef f():\n    return g()\n")
    (package / "b.py").write_text("def g():\n    from . import e\n    return 1\n")
    (package / "c.py").write_text("import numpy\n")
    (package / "e.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "d.py").write_text("from .. import b\n")
    return package


def test_the_import_graph_follows_absolute_and_relative_imports_and_ignores_the_rest(tmp_path):
    package = _package(tmp_path)

    def modules(source):
        path = tmp_path / "chapter.py"
        path.write_text(source)
        return [p.relative_to(package).as_posix() for p in rerun.package_modules(path, package)]

    assert modules("from emma.a import f\nimport numpy\n") == ["a.py", "b.py", "e.py"]
    assert modules("from emma import c\n") == ["c.py"]
    assert modules("import emma.c\n") == ["c.py"]
    assert modules("from emma import f\n") == ["__init__.py", "a.py", "b.py", "e.py"]  # a name __init__ re-exports
    assert modules("import emma\n") == ["__init__.py", "a.py", "b.py", "e.py"]
    assert modules("from emma.sub.d import b\n") == ["b.py", "e.py", "sub/__init__.py", "sub/d.py"]
    assert modules("import os\n") == []


def test_editing_a_module_makes_stale_only_the_chapters_that_import_it(tmp_path, monkeypatch):
    package = _package(tmp_path)
    monkeypatch.setattr(rerun, "PACKAGE", package)
    chapters = _chapters(tmp_path)
    alpha, beta = chapters
    alpha.source.write_text(alpha.source.read_text() + "\n# %%\nfrom emma.a import f\n")
    beta.source.write_text(beta.source.read_text() + "\n# %%\nfrom emma import c\n")
    executed = tmp_path / "chapters"
    executed.mkdir()
    for chapter in chapters:
        nbformat.write(nbformat.v4.new_notebook(), executed / f"{chapter.stem}.ipynb")
        rerun.store_key(executed / f"{chapter.stem}.ipynb", rerun.run_key(chapter, {}, executed))
    (package / "b.py").write_text((package / "b.py").read_text() + "# edited\n")
    assert rerun.stale(rerun.run_key(alpha, {}, executed), executed / "01_alpha.ipynb") == ["emma/b.py changed"]
    assert rerun.stale(rerun.run_key(beta, {}, executed), executed / "02_beta.ipynb") == []


def test_status_prints_one_line_per_chapter_and_names_what_changed(tmp_path, monkeypatch, capsys):
    package = tmp_path / "emma"
    shutil.copytree(rerun.PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(rerun, "PACKAGE", package)
    output = ["--profile", "quick", "-p", "output_dir", str(tmp_path / "out")]
    assert cli.main(["status", *output]) == 0
    lines = capsys.readouterr().out.splitlines()
    names = [chapter.name for chapter in book.chapters()]
    assert [line.split()[0] for line in lines] == names
    assert all(line.endswith("stale: not executed yet") for line in lines)

    executed = tmp_path / "out" / "chapters"
    executed.mkdir(parents=True)
    selected, parameters, _ = cli._resolve(cli._parser().parse_args(["status", *output]))
    for chapter in selected:  # as if `emma-book run` had executed every chapter
        path = executed / f"{chapter.stem}.ipynb"
        nbformat.write(nbformat.v4.new_notebook(), path)
        rerun.store_key(path, rerun.run_key(chapter, parameters[chapter.name], executed))
    assert cli.main(["status", *output]) == 0
    assert all(line.endswith("up to date") for line in capsys.readouterr().out.splitlines())

    (package / "experiments" / "literature.py").write_text((package / "experiments" / "literature.py").read_text() + "\n# edited\n")
    assert cli.main(["status", *output]) == 0
    stale = [line.split(None, 1) for line in capsys.readouterr().out.splitlines() if "up to date" not in line]
    assert stale == [["attention_mechanisms", "stale: emma/experiments/literature.py changed"]]
    assert cli.main(["status", *output[:2], "-p", "output_dir", str(tmp_path / "out"), "-p", "device", "cpu"]) == 0
    assert all("parameters changed" in line for line in capsys.readouterr().out.splitlines())
