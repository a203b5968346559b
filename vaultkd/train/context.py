"""Fit the weights of salience in context (`vaultkd.distill.salience`) on labelled documents.

    python -m vaultkd.train --stage context      # after export: adds the weights to student.json

Data: the SciTLDR-A dev file (the upstream split our training reads from; its test file stays
held out for `bench/quality_bench.py`), one positive per abstract: the oracle salient sentence.
The student's own predictions are the inputs, so the weights fit the model that ships.
Logistic regression with an L2 penalty, fitted by Newton's method: two features and a bias do
not need a library. Pure numpy, no torch.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vaultkd.distill.salience import MANIFEST_KEY, ContextWeights, features, scores
from vaultkd.model.predictor import Predictor

L2 = 1.0  # penalty on the weights (not the bias), as sklearn's LogisticRegression(C=1)


@dataclass(frozen=True)
class Doc:
    sentences: tuple[str, ...]
    positives: frozenset[int]


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = L2, steps: int = 50) -> np.ndarray:
    """Weights (last entry = bias) minimising L2/2·|w|² + Σ log-loss, by Newton's method."""
    a = np.column_stack([x, np.ones(len(x))])
    w = np.zeros(a.shape[1])
    reg = np.full(a.shape[1], l2)
    reg[-1] = 0.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(a @ w)))
        grad = a.T @ (p - y) + reg * w
        hess = (a * (p * (1 - p))[:, None]).T @ a + np.diag(reg)
        step = np.linalg.solve(hess + 1e-9 * np.eye(len(w)), grad)
        w -= step
        if float(np.abs(step).max()) < 1e-10:
            break
    return w


def top1(docs: Sequence[Doc], ranked: Sequence[np.ndarray]) -> float:
    """Share of documents whose best-scored sentence is a positive."""
    hits = [int(np.argmax(s)) in d.positives for d, s in zip(docs, ranked, strict=True)]
    return float(np.mean(hits)) if hits else float("nan")


def fit_context(predictor: Predictor, docs: Sequence[Doc]) -> tuple[ContextWeights, dict]:
    """Fit on `docs` with `predictor`'s outputs; return the weights and a small report."""
    docs = [d for d in docs if len(d.sentences) >= 2 and d.positives]
    if not docs:
        raise ValueError("no document with two or more sentences and a positive to fit on")
    preds = [predictor.predict(list(d.sentences)) for d in docs]
    x = np.vstack([features(p.salience, p.embeddings) for p in preds])
    y = np.concatenate(
        [[1.0 if i in d.positives else 0.0 for i in range(len(d.sentences))] for d in docs]
    )
    w = fit_logistic(x, y)
    weights = ContextWeights(salience=round(float(w[0]), 4), centrality=round(float(w[1]), 4),
                             bias=round(float(w[2]), 4))
    report = {
        "docs": len(docs),
        "sentences": int(len(y)),
        "top1_sentence_only": top1(docs, [p.salience for p in preds]),
        "top1_in_context": top1(
            docs, [scores(p.salience, p.embeddings, weights) for p in preds]
        ),
    }
    return weights, report


def scitldr_docs(rows: Sequence[dict]) -> list[Doc]:
    return [
        Doc(tuple(s.strip() for s in r["source"]),
            frozenset(i for i, v in enumerate(r["source_labels"]) if v))
        for r in rows
        if r.get("source")
    ]


def write_manifest(
    model_dir: Path, weights: ContextWeights, report: dict, data: str, version: str
) -> dict:
    """Add the weights (and where they came from) to `model_dir/student.json`.

    The version changes with them: outputs change, so incremental runs must redo every note."""
    path = model_dir / "student.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["version"] = version
    manifest[MANIFEST_KEY] = {**weights.to_manifest(), "fitted_on": data, "report": report}
    path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest
