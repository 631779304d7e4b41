"""Specifications of the table views a reader meets (emma.util.display)."""
import numpy as np
import pandas as pd
import pytest

from emma.util.display import EMPTY, show


def test_a_view_shows_the_chosen_columns_with_human_labels_and_links_the_full_csv():
    table = pd.DataFrame({"model": ["ip_only", "without"], "f1_clean_mean": [0.81234, np.nan], "secret": [1, 2]})
    view = show(table, "robustness_f1", columns=["model", "f1_clean_mean"])
    assert "IP only" in view.html and "data augmentation (without)" in view.html and "F1 clean mean" in view.html
    assert "0.812" in view.html and EMPTY in view.html and "secret" not in view.html and "nan" not in view.html.lower()
    assert 'href="../../_static/tables/robustness_f1.csv"' in view.html


def test_a_long_table_is_folded_behind_a_summary_and_nothing_is_truncated():
    table = pd.DataFrame({"claim": [f"claim {i} " + "word " * 40 for i in range(30)]})
    view = show(table, max_rows=20, summary="thirty claims")
    assert view.html.count("<tr>") == 31 and "<details><summary>thirty claims</summary>" in view.html
    assert "…" not in view.html and "word " * 40 in view.html


def test_a_cell_links_to_its_page_when_asked():
    view = show(pd.DataFrame({"chapter": ["A", "B"]}), links={"chapter": {"A": "01_a.html#verdicts"}})
    assert '<a href="01_a.html#verdicts">A</a>' in view.html and "<td>B</td>" in view.html


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="columns"):
        show(pd.DataFrame({"a": [1]}), columns=["b"])
    with pytest.raises(ValueError, match="name must be"):
        show(pd.DataFrame({"a": [1]}), "../escape")
    with pytest.raises(TypeError, match="table must be a DataFrame"):
        show([1, 2])
