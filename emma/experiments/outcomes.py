"""The slides' per-sample outcome table, replayed as the original code printed it.

The slides report, for the best model, the rate of correct predictions per class and corruption
case, labelled NSR 5 dB (appendix: original-outcome-table). The code that prints such a table
(``refined_matrix``) corrupts ``X_test`` in place once more, predicts on that unpermuted
``X_test``, and counts the outcomes against the labels and corruption indicator of the
*permuted* noisy copy; it is called at σ = 0.5 and then at σ = 2 on top of it
(:data:`OUTCOME_CALLS`). :func:`outcome_alignments` computes both calls both ways, as coded and
aligned; :func:`outcome_match` says which is closest to the slides. :func:`slides_alignment` puts the
slides' numbers beside them and :func:`alignment_sentence` says it in words.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from emma.claims.thesis import SLIDES_OUTCOMES, SLIDES_OUTCOMES_NSR_DB
from emma.data.noise import corrupt
from emma.engine.evaluation import CASES, model_outputs, select
from emma.engine.results import SweepResult
from emma.engine.streams import corrupted_split


def outcome_alignment(result: SweepResult, splits, settings, *, energies=None, sigma: float = 0.5, draw: int = 0, before=()) -> pd.DataFrame:
    """The code's per-sample outcome table, with its rows as the code paired them and aligned.

    (appendix: original-outcome-table) The code corrupts ``X_test`` in place once more (a
    second draw on top of the first; appendix: original-in-place-corruption), predicts on that unpermuted ``X_test``, and counts outcomes against the
    labels and indicator of the *permuted* noisy copy. ``rate_correct_as_coded`` pairs them
    that way; ``rate_correct_aligned`` pairs each prediction with its own sample. One model
    per seed is expected; the rates are means over seeds. ``before`` lists the σ of the calls
    the code made earlier on the same ``X_test`` (each its own draw, ``draw`` 0, 1, …; this
    call's draw follows them), so that a later call sees every earlier draw in place.
    """

    table = result.table
    frames = []
    for k, seed in enumerate(table["seed"]):
        first, _ = corrupted_split(splits, "test", int(seed), settings)  # the in-place state after main's first call
        for i, earlier in enumerate(before):  # the calls the code made before this one, written into X_test too
            first, _ = corrupt(first, float(earlier), torch.Generator().manual_seed(5_000_011 * (1 + draw + i) + int(seed)), settings.clean_fraction)
        generator = torch.Generator().manual_seed(5_000_011 * (1 + draw + len(before)) + int(seed))
        again, mask = corrupt(first, sigma, generator, settings.clean_fraction)  # written into X_test again
        permutation = torch.randperm(len(again), generator=generator).numpy()
        prob, _ = model_outputs(select(result, [k]), again.unsqueeze(0), energies)
        predicted = (prob[0].numpy() >= table["threshold"].iloc[k])
        y = splits.test.y.numpy().astype(bool)
        for pairing, labels, cases in (("aligned", y, mask.numpy()), ("as_coded", y[permutation], mask.numpy()[permutation])):
            frames.append(pd.DataFrame({"seed": seed, "pairing": pairing, "class": np.where(labels, "pulsar", "non-pulsar"),
                                        "case": [CASES[(bool(a), bool(b))] for a, b in cases], "correct": predicted == labels}))
    samples = pd.concat(frames, ignore_index=True)
    rates = samples.groupby(["pairing", "class", "case", "seed"])["correct"].mean().groupby(["pairing", "class", "case"]).mean()
    out = rates.unstack("pairing").reset_index()
    return out.rename(columns={"aligned": "rate_correct_aligned", "as_coded": "rate_correct_as_coded"})



#: The code's calls of ``refined_matrix`` (``code/experiment-3/main.py`` at 7302713): σ and the lines.
OUTCOME_CALLS = {0.5: "code/experiment-3/main.py L496–498", 2.0: "code/experiment-3/main.py L499–501"}


def outcome_alignments(result: SweepResult, splits, settings, *, energies=None, calls=None) -> pd.DataFrame:
    """:func:`outcome_alignment` at every σ the code called ``refined_matrix`` with, in its order, each on top of the earlier.

    Returns the rows of each call with ``sigma``, ``nsr_db`` (10 log₁₀ σ²) and ``code_lines``.
    """
    calls = dict(OUTCOME_CALLS if calls is None else calls)
    frames, earlier = [], []
    for sigma, lines in calls.items():
        table = outcome_alignment(result, splits, settings, energies=energies, sigma=float(sigma), before=tuple(earlier))
        frames.append(table.assign(sigma=float(sigma), nsr_db=float(10 * np.log10(float(sigma) ** 2)), code_lines=lines))
        earlier.append(float(sigma))
    return pd.concat(frames, ignore_index=True)


def outcome_match(alignment: pd.DataFrame) -> pd.DataFrame:
    """Per σ of :func:`outcome_alignments`: the mean absolute difference of the aligned and the as-coded rates from the slides' over the table's cells.

    ``alignment`` needs ``slides_rate_correct``. Returns ``sigma, nsr_db, mad_aligned, mad_as_coded``, best first.
    """
    needed = {"sigma", "nsr_db", "rate_correct_aligned", "rate_correct_as_coded", "slides_rate_correct"}
    if not isinstance(alignment, pd.DataFrame) or not needed <= set(alignment.columns):
        raise ValueError(f"alignment must be outcome_alignments' table with slides_rate_correct, columns {sorted(needed)}")
    rows = []
    for (sigma, nsr), part in alignment.groupby(["sigma", "nsr_db"], sort=False):
        rows.append({"sigma": sigma, "nsr_db": nsr, "mad_aligned": (part["rate_correct_aligned"] - part["slides_rate_correct"]).abs().mean(),
                     "mad_as_coded": (part["rate_correct_as_coded"] - part["slides_rate_correct"]).abs().mean()})
    return pd.DataFrame(rows).sort_values("mad_aligned", kind="stable").reset_index(drop=True)


def slides_alignment(result: SweepResult, splits, settings, *, energies=None) -> pd.DataFrame:
    """:func:`outcome_alignments` with the slides' rate of correct predictions of each (class, case) in ``slides_rate_correct``."""
    alignment = outcome_alignments(result, splits, settings, energies=energies)
    alignment["slides_rate_correct"] = [SLIDES_OUTCOMES[(c, k)] for c, k in zip(alignment["class"], alignment["case"])]
    return alignment


def alignment_sentence(alignment: pd.DataFrame) -> str:
    """The rate of correct pulsars of each call, as coded and aligned, and which call (:func:`outcome_match`) the slides' table comes from.

    ``alignment`` is :func:`slides_alignment`'s table.
    """
    match = outcome_match(alignment)
    best, other = match.iloc[0], match.iloc[-1]
    pulsar = alignment[alignment["class"] == "pulsar"].groupby("sigma")[["rate_correct_as_coded", "rate_correct_aligned", "slides_rate_correct"]].mean()
    return ("The rate of correct pulsars, averaged over the three cases: "
            + "; ".join(f"at σ = {s:g}, {r['rate_correct_as_coded']:.3f} as coded and {r['rate_correct_aligned']:.3f} aligned" for s, r in pulsar.iterrows())
            + f"; the slides print {pulsar['slides_rate_correct'].iloc[0]:.3f}. As coded, a prediction paired with a random sample's label is right "
            f"about as often as the classes' shares allow. Over the six cells of the table, the aligned call at σ = {best['sigma']:g} "
            f"(NSR {best['nsr_db']:+.1f} dB) is closest to the slides, {best['mad_aligned']:.3f} away on average"
            + (f", against {other['mad_aligned']:.3f} at σ = {other['sigma']:g} (NSR {other['nsr_db']:+.1f} dB)" if len(match) > 1 else "")
            + f"; the slides label theirs NSR {SLIDES_OUTCOMES_NSR_DB:g} dB. "
            + ("The slides' table is therefore not the misaligned one: it comes from an aligned call of the code."
               if best["mad_aligned"] < best["mad_as_coded"] else "The slides' numbers sit closer to the misaligned pairing."))
