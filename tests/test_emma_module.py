"""Specifications of chapter 3's studies (emma.experiments.emma_module) and figures (emma.experiments.emma_figures)."""
import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from emma.experiments import emma_figures as figures  # noqa: E402
from emma.experiments import emma_module as em  # noqa: E402
from emma.method import derivations  # noqa: E402

SMALL_DEMO = dict(latent=2, n_train=300, n_test=80, hidden=6, epochs=2, batch_size=64, seed=0)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def demo():
    return em.module_demo((4, 3), corruption=5.0, **SMALL_DEMO)


# --------------------------------------------------------------------------- the toy modes and the demonstration


def test_a_toy_mode_lies_near_the_plane_of_its_basis():
    generator = torch.Generator().manual_seed(0)
    basis = torch.randn(2, 5, generator=generator)
    x = em.toy_mode(2_000, basis, generator)
    assert x.shape == (2_000, 5)
    coefficients = torch.linalg.lstsq(basis.T, x.T).solution  # the best point of the plane for each sample
    residual = x - (basis.T @ coefficients).T
    assert residual.std().item() == pytest.approx(0.05 * math.sqrt(3 / 5), rel=0.1)  # 3 of 5 noise directions leave the plane
    assert x.std().item() > 0.5, "the samples spread along the plane"


def test_the_demonstration_scores_every_mode_in_every_corruption_case(demo):
    assert list(demo.scores.columns) == list(em.DEMO_COLUMNS)
    assert demo.scores["corrupted"].unique().tolist() == ["none", "mode 1", "mode 2"]
    assert len(demo.scores) == 3 * 2 and demo.n_modes == 2
    assert demo.view.shape == (3, 3 * 2)
    assert ((demo.scores["beta"] >= 0) & (demo.scores["beta"] < 1)).all()
    sums = demo.scores.groupby("corrupted")["alpha"].sum()
    assert np.allclose(sums, 1.0, atol=1e-6), "α is a distribution over the modes, and so is its mean"


def test_a_strongly_corrupted_mode_gets_a_higher_potential_and_a_lower_importance(demo):
    psi = demo.scores.pivot(index="corrupted", columns="mode", values="psi")
    for mode in (1, 2):
        assert psi.loc[f"mode {mode}", mode] > psi.loc["none", mode]
    assert demo.corrupted_modes_lose_importance
    assert all(noisy < clean for clean, noisy in demo.falls)


def test_the_demonstration_is_reproducible_and_the_seed_changes_it(demo):
    again = em.module_demo((4, 3), corruption=5.0, **SMALL_DEMO)
    pd.testing.assert_frame_equal(again.scores, demo.scores)
    other = em.module_demo((4, 3), corruption=5.0, **{**SMALL_DEMO, "seed": 1})
    assert not np.allclose(other.scores["psi"], demo.scores["psi"])


def test_falls_read_each_modes_importance_clean_and_when_it_is_corrupted():
    scores = pd.DataFrame({"corrupted": ["none", "none", "mode 1", "mode 1", "mode 2", "mode 2"], "mode": [1, 2] * 3,
                           "psi": 0.0, "modal_energy": 0.0, "alpha": [0.5, 0.5, 0.3, 0.7, 0.6, 0.4], "beta": 0.0})
    demo = em.ModuleDemo(model=None, scores=scores)
    assert demo.falls == [(0.5, 0.3), (0.5, 0.4)]
    assert demo.corrupted_modes_lose_importance
    scores.loc[5, "alpha"] = 0.55
    assert not em.ModuleDemo(model=None, scores=scores).corrupted_modes_lose_importance


@pytest.mark.parametrize("kwargs, name", [
    ({"widths": [4]}, "widths"), ({"widths": [4, 0]}, "widths"), ({"widths": "44"}, "widths"), ({"latent": 0}, "latent"),
    ({"n_train": 0}, "n_train"), ({"epochs": 1.5}, "epochs"), ({"dae_noise": -0.1}, "dae_noise"),
    ({"corruption": float("nan")}, "corruption"), ({"coldness": 0.0}, "coldness"), ({"seed": -1}, "seed"),
])
def test_a_bad_demonstration_argument_is_named(kwargs, name):
    with pytest.raises(ValueError, match=name):
        em.module_demo(**{**SMALL_DEMO, **kwargs})


