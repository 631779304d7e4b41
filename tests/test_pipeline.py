"""The book pipeline: every chapter executes in the quick profile and the book builds from it."""
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from emma_book import build as book
from emma_book import cells, cli, layout, params, pdf, rerun, update

ROOT = Path(__file__).resolve().parent.parent


def _copy_book_sources(destination: Path) -> None:
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, destination / name)
    shutil.copytree(ROOT / "book", destination / "book", ignore=shutil.ignore_patterns("chapters"))
    shutil.copytree(ROOT / "notebooks", destination / "notebooks")


# The quick-profile book is executed and built once per test run. tests/test_browser.py opens
# the same build: its fixture calls `built_quick_book`, which remembers the build here (pytest
# would run a fixture imported into another module a second time).
_SESSION: dict = {}

# What a checkout may hold beside the book: each file would be a Sphinx warning if it were read.
# Files under a hidden folder (a package's .github/) escape `only_build_toc_files`: a plain
# build of the checkout reads them and fails with "document isn't included in any toctree".
STRAYS = {
    "venv2/lib/python3.11/site-packages/some_package/.github/ISSUE_TEMPLATE/bug_report.md": "# Report a bug\n",
    "venv2/lib/python3.11/site-packages/some_package/README.md": "# A package's readme\n\n{ref}`nowhere`\n",
    "venv2/share/jupyter/kernels/broken.ipynb": "{ not a notebook",
    "node_modules/some-package/.github/README.md": "# readme\n\n```{no-such-directive}\n```\n",
    "node_modules/some-package/docs/guide.ipynb": "{ not a notebook either",
    "notes.md": "# Stray notes\n\n[a link to nowhere](missing.md)\n",
}
QUICK_HTML = ROOT / "_build" / "quick-html"  # the checked quick-profile site, kept for a look (CI uploads it)


def _once(key: str, make):
    """``make()``, once per test run; a failure is remembered and raised again, not retried."""
    if key not in _SESSION:
        try:
            _SESSION[key] = make()
        except Exception as error:  # noqa: BLE001 - re-raised below, to every test that needs it
            _SESSION[key] = error
    if isinstance(_SESSION[key], Exception):
        raise _SESSION[key]
    return _SESSION[key]


def executed_quick_book(tmp_path_factory) -> Path:
    """Every chapter executed in the quick profile into a scratch copy of the book's sources."""

    def execute_all() -> Path:
        root = tmp_path_factory.mktemp("book")
        _copy_book_sources(root)
        chapters = book.select([])  # the book's order (_toc.yml), as `emma-book run`: the appendix after the extensions
        profile = params.read_parameter_file(layout.PROFILES / "quick.yaml")  # as `emma-book run --profile quick`
        parameters, _ = params.resolve_parameters(chapters, [profile, {"device": "cpu", "output_dir": str(root / "_build")}])
        for chapter in chapters:
            output = root / "book" / "chapters" / f"{chapter.stem}.ipynb"
            own = parameters[chapter.name]
            key = rerun.run_key(chapter, own, output.parent)
            with rerun.recording_reads(root / "_build" / "reads.jsonl") as log:  # the build publishes only what runs recorded as written
                book.execute(chapter, own, output=output, progress=False)
            writes = rerun.logged_writes(log, own)
            rerun.store_key(output, rerun.with_reads(key, rerun.logged_reads(log, own), writes))  # as `emma-book run` does
        return root

    return _once("executed", execute_all)


def built_quick_book(tmp_path_factory) -> tuple[Path, int]:
    """The quick-profile book built (strict) in a checkout that also holds STRAYS: its root and exit code.

    A successful build's HTML is also copied to ``_build/quick-html``.
    """

    def build() -> tuple[Path, int]:
        root = executed_quick_book(tmp_path_factory)
        for name, text in STRAYS.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text)
        code = book.build(root)
        if code == 0:
            shutil.rmtree(QUICK_HTML, ignore_errors=True)
            shutil.copytree(root / "_build" / "html", QUICK_HTML)
        return root, code

    return _once("built", build)


@pytest.fixture(scope="session")
def quick_book(tmp_path_factory):
    return executed_quick_book(tmp_path_factory)


@pytest.fixture(scope="session")
def built_book(tmp_path_factory):
    return built_quick_book(tmp_path_factory)


def _toc_files(toc: dict) -> list[str]:
    """Every file ``toc`` lists, its entries' ``sections`` included (the API reference's pages), in its order."""
    files = []

    def add(entries):
        for entry in entries or []:
            files.append(entry["file"])
            add(entry.get("sections"))

    for part in toc.get("parts", []):
        add(part.get("chapters"))
    return files


