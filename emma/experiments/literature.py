"""The literature of attention: the taxonomy that places EMMA among the mechanisms of the book's
first chapter and of the thesis's literature review, and the draft's claims about earlier
mechanisms, judged from it.

The kinds follow the thesis (chapter 7, after Driver and Spence 1998); every row cites its source.
The rows are the 12 papers that the draft's chapter 3 lists (:data:`THESIS_REVIEW`), the
mechanisms the book adds to them (the ones its first chapter implements), and EMMA itself; the
column ``listed_by`` says which (:data:`LISTED_BY`). :func:`review` gathers what the chapter shows: the
taxonomy, its coverage of the draft's list, the claims and the map.
"""
from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import pandas as pd

from emma.claims.rules import claims_table, verdict_from_flags
from emma.util.plots import legible

#: The thesis's three kinds of attention (chapter 7, after Driver and Spence 1998).
KINDS = {
    "endogenous": "goal-driven: a query posed by the task decides where to look",
    "exogenous": "stimulus-driven: the input itself captures attention, here by how unusual it is",
    "crossmodal": "one mode directs attention over another, or the modes are weighed jointly",
}
#: The taxonomy's vocabularies: what a mechanism attends over, and what drives its weights.
SCOPES = ("positions within a mode", "positions across modes", "modes as wholes")
DRIVERS = ("content", "learned query", "input quality")
#: Whether the weights see the input's quality: never, only as learned from corrupted training data, or by a measure of it.
QUALITY_SIGNALS = ("none", "implicit", "explicit")
#: What a row's paper contributes. A survey has no mechanism of its own: its row places the attention it reviews.
CONTRIBUTIONS = ("mechanism", "fusion method", "survey", "analysis method")
#: Where a row comes from: the reading list of the draft's chapter 3, the book (the mechanisms its first
#: chapter implements), or the thesis's own mechanism.
LISTED_BY = ("thesis chapter 3", "book's addition", "the thesis's mechanism")

#: The 12 papers of the draft's chapter 3 (§3.1 on multi-modality, then §3.2 on attention in deep
#: learning), in the draft's order: the book's key, then the key of the thesis's own bibliography.
THESIS_REVIEW = {
    "baltrusaitis2019": "taxomany-multimodal",
    "liu2018": "combine-multimod",
    "vaswani2017": "attention-need",
    "galassi2019": "attention-review",
    "ephrat2018": "looking-to-listen",
    "libovicky2018": "cross-transformer",
    "wang2018": "crossmodal-video-caption",
    "li2019": "crossmodal-object-detection",
    "lee2018": "stacked-attention",
    "grimm2017": "latent-attention",
    "shon2018": "audiovisual-attention",
    "afouras2018": "afouras",
}
#: The papers of the taxonomy that the final thesis's chapter 3 (``3-literature-review.tex``) cites:
#: 7 of the draft's 12, and Bahdanau et al., which the draft's list lacks.
FINAL_REVIEW = frozenset({"galassi2019", "ephrat2018", "libovicky2018", "wang2018", "li2019", "shon2018",
                          "afouras2018", "bahdanau2015"})

TAXONOMY_COLUMNS = ("mechanism", "attends_over", "weights_driven_by", "kind", "quality_signal", "how", "citation",
                    "bibtex_key", "demonstrated_in", "contribution", "listed_by", "in_final_review", "justification")


def _row(mechanism, scope, driver, kind, quality, how, citation, key, listed_by, justification,
         demonstrated_in="", contribution="mechanism"):
    return {"mechanism": mechanism, "attends_over": scope, "weights_driven_by": driver, "kind": kind,
            "quality_signal": quality, "how": how, "citation": citation, "bibtex_key": key,
            "demonstrated_in": demonstrated_in, "contribution": contribution, "listed_by": listed_by,
            "in_final_review": key in FINAL_REVIEW, "justification": justification}


