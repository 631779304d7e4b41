"""Bringing the executed chapters up to date: what ``emma-book run``, ``status`` and ``build`` execute, and why.

* :func:`reasons` is ``emma-book status``'s answer for one chapter: why its executed notebook
  must be produced again (:func:`emma_book.rerun.stale`), nothing when it is up to date.
* :func:`execute_chapters` is ``emma-book run``'s loop. Under the output folders' locks
  (:func:`emma_book.runs.holding`), each chapter, in the order given (the book's), is checked when
  its turn comes, after the chapters before it ran (whose tables it may read), and executed when
  it is not up to date, in a run folder (:class:`emma_book.runs.RunFolder`) whose outputs become
  visible with its executed notebook and run key.
* :func:`plan` and :func:`bring_up_to_date` are what ``emma-book build`` does before it builds, so
  that a book is never built from a chapter that is missing or stale. A chapter executed already
  is checked with the parameters it ran with (papermill's record in its notebook) and, when stale,
  executed again with them: the parameters a run chose (``-p``, ``-f``) are never replaced behind
  its back, only named in a note when they are not the profile's. A chapter not executed yet runs
  as ``emma-book run --profile P --device D`` would run it, P and D being the profile and device of
  the chapters executed already (:data:`DEFAULT_PROFILE` and ``auto`` when there are none; ``auto``
  when their devices differ). The executed chapters must agree on their profile, and an explicit
  ``--profile`` with them; otherwise the build stops with one line saying so. ``emma-book build
  --no-run`` executes nothing: the build refuses a chapter not executed, and names the chapters it
  publishes from stale runs (:func:`stale_runs`). Before either looks at the executed notebooks, a
  run that was interrupted after its commit is finished (:func:`settle`), so that the book is
  checked, and built, with the notebook and the parameters that run recorded, never executed again
  with the older notebook's.

Errors come in one line (:func:`execute_chapters`): a failed chapter or dead kernel, a full disk, an
interrupt; a cache warning raised in a kernel, which only its notebook's stderr shows, is repeated.
"""
from __future__ import annotations

import errno
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from tqdm.auto import tqdm

from emma.util.cache import retraining
from emma.util.runtime import DEVICES, progress_disabled
from emma_book import build as book
from emma_book import layout, params, record, rerun, runs

#: The profiles a run can take (``profiles/<name>.yaml``).
PROFILES = ("quick", "full")
#: The profile ``emma-book build`` executes chapters in when no chapter has been executed yet.
DEFAULT_PROFILE = "quick"


def _shown(path) -> Path:
    path = Path(path)
    return path.relative_to(layout.ROOT) if path.is_relative_to(layout.ROOT) else path


def _repeat_cache_warnings(chapter, notebook: Path) -> None:
    """Print each cache warning the chapter's kernel raised (:func:`emma_book.runs.cache_warnings`), naming the chapter."""
    for message in runs.cache_warnings(notebook):
        print(f"emma-book: warning: chapter {chapter.name!r}: {message}", file=sys.stderr, flush=True)


def reasons(chapter, parameters: dict) -> list[str]:
    """Why ``chapter``'s executed notebook, for a run with ``parameters``, must be produced again; empty when it is up to date.

    What ``emma-book status`` prints: the notebook is looked for where a run with these
    parameters writes it (:func:`emma_book.build.executed_path`), and its stored run key is
    compared with the chapter's key now (:func:`emma_book.rerun.stale`).

    Parameters
    ----------
    chapter : emma_book.build.Chapter
        The chapter.
    parameters : dict
        Its resolved parameters (:func:`emma_book.params.resolve_parameters`).

    Returns
    -------
    list of str
        One reason per change (``not executed yet``, ``emma/engine/sweep.py changed``...).
    """
    if not isinstance(parameters, dict):
        raise ValueError(f"parameters must be a dict of the chapter's parameter values, got {type(parameters).__name__}")
    output = book.executed_path(chapter, parameters.get("output_dir"))
    return rerun.stale(rerun.run_key(chapter, parameters, output.parent), output)


