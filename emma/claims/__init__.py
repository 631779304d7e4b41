"""Claims and their verdicts: the rules that judge a claim, the thesis's printed numbers, and the collected verdicts.

Modules
-------
:mod:`~emma.claims.rules`
    The five verdicts and the kinds, tests of an effect against its pre-declared minimum over seeds, Holm's
    correction within a kind, the claims table every chapter ends with.
:mod:`~emma.claims.registry`
    Every claim the book judges, quoted from its source with its location, kind, test and minimum effect.
:mod:`~emma.claims.plateau`
    The levels-off rule: an F1-against-NSR curve that flattens near a reference (a TOST of its slope).
:mod:`~emma.claims.thesis`
    Every number printed in the thesis, in one place: the book's reference columns.
:mod:`~emma.claims.report`
    The verdicts of all chapters, extensions included, collected for the landing page and the appendix.
:mod:`~emma.claims.errata`
    Every disagreement among the draft, the final thesis, the slides and the code, by source.
:mod:`~emma.claims.original_repo`
    The original repository's files at the commit the book links to, and the check of every link.
"""
from emma.claims.rules import KINDS, VERDICTS, claims_table, holm, non_inferiority, paired_test, sub_cases, verdict_from_flags

__all__ = ["KINDS", "VERDICTS", "claims_table", "holm", "non_inferiority", "paired_test", "sub_cases", "verdict_from_flags"]