def test_toc_lists_every_chapter_in_order():
    """_toc.yml lists every chapter of notebooks/ once. Read part by part the chapter numbers rise,
    except in the part "Extensions": its chapters (written by `emma-book new`) take the numbers after
    every other chapter, so no chapter is renumbered, and the part sits just before "Appendices",
    which stays last (emma_book.scaffold.toc_order_problems states the rule; README, "Adding a chapter").
    """
    from emma_book import scaffold

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    assert scaffold.toc_order_problems(toc, book.chapters()) == []
    listed = [f.split("/")[-1] for f in _toc_files(toc) if f.startswith("book/chapters/")]
    assert sorted(listed) == sorted(chapter.stem for chapter in book.chapters())


def test_every_chapter_starts_with_title_then_parameters():
    import jupytext

    for chapter in book.chapters():
        cells = jupytext.read(chapter.source).cells
        assert cells[0].cell_type == "markdown" and cells[0].source.startswith("# "), chapter.name
        assert "parameters" in cells[1].metadata.get("tags", []), chapter.name
        declared = chapter.parameters()
        assert {"profile", "device", "output_dir"} <= set(declared), chapter.name
        assert "seed" not in declared, f"{chapter.name}: one vocabulary across chapters, seeds (a list)"
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
    with pytest.raises(ValueError, match="unknown chapter 'nope'; known chapters: attention_mechanisms, energy_estimation"):
        book.select(["nope"])


def test_list_prints_name_then_title():
    output = subprocess.run([sys.executable, "-m", "emma_book", "list"], capture_output=True, text=True, check=True).stdout
    lines = output.strip().splitlines()
    assert len(lines) == len(book.chapters())
    assert lines[0].split()[0] == "attention_mechanisms" and "Attention mechanisms" in lines[0]


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
    monkeypatch.setattr(layout, "NOTEBOOKS", tmp_path / "notebooks")
    out = tmp_path / "out"
    code = cli.main(["run", "broken", "--profile", "quick", "--device", "cpu", "-p", "output_dir", str(out)])
    error = capsys.readouterr().err
    assert code == 1
    assert "chapter 'broken' failed" in error
    assert "RuntimeError: deliberate failure" in error
    assert 'raise RuntimeError("deliberate failure")' in error
    assert not (out / "chapters" / "01_broken.ipynb").exists(), "a failed chapter must not reach the book"
    assert (out / "failed" / "01_broken" / "01_broken.ipynb").exists()  # under the run's output folder


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
def test_book_builds_without_warnings_and_shows_every_chapter(built_book):
    root, code = built_book
    assert code == 0, "the strict build failed: see the Sphinx output above"
    html = root / "_build" / "html"
    assert (html / "index.html").exists()
    for chapter in book.chapters():
        page = (html / "book" / "chapters" / f"{chapter.stem}.html").read_text()
        assert "# Parameters" not in page, f"{chapter.name}: papermill's injected cell is on the page"
        assert "find_spec" not in page, f"{chapter.name}: the install cell is on the page"
        assert "<img" in page, f"{chapter.name}: no figure on the page"
        assert "<table" in page, f"{chapter.name}: no table on the page"


def test_the_landing_page_and_the_conclusion_count_the_claims_of_book_claims_chapter_12_included(built_book):
    import html as html_lib

    import pandas as pd

    from emma.claims.report import claim_counts

    root, code = built_book
    assert code == 0, "the strict build failed: see the Sphinx output above"
    claims = pd.read_csv(root / "_build" / "tables" / "book_claims.csv")
    assert "Beyond Gaussian noise" in set(claims["chapter"]), "chapter 12's claims are not counted"
    by_kind = claim_counts(claims, by="kind")
    core = ", ".join(f"{int(by_kind.loc['core', v])} {v}" for v in by_kind.columns)
    for page in ("intro.html", "chapters/10_conclusion.html"):
        text = re.sub(r"\s+", " ", html_lib.unescape(re.sub(r"<[^>]+>", "", (root / "_build" / "html" / "book" / page).read_text())))
        assert f"Of the {len(claims)} claims judged" in text or f"of {len(claims)} claims" in text, f"{page}: the number of claims differs"
        assert core in text, f"{page}: the core claims' tally differs from book_claims.csv ({core})"


