"""The book pipeline: find the chapters, execute them with papermill, build the HTML with Jupyter Book.

Chapters are the jupytext percent-format files ``notebooks/NN_name.py``. ``execute`` turns one into
a notebook, runs it with papermill (the only executor; Jupyter Book does not run anything again)
and writes the executed notebook to ``book/chapters/NN_name.ipynb`` for the book to render.
``build`` copies the book's own files into a staging folder (``stage``) and builds that, so nothing
else in the checkout reaches Sphinx; the book's Sphinx extension is :mod:`emma.book.theme`.
``emma-book build`` first executes the chapters whose runs are missing or
stale (:mod:`emma.book.update`); ``build`` itself executes nothing.
"""
from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import re
import secrets
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import jupytext
import nbformat
import papermill
import yaml
from nbclient.exceptions import DeadKernelError
from papermill.translators import papermill_translators
from traitlets.config import Config

from emma.book import publish, record, rerun, runs
from emma.book.cells import INSTALL_TAG, LONG_CELL, add_install_cell, fold_boilerplate, package_revision, repository_url  # noqa: F401 (the pipeline's API)
from emma.book.theme import PDF_EDITION
from emma.util.outputs import KINDS

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
EXECUTED = ROOT / "book" / "chapters"
PROFILES = ROOT / "profiles"  # quick.yaml, full.yaml: the parameters `emma-book run --profile` starts from
DEFAULT_OUTPUT_DIR = "_build"
_CHAPTER_FILE = re.compile(r"^(\d+)_([a-z0-9_]+)\.py$")


@dataclass(frozen=True)
class Chapter:
    """One chapter: ``name`` (e.g. ``energy_estimation``), its source and its executed notebook."""

    number: int
    name: str
    source: Path

    @property
    def stem(self) -> str:
        return self.source.stem

    @property
    def title(self) -> str:
        notebook = jupytext.read(self.source)
        for cell in notebook.cells:
            if cell.cell_type == "markdown":
                for line in cell.source.splitlines():
                    if line.startswith("# "):
                        return line[2:].strip()
        return self.name

    def parameters(self) -> dict[str, str]:
        """The parameters the chapter declares in its cell tagged ``parameters``: name -> default.

        Read with papermill's own parser, and checked against every assignment in the cell, so
        a line papermill cannot parse (it would then ignore the parameter) is an error here.
        """
        notebook = jupytext.read(self.source)
        cells = [cell for cell in notebook.cells if "parameters" in cell.metadata.get("tags", [])]
        if len(cells) != 1:
            raise ValueError(f"chapter {self.name!r} ({self.source}) must have exactly one cell tagged 'parameters', found {len(cells)}")
        translator = papermill_translators.find_translator("python3", "python")
        parsed = {p.name: p.default for p in translator.inspect(cells[0])}
        assigned = re.findall(r"^([A-Za-z_]\w*)\s*=", cells[0].source, flags=re.MULTILINE)
        unparsed = sorted(set(assigned) - set(parsed))
        if unparsed:
            raise ValueError(
                f"papermill cannot parse the parameter(s) {unparsed} of chapter {self.name!r}; "
                "keep each on one line, with a comment free of quotes"
            )
        return parsed


def chapters(folder: Path | None = None) -> list[Chapter]:
    """All chapters in ``folder`` (default ``notebooks/``), ordered by their numeric prefix."""
    found = []
    for path in sorted(Path(folder or NOTEBOOKS).glob("*.py")):
        match = _CHAPTER_FILE.match(path.name)
        if match:
            found.append(Chapter(int(match.group(1)), match.group(2), path))
    return sorted(found, key=lambda chapter: chapter.number)


def toc_stems(toc: Path) -> list[str]:
    """The chapters ``toc`` (a ``_toc.yml``) lists, as ``NN_name`` stems in its order; none when there is no such file."""
    if not Path(toc).is_file():
        return []
    parts = (yaml.safe_load(Path(toc).read_text()) or {}).get("parts") or []
    files = [entry.get("file", "") for part in parts for entry in part.get("chapters") or []]
    return [f.rsplit("/", 1)[-1] for f in files if f.startswith("book/chapters/")]


