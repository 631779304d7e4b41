"""The study of the chapter "Beyond Gaussian noise" (emma.experiments.failures_study), on small synthetic tables and a short real run."""
import numpy as np
import pandas as pd
import pytest

from emma.data import Gaussian, Swapped, Zeroed
from emma.experiments.failures_study import describe_energy, describe_scores, energy_view, failure_claims

FAILURES = {"gaussian": Gaussian(0.5), "zeroed": Zeroed()}


def _scores(edge: float) -> pd.DataFrame:
    """Scores where EMMA beats every other family on failed samples by ``edge`` on every seed (plus seed noise)."""
    rng = np.random.default_rng(0)
    rows = []
    for seed in range(5):
        noise = rng.normal(0, 0.002)
        rows.append({"family": "base", "trained_on": "none (clean)", "tested_on": "gaussian", "seed": seed, "f1_failed": 0.5})
        rows.append({"family": "base", "trained_on": "none (clean)", "tested_on": "zeroed", "seed": seed, "f1_failed": 0.4})
        for family in ("without", "gated", "with"):
            for trained in FAILURES:
                for tested in FAILURES:
                    value = 0.6 + noise + (edge if family == "with" else 0.0) + 0.001 * seed
                    rows.append({"family": family, "trained_on": trained, "tested_on": tested, "seed": seed, "f1_failed": value})
    return pd.DataFrame(rows)


def _view(auroc: float) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame([{"seed": s, "failure": f, "mode": m, "auroc": auroc + rng.normal(0, 0.01), "shift": 1.0}
                         for s in range(5) for f in FAILURES for m in ("IP", "DM")])


def test_claims_follow_the_numbers_both_ways():
    held = failure_claims(_scores(0.05), _view(0.9), FAILURES)
    assert set(held["verdict"]) == {"reproduced"}
    assert len(held) == 2 + 1 + 2 + 2  # with vs without per failure, Gaussian transfer, with vs gate, energy
    assert list(held["id"]) == ["beats_augmentation_gaussian", "beats_augmentation_zeroed", "beats_augmentation_zeroed_trained_on_gaussian",
                                "beats_gate_gaussian", "beats_gate_zeroed", "energy_flags_gaussian", "energy_flags_zeroed"]
    assert set(held["kind"]) == {"book"} and list(held["min_effect"]) == [0.02] * 5 + [0.2] * 2
    assert held[["effect", "ci_low", "ci_high", "n_seeds", "p_value", "p_holm"]].notna().all().all()
    assert held["detectable_effect"].iloc[-2:].notna().all()  # (EMMA's edge in the fake scores is the same on every seed: no power to compute)
    assert (held["n_seeds"] == 5).all() and held["cases"].iloc[-1] == "2 of 2 sub-cases hold: IP, DM"
    failed = failure_claims(_scores(-0.05), _view(0.5), FAILURES)
    assert set(failed["verdict"]) == {"not reproduced"}  # the F1 is lower, and the AUROC within 0.1 of chance: an equivalence
    small = failure_claims(_scores(0.005), _view(0.55), FAILURES)  # real but below every minimum effect
    assert "reproduced" not in set(small["verdict"])


def test_the_claims_of_a_new_failure_are_registered_from_the_same_wording():
    from emma.claims.registry import lookup

    failures = {"gaussian": Gaussian(0.5), "Dead Sensor": Zeroed()}
    scores = _scores(0.05)
    scores["tested_on"] = scores["tested_on"].replace("zeroed", "Dead Sensor")
    scores["trained_on"] = scores["trained_on"].replace("zeroed", "Dead Sensor")
    claims = failure_claims(scores, _view(0.9).replace("zeroed", "Dead Sensor"), failures)
    assert "beats_gate_dead_sensor" in set(claims["id"])
    assert lookup("beats_augmentation_dead_sensor_trained_on_gaussian").claim == (
        "Trained on gaussian and tested on Dead Sensor, EMMA beats data augmentation on samples with a failed mode")
    assert lookup("energy_flags_dead_sensor").min_effect == lookup("energy_flags_zeroed").min_effect


def test_the_prose_quotes_the_tables():
    text = describe_scores(_scores(0.05), FAILURES)
    assert "EMMA scores best" in text and "0.652" in text  # 0.6 + 0.05 + mean seed term 0.002 (+ noise, rounded)
    sentence = describe_energy(_view(0.9))
    assert sentence.startswith("Averaged over seeds") and "IP 0.9" in sentence


def test_bad_failures_are_named():
    with pytest.raises(ValueError, match="failures must be a non-empty mapping"):
        failure_claims(_scores(0.0), _view(0.5), {})
    with pytest.raises(TypeError, match="failures\\['x'\\]"):
        failure_claims(_scores(0.0), _view(0.5), {"x": 0.5})
    with pytest.raises(ValueError, match="gaussian must name one of the failures"):
        failure_claims(_scores(0.0), _view(0.5), {"zeroed": Zeroed()})


