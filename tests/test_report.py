import math

import pandas as pd
import pytest

from emma.claims import registry
from emma.claims.errata import collect_errata
from emma.claims.report import BOOK_CLAIMS, CLAIM_TABLES, chapter_links, claim_counts, claim_tables, collect_claims
from emma.claims.rules import CLAIM_COLUMNS, EVIDENCE_COLUMNS, KINDS, VERDICTS, claims_table, paired_test
from emma.engine.protocol import ORIGINAL, SOUND, SWITCH_ORDER


@pytest.fixture(autouse=True)
def _own_registry(monkeypatch):
    """Each test registers its claims in a copy of the registry, dropped afterwards."""
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))


def _row(claim_id, claim, kind="core", verdict="inconclusive", **extra) -> dict:
    """A claims row as claims_table writes it for a claim the registry does not know (as in a fresh process)."""
    return {"id": claim_id, "claim": claim, "kind": kind, "quote": "a sentence", "location": f"{'book' if kind == 'book' else 'final'}: L1",
            "thesis_evidence": "t", "our_evidence": "o", "verdict": verdict, "effect": math.nan, "ci_low": math.nan, "ci_high": math.nan,
            "n_seeds": math.nan, "min_effect": math.nan, "detectable_effect": math.nan, "test": "a test", "unit": "", "min_effect_reason": "", **extra}


def _write_claims(folder, verdict="inconclusive", kind="core", **extra):
    (folder / "tables").mkdir(parents=True, exist_ok=True)
    for k, name in enumerate(CLAIM_TABLES):
        row = _row(f"example_{k}", f"claim of {name}", kind, verdict, **(extra if name == "robustness_claims" else {}))
        pd.DataFrame([row]).to_csv(folder / "tables" / f"{name}.csv", index=False)


def test_claims_from_every_chapter_are_gathered_in_book_order(tmp_path):
    _write_claims(tmp_path)
    claims = collect_claims(tmp_path)
    assert list(claims.columns) == ["chapter", *CLAIM_COLUMNS, *EVIDENCE_COLUMNS, "p_value", "p_holm"]
    assert list(claims["claim"]) == [f"claim of {name}" for name in CLAIM_TABLES]
    assert list(claims["id"]) == [f"example_{k}" for k in range(len(CLAIM_TABLES))]
    assert list(claims["chapter"]) == list(CLAIM_TABLES.values())
    assert registry.lookup("example_1").claim == "claim of energy_claims"  # known from its table from now on


def test_an_extensions_claims_table_is_collected_under_its_chapter_name_and_the_books_summary_is_not(tmp_path):
    _write_claims(tmp_path)
    mine = registry.register(registry.Claim("my_topic_gain", "My method beats the baseline", "book", "book", "my method is better", "chapter My topic",
                                            "paired t-test over seeds, mine − baseline", min_effect=0.02, unit="F1", reason="as the thesis's"))
    test = paired_test([0.80, 0.82, 0.81], [0.70, 0.71, 0.73], min_effect=0.02)
    table = claims_table([{"id": "my_topic_gain", "thesis_evidence": "none", "our_evidence": test.describe(), **test.row()}])
    assert {"test", "unit", "min_effect_reason"} <= set(table.columns)
    table.to_csv(tmp_path / "tables" / "my_topic_claims.csv", index=False)
    del registry._REGISTRY[mine.id]  # as in a later process, where only the table knows the claim
    pd.DataFrame({"nonsense": [1]}).to_csv(tmp_path / "tables" / f"{BOOK_CLAIMS}.csv", index=False)  # the book's own summary: never read
    assert list(claim_tables(tmp_path)) == [*CLAIM_TABLES, "my_topic_claims"]
    claims = collect_claims(tmp_path)
    assert len(claims) == len(CLAIM_TABLES) + 1
    last = claims.iloc[-1]
    assert last["chapter"] == "My topic" and last["id"] == "my_topic_gain" and last["kind"] == "book" and last["verdict"] == "reproduced"
    assert last["location"] == "book: chapter My topic" and last["min_effect"] == pytest.approx(0.02)
    assert last["effect"] == pytest.approx(test.effect) and last["n_seeds"] == 3 and last["ci_low"] == pytest.approx(test.ci_low)
    assert registry.lookup("my_topic_gain") == mine  # registered again from the table, identical
    assert "My topic" not in chapter_links(tmp_path) and list(chapter_links(tmp_path)) == list(CLAIM_TABLES.values())