def select(names: list[str], folder: Path | None = None) -> list[Chapter]:
    """The chapters named (by name, by ``NN_name`` stem, or by number); all of them when ``names`` is empty.

    They come in the book's order, ``_toc.yml``'s (beside ``folder``), so that a chapter runs after
    those it reads: an extension (:mod:`emma.book.scaffold`) numbered after the appendix runs before it.
    Chapters the table of contents does not list come last, by number.
    """
    folder = Path(folder or NOTEBOOKS)
    available = chapters(folder)
    order = {stem: i for i, stem in enumerate(toc_stems(folder.parent / "_toc.yml"))}
    picked = available if not names else []
    for name in names:
        hits = [c for c in available if name in (c.name, c.stem, str(c.number), f"{c.number:02d}")]
        if not hits:
            known = ", ".join(c.name for c in available)
            raise ValueError(f"unknown chapter {name!r}; known chapters: {known}")
        picked.extend(hit for hit in hits if hit not in picked)
    return sorted(picked, key=lambda c: (order.get(c.stem, len(order)), c.number))


def executed_path(chapter: Chapter, output_dir: str | os.PathLike | None = None) -> Path:
    """Where a run writes the executed notebook: ``book/chapters`` for the book's own output folder,
    ``<output_dir>/chapters`` for any other, so that a run elsewhere leaves the book's pages alone."""
    if output_dir is None or Path(output_dir) == Path(DEFAULT_OUTPUT_DIR) or Path(output_dir).resolve() == (ROOT / DEFAULT_OUTPUT_DIR).resolve():
        return EXECUTED / f"{chapter.stem}.ipynb"
    return Path(output_dir) / "chapters" / f"{chapter.stem}.ipynb"


class ChapterFailed(RuntimeError):
    """A cell of a chapter raised; the message names the chapter, the cell and the error."""


def execute(
    chapter: Chapter,
    parameters: dict,
    *,
    output: Path | None = None,
    progress: bool = True,
    kernel_name: str = "python3",
    failed: Path | None = None,
) -> Path:
    """Execute ``chapter`` with papermill and the given parameters; return the executed notebook's path.

    The executed notebook is written next to its final place and renamed onto it only when every
    cell succeeded. When a cell fails, or the kernel dies (killed: out of memory, a signal), the
    partial notebook is kept in ``failed`` (default ``<output_dir>/failed/``, the output folder of
    ``parameters``) and :class:`ChapterFailed` is raised, naming the chapter and the cell.
    ``emma-book run`` executes into a run folder (:mod:`emma.book.runs`), whose name is unique,
    so two runs never share a temporary file. The kernel's connection file lies in a folder of
    its own beside the executed notebook, removed when the execution ends, however it ends (and
    with the run folder when ``emma-book run`` itself is killed).
    """
    declared = chapter.parameters()
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise ValueError(
            f"chapter {chapter.name!r} has no parameter(s) {unknown}; it declares {sorted(declared)}"
        )
    output = Path(output) if output is not None else EXECUTED / f"{chapter.stem}.ipynb"
    output.parent.mkdir(parents=True, exist_ok=True)
    unique = f"{os.getpid()}-{secrets.token_hex(4)}"  # two executions into one folder never share a temporary file
    source = output.parent / f".{chapter.stem}.{unique}.source.ipynb"
    partial = output.parent / f".{chapter.stem}.{unique}.partial.ipynb"
    kernels = output.parent / f".{chapter.stem}.{unique}.kernel"  # the kernel's connection file, and nothing else
    notebook = add_install_cell(fold_boilerplate(jupytext.read(chapter.source)))
    notebook.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": kernel_name}
    nbformat.write(notebook, source)
    previous_quiet = os.environ.get("EMMA_QUIET")
    os.environ["EMMA_QUIET"] = "1"  # the kernel inherits it: no per-cell progress bars in the book

    def not_death(record: logging.LogRecord) -> bool:  # the ChapterFailed below says it, naming the chapter
        return "Kernel died" not in record.getMessage()

    logging.getLogger("papermill").addFilter(not_death)
    try:
        kernels.mkdir(mode=0o700)
        papermill.execute_notebook(
            str(source),
            str(partial),
            parameters=parameters,
            cwd=str(ROOT),
            kernel_name=kernel_name,
            progress_bar=progress,
            log_output=False,
            config=Config({"KernelManager": {"connection_file": str(kernels / f"kernel-{unique}.json")}}),
        )
    except papermill.PapermillExecutionError as error:
        kept = _keep(partial, failed, chapter, parameters)
        raise ChapterFailed(
            f"chapter {chapter.name!r} failed in cell [{error.exec_count}] "
            f"({error.ename}: {error.evalue}).\nCell source:\n{_failed_cell_source(kept)}\n"
            f"The executed notebook up to the failure is in {kept}"
        ) from None
    except DeadKernelError:
        kept = _keep(partial, failed, chapter, parameters)
        raise ChapterFailed(
            f"chapter {chapter.name!r}: its kernel died in cell {_running_cell(kept)}, most likely killed: out of memory "
            f"(the system's OOM killer) or by a signal; the executed notebook up to there is in {kept}"
        ) from None
    finally:
        if previous_quiet is None:
            os.environ.pop("EMMA_QUIET", None)
        else:
            os.environ["EMMA_QUIET"] = previous_quiet
        source.unlink(missing_ok=True)
        shutil.rmtree(kernels, ignore_errors=True)
        logging.getLogger("papermill").removeFilter(not_death)
    executed = nbformat.read(partial, as_version=4)
    executed.metadata[record.METADATA_KEY] = record.run_info(parameters, ROOT, declared)  # the page "How this book was run"
    for cell in executed.cells:
        if "injected-parameters" in cell.metadata.get("tags", []):  # stays in the notebook, not on the page
            cell.metadata["tags"] = sorted(set(cell.metadata["tags"]) | {"remove-cell"})
    nbformat.write(executed, partial)
    os.replace(partial, output)
    return output