_THESIS, _BOOK, _OWN = LISTED_BY
_WITHIN, _ACROSS, _WHOLE = SCOPES
_CONTENT, _QUERY, _QUALITY = DRIVERS
_SPECS = [  # mechanism, scope, driver, kind, quality, how, citation, key, listed by, justification[, demonstrated in[, contribution]]
    # the mechanisms the book's first chapter implements, that the draft's list does not name
    ("additive attention", _WITHIN, _CONTENT, "endogenous", "none",
     "decoder state against each source state, through a learned tanh layer", "Bahdanau et al. 2015",
     "bahdanau2015", _BOOK,
     "one text attends over another text for the word being produced: positions of one mode, scored by their "
     "content against the task's query; no term of the score reacts to a degraded source", "alignment task"),
    ("dot and general attention", _WITHIN, _CONTENT, "endogenous", "none",
     "dot or bilinear product of decoder and source states", "Luong et al. 2015", "luong2015", _BOOK,
     "additive attention with a product for its score: the same placement", "alignment task"),
    ("memory-network hop", _WITHIN, _CONTENT, "endogenous", "none",
     "the question against each sentence of the story, refined hop after hop", "Sukhbaatar et al. 2015",
     "sukhbaatar2015", _BOOK,
     "the question is the query and the sentences of one story the keys: goal-driven weights over positions of "
     "one mode", "two supporting facts"),
    ("soft and hard visual attention", _ACROSS, _CONTENT, "crossmodal", "none",
     "a caption decoder's state against image regions; hard attention picks one region", "Xu et al. 2015", "xu2015",
     _BOOK,
     "the text being written directs the weights over the regions of an image: positions of another mode, chosen "
     "by content; nothing measures whether the image is degraded", "two supporting facts (hard against soft)"),
    # the reading list of the draft's chapter 3, in its order
    ("survey: multimodal learning", _ACROSS, _CONTENT, "crossmodal", "none",
     "a survey of multimodal machine learning organised by five challenges (representation, translation, "
     "alignment, fusion, co-learning); attention appears as implicit alignment", "Baltrušaitis et al. 2019",
     "baltrusaitis2019", _THESIS,
     "no mechanism of its own, so it is placed by the attention it reviews: the parts of one mode aligned with "
     "the parts of another by their content", "", "survey"),
    ("multiplicative combination", _WHOLE, _CONTENT, "crossmodal", "implicit",
     "each mode predicts on its own; the training loss discounts, sample by sample, a mode's errors where the other "
     "modes already predict well, so that the model leans on the more reliable modes", "Liu et al. 2018", "liu2018",
     _THESIS,
     "a fusion method rather than an attention mechanism, but it weighs whole modes per sample; the weights follow "
     "how well the modes predict (content), and what counts as reliable is learned from the training data "
     "(implicit)", "", "fusion method"),
    ("multi-head self-attention", _WITHIN, _CONTENT, "endogenous", "none",
     "every position's query against every key of the same sequence; the Transformer's encoder-decoder attention "
     "does the same between two sequences", "Vaswani et al. 2017", "vaswani2017", _THESIS,
     "weights over the positions of one sequence from the content of its own positions, for the task's goal; "
     "the scaled product never sees how clean the sequence is", "self-attention reversal"),
    ("survey: attention in NLP", _WITHIN, _CONTENT, "endogenous", "none",
     "a review of attention in natural language processing: a unified model (keys, values, query, compatibility "
     "and distribution functions) and a taxonomy of its variants", "Galassi et al. 2019", "galassi2019", _THESIS,
     "placed by the attention it reviews: weights over the tokens of a text, from how their content meets a query; "
     "none of its compatibility functions measures the input's quality", "", "survey"),
    ("audio-visual separation masks", _ACROSS, _CONTENT, "crossmodal", "implicit",
     "face embeddings of the speakers and the spectrogram of the mixture go through one network that outputs a "
     "time-frequency mask per speaker; the mask applied to the mixture isolates that speaker",
     "Ephrat et al. 2018", "ephrat2018", _THESIS,
     "the masks weigh the time-frequency bins of the audio under the guidance of a face (the final thesis reads "
     "them as cross-modal attention): positions of one mode, set by the content of both; trained on mixtures with "
     "other voices and background noise, they suppress the interference they were shown (implicit), and no "
     "weight says how reliable a whole mode is"),
    ("multi-source cross-attention", _ACROSS, _CONTENT, "crossmodal", "none",
     "the Transformer decoder's queries against the keys of several encoders (two source languages, or a sentence "
     "and an image), combined serially, in parallel, over all states at once, or hierarchically",
     "Libovický et al. 2018", "libovicky2018", _THESIS,
     "the decoder's state weighs the positions of several sources; the hierarchical combination also weighs the "
     "sources as wholes, but by what the decoder needs next, never by how reliable a source is"),
    ("aligned cross-modal attention", _ACROSS, _CONTENT, "crossmodal", "none",
     "a caption decoder attends over the time steps of a video and an audio encoder, at a coarse (global) and a "
     "fine (local) level, and weighs the modes' contexts as it fuses them", "Wang et al. 2018", "wang2018", _THESIS,
     "weights over time steps of each mode and between the modes, all set by the decoder's state as it writes: "
     "content-driven, for the captioning goal; the noise of a stream has no say"),
    ("cross-modal attentional context", _ACROSS, _CONTENT, "crossmodal", "none",
     "attention over context regions of the scene and over the parts inside each object proposal, computed from "
     "colour (RGB) and depth features", "Li et al. 2019", "li2019", _THESIS,
     "weights over image regions (positions) from the features of both channels: crossmodal, by content; "
     "neither channel's reliability enters"),
    ("stacked cross attention", _ACROSS, _CONTENT, "crossmodal", "none",
     "each image region attends over the words of a sentence (or each word over the regions) by cosine similarity; "
     "the attended vectors score how well image and text match", "Lee et al. 2018", "lee2018", _THESIS,
     "one element of a mode weighs the elements of the other by how alike they are: positions across modes, "
     "content-driven; the similarity is blind to the quality of either mode"),
    ("latent attention (post hoc)", _WITHIN, _CONTENT, "endogenous", "none",
     "a second network, trained on a data set, outputs a mask over the input components that an already trained "
     "network relies on; the mask is read off, the trained network is left unchanged", "Grimm et al. 2017",
     "grimm2017", _THESIS,
     "an analysis of where a trained network looks, not a part of it: a mask over the components of one input, "
     "computed from its content, decided by the task the network was trained for; the input's quality plays no "
     "part", "", "analysis method"),
    ("attention-based fusion", _WHOLE, _QUERY, "crossmodal", "implicit",
     "a learned linear layer over both modes' embeddings, one weight per mode; noise only as learned from corrupted "
     "training data", "Shon et al. 2018", "shon2018", _THESIS,
     "one weight per mode from a linear layer learned once for all inputs: whole modes, a learned query; trained "
     "on corrupted data, the weights can follow the noise they were shown (implicit), and only that noise",
     "robustness chapter (alternative)"),
    ("audio-visual Transformer", _ACROSS, _CONTENT, "crossmodal", "implicit",
     "self-attention encoders for the audio and for the lip video; the decoder attends over the outputs of both",
     "Afouras et al. 2018", "afouras2018", _THESIS,
     "self-attention within each mode, then the decoder's query over positions of both modes: crossmodal, by "
     "content; trained with babble noise added to the audio, its weights can learn that noise (implicit), and the "
     "final thesis notes that it is tested on the same noise"),
    ("EMMA", _WHOLE, _QUALITY, "exogenous", "explicit",
     "potential energies of a denoising autoencoder per mode, coupled across modes, through a Boltzmann distribution",
     "Werenne 2019", "werenne2019", _OWN,
     "one weight per mode from the potential energy of an autoencoder of the clean mode, a measure of how unusual "
     "the mode's input is: whole modes, weighed by their quality, explicitly", "EMMA and robustness chapters"),
]
_TAXONOMY = [_row(*spec) for spec in _SPECS]