def test_the_energy_cannot_see_a_swapped_mode_but_sees_a_zeroed_one():
    """On the real data with briefly trained autoencoders: a swap is invisible to per-mode energies, a dead sensor is not."""
    from emma.data import make_splits
    from emma.engine import TrainSettings
    from emma.engine.autoencoders import THESIS_DAE
    from emma.engine.protocol import SOUND
    from emma.experiments.study import fit_study_energies

    splits = make_splits()
    energies = fit_study_energies(splits, [0], [SOUND], TrainSettings(), dae=THESIS_DAE.override(epochs=2))
    view = energy_view(energies, splits, {"zeroed": Zeroed(), "swapped": Swapped()}, [0]).set_index(["failure", "mode"])["auroc"]
    assert (view.loc["zeroed"] > 0.9).all()
    assert (view.loc["swapped"].sub(0.5).abs() < 0.05).all()


def test_the_extension_chapter_imports_only_public_names():
    """'Beyond Gaussian noise' is written through the public API (what the API reference documents): no private name or module."""
    import ast
    import importlib
    import importlib.util
    from pathlib import Path

    source = next((Path(__file__).resolve().parents[1] / "notebooks").glob("*_beyond_gaussian.py")).read_text()
    imported = [(node.module, alias.name) for node in ast.walk(ast.parse(source)) if isinstance(node, ast.ImportFrom)
                and node.module and node.module.split(".")[0] == "emma" for alias in node.names]
    assert imported, "the chapter imports from emma"
    for module, name in imported:
        assert not any(part.startswith("_") for part in module.split(".")) and not name.startswith("_"), (module, name)
        public = hasattr(importlib.import_module(module), name) or importlib.util.find_spec(f"{module}.{name}") is not None  # a name or a module
        assert public, (module, name)


def test_the_grid_figures_and_claim_summary_come_from_the_tables():
    import matplotlib.pyplot as plt

    from emma.experiments.failures_study import describe_claims, energy_figure, score_grid, scores_figure

    scores = _scores(0.05)
    grid = score_grid(scores, FAILURES)
    assert list(grid.columns) == ["family", "trained_on", "gaussian", "zeroed"]
    assert grid["family"].tolist()[0] == "base"  # first-seen order
    emma_row = grid[(grid["family"] == "with") & (grid["trained_on"] == "zeroed")].iloc[0]
    expected = scores[(scores["family"] == "with") & (scores["trained_on"] == "zeroed") & (scores["tested_on"] == "zeroed")]["f1_failed"]
    assert emma_row["zeroed"] == f"{expected.mean():.3f} ± {expected.std():.3f}"
    claims = failure_claims(scores, _view(0.9), FAILURES)
    text = describe_claims(claims)
    assert text.count("- ") == 4 and "2 of 2 claims hold" in text and "1 of 1 claims hold" in text and "(0 inconclusive)" in text
    for fig in (energy_figure(_view(0.9), FAILURES), scores_figure(scores, FAILURES, ["base", "without", "with", "gated"])):
        assert fig.axes and fig.axes[0].has_data()
        plt.close(fig)


@pytest.mark.slow
def test_training_in_a_worker_process_gives_the_same_sweeps():
    """workers=2 queues the thesis's families for a spawned process and takes back what it has not started: same tables as one after the other."""
    from emma.data import make_splits
    from emma.engine import TrainSettings
    from emma.engine.autoencoders import THESIS_DAE
    from emma.engine.protocol import SOUND
    from emma.experiments.failures_study import train_under_failures
    from emma.experiments.study import fit_study_energies

    splits = make_splits()
    settings = TrainSettings(epochs=2)
    energies = fit_study_energies(splits, [0, 1], [SOUND], settings, dae=THESIS_DAE.override(epochs=1))
    config = {"rho": 1e-4, "lambda_c": 0.01, "lambda_e": 0.001}
    args = (splits, FAILURES, ["without", "alternative", "with"], [0, 1], settings)
    alone = train_under_failures(*args, energies=energies, config=config, progress=False)
    pooled = train_under_failures(*args, energies=energies, config=config, progress=False, workers=2)
    assert list(pooled) == list(alone) == ["base"] + [(f, n) for n in FAILURES for f in ("without", "alternative", "with")]
    for key in alone:
        pd.testing.assert_frame_equal(pooled[key].table, alone[key].table)
    with pytest.raises(ValueError, match="workers"):
        train_under_failures(*args, energies=energies, config=config, workers=0)


def test_cross_scores_give_each_test_failure_its_severity(splits):
    """The severity column is the test failure's, in its own units (a blend fraction, σ), on every row of that test failure."""
    from emma.engine import TrainSettings
    from emma.experiments.failures_study import cross_scores, train_under_failures

    failures = {"half dead": Zeroed(0.5), "loud": Gaussian(2.0)}
    sweeps = train_under_failures(splits, failures, ["without"], [0, 1], TrainSettings(epochs=1), energies=None,
                                  config={"rho": 1e-4, "lambda_c": 0.01, "lambda_e": 0.001}, progress=False)
    scores = cross_scores(sweeps, splits, failures, energies=None)
    assert list(scores.columns[:5]) == ["family", "trained_on", "tested_on", "severity", "seed"]
    assert len(scores) == (1 + 2) * 2 * 2  # base and "without" under each training failure, tested under each, two seeds
    assert scores.groupby("tested_on")["severity"].unique().map(list).to_dict() == {"half dead": [0.5], "loud": [2.0]}
