"""How this book was run: what each executed chapter records, and the page that lists it.

:func:`run_info` is stored in every executed notebook's metadata by :func:`emma_book.build.execute`
(the commit, the machine, the versions of the tools and every parameter of the chapter as it
ran, :func:`resolved_parameters`); papermill stores the parameters it injected, the start and end
times and the duration. :func:`run_record_page` turns both into the book's page "How this book
was run", written at build time. A notebook executed before the resolved parameters were stored
gets them back from its own parameters cell (:func:`notebook_parameters`).
"""
from __future__ import annotations

import ast
import datetime
import importlib.metadata
import json
import os
import platform
import subprocess
from pathlib import Path

import nbformat
import pandas as pd

#: The packages whose versions each executed chapter records.
TOOLS = ("torch", "numpy", "scikit-learn", "papermill", "jupyter-book")
METADATA_KEY = "emma_run_info"


def _commit(root: Path) -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=root, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return head + (" (modified)" if dirty else "")


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine(device: str = "auto") -> str:
    """The device a chapter ran on, in words: the GPU's name, or the CPU's model and core count."""
    import torch

    if device in ("auto", "cuda") and torch.cuda.is_available():
        return f"GPU: {torch.cuda.get_device_name(0)}"
    return f"CPU: {_cpu_name()}, {os.cpu_count()} cores"


def _literal(source: str):
    """A default of a parameters cell, as the value it spells when it is a literal, else its source text."""
    try:
        return ast.literal_eval(source)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return source


def _jsonable(value):
    """``value`` as notebook metadata can hold it (tuples become lists; anything else JSON refuses, its repr)."""
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError):
        return repr(value)


def resolved_parameters(declared: dict, injected: dict) -> dict:
    """Every parameter of a chapter as it ran: the defaults of its parameters cell, then what the run set.

    Parameters
    ----------
    declared : dict of name to default source text
        The parameters cell as :meth:`emma_book.build.Chapter.parameters` parses it (``"[0, 1]"``).
    injected : dict of name to value
        What papermill injected: the profile, ``-f`` files and ``-p`` pairs, resolved.

    >>> resolved_parameters({"seeds": "[0, 1, 2]", "epochs": "25", "scale": "2 ** 3"}, {"epochs": 5})
    {'seeds': [0, 1, 2], 'epochs': 5, 'scale': '2 ** 3'}
    """
    resolved = {name: _literal(default) for name, default in declared.items()}
    resolved.update(injected)
    return {name: _jsonable(value) for name, value in resolved.items()}


def notebook_parameters(notebook) -> tuple[dict, list[str]]:
    """An executed notebook's parameters as it ran, and the names its run set (the others are defaults).

    Read from :data:`METADATA_KEY` when :func:`run_info` stored them; otherwise rebuilt from the
    notebook's own cell tagged ``parameters`` (papermill's parser) and the parameters papermill
    injected.
    """
    from papermill.translators import papermill_translators

    metadata = notebook.metadata
    info, injected = metadata.get(METADATA_KEY, {}), metadata.get("papermill", {}).get("parameters", {})
    declared = {}
    for cell in notebook.cells:
        tags = cell.metadata.get("tags", [])
        if cell.cell_type == "code" and "parameters" in tags and "injected-parameters" not in tags:
            translator = papermill_translators.find_translator("python3", "python")
            declared = {p.name: p.default for p in translator.inspect(cell)}
            break
    if "parameters" in info:  # stored by run_info; the notebook's JSON sorts them, the cell gives their order back
        stored = info["parameters"]
        order = [name for name in declared if name in stored] + [name for name in stored if name not in declared]
        return {name: stored[name] for name in order}, list(info.get("set_by_run", injected))
    return resolved_parameters(declared, injected), sorted(injected)


