"""The thesis's top ten as order statistics of one run (emma.experiments.selection), on hand-made grids."""
import numpy as np
import pandas as pd
import pytest

from emma.experiments.selection import order_statistics, per_run_ranks, selection_offset, thesis_rank_means


def _grid(scores_by_seed):
    """A with table by hand: per seed, configurations with a ranking score; each F1 equals that score."""
    rows = []
    for seed, scores in scores_by_seed.items():
        for c, score in enumerate(scores):
            rows.append({"seed": seed, "rho": 10.0 ** -c, "lambda_c": 0.0, "lambda_e": 0.0, "f1_noisy_test": score,
                         "f1_clean": score, "f1_ip_noisy": score - 0.1, "f1_dm_noisy": score - 0.05})
    return pd.DataFrame(rows)


def test_rank_one_of_each_run_is_the_maximum_of_its_draws_not_the_best_mean():
    grid = _grid({0: [0.70, 0.80, 0.75], 1: [0.90, 0.60, 0.65], 2: [0.72, 0.74, 0.85]})
    runs = per_run_ranks(grid, ranks=2)
    assert runs[runs["rank"] == 1]["f1_clean"].tolist() == [0.80, 0.90, 0.85]  # each run's maximum, from a different configuration each time
    assert runs[runs["rank"] == 2]["f1_clean"].tolist() == [0.75, 0.65, 0.74]
    # the best configuration by its mean over runs (0.773 for the first) scores below every run's maximum
    assert grid.groupby("rho")["f1_clean"].mean().max() < runs[runs["rank"] == 1]["f1_clean"].min()


def test_the_thesis_number_is_judged_against_the_runs_rank_k_values():
    grid = _grid({0: [0.70, 0.80], 1: [0.90, 0.60], 2: [0.72, 0.85]})
    thesis = pd.DataFrame({"thesis_rank": [1, 2], "thesis_f1_clean": [0.86, 0.50], "thesis_f1_ip_noisy": [np.nan, 0.62],
                           "thesis_f1_dm_noisy": [0.80, 0.70]})
    order = order_statistics(grid, thesis, level=0.95, ranks=2).set_index(["rank", "subset"])
    first = order.loc[(1, "clean")]
    assert first["median"] == pytest.approx(0.85) and first["n_runs"] == 3
    assert first["low"] == pytest.approx(np.percentile([0.80, 0.90, 0.85], 2.5)) and first["inside"]
    assert not order.loc[(2, "clean"), "inside"]  # 0.50 below every run's second best (0.60 to 0.72)
    assert np.isnan(order.loc[(1, "ip_noisy"), "inside"])  # the thesis printed no number there
    with pytest.raises(ValueError, match="level must"):
        order_statistics(grid, thesis, level=1.5)
    with pytest.raises(ValueError, match="with_table must be"):
        per_run_ranks(grid.drop(columns="f1_noisy_test"))


def test_the_selection_explains_the_share_of_the_offset_that_rank_medians_remove():
    order = pd.DataFrame({"rank": [1, 2], "subset": ["clean", "clean"], "thesis": [0.90, 0.88], "median": [0.88, 0.86]})
    replay = pd.DataFrame({"model": ["with (thesis rank 1)", "with (thesis rank 2)"], "f1_clean_mean": [0.82, 0.80],
                           "f1_ip_noisy_mean": [np.nan, np.nan], "f1_dm_noisy_mean": [np.nan, np.nan]})
    means = thesis_rank_means(replay)
    assert means[means["subset"] == "clean"]["mean"].tolist() == [0.82, 0.80]
    out = selection_offset(order, means)
    assert out["offset_means"] == pytest.approx(0.08) and out["offset_ranks"] == pytest.approx(0.02)
    assert out["explained"] == pytest.approx(0.75) and out["printed"] == 2


def test_the_prediction_interval_of_one_run_is_the_t_interval_widened_by_one_run():
    from scipy import stats

    from emma.experiments.selection import prediction_interval

    low, high = prediction_interval([1.0, 2.0, 3.0, 4.0, 5.0])
    half = stats.t.ppf(0.975, 4) * np.std([1, 2, 3, 4, 5], ddof=1) * np.sqrt(1 + 1 / 5)  # 2.776 * 1.581 * 1.095
    assert (low, high) == pytest.approx((3 - half, 3 + half)) and half == pytest.approx(4.809, abs=1e-3)
    assert prediction_interval([0.8, 0.8, 0.8]) == pytest.approx((0.8, 0.8))  # no spread, no width
    assert all(np.isnan(v) for v in prediction_interval([0.8]))  # one run says nothing of the next
    with pytest.raises(ValueError, match="values must be finite"):
        prediction_interval([0.8, float("nan")])
    with pytest.raises(ValueError, match="level must"):
        prediction_interval([0.8, 0.9], level=95)


def test_a_new_normal_run_falls_inside_the_95_percent_interval_of_20_runs_95_percent_of_the_time():
    from emma.experiments.selection import prediction_interval

    rng = np.random.default_rng(0)
    draws = rng.normal(0.8, 0.02, size=(4000, 21))
    inside = [low <= row[-1] <= high for row in draws for low, high in [prediction_interval(row[:-1])]]
    assert np.mean(inside) == pytest.approx(0.95, abs=0.01)  # the range of 5 runs would hold a sixth only 4 times in 6
    five = [row[:5].min() <= row[5] <= row[:5].max() for row in draws]
    assert np.mean(five) == pytest.approx(4 / 6, abs=0.02)


def test_rank_one_of_many_runs_follows_the_known_distribution_of_a_maximum_of_draws():
    from scipy import stats

    rng = np.random.default_rng(1)
    n_configs, n_runs = 125, 400
    grid = _grid({seed: list(rng.normal(0.0, 1.0, n_configs)) for seed in range(n_runs)})
    order = order_statistics(grid, pd.DataFrame({"thesis_rank": [1], "thesis_f1_clean": [2.54], "thesis_f1_ip_noisy": [np.nan],
                                                 "thesis_f1_dm_noisy": [np.nan]}), ranks=1).set_index("subset")
    # the maximum M of 125 standard normals: P(M <= m) = Φ(m)^125, so its median is Φ⁻¹(0.5^(1/125)) ≈ 2.54
    assert order.loc["clean", "median"] == pytest.approx(stats.norm.ppf(0.5 ** (1 / n_configs)), abs=0.06)
    assert order.loc["clean", "low"] == pytest.approx(stats.norm.ppf(0.025 ** (1 / n_configs)), abs=0.12)
    assert order.loc["clean", "high"] == pytest.approx(stats.norm.ppf(0.975 ** (1 / n_configs)), abs=0.25)
    assert order.loc["clean", "inside"] and order.loc["clean", "n_runs"] == n_runs
    # the best configuration's mean over the runs sits near 0, far below every run's maximum
    assert grid.groupby("rho")["f1_clean"].mean().max() < order.loc["clean", "low"]
