"""Check that two revisions of the book compute the same tables, byte for byte, on the CPU.

A refactoring must change no table: each must be byte for byte what the commit before it
computed. This script builds both and compares every table they wrote::

    .venv/bin/python benchmarks/same_tables.py BASE [HEAD] [--profile quick|full] [--chapters NAME ...] [--keep DIR]

* ``BASE`` is a git revision; it is checked out as a detached ``git worktree`` in a temporary
  folder. ``HEAD``, when given, is another revision, checked out the same way. Left out, the other
  side is **this checkout's working tree as it is**, run in place: uncommitted edits and untracked
  files included, so the check can be made before committing (give ``HEAD`` to compare a commit).
* Each side runs its own tooling on the CPU, one after the other:
  ``python -m emma_book run [NAME ...] --profile P --device cpu -p output_dir OUT -p cache_dir OUT/cache``
  with the current interpreter, the working folder and ``PYTHONPATH`` set to that side's tree
  (checked before the run: ``emma`` and its tooling must import from that tree, not from the
  editable install of this checkout), the environment otherwise passed through
  (``EMMA_DATA_DIR`` included). A revision from before the tooling left ``emma`` (``emma/book``)
  is run through ``emma.book.cli`` instead. Each side has its own fresh output folder, outside
  its tree, and its own fresh cache folder in it: no trained model or sweep is shared between
  the two builds. The runs print their progress as ``emma-book run`` does.
* The tables are the CSV files each run published into ``OUT/tables`` (``emma_book.runs``: a
  chapter's outputs move there when it succeeds; :func:`emma.util.outputs.save_table` names
  them). :func:`compare_tables` compares them byte for byte. A table only one run wrote, or whose
  bytes differ, is reported with its first differing line.
* Tables built on wall-clock time are compared without what rests on it (:data:`TIMING`), since
  wall-clock time differs between any two runs, even of one commit on one machine: the columns
  ``training_seconds`` of ``robustness_training_time`` (each family's sweep time,
  :func:`emma.engine.launch.run_sweep`'s ``seconds``) and ``ms_median``, ``ms_q1``, ``ms_q3`` of
  ``modes_step_cost`` (:func:`emma.experiments.modes_study.step_cost`), and the row
  ``modes_quadratic_cost`` of the claims tables ``modes_claims`` and ``book_claims`` (its evidence
  and verdict rest on exponents fitted to those timings). Everything else of those tables must
  still be equal, cell for cell. The counts of verdicts (``book_claim_counts``,
  ``book_claim_counts_by_kind``) are compared whole: should that one verdict flip between the two
  runs, they differ, and the row ``modes_quadratic_cost`` says why.
* It prints a summary (tables identical, differing, only in one run) and exits 0 when every
  table is identical, 1 when any differs or is missing from one run (or when neither run wrote
  a table), 2 when an argument is wrong or a run fails. The worktrees and output folders are
  removed at the end (``git worktree remove --force``), unless ``--keep DIR``: then both trees,
  their outputs and caches stay in ``DIR`` (which must be new or empty).

The quick profile (``--profile quick``) runs in minutes; the full profile (the default, the
book's own settings) takes about twice ``make book``'s time. ``--chapters`` runs only the chapters
named (as ``emma-book list`` shows them); name with a chapter those whose tables it reads (the
verdicts read every chapter's).
"""
from __future__ import annotations

import argparse
import csv
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROFILES = ("quick", "full")


