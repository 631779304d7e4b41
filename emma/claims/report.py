"""Gather the verdicts and errata that the chapters wrote into ``<output_dir>/tables``.

Every table is read through :func:`read_table`, which :func:`emma.util.outputs.read_output` logs
while ``emma-book run`` executes a chapter: the chapter's run key then holds the digest of each
table it read, and a changed table makes it stale (:mod:`emma.book.rerun`).
"""
from __future__ import annotations

import io
import os
import urllib.request
from pathlib import Path

import pandas as pd

from emma.claims.rules import CLAIM_COLUMNS, KINDS, VERDICTS, claims_table
from emma.util.outputs import atomic_write, located, read_output

#: The claims tables, in book order, with the chapter that writes each.
CLAIM_TABLES = {
    "attention_claims": "Attention mechanisms",
    "energy_claims": "Energy estimation",
    "potential_claims": "Experiment I: potential energy",
    "robustness_claims": "Experiment II: robustness",
    "unified_claims": "A unified model",
    "modes_claims": "More than two modes",
    "conclusion_claims": "Conclusion",
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
}


def chapter_links() -> dict[str, str]:
    """Each chapter name of :func:`collect_claims` and the section that judges its claims (for :func:`emma.util.display.show`'s ``links``)."""
    return {chapter: CLAIM_PAGES[name] for name, chapter in CLAIM_TABLES.items()}


__all__ = ["CLAIM_PAGES", "CLAIM_TABLES", "chapter_links", "ERRATA_COLUMNS", "KINDS", "VERDICTS", "claim_counts", "collect_claims", "collect_errata",
           "read_table"]


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


#: Set by the install cell of a chapter launched outside the checkout (:func:`emma.book.cells.tables_url`):
#: the base URL of the tables of the other chapters, fetched when they are not beside the notebook.
TABLES_URL = "EMMA_TABLES_URL"


def _fetch(path: Path, name: str) -> bool:
    """Download the missing table ``name`` from ``$EMMA_TABLES_URL`` into ``path``; False when the variable is unset."""
    base = os.environ.get(TABLES_URL)
    if not base:
        return False
    url = f"{base.rstrip('/')}/{name}.csv"
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            data = response.read()
    except (OSError, ValueError) as error:
        raise FileNotFoundError(f"{path} is missing, and fetching it from {url} (${TABLES_URL}) failed: {error}") from None
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))
    return True


def collect_claims(output_dir: str | os.PathLike = "_build") -> pd.DataFrame:
    """One row per claim judged anywhere in the book: chapter, claim, evidence, verdict, kind.

    Each chapter's table must have the columns of :data:`emma.claims.rules.CLAIM_COLUMNS`,
    verdicts from :data:`emma.claims.rules.VERDICTS` and kinds from :data:`emma.claims.rules.KINDS`
    (checked by :func:`emma.claims.rules.claims_table`);
    other columns (p-values, ``verdict_sound``, ...) are allowed and left out here.

    Parameters
    ----------
    output_dir : path
        The folder the chapters wrote into (its ``tables`` subfolder holds the claims tables).

    Returns
    -------
    DataFrame
        Columns ``chapter`` and :data:`~emma.claims.rules.CLAIM_COLUMNS`, the chapters in book order.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> folder = Path(tempfile.mkdtemp())
    >>> (folder / "tables").mkdir()
    >>> for name in CLAIM_TABLES:
    ...     pd.DataFrame([{"claim": "c", "thesis_evidence": "t", "our_evidence": "o", "verdict": "reproduced", "kind": "core"}]).to_csv(
    ...         folder / "tables" / f"{name}.csv", index=False)
    >>> collect_claims(folder)["chapter"].tolist()  # doctest: +NORMALIZE_WHITESPACE
    ['Attention mechanisms', 'Energy estimation', 'Experiment I: potential energy', 'Experiment II: robustness', 'A unified model',
     'More than two modes', 'Conclusion']
    """
    frames = []
    for name, chapter in CLAIM_TABLES.items():
        try:
            table = claims_table(read_table(output_dir, name))
        except ValueError as error:
            raise ValueError(f"table {name!r}: {error}") from None
        table.insert(0, "chapter", chapter)
        frames.append(table[["chapter", *CLAIM_COLUMNS]])
    return pd.concat(frames, ignore_index=True)


#: The columns of the errata table.
ERRATA_COLUMNS = ("source", "where", "finding", "evidence")

#: What the original code did differently from the text, by :class:`emma.engine.protocol.Protocol` field:
#: (where in the code, the finding). The evidence is the field's single switch in ``protocol_decomposition``.
CODE_FINDINGS = {
    "corruption_in_place": ("code/data/data.py, apply_corruption",
                            "writes its noise into the array it is given, so the 'clean' training, validation and test sets carry the noisy copies' draw; "
                            "the base, IP-only and DM-only models train and pick their threshold on half-corrupted data"),
    "autoencoders_on_corrupted": ("code/experiment-3/main.py, autoencoders", "the autoencoders and Ψ_min are fitted on that half-corrupted training set"),
    "early_stopping": ("code/experiment-3/main.py, train_clf",
                       "the curve that picks the best epoch is the loss on the training set (for EMMA with both regularizers), not on the validation set"),
    "retrain": ("code/experiment-3/main.py, train_clf",
                "after the threshold, the baselines train best_epoch more epochs on train + validation; EMMA models never set best_epoch and retrain 0 epochs"),
    "drop_last": ("code/experiment-3/main.py, train_step", "every pass skips its last mini-batch (range(0, n − 32, 32))"),
    "potential": ("code/emma/method/autoencoder.py, potential",
                  "½‖X − b_r‖² is summed over the whole batch of each call and added to every sample: "
                  "a sample's energy depends on the samples it is evaluated with"),
    "omega": ("code/experiment-3/main.py, regul_loss",
              "Ω weighs only the clean mode of each corrupted sample (ξ = +1 there, 0 elsewhere) and is summed over the batch, not eq. 5.12"),
    "init": ("code/experiment-3/main.py, copy_emma",
             "all 125 configurations start from copies of one EMMA and one base in a single unseeded run: each configuration draws its own mini-batch order"),
    "selection": ("code/experiment-3/main.py, get_ranking", "the 125 models are ranked by F1 on the whole noisy test set: the test set chooses the model"),
}


