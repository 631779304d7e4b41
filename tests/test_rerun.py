"""What a run executes (emma_book.rerun): parameters applied where declared, run keys, skipping, output folders."""
import json
import shutil
from pathlib import Path

import nbformat
import pytest

from emma_book import build as book
from emma_book import cli, layout, params, rerun

CHAPTER = '''# %% [markdown]
# # {title}

# %% tags=["parameters"]
profile = "full"
device = "auto"
output_dir = "_build"
{extra}

# %%
print(profile)
'''


def _chapters(tmp_path: Path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    (folder / "01_alpha.py").write_text(CHAPTER.format(title="Alpha", extra="seeds = [0, 1]\nepochs = 3"))
    (folder / "02_beta.py").write_text(CHAPTER.format(title="Beta", extra="epochs = 5"))
    return book.chapters(folder)


def test_a_parameter_applies_where_declared_and_is_reported_elsewhere(tmp_path):
    chapters = _chapters(tmp_path)
    parameters, not_declared = params.resolve_parameters(chapters, [{"profile": "quick"}, {"seeds": [7]}])
    assert parameters["alpha"] == {"profile": "quick", "seeds": [7]}
    assert parameters["beta"] == {"profile": "quick"}
    assert not_declared == {"seeds": ["beta"]}


def test_later_layers_win_and_chapter_sections_hold_their_own_values(tmp_path):
    chapters = _chapters(tmp_path)
    profile = {"profile": "quick", "alpha": {"epochs": 1}, "beta": {"epochs": 2}}
    parameters, _ = params.resolve_parameters(chapters, [profile, {"epochs": 9}])
    assert parameters["alpha"]["epochs"] == 9 and parameters["beta"]["epochs"] == 9  # -p wins over the profile
    parameters, _ = params.resolve_parameters(chapters, [{"epochs": 9}, profile])
    assert (parameters["alpha"]["epochs"], parameters["beta"]["epochs"]) == (1, 2)


def test_a_key_no_chapter_declares_is_an_error_naming_it(tmp_path):
    chapters = _chapters(tmp_path)
    with pytest.raises(ValueError, match="nonsense"):
        params.resolve_parameters(chapters, [{"nonsense": 1}])
    with pytest.raises(ValueError, match="beta.*seeds"):
        params.resolve_parameters(chapters, [{"beta": {"seeds": [1]}}])


def test_a_parameter_file_must_be_a_mapping(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("- 1\n- 2\n")
    with pytest.raises(ValueError, match="mapping"):
        params.read_parameter_file(path)
    with pytest.raises(FileNotFoundError, match="missing.yaml"):
        params.read_parameter_file(tmp_path / "missing.yaml")


def test_the_run_key_changes_with_each_input_and_stale_says_which(tmp_path):
    chapter = _chapters(tmp_path)[0]
    executed = tmp_path / "chapters" / f"{chapter.stem}.ipynb"
    executed.parent.mkdir()
    key = rerun.run_key(chapter, {"epochs": 3}, executed.parent)
    assert rerun.stale(key, executed) == ["not executed yet"]
    nbformat.write(nbformat.v4.new_notebook(), executed)
    rerun.store_key(executed, key)
    assert rerun.stale(key, executed) == []
    assert rerun.stale(rerun.run_key(chapter, {"epochs": 4}, executed.parent), executed) == ["parameters changed"]
    package = rerun.package_digest(chapter.source)
    changed = rerun.run_key(chapter, {"epochs": 3}, executed.parent, package={**package, "emma/x.py": "other"})
    assert rerun.stale(changed, executed) == ["emma/x.py now imported"]
    chapter.source.write_text(chapter.source.read_text() + "\n# %%\nprint(1)\n")
    assert rerun.stale(rerun.run_key(chapter, {"epochs": 3}, executed.parent), executed) == ["chapter source changed"]


def test_the_stored_key_holds_the_notebook_s_digest_so_an_edited_notebook_is_stale(tmp_path):
    chapter = _chapters(tmp_path)[0]
    executed = tmp_path / "chapters"
    executed.mkdir()
    path = executed / f"{chapter.stem}.ipynb"
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("count", outputs=[nbformat.v4.new_output("execute_result", data={"text/plain": "17898"}, execution_count=1)])]
    nbformat.write(notebook, path)
    stored = rerun.store_key(path, rerun.run_key(chapter, {}, executed))
    assert rerun.stored_key(path) == stored and stored["parts"][rerun.NOTEBOOK] == rerun.notebook_digest(path)
    key = rerun.run_key(chapter, {}, executed)
    assert rerun.stale(key, path) == []
    path.write_text(json.dumps(json.loads(path.read_text()), indent=4))  # laid out otherwise, the same notebook
    assert rerun.stale(key, path) == []
    path.write_text(path.read_text().replace("17898", "99999"))
    assert rerun.stale(key, path) == ["executed notebook changed since the run wrote it"]
    edited = nbformat.read(path, as_version=4)
    edited.metadata[rerun.METADATA_KEY] = {"key": "old", "parts": {k: v for k, v in stored["parts"].items() if k != rerun.NOTEBOOK}}
    nbformat.write(edited, path)
    assert rerun.stale(key, path) == ["executed notebook not in its run key (executed before it was)"]
    path.write_text("{ not json")
    with pytest.raises(ValueError, match="is not a notebook"):
        rerun.notebook_digest(path)


def _keys_after_reads(tmp_path: Path, chapters, out: Path):
    """Each chapter's key as `emma-book run` stores it, with the reads its body made under recording_reads."""
    import pandas as pd

    from emma.claims.report import read_table
    from emma.util.outputs import save_table

    bodies = {  # what each chapter's kernel would do; the log records it in this process as in a kernel
        "alpha": lambda: save_table(pd.DataFrame({"x": [1, 2]}), "alpha_numbers", out),
        "beta": lambda: (save_table(pd.DataFrame({"y": [3]}), "beta_own", out), read_table(out, "alpha_numbers"), read_table(out, "beta_own")),
        "gamma": lambda: None,
    }
    executed = out / "chapters"
    executed.mkdir(parents=True, exist_ok=True)
    parameters = {"output_dir": str(out)}
    for chapter in chapters:
        key = rerun.run_key(chapter, parameters, executed)
        with rerun.recording_reads(tmp_path / "reads.jsonl") as log:
            bodies[chapter.name]()
        path = executed / f"{chapter.stem}.ipynb"
        nbformat.write(nbformat.v4.new_notebook(), path)
        rerun.store_key(path, rerun.with_reads(key, rerun.logged_reads(log, parameters)))
    return executed, parameters


def test_a_changed_table_makes_stale_the_chapter_that_read_it_and_names_it(tmp_path):
    chapters = _chapters(tmp_path)
    (tmp_path / "notebooks" / "03_gamma.py").write_text(CHAPTER.format(title="Gamma", extra=""))
    chapters = book.chapters(tmp_path / "notebooks")
    out = tmp_path / "out"
    executed, parameters = _keys_after_reads(tmp_path, chapters, out)

    def status():
        return {c.name: rerun.stale(rerun.run_key(c, parameters, executed), executed / f"{c.stem}.ipynb") for c in chapters}

    stored = {c.name: rerun.stored_key(executed / f"{c.stem}.ipynb")["parts"] for c in chapters}
    assert list(stored["beta"]["reads"]) == ["tables/alpha_numbers.csv"]  # its own table is no read
    assert "reads" not in stored["alpha"] and "reads" not in stored["gamma"]  # a chapter that reads nothing
    assert status() == {"alpha": [], "beta": [], "gamma": []}
    table = out / "tables" / "alpha_numbers.csv"
    same = table.read_bytes()
    table.write_bytes(same)  # written again, the same bytes: nothing to do
    assert status() == {"alpha": [], "beta": [], "gamma": []}
    table.write_text("x\n1\n2\n3\n")
    assert status() == {"alpha": [], "beta": ["tables/alpha_numbers.csv changed"], "gamma": []}
    table.unlink()
    assert status()["beta"] == ["tables/alpha_numbers.csv missing"]
    table.write_bytes(same)
    assert status()["beta"] == []


def test_the_log_outside_a_run_is_silent_and_a_missing_log_is_named(tmp_path, monkeypatch):
    import pandas as pd

    from emma.claims.report import read_table
    from emma.util.outputs import READS_LOG, save_table

    monkeypatch.delenv(READS_LOG, raising=False)
    save_table(pd.DataFrame({"x": [1]}), "t", tmp_path)
    assert read_table(tmp_path, "t")["x"].tolist() == [1]
    assert not list(tmp_path.glob("*.jsonl"))
    with pytest.raises(FileNotFoundError, match="nowhere.jsonl"):
        rerun.logged_reads(tmp_path / "nowhere.jsonl", {})
    with pytest.raises(ValueError, match="name must be"):
        read_table(tmp_path, "")


def test_a_key_stored_before_reads_were_recorded_says_its_parts_changed(tmp_path):
    chapter = _chapters(tmp_path)[0]
    executed = tmp_path / "chapters"
    executed.mkdir()
    path = executed / f"{chapter.stem}.ipynb"
    key = rerun.run_key(chapter, {}, executed)
    old = {"key": "0", "parts": {**key["parts"], "chapters read": "abc"}}
    nbformat.write(nbformat.v4.new_notebook(), path)
    rerun.store_key(path, old)
    assert rerun.stale(key, path) == ["chapters read no longer part of the key"]


@pytest.mark.slow
def test_run_records_what_a_chapter_read_in_its_kernel(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    writer = CHAPTER.format(title="Writer", extra="value = 1") + (
        "\n# %%\nimport pandas as pd\nfrom emma.util.outputs import save_table\n"
        "save_table(pd.DataFrame({'x': [value]}), 'writer_numbers', output_dir)\n")
    reader = CHAPTER.format(title="Reader", extra="") + (
        "\n# %%\nfrom emma.claims.report import read_table\nprint(read_table(output_dir, 'writer_numbers'))\n")
    (folder / "01_writer.py").write_text(writer)
    (folder / "02_reader.py").write_text(reader)
    monkeypatch.setattr(layout, "NOTEBOOKS", folder)
    out = ["--profile", "quick", "--device", "cpu", "-p", "output_dir", str(tmp_path / "out")]
    assert cli.main(["run", *out]) == 0
    key = rerun.stored_key(tmp_path / "out" / "chapters" / "02_reader.ipynb")
    assert list(key["parts"]["reads"]) == ["tables/writer_numbers.csv"]
    assert not list((tmp_path / "out" / "chapters").glob(".*"))  # no log left behind
    capsys.readouterr()
    assert cli.main(["run", "writer", *out, "-p", "value", "2"]) == 0
    assert cli.main(["status", "reader", *out]) == 0
    assert capsys.readouterr().out.splitlines()[-1].split(None, 1)[1].strip() == "stale: tables/writer_numbers.csv changed"
    assert cli.main(["run", "reader", *out]) == 0
    assert cli.main(["status", "reader", *out]) == 0
    assert capsys.readouterr().out.splitlines()[-1].split(None, 1)[1].strip() == "up to date"


def test_a_run_into_another_output_dir_leaves_the_book_pages_alone(tmp_path):
    chapter = book.chapters()[0]
    assert book.executed_path(chapter) == layout.EXECUTED / f"{chapter.stem}.ipynb"
    assert book.executed_path(chapter, "_build") == layout.EXECUTED / f"{chapter.stem}.ipynb"
    assert book.executed_path(chapter, tmp_path / "elsewhere") == tmp_path / "elsewhere" / "chapters" / f"{chapter.stem}.ipynb"


def _package(tmp_path: Path) -> Path:
    """A small package ``emma``: a imports b (relatively), c stands alone, sub/d imports b from the parent."""
    package = tmp_path / "pkg" / "emma"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("from .a import f\n")
    (package / "a.py").write_text("import math\nfrom .b import g\n\ndef f():\n    return g()\n")
    (package / "b.py").write_text("def g():\n    from . import e\n    return 1\n")
    (package / "c.py").write_text("import numpy\n")
    (package / "e.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "d.py").write_text("from .. import b\n")
    return package


def test_the_import_graph_follows_absolute_and_relative_imports_and_ignores_the_rest(tmp_path):
    package = _package(tmp_path)

    def modules(source):
        path = tmp_path / "chapter.py"
        path.write_text(source)
        return [p.relative_to(package).as_posix() for p in rerun.package_modules(path, package)]

    assert modules("from emma.a import f\nimport numpy\n") == ["a.py", "b.py", "e.py"]
    assert modules("from emma import c\n") == ["c.py"]
    assert modules("import emma.c\n") == ["c.py"]
    assert modules("from emma import f\n") == ["__init__.py", "a.py", "b.py", "e.py"]  # a name __init__ re-exports
    assert modules("import emma\n") == ["__init__.py", "a.py", "b.py", "e.py"]
    assert modules("from emma.sub.d import b\n") == ["b.py", "e.py", "sub/d.py"]  # sub/__init__.py is empty: passed through
    assert modules("import os\n") == []


def test_a_reexporting_init_counts_only_the_names_taken_from_it(tmp_path):
    package = _package(tmp_path)
    (package / "eng").mkdir()
    (package / "eng" / "__init__.py").write_text('"""Re-exports."""\nfrom emma.eng.x import X\nfrom .y import Y as Why\n__all__ = ["X", "Why"]\n')
    (package / "eng" / "x.py").write_text("X = 1\n")
    (package / "eng" / "y.py").write_text("from emma.c import *\nY = 2\n")
    (package / "busy").mkdir()
    (package / "busy" / "__init__.py").write_text("from .x import X\nSETTING = X + 1\n")  # does more than re-export
    (package / "busy" / "x.py").write_text("X = 1\n")
    (package / "busy" / "z.py").write_text("Z = 1\n")

    def modules(source):
        path = tmp_path / "chapter.py"
        path.write_text(source)
        return [p.relative_to(package).as_posix() for p in rerun.package_modules(path, package)]

    assert modules("from emma.eng.x import X\n") == ["eng/x.py"]  # passing through eng/__init__.py counts nothing of it
    assert modules("import emma.eng.x\n") == ["eng/x.py"]
    assert modules("from emma.eng import X\n") == ["eng/__init__.py", "eng/x.py"]
    assert modules("from emma.eng import Why\n") == ["c.py", "eng/__init__.py", "eng/y.py"]
    assert modules("from emma.eng import x\n") == ["eng/x.py"]  # a submodule
    assert modules("import emma.eng\n") == ["c.py", "eng/__init__.py", "eng/x.py", "eng/y.py"]  # the whole package
    assert modules("from emma import eng\n") == ["c.py", "eng/__init__.py", "eng/x.py", "eng/y.py"]
    assert modules("from emma.busy.z import Z\n") == ["busy/__init__.py", "busy/x.py", "busy/z.py"]  # executed on the way


def test_editing_one_engine_module_makes_stale_only_the_chapters_that_reach_it():
    """Importing emma.engine.<module> no longer counts every module emma/engine/__init__.py re-exports."""
    chapters = book.chapters()
    uses = {c.name: {p.relative_to(rerun.PACKAGE).as_posix() for p in rerun.package_modules(c.source)} for c in chapters}
    engine_users = {name for name, used in uses.items() if any(m.startswith("engine/") for m in used)}
    modules = sorted({m for used in uses.values() for m in used if m.startswith("engine/") and m != "engine/__init__.py"})
    reach = {m: {name for name, used in uses.items() if m in used} for m in modules}
    assert engine_users and any(users < engine_users for users in reach.values()), reach


def test_editing_a_module_makes_stale_only_the_chapters_that_import_it(tmp_path, monkeypatch):
    package = _package(tmp_path)
    monkeypatch.setattr(rerun, "PACKAGE", package)
    chapters = _chapters(tmp_path)
    alpha, beta = chapters
    alpha.source.write_text(alpha.source.read_text() + "\n# %%\nfrom emma.a import f\n")
    beta.source.write_text(beta.source.read_text() + "\n# %%\nfrom emma import c\n")
    executed = tmp_path / "chapters"
    executed.mkdir()
    for chapter in chapters:
        nbformat.write(nbformat.v4.new_notebook(), executed / f"{chapter.stem}.ipynb")
        rerun.store_key(executed / f"{chapter.stem}.ipynb", rerun.run_key(chapter, {}, executed))
    (package / "b.py").write_text((package / "b.py").read_text() + "# edited\n")
    assert rerun.stale(rerun.run_key(alpha, {}, executed), executed / "01_alpha.ipynb") == ["emma/b.py changed"]
    assert rerun.stale(rerun.run_key(beta, {}, executed), executed / "02_beta.ipynb") == []


def test_status_prints_one_line_per_chapter_and_names_what_changed(tmp_path, monkeypatch, capsys):
    package = tmp_path / "emma"
    shutil.copytree(rerun.PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(rerun, "PACKAGE", package)
    output = ["--profile", "quick", "-p", "output_dir", str(tmp_path / "out")]
    assert cli.main(["status", *output]) == 0
    lines = capsys.readouterr().out.splitlines()
    names = [chapter.name for chapter in book.select([])]  # the book's order, _toc.yml's
    assert [line.split()[0] for line in lines] == names
    assert all(line.endswith("stale: not executed yet") for line in lines)

    executed = tmp_path / "out" / "chapters"
    executed.mkdir(parents=True)
    selected, parameters, _ = cli._resolve(cli._parser().parse_args(["status", *output]))
    for chapter in selected:  # as if `emma-book run` had executed every chapter
        path = executed / f"{chapter.stem}.ipynb"
        nbformat.write(nbformat.v4.new_notebook(), path)
        rerun.store_key(path, rerun.run_key(chapter, parameters[chapter.name], executed))
    assert cli.main(["status", *output]) == 0
    assert all(line.endswith("up to date") for line in capsys.readouterr().out.splitlines())

    (package / "experiments" / "literature.py").write_text((package / "experiments" / "literature.py").read_text() + "\n# edited\n")
    assert cli.main(["status", *output]) == 0
    stale = [line.split(None, 1) for line in capsys.readouterr().out.splitlines() if "up to date" not in line]
    assert stale == [["attention_mechanisms", "stale: emma/experiments/literature.py changed"]]
    assert cli.main(["status", *output[:2], "-p", "output_dir", str(tmp_path / "out"), "-p", "device", "cpu"]) == 0
    assert all("parameters changed" in line for line in capsys.readouterr().out.splitlines())
