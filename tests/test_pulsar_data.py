"""Specifications of chapter 4's tables (emma.experiments.pulsar_data) and figures (emma.experiments.pulsar_figures), on a synthetic HTRU2."""
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from emma.claims.thesis import thesis_split_table  # noqa: E402
from emma.data.htru2 import CLASS_COLUMN, FEATURE_NAMES, HTRU2  # noqa: E402
from emma.data.noise import nsr_db_to_sigma  # noqa: E402
from emma.data.splits import split_arrays  # noqa: E402
from emma.experiments import pulsar_data as pdata  # noqa: E402
from emma.experiments import pulsar_figures as figures  # noqa: E402

N, N_PULSARS = 1_000, 100


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def data():
    """A synthetic HTRU2: the first IP feature is higher for pulsars, the DM features copy the IP ones up to a monotone map."""
    rng = np.random.default_rng(0)
    target = np.zeros(N, dtype=np.int64)
    target[rng.permutation(N)[:N_PULSARS]] = 1
    ip = rng.normal(size=(N, 4))
    ip[:, 0] += 3.0 * target  # separates the classes well
    dm = np.exp(ip)  # the same ranks: a Spearman correlation of 1 across the modes
    features = np.concatenate([ip, dm], axis=1)
    frame = pd.DataFrame(features, columns=list(FEATURE_NAMES)).assign(**{CLASS_COLUMN: target})
    return HTRU2(frame=frame, features=features, target=target, path=Path("synthetic.csv"))


@pytest.fixture(scope="module")
def splits(data):
    return split_arrays(data.features, data.target, seed=42, test_size=0.33)


def test_the_class_balance_counts_each_class_and_the_majority_share_is_its_accuracy(data):
    balance = pdata.class_balance(data)
    assert balance["class"].tolist() == ["non-pulsar", "pulsar"]
    assert balance["count"].tolist() == [N - N_PULSARS, N_PULSARS]
    assert balance["share"].tolist() == [0.9, 0.1]
    assert pdata.majority_share(balance) == 0.9
    with pytest.raises(ValueError, match="balance"):
        pdata.majority_share(balance.drop(columns="count"))


def test_the_separation_table_gives_each_features_medians_and_finds_the_separating_one(data):
    table = pdata.separation_table(data)
    assert table["feature"].tolist() == list(FEATURE_NAMES) and table["mode"].tolist() == ["IP"] * 4 + ["DM"] * 4
    medians = data.frame.groupby(CLASS_COLUMN)[FEATURE_NAMES[0]].median()
    assert table.loc[0, "median_pulsar"] == pytest.approx(medians[1], abs=1e-4)
    assert table.loc[0, "median_non_pulsar"] == pytest.approx(medians[0], abs=1e-4)
    assert table.loc[0, "separation_auroc"] > 0.95 and table.loc[1, "separation_auroc"] < 0.65
    best = pdata.most_separating(table)
    assert best["mode"].tolist() == ["DM", "IP"]  # sorted by mode
    assert best["feature"].tolist() == [FEATURE_NAMES[4], FEATURE_NAMES[0]], "exp keeps the ranks, so the DM copy separates as well"


def test_the_cross_mode_correlation_finds_modes_of_the_same_ranks_fully_correlated(data):
    table = pdata.cross_mode_correlation(data)
    assert table["candidates"].tolist() == ["all", "non-pulsar", "pulsar"]
    assert table["n"].tolist() == [N, N - N_PULSARS, N_PULSARS]
    assert (table["strongest_correlation"] == 1.0).all()
    assert table.loc[0, "strongest_pair"] in {f"{FEATURE_NAMES[i]} / {FEATURE_NAMES[i + 4]}" for i in range(4)}
    assert (table["mean_abs_cross_correlation"] < 1.0).all(), "the other pairs are independent"


def test_the_split_table_sets_our_counts_beside_the_thesiss(splits):
    table = pdata.split_table(splits)
    assert table["split"].tolist() == ["train", "validation", "test"]
    assert table["total"].sum() == N
    assert (table["total_minus_thesis"] == table["total"] - thesis_split_table()["thesis_total"]).all()


def test_the_standardization_table_shows_the_training_split_standardized(splits):
    table = pdata.standardization_table(splits)
    assert np.allclose(table["train_mean"], 0.0, atol=1e-4) and np.allclose(table["train_std"], 1.0, atol=1e-4)
    assert np.allclose(table["train_mean_raw"], np.round(splits.mean, 4))
    assert not np.allclose(table["test_mean"], 0.0, atol=1e-4)


def test_the_noise_levels_round_trip_from_decibels_to_sigma():
    levels = pdata.noise_levels([-20.0, 0.0, 6.0])
    assert levels["sigma"].tolist() == pytest.approx([0.1, 1.0, 10 ** 0.3])
    assert levels["sigma_to_nsr_db"].tolist() == pytest.approx([-20.0, 0.0, 6.0])
    with pytest.raises(ValueError, match="levels_db"):
        pdata.noise_levels([])


