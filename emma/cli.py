"""``emma-book``: list, execute and build the chapters of the book.

    emma-book list
    emma-book run [NAME ...] [--profile quick|full] [--device auto|cpu|cuda] [-p KEY VALUE ...]
    emma-book build [--chapters DIR] [--builder html|linkcheck] [--no-strict]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml
from tqdm.auto import tqdm

from . import book
from .runtime import DEVICES, progress_disabled


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="emma-book", description="Execute and build the EMMA book.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="one line per chapter: its name, then its title")
    run = commands.add_parser("run", help="execute chapters with papermill (all of them when none is named)")
    run.add_argument("names", nargs="*", metavar="NAME", help="chapter names (see `emma-book list`)")
    run.add_argument("--profile", choices=("quick", "full"), default="full", help="full = the thesis's settings (default)")
    run.add_argument("--device", choices=DEVICES, default="auto", help="auto picks CUDA when present (default)")
    run.add_argument(
        "-p", "--parameter", nargs=2, action="append", default=[], metavar=("KEY", "VALUE"),
        help="another chapter parameter; VALUE is read as YAML (3, 0.5, [0, 1], true, text)",
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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "list":
            for chapter in book.chapters():
                print(f"{chapter.name:<24} {chapter.title}")
            return 0
        if args.command == "build":
            return book.build(strict=not args.no_strict, executed=args.chapters, builder=args.builder)
        selected = book.select(args.names)
        extra = {key: yaml.safe_load(value) for key, value in args.parameter}
        parameters = {"profile": args.profile, "device": args.device, **extra}
        quiet = progress_disabled()
        for chapter in tqdm(selected, desc="chapters", unit="chapter", disable=quiet):
            print(f"== {chapter.name}: {chapter.title} ({args.profile} profile)", flush=True)
            path = book.execute(chapter, parameters, progress=not quiet)
            print(f"   wrote {path.relative_to(book.ROOT)}", flush=True)
        return 0
    except (book.ChapterFailed, ValueError, FileNotFoundError) as error:
        print(f"emma-book: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