def execute_chapters(
    chapters, parameters: dict, *, force: bool = False, retrain: bool = False, profile: str = "full",
    quiet: bool | None = None, say_skipped: bool = True,
) -> list[str]:
    """Execute, in order, each chapter of ``chapters`` whose run is not up to date; return the names of those executed.

    Parameters
    ----------
    chapters : list of emma_book.build.Chapter
        In the order they run (the book's, :func:`emma_book.build.select`).
    parameters : dict
        Chapter name to its resolved and checked parameters (:func:`emma_book.params.check_parameters`).
    force : bool
        Execute every chapter, up to date or not.
    retrain : bool
        Also bypass the cache of trained models and sweeps (:func:`emma.util.cache.retraining`,
        from the time this call started); implies ``force``.
    profile : str
        The profile the line of an executed chapter names when the chapter has no ``profile`` parameter.
    quiet : bool, optional
        No progress bars; by default quiet under CI or with ``EMMA_QUIET`` set.
    say_skipped : bool
        Print a line for each chapter skipped because its run is up to date.

    Returns
    -------
    list of str
        The names of the chapters executed.

    Raises
    ------
    emma_book.build.ChapterFailed
        A chapter failed, or its kernel died: the message names it and the cell; the chapters after it did not run.
    emma_book.runs.OutputFolderBusy
        Another run holds an output folder.
    emma_book.runs.DiskFull
        A write failed for want of space: the chapters committed before stay, the chapter's executed
        notebook, when it was written, is kept in ``<output_dir>/failed/<NN_name>/``.
    emma_book.runs.Interrupted
        Ctrl-C (a :class:`KeyboardInterrupt`) while a chapter ran: it names the chapter; a rerun resumes.
    """
    missing = [chapter.name for chapter in chapters if chapter.name not in parameters]
    if missing:
        raise ValueError(f"parameters must map every chapter to its parameters; it has none for {missing}")
    quiet = progress_disabled() if quiet is None else quiet
    started = time.time()  # with retrain, cache files older than this are computed again
    folders = {c.name: rerun.output_folder(parameters[c.name]) for c in chapters}
    executed = []
    with runs.holding(folders.values()) as recovered:  # one run per output folder; settle what a killed run left
        for message in recovered:
            print(f"   {message}", flush=True)
        for chapter in tqdm(chapters, desc="chapters", unit="chapter", disable=quiet):
            own = parameters[chapter.name]
            output = book.executed_path(chapter, own.get("output_dir"))
            key = rerun.run_key(chapter, own, output.parent)
            why = ["--retrain"] if retrain else ["--force"] if force else rerun.stale(key, output)
            if not why:
                if say_skipped:
                    print(f"== {chapter.name}: skipped, nothing changed since it was executed ({_shown(output)})", flush=True)
                continue
            print(f"== {chapter.name}: {chapter.title} ({own.get('profile', profile)} profile; {', '.join(why)})", flush=True)
            run, needed = None, None
            try:
                with runs.RunFolder(folders[chapter.name], chapter.stem) as run:  # its outputs stay there until it succeeds
                    try:
                        with rerun.recording_reads(run.log), retraining(retrain, since=started):  # the kernel inherits both
                            book.execute(chapter, own, output=run.notebook, progress=not quiet, failed=run.failed)
                    except book.ChapterFailed:
                        _repeat_cache_warnings(chapter, run.failed / f"{chapter.stem}.ipynb")
                        raise
                    _repeat_cache_warnings(chapter, run.notebook)
                    needed = run.notebook.stat().st_size  # what writing its run key into it takes
                    writes = rerun.logged_writes(run.log, own)
                    rerun.store_key(run.notebook, rerun.with_reads(key, rerun.logged_reads(run.log, own), writes))
                    path = run.commit(output)
            except KeyboardInterrupt:
                raise runs.Interrupted(chapter.name) from None
            except OSError as error:
                if error.errno != errno.ENOSPC:
                    raise
                kept = run.failed / f"{chapter.stem}.ipynb" if run is not None and needed is not None else None
                raise runs.disk_full(error, chapter.name, folders[chapter.name], needed, kept) from None
            print(f"   wrote {_shown(path)}", flush=True)
            executed.append(chapter.name)
    return executed


