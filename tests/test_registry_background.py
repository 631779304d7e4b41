"""The claims of the background chapters (emma.claims.registry.background): which they are, where they are quoted from, and how strict."""
import re

import pytest

from emma.claims.original_repo import check_location
from emma.claims.registry import background, lookup

IDS = ["earlier_attend_part_of_mode", "no_exogenous_before_emma", "reconstruction_error_blind_at_centre", "estimators_low_near_manifold",
       "deeper_tied_autoencoder_not_gradient", "psi_rises_with_noise", "psi_separates_noisy_mode", "psi_flags_unseen_class",
       "psi_beats_reconstruction_error", "missing_mode_high_psi"]
#: Claims judged case by case (named sub-cases), hence with no minimum effect.
CASE_BY_CASE = {"earlier_attend_part_of_mode", "no_exogenous_before_emma", "reconstruction_error_blind_at_centre"}


def test_the_background_chapters_register_their_claims():
    assert [claim.id for claim in background.CLAIMS] == IDS
    for claim in background.CLAIMS:
        assert lookup(claim.id) == claim


def test_only_the_literature_gap_is_a_core_background_claim():
    # The draft's contribution 2 asserts the gap in the literature (no exogenous attention before EMMA); the
    # abstract, contributions and research questions assert no property of Ψ.
    assert {claim.id for claim in background.CLAIMS if claim.kind == "core"} == {"no_exogenous_before_emma"}
    assert {claim.kind for claim in background.CLAIMS} == {"core", "secondary"}


@pytest.mark.parametrize("claim", background.CLAIMS, ids=lambda c: c.id)
def test_every_claim_declares_a_minimum_effect_unless_judged_case_by_case(claim):
    assert (claim.min_effect is None) == (claim.id in CASE_BY_CASE)
    if claim.min_effect is not None:
        assert claim.min_effect > 0 and claim.unit and claim.reason


def test_auroc_claims_share_one_minimum_above_chance():
    aurocs = [claim for claim in background.CLAIMS if claim.unit == "AUROC" and claim.id != "psi_beats_reconstruction_error"]
    assert {claim.id for claim in aurocs} == {"estimators_low_near_manifold", "psi_separates_noisy_mode", "psi_flags_unseen_class"}
    assert {claim.min_effect for claim in aurocs} == {background.AUROC_ABOVE_CHANCE}


@pytest.mark.parametrize("claim", [c for c in background.CLAIMS if c.source == "final"], ids=lambda c: c.id)
def test_every_final_quote_points_at_a_line_of_the_thesis(claim):
    path, line = claim.location.split(" L")
    assert check_location(path, int(line)) == []


@pytest.mark.parametrize("claim", background.CLAIMS, ids=lambda c: c.id)
def test_quotes_are_plain_text(claim):
    assert not re.search(r"[\\{}$]", claim.quote), claim.quote  # LaTeX markup stripped
    assert not re.search(r"[\\{}$]", claim.claim), claim.claim
