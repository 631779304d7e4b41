"""The book pipeline: find the chapters, execute them with papermill, build the HTML with Jupyter Book.

Chapters are the jupytext percent-format files ``notebooks/NN_name.py``. ``execute`` turns one into
a notebook, runs it with papermill (the only executor; Jupyter Book does not run anything again)
and writes the executed notebook to ``book/chapters/NN_name.ipynb`` for the book to render.
``build`` copies the book's own files into a staging folder (``stage``) and builds that, so nothing
else in the checkout reaches Sphinx; the book's Sphinx extension is :mod:`emma_book.theme`.
``emma-book build`` first executes the chapters whose runs are missing or
stale (:mod:`emma_book.update`); ``build`` itself executes nothing.
"""
from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import secrets
import shutil
import sys
from pathlib import Path

import jupytext
import nbformat
import papermill
from nbclient.exceptions import DeadKernelError
from traitlets.config import Config

from emma.util.outputs import KINDS
from emma_book import layout, publish, record, rerun, runs
from emma_book.cells import INSTALL_TAG, LONG_CELL, add_install_cell, fold_boilerplate, package_revision, repository_url  # noqa: F401 (the pipeline's API)
from emma_book.layout import DEFAULT_OUTPUT_DIR, Chapter, chapters, executed_path, select, toc_stems  # noqa: F401 (the pipeline's API)
from emma_book.theme import PDF_EDITION


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
    ``emma-book run`` executes into a run folder (:mod:`emma_book.runs`), whose name is unique,
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
    output = Path(output) if output is not None else layout.EXECUTED / f"{chapter.stem}.ipynb"
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
            cwd=str(layout.ROOT),
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
    executed.metadata[record.METADATA_KEY] = record.run_info(parameters, layout.ROOT, declared)  # the page "How this book was run"
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


def stage(root: Path = layout.ROOT, executed: Path | None = None, pdf: Path | None = None) -> Path:
    """Copy what the book reads, and only that, into ``<root>/_build/staging``; return that folder.

    The book reads ``_config.yml``, ``_toc.yml``, ``book/`` (its pages, ``references.bib``, images;
    not ``book/chapters``) and the executed notebook ``NN_name.ipynb`` of every chapter, taken
    from ``executed`` (default ``<root>/book/chapters``). Beside them go the chapters' jupytext
    sources (``_extra/notebooks/``, offered for download by the pages), the runs' full tables and
    figures (``book/_static/tables/``, linked under each table; ``book/_static/figures/``) and MathJax
    (``_vendor/mathjax/``, served by the site). Another virtual environment, a ``node_modules``
    or stray notes in the checkout never reach Sphinx. A chapter without an executed notebook
    stops the staging with its name: nothing is executed here. ``pdf``, the book's PDF edition
    (:mod:`emma_book.pdf`), goes to ``_extra/emma-book.pdf``: the site's root, offered by every page.

    Only what the chapters' runs wrote is published: the tables and figures each executed
    notebook's run key records, from the output folder of the runs (:func:`outputs_folder`), each
    with the digest its run recorded, as the notebook itself (:func:`emma_book.publish.recorded_outputs`).
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


def outputs_folder(executed: str | os.PathLike, root: str | os.PathLike = layout.ROOT) -> Path:
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
def holding_outputs(root: str | os.PathLike = layout.ROOT, executed: str | os.PathLike | None = None):
    """Hold, for the block, the locks (:func:`emma_book.runs.locked`) of ``<root>/_build``, which a build writes,
    and of the output folder it publishes from (:func:`outputs_folder` of ``executed``).

    A run or another build into either stops at once, naming this one; this one stops the same
    way (:class:`emma_book.runs.OutputFolderBusy`) while another holds them. Within the block, a
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
    root: Path = layout.ROOT, strict: bool = True, executed: Path | None = None, builder: str = "html", edition: Path | None = None,
) -> int:
    """Build the book into ``<root>/_build/<builder>`` from a staging folder; return the exit code.

    :func:`stage` gathers the book's own pages and the executed notebooks (from ``executed``,
    default ``<root>/book/chapters``) into ``<root>/_build/staging``; Jupyter Book builds that
    folder from scratch (``--all``, so every page's warnings show on every build) into a fresh
    folder, which takes the place of ``<root>/_build/html`` in one step (:func:`emma_book.publish.swap_in`)
    only when the build succeeds: a failed or killed build leaves the previous book as it was, and
    Jupyter Book dies with this process (:func:`emma_book.publish.run_child`). ``builder="linkcheck"``
    checks every external link instead (its report, failed or not, in ``<root>/_build/linkcheck``).
    Warnings are errors when ``strict``. Nothing is executed: a chapter that has not been run is
    reported and the build stops. (The command ``emma-book build`` first executes such chapters,
    :func:`emma_book.update.bring_up_to_date`.) The build holds the locks of the output folders
    (:func:`holding_outputs`): two builds, or a build and a run, never interleave.

    ``edition`` (HTML only) is a PDF edition already printed (:func:`emma_book.pdf.edition` makes it,
    then calls this): the site carries it at its root and offers it in every page's download menu.

    Raises
    ------
    emma_book.runs.OutputFolderBusy
        Another run or build holds an output folder (the message names it).
    """
    if builder not in (*BUILDERS, "singlehtml"):  # singlehtml: the page emma_book.pdf prints
        raise ValueError(f"builder must be one of {BUILDERS}, not {builder!r}")
    if edition is not None and builder != "html":
        raise ValueError(f"the PDF edition comes with the HTML book, not with the builder {builder!r}")
    root = Path(root).resolve()
    with holding_outputs(root, executed):
        staging = stage(root, executed, pdf=edition)
        command = [*jupyter_book_command(), "build", str(staging), "--builder", builder, "--all"]
        if strict:
            command += ["--warningiserror", "--keep-going"]
        return publish.build_into(command, staging, root / DEFAULT_OUTPUT_DIR, builder)