def test_a_bad_toy_mode_argument_is_named():
    with pytest.raises(ValueError, match="basis"):
        em.toy_mode(3, torch.ones(4), torch.Generator())
    with pytest.raises(ValueError, match="n "):
        em.toy_mode(0, torch.ones(2, 4), torch.Generator())


# --------------------------------------------------------------------------- the sympy reference and the checks


def test_the_sympy_reference_agrees_with_the_plain_python_evaluation_of_the_equations():
    generator = torch.Generator().manual_seed(3)
    for m in (2, 3):
        params = {k: v.numpy() for k, v in derivations.random_parameters(m, generator).items()}
        potentials = 4 * torch.rand(5, m, generator=generator, dtype=torch.float64).numpy()
        psi_min = np.full(m, 2.0)  # some potentials fall below it, so the max of eq. 5.2 acts
        ours = em.sympy_reference(potentials, psi_min, params, 0.7)
        by_hand = derivations.equations_by_hand(potentials, psi_min, params, 0.7)
        assert set(ours) == {"modal_energies", "alpha", "beta", "total_energy"}
        for key in ours:
            assert np.allclose(ours[key], np.asarray(by_hand[key], dtype=float), rtol=1e-12, atol=1e-12), key
        assert np.allclose(ours["alpha"].sum(axis=1), 1.0)


def test_the_sympy_equations_are_cached_and_hold_one_modal_energy_per_mode():
    assert em.sympy_equations(3) is em.sympy_equations(3)
    assert len(em.sympy_equations(3).modal) == 3
    assert "gamma_12" in str(em.sympy_equations(3).modal[0])
    with pytest.raises(ValueError, match="m "):
        em.sympy_equations(1)


def test_a_bad_reference_argument_is_named():
    with pytest.raises(ValueError, match="potentials"):
        em.sympy_reference(np.zeros(3), np.zeros(3), {}, 1.0)
    with pytest.raises(ValueError, match="params"):
        em.sympy_reference(np.zeros((2, 2)), np.zeros(2), {"gain": 1.0}, 1.0)


def test_the_checks_pass_with_the_sympy_reference_and_check_seven_uses_it(monkeypatch):
    checks = em.derivation_checks(n_draws=1, n_grid=4, steps=10, seed=0)
    assert len(checks) == 7 and checks["passed"].all()
    calls = []
    monkeypatch.setattr(em, "sympy_reference", lambda *args: calls.append(args) or {"modal_energies": 0.0, "alpha": 0.0,
                                                                                      "beta": 0.0, "total_energy": 0.0})
    broken = em.derivation_checks(n_draws=1, n_grid=4, steps=10, seed=0)
    assert calls and not broken.set_index("check")["passed"].iloc[-1], "a wrong reference fails check 7"
    with pytest.raises(ValueError, match="n_grid"):
        em.derivation_checks(n_grid=0)


# --------------------------------------------------------------------------- the boxed gradient and the simulation


def test_the_boxed_gradient_is_exact_without_coupling_and_its_error_is_read_at_the_initial_coupling():
    study = em.boxed_gradient_study((2, 3), (0.0, 0.25, 0.5, 1.0), n_draws=40, seed=0)
    table = study.table
    assert len(table) == 2 * 4
    assert np.allclose(table.loc[table["coupling"] == 0.0, "median_relative_error"], 0.0, atol=1e-12)
    assert (table.loc[table["coupling"] == 1.0, "median_relative_error"] > 0).all()
    part = table[table["n_modes"] == 3]
    assert study.at_initial_coupling[3] == pytest.approx(float(np.interp(0.5, part["coupling"], part["median_relative_error"])))
    at_one = table.loc[(table["n_modes"] == 2) & (table["coupling"] == 1.0), "median_relative_error"].iloc[0]
    assert study.at_initial_coupling[2] == pytest.approx(float(at_one)), "for M = 2 the initial coupling is 1"
    assert len(study.figure.axes) == 2


@pytest.mark.parametrize("kwargs, name", [({"n_modes": [1, 2]}, "n_modes"), ({"n_modes": []}, "n_modes"),
                                          ({"couplings": [-0.1]}, "couplings"), ({"n_draws": 0}, "n_draws")])
