"""Chapter parameters are checked before any kernel starts (emma_book.params, emma_book.cli): every parameter has a rule.

A bad value fails in one line naming the chapter and the parameter, whether it comes from ``-p``,
from a ``-f`` file's section of a chapter run or not; ``profile`` is set by ``--profile`` alone; a
relative ``output_dir`` is one folder, below the caller's working folder, for every output.
"""
import os
import shutil
from pathlib import Path

import pytest

from emma_book import build as book
from emma_book import cli, layout, params, rerun, rules, scaffold, update

ROOT = Path(__file__).resolve().parent.parent

#: The bad values issue 25 lists: each was caught late, inside the kernel, or not at all.
BAD = [
    ("energy_estimation", "seeds", "[99999999999999999999]", "larger than 4294967295"),
    ("robustness", "rhos", "[]", "non-empty list"),
    ("potential_energy", "n_sigmas", "-3", "an int >= 2"),
    ("pulsar_data", "test_size", "1.5", "in (0, 1)"),
    ("pulsar_data", "noise_levels_db", "[.nan]", "finite numbers"),
    ("pulsar_data", "training_sigma", "-1", ">= 0"),
    ("energy_estimation", "n_figure", "1e12", "an int in [1, 100000]"),
    ("replay", "forensic_emma", "bogus", "one of chosen, all"),
]


@pytest.fixture()
def no_kernel(monkeypatch):
    """Every way to a kernel, replaced by a recorder: the tests assert nothing reached it."""
    started = []

    def refuse(*args, **kwargs):
        started.append(args)
        raise AssertionError("a kernel was started")

    monkeypatch.setattr(book, "execute", refuse)
    monkeypatch.setattr(update, "execute_chapters", refuse)
    return started


def _one_line_error(capsys) -> str:
    error = capsys.readouterr().err
    assert error.count("\n") == 1, error
    return error


def _resolve(*argv):
    return cli._resolve(cli._parser().parse_args(list(argv)))


# ----------------------------------------------------------------------------- every parameter has a rule


def _missing_rules(chapter, rule_chapter=None) -> list[str]:
    return [name for name in chapter.parameters() if rules.rule_for(name, rule_chapter or chapter.name) is None]


def test_every_parameter_of_every_chapter_has_a_rule():
    missing = {chapter.name: _missing_rules(chapter) for chapter in book.chapters()}
    assert {name: names for name, names in missing.items() if names} == {}, "give each a rule in rules.RULES or rules.CHAPTER_RULES"


def test_the_chapter_emma_book_new_writes_has_a_rule_for_every_parameter(tmp_path):
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks", ignore=shutil.ignore_patterns(".*", "__pycache__"))
    shutil.copytree(ROOT / "profiles", tmp_path / "profiles")
    shutil.copy2(ROOT / "_toc.yml", tmp_path / "_toc.yml")
    scaffold.new_chapter("demo_rules", root=tmp_path)
    chapter = next(c for c in book.chapters(tmp_path / "notebooks") if c.name == "demo_rules")
    assert _missing_rules(chapter) == [], "the template declares a parameter without a shared rule in rules.RULES"


def test_a_chapter_declaring_a_parameter_without_a_rule_is_found(tmp_path):
    (tmp_path / "01_extra.py").write_text('# %% [markdown]\n# # Extra\n\n# %% tags=["parameters"]\nseeds = [0]\nn_bins = 10\n')
    assert _missing_rules(book.chapters(tmp_path)[0]) == ["n_bins"]


def test_every_default_and_both_profiles_satisfy_the_rules():
    for chapter in book.chapters():
        for name, text in chapter.parameters().items():
            default = rules.default_value(text)
            if default is not rules._NOTHING:  # list(range(20)) is no literal
                assert params.problem(name, default, text, chapter.name) is None, (chapter.name, name)
    for profile in ("quick", "full"):
        params.check_sections(params.read_parameter_file(layout.PROFILES / f"{profile}.yaml"), profile)
        selected, parameters, _ = _resolve("status", "--profile", profile)
        assert [c.name for c in selected] == [c.name for c in book.select([])] and parameters


def test_the_quick_profile_runs_one_chapter_that_declares_none_of_its_shared_keys():
    """quick.yaml sets confirm_seeds for the two chapters that declare it; running another alone is no error."""
    selected, parameters, not_declared = _resolve("status", "energy_estimation", "--profile", "quick")
    assert [c.name for c in selected] == ["energy_estimation"] and "confirm_seeds" not in parameters["energy_estimation"]
    assert not_declared == {}  # nothing the caller set goes unused


def test_the_rules_choices_are_the_codes():
    from emma.experiments.attention_tasks import AlignmentModel
    from emma.experiments.modes import block_indices

    scores = rules.CHAPTER_RULES["attention_mechanisms"]["alignment_scores"]
    assert scores.accepts(list(AlignmentModel.SCORES)) and not scores.accepts(["additive", "cosine"])
    blocks = rules.CHAPTER_RULES["many_modes"]["digit_blocks"]
    for block in range(1, 9):
        try:
            block_indices(block)
            works = True
        except ValueError:
            works = False
        assert bool(blocks.accepts([block])) == works, block


