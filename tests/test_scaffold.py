"""`emma-book new` (emma_book.scaffold): a chapter that runs, registered in _toc.yml's part Extensions, with its module and tests.

Every test works on a copy of the book's notebooks/, _toc.yml and profiles/ (and, where the new
chapter's module must be imported in another process, of emma/): the real ones are never touched.
The generated chapter is held to the rules of every chapter (tests/test_chapter_cells.py,
tests/test_try_it.py, tests/test_prose_numbers.py), read with those tests' own helpers.
"""
import os
import re
import shutil
import statistics
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import jupytext
import nbformat
import numpy as np
import pandas as pd
import pytest
import test_chapter_cells
import test_prose_numbers
import torch
import yaml
from test_try_it import checked, try_it

import emma.experiments
from emma.claims import registry
from emma.claims.rules import CLAIM_COLUMNS, EVIDENCE_COLUMNS, VERDICTS
from emma.data.failures import Failure
from emma.data.splits import Split
from emma_book import build as book
from emma_book import cli, params, rerun, scaffold

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def root(tmp_path):
    """A scratch book: copies of notebooks/ (the chapter sources), _toc.yml and profiles/."""
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks", ignore=shutil.ignore_patterns(".*", "__pycache__"))
    shutil.copytree(ROOT / "profiles", tmp_path / "profiles")
    shutil.copy2(ROOT / "_toc.yml", tmp_path / "_toc.yml")
    return tmp_path


@pytest.fixture
def demo(root, monkeypatch):
    """The chapter ``demo`` written into the scratch book; its module imports as ``emma.experiments.demo`` for this test only."""
    source = scaffold.new_chapter("demo", root=root)
    monkeypatch.setattr(emma.experiments, "__path__", [*emma.experiments.__path__, str(root / "emma" / "experiments")])
    yield source
    sys.modules.pop("emma.experiments.demo", None)
    vars(emma.experiments).pop("demo", None)


def _scratch_package(root: Path) -> dict:
    """Copy emma/, tests/conftest.py and pyproject.toml into ``root``; the environment of a process that imports ``emma`` from there."""
    shutil.copytree(ROOT / "emma", root / "emma", ignore=shutil.ignore_patterns("__pycache__"), dirs_exist_ok=True)
    (root / "tests").mkdir(exist_ok=True)
    shutil.copy2(ROOT / "tests" / "conftest.py", root / "tests" / "conftest.py")
    shutil.copy2(ROOT / "pyproject.toml", root / "pyproject.toml")
    return {**os.environ, "PYTHONPATH": str(root), "TQDM_DISABLE": "1"}  # before the editable install of this checkout


def _parts(root: Path) -> dict:
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    return {part["caption"]: [entry["file"] for entry in part["chapters"]] for part in toc["parts"]}


def test_new_writes_a_jupytext_chapter_numbered_after_all_others(root):
    last = max(c.number for c in book.chapters(root / "notebooks") if not c.appendix)
    source = scaffold.new_chapter("demo_topic", "A demo, extended", root=root)
    assert source == root / "notebooks" / f"{last + 1:02d}_demo_topic.py"
    cells = jupytext.read(source).cells
    assert cells[0].cell_type == "markdown" and cells[0].source.startswith("# A demo, extended")
    assert "parameters" in cells[1].metadata.get("tags", [])
    chapter = next(c for c in book.chapters(root / "notebooks") if c.source == source)
    assert chapter.number == last + 1 and not chapter.appendix
    declared = chapter.parameters()  # papermill's parser, as every chapter is read
    assert {"profile", "device", "seeds", "output_dir"} <= set(declared) and declared["profile"] == '"full"'
    assert chapter.title == "A demo, extended"
    figure = [c for c in cells if "mystnb" in c.metadata]
    assert figure and figure[0].metadata["mystnb"]["figure"]["name"] == "fig-demo-topic-f1" and "alt" in figure[0].metadata["mystnb"]["image"]
    code = "\n".join(c.source for c in cells if c.cell_type == "code")
    for call in ("check_profile(profile)", "resolve_device(device)", "ex.fit_per_input(", "save_table(", "save_figure(", "show(", "claims_table("):
        assert call in code, call
    assert [c.stem for c in book.chapters(root / "notebooks") if c.source != source] == [c.stem for c in book.chapters()]  # nothing renumbered