def test_no_claim_of_the_book_is_reproduced_without_surviving_holm(quick_book):
    import pandas as pd

    claims = pd.read_csv(quick_book / "_build" / "tables" / "book_claims.csv")
    assert {"quote", "location", "min_effect", "effect", "ci_low", "ci_high", "n_seeds", "detectable_effect", "p_holm"} <= set(claims.columns)
    assert set(claims["verdict"]) <= {"reproduced", "rule-dependent", "partly reproduced", "inconclusive", "not reproduced"}
    positive = claims[claims["verdict"].isin(["reproduced", "rule-dependent"])]
    assert not (positive["p_holm"] >= 0.05).any(), positive.loc[positive["p_holm"] >= 0.05, ["chapter", "claim", "p_holm"]]


@pytest.mark.slow
def test_stray_environments_and_notes_in_the_checkout_add_no_warning(built_book):
    root, code = built_book
    assert all((root / name).exists() for name in STRAYS)
    assert code == 0, "a strict build in a checkout with a venv2/, a node_modules/ and stray notes failed"
    staged = {path.relative_to(root / book.STAGING).parts[0] for path in (root / book.STAGING).rglob("*")}
    assert staged == {"_config.yml", "_toc.yml", "book", "_extra", "_vendor"}


@pytest.mark.slow
def test_mathjax_is_served_by_the_site_and_no_page_names_a_cdn(built_book):
    root, _ = built_book
    html = root / "_build" / "html"
    assert (html / "_static" / "mathjax" / book.MATHJAX_ENTRY).exists()
    assert (html / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2").is_dir()
    pages_with_math = 0
    for page in html.rglob("*.html"):
        text = page.read_text()
        assert not re.search(r"https?://[^\"'\s]*mathjax", text, flags=re.IGNORECASE), f"{page}: MathJax from the web"
        scripts = re.findall(r'<script[^>]*src="([^"]*(?:mathjax|tex-[a-z-]*\.js)[^"]*)"', text, flags=re.IGNORECASE)
        assert all(re.match(r"(\.\./)*_static/mathjax/tex-chtml\.js", src) for src in scripts), (page, scripts)
        pages_with_math += bool(scripts)
    assert pages_with_math >= 2, "MathJax is loaded on no page"


@pytest.mark.slow
def test_chapter_pages_offer_both_sources_and_launch_their_notebook(built_book):
    root, _ = built_book
    html = root / "_build" / "html"
    repository = book.repository_url(ROOT)
    org_repo = repository.split("github.com/")[1]
    for chapter in book.chapters():
        page_path = html / "book" / "chapters" / f"{chapter.stem}.html"
        page = page_path.read_text()
        for suffix in (".ipynb", ".py"):
            links = re.findall(rf'href="([^":]*{chapter.stem}{re.escape(suffix)})"', page)  # in the site
            assert links, f"{chapter.name}: no download link for its {suffix}"
            assert all((page_path.parent / link).resolve().exists() for link in links), (chapter.name, links)
        notebook = f"book/chapters/{chapter.stem}.ipynb"
        assert f"https://mybinder.org/v2/gh/{org_repo}/notebooks?urlpath=lab/tree/{notebook}" in page
        assert f"https://colab.research.google.com/github/{org_repo}/blob/notebooks/{notebook}" in page
        assert f'href="{repository}"' in page, f"{chapter.name}: no repository button"


@pytest.mark.slow
def test_every_chapter_opens_with_a_hidden_cell_that_installs_the_package_elsewhere(quick_book):
    for chapter in book.chapters():
        first = nbformat.read(quick_book / "book" / "chapters" / f"{chapter.stem}.ipynb", as_version=4).cells[0]
        assert {"remove-cell", book.INSTALL_TAG} <= set(first.metadata["tags"]), chapter.name
        assert f'%pip install --quiet "emma-book @ git+{book.repository_url(ROOT)}@' in first.source  # pinned to a commit
        assert first.outputs == [], f"{chapter.name}: the install cell did something inside the checkout"


def test_the_install_cell_comes_first_once_and_installs_only_without_emma():
    import jupytext

    notebook = book.fold_boilerplate(jupytext.read(book.chapters()[0].source))
    cells = len(notebook.cells)
    notebook = book.add_install_cell(book.add_install_cell(notebook, "https://example.org/r"), "https://example.org/r")
    assert len(notebook.cells) == cells + 1
    first = notebook.cells[0]
    assert first.metadata["tags"] == ["remove-cell", book.INSTALL_TAG]
    guard, install = first.source.splitlines()[-2:]
    assert guard == 'if importlib.util.find_spec("emma") is None:'
    assert install.strip() == f'%pip install --quiet "emma-book @ git+https://example.org/r@{book.package_revision()}"'


def _fake_checkout(root: Path, executed: Path) -> None:
    """The book's sources, an empty executed notebook per chapter in ``executed``, and STRAYS."""
    root.mkdir(parents=True, exist_ok=True)
    _copy_book_sources(root)
    executed.mkdir(parents=True, exist_ok=True)
    for chapter in book.chapters():
        nbformat.write(nbformat.v4.new_notebook(), executed / f"{chapter.stem}.ipynb")
        rerun.store_key(executed / f"{chapter.stem}.ipynb", {"key": "", "parts": {"source": "fake"}})  # with the notebook's digest, as a run
    for name, text in STRAYS.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def test_staging_holds_the_book_and_nothing_else_of_the_checkout(tmp_path):
    _fake_checkout(tmp_path, tmp_path / "book" / "chapters")
    (tmp_path / "book" / "chapters" / ".02_energy_estimation.partial.ipynb").write_text("{}")
    staging = book.stage(tmp_path)
    staged = {p.relative_to(staging).as_posix() for p in staging.rglob("*") if p.is_file() and "_vendor" not in p.parts}
    pages = {p.relative_to(tmp_path).as_posix() for p in (tmp_path / "book").rglob("*") if p.is_file() and "chapters" not in p.parts}
    executed = {f"book/chapters/{c.stem}.ipynb" for c in book.chapters()}
    sources = {f"_extra/notebooks/{c.source.name}" for c in book.chapters()}
    assert staged == {"_config.yml", "_toc.yml", "book/run_record.md"} | pages | executed | sources  # run_record: generated
    assert (staging / "_vendor" / "mathjax" / book.MATHJAX_ENTRY).exists()
    assert (staging / "_vendor" / "mathjax" / "LICENSE").exists()


def test_build_refuses_a_notebook_that_run_did_not_finish_naming_the_chapter(tmp_path):
    executed = tmp_path / "book" / "chapters"
    _fake_checkout(tmp_path, executed)
    first = book.chapters()[0]
    nbformat.write(nbformat.v4.new_notebook(), executed / f"{first.stem}.ipynb")  # no run key
    with pytest.raises(ValueError, match=f"chapter '{first.name}'.*no run key"):
        book.stage(tmp_path)
    failed = nbformat.v4.new_notebook(metadata={rerun.METADATA_KEY: {"source": "fake"}})
    failed.cells = [nbformat.v4.new_code_cell("1 / 0", outputs=[nbformat.v4.new_output("error", ename="ZeroDivisionError", evalue="", traceback=[])])]
    nbformat.write(failed, executed / f"{first.stem}.ipynb")
    with pytest.raises(ValueError, match=f"chapter '{first.name}'.*error output"):
        book.stage(tmp_path)


def test_build_takes_the_executed_notebooks_from_another_folder(tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    _fake_checkout(tmp_path / "root", elsewhere)
    marked = book.chapters()[0].stem
    nbformat.write(nbformat.v4.new_notebook(metadata={"marker": "elsewhere"}), elsewhere / f"{marked}.ipynb")
    rerun.store_key(elsewhere / f"{marked}.ipynb", {"key": "", "parts": {"source": "fake"}})
    staging = book.stage(tmp_path / "root", executed=elsewhere)
    assert nbformat.read(staging / "book" / "chapters" / f"{marked}.ipynb", as_version=4).metadata["marker"] == "elsewhere"

    calls, editions, updates = [], [], []
    monkeypatch.setattr(book, "build", lambda **kwargs: calls.append(kwargs) or 0)
    monkeypatch.setattr(pdf, "edition", lambda **kwargs: editions.append(kwargs) or 0)  # the PDF, then the HTML book with it
    monkeypatch.setattr(update, "bring_up_to_date", lambda *args: updates.append(args) or [])  # executes nothing here
    assert cli.main(["build", "--chapters", str(elsewhere)]) == 0
    assert cli.main(["build", "--pdf"]) == 0
    assert calls == [{"strict": True, "executed": elsewhere, "builder": "html"}]
    assert editions == [{"executed": None, "strict": True}]
    assert updates == [(elsewhere, None, None), (None, None, None)]  # the chapters brought up to date first (tests/test_build_update.py)


def test_citation_cites_the_book_and_the_thesis():
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert citation["cff-version"].startswith("1.2") and citation["type"] == "software"
    assert citation["title"] == "Energy-based Multi-Modal Attention, reproduced"
    assert set(citation["license"]) == {"MIT", "CC-BY-4.0"}  # the code; the text and figures
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    thesis = next(reference for reference in citation["references"] if reference["type"] == "thesis")
    assert thesis["title"] == "Energy-based Multi-Modal Attention"
    assert thesis["authors"] == [{"family-names": "Werenne", "given-names": "Aurélien"}]
    assert thesis["year"] == 2019 and thesis["institution"]["name"] == "University of Liège"


def test_build_refuses_when_a_chapter_was_not_executed(tmp_path):
    _copy_book_sources(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"not been executed yet \(no notebook in .*\): .*energy_estimation"):
        book.build(tmp_path)


@pytest.mark.slow
def test_readme_papermill_recipe_reexecutes_a_chapter_with_changed_parameters(tmp_path):
    bin_dir = Path(sys.executable).parent
    notebook, executed = tmp_path / "energy.ipynb", tmp_path / "energy-out.ipynb"
    subprocess.run([str(bin_dir / "jupytext"), "--to", "ipynb", "notebooks/02_energy_estimation.py", "-o", str(notebook)],
                   cwd=ROOT, check=True, capture_output=True)
    subprocess.run(
        [str(bin_dir / "papermill"), str(notebook), str(executed), "-p", "profile", "quick", "-p", "device", "cpu",
         "-y", "seeds: [3]", "-p", "output_dir", str(tmp_path / "out")],
        cwd=ROOT, check=True, capture_output=True,
    )
    table = (tmp_path / "out" / "tables" / "energy_estimator_separation.csv").read_text()
    assert "seeds" in table.splitlines()[0]
    injected = [c for c in nbformat.read(executed, as_version=4).cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert "seeds = [3]" in injected[0].source


def test_the_parameters_setup_and_figure_cells_are_folded_and_prose_is_not():
    import jupytext

    notebook = book.fold_boilerplate(jupytext.read(book.chapters()[0].source))
    folded = [c for c in notebook.cells if "hide-input" in c.metadata.get("tags", [])]
    assert "parameters" in folded[0].metadata["tags"]
    assert all(c.cell_type == "code" for c in folded)
    assert any(c.source.startswith(("import", "from")) for c in folded[1:])
    assert not cells._is_setup("fig, ax = plt.subplots()\nimport os")
    drawing = [c for c in notebook.cells if c.cell_type == "code" and "save_figure(" in c.source]
    assert drawing and all("hide-input" in c.metadata.get("tags", []) for c in drawing)
    computing = [c for c in notebook.cells if c.cell_type == "code" and "save_table(" in c.source and "save_figure(" not in c.source]
    short = [c for c in computing if not cells._is_long(c.source)]
    assert short and not any("hide-input" in c.metadata.get("tags", []) for c in short), "a short table's cell stays open"
    long = [c for c in notebook.cells if c.cell_type == "code" and cells._is_long(c.source)]
    assert all("hide-input" in c.metadata.get("tags", []) for c in long), "a cell of more than LONG_CELL lines is folded"


def test_profiles_are_parameter_files_that_name_real_chapters_and_parameters():
    """The quick profile is a set of defaults that -p and -f override, never a cell that reassigns."""
    chapters = book.chapters()
    for name in ("quick", "full"):
        layer = params.read_parameter_file(layout.PROFILES / f"{name}.yaml")
        assert layer["profile"] == name
        params.resolve_parameters(chapters, [layer])  # raises on a chapter section naming an undeclared parameter
    for chapter in chapters:
        assert not re.search(r"profile\)?\s*==\s*[\"']quick", chapter.source.read_text()), f"{chapter.name} reassigns parameters in the quick profile"
    quick = params.read_parameter_file(layout.PROFILES / "quick.yaml")
    parameters, _ = params.resolve_parameters(chapters, [quick, {"epochs": 2}])
    assert all(p["epochs"] == 2 for name, p in parameters.items() if "epochs" in dict(book.select([name])[0].parameters()))


def test_the_page_how_this_book_was_run_lists_each_chapter_with_what_produced_it(quick_book):
    from emma_book import record

    executed = {c.title: quick_book / "book" / "chapters" / f"{c.stem}.ipynb" for c in book.chapters()}
    records = record.run_records(executed)
    assert list(records["chapter"]) == list(executed)
    assert set(records["profile"]) == {"quick"}
    assert records["duration_s"].notna().all() and (records["duration_s"] > 0).all()
    assert records["machine"].str.startswith(("CPU: ", "GPU: ")).all()
    assert (records["torch"] != "not recorded").all() and records["commit"].str.len().gt(0).all()
    page = record.run_record_page(executed)
    assert page.startswith("# How this book was run") and all(title in page for title in executed)