def attention_taxonomy() -> pd.DataFrame:
    """One row per mechanism: what it attends over, what drives its weights, its kind, its source.

    Columns (:data:`TAXONOMY_COLUMNS`): ``mechanism``, ``attends_over`` (one of :data:`SCOPES`),
    ``weights_driven_by`` (one of :data:`DRIVERS`), ``kind`` (one of :data:`KINDS`),
    ``quality_signal`` (whether the weights see the input's quality, one of :data:`QUALITY_SIGNALS`),
    ``how``, ``citation``, ``bibtex_key`` (one key of ``book/references.bib``), ``demonstrated_in``,
    ``contribution`` (one of :data:`CONTRIBUTIONS`), ``listed_by`` (one of :data:`LISTED_BY`),
    ``in_final_review`` (cited by the final thesis's chapter 3) and ``justification`` (why the row
    sits where it does).

    Examples
    --------
    >>> attention_taxonomy().set_index("mechanism").loc["EMMA", ["attends_over", "kind"]].tolist()
    ['modes as wholes', 'exogenous']
    >>> int((attention_taxonomy()["listed_by"] == "thesis chapter 3").sum())
    12
    """
    return pd.DataFrame(_TAXONOMY, columns=list(TAXONOMY_COLUMNS))


def thesis_review_coverage(taxonomy: pd.DataFrame) -> dict:
    """How much of the draft's chapter 3 ``taxonomy`` covers.

    Returns ``listed`` (the papers of :data:`THESIS_REVIEW`, 12), ``covered`` (how many of them
    have a row marked ``thesis chapter 3``), ``missing`` (the keys of the others), ``book_additions`` (rows
    the book adds), ``in_final_review`` (covered papers that the final thesis's chapter 3 still
    cites) and ``rows``.

    >>> coverage = thesis_review_coverage(attention_taxonomy())
    >>> coverage["covered"], coverage["listed"], coverage["missing"]
    (12, 12, [])
    """
    missing_columns = {"bibtex_key", "listed_by"} - set(taxonomy.columns)
    if missing_columns:
        raise ValueError(f"taxonomy must have the columns of attention_taxonomy(), missing {sorted(missing_columns)}")
    thesis = taxonomy[taxonomy["listed_by"] == LISTED_BY[0]]
    covered = [key for key in THESIS_REVIEW if key in set(thesis["bibtex_key"])]
    return {"listed": len(THESIS_REVIEW), "covered": len(covered),
            "missing": [key for key in THESIS_REVIEW if key not in covered],
            "book_additions": int((taxonomy["listed_by"] == LISTED_BY[1]).sum()),
            "in_final_review": len(set(covered) & FINAL_REVIEW), "rows": len(taxonomy)}


