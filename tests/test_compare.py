"""Families side by side under one failure at several severities (emma.experiments.compare), and the figure that draws them (emma.util.plots)."""
import ast

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch

from emma.data import Failure, Gaussian, Zeroed
from emma.engine.autoencoders import THESIS_DAE
from emma.engine.registry import Family, get_family, register, unregister
from emma.experiments import compare
from emma.experiments.compare import COLUMNS, EMMA_CONFIG, TRAINING, compare_families
from emma.util.plots import FAMILY_COLORS, OTHER_COLORS, family_color, family_figure, family_label

matplotlib.use("Agg")
SMALL = {"epochs": 1, "dae": THESIS_DAE.override(epochs=1), "progress": False}


def _init(generator, base=None):
    return {"w": torch.randn(8, 1, generator=generator) * 0.1, "b": torch.zeros(1, 1)}


def _forward(params, x, context):
    return (params["w"] * x).sum(dim=1) + params["b"][:, 0]


@pytest.fixture
def logistic():
    """A family registered for the test (with a label), gone after it."""
    family = register(Family("test_logistic", _init, _forward, corrupted_training=True, label="logistic regression"))
    yield family.name
    unregister(family.name)


def test_one_row_per_family_severity_and_seed_in_the_order_given(splits, logistic):
    frame = compare_families(["base", "with", logistic], Zeroed, [1.0, 0.25, 0.5], [1, 0], splits=splits, **SMALL)
    assert tuple(frame.columns) == COLUMNS
    assert len(frame) == 3 * 3 * 2
    assert frame["family"].unique().tolist() == ["base", "with", logistic]
    assert frame[frame["family"] == "with"]["severity"].tolist() == [1.0, 1.0, 0.25, 0.25, 0.5, 0.5]
    assert frame[frame["family"] == "with"]["seed"].tolist() == [1, 0] * 3
    assert frame.set_index(["family", "severity", "seed"]).index.is_unique
    assert set(frame["failure"]) == {"zeroed", "zeroed (s = 0.25)", "zeroed (s = 0.5)"}
    base = frame[frame["family"] == "base"]
    assert (base["trained_on"] == compare.CLEAN).all() and (frame["trained_on"] == frame["failure"])[frame["family"] != "base"].all()
    # base is one model per seed, trained on clean data: its clean test samples score the same at every severity
    assert base.groupby("seed")["f1_clean"].nunique().eq(1).all()
    np.testing.assert_allclose(frame["f1_failed"], frame[["f1_ip_failed", "f1_dm_failed"]].mean(axis=1))


def test_base_has_rows_only_when_asked_for_and_a_failure_instance_is_taken_at_each_severity(splits):
    frame = compare_families(["without"], Gaussian(0.5), [0.5, 2.0], [0], splits=splits, **SMALL)
    assert frame["family"].unique().tolist() == ["without"] and frame["severity"].tolist() == [0.5, 2.0]
    assert frame["failure"].tolist() == ["Gaussian noise (σ = 0.5)", "Gaussian noise (σ = 2)"]


def test_the_defaults_are_those_of_the_chapter_beyond_gaussian_noise(repo_root):
    """The named defaults are what the chapter "Beyond Gaussian noise" sets in its parameters cell (those it still declares)."""
    from emma_book import build as book

    chapter = next(c for c in book.chapters(repo_root / "notebooks") if c.name == "beyond_gaussian")
    declared = {name: ast.literal_eval(text) for name, text in chapter.parameters().items()}
    ours = {**EMMA_CONFIG, **TRAINING}
    assert {name: declared[name] for name in ours if name in declared} == {name: ours[name] for name in ours if name in declared}
    # the autoencoders: the chapter's dae_* parameters left at None are THESIS_DAE's, compare_families' default
    named = dict.fromkeys(["dae_hidden", "dae_noise_std", "dae_epochs", "dae_batch_size"])
    assert {name: declared[name] for name in declared if name.startswith("dae_")} == named
    assert THESIS_DAE.lr == declared.get("lr", THESIS_DAE.lr)  # the chapter fits its autoencoders at the classifiers' rate


