"""Failures of a mode as objects (emma.data.failures): their statistics on the real HTRU2 splits, and the engine's use of them."""
from __future__ import annotations

import dataclasses
import sys
import threading
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from scipy import stats

from emma.data.failures import Failure, Gaussian, MeanFilled, Standardization, Swapped, Zeroed, corrupt_modes, fail_every_sample, failure_family, scheme_mask
from emma.data.noise import corrupt
from emma.data.splits import make_splits
from emma.engine.configs import TrainSettings
from emma.engine.evaluation import generalisation_curves, noise_response, per_sample_outcomes, score_on_failure, score_on_test
from emma.engine.launch import run_sweep
from emma.engine.streams import corrupted_split, noise_generator

FAST = TrainSettings(epochs=2, batch_size=32)
BLENDS = [Zeroed, MeanFilled, Swapped]


@dataclass(frozen=True)
class Saturated(Failure):
    """A user's failure: the sensor saturates at ±1 standard deviation."""

    severity: float = 1.0

    def failed(self, x, generator, standardization):
        return x.clamp(-1.0, 1.0)


@pytest.fixture(scope="module")
def real():
    """The thesis's splits of the real HTRU2 file."""
    return make_splits()


def _draw(real, failure, seed=0, split="train"):
    return corrupted_split(real, split, seed, dataclasses.replace(FAST, failure=failure))


def _columns(mask):
    return mask.repeat_interleave(4, dim=1)


# ----------------------------------------------------------------------------- Gaussian, as the thesis