def target(executed=None) -> tuple[Path, str | None, bool]:
    """The folder of executed notebooks a book is built from, the ``output_dir`` of the runs that write there, and whether any can.

    ``None`` or ``book/chapters``: the book's own folder, written by runs into the default output
    folder (``output_dir`` None: the chapters' default). ``<folder>/chapters``: written by runs with
    ``-p output_dir <folder>``. Into any other folder no run writes, so nothing can be executed there.
    """
    if executed is None:
        return layout.EXECUTED, None, True
    if not isinstance(executed, (str, Path)):
        raise ValueError(f"executed must be a folder of executed notebooks (a path) or None, got {executed!r}")
    folder = Path(executed).resolve()
    if folder == layout.EXECUTED.resolve():
        return layout.EXECUTED, None, True
    runnable = folder.name == "chapters" and folder.parent != (layout.ROOT / layout.DEFAULT_OUTPUT_DIR).resolve()
    return folder, (str(folder.parent) if runnable else None), runnable


@dataclass(frozen=True)
class Run:
    """A chapter's executed notebook, in the folder a book is built from, and what it ran with.

    ``injected`` holds the parameters its run set (papermill's record; None when the notebook has
    none), ``ran_with`` every parameter as it ran, defaults included (:func:`emma_book.record.notebook_parameters`).
    """

    path: Path
    injected: dict | None
    ran_with: dict


def present_runs(chapters, folder) -> dict[str, Run]:
    """The executed notebook ``<folder>/NN_name.ipynb`` of each chapter of ``chapters`` that has one, by chapter name."""
    if not isinstance(folder, (str, Path)):
        raise ValueError(f"folder must be the folder of executed notebooks (a path), got {folder!r}")
    found = {}
    for chapter in chapters:
        path = Path(folder) / f"{chapter.stem}.ipynb"
        if path.is_file():
            notebook = nbformat.read(path, as_version=4)
            injected = notebook.metadata.get("papermill", {}).get("parameters")
            found[chapter.name] = Run(path, dict(injected) if isinstance(injected, dict) else None, record.notebook_parameters(notebook)[0])
    return found


def _own_parameters(chapter, run: Run | None) -> dict | None:
    """The parameters ``run`` was executed with, when a run with them writes where it lies; else None."""
    if run is None or run.injected is None:
        return None
    return run.injected if book.executed_path(chapter, run.injected.get("output_dir")).resolve() == run.path.resolve() else None


def _grouped(present: dict, name: str) -> dict:
    """The values the parameter ``name`` took in the runs of ``present``, each to the chapters that ran with it."""
    grouped: dict = {}
    for chapter, run in present.items():
        if run.ran_with.get(name) is not None:
            grouped.setdefault(run.ran_with[name], []).append(chapter)
    return grouped


def _listing(grouped: dict) -> str:
    return "; ".join(f"{value}: {', '.join(names)}" for value, names in grouped.items())


def _differing(own: dict, profile: dict) -> list[str]:
    def text(values, key):
        return json.dumps(values[key], sort_keys=True, default=str) if key in values else "(unset)"

    return sorted(key for key in set(own) | set(profile) if text(own, key) != text(profile, key))


@dataclass
class Plan:
    """What ``emma-book build`` finds in the folder it builds from (:func:`plan`).

    ``chapters`` are every chapter, in the book's order; ``parameters`` and ``reasons`` map each
    name to the parameters it is checked (and would be executed) with and to why it must be executed
    (empty: up to date). ``profile`` and ``device`` are those of the chapters without a run of their
    own; ``runnable`` says whether a run can write into ``folder``; ``notes`` are lines to print.
    """

    folder: Path
    chapters: list
    parameters: dict
    reasons: dict
    profile: str
    device: str
    runnable: bool
    notes: list = field(default_factory=list)

    @property
    def waiting(self) -> list:
        """The chapters to execute before the build, in the book's order."""
        return [chapter for chapter in self.chapters if self.reasons[chapter.name]]


