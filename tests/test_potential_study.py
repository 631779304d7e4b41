"""Experiment I in calls (emma.experiments.potential_study) and its figures (emma.experiments.potential_figures)."""
from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
import torch

from emma.data.htru2 import MODE_NAMES, MODE_SLICES
from emma.engine.autoencoders import DAESettings
from emma.engine.energy import fit_htru2_energy_models
from emma.experiments import potential_figures as figures
from emma.experiments import potential_study as study
from emma.experiments.potentials import batch_coupled_potential

matplotlib.use("Agg")
DATA_DIR = Path(os.environ.get("EMMA_DATA_DIR") or Path(__file__).resolve().parents[2] / "shared" / "data")
#: Small settings keep the tests fast; the behaviour under test does not depend on them.
TINY = DAESettings(d_hidden=4, noise_std=0.1, epochs=2, batch_size=32, lr=1e-2)


@pytest.fixture(scope="module")
def main(splits):
    """Two seeds of per-mode autoencoders on the synthetic splits of conftest."""
    energies = dict(zip([0, 1], fit_htru2_energy_models(splits, [0, 1], dae=TINY, progress=False)))
    return study.MainAutoencoders.from_energies(splits, energies, TINY)


@pytest.fixture(scope="module")
def sweep(main):
    return study.noise_sweep(main, sigma_max=2.0, n_sigmas=5, training_sigma=0.3)


@pytest.fixture(scope="module")
def unseen(main):
    return study.unseen_class(main, long_epochs=[4])


@pytest.fixture(scope="module")
def missing(main, unseen):
    return study.missing_mode(main, unseen)


def test_training_on_htru2_gives_one_pair_of_autoencoders_and_psi_min_rows_per_seed():
    main = study.main_autoencoders([3, 1], dae=TINY.override(epochs=1), data_home=DATA_DIR, device="cpu")
    assert main.seeds == [3, 1] and main.epochs == 1
    assert list(zip(main.psi_min["seed"], main.psi_min["mode"])) == [(3, "IP"), (3, "DM"), (1, "IP"), (1, "DM")]
    assert np.allclose(main.psi_min["psi_min"], torch.cat([main.energies[s].psi_min for s in (3, 1)]).numpy())
    summary = main.psi_min_summary()
    assert list(summary.index) == list(MODE_NAMES) and ("psi_min", "std") in summary.columns and "seed" not in summary.columns.get_level_values(0)
    assert np.isclose(summary.loc["IP", ("psi_min", "mean")], main.psi_min.query("mode == 'IP'")["psi_min"].mean())


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(dae={"d_hidden": 4}), TypeError, "dae must be a DAESettings"),
    (dict(seeds=[0, 0]), ValueError, "seeds must not repeat"),
    (dict(split_seed=-1), ValueError, "split_seed"),
])
def test_bad_training_arguments_are_rejected_before_anything_is_read(kwargs, error, match):
    arguments = {"seeds": [0], "dae": TINY, "data_home": "/nonexistent", **kwargs}
    with pytest.raises(error, match=match):
        study.main_autoencoders(arguments.pop("seeds"), **arguments)


def test_the_noise_sweep_holds_every_sigma_and_the_training_sigma_and_rises_from_zero(sweep):
    assert sorted(set(sweep.table["sigma"])) == [0.0, 0.3, 0.5, 1.0, 1.5, 2.0]
    assert len(sweep.table) == 2 * 6 and set(sweep.table["n_seeds"]) == {2}
    clean = sweep.table[sweep.table["sigma"] == 0]
    assert np.allclose(clean["psi_rise"], 0.0) and np.allclose(clean["psi_auroc"], 0.5)  # noisy = clean at σ = 0: chance
    top = sweep.table[sweep.table["sigma"] == 2.0]
    assert (top["quadratic_mean"].to_numpy() > clean["quadratic_mean"].to_numpy()).all()
    assert (top["recon_auroc"] > 0.5).all()


def test_the_auroc_lines_give_the_training_sigma_and_the_largest_per_mode(sweep):
    lines = sweep.auroc_lines().splitlines()
    assert [line.split(" at ")[0] for line in lines] == ["IP", "IP", "DM", "DM"]
    assert "σ = 0.30" in lines[0] and "σ = 2.00" in lines[1]


@pytest.mark.parametrize("kwargs, match", [(dict(sigma_max=0.0), "sigma_max"), (dict(n_sigmas=1), "n_sigmas"),
                                           (dict(training_sigma=3.0), "training_sigma")])
def test_bad_sweep_arguments_are_rejected(main, kwargs, match):
    with pytest.raises(ValueError, match=match):
        study.noise_sweep(main, **kwargs)


def test_a_result_of_the_wrong_kind_is_named():
    with pytest.raises(TypeError, match="main must be a MainAutoencoders"):
        study.noise_sweep("not a result")


def test_the_unseen_class_trains_each_length_per_seed_and_scores_the_main_autoencoders_on_the_rare_class(main, unseen):
    assert unseen.epochs == [2, 4] and sorted(unseen.energies) == [(2, 0), (2, 1), (4, 0), (4, 1)]
    pulsar_only = unseen.table[unseen.table["trained_on"] == study.PULSARS_ONLY]
    assert list(zip(pulsar_only["epochs"], pulsar_only["mode"])) == [(2, "IP"), (2, "DM"), (4, "IP"), (4, "DM")]
    main_rows = unseen.runs[unseen.runs["trained_on"] == study.ALL_ROWS]
    assert set(main_rows["flagged_class"]) == {"pulsar (rare)"} and sorted(set(main_rows["seed"])) == [0, 1]
    assert unseen.table[["psi_auroc", "recon_auroc", "distance_auroc"]].apply(lambda c: c.between(0, 1)).all().all()


