"""``emma-book new``: a new chapter that already runs, registered where the book finds it.

:func:`new_chapter` writes ``notebooks/NN_name.py`` (jupytext percent format), with NN the next
number after every existing chapter, so that no chapter is renumbered and no link breaks; file
numbers follow the table of contents (NN is the chapter's number in the book), and a notebook
appendix is named ``AN_name`` (``A1_verdicts``), outside the chapters' numbers. The
chapter has what every chapter has (the title cell, the ``parameters`` cell, the standard setup,
a table saved and shown, a number glued into the prose (myst-nb's ``glue``), a figure with its
caption, a new failure of a mode whose severity is not a blend, a claims table that the appendix
Verdicts collects) around a small example to replace: a logistic regression on each mode of HTRU2
and on both, seconds to run. It is listed in
``_toc.yml`` in the part ``Extensions``, which sits just before ``Appendices`` (created there when
absent), so the appendix stays last whatever the numbers; and it gets a section in
``profiles/quick.yaml`` with its smaller quick settings. ``_toc.yml`` is edited as text (its comments
and other parts stay as they are) and checked by parsing it back before anything is written.
"""
from __future__ import annotations

import keyword
import re
from pathlib import Path

import yaml

from emma.util.outputs import atomic_write
from emma_book import build as book
from emma_book import layout

#: The caption of the part that holds the chapters added with ``emma-book new``.
EXTENSIONS = "Extensions"
#: The part that stays last.
APPENDICES = "Appendices"
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