@dataclass(frozen=True)
class Timing:
    """What of one table rests on wall-clock time, and is left out when two runs' tables are compared.

    Parameters
    ----------
    columns : tuple of str
        Columns (by their header) left out of every row.
    rows : tuple of (str, str)
        ``(column, value)`` pairs: a row whose cell in ``column`` is ``value`` (as written) is left out.
    why : str
        Where the timing comes from, for the report.
    """

    columns: tuple[str, ...] = ()
    rows: tuple[tuple[str, str], ...] = ()
    why: str = ""

    def __post_init__(self):
        if isinstance(self.columns, str) or not all(isinstance(c, str) and c for c in self.columns):
            raise ValueError(f"columns must be a tuple of column names, got {self.columns!r}")
        if isinstance(self.rows, str) or not all(isinstance(r, tuple) and len(r) == 2 and all(isinstance(x, str) for x in r) for r in self.rows):
            raise ValueError(f"rows must be a tuple of (column, value) pairs of strings, got {self.rows!r}")
        if not self.columns and not self.rows:
            raise ValueError("a Timing must leave out some columns or rows; a table with none is compared byte for byte")

    def describe(self) -> str:
        parts = [f"column{'s' if len(self.columns) > 1 else ''} {', '.join(self.columns)}"] if self.columns else []
        parts += [f"the row {column} = {value}" for column, value in self.rows]
        return " and ".join(parts)


_COST_ROW = Timing(rows=(("id", "modes_quadratic_cost"),),
                   why="its evidence and verdict rest on exponents fitted to modes_step_cost's timings")
#: The tables built on wall-clock time, and what of each is left out of the comparison (see the module docstring).
TIMING = {
    "robustness_training_time": Timing(columns=("training_seconds",), why="each family's sweep wall time (emma.engine.launch.run_sweep)"),
    "modes_step_cost": Timing(columns=("ms_median", "ms_q1", "ms_q3"), why="milliseconds per training step (emma.experiments.modes_study.step_cost)"),
    "modes_claims": _COST_ROW,
    "book_claims": _COST_ROW,
}


@dataclass(frozen=True)
class Finding:
    """One table's outcome: ``status`` is ``identical``, ``differs``, ``only_a`` or ``only_b``.

    ``line`` is the first line that differs (1 = the header), ``a`` and ``b`` that line in each run
    (None past the end of a table); ``ignored`` what of a timing table was left out.
    """

    name: str
    status: str
    line: int | None = None
    a: str | None = None
    b: str | None = None
    ignored: str = ""


@dataclass(frozen=True)
class Report:
    """What :func:`compare_tables` found, one :class:`Finding` per table (by name)."""

    findings: tuple[Finding, ...]
    labels: tuple[str, str] = ("A", "B")

    def _with(self, *statuses) -> list[Finding]:
        return [f for f in self.findings if f.status in statuses]

    @property
    def identical(self) -> list[Finding]:
        return self._with("identical")

    @property
    def differ(self) -> list[Finding]:
        return self._with("differs")

    @property
    def only(self) -> list[Finding]:
        return self._with("only_a", "only_b")

    @property
    def ok(self) -> bool:
        """True when some table was compared and every table is identical (timing aside)."""
        return bool(self.findings) and len(self.identical) == len(self.findings)

    def summary(self) -> str:
        timed = sum(1 for f in self.identical if f.ignored)
        return (f"{len(self.identical)} table{'' if len(self.identical) == 1 else 's'} identical"
                + (f" ({timed} of them without their timings)" if timed else "")
                + f", {len(self.differ)} differ, {len(self.only)} only in one run")

    def details(self) -> list[str]:
        """One paragraph per table that is not identical, and one line per timing table compared without its timings."""
        a, b = self.labels
        width = max(len(a), len(b))
        out = []
        for f in self.findings:
            if f.status in ("only_a", "only_b"):
                out.append(f"ONLY IN {a if f.status == 'only_a' else b}: {f.name}")
            elif f.status == "differs":
                out.append(f"DIFFERS: {f.name}, first at line {f.line}" + (f" (without {f.ignored})" if f.ignored else "") + ":")
                for label, text in ((a, f.a), (b, f.b)):
                    out.append(f"  {label:<{width}} | {'(end of table)' if text is None else text}")
            elif f.ignored:
                out.append(f"identical without {f.ignored}: {f.name}")
        return out


def _timing_specs(timing) -> dict[str, Timing]:
    if not isinstance(timing, Mapping):
        raise ValueError(f"timing must map table names to a Timing (or a tuple of timing columns), got {type(timing).__name__}")
    specs = {}
    for name, spec in timing.items():
        if not isinstance(name, str) or not name.removesuffix(".csv"):
            raise ValueError(f"timing must map table names (save_table's, e.g. 'modes_step_cost') to a Timing, got the key {name!r}")
        if isinstance(spec, Sequence) and not isinstance(spec, str):
            spec = Timing(columns=tuple(spec))
        if not isinstance(spec, Timing):
            raise ValueError(f"timing[{name!r}] must be a Timing or a tuple of column names, got {spec!r}")
        specs[name.removesuffix(".csv")] = spec
    return specs


