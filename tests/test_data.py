"""Specification of emma.data.htru2: finding and checking HTRU2, the split protocol, corruption."""
from __future__ import annotations

import hashlib
import io
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

import emma.data.htru2 as data_module
from emma.data.htru2 import FEATURE_NAMES, MODE_NAMES, MODE_SLICES, HTRU2FormatError, HTRU2NotFoundError, fetch_htru2, read_htru2
from emma.data.noise import add_noise, corrupt, nsr_db_to_sigma, sigma_to_nsr_db
from emma.data.splits import make_splits

# CI sets EMMA_DATA_DIR=../shared/data; outside CI the same folder next to the repository.
DATA_DIR = Path(os.environ.get("EMMA_DATA_DIR") or Path(__file__).resolve().parents[2] / "shared" / "data")
REAL_FILE = DATA_DIR / "HTRU_2.csv"


@pytest.fixture(scope="module")
def real_lines() -> list[str]:
    return REAL_FILE.read_text().splitlines()


@pytest.fixture(scope="module")
def htru2():
    return read_htru2(REAL_FILE)


@pytest.fixture(scope="module")
def splits(htru2):
    return make_splits(htru2)


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """No EMMA_DATA_DIR, an empty user cache, and no way to reach the real server."""
    monkeypatch.delenv("EMMA_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setattr(data_module, "HTRU2_URL", "http://127.0.0.1:9/htru2.zip")  # nothing listens there
    return tmp_path


def _folder_with_copy(folder: Path) -> Path:
    folder.mkdir(parents=True)
    shutil.copy(REAL_FILE, folder / "HTRU_2.csv")
    return folder


def _files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


# ----------------------------------------------------------------------------- finding the file


def test_fetch_reads_the_copy_in_data_home(isolated):
    folder = _folder_with_copy(isolated / "home")
    data = fetch_htru2(folder)
    assert data.path == folder / "HTRU_2.csv"
    assert data.features.shape == (17_898, 8) and data.target.shape == (17_898,)


def test_fetch_reads_the_copy_named_by_emma_data_dir(isolated, monkeypatch):
    folder = _folder_with_copy(isolated / "env")
    monkeypatch.setenv("EMMA_DATA_DIR", str(folder))
    assert fetch_htru2().path == folder / "HTRU_2.csv"


def test_data_home_is_searched_before_emma_data_dir(isolated, monkeypatch):
    home = _folder_with_copy(isolated / "home")
    monkeypatch.setenv("EMMA_DATA_DIR", str(_folder_with_copy(isolated / "env")))
    assert fetch_htru2(home).path == home / "HTRU_2.csv"


def test_offline_without_a_copy_says_where_it_looked_and_how_to_point_at_one(isolated, monkeypatch):
    home, env = isolated / "empty-home", isolated / "empty-env"
    home.mkdir(), env.mkdir()
    monkeypatch.setenv("EMMA_DATA_DIR", str(env))
    with pytest.raises(HTRU2NotFoundError) as caught:
        fetch_htru2(home)
    message = str(caught.value)
    for folder in (home, env, isolated / "xdg-cache" / "emma"):
        assert str(folder / "HTRU_2.csv") in message
    assert "data_home=" in message and "EMMA_DATA_DIR" in message
    assert _files_under(isolated / "xdg-cache") == []


def test_download_false_fails_without_touching_the_network(isolated, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the network was used")

    monkeypatch.setattr(data_module.urllib.request, "urlopen", no_network)
    with pytest.raises(HTRU2NotFoundError, match="download=False"):
        fetch_htru2(download=False)


def test_download_extracts_the_csv_into_the_user_cache(isolated, monkeypatch):
    archive = isolated / "htru2.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.write(REAL_FILE, "HTRU_2.csv")
    monkeypatch.setattr(data_module, "HTRU2_URL", archive.as_uri())  # a local file:// address
    data = fetch_htru2()
    cache = isolated / "xdg-cache" / "emma"
    assert data.path == cache / "HTRU_2.csv"
    assert _files_under(cache) == [cache / "HTRU_2.csv"]  # no temporary files left
    assert fetch_htru2().path == cache / "HTRU_2.csv"  # the next call finds it in the cache


class _ResponseCutShort(io.BytesIO):
    """A response that delivers one chunk and then loses the connection."""

    headers = {"Content-Length": "1000000"}

    def read(self, size=-1):
        if self.tell() == 0:
            return super().read(size)
        raise ConnectionResetError("connection lost")


def test_a_download_cut_short_leaves_nothing_behind(isolated, monkeypatch):
    monkeypatch.setattr(
        data_module.urllib.request, "urlopen", lambda *a, **k: _ResponseCutShort(b"PK\x03\x04" + b"\0" * 100_000)
    )
    with pytest.raises(HTRU2NotFoundError, match="connection lost"):
        fetch_htru2()
    assert _files_under(isolated / "xdg-cache") == []


def test_an_archive_without_the_csv_is_rejected_and_leaves_nothing_behind(isolated, monkeypatch):
    archive = isolated / "other.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("README.txt", "no data here")
    monkeypatch.setattr(data_module, "HTRU2_URL", archive.as_uri())
    with pytest.raises(HTRU2NotFoundError, match="holds no HTRU_2.csv"):
        fetch_htru2()
    assert _files_under(isolated / "xdg-cache") == []


# ----------------------------------------------------------------------------- checking the content


def test_the_real_file_has_named_columns_and_two_modes(htru2):
    assert list(htru2.frame.columns) == [*FEATURE_NAMES, "pulsar"]
    assert htru2.features.dtype == np.float64 and htru2.target.dtype == np.int64
    assert int(htru2.target.sum()) == 1_639
    np.testing.assert_array_equal(htru2.mode("DM"), htru2.features[:, 4:8])


def _with_header(lines):
    return [",".join([*FEATURE_NAMES, "class"]), *lines]


def _truncated(lines):
    return lines[:10_000]


def _extra_column(lines):
    return [line + ",0" for line in lines]


def _missing_column(lines):
    return [line.split(",", 1)[1] for line in lines]


def _nan_value(lines):
    fields = lines[100].split(",")
    fields[3] = "nan"
    return [*lines[:100], ",".join(fields), *lines[101:]]


def _class_two(lines):
    return [*lines[:5], lines[5].rsplit(",", 1)[0] + ",2", *lines[6:]]


def _one_pulsar_less(lines):
    first_pulsar = next(i for i, line in enumerate(lines) if line.endswith(",1"))
    return [*lines[:first_pulsar], lines[first_pulsar][:-1] + "0", *lines[first_pulsar + 1 :]]


def _text_value(lines):
    fields = lines[7].split(",")
    fields[0] = "abc"
    return [*lines[:7], ",".join(fields), *lines[8:]]


def _ragged_line(lines):
    return [*lines[:50], lines[50] + ",1.0", *lines[51:]]


def _empty_value(lines):
    fields = lines[9].split(",")
    fields[2] = ""
    return [*lines[:9], ",".join(fields), *lines[10:]]


def _semicolons(lines):
    return [line.replace(",", ";") for line in lines]


def _tabs(lines):
    return [line.replace(",", "\t") for line in lines]


@pytest.mark.parametrize(
    "damage, expected",
    [
        (_with_header, "line 1 is a header"),
        (_truncated, "has 10,000 rows, expected 17,898 (truncated?)"),
        (_extra_column, "found 10 columns on every line, expected 9"),
        (_missing_column, "found 8 columns on every line, expected 9"),
        (_nan_value, "line 101, column 3 (ip_skewness) is nan"),
        (_class_two, "line 6: the class (last column) is 2; it must be 0 or 1"),
        (_one_pulsar_less, "has 1,638 pulsars (class 1), expected 1,639"),
        (_text_value, "line 8, column 0 holds 'abc', not a number"),
        (_ragged_line, "line 51 has 10 fields, expected 9"),
        (_empty_value, "line 10, column 2 is empty (a missing value)"),
        (_semicolons, "uses ';' between values, expected ','"),
        (_tabs, "uses tabs between values, expected ','"),
    ],
    ids=lambda value: getattr(value, "__name__", "")[1:] or None,
)
def test_a_malformed_file_is_rejected_with_a_message_naming_problem_and_file(tmp_path, real_lines, damage, expected):
    path = tmp_path / "HTRU_2.csv"
    path.write_text("\n".join(damage(real_lines)) + "\n")
    with pytest.raises(HTRU2FormatError) as caught:
        read_htru2(path)
    assert expected in str(caught.value)
    assert str(path) in str(caught.value)


def test_a_malformed_file_found_by_fetch_is_rejected_not_replaced(isolated, real_lines):
    folder = isolated / "home"
    folder.mkdir()
    (folder / "HTRU_2.csv").write_text("\n".join(_truncated(real_lines)) + "\n")
    with pytest.raises(HTRU2FormatError, match="truncated"):
        fetch_htru2(folder)


def test_windows_line_endings_are_read_like_unix_ones(tmp_path, real_lines, htru2):
    path = tmp_path / "HTRU_2.csv"
    path.write_bytes(("\r\n".join(real_lines) + "\r\n").encode())
    np.testing.assert_array_equal(read_htru2(path).features, htru2.features)


def test_a_missing_final_newline_is_accepted(tmp_path, real_lines, htru2):
    path = tmp_path / "HTRU_2.csv"
    path.write_text("\n".join(real_lines))
    np.testing.assert_array_equal(read_htru2(path).features, htru2.features)


@pytest.mark.parametrize("mark, name", [(b"\xef\xbb\xbf", "UTF-8"), (b"\xff\xfe", "UTF-16")])
def test_a_byte_order_mark_is_named_as_an_encoding_problem(tmp_path, mark, name):
    path = tmp_path / "HTRU_2.csv"
    path.write_bytes(mark + REAL_FILE.read_bytes())
    with pytest.raises(HTRU2FormatError) as caught:
        read_htru2(path)
    message = str(caught.value)
    assert f"starts with a {name} byte-order mark" in message and str(path) in message
    assert "header" not in message


def test_the_pinned_digest_is_the_one_of_the_uci_file():
    assert hashlib.sha256(REAL_FILE.read_bytes()).hexdigest() == data_module.HTRU2_SHA256


def _one_value_changed(lines):
    fields = lines[499].split(",")
    fields[0] += "1"  # one more digit: still a number, every content check still passes
    return [*lines[:499], ",".join(fields), *lines[500:]]


def test_a_file_that_differs_in_one_value_is_rejected_by_its_digest(tmp_path, real_lines):
    path = tmp_path / "HTRU_2.csv"
    path.write_text("\n".join(_one_value_changed(real_lines)) + "\n")
    with pytest.raises(HTRU2FormatError) as caught:
        read_htru2(path)
    message = str(caught.value)
    found = hashlib.sha256(path.read_bytes()).hexdigest()
    for part in (str(path), data_module.HTRU2_SHA256, found, "SHA-256", "download", "verify=False"):
        assert part in message, part


def test_verify_false_reads_a_deliberately_modified_copy(tmp_path, real_lines, htru2):
    folder = tmp_path / "home"
    folder.mkdir()
    (folder / "HTRU_2.csv").write_text("\n".join(_one_value_changed(real_lines)) + "\n")
    with pytest.raises(HTRU2FormatError, match="SHA-256"):
        fetch_htru2(folder, download=False)
    data = fetch_htru2(folder, download=False, verify=False)
    assert data.features[499, 0] == float(real_lines[499].split(",")[0] + "1")
    np.testing.assert_array_equal(data.features[:499], htru2.features[:499])


@pytest.mark.parametrize("verify", [None, 1, "no"])
def test_verify_must_be_true_or_false(verify):
    with pytest.raises(ValueError, match="verify must be True or False"):
        read_htru2(REAL_FILE, verify=verify)


# ----------------------------------------------------------------------------- the split protocol


def test_split_sizes_follow_the_protocol(splits):
    sizes = splits.sizes().set_index("split")
    assert sizes.loc["train", "total"] == 11_991  # 17,898 − ceil(0.33 · 17,898)
    assert sizes.loc["validation", "total"] + sizes.loc["test", "total"] == 5_907
    assert abs(sizes.loc["validation", "total"] - sizes.loc["test", "total"]) <= 1
    assert (sizes["positives"] + sizes["negatives"] == sizes["total"]).all()
    assert sizes["total"].sum() == 17_898 and sizes["positives"].sum() == 1_639


def test_splits_are_disjoint_and_cover_every_row(splits):
    rows = np.concatenate([splits.train.index, splits.val.index, splits.test.index])
    assert np.array_equal(np.sort(rows), np.arange(17_898))


def test_every_split_keeps_the_pulsar_share(splits):
    for split in (splits.train, splits.val, splits.test):
        positives = split.y.sum().item()
        assert abs(positives - len(split) * 1_639 / 17_898) <= 1


def test_standardization_uses_training_statistics_only(htru2):
    moved = type(htru2)(htru2.frame, htru2.features.copy(), htru2.target, htru2.path)
    reference = make_splits(htru2)
    held_out = np.concatenate([reference.val.index, reference.test.index])
    moved.features[held_out] += 1_000.0  # changing validation and test rows ...
    result = make_splits(moved)
    np.testing.assert_array_equal(result.mean, reference.mean)  # ... leaves the statistics alone
    np.testing.assert_array_equal(result.std, reference.std)
    raw_train = htru2.features[reference.train.index]
    np.testing.assert_allclose(reference.mean, raw_train.mean(axis=0))
    np.testing.assert_allclose(reference.std, raw_train.std(axis=0, ddof=0))


def test_every_split_is_standardized_with_the_same_statistics(htru2, splits):
    for split in (splits.train, splits.val, splits.test):
        expected = (htru2.features[split.index] - splits.mean) / splits.std
        np.testing.assert_allclose(split.x.numpy(), expected, rtol=1e-5, atol=1e-5)
    assert torch.allclose(splits.train.x.mean(0), torch.zeros(8), atol=1e-5)
    assert torch.allclose(splits.train.x.std(0, unbiased=False), torch.ones(8), atol=1e-5)


def test_tensors_are_float32_with_matching_labels(htru2, splits):
    assert splits.test.x.dtype == torch.float32 and splits.test.y.dtype == torch.float32
    np.testing.assert_array_equal(splits.test.y.numpy(), htru2.target[splits.test.index])


def test_modes_are_the_ip_then_the_dm_columns(splits):
    ip, dm = splits.val.modes
    assert torch.equal(ip, splits.val.x[:, 0:4]) and torch.equal(dm, splits.val.x[:, 4:8])


def test_the_same_seed_gives_the_same_split_and_another_seed_another(htru2, splits):
    assert np.array_equal(make_splits(htru2, seed=42).test.index, splits.test.index)
    assert not np.array_equal(make_splits(htru2, seed=7).test.index, splits.test.index)


@pytest.mark.parametrize("test_size", [0, 1, 1.5, -0.1, "0.33"])
def test_make_splits_rejects_a_test_size_outside_zero_one(htru2, test_size):
    with pytest.raises(ValueError, match="test_size"):
        make_splits(htru2, test_size=test_size)


# ----------------------------------------------------------------------------- corruption


def test_corrupt_leaves_half_clean_and_a_quarter_noisy_on_each_mode():
    x = torch.zeros(1_000, 8)
    _, mask = corrupt(x, 0.5, torch.Generator().manual_seed(0))
    assert mask.shape == (1_000, 2) and mask.dtype == torch.bool
    assert (~mask.any(dim=1)).sum() == 500
    assert mask[:, 0].sum() == 250 and mask[:, 1].sum() == 250
    assert not (mask[:, 0] & mask[:, 1]).any()


def test_corrupt_rounds_an_odd_count_towards_clean_samples():
    _, mask = corrupt(torch.zeros(11_991, 8), 0.5, torch.Generator().manual_seed(0))
    assert (~mask.any(dim=1)).sum() == 5_996 and mask.sum() == 5_995


def test_corrupt_adds_noise_exactly_where_the_mask_says():
    x = torch.randn(2_000, 8, generator=torch.Generator().manual_seed(1))
    noisy, mask = corrupt(x, 0.5, torch.Generator().manual_seed(0))
    for m, name in enumerate(MODE_NAMES):
        changed = (noisy[:, MODE_SLICES[name]] != x[:, MODE_SLICES[name]]).all(dim=1)
        assert torch.equal(changed, mask[:, m])


def test_corrupt_noise_has_the_asked_standard_deviation():
    x = torch.zeros(40_000, 8)
    noisy, mask = corrupt(x, 2.0, torch.Generator().manual_seed(0))
    values = noisy[:, 0:4][mask[:, 0]]
    assert abs(values.std().item() - 2.0) < 0.03 and abs(values.mean().item()) < 0.03


def test_corrupt_is_reproducible_from_a_seeded_generator():
    x = torch.randn(500, 8, generator=torch.Generator().manual_seed(1))
    first = corrupt(x, 0.5, torch.Generator().manual_seed(3))
    again = corrupt(x, 0.5, torch.Generator().manual_seed(3))
    other = corrupt(x, 0.5, torch.Generator().manual_seed(4))
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])
    assert not torch.equal(first[1], other[1])


