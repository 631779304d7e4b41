"""The conclusion's evidence (emma.experiments.conclusion): research questions, regularizer tests, integrability by depth."""
import itertools

import pandas as pd
import pytest
import torch

from emma.experiments.conclusion import (
    RESEARCH_QUESTIONS,
    DeepTiedAutoencoder,
    answer_questions,
    integrability_by_depth,
    question_verdicts,
    regularizer_effect,
)
from emma.method.autoencoder import DenoisingAutoencoder, jacobian_asymmetry


def _grid(gain_c: float, gain_e: float, noise: float = 0.0) -> pd.DataFrame:
    """A 3 × 3 × 3 grid whose noisy F1 rises by gain_c at λ_c = 0.1 and by gain_e at λ_e = 0.1."""
    rows = []
    g = torch.Generator().manual_seed(0)
    for rho, lc, le in itertools.product([1e-3, 1e-2, 1e-1], [0.0, 1e-2, 1e-1], [0.0, 1e-2, 1e-1]):
        f1 = 0.6 + gain_c * (lc == 0.1) + gain_e * (le == 0.1) + noise * float(torch.randn(1, generator=g))
        rows.append({"rho": rho, "lambda_c": lc, "lambda_e": le, "validation_score": f1, "f1_ip_noisy_mean": f1, "f1_dm_noisy_mean": f1})
    return pd.DataFrame(rows)


def test_a_regularizer_that_helps_everywhere_is_reproduced_and_one_that_does_nothing_is_not():
    grid = _grid(gain_c=0.05, gain_e=0.0)
    helps = regularizer_effect(grid, "lambda_c")
    assert helps["level"] == 0.1 and helps["pairs"] == 9 and helps["wins"] == 9
    assert helps["mean_gain"] == pytest.approx(0.05)
    assert helps["p_value"] < 0.05 and helps["verdict"] == "reproduced"
    flat = regularizer_effect(grid, "lambda_e")
    assert flat["mean_gain"] == pytest.approx(0.0) and flat["verdict"] == "not reproduced"


def test_the_regularizer_claims_are_core_and_answer_the_second_question():
    from emma.claims.rules import claims_table
    from emma.experiments.conclusion import regularizer_claims

    claims = claims_table(regularizer_claims({"sound": _grid(0.05, 0.0), "original": _grid(0.0, 0.05)}))
    assert claims["kind"].tolist() == ["core", "core"]
    assert claims["verdict"].tolist() == ["reproduced", "not reproduced"]
    starts = [start for _, start in RESEARCH_QUESTIONS["Is the use of the two regularizers experimentally validated?"]]
    assert [c.startswith(tuple(starts)) for c in claims["claim"]] == [True, True]


def test_a_regularizer_that_hurts_is_not_reproduced():
    grid = _grid(gain_c=0.0, gain_e=0.0, noise=0.001)
    for column in ("validation_score", "f1_ip_noisy_mean", "f1_dm_noisy_mean"):
        grid.loc[grid["lambda_c"] > 0, column] -= 0.05  # every positive level hurts
    effect = regularizer_effect(grid, "lambda_c")
    assert effect["mean_gain"] < 0 and effect["verdict"] == "not reproduced"


def test_regularizer_effect_rejects_bad_input_by_name():
    with pytest.raises(ValueError, match="name"):
        regularizer_effect(_grid(0.0, 0.0), "lambda_x")
    with pytest.raises(ValueError, match="grid"):
        regularizer_effect(pd.DataFrame({"rho": [1.0]}), "lambda_c")
    with pytest.raises(ValueError, match="alpha"):
        regularizer_effect(_grid(0.0, 0.0), "lambda_c", alpha=1.5)


def _question_tables(folder, kinds=None):
    """One hand-made claim per entry of RESEARCH_QUESTIONS, of kind ``kinds.get(start, "core")``, written under ``folder``."""
    (folder / "tables").mkdir(exist_ok=True)
    tables = {}
    for claims in RESEARCH_QUESTIONS.values():
        for name, start in claims:
            tables.setdefault(name, []).append({"claim": start + " (test)", "thesis_evidence": "t", "our_evidence": "o", "verdict": "reproduced",
                                                "kind": (kinds or {}).get(start, "core"), "our_evidence_sound": "o",
                                                "verdict_sound": "not reproduced", "verdict_original": "reproduced"})
    for name, rows in tables.items():
        pd.DataFrame(rows).to_csv(folder / "tables" / f"{name}.csv", index=False)
    return tables


def test_questions_read_each_claims_verdict_and_summarise_it(tmp_path):
    _question_tables(tmp_path)
    answers = answer_questions(tmp_path)
    assert len(answers) == sum(len(c) for c in RESEARCH_QUESTIONS.values())
    assert set(answers["kind"]) == {"core"}
    robustness = answers[answers["table"] == "robustness_claims"]
    assert set(robustness["verdict"]) == {"not reproduced"}  # the book's protocol is the headline there
    assert set(answers[answers["table"] != "robustness_claims"]["verdict"]) == {"reproduced"}
    summary = question_verdicts(answers)
    assert list(summary["question"]) == list(RESEARCH_QUESTIONS)
    assert summary["claims"].sum() == len(answers)


def test_the_robustness_question_rests_on_robustness_claims_only():
    topics = {q: [start for _, start in claims] for q, claims in RESEARCH_QUESTIONS.items()}
    robustness = topics["Does EMMA increase the robustness compared to data augmentation?"]
    assert all("data augmentation" in s or "training NSR" in s for s in robustness)
    assert not any("clean accuracy" in s or "more than two modes" in s for starts in topics.values() for s in starts)
    assert not any("capacity both hurt" in s for starts in topics.values() for s in starts)