def plan(executed=None, profile: str | None = None, device: str | None = None) -> Plan:
    """Which chapters the book built from ``executed`` would hold without an up-to-date run, and how ``emma-book build`` executes them.

    Parameters
    ----------
    executed : path, optional
        The folder of executed notebooks (:func:`target`); by default ``book/chapters``.
    profile : {"quick", "full"}, optional
        The profile of the chapters not executed yet; by default that of the chapters executed, or
        :data:`DEFAULT_PROFILE` when none is.
    device : {"auto", "cpu", "cuda"}, optional
        Their device; by default that of the chapters executed when they agree, else ``auto``.

    Returns
    -------
    Plan

    Raises
    ------
    ValueError
        The chapters executed ran in different profiles, or ``profile`` is not theirs (one line, naming them).
    """
    if profile is not None and profile not in PROFILES:
        raise ValueError(f"profile must be one of {PROFILES} or None, got {profile!r}")
    if device is not None and device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES} or None, got {device!r}")
    folder, output_dir, runnable = target(executed)
    chapters = book.select([])
    present = present_runs(chapters, folder)
    where, profiles, devices = _shown(folder), _grouped(present, "profile"), _grouped(present, "device")
    if len(profiles) > 1:
        raise ValueError(f"the chapters executed in {where} ran in different profiles ({_listing(profiles)}), and a book is built from one: "
                         "execute them in one with `emma-book run --profile quick` (or full), or build them as they are with --no-run")
    if profile is not None and profiles and profile not in profiles:
        raise ValueError(f"--profile {profile} disagrees with the chapters executed in {where} ({_listing(profiles)}): leave --profile out, "
                         f"or execute every chapter with `emma-book run --profile {profile}` first")
    notes = []
    if device is None and len(devices) > 1:
        notes.append(f"the chapters executed in {where} ran on different devices ({_listing(devices)}); the others run on auto")
    profile = profile or next(iter(profiles), DEFAULT_PROFILE)
    device = device or (next(iter(devices)) if len(devices) == 1 else "auto")
    layers = [params.read_parameter_file(layout.PROFILES / f"{profile}.yaml"), {"profile": profile, "device": device}]
    layers += [{"output_dir": output_dir}] if output_dir is not None else []
    fresh, _ = params.resolve_parameters(chapters, layers)  # as `emma-book run --profile P --device D [-p output_dir]`
    parameters = {}
    for chapter in chapters:
        own = _own_parameters(chapter, present.get(chapter.name))
        parameters[chapter.name] = fresh[chapter.name] if own is None else own
        if own is not None and (differ := _differing(own, fresh[chapter.name])):
            notes.append(f"{chapter.name} ran with its own {', '.join(differ)}, not the {profile} profile's on {device}: checked, "
                         "and executed when stale, with them (its page of the run record lists them)")
    why = {chapter.name: reasons(chapter, parameters[chapter.name]) for chapter in chapters}
    return Plan(folder, chapters, parameters, why, profile, device, runnable, notes)


def settle(executed=None) -> list[str]:
    """Settle what an interrupted run left in the output folder whose runs write into ``executed`` (:func:`target`); return the messages.

    Under the folder's lock (:func:`emma_book.runs.holding`), a run killed after its commit is
    made visible with the executed notebook, hence the parameters, it recorded; an uncommitted one
    is removed (:func:`emma_book.runs.recover`). Nothing is done for a folder no run writes into.
    Each message is printed.

    Raises
    ------
    emma_book.runs.OutputFolderBusy
        A run is writing into that folder now.
    """
    _, output_dir, runnable = target(executed)
    if not runnable:
        return []
    with runs.holding([rerun.output_folder({"output_dir": output_dir})]) as messages:
        for message in messages:
            print(f"   {message}", flush=True)
    return messages