@pytest.mark.parametrize("change, error, message", [
    ({"families": "with"}, ValueError, r"families must be a non-empty list of registered family names"),
    ({"families": []}, ValueError, r"families must be a non-empty list"),
    ({"families": ["with", "nope"]}, ValueError, r"families\[1\] must be a registered family.*got 'nope'"),
    ({"families": ["with", "with"]}, ValueError, r"families must not repeat a family \('with' appears twice\)"),
    ({"failure": 0.5}, TypeError, r"failure must be a Failure, a Failure class or a callable"),
    ({"failure": Failure}, TypeError, r"failure must be a failure's class \(e.g. Zeroed\).*not the base class Failure"),
    ({"severities": [0.5, 2.0]}, ValueError, r"failure at severities\[1\] = 2.0: severity must be a number in \[0, 1\]"),
    ({"failure": lambda s: Zeroed()}, ValueError, r"failure must give a failure of the severity asked for: at severities\[0\] = 0.5"),
    ({"failure": lambda s: 3}, TypeError, r"failure\(0.5\) must be an emma.data.failures.Failure"),
    ({"severities": 0.5}, ValueError, r"severities must be a non-empty list of numbers"),
    ({"severities": []}, ValueError, r"severities must be a non-empty list of numbers"),
    ({"severities": [0.5, float("nan")]}, ValueError, r"severities\[1\] must be a finite number"),
    ({"severities": [0.5, "1"]}, ValueError, r"severities\[1\] must be a finite number"),
    ({"severities": [0.5, 0.5]}, ValueError, r"severities must not repeat a severity \(0.5 appears twice\)"),
    ({"seeds": []}, ValueError, r"seeds must hold at least one seed"),
    ({"seeds": [-1]}, ValueError, r"each of seeds must be an integer >= 0"),
    ({"epochs": 0}, ValueError, r"epochs must be an integer >= 1"),
    ({"batch_size": 2.5}, ValueError, r"batch_size must be an integer >= 1"),
    ({"lr": 0}, ValueError, r"lr must be a finite number > 0"),
    ({"clean_fraction": 1.5}, ValueError, r"clean_fraction must be a finite number in \[0.0, 1.0\]"),
    ({"config": {"lamda_e": 0.1}}, ValueError, r"config has unknown keys \['lamda_e'\]; the keys are \['lambda_c', 'lambda_e', 'rho'\]"),
    ({"config": {"rho": 0.0}}, ValueError, r"config\['rho'\] must be a finite number > 0"),
    ({"config": {"lambda_c": -1}}, ValueError, r"config\['lambda_c'\] must be a finite number >= 0"),
    ({"config": [("rho", 1.0)]}, TypeError, r"config must be a mapping"),
    ({"dae": {"epochs": 1}}, TypeError, r"dae must be a DAESettings"),
    ({"workers": 0}, ValueError, r"workers must be an integer >= 1"),
    ({"device": "gpu"}, ValueError, r"device must be one of"),
    ({"cache_dir": 123}, TypeError, r"cache_dir must be a folder"),
    ({"progress": "yes"}, TypeError, r"progress must be True, False or None"),
    ({"splits": "htru2"}, TypeError, r"splits must be an emma.data.splits.Splits"),
    ({"data_home": 123}, TypeError, r"data_home must be a folder"),
    ({"split_seed": -1}, ValueError, r"split_seed must be an integer >= 0"),
])
def test_every_bad_argument_is_named_before_anything_is_loaded_or_trained(monkeypatch, change, error, message):
    def refuse(*args, **kwargs):
        raise AssertionError("loaded or trained before every argument was checked")

    for name in ("make_splits", "fit_study_energies", "train_under_failures", "cross_scores"):
        monkeypatch.setattr(compare, name, refuse)
    arguments = {"families": ["without", "with"], "failure": Zeroed, "severities": [0.5, 1.0], "seeds": [0], **change}
    with pytest.raises(error, match=message):
        compare_families(**arguments)


