"""Specifications of the forensic test (emma.experiments.forensics), on hand-made tables."""
import numpy as np
import pandas as pd
import pytest

from emma.engine.protocol import ORIGINAL
from emma.experiments.forensics import CANDIDATES, choose, fit_table, variant_name, variants, verdict_sentence


def test_the_candidates_are_every_combination_of_the_codes_own_alternatives_each_cited():
    protocols = variants()
    assert len(protocols) == 2 ** len(CANDIDATES) == 32 and len(set(protocols)) == 32
    assert protocols[0] == ORIGINAL
    for options in CANDIDATES.values():
        assert len(options) == 2 and all(source for _, source in options)
        assert any("blob/7302713/" in source and "#L" in source for _, source in options)


def _scores(offsets: dict, emma_offsets: dict) -> pd.DataFrame:
    rows = []
    for name, offset in offsets.items():
        for i in range(11):
            rows.append({"variant": name, "group": "baselines", "row": f"b{i}", "metric": "f1_clean", "thesis": 0.8, "mean": 0.8 + offset,
                         "low": 0.8 + offset - 0.01, "high": 0.8 + offset + 0.01})
    for name, offset in emma_offsets.items():
        for i in range(30):
            rows.append({"variant": name, "group": "emma", "row": f"e{i}", "metric": "f1_clean", "thesis": 0.88, "mean": 0.88 + offset,
                         "low": 0.88 + offset - 0.01, "high": 0.88 + offset + 0.01})
    return pd.DataFrame(rows)


def test_the_variant_is_chosen_on_the_baselines_only():
    protocols = variants()[:3]
    names = [variant_name(p) for p in protocols]
    # the second fits the baselines best; the third fits the EMMA rows perfectly but must not be chosen
    fits = fit_table(_scores({names[0]: -0.05, names[1]: -0.002, names[2]: -0.03}, {names[1]: -0.08, names[2]: 0.0}), protocols)
    assert choose(fits) == names[1]
    assert fits.set_index("variant").loc[names[1], "baselines_inside"] == 11
    assert np.isnan(fits.set_index("variant").loc[names[0], "emma_mad"])


def test_the_sentence_says_plainly_when_no_variant_explains_the_emma_rows():
    protocols = variants()[:2]
    names = [variant_name(p) for p in protocols]
    fits = fit_table(_scores({names[0]: -0.002, names[1]: -0.05}, {names[0]: -0.08, names[1]: -0.06}), protocols)
    text = verdict_sentence(fits, choose(fits), book_mad=0.09)
    assert "**as coded**" in text and "None of the 2 variants" in text and "the closest" in text and "0.060" in text
    with pytest.raises(ValueError, match="chosen must name a variant"):
        verdict_sentence(fits, "nonsense", 0.09)


def test_a_variant_that_lands_inside_the_seed_range_explains_its_rows():
    protocols = variants()[:1]
    fits = fit_table(_scores({"as coded": 0.0}, {"as coded": 0.0}), protocols)
    assert "explains the thesis's EMMA rows" in verdict_sentence(fits, "as coded", book_mad=0.09)
