"""The unified-model chapter in calls (emma.experiments.unified_results) and its figures (emma.experiments.unified_figures)."""
from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import pandas as pd
import pytest
import torch

from emma.experiments import unified, unified_study
from emma.experiments import unified_figures as figures
from emma.experiments import unified_results as results

matplotlib.use("Agg")
torch.set_num_threads(1)
DATA_DIR = Path(os.environ.get("EMMA_DATA_DIR") or Path(__file__).resolve().parents[2] / "shared" / "data")
TASK = dict(widths=[3, 4, 3, 4], n_factors=2, corrupted_fraction=0.5, noise_std=3.0)
OPTIONS = dict(coldness=0.5, d_model=4, d_hidden=6, fusion="late")
DAE = unified_study.TASK_DAE.override(d_hidden=4, epochs=1)


@pytest.fixture(scope="module")
def tasks():
    return results.make_tasks([0, 1], 80, 60, **TASK)


@pytest.fixture(scope="module")
def ablation(tasks):
    return results.run_ablation(tasks, dae=DAE, epochs=2, batch_size=40, lr=0.02, **OPTIONS)


@pytest.fixture(scope="module")
def htru2(ablation):
    return results.compare_on_htru2(ablation.htru2_arms(), [0, 1], data_home=DATA_DIR, dae=results.HTRU2_DAE.override(epochs=1), epochs=1,
                                    batch_size=512, lr=0.01, coldness=1.0, d_model=4, d_hidden=6, fusion="early")


def test_the_parameter_counts_name_every_part_and_count_the_crossmodal_projections():
    counts = results.parameter_counts([3, 4, 3, 4], n_factors=2, corrupted_fraction=0.5, corruption_std=3.0, dae=DAE, **OPTIONS)
    assert [p.split(" ")[0] for p in counts["part"]] == ["exogenous", "endogenous", "token", "crossmodal", "classifier"]
    by_part = counts.set_index("part")["trainable parameters"]
    assert by_part["crossmodal attention"] == 3 * 4 * 4  # query, key and value, d_model × d_model, no bias
    assert counts["output"].iloc[0] == "beta (64, 4)" and counts["part"].iloc[-1] == "classifier (late fusion)"


def test_the_tasks_of_a_seed_are_drawn_train_then_test_from_one_generator(tasks):
    generator = torch.Generator().manual_seed(1)
    train, test = (unified_study.make_task(n, generator=generator, **TASK) for n in (80, 60))
    assert sorted(tasks) == [0, 1] and len(tasks[1][0].y) == 80 and len(tasks[1][1].y) == 60
    assert torch.equal(tasks[1][1].modes[2], test.modes[2]) and torch.equal(tasks[1][0].y, train.y)
    with pytest.raises(ValueError, match="seeds must not repeat"):
        results.make_tasks([0, 0], 10, 10)


def test_the_ablation_has_every_combination_its_attention_and_fourteen_comparisons(ablation):
    assert list(ablation.table["model"]) == [unified.label(parts) for parts in unified.COMBINATIONS]
    assert set(ablation.table["n_seeds"]) == {2} and len(ablation.scores) == 8 * 2
    assert "none" not in set(ablation.attention["model"]) and len(ablation.attention) == 7
    assert len(ablation.composition) == 14 and set(ablation.composition["score"]) == {"acc_clean", "acc_corrupted"}
    assert ablation.full["model"] == "exo+endo+cross" and ablation.runner_up["model"] != "exo+endo+cross"
    assert ablation.runner_up["acc_corrupted_mean"] == ablation.table[ablation.table["model"] != "exo+endo+cross"]["acc_corrupted_mean"].max()


def test_the_ablations_glued_values_and_sentences_come_from_its_tables(ablation):
    values = ablation.glue_values()
    assert values["unified_full_acc_clean"] == ablation.full["acc_clean_mean"] and isinstance(values["unified_full_acc_clean"], float)
    assert values["unified_runner_up"] == ablation.runner_up["model"]
    assert values["unified_min_gain"] == ablation.composition["difference"].min()
    assert f"{ablation.full['acc_clean_mean']:.3f} ± {ablation.full['acc_clean_std']:.3f}" in ablation.composition_text()
    full_weights = ablation.attention[ablation.attention["model"] == "exo+endo+cross"].iloc[0]
    assert f"mean β of {full_weights['beta_corrupted_mean']:.3f}" in ablation.weights_text()


