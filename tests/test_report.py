import pandas as pd
import pytest

from emma.claims.report import CLAIM_TABLES, claim_counts, collect_claims, collect_errata
from emma.claims.rules import CLAIM_COLUMNS, KINDS, VERDICTS
from emma.engine.protocol import ORIGINAL, SOUND, SWITCH_ORDER


def _write_claims(folder, verdict="partly reproduced", kind="core", **extra):
    (folder / "tables").mkdir(parents=True, exist_ok=True)
    for name in CLAIM_TABLES:
        row = {"claim": [f"claim of {name}"], "thesis_evidence": ["t"], "our_evidence": ["o"], "verdict": [verdict], "kind": [kind]}
        if name == "robustness_claims":
            row.update({key: [value] for key, value in extra.items()})
        pd.DataFrame(row).to_csv(folder / "tables" / f"{name}.csv", index=False)


def test_claims_from_every_chapter_are_gathered_in_book_order(tmp_path):
    _write_claims(tmp_path)
    claims = collect_claims(tmp_path)
    assert list(claims.columns) == ["chapter", *CLAIM_COLUMNS]
    assert list(claims["claim"]) == [f"claim of {name}" for name in CLAIM_TABLES]
    assert list(claims["chapter"]) == list(CLAIM_TABLES.values())


def test_an_unknown_verdict_is_an_error_naming_the_table(tmp_path):
    _write_claims(tmp_path, verdict="partly")  # the old short form is no longer accepted
    with pytest.raises(ValueError, match="attention_claims.*verdict.*'partly'"):
        collect_claims(tmp_path)


def test_old_column_names_are_an_error_naming_the_missing_columns(tmp_path):
    _write_claims(tmp_path)
    pd.DataFrame({"claim": ["c"], "source": ["s"], "evidence": ["e"], "verdict": ["reproduced"]}).to_csv(
        tmp_path / "tables" / "potential_claims.csv", index=False)
    with pytest.raises(ValueError, match="potential_claims.*'thesis_evidence', 'our_evidence'"):
        collect_claims(tmp_path)


def test_extra_verdict_columns_are_accepted_and_checked(tmp_path):
    _write_claims(tmp_path, verdict_sound="not reproduced", verdict_original="reproduced", p_value=0.2)
    assert len(collect_claims(tmp_path)) == len(CLAIM_TABLES)
    _write_claims(tmp_path, verdict_sound="sort of")
    with pytest.raises(ValueError, match="robustness_claims.*'verdict_sound'.*'sort of'"):
        collect_claims(tmp_path)


def test_a_table_without_kind_is_an_error_naming_the_table_and_kind(tmp_path):
    _write_claims(tmp_path)
    pd.DataFrame({"claim": ["c"], "thesis_evidence": ["t"], "our_evidence": ["o"], "verdict": ["reproduced"]}).to_csv(
        tmp_path / "tables" / "modes_claims.csv", index=False)
    with pytest.raises(ValueError, match=r"modes_claims.*\['kind'\].*\('core', 'secondary', 'book'\)"):
        collect_claims(tmp_path)
    _write_claims(tmp_path, kind="thesis")
    with pytest.raises(ValueError, match=r"attention_claims.*kind.*'thesis'"):
        collect_claims(tmp_path)


def _hand_claims():
    rows = [("A", "core", "reproduced"), ("A", "core", "not reproduced"), ("A", "secondary", "reproduced"),
            ("B", "book", "partly reproduced"), ("B", "core", "reproduced"), ("B", "secondary", "reproduced")]
    return pd.DataFrame(rows, columns=["chapter", "kind", "verdict"])


