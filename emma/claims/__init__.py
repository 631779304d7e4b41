"""Claims and their verdicts: the rules that judge a claim, the thesis's printed numbers, and the collected verdicts.

Modules
-------
:mod:`~emma.claims.rules`
    Verdicts and kinds, paired tests over seeds, Holm's correction, the claims table every chapter ends with.
:mod:`~emma.claims.plateau`
    The levels-off rule: an F1-against-NSR curve that flattens near a reference (a TOST of its slope).
:mod:`~emma.claims.thesis`
    Every number printed in the thesis, in one place: the book's reference columns.
:mod:`~emma.claims.report`
    The verdicts of all chapters, collected for the conclusion and the appendix.
"""
from emma.claims.rules import KINDS, VERDICTS, claims_table, holm, non_inferiority, paired_test, verdict_from_flags

__all__ = ["KINDS", "VERDICTS", "claims_table", "holm", "non_inferiority", "paired_test", "verdict_from_flags"]
