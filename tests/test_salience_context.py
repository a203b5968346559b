"""Salience in context (`distill/salience.py`) and the fit of its weights (`train/context.py`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from vaultkd.distill.salience import (
    ContextWeights,
    features,
    in_context,
    is_paper,
    note_in_context,
    note_title,
    scores,
    section_kind,
    title_overlap,
)
from vaultkd.model.predictor import Predictions
from vaultkd.train.context import (
    Doc,
    fit_context,
    fit_logistic,
    held_out_rows,
    write_manifest,
)

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


# --------------------------------------------------------------------------- papers

PAPER_HEADINGS = ["A Parser", "1 Introduction", "2 The Model", "3. Experiments", "5 Conclusion"]


@pytest.mark.parametrize(
    ("heading", "kind"),
    [
        ("1 Introduction", "introduction"),
        ("Introduction: A Little History", "introduction"),
        ("5. Conclusions", "conclusion"),
        ("II. Methods", "method"),
        ("6.5 Results", "results"),
        ("2 Related Work", "related"),
        ("Acknowledgments", "acknowledgements"),
        ("Action items", None),
        ("Summary", None),
        ("Introducing the team", None),
    ],
)
def test_section_kind_reads_a_papers_headings(heading: str, kind: str | None) -> None:
    assert section_kind(heading) == kind


def test_is_paper_needs_a_papers_sections_not_one_paper_word() -> None:
    assert is_paper(PAPER_HEADINGS)
    assert is_paper(["Background", "Method", "Results"])
    # Notes and meetings use some of these words too.
    assert not is_paper(["Agenda", "Discussion", "Action items"])
    assert not is_paper(["Introduction"])
    assert not is_paper(["Background", "Results of the survey"])
    assert not is_paper([])


def test_title_overlap_counts_shared_words_by_their_stem() -> None:
    title = "A Maximum-Entropy-Inspired Parser"
    got = title_overlap(
        ["We present a parser.", "Parsers inspired by maximum entropy.", "The weather was fine."],
        title,
    )
    assert got.tolist() == [1.0, 4.0, 0.0]  # "parsers" meets "parser"; stop words do not count
    assert title_overlap(["Anything at all."], "2026-03-14").tolist() == [0.0]


def test_paper_weights_read_title_and_position_and_round_trip() -> None:
    texts = ["Related systems are many.", "Background on the data.", "A parser for trees."]
    preds = _preds([0.5, 0.5, 0.5], np.eye(3, DIM))
    title = ContextWeights(0.0, 0.0, title=2.0)
    got = scores(preds.salience, preds.embeddings, title, texts, "Tree parser")
    assert int(np.argmax(got)) == 2
    lead = ContextWeights(0.0, 0.0, lead=2.0)
    assert int(np.argmax(scores(preds.salience, preds.embeddings, lead, texts, ""))) == 0
    with pytest.raises(ValueError, match="texts"):
        scores(preds.salience, preds.embeddings, title)
    w = ContextWeights(0.46, 0.09, -3.5, title=0.62, lead=1.83)
    manifest = {"salience_in_context": {**ContextWeights(0.59, 0.31).to_manifest(),
                                         "paper": w.to_manifest()}}
    assert ContextWeights.from_manifest(manifest, paper=True) == w
    assert ContextWeights.from_manifest(manifest) == ContextWeights(0.59, 0.31)
    # A model from before the paper weights reads papers with its note weights.
    old = {"salience_in_context": ContextWeights(0.59, 0.31).to_manifest()}
    assert ContextWeights.from_manifest(old, paper=True) is None


def test_note_in_context_uses_the_paper_weights_for_papers_only() -> None:
    from vaultkd.vault.parse import parse_text

    body = (
        "Related systems are many and none of them read trees. We describe one here.\n\n"
        "The tree parser reads a sentence left to right.\n"
    )
    paper = parse_text(
        "P.md", "# A Parser\n\n## 1 Introduction\n\n" + body + "\n## 2 Related work\n\nx\n"
    )
    note = parse_text("P.md", "# A Parser\n\n## Agenda\n\n" + body)
    texts = ["Related systems are many and none of them read trees.", "We describe one here.",
             "The tree parser reads a sentence left to right."]
    preds = _preds([0.5, 0.5, 0.5], np.eye(3, DIM))
    note_w, paper_w = ContextWeights(1.0, 0.0), ContextWeights(0.0, 0.0, title=1.0)
    as_paper = note_in_context(paper, texts, preds, note_w, paper_w).salience
    as_note = note_in_context(note, texts, preds, note_w, paper_w).salience
    assert np.allclose(as_note, in_context(preds, note_w).salience)
    assert int(np.argmax(as_paper)) == 2  # the sentence that shares "parser" with the title
    # The frontmatter title wins over a citekey file name.
    cited = parse_text("smith2020.md", "---\ntitle: A Tree Parser\n---\n## 1 Introduction\n")
    assert note_title(cited) == "A Tree Parser" and note_title(note) == "A Parser"
    assert note_title(parse_text("Plain.md", "Just text.\n")) == "Plain"


class _TitlePredictor:
    """Flat salience and embeddings: only a sentence's words can tell it apart."""

    version = "flat 1"
    dim = DIM

    def predict(self, sentences: Sequence[str]) -> Predictions:
        rng = np.random.default_rng(len(sentences))
        emb = rng.normal(size=(len(sentences), DIM))
        return _preds(rng.random(len(sentences)), emb / np.linalg.norm(emb, axis=1, keepdims=True))


