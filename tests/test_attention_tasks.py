"""Specifications of the toy tasks, the taxonomy and the seed summaries of chapter 1 (emma/experiments/attention_tasks.py)."""
import re
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch

from emma.claims.rules import VERDICTS
from emma.experiments import attention_tasks as tasks
from emma.experiments import literature

torch.set_num_threads(1)  # tiny models: threads only add overhead on a shared machine
ROOT = Path(__file__).resolve().parent.parent


BAD_INPUTS = [
    (lambda: tasks.AlignmentModel(score="cosine"), ValueError, "score"),
    (lambda: tasks.MemoryNetwork(hops=0), ValueError, "hops"),
    (lambda: tasks.MemoryNetwork()(*tasks.two_facts_batch(2)[:2], mode="gumbel"), ValueError, "mode"),
    (lambda: tasks.reversal_batch(4, 8, 5, 3), ValueError, "min_length"),
    (lambda: tasks.train_alignment(steps=0), ValueError, "steps"),
    (lambda: tasks.train_reversal(batch_size=0), ValueError, "batch_size"),
    (lambda: tasks.train_memory(attention="sampled"), ValueError, "attention"),
    (lambda: tasks.mean_std([1.0, 2.0], digits=-1), ValueError, "digits"),
    (lambda: tasks.compare_runs(pd.DataFrame({"group": ["a"], "seed": [0]}), "group", "score", "a", "b", min_effect=0.01), ValueError, "runs"),
    (lambda: tasks.compare_runs(pd.DataFrame({"group": ["a"], "seed": [0], "score": [1.0]}), "group", "score", "a", "b", min_effect=0.01),
     ValueError, "worse"),
    (lambda: tasks.loss_band([torch.ones(3), torch.ones(4)]), ValueError, "losses"),
    (lambda: literature.taxonomy_positions(pd.DataFrame({"mechanism": ["x"]})), ValueError, "taxonomy"),
]


@pytest.mark.parametrize("call, error, argument", BAD_INPUTS)
def test_bad_input_raises_an_error_naming_the_argument(call, error, argument):
    with pytest.raises(error, match=rf"^{argument}\b"):
        call()


# ----------------------------------------------------------------------------- tasks


def test_reversal_batch_targets_are_the_reversed_sequences():
    source, target = tasks.reversal_batch(50, 8, 2, 6, torch.Generator().manual_seed(0))
    for s, t in zip(source, target):
        valid = s[s != tasks.PAD]
        assert 2 <= len(valid) <= 6 and ((s != tasks.PAD).sum() == (t != tasks.PAD).sum())
        assert torch.equal(t[: len(valid)], valid.flip(0)) and (t[len(valid):] == tasks.PAD).all()


def test_two_facts_stories_are_answered_by_their_two_supporting_facts():
    batch = tasks.two_facts_batch(200, torch.Generator().manual_seed(0))
    for stories, question, answer, (first, second) in zip(*batch):
        sentences = tasks.decode(stories)
        holder, verb, obj = sentences[first].split()
        person, moved, place = sentences[second].split()
        assert verb == "got" and obj == tasks.VOCABULARY[int(question[1])]  # hop 1: who got the object asked about
        assert moved == "moved" and person == holder and place == tasks.VOCABULARY[int(answer)]  # hop 2: where they went
        assert sum(s.startswith(holder + " moved") for s in sentences) == 1


def test_same_seed_gives_the_same_training_run():
    a, b = (tasks.train_alignment("dot", seed=3, steps=5, batch_size=32, n_test=20) for _ in range(2))
    assert torch.equal(a.losses, b.losses) and torch.equal(a.weights, b.weights)


# The training helpers on tiny runs: each must reach the accuracy stated in the chapter's
# settings; one hop must not solve a task that needs two facts.


def test_additive_attention_learns_the_reversal_alignment():
    result = tasks.train_alignment("additive", steps=40, n_test=200)
    assert result.accuracy >= 0.95 and result.alignment >= 0.95


def test_self_attention_learns_to_reverse():
    result = tasks.train_reversal(steps=40, n_test=200)
    assert result.accuracy >= 0.95 and result.alignment >= 0.95


def test_two_hops_find_both_supporting_facts_and_one_hop_cannot():
    two = tasks.train_memory(2, "soft", steps=60, n_test=300)
    one = tasks.train_memory(1, "soft", steps=60, n_test=300)
    assert two.accuracy >= 0.95 and two.alignment >= 0.95
    assert one.accuracy <= 0.7


def test_hard_training_returns_one_hot_weights_at_test():
    result = tasks.train_memory(2, "hard", steps=5, n_test=50)
    assert set(result.weights.unique().tolist()) <= {0.0, 1.0}
    torch.testing.assert_close(result.weights.sum(-1), torch.ones(50, 2))


# ----------------------------------------------------------------------------- taxonomy


