"""Salience in the note's context: the student's per-sentence score plus how central a sentence is.

The student reads one sentence at a time, so its salience cannot know what the rest of the note
is about. A careful reader picks the sentences that carry the note: salient on their own *and*
close to what the note as a whole says. `in_context` combines the two with weights fitted on
data by the training pipeline's `context` stage (`vaultkd.train.context`, logistic regression
on SciTLDR-A dev abstracts with their oracle salient sentence) and shipped in the model's
manifest (`student.json`, key `salience_in_context`).

Both features are z-scored within the note, so the combination ranks sentences of one note
against each other; the result is a probability-like score in [0, 1] like the student's own.
A position prior was measured too and left out: it helps papers (CL-SciSumm) but ranks the
seed set's notes worse (see README, "Quality").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from vaultkd.model.predictor import Predictions

MANIFEST_KEY = "salience_in_context"
FEATURES: tuple[str, ...] = ("salience", "centrality")


@dataclass(frozen=True, slots=True)
class ContextWeights:
    salience: float
    centrality: float
    bias: float = 0.0

    @classmethod
    def from_manifest(cls, manifest: Mapping[str, Any]) -> ContextWeights | None:
        """The weights a model ships with, or None for a model that has none (raw salience)."""
        block = manifest.get(MANIFEST_KEY)
        if not isinstance(block, Mapping):
            return None
        try:
            w = block["weights"]
            return cls(float(w["salience"]), float(w["centrality"]), float(block.get("bias", 0.0)))
        except (KeyError, TypeError, ValueError):
            return None

    def to_manifest(self) -> dict[str, Any]:
        return {
            "features": list(FEATURES),
            "weights": {"salience": self.salience, "centrality": self.centrality},
            "bias": self.bias,
        }


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


def scores(salience: np.ndarray, embeddings: np.ndarray, weights: ContextWeights) -> np.ndarray:
    """The in-context salience of each sentence, in [0, 1] (float32)."""
    x = features(salience, embeddings)
    logit = x @ np.array([weights.salience, weights.centrality]) + weights.bias
    return (1.0 / (1.0 + np.exp(-logit))).astype(np.float32)


def in_context(preds: Predictions, weights: ContextWeights | None) -> Predictions:
    """`preds` with salience replaced by the in-context score; unchanged without weights or
    with fewer than two sentences (there is no context to compare with)."""
    if weights is None or len(preds) < 2:
        return preds
    return Predictions(
        role_probs=preds.role_probs,
        salience=scores(preds.salience, preds.embeddings, weights),
        embeddings=preds.embeddings,
    )
