"""Salience in context (`distill/salience.py`) and the fit of its weights (`train/context.py`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from vaultkd.distill.salience import ContextWeights, features, in_context, scores
from vaultkd.model.predictor import Predictions
from vaultkd.train.context import Doc, fit_context, fit_logistic, write_manifest

DIM = 8


def _preds(salience: Sequence[float], embeddings: np.ndarray) -> Predictions:
    n = len(salience)
    probs = np.full((n, 5), 0.2, np.float32)
    return Predictions(probs, np.asarray(salience, np.float32), embeddings.astype(np.float32))


def _cluster_and_outlier() -> np.ndarray:
    """Three sentences about one thing, one about another."""
    emb = np.zeros((4, DIM))
    emb[0, 0] = emb[1, 0] = emb[2, 0] = 1.0
    emb[1, 1] = emb[2, 2] = 0.2
    emb[3, 5] = 1.0
    return emb / np.linalg.norm(emb, axis=1, keepdims=True)


def test_features_are_z_scores_within_the_note() -> None:
    x = features(np.array([0.1, 0.5, 0.9, 0.5]), _cluster_and_outlier())
    assert x.shape == (4, 2)
    assert np.allclose(x.mean(axis=0), 0.0, atol=1e-9)
    assert np.allclose(x.std(axis=0), 1.0, atol=1e-9)
    assert int(np.argmin(x[:, 1])) == 3  # the outlier is the least central sentence


def test_a_central_sentence_beats_an_equally_salient_outlier() -> None:
    preds = _preds([0.2, 0.2, 0.2, 0.8], _cluster_and_outlier())
    alone = in_context(preds, ContextWeights(salience=1.0, centrality=0.0))
    assert int(np.argmax(alone.salience)) == 3  # no centrality: the raw order
    mixed = in_context(preds, ContextWeights(salience=0.5, centrality=1.0))
    assert int(np.argmax(mixed.salience)) != 3
    assert mixed.salience.dtype == np.float32
    assert float(mixed.salience.min()) >= 0.0 and float(mixed.salience.max()) <= 1.0
    assert mixed.embeddings is preds.embeddings and mixed.role_probs is preds.role_probs


def test_no_weights_or_a_single_sentence_leave_predictions_alone() -> None:
    preds = _preds([0.3, 0.7, 0.1, 0.5], _cluster_and_outlier())
    assert in_context(preds, None) is preds
    one = _preds([0.4], _cluster_and_outlier()[:1])
    assert in_context(one, ContextWeights(1.0, 1.0)) is one


def test_manifest_weights_round_trip_and_bad_blocks_mean_none() -> None:
    w = ContextWeights(0.53, 0.31, -2.0)
    assert ContextWeights.from_manifest({"salience_in_context": w.to_manifest()}) == w
    assert ContextWeights.from_manifest({}) is None
    assert ContextWeights.from_manifest({"salience_in_context": {"weights": {}}}) is None
    assert ContextWeights.from_manifest({"salience_in_context": "0.5"}) is None


def test_fit_logistic_matches_the_direction_of_the_signal() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 2))
    y = (rng.random(2000) < 1 / (1 + np.exp(-(2.0 * x[:, 0] - 1.0 * x[:, 1] - 0.5)))).astype(float)
    w = fit_logistic(x, y, l2=0.0)
    assert w[0] == pytest.approx(2.0, abs=0.3)
    assert w[1] == pytest.approx(-1.0, abs=0.3)
    assert w[2] == pytest.approx(-0.5, abs=0.3)


class _TopicPredictor:
    """Raw salience is noise; the positive is the sentence nearest the document's topic."""

    version = "topic 1"
    dim = DIM

    def __init__(self) -> None:
        self.rng = np.random.default_rng(1)

    def predict(self, sentences: Sequence[str]) -> Predictions:
        emb = np.zeros((len(sentences), DIM))
        for i, s in enumerate(sentences):
            emb[i, 0] = 3.0 if s.startswith("topic") else 1.0
            emb[i, 1 + i % (DIM - 1)] = 1.0
        emb /= np.linalg.norm(emb, axis=1, keepdims=True)
        return _preds(self.rng.random(len(sentences)), emb)


def test_fit_context_learns_centrality_when_it_carries_the_signal(tmp_path: Path) -> None:
    docs = [
        Doc(tuple(("topic" if i == k else "other") + f" {i}" for i in range(7)), frozenset({k}))
        for k in range(7)
        for _ in range(20)
    ]
    weights, report = fit_context(_TopicPredictor(), docs)
    assert weights.centrality > 1.0 > abs(weights.salience)
    assert report["top1_in_context"] > 0.9 > report["top1_sentence_only"]
    (tmp_path / "student.json").write_text(json.dumps({"version": "old"}))
    manifest = write_manifest(tmp_path, weights, report, "test docs", "new")
    assert manifest["version"] == "new"
    written = json.loads((tmp_path / "student.json").read_text())
    assert ContextWeights.from_manifest(written) == weights


def test_the_shipped_model_has_weights_that_use_both_features() -> None:
    from vaultkd.model.runtime import load_predictor

    weights = ContextWeights.from_manifest(load_predictor().manifest)
    assert weights is not None and weights.salience > 0 and weights.centrality > 0
    s = scores(np.array([0.9, 0.1, 0.5]), np.eye(3, DIM), weights)
    assert int(np.argmax(s)) == 0
