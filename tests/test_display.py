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


def test_a_captioned_view_is_a_numbered_list_table_for_the_book_and_keeps_its_html_for_jupyter():
    table = pd.DataFrame({"model": ["ip_only", "with"], "note": ["a*b* [x] $1", "emma/claims/registry/robustness.py"]})
    view = show(table, "robustness_f1", caption="F1 per family; look at *with*, and `ρ`.")
    assert view.label == "tbl-robustness_f1" and view._repr_markdown_() == view.markdown
    lines = view.markdown.splitlines()
    assert ":::{list-table} F1 per family; look at *with*, and `ρ`." in lines and lines.count(":::") == 1 and ":name: tbl-robustness_f1" in lines
    assert ":header-rows: 1" in lines and "* - model" in lines and "* - EMMA \\(with\\)" in lines
    assert "  - a\\*b\\* \\[x\\] \\$1" in lines  # the cell's text is literal: no emphasis, link or math
    assert "emma/<wbr>claims/<wbr>registry/<wbr>robustness\\.<wbr>py" in view.markdown
    assert 'href="../../_static/tables/robustness_f1.csv"' in view.markdown
    assert "<caption>F1 per family; look at *with*, and `ρ`.</caption>" in view.html


def test_an_uncaptioned_view_has_no_markdown_and_a_long_captioned_one_is_folded_around_its_directive():
    assert show(pd.DataFrame({"a": [1]}), "t").markdown is None
    view = show(pd.DataFrame({"a": range(25)}), caption="Many rows.", label="tbl-many")
    assert view.markdown.index("<details><summary>25 rows") < view.markdown.index(":::{list-table}") < view.markdown.index("</details>")
    assert ":name: tbl-many" in view.markdown and "full table" not in view.markdown


def test_a_caption_or_label_that_cannot_be_numbered_is_refused():
    table = pd.DataFrame({"a": [1]})
    with pytest.raises(ValueError, match="needs a label"):
        show(table, caption="No name, no label.")
    with pytest.raises(ValueError, match="label must be"):
        show(table, "t", caption="x", label="1 bad")
    with pytest.raises(ValueError, match="label needs a caption"):
        show(table, "t", label="tbl-t")
    with pytest.raises(ValueError, match="caption must be"):
        show(table, "t", caption="  ")
