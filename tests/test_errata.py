"""The errata (emma.claims.errata): each with its source and status, each equation once, counted per source."""
import re

import pandas as pd
import pytest

from emma.claims.errata import CODE_FINDINGS, DRAFT_ERRATA, ERRATA_COLUMNS, FINAL_ERRATA, SOURCES, STATUSES, collect_errata
from emma.claims.original_repo import check_links
from emma.engine.protocol import ORIGINAL, SOUND, SWITCH_ORDER
from emma.experiments.findings import errata_sentence

CORRECTED, WITHDRAWN = "corrected in the final thesis", "withdrawn in the defense slides"


def _write_tables(folder, extra_derivation=()):
    """The five tables collect_errata reads, small and hand-made, as the chapters would write them."""
    tables = folder / "tables"
    tables.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"check": ["Psi of eq. 4.7", "Psi of draft eq. 4.6 as printed", "Psi of draft eq. 4.6 as printed", "untied control"],
                  "manifold": ["wave", "wave", "circle", "wave"], "max_abs_error": [1e-7, 9.5, 10.0, 0.1],
                  "expected_to_hold": [True, False, False, False]}).to_csv(tables / "energy_gradient_check.csv", index=False)
    derivation = [("1 potential energy", "4.5-4.7", "eq. 4.7 holds; draft eq. 4.6 wrong"),
                  ("2 capacity", "5.9-5.11", "final eq. 5.11 holds; draft (+b_a) wrong"),
                  ("3 energy threshold", "5.8", "draft direction (>=) wrong"),
                  ("4 gradient of Omega", "5.15-5.19", "boxed 5.19 holds only without coupling"),
                  ("5 update rules", "5.20-5.22", "5.20-5.21 hold; 5.22 wrong"),
                  ("6 gradient wrt gamma", "B.2", "B.2 wrong"),
                  ("7 module vs equations", "4.7, 5.2-5.7", "module follows the final thesis"), *extra_derivation]
    pd.DataFrame(derivation, columns=["check", "equation", "thesis_verdict"]).to_csv(tables / "derivation_checks.csv", index=False)
    fields = SOUND.table().rename(columns={"value": "sound"}).assign(original=ORIGINAL.table()["value"].astype(str))
    fields.to_csv(tables / "protocol_fields.csv", index=False)
    pd.DataFrame([{"switch": s, "family": "base", "step": "single", "delta_f1_clean_mean": 0.02, "delta_f1_clean_std": 0.01}
                  for s in SWITCH_ORDER]).to_csv(tables / "protocol_decomposition.csv", index=False)
    pd.DataFrame({"class": ["pulsar"], "rate_correct_as_coded": [0.1], "rate_correct_aligned": [0.85],
                  "slides_rate_correct": [0.9029]}).to_csv(tables / "outcome_alignment.csv", index=False)
    return folder


@pytest.fixture
def errata(tmp_path):
    return collect_errata(_write_tables(tmp_path))


def _row(errata, source, where):
    rows = errata[(errata["source"] == source) & errata["where"].str.contains(where, regex=False)]
    assert len(rows) == 1, f"{source} rows with {where!r}: {rows['where'].tolist()}"
    return rows.iloc[0]


def test_every_row_names_its_source_and_status(errata):
    assert list(errata.columns) == list(ERRATA_COLUMNS)
    assert set(errata["source"]) <= set(SOURCES) and set(errata["status"]) <= set(STATUSES)
    assert errata.notna().all().all() and (errata != "").all().all()
    assert list(dict.fromkeys(errata["source"])) == ["draft", "final", "code"]  # the draft first, then the final text, then the code


def test_the_errors_the_final_thesis_corrects_are_the_drafts_and_marked_so(errata):
    for equation in ("eq. 4.6", "eq. 5.8", "eq. 5.11"):
        assert _row(errata, "draft", equation)["status"] == CORRECTED
    for equation in ("eq. 5.19", "eq. 5.22", "eq. B.2"):
        assert _row(errata, "draft", equation)["status"] == "stands"
    assert (errata.loc[errata["source"] != "draft", "status"] == "stands").all()


