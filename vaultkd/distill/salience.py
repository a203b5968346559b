"""Salience in the note's context: the student's per-sentence score plus how central a sentence is.

The student reads one sentence at a time, so its salience cannot know what the rest of the note
is about. A careful reader picks the sentences that carry the note: salient on their own *and*
close to what the note as a whole says. `in_context` combines the two with weights fitted on
data by the training pipeline's `context` stage (`vaultkd.train.context`, logistic regression
on SciTLDR-A dev abstracts with their oracle salient sentence) and shipped in the model's
manifest (`student.json`, key `salience_in_context`).

Both features are z-scored within the note, so the combination ranks sentences of one note
against each other; the result is a probability-like score in [0, 1] like the student's own.
A note that holds a research paper (`is_paper`: its headings are a paper's sections) is read
the way one reads a paper: the title says what it is about and the opening states the point.
For those notes a second set of weights, fitted the same way, adds two features: how many of
the title's words a sentence shares, and a lead prior exp(-i/10) on its position. Both hurt
ordinary notes (their first line often restates the title as context, and their point need
not come first; see README, "Quality"), so notes keep the two-feature weights.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from vaultkd.model.predictor import Predictions
from vaultkd.vault.note import Note

MANIFEST_KEY = "salience_in_context"
PAPER_KEY = "paper"  # the paper weights, inside the MANIFEST_KEY block
FEATURES: tuple[str, ...] = ("salience", "centrality")
PAPER_FEATURES: tuple[str, ...] = ("salience", "centrality", "title", "lead")
LEAD_SCALE = 10.0  # the lead prior exp(-i / LEAD_SCALE): the first ~10 sentences of a note


@dataclass(frozen=True, slots=True)
class ContextWeights:
    salience: float
    centrality: float
    bias: float = 0.0
    title: float = 0.0  # paper weights only: words shared with the title (z-scored)
    lead: float = 0.0  # paper weights only: exp(-position / LEAD_SCALE)

    @property
    def reads_title(self) -> bool:
        return bool(self.title or self.lead)

    @classmethod
    def from_manifest(
        cls, manifest: Mapping[str, Any], *, paper: bool = False
    ) -> ContextWeights | None:
        """The weights a model ships with, or None for a model that has none (it ranks by raw
        salience). With `paper`, its paper weights, or None when it has none (papers are then
        read with the note weights)."""
        block = manifest.get(MANIFEST_KEY)
        if isinstance(block, Mapping) and paper:
            block = block.get(PAPER_KEY)
        if not isinstance(block, Mapping):
            return None
        try:
            w = block["weights"]
            return cls(
                float(w["salience"]), float(w["centrality"]), float(block.get("bias", 0.0)),
                title=float(w["title"]) if paper else 0.0,
                lead=float(w["lead"]) if paper else 0.0,
            )
        except (KeyError, TypeError, ValueError):
            return None

    def to_manifest(self) -> dict[str, Any]:
        weights = {"salience": self.salience, "centrality": self.centrality}
        if self.reads_title:
            weights |= {"title": self.title, "lead": self.lead}
        return {
            "features": list(PAPER_FEATURES if self.reads_title else FEATURES),
            "weights": weights,
            "bias": self.bias,
        }


# A paper's sections, as its headings name them ("1 Introduction", "5. Conclusions").
_SECTION_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern))
    for kind, pattern in (
        ("abstract", r"abstract$"),
        ("introduction", r"introduction\b"),
        ("related", r"(?:related|prior|previous) work|background$|literature review"),
        ("method", r"(?:methods?|methodology|approach|materials and methods)$"),
        ("experiments", r"experiments?\b|experimental (?:setup|results)|evaluation$"),
        ("results", r"results\b"),
        ("discussion", r"discussion\b"),
        ("conclusion", r"conclusions?\b|concluding remarks"),
        ("references", r"(?:references|bibliography)$"),
        ("acknowledgements", r"acknowledge?ments?$"),
    )
)
_NUMBERING = re.compile(r"^(?:\d+(?:\.\d+)*\.?|[ivx]+[.)])\s+|^\d+(?:\.\d+)*\.?$")


def section_kind(heading: str) -> str | None:
    """The paper section a heading names, or None."""
    text = _NUMBERING.sub("", " ".join(heading.lower().split()), count=1)
    for kind, pattern in _SECTION_KINDS:
        if pattern.match(text):
            return kind
    return None


def is_paper(headings: Sequence[str]) -> bool:
    """Whether headings are a research paper's: an introduction and one more section of a
    paper, or three such sections. A meeting note with a "Discussion" heading is not one."""
    kinds = {k for k in map(section_kind, headings) if k is not None}
    return len(kinds) >= 3 or ("introduction" in kinds and len(kinds) >= 2)


# Words too common to say what a title is about.
_STOPWORDS = frozenset(
    """
    a an and are as at be by can do for from has have how in into is it its not of on or our
    than that the their this to towards toward under using via was we were what when which
    who why with without new based over through versus vs
    """.split()
)
_WORD = re.compile(r"[^\W\d_]+")
STEM = 5  # words compared by their first five letters: "parsers" meets "parser"


def title_words(text: str) -> frozenset[str]:
    return frozenset(
        w[:STEM] for w in _WORD.findall(text.lower()) if len(w) > 2 and w not in _STOPWORDS
    )


def title_overlap(sentences: Sequence[str], title: str) -> np.ndarray:
    """How many of the title's words each sentence shares (float64, all 0 for an empty title)."""
    words = title_words(title)
    return np.array([len(title_words(s) & words) for s in sentences], np.float64)