def test_a_bad_boxed_gradient_argument_is_named(kwargs, name):
    with pytest.raises(ValueError, match=name):
        em.boxed_gradient_study(**{"n_draws": 5, **kwargs})


def test_the_simulation_runs_every_case_both_ways_and_the_constrained_cases_follow_eq_5_20_and_5_21():
    simulation = em.regularizer_simulation(steps=20, lr=0.05, seed=0)
    assert list(simulation.trajectories) == [(title, p) for _, _, title in em.SIMULATION_CASES for p in em.PARAMETRISATIONS]
    directions = simulation.directions.set_index(["case", "parameters"])
    assert len(directions) == 8
    for _, _, title in em.SIMULATION_CASES[:2]:
        assert directions.loc[(title, "energies"), "clean_falling"] == 1.0
        assert directions.loc[(title, "energies"), "corrupted_rising"] == 1.0
    assert np.isnan(directions.loc[(em.SIMULATION_CASES[3][2], "energies"), "clean_falling"]), "no clean mode"
    assert len(simulation.trajectories[(em.SIMULATION_CASES[0][2], "module")]) == 21 * 4
    assert len(simulation.figure.axes) == 8
    with pytest.raises(ValueError, match="lr"):
        em.regularizer_simulation(steps=2, lr=0.0)


def test_the_findings_count_the_checks_and_report_each_modes_fall_in_importance():
    checks = pd.DataFrame({"check": ["a", "b"], "passed": [True, False], "thesis_verdict": ["right", "wrong"]})
    scores = pd.DataFrame({"corrupted": ["none", "none", "mode 1", "mode 1", "mode 2", "mode 2"], "mode": [1, 2] * 3,
                           "psi": 0.0, "modal_energy": 0.0, "alpha": [0.5, 0.5, 0.25, 0.75, 0.6, 0.4], "beta": 0.0})
    text = em.findings(checks, em.ModuleDemo(model=None, scores=scores))
    assert text.startswith("- 1 of 2 derivation checks pass")
    assert "*a*: right; *b*: wrong." in text
    assert "mode 1 from 0.500 to 0.250, mode 2 from 0.500 to 0.400." in text
    with pytest.raises(ValueError, match="checks_table"):
        em.findings(checks.drop(columns="passed"), em.ModuleDemo(model=None, scores=scores))
    with pytest.raises(ValueError, match="demo"):
        em.findings(checks, scores)


# --------------------------------------------------------------------------- the figures


def test_each_figure_has_its_panels():
    assert len(figures.framework_diagram().axes) == 1
    assert len(figures.shared_energy_figure(10.0).axes) == 2
    fig = figures.boltzmann_figure([1.0, 2.0, 3.0], 1.0, 0.01)
    assert [len(ax.patches) for ax in fig.axes] == [3, 6]  # the energies; α at two temperatures
    heights = [p.get_height() for p in fig.axes[1].patches]
    assert heights[:3] == pytest.approx(torch.softmax(-torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64), 0).tolist())
    assert len(figures.attention_function_figure([(1.0, 0.0), (5.0, 1.0)]).axes) == 2


def test_the_attention_function_titles_give_both_capacities():
    fig = figures.attention_function_figure([(1.0, 0.8)])
    title = fig.axes[0].get_title()
    assert "eq. 5.11 = " in title and "with max = " in title
    assert any(line.get_xdata()[0] == pytest.approx(0.8) for line in fig.axes[0].lines if len(line.get_xdata()) == 2), "the threshold b_a/g_a"


@pytest.mark.parametrize("call, name", [
    (lambda: figures.shared_energy_figure(0.0), "self_energy"),
    (lambda: figures.boltzmann_figure([], 0.1, 0.01), "energies"),
    (lambda: figures.boltzmann_figure([1.0], 0.0, 0.01), "low_temperature"),
    (lambda: figures.attention_function_figure([(1.0,)]), "settings"),
    (lambda: figures.attention_function_figure([(0.0, 0.5)]), "g_a"),
    (lambda: figures.boxed_gradient_figure(pd.DataFrame({"n_modes": [2]})), "table"),
    (lambda: figures.regularizer_figure({}), "trajectories"),
])
def test_a_bad_figure_argument_is_named(call, name):
    with pytest.raises(ValueError, match=name):
        call()
