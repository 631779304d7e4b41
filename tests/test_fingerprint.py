"""Keys over code (emma.util.fingerprint): a family defined outside the package is keyed by its code and what that code reads."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import warnings

import pytest
import torch

from emma.engine.registry import Family, fingerprint, get_family, register, unregister
from emma.util.cache import RETRAIN, UncacheableWarning, cached
from emma.util.fingerprint import code_fingerprint

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WIDTH = 4
SCALE = 1.0
_LOCK = threading.Lock()
_SENTINEL = object()


def _wide_init(generator, base=None):
    return {"w1": 0.1 * torch.randn(8, 8, generator=generator), "w2": 0.1 * torch.randn(8, generator=generator)}


def _wide_forward(params, x, context):  # x (K, 8, B) -> (K, B), through the first WIDTH hidden units
    hidden = torch.tanh(torch.einsum("kfb,kfh->khb", x, params["w1"][..., :WIDTH]))
    return torch.einsum("khb,kh->kb", hidden, params["w2"][:, :WIDTH])


def _scaled(x):
    return SCALE * x


def _forward_through_a_helper(params, x, context):  # reads SCALE through _scaled
    return _scaled(_wide_forward(params, x, context))


def _locked_forward(params, x, context):
    with _LOCK:
        return _wide_forward(params, x, context)


def _sentinel_forward(params, x, context, missing=_SENTINEL):
    return _wide_forward(params, x, context)


@pytest.fixture(autouse=True)
def no_retrain(monkeypatch):
    monkeypatch.delenv(RETRAIN, raising=False)


@pytest.fixture
def family():
    """Registers a family for one test: ``family(name, init, forward)``."""
    names = []

    def make(name, init=_wide_init, forward=_wide_forward):
        names.append(name)
        return register(Family(name, init, forward))

    yield make
    for name in names:
        unregister(name)


def test_a_family_whose_forward_reads_a_changed_global_gets_another_fingerprint(family, monkeypatch):
    wide = family("wide")
    before = fingerprint(wide)
    assert len(before) == 20 and int(before, 16) >= 0
    monkeypatch.setattr(sys.modules[__name__], "WIDTH", 6)
    changed = fingerprint(wide)
    assert changed != before
    monkeypatch.setattr(sys.modules[__name__], "WIDTH", 4)
    assert fingerprint(wide) == before, "the same code and values give the same digest"


def test_a_global_read_by_a_function_the_forward_calls_enters_the_fingerprint(family, monkeypatch):
    helped = family("helped", forward=_forward_through_a_helper)
    before = fingerprint(helped)
    monkeypatch.setattr(sys.modules[__name__], "SCALE", 2.0)
    assert fingerprint(helped) != before


def test_a_closure_variable_enters_the_fingerprint():
    def make(width):
        def forward(params, x, context):
            return x[:, :width].sum(dim=1)
        return forward

    assert code_fingerprint(make(4)) == code_fingerprint(make(4))
    assert code_fingerprint(make(4)) != code_fingerprint(make(6))


def test_the_code_enters_the_fingerprint_and_its_name_and_place_do_not():
    def one(x):
        return x + 1

    def two(x):
        return x + 2

    def renamed(x):
        return x + 1

    assert code_fingerprint(one) != code_fingerprint(two)
    assert code_fingerprint(one) == code_fingerprint(renamed)
    for _ in range(200):  # the interpreter specialising the bytecode as it runs changes nothing
        one(3)
    assert code_fingerprint(one) == code_fingerprint(renamed)


def test_values_are_keyed_by_content():
    assert code_fingerprint({"w": torch.ones(3)}) == code_fingerprint({"w": torch.ones(3)})
    assert code_fingerprint({"w": torch.ones(3)}) != code_fingerprint({"w": torch.ones(3) * 2})
    assert code_fingerprint({"w": torch.ones(3)}) != code_fingerprint({"w": torch.ones(3, dtype=torch.float64)})
    assert code_fingerprint({"a": 1, "b": 2}) == code_fingerprint({"b": 2, "a": 1})
    assert code_fingerprint([1, 2]) != code_fingerprint([2, 1])


def test_the_package_and_installed_libraries_are_keyed_by_name():
    assert code_fingerprint(torch.tanh) == code_fingerprint(torch.tanh)
    assert code_fingerprint(torch.tanh) != code_fingerprint(torch.sigmoid)
    assert len(fingerprint(get_family("with"))) == 20


def test_a_recursive_function_is_fingerprinted():
    def countdown(n):
        return n if n <= 0 else countdown(n - 1)

    assert len(code_fingerprint(countdown)) == 20


@pytest.mark.parametrize("forward, named", [(_locked_forward, "global _LOCK"), (_sentinel_forward, "defaults")])
def test_what_cannot_be_fingerprinted_is_named_and_computed_without_the_cache(family, tmp_path, forward, named):
    odd = family("odd", forward=forward)
    digest = fingerprint(odd)
    assert digest.startswith("<uncacheable: family 'odd' → forward →") and named in digest, digest
    calls = []
    for _ in range(2):
        with pytest.warns(UncacheableWarning, match=rf"'sweep_odd' is not cached .*{named}"):
            value = cached("sweep_odd", {"family": {"name": "odd", "code": digest}}, lambda: calls.append(1) or 7, tmp_path)
        assert value == 7
    assert len(calls) == 2, "computed every time"
    assert list(tmp_path.iterdir()) == [], "nothing read or written"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cached("sweep_odd", {"code": digest}, lambda: 8, None) == 8  # no cache asked for: nothing to warn about


def test_a_bad_name_for_the_messages_is_refused():
    with pytest.raises(TypeError, match="name must be a str or None"):
        code_fingerprint(_wide_forward, name=3)


# ----------------------------------------------------------------------------- across processes

SCRIPT = """
import json, sys
import numpy as np, torch
from emma.data.splits import Split, Splits
from emma.engine.configs import TrainSettings
from emma.engine.launch import run_sweep
from emma.engine.registry import Family, fingerprint, register