def test_corrupt_with_a_clean_fraction_of_one_changes_nothing():
    x = torch.randn(100, 8)
    noisy, mask = corrupt(x, 1.0, torch.Generator().manual_seed(0), clean_fraction=1.0)
    assert torch.equal(noisy, x) and not mask.any()


def test_add_noise_changes_only_the_chosen_mode_and_not_its_input():
    x = torch.zeros(50_000, 8)
    noisy = add_noise(x, 0.5, "DM", torch.Generator().manual_seed(0))
    assert torch.equal(noisy[:, 0:4], x[:, 0:4]) and torch.equal(x, torch.zeros(50_000, 8))
    assert abs(noisy[:, 4:8].std().item() - 0.5) < 0.01


def test_add_noise_accepts_mode_indices_like_names():
    x = torch.zeros(10, 8)
    by_name = add_noise(x, 1.0, ["IP", "DM"], torch.Generator().manual_seed(0))
    by_index = add_noise(x, 1.0, [0, 1], torch.Generator().manual_seed(0))
    assert torch.equal(by_name, by_index) and (by_name != 0).all()


@pytest.mark.parametrize("sigma", [-0.1, float("nan"), float("inf"), "1"])
def test_noise_rejects_a_sigma_that_is_not_a_finite_non_negative_number(sigma):
    with pytest.raises(ValueError, match="sigma"):
        add_noise(torch.zeros(4, 8), sigma, "IP")


