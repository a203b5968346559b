"""The teacher: partial-label loss, a smoke fine-tune, outputs, ONNX parity, transfer labels."""

from __future__ import annotations

import json
import math
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

import vaultkd.train as train_pkg
from vaultkd.roles import ROLE_INDEX, ROLES
from vaultkd.train.data import LabelledSentence


def test_require_train_extra_names_the_install_line(monkeypatch: pytest.MonkeyPatch) -> None:
    real = metadata.distribution

    def fake(name: str):  # type: ignore[no-untyped-def]
        if name == "torch":
            raise metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(train_pkg.metadata, "distribution", fake)
    assert "torch" in train_pkg.train_requirements()
    with pytest.raises(train_pkg.MissingTrainExtra) as err:
        train_pkg.require_train_extra()
    assert 'pip install -c constraints.txt -e ".[train]"' in str(err.value)
    assert "torch" in str(err.value)


torch = pytest.importorskip("torch", reason="the [train] extra is not installed")
teacher_mod = pytest.importorskip("vaultkd.train.teacher")

SENTENCES = [
    ("Do we need a second region before the EU launch?", "question"),
    ("Is the grant going to cover travel costs?", "question"),
    ("Who owns the staging environment after Sam leaves?", "question"),
    ("We'll ship the beta without dark mode.", "decision"),
    ("We agreed to move to weekly releases.", "decision"),
    ("The team decided to drop the legacy API.", "decision"),
    ("Book the venue for the March workshop.", "action"),
    ("Dana to send the draft contract to legal.", "action"),
    ("Email the vendor about the late invoice.", "action"),
    ("Cold starts dominate our p99 latency, not the database.", "claim"),
    ("Spaced repetition beats rereading for long-term recall.", "claim"),
    ("Caching cut page load time by forty percent.", "claim"),
    ("Six of us met in the library annex.", "context"),
    ("Found this essay through a newsletter.", "context"),
    ("The call ran long again.", "context"),
]


def _tiny_train() -> list[LabelledSentence]:
    out = [
        LabelledSentence(t, "seed", "train", role=ROLE_INDEX[r], salience=0.5, doc="d", position=i)
        for i, (t, r) in enumerate(SENTENCES)
    ] * 3
    out.append(LabelledSentence("the meeting is at noon", "mrda", "train", not_role=1))
    out.append(LabelledSentence("Taxes rose four percent last year.", "claimbuster", "train", 0))
    return out


def test_partial_label_loss_penalises_the_excluded_role() -> None:
    not_q = torch.tensor([ROLE_INDEX["question"]])
    none = torch.tensor([-1])
    nan = torch.tensor([math.nan])
    confident_q = torch.tensor([[0.0, 5.0, 0.0, 0.0, 0.0]])
    confident_c = torch.tensor([[5.0, 0.0, 0.0, 0.0, 0.0]])
    bad, _ = teacher_mod.teacher_loss(confident_q, torch.zeros(1), none, not_q, nan)
    good, _ = teacher_mod.teacher_loss(confident_c, torch.zeros(1), none, not_q, nan)
    assert float(bad) > 3.0 > 0.1 > float(good)
    # Nothing labelled: zero loss, still differentiable.
    zero, parts = teacher_mod.teacher_loss(
        confident_q.requires_grad_(), torch.zeros(1), none, none, nan
    )
    assert float(zero) == 0.0 and set(parts) == {"role", "not_role", "salience"}


def test_macro_f1_counts_only_present_classes() -> None:
    gold = np.array([0, 0, 1, 1])
    m = teacher_mod.macro_f1(np.array([0, 0, 1, 0]), gold)
    assert m["f1_claim"] == pytest.approx(0.8) and m["f1_question"] == pytest.approx(2 / 3)
    assert m["macro_f1"] == pytest.approx((0.8 + 2 / 3) / 2)