def test_the_noise_study_is_reproducible_and_noise_hides_the_class(data, splits):
    separation = pdata.separation_table(data)
    study = pdata.noise_study(splits, separation, [0.0, 20.0], seed=0, max_points=30)
    table = study.separation
    assert table["mode"].tolist() == ["IP"] * 3 + ["DM"] * 3
    assert table["sigma"].tolist() == pytest.approx([0.0, 1.0, 10.0] * 2)
    ip = table[table["mode"] == "IP"].set_index("sigma")
    assert ip.loc[0.0, "best_separation_auroc"] > 0.95
    assert ip.loc[10.0, "best_separation_auroc"] < ip.loc[0.0, "best_separation_auroc"] - 0.2
    again = pdata.noise_study(splits, separation, [0.0, 20.0], seed=0, max_points=30)
    pd.testing.assert_frame_equal(again.separation, table)
    assert not pdata.noise_study(splits, separation, [0.0, 20.0], seed=1, max_points=30).separation.equals(table)
    assert len(study.figure.axes) == 2 * 3
    points = study.figure.axes[0].collections
    per_class = np.bincount(splits.test.y.numpy().astype(int), minlength=2)
    assert sum(len(c.get_offsets()) for c in points) == sum(min(30, n) for n in per_class), "at most max_points samples of each class"


@pytest.mark.parametrize("kwargs, name", [({"seed": -1}, "seed"), ({"max_points": 0}, "max_points"),
                                          ({"levels_db": [float("nan")]}, "levels_db"), ({"splits": None}, "splits")])
def test_a_bad_noise_study_argument_is_named(data, splits, kwargs, name):
    arguments = {"splits": splits, "separation": pdata.separation_table(data), "levels_db": [0.0], **kwargs}
    with pytest.raises(ValueError, match=name):
        pdata.noise_study(arguments.pop("splits"), arguments.pop("separation"), arguments.pop("levels_db"), **arguments)


def test_the_corruption_scheme_leaves_half_clean_and_splits_the_rest_between_the_modes(splits):
    table = pdata.corruption_counts(splits, 0.5, seed=0)
    assert table["split"].tolist() == ["train", "validation", "test"]
    assert (table["clean"] + table["ip_noisy"] + table["dm_noisy"] == table["total"]).all()
    assert ((table["total"] - table["clean"]) == table["total"] // 2).all()
    assert ((table["ip_noisy"] - table["dm_noisy"]).abs() <= 1).all()
    assert (table["pulsars_ip_noisy"] <= table["ip_noisy"]).all()
    pd.testing.assert_frame_equal(table, pdata.corruption_counts(splits, 0.5, seed=0))
    with pytest.raises(ValueError, match="sigma"):
        pdata.corruption_counts(splits, -1.0)


def test_the_findings_report_the_share_the_best_features_the_noise_and_the_correlation(data, splits):
    balance, separation = pdata.class_balance(data), pdata.separation_table(data)
    noise = pdata.noise_study(splits, separation, [-6.0, 6.0], seed=0).separation
    cross = pdata.cross_mode_correlation(data)
    text = pdata.findings(balance, separation, noise, cross, 0.5)
    lines = text.splitlines()
    assert len(lines) == 4
    assert lines[0].startswith(f"- 10.0% of the {N} candidates are pulsars")
    assert f"({FEATURE_NAMES[0]})" in lines[1] and f"({FEATURE_NAMES[4]})" in lines[1]
    ip = noise[noise["mode"] == "IP"].set_index("nsr_db")["mean_separation_auroc"]  # −inf (clean), −6 dB (σ ≈ 0.5), +6 dB
    assert abs(float(nsr_db_to_sigma(-6.0)) - 0.5) < abs(float(nsr_db_to_sigma(6.0)) - 0.5), "−6 dB is the level nearest σ = 0.5"
    assert f"IP {ip[-np.inf]:.3f} to {ip[-6.0]:.3f}" in lines[2]
    assert "strongest pair" in lines[3] and "1.000" in lines[3]
    with pytest.raises(ValueError, match="cross_mode"):
        pdata.findings(balance, separation, noise, cross.drop(columns="strongest_pair"), 0.5)


@pytest.mark.parametrize("call, name", [
    (lambda: pdata.class_balance(pd.DataFrame()), "data"),
    (lambda: pdata.split_table("train"), "splits"),
    (lambda: pdata.standardization_table(None), "splits"),
    (lambda: pdata.most_separating(pd.DataFrame({"mode": []})), "separation"),
    (lambda: figures.feature_distributions_figure(None), "data"),
    (lambda: figures.noise_levels_figure({}, [], [], {}), "noisy"),
    (lambda: figures.noise_levels_figure({("IP", "clean"): np.zeros((2, 8))}, [0, 1], [0, 1], {}), "pairs"),
])
def test_a_bad_argument_is_named(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_the_figures_have_a_panel_per_feature_and_one_heat_map(data):
    assert len(figures.feature_distributions_figure(data).axes) == 8
    fig = figures.correlation_figure(data)
    assert len(fig.axes) == 2  # the heat map and its colour bar
    assert fig.axes[0].images[0].get_array()[0, 4] == pytest.approx(1.0), "ip_mean and its DM copy have the same ranks"
