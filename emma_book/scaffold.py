"""``emma-book new``: a new chapter that already runs, registered where the book finds it.

:func:`new_chapter` writes three files: ``notebooks/NN_name.py`` (jupytext percent format), with
NN the next number after every existing chapter, so that no chapter is renumbered and no link breaks;
the module ``emma/experiments/name.py``, which holds the example's logic, and its tests
``tests/test_name.py`` (:func:`companions`; the templates are :data:`TEMPLATES`). File
numbers follow the table of contents (NN is the chapter's number in the book), and a notebook
appendix is named ``AN_name`` (``A1_verdicts``), outside the chapters' numbers. The
chapter has what every chapter has (the title cell, "What you will learn", the ``parameters``
cell, the standard setup, a table saved and shown with its numbered caption, a number glued into
the prose (myst-nb's ``glue``), a figure with its caption, a claims table that the appendix
Verdicts collects, a closing "Try it") around a small example to replace: a logistic regression
on each mode of HTRU2 and on both, seconds to run, with a new failure of a mode whose severity is
not a blend. It reads like every chapter, a lesson: each result is one call into its module,
in short cells with no ``def`` or ``class`` (``tests/test_chapter_cells.py``). It is listed in
``_toc.yml`` in the part ``Extensions``, which sits just before ``Appendices`` (created there when
absent), so the appendix stays last whatever the numbers; and it gets a section in
``profiles/quick.yaml`` with its smaller quick settings. ``_toc.yml`` is edited as text (its comments
and other parts stay as they are) and checked by parsing it back before anything is written.
"""
from __future__ import annotations

import keyword
import re
from importlib import resources
from pathlib import Path
from string import Template

import yaml

from emma.util.outputs import atomic_write
from emma_book import build as book
from emma_book import layout

#: The caption of the part that holds the chapters added with ``emma-book new``.
EXTENSIONS = "Extensions"
#: The part that stays last.
APPENDICES = "Appendices"
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
#: The templates of the three files, in ``emma_book/templates/`` (package data): ``chapter.py.tmpl``
#: (``notebooks/NN_name.py``), ``module.py.tmpl`` (``emma/experiments/name.py``) and ``tests.py.tmpl``
#: (``tests/test_name.py``), each a :class:`string.Template` (:func:`render`).
TEMPLATES = ("chapter", "module", "tests")


def toc_numbering(toc: dict) -> list[tuple[str, int]]:
    """Every entry of the numbered parts of ``toc`` (``_toc.yml`` parsed) with the number the book gives it.

    Jupyter Book numbers the entries of the parts marked ``numbered: true`` one after the other,
    across parts, pages (e.g. ``book/11_extending``) as well as chapters: ``[(file, number), ...]``
    in the order of the table of contents.
    """
    files = [entry.get("file", "") for part in toc.get("parts") or [] if part.get("numbered")
             for entry in part.get("chapters") or []]
    return [(file, number) for number, file in enumerate(files, start=1)]


def toc_order_problems(toc: dict, chapters) -> list[str]:
    """What breaks the book's order rule in ``toc`` (``_toc.yml`` parsed); empty when it holds.

    The rule: every chapter (``chapters``, :func:`emma_book.build.chapters`) is listed once and
    nothing else under ``book/chapters/``; read part by part, the chapter numbers rise, except in
    the part ``Extensions``, whose chapters are numbered after every other chapter (``emma-book new``
    adds them so, renumbering nothing); ``Extensions`` comes just before ``Appendices``, which is last.
    File numbers follow the table of contents: each entry of a numbered part (:func:`toc_numbering`),
    chapter or page, has a file named ``NN_...`` with NN its number there; a notebook appendix
    (``AN_name``) is listed in ``Appendices``, and a numbered chapter is not.
    """
    numbers = {c.stem: c.number for c in chapters}
    appendices = {c.stem for c in chapters if getattr(c, "appendix", False)}
    parts = [(part.get("caption"), [e.get("file", "").rsplit("/", 1)[-1] for e in part.get("chapters") or []
                                    if e.get("file", "").startswith("book/chapters/")]) for part in toc.get("parts") or []]
    problems = []
    listed = [stem for _, stems in parts for stem in stems]
    problems += [f"{stem} is listed {listed.count(stem)} times" for stem in sorted(set(listed)) if listed.count(stem) > 1]
    problems += [f"{stem} is listed but is no chapter" for stem in sorted(set(listed) - set(numbers))]
    problems += [f"{stem} is not listed" for stem in sorted(set(numbers) - set(listed))]
    captions = [caption for caption, _ in parts]
    if APPENDICES in captions and captions.index(APPENDICES) != len(captions) - 1:
        problems.append(f"the part {APPENDICES!r} must be last")
    if EXTENSIONS in captions:
        expected = captions.index(APPENDICES) - 1 if APPENDICES in captions else len(captions) - 1
        if captions.index(EXTENSIONS) != expected:
            problems.append(f"the part {EXTENSIONS!r} must come just before {APPENDICES!r}")
    for caption, stems in parts:
        problems += [f"the appendix {s} must be listed in {APPENDICES!r}, not in {caption!r}" for s in stems if s in appendices and caption != APPENDICES]
        problems += [f"the chapter {s} is numbered: it must not be listed in {APPENDICES!r}" for s in stems
                     if s in numbers and s not in appendices and caption == APPENDICES]
    main = [numbers[s] for caption, stems in parts if caption != EXTENSIONS for s in stems if s in numbers and s not in appendices]
    extensions = [numbers[s] for caption, stems in parts if caption == EXTENSIONS for s in stems if s in numbers and s not in appendices]
    if main != sorted(main):
        problems.append(f"outside {EXTENSIONS!r}, the chapters must be listed in the order of their numbers, not {main}")
    if extensions != sorted(extensions) or (extensions and main and min(extensions) < max(main)):
        problems.append(f"the chapters of {EXTENSIONS!r} must be numbered after every other chapter, in order, not {extensions}")
    for file, number in toc_numbering(toc):
        prefix = re.match(r"^(\d+)_", file.rsplit("/", 1)[-1])
        if prefix is None or int(prefix.group(1)) != number:
            problems.append(f"{file} is number {number} of the table of contents: its file name must start with {number:02d}_")
    return problems