def _folder(folder, argument: str) -> Path:
    if not isinstance(folder, (str, os.PathLike)) or not Path(folder).is_dir():
        raise ValueError(f"{argument} must be an existing folder of tables (<output_dir>/tables), got {folder!r}")
    return Path(folder)


def _clip(text: str, at: int, before: int = 60, after: int = 140) -> str:
    """``text`` around its character ``at``, with an ellipsis where it is cut."""
    start, end = max(0, at - before), min(len(text), at + after)
    return ("…" if start else "") + text[start:end] + ("…" if end < len(text) else "")


def _first_difference(a: str | None, b: str | None) -> tuple[str | None, str | None]:
    """Two differing lines, shown from a little before their first differing character."""
    if a is None or b is None:
        return (None if a is None else _clip(a, 0)), (None if b is None else _clip(b, 0))
    at = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    return _clip(a, at), _clip(b, at)


def _show(line: bytes) -> str:
    text = line.decode("utf-8", errors="replace")
    stripped = text.rstrip("\r\n")
    return stripped if stripped + "\n" == text or stripped == text else repr(text)  # line endings other than \n shown as such


def _bytewise(name: str, a: bytes, b: bytes) -> Finding:
    lines_a, lines_b = a.splitlines(keepends=True), b.splitlines(keepends=True)
    for i in range(max(len(lines_a), len(lines_b))):
        x = lines_a[i] if i < len(lines_a) else None
        y = lines_b[i] if i < len(lines_b) else None
        if x != y:
            shown = _first_difference(None if x is None else _show(x), None if y is None else _show(y))
            return Finding(name, "differs", i + 1, *shown)
    raise AssertionError(f"{name}: the bytes differ but no line does")  # unreachable: equal lines make equal bytes


def _records(data: bytes, spec: Timing) -> list[tuple[int, list[str]]]:
    """The CSV's rows without what ``spec`` leaves out, each with the line it ends on (the header first)."""
    reader = csv.reader(io.StringIO(data.decode("utf-8"), newline=""))
    rows = [(reader.line_num, row) for row in reader]
    if not rows:
        return []
    header = rows[0][1]
    dropped = {i for i, column in enumerate(header) if column in spec.columns}
    where = [(header.index(column), value) for column, value in spec.rows if column in header]
    kept = [rows[0]] + [(n, row) for n, row in rows[1:] if not any(i < len(row) and row[i] == value for i, value in where)]
    return [(n, [cell for i, cell in enumerate(row) if i not in dropped]) for n, row in kept]


def _without_timing(name: str, a: bytes, b: bytes, spec: Timing) -> Finding:
    ignored = spec.describe()
    try:
        rows_a, rows_b = _records(a, spec), _records(b, spec)
    except (UnicodeDecodeError, csv.Error) as error:
        return Finding(name, "differs", None, f"(cannot be read as CSV: {error})", None, ignored)
    for i in range(max(len(rows_a), len(rows_b))):
        x = rows_a[i] if i < len(rows_a) else None
        y = rows_b[i] if i < len(rows_b) else None
        if x is None or y is None or x[1] != y[1]:
            line = (x or y)[0]
            shown = _first_difference(None if x is None else ",".join(x[1]), None if y is None else ",".join(y[1]))
            return Finding(name, "differs", line, *shown, ignored=ignored)
    return Finding(name, "identical", ignored=ignored)


