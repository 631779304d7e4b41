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
