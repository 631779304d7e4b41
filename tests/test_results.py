"""SweepResult: a typed record that old dictionary-style code still reads."""
import pandas as pd
import pytest
import torch

from emma.engine.evaluation import select
from emma.engine.results import SweepResult


def _result():
    table = pd.DataFrame({"model": "base", "seed": [0, 1, 2], "f1_clean": [0.8, 0.7, 0.9]})
    return SweepResult(family="base", table=table, params={"w0": torch.arange(3.0).view(3, 1, 1)}, protocols=["a", "b", "c"], psi_min=None)


def test_fields_read_by_attribute_and_by_name_and_a_dict_converts():
    result = _result()
    assert result["table"] is result.table and result.get("seconds") is None and "params" in result
    assert dict(result)["family"] == "base"
    again = SweepResult.of(dict(result))
    assert again.family == "base" and again.table.equals(result.table)
    with pytest.raises(KeyError):
        result["tabel"]
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
