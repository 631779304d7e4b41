"""The rules that decide a claim's verdict, used by every chapter.

Five words, :data:`VERDICTS`, each with a meaning a reader can check:

* *reproduced*: the effect points the claimed way, is at least the claim's **pre-declared
  minimum effect** (:mod:`emma.claims.registry`), is significant after Holm's correction within
  its kind, holds under the thesis's own decision rule, and under every other rule tested;
* *rule-dependent*: reproduced under the thesis's decision rule (the ROC corner) but not under at
  least one of the other rules (fixed 0.5, F1-optimal, AUROC, average precision); the row names
  the rules it holds under (:func:`emma.experiments.decision.judge_claims_under_rules`);
* *partly reproduced*: only for a claim made of named sub-cases, some of which hold; the row
  says "k of n sub-cases" and names them (:func:`sub_cases`);
* *inconclusive*: neither shown nor excluded: the confidence interval holds both zero and the
  minimum effect (or one seed, or a significant effect below the minimum that the interval
  cannot rule out);
* *not reproduced*: significant in the opposite direction, or the interval lies entirely below
  the minimum effect (an equivalence test: no effect that matters exists).

Every claim also has a kind, :data:`KINDS`: *core* (the thesis's abstract, contributions and
research questions), *secondary* (any other statement of the thesis) or *book* (a conjecture the
book tests beyond the thesis). The tests:

* :func:`paired_test`: "A beats B by at least δ", over seeds (one-sided paired t-test, and the
  (1 − 2α) two-sided interval, so that "significant" and "the interval excludes 0" agree);
* :func:`non_inferiority`: "A keeps the score of B", the same test against −margin;
* :func:`~emma.claims.plateau.levels_off`: "the curve levels off near a reference";
* :func:`sub_cases`: a claim checked case by case.

Every test-based row carries ``effect`` (in the claimed direction), ``ci_low``, ``ci_high``,
``n_seeds``, ``min_effect`` and ``detectable_effect``: the smallest true effect the test finds
with 80 % power at level α (:func:`detectable_effect`).

>>> paired_test([0.80, 0.82, 0.81], [0.70, 0.71, 0.73], min_effect=0.02).verdict
'reproduced'
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, stats

from emma.util import checks

#: The verdicts a claim can get, from best to worst.
VERDICTS = ("reproduced", "rule-dependent", "partly reproduced", "inconclusive", "not reproduced")
REPRODUCED, RULE_DEPENDENT, PARTLY, INCONCLUSIVE, NOT_REPRODUCED = VERDICTS
#: What a claim is, from the thesis's centre outwards.
KINDS = ("core", "secondary", "book")
#: The columns every claims table has, in this order (others may follow).
CLAIM_COLUMNS = ("id", "claim", "kind", "quote", "location", "thesis_evidence", "our_evidence", "verdict")
#: The evidence of a test-based row (left empty for a claim judged case by case).
EVIDENCE_COLUMNS = ("effect", "ci_low", "ci_high", "n_seeds", "min_effect", "detectable_effect")
#: The power at which :func:`detectable_effect` is computed.
POWER = 0.8
_ONE_SEED = "one seed: no test is possible, so nothing is shown"


def check_verdict(value: str) -> str:
    """``value`` if it is one of :data:`VERDICTS`, else a ``ValueError`` naming the vocabulary.

    >>> check_verdict("inconclusive")
    'inconclusive'
    """
    if not isinstance(value, str) or value not in VERDICTS:
        raise ValueError(f"verdict must be one of {VERDICTS}, got {value!r}")
    return value


def check_kind(value: str) -> str:
    """``value`` if it is one of :data:`KINDS`, else a ``ValueError`` naming them.

    >>> check_kind("core")
    'core'
    """
    if not isinstance(value, str) or value not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {value!r}")
    return value


def _check_flags(flags, name: str) -> list[bool]:
    values = list(flags)
    if not values:
        raise ValueError(f"{name} must hold at least one case, got none")
    if not all(isinstance(flag, (bool, np.bool_)) for flag in values):
        raise TypeError(f"{name} must be booleans (one per case), got {values!r}")
    return [bool(flag) for flag in values]


def verdict_from_flags(flags) -> str:
    """The verdict of a claim checked case by case: every case holds, some, or none.

    *reproduced* when all hold, *partly reproduced* when some do, *not reproduced* when none
    does. :func:`sub_cases` also names them, as a row must.

    >>> verdict_from_flags([True, True]), verdict_from_flags([True, False]), verdict_from_flags([False])
    ('reproduced', 'partly reproduced', 'not reproduced')
    """
    flags = _check_flags(flags, "flags")
    return REPRODUCED if all(flags) else PARTLY if any(flags) else NOT_REPRODUCED


def sub_cases(cases: dict) -> dict:
    """A claim made of named sub-cases: its verdict (:func:`verdict_from_flags`) and ``cases``, "k of n sub-cases hold: …".

    Parameters
    ----------
    cases : dict of str to bool
        Each sub-case's name and whether the claim holds there.

    >>> sub_cases({"IP": True, "DM": False})
    {'verdict': 'partly reproduced', 'cases': '1 of 2 sub-cases hold: IP; not: DM'}
    """
    if not isinstance(cases, dict) or not cases:
        raise ValueError(f"cases must be a non-empty dict of sub-case name to bool, got {cases!r}")
    flags = _check_flags(cases.values(), "cases")
    held = [name for name, flag in zip(cases, flags) if flag]
    missed = [name for name, flag in zip(cases, flags) if not flag]
    text = f"{len(held)} of {len(flags)} sub-cases hold" + (f": {', '.join(held)}" if held else "") + (f"; not: {', '.join(missed)}" if missed else "")
    return {"verdict": verdict_from_flags(flags), "cases": text}


def _check_alpha(alpha) -> float:
    return checks.number(alpha, "alpha", low=0.0, high=0.5, low_open=True, high_open=True)


def _check_positive(value, name: str, meaning: str = "") -> float:
    if not checks.is_number(value) or not 0 < value < np.inf:
        raise ValueError(f"{name} must be a finite number > 0{meaning}, got {value!r}")
    return float(value)


def _paired_differences(ours, reference) -> np.ndarray:
    ours, reference = np.asarray(ours, dtype=float), np.asarray(reference, dtype=float)
    if ours.ndim != 1 or ours.size == 0:
        raise ValueError(f"ours must be 1-D with one value per seed, got shape {ours.shape}")
    if reference.shape != ours.shape:
        raise ValueError(f"reference must have the shape of ours {ours.shape} (one value per seed), got {reference.shape}")
    if not (np.isfinite(ours).all() and np.isfinite(reference).all()):
        raise ValueError("ours and reference must be finite (a NaN score means a failed run)")
    return ours - reference


def detectable_effect(std: float, n: int, alpha: float = 0.05, power: float = POWER) -> float:
    """The smallest true mean difference a one-sided one-sample t-test at level ``alpha`` detects with ``power``.

    Solves P(T' > t₁₋α,ₙ₋₁) = ``power`` for the noncentrality of T' (``scipy.stats.nct``), then
    scales it by ``std / √n``. Undefined (``nan``) with fewer than 2 seeds or no spread.

    >>> round(detectable_effect(0.02, 5), 4), round(detectable_effect(0.02, 20), 4)
    (0.0272, 0.0115)
    """
    n = checks.integer(n, "n", low=1)
    alpha = _check_alpha(alpha)
    power = checks.number(power, "power", low=0.0, high=1.0, low_open=True, high_open=True)
    if not checks.is_number(std):
        raise ValueError(f"std must be a number (the sample standard deviation of the differences), got {std!r}")
    if n < 2 or not np.isfinite(std) or std <= 0:
        return float("nan")
    df, critical = n - 1, stats.t.ppf(1 - alpha, n - 1)
    nc = optimize.brentq(lambda nc: stats.nct.sf(critical, df, nc) - power, 0.0, 100.0)
    return float(nc * std / np.sqrt(n))


@dataclass(frozen=True)
class PairedTest:
    """The outcome of :func:`paired_test` or :func:`non_inferiority`.

    Attributes
    ----------
    mean, std : float
        Mean and sample standard deviation (ddof 1) of ours − reference (no std for one seed).
    n : int
        Seeds.
    t, p_value : float
        The one-sided test of H0: effect ≤ ``bound`` (0 for :func:`paired_test`, −margin for
        :func:`non_inferiority`), ``n − 1`` degrees of freedom.
    verdict : str
    effect : float
        The mean difference in the claimed direction (> 0: the thesis's way).
    ci_low, ci_high : float
        The (1 − 2α) two-sided t interval of ``effect``.
    min_effect : float
        What ``effect`` must reach: the pre-declared minimum effect, or −margin.
    detectable_effect : float
        The smallest true effect above ``bound`` the test detects with 80 % power.
    margin : float
        The non-inferiority margin (0 for :func:`paired_test`).
    note : str
        Why the verdict is what it is, in words.
    """

    mean: float
    std: float
    n: int
    t: float
    p_value: float
    verdict: str
    effect: float = float("nan")
    ci_low: float = float("nan")
    ci_high: float = float("nan")
    min_effect: float = float("nan")
    detectable_effect: float = float("nan")
    margin: float = 0.0
    note: str = ""

    def describe(self, digits: int = 3) -> str:
        """The evidence in one line, e.g. ``effect +0.012 (90 % CI +0.004 to +0.020), 20 seeds, p = 0.0018; minimum 0.010``."""
        if self.n < 2:
            return f"effect {self.effect:+.{digits}f} on 1 seed ({self.note})"
        return (f"effect {self.effect:+.{digits}f} (CI {self.ci_low:+.{digits}f} to {self.ci_high:+.{digits}f}), {self.n} seeds, "
                f"p = {self.p_value:.2g}; minimum {self.min_effect:+.{digits}f}, detectable {self.detectable_effect:.{digits}f}")

    def row(self) -> dict:
        """The evidence columns of a claims row (:data:`EVIDENCE_COLUMNS` and ``p_value``)."""
        return {"effect": self.effect, "ci_low": self.ci_low, "ci_high": self.ci_high, "n_seeds": self.n, "min_effect": self.min_effect,
                "detectable_effect": self.detectable_effect, "p_value": self.p_value, "verdict": self.verdict}


def judge_interval(effect: float, ci_low: float, ci_high: float, min_effect: float, bound: float = 0.0) -> tuple[str, str]:
    """The verdict of an effect from its interval: the rule every test of this module shares.

    ``effect`` points the claimed way when positive. Reproduced: the interval lies above
    ``bound`` (significant) and ``effect`` ≥ ``min_effect``. Not reproduced: the interval lies
    entirely below ``min_effect`` (reversed, or too small to matter). Otherwise inconclusive.
    Returns the verdict and a note saying which case it is.

    >>> judge_interval(0.03, 0.01, 0.05, 0.02)[0], judge_interval(0.01, -0.02, 0.04, 0.02)[0], judge_interval(0.0, -0.01, 0.01, 0.02)[0]
    ('reproduced', 'inconclusive', 'not reproduced')
    """
    if min_effect < bound:
        raise ValueError(f"min_effect must be at least bound ({bound!r}), in the effect's own scale, got {min_effect!r}")
    if not np.isfinite(ci_low):
        return INCONCLUSIVE, _ONE_SEED
    if ci_high < min_effect:
        reversed_ = ci_high < bound
        return NOT_REPRODUCED, "significantly the other way" if reversed_ else "the interval lies below the minimum effect (equivalence)"
    if ci_low > bound and effect >= min_effect:
        return REPRODUCED, "significant, and at least the minimum effect"
    if ci_low > bound:
        return INCONCLUSIVE, "significant, but below the minimum effect, which the interval does not exclude"
    return INCONCLUSIVE, "the interval holds both no effect and the minimum effect"


def _test(diff: np.ndarray, towards: float, bound: float, min_effect: float, alpha: float, margin: float) -> PairedTest:
    """The t-test of H0: oriented mean ≤ ``bound``, its interval, and the verdict (:func:`judge_interval`)."""
    oriented = diff * towards
    n, effect = oriented.size, float(oriented.mean())
    std = float(oriented.std(ddof=1)) if n > 1 else float("nan")
    if n == 1:
        return PairedTest(float(diff.mean()), std, 1, float("nan"), float("nan"), INCONCLUSIVE, effect, min_effect=min_effect, margin=margin, note=_ONE_SEED)
    se = std / np.sqrt(n)
    if se == 0:  # every seed gives the same difference: the interval is a point
        t = np.inf if effect > bound else -np.inf if effect < bound else 0.0
        p, low, high = (0.0 if effect > bound else 1.0), effect, effect
    else:
        t = (effect - bound) / se
        p = float(stats.t.sf(t, n - 1))
        half = stats.t.ppf(1 - alpha, n - 1) * se
        low, high = effect - half, effect + half
    verdict, note = judge_interval(effect, low, high, min_effect, bound)
    detectable = bound + detectable_effect(std, n, alpha)  # NaN stays NaN
    return PairedTest(float(diff.mean()), float(diff.std(ddof=1)), n, float(t), float(p), verdict, effect, float(low), float(high), min_effect,
                      detectable, margin, note)


def paired_test(ours, reference, *, min_effect: float, higher_is_better: bool = True, alpha: float = 0.05) -> PairedTest:
    """Does ``ours`` beat ``reference`` by at least ``min_effect``, seed by seed?

    Parameters
    ----------
    ours, reference : array-like, shape (n_seeds,)
        Paired scores (entry ``i`` of both from seed ``i``).
    min_effect : float
        The smallest difference that matters, > 0, in the scores' unit, declared before the run
        (:attr:`emma.claims.registry.Claim.min_effect`).
    higher_is_better : bool
        The claimed direction (False: ``ours`` should be lower).
    alpha : float
        Level of the one-sided test; the interval is the two-sided (1 − 2α) one.

    Returns
    -------
    PairedTest
        Verdict by :func:`judge_interval` with ``bound`` 0.

    >>> result = paired_test([0.74, 0.75, 0.73], [0.71, 0.71, 0.70], min_effect=0.02)
    >>> result.verdict, result.n, round(result.p_value, 3)
    ('reproduced', 3, 0.005)
    """
    diff = _paired_differences(ours, reference)
    min_effect = _check_positive(min_effect, "min_effect", " (the smallest difference that matters, declared before the run)")
    if not isinstance(higher_is_better, (bool, np.bool_)):
        raise TypeError(f"higher_is_better must be a bool, got {higher_is_better!r}")
    return _test(diff, 1.0 if higher_is_better else -1.0, 0.0, min_effect, _check_alpha(alpha), 0.0)


def non_inferiority(ours, reference, margin: float, alpha: float = 0.05) -> PairedTest:
    """Does ``ours`` keep the score of ``reference`` within ``margin``? H0: mean(ours − reference) ≤ −``margin``.

    Reproduced when the (1 − 2α) interval lies above −``margin``; not reproduced when it lies
    entirely below; inconclusive otherwise (:func:`judge_interval` with bound and minimum −margin).

    >>> non_inferiority([0.880, 0.885, 0.879], [0.883, 0.884, 0.882], margin=0.02).verdict
    'reproduced'
    """
    diff = _paired_differences(ours, reference)
    margin = _check_positive(margin, "margin", " (the largest loss that still counts as keeping the score)")
    return _test(diff, 1.0, -margin, -margin, _check_alpha(alpha), margin)


def holm(p_values) -> np.ndarray:
    """Holm–Bonferroni adjusted p-values, in the order given; a missing p-value stays missing and does not count.

    >>> holm([0.01, 0.04, 0.03, 0.005]).round(3).tolist()
    [0.03, 0.06, 0.06, 0.02]
    """
    p = np.asarray(p_values, dtype=float)
    if p.ndim != 1:
        raise ValueError(f"p_values must be 1-D, got shape {p.shape}")
    if ((p < 0) | (p > 1)).any():
        raise ValueError(f"p_values must lie in [0, 1] (or be NaN), got {p.tolist()}")
    adjusted = np.full_like(p, np.nan)
    tested = np.flatnonzero(~np.isnan(p))
    order = tested[np.argsort(p[tested], kind="stable")]
    m = order.size
    adjusted[order] = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    return adjusted


def claims_table(rows) -> pd.DataFrame:
    """A claims table: each row's registered claim (:mod:`emma.claims.registry`) with its evidence, every word checked.

    Parameters
    ----------
    rows : list of dict or DataFrame
        One claim per row, with ``id`` (a registered claim), ``thesis_evidence``,
        ``our_evidence`` and ``verdict``; test-based rows also the :data:`EVIDENCE_COLUMNS`
        (:meth:`PairedTest.row`). The claim's wording, kind, quote, location and minimum effect
        come from the registry: a row may not restate them differently.

    Returns
    -------
    DataFrame
        :data:`CLAIM_COLUMNS`, :data:`EVIDENCE_COLUMNS`, then any other column.
    """
    from emma.claims.registry import lookup

    if isinstance(rows, dict) or not isinstance(rows, (list, tuple, pd.DataFrame)):
        raise TypeError(f"rows must be a list of dicts (one per claim) or a DataFrame, got {type(rows).__name__}")
    table = pd.DataFrame(list(rows) if not isinstance(rows, pd.DataFrame) else rows).reset_index(drop=True)
    missing = [c for c in ("id", "thesis_evidence", "our_evidence", "verdict") if c not in table.columns]
    if missing:
        raise ValueError(f"rows lack the column(s) {missing}; a claims row has id, thesis_evidence, our_evidence and verdict")
    for column in EVIDENCE_COLUMNS + ("p_value",):
        if column not in table.columns:
            table[column] = np.nan
    for field in ("claim", "kind", "quote", "location", "test", "unit", "min_effect_reason"):  # text, also where a CSV read them as NaN
        if field in table.columns:
            table[field] = table[field].astype(object)
    for i, claim_id in enumerate(table["id"]):
        claim = lookup(claim_id)
        for field, value in claim.columns().items():
            given = table.at[i, field] if field in table.columns else None
            if field == "min_effect":
                if pd.notna(given) and claim.min_effect is not None and not np.isclose(given, value):
                    raise ValueError(f"claim {claim_id!r}: min_effect {float(given)!r} differs from the registered {value!r}")
            elif given is not None and not (isinstance(given, float) and np.isnan(given)) and given != value and value != "":
                raise ValueError(f"claim {claim_id!r}: the row's {field} {given!r} differs from the registry's {value!r}")
            table.loc[i, field] = value if field != "min_effect" or pd.isna(given) else given
    for column in [c for c in table.columns if c == "verdict" or str(c).startswith("verdict_")]:
        for value in table[column]:
            if value == "—":
                continue
            try:
                check_verdict(value)
            except ValueError as error:
                raise ValueError(f"column {column!r}: {error}") from None
    table["n_seeds"] = pd.to_numeric(table["n_seeds"], errors="raise").round().astype("Int64")  # a count: empty where no test ran
    first = list(CLAIM_COLUMNS) + list(EVIDENCE_COLUMNS)
    return table[first + [c for c in table.columns if c not in first]]


def apply_holm(claims_frame: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Holm-adjust a claims table's p-values within each kind, and take back what no longer holds.

    Adds ``p_holm`` (:func:`holm` of ``p_value`` over the rows of the same ``kind``) and turns a
    *reproduced* or *rule-dependent* whose ``p_holm`` ≥ ``alpha`` into *inconclusive*. Rows
    without a p-value keep their verdict.
    """
    if not isinstance(claims_frame, pd.DataFrame):
        raise TypeError(f"claims_frame must be a DataFrame (a claims table), got {type(claims_frame).__name__}")
    if "p_value" not in claims_frame.columns:
        raise ValueError("claims_frame lacks the column 'p_value' (NaN where a claim has no test)")
    alpha = _check_alpha(alpha)
    table = claims_table(claims_frame.drop(columns="p_holm", errors="ignore")).copy()
    p = pd.to_numeric(table["p_value"], errors="raise").to_numpy(dtype=float)
    p_holm = np.full_like(p, np.nan)
    for kind in KINDS:
        rows = (table["kind"] == kind).to_numpy()
        p_holm[rows] = holm(p[rows])
    table.insert(table.columns.get_loc("p_value") + 1, "p_holm", p_holm)
    downgrade = table["verdict"].isin([REPRODUCED, RULE_DEPENDENT]) & (table["p_holm"] >= alpha)  # NaN ≥ alpha is False
    table.loc[downgrade, "verdict"] = INCONCLUSIVE
    return table


def per_mode(table: pd.DataFrame, column: str, fmt: str = "{:.3f}", key: str = "mode") -> str:
    """One value per row of ``table`` as evidence text: ``"IP 0.123, DM 0.456"``.

    >>> per_mode(pd.DataFrame({"mode": ["IP", "DM"], "auroc": [0.91, 0.55]}), "auroc", "{:.2f}")
    'IP 0.91, DM 0.55'
    """
    if column not in table or key not in table:
        raise ValueError(f"table must have the columns {key!r} and {column!r}, got {list(table.columns)}")
    return ", ".join(f"{row[key]} " + fmt.format(row[column]) for _, row in table.iterrows())