def run_info(parameters: dict, root: str | os.PathLike, declared: dict | None = None) -> dict:
    """What :func:`emma_book.build.execute` stores beside papermill's metadata in an executed notebook.

    ``parameters`` are those the run set; ``declared``, the chapter's parameters cell
    (:meth:`emma_book.build.Chapter.parameters`): with it, every parameter as it ran is stored too
    (:func:`resolved_parameters`), under ``parameters``, and the names the run set under ``set_by_run``.
    """
    versions = {"python": platform.python_version()}
    for tool in TOOLS:
        try:
            versions[tool] = importlib.metadata.version(tool)
        except importlib.metadata.PackageNotFoundError:
            versions[tool] = "not installed"
    info = {"commit": _commit(Path(root)), "machine": machine(str(parameters.get("device", "auto"))), "versions": versions,
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
    if declared is not None:
        info["parameters"] = resolved_parameters(declared, parameters)
        info["set_by_run"] = sorted(parameters)
    return info


def run_records(executed: dict) -> pd.DataFrame:
    """One row per chapter: ``chapter, profile, commit, machine, date, duration_s, parameters, set_by_run``
    and one column per tool. ``parameters`` holds every parameter as the chapter ran (:func:`notebook_parameters`).

    Parameters
    ----------
    executed : dict of chapter title to the path of its executed notebook
    """
    rows = []
    for title, path in executed.items():
        notebook = nbformat.read(path, as_version=4)
        metadata = notebook.metadata
        papermill, info = metadata.get("papermill", {}), metadata.get(METADATA_KEY, {})
        parameters, set_by_run = notebook_parameters(notebook)
        row = {"chapter": title, "profile": parameters.get("profile", "?"), "commit": info.get("commit", "not recorded"),
               "machine": info.get("machine", "not recorded"), "date": info.get("date", papermill.get("start_time", "?")),
               "duration_s": papermill.get("duration"), "parameters": parameters, "set_by_run": set_by_run}
        row.update(info.get("versions", {}))
        rows.append(row)
    return pd.DataFrame(rows)


def run_record_page(executed: dict) -> str:
    """The Markdown page "How this book was run", from the executed notebooks' metadata."""
    records = run_records(executed)
    total = pd.to_numeric(records["duration_s"], errors="coerce").sum()
    lines = ["# How this book was run", "",
             "Every page of this book is a notebook executed by papermill. This page is written when the book is built, "
             "from what each executed notebook recorded: the commit of the code, the profile and the parameters, the "
             "machine, the versions of the tools, the date and how long the execution took.", "",
             f"All chapters together took {total / 60:.1f} minutes of execution.", ""]
    columns = ["chapter", "profile", "commit", "machine", "date", "duration_s"]
    lines += ["{numref}`tbl-run-record-runs` lists each chapter's run, {numref}`tbl-run-record-versions` the versions of the tools.", "",
              ":::{table} Each chapter's execution: its profile, the commit of the code, the machine, the date and how long it took.",
              ":name: tbl-run-record-runs", "",
              "| chapter | profile | commit | machine | date | seconds |", "|" + "---|" * len(columns)]
    for _, row in records.iterrows():
        duration = f"{row['duration_s']:.0f}" if isinstance(row["duration_s"], (int, float)) else "?"
        lines.append("| " + " | ".join([str(row["chapter"]), str(row["profile"]), f"`{row['commit']}`", str(row["machine"]), str(row["date"]),
                                       duration]) + " |")
    lines += [":::", "", "## Versions", ""] + _versions_lines(records)
    lines += ["", "## Parameters", "",
              "Every parameter of each chapter as it ran: the defaults of its parameters cell, and in bold what the run "
              "set (the profile, the `-f` files and the `-p` pairs of `emma-book run`).", ""]
    for number, (_, row) in enumerate(records.iterrows(), start=1):
        lines += _parameters_lines(row["chapter"], row["parameters"], row["set_by_run"], f"tbl-run-record-parameters-{number}")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    """Text for a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _versions_lines(records: pd.DataFrame) -> list[str]:
    """The versions once when every chapter ran with the same ones, else one row per chapter."""
    tools = ("python", *TOOLS)
    versions = pd.DataFrame({t: records[t] if t in records else None for t in tools}, index=records.index)
    versions = versions.where(versions.notna(), "not recorded").astype(str)
    header = ["| " + " | ".join(tools) + " |", "|" + "---|" * len(tools)]
    directive = [":::{table} The versions of Python and of the tools the chapters ran with.", ":name: tbl-run-record-versions", ""]
    if len(versions) and (versions.nunique() == 1).all():
        return ["Every chapter ran with the same versions:", "", *directive, *header, "| " + " | ".join(versions.iloc[0]) + " |", ":::"]
    lines = ["The chapters ran with different versions:", "", *directive, "| chapter " + header[0], "|---" + header[1]]
    for (_, row), chapter in zip(versions.iterrows(), records["chapter"]):
        lines.append(f"| {_cell(chapter)} | " + " | ".join(row) + " |")
    return lines + [":::"]


def _parameters_lines(chapter: str, parameters: dict, set_by_run, label: str) -> list[str]:
    """One chapter's parameters: a numbered table (``label``), folded in a dropdown titled with the chapter and the count."""
    if not parameters:
        return [f"- **{chapter}**: no parameters recorded", ""]
    set_by_run = set(set_by_run)
    changed = sum(name in set_by_run for name in parameters)
    lines = [f"::::{{dropdown}} {chapter}: {len(parameters)} parameters, {changed} set by the run", "",
             f":::{{table}} The parameters of {_cell(chapter)} as it ran; in bold those the run set.", f":name: {label}", "",
             "| parameter | value |", "|---|---|"]
    for name, value in parameters.items():
        shown = f"`{_cell(repr(value))}`"
        lines.append(f"| **{name}** | **{shown}** |" if name in set_by_run else f"| {name} | {shown} |")
    return lines + [":::", "", "::::", ""]
