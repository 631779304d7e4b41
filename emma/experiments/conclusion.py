"""The conclusion's evidence: the thesis's research questions answered from the book's claims tables,
and the integrability limit of a deeper autoencoder.

The thesis asks three research questions (§5.8) and leaves its conclusion (chapter 8) as an
outline. :data:`RESEARCH_QUESTIONS` ties each question to the claims on its topic that the
chapters judged; :func:`answer_questions` reads their verdicts back from ``<output_dir>/tables``,
keeping only the *core* claims (:data:`emma.claims.rules.KINDS`). The limitation
of §4.4 (tied weights make the reconstruction field a gradient only with one hidden layer) is
measured with :class:`DeepTiedAutoencoder` (:func:`integrability_study`, :class:`IntegrabilityStudy`,
:func:`integrability_figure`). :func:`question_lines` and :func:`conclusion_findings` put the
chapter's answers in words.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from emma.claims.report import read_table
from emma.claims.rules import INCONCLUSIVE, KINDS, PARTLY, REPRODUCED, RULE_DEPENDENT, VERDICTS, check_kind, claims_table
from emma.engine.autoencoders import TOY_DAE, DAESettings, check_dae
from emma.experiments.manifolds import sample_manifold
from emma.method.autoencoder import DenoisingAutoencoder, check_batch, jacobian_asymmetry
from emma.util import checks

#: Each research question of the draft's §5.8, in the final thesis's wording where it states one, with the
#: ids of the core claims that answer it (:mod:`emma.claims.registry.robustness`). The second is
#: asked as the final abstract states it: robustness to failures *more intense than in training*.
RESEARCH_QUESTIONS = {
    "Does EMMA increase the robustness compared to data augmentation?": [
        ("robustness_claims", "beats_augmentation_ip"),
        ("robustness_claims", "beats_augmentation_dm"),
        ("robustness_claims", "generalises_past_training"),
    ],
    "Do the two regularizers generalize the robustness to failures more intense than in training?": [
        ("robustness_claims", "capacity_regularizer_generalises"),
        ("robustness_claims", "energy_regularizer_generalises"),
    ],
    "Is the end-to-end model more interpretable with EMMA?": [
        ("robustness_claims", "attention_shifts_ip"),
        ("robustness_claims", "attention_shifts_dm"),
        ("robustness_claims", "total_energy_flags_errors"),
    ],
}
#: The claims table's verdict column under the book's protocol (the headline), by table.
_HEADLINE_VERDICT = {"robustness_claims": "verdict_sound"}
_EVIDENCE = ("effect", "ci_low", "ci_high", "n_seeds", "min_effect", "detectable_effect")


def answer_questions(output_dir: str | os.PathLike = "_build", tables: dict | None = None) -> pd.DataFrame:
    """One row per (research question, core claim): the claim's evidence and verdict from the chapter that judged it.

    A claim listed in :data:`RESEARCH_QUESTIONS` whose ``kind`` is not *core* is left out: the
    questions are the thesis's, answered by its core claims only. A question left without any
    core claim, a claim not found, or a table without the column ``kind`` is an error.

    Parameters
    ----------
    output_dir : path
        The folder the chapters wrote their tables into.
    tables : dict of str to DataFrame, optional
        Claims tables not (yet) on disk, by name.

    Returns
    -------
    DataFrame
        ``question, table, id, claim, kind, our_evidence, verdict`` (the book's protocol), the
        evidence columns, and ``verdict_original`` (the replay of the thesis's code, where run).
    """
    tables = dict(tables or {})
    rows = []
    for question, claims in RESEARCH_QUESTIONS.items():
        for name, claim_id in claims:
            if name not in tables:
                tables[name] = read_table(output_dir, name)
            table = tables[name]
            for column in ("kind", "id"):
                if column not in table.columns:
                    raise ValueError(f"table {name!r} lacks the column {column!r} (kind: one of {KINDS} per claim): rerun the chapter that writes it")
            hits = table[table["id"] == claim_id]
            if len(hits) != 1:
                raise ValueError(f"table {name!r} must hold exactly one claim {claim_id!r}, found {len(hits)}")
            hit = hits.iloc[0]
            try:
                kind = check_kind(hit["kind"])
            except ValueError as error:
                raise ValueError(f"table {name!r}, claim {hit['claim']!r}: {error}") from None
            if kind != KINDS[0]:
                continue  # a secondary statement or the book's conjecture does not answer the thesis's question
            rows.append({"question": question, "table": name, "id": claim_id, "claim": hit["claim"], "kind": kind, "our_evidence": hit["our_evidence"],
                         "verdict": hit[_HEADLINE_VERDICT.get(name, "verdict")], **{c: hit.get(c, np.nan) for c in _EVIDENCE},
                         "verdict_original": hit.get("verdict_original", np.nan)})
        if not any(row["question"] == question for row in rows):
            raise ValueError(f"no core claim answers the research question {question!r}: {[c for _, c in claims]} are all of another kind")
    out = pd.DataFrame(rows)
    out["n_seeds"] = pd.to_numeric(out["n_seeds"]).round().astype("Int64")  # a count: empty where no test ran
    return out


def question_verdicts(answers: pd.DataFrame) -> pd.DataFrame:
    """Each question's answer from its core claims: a count per verdict, and the answer.

    *reproduced* when every claim behind it is; *partly reproduced* (its claims are its named
    sub-cases) when some are reproduced or rule-dependent and some not; otherwise the least
    favourable verdict among them that is shared by all (*rule-dependent*, *inconclusive*, or
    *not reproduced*).

    >>> answers = pd.DataFrame({"question": ["q", "q", "q"], "verdict": ["reproduced", "inconclusive", "not reproduced"],
    ...                         "kind": ["core", "core", "book"]})
    >>> question_verdicts(answers)[["claims", "verdict"]].values.tolist()
    [[2, 'partly reproduced']]
    """
    if not {"question", "verdict"} <= set(answers.columns):
        raise ValueError("answers must have the columns 'question' and 'verdict' (see answer_questions)")
    if "kind" in answers.columns:
        answers = answers[answers["kind"] == KINDS[0]]
    rows = []
    for question, group in answers.groupby("question", sort=False):
        verdicts = list(group["verdict"])
        shown = [v in (REPRODUCED, RULE_DEPENDENT) for v in verdicts]
        if all(v == REPRODUCED for v in verdicts):
            answer = REPRODUCED
        elif any(shown) and not all(shown):
            answer = PARTLY
        else:
            answer = VERDICTS[max(VERDICTS.index(v) for v in verdicts)] if len(set(verdicts)) == 1 or all(shown) else INCONCLUSIVE
        rows.append({"question": question, "claims": len(verdicts), **{v: verdicts.count(v) for v in VERDICTS}, "verdict": answer})
    return pd.DataFrame(rows)


def answer_sentences(answers: pd.DataFrame) -> list[str]:
    """Each research question in words: each core claim behind it with its verdict and effect."""
    if "kind" in answers.columns:
        answers = answers[answers["kind"] == KINDS[0]]
    lines = []
    for question, rows in answers.groupby("question", sort=False):
        parts = []
        for _, r in rows.iterrows():
            effect = (f" (effect {r['effect']:+.3f}, CI {r['ci_low']:+.3f} to {r['ci_high']:+.3f}, minimum {r['min_effect']:+.3f}, "
                      f"{int(r['n_seeds'])} seeds)" if pd.notna(r.get("ci_low", np.nan)) else "")
            parts.append(f"{r['claim']}: *{r['verdict']}*{effect}")
        lines.append(f"**{question}** " + "; ".join(parts) + ".")
    return lines


class DeepTiedAutoencoder(DenoisingAutoencoder):
    """A denoising autoencoder with two hidden layers and tied weights (the limit of §4.4).

    r(x) = W₁ᵀ σ(W₂ᵀ σ(W₂ σ(W₁x + b₁) + b₂) + c₁) + b_r. With one hidden layer the
    Jacobian of r is W ᵀ diag(σ') W, symmetric; with two, the decoder's σ' differs from the
    encoder's and the Jacobian is in general not symmetric: r − x is then not a gradient and
    eq. 4.7 defines no potential energy.
    """

    def __init__(self, d_input: int, d_hidden: int, d_second: int, noise_std: float):
        super().__init__(d_input, d_hidden, noise_std)
        if isinstance(d_second, bool) or not isinstance(d_second, int) or d_second < 1:
            raise ValueError(f"d_second must be a positive integer, got {d_second!r}")
        bound = 1.0 / math.sqrt(d_hidden)
        self.d_second = d_second
        self.weight_second = torch.nn.Parameter(torch.empty(d_second, d_hidden).uniform_(-bound, bound))  # W₂
        self.bias_second = torch.nn.Parameter(torch.zeros(d_second))  # b₂
        self.bias_decoded = torch.nn.Parameter(torch.zeros(d_hidden))  # c₁

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        check_batch(x, self.d_input)
        h1 = torch.sigmoid(self._pre_activation(x))  # (batch, hidden)
        h2 = torch.sigmoid(h1 @ self.weight_second.T + self.bias_second)  # (batch, second)
        back = torch.sigmoid(h2 @ self.weight_second + self.bias_decoded)  # (batch, hidden)
        return back @ self.weight + self.bias_visible

    def potential(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError("a two-hidden-layer autoencoder has no potential energy of the form of eq. 4.7")


def integrability_by_depth(models: dict, points: torch.Tensor) -> pd.DataFrame:
    """The Jacobian asymmetry of trained autoencoders, absolute and relative to the Jacobian's size.

    Parameters
    ----------
    models : dict of (depth, seed) to autoencoder
    points : Tensor, shape (n, d)

    Returns
    -------
    DataFrame
        ``depth, seed, asymmetry_max, asymmetry_median, relative_median`` where the relative
        asymmetry divides ``max |J − Jᵀ|`` by ``max |J|`` at each point.
    """
    rows = []
    for (depth, seed), model in models.items():
        x = check_batch(points, model.d_input).detach()
        asymmetry = jacobian_asymmetry(model, x)
        jac = torch.func.vmap(torch.func.jacrev(lambda row: model.reconstruct(row[None])[0]))(x)
        size = jac.abs().amax(dim=(1, 2)).clamp_min(1e-12)
        rows.append({"depth": depth, "seed": seed, "asymmetry_max": float(asymmetry.detach().max()), "asymmetry_median": float(asymmetry.detach().median()),
                     "relative_median": float((asymmetry / size).detach().median())})
    return pd.DataFrame(rows)


def train_autoencoders_by_depth(seeds, *, manifold: str = "circle", n_train: int, d_second: int, dae: DAESettings = TOY_DAE) -> dict:
    """One tied autoencoder with one and one with two hidden layers per seed, trained in float64 on a manifold of chapter 4.

    Not energy models (:func:`emma.engine.autoencoders.fit_energy_models`): the point is whether
    the deeper one still has a potential, so each model is built here (the second with ``d_second``
    units in its second hidden layer, ``dae`` giving the first layer and the training, default
    chapter 4's :data:`~emma.engine.autoencoders.TOY_DAE`) and trained alone in float64 by
    :func:`emma.method.autoencoder.train_one_autoencoder`.

    Returns ``{(depth, seed): model}`` for :func:`integrability_by_depth`.
    """
    from emma.method.autoencoder import train_one_autoencoder

    dae = check_dae(dae)

    models = {}
    for seed in seeds:
        x_train = sample_manifold(manifold, n_train, torch.Generator().manual_seed(seed)).double()
        for depth in (1, 2):
            torch.manual_seed(seed)
            model = (DenoisingAutoencoder(2, dae.d_hidden, dae.noise_std) if depth == 1
                     else DeepTiedAutoencoder(2, dae.d_hidden, d_second, dae.noise_std)).double()
            train_one_autoencoder(model, x_train, epochs=dae.epochs, batch_size=dae.batch_size, lr=dae.lr, seed=seed, desc=f"depth {depth}, seed {seed}")
            models[depth, seed] = model.eval()
    return models


def integrability_claim(table: pd.DataFrame, n_points: int, alpha: float = 0.05) -> pd.DataFrame:
    """The limit of §4.4 (registry id ``deeper_tied_autoencoder_not_gradient``) judged from :func:`integrability_by_depth`.

    The effect is the relative Jacobian asymmetry of the two-hidden-layer model minus that of the
    one-layer model (zero up to rounding), paired over seeds; one-sided paired t-test against the
    claim's pre-declared minimum effect (:func:`emma.claims.rules.paired_test`).
    """
    from emma.claims.registry import min_effect
    from emma.claims.rules import paired_test

    if not isinstance(table, pd.DataFrame) or not {"depth", "seed", "relative_median"} <= set(table.columns):
        raise ValueError("table must be integrability_by_depth's, with the columns depth, seed and relative_median")
    by_depth = table.pivot(index="seed", columns="depth", values="relative_median")
    if not {1, 2} <= set(by_depth.columns) or by_depth[[1, 2]].isna().any().any():
        raise ValueError("table must hold models of depth 1 and of depth 2 for every seed (see integrability_by_depth)")
    shallow, deep = by_depth[1], by_depth[2]
    test = paired_test(deep.to_numpy(), shallow.to_numpy(), min_effect=min_effect("deeper_tied_autoencoder_not_gradient"), alpha=alpha)
    return claims_table([{
        "id": "deeper_tied_autoencoder_not_gradient",
        "thesis_evidence": "§4.4, stated without a check",
        "our_evidence": f"median |J − Jᵀ| / |J| over {n_points} points: one hidden layer at most {shallow.max():.1e}, two hidden "
                        f"layers {deep.mean():.3f} on average (minimum {deep.min():.3f}); two minus one layer: {test.describe()}",
        **test.row(),
    }])


@dataclass
class IntegrabilityStudy:
    """What :func:`integrability_study` returns: the limit of §4.4 measured and judged.

    Attributes
    ----------
    table : DataFrame
        :func:`integrability_by_depth`: per depth (1 or 2 hidden layers) and seed, the Jacobian's asymmetry.
    claims : DataFrame
        :func:`integrability_claim`: the claims table ``conclusion_claims``.
    """

    table: pd.DataFrame
    claims: pd.DataFrame

    @property
    def verdict(self) -> str:
        """The verdict on the limit of §4.4."""
        return self.claims["verdict"].iloc[0]

    def relative(self, depth: int) -> pd.Series:
        """The relative asymmetry (median over points of ``|J − Jᵀ| / |J|``) of each seed's model of ``depth`` hidden layers."""
        if depth not in (1, 2):
            raise ValueError(f"depth must be 1 or 2 (hidden layers), got {depth!r}")
        return self.table.groupby("depth")["relative_median"].get_group(depth)

    def describe(self) -> str:
        """The measurement and its verdict in words, with what follows for a deeper autoencoder when the limit is reproduced."""
        shallow, deep = self.relative(1), self.relative(2)
        return (f"With one hidden layer the Jacobian's asymmetry is at most {shallow.max():.1e} of its size; with two it is {deep.mean():.3f} on "
                f"average and at least {deep.min():.3f} on any seed: the limit of thesis §4.4 is **{self.verdict}**. "
                + ("A deeper, convolutional or recurrent autoencoder therefore needs another measure of outlyingness than eq. 4.7; the "
                   "reconstruction error, which the chapter on HTRU2 ({doc}`05_potential_energy`) compares with Ψ case by case, needs no integrability at all."
                   if self.verdict == VERDICTS[0] else ""))


def integrability_study(seeds, *, manifold: str = "circle", n_train: int, d_second: int, dae: DAESettings = TOY_DAE,
                        n_points: int) -> IntegrabilityStudy:
    """Train one autoencoder of each depth per seed (:func:`train_autoencoders_by_depth`), measure their Jacobians'
    asymmetry at ``n_points`` points of the manifold (drawn with seed 10,000) and judge the limit of §4.4."""
    n_points = checks.positive_int(n_points, "n_points")
    models = train_autoencoders_by_depth(seeds, manifold=manifold, n_train=n_train, d_second=d_second, dae=dae)
    points = sample_manifold(manifold, n_points, torch.Generator().manual_seed(10_000)).double()
    table = integrability_by_depth(models, points)
    return IntegrabilityStudy(table, integrability_claim(table, n_points))


def integrability_figure(study: IntegrabilityStudy):
    """The relative asymmetry of each seed's model against its number of hidden layers."""
    import matplotlib.pyplot as plt

    from emma.util.plots import legible

    fig, ax = plt.subplots(figsize=(5, 3))
    ax.scatter(study.table["depth"], study.table["relative_median"], color="tab:blue")
    ax.set(xticks=[1, 2], xlim=(0.5, 2.5), xlabel="hidden layers (tied weights)", ylabel="median |J − Jᵀ| / |J|", title="Integrability by depth")
    legible(fig)
    fig.tight_layout()
    return fig


def question_lines(summary: pd.DataFrame) -> str:
    """Each research question of :func:`question_verdicts` as a Markdown bullet: its claims counted by verdict, and its answer."""
    if not isinstance(summary, pd.DataFrame) or not {"question", "claims", "verdict", *VERDICTS} <= set(summary.columns):
        raise ValueError("summary must be question_verdicts' table (question, claims, a count per verdict, verdict)")
    lines = []
    for _, row in summary.iterrows():
        tally = ", ".join(f"{row[v]} {v}" for v in VERDICTS if row[v])
        lines.append(f"- **{row['question']}** Of its {row['claims']} claims: {tally}. Answer: *{row['verdict']}*.")
    return "\n".join(lines)


def conclusion_findings(answers: pd.DataFrame, summary: pd.DataFrame, study: IntegrabilityStudy) -> str:
    """What the chapter finds, as Markdown bullets: the answer to each research question and the integrability limit."""
    return (f"- The three research questions of thesis §5.8, answered from {len(answers)} core claims: "
            + "; ".join(f"*{q}* — {v}" for q, v in zip(summary["question"], summary["verdict"])) + ".\n"
            + f"- The integrability limit of thesis §4.4: {study.verdict} (Jacobian asymmetry relative to its size: "
            + f"{study.relative(1).max():.1e} with one hidden layer, {study.relative(2).mean():.3f} with two).")
