"""The chapter "Beyond Gaussian noise" as results (emma.experiments.beyond_gaussian), on small tables and a short real run."""
import pandas as pd
import pytest
from test_failures_study import FAILURES, _scores, _view

from emma.data import Gaussian, MeanFilled, Swapped, Zeroed
from emma.engine import TrainSettings
from emma.engine.autoencoders import THESIS_DAE
from emma.experiments import beyond_gaussian as bg
from emma.experiments import failures_study as fs


def test_each_failure_is_described_by_its_object_and_what_the_failed_mode_reads():
    failures = {"gaussian": Gaussian(0.5), "zeroed": Zeroed(), "mean-filled": MeanFilled(), "swapped": Swapped()}
    table = bg.describe_failures(failures)
    assert table["failure"].tolist() == list(failures) and table["object"].tolist()[:2] == ["Gaussian(sigma=0.5)", "Zeroed(severity=1.0)"]
    assert table["the failed mode reads"].iloc[0] == Gaussian.__doc__.strip().split("\n")[0]
    with pytest.raises(ValueError, match="non-empty mapping"):
        bg.describe_failures({})
    with pytest.raises(TypeError, match=r"failures\['x'\]"):
        bg.describe_failures({"x": 0.5})


def test_the_results_read_the_tables_as_the_failures_study_does():
    energy = bg.EnergyStudy(splits=None, energies={}, view=_view(0.9))
    summary = energy.summary().set_index(["failure", "mode"])
    assert summary.loc[("zeroed", "IP"), "auroc_mean"] == pytest.approx(_view(0.9).query("failure == 'zeroed' and mode == 'IP'")["auroc"].mean())
    assert energy.describe() == fs.describe_energy(_view(0.9))
    trained = bg.FailureScores(sweeps={}, scores=_scores(0.05), failures=FAILURES)
    pd.testing.assert_frame_equal(trained.grid(), fs.score_grid(_scores(0.05), FAILURES))
    assert trained.describe() == fs.describe_scores(_scores(0.05), FAILURES)
    pd.testing.assert_frame_equal(trained.claims(energy), fs.failure_claims(_scores(0.05), _view(0.9), FAILURES))
    assert set(trained.claims(energy)["verdict"]) == {"reproduced"}


def test_a_short_real_run_trains_each_family_under_each_failure_and_tests_it_under_every_one():
    failures = {"zeroed": Zeroed(), "swapped": Swapped()}
    settings = TrainSettings(epochs=1)
    energy = bg.energy_study(failures, [0], settings, THESIS_DAE.override(epochs=2))
    assert energy.view[["failure", "mode"]].drop_duplicates().values.tolist() == [["zeroed", "IP"], ["zeroed", "DM"], ["swapped", "IP"], ["swapped", "DM"]]
    assert (energy.view.set_index("failure").loc["zeroed", "auroc"] > 0.9).all()  # a dead sensor is seen
    trained = bg.failure_scores(energy, failures, ["without"], [0], settings, config={"rho": 1e-4, "lambda_c": 0.0, "lambda_e": 0.0})
    assert set(trained.sweeps) == {"base", ("without", "zeroed"), ("without", "swapped")}
    without = trained.scores[trained.scores["family"] == "without"]
    assert sorted(map(tuple, without[["trained_on", "tested_on"]].drop_duplicates().values)) == sorted(
        (a, b) for a in failures for b in failures)
    assert trained.scores["f1_failed"].between(0, 1).all()
    with pytest.raises(TypeError, match="EnergyStudy"):
        bg.failure_scores(energy.view, failures, ["without"], [0], settings, config={"rho": 1e-4, "lambda_c": 0.0, "lambda_e": 0.0})
