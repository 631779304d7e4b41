"""Specifications of the literature taxonomy and of the claims judged on it (emma/experiments/literature.py, chapter 1)."""
import re
from pathlib import Path

import matplotlib.pyplot as plt
import pytest
from matplotlib.text import Text

from emma.claims.rules import VERDICTS, verdict_from_flags
from emma.experiments import literature
from emma.util import plots

ROOT = Path(__file__).resolve().parent.parent
#: The 12 papers the draft's chapter 3 lists (§3.1: 2, §3.2: 10), by the book's keys.
DRAFT_CHAPTER_3 = {"baltrusaitis2019", "liu2018", "vaswani2017", "galassi2019", "ephrat2018", "libovicky2018",
                   "wang2018", "li2019", "lee2018", "grimm2017", "shon2018", "afouras2018"}


def _bibliography() -> dict[str, str]:
    """Every entry of book/references.bib: key to the entry's text."""
    text = (ROOT / "book" / "references.bib").read_text(encoding="utf-8")
    starts = list(re.finditer(r"^@(\w+)\{([^,\s]+),", text, flags=re.MULTILINE))
    return {m.group(2): text[m.start():(starts[i + 1].start() if i + 1 < len(starts) else len(text))]
            for i, m in enumerate(starts)}


@pytest.fixture(scope="module")
def taxonomy():
    return literature.attention_taxonomy()


def test_the_taxonomy_has_one_row_per_paper_of_the_drafts_chapter_3(taxonomy):
    thesis = taxonomy[taxonomy["listed_by"] == "thesis chapter 3"]
    assert set(literature.THESIS_REVIEW) == DRAFT_CHAPTER_3
    assert sorted(thesis["bibtex_key"]) == sorted(DRAFT_CHAPTER_3)  # each once, and nothing else marked so
    coverage = literature.thesis_review_coverage(taxonomy)
    assert (coverage["covered"], coverage["listed"], coverage["missing"]) == (12, 12, [])
    assert coverage["rows"] == len(taxonomy) == 12 + coverage["book_additions"] + 1  # and EMMA


def test_rows_outside_the_drafts_list_are_marked_as_the_books_or_emma(taxonomy):
    others = taxonomy[~taxonomy["bibtex_key"].isin(DRAFT_CHAPTER_3)]
    marks = dict(zip(others["bibtex_key"], others["listed_by"]))
    assert marks.pop("werenne2019") == "the thesis's mechanism"
    assert set(marks.values()) == {"book's addition"}
    assert set(marks) == {"bahdanau2015", "luong2015", "sukhbaatar2015", "xu2015"}


def test_coverage_names_a_paper_the_taxonomy_lacks(taxonomy):
    coverage = literature.thesis_review_coverage(taxonomy[taxonomy["bibtex_key"] != "grimm2017"])
    assert coverage["covered"] == 11 and coverage["missing"] == ["grimm2017"]
    with pytest.raises(ValueError, match="listed_by"):
        literature.thesis_review_coverage(taxonomy.drop(columns="listed_by"))


def test_every_bib_key_of_the_taxonomy_is_in_the_bibliography(taxonomy):
    entries = _bibliography()
    keys = [key.strip() for cell in taxonomy["bibtex_key"] for key in cell.split(";")]
    assert set(keys) <= set(entries), set(keys) - set(entries)
    assert taxonomy["bibtex_key"].is_unique  # one row per paper


@pytest.mark.parametrize("key", sorted(DRAFT_CHAPTER_3))
def test_each_paper_of_the_draft_has_its_authors_title_venue_and_year(key):
    entry = _bibliography()[key]
    for field in ("author", "title", "year"):
        assert re.search(rf"^\s*{field}\s*=", entry, flags=re.MULTILINE), f"{key} lacks {field}"
    assert re.search(r"^\s*(journal|booktitle)\s*=", entry, flags=re.MULTILINE), f"{key} lacks its venue"
    year = int(re.search(r"^\s*year\s*=\s*\{(\d{4})\}", entry, flags=re.MULTILINE).group(1))
    assert 2017 <= year <= 2019  # the reading list of a 2019 thesis


def test_every_row_is_classified_on_the_taxonomys_vocabularies_and_justified(taxonomy):
    assert tuple(taxonomy.columns) == literature.TAXONOMY_COLUMNS
    assert set(taxonomy["attends_over"]) <= set(literature.SCOPES)
    assert set(taxonomy["weights_driven_by"]) <= set(literature.DRIVERS)
    assert set(taxonomy["kind"]) <= set(literature.KINDS)
    assert set(taxonomy["quality_signal"]) <= set(literature.QUALITY_SIGNALS)
    assert set(taxonomy["contribution"]) <= set(literature.CONTRIBUTIONS)
    assert set(taxonomy["listed_by"]) <= set(literature.LISTED_BY)
    assert taxonomy["mechanism"].is_unique
    assert (taxonomy["justification"].str.len() > 40).all() and (taxonomy["how"].str.len() > 20).all()
    assert set(taxonomy.loc[taxonomy["contribution"] == "survey", "bibtex_key"]) == {"baltrusaitis2019", "galassi2019"}


