"""The literature of attention: the taxonomy that places EMMA among the mechanisms of the book's
first chapter, and the draft's claims about earlier mechanisms, judged from it.

The kinds follow the thesis (chapter 7, after Driver and Spence 1998); every row cites its source.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from emma.claims.rules import claims_table, verdict_from_flags

#: The thesis's three kinds of attention (chapter 7, after Driver and Spence 1998).
KINDS = {
    "endogenous": "goal-driven: a query posed by the task decides where to look",
    "exogenous": "stimulus-driven: the input itself captures attention, here by how unusual it is",
    "crossmodal": "one mode directs attention over another, or the modes are weighed jointly",
}
#: The taxonomy's vocabularies: what a mechanism attends over, and what drives its weights.
SCOPES = ("positions within a mode", "positions across modes", "modes as wholes")
DRIVERS = ("content", "learned query", "input quality")

TAXONOMY_COLUMNS = ("mechanism", "attends_over", "weights_driven_by", "kind", "quality_signal", "how", "citation",
                    "bibtex_key", "demonstrated_in")
_TAXONOMY = [
    ("additive attention", SCOPES[0], DRIVERS[0], "endogenous", "none",
     "decoder state against each source state, through a learned tanh layer", "Bahdanau et al. 2015", "bahdanau2015", "alignment task"),
    ("dot and general attention", SCOPES[0], DRIVERS[0], "endogenous", "none",
     "dot or bilinear product of decoder and source states", "Luong et al. 2015", "luong2015", "alignment task"),
    ("multi-head self-attention", SCOPES[0], DRIVERS[0], "endogenous", "none",
     "every position's query against every key of the same sequence", "Vaswani et al. 2017", "vaswani2017", "self-attention reversal"),
    ("cross-attention, multi-source", SCOPES[1], DRIVERS[0], "crossmodal", "none",
     "queries of the decoder against the keys of one or several source sequences", "Vaswani et al. 2017; Libovický et al. 2018",
     "vaswani2017; libovicky2018", ""),
    ("memory-network hop", SCOPES[0], DRIVERS[0], "endogenous", "none",
     "the question against each sentence of the story, refined hop after hop", "Sukhbaatar et al. 2015", "sukhbaatar2015",
     "two supporting facts"),
    ("soft and hard visual attention", SCOPES[1], DRIVERS[0], "crossmodal", "none",
     "a caption decoder's state against image regions; hard attention picks one region", "Xu et al. 2015", "xu2015",
     "two supporting facts (hard against soft)"),
    ("attention-based fusion", SCOPES[2], DRIVERS[1], "crossmodal", "implicit",
     "a learned linear layer over both modes' embeddings, one weight per mode; noise only as learned from corrupted training data",
     "Shon et al. 2018", "shon2018", "robustness chapter (alternative)"),
    ("EMMA", SCOPES[2], DRIVERS[2], "exogenous", "explicit",
     "potential energies of a denoising autoencoder per mode, coupled across modes, through a Boltzmann distribution",
     "Werenne 2019", "werenne2019", "EMMA and robustness chapters"),
]


def attention_taxonomy() -> pd.DataFrame:
    """One row per mechanism: what it attends over, what drives its weights, its kind, its source.

    Columns: ``mechanism``, ``attends_over`` (one of :data:`SCOPES`), ``weights_driven_by``
    (one of :data:`DRIVERS`), ``kind`` (one of :data:`KINDS`), ``quality_signal`` (whether the
    weights see the input's quality: none, implicit, explicit), ``how``, ``citation``,
    ``bibtex_key``, ``demonstrated_in``.

    Examples
    --------
    >>> attention_taxonomy().set_index("mechanism").loc["EMMA", ["attends_over", "kind"]].tolist()
    ['modes as wholes', 'exogenous']
    """
    return pd.DataFrame(_TAXONOMY, columns=TAXONOMY_COLUMNS)


def literature_claims(taxonomy: pd.DataFrame) -> pd.DataFrame:
    """The draft's two claims about earlier attention mechanisms, judged on ``taxonomy`` (:func:`claims_table`).

    1. Chapter 3's outline: the others attend only to a part of a mode. Checked on every
       multi-modal mechanism other than EMMA (kind crossmodal): does it attend to positions?
    2. Chapter 7: no deep-learning attention before EMMA is exogenous. Checked on every
       mechanism other than EMMA: do its weights ignore the input's quality (``quality_signal``
       none)? A mechanism that sees it only implicitly makes the claim partly reproduced.
    """
    others = taxonomy[taxonomy["mechanism"] != "EMMA"]
    multimodal = others[others["kind"] == "crossmodal"]
    part = multimodal["attends_over"] != SCOPES[2]
    blind = others["quality_signal"] == "none"

    def listed(rows):
        return "; ".join(f"{m} ({c})" for m, c in zip(rows["mechanism"], rows["citation"])) or "none"

    return claims_table([
        {"claim": "earlier multi-modal attention mechanisms attend only to a part of a mode (draft, chapter 3 outline)",
         "thesis_evidence": "an argument of the outline, no review written",
         "our_evidence": f"{int(part.sum())} of {len(multimodal)} multi-modal mechanisms reviewed attend to positions; "
                         f"modes as wholes: {listed(multimodal[~part])}",
         "verdict": verdict_from_flags(part.tolist()),
         "kind": "secondary"},  # a literature statement of the outline
        {"claim": "no attention mechanism before EMMA is exogenous, driven by the input's quality (draft, chapter 7)",
         "thesis_evidence": "stated, to the best of the author's knowledge",
         "our_evidence": f"{int(blind.sum())} of {len(others)} mechanisms reviewed never see the input's quality; "
                         f"implicitly, through training on corrupted data: {listed(others[~blind])}",
         "verdict": verdict_from_flags(blind.tolist()),
         "kind": "secondary"},  # a literature statement, the gap EMMA was built for
    ])


#: The colour of each kind of attention in :func:`taxonomy_figure`.
KIND_COLOURS = {"endogenous": "tab:blue", "exogenous": "tab:red", "crossmodal": "tab:green"}


def taxonomy_positions(taxonomy: pd.DataFrame, spread: float = 0.18) -> pd.DataFrame:
    """Where each mechanism goes on the taxonomy's map: ``x`` its scope, ``y`` its driver (indices in
    :data:`SCOPES`, :data:`DRIVERS`), mechanisms sharing a cell stacked ``spread`` apart around its centre.

    Examples
    --------
    >>> taxonomy_positions(attention_taxonomy()).set_index("mechanism").loc["EMMA", ["x", "y"]].tolist()
    [2.0, 2.0]
    """
    missing = {"mechanism", "attends_over", "weights_driven_by"} - set(taxonomy.columns)
    if missing:
        raise ValueError(f"taxonomy must have the columns of attention_taxonomy(), missing {sorted(missing)}")
    unknown = sorted(set(taxonomy["attends_over"]) - set(SCOPES)) + sorted(set(taxonomy["weights_driven_by"]) - set(DRIVERS))
    if unknown:
        raise ValueError(f"taxonomy must place every mechanism on SCOPES and DRIVERS, got {unknown}")
    x = taxonomy["attends_over"].map(SCOPES.index)
    cell = taxonomy.groupby(["attends_over", "weights_driven_by"], sort=False)["mechanism"]
    offset = cell.cumcount() - (cell.transform("size") - 1) / 2  # 0 alone in a cell; -0.5, 0.5 for two
    return taxonomy.assign(x=x, y=taxonomy["weights_driven_by"].map(DRIVERS.index) + spread * offset)


def taxonomy_figure(taxonomy: pd.DataFrame):
    """The taxonomy as a map, what it attends over against what drives its weights, coloured by kind."""
    fig, ax = plt.subplots(figsize=(9, 3.8))
    for _, row in taxonomy_positions(taxonomy).iterrows():
        colour = KIND_COLOURS[row["kind"]]
        ax.text(row["x"], row["y"], row["mechanism"], ha="center", va="center", fontsize=9, color=colour,
                bbox={"boxstyle": "round", "fc": "white", "ec": colour})
    ax.set(xticks=range(3), xticklabels=SCOPES, yticks=range(3), yticklabels=DRIVERS,
           xlim=(-0.6, 2.6), ylim=(-0.6, 2.6), xlabel="attends over", ylabel="weights driven by")
    ax.grid(alpha=0.3)
    for kind, colour in KIND_COLOURS.items():
        ax.plot([], [], "s", color=colour, label=kind)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return fig
