"""The errata: every statement of the thesis's draft, its final text, its defense slides or its public code that the book finds wrong.

Each row says which document prints the statement (``source``), where (a section of the draft,
a file and line of the final LaTeX or of the code at commit ``7302713``, a slide), what is wrong,
the table or check that shows it, and whether it still stands. An error of the draft that the
final thesis corrects is the draft's, reported with the status "corrected in the final thesis",
never as the thesis's. Each erratum is one row, however many checks show it.

The derivation errata come from the tables the chapters write (``energy_gradient_check`` in
:doc:`/book/chapters/02_energy_estimation`, ``derivation_checks`` in :doc:`/book/chapters/03_emma`);
what the final thesis made of each was read in its LaTeX, once, and is recorded in
:data:`DRAFT_ERRATA`.
"""
from __future__ import annotations

import os
import re

import pandas as pd

from emma.claims.report import read_table

__all__ = ["CODE_FINDINGS", "DRAFT_ERRATA", "ERRATA_COLUMNS", "FINAL_ERRATA", "SOURCES", "STATUSES", "collect_errata"]

#: The columns of the errata table.
ERRATA_COLUMNS = ("source", "where", "finding", "evidence", "status")
#: The document that prints an erroneous statement. A statement of the draft keeps the draft's
#: numbering, whatever the final thesis made of it.
SOURCES = ("draft", "final", "code", "slides")
#: What became of an erratum: the last document keeps it; the final thesis corrects an error of
#: the draft; the defense slides withdraw it; or (a check added since) not yet compared.
STATUSES = ("stands", "corrected in the final thesis", "withdrawn in the defense slides", "not compared with the final thesis")
STANDS, CORRECTED, WITHDRAWN, UNCOMPARED = STATUSES

#: The errors of the draft's derivation, by the draft's equation, in the order of the draft:
#: where, finding, status, and for those read from the text alone (not from a check) the evidence.
#: "final" says where the final thesis (LaTeX at 7302713) has the same equation.
DRAFT_ERRATA = {
    "4.4": {"where": "draft §4.2, eq. 4.4",
            "finding": "Ψ ∝ −log p (eq. 4.4, repeated in eq. 4.7): from ∂Ψ/∂x ∝ −∂log p/∂x (eq. 4.2, a limit of small training noise) follows at best "
                       "Ψ = −c log p + const, not a proportionality; the final thesis keeps the statement "
                       "(report/chapters/4-energy-approx.tex L93 and L107)",
            "status": WITHDRAWN,
            "evidence": "read from the defense slides: their eq. (6), on the backup slide 'Potential Energy', "
                        "strikes the implication (⇏ where the draft writes ⇒)"},
    "4.6": {"where": "draft §4.2, eq. 4.6",
            "finding": "the potential's quadratic term is printed −½‖x + b_r‖² where +½‖x − b_r‖² is needed "
                       "(the same error as the check of eq. 4.5–4.7): its gradient field differs from r(x) − x by 2x; "
                       "the final eq. 4.6 (report/chapters/4-energy-approx.tex L102) has +½, with a sign error of its own (final row)",
            "status": CORRECTED},
    "5.8": {"where": "draft §5.5, eq. 5.8",
            "finding": "a mode passes when E_i ≥ E_threshold as printed; β_i > 0 exactly when E_i < E_threshold; "
                       "the final eq. 5.6 writes ≤ (report/chapters/5-emma.tex L120)",
            "status": CORRECTED},
    "5.11": {"where": "draft §5.5, eq. 5.11",
             "finding": "the capacity integrates tanh(g_a α + b_a) (eq. 5.9) and ends at log[cosh(g_a + b_a)/cosh(b_a)]/g_a, "
                        "while eq. 5.7 has − b_a, whose integral is log[cosh(g_a − b_a)/cosh(b_a)]/g_a; "
                        "the final eq. 5.9 has − b_a (report/chapters/5-emma.tex L139)",
             "status": CORRECTED},
    "5.19": {"where": "draft §5.6, eq. 5.19",
             "finding": "the boxed ∇_θi Ω = −[(M − 2M')α_i + ξ_i]ρ∇_θi E_i treats θ_i as entering E_i only; w_i and b_i "
                        "also enter every E_k through e_ki, so it holds only without coupling; the final thesis keeps it "
                        "(eq. 5.16, report/chapters/5-emma.tex L213)",
             "status": STANDS},
    "5.22": {"where": "draft §5.6, eq. 5.22",
             "finding": "for M' = ⌊(M+1)/2⌋ + 1 the update factor is ξ_i − 2α_i (M even) or ξ_i − 3α_i (M odd), not α_i + ξ_i, "
                        "and the energies cannot all decrease (the derivatives of Ω with respect to them sum to 0); "
                        "the final thesis keeps it (eq. 5.21, report/chapters/5-emma.tex L243)",
             "status": STANDS},
    "B.2": {"where": "draft Appendix B.2, eq. B.2",
            "finding": "∂e_ij/∂γ_ij = e_ij log(e_i/e_j), not w_ij e_i^γ e_j^(1−γ)(log e_i + log e_j); the final thesis keeps "
                       "the sum of logarithms (Appendix C, report/appendices/AppendixC.tex L22)",
            "status": STANDS},
}