def test_a_row_that_restates_a_registered_claim_differently_is_an_error_naming_the_table(tmp_path):
    _write_claims(tmp_path)
    claim = registry.lookup("beats_augmentation_ip")
    row = {"id": claim.id, **claim.columns(), "thesis_evidence": "t", "our_evidence": "o", "verdict": "inconclusive"}
    pd.DataFrame([row]).to_csv(tmp_path / "tables" / "robustness_claims.csv", index=False)
    assert collect_claims(tmp_path).set_index("id").loc[claim.id, "chapter"] == CLAIM_TABLES["robustness_claims"]
    pd.DataFrame([{**row, "claim": "EMMA beats everything"}]).to_csv(tmp_path / "tables" / "robustness_claims.csv", index=False)
    with pytest.raises(ValueError, match="robustness_claims.*beats_augmentation_ip.*claim 'EMMA beats everything' differs"):
        collect_claims(tmp_path)


def test_an_unknown_verdict_is_an_error_naming_the_table(tmp_path):
    _write_claims(tmp_path, verdict="partly")  # the old short form is no longer accepted
    with pytest.raises(ValueError, match="attention_claims.*verdict.*'partly'"):
        collect_claims(tmp_path)


def test_a_table_without_ids_is_an_error_naming_the_table_and_the_column(tmp_path):
    _write_claims(tmp_path)
    pd.DataFrame({"claim": ["c"], "source": ["s"], "evidence": ["e"], "verdict": ["reproduced"]}).to_csv(
        tmp_path / "tables" / "potential_claims.csv", index=False)
    with pytest.raises(ValueError, match="potential_claims.*'id'"):
        collect_claims(tmp_path)


def test_extra_verdict_columns_are_accepted_and_checked(tmp_path):
    _write_claims(tmp_path, verdict_sound="not reproduced", verdict_original="rule-dependent", p_value=0.2)
    assert len(collect_claims(tmp_path)) == len(CLAIM_TABLES)
    _write_claims(tmp_path, verdict_sound="sort of")
    with pytest.raises(ValueError, match="robustness_claims.*'verdict_sound'.*'sort of'"):
        collect_claims(tmp_path)


def test_an_unknown_kind_is_an_error_naming_the_table_and_the_kinds(tmp_path):
    _write_claims(tmp_path, kind="thesis")
    with pytest.raises(ValueError, match=r"attention_claims.*kind must be one of \('core', 'secondary', 'book'\).*'thesis'"):
        collect_claims(tmp_path)


def test_a_row_of_an_unregistered_claim_without_its_registry_columns_is_an_error_naming_the_table(tmp_path):
    _write_claims(tmp_path)
    pd.DataFrame([{"id": "modes_unknown", "thesis_evidence": "t", "our_evidence": "o", "verdict": "reproduced", "kind": "core"}]).to_csv(
        tmp_path / "tables" / "modes_claims.csv", index=False)
    with pytest.raises(ValueError, match="modes_claims.*modes_unknown"):
        collect_claims(tmp_path)


def _hand_claims():
    rows = [("A", "core", "reproduced"), ("A", "core", "not reproduced"), ("A", "secondary", "reproduced"),
            ("B", "book", "partly reproduced"), ("B", "core", "rule-dependent"), ("B", "secondary", "inconclusive")]
    return pd.DataFrame(rows, columns=["chapter", "kind", "verdict"])


def test_claims_are_counted_per_chapter_and_per_kind():
    claims = _hand_claims()
    by_chapter = claim_counts(claims)
    assert list(by_chapter.index) == ["A", "B"] and list(by_chapter.columns) == list(VERDICTS)
    assert by_chapter.values.tolist() == [[2, 0, 0, 0, 1], [0, 1, 1, 1, 0]]
    by_kind = claim_counts(claims, by="kind")
    assert list(by_kind.index) == list(KINDS) and by_kind.index.name == "kind"
    assert by_kind.values.tolist() == [[1, 1, 0, 0, 1], [1, 0, 0, 1, 0], [0, 0, 1, 0, 0]]
    assert by_kind.loc["core"].sum() == 3 and by_kind.values.sum() == len(claims)
    no_book = claim_counts(claims[claims["kind"] != "book"], by="kind")
    assert no_book.loc["book"].tolist() == [0] * len(VERDICTS), "every kind has a row, zeros where it has no claim"
    both = claim_counts(claims, by=["chapter", "kind"])
    assert both.loc[("A", "core")].tolist() == [1, 0, 0, 0, 1] and both.loc[("B", "book")].tolist() == [0, 0, 1, 0, 0]
    with pytest.raises(ValueError, match="by must be"):
        claim_counts(claims, by="verdict")
    with pytest.raises(ValueError, match="'kind'"):
        claim_counts(claims.drop(columns="kind"), by="kind")


def test_collected_claims_carry_their_kind(tmp_path):
    _write_claims(tmp_path, kind="secondary")
    counts = claim_counts(collect_claims(tmp_path), by="kind")
    assert counts.loc["secondary", "inconclusive"] == len(CLAIM_TABLES) and counts.values.sum() == len(CLAIM_TABLES)


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