def _keep(partial: Path, failed: Path | None, chapter: Chapter, parameters: dict) -> Path:
    """Move the partial notebook of a failed execution to ``<failed>/NN_name.ipynb`` (replacing an earlier failure's); return it."""
    failed = Path(failed) if failed is not None else rerun.output_folder(parameters) / "failed"
    failed.mkdir(parents=True, exist_ok=True)
    kept = failed / f"{chapter.stem}.ipynb"
    if partial.is_file():
        shutil.move(partial, kept)
    else:  # papermill wrote nothing: an earlier failure's notebook is not this one's
        kept.unlink(missing_ok=True)
    return kept


def _failed_cell_source(path: Path) -> str:
    """The source of the cell whose outputs hold the error (papermill shifts cell indices)."""
    if not Path(path).is_file():
        return "(no executed notebook was written)"
    for cell in nbformat.read(path, as_version=4).cells:
        if any(output.get("output_type") == "error" for output in cell.get("outputs", [])):
            return cell.source
    return "(not found in the executed notebook)"


def _running_cell(path: Path) -> str:
    """The cell running when the kernel died, the last one papermill's record of ``path`` says it started: ``[n]`` (its execution count), or ``#i``."""
    if not Path(path).is_file():
        return "(unknown: no executed notebook was written)"
    started = [(index, cell) for index, cell in enumerate(nbformat.read(path, as_version=4).cells)
               if cell.cell_type == "code" and cell.get("metadata", {}).get("papermill", {}).get("start_time")]
    if not started:
        return "(unknown)"
    index, cell = started[-1]
    if cell.get("execution_count") is not None:
        return f"[{cell.execution_count}]"
    before = started[-2][1].get("execution_count") if len(started) > 1 else 0  # it died before it said its count: the next one
    return f"[{before + 1}]" if before is not None else f"#{index}"


STAGING = Path("_build") / "staging"  # under the root; what Sphinx reads, and nothing else
MATHJAX_ENTRY = "tex-chtml.js"  # the MathJax 3 component _config.yml names (mathjax_path)


def check_executed(path: Path, name: str) -> None:
    """Refuse to publish a notebook that ``emma-book run`` did not finish: no run key, or an error output.

    Raises ``ValueError`` naming the chapter and the file.
    """
    notebook = nbformat.read(path, as_version=4)
    if rerun.METADATA_KEY not in notebook.metadata:
        raise ValueError(f"chapter {name!r}: {path} has no run key, so `emma-book run` did not execute it to the end; "
                         f"run `emma-book run {name}` before building")
    failed = [i for i, cell in enumerate(notebook.cells) if any(o.get("output_type") == "error" for o in cell.get("outputs", []))]
    if failed:
        raise ValueError(f"chapter {name!r}: {path} holds an error output (cell {failed[0]}); the book publishes only chapters that ran without error")


