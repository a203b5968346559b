"""The shipped student through the real run-time path (onnxruntime + tokenizers + numpy)."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from vaultkd.model.predictor import Predictions
from vaultkd.model.runtime import ModelError, OnnxPredictor, default_model_dir, load_predictor
from vaultkd.roles import ROLES

MODEL_DIR = default_model_dir()
pytestmark = pytest.mark.skipif(
    not (MODEL_DIR / "student.onnx").is_file(),
    reason="no shipped model in models/ yet (run `vaultkd train`)",
)

SENTENCES = [
    "Do we need a second region before the EU launch?",
    "Dana to send the draft contract to legal by Friday.",
    "Spaced repetition beats rereading for long-term recall.",
    "We'll ship the beta without dark mode.",
    "Six of us met in the library annex.",
]


def test_importing_runtime_loads_no_torch() -> None:
    code = (
        "import sys, vaultkd.model.runtime as r; r.load_predictor().predict(['Hi there.']); "
        "bad = [m for m in ('torch', 'transformers', 'vaultkd.train') if m in sys.modules]; "
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_predict_shapes_and_ranges() -> None:
    p = OnnxPredictor(threads=1)
    preds = p.predict(SENTENCES)
    assert isinstance(preds, Predictions)
    assert preds.role_probs.shape == (5, len(ROLES))
    assert preds.role_probs.dtype == np.float32
    np.testing.assert_allclose(preds.role_probs.sum(axis=1), 1.0, atol=1e-4)
    assert ((preds.salience >= 0) & (preds.salience <= 1)).all()
    assert preds.embeddings.shape == (5, p.dim) and p.dim >= 64
    np.testing.assert_allclose(np.linalg.norm(preds.embeddings, axis=1), 1.0, atol=1e-3)
    assert p.version.startswith("vaultkd-student ") and "sha256:" in p.version


def test_question_mark_sentence_is_a_question() -> None:
    preds = OnnxPredictor(threads=1).predict(["Who owns the staging environment after Sam leaves?"])
    assert preds.roles() == ["question"]


def test_batching_and_order_do_not_change_results() -> None:
    p = OnnxPredictor(threads=1)
    # Mixed lengths across several batches: sorting by length must not reorder the output.
    texts = [s * (1 + i % 3) for i, s in enumerate(SENTENCES * 30)]
    together = p.predict(texts)
    alone = [p.predict([t]) for t in texts[:7]]
    for i, one in enumerate(alone):
        # The shipped model is statically quantised (fixed activation scales): a sentence's
        # numbers are the same bits whatever shares its batch, which the pipeline relies on
        # when it batches notes together.
        assert np.array_equal(together.role_probs[i], one.role_probs[0]), i
        assert np.array_equal(together.salience[i], one.salience[0]), i
        assert np.array_equal(together.embeddings[i], one.embeddings[0]), i


def test_long_input_is_truncated_not_failed() -> None:
    p = OnnxPredictor(threads=1)
    preds = p.predict(["word " * 5000])
    assert preds.role_probs.shape == (1, len(ROLES))


def test_empty_input_gives_empty_arrays() -> None:
    p = OnnxPredictor(threads=1)
    preds = p.predict([])
    assert len(preds) == 0
    assert preds.role_probs.shape == (0, len(ROLES))
    assert preds.embeddings.shape == (0, p.dim)


def _interim() -> bool:
    return bool(json.loads((MODEL_DIR / "student.json").read_text()).get("interim"))


@pytest.mark.skipif(
    (MODEL_DIR / "student.json").is_file() and _interim(),
    reason="the interim model saw MiniLM embeddings for only 4,000 sentences (see its card)",
)
def test_similar_sentences_are_closer_than_unrelated_ones() -> None:
    e = (
        OnnxPredictor(threads=1)
        .predict(
            [
                "The database migration failed overnight.",
                "Last night's database migration did not succeed.",
                "My grandmother grows tomatoes in her garden.",
            ]
        )
        .embeddings
    )
    assert float(e[0] @ e[1]) > float(e[0] @ e[2])


def test_load_predictor_is_cached() -> None:
    assert load_predictor() is load_predictor()
    assert load_predictor(low_memory=True) is load_predictor(low_memory=True)
    assert load_predictor(low_memory=True) is not load_predictor()


def test_low_memory_predictor_gives_the_same_bits() -> None:
    texts = [
        "We decided to move the launch to March.",
        "Who owns the budget after Sam leaves?",
        "The smoke tests take two days to run by hand, which is why releases wait.",
    ]
    lean = load_predictor(low_memory=True)
    assert not lean._session.session.get_session_options().enable_cpu_mem_arena
    assert load_predictor()._session.session.get_session_options().enable_cpu_mem_arena
    a, b = load_predictor().predict(texts), lean.predict(texts)
    for field in ("role_probs", "salience", "embeddings"):
        assert np.array_equal(getattr(a, field), getattr(b, field)), field


def _copy_model(tmp_path: Path) -> Path:
    dst = tmp_path / "models"
    dst.mkdir(parents=True)
    for name in ("student.onnx", "tokenizer.json", "student.json"):
        shutil.copyfile(MODEL_DIR / name, dst / name)
    return dst


def test_missing_model_names_the_file(tmp_path: Path) -> None:
    d = _copy_model(tmp_path)
    (d / "student.onnx").unlink()
    with pytest.raises(ModelError, match=r"student\.onnx is missing; reinstall"):
        OnnxPredictor(d)


def test_truncated_model_is_reported(tmp_path: Path) -> None:
    d = _copy_model(tmp_path)
    blob = (d / "student.onnx").read_bytes()
    (d / "student.onnx").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ModelError, match=r"student\.onnx is truncated or corrupt"):
        OnnxPredictor(d)


def test_corrupt_model_with_matching_manifest_is_reported(tmp_path: Path) -> None:
    # Garbage whose hash is recorded: the hash check passes, onnxruntime must still fail cleanly.
    import hashlib

    d = _copy_model(tmp_path)
    garbage = b"not an onnx model" * 100
    (d / "student.onnx").write_bytes(garbage)
    manifest = json.loads((d / "student.json").read_text())
    manifest["onnx_sha256"] = hashlib.sha256(garbage).hexdigest()
    (d / "student.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match=r"student\.onnx: cannot load the model"):
        OnnxPredictor(d)


def test_bad_manifest_and_tokenizer_are_reported(tmp_path: Path) -> None:
    d = _copy_model(tmp_path)
    (d / "student.json").write_text("{")
    with pytest.raises(ModelError, match=r"student\.json is not a valid model manifest"):
        OnnxPredictor(d)
    d2 = _copy_model(tmp_path / "b")
    (d2 / "tokenizer.json").write_text("[]")
    with pytest.raises(ModelError, match=r"tokenizer\.json is not a valid tokenizer"):
        OnnxPredictor(d2)


def test_error_is_one_line(tmp_path: Path) -> None:
    d = _copy_model(tmp_path)
    (d / "tokenizer.json").unlink()
    with pytest.raises(ModelError) as info:
        OnnxPredictor(d)
    assert "\n" not in str(info.value)


def test_shipped_model_meets_its_export_gates() -> None:
    """The metrics the evaluation script wrote for the shipped model: the gates the issue sets."""
    manifest = json.loads((MODEL_DIR / "student.json").read_text())
    metrics = json.loads((MODEL_DIR / "metrics.json").read_text())
    assert not manifest.get("interim") and not metrics.get("smoke")
    assert metrics["parity"]["role_agreement"] >= 0.99
    assert (MODEL_DIR / "student.onnx").stat().st_size <= 4.5 * 2**20
    assert manifest["params"] <= 5_000_000
    assert manifest["onnx_sha256"] == hashlib.sha256(
        (MODEL_DIR / "student.onnx").read_bytes()
    ).hexdigest()
    # Card and metrics come from the same evaluation run.
    card = (MODEL_DIR / "model-card.md").read_text(encoding="utf-8")
    assert manifest["version"] in card and "## Goals" in card


def test_model_threads_leave_the_parsing_thread_a_core(monkeypatch) -> None:
    import vaultkd.model.runtime as runtime

    for cores, want in ((None, 1), (1, 1), (2, 1), (4, 3), (16, 4)):
        monkeypatch.setattr(runtime.os, "cpu_count", lambda c=cores: c)
        assert runtime.model_threads() == want


def test_model_jobs_fill_the_cores_with_the_model_s_threads(monkeypatch) -> None:
    import vaultkd.model.runtime as runtime

    for cores, want in ((None, 1), (1, 1), (2, 2), (3, 1), (4, 1), (8, 2), (16, 4)):
        monkeypatch.setattr(runtime.os, "cpu_count", lambda c=cores: c)
        assert runtime.model_jobs() == want
        assert runtime.model_jobs() * runtime.model_threads() <= max(cores or 1, 1)
