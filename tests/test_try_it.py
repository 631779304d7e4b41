"""Every chapter ends with "Try it": two parameter changes a student can make, each with its exact command.

The chapter's last Markdown cell is a section ``## Try it`` holding exactly two fenced ``bash``
blocks, each one ``emma-book run NAME -p KEY VALUE ...`` line for that chapter, with no profile and
no output folder (the reader's run is the thesis's settings, in the book's own folder). The tests
read each command with the command line's own parser, then run it as written, in the quick profile
on the CPU, into a copy of the quick book's output folder (so a chapter that reads other chapters'
outputs finds them, and the book the other tests check is left alone): each must succeed.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys

import jupytext
import pytest
import test_pipeline

from emma_book import cli, layout

FENCE = re.compile(r"^```bash\n(.*?)\n```$", flags=re.MULTILINE | re.DOTALL)


def try_it(chapter) -> list[list[str]]:
    """The commands of ``chapter``'s closing "Try it" section, each split as a shell would (``shlex``)."""
    cells = [cell for cell in jupytext.read(chapter.source).cells if cell.cell_type == "markdown"]
    last = cells[-1].source if cells else ""
    if not last.startswith("## Try it"):
        raise AssertionError(f"{chapter.name}: the last Markdown cell must be the section '## Try it', not {last[:40]!r}")
    return [shlex.split(block.strip()) for block in FENCE.findall(last)]


def checked(chapter, argv: list[str]):
    """``argv`` read by ``emma-book``'s parser, after checking it is a run of ``chapter`` that a reader can paste."""
    assert argv[:2] == ["emma-book", "run"], f"{chapter.name}: a Try-it command starts with 'emma-book run', not {argv[:2]}"
    args = cli._parser().parse_args(argv[1:])
    assert args.names == [chapter.name], f"{chapter.name}: a Try-it command runs its own chapter by name, not {args.names}"
    assert args.parameter, f"{chapter.name}: a Try-it command changes at least one parameter (-p KEY VALUE)"
    assert args.profile == "full" and "--profile" not in argv, f"{chapter.name}: the reader's run is the thesis's settings; no --profile"
    keys = {key for key, _ in args.parameter}
    assert "output_dir" not in keys and "profile" not in keys, f"{chapter.name}: no output_dir or profile in a Try-it command"
    undeclared = keys - set(chapter.parameters())
    assert not undeclared, f"{chapter.name}: a Try-it command sets {sorted(undeclared)}, which the chapter does not declare"
    return args


@pytest.mark.parametrize("chapter", layout.select([]), ids=lambda c: c.name)
def test_every_chapter_ends_with_two_commands_a_reader_can_paste(chapter):
    commands = try_it(chapter)
    assert len(commands) == 2, f"{chapter.name}: 'Try it' holds {len(commands)} commands, not two"
    changes = [frozenset(key for key, _ in checked(chapter, argv).parameter) for argv in commands]
    assert changes[0] != changes[1], f"{chapter.name}: the two Try-it commands change the same parameters {set(changes[0])}"


def test_a_command_for_another_chapter_or_with_a_profile_is_refused():
    chapter = next(c for c in layout.chapters() if c.name == "pulsar_data")
    with pytest.raises(AssertionError, match="runs its own chapter"):
        checked(chapter, ["emma-book", "run", "robustness", "-p", "seeds", "[0]"])
    with pytest.raises(AssertionError, match="no --profile"):
        checked(chapter, ["emma-book", "run", "pulsar_data", "--profile", "quick", "-p", "max_points", "10"])
    with pytest.raises(AssertionError, match="does not declare"):
        checked(chapter, ["emma-book", "run", "pulsar_data", "-p", "no_such_parameter", "1"])


@pytest.fixture(scope="session")
def scratch_outputs(tmp_path_factory):
    """A copy of the quick book's output folder (outputs, run records, cache), for the Try-it runs to write into."""
    executed = test_pipeline.executed_quick_book(tmp_path_factory)
    copy = tmp_path_factory.mktemp("try_it") / "_build"
    shutil.copytree(executed / "_build", copy, ignore=shutil.ignore_patterns("html", "staging", "*.lock"))
    return copy


@pytest.mark.slow
@pytest.mark.parametrize("chapter", layout.select([]), ids=lambda c: c.name)
def test_each_try_it_command_runs_in_the_quick_profile(chapter, scratch_outputs):
    for argv in try_it(chapter):
        command = [sys.executable, "-m", "emma_book", *argv[1:], "--profile", "quick", "--device", "cpu", "-p", "output_dir", str(scratch_outputs)]
        done = subprocess.run(command, cwd=layout.ROOT, capture_output=True, text=True, env={**os.environ, "TQDM_DISABLE": "1"}, timeout=1800)
        assert done.returncode == 0, f"{shlex.join(argv)} failed in the quick profile:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