#: The quick profile's section for a new chapter: what the example shrinks.
QUICK_SECTION = "seeds: [0, 1]\nn_train: 1000\n"


def render(template: str, *, name: str, title: str, stem: str) -> str:
    """The template ``template`` (one of :data:`TEMPLATES`) filled in for the chapter ``name``.

    ``title`` is the chapter's title, ``stem`` its file's name without ``.py`` (``NN_name``); the
    templates also use ``label``, ``name`` with hyphens (figure labels). A template writes
    ``${name}_f1`` where a placeholder runs into other letters, and ``$$`` for a ``$`` of its own.

    >>> "from emma.experiments import my_topic as ex" in render("chapter", name="my_topic", title="My topic", stem="13_my_topic")
    True
    """
    if template not in TEMPLATES:
        raise ValueError(f"template must be one of {TEMPLATES}, got {template!r}")
    text = (resources.files("emma_book") / "templates" / f"{template}.py.tmpl").read_text(encoding="utf-8")
    return Template(text).substitute(name=name, title=title, stem=stem, label=name.replace("_", "-"))


def companions(name: str, root: str | Path | None = None) -> tuple[Path, Path]:
    """The module and the tests that :func:`new_chapter` writes beside the chapter ``name``.

    >>> [str(p.relative_to(layout.ROOT)) for p in companions("my_topic")]
    ['emma/experiments/my_topic.py', 'tests/test_my_topic.py']
    """
    root = Path(root) if root is not None else layout.ROOT
    return root / "emma" / "experiments" / f"{name}.py", root / "tests" / f"test_{name}.py"


def check_name(name: str, root: Path = layout.ROOT) -> str:
    """A new chapter's name: a lowercase Python identifier that no chapter of ``root`` has yet,
    nor a module of ``emma.experiments`` or a test file (:func:`companions`).

    Raises
    ------
    ValueError
        Naming the argument and what was expected.
    """
    if not isinstance(name, str) or not _NAME.match(name) or keyword.iskeyword(name):
        raise ValueError(f"NAME must be a lowercase identifier (letters, digits, '_', starting with a letter), got {name!r}")
    existing = {c.name: c for c in book.chapters(Path(root) / "notebooks")}
    if name in existing:
        raise ValueError(f"NAME {name!r} is taken: chapter {existing[name].source.name} exists")
    parameters = {key for chapter in existing.values() for key in chapter.parameters()}
    if name in parameters:  # a profile's key is a parameter or a chapter's section, never both
        raise ValueError(f"NAME {name!r} is a chapter parameter; a profile could not tell the chapter's section from it")
    for path in companions(name, root):
        if path.exists():
            raise ValueError(f"NAME {name!r} is taken: {path.relative_to(root).as_posix()} exists")
    return name


def _title(name: str, title: str | None) -> str:
    if title is None:
        return name.replace("_", " ").capitalize()
    if not isinstance(title, str) or not title.strip() or "\n" in title:
        raise ValueError(f"--title must be one non-empty line, got {title!r}")
    return title.strip()