TEMPLATE = '''# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # {title}
#
# ```{{admonition}} What you will learn
# - Whether HTRU2's two modes together classify better than either alone (the example: say what your chapter teaches).
# - How a failure of a mode whose severity is not a blend is written and tested.
# - How a chapter registers its own claim, so that the appendix Verdicts judges it with the book's.
# ```
#
# An extension of the book, scaffolded by `emma-book new {name}`. Say here which question the
# chapter asks and which part of the thesis it extends. The example below, to replace, asks
# whether HTRU2's two modes together classify better than either alone: a logistic regression
# on each mode and on both, fitted on a subsample of the training split for each seed.

# %% tags=["parameters"]
profile = "full"  # full: the thesis's settings; quick: smaller sizes so CI stays fast
device = "auto"  # auto, cpu or cuda
seeds = [0, 1, 2, 3, 4]  # one subsample of the training split per seed
output_dir = "_build"
data_home = None  # a folder holding HTRU_2.csv; None: EMMA_DATA_DIR, then the user cache
split_seed = 42  # the thesis's split
n_train = 2000  # training samples per seed

# %%
import math
from dataclasses import dataclass
from typing import ClassVar

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from myst_nb import glue
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score

from emma.claims.registry import Claim, min_effect, register
from emma.claims.rules import claims_table, paired_test
from emma.data.failures import Failure
from emma.data.htru2 import MODE_SLICES
from emma.data.splits import make_splits
from emma.util.display import show
from emma.util.outputs import save_figure, save_table
from emma.util.runtime import check_profile, resolve_device, seed_everything

_ = check_profile(profile)
device = resolve_device(device)  # nothing here trains on it; a chapter that trains torch models does
print(f"device: {{device}}, profile: {{profile}}, seeds: {{seeds}}, n_train: {{n_train}}")

# %% [markdown]
# ## One mode, or both?
#
# HTRU2's eight features form two modes, the integrated pulse profile (IP) and the DM-SNR curve
# (DM). For each seed, a logistic regression (scikit-learn) is fitted on a subsample of the
# training split, once per mode and once on both, and scored by F1 on the test split. The full
# table has one row per seed and input; the view ({{numref}}`tbl-{name}_f1`) shows the mean and standard deviation.

# %%
splits = make_splits(seed=split_seed, data_home=data_home, device="cpu")
x_train, y_train = splits.train.x.numpy(), splits.train.y.numpy()
x_test, y_test = splits.test.x.numpy(), splits.test.y.numpy()
inputs = {{**MODE_SLICES, "both": slice(None)}}
rows, on_both = [], {{}}  # on_both: each seed's model on both modes, tested under a failure below
for seed in seeds:
    seed_everything(seed)
    pick = np.random.default_rng(seed).choice(len(y_train), size=min(n_train, len(y_train)), replace=False)
    for input_name, columns in inputs.items():
        model = LogisticRegression(max_iter=1000).fit(x_train[pick][:, columns], y_train[pick])
        rows.append({{"seed": seed, "input": input_name, "f1": f1_score(y_test, model.predict(x_test[:, columns]), zero_division=0)}})
        if input_name == "both":
            on_both[seed] = model
scores = pd.DataFrame(rows)
save_table(scores, "{name}_f1", output_dir)
summary = scores.groupby("input", sort=False)["f1"].agg(f1_mean="mean", f1_std="std").reset_index()
show(summary, "{name}_f1", caption="Test F1 of a logistic regression on each input, mean and standard deviation over seeds.")
glue("{name}_f1_both", float(summary.set_index("input").loc["both", "f1_mean"]), display=False)  # for the prose below

# %% [markdown]
# On both modes, the mean F1 over seeds is {{glue:text}}`{name}_f1_both:.3f`: the number comes from
# the run, glued by the cell above (`myst_nb.glue`) and pasted here by the role
# `{{glue:text}}`, never typed by hand. {{numref}}`fig-{label}-f1` shows every seed's score.

# %% mystnb={{"figure": {{"caption": "Test F1 of a logistic regression on each mode of HTRU2 and on both, one dot per seed. Compare the spread of the dots with the gaps between the inputs.", "name": "fig-{label}-f1"}}, "image": {{"alt": "Strip plot of test F1, one column of dots per input: IP, DM and both."}}}}
fig, ax = plt.subplots(figsize=(5, 3))
for position, (input_name, group) in enumerate(scores.groupby("input", sort=False)):
    ax.scatter(np.full(len(group), position), group["f1"], alpha=0.7)
ax.set_xticks(range(len(inputs)), list(inputs))
ax.set_ylabel("test F1")
fig.tight_layout()
_ = save_figure(fig, "{name}_f1", output_dir)
plt.show()

# %% [markdown]
# ## A failure whose severity is not a blend
#
# A failure of a mode is a frozen dataclass (`emma.data.failures.Failure`) that says what a failed
# mode reads. Its severity means what the failure says it means, whatever it is. For the package's
# dead, mean-filled and swapped sensors it is a fraction that blends the mode towards its failed
# reading (0: untouched, 1: fully failed); for Gaussian noise it is σ. Below, a sensor reads too
# high, and the severity is the offset itself, in standard deviations of the training split, with
# no upper bound. Such a failure names its severity field (`SEVERITY_FIELD`), lifts the bound
# (`SEVERITY_MAX`) and writes `apply`, what the failed mode reads, instead of the blend. Each
# seed's model on both modes is tested with the DM sensor offset on every test sample. The same
# class trains models (`emma.engine.TrainSettings(failure=...)`) and compares families at several
# severities (`emma.experiments.compare.compare_families`; the page "Extending the book").

# %%
@dataclass(frozen=True)
class Offset(Failure):
    """The sensor reads `offset` standard deviations too high."""

    offset: float = 1.0
    SEVERITY_FIELD: ClassVar[str] = "offset"  # the severity is the offset, not a blend
    SEVERITY_MAX: ClassVar[float] = math.inf

    def apply(self, x, mask, generator=None, standardization=None):  # mask (n, 2): which mode of which sample fails
        return x + self.offset * mask.to(x.device).repeat_interleave(4, dim=1)  # a mode is 4 columns


offsets = [0.0, 1.0, 2.0, 4.0]  # severities: the DM sensor's offset
dm_failed = torch.zeros(len(y_test), 2, dtype=torch.bool)
dm_failed[:, 1] = True  # the DM mode of every test sample
rows = []
for offset in offsets:
    x_failed = Offset(offset).apply(splits.test.x, dm_failed).numpy()
    rows += [{{"seed": seed, "offset": offset, "f1": f1_score(y_test, model.predict(x_failed), zero_division=0)}} for seed, model in on_both.items()]
offset_scores = pd.DataFrame(rows)
save_table(offset_scores, "{name}_offset", output_dir)
show(offset_scores.groupby("offset")["f1"].agg(f1_mean="mean", f1_std="std").reset_index(), "{name}_offset",
     caption="Test F1 of the model on both modes with the DM sensor offset, per offset, mean and standard deviation over seeds.")

# %% [markdown]
# ## Claims
#
# Every chapter ends with its claims table (`emma.claims.rules.claims_table`). Each claim is first
# registered (`emma.claims.registry.register`): the proposition, its kind, the sentence it tests
# and where that sentence is, the test, and the smallest effect that matters, fixed before the
# run. A row then refers to its claim by `id` and gives the evidence and a verdict computed from
# the numbers above, never typed in (`emma.claims.rules.paired_test`: *reproduced*, *inconclusive*
# or *not reproduced*). The table is saved as `{name}_claims`: the appendix Verdicts collects every
# `*_claims` table of the output folder (`emma.claims.report.collect_claims`), so this chapter's
# claim joins the book's: a new claims table makes the appendix stale, and `emma-book build` runs it
# again, after this chapter. {{numref}}`tbl-{name}_claims` shows it.

# %%
claim = register(Claim(
    id="{name}_both_modes_help",
    claim="Both modes together classify better than the better mode alone",
    kind="book",  # a question of this chapter; a claim of the thesis is "core" or "secondary", with source "final", "draft" or "slides"
    source="book",
    quote="whether HTRU2's two modes together classify better than either alone",  # the book's words; the thesis's, verbatim, for its claims
    location="chapter {name}",  # e.g. "report/chapters/7-experiments.tex L181" for the final thesis
    test="paired t-test over seeds of the test F1 on both modes − that of the better single mode",
    min_effect=0.02, unit="F1", reason="the smallest F1 gain the book counts as mattering (that of the thesis's table)",
))
both = scores[scores["input"] == "both"].set_index("seed")["f1"]
best_single = scores[scores["input"] != "both"].groupby("seed")["f1"].max()
test = paired_test(both.to_numpy(), best_single.loc[both.index].to_numpy(), min_effect=min_effect(claim.id))
claims = claims_table([{{
    "id": claim.id,
    "thesis_evidence": "none: a question of this chapter",
    "our_evidence": f"F1 on both modes − the better single mode's: {{test.describe()}}",
    **test.row(),  # effect, ci_low, ci_high, n_seeds, min_effect, detectable_effect, p_value and verdict
}}])
save_table(claims, "{name}_claims", output_dir)
show(claims, "{name}_claims", columns=["id", "claim", "our_evidence", "effect", "ci_low", "ci_high", "min_effect", "verdict"],
     caption="The chapter's claim: its evidence, effect, interval, minimum effect and verdict.")

# %% [markdown]
# ## Try it
#
# Every chapter ends with two parameter changes a reader can try; replace these with your chapter's.
# Fit each model on fewer training samples:
#
# ```bash
# emma-book run {name} -p n_train 500
# ```
#
# Expect the dots of {{numref}}`fig-{label}-f1` to spread more, each model seeing less of the data.
#
# Add seeds, one more subsample and model per seed:
#
# ```bash
# emma-book run {name} -p seeds '[0, 1, 2, 3, 4, 5, 6, 7]'
# ```
#
# {{numref}}`tbl-{name}_f1` then averages over more seeds, and the interval of the claim in
# {{numref}}`tbl-{name}_claims` should narrow.
'''  # noqa: E501 (a jupytext cell header must stay on one line)

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


