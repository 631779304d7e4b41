"""benchmarks/same_tables.py's comparison of two runs' tables, on synthetic table folders (no git, no chapter run)."""
import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def same():
    """benchmarks/same_tables.py as a module."""
    spec = importlib.util.spec_from_file_location("same_tables", ROOT / "benchmarks" / "same_tables.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


def write(folder: Path, tables: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in tables.items():
        (folder / f"{name}.csv").write_bytes(text.encode() if isinstance(text, str) else text)
    return folder


SCORES = "model,seed,f1\nbase,0,0.8125\nwith,0,0.84375\n"
TIMED = "family,models,training_seconds\nbase,10,3.1\nwith,10,12.4\n"


@pytest.fixture()
def folders(tmp_path):
    return tmp_path / "a", tmp_path / "b"


def test_identical_folders_report_every_table_identical(same, folders):
    a = write(folders[0], {"scores": SCORES, "other": "x\n1\n"})
    b = write(folders[1], {"scores": SCORES, "other": "x\n1\n"})
    report = same.compare_tables(a, b, timing={})
    assert report.ok
    assert [f.name for f in report.identical] == ["other.csv", "scores.csv"]
    assert report.differ == [] and report.only == []
    assert report.summary() == "2 tables identical, 0 differ, 0 only in one run"
    assert report.details() == []


def test_a_changed_byte_is_reported_with_its_first_differing_line(same, folders):
    a = write(folders[0], {"scores": SCORES})
    b = write(folders[1], {"scores": SCORES.replace("0.84375", "0.84376")})
    report = same.compare_tables(a, b, timing={}, labels=("BASE", "HEAD"))
    assert not report.ok
    [finding] = report.differ
    assert (finding.name, finding.line) == ("scores.csv", 3)
    assert "0.84375" in finding.a and "0.84376" in finding.b
    assert report.summary() == "0 tables identical, 1 differ, 0 only in one run"
    assert report.details()[0] == "DIFFERS: scores.csv, first at line 3:"
    assert report.details()[1].startswith("  BASE | ") and report.details()[2].startswith("  HEAD | ")


def test_a_line_ending_alone_differing_is_a_difference_and_is_shown(same, folders):
    a = write(folders[0], {"scores": SCORES})
    b = write(folders[1], {"scores": SCORES.replace("\n", "\r\n")})
    [finding] = same.compare_tables(a, b, timing={}).differ
    assert finding.line == 1
    assert finding.a == "model,seed,f1" and finding.b == repr("model,seed,f1\r\n")


def test_a_table_with_an_extra_row_differs_at_the_row_past_the_shorter_ones_end(same, folders):
    a = write(folders[0], {"scores": SCORES})
    b = write(folders[1], {"scores": SCORES + "alternative,0,0.5\n"})
    [finding] = same.compare_tables(a, b, timing={}).differ
    assert (finding.line, finding.a, finding.b) == (4, None, "alternative,0,0.5")
    assert "(end of table)" in same.compare_tables(a, b, timing={}).details()[1]


def test_a_table_written_by_one_run_only_is_reported_and_fails(same, folders):
    a = write(folders[0], {"scores": SCORES, "gone": "x\n1\n"})
    b = write(folders[1], {"scores": SCORES, "new": "y\n2\n"})
    report = same.compare_tables(a, b, timing={}, labels=("BASE", "HEAD"))
    assert not report.ok
    assert {(f.name, f.status) for f in report.only} == {("gone.csv", "only_a"), ("new.csv", "only_b")}
    assert report.summary() == "1 table identical, 0 differ, 2 only in one run"
    assert "ONLY IN BASE: gone.csv" in report.details() and "ONLY IN HEAD: new.csv" in report.details()


def test_a_differing_timing_column_is_ignored_in_a_declared_timing_table(same, folders):
    a = write(folders[0], {"training_time": TIMED})
    b = write(folders[1], {"training_time": TIMED.replace("3.1", "2.9").replace("12.4", "15.0")})
    report = same.compare_tables(a, b, timing={"training_time": same.Timing(columns=("training_seconds",))})
    assert report.ok
    [finding] = report.identical
    assert finding.ignored == "column training_seconds"
    assert report.summary() == "1 table identical (1 of them without their timings), 0 differ, 0 only in one run"
    assert report.details() == ["identical without column training_seconds: training_time.csv"]


def test_the_other_columns_of_a_timing_table_are_still_compared(same, folders):
    a = write(folders[0], {"training_time": TIMED})
    b = write(folders[1], {"training_time": TIMED.replace("with,10,12.4", "with,11,15.0")})
    report = same.compare_tables(a, b, timing={"training_time": ("training_seconds",)})  # a tuple of columns is a Timing too
    [finding] = report.differ
    assert (finding.line, finding.a, finding.b) == (3, "with,10", "with,11")
    assert finding.ignored == "column training_seconds"


def test_the_same_column_differing_in_a_table_not_declared_timing_is_not_ignored(same, folders):
    a = write(folders[0], {"training_time": TIMED, "scores_with_seconds": TIMED})
    b = write(folders[1], {"training_time": TIMED.replace("3.1", "2.9"), "scores_with_seconds": TIMED.replace("3.1", "2.9")})
    report = same.compare_tables(a, b, timing={"training_time": ("training_seconds",)})
    assert not report.ok
    assert [f.name for f in report.differ] == ["scores_with_seconds.csv"]
    assert report.differ[0].ignored == "" and report.differ[0].line == 2


def test_a_timing_row_of_a_claims_table_is_left_out_and_every_other_row_compared(same, folders):
    claims = 'id,our_evidence,verdict\nmodes_gain,"gain 0.1, p = 0.01",reproduced\nmodes_quadratic_cost,p = 1.62,reproduced\n'
    timing = {"claims": same.Timing(rows=(("id", "modes_quadratic_cost"),))}
    a = write(folders[0], {"claims": claims})
    b = write(folders[1], {"claims": claims.replace("p = 1.62,reproduced", "p = 1.41,not reproduced")})
    assert same.compare_tables(a, b, timing=timing).ok
    write(folders[1], {"claims": claims.replace("p = 0.01", "p = 0.02")})
    [finding] = same.compare_tables(a, b, timing=timing).differ
    assert finding.line == 2 and "p = 0.01" in finding.a and "p = 0.02" in finding.b
    assert finding.ignored == "the row id = modes_quadratic_cost"


def test_a_timing_table_whose_header_lost_a_column_differs(same, folders):
    a = write(folders[0], {"training_time": TIMED})
    b = write(folders[1], {"training_time": TIMED.replace("family,", "").replace("base,", "").replace("with,", "")})
    [finding] = same.compare_tables(a, b, timing={"training_time": ("training_seconds",)}).differ
    assert finding.line == 1 and finding.a == "family,models" and finding.b == "models"


def test_no_table_at_all_is_not_a_pass(same, folders):
    report = same.compare_tables(write(folders[0], {}), write(folders[1], {}), timing={})
    assert report.findings == () and not report.ok


def test_the_declared_timing_tables_name_real_timing_columns(same):
    files = [*(ROOT / "notebooks").glob("*.py"), *(ROOT / "emma" / "experiments").glob("*.py")]  # a chapter, or the study it calls
    sources = "\n".join(path.read_text() for path in files)
    for name, spec in same.TIMING.items():
        assert f'"{name}"' in sources, name  # a table some chapter saves
        for column in spec.columns:
            assert f'"{column}"' in sources, (name, column)
    assert same.TIMING["modes_step_cost"].columns == ("ms_median", "ms_q1", "ms_q3")
    assert same.TIMING["robustness_training_time"].columns == ("training_seconds",)


@pytest.mark.parametrize("call, message", [
    (lambda s, a, b: s.compare_tables(a / "nope", b), "folder_a must be an existing folder of tables"),
    (lambda s, a, b: s.compare_tables(a, 3), "folder_b must be an existing folder of tables"),
    (lambda s, a, b: s.compare_tables(a, b, timing=["x"]), "timing must map table names"),
    (lambda s, a, b: s.compare_tables(a, b, timing={"t": 3}), r"timing\['t'\] must be a Timing"),
    (lambda s, a, b: s.compare_tables(a, b, labels=("A",)), "labels must be two non-empty names"),
    (lambda s, a, b: s.Timing(), "must leave out some columns or rows"),
    (lambda s, a, b: s.Timing(columns="seconds"), "columns must be a tuple of column names"),
    (lambda s, a, b: s.Timing(rows=(("id",),)), r"rows must be a tuple of \(column, value\) pairs"),
])
def test_bad_arguments_are_refused_by_name(same, folders, call, message):
    a, b = write(folders[0], {}), write(folders[1], {})
    with pytest.raises(ValueError, match=message):
        call(same, a, b)


def test_the_tooling_is_found_in_either_layout_of_a_tree(same, tmp_path):
    (tmp_path / "new" / "emma_book").mkdir(parents=True)
    (tmp_path / "new" / "emma_book" / "__main__.py").write_text("")
    assert same.tool_command(tmp_path / "new")[1:] == ["-m", "emma_book"]
    (tmp_path / "old" / "emma" / "book").mkdir(parents=True)
    (tmp_path / "old" / "emma" / "book" / "cli.py").write_text("")
    assert "from emma.book.cli import main" in same.tool_command(tmp_path / "old")[-1]
    with pytest.raises(ValueError, match="holds no tooling of the book"):
        same.tool_command(tmp_path)


def test_the_command_line_defaults_to_the_working_tree_and_the_full_profile(same):
    args = same.build_parser().parse_args(["a20a6c9"])
    assert (args.base, args.head, args.profile, args.chapters, args.keep) == ("a20a6c9", None, "full", [], None)
    args = same.build_parser().parse_args(["a20a6c9", "HEAD", "--profile", "quick", "--chapters", "pulsar_data", "emma"])
    assert (args.head, args.profile, args.chapters) == ("HEAD", "quick", ["pulsar_data", "emma"])