def compare_tables(folder_a, folder_b, timing: Mapping = TIMING, labels: tuple[str, str] = ("A", "B")) -> Report:
    """Compare every table (``*.csv``) of two runs' table folders, byte for byte.

    Parameters
    ----------
    folder_a, folder_b : path
        The ``<output_dir>/tables`` folders of the two runs.
    timing : mapping
        Table name (as :func:`emma.util.outputs.save_table` takes it) to a :class:`Timing` (or a
        tuple of column names): those tables are compared cell for cell without the columns and
        rows named, every other byte for byte. Default :data:`TIMING`.
    labels : (str, str)
        The two runs' names in the report.

    Returns
    -------
    Report
        One :class:`Finding` per table either folder holds, by file name.
    """
    folder_a, folder_b = _folder(folder_a, "folder_a"), _folder(folder_b, "folder_b")
    specs = _timing_specs(timing)
    if not (isinstance(labels, tuple) and len(labels) == 2 and all(isinstance(x, str) and x for x in labels)):
        raise ValueError(f"labels must be two non-empty names, got {labels!r}")
    names_a = {p.name for p in folder_a.glob("*.csv") if p.is_file()}
    names_b = {p.name for p in folder_b.glob("*.csv") if p.is_file()}
    findings = []
    for name in sorted(names_a | names_b):
        if name not in names_b:
            findings.append(Finding(name, "only_a"))
        elif name not in names_a:
            findings.append(Finding(name, "only_b"))
        else:
            a, b = (folder_a / name).read_bytes(), (folder_b / name).read_bytes()
            spec = specs.get(name.removesuffix(".csv"))
            if spec is not None:
                findings.append(Finding(name, "identical", ignored=spec.describe()) if a == b else _without_timing(name, a, b, spec))
            else:
                findings.append(Finding(name, "identical") if a == b else _bytewise(name, a, b))
    return Report(tuple(findings), labels)


# ---------------------------------------------------------------------------------------------
# building both sides


@dataclass
class Side:
    """One side of the comparison: its label, revision (None: the working tree), tree and output folder."""

    label: str
    revision: str | None
    tree: Path
    out: Path
    worktree: bool = field(default=False)

    @property
    def name(self) -> str:
        return f"{self.label} ({self.revision[:10] if self.revision else 'the working tree'})"


