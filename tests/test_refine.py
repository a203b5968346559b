"""The shipped student back in PyTorch (`train/recover.py`) and its refinement
(`train/refine.py`): recovered weights compute what the int8 file computes, a refinement
starts from them, and the smoke refinement writes a model the run time loads."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch", reason="the [train] extra (torch) is not installed")

import torch  # noqa: E402

from vaultkd.model.runtime import OnnxPredictor, default_model_dir  # noqa: E402
from vaultkd.train.data import data_root  # noqa: E402
from vaultkd.train.recover import RecoverError, _module_of, recover_student  # noqa: E402
from vaultkd.train.student import ExportWrapper  # noqa: E402

SEED = Path(__file__).resolve().parents[1] / "data" / "seed"


def _seed_texts(split: str) -> list[str]:
    lines = (SEED / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["text"] for line in lines]


def test_module_names_from_onnx_node_names() -> None:
    assert _module_of("/student/blocks.0/qkv/MatMul") == "blocks.0.qkv"
    assert _module_of("/student/blocks.1/ff/ff.2/MatMul") == "blocks.1.ff.2"
    assert _module_of("/student/role/Gemm") == "role"
    assert _module_of("/student/tok/Gather") == "tok"


def test_recovered_student_computes_what_the_shipped_int8_file_computes() -> None:
    from tokenizers import Tokenizer

    model_dir = default_model_dir()
    student = ExportWrapper(recover_student(model_dir)).eval()
    texts = _seed_texts("dev")
    onnx = OnnxPredictor(model_dir, threads=1).predict(texts)
    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tok.enable_truncation(64)
    agree, cos, mae = [], [], []
    with torch.no_grad():
        for i, text in enumerate(texts):
            ids = torch.tensor([tok.encode(text).ids])
            probs, sal, emb = student(ids, torch.ones_like(ids))
            agree.append(int(probs[0].argmax()) == int(onnx.role_probs[i].argmax()))
            cos.append(float(emb[0].numpy() @ onnx.embeddings[i]))
            mae.append(abs(float(sal[0]) - float(onnx.salience[i])))
    # fp32 on dequantised weights vs int8 activations: the export's own parity bar (99%) up to
    # the near-ties of a 195-sentence set.
    assert np.mean(agree) >= 0.98
    assert np.mean(cos) >= 0.995
    assert np.mean(mae) < 0.01


def test_recover_refuses_a_file_that_lacks_the_network_s_weights(tmp_path: Path) -> None:
    model_dir = default_model_dir()
    for name in ("student.onnx", "tokenizer.json"):
        shutil.copyfile(model_dir / name, tmp_path / name)
    manifest = json.loads((model_dir / "student.json").read_text(encoding="utf-8"))
    manifest["student_config"]["layers"] = 3  # the file holds two blocks
    (tmp_path / "student.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(RecoverError, match="blocks.2"):
        recover_student(tmp_path)


def test_training_from_an_init_state_starts_there() -> None:
    from tokenizers import Tokenizer

    from vaultkd.train.kd import KDConfig, KDData, train_student

    model_dir = default_model_dir()
    base = recover_student(model_dir)
    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    texts = _seed_texts("dev")[:64]
    n = len(texts)
    data = KDData(texts, np.zeros(n, np.int64), np.full(n, -1, np.int64),
                  np.full(n, np.nan, np.float32))
    cfg = KDConfig(epochs=1, lr=0.0, threads=1, dropout=0.0)  # no step moves the weights
    result = train_student(cfg, tok, data, data, init_state=base.state_dict())
    for name, tensor in base.state_dict().items():
        assert torch.equal(result.model.state_dict()[name], tensor), name


def test_a_shallower_student_starts_from_the_base_s_first_blocks() -> None:
    from tokenizers import Tokenizer

    from vaultkd.train.kd import KDConfig, KDData, train_student
    from vaultkd.train.refine import shallower

    model_dir = default_model_dir()
    base = recover_student(model_dir)
    state = base.state_dict()
    init = shallower(state, 1)
    assert any(k.startswith("blocks.1.") for k in state)
    assert not any(k.startswith("blocks.1.") for k in init)
    assert set(init) == {k for k in state if not k.startswith("blocks.1.")}
    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    texts = _seed_texts("dev")[:64]
    n = len(texts)
    data = KDData(texts, np.zeros(n, np.int64), np.full(n, -1, np.int64),
                  np.full(n, np.nan, np.float32))
    cfg = KDConfig(epochs=1, lr=0.0, threads=1, dropout=0.0, layers=1)
    result = train_student(cfg, tok, data, data, init_state=init)
    got = result.model.state_dict()
    assert set(got) == set(init)  # a one-block network, every weight from the base
    for name, tensor in init.items():
        assert torch.equal(got[name], tensor), name


def _kept_units(base_rows: torch.Tensor, rows: torch.Tensor) -> list[int]:
    """Which of the base's feed-forward units (rows of ff.0.weight) `rows` are."""
    return [int(torch.nonzero((base_rows == r).all(dim=1))[0]) for r in rows]