#: The errors of the final text alone (LaTeX at commit 7302713): (where, finding, evidence).
FINAL_ERRATA = (
    ("report/chapters/4-energy-approx.tex L102, eq. 4.6",
     "the final eq. 4.6 corrects the sign of the draft's quadratic term but prints +½‖x + b_g‖², whose linear term has the "
     "wrong sign: its gradient field differs from r(x) − x by 2b_g; the boxed eq. 4.7 (L107) has ½‖x − b_g‖² and holds",
     "differentiation: ∇½‖x + b_g‖² = x + b_g where r(x) − x needs x − b_g; derivation_checks: 1 potential energy (eq. 4.7 holds)"),
    ("report/chapters/7-experiments.tex L181 against report/chapters/5-emma.tex L123 (§5.4, Energy threshold)",
     "§5.4 says more perturbation lowers the partition function Z and raises E_threshold, so EMMA 'becomes less selective'; "
     "the experiments chapter says it 'makes the module more selective', citing §5.4 "
     "(the draft's §5.5 had Z rising and the thresholds falling)",
     "eq. 5.8 (derivation_checks: 3 energy threshold): E_threshold = (log(g_a/b_a) − log Z)/ρ with Z = Σ_k exp(−ρE_k), "
     "which falls as the energies rise, as §5.4 says; whether a mode passes depends on α_i alone (β_i > 0 ⇔ α_i > b_a/g_a)"),
    ("report/chapters/7-experiments.tex L103, Experiment II training", "the text trains 30 epochs; the code trains up to 35",
     "robustness chapter parameters (epochs = 35); emma.claims.thesis.CLASSIFIER_SETTINGS"),
    # the class weight's evidence is read from the table protocol_fields: see collect_errata
    ("report/chapters/7-experiments.tex L103, Experiment II loss",
     "the text weighs the classes in the cross-entropy; the code's line with pos_weight = 10 is commented out", None),
    ("report/chapters/7-experiments.tex L112, results table header",
     "the final thesis heads the λ columns ρ, λ_c, λ_e; the slides and the thesis's own figure captions read the same numbers as ρ, λ_e, λ_c",
     "emma.claims.thesis.thesis_results(reading); the robustness chapter adopts the slides' reading (lambda_reading)"),
)

