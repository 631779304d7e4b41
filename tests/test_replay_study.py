"""Specifications of the chapter "Explaining the thesis's numbers" in typed results (emma.experiments.replay_study) and of its
figures (emma.experiments.replay_figures), on the made-up study of test_replay."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import test_replay  # noqa: E402

from emma.claims.thesis import thesis_results  # noqa: E402
from emma.engine.configs import TrainSettings  # noqa: E402
from emma.engine.protocol import ORIGINAL, SOUND, decomposition_steps  # noqa: E402
from emma.experiments import decomposition as dc  # noqa: E402
from emma.experiments import replay_figures as rf  # noqa: E402
from emma.experiments import replay_study as rs  # noqa: E402
from emma.experiments.forensics import variants  # noqa: E402
from emma.experiments.robustness import Trained  # noqa: E402
from emma.experiments.study import under  # noqa: E402


@pytest.fixture(scope="module")
def trained():
    protocols = []
    for p in [ORIGINAL, SOUND] + [s["protocol"] for s in decomposition_steps()]:
        if p not in protocols:
            protocols.append(p)
    study = test_replay._fake_study(protocols)
    study["with"] = study["with"].replace(table=study["with"].table.assign(capacity=lambda t: 0.2 + t["rho"]))  # a learned capacity per model
    axes = {"rho": [1e-4, 1e-1], "lambda_c": [0.0, 1e-2], "lambda_e": [1e-3, 1e-2]}
    return Trained(None, TrainSettings(), None, test_replay.SEEDS, axes, {}, study, study, {f: under(r, SOUND) for f, r in study.items()},
                   {f: under(r, ORIGINAL) for f, r in study.items()}, pd.DataFrame())


@pytest.fixture(scope="module")
def replay(trained):
    return rs.replay_table(trained, thesis_results("slides"), {"model": "with, chosen", "f1_clean": 0.9, "f1_ip_noisy": 0.7, "f1_dm_noisy": 0.8})


def test_the_replay_table_glues_what_its_gap_counts_and_ends_the_headline_with_the_choice(replay):
    overall = replay.gap.set_index("metric").loc["all"]
    glued = replay.glued()
    assert glued["replay_printed"] == int(overall["printed"]) == 43  # 15 rows × 3 subsets, less the single-mode rows' two blanks
    assert glued["replay_inside"] == int(overall["inside_prediction_interval"])
    assert glued["replay_distance_book_clean"] == pytest.approx(replay.clean["mean_abs_book"])
    assert replay.headline.index[-1] == "with, chosen" and replay.headline.loc["with, chosen", "clean: book"] == 0.9
    assert np.isnan(replay.headline.loc["with, chosen", "clean: thesis"])
    assert replay.inside_text(20, 3).startswith(f"Of the thesis's 43 F1 numbers, **{glued['replay_inside']}** lie inside the prediction "
                                                "interval of one replayed run (20 seeds)")
    assert f"{replay.clean['mean_abs_book']:.3f} F1 from the thesis's numbers" in replay.distance_text()
    assert list(replay.intervals().columns[:3]) == ["model", "clean: thesis", "clean: one run (95 %)"]


def test_the_row_of_the_previous_chapters_choice_is_read_from_its_tables(tmp_path):
    (tmp_path / "tables").mkdir()
    pd.DataFrame([{"rho": 0.1, "lambda_c": 0.001, "lambda_e": 0.0, "rank_test": 4, "edges": "ρ (largest value, 0.1)"}]).to_csv(
        tmp_path / "tables" / "robustness_selection.csv", index=False)
    pd.DataFrame([{"model": "base", "n_seeds": 20, "f1_clean_mean": 0.8, "f1_ip_noisy_mean": 0.6, "f1_dm_noisy_mean": 0.7},
                  {"model": "with (selected)", "n_seeds": 20, "f1_clean_mean": 0.85, "f1_ip_noisy_mean": 0.65, "f1_dm_noisy_mean": 0.75}]).to_csv(
        tmp_path / "tables" / "robustness_confirmed.csv", index=False)
    row = rs.selected_row(tmp_path)
    assert row["model"] == "with, chosen on validation (ρ 0.1, λ_c 0.001, λ_e 0; 20 seeds; edge of the grid: ρ (largest value, 0.1))"
    assert (row["f1_clean"], row["f1_ip_noisy"], row["f1_dm_noisy"]) == (0.85, 0.65, 0.75)
    (tmp_path / "tables" / "robustness_confirmed.csv").unlink()
    with pytest.raises(FileNotFoundError, match="robustness_confirmed"):
        rs.selected_row(tmp_path)


def test_the_ranking_sets_each_protocols_grid_and_its_pick_by_its_own_rule(trained, replay):
    ranked = rs.ranking(trained, thesis_results("slides"), replay.table)
    assert set(ranked.grids["protocol"]) == {"sound", "original"} and len(ranked.grids) == 4
    assert ranked.selected["test"] == test_replay.OTHER  # OTHER scores 0.01 more under every protocol
    assert len(ranked.top10) == 10 and ranked.top10["replay_rho"].iloc[0] == pytest.approx(test_replay.OTHER["rho"])
    assert set(ranked.order["protocol"]) == {"original", "sound"} and ranked.order["n_runs"].max() == len(test_replay.SEEDS)
    assert ranked.order_text().startswith(f"Against the ranks of {len(test_replay.SEEDS)} replayed runs, ")
    choice = rs.replayed_choice(trained, ranked)
    assert choice.table["seed"].tolist() == test_replay.SEEDS and np.allclose(choice.table["rho"], test_replay.OTHER["rho"])


def test_the_forensic_choice_says_which_variants_emma_trains_under_and_is_tested_before_it_speaks():
    every = variants()
    choice = rs.Forensic(every, {}, pd.DataFrame(), "retrain=False", every[3])
    assert choice.emma_variants("chosen") == [every[3]] and choice.emma_variants("all") == every
    with pytest.raises(ValueError, match="which must be 'all' or 'chosen'"):
        choice.emma_variants("some")
    with pytest.raises(ValueError, match="call forensic\\(\\) first"):
        choice.bootstrap_text()
    with pytest.raises(TypeError, match="choice must be the Forensic"):
        rs.forensic({"name": "as coded"}, {}, pd.DataFrame(), thesis_results("slides"))


def test_the_figures_draw_both_protocols_and_leave_a_panel_the_thesis_left_blank_empty(trained, replay):
    ranked = rs.ranking(trained, thesis_results("slides"), replay.table)
    fig = rf.capacity(ranked.grids)
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["sound", "original"]
    plt.close(fig)
    fig = rf.heatmaps(ranked.grids, [1e-4, 1e-1])
    assert [ax.get_title() for ax in fig.axes[:4]] == ["sound, ρ = 0.0001", "original, ρ = 0.0001", "sound, ρ = 0.1", "original, ρ = 0.1"]
    plt.close(fig)
    table = dc.decompose(trained.study, decomposition_steps(), test_replay.RANK1, {"test": test_replay.OTHER, "validation": test_replay.RANK1})
    bars = dc.waterfalls(replay.table, table)
    fig = rf.waterfall(bars)
    panels = np.array(fig.axes).reshape(4, 3)  # base, without, alternative, with (thesis rank 1) × the three subsets
    assert all(ax.axison for ax in panels.flat) and panels[0, 0].get_title() == "base: clean"
    assert [t.get_text() for t in panels[0, 0].get_yticklabels()][0] == "thesis"
    assert not any(t.get_text() for t in panels[0, 1].get_yticklabels())  # the steps are named once per row
    plt.close(fig)
    blank = (bars["family"] == "base") & (bars["metric"] == "f1_dm_noisy") & (bars["label"] == "thesis")
    fig = rf.waterfall(bars.assign(delta=bars["delta"].mask(blank)))  # as if the thesis had printed nothing there
    assert not np.array(fig.axes).reshape(4, 3)[0, 2].axison
    plt.close(fig)
    with pytest.raises(ValueError, match="grids must be both protocols' ranked grids"):
        rf.capacity(ranked.grids.drop(columns="protocol"))
