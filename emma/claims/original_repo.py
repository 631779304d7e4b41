"""The thesis's public repository at the commit the book reads, and a check of every reference to it.

The book links the original code and the final LaTeX at one commit, :data:`COMMIT`, and names
their files in prose (``code/experiment-3/main.py L155``). :data:`MANIFEST` records every text
file of ``code/``, ``report/chapters/`` and ``report/appendices/`` at that commit with its number
of lines, so :func:`check_links` can check a reference without the network: its commit, its file,
and its lines.
"""
from __future__ import annotations

import re

__all__ = ["COMMIT", "MANIFEST", "REPOSITORY", "check_links", "check_location"]

#: The thesis's public repository.
REPOSITORY = "https://github.com/awerenne/energy-based-multimodal-attention"
#: The commit every link of the book points at (abbreviated as in the links).
COMMIT = "7302713"
#: Its full hash: a link may also spell it out.
FULL_COMMIT = "7302713b9a3f6ba5d04691c1bd03fac7b73f9fda"

#: Every text file of ``code/``, ``report/chapters/`` and ``report/appendices/`` at :data:`COMMIT`
#: and its number of lines, with the main LaTeX file (the abstract), the summary and the one script of
#: ``report/``. Read once from a bare clone of the repository: ``git ls-tree -r --name-only 7302713 --
#: code report/chapters report/appendices report/experiment report/*.tex``, then, for each file whose
#: bytes hold no NUL (the figures are left out), ``len(text.splitlines())`` of ``git show 7302713:<path>``.
MANIFEST = {
    "code/data/data.py": 129,
    "code/data/pulsar.csv": 17899,
    "code/emma/autoencoder.py": 67,
    "code/emma/emma.py": 173,
    "code/experiment-1/data.py": 93,
    "code/experiment-1/dumps/.gitkeep": 0,
    "code/experiment-1/main.py": 105,
    "code/experiment-1/plotting.py": 112,
    "code/experiment-2/dumps/.gitkeep": 0,
    "code/experiment-2/main.py": 254,
    "code/experiment-2/plotting.py": 90,
    "code/experiment-3/extra.py": 656,
    "code/experiment-3/main.py": 542,
    "code/experiment-3/plotting.py": 529,
    "report/appendices/AppendixA.tex": 37,
    "report/appendices/AppendixB.tex": 10,
    "report/appendices/AppendixC.tex": 27,
    "report/chapters/1-introduction.tex": 76,
    "report/chapters/2-background.tex": 78,
    "report/chapters/3-literature-review.tex": 48,
    "report/chapters/4-energy-approx.tex": 202,
    "report/chapters/5-emma.tex": 271,
    "report/chapters/6-dataset.tex": 0,
    "report/chapters/7-experiments.tex": 427,
    "report/chapters/8-unified.tex": 15,
    "report/chapters/9-conclusion.tex": 18,
    "report/experiment/softmax-temperature.py": 36,
    "report/master-thesis.tex": 309,
    "report/summary.tex": 23,
}

#: A link to a file (or folder) of the repository at some commit, with an optional line anchor.
_LINK = re.compile(re.escape(REPOSITORY) + r"/(?:blob|tree)/(?P<commit>[^/\s#)\]>'\"`]+)/(?P<path>[^\s#)\]>'\"`,;]+)"
                   r"(?:#L(?P<first>\d+)(?:-L(?P<last>\d+))?)?")
#: A path of the repository named in prose (not inside a link), with the lines that may follow it
#: (``code/data/data.py L56–L68``, ``` `report/chapters/5-emma.tex` L120 ```).
_MENTION = re.compile(r"(?<![\w/.-])(?P<path>(?:code|report)/[\w./-]+?\.(?:py|tex))(?![\w-])"
                      r"(?:`?\s+L(?P<first>\d+)(?:\s*[-–]\s*L?(?P<last>\d+))?)?")


def _is_folder(path: str) -> bool:
    return any(name.startswith(path.rstrip("/") + "/") for name in MANIFEST)