def test_new_writes_the_chapters_module_and_its_tests_which_the_chapter_imports(root):
    source = scaffold.new_chapter("demo_topic", "A demo, extended", root=root)
    module, tests = scaffold.companions("demo_topic", root)
    assert (module, tests) == (root / "emma" / "experiments" / "demo_topic.py", root / "tests" / "test_demo_topic.py")
    code = "\n".join(c.source for c in jupytext.read(source).cells if c.cell_type == "code")
    assert "from emma.experiments import demo_topic as ex" in code and "from emma.experiments import demo_topic as ex" in tests.read_text()
    assert "class Offset(Failure)" in module.read_text() and "def fit_per_input(" in module.read_text()
    assert f"/book/chapters/{source.stem}`" in module.read_text().split("\n", 1)[0]  # the module's docstring links its chapter


def test_the_new_chapter_reads_like_a_lesson_and_ends_with_two_commands_to_try(root):
    """The rules every chapter meets (tests/test_chapter_cells.py, tests/test_try_it.py, tests/test_prose_numbers.py), read with their own helpers."""
    source = scaffold.new_chapter("demo", root=root)
    chapter = next(c for c in book.chapters(root / "notebooks") if c.source == source)
    sizes = [len(lines) for lines in test_chapter_cells.code_cells(chapter)]
    assert statistics.median(sizes) <= test_chapter_cells.MEDIAN and max(sizes) <= test_chapter_cells.LONGEST, sizes
    assert [name for lines in test_chapter_cells.code_cells(chapter) for name in test_chapter_cells.definitions(lines)] == []
    commands = try_it(chapter)
    assert len(commands) == 2
    changes = [frozenset(key for key, _ in checked(chapter, argv).parameter) for argv in commands]
    assert changes == [{"n_train"}, {"seeds"}]
    assert test_prose_numbers.typed_numbers(test_prose_numbers.prose_of(source)) == []
    markdown = [c.source for c in jupytext.read(source).cells if c.cell_type == "markdown"]
    assert markdown[0].splitlines()[2] == "```{admonition} What you will learn" and markdown[0].count("\n- ") == 3
    labels = set(re.findall(r"\{numref\}`(tbl-\w+)`", "\n".join(markdown)))
    assert labels == {"tbl-demo_f1", "tbl-demo_offset", "tbl-demo_claims"}  # every table the chapter shows is cited by its number
    code = "\n".join(c.source for c in jupytext.read(source).cells if c.cell_type == "code")
    assert {f"tbl-{name}" for name in re.findall(r'show\([^,]+, "(\w+)"', code)} == labels and code.count("caption=") == 3


def test_the_generated_tests_pass_and_fail_when_the_module_breaks_and_the_files_pass_the_lint(root):
    """The generated tests/test_demo.py, run by pytest in a process that imports the scratch copy of emma (with the new module)."""
    env = _scratch_package(root)
    source = scaffold.new_chapter("demo", root=root)
    module, tests = scaffold.companions("demo", root)

    def pytest_run(*args):
        return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tests), *args],
                              cwd=root, env=env, capture_output=True, text=True, timeout=600)

    done = pytest_run()
    assert done.returncode == 0 and re.search(r"\b1[0-9] passed", done.stdout), done.stdout[-3000:] + done.stderr[-3000:]
    module.write_text(module.read_text().replace("dm_failed[:, 1] = True", "dm_failed[:, 0] = True"))  # the IP sensor offset instead
    broken = pytest_run("-k", "offset")
    failed = re.findall(r"^FAILED \S+::(\w+)", broken.stdout, flags=re.MULTILINE)
    assert broken.returncode == 1 and failed == ["test_each_model_is_scored_at_each_offset_of_the_dm_sensor"], broken.stdout[-3000:]
    assert "emma/experiments/demo.py" in rerun.package_digest(source, root / "emma")  # an edit to it makes the chapter stale
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    if Path(ruff).exists():  # the lint of tests/test_lint.py, on the three files
        linted = subprocess.run([ruff, "check", "--no-cache", str(source), str(module), str(tests)], cwd=root, capture_output=True, text=True)
        assert linted.returncode == 0, linted.stdout + linted.stderr


