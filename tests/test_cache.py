"""The on-disk cache: damaged files are named, moved aside and recomputed; EMMA_RETRAIN and --retrain bypass it."""
import os
import time

import nbformat
import pytest
import torch

from emma.book import build as book
from emma.book import cli
from emma.util.cache import (
    RETRAIN,
    CorruptCacheWarning,
    cache_key,
    cached,
    retrain_cutoff,
    retraining,
)

KEY = {"seed": 3, "epochs": 2}


class Counter:
    """A ``compute`` that counts its calls and returns a fresh value each time."""

    def __init__(self):
        self.calls = 0

    def __call__(self):
        self.calls += 1
        return {"weights": torch.arange(4.0) * self.calls, "calls": self.calls}


@pytest.fixture(autouse=True)
def no_retrain(monkeypatch):
    monkeypatch.delenv(RETRAIN, raising=False)


def _path(tmp_path, name="model", key=KEY):
    return tmp_path / f"{name}-{cache_key(key)}.pt"


def test_a_good_file_is_loaded_without_computing(tmp_path):
    first = Counter()
    value = cached("model", KEY, first, tmp_path)
    assert first.calls == 1 and _path(tmp_path).exists()
    second = Counter()
    again = cached("model", KEY, second, tmp_path)
    assert second.calls == 0
    assert torch.equal(again["weights"], value["weights"]) and again["calls"] == 1
    assert cached("model", {**KEY, "seed": 4}, second, tmp_path)["calls"] == 1  # another key is another entry
    assert second.calls == 1


def _truncated(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _random(path):
    path.write_bytes(os.urandom(300))


def _empty(path):
    path.write_bytes(b"")


def _another_entry(path):  # a readable file, but the envelope of another key
    torch.save({"emma_cache": 1, "name": "model", "key": "0" * 20, "value": "stale"}, path)


@pytest.mark.parametrize("damage", [_truncated, _random, _empty, _another_entry])
def test_a_damaged_file_is_named_moved_aside_and_recomputed(tmp_path, damage):
    cached("model", KEY, Counter(), tmp_path)
    path = _path(tmp_path)
    damage(path)
    compute = Counter()
    with pytest.warns(CorruptCacheWarning, match=rf"cache file {path}\b.* not usable") as record:
        value = cached("model", KEY, compute, tmp_path)
    assert compute.calls == 1
    assert value["calls"] == 1 and torch.equal(value["weights"], torch.arange(4.0))
    aside = list(tmp_path.glob(f"{path.name}.corrupt-*"))
    assert len(aside) == 1, "the damaged file is kept beside, under another name"
    assert str(aside[0]) in str(record[0].message)
    fresh = Counter()
    assert cached("model", KEY, fresh, tmp_path)["calls"] == 1 and fresh.calls == 0  # the stored value is good again


def test_a_file_stored_before_envelopes_is_still_read(tmp_path):
    torch.save({"weights": torch.ones(2)}, _path(tmp_path))
    compute = Counter()
    assert torch.equal(cached("model", KEY, compute, tmp_path)["weights"], torch.ones(2))
    assert compute.calls == 0


def test_emma_retrain_recomputes_and_overwrites(tmp_path, monkeypatch):
    cached("model", KEY, Counter(), tmp_path)
    monkeypatch.setenv(RETRAIN, "1")
    compute = Counter()
    compute.calls = 6
    assert cached("model", KEY, compute, tmp_path)["calls"] == 7
    assert cached("model", KEY, compute, tmp_path)["calls"] == 8  # every call, never a read
    monkeypatch.setenv(RETRAIN, "0")
    assert cached("model", KEY, Counter(), tmp_path)["calls"] == 8  # the overwritten file


def test_a_retrain_time_recomputes_only_older_files(tmp_path, monkeypatch):
    cached("model", KEY, Counter(), tmp_path)
    os.utime(_path(tmp_path), (time.time() - 100, time.time() - 100))
    with retraining(since=time.time() - 10):
        assert os.environ[RETRAIN] != "1"
        compute = Counter()
        compute.calls = 1
        assert cached("model", KEY, compute, tmp_path)["calls"] == 2  # written before the time: computed again
        assert cached("model", KEY, Counter(), tmp_path)["calls"] == 2  # written since: read
        assert compute.calls == 2
    assert RETRAIN not in os.environ


@pytest.mark.parametrize("value", ["maybe", "2", "inf", "-5"])
def test_a_bad_retrain_value_is_named(monkeypatch, value, tmp_path):
    monkeypatch.setenv(RETRAIN, value)
    with pytest.raises(ValueError, match=rf"{RETRAIN}='{value}'.*expected 1"):
        cached("model", KEY, Counter(), tmp_path)
    monkeypatch.setenv(RETRAIN, "yes")
    assert retrain_cutoff() == float("inf")
    with pytest.raises(ValueError, match="since must be a Unix time"), retraining(since=5):
        pass


CHAPTER = '''# %% [markdown]
# # Tiny

# %% tags=["parameters"]
profile = "full"
device = "auto"
output_dir = "_build"

# %%
x = 1
'''


def test_run_retrain_sets_the_variable_for_the_kernel_and_implies_force(tmp_path, monkeypatch, capsys):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "01_tiny.py").write_text(CHAPTER)
    monkeypatch.setattr(book, "NOTEBOOKS", tmp_path / "notebooks")
    seen = []

    def execute(chapter, parameters, *, output, **options):  # papermill's kernel would inherit os.environ
        seen.append(os.environ.get(RETRAIN))
        output.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nbformat.v4.new_notebook(), output)
        return output

    monkeypatch.setattr(book, "execute", execute)
    args = ["run", "tiny", "--profile", "quick", "--device", "cpu", "-p", "output_dir", str(tmp_path / "out")]
    before = time.time()
    assert cli.main(args) == 0
    assert seen == [None]
    assert cli.main(args) == 0
    assert seen == [None], "an unchanged chapter is skipped"
    assert cli.main([*args, "--retrain"]) == 0
    assert len(seen) == 2, "--retrain executes the chapter again"
    assert before <= float(seen[1]) <= time.time()  # the run's start: what it trains itself is reused
    assert "--retrain" in capsys.readouterr().out
    assert RETRAIN not in os.environ, "the variable is set for the run only"