def _effect(decomposition: pd.DataFrame, switch: str) -> str:
    rows = decomposition[(decomposition["switch"] == switch) & (decomposition["step"] == "single")]
    if rows.empty:
        return "not in the decomposition"
    biggest = rows.loc[rows["delta_f1_clean_mean"].abs().idxmax()]
    std = biggest["delta_f1_clean_std"]
    spread = f" ± {std:.3f}" if pd.notna(std) else ""
    return f"protocol_decomposition, {switch} switched alone: largest clean-F1 change {biggest['delta_f1_clean_mean']:+.3f}{spread} ({biggest['family']})"


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
    [[1, 0, 1], [1, 0, 0]]
    >>> claim_counts(claims, by="kind").values.tolist()
    [[2, 0, 0], [0, 0, 1], [0, 0, 0]]
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


def collect_errata(output_dir: str | os.PathLike = "_build") -> pd.DataFrame:
    """Every disagreement among the draft, the final text, the code and the checks, with the table or check that shows it.

    Returns
    -------
    DataFrame
        Columns :data:`ERRATA_COLUMNS`: ``source`` ("draft", "final" or "code"), ``where``,
        ``finding``, ``evidence`` (a table of ``output_dir`` and the number it holds, or a test).
    """
    rows = []
    energy = read_table(output_dir, "energy_gradient_check")
    for check in energy.loc[~energy["expected_to_hold"] & energy["check"].str.contains("eq. 4.6"), "check"].unique():
        rows.append({"source": "draft", "where": "eq. 4.6", "finding": check + " fails: the quadratic term has the wrong sign",
                     "evidence": "energy_gradient_check"})
    derivation = read_table(output_dir, "derivation_checks")
    flagged = derivation[derivation["thesis_verdict"].str.contains("wrong|only", regex=True)]
    for _, row in flagged.iterrows():
        rows.append({"source": "draft", "where": f"eq. {row['equation']}", "finding": row["thesis_verdict"], "evidence": f"derivation_checks: {row['check']}"})
    fields = read_table(output_dir, "protocol_fields").set_index("field")
    rows.append({"source": "final", "where": "Experiment II, training", "finding": "the text trains 30 epochs; the code trains up to 35",
                 "evidence": "robustness chapter parameters (epochs = 35); emma.claims.thesis.CLASSIFIER_SETTINGS"})
    rows.append({"source": "final", "where": "Experiment II, loss",
                 "finding": "the text weighs the classes in the cross-entropy; the code's line with pos_weight = 10 is commented out",
                 "evidence": "protocol_fields: class_weight "
                 + ("None (unweighted)" if pd.isna(fields.loc["class_weight", "original"]) or fields.loc["class_weight", "original"] == "None"
                    else str(fields.loc["class_weight", "original"]))
                 + " in the original protocol"})
    rows.append({"source": "final", "where": "Experiment II, results table",
                 "finding": "the final thesis heads the λ columns ρ, λ_c, λ_e; "
                            "the slides and the thesis's own figure captions read the same numbers as ρ, λ_e, λ_c",
                 "evidence": "emma.claims.thesis.thesis_results(reading); the robustness chapter adopts the slides' reading (lambda_reading)"})
    decomposition = read_table(output_dir, "protocol_decomposition")
    for switch, (where, finding) in CODE_FINDINGS.items():
        rows.append({"source": "code", "where": where, "finding": finding, "evidence": _effect(decomposition, switch)})
    rows.append({"source": "code", "where": "code/experiment-3/main.py, __main__",
                 "finding": "by default (retrain = False) it loads trained models from dumps/ files that are not in the repository",
                 "evidence": "read from the code; the book retrains every model (emma.experiments.study)"})
    rows.append({"source": "code", "where": "code/data/data.py, SNR", "finding": "the function named SNR computes 10·log10 σ², a noise-to-signal ratio",
                 "evidence": "emma.data.noise.sigma_to_nsr_db; the book says NSR"})
    alignment = read_table(output_dir, "outcome_alignment")
    pulsar = alignment[alignment["class"] == "pulsar"]
    rows.append({"source": "code", "where": "code/experiment-3/main.py, refined_matrix call",
                 "finding": "the per-sample outcome table pairs predictions on the re-corrupted, unpermuted X_test "
                            "with the labels and indicator of its permuted copy",
                 "evidence": f"outcome_alignment: mean correct rate of pulsars {pulsar['rate_correct_as_coded'].mean():.3f} as coded, "
                             f"{pulsar['rate_correct_aligned'].mean():.3f} aligned, slides {pulsar['slides_rate_correct'].mean():.3f}"})
    return pd.DataFrame(rows, columns=list(ERRATA_COLUMNS))
