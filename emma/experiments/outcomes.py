"""The slides' per-sample outcome table, replayed as the original code printed it.

The slides report, for the best model, the rate of correct predictions per class and corruption
case, labelled NSR 5 dB (appendix: original-outcome-table). The code that prints such a table
(``refined_matrix``) corrupts ``X_test`` in place once more, predicts on that unpermuted
``X_test``, and counts the outcomes against the labels and corruption indicator of the
*permuted* noisy copy; it is called at σ = 0.5 and then at σ = 2 on top of it
(:data:`OUTCOME_CALLS`). :func:`outcome_alignments` computes both calls both ways, as coded and
aligned; :func:`outcome_match` says which is closest to the slides.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from emma.data.noise import corrupt
from emma.engine.evaluation import CASES, model_outputs, select
from emma.engine.streams import corrupted_split


def outcome_alignment(result: dict, splits, settings, *, energies=None, sigma: float = 0.5, draw: int = 0, before=()) -> pd.DataFrame:
    """The code's per-sample outcome table, with its rows as the code paired them and aligned.

    (appendix: original-outcome-table) The code corrupts ``X_test`` in place once more (a
    second draw on top of the first; appendix: original-in-place-corruption), predicts on that unpermuted ``X_test``, and counts outcomes against the
    labels and indicator of the *permuted* noisy copy. ``rate_correct_as_coded`` pairs them
    that way; ``rate_correct_aligned`` pairs each prediction with its own sample. One model
    per seed is expected; the rates are means over seeds. ``before`` lists the σ of the calls
    the code made earlier on the same ``X_test`` (each its own draw, ``draw`` 0, 1, …; this
    call's draw follows them), so that a later call sees every earlier draw in place.
    """

    table = result["table"]
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


def outcome_alignments(result: dict, splits, settings, *, energies=None, calls=None) -> pd.DataFrame:
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
