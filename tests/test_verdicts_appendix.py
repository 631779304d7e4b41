"""The appendix "Verdicts and errata" (emma.experiments.verdicts_appendix): the claims gathered, counted and put in words."""
import matplotlib.pyplot as plt
import pandas as pd
import pytest

from emma.claims.report import KINDS, VERDICTS, claim_counts
from emma.experiments import verdicts_appendix as appendix


def _claims() -> pd.DataFrame:
    return pd.DataFrame({"chapter": ["A", "A", "B", "C"], "claim": ["a1", "a2", "b1", "c1"], "kind": ["core", "book", "secondary", "core"],
                         "verdict": ["reproduced", "inconclusive", "not reproduced", "reproduced"]})


def test_the_claims_of_the_kinds_asked_for_are_gathered(monkeypatch):
    monkeypatch.setattr(appendix, "collect_claims", lambda output_dir: _claims())
    assert appendix.gathered_claims("out") is not None and len(appendix.gathered_claims("out")) == 4  # every kind: all of them
    core = appendix.gathered_claims("out", ["core"])
    assert core["claim"].tolist() == ["a1", "c1"] and core.index.tolist() == [0, 1]
    assert appendix.gathered_claims("out", ["book", "secondary"])["claim"].tolist() == ["a2", "b1"]
    for bad in ([], ["cor"], "core"):
        with pytest.raises(ValueError, match="kinds must be a non-empty list"):
            appendix.gathered_claims("out", bad)


def test_the_figure_has_one_bar_per_chapter_and_one_colour_per_verdict():
    fig = appendix.verdicts_figure(claim_counts(_claims()))
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["A", "B", "C"]
    assert len(ax.patches) == 3 * len(VERDICTS)  # a (possibly empty) segment per chapter and verdict
    assert [t.get_text() for t in fig.legends[0].get_texts()] == list(VERDICTS)
    plt.close(fig)
    with pytest.raises(ValueError, match="one column per verdict"):
        appendix.verdicts_figure(claim_counts(_claims()).iloc[:, :2])


def test_the_counts_by_kind_are_glued_as_numbers_and_tallies():
    claims = _claims()
    glued = appendix.kind_glue(claims, claim_counts(claims, by="kind"))
    assert glued["verdicts_n_claims"] == 4
    assert [glued[f"verdicts_n_{kind}"] for kind in KINDS] == [2, 1, 1]
    assert glued["verdicts_core_tally"] == "2 reproduced, 0 rule-dependent, 0 partly reproduced, 0 inconclusive, 0 not reproduced"
    assert type(glued["verdicts_core_tally"]).__name__ == "Prose"  # pasted across pages without quotes
    with pytest.raises(ValueError, match="one row per kind"):
        appendix.kind_glue(claims, claim_counts(claims))


def test_the_findings_count_claims_by_verdict_and_kind_and_errata_by_source():
    claims = _claims()
    errata = pd.DataFrame({"source": ["draft", "draft", "code", "elsewhere"], "status": ["corrected", "withdrawn", "corrected", "open"]})
    text = appendix.appendix_findings(claims, claim_counts(claims), claim_counts(claims, by="kind"), errata)
    first, second = text.split("\n")
    assert first == ("- 4 claims judged across 3 chapters: 2 reproduced, 0 rule-dependent, 0 partly reproduced, 1 inconclusive, "
                     "1 not reproduced; by kind: core 2 (2 reproduced, 0 rule-dependent, 0 partly reproduced, 0 inconclusive, 0 not reproduced); "
                     "secondary 1 (0 reproduced, 0 rule-dependent, 0 partly reproduced, 0 inconclusive, 1 not reproduced); "
                     "book 1 (0 reproduced, 0 rule-dependent, 0 partly reproduced, 1 inconclusive, 0 not reproduced).")
    assert second == "- 4 errata: 2 in the draft (corrected: 1, withdrawn: 1); 1 in the public code (corrected: 1)."
    with pytest.raises(ValueError, match="source and status"):
        appendix.appendix_findings(claims, claim_counts(claims), claim_counts(claims, by="kind"), errata.drop(columns="status"))
