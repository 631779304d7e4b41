"""The book pipeline: every chapter executes in the quick profile and the book builds from it."""
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from emma import book, cli

ROOT = Path(__file__).resolve().parent.parent


def _copy_book_sources(destination: Path) -> None:
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, destination / name)
    shutil.copytree(ROOT / "book", destination / "book", ignore=shutil.ignore_patterns("chapters"))
    shutil.copytree(ROOT / "notebooks", destination / "notebooks")


@pytest.fixture(scope="session")
def quick_book(tmp_path_factory):
    """Every chapter executed in the quick profile into a scratch copy of the book's sources."""
    root = tmp_path_factory.mktemp("book")
    _copy_book_sources(root)
    for chapter in book.chapters():
        book.execute(
            chapter,
            {"profile": "quick", "device": "cpu", "output_dir": str(root / "_build")},
            output=root / "book" / "chapters" / f"{chapter.stem}.ipynb",
            progress=False,
        )
    return root


def _toc_files(toc: dict) -> list[str]:
    files = []
    for part in toc.get("parts", []):
        for entry in part.get("chapters", []):
            files.append(entry["file"])
    return files


def test_toc_lists_every_chapter_in_order():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    listed = [f.split("/")[-1] for f in _toc_files(toc) if f.startswith("book/chapters/")]
    assert listed == [chapter.stem for chapter in book.chapters()]


def test_every_chapter_starts_with_title_then_parameters():
    import jupytext

    for chapter in book.chapters():
        cells = jupytext.read(chapter.source).cells
        assert cells[0].cell_type == "markdown" and cells[0].source.startswith("# "), chapter.name
        assert "parameters" in cells[1].metadata.get("tags", []), chapter.name
        declared = chapter.parameters()
        assert {"profile", "device", "output_dir"} <= set(declared), chapter.name
        assert {"seed", "seeds"} & set(declared), chapter.name
        assert declared["profile"] == '"full"', f"{chapter.name}: the default profile must be the thesis's settings"


def test_figure_and_table_names_are_unique_across_the_book():
    pattern = re.compile(r"save_(figure|table)\([^,]+,\s*f?\"([^\"]+)\"")
    seen = {}
    for chapter in book.chapters():
        for kind, name in pattern.findall(chapter.source.read_text()):
            key = (kind, name)
            assert key not in seen or seen[key] == chapter.name, f"{kind} {name!r} in {seen.get(key)} and {chapter.name}"
            seen[key] = chapter.name
    assert seen, "no chapter saves a figure or a table"


def test_unknown_parameter_is_rejected_with_the_declared_ones():
    chapter = book.chapters()[0]
    with pytest.raises(ValueError, match="no parameter.*'nonsense'.*declares"):
        book.execute(chapter, {"nonsense": 1})


def test_unknown_chapter_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown chapter 'nope'; known chapters: energy_estimation"):
        book.select(["nope"])


def test_list_prints_name_then_title():
    output = subprocess.run([sys.executable, "-m", "emma", "list"], capture_output=True, text=True, check=True).stdout
    lines = output.strip().splitlines()
    assert len(lines) == len(book.chapters())
    assert lines[0].split()[0] == "energy_estimation" and "Energy estimation" in lines[0]


BROKEN = '''# %% [markdown]
# # A broken chapter

# %% tags=["parameters"]
profile = "full"
device = "auto"
seed = 0
output_dir = "_build"

# %%
x = 1

# %%
raise RuntimeError("deliberate failure")
'''


def test_failing_cell_makes_run_exit_nonzero_and_names_chapter_cell_and_error(tmp_path, monkeypatch, capsys):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "01_broken.py").write_text(BROKEN)
    monkeypatch.setattr(book, "NOTEBOOKS", tmp_path / "notebooks")
    monkeypatch.setattr(book, "EXECUTED", tmp_path / "chapters")
    monkeypatch.setattr(book, "FAILED", tmp_path / "failed")
    code = cli.main(["run", "broken", "--profile", "quick", "--device", "cpu"])
    error = capsys.readouterr().err
    assert code == 1
    assert "chapter 'broken' failed" in error
    assert "RuntimeError: deliberate failure" in error
    assert 'raise RuntimeError("deliberate failure")' in error
    assert not (tmp_path / "chapters" / "01_broken.ipynb").exists(), "a failed chapter must not reach the book"
    assert (tmp_path / "failed" / "01_broken.ipynb").exists()


