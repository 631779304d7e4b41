"""Gather the verdicts and errata that the chapters wrote into ``<output_dir>/tables``."""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

#: The claims tables, in book order, with the chapter that writes each.
CLAIM_TABLES = {
    "energy_claims": "Energy estimation",
    "potential_claims": "Experiment I: potential energy",
    "robustness_claims": "Experiment II: robustness",
}
VERDICTS = ("reproduced", "partly reproduced", "not reproduced")
_COLUMN_ALIASES = {"source": "thesis_evidence", "evidence": "our_evidence"}
_VERDICT_ALIASES = {"partly": "partly reproduced", "partially reproduced": "partly reproduced"}


def _read(output_dir: str | os.PathLike, name: str) -> pd.DataFrame:
    path = Path(output_dir) / "tables" / f"{name}.csv"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: execute the chapter that writes the table {name!r} first")
    return pd.read_csv(path)


def collect_claims(output_dir: str | os.PathLike = "_build") -> pd.DataFrame:
    """One row per thesis claim judged anywhere in the book: chapter, claim, evidence, verdict."""
    frames = []
    for name, chapter in CLAIM_TABLES.items():
        table = _read(output_dir, name).rename(columns=_COLUMN_ALIASES)
        missing = {"claim", "thesis_evidence", "our_evidence", "verdict"} - set(table.columns)
        if missing:
            raise ValueError(f"table {name!r} lacks the column(s) {sorted(missing)}")
        table["verdict"] = table["verdict"].str.strip().replace(_VERDICT_ALIASES)
        unknown = set(table["verdict"]) - set(VERDICTS)
        if unknown:
            raise ValueError(f"table {name!r} has verdict(s) {sorted(unknown)}; expected one of {VERDICTS}")
        table.insert(0, "chapter", chapter)
        frames.append(table[["chapter", "claim", "thesis_evidence", "our_evidence", "verdict"]])
    return pd.concat(frames, ignore_index=True)


def collect_errata(output_dir: str | os.PathLike = "_build") -> pd.DataFrame:
    """Every statement of the thesis that a check found wrong, with the check that shows it."""
    rows = []
    energy = _read(output_dir, "energy_gradient_check")
    for check in energy.loc[~energy["expected_to_hold"] & energy["check"].str.contains("eq. 4.6"), "check"].unique():
        rows.append({"where": "draft eq. 4.6", "finding": check + " fails: the quadratic term has the wrong sign",
                     "evidence": "energy_gradient_check"})
    derivation = _read(output_dir, "derivation_checks")
    flagged = derivation[derivation["thesis_verdict"].str.contains("wrong|only", regex=True)]
    for _, row in flagged.iterrows():
        rows.append({"where": f"eq. {row['equation']}", "finding": row["thesis_verdict"], "evidence": f"derivation_checks: {row['check']}"})
    return pd.DataFrame(rows, columns=["where", "finding", "evidence"])