def test_a_research_question_ignores_secondary_and_book_claims(tmp_path):
    ip, dm = (start for _, start in RESEARCH_QUESTIONS["Does EMMA increase the robustness compared to data augmentation?"][:2])
    energy = RESEARCH_QUESTIONS["Is the use of the two regularizers experimentally validated?"][1][1]
    _question_tables(tmp_path, kinds={ip: "secondary", dm: "book", energy: "book"})
    tables = {name: pd.read_csv(tmp_path / "tables" / f"{name}.csv") for name in ("robustness_claims", "conclusion_claims")}
    tables["conclusion_claims"].loc[tables["conclusion_claims"]["claim"].str.startswith(energy), "verdict"] = "not reproduced"  # would spoil the answer
    answers = answer_questions(tmp_path, tables=tables)
    assert not answers["claim"].str.startswith((ip, dm, energy)).any()
    assert len(answers) == sum(len(c) for c in RESEARCH_QUESTIONS.values()) - 3
    summary = question_verdicts(answers).set_index("question")
    assert summary.loc["Is the use of the two regularizers experimentally validated?", "verdict"] == "reproduced"
    assert summary.loc["Does EMMA increase the robustness compared to data augmentation?", "claims"] == len(RESEARCH_QUESTIONS[
        "Does EMMA increase the robustness compared to data augmentation?"]) - 2
    mixed = pd.DataFrame({"question": ["q"] * 3, "claim": ["a", "b", "c"], "kind": ["core", "secondary", "book"],
                          "verdict": ["reproduced", "not reproduced", "not reproduced"]})
    assert question_verdicts(mixed)[["claims", "verdict"]].values.tolist() == [[1, "reproduced"]]
    from emma.experiments.conclusion import answer_sentences
    assert answer_sentences(mixed) == ["**q** Reproduced in full: a. "]


def test_a_question_without_a_core_claim_or_a_table_without_kind_is_an_error(tmp_path):
    question = "Is the end-to-end model more interpretable with EMMA?"
    _question_tables(tmp_path, kinds={start: "secondary" for _, start in RESEARCH_QUESTIONS[question]})
    with pytest.raises(ValueError, match="no core claim answers the research question 'Is the end-to-end model"):
        answer_questions(tmp_path)
    _question_tables(tmp_path)
    pd.read_csv(tmp_path / "tables" / "robustness_claims.csv").drop(columns="kind").to_csv(tmp_path / "tables" / "robustness_claims.csv", index=False)
    with pytest.raises(ValueError, match=r"robustness_claims.*'kind'.*\('core', 'secondary', 'book'\)"):
        answer_questions(tmp_path)
    _question_tables(tmp_path, kinds={RESEARCH_QUESTIONS[question][0][1]: "central"})
    with pytest.raises(ValueError, match="kind must be one of.*'central'"):
        answer_questions(tmp_path)


def test_a_missing_claim_is_an_error_that_names_it(tmp_path):
    (tmp_path / "tables").mkdir()
    with pytest.raises(FileNotFoundError, match="robustness_claims"):
        answer_questions(tmp_path)
    pd.DataFrame([{"claim": "something else", "thesis_evidence": "t", "our_evidence": "o", "verdict": "reproduced", "kind": "core",
                   "verdict_sound": "reproduced"}]).to_csv(tmp_path / "tables" / "robustness_claims.csv", index=False)
    with pytest.raises(ValueError, match="EMMA beats data augmentation"):
        answer_questions(tmp_path)


def test_tied_weights_give_a_symmetric_jacobian_with_one_hidden_layer_but_not_with_two():
    torch.manual_seed(0)
    x = torch.randn(20, 3, dtype=torch.float64)
    shallow = DenoisingAutoencoder(3, 6, 0.0).double()
    deep = DeepTiedAutoencoder(3, 6, 4, 0.0).double()
    with torch.no_grad():
        deep.bias_decoded.uniform_(-1, 1)
        deep.bias_second.uniform_(-1, 1)
    assert jacobian_asymmetry(shallow, x).max() < 1e-12
    assert jacobian_asymmetry(deep, x).min() > 1e-6
    table = integrability_by_depth({(1, 0): shallow, (2, 0): deep}, x)
    assert list(table["depth"]) == [1, 2]
    assert table.loc[0, "relative_median"] < 1e-10 < table.loc[1, "relative_median"]
    with pytest.raises(NotImplementedError):
        deep.potential(x)


def test_deep_autoencoder_checks_its_second_width():
    with pytest.raises(ValueError, match="d_second"):
        DeepTiedAutoencoder(2, 4, 0, 0.0)


def test_answer_sentences_name_the_claims_held_and_missed():
    from emma.experiments.conclusion import answer_sentences

    answers = pd.DataFrame({"question": ["q1", "q1", "q2"], "claim": ["a", "b", "c"],
                            "verdict": ["reproduced", "partly reproduced", "not reproduced"]})
    first, second = answer_sentences(answers)
    assert first == "**q1** Reproduced in full: a. Not in full: b."
    assert second == "**q2** No claim behind it is reproduced in full. Not in full: c."


def test_the_integrability_claim_needs_both_depths_and_compares_them():
    from emma.experiments.conclusion import integrability_claim

    table = pd.DataFrame({"depth": [1, 2, 1, 2], "seed": [0, 0, 1, 1], "relative_median": [0.0, 0.2, 1e-17, 0.1]})
    assert integrability_claim(table, 10)["verdict"].item() == "reproduced"
    assert integrability_claim(table, 10)["kind"].item() == "secondary"  # a statement of §4.4, not a core claim
    table.loc[3, "relative_median"] = 1e-17
    assert integrability_claim(table, 10)["verdict"].item() == "partly reproduced"
    with pytest.raises(ValueError, match="depth"):
        integrability_claim(table[table["depth"] == 1], 10)