def test_fit_paper_weights_learns_the_title_and_cross_validation_prefers_them() -> None:
    rng = np.random.default_rng(0)
    docs = []
    for n in range(120):
        k = int(rng.integers(0, 6))
        sents = tuple(
            f"Graph {n} kernels are fast." if i == k else f"Filler line {i} about weather {n}."
            for i in range(6)
        )
        docs.append(Doc(sents, frozenset({k}), f"Graph kernels {n}"))
    note_w, note_r = fit_context(_TitlePredictor(), docs)
    paper_w, paper_r = fit_context(_TitlePredictor(), docs, paper=True)
    assert paper_w.title > 1.0 and not note_w.reads_title
    assert paper_r["top1_in_context"] > 0.9 > note_r["top1_in_context"]
    assert paper_r["cv_log_loss"] < note_r["cv_log_loss"]


def test_the_shipped_model_reads_papers_with_title_and_lead() -> None:
    from vaultkd.model.runtime import load_predictor

    manifest = load_predictor().manifest
    paper = ContextWeights.from_manifest(manifest, paper=True)
    assert paper is not None and paper.title > 0 and paper.lead > 0
    report = manifest["salience_in_context"]["paper"]["report"]
    assert report["cv_log_loss"] < manifest["salience_in_context"]["report"]["cv_log_loss"]


DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _need(path: Path) -> Path:
    if not path.is_dir():
        pytest.skip(f"{path} is absent (third-party data lives in ../shared/data)")
    return path


@pytest.mark.parametrize("vault", ["vault-kepano", "vault-obsidian-tasks", "vault-dendron-site"])
def test_no_note_of_a_real_vault_is_read_as_a_paper(vault: str) -> None:
    from vaultkd.vault.parse import parse_text

    root = _need(DATA / vault)
    notes = papers = 0
    for md in sorted(root.rglob("*.md")):
        note = parse_text(md.name, md.read_text(encoding="utf-8", errors="replace"))
        notes += 1
        papers += is_paper([h.text for h in note.headings])
    assert notes > 100 and papers == 0


def test_the_cl_scisumm_papers_are_read_as_papers() -> None:
    path = _need(DATA / "cl-scisumm-2018-test") / "reference_papers.jsonl"
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        paper = json.loads(line)
        found.append(is_paper([s["section"] for s in paper["sentences"] if s["section"]]))
    # One paper numbers its sections without names ("1.", "2."): read as a note.
    assert len(found) == 20 and sum(found) == 19


def test_held_out_rows_drop_the_trained_papers_by_id() -> None:
    rows = [{"paper_id": "a"}, {"paper_id": 7}, {"paper_id": "c"}]
    assert held_out_rows(rows, frozenset({"a", "7"})) == [{"paper_id": "c"}]
    assert held_out_rows(rows, frozenset()) == rows


def test_the_shipped_weights_are_fitted_on_abstracts_no_training_read() -> None:
    """Refit both sets of weights on the held-out abstracts with the shipped student: they are
    the shipped ones. Fitted on all of SciTLDR-A dev (as up to 2026.12.4) they are not."""
    from vaultkd.model.runtime import load_predictor
    from vaultkd.train import data as labelled
    from vaultkd.train.context import fit_both, fitting_data, scitldr_docs

    _need(DATA / "scitldr")
    predictor = load_predictor()
    manifest = predictor.manifest
    docs, fitted_on = fitting_data(0)
    block = manifest["salience_in_context"]
    assert block["fitted_on"] == fitted_on
    (note, report), (paper, _) = fit_both(predictor, docs)
    assert note == ContextWeights.from_manifest(manifest)
    assert paper == ContextWeights.from_manifest(manifest, paper=True)
    assert report["docs"] == block["report"]["docs"] < 300
    everything, _ = fit_both(predictor, scitldr_docs(labelled.read_scitldr("dev")))
    assert everything[0] != note