def register_in_toc(text: str, entry: str) -> str:
    """``_toc.yml``'s text with ``- file: <entry>`` last in the part ``Extensions``.

    The part is created just before ``Appendices`` when absent (at the end when there is no
    appendix). Raises ``ValueError`` when the result does not parse back with the entry there.
    """
    lines = text.splitlines(keepends=True)
    caption = re.compile(r"^(\s*)- caption:\s*(.+?)\s*$")
    parts = [(i, m.group(1), m.group(2).strip("'\"")) for i, line in enumerate(lines) if (m := caption.match(line))]
    extensions = [p for p in parts if p[2] == EXTENSIONS]
    if extensions:
        start, indent, _ = extensions[0]
        following = [i for i, _, _ in parts if i > start]
        end = following[0] if following else len(lines)
        files = [i for i in range(start, end) if lines[i].strip().startswith("- file:")]
        if not files:
            raise ValueError(f"the part {EXTENSIONS!r} of _toc.yml lists no chapter to append to; add one by hand or remove the part")
        item = lines[files[-1]]
        new = item[: len(item) - len(item.lstrip())] + f"- file: {entry}\n"
        lines.insert(files[-1] + 1, new)
    else:
        appendices = [p for p in parts if p[2] == APPENDICES]
        indent = appendices[0][1] if appendices else (parts[0][1] if parts else "  ")
        block = [f"{indent}- caption: {EXTENSIONS}\n", f"{indent}  numbered: true\n", f"{indent}  chapters:\n", f"{indent}    - file: {entry}\n"]
        at = appendices[0][0] if appendices else len(lines)
        if at == len(lines) and lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        lines[at:at] = block
    result = "".join(lines)
    toc = yaml.safe_load(result)
    listed = [c.get("file") for part in toc.get("parts", []) if part.get("caption") == EXTENSIONS for c in part.get("chapters", [])]
    if entry not in listed:
        raise ValueError(f"could not register {entry} in the part {EXTENSIONS!r} of _toc.yml; add it by hand")
    return result


def add_profile_section(text: str, name: str) -> str:
    """``profiles/quick.yaml``'s text with a section for the chapter ``name`` (:data:`QUICK_SECTION`)."""
    if name in (yaml.safe_load(text) or {}):
        raise ValueError(f"profiles/quick.yaml already has a section {name!r}")
    body = "".join(f"  {line}\n" for line in QUICK_SECTION.splitlines())
    return text.rstrip("\n") + f"\n\n{name}:\n{body}"


def new_chapter(name: str, title: str | None = None, root: str | Path = layout.ROOT) -> Path:
    """Write the chapter ``name``, its module and its tests, and register it; return the path of its source.

    Parameters
    ----------
    name : str
        A lowercase identifier no chapter has (:func:`check_name`); the file is ``NN_name.py``.
    title : str, optional
        The chapter's title (its first cell); by default ``name`` with spaces, capitalised.
    root : path
        The book's checkout (``notebooks/``, ``_toc.yml``, ``profiles/quick.yaml``; the module
        and the tests go to ``emma/experiments/`` and ``tests/``, :func:`companions`).

    Returns
    -------
    Path
        ``<root>/notebooks/NN_name.py``, NN one more than the highest chapter number and than
        the number of the last numbered entry of ``_toc.yml`` (:func:`toc_numbering`), which is
        the chapter's number in the book (an appendix's ``AN`` is no chapter number). The
        chapter imports ``emma.experiments.<name>``, written with its tests (:func:`companions`).

    Raises
    ------
    ValueError
        For a bad or taken ``name`` (a chapter, a module or a test file has it) or ``title``, or when ``_toc.yml`` cannot take the chapter
        last in ``Extensions`` with its file number equal to its number in the book; nothing is written then.
    """
    root = Path(root)
    name = check_name(name, root)
    title = _title(name, title)
    existing = book.chapters(root / "notebooks")
    toc_path, quick_path = root / "_toc.yml", root / "profiles" / "quick.yaml"
    listed = yaml.safe_load(toc_path.read_text()) or {}
    # after every chapter and every numbered page of the table of contents; an appendix's AN is no chapter number
    number = max(max((c.number for c in existing if not c.appendix), default=0), len(toc_numbering(listed))) + 1
    source = root / "notebooks" / f"{number:02d}_{name}.py"
    toc = register_in_toc(toc_path.read_text(), f"book/chapters/{source.stem}")  # everything checked before anything is written
    before = toc_order_problems(listed, existing)
    broken = [p for p in toc_order_problems(yaml.safe_load(toc), [*existing, layout.Chapter(number, name, source)]) if p not in before]
    if broken:
        raise ValueError(f"listing {source.stem} last in the part {EXTENSIONS!r} of _toc.yml would break the book's order: {'; '.join(broken)}")
    quick = add_profile_section(quick_path.read_text(), name) if quick_path.is_file() else None
    texts = {path: render(template, name=name, title=title, stem=source.stem)
             for path, template in zip((*companions(name, root), source), ("module", "tests", "chapter"))}
    for path, text in texts.items():  # the module and its tests first: the chapter imports the one
        atomic_write(path, lambda tmp, text=text: Path(tmp).write_text(text))
    atomic_write(toc_path, lambda tmp: Path(tmp).write_text(toc))
    if quick is not None:
        atomic_write(quick_path, lambda tmp: Path(tmp).write_text(quick))
    return source