def _z(v: np.ndarray) -> np.ndarray:
    sd = float(v.std())
    return (v - float(v.mean())) / sd if sd > 1e-9 else np.zeros_like(v)


def features(salience: np.ndarray, embeddings: np.ndarray) -> np.ndarray:
    """(n, 2) float64: z-scored salience and z-scored cosine to the note's mean embedding."""
    sal = np.asarray(salience, np.float64)
    emb = np.asarray(embeddings, np.float64)
    if sal.shape[0] == 0:
        return np.zeros((0, len(FEATURES)))
    norms = np.linalg.norm(emb, axis=1, keepdims=True)
    unit = emb / np.maximum(norms, 1e-12)
    centre = unit.mean(axis=0)
    centre /= max(float(np.linalg.norm(centre)), 1e-12)
    return np.column_stack([_z(sal), _z(unit @ centre)])


def paper_features(
    salience: np.ndarray, embeddings: np.ndarray, texts: Sequence[str], title: str
) -> np.ndarray:
    """(n, 4) float64: `features`, the z-scored title overlap and the lead prior."""
    n = len(texts)
    lead = np.exp(-np.arange(n, dtype=np.float64) / LEAD_SCALE)
    return np.column_stack(
        [features(salience, embeddings), _z(title_overlap(texts, title)), lead]
    )


def scores(
    salience: np.ndarray, embeddings: np.ndarray, weights: ContextWeights,
    texts: Sequence[str] = (), title: str = "",
) -> np.ndarray:
    """The in-context salience of each sentence, in [0, 1] (float32). Paper weights read the
    sentences' `texts` and the note's `title` too."""
    if weights.reads_title:
        if len(texts) != len(salience):
            raise ValueError(f"paper weights need the {len(salience)} sentences' texts")
        x = paper_features(salience, embeddings, texts, title)
        w = np.array([weights.salience, weights.centrality, weights.title, weights.lead])
    else:
        x = features(salience, embeddings)
        w = np.array([weights.salience, weights.centrality])
    logit = x @ w + weights.bias
    return (1.0 / (1.0 + np.exp(-logit))).astype(np.float32)


def in_context(
    preds: Predictions, weights: ContextWeights | None,
    texts: Sequence[str] = (), title: str = "",
) -> Predictions:
    """`preds` with salience replaced by the in-context score; unchanged without weights or
    with fewer than two sentences (there is no context to compare with)."""
    if weights is None or len(preds) < 2:
        return preds
    return Predictions(
        role_probs=preds.role_probs,
        salience=scores(preds.salience, preds.embeddings, weights, texts, title),
        embeddings=preds.embeddings,
    )


def note_title(note: Note) -> str:
    """What the note is called: its frontmatter `title`, else its first level-1 heading, else
    its file name (a paper imported from a reference manager is often named by citekey)."""
    fm = note.frontmatter.get("title") if isinstance(note.frontmatter, dict) else None
    if isinstance(fm, str) and fm.strip():
        return fm.strip()
    h1 = next((h.text for h in note.headings if h.level == 1 and h.text.strip()), "")
    return h1.strip() or note.title


def note_in_context(
    note: Note, texts: Sequence[str], preds: Predictions,
    weights: ContextWeights | None, paper: ContextWeights | None,
) -> Predictions:
    """`in_context` with the weights for this note: the paper weights for a paper (if the
    model has them), else the note weights. `texts` are the sentences `preds` scored."""
    if paper is not None and is_paper([h.text for h in note.headings]):
        return in_context(preds, paper, texts, note_title(note))
    return in_context(preds, weights)