def test_new_registers_the_chapter_in_the_extensions_part_before_the_appendices(root):
    before = (root / "_toc.yml").read_text()
    existing = _parts(root).get("Extensions", [])
    last = max(c.number for c in book.chapters(root / "notebooks") if not c.appendix)
    scaffold.new_chapter("demo", root=root)
    parts = _parts(root)
    captions = list(parts)
    assert captions[-2:] == ["Extensions", "Appendices"]
    assert parts["Extensions"] == [*existing, f"book/chapters/{last + 1}_demo"]
    assert all(line in (root / "_toc.yml").read_text().splitlines() for line in before.splitlines())  # comments and parts kept
    scaffold.new_chapter("second", root=root)
    parts = _parts(root)
    assert list(parts).count("Extensions") == 1
    assert parts["Extensions"] == [*existing, f"book/chapters/{last + 1}_demo", f"book/chapters/{last + 2}_second"]
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    assert scaffold.toc_order_problems(toc, book.chapters(root / "notebooks")) == []
    quick = params.read_parameter_file(root / "profiles" / "quick.yaml")
    assert quick["demo"] == {"seeds": [0, 1], "n_train": 1000}
    parameters, _ = params.resolve_parameters([c for c in book.chapters(root / "notebooks") if c.name in ("demo", "second")], [quick])
    assert parameters["demo"]["seeds"] == [0, 1] and parameters["demo"]["profile"] == "quick"


def test_the_extensions_part_is_created_at_the_end_without_appendices():
    text = "format: jb-book\nroot: intro\nparts:\n  - caption: Main\n    chapters:\n      - file: book/chapters/01_a\n"
    toc = yaml.safe_load(scaffold.register_in_toc(text, "book/chapters/02_b"))
    assert [p["caption"] for p in toc["parts"]] == ["Main", "Extensions"]
    assert toc["parts"][1]["chapters"] == [{"file": "book/chapters/02_b"}]


@pytest.mark.parametrize("name, message", [
    ("Demo", "lowercase identifier"), ("1demo", "lowercase identifier"), ("demo-topic", "lowercase identifier"),
    ("", "lowercase identifier"), ("class", "lowercase identifier"), (None, "lowercase identifier"),
    ("robustness", "taken: chapter 06_robustness.py"), ("seeds", "is a chapter parameter"),
])
def test_new_refuses_a_bad_or_taken_name_and_writes_nothing(root, name, message):
    files = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    with pytest.raises(ValueError, match=f"NAME.*{message}"):
        scaffold.new_chapter(name, root=root)
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == files


@pytest.mark.parametrize("taken", ["emma/experiments/demo.py", "tests/test_demo.py"])
def test_new_refuses_a_name_whose_module_or_tests_exist_and_writes_nothing(root, taken):
    (root / taken).parent.mkdir(parents=True)
    (root / taken).write_text("# someone's work\n")
    files = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    with pytest.raises(ValueError, match=f"NAME 'demo' is taken: {taken} exists"):
        scaffold.new_chapter("demo", root=root)
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == files


def test_new_refuses_a_title_of_several_lines(root):
    with pytest.raises(ValueError, match="--title"):
        scaffold.new_chapter("demo", "two\nlines", root=root)
    assert not list((root / "notebooks").glob("*_demo.py")) and not any(p.exists() for p in scaffold.companions("demo", root))


def test_the_cli_reports_a_bad_name(capsys):
    assert cli.main(["new", "Bad-Name"]) == 1
    assert "NAME must be a lowercase identifier" in capsys.readouterr().err


def test_the_order_rule_names_what_breaks_it(root):
    chapters = book.chapters(root / "notebooks")
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    assert scaffold.toc_order_problems(toc, chapters) == []
    swapped = yaml.safe_load((root / "_toc.yml").read_text())
    entries = swapped["parts"][1]["chapters"]
    entries[0], entries[1] = entries[1], entries[0]
    assert any("order of their numbers" in p for p in scaffold.toc_order_problems(swapped, chapters))
    scaffold.new_chapter("demo", root=root)
    chapters = book.chapters(root / "notebooks")
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    toc["parts"].insert(0, toc["parts"].pop(-2))  # Extensions first
    assert any("just before 'Appendices'" in p for p in scaffold.toc_order_problems(toc, chapters))
    demo = next(c.stem for c in chapters if c.name == "demo")
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    toc["parts"][0]["chapters"].append({"file": f"book/chapters/{demo}"})
    problems = scaffold.toc_order_problems(toc, chapters)
    assert f"{demo} is listed 2 times" in problems


