"""The on-disk cache: only envelopes are used, anything else is named, moved aside and recomputed; EMMA_RETRAIN and --retrain bypass it."""
import os
import time
from pathlib import Path

import nbformat
import pytest
import torch

from emma.util.cache import (
    RETRAIN,
    CorruptCacheWarning,
    UncacheableWarning,
    cache_key,
    cached,
    retrain_cutoff,
    retraining,
)
from emma.util.outputs import atomic_write
from emma_book import build as book
from emma_book import cli, layout

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


@pytest.mark.parametrize("bare", [{"weights": torch.ones(2)}, 42, torch.zeros(3)], ids=["state dict", "42", "tensor"])
def test_a_bare_value_saved_over_an_entry_is_moved_aside_and_recomputed(tmp_path, bare):
    path = _path(tmp_path)
    torch.save(bare, path)
    compute = Counter()
    with pytest.warns(CorruptCacheWarning, match=rf"cache file {path}\b.* not usable: it holds a bare .*, not a cache envelope"):
        value = cached("model", KEY, compute, tmp_path)
    assert compute.calls == 1 and value["calls"] == 1 and torch.equal(value["weights"], torch.arange(4.0))
    assert len(list(tmp_path.glob(f"{path.name}.corrupt-*"))) == 1
    again = Counter()
    assert cached("model", KEY, again, tmp_path)["calls"] == 1 and again.calls == 0  # the envelope written in its place is read


def _killed_write(path):
    """The temporary a write killed before its rename leaves, named by emma.util.outputs.atomic_write itself."""
    names = []

    def write(tmp):
        names.append(Path(tmp))
        raise KeyboardInterrupt  # atomic_write removes its temporary; a kill -9 would not have

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, write)
    (left,) = names
    left.write_bytes(b"half a file")
    return left


def _age(path, seconds=120):
    os.utime(path, (time.time() - seconds, time.time() - seconds))


def test_the_temporary_of_a_killed_write_is_removed_by_the_next_call(tmp_path):
    left = _killed_write(_path(tmp_path))
    other = tmp_path / ".notes.txt"
    other.write_text("not the cache's")
    _age(other)
    cached("model", {"seed": 9}, Counter(), tmp_path)
    assert left.exists(), "a temporary written a moment ago may be a live write's"
    _age(left)
    cached("model", {"seed": 9}, Counter(), tmp_path)
    assert not left.exists()
    assert other.exists(), "only the cache's temporaries are removed"
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == [_path(tmp_path, key={"seed": 9}).name]


def test_a_temporary_a_process_still_holds_open_is_kept(tmp_path):
    left = _killed_write(_path(tmp_path))
    _age(left)
    with open(left, "ab"):  # a write in progress, though an old one (a stopped process, say)
        cached("model", {"seed": 9}, Counter(), tmp_path)
        assert left.exists()
    cached("model", {"seed": 9}, Counter(), tmp_path)
    assert not left.exists()


def test_a_key_that_could_not_be_fingerprinted_is_computed_without_the_cache(tmp_path):
    key = {"family": {"name": "odd", "code": "<uncacheable: family 'odd' → forward → global LOCK (a _thread.lock) cannot be pickled>"}}
    compute = Counter()
    for calls in (1, 2):
        with pytest.warns(UncacheableWarning, match=r"'model' is not cached .*family 'odd' → forward → global LOCK"):
            assert cached("model", key, compute, tmp_path)["calls"] == calls
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("arguments, error, message", [
    (("model", KEY, Counter(), 123), TypeError, r"cache_dir must be a folder path \(str or os.PathLike\) or None \(no cache\), got int 123"),
    (("model", KEY, Counter(), ""), ValueError, "cache_dir must be a folder path or None"),
    ((3, KEY, Counter(), "x"), TypeError, "name must be a str"),
    (("a/b", KEY, Counter(), "x"), ValueError, "name must be a non-empty file name stem without path separators"),
    (("model", [1], Counter(), "x"), TypeError, "key must be a mapping"),
    (("model", KEY, 5, "x"), TypeError, "compute must be a callable"),
])
def test_bad_arguments_to_cached_are_named(arguments, error, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(error, match=message):
        cached(*arguments)
    assert list(tmp_path.iterdir()) == []


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
    monkeypatch.setattr(layout, "NOTEBOOKS", tmp_path / "notebooks")
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