# ----------------------------------------------------------------------------- bad values fail before any kernel starts


@pytest.mark.parametrize(("chapter", "key", "value", "expected"), BAD)
def test_a_bad_value_fails_before_any_kernel_in_one_line_naming_chapter_and_parameter(tmp_path, capsys, no_kernel, chapter, key, value, expected):
    out = tmp_path / "out"
    assert cli.main(["run", chapter, "--profile", "quick", "-p", "output_dir", str(out), "-p", key, value]) == 1
    error = _one_line_error(capsys)
    assert f"chapter {chapter!r}" in error and f"parameter {key} = " in error and expected in error
    assert no_kernel == [] and not out.exists()


@pytest.mark.parametrize(("chapter", "key", "value", "expected"), BAD)
def test_a_bad_value_in_a_file_section_fails_even_for_a_chapter_not_run(tmp_path, capsys, no_kernel, chapter, key, value, expected):
    other = "verdicts"  # a chapter with none of these parameters, run instead
    path = tmp_path / "bad.yaml"
    path.write_text(f"{chapter}:\n  {key}: {value}\n")
    assert cli.main(["status", other, "--profile", "quick", "-f", str(path)]) == 1
    error = _one_line_error(capsys)
    assert str(path) in error and f"chapter {chapter!r}" in error and f"parameter {key} = " in error and expected in error
    assert no_kernel == []


def test_a_malformed_section_of_a_chapter_not_run_is_an_error_naming_it(tmp_path, capsys, no_kernel):
    path = tmp_path / "bad.yaml"
    for text, expected in (("replay: 3\n", "the section 'replay' must be a mapping"),
                           ("replay:\n  seeds: [0]\n  epoch: 3\n", "chapter 'replay' has no parameter(s) ['epoch']")):
        path.write_text(text)
        assert cli.main(["run", "pulsar_data", "-f", str(path)]) == 1
        assert expected in _one_line_error(capsys)
    assert no_kernel == []


def test_a_typo_is_named_with_the_nearest_parameter(capsys, no_kernel):
    assert cli.main(["run", "beyond_gaussian", "-p", "lamda_e", "0.1"]) == 1
    error = _one_line_error(capsys)
    assert "'lamda_e'" in error and "did you mean 'lambda_e'?" in error and no_kernel == []


def test_a_data_home_that_is_no_folder_is_named_before_any_kernel(tmp_path, capsys, no_kernel):
    missing = tmp_path / "nonexistent"
    assert cli.main(["run", "pulsar_data", "--profile", "quick", "-p", "data_home", str(missing)]) == 1
    error = _one_line_error(capsys)
    assert "chapter 'pulsar_data'" in error and "parameter data_home" in error and f"no folder {missing} exists" in error


# ----------------------------------------------------------------------------- the profile comes from --profile only


def test_the_profile_cannot_be_set_by_p(capsys, no_kernel):
    assert cli.main(["run", "pulsar_data", "--profile", "quick", "-p", "profile", "full"]) == 1
    error = _one_line_error(capsys)
    assert "-p profile full" in error and "use --profile full" in error and no_kernel == []


def test_a_file_profile_that_is_not_the_runs_says_which_to_use(tmp_path, capsys, no_kernel):
    path = tmp_path / "mine.yaml"
    path.write_text("profile: full\n")
    assert cli.main(["run", "pulsar_data", "--profile", "quick", "-f", str(path)]) == 1
    error = _one_line_error(capsys)
    assert str(path) in error and "'full'" in error and "'quick'" in error and "use --profile full" in error
    path.write_text("pulsar_data:\n  profile: full\n")
    assert cli.main(["run", "pulsar_data", "--profile", "quick", "-f", str(path)]) == 1
    assert "the section 'pulsar_data'" in _one_line_error(capsys) and no_kernel == []
    path.write_text("profile: quick\n")  # the same as --profile: nothing to refuse
    _, parameters, _ = _resolve("status", "pulsar_data", "--profile", "quick", "-f", str(path))
    assert parameters["pulsar_data"]["profile"] == "quick"


# ----------------------------------------------------------------------------- a relative output_dir is one folder


def test_a_relative_output_dir_puts_every_output_below_the_callers_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _, parameters, _ = _resolve("status", "pulsar_data", "--profile", "quick", "-p", "output_dir", "out", "-p", "data_home", ".")
    own = parameters["pulsar_data"]
    assert own["output_dir"] == str(tmp_path / "out") and own["data_home"] == str(tmp_path)
    chapter = book.select(["pulsar_data"])[0]
    assert book.executed_path(chapter, own["output_dir"]) == tmp_path / "out" / "chapters" / f"{chapter.stem}.ipynb"  # the notebook
    assert rerun.output_folder(own) == tmp_path / "out"  # the tables, the figures, the run folders and the lock below


def test_absolute_paths_leave_absolute_and_unset_values_alone(tmp_path):
    given = {"a": {"output_dir": "/x/y", "cache_dir": None, "data_home": "", "seeds": [0]}, "b": {"output_dir": "~/o"}}
    made = params.absolute_paths(given, tmp_path)
    assert made["a"] == given["a"]  # the empty path is left for the rule to refuse
    assert made["b"]["output_dir"] == os.path.expanduser("~/o")