def test_the_run_order_follows_the_toc(root):
    scaffold.new_chapter("demo", root=root)
    order = [c.name for c in book.select([], root / "notebooks")]
    assert order[-2:] == ["demo", "verdicts"]  # the extension runs before the appendix that gathers the book
    assert [c.name for c in book.select(["verdicts", "demo"], root / "notebooks")] == ["demo", "verdicts"]


def _run_cells(cells, namespace: dict, *markers: str) -> dict:
    """Execute in ``namespace`` the chapter's first code cell holding each of ``markers``, in turn."""
    for marker in markers:
        exec(compile(next(c.source for c in cells if c.cell_type == "code" and marker in c.source), marker, "exec"), namespace)
    return namespace


def test_the_scaffolded_chapter_registers_its_own_claim_and_judges_it_by_id(demo, monkeypatch):
    """The claims cells, run alone on made-up scores: they register the chapter's claim, then build its claims table by id."""
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))  # what the cell registers is gone after the test
    cells, shown = jupytext.read(demo).cells, {}
    namespace = _run_cells(cells, {"output_dir": "unused", "seeds": [0, 1, 2]}, "from emma.claims", "register(Claim(")  # imports, then the claim
    namespace.update(save_table=lambda table, name, out: shown.setdefault("saved", name),
                     show=lambda table, name, columns, caption: shown.setdefault("table", table),
                     scores=SimpleNamespace(table=pd.DataFrame({"seed": [0, 1, 2] * 3, "input": ["IP"] * 3 + ["DM"] * 3 + ["both"] * 3,
                                                                "f1": [0.70, 0.71, 0.69, 0.60, 0.62, 0.61, 0.80, 0.82, 0.81]})))
    _run_cells(cells, namespace, "claims_table(")
    table = shown["table"]
    assert shown["saved"] == "demo_claims" and table["id"].tolist() == ["demo_both_modes_help"]
    assert registry.lookup("demo_both_modes_help").kind == "book" and table["min_effect"].iloc[0] == registry.min_effect("demo_both_modes_help")
    assert table["verdict"].iloc[0] == "reproduced" and table["effect"].iloc[0] > 0.02  # both modes beat IP by 0.11 on every seed


def test_the_scaffolded_chapter_glues_a_number_into_its_prose(root):
    """A number of the run reaches the prose through myst-nb's glue, under a name no other chapter uses, never typed by hand."""
    cells = jupytext.read(scaffold.new_chapter("demo", root=root)).cells
    code = "\n".join(c.source for c in cells if c.cell_type == "code")
    prose = "\n".join(c.source for c in cells if c.cell_type == "markdown")
    glued = re.findall(r'glue\("(\w+)"', code)
    pasted = re.findall(r"\{glue:text\}`(\w+)[:`]", prose)
    assert glued == ["demo_f1_both"] and pasted == glued
    assert "from myst_nb import glue" in code and "display=False" in code
    glue_cell = next(i for i, c in enumerate(cells) if 'glue("demo_f1_both"' in c.source)
    assert any("{glue:text}`demo_f1_both" in c.source for c in cells[glue_cell + 1:])  # pasted after the cell that glues it


