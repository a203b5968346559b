"""Fit the weights of salience in context (`vaultkd.distill.salience`) on labelled documents.

    python -m vaultkd.train --stage context      # after export: adds the weights to student.json
    python -m vaultkd.train.context --model models --version V   # refit a model's weights only

Data: the SciTLDR-A dev file (the upstream split our training reads from; its test file stays
held out for `bench/quality_bench.py`), one positive per abstract: the oracle salient sentence,
and only the abstracts no training read (`held_out_rows`). The student's own predictions are
the inputs, so the weights fit the model that ships — as it reads new text: on the abstracts
it was trained on, its salience is surer, and weights fitted there lean on it (2026.12.4,
fitted on all 618: salience 0.90, centrality 0.19; on the 358 it trained on 1.00 / 0.10; on
the 260 others 0.76 / 0.33).
Logistic regression with an L2 penalty, fitted by Newton's method: a few features and a bias
do not need a library. Pure numpy, no torch.

Two sets of weights are fitted on the same abstracts: the note weights (salience, centrality)
and the paper weights, which add the title overlap and the lead prior (`is_paper` notes only).
SciTLDR gives each abstract its paper's title. The report carries each set's 5-fold
cross-validated log-loss on the fitting data: the paper features earn their place there, not
on the test sets.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vaultkd.distill.salience import (
    MANIFEST_KEY,
    PAPER_KEY,
    ContextWeights,
    features,
    paper_features,
    scores,
)
from vaultkd.model.predictor import Predictions, Predictor

L2 = 1.0  # penalty on the weights (not the bias), as sklearn's LogisticRegression(C=1)


CV_FOLDS = 5


@dataclass(frozen=True)
class Doc:
    sentences: tuple[str, ...]
    positives: frozenset[int]
    title: str = ""


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


def cv_log_loss(xs: Sequence[np.ndarray], ys: Sequence[np.ndarray], folds: int = CV_FOLDS) -> float:
    """Mean per-sentence log-loss of `fit_logistic`, each document scored by a fit without it
    (documents split into `folds` by a fixed shuffle); NaN with fewer documents than folds."""
    if len(xs) < folds:
        return float("nan")
    order = np.random.default_rng(0).permutation(len(xs))
    losses: list[np.ndarray] = []
    for held in np.array_split(order, folds):
        keep = np.setdiff1d(order, held)
        w = fit_logistic(np.vstack([xs[i] for i in keep]), np.concatenate([ys[i] for i in keep]))
        for i in held:
            p = 1.0 / (1.0 + np.exp(-(xs[i] @ w[:-1] + w[-1])))
            p = np.clip(p, 1e-12, 1 - 1e-12)
            losses.append(-(ys[i] * np.log(p) + (1 - ys[i]) * np.log(1 - p)))
    return float(np.concatenate(losses).mean())


def fit_context(
    predictor: Predictor, docs: Sequence[Doc], *, paper: bool = False
) -> tuple[ContextWeights, dict]:
    """Fit on `docs` with `predictor`'s outputs; return the weights and a small report.
    With `paper`, the paper weights (title overlap and lead prior too; docs need titles)."""
    docs = [d for d in docs if len(d.sentences) >= 2 and d.positives]
    if not docs:
        raise ValueError("no document with two or more sentences and a positive to fit on")
    preds = [predictor.predict(list(d.sentences)) for d in docs]
    if paper:
        xs = [
            paper_features(p.salience, p.embeddings, d.sentences, d.title)
            for p, d in zip(preds, docs, strict=True)
        ]
    else:
        xs = [features(p.salience, p.embeddings) for p in preds]
    ys = [
        np.array([1.0 if i in d.positives else 0.0 for i in range(len(d.sentences))])
        for d in docs
    ]
    w = [round(float(v), 4) for v in fit_logistic(np.vstack(xs), np.concatenate(ys))]
    weights = (
        ContextWeights(w[0], w[1], bias=w[4], title=w[2], lead=w[3])
        if paper
        else ContextWeights(w[0], w[1], bias=w[2])
    )
    report = {
        "docs": len(docs),
        "sentences": int(sum(len(y) for y in ys)),
        "top1_sentence_only": top1(docs, [p.salience for p in preds]),
        "top1_in_context": top1(
            docs,
            [scores(p.salience, p.embeddings, weights, d.sentences, d.title)
             for p, d in zip(preds, docs, strict=True)],
        ),
        "cv_log_loss": cv_log_loss(xs, ys),
    }
    return weights, report


def held_out_rows(rows: Sequence[dict], trained: frozenset[str]) -> list[dict]:
    """The SciTLDR rows whose paper is not in `trained` (`data.scitldr_trained`)."""
    return [r for r in rows if str(r["paper_id"]) not in trained]


def fitting_data(seed: int = 0) -> tuple[list[Doc], str]:
    """The documents the weights are fitted on and how the manifest names them."""
    from vaultkd.train import data as labelled

    rows = held_out_rows(labelled.read_scitldr("dev"), labelled.scitldr_trained(seed))
    return scitldr_docs(rows), f"SciTLDR-A dev, {len(rows)} abstracts no training read"


def scitldr_docs(rows: Sequence[dict]) -> list[Doc]:
    return [
        Doc(tuple(s.strip() for s in r["source"]),
            frozenset(i for i, v in enumerate(r["source_labels"]) if v),
            str(r.get("title") or ""))
        for r in rows
        if r.get("source")
    ]


def write_manifest(
    model_dir: Path, weights: ContextWeights, report: dict, data: str, version: str,
    paper: tuple[ContextWeights, dict] | None = None,
) -> dict:
    """Add the weights (and where they came from) to `model_dir/student.json`; `paper`: the
    paper weights and their report, kept inside the same block.

    The version changes with them: outputs change, so incremental runs must redo every note."""
    path = model_dir / "student.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["version"] = version
    block = {**weights.to_manifest(), "fitted_on": data, "report": report}
    if paper is not None:
        block[PAPER_KEY] = {**paper[0].to_manifest(), "fitted_on": data, "report": paper[1]}
    manifest[MANIFEST_KEY] = block
    path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


class _Once:
    """A predictor that reads each document once, for two fits on the same documents."""

    def __init__(self, predictor: Predictor) -> None:
        self._predictor = predictor
        self._seen: dict[tuple[str, ...], Predictions] = {}

    def predict(self, sentences: Sequence[str]) -> Predictions:
        key = tuple(sentences)
        if key not in self._seen:
            self._seen[key] = self._predictor.predict(list(sentences))
        return self._seen[key]


def fit_both(predictor: Predictor, docs: Sequence[Doc]) -> tuple[
    tuple[ContextWeights, dict], tuple[ContextWeights, dict]
]:
    """The note weights and the paper weights, fitted on the same documents (read once)."""
    once = _Once(predictor)
    return fit_context(once, docs), fit_context(once, docs, paper=True)  # type: ignore[arg-type]


def main(argv: Sequence[str] | None = None) -> int:
    """Refit the weights of a built model (its network unchanged) and bump its version."""
    from vaultkd.model.runtime import OnnxPredictor

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--model", type=Path, default=Path("models"))
    ap.add_argument("--version", required=True, help="the model's new version")
    ap.add_argument("--seed", type=int, default=0, help="seed the training sets were drawn with")
    args = ap.parse_args(argv)
    docs, fitted_on = fitting_data(args.seed)
    (note, note_report), paper = fit_both(OnnxPredictor(args.model, threads=2), docs)
    for name, (w, r) in (("note", (note, note_report)), ("paper", paper)):
        print(f"{name}: {w.to_manifest()['weights']} bias {w.bias}; {r}")
    write_manifest(args.model, note, note_report, fitted_on, args.version, paper)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
