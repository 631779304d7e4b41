"""Specifications of the studies and figures of chapter 1 (emma/experiments/attention_study.py, attention_figures.py)."""
import re

import matplotlib.pyplot as plt
import pytest
import torch

from emma.experiments import attention_figures as figures
from emma.experiments import attention_study as study
from emma.experiments import attention_tasks as tasks

torch.set_num_threads(1)  # tiny models: threads only add overhead on a shared machine

SEEDS = [0, 1]
ALIGNMENT = dict(steps=3, batch_size=16, n_test=24, n_symbols=4, min_length=2, max_length=4, lr=0.03)
MEMORY = dict(steps=3, batch_size=16, n_test=24, d=8, lr=0.02)


@pytest.fixture(scope="module")
def alignment():
    return study.alignment_study(["additive", "dot", "general"], SEEDS, **ALIGNMENT, min_effect=0.01, alpha=0.05)


@pytest.fixture(scope="module")
def reversal():
    return study.reversal_study(SEEDS, steps=3, batch_size=16, n_test=24, n_symbols=4, length=4, n_heads=2, lr=0.02)


@pytest.fixture(scope="module")
def memory():
    return study.memory_study(SEEDS, **MEMORY, min_effect=0.05, alpha=0.05)


BAD_INPUTS = [
    (lambda: study.alignment_study(["dot", "general"], SEEDS, **ALIGNMENT, min_effect=0.01), ValueError, "scores"),
    (lambda: study.alignment_study(["additive", "dot", "dot"], SEEDS, **ALIGNMENT, min_effect=0.01), ValueError, "scores"),
    (lambda: study.alignment_study(["additive"], [0, 0], **ALIGNMENT, min_effect=0.01), ValueError, "seeds"),
    (lambda: study.alignment_study(["additive"], SEEDS, **ALIGNMENT, min_effect=0.01, alpha=1.5), ValueError, "alpha"),
    (lambda: study.torch_agreement(0, 3), ValueError, "n_heads"),
    (lambda: study.torch_agreement(-1, 2), ValueError, "seed"),
    (lambda: study.reversal_study([], steps=1, batch_size=1, n_test=1, n_symbols=4, length=4, n_heads=1, lr=0.1), ValueError, "seeds"),
    (lambda: study.memory_study([0], **MEMORY, min_effect=0.05, alpha=0.0), ValueError, "alpha"),
    (lambda: study.example_story(-1), ValueError, "seed"),
    (lambda: figures.alignment_curves({}, ["additive"], [0]), ValueError, "results"),
    (lambda: figures.self_attention_heatmaps("weights"), ValueError, "result"),
]


@pytest.mark.parametrize("call, error, argument", BAD_INPUTS)
def test_bad_input_raises_an_error_naming_the_argument(call, error, argument):
    with pytest.raises(error, match=rf"^{argument}\b"):
        call()


def test_the_alignment_study_has_one_row_per_score_and_seed_each_as_trained_alone(alignment):
    assert list(zip(alignment.runs["score"], alignment.runs["seed"])) == [(s, seed) for s in ("additive", "dot", "general") for seed in SEEDS]
    alone = tasks.train_alignment("dot", seed=1, **ALIGNMENT)
    row = alignment.runs.query("score == 'dot' and seed == 1").iloc[0]
    assert row["token_accuracy"] == alone.accuracy and row["mean_training_loss"] == float(alone.losses.mean())


def test_the_alignment_summary_gives_mean_and_std_per_score(alignment):
    summary = alignment.summary()
    assert list(summary.index) == ["additive", "dot", "general"]
    expected = tasks.mean_std(alignment.runs.query("score == 'general'")["token_accuracy"])
    assert summary.loc["general", "token_accuracy"] == expected and " ± " in expected


def test_the_alignment_tests_compare_each_score_with_the_additive_one(alignment):
    assert list(alignment.tests) == ["dot", "general"]
    lines = alignment.tests_markdown().splitlines()
    assert len(lines) == 2 and lines[0].startswith("* Mean training loss, dot minus additive: ")
    assert all("α = 0.05" in line for line in lines)


def test_the_alignment_glue_holds_the_names_the_prose_cites(alignment):
    glued = alignment.glued
    assert glued["attn_min_length"] == 2 and glued["attn_max_length"] == 4
    assert glued["attn_align_additive_vs_dot_p"] == float(alignment.tests["dot"].p_value)
    assert glued["attn_align_dot_accuracy"] == pytest.approx(alignment.runs.query("score == 'dot'")["token_accuracy"].mean())
    assert {f"attn_align_{s}_alignment" for s in ("additive", "dot", "general")} <= set(glued)