def test_claims_are_counted_per_chapter_and_per_kind():
    claims = _hand_claims()
    by_chapter = claim_counts(claims)
    assert list(by_chapter.index) == ["A", "B"] and list(by_chapter.columns) == list(VERDICTS)
    assert by_chapter.values.tolist() == [[2, 0, 1], [2, 1, 0]]
    by_kind = claim_counts(claims, by="kind")
    assert list(by_kind.index) == list(KINDS) and by_kind.index.name == "kind"
    assert by_kind.values.tolist() == [[2, 0, 1], [2, 0, 0], [0, 1, 0]]
    assert by_kind.loc["core"].sum() == 3 and by_kind.values.sum() == len(claims)
    no_book = claim_counts(claims[claims["kind"] != "book"], by="kind")
    assert no_book.loc["book"].tolist() == [0, 0, 0], "every kind has a row, zeros where it has no claim"
    both = claim_counts(claims, by=["chapter", "kind"])
    assert both.loc[("A", "core")].tolist() == [1, 0, 1] and both.loc[("B", "book")].tolist() == [0, 1, 0]
    with pytest.raises(ValueError, match="by must be"):
        claim_counts(claims, by="verdict")
    with pytest.raises(ValueError, match="'kind'"):
        claim_counts(claims.drop(columns="kind"), by="kind")


def test_collected_claims_carry_their_kind(tmp_path):
    _write_claims(tmp_path, kind="secondary")
    counts = claim_counts(collect_claims(tmp_path), by="kind")
    assert counts.loc["secondary", "partly reproduced"] == len(CLAIM_TABLES) and counts.values.sum() == len(CLAIM_TABLES)


def test_a_missing_table_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="attention_claims"):
        collect_claims(tmp_path)


def _write_errata_sources(folder):
    (folder / "tables").mkdir(exist_ok=True)
    pd.DataFrame({"check": ["Psi of draft eq. 4.6 as printed", "Psi of eq. 4.7"], "expected_to_hold": [False, True]}).to_csv(
        folder / "tables" / "energy_gradient_check.csv", index=False)
    pd.DataFrame({"check": ["2 capacity", "7 module"], "equation": ["5.11", "5.2"],
                  "thesis_verdict": ["draft (+b_a) wrong", "module follows the final thesis"]}).to_csv(
        folder / "tables" / "derivation_checks.csv", index=False)
    fields = SOUND.table().rename(columns={"value": "sound"}).assign(original=ORIGINAL.table()["value"].astype(str))
    fields.to_csv(folder / "tables" / "protocol_fields.csv", index=False)
    rows = [{"switch": s, "family": f, "step": "single", "delta_f1_clean_mean": d, "delta_f1_clean_std": 0.01}
            for s in SWITCH_ORDER for f, d in (("base", 0.02), ("with (selected)", -0.05))]
    pd.DataFrame(rows).to_csv(folder / "tables" / "protocol_decomposition.csv", index=False)
    pd.DataFrame({"class": ["pulsar", "non-pulsar"], "case": ["clean", "clean"], "rate_correct_as_coded": [0.1, 0.9],
                  "rate_correct_aligned": [0.85, 0.98], "slides_rate_correct": [0.9029, 0.9843]}).to_csv(
        folder / "tables" / "outcome_alignment.csv", index=False)


def test_errata_list_the_checks_that_fail_and_every_difference_of_the_code(tmp_path):
    _write_errata_sources(tmp_path)
    errata = collect_errata(tmp_path)
    assert list(errata.columns) == ["source", "where", "finding", "evidence", "status"]
    draft = errata[errata["source"] == "draft"]
    # the checks' errata (eq. 4.6, 5.11) and the one read from the slides (eq. 4.4); the module row agrees with the text: no erratum
    assert list(draft["where"]) == ["draft §4.2, eq. 4.4", "draft §4.2, eq. 4.6", "draft §5.5, eq. 5.11"]
    assert list(draft["status"]) == ["withdrawn in the defense slides", "corrected in the final thesis", "corrected in the final thesis"]
    code = errata[errata["source"] == "code"]
    assert len(code) == len(SWITCH_ORDER) + 3
    assert code["evidence"].str.contains(r"-0\.050 ± 0\.010 \(with \(selected\)\)").sum() == len(SWITCH_ORDER)
    assert "0.100 as coded, 0.850 aligned" in code["evidence"].iloc[-1]
