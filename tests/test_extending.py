"""The examples of the page "Extending the book" (book/extending.md) run, in order, as a reader would run them."""
import re
from pathlib import Path

from emma.engine.registry import registered, unregister

PAGE = Path(__file__).resolve().parents[1] / "book" / "extending.md"


def test_every_python_example_of_the_extending_page_runs(capsys):
    blocks = re.findall(r"```python\n(.*?)```", PAGE.read_text(), flags=re.S)
    assert len(blocks) == 4, "the page has one example per recipe: a family, a failure, a data set, the engine's core"
    namespace: dict = {}
    try:
        for block in blocks:
            exec(compile(block, str(PAGE), "exec"), namespace)
        printed = capsys.readouterr().out
        # the new family learned something on HTRU2, and the new failure and data set were scored
        assert namespace["sweep"]["table"]["f1_clean"].min() > 0.5
        assert set(namespace["trained"]["table"]["seed"]) == {0}
        assert isinstance(namespace["toy"].train.x.shape[0], int) and namespace["toy"].train.x.shape[1] == 8
        assert "f1_ip_failed" in printed and printed.count("f1_clean") == 4
        # the core trained EMMA on three modes of other widths: the loss fell for every seed, and α of
        # the failing mode is lower, for every seed, where it failed
        curve, alpha, failed = namespace["curve"], namespace["alpha"], namespace["corrupted"]
        assert (curve[-1] < 0.8 * curve[0]).all()
        assert (alpha[:, failed, 1].mean(1) < alpha[:, ~failed, 1].mean(1)).all()
    finally:
        if "logistic" in registered():
            unregister("logistic")
