"""The benchmark's A/B mode (benchmarks/sweep.py --against REV, benchmarks/ab.py): its command line, workload and comparison."""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"


@pytest.fixture()
def bench(monkeypatch):
    """benchmarks/sweep.py as a module (it imports benchmarks/ab.py beside it)."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location("benchmark_sweep", BENCHMARKS / "sweep.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_against_defaults_to_the_commit_of_the_issue(bench):
    parser = bench.build_parser()
    assert parser.parse_args([]).against is None
    assert parser.parse_args(["--against"]).against == bench.ab.DEFAULT_REV == "0772875"
    assert parser.parse_args(["--against", "HEAD~1", "--k", "5"]).against == "HEAD~1"


@pytest.mark.parametrize("argv, message", [
    (["--against", "--paths"], "--against and --paths"),
    (["--k", "5"], "--k only apply with --against"),
    (["--against", "--k", "0"], "--k must be an integer >= 1"),
    (["--against", "--reps", "0"], "--reps must be an integer >= 1"),
    (["--against", "--warmup", "-1"], "--warmup must be an integer >= 0"),
    (["--against", "--max-slowdown", "nan"], "--max-slowdown must be a finite number > 0"),
    (["--against", "--families", "base", "nope"], "--families must be distinct names among"),
    (["--against", "no-such-revision-here"], "--against 'no-such-revision-here': no such commit"),
])
def test_bad_arguments_are_refused_by_name(bench, capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        bench.main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_the_workload_is_k_models_per_family_seeds_0_to_k_minus_1(bench):
    configs = bench.ab.workloads(7)
    assert tuple(configs) == bench.ab.FAMILIES
    for family, rows in configs.items():
        assert [r["seed"] for r in rows] == list(range(7)), family
    assert len({(r["rho"], r["lambda_c"], r["lambda_e"]) for r in configs["with"]}) == 7  # the grid's first 7 configurations
    assert {(r["rho"], r["lambda_c"], r["lambda_e"]) for r in configs["base"]} == {(1.0, 0.0, 0.0)}
    with pytest.raises(ValueError, match="--k must be a positive integer"):
        bench.ab.workloads(0)


def test_both_layouts_are_recognised(bench, tmp_path):
    assert bench.ab.layout_of(ROOT) == "subpackages"
    (tmp_path / "flat" / "emma").mkdir(parents=True)
    (tmp_path / "flat" / "emma" / "sweep.py").write_text("")
    assert bench.ab.layout_of(tmp_path / "flat") == "flat"
    assert set(bench.ab.LAYOUTS["flat"]) == set(bench.ab.LAYOUTS["subpackages"])
    with pytest.raises(ValueError, match="holds no sweep engine"):
        bench.ab.layout_of(tmp_path)


def test_tables_compare_on_the_test_f1_columns(bench):
    old = pd.DataFrame({"f1_clean": [0.5, 0.6], "f1_ip_noisy": [0.1, 0.2], "f1_dm_noisy": [0.3, 0.4], "f1_noisy_test": [0.7, 0.8], "threshold": [0.5, 0.5]})
    same = bench.ab.compare_tables(old, old.copy())
    assert same["same"] and same["max_f1_diff"] == 0.0 and same["models_differing"] == 0 and same["other_columns_differing"] == {}
    new = old.assign(f1_dm_noisy=[0.3, 0.45], threshold=[0.5, 0.25])
    differ = bench.ab.compare_tables(old, new)
    assert not differ["same"] and differ["max_f1_diff"] == pytest.approx(0.05) and differ["models_differing"] == 1
    assert differ["other_columns_differing"] == {"threshold": 0.25}
    undefined = old.assign(f1_ip_noisy=[float("nan"), 0.2])  # an F1 left undefined by both engines is the same result
    assert bench.ab.compare_tables(undefined, undefined.copy())["same"]


def _has_commit(rev: str) -> bool:
    done = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], capture_output=True)
    return done.returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(not _has_commit("0772875"), reason="needs the git history back to 0772875 (a shallow clone lacks it)")
@pytest.mark.skipif(not (Path(os.environ.get("EMMA_DATA_DIR", "")) / "HTRU_2.csv").is_file(), reason="needs HTRU_2.csv in EMMA_DATA_DIR")
def test_a_tiny_ab_run_against_0772875(bench):
    """Both engines train the six families (K = 2, one epoch, one timed run each); the table and verdicts come out (~30 s)."""
    frame, setup = bench.ab.run_ab("0772875", k=2, epochs=1, reps=1, warmup=0, progress=False)
    assert list(frame["family"]) == list(bench.ab.FAMILIES)
    assert setup["old"]["layout"] == "flat" and setup["new"]["layout"] == "subpackages"
    assert Path(setup["new"]["emma"]).resolve() == (ROOT / "emma" / "__init__.py").resolve()
    assert (frame[["old s", "new s", "new/old", "paired", "fastest"]] > 0).all().all()
    assert set(frame["slowdown ≤ 1.2×"]) <= {"yes", "no"} and set(frame["same results"]) <= {"yes", "no"}
    text = bench.ab.report(frame, setup, rev="0772875", epochs=1, reps=1, warmup=0)
    assert "overall: slowdown ≤ 1.2× for every family:" in text and "overall: same test F1 for every family:" in text
    assert not any("emma-ab-" in (getattr(m, "__file__", None) or "") for m in list(sys.modules.values()))  # the old package stays in its worker