def stage(root: Path = ROOT, executed: Path | None = None, pdf: Path | None = None) -> Path:
    """Copy what the book reads, and only that, into ``<root>/_build/staging``; return that folder.

    The book reads ``_config.yml``, ``_toc.yml``, ``book/`` (its pages, ``references.bib``, images;
    not ``book/chapters``) and the executed notebook ``NN_name.ipynb`` of every chapter, taken
    from ``executed`` (default ``<root>/book/chapters``). Beside them go the chapters' jupytext
    sources (``_extra/notebooks/``, offered for download by the pages), the runs' full tables and
    figures (``book/_static/tables/``, linked under each table; ``book/_static/figures/``) and MathJax
    (``_vendor/mathjax/``, served by the site). Another virtual environment, a ``node_modules``
    or stray notes in the checkout never reach Sphinx. A chapter without an executed notebook
    stops the staging with its name: nothing is executed here. ``pdf``, the book's PDF edition
    (:mod:`emma.book.pdf`), goes to ``_extra/emma-book.pdf``: the site's root, offered by every page.

    Only what the chapters' runs wrote is published: the tables and figures each executed
    notebook's run key records, from the output folder of the runs (:func:`outputs_folder`), each
    with the digest its run recorded, as the notebook itself (:func:`emma.book.publish.recorded_outputs`).
    Any other file there is left out, and a recorded one that changed or went stops the staging
    in one line naming it and its chapter.
    """
    root = Path(root).resolve()
    executed = Path(executed).resolve() if executed is not None else root / "book" / "chapters"
    listed = chapters(root / "notebooks")
    missing = [c.name for c in listed if not (executed / f"{c.stem}.ipynb").exists()]
    if missing:
        raise FileNotFoundError(
            f"these chapters have not been executed yet (no notebook in {executed}): {', '.join(missing)}; "
            "run `emma-book run` first, or `emma-book build` without --no-run, which executes them"
        )
    outputs = outputs_folder(executed, root)
    recorded = {}
    for chapter in listed:
        check_executed(executed / f"{chapter.stem}.ipynb", chapter.name)
        recorded.update(publish.recorded_outputs(executed / f"{chapter.stem}.ipynb", chapter.name, {kind: outputs / kind for kind in KINDS}))
    staging = root / STAGING
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(root / name, staging / name)

    def book_pages(directory: str, names: list[str]) -> list[str]:
        generated = ["chapters"] if Path(directory) == root / "book" else []
        return generated + [n for n in names if n.startswith(".") or n == "__pycache__"]

    shutil.copytree(root / "book", staging / "book", ignore=book_pages)
    (staging / "book" / "chapters").mkdir()
    (staging / "_extra" / "notebooks").mkdir(parents=True)
    for chapter in listed:
        shutil.copy2(executed / f"{chapter.stem}.ipynb", staging / "book" / "chapters" / f"{chapter.stem}.ipynb")
        shutil.copy2(chapter.source, staging / "_extra" / "notebooks" / chapter.source.name)
    for kind in KINDS:  # each view's link to its CSV resolves (emma.util.display); the landing page shows the figures
        (staging / "book" / "_static" / kind).mkdir(parents=True, exist_ok=True)
    for name, path in recorded.items():
        shutil.copy2(path, staging / "book" / "_static" / name)
    page = record.run_record_page({c.title: executed / f"{c.stem}.ipynb" for c in listed})
    (staging / "book" / "run_record.md").write_text(page)  # "How this book was run", from the notebooks' metadata
    _stage_mathjax(staging / "_vendor" / "mathjax")
    if pdf is not None:
        shutil.copy2(pdf, staging / "_extra" / PDF_EDITION)
    return staging


def outputs_folder(executed: str | os.PathLike, root: str | os.PathLike = ROOT) -> Path:
    """The output folder whose tables and figures go with the executed notebooks of ``executed``.

    ``<output_dir>`` for ``<output_dir>/chapters``; a checkout's ``_build`` for its ``book/chapters``
    (where runs into the default output folder put the notebooks); ``<root>/_build`` for any other folder.
    """
    executed = Path(executed).resolve()
    if executed.name == "chapters" and executed.parent.name == "book" and (executed.parent.parent / "_config.yml").is_file():
        return executed.parent.parent / DEFAULT_OUTPUT_DIR
    if executed.name == "chapters" and executed != (Path(root).resolve() / "book" / "chapters"):
        return executed.parent
    return Path(root).resolve() / DEFAULT_OUTPUT_DIR


def _mathjax_distribution() -> Path:
    """MathJax 3 as the package ``django-static-mathjax`` ships it (module ``mathjax``; no Django needed)."""
    spec = importlib.util.find_spec("mathjax")
    folder = Path(spec.origin).parent / "static" / "mathjax" if spec and spec.origin else None
    if folder is None or not (folder / "es5" / MATHJAX_ENTRY).exists():
        raise FileNotFoundError(
            "MathJax is missing: the book serves it from the package django-static-mathjax, "
            "part of the extra book (pip install -e '.[book]')"
        )
    return folder