def resolve(rev: str, argument: str, repo: Path = ROOT) -> str:
    """The full hash of the commit ``rev`` names; a ValueError naming ``argument`` when there is none."""
    if not isinstance(rev, str) or not rev or rev.startswith("-"):
        raise ValueError(f"{argument} must name a git revision, got {rev!r}")
    done = subprocess.run(["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], capture_output=True, text=True)
    if done.returncode != 0:
        raise ValueError(f"{argument} {rev!r}: no such commit in {repo}")
    return done.stdout.strip()


def tool_command(tree: str | os.PathLike) -> list[str]:
    """How to start the tooling of the book in ``tree`` with this interpreter: ``emma_book``, or ``emma.book`` before it moved."""
    tree = Path(tree)
    if (tree / "emma_book" / "__main__.py").is_file():
        return [sys.executable, "-m", "emma_book"]
    if (tree / "emma" / "book" / "cli.py").is_file():
        return [sys.executable, "-c", "import sys; from emma.book.cli import main; sys.exit(main())"]
    raise ValueError(f"{tree} holds no tooling of the book (neither emma_book/__main__.py nor emma/book/cli.py)")


def environment(tree: Path) -> dict[str, str]:
    """This process's environment, with ``PYTHONPATH`` the tree alone and this interpreter's folder first on ``PATH``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(tree)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def check_imports(side: Side) -> None:
    """Stop when ``emma`` or its tooling would not be imported from ``side``'s tree (an install shadowing it)."""
    tooling = "emma_book" if tool_command(side.tree)[1] == "-m" else "emma.book"
    probe = f"import emma, {tooling} as t; print(emma.__file__); print(t.__file__)"
    done = subprocess.run([sys.executable, "-c", probe], cwd=side.tree, env=environment(side.tree), capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{side.name}: importing emma and {tooling} from {side.tree} failed:\n{done.stderr.strip()}")
    for path in done.stdout.split():
        if not Path(path).resolve().is_relative_to(side.tree.resolve()):
            raise RuntimeError(f"{side.name}: {path} is imported instead of the tree's own code in {side.tree}: "
                               "something on sys.path shadows PYTHONPATH")


def build(side: Side, profile: str, chapters: list[str]) -> None:
    """Run ``side``'s chapters into its own fresh output folder (its cache inside it) on the CPU; a RuntimeError when the run fails."""
    check_imports(side)
    side.out.mkdir(parents=True)
    command = [*tool_command(side.tree), "run", *chapters, "--profile", profile, "--device", "cpu",
               "-p", "output_dir", str(side.out), "-p", "cache_dir", str(side.out / "cache")]
    print(f"[same_tables] {side.name}: in {side.tree}\n[same_tables]   {' '.join(command[1:])}", flush=True)
    start = time.monotonic()
    done = subprocess.run(command, cwd=side.tree, env=environment(side.tree))
    took = time.monotonic() - start
    if done.returncode != 0:
        raise RuntimeError(f"{side.name}: the run failed (exit status {done.returncode}) after {took:.0f} s; its output folder: {side.out}")
    print(f"[same_tables] {side.name}: done in {took / 60:.1f} min", flush=True)


def add_worktree(side: Side) -> None:
    done = subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(side.tree), side.revision], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{side.name}: git worktree add failed: {done.stderr.strip()}")
    side.worktree = True


def remove_worktree(side: Side) -> None:
    done = subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(side.tree)], capture_output=True, text=True)
    if done.returncode != 0:
        print(f"[same_tables] could not remove the worktree {side.tree}: {done.stderr.strip()}; removing its folder", file=sys.stderr)
        shutil.rmtree(side.tree, ignore_errors=True)
        subprocess.run(["git", "-C", str(ROOT), "worktree", "prune"], capture_output=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="same_tables.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("base", metavar="BASE", help="the revision before the change (a commit, tag or branch)")
    parser.add_argument("head", metavar="HEAD", nargs="?", default=None,
                        help="the revision after it (default: this checkout's working tree as it is, run in place)")
    parser.add_argument("--profile", choices=PROFILES, default="full", help="the profile both sides run (default full: the book's settings)")
    parser.add_argument("--chapters", nargs="+", default=[], metavar="NAME", help="run only these chapters (default: all of them)")
    parser.add_argument("--keep", type=Path, default=None, metavar="DIR",
                        help="build in DIR (new or empty) and keep both trees, outputs and caches there")
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        base = resolve(args.base, "BASE")
        head = resolve(args.head, "HEAD") if args.head is not None else None
    except ValueError as error:
        parser.error(str(error))
    if args.keep is not None and args.keep.exists() and (not args.keep.is_dir() or any(args.keep.iterdir())):
        parser.error(f"--keep {str(args.keep)!r} must be a new or empty folder")
    work = args.keep.resolve() if args.keep is not None else Path(tempfile.mkdtemp(prefix="same-tables-"))
    work.mkdir(parents=True, exist_ok=True)
    sides = [Side("BASE", base, work / "base", work / "base-out"),
             Side("HEAD", head, work / "head", work / "head-out") if head else Side("HEAD", None, ROOT, work / "head-out")]
    try:
        for side in sides:
            if side.revision is not None:
                add_worktree(side)
            tool_command(side.tree)  # names a revision without the tooling before anything runs
        for side in sides:
            build(side, args.profile, args.chapters)
        folders = [side.out / "tables" for side in sides]
        for side, folder in zip(sides, folders):
            if not folder.is_dir():
                print(f"[same_tables] {side.name} wrote no table", flush=True)
                folder.mkdir()
        report = compare_tables(*folders, labels=(sides[0].name, sides[1].name))
    except (RuntimeError, ValueError) as error:
        print(f"same_tables.py: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("same_tables.py: interrupted", file=sys.stderr)
        return 130
    finally:
        if args.keep is None:
            for side in sides:
                if side.worktree:
                    remove_worktree(side)
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"[same_tables] kept in {work} (remove the worktrees with `git worktree remove --force {work}/base`"
                  + (f" and `{work}/head`" if head else "") + ")", flush=True)
    for line in report.details():
        print(line)
    print(f"{sides[0].name} vs {sides[1].name}, profile {args.profile}, on the CPU: {report.summary()}")
    if not report.findings:
        print("no table was written by either run: nothing was compared")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
