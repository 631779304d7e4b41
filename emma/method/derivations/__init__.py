"""The mathematics of thesis chapter 5 and appendix B, re-derived and checked two ways.

Each ``check_*`` function verifies one step of the thesis symbolically (sympy) and
numerically (autograd, quadrature, simulation) on the package's own code, and
returns one row of the ``derivation_checks`` table:

``check``, ``equation``, ``method``, ``max_abs_error``, ``tolerance``, ``passed``,
``thesis_verdict`` and ``note``.

``passed`` always refers to the *corrected* statement (what this book uses);
``thesis_verdict`` says whether the statement as printed in the thesis holds, and the
note says what is wrong and by how much. All numbers are computed in float64.

The seven checks, and the module that holds each:

1. potential energy of a tied autoencoder (eq. 4.5–4.7): :mod:`.potential`
   (``symbolic_potential``, ``check_potential_energy``),
2. the capacity integral (eq. 5.9–5.11) and the capacity of the function actually used:
   :mod:`.capacity_integral` (``symbolic_capacity``, ``check_capacity``),
3. the energy threshold (eq. 5.8): :mod:`.threshold` (``symbolic_threshold``,
   ``check_energy_threshold``),
4. the gradient of log α and the boxed gradient of Ω (eq. 5.15–5.19): :mod:`.gradient`
   (``omega_energy_gradient``, ``energy_partials``, ``omega_parameter_gradients``,
   ``symbolic_log_alpha_gradient``, ``symbolic_energy_coupling``,
   ``check_log_alpha_gradient``, ``boxed_gradient_discrepancy``),
5. the update rules for even / odd M and the "collapse" case (eq. 5.20–5.22):
   :mod:`.update_rules` (``update_coefficient``, ``symbolic_update_rules``,
   ``simulate_energy_regularizer``, ``direction_shares``, ``check_update_rules``),
6. ∂e_ij/∂γ_ij (appendix B.2): :mod:`.gamma` (``symbolic_gamma_gradient``,
   ``check_gamma_gradient``),
7. the module against an independent evaluation of eq. 5.2–5.7: :mod:`.equations`
   (``equations_by_hand``, ``potential_by_hand``, ``check_module_against_equations``).

:mod:`.table` runs all seven (``derivation_checks``); :mod:`._common` holds what they
share (``DTYPE``, ``random_parameters``, the row and error helpers); :mod:`.latex`
writes a long sympy sum on aligned lines for the page (``aligned_terms``). Every name is
importable from ``emma.method.derivations`` itself.

The ``symbolic_*`` functions are cached (sympy is slow); treat what they return as read-only.
"""
from ._common import DTYPE, random_parameters
from .capacity_integral import check_capacity, symbolic_capacity
from .equations import check_module_against_equations, equations_by_hand, potential_by_hand
from .gamma import check_gamma_gradient, symbolic_gamma_gradient
from .gradient import (
    boxed_gradient_discrepancy,
    check_log_alpha_gradient,
    energy_partials,
    omega_energy_gradient,
    omega_parameter_gradients,
    symbolic_energy_coupling,
    symbolic_log_alpha_gradient,
)
from .latex import aligned_terms
from .potential import check_potential_energy, symbolic_potential
from .table import derivation_checks
from .threshold import check_energy_threshold, symbolic_threshold
from .update_rules import (
    check_update_rules,
    direction_shares,
    simulate_energy_regularizer,
    symbolic_update_rules,
    update_coefficient,
)

__all__ = [
    "DTYPE",
    "aligned_terms",
    "random_parameters",
    "symbolic_potential",
    "check_potential_energy",
    "symbolic_capacity",
    "check_capacity",
    "symbolic_threshold",
    "check_energy_threshold",
    "omega_energy_gradient",
    "energy_partials",
    "omega_parameter_gradients",
    "symbolic_log_alpha_gradient",
    "symbolic_energy_coupling",
    "check_log_alpha_gradient",
    "boxed_gradient_discrepancy",
    "update_coefficient",
    "symbolic_update_rules",
    "simulate_energy_regularizer",
    "direction_shares",
    "check_update_rules",
    "symbolic_gamma_gradient",
    "check_gamma_gradient",
    "equations_by_hand",
    "potential_by_hand",
    "check_module_against_equations",
    "derivation_checks",
]