def stale_runs(executed=None) -> dict[str, list[str]]:
    """The chapters executed in ``executed`` (:func:`target`) whose runs are not up to date, each to why (``--no-run`` names them).

    An interrupted run that committed is finished first (:func:`settle`). Each chapter is checked
    with the parameters it ran with. A notebook without papermill's record of them is left out:
    :func:`emma_book.build.check_executed` refuses it when it has no run key.
    """
    settle(executed)
    folder, _, _ = target(executed)
    chapters = book.select([])
    present = present_runs(chapters, folder)
    found = {}
    for chapter in chapters:
        own = _own_parameters(chapter, present.get(chapter.name))
        why = reasons(chapter, own) if own is not None else []
        if why:
            found[chapter.name] = why
    return found


def bring_up_to_date(executed=None, profile: str | None = None, device: str | None = None, *, quiet: bool | None = None) -> list[str]:
    """Execute every chapter the book built from ``executed`` would hold without an up-to-date run (:func:`plan`); return their names.

    An interrupted run that committed is finished first (:func:`settle`), so that its chapter is
    checked with the notebook and parameters it recorded, and not executed again with older ones.
    Prints which chapters run and why (the reasons of ``emma-book status``), then executes them as
    ``emma-book run`` does (:func:`execute_chapters`), each checked again when its turn comes. A
    chapter made stale by one executed after it (a table it read, written anew) is executed in a
    second pass; what is still stale after it stops the build.

    Parameters
    ----------
    executed, profile, device
        As :func:`plan`.
    quiet : bool, optional
        No progress bars (by default under CI or with ``EMMA_QUIET``).

    Returns
    -------
    list of str
        The chapters executed, in order (empty when every chapter was up to date).

    Raises
    ------
    emma_book.build.ChapterFailed
        A chapter failed (the message names it): nothing is built.
    ValueError
        :func:`plan` refused, a parameter is invalid, a chapter must run but no run writes into
        ``executed``, or a chapter is still stale after two passes.
    """
    settle(executed)
    current = plan(executed, profile, device)
    for note in current.notes:
        print(f"   note: {note}", flush=True)
    waiting, where = current.waiting, _shown(current.folder)
    if not waiting:
        print(f"== every chapter has an up-to-date run in {where}", flush=True)
        return []
    names = ", ".join(chapter.name for chapter in waiting)
    if not current.runnable:
        raise ValueError(f"chapters without an up-to-date run in {where}: {names}; `emma-book build` executes chapters only into "
                         "book/chapters or the folder chapters/ of an output folder: execute them with `emma-book run`, or build as they are with --no-run")
    print(f"== {len(waiting)} of {len(current.chapters)} chapters have no up-to-date run in {where}, executed before the build "
          f"({current.profile} profile, device {current.device}; `emma-book build --no-run` executes nothing):", flush=True)
    for chapter in waiting:
        print(f"   {chapter.name:<24} {', '.join(current.reasons[chapter.name])}", flush=True)
    ran: list[str] = []
    for attempt in (1, 2):
        params.check_parameters(waiting, {chapter.name: current.parameters[chapter.name] for chapter in waiting})  # before any kernel starts
        ran += execute_chapters(current.chapters, current.parameters, profile=current.profile, quiet=quiet, say_skipped=False)
        current = plan(executed, current.profile, current.device)
        waiting = current.waiting
        if not waiting:
            return ran
        if attempt == 1:
            print(f"== made stale by the chapters executed after them, executed again: {', '.join(c.name for c in waiting)}", flush=True)
    still = "; ".join(f"{chapter.name} ({', '.join(current.reasons[chapter.name])})" for chapter in waiting)
    raise ValueError(f"these chapters are still stale after being executed twice: {still}; see `emma-book status --profile {current.profile}`")