def check_location(path: str, first: int | None = None, last: int | None = None) -> list[str]:
    """What is wrong with lines ``first``–``last`` of ``path`` at :data:`COMMIT` (nothing: an empty list).

    Parameters
    ----------
    path : str
        A path inside the repository, e.g. ``"code/experiment-3/main.py"``; a folder is allowed
        without lines.
    first, last : int or None
        The first and last line (both 1-based, ``last`` None for one line, both None for the file).

    Returns
    -------
    list of str
        The problems: a file not in :data:`MANIFEST`, a line past its end, ``first`` after ``last``.

    Examples
    --------
    >>> check_location("code/emma/autoencoder.py", 24, 31)
    []
    >>> check_location("code/emma/autoencoder.py", 70)
    ['line 70 is past the end of code/emma/autoencoder.py (67 lines at 7302713)']
    """
    if not isinstance(path, str) or not path:
        raise ValueError(f"path must be a path inside the repository (a non-empty string), got {path!r}")
    for name, value in (("first", first), ("last", last)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValueError(f"{name} must be a line number (an int) or None, got {value!r}")
    if first is None and last is not None:
        raise ValueError(f"last needs first: got first=None, last={last!r}")
    path = path.rstrip("/")
    if path not in MANIFEST:
        if _is_folder(path):
            return [] if first is None else [f"{path} is a folder: it has no line {first}"]
        return [f"{path} is not a text file of the repository at {COMMIT} (see MANIFEST)"]
    problems = []
    lines = [n for n in (first, last) if n is not None]
    if any(n < 1 for n in lines):
        problems.append(f"lines of {path} start at 1, got L{min(lines)}")
    if first is not None and last is not None and first > last:
        problems.append(f"L{first} comes after L{last} in {path}")
    if lines and max(lines) > MANIFEST[path]:
        problems.append(f"line {max(lines)} is past the end of {path} ({MANIFEST[path]} lines at {COMMIT})")
    return problems


def _known_commit(commit: str) -> bool:
    return len(commit) >= len(COMMIT) and FULL_COMMIT.startswith(commit.lower())


def check_links(text: str, source_name: str) -> list[str]:
    """Every problem of the links to the original repository, and of the paths of it, in ``text``.

    Links are ``<REPOSITORY>/blob/<commit>/<path>`` with an optional ``#L<a>`` or ``#L<a>-L<b>``;
    mentions are bare paths starting with ``code/`` or ``report/`` and ending in ``.py`` or
    ``.tex``, with an optional ``L<a>`` or ``L<a>–L<b>`` after them.

    Parameters
    ----------
    text : str
        The text to scan (a page, a notebook, a module's source).
    source_name : str
        What ``text`` is, for the messages (e.g. its path).

    Returns
    -------
    list of str
        One message per problem, ``"<source_name>:<line>: <reference>: <problem>"``: a commit
        other than :data:`COMMIT`, a missing file, a line past the end of its file, ``L<a>`` after
        ``L<b>``. Empty when every reference holds.

    Examples
    --------
    >>> check_links("see code/emma/autoencoder.py L30", "page.md")
    []
    >>> [problem.split(": ", 2)[2] for problem in check_links("see code/emma/autoencoder.py L" + "99", "page.md")]
    ['line 99 is past the end of code/emma/autoencoder.py (67 lines at 7302713)']
    """
    if not isinstance(text, str):
        raise ValueError(f"text must be a string (the text to scan), got {type(text).__name__}")
    if not isinstance(source_name, str) or not source_name:
        raise ValueError(f"source_name must name the scanned text (a non-empty string), got {source_name!r}")
    problems = []

    def report(match, issues):
        line = text.count("\n", 0, match.start()) + 1
        problems.extend(f"{source_name}:{line}: {match.group(0)}: {issue}" for issue in issues)

    for match in _LINK.finditer(text):
        commit, path = match.group("commit"), match.group("path").rstrip(".")
        first, last = (int(match.group(k)) if match.group(k) else None for k in ("first", "last"))
        if not _known_commit(commit):
            report(match, [f"unknown commit {commit!r} (the book reads {COMMIT})"])
        else:
            report(match, check_location(path, first, last))
    for match in _MENTION.finditer(text):
        first, last = (int(match.group(k)) if match.group(k) else None for k in ("first", "last"))
        report(match, check_location(match.group("path"), first, last))
    return problems