def test_emma_is_the_only_row_that_measures_the_inputs_quality(taxonomy):
    explicit = taxonomy[(taxonomy["quality_signal"] == "explicit") | (taxonomy["weights_driven_by"] == "input quality")]
    assert explicit["mechanism"].tolist() == ["EMMA"]
    assert taxonomy.set_index("mechanism").loc["EMMA", "kind"] == "exogenous"


def test_the_final_review_column_follows_the_final_thesiss_chapter_3(taxonomy):
    cited = set(taxonomy.loc[taxonomy["in_final_review"], "bibtex_key"])
    assert cited == literature.FINAL_REVIEW
    assert len(cited & DRAFT_CHAPTER_3) == 7 and literature.thesis_review_coverage(taxonomy)["in_final_review"] == 7


def test_the_claims_are_judged_on_every_row(taxonomy):
    claims = literature.literature_claims(taxonomy)
    assert len(claims) == 2 and set(claims["verdict"]) <= set(VERDICTS)
    assert list(claims["kind"]) == ["secondary", "core"]  # the literature gap of the draft's contribution 2 is core
    others = taxonomy[taxonomy["mechanism"] != "EMMA"]
    multimodal = others[others["kind"] == "crossmodal"]
    assert f"the {len(multimodal)} multi-modal rows" in claims["our_evidence"].iloc[0]
    assert f"the {len(others)} rows other than EMMA (12 from the thesis's chapter 3" in claims["our_evidence"].iloc[1]
    some = verdict_from_flags([True, False])  # the word for "some cases hold", whatever the vocabulary
    assert list(claims["verdict"]) == [some, some]


def test_the_no_exogenous_claim_follows_the_quality_column(taxonomy):
    is_emma = taxonomy["mechanism"] == "EMMA"
    blind = taxonomy.assign(quality_signal=taxonomy["quality_signal"].where(is_emma, "none"))
    assert literature.literature_claims(blind)["verdict"].iloc[1] == verdict_from_flags([True])
    measured = taxonomy.assign(quality_signal=taxonomy["quality_signal"].mask(taxonomy["bibtex_key"] == "lee2018", "explicit"))
    assert literature.literature_claims(measured)["verdict"].iloc[1] == verdict_from_flags([False])
    whole = taxonomy.assign(attends_over=taxonomy["attends_over"].where(taxonomy["kind"] != "crossmodal", "modes as wholes"))
    assert literature.literature_claims(whole)["verdict"].iloc[0] == verdict_from_flags([False])


def test_the_map_keeps_a_crowded_cell_within_its_row(taxonomy):
    positions = literature.taxonomy_positions(taxonomy)
    offsets = positions["y"] - positions["weights_driven_by"].map(literature.DRIVERS.index)
    assert offsets.abs().max() < 0.5 and not positions[["x", "y"]].duplicated().any()


def test_the_kinds_read_as_a_list_of_three_each_with_its_meaning():
    lines = literature.kinds_markdown().splitlines()
    assert [line.split("**")[1] for line in lines] == ["endogenous", "exogenous", "crossmodal"]
    assert all(line.startswith("* **") and line.endswith(".") and literature.KINDS[line.split("**")[1]] in line for line in lines)


def test_the_review_glues_the_coverage_and_the_rows_that_see_quality_only_implicitly(taxonomy):
    review = literature.review()
    assert review.glued["attn_review_listed"] == review.glued["attn_review_covered"] == 12
    assert review.glued["attn_review_implicit"] == int((taxonomy["quality_signal"] == "implicit").sum()) > 0
    assert review.glued["attn_review_book_additions"] == int((taxonomy["listed_by"] == "book's addition").sum())
    assert review.claims.equals(literature.literature_claims(taxonomy))
    assert set(literature.TAXONOMY_SHOWN) <= set(review.taxonomy.columns) and set(literature.CLAIMS_SHOWN) <= set(review.claims.columns)


def test_the_reviews_map_is_legible_at_the_column_width():
    fig = literature.review().figure()
    floor = plots.MIN_POINTS / min(1.0, plots.COLUMN_INCHES / fig.get_size_inches()[0])
    assert min(text.get_fontsize() for text in fig.findobj(Text) if text.get_text()) >= floor - 1e-9
    plt.close(fig)
