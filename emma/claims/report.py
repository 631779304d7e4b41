"""Gather the verdicts that the chapters wrote into ``<output_dir>/tables`` (the errata: :mod:`emma.claims.errata`).

Every table is read through :func:`read_table`, which :func:`emma.util.outputs.read_output` logs
while ``emma-book run`` executes a chapter: the chapter's run key then holds the digest of each
table it read, and a changed table makes it stale (:mod:`emma_book.rerun`).
"""
from __future__ import annotations

import io
import os
import urllib.request
import warnings
from pathlib import Path

import pandas as pd

from emma.claims.rules import CLAIM_COLUMNS, EVIDENCE_COLUMNS, KINDS, VERDICTS, claims_table
from emma.util.outputs import READS_LOG, RUN_DIR, atomic_write, located, read_listing, read_output

#: The claims tables of the book's own chapters, in book order, with the chapter that writes each. Any other
#: ``<output_dir>/tables/<name>_claims.csv`` (an extension chapter's) is collected too, after them.
CLAIM_TABLES = {
    "attention_claims": "Attention mechanisms",
    "energy_claims": "Energy estimation",
    "potential_claims": "Experiment I: potential energy",
    "robustness_claims": "Experiment II: robustness",
    "unified_claims": "A unified model",
    "modes_claims": "More than two modes",
    "conclusion_claims": "Conclusion",
    "beyond_gaussian_claims": "Beyond Gaussian noise",
}
#: Where each claims table is judged: the chapter's page and the section that shows the table.
CLAIM_PAGES = {
    "attention_claims": "01_attention_mechanisms.html#where-emma-sits",
    "energy_claims": "02_energy_estimation.html#which-estimator-sees-the-centre-of-the-circle",
    "potential_claims": "05_potential_energy.html#the-thesis-s-claims",
    "robustness_claims": "06_robustness.html#verdicts",
    "unified_claims": "08_unified_model.html#claims",
    "modes_claims": "09_many_modes.html#verdicts",
    "conclusion_claims": "10_conclusion.html#the-research-questions",
    "beyond_gaussian_claims": "12_beyond_gaussian.html",
}
#: The book's own summary of every claim (the appendix writes it): never collected as a chapter's.
BOOK_CLAIMS = "book_claims"


def claim_tables(output_dir: str | os.PathLike = "_build") -> dict[str, str]:
    """Every claims table in ``<output_dir>/tables``, name to chapter: the book's chapters in order, then any other ``*_claims``.

    An extension chapter's table ``<name>_claims`` gets the chapter name ``<name>`` in words
    ("my_topic_claims" -> "My topic").
    """
    folder = Path(output_dir) / "tables"
    found = [p.stem for p in read_listing(folder, "*_claims.csv", exclude=[f"{BOOK_CLAIMS}.csv"])]  # logged: a new table makes the reader stale
    extra = [name for name in found if name not in CLAIM_TABLES and name != BOOK_CLAIMS]
    return {**CLAIM_TABLES, **{name: name[: -len("_claims")].replace("_", " ").capitalize() for name in extra}}


def chapter_links(output_dir: str | os.PathLike = "_build") -> dict[str, str]:
    """Each chapter name of :func:`collect_claims` and the section that judges its claims (for :func:`emma.util.display.show`'s ``links``)."""
    return {chapter: CLAIM_PAGES[name] for name, chapter in claim_tables(output_dir).items() if name in CLAIM_PAGES}


__all__ = [
    "CLAIM_PAGES", "CLAIM_TABLES", "chapter_links", "claim_tables", "KINDS",
    "VERDICTS", "claim_counts", "collect_claims", "read_table",
]


def read_table(output_dir: str | os.PathLike, name: str) -> pd.DataFrame:
    """The table ``name`` a chapter wrote to ``<output_dir>/tables``; a missing one names its file.

    The bytes parsed are the bytes logged (:func:`emma.util.outputs.read_output`), so the run key
    records exactly what the chapter read.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a table's name (its CSV file without .csv), got {name!r}")
    path = Path(output_dir) / "tables" / f"{name}.csv"
    if not located(path).is_file() and not _fetch(path, name):  # during `emma-book run`, a table the chapter wrote is in its run folder
        raise FileNotFoundError(f"{path} is missing: execute the chapter that writes the table {name!r} first")
    return pd.read_csv(io.BytesIO(read_output(path)))


#: Set by the install cell of a chapter launched outside the checkout (:func:`emma_book.cells.tables_url`):
#: the base URL of the tables of the other chapters, fetched when they are not beside the notebook.
#: Ignored, with a warning, inside ``emma-book run``, whose chapters read only what its runs wrote.
TABLES_URL = "EMMA_TABLES_URL"


def _in_run() -> bool:
    """Whether ``emma-book run`` executes this chapter: it names the chapter's run folder, or a log of its reads, for the kernel."""
    return bool(os.environ.get(RUN_DIR) or os.environ.get(READS_LOG))