def test_the_scaffolded_failure_has_a_severity_that_is_not_a_blend(demo):
    """The failure cells, run alone on a small test split: the module's Offset, whose severity is the offset itself, scores each seed's model at each."""
    cells = jupytext.read(demo).cells
    assert any("severity means what the failure says it means" in c.source.replace("\n# ", " ") for c in cells if c.cell_type == "markdown")
    test = Split(x=torch.tensor([[0.0] * 4 + [-1.0] * 4, [1.0] * 8, [-2.0] * 8]), y=torch.tensor([0.0, 1.0, 0.0]), index=np.arange(3))

    class ReadsDM:  # a model that calls a sample positive when its DM mode reads high
        def predict(self, features):
            return (features[:, 4] > 0).astype(int)

    shown, namespace = {}, _run_cells(cells, {"output_dir": "unused"}, "from emma.claims")  # the chapter's imports, its module's included
    namespace.update(splits=SimpleNamespace(test=test), scores=SimpleNamespace(on_both={0: ReadsDM(), 1: ReadsDM()}),
                     save_table=lambda table, name, out: shown.setdefault("saved", (name, table)),
                     show=lambda table, name, caption: shown.setdefault("shown", (name, table)))
    _run_cells(cells, namespace, "ex.Offset(", "ex.score_under_offset(")
    offset = namespace["ex"].Offset
    assert issubclass(offset, Failure) and offset.SEVERITY_FIELD == "offset" and offset(4.0).severity == 4.0  # no bound at 1
    assert offset.__module__ == "emma.experiments.demo" and "Offset" not in namespace  # the class is the module's, not the chapter's
    name, table = shown["saved"]
    assert name == "demo_offset" and shown["shown"][0] == "demo_offset"
    assert table["offset"].tolist() == [o for o in namespace["offsets"] for _ in (0, 1)] and table["seed"].tolist() == [0, 1] * len(namespace["offsets"])
    # at offset 0 the model finds the one positive sample alone (F1 1); an offset of 4 on DM makes every sample positive (F1 0.5)
    at = table.set_index(["offset", "seed"])["f1"]
    assert at.loc[(0.0, 0)] == 1.0 and at.loc[(4.0, 0)] == pytest.approx(0.5)
    assert shown["shown"][1]["f1_mean"].tolist() == [at.loc[o].mean() for o in namespace["offsets"]]  # the view: the mean over seeds


