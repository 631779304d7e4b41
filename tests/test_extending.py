"""The examples of the page "Extending the book" (book/11_extending.md) run, in order, as a reader would run them."""
import re
from pathlib import Path

import matplotlib
import pandas as pd

from emma.engine.registry import registered, unregister
from emma.experiments.compare import COLUMNS

PAGE = Path(__file__).resolve().parents[1] / "book" / "11_extending.md"
#: The section whose example is a chapter's code: its parameters first, made small here.
RECIPE = "## A new family beside EMMA and data augmentation, under a new failure"
#: The recipe's parameters, as `emma-book run -p` would set them: seconds instead of minutes.
SMALL = {"seeds": [0, 1], "epochs": 1, "dae_epochs": 1}


def _blocks() -> tuple[list[str], str]:
    """The page's Python examples outside the recipe, in order, and the recipe's."""
    text = PAGE.read_text()
    start = text.index(RECIPE)
    end = text.index("\n## ", start + len(RECIPE))
    python = re.compile(r"```python\n(.*?)```", flags=re.S)
    recipe = python.findall(text[start:end])
    assert len(recipe) == 1, "the recipe is one block of chapter code"
    return python.findall(text[:start] + text[end:]), recipe[0]


def test_every_python_example_of_the_extending_page_runs(capsys):
    blocks, _ = _blocks()
    assert len(blocks) == 4, "the page has one example per recipe: a family, a failure, a data set, the engine's core"
    namespace: dict = {}
    try:
        for block in blocks:
            exec(compile(block, str(PAGE), "exec"), namespace)
        printed = capsys.readouterr().out
        # the new family learned something on HTRU2, and the new failure and data set were scored
        assert namespace["sweep"].table["f1_clean"].min() > 0.5
        assert set(namespace["trained"].table["seed"]) == {0}
        assert isinstance(namespace["toy"].train.x.shape[0], int) and namespace["toy"].train.x.shape[1] == 8
        assert "f1_ip_failed" in printed and printed.count("f1_clean") == 4
        # the core trained EMMA on three modes of other widths: the loss fell for every seed, and α of
        # the failing mode is lower, for every seed, where it failed
        curve, alpha, failed = namespace["curve"], namespace["alpha"], namespace["corrupted"]
        assert (curve[-1] < 0.8 * curve[0]).all()
        assert (alpha[:, failed, 1].mean(1) < alpha[:, ~failed, 1].mean(1)).all()
    finally:
        if "logistic" in registered():
            unregister("logistic")


def test_a_new_family_beside_emma_and_augmentation_under_a_new_failure_takes_under_40_lines():
    _, recipe = _blocks()
    assert len(recipe.splitlines()) < 40, f"the recipe has {len(recipe.splitlines())} lines of chapter code"
    parameters, _, code = recipe.partition("\n\n")
    assert {"seeds", "epochs", "dae_epochs", "cache_dir"} <= set(re.findall(r"(\w+)\s*[,=]", parameters)), "the parameters come first"
    assert "compare_families(" in code and "family_figure(" in code


def test_the_recipe_of_the_extending_page_runs_and_gives_one_row_per_family_severity_and_seed(tmp_path):
    """The recipe as a chapter runs it: its parameters cell, then the parameters of the run (small), then its code."""
    matplotlib.use("Agg")
    _, recipe = _blocks()
    parameters, _, code = recipe.partition("\n\n")
    namespace: dict = {}
    try:
        exec(compile(parameters, "<recipe parameters>", "exec"), namespace)
        namespace.update(SMALL, cache_dir=str(tmp_path / "cache"))
        exec(compile(code, "<recipe>", "exec"), namespace)  # (not the page's name: its lines are not the block's)
        frame, fig = namespace["frame"], namespace["fig"]
        assert tuple(frame.columns) == COLUMNS
        assert len(frame) == 3 * 3 * len(SMALL["seeds"])  # 3 severities × 3 families × the seeds
        assert frame["family"].unique().tolist() == ["without", "with", "softmin"]
        assert frame["severity"].unique().tolist() == [0.5, 1.0, 2.0] and frame["seed"].unique().tolist() == SMALL["seeds"]
        assert not frame.duplicated(["family", "severity", "seed"]).any()
        scores = frame[["f1_clean", "f1_ip_failed", "f1_dm_failed", "f1_failed"]]
        assert scores.notna().all().all() and ((scores >= 0) & (scores <= 1)).all().all()
        pd.testing.assert_series_equal(frame["f1_failed"], frame[["f1_ip_failed", "f1_dm_failed"]].mean(axis=1), check_names=False)
        assert (frame["trained_on"] == frame["failure"]).all() and frame["failure"].str.startswith("offset").all()
        assert list((tmp_path / "cache").glob("sweep_softmin-*.pt")), "the new family's sweep is cached in the chapter's cache_dir"
        legend = [text.get_text() for ax in fig.axes if ax.get_legend() for text in ax.get_legend().get_texts()]
        assert legend == ["data augmentation", "EMMA", "softmin of Ψ"]  # the new family under its label
    finally:
        if "softmin" in registered():
            unregister("softmin")