#: What the original code did differently from the text, by :class:`emma.engine.protocol.Protocol` field:
#: (where in the code at 7302713, the finding). The evidence is the field's single switch in ``protocol_decomposition``.
CODE_FINDINGS = {
    "corruption_in_place": ("code/data/data.py L56–L68, apply_corruption",
                            "writes its noise into the array it is given, so the 'clean' training, validation and test sets carry the noisy copies' draw; "
                            "the base, IP-only and DM-only models train and pick their threshold on half-corrupted data"),
    "autoencoders_on_corrupted": ("code/experiment-3/main.py L410–L425, autoencoders",
                                  "the autoencoders and Ψ_min are fitted on that half-corrupted training set"),
    "early_stopping": ("code/experiment-3/main.py L155 and L197, train_clf",
                       "the curve that picks the best epoch is the loss on the training set (for EMMA with both regularizers), not on the validation set"),
    "retrain": ("code/experiment-3/main.py L167–L168 and L206–L209, train_clf",
                "after the threshold, the baselines train best_epoch more epochs on train + validation; EMMA models never set best_epoch and retrain 0 epochs"),
    "drop_last": ("code/experiment-3/main.py L224, train_step", "every pass skips its last mini-batch (range(0, n − 32, 32))"),
    "potential": ("code/emma/autoencoder.py L30, potential",
                  "½‖X − b_r‖² is summed over the whole batch of each call and added to every sample: "
                  "a sample's energy depends on the samples it is evaluated with"),
    "omega": ("code/experiment-3/main.py L66–L71, regul_loss",
              "Ω weighs only the clean mode of each corrupted sample (ξ = +1 there, 0 elsewhere) and is summed over the batch, not eq. 5.12"),
    "init": ("code/experiment-3/main.py L186, copy_emma",
             "all 125 configurations start from copies of one EMMA and one base in a single unseeded run: each configuration draws its own mini-batch order"),
    "selection": ("code/experiment-3/main.py L476–L491, get_ranking",
                  "the 125 models are ranked by F1 on the whole noisy test set: the test set chooses the model"),
}


def _read(output_dir, name: str) -> pd.DataFrame:

    return read_table(output_dir, name)


def _effect(decomposition: pd.DataFrame, switch: str) -> str:
    rows = decomposition[(decomposition["switch"] == switch) & (decomposition["step"] == "single")]
    if rows.empty:
        return "not in the decomposition"
    biggest = rows.loc[rows["delta_f1_clean_mean"].abs().idxmax()]
    std = biggest["delta_f1_clean_std"]
    spread = f" ± {std:.3f}" if pd.notna(std) else ""
    return f"protocol_decomposition, {switch} switched alone: largest clean-F1 change {biggest['delta_f1_clean_mean']:+.3f}{spread} ({biggest['family']})"


def _equations(span: str) -> set[str]:
    """The equations a check names: ``"4.5-4.7"`` → {4.5, 4.6, 4.7}; ``"4.7, 5.2-5.7"``, ``"B.2"``."""
    found = set()
    for piece in str(span).replace("–", "-").split(","):
        ends = [end.strip() for end in piece.split("-")]
        match = [re.fullmatch(r"([0-9A-Z]+)\.(\d+)", end) for end in ends]
        if len(ends) == 2 and all(match) and match[0].group(1) == match[1].group(1):
            chapter = match[0].group(1)
            found |= {f"{chapter}.{n}" for n in range(int(match[0].group(2)), int(match[1].group(2)) + 1)}
        else:
            found |= {end for end in ends if end}
    return found


def _derivation_evidence(output_dir) -> tuple[dict[str, list[str]], list[dict]]:
    """The evidence of each erratum of :data:`DRAFT_ERRATA` the checks show, and rows for errors no entry covers."""
    evidence, others = {}, []
    energy = _read(output_dir, "energy_gradient_check")
    failing = energy[~energy["expected_to_hold"].astype(bool) & energy["check"].str.contains(r"draft eq\. ", regex=True)]
    for check, rows in failing.groupby("check", sort=False):
        equation = re.search(r"draft eq\. ([0-9A-Z]+\.\d+)", check).group(1)
        detail = [f"max error {rows['max_abs_error'].max():.3g}"] if "max_abs_error" in rows else []
        detail += [f"on {', '.join(rows['manifold'].astype(str).unique())}"] if "manifold" in rows else []
        text = f"energy_gradient_check: {check} fails" + (f" ({' '.join(detail)})" if detail else "")
        if equation in DRAFT_ERRATA:
            evidence.setdefault(equation, []).append(text)
        else:
            others.append({"source": "draft", "where": f"draft, eq. {equation}", "finding": check + " fails", "evidence": text,
                           "status": UNCOMPARED})
    derivation = _read(output_dir, "derivation_checks")
    for _, row in derivation[derivation["thesis_verdict"].str.contains("wrong|only", regex=True)].iterrows():
        text = f"derivation_checks: {row['check']} ({row['thesis_verdict']})"
        known = [key for key, entry in DRAFT_ERRATA.items() if "evidence" not in entry and key in _equations(row["equation"])]
        if len(known) == 1:
            evidence.setdefault(known[0], []).append(text)
        else:
            others.append({"source": "draft", "where": f"draft, eq. {row['equation']}", "finding": row["thesis_verdict"], "evidence": text,
                           "status": UNCOMPARED})
    return evidence, others


