"""The thesis's claims and the rules that decide their verdicts, used by every chapter.

One vocabulary, :data:`VERDICTS`: *reproduced*, *partly reproduced*, *not reproduced*.
Every claim also has a kind, :data:`KINDS`: *core* (what the thesis's abstract, contributions
and research questions assert), *secondary* (any other statement of the thesis) or *book* (a
conjecture the book tests beyond the thesis). A chapter writes one row per claim
(:data:`CLAIM_COLUMNS`, built and checked by :func:`claims_table`), decides its kind where it
writes the row, and decides the verdict by one of these rules:

* :func:`verdict_from_flags`: a claim checked case by case (all hold, some, none);
* :func:`paired_test`: "A beats B", a one-sided paired t-test over seeds;
* :func:`non_inferiority`: "A keeps the score of B", a one-sided paired t-test against a margin;
* :func:`~emma.claims.plateau.levels_off` (in :mod:`emma.claims.plateau`): "the curve levels off
  near a reference", an equivalence test on the slope of the last NSR levels plus a closeness check.

Claims tested on the same runs form one family: :func:`holm` adjusts their p-values
(Holm–Bonferroni) and :func:`apply_holm` downgrades a *reproduced* whose adjusted p-value
is no longer significant.

>>> paired_test([0.80, 0.82, 0.81], [0.70, 0.71, 0.73]).verdict
'reproduced'
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from emma.util import checks

#: The verdicts a claim can get, from best to worst.
VERDICTS = ("reproduced", "partly reproduced", "not reproduced")
#: What a claim is, from the thesis's centre outwards: *core* (its abstract, contributions and
#: research questions assert it), *secondary* (another statement of the thesis: literature,
#: derivation details, figure descriptions, side comparisons), *book* (a conjecture the book
#: tests beyond the thesis).
KINDS = ("core", "secondary", "book")
#: The columns every claims table has, in this order (others may follow).
CLAIM_COLUMNS = ("claim", "thesis_evidence", "our_evidence", "verdict", "kind")
_NO_TEST = "one seed: no test is possible, the sign of the difference alone decides"


def check_verdict(value: str) -> str:
    """``value`` if it is one of :data:`VERDICTS`, else a ``ValueError`` naming the vocabulary.

    >>> check_verdict("partly reproduced")
    'partly reproduced'
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


def verdict_from_flags(flags, partly_flags=None) -> str:
    """The verdict of a claim checked case by case.

    Parameters
    ----------
    flags : iterable of bool
        Whether the claim holds in each case tested (at least one case).
    partly_flags : iterable of bool, optional
        Weaker cases: when not every flag holds, any of these holding gives *partly
        reproduced*. By default the ``flags`` themselves.

    Returns
    -------
    str
        *reproduced* when every flag holds, *partly reproduced* when any of
        ``partly_flags`` holds, *not reproduced* otherwise.

    >>> verdict_from_flags([True, True]), verdict_from_flags([True, False]), verdict_from_flags([False])
    ('reproduced', 'partly reproduced', 'not reproduced')
    """
    flags = _check_flags(flags, "flags")
    weaker = flags if partly_flags is None else _check_flags(partly_flags, "partly_flags")
    return VERDICTS[0] if all(flags) else VERDICTS[1] if any(weaker) else VERDICTS[2]


def _check_flags(flags, name: str) -> list[bool]:
    values = list(flags)
    if not values:
        raise ValueError(f"{name} must hold at least one case, got none")
    if not all(isinstance(flag, (bool, np.bool_)) for flag in values):
        raise TypeError(f"{name} must be booleans (one per case), got {values!r}")
    return [bool(flag) for flag in values]


def _check_alpha(alpha) -> float:
    return checks.number(alpha, "alpha", low=0.0, high=1.0, low_open=True, high_open=True)


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


@dataclass(frozen=True)
class PairedTest:
    """The outcome of :func:`paired_test` or :func:`non_inferiority`.

    Attributes
    ----------
    mean, std : float
        Mean and sample standard deviation (ddof 1; ``NaN`` for one seed) of ours − reference.
    n : int
        Seeds.
    t, p_value : float
        One-sided paired t statistic and p-value, ``n − 1`` degrees of freedom (``NaN`` for one seed).
    verdict : str
    margin : float
        The non-inferiority margin (0 for :func:`paired_test`).
    note : str
        Why no test was possible, when it was not.
    """

    mean: float
    std: float
    n: int
    t: float
    p_value: float
    verdict: str
    margin: float = 0.0
    note: str = ""

    def describe(self, digits: int = 4) -> str:
        """The evidence in one line, e.g. ``paired difference +0.0123 ± 0.0040 over 5 seeds, t = 6.1, p = 0.0018``."""
        spread = f" ± {self.std:.{digits}f}" if np.isfinite(self.std) else ""
        text = f"paired difference {self.mean:+.{digits}f}{spread} over {self.n} seed{'s' if self.n > 1 else ''}"
        if np.isfinite(self.p_value):
            return text + f", t = {self.t:.2f}, p = {self.p_value:.2g}"
        return text + (f" ({self.note})" if self.note else "")


