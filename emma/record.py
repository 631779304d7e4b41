"""How this book was run: what each executed chapter records, and the page that lists it.

:func:`run_info` is stored in every executed notebook's metadata by :func:`emma.book.execute`
(the commit, the machine, the versions of the tools); papermill stores the parameters, the
start and end times and the duration. :func:`run_record_page` turns both into the book's page
"How this book was run", written at build time.
"""
from __future__ import annotations

import datetime
import importlib.metadata
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


def run_info(parameters: dict, root: str | os.PathLike) -> dict:
    """What :func:`emma.book.execute` stores beside papermill's metadata in an executed notebook."""
    versions = {"python": platform.python_version()}
    for tool in TOOLS:
        try:
            versions[tool] = importlib.metadata.version(tool)
        except importlib.metadata.PackageNotFoundError:
            versions[tool] = "not installed"
    return {"commit": _commit(Path(root)), "machine": machine(str(parameters.get("device", "auto"))), "versions": versions,
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def run_records(executed: dict) -> pd.DataFrame:
    """One row per chapter: ``chapter, profile, commit, machine, date, duration_s, parameters`` and one column per tool.

    Parameters
    ----------
    executed : dict of chapter title to the path of its executed notebook
    """
    rows = []
    for title, path in executed.items():
        metadata = nbformat.read(path, as_version=4).metadata
        papermill, info = metadata.get("papermill", {}), metadata.get(METADATA_KEY, {})
        parameters = papermill.get("parameters", {})
        row = {"chapter": title, "profile": parameters.get("profile", "?"), "commit": info.get("commit", "not recorded"),
               "machine": info.get("machine", "not recorded"), "date": info.get("date", papermill.get("start_time", "?")),
               "duration_s": papermill.get("duration"),
               "parameters": ", ".join(f"{k} = {v!r}" for k, v in parameters.items() if k not in ("profile", "output_dir"))}
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
    lines += ["| chapter | profile | commit | machine | date | seconds |", "|" + "---|" * len(columns)]
    for _, row in records.iterrows():
        duration = f"{row['duration_s']:.0f}" if isinstance(row["duration_s"], (int, float)) else "?"
        lines.append("| " + " | ".join([str(row["chapter"]), str(row["profile"]), f"`{row['commit']}`", str(row["machine"]), str(row["date"]), duration]) + " |")
    tools = ("python", *TOOLS)
    lines += ["", "## Versions", "", "| chapter | " + " | ".join(tools) + " |", "|---|" + "---|" * len(tools)]
    for _, row in records.iterrows():
        lines.append(f"| {row['chapter']} | " + " | ".join(str(row.get(t)) if pd.notna(row.get(t)) else "not recorded" for t in tools) + " |")
    lines += ["", "## Parameters", ""]
    for _, row in records.iterrows():
        lines.append(f"- **{row['chapter']}**: {row['parameters'] or 'the defaults of the chapter'}")
    return "\n".join(lines) + "\n"