def test_the_alignment_figures_draw_every_score(alignment):
    curves = alignment.curves_figure()
    assert [line.get_label() for line in curves.axes[0].get_lines()] == ["additive", "dot", "general"]
    heatmaps = alignment.heatmaps_figure()
    titles = [ax.get_title() for ax in heatmaps.axes if ax.get_title()]
    assert titles == [f"{score}, length {length}" for length in (4, 2) for score in ("additive", "dot", "general")]  # full length on top
    plt.close("all")


def test_our_attention_agrees_with_pytorch_to_rounding_error():
    agreement = study.torch_agreement(0, 2)
    assert 0 <= agreement.sdpa < 1e-5 and 0 <= agreement.mha < 1e-5
    assert agreement.glued == {"attn_sdpa_max_difference": agreement.sdpa, "attn_mha_max_difference": agreement.mha}
    assert study.torch_agreement(0, 2) == agreement, "the seed fixes the inputs and weights"


def test_the_reversal_study_summarises_its_seeds(reversal):
    assert list(reversal.runs["seed"]) == SEEDS
    assert reversal.glued["attn_self_accuracy"] == pytest.approx(reversal.runs["token_accuracy"].mean())
    assert reversal.glued["attn_n_heads"] == 2 and reversal.glued["attn_reversal_length"] == 4
    assert list(reversal.summary().index) == ["token_accuracy", "alignment_accuracy"]


def test_the_self_attention_figure_has_a_panel_per_head_and_one_for_their_mean(reversal):
    fig = reversal.heatmaps_figure()
    assert [ax.get_title() for ax in fig.axes if ax.get_title()] == ["head 1", "head 2", "mean of the heads"]
    plt.close(fig)


def test_the_memory_study_trains_every_network_and_tests_the_soft_one_hard(memory):
    assert list(memory.runs["network"].unique()) == [*study.MEMORY_NETWORKS, study.TESTED_HARD]
    for seed in SEEDS:
        assert memory.results[study.TESTED_HARD, seed].model is memory.results["two hops, soft", seed].model
        hard_test = memory.results[study.TESTED_HARD, seed].weights
        assert ((hard_test == 0) | (hard_test == 1)).all(), "an argmax at each hop weighs one sentence"
    assert memory.runs.query("network == 'one hop, soft'")["both_facts_found"].isna().all()


def test_the_memory_tests_and_glue_follow_the_networks(memory):
    assert list(memory.tests) == ["hops", "soft_vs_hard"]
    assert memory.tests_markdown().splitlines()[1].startswith("* Answer accuracy, two hops, soft minus two hops, hard: ")
    glued = memory.glued
    assert glued["attn_memory_steps"] == 3
    assert glued["attn_memory_soft_vs_hard_p"] == float(memory.tests["soft_vs_hard"][2].p_value)
    accuracy = memory.runs.query("network == @study.TESTED_HARD")["answer_accuracy"].mean()
    assert glued["attn_memory_two_hops_soft_tested_hard_accuracy"] == pytest.approx(accuracy)
    assert memory.hard_against_soft().count(" ± ") == 3


def test_the_memory_figure_shows_the_soft_network_and_the_best_and_worst_hard_ones(memory):
    fig = memory.heatmaps_figure(2)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    hard = memory.runs.query("network == 'two hops, hard'").set_index("seed")["answer_accuracy"]
    first_story = titles[::2]  # one row per network, one column per story
    assert len(titles) == 6 and first_story[0].endswith("two hops, soft, seed 0")
    assert first_story[1].endswith(f"two hops, hard, seed {hard.idxmax()}") and first_story[2].endswith(f"two hops, hard, seed {hard.idxmin()}")
    plt.close(fig)


def test_the_example_story_is_answered_by_its_two_supporting_facts():
    text = study.example_story(0)
    sentences = re.findall(r"^\d+\. (.+)$", text, flags=re.MULTILINE)
    first, second = map(int, re.search(r"sentences (\d+) then (\d+)", text).groups())
    answer = re.search(r"\*\*(\w+)\*\*", text).group(1)
    obj = re.search(r"\*where (\w+)\?\*", text).group(1)
    holder = sentences[first - 1].split()[0]
    assert len(sentences) == 6 and sentences[first - 1].endswith(f"got {obj}")
    assert sentences[second - 1] == f"{holder} moved {answer}" and answer in tasks.PLACES