#: The registered ids (:mod:`emma.claims.registry`) of the draft's two claims about the mechanisms before EMMA.
CLAIM_IDS = ("earlier_attend_part_of_mode", "no_exogenous_before_emma")


def literature_claims(taxonomy: pd.DataFrame) -> pd.DataFrame:
    """The draft's two claims about earlier attention mechanisms (:data:`CLAIM_IDS`), judged case by case on
    every row of ``taxonomy`` (:func:`claims_table`), each row a named sub-case.

    1. Chapter 3's outline: the others attend only to a part of a mode. Checked on every
       multi-modal row other than EMMA (kind crossmodal): does it attend to positions?
    2. Chapter 7: no deep-learning attention before EMMA is exogenous. Checked on every row
       other than EMMA (a survey counts by the attention it reviews): do its weights ignore the
       input's quality (``quality_signal`` none)? A row that sees it only implicitly, through
       training on corrupted data, is a case where the claim fails; a row that measures it
       explicitly refutes the claim outright (not reproduced).
    """
    others = taxonomy[taxonomy["mechanism"] != "EMMA"]
    multimodal = others[others["kind"] == "crossmodal"]
    part = multimodal["attends_over"] != SCOPES[2]
    blind = others["quality_signal"] == QUALITY_SIGNALS[0]
    explicit = others["quality_signal"] == QUALITY_SIGNALS[2]
    listed_by = others["listed_by"] if "listed_by" in others.columns else pd.Series(LISTED_BY[1], index=others.index)
    from_thesis = int((listed_by == LISTED_BY[0]).sum())

    def listed(rows):
        return "; ".join(f"{m} ({c})" for m, c in zip(rows["mechanism"], rows["citation"])) or "none"

    def cases(holds, rows, why):
        return (f"{int(holds.sum())} of {len(holds)} sub-cases hold: {', '.join(rows.loc[holds, 'mechanism']) or 'none'}; "
                f"not ({why}): {listed(rows[~holds])}")

    return claims_table([
        {"id": CLAIM_IDS[0],
         "thesis_evidence": "an argument of the outline, no review written",
         "our_evidence": f"the {len(multimodal)} multi-modal rows, does each attend to positions? "
                         f"{cases(part, multimodal, 'they weigh modes as wholes')}",
         "verdict": verdict_from_flags(part.tolist())},
        {"id": CLAIM_IDS[1],
         "thesis_evidence": "stated, to the best of the author's knowledge",
         "our_evidence": f"the {len(others)} rows other than EMMA ({from_thesis} from the thesis's chapter 3, "
                         f"{len(others) - from_thesis} added by the book), do their weights ignore the input's quality? "
                         f"{cases(blind, others, 'they see it')}; of these, measuring it explicitly (the others see it only "
                         f"through training on corrupted data): {listed(others[explicit])}",
         # one row that measures the quality refutes the claim: judged as a single case that fails
         "verdict": verdict_from_flags([False]) if explicit.any() else verdict_from_flags(blind.tolist())},
    ])


#: The colour of each kind of attention in :func:`taxonomy_figure`.
KIND_COLOURS = {"endogenous": "tab:blue", "exogenous": "tab:red", "crossmodal": "tab:green"}