@pytest.mark.slow
def test_the_scaffolded_chapter_executes_in_the_quick_profile(root, tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", _scratch_package(root)["PYTHONPATH"])  # the kernel imports emma, with the chapter's module, from the scratch book
    source = scaffold.new_chapter("demo", root=root)
    chapter = [c for c in book.chapters(root / "notebooks") if c.source == source][0]
    profile = params.read_parameter_file(root / "profiles" / "quick.yaml")
    out = tmp_path / "out"
    parameters, _ = params.resolve_parameters([chapter], [profile, {"profile": "quick", "device": "cpu", "output_dir": str(out)}])
    output = out / "chapters" / f"{chapter.stem}.ipynb"
    key = rerun.run_key(chapter, parameters["demo"], output.parent)
    with rerun.recording_reads(tmp_path / "reads.jsonl") as log:
        book.execute(chapter, parameters["demo"], output=output, progress=False)
    assert rerun.logged_reads(log, parameters["demo"]) == {}  # it reads no other chapter's output
    rerun.store_key(output, rerun.with_reads(key, {}))
    book.check_executed(output, "demo")  # a run key and no error output: the book would publish it
    scores = pd.read_csv(out / "tables" / "demo_f1.csv")
    assert sorted(scores["seed"].unique()) == [0, 1] and set(scores["input"]) == {"IP", "DM", "both"}
    assert scores["f1"].between(0, 1).all()
    claims = pd.read_csv(out / "tables" / "demo_claims.csv")  # a claims table of the chapter's own registered claim
    assert list(claims.columns[:len(CLAIM_COLUMNS)]) == list(CLAIM_COLUMNS) and set(EVIDENCE_COLUMNS) <= set(claims.columns)
    assert claims["id"].tolist() == ["demo_both_modes_help"] and claims["verdict"].isin(VERDICTS).all()
    assert (out / "figures" / "demo_f1.png").stat().st_size > 0
    offsets = pd.read_csv(out / "tables" / "demo_offset.csv")  # the failure whose severity is not a blend, at each offset
    assert sorted(offsets["offset"].unique()) == [0.0, 1.0, 2.0, 4.0] and len(offsets) == 4 * 2 and offsets["f1"].between(0, 1).all()
    from emma.claims.report import claim_tables

    assert claim_tables(out)["demo_claims"] == "Demo"  # the appendix Verdicts collects the chapter's claims table
    notebook = nbformat.read(output, as_version=4)
    glued = [o for c in notebook.cells for o in c.get("outputs", []) if o.get("metadata", {}).get("scrapbook", {}).get("name") == "demo_f1_both"]
    value = [v for k, v in glued[0]["data"].items() if k.endswith("text/plain")] if len(glued) == 1 else []
    assert len(value) == 1 and 0 <= float(value[0]) <= 1  # the number the prose pastes (hidden where glued: display=False)
    assert "reads" not in nbformat.read(output, as_version=4).metadata[rerun.METADATA_KEY]["parts"]


def test_file_numbers_follow_the_table_of_contents():
    """Each entry of a numbered part, chapter or page, has a file named NN_... with NN its number in the book; the appendix is AN_name."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    numbering = scaffold.toc_numbering(toc)
    assert numbering and [number for _, number in numbering] == list(range(1, len(numbering) + 1))
    for file, number in numbering:
        assert file.rsplit("/", 1)[-1].startswith(f"{number:02d}_"), (file, number)
    chapters = book.chapters()
    in_book = {file.rsplit("/", 1)[-1]: number for file, number in numbering}
    assert {c.stem: c.number for c in chapters if not c.appendix} == {stem: n for stem, n in in_book.items() if (ROOT / "notebooks" / f"{stem}.py").is_file()}
    appendices = [c for c in chapters if c.appendix]
    assert [c.stem for c in appendices] == ["A1_verdicts"] and appendices[0].label == "A1" and chapters[-1] == appendices[0]
    appendix_part = next(part for part in toc["parts"] if part["caption"] == scaffold.APPENDICES)
    assert not appendix_part.get("numbered") and {"file": "book/chapters/A1_verdicts"} in appendix_part["chapters"]


def test_chapters_are_picked_by_number_and_appendices_by_their_label(root):
    assert [c.name for c in book.select(["9", "09", "A1"], root / "notebooks")] == ["many_modes", "verdicts"]
    assert [c.name for c in book.select(["1"], root / "notebooks")] == ["attention_mechanisms"]  # not the appendix A1
    with pytest.raises(ValueError, match="unknown chapter '11'"):
        book.select(["11"], root / "notebooks")  # chapter 11 is a page, "Extending the book"


def test_a_new_chapter_takes_the_next_chapter_number_whatever_the_appendices(root):
    shutil.copy2(root / "notebooks" / "A1_verdicts.py", root / "notebooks" / "A20_verdicts_again.py")  # an appendix numbered high
    last = max(c.number for c in book.chapters(root / "notebooks") if not c.appendix)
    source = scaffold.new_chapter("demo", root=root)
    assert source.name == f"{last + 1:02d}_demo.py" and last + 1 == 13
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    assert scaffold.toc_numbering(toc)[-1] == ("book/chapters/13_demo", 13)


def test_the_order_rule_names_a_file_number_the_table_of_contents_contradicts(root):
    chapters = book.chapters(root / "notebooks")
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    extensions = next(part for part in toc["parts"] if part["caption"] == scaffold.EXTENSIONS)
    extensions["chapters"][0] = {"file": "book/extending"}  # the page's former, unnumbered name
    assert "book/extending is number 11 of the table of contents: its file name must start with 11_" in scaffold.toc_order_problems(toc, chapters)
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    appendix = {"file": "book/chapters/A1_verdicts"}
    next(part for part in toc["parts"] if part["caption"] == scaffold.APPENDICES)["chapters"].remove(appendix)
    toc["parts"][0]["chapters"].append(appendix)
    problems = scaffold.toc_order_problems(toc, chapters)
    assert "the appendix A1_verdicts must be listed in 'Appendices', not in 'Background'" in problems
    assert any(p.startswith("book/chapters/02_energy_estimation is number 3") for p in problems)


def test_new_refuses_a_number_the_table_of_contents_would_contradict_and_writes_nothing(root):
    shutil.copy2(root / "notebooks" / "12_beyond_gaussian.py", root / "notebooks" / "13_draft.py")  # a chapter not listed in _toc.yml
    files = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    with pytest.raises(ValueError, match="14_demo is number 13 of the table of contents"):
        scaffold.new_chapter("demo", root=root)
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == files
