"""What the book publishes, and how a build puts a new site in place of the previous one.

* :func:`recorded_outputs`: the tables and figures the run key of a chapter's executed notebook
  records as written (its ``writes`` part, :mod:`emma_book.rerun`), each checked against the digest
  recorded, and the notebook against its own (``notebook``). :func:`emma_book.build.stage` copies
  these into the site and nothing else of ``<output_dir>/tables`` or ``figures`` (a stray file
  dropped there is not published); the branch ``notebooks`` (:mod:`emma_book.branch`) carries the
  tables the same way. A file changed since its run wrote it, or gone, stops the build in one line
  naming the file and the chapter.
* :func:`swap_in` puts a freshly built folder in the place of the previous one in one step
  (``renameat2(RENAME_EXCHANGE)`` on Linux), so that a build killed at any point leaves the
  previous site whole; :func:`restore` puts the previous one back where the fallback (two renames)
  was cut between them.
* :func:`build_into` runs Jupyter Book into a fresh folder and swaps it in when it succeeds;
  :func:`run_child` runs it (``jupyter-book``) as a process that dies with its parent
  (``prctl(PR_SET_PDEATHSIG, SIGKILL)``, as :func:`emma.util.runtime.die_with_parent` does for the
  worker pools): a killed build leaves no Sphinx behind.
"""
from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from emma.util.outputs import KINDS, digest
from emma_book import rerun

#: ``renameat2``'s ``AT_FDCWD`` and ``RENAME_EXCHANGE`` (``<fcntl.h>``, ``<linux/fs.h>``); ``PR_SET_PDEATHSIG`` (``<linux/prctl.h>``).
_AT_FDCWD, _RENAME_EXCHANGE, _PR_SET_PDEATHSIG = -100, 2, 1


def _again(chapter: str) -> str:
    return f"run `emma-book run {chapter}` again (with the output_dir it ran with)"


def recorded_outputs(notebook: str | os.PathLike, chapter: str, folders: dict) -> dict[str, Path]:
    """The outputs the run of ``chapter`` wrote, as its executed notebook's run key records them, each checked.

    Parameters
    ----------
    notebook : path
        The chapter's executed notebook, with its run key (:func:`emma_book.rerun.store_key`).
    chapter : str
        The chapter's name, for the messages.
    folders : dict
        Each kind of output published (``tables``, ``figures``) to the folder its files lie in
        (``<output_dir>/tables``); recorded outputs of other kinds are left out.

    Returns
    -------
    dict
        Name as the key records it (``tables/x.csv``) to the file, for every output of a kind in
        ``folders``. An output written outside the output folder (recorded by its absolute path) is none.

    Raises
    ------
    ValueError
        One line naming the chapter and the file: the notebook has no run key, its key records no
        digest of the notebook (executed before it did) or the notebook changed since its run, or a
        recorded output is missing or differs from what the run wrote.
    """
    if not isinstance(folders, dict) or not set(folders) <= set(KINDS):
        raise ValueError(f"folders must map kinds of output among {KINDS} to folders, got {folders!r}")
    if not isinstance(chapter, str) or not chapter:
        raise ValueError(f"chapter must be the chapter's name, got {chapter!r}")
    notebook = Path(notebook)
    key = rerun.stored_key(notebook)
    if not isinstance(key, dict) or not isinstance(key.get("parts"), dict):
        raise ValueError(f"chapter {chapter!r}: {notebook} has no run key; {_again(chapter)}")
    parts = key["parts"]
    if rerun.NOTEBOOK not in parts:
        raise ValueError(f"chapter {chapter!r}: the run key of {notebook} records no digest of the notebook "
                         f"(executed before they were recorded), so it cannot be checked; {_again(chapter)}")
    if rerun.notebook_digest(notebook) != parts[rerun.NOTEBOOK]:
        raise ValueError(f"chapter {chapter!r}: {notebook} was changed after its run wrote it; "
                         f"the book publishes only what runs wrote: {_again(chapter)}")
    found = {}
    for name, recorded in sorted((parts.get("writes") or {}).items()):
        kind, _, file = name.partition("/")
        if kind not in folders or not file or "/" in file:
            continue
        path = Path(folders[kind]) / file
        if not path.is_file():
            raise ValueError(f"chapter {chapter!r}: its run wrote {name}, and {path} is missing; {_again(chapter)}")
        now = digest(path.read_bytes())
        if now != recorded:
            raise ValueError(f"chapter {chapter!r}: {path} differs from what its run wrote (digest {now}, recorded {recorded}); "
                             f"the book publishes only what runs wrote: {_again(chapter)}")
        found[name] = path
    return found