@pytest.fixture(scope="module")
def smoke_teacher(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run") / "teacher"
    train = _tiny_train()
    return teacher_mod.finetune_teacher(train, train[:15], out, smoke=True, max_len=32, seed=1)


@pytest.mark.slow
def test_smoke_finetune_outputs_shapes_and_ranges(smoke_teacher: Path) -> None:
    for name in ("config.json", "heads.pt", "dev_metrics.json", "tokenizer.json"):
        assert (smoke_teacher / name).exists()
    teacher = teacher_mod.load_teacher(smoke_teacher)
    texts = [t for t, _ in SENTENCES[:7]]
    out = teacher.label(texts, batch_size=4)
    assert out.role_logits.shape == (7, len(ROLES)) and out.role_logits.dtype == np.float32
    assert out.salience.shape == (7,) and np.all((out.salience >= 0) & (out.salience <= 1))
    assert out.embedding.shape == (7, 384) and out.embedding.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out.embedding, axis=1), 1.0, atol=1e-5)
    # The embedding is original MiniLM's, untouched by fine-tuning.
    from transformers import AutoModel

    base = AutoModel.from_pretrained(str(teacher_mod.minilm_dir())).eval()
    tok = teacher_mod.load_tokenizer(32)
    ids, mask = teacher_mod._encode(tok, texts)
    with torch.no_grad():
        ref = teacher_mod.mean_pool(
            base(input_ids=ids, attention_mask=mask).last_hidden_state, mask
        )
    ref = torch.nn.functional.normalize(ref, dim=-1).numpy()
    np.testing.assert_allclose(out.embedding, ref, atol=1e-4)
    # Order of inputs does not matter (batches are length-sorted internally).
    rev = teacher.label(texts[::-1], batch_size=3)
    np.testing.assert_allclose(rev.role_logits[::-1], out.role_logits, atol=1e-4)


@pytest.mark.slow
def test_onnx_export_matches_torch_and_labels_transfer(smoke_teacher: Path) -> None:
    run = smoke_teacher.parent
    onnx_path = teacher_mod.export_teacher_onnx(smoke_teacher, run / "teacher.onnx")
    texts = [t for t, _ in SENTENCES] + ["A brand new sentence about compilers and caches."]
    ref = teacher_mod.load_teacher(smoke_teacher).label(texts)
    got = teacher_mod.OnnxTeacher(onnx_path, max_len=32).label(texts, batch_size=4)
    np.testing.assert_allclose(got.role_logits, ref.role_logits, atol=1e-3)
    np.testing.assert_allclose(got.salience, ref.salience, atol=1e-4)
    np.testing.assert_allclose(got.embedding, ref.embedding, atol=1e-4)

    txt, npz = teacher_mod.label_transfer(run, texts, train=_tiny_train(), onnx_path=onnx_path)
    lines = txt.read_text(encoding="utf-8").splitlines()
    assert lines == texts
    z = np.load(npz)
    assert set(z.files) == {"role_logits", "salience", "embedding", "hard_role"}
    assert z["role_logits"].shape == (len(texts), 5) and z["embedding"].shape == (len(texts), 384)
    assert z["hard_role"].dtype == np.int8
    assert z["hard_role"][0] == ROLE_INDEX["question"] and z["hard_role"][-1] == -1
    np.testing.assert_allclose(z["role_logits"], ref.role_logits, atol=1e-3)

    report = teacher_mod.write_teacher_report(run, _tiny_train())
    assert (run / "TEACHER_DONE").read_text() == "READY\n"
    data = json.loads(report.read_text())
    assert data["transfer_sentences"] == len(texts) and data["train_sentences"] == 47
    assert data["transfer_with_hard_role"] == 15


@pytest.mark.slow
def test_split_labelling_equals_the_whole_teacher(smoke_teacher: Path, tmp_path: Path) -> None:
    # The embedding half runs before fine-tuning ends; heads + cached embedding = full teacher.
    run = tmp_path / "run"
    run.mkdir()
    (run / "teacher").symlink_to(smoke_teacher)
    texts = [t for t, _ in SENTENCES]
    teacher_mod.embed_transfer(run, texts, batch_size=4)
    emb = teacher_mod.cached_embedding(run, texts)
    assert emb is not None and emb.shape == (len(texts), 384)
    assert teacher_mod.cached_embedding(run, texts[:-1]) is None  # other texts: not reused
    heads = teacher_mod.export_teacher_onnx(run / "teacher", run / "heads.onnx", part="heads")
    _, npz = teacher_mod.label_transfer(run, texts, onnx_path=heads, embedding=emb)
    ref = teacher_mod.load_teacher(smoke_teacher).label(texts)
    z = np.load(npz)
    np.testing.assert_allclose(z["embedding"], ref.embedding, atol=1e-4)
    np.testing.assert_allclose(z["role_logits"], ref.role_logits, atol=1e-3)
    np.testing.assert_allclose(z["salience"], ref.salience, atol=1e-4)
    with pytest.raises(ValueError, match="precomputed embeddings"):
        teacher_mod.label_transfer(run, texts, onnx_path=heads, embedding=emb[:3])