def _with(ablation, **changes) -> results.Ablation:
    """``ablation`` with some of its tables replaced."""
    return results.Ablation(**{**ablation.__dict__, **changes})


def test_the_verdict_sentence_follows_the_composition_tests(ablation):
    won = ablation.composition.assign(verdict="reproduced", difference=0.1)
    assert "**beats every one of its parts" in _with(ablation, composition=won).composition_text()
    ahead = won.assign(verdict="inconclusive")
    assert "**ahead of every other combination on average**" in _with(ablation, composition=ahead).composition_text()
    lost = ahead.assign(difference=[-0.1] + [0.1] * 13)
    assert "does **not** beat all of its parts" in _with(ablation, composition=lost).composition_text()


def test_htru2_takes_the_best_combination_or_the_full_model_when_emma_alone_is_best(ablation):
    arms = ablation.htru2_arms()
    assert list(arms)[1] == "EMMA alone" and arms["EMMA alone"] == results.EMMA_ALONE
    table = ablation.table.assign(acc_corrupted_mean=[1.0 if m == "exo" else 0.5 for m in ablation.table["model"]])
    assert _with(ablation, table=table).htru2_arms() == {"exo+endo+cross": results.FULL, "EMMA alone": results.EMMA_ALONE}
    table = ablation.table.assign(acc_corrupted_mean=[1.0 if m == "endo+cross" else 0.5 for m in ablation.table["model"]])
    assert list(_with(ablation, table=table).htru2_arms()) == ["endo+cross", "EMMA alone"]


def test_the_htru2_comparison_tests_the_best_arm_against_emma_alone_seed_by_seed(htru2):
    assert list(htru2.table["model"]) == [htru2.best_name, "EMMA alone"] and htru2.runs["seed"].nunique() == 2
    assert htru2.table.loc[1, ["f1_noisy_diff", "f1_noisy_p"]].isna().all()  # only the best arm carries the test
    ours, emma = (htru2.runs[htru2.runs["model"] == name].sort_values("seed")["f1_noisy"].to_numpy() for name in (htru2.best_name, "EMMA alone"))
    assert htru2.diff == pytest.approx((ours - emma).mean())
    assert htru2.glue_values() == {"unified_best_name": htru2.best_name, "unified_htru2_diff": htru2.diff, "unified_htru2_p": htru2.p_value}
    assert htru2.text().endswith(f"over 2 seeds (one-sided paired t-test, p = {htru2.p_value:.2g}).")


def test_htru2_needs_two_arms_with_emma_alone_second():
    with pytest.raises(ValueError, match="arms must be a dict of two arms"):
        results.compare_on_htru2({"EMMA alone": results.EMMA_ALONE, "full": results.FULL}, [0], epochs=1, batch_size=8, lr=0.1)


def test_the_claims_judge_each_part_the_composition_and_htru2_and_the_findings_list_them(ablation, htru2):
    claims = results.claims(ablation, htru2)
    assert list(claims["id"]) == ["unified_exogenous_masks", "unified_endogenous_attends", "unified_crossmodal_whole_picture",
                                  "unified_complete", "unified_htru2_beats_emma"]
    lines = results.findings(claims).splitlines()
    assert len(lines) == 5 and all(f": **{v}** (" in line for line, v in zip(lines, claims["verdict"]))
    with pytest.raises(TypeError, match="htru2 must be of type HTRU2Comparison"):
        results.claims(ablation, ablation)
    with pytest.raises(ValueError, match="claims_table"):
        results.findings(pd.DataFrame())


def test_every_figure_draws_its_panels(tasks, ablation, htru2):
    drawn = {"task": figures.task(tasks[0][1], 3.0), "ablation": figures.ablation(ablation), "attention": figures.attention(ablation),
             "htru2": figures.htru2(htru2)}
    assert {name: len(fig.axes) for name, fig in drawn.items()} == {"task": 2, "ablation": 1, "attention": 3, "htru2": 4}
    assert len(drawn["ablation"].axes[0].patches) == 2 * 8  # a clean and a corrupted bar per combination
    assert len(drawn["htru2"].axes[0].lines) == 2  # one line per seed
    with pytest.raises(TypeError, match="result must be of type Ablation"):
        figures.attention(htru2)