def check_name(name: str, root: Path = layout.ROOT) -> str:
    """A new chapter's name: a lowercase Python identifier that no chapter of ``root`` has yet.

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
    """Write the chapter ``name`` and register it; return the path of its source.

    Parameters
    ----------
    name : str
        A lowercase identifier no chapter has (:func:`check_name`); the file is ``NN_name.py``.
    title : str, optional
        The chapter's title (its first cell); by default ``name`` with spaces, capitalised.
    root : path
        The book's checkout (``notebooks/``, ``_toc.yml``, ``profiles/quick.yaml``).

    Returns
    -------
    Path
        ``<root>/notebooks/NN_name.py``, NN one more than the highest chapter number and than
        the number of the last numbered entry of ``_toc.yml`` (:func:`toc_numbering`), which is
        the chapter's number in the book (an appendix's ``AN`` is no chapter number).

    Raises
    ------
    ValueError
        For a bad or taken ``name`` or ``title``, or when ``_toc.yml`` cannot take the chapter
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
    atomic_write(source, lambda tmp: Path(tmp).write_text(TEMPLATE.format(name=name, title=title, label=name.replace("_", "-"))))
    atomic_write(toc_path, lambda tmp: Path(tmp).write_text(toc))
    if quick is not None:
        atomic_write(quick_path, lambda tmp: Path(tmp).write_text(quick))
    return source