def _fetch(path: Path, name: str) -> bool:
    """Download the missing table ``name`` from ``$EMMA_TABLES_URL`` into ``path``; False when the variable is unset.

    Inside ``emma-book run`` (:func:`_in_run`) nothing is fetched: a table the run's chapters did
    not write is missing, whatever the variable says, and a warning says it was ignored.
    """
    base = os.environ.get(TABLES_URL)
    if not base:
        return False
    if _in_run():
        warnings.warn(f"${TABLES_URL} ({base}) is ignored inside `emma-book run`: {path} is not fetched; "
                      "a run reads only the tables its chapters wrote", RuntimeWarning, stacklevel=3)
        return False
    url = f"{base.rstrip('/')}/{name}.csv"
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            data = response.read()
    except (OSError, ValueError) as error:
        raise FileNotFoundError(f"{path} is missing, and fetching it from {url} (${TABLES_URL}) failed: {error}") from None
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))
    return True


def _text(value) -> str:
    return "" if pd.isna(value) else str(value)


def collect_claims(output_dir: str | os.PathLike = "_build") -> pd.DataFrame:
    """One row per claim judged anywhere in the book, extension chapters included: chapter, the claim and its evidence, verdict, kind.

    Every table of :func:`claim_tables` is read (a missing table of the book's own chapters is an
    error) and checked by :func:`emma.claims.rules.claims_table`, with the registry's fields the
    chapter wrote into it (so an extension's own claims need no registry here).

    Returns
    -------
    DataFrame
        ``chapter``, :data:`~emma.claims.rules.CLAIM_COLUMNS`, :data:`~emma.claims.rules.EVIDENCE_COLUMNS`,
        ``p_value`` and ``p_holm`` (Holm within the chapter's claims of a kind), the chapters in book order.
    """
    from emma.claims.registry import Claim, lookup, register

    frames = []
    for name, chapter in claim_tables(output_dir).items():
        table = read_table(output_dir, name)
        for row in table.itertuples(index=False):
            try:
                lookup(row.id)
            except (ValueError, AttributeError):  # an extension's claim: known from its table
                if not hasattr(row, "id"):
                    raise ValueError(f"table {name!r} has no column 'id': rerun the chapter that writes it") from None
                missing = [c for c in ("claim", "kind", "quote", "location", "test", "min_effect", "unit", "min_effect_reason") if not hasattr(row, c)]
                if missing:
                    raise ValueError(f"table {name!r}: claim {row.id!r} is not registered, and the table lacks the column(s) {missing} that would "
                                     "define it (claims_table writes them)") from None
                source, _, location = str(row.location).partition(": ")
                try:
                    register(Claim(row.id, row.claim, row.kind, source, row.quote, location, row.test,
                                   None if pd.isna(row.min_effect) else float(row.min_effect), _text(row.unit), _text(row.min_effect_reason)))
                except ValueError as error:
                    raise ValueError(f"table {name!r}: {error}") from None
        try:
            table = claims_table(table)
        except ValueError as error:
            raise ValueError(f"table {name!r}: {error}") from None
        table.insert(0, "chapter", chapter)
        for column in ("p_value", "p_holm"):  # a claim decided without a test has none
            if column not in table.columns:
                table[column] = float("nan")
        frames.append(table[["chapter", *CLAIM_COLUMNS, *EVIDENCE_COLUMNS, "p_value", "p_holm"]])
    return pd.concat(frames, ignore_index=True)


def claim_counts(claims: pd.DataFrame, by: str | list = "chapter") -> pd.DataFrame:
    """Claims per ``by`` (rows) and verdict (columns, :data:`VERDICTS`), from :func:`collect_claims`.

    Parameters
    ----------
    claims : DataFrame
        :func:`collect_claims`' table (at least ``verdict`` and the columns of ``by``).
    by : str or list of str
        ``"chapter"`` (rows in book order: their order in ``claims``), ``"kind"`` (one row per
        kind of :data:`KINDS`, in that order, zeros where a kind has no claim), or a list of
        both, e.g. ``["chapter", "kind"]`` (rows in the order they first appear).

    Examples
    --------
    >>> claims = pd.DataFrame({"chapter": ["a", "a", "b"], "verdict": ["reproduced", "not reproduced", "reproduced"],
    ...                        "kind": ["core", "secondary", "core"]})
    >>> claim_counts(claims).values.tolist()
    [[1, 0, 0, 0, 1], [1, 0, 0, 0, 0]]
    >>> claim_counts(claims, by="kind").values.tolist()
    [[2, 0, 0, 0, 0], [0, 0, 0, 0, 1], [0, 0, 0, 0, 0]]
    """
    keys = [by] if isinstance(by, str) else list(by)
    if not keys or not set(keys) <= {"chapter", "kind"} or len(set(keys)) != len(keys):
        raise ValueError(f"by must be 'chapter', 'kind' or a list of both, got {by!r}")
    if not {*keys, "verdict"} <= set(claims.columns):
        raise ValueError(f"claims must have the columns {[*keys, 'verdict']} (see collect_claims)")
    counts = claims.groupby([*keys, "verdict"], sort=False).size().unstack(fill_value=0).reindex(columns=list(VERDICTS), fill_value=0)
    counts.columns.name = "verdict"
    if keys == ["kind"]:
        counts = counts.reindex(list(KINDS), fill_value=0)
    return counts
