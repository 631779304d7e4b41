"""The chapter "More than two modes" as results (emma.experiments.many_modes) and its figures (emma.experiments.modes_figures)."""
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from emma.experiments import many_modes as mm
from emma.experiments import modes, modes_study
from emma.experiments import modes_figures as figures

TINY = modes_study.StudySettings(epochs=2, dae=modes_study.MODES_DAE.override(epochs=2))


@pytest.fixture(scope="module")
def tiny_study():
    """Two synthetic data sets (M = 3 and 4), two seeds, a coldness sweep of two values, two epochs."""
    groups = [("synthetic", modes.synthetic_modes(300, m, seed=1)) for m in (3, 4)]
    return groups, mm.run_study(groups, TINY, seeds=[0, 1], coldness=1.0, sweep_coldness=[0.1, 1.0], max_levels=7)


def _runs(d_scores: dict, coldness: float = 1.0) -> pd.DataFrame:
    """Hand-made study runs on one data set with M = 4: ``d_scores`` maps k to the score of "with" minus "without" (every seed)."""
    rows = []
    for k, d in d_scores.items():
        for seed in (0, 1):
            for model, score in (("without", 0.5), ("with", 0.5 + d), ("with, λ_e = 0", 0.5 + d / 2)):
                rows.append({"dataset": "toy", "n_modes": 4, "n_corrupted": k, "seed": seed, "model": model, "coldness": coldness,
                             "score": score, "alpha_corrupted": np.nan if model == "without" else 0.1 * k,
                             "alpha_clean": np.nan if model == "without" else 0.3})
    return pd.DataFrame(rows)


def test_the_constraint_levels_split_each_m_at_m_prime():
    levels = mm.constraint_levels([4, 3, 4], max_levels=7)
    assert levels["M"].tolist() == [3, 4]  # each M once, in order
    four = levels.set_index("M").loc[4]
    assert four["M' = floor((M+1)/2)"] == 2 and four["k with the constraint"] == "[1, 2]" and four["k without it"] == "[3]"


def test_the_study_runs_each_data_set_as_one_run_of_the_modes_study(tiny_study):
    groups, study = tiny_study
    assert study.timing[["dataset", "n_modes"]].values.tolist() == [["synthetic", 3], ["synthetic", 4]]
    configs = modes_study.study_configs(4, modes.corrupted_levels(4, 7), [0, 1], 1.0, [0.1, 1.0])
    assert study.timing.set_index("n_modes").loc[4, "models"] == len(configs)
    alone, _, _ = modes_study.run_modes_study(groups[1][1], configs, TINY, fractions=(0.5, 0.25, 0.25), dataset="synthetic")
    pd.testing.assert_frame_equal(study.runs[study.runs["n_modes"] == 4].reset_index(drop=True), alone)  # the same models, the same numbers
    assert set(study.scaling["n_modes"]) == {3, 4} and "coldness" not in study.scaling  # the main coldness only
    assert len(study.scaling) == study.runs[np.isclose(study.runs["coldness"], 1.0)].groupby(["n_modes", "n_corrupted", "model"]).ngroups


def test_the_study_refuses_groups_that_are_not_named_mode_data():
    with pytest.raises(ValueError, match="groups must be"):
        mm.run_study([("synthetic", np.zeros((3, 2, 2)))], TINY, seeds=[0], coldness=1.0)
    with pytest.raises(ValueError, match="groups must be"):
        mm.run_study([], TINY, seeds=[0], coldness=1.0)


def test_the_wins_are_counted_on_each_side_of_the_constraint():
    text = mm.describe_wins(_runs({1: 0.1, 2: -0.05, 3: 0.2}), 1.0)
    assert text.startswith('On average over seeds, "with" beats "without" in 1 of 2 cells with the constraint and in 1 of 1 cells without it.')
    assert text.endswith('"Without" wins in: toy M = 4, k = 2 (-0.050).')
    assert mm.describe_wins(_runs({1: 0.1}), 1.0).endswith('"Without" wins in: no cell.')


def test_the_regularizer_effect_pairs_with_and_without_it_by_seed():
    omega = mm.regularizer_effect(_runs({1: 0.1, 3: -0.2}), 1.0)
    assert omega.effect["d_score"].round(6).tolist() == [0.05, 0.05, -0.1, -0.1]  # with − with, λ_e = 0: d/2
    cells = omega.cells.set_index("n_corrupted")
    assert cells.loc[3, "bracket"] == 2 and not cells.loc[3, "constraint_holds"] and cells.loc[1, "constraint_holds"]
    assert cells.loc[3, "d_score_mean"] == pytest.approx(-0.1) and cells.loc[3, "d_score_std"] == pytest.approx(0.0)
    text = omega.describe()
    assert "Mean effect of Ω on accuracy: +0.0500 with the constraint, -0.1000 without" in text
    assert "the wrong way, in 0 of 2 cells: none" in text  # α is the same under both models here
    with pytest.raises(ValueError, match="lacking the column"):
        mm.regularizer_effect(_runs({1: 0.1}).drop(columns="score"), 1.0)