def test_no_equation_appears_twice_and_a_merged_row_keeps_both_checks(errata):
    draft = errata[errata["source"] == "draft"]
    equations = [re.search(r"eq\. ([0-9A-Z]+\.\d+)", where).group(1) for where in draft["where"]]
    assert sorted(equations) == sorted(DRAFT_ERRATA) and len(set(equations)) == len(equations)
    assert not errata.duplicated(["source", "where"]).any()
    merged = _row(errata, "draft", "eq. 4.6")["evidence"]  # eq. 4.6 (gradient check) and eq. 4.5-4.7 (derivation check): one error
    assert "energy_gradient_check" in merged and "derivation_checks: 1 potential energy" in merged and "max error 10 on wave, circle" in merged
    assert "untied" not in " ".join(errata["evidence"])  # a control that fails by design is no erratum


def test_the_two_disagreements_of_the_final_text_and_the_slides_are_listed(errata):
    threshold = _row(errata, "final", "report/chapters/7-experiments.tex L181")
    assert "report/chapters/5-emma.tex L123" in threshold["where"]
    assert "less selective" in threshold["finding"] and "more selective" in threshold["finding"]
    log_p = _row(errata, "draft", "eq. 4.4")
    assert "−log p" in log_p["finding"] and log_p["status"] == WITHDRAWN and "slides" in log_p["evidence"]


def test_errata_are_counted_per_source(errata):
    counts = errata["source"].value_counts()
    assert counts["draft"] == len(DRAFT_ERRATA) and counts["final"] == len(FINAL_ERRATA) and counts["code"] == len(CODE_FINDINGS) + 3
    draft = errata[errata["source"] == "draft"]
    assert draft["status"].value_counts().to_dict() == {"stands": 3, CORRECTED: 3, WITHDRAWN: 1}


def test_every_location_in_the_original_repository_exists(errata):
    located = errata[errata["source"].isin(["final", "code"])]
    assert located["where"].str.match(r"(code|report)/").all()
    assert [problem for where in located["where"] for problem in check_links(where, "errata")] == []
    assert all("code/emma/method" not in where for where in errata["where"])


def test_a_check_no_erratum_covers_gets_its_own_row_once(tmp_path):
    extra = [("8 new check", "6.1", "6.1 wrong"), ("8 new check again", "6.1", "6.1 wrong")]
    errata = collect_errata(_write_tables(tmp_path, extra))
    row = _row(errata, "draft", "eq. 6.1")
    assert row["status"] == "not compared with the final thesis"


def test_a_bad_output_dir_is_named():
    with pytest.raises(ValueError, match="output_dir"):
        collect_errata(3)


def test_the_sentence_counts_per_source_and_keeps_the_drafts_errors_the_drafts(errata):
    sentence = errata_sentence(errata)
    assert sentence.startswith(f"{len(DRAFT_ERRATA)} statements of the draft's derivation do not hold as printed (eq. 4.4, 4.6, 5.8,")
    assert "3 of which the final thesis corrects and 1 of which the defense slides withdraw" in sentence
    assert f"{len(FINAL_ERRATA)} statements of the final text contradict" in sentence
    assert f"{len(CODE_FINDINGS) + 3} practices of the public code differ" in sentence
    assert "thesis's derivation" not in sentence
    corrected_only = errata[(errata["source"] != "draft") | (errata["status"] != CORRECTED)]
    assert "none of which the final thesis corrects" in errata_sentence(corrected_only)


def test_the_sentence_rejects_a_table_without_sources():
    with pytest.raises(ValueError, match="source"):
        errata_sentence(pd.DataFrame({"where": ["x"], "status": ["stands"]}))
    with pytest.raises(ValueError, match="source must be one of"):
        errata_sentence(pd.DataFrame({"source": ["thesis"], "where": ["x"], "status": ["stands"]}))
