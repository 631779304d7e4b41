"""The page "How this book was run" (emma_book.record) on hand-made executed notebooks."""
from __future__ import annotations

import re

import nbformat
import pytest

from emma_book import record

VERSIONS = {"python": "3.11.7", "torch": "2.3.0", "numpy": "2.0.0", "scikit-learn": "1.5.0", "papermill": "2.6.0", "jupyter-book": "1.0.2"}
CELL = 'profile = "full"  # full or quick\ndevice = "auto"\nseeds = [0, 1, 2, 3, 4]\nepochs = 25\nrhos = [0.0001, 0.1]\nscale = 2 ** 3\n'


def notebook(path, injected: dict, *, stored: dict | None = None, set_by_run=None, versions=VERSIONS, cell: str = CELL):
    """An executed notebook as emma_book.build.execute leaves it: the parameters cell, papermill's metadata, run info."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(cell, metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("\n".join(f"{k} = {v!r}" for k, v in injected.items()), metadata={"tags": ["injected-parameters", "remove-cell"]}),
                nbformat.v4.new_code_cell("print(seeds)")]
    info = {"commit": "abc123", "machine": "CPU: test, 2 cores", "date": "2026-01-01 00:00 UTC", "versions": dict(versions)}
    if stored is not None:
        info["parameters"], info["set_by_run"] = stored, sorted(set_by_run if set_by_run is not None else injected)
    nb.metadata["papermill"] = {"parameters": injected, "duration": 12.5, "start_time": "2026-01-01T00:00:00"}
    nb.metadata[record.METADATA_KEY] = info
    nbformat.write(nb, path)
    return path


def test_resolved_parameters_are_the_cell_defaults_then_what_the_run_set():
    declared = {"profile": '"full"', "seeds": "[0, 1, 2]", "epochs": "25", "scale": "2 ** 3", "pair": "(1, 2)"}
    resolved = record.resolved_parameters(declared, {"profile": "quick", "epochs": 5, "extra": 1})
    assert resolved == {"profile": "quick", "seeds": [0, 1, 2], "epochs": 5, "scale": "2 ** 3", "pair": [1, 2], "extra": 1}
    assert list(resolved)[:5] == list(declared), "the parameters cell's order"


def test_run_info_stores_every_parameter_when_given_the_declared_ones(tmp_path):
    info = record.run_info({"profile": "quick", "seeds": [0]}, tmp_path, declared={"profile": '"full"', "seeds": "[0, 1]", "epochs": "25"})
    assert info["parameters"] == {"profile": "quick", "seeds": [0], "epochs": 25}
    assert info["set_by_run"] == ["profile", "seeds"]
    assert "parameters" not in record.run_info({}, tmp_path)  # without the declared ones: as before


def test_a_notebook_without_stored_parameters_gets_them_from_its_parameters_cell(tmp_path):
    path = notebook(tmp_path / "old.ipynb", {"device": "auto"})  # the full profile injects only the device
    parameters, set_by_run = record.notebook_parameters(nbformat.read(path, as_version=4))
    assert parameters == {"profile": "full", "device": "auto", "seeds": [0, 1, 2, 3, 4], "epochs": 25, "rhos": [0.0001, 0.1], "scale": "2 ** 3"}
    assert set_by_run == ["device"]


def test_stored_parameters_win_over_the_cell(tmp_path):
    stored = {"profile": "quick", "device": "cpu", "seeds": [7], "epochs": 3, "rhos": [0.0001], "scale": "2 ** 3"}
    path = notebook(tmp_path / "new.ipynb", {"profile": "quick", "device": "cpu", "seeds": [7], "epochs": 3, "rhos": [0.0001]}, stored=stored)
    parameters, set_by_run = record.notebook_parameters(nbformat.read(path, as_version=4))
    assert parameters == stored and set_by_run == ["device", "epochs", "profile", "rhos", "seeds"]
    assert list(parameters) == ["profile", "device", "seeds", "epochs", "rhos", "scale"], "in the order of the parameters cell"


@pytest.fixture
def two_chapters(tmp_path):
    old = notebook(tmp_path / "01_a.ipynb", {"device": "auto"})
    new = notebook(tmp_path / "02_b.ipynb", {"profile": "quick", "device": "auto", "seeds": [0], "epochs": 3},
                   stored={"profile": "quick", "device": "auto", "seeds": [0], "epochs": 3, "rhos": [0.0001, 0.1], "scale": "2 ** 3"})
    return {"Chapter A": old, "Chapter B: with a colon": new}


def test_the_page_lists_every_parameter_of_every_chapter_folded(two_chapters):
    page = record.run_record_page(two_chapters)
    parameters = page.split("## Parameters", 1)[1]
    dropdowns = re.findall(r"^::::\{dropdown\} (.+)$", parameters, flags=re.MULTILINE)
    assert dropdowns == ["Chapter A: 6 parameters, 1 set by the run", "Chapter B: with a colon: 6 parameters, 4 set by the run"]
    chapter_a, chapter_b = parameters.split("::::{dropdown}")[1:]
    assert "| seeds | `[0, 1, 2, 3, 4]` |" in chapter_a and "| epochs | `25` |" in chapter_a and "| **device** | **`'auto'`** |" in chapter_a
    assert "| **seeds** | **`[0]`** |" in chapter_b and "| rhos | `[0.0001, 0.1]` |" in chapter_b  # the rho is not rounded away
    assert "| scale | `'2 ** 3'` |" in chapter_b
    assert parameters.count("\n::::\n") == 2, "every dropdown is closed"
    assert ":name: tbl-run-record-parameters-1" in chapter_a and ":name: tbl-run-record-parameters-2" in chapter_b  # each table numbered
    assert chapter_a.count("\n:::\n") == 1 and chapter_b.count("\n:::\n") == 1, "each table's directive is closed inside its dropdown"
    assert "| chapter | profile |" in page and "| Chapter B: with a colon | quick |" in page and "| Chapter A | full |" in page


def test_the_versions_appear_once_when_every_chapter_ran_with_the_same(two_chapters):
    page = record.run_record_page(two_chapters)
    versions = page.split("## Versions", 1)[1].split("## Parameters", 1)[0]
    assert "same versions" in versions and versions.count("2.3.0") == 1 and "Chapter A" not in versions


def test_the_versions_are_listed_per_chapter_when_they_differ(tmp_path):
    executed = {"Chapter A": notebook(tmp_path / "a.ipynb", {"device": "auto"}),
                "Chapter B": notebook(tmp_path / "b.ipynb", {"device": "auto"}, versions={**VERSIONS, "torch": "2.4.0"}),
                "Chapter C": notebook(tmp_path / "c.ipynb", {"device": "auto"}, versions={})}
    versions = record.run_record_page(executed).split("## Versions", 1)[1].split("## Parameters", 1)[0]
    assert "different versions" in versions
    assert "| Chapter A | 3.11.7 | 2.3.0 |" in versions and "| Chapter B | 3.11.7 | 2.4.0 |" in versions
    assert "| Chapter C | not recorded | not recorded |" in versions