def paired_test(ours, reference, higher_is_better: bool = True, alpha: float = 0.05) -> PairedTest:
    """Does ``ours`` beat ``reference``, seed by seed? A one-sided paired t-test.

    Parameters
    ----------
    ours, reference : array-like, shape (n_seeds,)
        The score of the model the thesis says is better, and of the one it beats, per seed
        (paired: entry ``i`` of both comes from seed ``i``).
    higher_is_better : bool
        The direction of the thesis's claim (False: ``ours`` should be lower).
    alpha : float
        Significance level.

    Returns
    -------
    PairedTest
        *reproduced* when the mean difference points the thesis's way and the test of
        H0: no difference (``scipy.stats.ttest_rel``, one-sided) gives p < ``alpha``;
        *partly reproduced* when it points that way but p ≥ ``alpha``, or with a single
        seed (no test possible, see ``note``); *not reproduced* otherwise.

    >>> result = paired_test([0.74, 0.75, 0.73], [0.71, 0.71, 0.70])
    >>> result.verdict, result.n, round(result.p_value, 3)
    ('reproduced', 3, 0.005)
    """
    diff = _paired_differences(ours, reference)
    alpha = _check_alpha(alpha)
    mean, n = float(diff.mean()), diff.size
    towards = mean if higher_is_better else -mean  # > 0 when the difference points the thesis's way
    if n == 1:
        verdict = VERDICTS[1] if towards > 0 else VERDICTS[2]
        return PairedTest(mean, float("nan"), 1, float("nan"), float("nan"), verdict, note=_NO_TEST)
    test = stats.ttest_rel(ours, reference, alternative="greater" if higher_is_better else "less")
    p = float(test.pvalue)
    verdict = VERDICTS[2] if towards <= 0 else VERDICTS[0] if p < alpha else VERDICTS[1]
    return PairedTest(mean, float(diff.std(ddof=1)), n, float(test.statistic), p, verdict)


def non_inferiority(ours, reference, margin: float, alpha: float = 0.05) -> PairedTest:
    """Does ``ours`` keep the score of ``reference`` within ``margin``? A one-sided paired t-test.

    Tests H0: mean(ours − reference) ≤ −``margin`` against H1: it is above
    (``scipy.stats.ttest_1samp`` of the differences, ``popmean=-margin``, one-sided).

    Parameters
    ----------
    ours, reference : array-like, shape (n_seeds,)
        Paired scores per seed, higher is better.
    margin : float
        The largest loss that still counts as keeping the score, > 0.
    alpha : float
        Significance level.

    Returns
    -------
    PairedTest
        *reproduced* when H0 is rejected (p < ``alpha``); *partly reproduced* when the mean
        difference is above −``margin`` but not significantly so (or with one seed, see
        ``note``); *not reproduced* when the mean difference is at or below −``margin``.

    >>> non_inferiority([0.880, 0.885, 0.879], [0.883, 0.884, 0.882], margin=0.02).verdict
    'reproduced'
    """
    diff = _paired_differences(ours, reference)
    alpha = _check_alpha(alpha)
    margin = _check_positive(margin, "margin", " (the largest loss that still counts as keeping the score)")
    mean, n = float(diff.mean()), diff.size
    if n == 1:
        verdict = VERDICTS[1] if mean > -margin else VERDICTS[2]
        return PairedTest(mean, float("nan"), 1, float("nan"), float("nan"), verdict, margin, _NO_TEST)
    test = stats.ttest_1samp(diff, popmean=-margin, alternative="greater")
    p = float(test.pvalue)
    verdict = VERDICTS[2] if mean <= -margin else VERDICTS[0] if p < alpha else VERDICTS[1]
    return PairedTest(mean, float(diff.std(ddof=1)), n, float(test.statistic), p, verdict, margin)


