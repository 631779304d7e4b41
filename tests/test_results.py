"""SweepResult: a typed record, read by attribute; a sweep cached as a dictionary converts."""
import pandas as pd
import pytest
import torch

from emma.engine.evaluation import select
from emma.engine.results import SweepResult


def _result():
    table = pd.DataFrame({"model": "base", "seed": [0, 1, 2], "f1_clean": [0.8, 0.7, 0.9]})
    return SweepResult(family="base", table=table, params={"w0": torch.arange(3.0).view(3, 1, 1)}, protocols=["a", "b", "c"], psi_min=None)


def test_fields_read_by_attribute_only_and_a_cached_dict_converts():
    import dataclasses

    result = _result()
    assert result.seconds is None and result.family == "base"
    with pytest.raises(TypeError):
        result["table"]  # no dictionary interface: one way to read a field
    assert not hasattr(result, "keys") and not hasattr(result, "get")
    again = SweepResult.of(dataclasses.asdict(result) | {"table": result.table})  # as an earlier version cached it
    assert again.family == "base" and again.table.equals(result.table)
    with pytest.raises(ValueError, match="keys \\['tabel'\\]"):
        SweepResult.of({"family": "base", "table": result.table, "tabel": 1})
    with pytest.raises(TypeError, match="value must be a SweepResult"):
        SweepResult.of([1, 2])


def test_select_keeps_the_rows_asked_for_and_leaves_the_original_alone():
    result = _result()
    part = select(result, [2, 0])
    assert isinstance(part, SweepResult)
    assert part.table["seed"].tolist() == [2, 0] and part.protocols == ["c", "a"]
    assert part.params["w0"].view(-1).tolist() == [2.0, 0.0]
    assert result.table["seed"].tolist() == [0, 1, 2]


def test_merge_puts_two_stages_of_one_family_in_order_and_refuses_other_families():
    from emma.engine.results import merge_results

    first, second = _result(), _result()
    second.table = second.table.assign(seed=[3, 4, 5])
    second.curves = None
    merged = merge_results([first, second])
    assert merged.table["seed"].tolist() == [0, 1, 2, 3, 4, 5] and merged.protocols == ["a", "b", "c"] * 2
    assert merged.params["w0"].view(-1).tolist() == [0.0, 1.0, 2.0] * 2 and merged.curves is None
    with pytest.raises(ValueError, match="parts must share one family"):
        merge_results([first, first.replace(family="with")])
    with pytest.raises(ValueError, match="at least one"):
        merge_results([])


def test_unseen_keeps_only_the_models_no_study_has_trained():
    from emma.engine.protocol import ORIGINAL, SOUND
    from emma.experiments.forensics import variants
    from emma.experiments.study import plan, unseen

    config = {"rho": 1e-4, "lambda_c": 0.0, "lambda_e": 0.01}
    table = pd.DataFrame({"seed": [0, 1], **{k: [v, v] for k, v in config.items()}})
    study = {"with": SweepResult(family="with", table=table, protocols=[ORIGINAL, ORIGINAL]),
             "base": SweepResult(family="base", table=table[["seed"]], protocols=[ORIGINAL, ORIGINAL])}
    models = plan([ORIGINAL, ORIGINAL.switch(threshold="fixed"), SOUND], [0, 1, 2], [config], families=("base", "with"))
    left = unseen(models, study)
    # seeds 0 and 1 under ORIGINAL are trained, and so under its threshold twin (the threshold is chosen after training)
    assert sorted(left[left["protocol"] == ORIGINAL]["seed"]) == [2, 2]  # base and with
    assert sorted(left[(left["protocol"] == ORIGINAL.switch(threshold="fixed")) & (left["family"] == "with")]["seed"]) == [2]
    assert len(left[left["protocol"] == SOUND]) == len(models[models["protocol"] == SOUND])  # another protocol: nothing trained
    other = plan(variants()[4:5], [0], [{**config, "rho": 0.1}], families=("with",))
    assert len(unseen(other, study)) == 1  # another configuration


def test_pick_finds_each_model_of_a_plan_once_and_names_what_is_missing():
    from emma.engine.protocol import ORIGINAL, SOUND
    from emma.experiments.study import combine, pick, plan, restrict

    config = {"rho": 1e-4, "lambda_c": 0.0, "lambda_e": 0.01}
    table = pd.DataFrame({"seed": [0, 1, 1], "f1_clean": [0.7, 0.8, 0.9], **{k: [v] * 3 for k, v in config.items()}})
    first = {"with": SweepResult(family="with", table=table, protocols=[SOUND, SOUND, ORIGINAL])}
    again = {"with": SweepResult(family="with", table=table.assign(f1_clean=[0.1, 0.2, 0.3]), protocols=[SOUND, SOUND, ORIGINAL])}
    both = combine(first, again)  # each model twice: the first study's wins
    found = pick(both, plan(SOUND, [1, 0], [config], families=("with",)))["with"]
    assert found.table["seed"].tolist() == [1, 0] and found.table["f1_clean"].tolist() == [0.8, 0.7]  # the plan's order
    assert pick(both, plan(ORIGINAL.switch(threshold="fixed"), [1], [config], families=("with",)))["with"].table["f1_clean"].tolist() == [0.9]
    with pytest.raises(ValueError, match="lacks 1 model"):
        pick(both, plan(ORIGINAL, [0], [config], families=("with",)))
    assert restrict(both, [1])["with"].table["seed"].tolist() == [1, 1, 1, 1]
    assert "base" not in restrict({"base": SweepResult(family="base", table=table[["seed"]], protocols=[SOUND] * 3)}, [5])