def _stage_mathjax(destination: Path) -> None:
    """The browser build of MathJax (``es5/``) that ``tex-chtml.js`` loads from, with its licence.

    The other single-file bundles and the SVG output are left out; the TeX extensions, the CHTML
    fonts, the menu and the accessibility components stay (MathJax loads them on demand).
    """
    distribution = _mathjax_distribution()
    es5 = distribution / "es5"

    def unused(directory: str, names: list[str]) -> list[str]:
        if Path(directory) == es5:
            return [n for n in names if n.endswith(".js") and n != MATHJAX_ENTRY]
        if Path(directory) == es5 / "output":
            return [n for n in names if n.startswith("svg")]
        return []

    shutil.copytree(es5, destination, ignore=unused)
    shutil.copy2(distribution / "LICENSE", destination / "LICENSE")


BUILDERS = ("html", "linkcheck")
_HELD: set[Path] = set()  # the output folders whose locks build() holds in this process (the PDF's nested build needs them again)


@contextlib.contextmanager
def holding_outputs(root: str | os.PathLike = ROOT, executed: str | os.PathLike | None = None):
    """Hold, for the block, the locks (:func:`emma.book.runs.locked`) of ``<root>/_build``, which a build writes,
    and of the output folder it publishes from (:func:`outputs_folder` of ``executed``).

    A run or another build into either stops at once, naming this one; this one stops the same
    way (:class:`emma.book.runs.OutputFolderBusy`) while another holds them. Within the block, a
    nested call takes no lock again.
    """
    root = Path(root).resolve()
    executed = Path(executed).resolve() if executed is not None else root / "book" / "chapters"
    with contextlib.ExitStack() as stack:
        for folder in sorted({root / DEFAULT_OUTPUT_DIR, outputs_folder(executed, root)} - _HELD):
            stack.enter_context(runs.locked(folder))
            _HELD.add(folder)
            stack.callback(_HELD.discard, folder)
        yield


def jupyter_book_command() -> list[str]:
    """The command that runs Jupyter Book: the one beside this Python, else ``jupyter-book`` on the PATH."""
    executable = Path(sys.executable).parent / "jupyter-book"
    return [str(executable) if executable.exists() else "jupyter-book"]


def build(
    root: Path = ROOT, strict: bool = True, executed: Path | None = None, builder: str = "html", pdf: bool = False,
) -> int:
    """Build the book into ``<root>/_build/<builder>`` from a staging folder; return the exit code.

    :func:`stage` gathers the book's own pages and the executed notebooks (from ``executed``,
    default ``<root>/book/chapters``) into ``<root>/_build/staging``; Jupyter Book builds that
    folder from scratch (``--all``, so every page's warnings show on every build) into a fresh
    folder, which takes the place of ``<root>/_build/html`` in one step (:func:`emma.book.publish.swap_in`)
    only when the build succeeds: a failed or killed build leaves the previous book as it was, and
    Jupyter Book dies with this process (:func:`emma.book.publish.run_child`). ``builder="linkcheck"``
    checks every external link instead (its report, failed or not, in ``<root>/_build/linkcheck``).
    Warnings are errors when ``strict``. Nothing is executed: a chapter that has not been run is
    reported and the build stops. (The command ``emma-book build`` first executes such chapters,
    :func:`emma.book.update.bring_up_to_date`.) The build holds the locks of the output folders
    (:func:`holding_outputs`): two builds, or a build and a run, never interleave.

    ``pdf=True`` (HTML only) first makes the PDF edition, ``<root>/_build/pdf/emma-book.pdf``
    (:func:`emma.book.pdf.build`: the ``singlehtml`` builder, then headless Chromium), then builds the
    HTML with the PDF at the site's root and offered in every page's download menu.

    Raises
    ------
    emma.book.runs.OutputFolderBusy
        Another run or build holds an output folder (the message names it).
    """
    if builder not in (*BUILDERS, "singlehtml"):  # singlehtml: the page emma.book.pdf prints
        raise ValueError(f"builder must be one of {BUILDERS}, not {builder!r}")
    if pdf and builder != "html":
        raise ValueError(f"the PDF edition comes with the HTML book, not with the builder {builder!r}")
    root = Path(root).resolve()
    with holding_outputs(root, executed):
        edition = None
        if pdf:
            from emma.book import pdf as pdf_edition

            code = pdf_edition.build(root, executed=executed, strict=strict)
            if code != 0:
                return code
            edition = root / DEFAULT_OUTPUT_DIR / "pdf" / pdf_edition.NAME
        staging = stage(root, executed, pdf=edition)
        command = [*jupyter_book_command(), "build", str(staging), "--builder", builder, "--all"]
        if strict:
            command += ["--warningiserror", "--keep-going"]
        return publish.build_into(command, staging, root / DEFAULT_OUTPUT_DIR, builder)