def _previous(final: Path) -> Path:
    return final.with_name(f".{final.name}.previous")


def restore(final: str | os.PathLike) -> None:
    """Put back the previous ``final`` folder that :func:`swap_in`'s fallback set aside, when a kill came between its two renames."""
    final = Path(final)
    previous = _previous(final)
    if previous.is_dir() and not final.exists():
        os.rename(previous, final)
    shutil.rmtree(previous, ignore_errors=True)


def _exchange(first: Path, second: Path) -> bool:
    """Swap two folders' names in one step (Linux's ``renameat2``); False where the system cannot."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    if not hasattr(libc, "renameat2"):
        return False
    return libc.renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE) == 0


def swap_in(fresh: str | os.PathLike, final: str | os.PathLike) -> Path:
    """Put the folder ``fresh`` in the place of ``final`` (same file system) and remove what was there; return ``final``.

    On Linux the two trade places in one step: at any instant ``final`` is the previous folder
    or the new one, whole. Elsewhere the previous one is renamed aside first (:func:`restore`
    puts it back after a kill between the two renames).
    """
    fresh, final = Path(fresh), Path(final)
    if not fresh.is_dir():
        raise ValueError(f"fresh must be the folder to put in place, and {fresh} is not one")
    if not final.exists():
        os.rename(fresh, final)
        return final
    if _exchange(fresh, final):
        shutil.rmtree(fresh, ignore_errors=True)  # now the previous one
        return final
    previous = _previous(final)
    shutil.rmtree(previous, ignore_errors=True)
    os.rename(final, previous)
    os.rename(fresh, final)
    shutil.rmtree(previous, ignore_errors=True)
    return final


def _dying_with_parent():
    """A ``preexec_fn`` that makes the child die when this process does (Linux); None elsewhere.

    libc is looked up here, in the parent: between ``fork`` and ``exec`` the child only calls ``prctl``.
    """
    if not sys.platform.startswith("linux"):
        return None
    libc, parent = ctypes.CDLL(None, use_errno=True), os.getpid()

    def preexec() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the request was made
            os._exit(1)

    return preexec


def run_child(command: list, cwd: str | os.PathLike) -> int:
    """Run ``command`` in ``cwd`` and return its exit code; it dies with this process, however this one ends.

    Killed (``SIGKILL``), this process takes the child with it (:func:`_dying_with_parent`); on
    an exception here (Ctrl-C), the child is killed and waited for before the exception goes on.
    """
    if not isinstance(command, (list, tuple)) or not command:
        raise ValueError(f"command must be a non-empty list of arguments, got {command!r}")
    child = subprocess.Popen([str(part) for part in command], cwd=cwd, preexec_fn=_dying_with_parent())
    try:
        return child.wait()
    except BaseException:
        child.kill()
        child.wait()
        raise


def build_into(command: list, cwd: str | os.PathLike, folder: str | os.PathLike, builder: str) -> int:
    """Run ``command`` (``jupyter-book build ...``) into a fresh folder of ``folder``, swapped in for ``<folder>/<builder>`` on success; return its code.

    ``--path-output <fresh>`` is added to ``command``: Jupyter Book writes ``<fresh>/_build/<builder>``
    (``html`` for ``linkcheck``). On success that folder takes the place of ``<folder>/<builder>``
    in one step (:func:`swap_in`); on failure the previous one stays, but for ``linkcheck``, whose
    report is what a failed check is read for. The fresh folder goes in any case, and a killed
    build's is removed by the next (call this holding the output folder's lock).
    """
    folder = Path(folder)
    final = folder / builder
    restore(final)
    for leftover in folder.glob(f".{builder}-*"):  # a killed build's; no build runs beside this one (the lock)
        shutil.rmtree(leftover, ignore_errors=True)
    fresh = Path(tempfile.mkdtemp(prefix=f".{builder}-", dir=folder))
    try:
        code = run_child([*command, "--path-output", str(fresh)], cwd)
        built = fresh / "_build" / ("html" if builder == "linkcheck" else builder)  # where Jupyter Book writes
        if built.is_dir() and (code == 0 or builder == "linkcheck"):  # a link check's report is kept, failed or not
            swap_in(built, final)
        elif code == 0:
            print(f"emma-book build: Jupyter Book wrote nothing to {built}; {final} is left as it was", file=sys.stderr, flush=True)
            code = 1
        else:
            print(f"emma-book build: the {builder} build failed (exit code {code}); {final} is left as it was", file=sys.stderr, flush=True)
        return code
    finally:
        shutil.rmtree(fresh, ignore_errors=True)