def test_the_coldness_study_measures_the_separation_of_the_sweep(tiny_study):
    _, study = tiny_study
    cold = mm.coldness_study(study.runs, separation_level=0.2)
    assert set(cold.sweep["n_corrupted"]) == {1, 2} and (cold.sweep["n_corrupted"] == cold.sweep["n_modes"] // 2).all()
    expected = (cold.sweep["alpha_clean"] - cold.sweep["alpha_corrupted"]) * (cold.sweep["n_modes"] - cold.sweep["n_corrupted"])
    assert np.allclose(cold.sweep["separation"], expected)
    assert cold.means[["n_modes", "coldness"]].values.tolist() == [[3, 0.1], [3, 1.0], [4, 0.1], [4, 1.0]]
    assert len(cold.needed) == 4 and cold.needed_summary["n_modes"].tolist() == [3, 4] and cold.level == 0.2
    assert {"rho_needed_median", "rho_best_median", "separation_mean"} <= set(cold.table.columns) and len(cold.table) == len(cold.means)
    with pytest.raises(ValueError, match="coldness sweep needs one"):
        mm.coldness_study(study.runs[study.runs["model"] != "with"])


def test_one_corrupted_keeps_with_at_one_corrupted_mode_and_the_main_coldness(tiny_study):
    _, study = tiny_study
    one = mm.one_corrupted(study.runs, 1.0)
    assert len(one) == 2 * 2 and set(one["model"]) == {"with"} and set(one["n_corrupted"]) == {1} and np.isclose(one["coldness"], 1.0).all()


def test_the_step_cost_exponent_is_fitted_on_the_three_largest_m(monkeypatch):
    def fake(n_modes_list, **settings):
        rows = [{"n_modes": m, "step": step, "ms_median": float(m) ** power, "ms_q1": 0.0, "ms_q3": 0.0, "repeats": 1}
                for m in n_modes_list for step, power in (("with", 2.0), ("without", 1.0), ("attention", 0.5))]
        rows[0]["ms_median"] = 1e6  # M = 2 lies off the power law: left out of the fit
        return pd.DataFrame(rows)

    monkeypatch.setattr(modes_study, "step_cost", fake)
    cost = mm.step_cost_study([2, 4, 8, 16], repeats=1)
    assert cost.top == [4, 8, 16]
    assert cost.exponents == pytest.approx({"with": 2.0, "without": 1.0, "attention": 0.5})
    with pytest.raises(ValueError, match="at least two different M"):
        mm.step_cost_study([8, 8])


def test_the_claims_read_as_one_bullet_each():
    claims = pd.DataFrame({"claim": ["A holds", "B holds"], "verdict": ["reproduced", "inconclusive"], "our_evidence": ["e1", "e2"]})
    assert mm.claim_sentences(claims) == "- A holds: **reproduced**. e1.\n- B holds: **inconclusive**. e2."
    with pytest.raises(ValueError, match="our_evidence"):
        mm.claim_sentences(claims.drop(columns="our_evidence"))


def test_the_figures_draw_one_panel_per_data_set_and_m(tiny_study):
    _, study = tiny_study
    fig = figures.scores_figure(study.scaling)
    drawn = [ax for ax in fig.axes if ax.get_visible() and ax.axison]
    assert [ax.get_title() for ax in drawn] == ["synthetic, M = 3", "synthetic, M = 4"]
    fig = figures.training_alpha_figure(study.histories, figures.largest_traced([3, 4], 7), 1.0)
    assert len(fig.axes[0].get_lines()) == 3  # one line per k of M = 4
    fig = figures.regularizer_figure(mm.regularizer_effect(study.runs, 1.0))
    assert len(fig.axes) == 2
    fig = figures.coldness_figure(mm.coldness_study(study.runs))
    assert len(fig.axes) == 3 and fig.axes[0].get_xscale() == "log"
    plt.close("all")
    with pytest.raises(ValueError, match="M = 5"):
        figures.training_alpha_figure(study.histories, 5, 1.0)
    with pytest.raises(ValueError, match="max_levels"):
        figures.largest_traced([16], 7)


def test_the_digit_picture_needs_the_16_patch_modes():
    fig = figures.digit_patches_figure(mm.digit_data([4])[2], seed=0)
    assert [ax.get_title() for ax in fig.axes] == [f"k = {k} of 16 patches corrupted" for k in (0, 4, 8, 15)]
    plt.close("all")
    with pytest.raises(ValueError, match="16 patch modes"):
        figures.digit_patches_figure(modes.digit_modes(4))
