"""``emma-book``: list, execute and build the chapters of the book.

    emma-book list
    emma-book new NAME [--title TITLE]
    emma-book run [NAME ...] [--profile quick|full] [--device auto|cpu|cuda] [-f FILE ...] [-p KEY VALUE ...] [--force] [--retrain]
    emma-book status [NAME ...] [--profile quick|full] [--device auto|cpu|cuda] [-f FILE ...] [-p KEY VALUE ...]
    emma-book build [--chapters DIR] [--builder html|linkcheck] [--pdf] [--no-strict]

``run --retrain`` bypasses the cache of trained models and sweeps (:mod:`emma.util.cache`): it
executes the chapters as ``--force`` does, with the environment variable ``EMMA_RETRAIN`` set, for
their kernels and worker processes, to the time the run started, so every cached artifact written
before it is computed again (and overwritten) while what the run itself trains is reused.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from tqdm.auto import tqdm

from emma.book import build as book
from emma.book import params, pdf, rerun, runs, scaffold
from emma.util.cache import RETRAIN, retraining
from emma.util.runtime import DEVICES, progress_disabled


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="emma-book", description="Execute and build the EMMA book.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="one line per chapter: its name, then its title")
    new = commands.add_parser(
        "new", help="write notebooks/NN_NAME.py, a chapter that runs, and list it in _toc.yml's part Extensions"
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
            help="a chapter parameter, applied to every chapter that declares it; VALUE is read as YAML (3, 0.5, [0, 1], true, text)",
        )
        command.add_argument(
            "-f", "--parameters-file", action="append", default=[], type=Path, metavar="FILE",
            help="a YAML file of parameters (papermill's convention; a key naming a chapter holds that chapter's own); "
            "later files and -p win",
        )
    run.add_argument("--force", action="store_true", help="execute even the chapters whose run key is unchanged")
    run.add_argument(
        "--retrain", action="store_true",
        help=f"bypass the cache of trained models and sweeps: sets {RETRAIN} for the chapters' kernels, so every "
        "artifact cached before this run is computed again and overwritten (what the run trains is reused); implies --force",
    )
    build = commands.add_parser("build", help="build the HTML book from the executed chapters")
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
    return parser


def _resolve(args) -> tuple[list, dict, dict]:
    """The chapters ``run`` (or ``status``) selects, their parameters, and the keys some of them do not declare."""
    selected = book.select(args.names)
    layers = [rerun.read_parameter_file(book.PROFILES / f"{args.profile}.yaml"), {"profile": args.profile, "device": args.device}]
    layers += [rerun.read_parameter_file(path) for path in args.parameters_file]
    layers.append({key: params.parse_pair(key, value) for key, value in args.parameter})
    parameters, not_declared = rerun.resolve_parameters(selected, layers)
    params.check_parameters(selected, parameters)  # before any kernel starts
    return selected, parameters, not_declared


def _shown(path: Path) -> Path:
    return path.relative_to(book.ROOT) if path.is_relative_to(book.ROOT) else path


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "list":
            for chapter in book.chapters():
                print(f"{chapter.name:<24} {chapter.title}")
            return 0
        if args.command == "new":
            source = scaffold.new_chapter(args.name, args.title)
            print(f"wrote {source.relative_to(book.ROOT)}, listed in _toc.yml (part {scaffold.EXTENSIONS}) and profiles/quick.yaml; "
                  f"run it with `emma-book run {args.name} --profile quick`")
            return 0
        if args.command == "build":
            return book.build(strict=not args.no_strict, executed=args.chapters, builder=args.builder, pdf=args.pdf)
        selected, parameters, not_declared = _resolve(args)
        if args.command == "status":
            for chapter in selected:
                output = book.executed_path(chapter, parameters[chapter.name].get("output_dir"))
                reasons = rerun.stale(rerun.run_key(chapter, parameters[chapter.name], output.parent), output)
                print(f"{chapter.name:<24} {'stale: ' + ', '.join(reasons) if reasons else 'up to date'}")
            return 0
        for key, names in not_declared.items():
            if key not in ("profile", "device"):
                print(f"   parameter {key!r} applies only where declared; not to: {', '.join(names)}", flush=True)
        quiet = progress_disabled()
        started = time.time()  # with --retrain, cache files older than this are computed again
        folders = {c.name: rerun.output_folder(parameters[c.name]) for c in selected}
        with runs.holding(folders.values()) as recovered:  # one run per output folder; settle what a killed run left
            for message in recovered:
                print(f"   {message}", flush=True)
            for chapter in tqdm(selected, desc="chapters", unit="chapter", disable=quiet):
                own = parameters[chapter.name]
                output = book.executed_path(chapter, own.get("output_dir"))
                key = rerun.run_key(chapter, own, output.parent)
                reasons = ["--retrain"] if args.retrain else ["--force"] if args.force else rerun.stale(key, output)
                if not reasons:
                    print(f"== {chapter.name}: skipped, nothing changed since it was executed ({_shown(output)})", flush=True)
                    continue
                print(f"== {chapter.name}: {chapter.title} ({args.profile} profile; {', '.join(reasons)})", flush=True)
                with runs.RunFolder(folders[chapter.name], chapter.stem) as run:  # its outputs stay there until it succeeds
                    with rerun.recording_reads(run.log), retraining(args.retrain, since=started):  # the kernel inherits both
                        book.execute(chapter, own, output=run.notebook, progress=not quiet, failed=run.failed)
                    writes = rerun.logged_writes(run.log, own)
                    rerun.store_key(run.notebook, rerun.with_reads(key, rerun.logged_reads(run.log, own), writes))
                    path = run.commit(output)
                print(f"   wrote {_shown(path)}", flush=True)
        return 0
    except (book.ChapterFailed, ValueError, FileNotFoundError, pdf.PdfError, runs.OutputFolderBusy) as error:
        print(f"emma-book: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