def test_a_narrower_student_keeps_each_block_s_strongest_units() -> None:
    from vaultkd.train.refine import narrower

    state = recover_student(default_model_dir()).state_dict()
    init = narrower(state, 200)
    assert set(init) == set(state)
    for b in (0, 1):
        w_in, w_out = state[f"blocks.{b}.ff.0.weight"], state[f"blocks.{b}.ff.2.weight"]
        kept = _kept_units(w_in, init[f"blocks.{b}.ff.0.weight"])
        assert kept == sorted(set(kept)) and len(kept) == 200  # the base's order, no repeats
        weight = w_in.norm(dim=1) * w_out.norm(dim=0)
        dropped = sorted(set(range(w_in.shape[0])) - set(kept))
        assert weight[kept].min() >= weight[dropped].max()
        assert torch.equal(init[f"blocks.{b}.ff.0.bias"], state[f"blocks.{b}.ff.0.bias"][kept])
        assert torch.equal(init[f"blocks.{b}.ff.2.weight"], w_out[:, kept])
    cut = {k for k in state if ".ff.0." in k or k.endswith(".ff.2.weight")}
    for name in set(state) - cut:  # attention, norms, the output bias, embeddings, heads
        assert torch.equal(init[name], state[name]), name


def test_the_strongest_units_stand_in_for_the_whole_feed_forward() -> None:
    # Before any training, a narrower student of the units `narrower` keeps reads the seed dev
    # sentences much as the base does; one of the weakest units reads them less alike (half
    # of 512 units: 93% and 84% of the roles the base gives, 2026.12.5).
    from tokenizers import Tokenizer

    from vaultkd.train.refine import narrower
    from vaultkd.train.student import Student, StudentConfig

    model_dir = default_model_dir()
    base = recover_student(model_dir)
    state = base.state_dict()
    cfg = StudentConfig(**{**base.cfg.to_dict(), "ffn": 256})
    flipped = dict(state)  # the same cut, of the weakest units
    for b in (0, 1):
        w_in, w_out = state[f"blocks.{b}.ff.0.weight"], state[f"blocks.{b}.ff.2.weight"]
        weak = torch.sort(torch.topk(-(w_in.norm(dim=1) * w_out.norm(dim=0)), 256).indices).values
        flipped[f"blocks.{b}.ff.0.weight"] = w_in[weak]
        flipped[f"blocks.{b}.ff.0.bias"] = state[f"blocks.{b}.ff.0.bias"][weak]
        flipped[f"blocks.{b}.ff.2.weight"] = w_out[:, weak]
    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tok.enable_truncation(64)
    texts = _seed_texts("dev")

    def roles(model: torch.nn.Module) -> np.ndarray:
        with torch.no_grad():
            return np.array([
                int(model(ids, torch.ones_like(ids))[0].argmax())
                for ids in (torch.tensor([tok.encode(t).ids]) for t in texts)
            ])

    reference = roles(base)
    agreement = {}
    for name, weights in (("strongest", narrower(state, 256)), ("weakest", flipped)):
        student = Student(cfg)
        student.load_state_dict(weights)
        agreement[name] = float(np.mean(roles(student.eval()) == reference))
    assert agreement["strongest"] > agreement["weakest"] + 0.05, agreement


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--layers", "3", "--mode", "full"], "--layers needs --mode full and 1 to 2"),
        (["--layers", "1"], "--layers needs --mode full and 1 to 2"),
        (["--ffn", "600", "--mode", "full"], "--ffn needs --mode full and 1 to 512"),
        (["--ffn", "256"], "--ffn needs --mode full and 1 to 512"),
    ],
)
def test_a_student_past_the_base_or_outside_full_mode_is_a_usage_error(
    tmp_path: Path, args: list[str], message: str
) -> None:
    # Deeper or wider than the base (nothing to start those weights from), or a shape asked
    # of head mode (which keeps the network): refused before any data is read.
    proc = subprocess.run(
        [sys.executable, "-m", "vaultkd.train.refine", *args, "--out", str(tmp_path / "out"),
         "--run-dir", str(tmp_path / "run")],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert message in proc.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
@pytest.mark.skipif(
    not (data_root() / "mrda").is_dir(),
    reason=f"the public data sets are not at {data_root()} (set VAULTKD_DATA)",
)
@pytest.mark.parametrize("mode", ["head", "full"])
def test_smoke_refinement_writes_a_model_the_run_time_loads(tmp_path: Path, mode: str) -> None:
    out, run = tmp_path / "out", tmp_path / "run"
    base_text = (default_model_dir() / "student.json").read_text(encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "vaultkd.train.refine", "--smoke", "--mode", mode,
         "--out", str(out), "--run-dir", str(run)],
        capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "| seed test, evergreen macro-F1 |" in proc.stdout  # the side-by-side table
    header = next(line for line in proc.stdout.splitlines() if line.startswith("| metric |"))
    assert header.count("|") == 4, header  # the base and the refined model, one column each
    manifest = json.loads((out / "student.json").read_text(encoding="utf-8"))
    base = json.loads(base_text)
    assert manifest["refined_from"]["onnx_sha256"] == base["onnx_sha256"]
    assert "salience_in_context" in manifest
    texts = ["Who owns staging?", "Book the venue.", "Habits compound over time."]
    preds = OnnxPredictor(out, threads=1).predict(texts)
    assert preds.role_probs.shape == (3, 5)
    assert np.allclose(preds.role_probs.sum(1), 1.0, atol=1e-4)
    if mode == "head":
        shipped = OnnxPredictor(default_model_dir(), threads=1).predict(texts)
        assert np.array_equal(preds.salience, shipped.salience)
        assert manifest["salience_in_context"] == base["salience_in_context"]
    # The shipped folder is the base and was left alone.
    assert (default_model_dir() / "student.json").read_text(encoding="utf-8") == base_text


# --- the role head alone (train/role_head.py) -----------------------------------------------


def _patched_copy(tmp_path: Path, weight: np.ndarray, bias: np.ndarray) -> Path:
    import hashlib

    from vaultkd.train.role_head import patch_role_head

    model_dir = default_model_dir()
    patch_role_head(model_dir / "student.onnx", tmp_path / "student.onnx", weight, bias)
    shutil.copyfile(model_dir / "tokenizer.json", tmp_path / "tokenizer.json")
    manifest = json.loads((model_dir / "student.json").read_text(encoding="utf-8"))
    manifest["onnx_sha256"] = hashlib.sha256((tmp_path / "student.onnx").read_bytes()).hexdigest()
    (tmp_path / "student.json").write_text(json.dumps(manifest), encoding="utf-8")
    return tmp_path


def test_a_new_role_head_changes_roles_and_nothing_else(tmp_path: Path) -> None:
    from tokenizers import Tokenizer

    from vaultkd.train.recover import onnx_state_dict
    from vaultkd.train.role_head import pooled_features

    model_dir = default_model_dir()
    state = onnx_state_dict(model_dir / "student.onnx")
    rng = np.random.default_rng(0)
    weight = state["role.weight"] + rng.normal(0, 0.5, state["role.weight"].shape)
    bias = state["role.bias"][::-1].copy()
    patched = _patched_copy(tmp_path, weight.astype(np.float32), bias)
    texts = _seed_texts("dev")
    before = OnnxPredictor(model_dir, threads=1).predict(texts)
    after = OnnxPredictor(patched, threads=1).predict(texts)
    assert np.array_equal(before.salience, after.salience)
    assert np.array_equal(before.embeddings, after.embeddings)
    assert not np.allclose(before.role_probs, after.role_probs, atol=0.05)
    # The patched file computes softmax(head(features)) of the base file's own features, with no
    # int8 rounding of the logits left in between.
    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    feats = pooled_features(model_dir / "student.onnx", tok, texts, 64, threads=1)
    z = feats @ weight.T + bias
    probs = np.exp(z - z.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    assert np.abs(probs - after.role_probs).max() < 1e-5


def test_the_base_head_in_float_keeps_every_role(tmp_path: Path) -> None:
    from vaultkd.train.recover import onnx_state_dict

    model_dir = default_model_dir()
    state = onnx_state_dict(model_dir / "student.onnx")
    patched = _patched_copy(tmp_path, state["role.weight"], state["role.bias"])
    texts = _seed_texts("dev") + _seed_texts("test")
    before = OnnxPredictor(model_dir, threads=1).predict(texts).role_probs
    after = OnnxPredictor(patched, threads=1).predict(texts).role_probs
    assert (before.argmax(1) == after.argmax(1)).mean() >= 0.99
    assert np.abs(before - after).max() < 0.05  # only the logits' int8 rounding is gone


def test_fit_head_learns_and_keeps_the_best_dev_step() -> None:
    from vaultkd.train.role_head import fit_head

    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 8)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)  # a role given by the first feature
    soft = np.full((400, 2), np.nan, np.float32)
    w0, b0 = np.zeros((2, 8), np.float32), np.zeros(2, np.float32)

    def acc(w: np.ndarray, b: np.ndarray) -> float:
        return float(((x @ w.T + b).argmax(1) == y).mean())

    fit = fit_head(w0, b0, x, y, soft, acc, lr=0.05, steps=100)
    assert fit.dev > 0.95 and fit.step > 0
    # A dev score that only the base reaches keeps the base head, untouched.
    kept = fit_head(w0, b0, x, y, soft, lambda w, b: float(not w.any()), lr=0.05, steps=30)
    assert kept.step == 0 and not kept.weight.any()