def collect_errata(output_dir: str | os.PathLike = "_build") -> pd.DataFrame:
    """Every disagreement among the draft, the final text, the slides, the code and the book's checks, one row each.

    Parameters
    ----------
    output_dir : path
        The folder the chapters wrote into; its ``tables`` subfolder must hold ``energy_gradient_check``,
        ``derivation_checks``, ``protocol_fields``, ``protocol_decomposition`` and ``outcome_alignment``.

    Returns
    -------
    DataFrame
        Columns :data:`ERRATA_COLUMNS`: ``source`` (one of :data:`SOURCES`: the document that prints
        the statement), ``where`` (its section, file and line, or slide), ``finding``, ``evidence``
        (a table of ``output_dir`` and what it holds, or how the statement was checked) and
        ``status`` (one of :data:`STATUSES`). The draft's rows come first, in the draft's order,
        each equation once.
    """
    if not isinstance(output_dir, (str, os.PathLike)):
        raise ValueError(f"output_dir must be a path (the folder the chapters wrote into), got {type(output_dir).__name__}")
    evidence, others = _derivation_evidence(output_dir)
    rows = []
    for equation, entry in DRAFT_ERRATA.items():
        if "evidence" in entry or equation in evidence:
            rows.append({"source": "draft", "where": entry["where"], "finding": entry["finding"],
                         "evidence": entry.get("evidence") or "; ".join(evidence[equation]), "status": entry["status"]})
    for row in others:  # an equation no entry covers, once
        if row["where"] not in {known["where"] for known in rows}:
            rows.append(row)
    fields = _read(output_dir, "protocol_fields").set_index("field")
    weight = fields.loc["class_weight", "original"]
    weight = "None (unweighted)" if pd.isna(weight) or weight == "None" else str(weight)
    for where, finding, proof in FINAL_ERRATA:
        rows.append({"source": "final", "where": where, "finding": finding, "status": STANDS,
                     "evidence": proof or f"protocol_fields: class_weight {weight} in the original protocol"})
    decomposition = _read(output_dir, "protocol_decomposition")
    for switch, (where, finding) in CODE_FINDINGS.items():
        rows.append({"source": "code", "where": where, "finding": finding, "evidence": _effect(decomposition, switch), "status": STANDS})
    rows.append({"source": "code", "where": "code/experiment-3/main.py L371 and L470, __main__",
                 "finding": "by default (retrain = False) it loads trained models from dumps/ files that are not in the repository",
                 "evidence": "read from the code; the book retrains every model (emma.experiments.study)", "status": STANDS})
    rows.append({"source": "code", "where": "code/data/data.py L90–L91, SNR",
                 "finding": "the function named SNR computes 10·log10 σ², a noise-to-signal ratio",
                 "evidence": "emma.data.noise.sigma_to_nsr_db; the book says NSR", "status": STANDS})
    alignment = _read(output_dir, "outcome_alignment")
    if "sigma" not in alignment.columns:  # a table of one call (before the book replayed both)
        alignment = alignment.assign(sigma=float("nan"))
    per_call = []
    for sigma, part in alignment[alignment["class"] == "pulsar"].groupby("sigma", dropna=False, sort=False):
        at = f"at σ = {sigma:g}: " if pd.notna(sigma) else ""
        per_call.append(f"{at}{part['rate_correct_as_coded'].mean():.3f} as coded, {part['rate_correct_aligned'].mean():.3f} aligned")
    slides = alignment.loc[alignment["class"] == "pulsar", "slides_rate_correct"].mean()
    rows.append({"source": "code", "where": "code/experiment-3/main.py L496–L512, refined_matrix calls",
                 "finding": "the per-sample outcome table pairs predictions on the re-corrupted, unpermuted X_test "
                            "with the labels and indicator of its permuted copy",
                 "evidence": f"outcome_alignment: mean correct rate of pulsars {'; '.join(per_call)}; slides {slides:.3f}",
                 "status": STANDS})
    return pd.DataFrame(rows, columns=list(ERRATA_COLUMNS))