def test_bad_long_epochs_are_rejected(main):
    with pytest.raises(ValueError, match="long_epochs"):
        study.unseen_class(main, long_epochs=[0])


def test_the_missing_modes_percentile_is_the_share_of_clean_test_samples_below_it(main, missing):
    assert len(missing.runs) == 2 * 2 * 2  # (trained on, seed, mode)
    energy, x = main.energies[1], main.splits.test.x
    psi_zero, psi = energy.potentials(torch.zeros(1, 8))[0], energy.potentials(x)
    row = missing.runs.query("trained_on == @study.ALL_ROWS and seed == 1 and mode == 'DM'").iloc[0]
    assert np.isclose(row["percentile_of_missing"], 100 * (psi[:, 1] < psi_zero[1]).float().mean().item())
    assert np.isclose(row["missing_minus_median"], (psi_zero[1] - psi[:, 1].median()).item(), atol=1e-6)
    assert list(missing.table["trained_on"].unique()) == [study.ALL_ROWS, study.PULSARS_ONLY]


def test_the_missing_mode_needs_pulsar_only_autoencoders_as_long_as_the_main_ones(main, unseen):
    shorter = study.UnseenClass({k: v for k, v in unseen.energies.items() if k[0] != 2}, unseen.runs, unseen.table, [4])
    with pytest.raises(ValueError, match="pulsar-only autoencoders of 2 epochs"):
        study.missing_mode(main, shorter)


def test_the_batch_coupled_mean_exceeds_the_per_sample_one_by_the_rest_of_the_batchs_quadratic_term(main):
    table = study.batch_coupling(main, n_batch=20, sigmas=[0.0, 1.0])
    assert list(zip(table["mode"], table["sigma"])) == [("IP", 0.0), ("IP", 1.0), ("DM", 0.0), ("DM", 1.0)]
    assert (table["batch_coupled_mean"] > table["per_sample_mean"]).all()
    generator = torch.Generator().manual_seed(0)  # the draws of batch_coupling for the first seed
    batch = main.splits.test.x[torch.randperm(len(main.splits.test), generator=generator)[:20]][:, MODE_SLICES["IP"]]
    model = main.energies[0].models[0]
    assert np.isclose(table["per_sample_mean"].iloc[0], model.potential(batch).mean().item())
    assert np.isclose(table["batch_coupled_mean"].iloc[0], batch_coupled_potential(model, batch).mean().item())
    assert table.equals(study.batch_coupling(main, n_batch=20, sigmas=[0.0, 1.0]))  # the same draws again


@pytest.mark.parametrize("kwargs, match", [(dict(n_batch=1), "n_batch"), (dict(sigmas=[]), "sigmas"), (dict(seed=7), "seed must be one of")])
def test_bad_coupling_arguments_are_rejected(main, kwargs, match):
    with pytest.raises(ValueError, match=match):
        study.batch_coupling(main, **kwargs)


def test_the_claims_judge_five_claims_and_the_findings_list_them(sweep, unseen, missing):
    claims = study.claims(sweep, unseen, missing)
    assert list(claims["id"]) == ["psi_rises_with_noise", "psi_separates_noisy_mode", "psi_flags_unseen_class",
                                  "psi_beats_reconstruction_error", "missing_mode_high_psi"]
    lines = study.findings(claims).splitlines()
    assert len(lines) == 5 and all(line.startswith("- *") and f"**{v}**" in line for line, v in zip(lines, claims["verdict"]))
    assert "σ = 0.3" in study.summary(sweep, unseen, missing)
    with pytest.raises(ValueError, match="claims_table"):
        study.findings(pd.DataFrame({"claim": ["x"]}))


def test_the_thresholds_are_the_registered_minimum_effects_above_chance():
    assert 0.5 < study.good_auroc() < 1.0 and 50 < study.missing_percentile() < 100


def test_every_figure_draws_its_panels(main, sweep, unseen):
    drawn = {"learning_curves": figures.learning_curves(main), "vs_noise": figures.potential_vs_noise(sweep),
             "detection": figures.noise_detection(sweep), "histograms": figures.unseen_class_histograms(main, unseen),
             "ood_curves": figures.unseen_class_learning_curves(unseen), "missing": figures.missing_mode(main, sweep, seed=1)}
    assert {name: len(fig.axes) for name, fig in drawn.items()} == {"learning_curves": 1, "vs_noise": 2, "detection": 2, "histograms": 6,
                                                                     "ood_curves": 1, "missing": 2}
    assert len(drawn["vs_noise"].axes[0].lines) == 2 + 1 + 1 + 1  # one thin line per seed, the mean, the quadratic term, the σ line
    with pytest.raises(ValueError, match="seed must be one of"):
        figures.learning_curves(main, seed=9)
    with pytest.raises(TypeError, match="sweep must be a NoiseSweep"):
        figures.noise_detection(main)
