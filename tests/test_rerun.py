"""What a run executes (emma.rerun): parameters applied where declared, run keys, skipping, output folders."""
from pathlib import Path

import nbformat
import pytest

from emma import book, rerun

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
    assert rerun.stale(rerun.run_key(chapter, {"epochs": 3}, executed.parent, package="other"), executed) == ["package source changed"]
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
