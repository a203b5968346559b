"""The KD loss, the config knobs, the pruned tokenizer and a tiny real training run."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the [train] extra (torch) is not installed")

from vaultkd.train.kd import (  # noqa: E402
    KDConfig,
    KDData,
    kd_loss,
    load_checkpoint,
    macro_f1,
    override,
    predict,
    save_checkpoint,
    train_student,
)
from vaultkd.train.tokenizer import SPECIALS, encode, prune_teacher_vocab  # noqa: E402


def _batch(hard, t_logits=None, not_role=None, sal=None, emb=None) -> dict:
    n = len(hard)
    b = {
        "hard_role": torch.tensor(hard),
        "not_role": torch.tensor(not_role if not_role is not None else [-1] * n),
        "salience": torch.tensor(sal if sal is not None else [math.nan] * n),
    }
    if t_logits is not None:
        b["teacher_logits"] = torch.as_tensor(t_logits, dtype=torch.float32)
    if emb is not None:
        b["embedding"] = torch.tensor(emb, dtype=torch.float32)
    return b


def _np_softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_role_loss_is_the_formula() -> None:
    rng = np.random.default_rng(0)
    s = rng.normal(size=(4, 5)).astype(np.float32)
    t = rng.normal(size=(4, 5)).astype(np.float32) * 3
    hard = [2, -1, 0, -1]  # CE only on rows 0 and 2
    cfg = KDConfig(alpha=0.3, temperature=2.5)
    total, parts = kd_loss(torch.tensor(s), torch.zeros(4), torch.zeros(4, 3), _batch(hard, t), cfg)
    log_ps = np.log(_np_softmax(s))
    ce = -(log_ps[0, 2] + log_ps[2, 0]) / 4
    tau = 2.5
    pt, ps = _np_softmax(t / tau), _np_softmax(s / tau)
    kl = (pt * (np.log(pt) - np.log(ps))).sum() / 4 * tau**2
    assert parts["ce"] == pytest.approx(ce, rel=1e-5)
    assert parts["kl"] == pytest.approx(kl, rel=1e-5)
    assert float(total) == pytest.approx(0.3 * ce + 0.7 * kl, rel=1e-5)


def test_kl_is_zero_when_student_matches_teacher_and_ce_needs_labels() -> None:
    t = torch.randn(3, 5)
    total, parts = kd_loss(
        t.clone(), torch.zeros(3), torch.zeros(3, 3), _batch([-1] * 3, t), KDConfig()
    )
    assert parts["kl"] == pytest.approx(0.0, abs=1e-6)
    assert parts["ce"] == 0.0
    assert float(total) == pytest.approx(0.0, abs=1e-6)


def test_without_teacher_ce_carries_full_weight() -> None:
    s = torch.randn(2, 5)
    cfg = KDConfig(alpha=0.2)
    total, parts = kd_loss(s, torch.zeros(2), torch.zeros(2, 3), _batch([1, 3]), cfg)
    assert float(total) == pytest.approx(parts["ce"], rel=1e-6)


def test_partial_salience_and_embedding_terms() -> None:
    s = torch.zeros(2, 5)  # uniform: p(not_role) = 0.2
    sal_logit = torch.tensor([0.0, 5.0])
    emb = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    b = _batch([-1, -1], not_role=[1, -1], sal=[1.0, math.nan], emb=[[1.0, 0.0], [1.0, 0.0]])
    cfg = KDConfig(not_role_weight=1.0, salience_weight=1.0, embedding_weight=1.0)
    total, parts = kd_loss(s, sal_logit, emb, b, cfg)
    assert parts["not_role"] == pytest.approx(-math.log(0.8) / 2, rel=1e-5)
    assert parts["salience"] == pytest.approx(math.log(2) / 2, rel=1e-5)  # BCE(0.5, 1) on row 0
    assert parts["embedding"] == pytest.approx((0 + 1) / 2, rel=1e-5)  # 1 - cos per row
    assert float(total) == pytest.approx(sum(parts.values()), rel=1e-5)


def test_override_rejects_unknown_keys_and_type_changes() -> None:
    cfg = override(KDConfig(), alpha=1, temperature=3.0)
    assert cfg.alpha == 1.0 and isinstance(cfg.alpha, float)
    with pytest.raises(KeyError, match="unknown KDConfig key 'alfa'"):
        override(KDConfig(), alfa=0.1)
    with pytest.raises(TypeError, match="KDConfig.layers is int"):
        override(KDConfig(), layers="two")
    assert KDConfig().digest() != cfg.digest()


def test_macro_f1() -> None:
    gold = np.array([0, 0, 1, 1])
    pred = np.array([0, 1, 1, 1])
    mf, per = macro_f1(gold, pred, [0, 1])
    assert per == pytest.approx([2 / 3, 0.8])
    assert mf == pytest.approx((2 / 3 + 0.8) / 2)


QUESTIONS = [
    "Do we need a second region?",
    "Who owns the staging server?",
    "Is the budget approved yet?",
    "Can we move the launch?",
    "What happened to the old logs?",
    "Should we hire another designer?",
    "When does the grant end?",
    "Why did the build fail again?",
]
STATEMENTS = [
    "The build failed twice last week.",
    "Cold starts dominate our latency.",
    "The grant covers travel costs.",
    "Our designer joined in March.",
    "The old logs were archived.",
    "The launch moved to Tuesday.",
    "Staging runs on two servers.",
    "The budget was approved in May.",
]


def _toy(seed: int) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    texts, roles = [], []
    for _ in range(12):
        for q, s in zip(QUESTIONS, STATEMENTS, strict=True):
            texts += [q, s]
            roles += [1, 0]
    idx = rng.permutation(len(texts))
    return [texts[i] for i in idx], np.array(roles, np.int64)[idx]


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory: pytest.TempPathFactory):
    texts, roles = _toy(0)
    pv = prune_teacher_vocab(texts, vocab_size=400)
    n = len(texts)
    data = KDData(
        texts,
        roles,
        np.full(n, -1),
        np.full(n, np.nan, np.float32),
        teacher_logits=np.eye(5, dtype=np.float32)[roles] * 4,
    )
    dev = KDData(
        QUESTIONS + STATEMENTS,
        np.array([1] * 8 + [0] * 8),
        np.full(16, -1),
        np.full(16, np.nan, np.float32),
    )
    cfg = KDConfig(dim=32, layers=1, heads=2, ffn=64, epochs=6, batch_size=16, lr=3e-3)
    log_path = tmp_path_factory.mktemp("kd") / "log.jsonl"
    result = train_student(cfg, pv.tokenizer, data, dev, log_path=log_path)
    return pv, result, log_path


def test_pruned_vocab_keeps_teacher_pieces(toy_run) -> None:
    from tokenizers import Tokenizer

    from vaultkd.train.tokenizer import teacher_tokenizer_path

    pv, _, _ = toy_run
    vocab = pv.tokenizer.get_vocab()
    assert [vocab[s] for s in SPECIALS] == [0, 1, 2, 3, 4]
    teacher = Tokenizer.from_file(str(teacher_tokenizer_path()))
    for tok, i in list(vocab.items())[:50]:
        assert teacher.token_to_id(tok) == pv.teacher_ids[i]
    ids = encode(pv.tokenizer, ["Who owns the staging server?"], 64)[0]
    assert ids[0] == vocab["[CLS]"] and ids[-1] == vocab["[SEP]"]
    assert vocab["[UNK]"] not in ids
    assert pv.coverage == pytest.approx(1.0)
    assert len(encode(pv.tokenizer, ["word " * 500], 16)[0]) == 16


def test_tiny_training_learns_and_logs(toy_run) -> None:
    import json

    _, result, log_path = toy_run
    assert result.best_dev["role_macro_f1"] >= 0.9
    events = [json.loads(line)["event"] for line in log_path.read_text().splitlines()]
    assert events[0] == "start" and events[-1] == "done" and "eval" in events
    start = json.loads(log_path.read_text().splitlines()[0])
    assert start["train"]["rows"] == 192 and start["config"]["epochs"] == 6


def test_checkpoint_round_trip(toy_run, tmp_path: Path) -> None:
    pv, result, _ = toy_run
    save_checkpoint(result, tmp_path / "s.pt")
    again = load_checkpoint(tmp_path / "s.pt")
    assert again.config == result.config
    a = predict(result.model, pv.tokenizer, QUESTIONS)
    b = predict(again.model, pv.tokenizer, QUESTIONS)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(x, y, atol=1e-6)