def test_taxonomy_places_emma_as_exogenous_attention_over_whole_modes():
    table = literature.attention_taxonomy().set_index("mechanism")
    emma = table.loc["EMMA"]
    assert (emma["attends_over"], emma["weights_driven_by"], emma["kind"]) == ("modes as wholes", "input quality", "exogenous")
    assert table.loc["attention-based fusion", "bibtex_key"] == "shon2018"
    assert set(table["attends_over"]) <= set(literature.SCOPES) and set(table["weights_driven_by"]) <= set(literature.DRIVERS)
    assert set(table["kind"]) <= set(literature.KINDS)


def test_every_taxonomy_citation_is_in_the_bibliography():
    keys = set(re.findall(r"^@\w+\{([^,]+),", (ROOT / "book" / "references.bib").read_text(), flags=re.MULTILINE))
    cited = {key.strip() for entry in literature.attention_taxonomy()["bibtex_key"] for key in entry.split(";")}
    assert cited <= keys, cited - keys


def test_literature_claims_follow_the_taxonomy():
    taxonomy = literature.attention_taxonomy()
    claims = literature.literature_claims(taxonomy)
    assert set(claims["verdict"]) <= set(VERDICTS)
    assert list(claims["verdict"]) == ["partly reproduced", "partly reproduced"]
    assert list(claims["kind"]) == ["secondary", "core"]  # the literature gap of the draft's contribution 2 is core
    blind = taxonomy.assign(quality_signal=taxonomy["quality_signal"].where(taxonomy["mechanism"] == "EMMA", "none"))
    assert literature.literature_claims(blind)["verdict"].iloc[1] == "reproduced"


def test_taxonomy_map_gives_every_mechanism_its_own_place_in_its_cell():
    positions = literature.taxonomy_positions(literature.attention_taxonomy())
    assert not positions[["x", "y"]].duplicated().any()
    assert ((positions["x"] - positions["attends_over"].map(literature.SCOPES.index)) == 0).all()
    offsets = positions["y"] - positions["weights_driven_by"].map(literature.DRIVERS.index)
    assert (offsets.abs() < 0.5).all()  # a label stays within its own row
    assert offsets.groupby([positions["attends_over"], positions["weights_driven_by"]]).sum().abs().max() < 1e-12  # centred


def test_taxonomy_figure_writes_one_label_per_mechanism():
    taxonomy = literature.attention_taxonomy()
    fig = literature.taxonomy_figure(taxonomy)
    assert sorted(t.get_text() for t in fig.axes[0].texts) == sorted(taxonomy["mechanism"])
    plt.close(fig)


# ----------------------------------------------------------------------------- summaries over seeds


def test_mean_std_uses_the_sample_standard_deviation():
    assert tasks.mean_std([1.0, 2.0, 3.0], digits=2) == "2.00 ± 1.00"
    assert tasks.mean_std(pd.Series([0.25])) == "0.250 ± nan"  # one seed has no spread


def test_mean_std_of_a_score_never_defined_says_so():
    assert tasks.mean_std([float("nan"), float("nan")]) == "not defined"


def test_compare_runs_pairs_the_groups_by_seed():
    runs = pd.DataFrame({"network": ["a", "a", "a", "b", "b", "b"], "seed": [0, 1, 2, 2, 0, 1],
                         "accuracy": [0.90, 0.80, 0.70, 0.69, 0.88, 0.79]})
    test = tasks.compare_runs(runs, "network", "accuracy", "a", "b", min_effect=0.01)
    np.testing.assert_allclose(test.mean, np.mean([0.02, 0.01, 0.01]))
    assert test.n == 3 and test.verdict == "reproduced" and test.min_effect == 0.01
    assert tasks.compare_runs(runs, "network", "accuracy", "a", "b", min_effect=0.01, higher_is_better=False).verdict == "not reproduced"
    assert tasks.compare_runs(runs, "network", "accuracy", "a", "b", min_effect=0.02).verdict == "inconclusive"  # significant, below the minimum
    assert tasks.compare_runs(runs, "network", "accuracy", "a", "b", min_effect=0.05).verdict == "not reproduced"  # the interval lies below it


def test_compare_runs_rejects_groups_on_different_seeds():
    runs = pd.DataFrame({"network": ["a", "a", "b", "b"], "seed": [0, 1, 0, 2], "accuracy": [0.9, 0.8, 0.7, 0.6]})
    with pytest.raises(ValueError, match="same seeds"):
        tasks.compare_runs(runs, "network", "accuracy", "a", "b", min_effect=0.01)


def test_loss_band_is_the_geometric_mean_and_std_over_seeds():
    centre, low, high = tasks.loss_band([torch.tensor([1.0, 4.0]), torch.tensor([4.0, 4.0])])
    np.testing.assert_allclose(centre, [2.0, 4.0], rtol=1e-6)  # √(1·4), √(4·4)
    np.testing.assert_allclose(low * high, centre**2, rtol=1e-6)  # a band symmetric on a log axis
    np.testing.assert_allclose(high / centre, [2.0, 1.0], rtol=1e-6)  # one geometric std: exp(std of the logs)
