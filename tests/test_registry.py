"""The claim registry (emma.claims.registry): what a Claim must carry, and how claims are registered and looked up."""
import dataclasses
import math
import re

import pytest

import emma.claims.registry
from emma.claims import registry
from emma.claims.registry import Claim, all_claims, background, beyond, lookup, min_effect, register, robustness

FIELDS = dict(id="gain_on_ip", claim="EMMA beats the base model on IP", kind="core", source="final", quote="EMMA outperforms …",
              location="report/chapters/7-experiments.tex L181", test="paired t-test vs the base model", min_effect=0.01, unit="F1",
              reason="a third of the thesis's smallest reported gain")
#: How a location starts, by source: a LaTeX file of the final thesis and the line, a section of the draft, a page of the slides.
LOCATION = {"final": r"^report/[a-z0-9/_-]+\.tex L\d+\b", "draft": r"^§\d+(\.\d+)*\b", "slides": r"^p\. \d+\b"}


@pytest.fixture
def fresh(monkeypatch):
    """A private copy of the registry: what a test registers is gone after it."""
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    return registry._REGISTRY


# ----------------------------------------------------------------------------- Claim

def test_a_well_formed_claim_gives_its_table_columns():
    columns = Claim(**FIELDS).columns()
    assert columns == {"claim": FIELDS["claim"], "kind": "core", "quote": FIELDS["quote"], "location": "final: report/chapters/7-experiments.tex L181",
                       "test": FIELDS["test"], "min_effect": 0.01, "unit": FIELDS["unit"], "min_effect_reason": FIELDS["reason"]}


@pytest.mark.parametrize("bad", ["GainOnIP", "1gain", "gain-on-ip", "", None])
def test_a_claim_id_must_be_snake_case(bad):
    with pytest.raises(ValueError, match="id must be a snake_case name"):
        Claim(**{**FIELDS, "id": bad})


@pytest.mark.parametrize("bad", ["central", "Core", None])
def test_a_claim_kind_must_be_one_of_the_kinds(bad):
    with pytest.raises(ValueError, match=r"claim 'gain_on_ip': kind must be one of \('core', 'secondary', 'book'\)"):
        Claim(**{**FIELDS, "kind": bad})


def test_a_claim_source_must_be_known():
    with pytest.raises(ValueError, match="source must be one of"):
        Claim(**{**FIELDS, "source": "paper"})


@pytest.mark.parametrize("kind, source", [("book", "final"), ("book", "draft"), ("core", "book"), ("secondary", "book")])
def test_a_book_conjecture_has_the_book_as_source_and_only_it(kind, source):
    with pytest.raises(ValueError, match="a book conjecture .* has source 'book', and only it"):
        Claim(**{**FIELDS, "kind": kind, "source": source})


@pytest.mark.parametrize("missing", ["unit", "reason"])
def test_a_min_effect_needs_a_unit_and_a_reason(missing):
    with pytest.raises(ValueError, match="a min_effect needs its unit and a one-line reason"):
        Claim(**{**FIELDS, missing: ""})
    assert math.isnan(Claim(**{**FIELDS, "min_effect": None, missing: ""}).columns()["min_effect"])  # no test of an effect: none needed


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "0.01", True])
def test_a_min_effect_must_be_a_finite_number(bad):
    with pytest.raises(ValueError, match="min_effect must be a finite number or None"):
        Claim(**{**FIELDS, "min_effect": bad})


@pytest.mark.parametrize("field", ["claim", "quote", "location", "test"])
def test_a_claim_needs_its_text_fields(field):
    with pytest.raises(ValueError, match=f"{field} must be a non-empty string"):
        Claim(**{**FIELDS, field: "  "})


# ----------------------------------------------------------------------------- register and lookup

def test_registering_the_same_claim_twice_is_a_no_op(fresh):
    claim = Claim(**FIELDS)
    assert register(claim) is claim
    size = len(fresh)
    register(Claim(**FIELDS))
    assert len(fresh) == size and lookup("gain_on_ip") == claim


def test_a_different_claim_under_a_registered_id_is_refused(fresh):
    register(Claim(**FIELDS))
    with pytest.raises(ValueError, match="a different claim is registered under the id 'gain_on_ip'"):
        register(Claim(**{**FIELDS, "min_effect": 0.02}))
    assert lookup("gain_on_ip").min_effect == 0.01


def test_register_takes_only_claims(fresh):
    with pytest.raises(TypeError, match="claim must be an emma.claims.registry.Claim"):
        register(FIELDS)


def test_looking_up_an_unknown_id_names_it():
    with pytest.raises(ValueError, match="no claim is registered under the id 'never_claimed'"):
        lookup("never_claimed")
    with pytest.raises(ValueError, match="no claim is registered under the id 3"):
        lookup(3)


def test_min_effect_is_the_declared_one_or_an_error(fresh):
    register(Claim(**FIELDS))
    register(Claim(**{**FIELDS, "id": "no_effect", "min_effect": None, "unit": "", "reason": ""}))
    assert min_effect("gain_on_ip") == 0.01
    with pytest.raises(ValueError, match="claim 'no_effect' declares no min_effect"):
        min_effect("no_effect")


# ----------------------------------------------------------------------------- the package's claims

PACKAGE_CLAIMS = [claim for module in (background, beyond, robustness) for claim in module.CLAIMS]


def test_every_package_claim_is_registered_at_import():
    assert emma.claims.registry is registry
    registered = {claim.id: claim for claim in all_claims()}
    for claim in PACKAGE_CLAIMS:
        assert registered.get(claim.id) == claim, claim.id


def test_the_package_claim_ids_are_unique():
    ids = [claim.id for claim in PACKAGE_CLAIMS]
    assert sorted(i for i in set(ids) if ids.count(i) > 1) == []


def test_every_registered_min_effect_has_a_unit_and_a_reason():
    for claim in all_claims():
        if claim.min_effect is not None:
            assert claim.unit.strip() and claim.reason.strip(), claim.id


def test_every_package_claim_location_has_its_source_format():
    for claim in PACKAGE_CLAIMS:
        if claim.source in LOCATION:
            assert re.match(LOCATION[claim.source], claim.location), f"{claim.id}: {claim.source} location {claim.location!r}"


def test_claims_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Claim(**FIELDS).min_effect = 0.0
