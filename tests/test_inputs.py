"""The library's inputs (issue 18, point 7): dtypes, non-finite values, coldness, numpy scalars, study plans.

Each test pins one kind of bad (or merely unusual) input to a documented outcome: accepted and
cast, or refused with a message that names the argument and says what was expected.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch.func import grad, vmap

from emma.engine.protocol import SOUND
from emma.experiments import modes
from emma.experiments.study import plan
from emma.experiments.unified import UnifiedAttention
from emma.method.attention import attention_scores, energy_threshold, initial_parameters
from emma.method.autoencoder import DenoisingAutoencoder, UntiedAutoencoder, evaluate_autoencoder, train_one_autoencoder
from emma.method.module import EMMA


def _emma(widths=(2, 3), coldness=0.1, seed=0) -> EMMA:
    torch.manual_seed(seed)
    return EMMA([DenoisingAutoencoder(d, 6, 0.0) for d in widths], psi_min=[0.0] * len(widths), coldness=coldness)


def _modes(widths=(2, 3), batch=5, dtype=torch.float32, seed=1):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, d, generator=g, dtype=dtype) for d in widths]


# ----------------------------------------------------------------------------- float64 input is cast to the model's dtype


def test_emma_casts_float64_modes_to_its_float32_models():
    model = _emma()
    single = _modes()
    weighted, out = model([x.double() for x in single])
    expected_weighted, expected = model(single)
    assert out.beta.dtype == torch.float32 and all(w.dtype == torch.float32 for w in weighted)
    torch.testing.assert_close(out.beta, expected.beta)
    for w, e in zip(weighted, expected_weighted):
        torch.testing.assert_close(w, e)


def test_a_float64_emma_casts_float32_modes_up():
    model = _emma().double()
    _, out = model(_modes())
    assert out.beta.dtype == torch.float64 and out.potentials.dtype == torch.float64


@pytest.mark.parametrize("cls", [DenoisingAutoencoder, UntiedAutoencoder])
def test_autoencoders_cast_float64_input_to_their_dtype(cls):
    torch.manual_seed(0)
    model = cls(3, 6, 0.0).eval()
    x = torch.randn(4, 3)
    methods = ["forward", "reconstruct", "reconstruction_error"] + (["potential"] if cls is DenoisingAutoencoder else [])
    for method in methods:
        got = getattr(model, method)(x.double())
        assert got.dtype == torch.float32, method
        torch.testing.assert_close(got, getattr(model, method)(x))


def test_train_autoencoder_accepts_float64_data_and_trains_as_on_float32():
    x = torch.randn(40, 3, generator=torch.Generator().manual_seed(0))
    curves = []
    for data in (x, x.double()):
        torch.manual_seed(0)
        model = DenoisingAutoencoder(3, 6, 0.01)
        curves.append(train_one_autoencoder(model, data, x_val=data[:10], epochs=2, batch_size=8, progress=False))
        assert model.weight.dtype == torch.float32
    pd.testing.assert_frame_equal(curves[0], curves[1])


# ----------------------------------------------------------------------------- non-finite input to the autoencoders


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize("method", ["potential", "forward", "reconstruct", "reconstruction_error"])
def test_autoencoder_refuses_non_finite_input_by_name(method, bad):
    x = torch.zeros(3, 2)
    x[1, 0] = bad
    with pytest.raises(ValueError, match=r"x contains non-finite values.*row 1"):
        getattr(DenoisingAutoencoder(2, 4, 0.0), method)(x)


def test_evaluate_autoencoder_refuses_non_finite_input():
    with pytest.raises(ValueError, match="x contains non-finite"):
        evaluate_autoencoder(DenoisingAutoencoder(2, 4, 0.0), torch.tensor([[0.0, float("nan")]]))


@pytest.mark.parametrize("argument", ["x_train", "x_val"])
def test_training_refuses_non_finite_data_by_name_before_any_step(argument):
    torch.manual_seed(0)
    model = DenoisingAutoencoder(2, 4, 0.0)
    before = model.weight.detach().clone()
    data = {"x_train": torch.zeros(8, 2), "x_val": torch.zeros(4, 2)}
    data[argument][2, 1] = float("nan")
    with pytest.raises(ValueError, match=rf"{argument} contains non-finite values"):
        train_one_autoencoder(model, data["x_train"], x_val=data["x_val"], epochs=1, batch_size=4, progress=False)
    assert torch.equal(model.weight, before)


def test_training_refuses_an_empty_training_set():
    with pytest.raises(ValueError, match="x_train must hold at least one sample"):
        train_one_autoencoder(DenoisingAutoencoder(2, 4, 0.0), torch.zeros(0, 2), epochs=1, batch_size=4, progress=False)


def test_the_finiteness_check_is_skipped_under_vmap():
    model = DenoisingAutoencoder(2, 4, 0.0)
    x = torch.tensor([[0.0, float("nan")], [1.0, 2.0]])
    out = vmap(lambda row: model.potential(row[None])[0])(x)  # no error: values cannot be read under vmap
    assert torch.isnan(out[0]) and torch.isfinite(out[1])


# ----------------------------------------------------------------------------- non-finite and overflowing potentials in EMMA


def _scores(potentials, coldness=0.1, psi_min=None):
    p = initial_parameters(potentials.shape[-1], torch.Generator().manual_seed(0), dtype=potentials.dtype)
    psi_min = torch.zeros(potentials.shape[-1], dtype=potentials.dtype) if psi_min is None else psi_min
    return attention_scores(potentials, psi_min, **p, coldness=coldness)


@pytest.mark.parametrize("bad, shown", [(float("nan"), "nan"), (float("inf"), "inf"), (-float("inf"), "-inf")])
def test_non_finite_potentials_are_refused_naming_mode_and_sample(bad, shown):
    potentials = torch.ones(4, 3)
    potentials[2, 1] = bad
    with pytest.raises(ValueError, match=rf"potentials of mode 1 are not finite \({shown} at sample 2"):
        _scores(potentials)


@pytest.mark.parametrize("dtype, huge", [(torch.float32, 3e38), (torch.float64, 1.7e308)])
def test_potentials_that_overflow_in_the_energies_are_refused(dtype, huge):
    potentials = torch.ones(3, 2, dtype=dtype)
    potentials[1, 0] = huge  # finite, but Ψ − Ψ_min is not
    psi_min = torch.tensor([-huge, 0.0], dtype=dtype)
    with pytest.raises(ValueError, match=r"energies of mode 0 overflow at sample 1"):
        _scores(potentials, psi_min=psi_min)


def test_a_large_coldness_that_overflows_rho_times_e_is_refused():
    with pytest.raises(ValueError, match=r"mode 1 overflow at sample 0"):
        _scores(torch.tensor([[0.0, 1e30]]), coldness=1e10)


def test_emma_refuses_an_input_whose_potential_overflows():
    model = _emma()
    ip, dm = _modes(batch=3)
    ip[2, 0] = 2e19  # Ψ ≈ ½x² = 2e38 plus the rest overflows float32: β was nan for both modes, silently
    with pytest.raises(ValueError, match=r"mode 0 .* sample 2"):
        model([ip, dm])


def test_psi_min_that_is_not_finite_is_named():
    with pytest.raises(ValueError, match="psi_min must be finite"):
        _scores(torch.ones(2, 2), psi_min=torch.tensor([0.0, float("inf")]))


def test_unbatched_potentials_name_the_mode_without_a_sample():
    with pytest.raises(ValueError, match=r"potentials of mode 0 are not finite \(nan;"):
        _scores(torch.tensor([float("nan"), 1.0]))


def test_finite_potentials_pass_unchanged():
    out = _scores(torch.tensor([[1e19, 0.0], [3.0, 1.0]]))
    assert torch.isfinite(out.beta).all() and out.beta[0, 0] == 0.0


def test_the_energy_check_is_skipped_under_vmap_and_grad():
    potentials = torch.tensor([[float("nan"), 1.0], [1.0, 2.0]])
    p = initial_parameters(2)
    beta = vmap(lambda row: attention_scores(row, torch.zeros(2), **p, coldness=0.1).beta)(potentials)
    assert torch.isnan(beta[0]).all() and torch.isfinite(beta[1]).all()
    g = grad(lambda row: attention_scores(row, torch.zeros(2), **p, coldness=0.1).log_alpha[0])(potentials[0])
    assert torch.isnan(g).any()


# ----------------------------------------------------------------------------- coldness everywhere


@pytest.mark.parametrize("coldness", [0.0, -1.0, float("nan"), float("inf"), torch.tensor(float("inf")), torch.tensor(-2.0)])
def test_attention_scores_and_threshold_refuse_a_bad_coldness(coldness):
    with pytest.raises(ValueError, match="coldness must be"):
        _scores(torch.ones(2, 2), coldness=coldness)
    with pytest.raises(ValueError, match="coldness must be"):
        energy_threshold(torch.zeros(2), 1.0, 0.5, coldness)


@pytest.mark.parametrize("coldness", [0.0, -1.0, float("nan"), "1", True])
def test_unified_attention_refuses_a_bad_coldness_even_without_emma(coldness):
    with pytest.raises(ValueError, match="coldness must be a finite number > 0"):
        UnifiedAttention([2, 3], exogenous=False, coldness=coldness)


def _results():
    rows = [{"dataset": "d", "n_modes": 4, "n_corrupted": 2, "seed": s, "model": m, "coldness": rho, "score": 0.5, "score_val": 0.5,
             "alpha_corrupted": 0.2, "alpha_clean": 0.3}
            for s in (0, 1) for m in ("with", "without") for rho in (0.1, 1.0)]
    return pd.DataFrame(rows)


@pytest.mark.parametrize("coldness", [0.0, -1.0, float("nan"), "1.0"])
def test_paired_differences_refuses_a_bad_coldness(coldness):
    with pytest.raises(ValueError, match="coldness must be a finite number > 0"):
        modes.paired_differences(_results(), "with", "without", coldness)


def test_coldness_needed_refuses_a_bad_level_or_coldness_column():
    with pytest.raises(ValueError, match="level must be"):
        modes.coldness_needed(_results(), level=float("nan"))
    bad = _results()
    bad.loc[0, "coldness"] = -1.0
    with pytest.raises(ValueError, match="results' coldness column must hold finite numbers > 0"):
        modes.coldness_needed(bad)


def test_coldness_accepts_numpy_scalars():
    assert modes.paired_differences(_results(), "with", "without", np.float64(1.0)).shape[0] == 2
    assert UnifiedAttention([2, 3], exogenous=False, coldness=np.float32(0.5)) is not None


# ----------------------------------------------------------------------------- numpy scalars in emma.method


def test_numpy_scalars_are_numbers_throughout_the_method():
    dae = DenoisingAutoencoder(np.int64(2), np.int64(12), np.float32(0.1))
    assert (dae.d_input, dae.d_hidden) == (2, 12) and type(dae.d_input) is int
    params = initial_parameters(np.int64(3))
    assert params["shared_weight"].shape == (3, 3)
    model = EMMA([DenoisingAutoencoder(2, 4, 0.0), DenoisingAutoencoder(3, 4, 0.0)], np.array([0.0, 0.0]), np.float32(0.1))
    assert model.coldness.item() == pytest.approx(0.1)
    out = attention_scores(torch.ones(2, 3), torch.zeros(3), **params, coldness=np.float64(0.1))
    assert torch.isfinite(out.beta).all()
    assert torch.isfinite(energy_threshold(out.log_partition, np.float32(1.0), np.float64(0.5), np.float32(0.1))).all()
    curves = train_one_autoencoder(dae, torch.randn(20, 2), epochs=np.int64(1), batch_size=np.int64(5), lr=np.float32(1e-3), seed=np.int64(3),
                               progress=False)
    assert len(curves) == 1


@pytest.mark.parametrize("seed", [-1, 1.5, "0", True])
def test_train_autoencoder_refuses_a_bad_seed(seed):
    with pytest.raises(ValueError, match="seed must be an integer >= 0"):
        train_one_autoencoder(DenoisingAutoencoder(2, 4, 0.0), torch.zeros(4, 2), epochs=1, batch_size=2, seed=seed, progress=False)


# ----------------------------------------------------------------------------- study plans


CONFIG = {"rho": 1e-4, "lambda_c": 0.0, "lambda_e": 0.0}


@pytest.mark.parametrize("seeds, message", [([], "seeds must hold at least one seed"), ([0, 0], "seeds must not repeat a seed"),
                                            ([-1], "each of seeds must be an integer >= 0"), (3, "seeds must be a list")])
def test_plan_refuses_bad_seeds(seeds, message):
    with pytest.raises(ValueError, match=message):
        plan(SOUND, seeds, [CONFIG])


@pytest.mark.parametrize("change, message", [({"rho": -1.0}, r"configs\[0\]: rho must be a finite number > 0"),
                                             ({"rho": 0.0}, r"configs\[0\]: rho must be"),
                                             ({"rho": float("nan")}, r"configs\[0\]: rho must be"),
                                             ({"lambda_c": -0.1}, r"configs\[0\]: lambda_c must be a finite number >= 0"),
                                             ({"lambda_e": float("inf")}, r"configs\[0\]: lambda_e must be")])
def test_plan_refuses_bad_configurations_by_name(change, message):
    with pytest.raises(ValueError, match=message):
        plan(SOUND, [0], [{**CONFIG, **change}])


def test_plan_refuses_a_configuration_without_rho():
    with pytest.raises(ValueError, match=r"configs\[0\] has no 'rho'"):
        plan(SOUND, [0], [{"lambda_c": 0.0, "lambda_e": 0.0}])


def test_plan_accepts_numpy_seeds_and_keeps_its_rows():
    table = plan(SOUND, np.array([0, 2]), [CONFIG])
    assert sorted(set(table["seed"])) == [0, 2] and len(table) == 12


def test_plan_gives_a_configuration_without_a_protocol_to_every_protocol():
    from emma.engine.protocol import ORIGINAL

    configs = pd.DataFrame([{**CONFIG, "protocol": SOUND}, {**CONFIG, "rho": 1e-2}])  # the second row's protocol is nan
    table = plan([SOUND, ORIGINAL], [0], configs, families=("with",))
    assert sorted((row.rho, row.protocol.label()) for row in table.itertuples()) == [(1e-4, "sound"), (1e-2, "original"), (1e-2, "sound")]


def test_a_float64_value_too_large_for_a_float32_model_is_named():
    with pytest.raises(ValueError, match=r"x cast to the model's torch.float32 contains non-finite values: inf at row 0"):
        DenoisingAutoencoder(2, 4, 0.0).potential(torch.tensor([[1e39, 0.0]], dtype=torch.float64))


# ----------------------------------------------------------------------------- unknown keys are named, not ignored (issue 25)


def test_a_typo_in_a_sweeps_configuration_is_named_before_anything_trains():
    from emma.engine.launch import run_sweep

    expected = r"unknown key\(s\) \['lamda_e'\]; a model's configuration holds only \['seed', 'rho', 'lambda_c', 'lambda_e', 'protocol'\]"
    with pytest.raises(ValueError, match=expected):
        run_sweep("with", [{"seed": 0, "rho": 0.1, "lamda_e": 0.01}], None, progress=False)  # no data needed: refused first


def test_check_configs_names_an_unknown_column_and_bad_values_by_row():
    from emma.engine.configs import check_configs

    with pytest.raises(ValueError, match=r"unknown key\(s\) \['label'\]"):
        check_configs(pd.DataFrame({"seed": [0], "label": ["a"]}))
    for config, message in (({"seed": 0.5}, r"configs\[0\]: seed must be an integer"), ({"seed": 2**70}, r"configs\[0\]: seed must be an integer"),
                            ({"seed": 0, "rho": "x"}, r"configs\[0\]: rho \(coldness ρ\) must be a finite number > 0"),
                            ({"seed": 0, "lambda_c": float("nan")}, r"configs\[0\]: lambda_c must be a finite number >= 0")):
        with pytest.raises(ValueError, match=message):
            check_configs([config])
    table = check_configs([{"seed": np.int64(1), "lambda_e": 0.01}])
    assert table.iloc[0].to_dict() == {"seed": 1, "rho": 1.0, "lambda_c": 0.0, "lambda_e": 0.01, "protocol": SOUND}


def test_plan_names_an_unknown_configuration_key():
    with pytest.raises(ValueError, match=r"configs\[1\] has unknown key\(s\) \['lamda_e'\]; a configuration holds only"):
        plan(SOUND, [0], [CONFIG, {"rho": 1e-2, "lambda_c": 0.0, "lambda_e": 0.0, "lamda_e": 0.01}])


def test_train_settings_name_an_unknown_setting_and_check_every_value():
    from emma.engine.configs import TrainSettings

    assert TrainSettings.from_record({"epochs": 3, "lr": 0.01}) == TrainSettings(epochs=3, lr=0.01)
    with pytest.raises(ValueError, match=r"TrainSettings has no setting\(s\) \['epoch'\]; its settings are \['epochs'"):
        TrainSettings.from_record({"epoch": 3})
    for bad, message in (({"lr": "x"}, "lr must be a finite number > 0"), ({"clean_fraction": 1.5}, r"clean_fraction must be a finite number in \[0.0, 1.0\]"),
                         ({"sigma": float("nan")}, "sigma must be a finite number >= 0"), ({"epochs": 0}, "epochs must be an integer >= 1")):
        with pytest.raises(ValueError, match=message):
            TrainSettings(**bad)


def test_the_autoencoders_settings_of_a_study_are_one_dae_settings():
    from emma.engine.autoencoders import THESIS_DAE, check_dae
    from emma.experiments.study import fit_study_energies

    with pytest.raises(TypeError, match="dae must be a DAESettings"):
        fit_study_energies(None, [0], [SOUND], None, dae={"d_hidden": 12})  # refused before any data is touched
    with pytest.raises(TypeError, match=r"\['device'\] are no autoencoder settings"):
        THESIS_DAE.override(device="cpu")  # the study sets the device itself
    with pytest.raises(TypeError, match=r"dae\[1\] must be a DAESettings"):
        check_dae([THESIS_DAE, {"epochs": 3}], 2)
    assert check_dae(THESIS_DAE) is THESIS_DAE and check_dae(THESIS_DAE, 2) == [THESIS_DAE, THESIS_DAE]


# ----------------------------------------------------------------------------- public calls name their argument (issue 25)


@pytest.mark.parametrize(("gain", "bias", "name"), [("a", "b", "gain"), (1.0, "b", "bias"), (None, 0.0, "gain"), ([1.0, "x"], 0.0, "gain")])
def test_capacity_names_the_argument_that_is_no_number(gain, bias, name):
    from emma.method.regularizers import capacity, capacity_relu

    for function in (capacity, capacity_relu):
        with pytest.raises(TypeError, match=f"{name} must be a number or a tensor of numbers"):
            function(gain, bias)
    assert capacity(np.float64(1.0), 0).item() == pytest.approx(0.4338, abs=1e-4)


def test_the_decibel_conversions_name_their_argument():
    from emma.data.noise import nsr_db_to_sigma, sigma_to_nsr_db

    for bad in ("x", [1.0, "x"], None):
        with pytest.raises(ValueError, match="db must be a number or -inf"):
            nsr_db_to_sigma(bad)
        with pytest.raises(ValueError, match="sigma must be finite and >= 0"):
            sigma_to_nsr_db(bad)
    assert nsr_db_to_sigma(-np.inf) == 0.0 and sigma_to_nsr_db(1.0) == 0.0


def test_fetch_htru2_names_a_data_home_that_is_no_folder_instead_of_reading_another_copy(tmp_path, monkeypatch):
    from emma.data.htru2 import HTRU2NotFoundError, fetch_htru2

    monkeypatch.setenv("EMMA_DATA_DIR", str(tmp_path))  # would be read next, were data_home skipped
    (tmp_path / "HTRU_2.csv").write_text("not read\n")
    with pytest.raises(ValueError, match="data_home must be None or the path of a folder holding HTRU_2.csv .* got 123"):
        fetch_htru2(data_home=123)
    missing = tmp_path / "nonexistent"
    with pytest.raises(HTRU2NotFoundError, match=f"data_home {missing} is not a folder"):
        fetch_htru2(data_home=missing, download=False)
    with pytest.raises(HTRU2NotFoundError, match="is not a folder \\(a file\\)"):
        fetch_htru2(data_home=tmp_path / "HTRU_2.csv", download=False)


@pytest.mark.parametrize("seed", [2**64, 2**70, -1, 1.0, True, "0"])
def test_seed_everything_names_a_seed_out_of_torchs_range(seed):
    from emma.util.runtime import seed_everything

    with pytest.raises(ValueError, match=r"seed must be an integer in \[0, 2\*\*64 - 1\]"):
        seed_everything(seed)
    assert seed_everything(2**64 - 1).initial_seed() == 2**64 - 1