WIDTH = 4
NAMES = {"ip", "dm", "profile", "curve", "kurtosis", "skewness", "mean", "deviation"}  # iterated in another order by each process

def init(generator, base=None):
    print(f"init called at width {WIDTH}", file=sys.stderr)
    return {"w1": 0.1 * torch.randn(8, WIDTH, generator=generator), "w2": 0.1 * torch.randn(WIDTH, generator=generator)}

def forward(params, x, context):
    assert len(NAMES) == 8
    return torch.einsum("khb,kh->kb", torch.tanh(torch.einsum("kfb,kfh->khb", x, params["w1"])), params["w2"])

def split(n, g):
    x = torch.randn(n, 8, generator=g)
    return Split(x=x, y=(x[:, 0] + x[:, 4] > 1.0).float(), index=np.arange(n))

g = torch.Generator().manual_seed(0)
splits = Splits(split(64, g), split(32, g), split(32, g), np.zeros(8), np.ones(8), 0)
register(Family("hidden", init, forward))
for WIDTH in map(int, sys.argv[2:]):  # the chapter edited and run again: the global changes, the code does not
    out = run_sweep("hidden", [{"seed": 0}], splits, TrainSettings(epochs=1, batch_size=32), cache_dir=sys.argv[1], progress=False)
    print(json.dumps({"width": WIDTH, "fingerprint": fingerprint("hidden"), "f1": float(out.table["f1_clean"].iloc[0])}))
"""


def _run(cache, widths, hash_seed):
    """Run the chapter above in a fresh process at each width in turn: what it printed, and the widths it trained."""
    env = {**os.environ, "PYTHONPATH": ROOT, "PYTHONHASHSEED": str(hash_seed), "EMMA_QUIET": "1"}
    env.pop(RETRAIN, None)
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(cache), *map(str, widths)], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    trained = [int(line.rsplit(" ", 1)[1]) for line in done.stderr.splitlines() if line.startswith("init called at width")]
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")], trained


def test_a_family_redefined_in_another_process_is_served_from_the_cache_only_when_its_code_and_globals_are_the_same(tmp_path):
    (first,), trained = _run(tmp_path, [4], hash_seed=1)
    assert trained == [4]
    (again, wider), trained = _run(tmp_path, [4, 6], hash_seed=2)
    assert again["fingerprint"] == first["fingerprint"], "the same code and globals give the same digest in every process"
    assert again["f1"] == first["f1"], "the same family is read from the cache"
    assert wider["fingerprint"] != first["fingerprint"]
    assert trained == [6], "only the changed global trains again"
    assert len(list(tmp_path.glob("sweep_hidden-*.pt"))) == 2
