"""The levels-off rule: does a curve of F1 against NSR flatten out near a reference?

One of the verdict rules of :mod:`emma.claims.rules`, for claims about the shape of a curve
rather than a difference of two scores: :func:`levels_off` fits the slope of the last NSR levels
and shows it equivalent to zero (two one-sided tests, TOST), then checks that the curve ends near
the reference (the single-mode F1); :class:`LevelsOff` is its outcome. The chapter
:doc:`Experiment II </book/chapters/06_robustness>` judges "F1 levels off near the single-mode F1" with it
(:func:`emma.experiments.verdicts.robustness_claims`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from emma.claims.rules import _check_alpha, _check_positive, sub_cases
from emma.util.display import plural

#: The names of the two sub-cases of :func:`levels_off`, as its ``cases`` text names them.
FLAT, CLOSE = "flat", "close to the single-mode F1"


@dataclass(frozen=True)
class LevelsOff:
    """The outcome of :func:`levels_off`.

    Attributes
    ----------
    slope : float
        Least-squares slope of F1 against NSR over the top levels, seeds pooled (F1 per dB).
    slope_ci : (float, float)
        Its (1 − 2α) confidence interval; the curve is flat when it lies within ±tolerance.
    p_value : float
        The equivalence (TOST) p-value of the slope: the larger of the two one-sided p-values.
    n : int
        Points in the regression (seeds × top levels).
    top_levels : tuple of float
        The NSR levels (dB) regressed on.
    mean_f1, single_mode_f1 : float
        Mean F1 over the top levels (all seeds), and the reference it should approach.
    flat, close : bool
        The two sub-cases (:data:`FLAT`, :data:`CLOSE`).
    verdict : str
        The sub-case verdict (:func:`emma.claims.rules.sub_cases`): *reproduced*, *partly
        reproduced* or *not reproduced*.
    cases : str
        Which sub-cases hold, e.g. "1 of 2 sub-cases hold: flat; not: close to the single-mode F1".
    """

    slope: float
    slope_ci: tuple[float, float]
    p_value: float
    n: int
    top_levels: tuple[float, ...]
    mean_f1: float
    single_mode_f1: float
    flat: bool
    close: bool
    verdict: str
    cases: str = ""

    def describe(self, digits: int = 4) -> str:
        """The evidence in one line."""
        low, high = self.slope_ci
        return (
            f"slope over {', '.join(f'{x:g}' for x in self.top_levels)} dB {self.slope:+.{digits}f} per dB "
            f"(CI {low:+.{digits}f} to {high:+.{digits}f}, equivalence p = {self.p_value:.2g}); "
            f"mean F1 there {self.mean_f1:.{digits}f} vs single mode {self.single_mode_f1:.{digits}f}"
        )


def levels_off(nsr_db, f1, single_mode_f1, top_k: int = 3, slope_tolerance: float = 0.005, closeness: float = 0.05, alpha: float = 0.05) -> LevelsOff:
    """Does an F1-against-NSR curve level off near the single-mode F1?

    Two conditions, over the ``top_k`` highest NSR levels:

    * **flat**: F1 is regressed on NSR (``scipy.stats.linregress``, every seed's point
      pooled) and the slope is shown equivalent to zero by two one-sided t-tests
      (TOST, ``n − 2`` degrees of freedom): H0 slope ≤ −``slope_tolerance`` and H0 slope ≥
      +``slope_tolerance`` are both rejected at ``alpha``, i.e. the (1 − 2α) confidence
      interval of the slope lies within ±``slope_tolerance``. A slope still falling
      clearly, or too uncertain to tell, is not flat.
    * **close**: the mean F1 over those levels (all seeds) is within ``closeness`` of the
      (mean) ``single_mode_f1``, on either side.

    Parameters
    ----------
    nsr_db : array-like, shape (levels,)
        Distinct NSR levels in dB, in any order.
    f1 : array-like, shape (levels,) or (seeds, levels)
        F1 at each level, one row per seed.
    single_mode_f1 : float or array-like, shape (seeds,)
        F1 of the single clean mode's classifier (its mean is used).
    top_k : int
        Highest levels regressed on, at least 2 (and at least 3 points in all).
    slope_tolerance : float
        A slope within ± this (F1 per dB) counts as flat; 0.005 allows 0.025 F1 over 5 dB.
    closeness : float
        Largest distance between the mean F1 and the single-mode F1 that counts as near.
    alpha : float
        Significance level of each one-sided test.

    Returns
    -------
    LevelsOff
        The two sub-cases "flat" and "close to the single-mode F1" judged by
        :func:`emma.claims.rules.sub_cases`: *reproduced* when both hold, *partly reproduced*
        (naming them in ``cases``) when one does, *not reproduced* when neither.

    >>> seeds = [[0.80, 0.70, 0.650, 0.651, 0.649], [0.79, 0.71, 0.652, 0.650, 0.651]]
    >>> levels_off([-6, 0, 5, 7.5, 10], seeds, single_mode_f1=0.66).verdict
    'reproduced'
    >>> levels_off([-6, 0, 5, 7.5, 10], seeds, single_mode_f1=0.75).cases
    '1 of 2 sub-cases hold: flat; not: close to the single-mode F1'
    """
    nsr = np.asarray(nsr_db, dtype=float)
    if nsr.ndim != 1 or not np.isfinite(nsr).all() or len(np.unique(nsr)) != nsr.size:
        raise ValueError(f"nsr_db must be 1-D distinct finite levels in dB, got {np.asarray(nsr_db)!r}")
    scores = np.asarray(f1, dtype=float)
    scores = scores[None, :] if scores.ndim == 1 else scores
    if scores.ndim != 2 or scores.shape[1] != nsr.size or scores.shape[0] == 0:
        raise ValueError(f"f1 must have shape (levels,) or (seeds, levels) with {nsr.size} levels (one per nsr_db), got {np.shape(f1)}")
    if not np.isfinite(scores).all():
        raise ValueError("f1 must be finite")
    reference = np.asarray(single_mode_f1, dtype=float)
    if reference.ndim > 1 or reference.size == 0 or not np.isfinite(reference).all():
        raise ValueError(f"single_mode_f1 must be a finite number or one per seed, got {single_mode_f1!r}")
    if not isinstance(top_k, (int, np.integer)) or isinstance(top_k, bool) or not 2 <= top_k <= nsr.size:
        raise ValueError(f"top_k must be an integer from 2 to the number of levels ({nsr.size}), got {top_k!r}")
    if scores.shape[0] * top_k < 3:
        raise ValueError(f"top_k={top_k} with {plural(scores.shape[0], 'seed')} gives fewer than 3 points: no slope test is possible")
    slope_tolerance, closeness = _check_positive(slope_tolerance, "slope_tolerance"), _check_positive(closeness, "closeness")
    alpha = _check_alpha(alpha)

    top = np.sort(np.argsort(nsr)[-top_k:])  # the top_k highest levels, in NSR order
    x = np.tile(nsr[top], scores.shape[0])  # (seeds · top_k,)
    y = scores[:, top].ravel()
    fit = stats.linregress(x, y)
    slope, se = np.float64(fit.slope), np.float64(fit.stderr)
    if np.ptp(y) == 0:  # a perfectly constant curve: linregress gives no stderr
        slope, se = np.float64(0.0), np.float64(0.0)
    df = y.size - 2
    with np.errstate(divide="ignore", invalid="ignore"):
        p_above = stats.t.sf((slope + slope_tolerance) / se, df)  # H0: slope ≤ −tolerance
        p_below = stats.t.cdf((slope - slope_tolerance) / se, df)  # H0: slope ≥ +tolerance
    p = float(max(p_above, p_below))
    half = float(stats.t.ppf(1 - alpha, df) * se)
    mean_f1, target = float(y.mean()), float(reference.mean())
    flat, close = bool(p < alpha), bool(abs(mean_f1 - target) <= closeness)
    judged = sub_cases({FLAT: flat, CLOSE: close})
    return LevelsOff(float(slope), (float(slope) - half, float(slope) + half), p, int(y.size), tuple(float(v) for v in nsr[top]),
                     mean_f1, target, flat, close, judged["verdict"], judged["cases"])