def holm(p_values) -> np.ndarray:
    """Holm–Bonferroni adjusted p-values, in the order given.

    The ``m`` p-values sorted ascending, p₍ᵢ₎ becomes max over j ≤ i of (m − j + 1)·p₍ⱼ₎,
    capped at 1 (step-down, monotone). ``NaN`` entries stay ``NaN`` and do not count in ``m``.

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
    """A claims table: :data:`CLAIM_COLUMNS` first, then any other columns, every verdict checked.

    Parameters
    ----------
    rows : list of dict or DataFrame
        One claim per row. Every column named ``verdict`` or ``verdict_*`` must hold words
        of :data:`VERDICTS`; ``kind`` must hold words of :data:`KINDS`.

    Returns
    -------
    DataFrame

    >>> claims_table([{"claim": "Ψ rises with noise", "thesis_evidence": "figure",
    ...                "our_evidence": "+3.1", "verdict": "reproduced", "kind": "core"}]).columns.tolist()
    ['claim', 'thesis_evidence', 'our_evidence', 'verdict', 'kind']
    """
    if isinstance(rows, dict) or not isinstance(rows, (list, tuple, pd.DataFrame)):
        raise TypeError(f"rows must be a list of dicts (one per claim) or a DataFrame, got {type(rows).__name__}")
    table = pd.DataFrame(list(rows) if not isinstance(rows, pd.DataFrame) else rows).reset_index(drop=True)
    missing = [column for column in CLAIM_COLUMNS if column not in table.columns]
    if missing:
        kinds = f" (kind: one of {KINDS} per claim)" if "kind" in missing else ""
        raise ValueError(f"rows lack the column(s) {missing}; a claims table has {CLAIM_COLUMNS}{kinds}")
    for column in [c for c in table.columns if c == "verdict" or str(c).startswith("verdict_")]:
        for value in table[column]:
            try:
                check_verdict(value)
            except ValueError as error:
                raise ValueError(f"column {column!r}: {error}") from None
    for claim, value in zip(table["claim"], table["kind"]):
        try:
            check_kind(value)
        except ValueError as error:
            raise ValueError(f"column 'kind', claim {claim!r}: {error}") from None
    return table[list(CLAIM_COLUMNS) + [c for c in table.columns if c not in CLAIM_COLUMNS]]


def apply_holm(claims_frame: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Holm-adjust a claims table's p-values and downgrade what no longer holds.

    Every row with a p-value is one test of the family. Adds ``p_holm`` (:func:`holm` of
    ``p_value``) and turns *reproduced* into *partly reproduced* where ``p_holm`` ≥
    ``alpha``. Rows without a p-value (``NaN``: decided by a rule, not a test) keep their verdict.

    Parameters
    ----------
    claims_frame : DataFrame
        A claims table (:func:`claims_table`) with a ``p_value`` column.
    alpha : float

    Returns
    -------
    DataFrame
        A copy, with ``p_holm`` after ``p_value``.

    >>> table = claims_table([{"claim": c, "thesis_evidence": "", "our_evidence": "", "verdict": "reproduced",
    ...                        "kind": "core", "p_value": p} for c, p in (("a", 0.001), ("b", 0.03), ("c", 0.04))])
    >>> apply_holm(table)[["p_holm", "verdict"]].values.tolist()
    [[0.003, 'reproduced'], [0.06, 'partly reproduced'], [0.06, 'partly reproduced']]
    """
    if not isinstance(claims_frame, pd.DataFrame):
        raise TypeError(f"claims_frame must be a DataFrame (a claims table), got {type(claims_frame).__name__}")
    if "p_value" not in claims_frame.columns:
        raise ValueError("claims_frame lacks the column 'p_value' (NaN where a claim has no test)")
    alpha = _check_alpha(alpha)
    table = claims_table(claims_frame.drop(columns="p_holm", errors="ignore")).copy()
    p_holm = holm(pd.to_numeric(table["p_value"], errors="raise").to_numpy(dtype=float))
    table.insert(table.columns.get_loc("p_value") + 1, "p_holm", p_holm)
    downgrade = (table["verdict"] == VERDICTS[0]) & (table["p_holm"] >= alpha)  # NaN ≥ alpha is False
    table.loc[downgrade, "verdict"] = VERDICTS[1]
    return table


def per_mode(table: pd.DataFrame, column: str, fmt: str = "{:.3f}", key: str = "mode") -> str:
    """One value per row of ``table`` as evidence text: ``"IP 0.123, DM 0.456"``.

    Examples
    --------
    >>> per_mode(pd.DataFrame({"mode": ["IP", "DM"], "auroc": [0.91, 0.55]}), "auroc", "{:.2f}")
    'IP 0.91, DM 0.55'
    """
    if column not in table or key not in table:
        raise ValueError(f"table must have the columns {key!r} and {column!r}, got {list(table.columns)}")
    return ", ".join(f"{row[key]} " + fmt.format(row[column]) for _, row in table.iterrows())