def test_splits_given_with_data_home_or_split_seed_is_refused(splits):
    for extra in ({"data_home": "/data"}, {"split_seed": 42}):
        with pytest.raises(ValueError, match="give splits, or data_home and split_seed to make them, not both"):
            compare_families(["without"], Zeroed, [1.0], [0], splits=splits, **extra)


def test_a_family_is_drawn_in_its_colour_under_its_label(logistic):
    assert get_family(logistic).label == "logistic regression" and get_family("with").label == "EMMA"
    assert family_label(logistic) == "logistic regression" and family_label("with") == "EMMA" and family_label("unregistered") == "unregistered"
    assert family_color("with") == FAMILY_COLORS["with"] and family_color(logistic) in OTHER_COLORS
    rows = [{"family": f, "severity": s, "seed": seed, "f1_failed": 0.5 + 0.1 * s + 0.01 * seed, "f1_clean": 0.8}
            for f in ("with", logistic, "unregistered") for s in (0.5, 1.0, 2.0) for seed in (0, 1)]
    fig = family_figure(pd.DataFrame(rows), xlabel="offset")
    try:
        assert len(fig.axes) == 2 and [ax.get_ylabel() for ax in fig.axes] == ["F1, failed samples", "F1, clean samples"]
        lines = fig.axes[0].get_lines()
        assert [line.get_label() for line in lines] == ["EMMA", "logistic regression", "unregistered"]
        assert [matplotlib.colors.to_hex(line.get_color()) for line in lines] == [
            matplotlib.colors.to_hex(family_color(f)) for f in ("with", logistic, "unregistered")]
        np.testing.assert_allclose(lines[0].get_xdata(), [0.5, 1.0, 2.0])
        np.testing.assert_allclose(lines[0].get_ydata(), [0.555, 0.605, 0.705])  # the mean over the two seeds
        assert fig.axes[0].get_xlabel() == "offset"
    finally:
        plt.close(fig)


def test_a_new_familys_colour_is_stable_and_not_one_of_the_books():
    """The same colour for the same name in every call (and every process: a checksum, not Python's salted hash)."""
    import zlib

    names = ["gated", "softmin", "my_family", "x"]
    assert [family_color(n) for n in names] == [OTHER_COLORS[zlib.crc32(n.encode()) % len(OTHER_COLORS)] for n in names]
    assert not set(OTHER_COLORS) & set(FAMILY_COLORS.values())


@pytest.mark.parametrize("frame, kwargs, message", [
    (pd.DataFrame(), {}, "frame must be a non-empty DataFrame"),
    ([{"family": "with"}], {}, "frame must be a non-empty DataFrame"),
    (pd.DataFrame({"family": ["with"], "severity": [1.0], "seed": [0]}), {}, r"frame lacks the columns \['f1_failed', 'f1_clean'\]"),
    (pd.DataFrame({"family": ["with"], "severity": [1.0], "seed": [0], "f1_failed": [0.5]}), {"columns": "f1_failed"}, "columns must be a non-empty list"),
    (pd.DataFrame({"family": ["with"], "severity": [1.0], "seed": [0], "f1_failed": [0.5]}), {"columns": ["f1_failed"], "families": ["without"]},
     r"families must be a non-empty list of families of frame \['with'\]"),
])
def test_the_figure_names_a_bad_argument(frame, kwargs, message):
    with pytest.raises(ValueError, match=message):
        family_figure(frame, **kwargs)


def test_a_family_without_a_label_is_named_by_its_name():
    assert Family("plain", _init, _forward).label == ""
    assert Family("plain", _init, _forward, label="Plain logistic").label == "Plain logistic"
