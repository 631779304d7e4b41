"""``emma-book``: list, execute and build the chapters of the book.

    emma-book list
    emma-book new NAME [--title TITLE]
    emma-book run [NAME ...] [--profile quick|full] [--device auto|cpu|cuda] [-f FILE ...] [-p KEY VALUE ...] [--force] [--retrain]
    emma-book status [NAME ...] [--profile quick|full] [--device auto|cpu|cuda] [-f FILE ...] [-p KEY VALUE ...]
    emma-book build [--chapters DIR] [--builder html|linkcheck] [--pdf] [--no-strict] [--profile quick|full] [--device auto|cpu|cuda] [--no-run]

``build`` first executes every chapter without an up-to-date run in the folder it builds from, as
``run`` would, and says which and why (:func:`emma_book.update.bring_up_to_date`): a chapter not
executed yet in the profile and on the device of the chapters that are (quick when none is), a
stale one again with the parameters it ran with; executed chapters that disagree on the profile stop
it. ``build --no-run`` executes nothing: it refuses a chapter not executed, and names those built
from stale runs.

``run --retrain`` bypasses the cache of trained models and sweeps (:mod:`emma.util.cache`): it
executes the chapters as ``--force`` does, with the environment variable ``EMMA_RETRAIN`` set, for
their kernels and worker processes, to the time the run started, so every cached artifact written
before it is computed again (and overwritten) while what the run itself trains is reused.
"""
from __future__ import annotations

import argparse
import errno
import os
import sys
from pathlib import Path

from emma.claims.report import TABLES_URL
from emma.util.cache import RETRAIN
from emma.util.runtime import DEVICES
from emma_book import build as book
from emma_book import layout, params, pdf, runs, scaffold, update


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="emma-book", description="Execute and build the EMMA book.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="one line per chapter: its name, then its title")
    new = commands.add_parser(
        "new", help="write notebooks/NN_NAME.py, a chapter that runs, with its logic emma/experiments/NAME.py and tests/test_NAME.py, "
        "and list it in _toc.yml's part Extensions"
    )
    new.add_argument("name", metavar="NAME", help="a lowercase identifier no chapter has (the file is NN_NAME.py)")
    new.add_argument("--title", default=None, help="the chapter's title (default: NAME with spaces, capitalised)")
    run = commands.add_parser("run", help="execute chapters with papermill (all of them when none is named)")
    status = commands.add_parser(
        "status", help="without running anything, one line per chapter: up to date, or stale and why (as `run` would see it)"
    )
    for command in (run, status):
        command.add_argument("names", nargs="*", metavar="NAME", help="chapter names (see `emma-book list`)")
        command.add_argument("--profile", choices=("quick", "full"), default="full", help="full = the thesis's settings (default)")
        command.add_argument("--device", choices=DEVICES, default="auto", help="auto picks CUDA when present (default)")
        command.add_argument(
            "-p", "--parameter", nargs=2, action="append", default=[], metavar=("KEY", "VALUE"),
            help="a chapter parameter, applied to every chapter that declares it; VALUE is read as YAML (3, 0.5, [0, 1], true, text); "
            "not the profile (--profile); a relative output_dir, data_home or cache_dir is taken from the working folder",
        )
        command.add_argument(
            "-f", "--parameters-file", action="append", default=[], type=Path, metavar="FILE",
            help="a YAML file of parameters (papermill's convention; a key naming a chapter holds that chapter's own, checked "
            "whether that chapter runs or not); later files and -p win",
        )
    run.add_argument("--force", action="store_true", help="execute even the chapters whose run key is unchanged")
    run.add_argument(
        "--retrain", action="store_true",
        help=f"bypass the cache of trained models and sweeps: sets {RETRAIN} for the chapters' kernels, so every "
        "artifact cached before this run is computed again and overwritten (what the run trains is reused); implies --force",
    )
    build = commands.add_parser(
        "build", help="execute the chapters without an up-to-date run (as `run` would; --no-run: none), then build the HTML book"
    )
    build.add_argument("--no-strict", action="store_true", help="do not treat Sphinx warnings as errors")
    build.add_argument(
        "--chapters", type=Path, default=None, metavar="DIR",
        help="the folder of executed notebooks NN_name.ipynb to render (default: book/chapters)",
    )
    build.add_argument(
        "--builder", choices=book.BUILDERS, default="html",
        help="html: the book in _build/html (default); linkcheck: check every external link",
    )
    build.add_argument(
        "--pdf", action="store_true",
        help="also the PDF edition, _build/pdf/emma-book.pdf (printed by headless Chromium), offered by every page",
    )
    build.add_argument(
        "--profile", choices=update.PROFILES, default=None,
        help="the profile of the chapters not executed yet (default: that of the executed chapters, quick when there are none)",
    )
    build.add_argument(
        "--device", choices=DEVICES, default=None,
        help="their device (default: that of the executed chapters when they agree, else auto)",
    )
    build.add_argument(
        "--no-run", action="store_true",
        help="execute nothing: refuse to build when a chapter has not been executed, and name those built from stale runs",
    )
    return parser