def test_gaussian_through_the_engine_draws_what_the_original_scheme_drew(real):
    """The original draws, written out: one randperm picks the samples, one randn (n, 8) is the noise."""
    x0 = real.train.x.cpu()
    n = len(x0)
    g = noise_generator(3, "train")
    order = torch.randperm(n, generator=g)
    mask = torch.zeros(n, 2, dtype=torch.bool)
    mask[order[: (n // 2) // 2], 0] = True
    mask[order[(n // 2) // 2: n // 2], 1] = True
    expected = x0 + 0.5 * torch.randn(x0.shape, generator=g) * _columns(mask)
    for settings in (FAST, dataclasses.replace(FAST, failure=Gaussian(0.5))):
        x, m = corrupted_split(real, "train", 3, settings)
        assert torch.equal(m, mask) and torch.equal(x, expected)
    x, m = corrupt(x0, 0.5, noise_generator(3, "train"))
    assert torch.equal(x, expected) and torch.equal(m, mask)


def test_gaussian_residual_has_standard_deviation_sigma_on_failed_columns_only(real):
    x, mask = _draw(real, Gaussian(0.8))
    residual = x - real.train.x
    failed = residual[_columns(mask)]
    assert abs(failed.std().item() - 0.8) < 0.02 and abs(failed.mean().item()) < 0.02
    assert (residual[~_columns(mask)] == 0).all()


# ----------------------------------------------------------------------------- the other failures


def test_zeroed_reads_a_raw_zero_which_is_not_the_training_mean(real):
    x, mask = _draw(real, Zeroed())
    zero = torch.as_tensor(-real.mean / real.std, dtype=torch.float32)  # (0 − mean) / std
    for m in range(2):
        block = x[mask[:, m], 4 * m: 4 * m + 4]
        assert torch.equal(block, zero[4 * m: 4 * m + 4].expand_as(block))
        raw = block.double().numpy() * real.std[4 * m: 4 * m + 4] + real.mean[4 * m: 4 * m + 4]
        assert np.allclose(raw, 0.0, atol=1e-4 * np.abs(real.mean[4 * m: 4 * m + 4]).max())
    assert (zero.abs() > 0.1).any()  # some feature's raw zero is far from its mean: Zeroed differs from MeanFilled


def test_mean_filled_reads_the_training_mean(real):
    x, mask = _draw(real, MeanFilled())
    assert (x[_columns(mask)] == 0).all()  # standardized 0 is the training mean in raw units
    raw = x[_columns(mask)].double().numpy().reshape(-1, 4) * real.std[:4] + real.mean[:4]
    assert np.allclose(raw[: int(mask[:, 0].sum())], real.mean[:4]) if mask[:, 0].any() else True


def test_swapped_mode_is_another_samples_mode_with_the_same_marginal(real):
    x0 = real.train.x
    x, mask = _draw(real, Swapped(), seed=1)
    for m in range(2):
        cols = slice(4 * m, 4 * m + 4)
        owners = {}
        for j, row in enumerate(x0[:, cols].numpy()):
            owners.setdefault(row.tobytes(), []).append(j)
        for k in torch.nonzero(mask[:, m]).flatten().tolist():
            donors = owners.get(x[k, cols].numpy().tobytes(), [])
            assert any(j != k for j in donors), f"row {k}'s mode {m} is no other row's"
        for c in range(4 * m, 4 * m + 4):  # the failed values follow the split's distribution of that feature
            assert stats.ks_2samp(x[mask[:, m], c].numpy(), x0[:, c].numpy()).pvalue > 1e-3
    # the swap cuts the link between the modes: IP's and DM's first features correlate on clean rows, not on swapped ones
    clean = ~mask.any(dim=1)
    assert abs(np.corrcoef(x[clean, 0], x[clean, 4])[0, 1]) > 0.2
    assert abs(np.corrcoef(x[mask[:, 0], 0], x[mask[:, 0], 4])[0, 1]) < 0.1


@pytest.mark.parametrize("cls", BLENDS + [Saturated])
def test_severity_blends_the_mode_towards_its_failed_reading(real, cls):
    x0 = real.train.x
    full, mask = _draw(real, cls())
    for s in (0.0, 0.3):
        blended, same_mask = _draw(real, cls(s))
        assert torch.equal(same_mask, mask)
        assert torch.allclose(blended, (1 - s) * x0 + s * full, atol=1e-6)
    assert torch.equal(_draw(real, cls(0.0))[0], x0)


@pytest.mark.parametrize("failure", [Gaussian(1.0), Zeroed(), MeanFilled(), Swapped(), Saturated()])
def test_only_the_failed_modes_columns_of_the_failed_rows_change(real, failure):
    x0 = real.val.x
    x, mask = _draw(real, failure, split="val")
    changed = x != x0
    assert not changed[~_columns(mask)].any()
    assert changed[_columns(mask)].float().mean() > 0.1  # and the failure did something there (Saturated: |x| > 1 only)


@pytest.mark.parametrize("failure", [Gaussian(0.5), Zeroed(), Swapped()])
def test_the_scheme_keeps_half_clean_and_a_quarter_failed_on_each_mode(real, failure):
    _, mask = _draw(real, failure)
    n = len(real.train)
    assert (~mask.any(dim=1)).sum() == n - n // 2 and mask[:, 0].sum() == (n // 2) // 2 and mask.sum() == n // 2
    assert not (mask[:, 0] & mask[:, 1]).any()
    assert torch.equal(mask, _draw(real, Gaussian(0.5))[1])  # the same samples fail whatever the failure


@pytest.mark.parametrize("failure", [Gaussian(0.5), Swapped()])
def test_the_same_seed_gives_the_same_draw_and_another_seed_another(real, failure):
    first, again, other = _draw(real, failure, 4), _draw(real, failure, 4), _draw(real, failure, 5)
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])
    assert not torch.equal(first[0], other[0])


# ----------------------------------------------------------------------------- identity, cache keys, records


def test_default_settings_key_is_the_key_before_failures_and_a_failure_changes_it():
    legacy = {"epochs": 35, "batch_size": 32, "lr": 1e-3, "sigma": 0.5, "clean_fraction": 0.5}
    assert TrainSettings().key() == legacy
    keys = {repr(TrainSettings(failure=f).key()) for f in (None, Gaussian(0.5), Zeroed(), MeanFilled(), Swapped(), Swapped(0.5), Saturated())}
    assert len(keys) == 7


def test_a_non_default_failure_misses_the_sweep_cache(splits, tmp_path):
    for failure in (None, Zeroed(), None, Swapped(0.5)):
        run_sweep("base", [{"seed": 0}], splits, dataclasses.replace(FAST, failure=failure), cache_dir=tmp_path, progress=False)
    assert len(list(tmp_path.glob("sweep_base-*.pt"))) == 3  # the second default run was read back


@pytest.mark.parametrize("failure", [Gaussian(0.25), Zeroed(0.5), MeanFilled(), Swapped(), Saturated(0.7)])
def test_settings_rebuild_their_failure_from_a_sweeps_record(failure):
    settings = TrainSettings(failure=failure)
    again = TrainSettings(**dataclasses.asdict(settings))
    assert again == settings and type(again.failure) is type(failure) and again.key() == settings.key()
    assert TrainSettings(sigma=0.3).effective_failure == Gaussian(0.3) and settings.effective_failure is failure


OFFSET = 0.5


@dataclass(frozen=True)
class Drift(Failure):
    """A chapter's failure: the sensor drifts by a module-level constant."""

    severity: float = 1.0

    def failed(self, x, generator, standardization):
        return x + OFFSET


def _drift_of(scale):
    """A failure class whose ``failed`` reads a closure variable."""
    @dataclass(frozen=True)
    class Scaled(Failure):
        severity: float = 1.0

        def failed(self, x, generator, standardization):
            return x * scale
    return Scaled


def test_the_packages_failures_keep_their_keys():
    assert Zeroed(0.5).key() == "emma.data.failures.Zeroed(severity=0.5)"
    assert Gaussian(0.5).key() == "emma.data.failures.Gaussian(sigma=0.5)"


def test_a_failure_defined_outside_the_package_is_keyed_by_the_constants_its_code_reads(monkeypatch):
    before, settings = Drift().key(), TrainSettings(failure=Drift()).key()
    assert before.startswith(f"{Drift().kind}(severity=1.0) code=")
    monkeypatch.setattr(sys.modules[__name__], "OFFSET", 5.0)
    assert Drift().key() != before
    assert TrainSettings(failure=Drift()).key() != settings, "the sweep's cache key changes with it"
    monkeypatch.setattr(sys.modules[__name__], "OFFSET", 0.5)
    assert Drift().key() == before and Drift(0.5).key() != before


def test_a_failure_defined_outside_the_package_is_keyed_by_its_closure_variables():
    assert _drift_of(2.0)().key() == _drift_of(2.0)().key()
    assert _drift_of(2.0)().key() != _drift_of(3.0)().key()


def test_a_failure_whose_code_cannot_be_fingerprinted_says_so_in_its_key(monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "OFFSET", threading.Lock())
    assert "<uncacheable: failure " in Drift().key() and "global OFFSET" in Drift().key()


def test_labels_are_readable():
    assert [f.label for f in (Gaussian(0.5), Zeroed(), MeanFilled(0.5), Swapped())] == [
        "Gaussian noise (σ = 0.5)", "zeroed", "mean-filled (s = 0.5)", "swapped"]


# ----------------------------------------------------------------------------- a user's failure, end to end


def test_a_custom_failure_runs_through_the_streams_a_sweep_and_its_rescoring(real, splits):
    x, mask = _draw(real, Saturated())
    block = x[_columns(mask)]
    assert block.abs().max() <= 1.0 and torch.equal(block, real.train.x[_columns(mask)].clamp(-1, 1))
    settings = dataclasses.replace(FAST, failure=Saturated())
    result = run_sweep("base", [{"seed": 0}, {"seed": 1}], splits, settings, progress=False)
    assert TrainSettings(**result.settings).failure == Saturated()
    rescored = score_on_test(result, splits)
    assert np.allclose(rescored[["f1_clean", "f1_ip_noisy", "f1_dm_noisy"]], result.table[["f1_clean", "f1_ip_noisy", "f1_dm_noisy"]])


# ----------------------------------------------------------------------------- evaluating on another failure


@pytest.fixture(scope="module")
def sweep(splits):
    return run_sweep("base", [{"seed": 0}, {"seed": 1}], splits, FAST, progress=False)


def test_score_on_the_training_failure_reproduces_the_sweeps_table(sweep, splits):
    own = score_on_failure(sweep, splits, Gaussian(0.5))
    assert np.allclose(own[["f1_clean", "f1_ip_failed", "f1_dm_failed"]], sweep.table[["f1_clean", "f1_ip_noisy", "f1_dm_noisy"]])
    other = score_on_failure(sweep, splits, Swapped(), draw=0)
    assert (other["failure"] == "swapped").all() and other[["f1_clean", "f1_ip_failed", "f1_dm_failed"]].notna().all().all()
    assert not np.allclose(other[["f1_ip_failed", "f1_dm_failed"]], own[["f1_ip_failed", "f1_dm_failed"]])


def test_gaussian_as_a_failure_family_gives_the_sigma_curves(sweep, splits):
    levels = [-6.0, 0.0]
    by_sigma = generalisation_curves(sweep, splits, levels)
    sigmas = [10 ** (db / 20) for db in levels]
    by_family = generalisation_curves(sweep, splits, failure=Gaussian, severities=sigmas)
    assert np.allclose(by_family["f1"], by_sigma["f1"]) and list(by_family["corrupted"]) == list(by_sigma["corrupted"])
    assert np.allclose(by_family["severity"], np.repeat(sigmas * 2, 2))


def test_a_failure_family_at_severity_zero_is_the_clean_response(sweep, splits):
    clean = noise_response(sweep, splits, [(0.0, 0.0)])["f1"].to_numpy()
    for family in (Zeroed, Swapped(), lambda s: MeanFilled(s)):
        out = noise_response(sweep, splits, [(0.0, 0.0), (1.0, 0.0)], failure=family)
        assert np.array_equal(out["f1"].to_numpy()[:2], clean) and {"severity_ip", "severity_dm", "failure"} <= set(out.columns)


def test_per_sample_outcomes_take_a_failure(sweep, splits):
    by_sigma = per_sample_outcomes(sweep, splits, 0.5)
    by_failure = per_sample_outcomes(sweep, splits, None, failure=Gaussian(0.5))
    assert by_sigma.equals(by_failure)
    assert per_sample_outcomes(sweep, splits, None, failure=MeanFilled())["case"].value_counts()["clean"] == 2 * (len(splits.test) - len(splits.test) // 2)


def test_fail_every_sample_fails_each_mode_at_its_own_severity(real):
    x0 = real.test.x
    out = fail_every_sample(x0, failure_family(MeanFilled()), (0.0, 1.0))
    assert torch.equal(out[:, :4], x0[:, :4]) and (out[:, 4:] == 0).all()


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("make, error, name", [
    (lambda: Gaussian(-1.0), ValueError, "sigma"),
    (lambda: Gaussian(float("nan")), ValueError, "sigma"),
    (lambda: Zeroed(1.5), ValueError, "severity"),
    (lambda: Swapped("all"), ValueError, "severity"),
    (lambda: Failure(), TypeError, "base class"),
    (lambda: TrainSettings(failure="zeroed"), TypeError, "failure"),
    (lambda: TrainSettings(failure={"kind": "nowhere.Gone"}), ValueError, "record"),
    (lambda: Zeroed().apply(torch.zeros(3, 8), torch.ones(3, 2, dtype=torch.bool)), ValueError, "standardization"),
    (lambda: MeanFilled().apply(torch.zeros(3, 8), torch.ones(3, 3, dtype=torch.bool)), ValueError, "mask"),
    (lambda: MeanFilled().apply(torch.zeros(3, 4), torch.ones(3, 2, dtype=torch.bool)), ValueError, r"shape \(n, 8\)"),
    (lambda: Swapped().apply(torch.zeros(1, 8), torch.ones(1, 2, dtype=torch.bool)), ValueError, "at least 2"),
    (lambda: corrupt_modes(torch.zeros(4, 8), Swapped(), clean_fraction=2.0), ValueError, "clean_fraction"),
    (lambda: corrupt_modes(torch.zeros(4, 8), "swapped"), TypeError, "failure"),
    (lambda: scheme_mask(4, clean_fraction=-0.1), ValueError, "clean_fraction"),
    (lambda: scheme_mask(-1), ValueError, r"n \(the number of samples\) must be an integer >= 0, got -1"),
    (lambda: scheme_mask(2.5), ValueError, r"n \(the number of samples\) must be an integer >= 0, got 2.5"),
    (lambda: scheme_mask("3"), ValueError, r"n \(the number of samples\) must be an integer >= 0, got '3'"),
    (lambda: failure_family(3), TypeError, "failure"),
    (lambda: failure_family(lambda s: s)(0.5), TypeError, r"failure\(0.5\)"),
    (lambda: fail_every_sample(torch.zeros(4, 8), failure_family(Zeroed()), (1.0,)), ValueError, "severities"),
    (lambda: Standardization(np.zeros(3), np.ones(8)), ValueError, "mean"),
    (lambda: Standardization(np.zeros(8), np.zeros(8)), ValueError, "std"),
])
def test_bad_arguments_are_rejected_by_name(make, error, name):
    with pytest.raises(error, match=name):
        make()


def test_a_subclass_without_a_severity_field_is_rejected():
    @dataclass(frozen=True)
    class NoSeverity(Failure):
        level: float = 1.0

        def failed(self, x, generator, standardization):
            return x

    with pytest.raises(TypeError, match="severity"):
        NoSeverity()


def test_evaluation_rejects_mixed_or_missing_failure_arguments(sweep, splits):
    with pytest.raises(ValueError, match="nsr_db_levels"):
        generalisation_curves(sweep, splits, [0.0], failure=Zeroed, severities=[1.0])
    with pytest.raises(ValueError, match="sigma"):
        per_sample_outcomes(sweep, splits, 0.5, failure=Zeroed())
    with pytest.raises(TypeError, match="failure"):
        score_on_failure(sweep, splits, "zeroed")
    with pytest.raises(ValueError, match="draw"):
        score_on_failure(sweep, splits, Zeroed(), draw=-1)


def test_a_failure_in_a_chapters_module_of_the_package_is_keyed_by_its_code():
    """`emma-book new` writes a chapter's logic, its failure too, into emma/experiments/NAME.py: an edit to it
    must change the key, as it does for a failure defined in a notebook."""
    in_package = _drift_of(2.0)
    in_package.__module__ = "emma.experiments.demo_extension"
    assert " code=" in in_package().key()
