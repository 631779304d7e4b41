import pandas as pd
import pytest

from emma.report import CLAIM_TABLES, collect_claims, collect_errata


def _write_claims(folder, verdict="partly"):
    (folder / "tables").mkdir(parents=True, exist_ok=True)
    for name in CLAIM_TABLES:
        pd.DataFrame({"claim": ["c"], "source": ["s"], "evidence": ["e"], "verdict": [verdict]}).to_csv(folder / "tables" / f"{name}.csv", index=False)


def test_claims_from_every_chapter_are_gathered_with_one_vocabulary(tmp_path):
    _write_claims(tmp_path)
    claims = collect_claims(tmp_path)
    assert len(claims) == len(CLAIM_TABLES)
    assert set(claims["verdict"]) == {"partly reproduced"}
    assert list(claims.columns) == ["chapter", "claim", "thesis_evidence", "our_evidence", "verdict"]


def test_an_unknown_verdict_is_an_error(tmp_path):
    _write_claims(tmp_path, verdict="sort of")
    with pytest.raises(ValueError, match="verdict.*'sort of'"):
        collect_claims(tmp_path)


def test_a_missing_table_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="energy_claims"):
        collect_claims(tmp_path)


def test_errata_keep_only_statements_a_check_contradicts(tmp_path):
    (tmp_path / "tables").mkdir()
    pd.DataFrame({"check": ["Psi of draft eq. 4.6 as printed", "Psi of eq. 4.7"], "expected_to_hold": [False, True]}).to_csv(
        tmp_path / "tables" / "energy_gradient_check.csv", index=False)
    pd.DataFrame({"check": ["2 capacity", "7 module"], "equation": ["5.11", "5.2"], "thesis_verdict": ["draft (+b_a) wrong", "module follows the final thesis"]}).to_csv(
        tmp_path / "tables" / "derivation_checks.csv", index=False)
    errata = collect_errata(tmp_path)
    assert list(errata["where"]) == ["draft eq. 4.6", "eq. 5.11"]