def test_add_noise_rejects_an_unknown_mode():
    with pytest.raises(ValueError, match="mode must be one of"):
        add_noise(torch.zeros(4, 8), 1.0, "XX")


def test_corrupt_rejects_samples_that_are_not_eight_features_wide():
    with pytest.raises(ValueError, match=r"shape \(n, 8\)"):
        corrupt(torch.zeros(4, 4), 1.0)


def test_half_a_standard_deviation_of_noise_is_minus_six_db():
    assert sigma_to_nsr_db(0.5) == pytest.approx(-6.0206, abs=1e-4)
    assert sigma_to_nsr_db(1.0) == 0.0
    assert sigma_to_nsr_db(0.0) == -np.inf


def test_decibels_and_sigma_convert_both_ways():
    sigmas = np.array([0.01, 0.1, 0.5, 1.0, 2.0, 3.16])
    np.testing.assert_allclose(nsr_db_to_sigma(sigma_to_nsr_db(sigmas)), sigmas)
    assert nsr_db_to_sigma(-20) == pytest.approx(0.1)
    assert nsr_db_to_sigma(-np.inf) == 0.0


def test_a_negative_sigma_has_no_decibels():
    with pytest.raises(ValueError, match="sigma"):
        sigma_to_nsr_db(-1.0)


def test_feature_separation_is_direction_free_auroc():
    from emma.data.separation import feature_separation

    target = np.array([0, 0, 1, 1])
    features = np.array([[0.0, 3.0], [1.0, 2.0], [2.0, 1.0], [3.0, 0.0]])  # one rises with the class, one falls
    table = feature_separation(features, target)
    assert table["separation_auroc"].tolist() == [1.0, 1.0]
    assert table["pulsars_higher"].tolist() == [True, False]
    with pytest.raises(ValueError, match="features must have shape"):
        feature_separation(features[:3], target)