def test_patch_refuses_a_graph_without_the_role_head(tmp_path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    from vaultkd.train.role_head import HeadError, patch_role_head

    node = helper.make_node("Identity", ["x"], ["y"], name="/other/Identity")
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    onnx.save(helper.make_model(graph), str(tmp_path / "m.onnx"))
    with pytest.raises(HeadError):
        patch_role_head(tmp_path / "m.onnx", tmp_path / "out.onnx", np.zeros((5, 4)), np.zeros(5))


def test_anchor_rows_leave_the_checking_vaults_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The documentation vaults that check a refinement must not be among its anchor rows,
    # or the refinement is held to the base's reading of exactly those notes.
    from vaultkd.train import corpus, refine
    from vaultkd.train import data as labelled

    text = "{} notes say enough about how this vault was written."
    for name in ("vault-kept", *refine.ANCHOR_HOLDOUT):
        (tmp_path / name).mkdir()
        (tmp_path / name / "n.md").write_text(text.format(name) + "\n", encoding="utf-8")
    monkeypatch.setattr(labelled, "data_root", lambda: tmp_path)
    monkeypatch.setattr(labelled, "held_out_texts", lambda *a, **k: frozenset())
    for name in refine.ANCHOR_SOURCES:
        if name != "vaults":
            monkeypatch.setattr(corpus, f"src_{name}", lambda root: iter(()))
    texts = refine.anchor_texts(100)
    assert texts == [text.format("vault-kept")]