@pytest.mark.slow
def test_every_chapter_executes_and_writes_its_figures_and_tables(quick_book):
    for chapter in book.chapters():
        executed = nbformat.read(quick_book / "book" / "chapters" / f"{chapter.stem}.ipynb", as_version=4)
        injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
        assert injected and 'profile = "quick"' in injected[0].source, chapter.name
        assert "remove-cell" in injected[0].metadata["tags"], f"{chapter.name}: papermill's cell must not reach the page"
        parameters = [c for c in executed.cells if "parameters" in c.metadata.get("tags", [])]
        assert "hide-input" in parameters[0].metadata["tags"], f"{chapter.name}: the parameters cell must be folded"
        source = chapter.source.read_text()
        for kind, folder, suffix in (("figure", "figures", "png"), ("table", "tables", "csv")):
            for name in re.findall(rf"save_{kind}\([^,]+,\s*\"([^\"]+)\"", source):
                path = quick_book / "_build" / folder / f"{name}.{suffix}"
                assert path.exists() and path.stat().st_size > 0, f"{chapter.name}: {path} missing"


@pytest.mark.slow
def test_book_builds_without_warnings_and_shows_every_chapter(quick_book):
    assert book.build(quick_book) == 0
    html = quick_book / "_build" / "html"
    assert (html / "index.html").exists()
    for chapter in book.chapters():
        page = (html / "book" / "chapters" / f"{chapter.stem}.html").read_text()
        assert "# Parameters" not in page, f"{chapter.name}: papermill's injected cell is on the page"
        assert "<img" in page, f"{chapter.name}: no figure on the page"
        assert "<table" in page, f"{chapter.name}: no table on the page"


def test_build_refuses_when_a_chapter_was_not_executed(tmp_path):
    _copy_book_sources(tmp_path)
    with pytest.raises(FileNotFoundError, match="not been executed yet: energy_estimation"):
        book.build(tmp_path)


@pytest.mark.slow
def test_readme_papermill_recipe_reexecutes_a_chapter_with_changed_parameters(tmp_path):
    bin_dir = Path(sys.executable).parent
    notebook, executed = tmp_path / "energy.ipynb", tmp_path / "energy-out.ipynb"
    subprocess.run([str(bin_dir / "jupytext"), "--to", "ipynb", "notebooks/02_energy_estimation.py", "-o", str(notebook)], cwd=ROOT, check=True, capture_output=True)
    subprocess.run(
        [str(bin_dir / "papermill"), str(notebook), str(executed), "-p", "profile", "quick", "-p", "device", "cpu",
         "-y", "seeds: [3]", "-p", "output_dir", str(tmp_path / "out")],
        cwd=ROOT, check=True, capture_output=True,
    )
    table = (tmp_path / "out" / "tables" / "energy_estimator_separation.csv").read_text()
    assert "seeds" in table.splitlines()[0]
    injected = [c for c in nbformat.read(executed, as_version=4).cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert "seeds = [3]" in injected[0].source


def test_the_parameters_and_setup_cells_are_folded_and_prose_is_not():
    import jupytext

    notebook = book.fold_boilerplate(jupytext.read(book.chapters()[0].source))
    folded = [c for c in notebook.cells if "hide-input" in c.metadata.get("tags", [])]
    assert "parameters" in folded[0].metadata["tags"]
    assert all(c.cell_type == "code" for c in folded)
    assert any(c.source.startswith(("import", "from")) for c in folded[1:])
    assert not book._is_setup("fig, ax = plt.subplots()\nimport os")
