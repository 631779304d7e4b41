"""Each derivation of thesis chapter 5 and appendix B as a test (the package emma/method/derivations/).

Where the thesis is wrong, the test asserts the corrected statement and, separately,
that the printed one fails.
"""
import numpy as np
import pytest
import sympy as sp
import torch

from emma.method import derivations as d

COLUMNS = ["check", "equation", "method", "max_abs_error", "tolerance", "passed", "thesis_verdict", "note"]


def assert_passed(row):
    assert set(COLUMNS) <= set(row)
    assert row["max_abs_error"] <= row["tolerance"], row
    assert row["passed"], row["note"]


# ------------------------------------------------------------------ check 1: eq. 4.5–4.7


def test_potential_of_eq_4_7_is_the_integral_of_the_reconstruction_field():
    assert_passed(d.check_potential_energy(n_points=16))


def test_line_integral_recovers_eq_4_7_up_to_a_constant():
    sym = d.symbolic_potential()
    assert not sym["difference_4_7"].free_symbols & set(sym["x"])
    assert sym["field_error_4_7"] == sp.zeros(2, 1)


def test_draft_eq_4_6_field_is_off_by_minus_two_x():
    sym = d.symbolic_potential()
    assert sp.simplify(sym["field_error_4_6"] + 2 * sym["x"]) == sp.zeros(2, 1)


# ------------------------------------------------------------------ check 2: eq. 5.9–5.11


def test_capacity_closed_forms_match_sympy_and_quadrature():
    assert_passed(d.check_capacity(n_grid=5))


def test_draft_capacity_with_plus_bias_is_not_the_integral_of_eq_5_7():
    sym = d.symbolic_capacity()
    values = {sym["g"]: 2.0, sym["b"]: 0.5}
    assert abs(float(sym["integral"].subs(values)) - float(sym["draft_form"].subs(values))) > 0.1
    assert abs(float(sym["integral"].subs(values)) - float(sym["closed_form"].subs(values))) < 1e-12


# ------------------------------------------------------------------ check 3: eq. 5.8


def test_beta_is_positive_exactly_below_the_energy_threshold():
    assert_passed(d.check_energy_threshold(n_samples=300))


def test_threshold_is_where_the_margin_changes_sign_and_the_margin_decreases():
    sym = d.symbolic_threshold()
    assert sym["slope"].is_negative
    assert sp.simplify(sp.expand_log(sym["root"] - sym["threshold"], force=True)) == 0


# ------------------------------------------------------------------ check 4: eq. 5.15–5.19


def test_gradient_of_omega_follows_the_chain_rule_through_all_modal_energies():
    assert_passed(d.check_log_alpha_gradient(n_draws=1, batch=4))


def test_bracket_of_eq_5_19_holds_for_every_corruption_pattern():
    assert d.symbolic_log_alpha_gradient(2)
    assert d.symbolic_log_alpha_gradient(3)


def test_self_parameters_of_one_mode_enter_the_other_modal_energies():
    coupling = d.symbolic_energy_coupling(3)
    assert coupling["matches_closed_form"]
    assert coupling[("b", 1, 0)] != 0 and coupling[("w", 1, 0)] != 0
    assert coupling[("w_ij", 1, 0)] == 0 and coupling[("gamma_ij", 1, 0)] == 0


def test_boxed_gradient_is_exact_without_coupling_and_off_with_it():
    table = d.boxed_gradient_discrepancy(n_modes_list=(2, 3), couplings=(0.0, 1.0), n_draws=100)
    uncoupled = table[table["coupling"] == 0.0]
    coupled = table[table["coupling"] == 1.0]
    assert (uncoupled["median_relative_error"] < 1e-12).all()
    assert (coupled["median_relative_error"] > 0.05).all()


# ------------------------------------------------------------------ check 5: eq. 5.20–5.22


def test_update_rules_hold_under_the_constraint_on_clean_modes():
    assert_passed(d.check_update_rules(steps=20, n_modes_list=(2, 3, 4)))


def test_update_factor_with_one_clean_mode_too_many_is_xi_minus_two_or_three_alpha():
    rules = d.symbolic_update_rules()
    alpha, xi = rules["alpha"], rules["xi"]
    assert sp.simplify(rules["even"] - xi) == 0
    assert sp.simplify(rules["odd"] - (xi - alpha)) == 0
    assert sp.simplify(rules["even_plus_one"] - (xi - 2 * alpha)) == 0
    assert sp.simplify(rules["odd_plus_one"] - (xi - 3 * alpha)) == 0
    assert sp.simplify(rules["even_plus_one"] - (xi + alpha)) != 0  # eq. 5.22 as printed


def test_energies_never_all_decrease_under_the_energy_regularizer():
    run = d.simulate_energy_regularizer(4, 3, steps=30)  # the thesis's "collapse" case
    total = run.groupby("step")["energy"].sum().to_numpy()
    np.testing.assert_allclose(total, total[0], atol=1e-10)


def test_all_corrupted_sample_drives_one_energy_down():
    run = d.simulate_energy_regularizer(3, 0, steps=60)
    wide = run.pivot(index="step", columns="mode", values="energy")
    assert (wide.iloc[-1] < wide.iloc[0]).any()


def test_simulation_rejects_an_unknown_parametrisation():
    with pytest.raises(ValueError, match="parametrisation must be"):
        d.simulate_energy_regularizer(2, 1, parametrisation="weights")


# ------------------------------------------------------------------ check 6: appendix B.2


def test_gamma_derivative_is_log_ratio_not_log_product():
    assert_passed(d.check_gamma_gradient(batch=8))


def test_appendix_b2_is_off_by_minus_two_e_ij_log_e_j():
    sym = d.symbolic_gamma_gradient()
    e_i, e_j = sp.symbols("e_i e_j", positive=True)
    w, gamma = sp.symbols("w_ij gamma_ij", real=True)
    shared = w * e_i**gamma * e_j ** (1 - gamma)
    assert sym["minus_corrected"] == 0
    assert sp.simplify(sym["minus_thesis"] + 2 * shared * sp.log(e_j)) == 0


# ------------------------------------------------------------------ check 7: module vs eq. 5.2–5.7


def test_module_matches_an_independent_evaluation_of_the_equations():
    assert_passed(d.check_module_against_equations(batch=8))


def test_module_check_fails_against_a_wrong_reference():
    def wrong(potentials, psi_min, params, coldness):
        ref = d.equations_by_hand(potentials, psi_min, params, coldness)
        ref["beta"] = np.tanh(params["gain"] * ref["alpha"] - params["bias"])  # without the max
        return ref

    assert not d.check_module_against_equations(reference=wrong, batch=8)["passed"]


def test_potential_by_hand_matches_the_autoencoder():
    from emma.method.autoencoder import DenoisingAutoencoder

    torch.manual_seed(0)
    dae = DenoisingAutoencoder(3, 5, 0.01).double()
    x = torch.randn(6, 3, dtype=torch.float64)
    by_hand = d.potential_by_hand(x.numpy(), dae.weight.detach().numpy(), dae.bias_hidden.detach().numpy(), dae.bias_visible.detach().numpy())
    np.testing.assert_allclose(dae.potential(x).detach().numpy(), by_hand, atol=1e-12)


# ------------------------------------------------------------------ the table


def test_derivation_checks_table_has_seven_passing_rows():
    table = d.derivation_checks(n_draws=1, n_grid=4, steps=10)
    assert list(table.columns) == COLUMNS
    assert len(table) == 7
    assert table["passed"].all()
    assert [c.split()[0] for c in table["check"]] == [str(i) for i in range(1, 8)]