def taxonomy_positions(taxonomy: pd.DataFrame, spread: float = 0.18) -> pd.DataFrame:
    """Where each mechanism goes on the taxonomy's map: ``x`` its scope, ``y`` its driver (indices in
    :data:`SCOPES`, :data:`DRIVERS`), mechanisms sharing a cell stacked around its centre, ``spread``
    apart, or closer where the fullest cell would not fit within its row (at most 0.84 in all).

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
    size = cell.transform("size")
    step = min(spread, 0.84 / max(int(size.max()), 1)) if len(taxonomy) else spread
    offset = cell.cumcount() - (size - 1) / 2  # 0 alone in a cell; -0.5, 0.5 for two
    return taxonomy.assign(x=x, y=taxonomy["weights_driven_by"].map(DRIVERS.index) + step * offset)


def taxonomy_figure(taxonomy: pd.DataFrame):
    """The taxonomy as a map, what it attends over against what drives its weights, coloured by kind;
    a dashed box marks a row that is no mechanism (a survey, a fusion or an analysis method)."""
    positions = taxonomy_positions(taxonomy)
    fullest = int(positions.groupby(["attends_over", "weights_driven_by"]).size().max()) if len(positions) else 1
    fig, ax = plt.subplots(figsize=(9, max(3.8, 1.0 + 0.72 * fullest)))
    for _, row in positions.iterrows():
        colour = KIND_COLOURS[row["kind"]]
        dashed = row.get("contribution", CONTRIBUTIONS[0]) != CONTRIBUTIONS[0]
        ax.text(row["x"], row["y"], row["mechanism"], ha="center", va="center", fontsize=9, color=colour,
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": colour, "ls": "--" if dashed else "-"})
    ax.set(xticks=range(3), xticklabels=SCOPES, yticks=range(3), yticklabels=DRIVERS,
           xlim=(-0.6, 2.6), ylim=(-0.5, 2.5), xlabel="attends over", ylabel="weights driven by")
    ax.grid(alpha=0.3)
    for kind, colour in KIND_COLOURS.items():
        ax.plot([], [], "s", color=colour, label=kind)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return fig


def kinds_markdown() -> str:
    """The three kinds of attention (:data:`KINDS`) as a Markdown list, each kind in bold with its meaning.

    >>> kinds_markdown().splitlines()[0]
    '* **endogenous**: goal-driven: a query posed by the task decides where to look.'
    """
    return "\n".join(f"* **{kind}**: {meaning}." for kind, meaning in KINDS.items())


#: The columns of the taxonomy and of the claims that the chapter shows (the saved tables keep them all).
TAXONOMY_SHOWN = ("mechanism", "attends_over", "weights_driven_by", "kind", "quality_signal", "listed_by", "citation", "justification")
CLAIMS_SHOWN = ("claim", "kind", "thesis_evidence", "our_evidence", "verdict")


@dataclass
class Review:
    """What :func:`review` returns: the ``taxonomy`` (:func:`attention_taxonomy`), its ``coverage`` of the draft's
    list (:func:`thesis_review_coverage`) and the draft's ``claims`` judged on it (:func:`literature_claims`)."""

    taxonomy: pd.DataFrame
    coverage: dict
    claims: pd.DataFrame

    @property
    def glued(self) -> dict:
        """The counts the chapter's prose cites: papers listed, covered, added by the book, still in the final
        review, and rows that see the input's quality only implicitly."""
        return {"attn_review_listed": self.coverage["listed"], "attn_review_covered": self.coverage["covered"],
                "attn_review_book_additions": self.coverage["book_additions"],
                "attn_review_in_final": self.coverage["in_final_review"],
                "attn_review_implicit": int((self.taxonomy["quality_signal"] == QUALITY_SIGNALS[1]).sum())}

    def figure(self):
        """The taxonomy's map (:func:`taxonomy_figure`), its text legible at the page's column width."""
        fig = taxonomy_figure(self.taxonomy)
        legible(fig).tight_layout()
        return fig


def review() -> Review:
    """The literature review of the chapter :doc:`Attention mechanisms </book/chapters/01_attention_mechanisms>`: the taxonomy, its coverage and the claims.

    >>> r = review()
    >>> r.glued["attn_review_listed"], list(r.claims["id"]) == list(CLAIM_IDS)
    (12, True)
    """
    taxonomy = attention_taxonomy()
    return Review(taxonomy, thesis_review_coverage(taxonomy), literature_claims(taxonomy))