def _resolve(args) -> tuple[list, dict, dict]:
    """The chapters ``run`` (or ``status``) selects, their parameters, and the keys the caller set that some of them do not declare.

    Everything is checked before any kernel starts: every chapter section of the profile and of
    each ``-f`` file, run or not (:func:`emma_book.params.check_sections`); the profile, which only
    ``--profile`` sets (``-p profile`` is refused, and so is a file's ``profile`` that is not
    ``--profile``'s); and each resolved value (:func:`emma_book.params.check_parameters`). The
    path parameters (``output_dir``, ``data_home``, ``cache_dir``) are made absolute against the
    caller's working folder, so the notebook, the tables, the figures and the lock of a run all
    go where the caller meant, whatever folder the kernel runs in.
    """
    selected = book.select(args.names)
    profile_file = layout.PROFILES / f"{args.profile}.yaml"
    profile = params.read_parameter_file(profile_file)
    params.check_sections(profile, f"profile {profile_file.name}", selected)
    files = [(path, params.read_parameter_file(path)) for path in args.parameters_file]
    for path, layer in files:
        params.check_sections(layer, f"parameter file {path}", selected)
        params.refuse_profile(layer, args.profile, f"parameter file {path}")
    pairs = {key: params.parse_pair(key, value) for key, value in args.parameter}
    if "profile" in pairs:
        raise ValueError(f"-p profile {pairs['profile']}: the profile is chosen with --profile, not -p (it picks the sizes of "
                         f"profiles/<profile>.yaml): use --profile {pairs['profile'] if pairs['profile'] in ('quick', 'full') else 'quick|full'}")
    layers = [profile, {"profile": args.profile, "device": args.device}, *(layer for _, layer in files), pairs]
    parameters, not_declared = params.resolve_parameters(selected, layers)
    given = set(pairs).union(*(layer for _, layer in files))  # the keys the caller set, not the profile's
    not_declared = {key: names for key, names in not_declared.items() if key in given}
    parameters = params.absolute_paths(parameters)
    params.check_parameters(selected, parameters)  # before any kernel starts
    return selected, parameters, not_declared


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "list":
            for chapter in book.chapters():
                print(f"{chapter.name:<24} {chapter.title}")
            return 0
        if args.command == "new":
            source = scaffold.new_chapter(args.name, args.title, layout.ROOT)
            module, tests = (path.relative_to(layout.ROOT) for path in scaffold.companions(args.name, layout.ROOT))
            print(f"wrote {source.relative_to(layout.ROOT)} (the chapter), {module} (its logic) and {tests} (its tests), "
                  f"listed in _toc.yml (part {scaffold.EXTENSIONS}) and profiles/quick.yaml; "
                  f"run it with `emma-book run {args.name} --profile quick`, then `emma-book build` executes the other chapters "
                  "not executed yet, in the same profile, and builds the book")
            return 0
        if args.command == "build":
            if args.no_run and (args.profile or args.device):
                raise ValueError("--profile and --device say how `emma-book build` executes chapters, and --no-run executes none: drop one or the other")
            if args.no_run:
                for name, reasons in update.stale_runs(args.chapters).items():
                    print(f"emma-book build: warning: chapter {name!r} is built from a run that is not up to date ({', '.join(reasons)})",
                          file=sys.stderr, flush=True)
            else:
                update.bring_up_to_date(args.chapters, args.profile, args.device)
            if args.pdf:
                if args.builder != "html":
                    raise ValueError(f"the PDF edition comes with the HTML book, not with the builder {args.builder!r}")
                return pdf.edition(executed=args.chapters, strict=not args.no_strict)
            return book.build(strict=not args.no_strict, executed=args.chapters, builder=args.builder)
        selected, parameters, not_declared = _resolve(args)
        if args.command == "status":
            for chapter in selected:
                reasons = update.reasons(chapter, parameters[chapter.name])
                print(f"{chapter.name:<24} {'stale: ' + ', '.join(reasons) if reasons else 'up to date'}")
            return 0
        for key, names in not_declared.items():
            if key not in ("profile", "device"):
                print(f"   parameter {key!r} applies only where declared; not to: {', '.join(names)}", flush=True)
        if os.environ.get(TABLES_URL):  # a run reads only the tables of its own output folder
            print(f"emma-book: warning: ${TABLES_URL} is ignored inside `emma-book run`: a chapter reads only the tables this run's "
                  "chapters wrote", file=sys.stderr, flush=True)
        update.execute_chapters(selected, parameters, force=args.force, retrain=args.retrain, profile=args.profile)
        return 0
    except (book.ChapterFailed, ValueError, FileNotFoundError, pdf.PdfError, runs.OutputFolderBusy, runs.DiskFull) as error:
        print(f"emma-book: error: {error}", file=sys.stderr)
        return 1
    except OSError as error:  # no space left outside a chapter's run (staging, Sphinx): one line naming the file
        if error.errno != errno.ENOSPC:
            raise
        print(f"emma-book: error: no space left on the device{f' of {error.filename}' if error.filename else ''}: free some space and rerun",
              file=sys.stderr)
        return 1
    except KeyboardInterrupt as interrupt:  # Ctrl-C: what was committed stays (emma_book.runs), a rerun resumes
        chapter = getattr(interrupt, "chapter", None)
        print(f"emma-book: interrupted{f': {chapter}' if chapter else ''}; rerun to resume", file=sys.stderr, flush=True)
        return 130


if __name__ == "__main__":
    sys.exit(main())
