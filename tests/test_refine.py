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


@pytest.mark.slow
@pytest.mark.skipif(
    not (data_root() / "mrda").is_dir(),
    reason=f"the public data sets are not at {data_root()} (set VAULTKD_DATA)",
)
def test_smoke_refinement_writes_a_model_the_run_time_loads(tmp_path: Path) -> None:
    out, run = tmp_path / "out", tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "vaultkd.train.refine", "--smoke", "--out", str(out),
         "--run-dir", str(run)],
        capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    manifest = json.loads((out / "student.json").read_text(encoding="utf-8"))
    base = json.loads((default_model_dir() / "student.json").read_text(encoding="utf-8"))
    assert manifest["refined_from"]["onnx_sha256"] == base["onnx_sha256"]
    assert manifest["parity"]["role_agreement"] >= 0.9
    assert "salience_in_context" in manifest
    preds = OnnxPredictor(out, threads=1).predict(["Who owns staging?", "Book the venue."])
    assert preds.role_probs.shape == (2, 5)
    assert np.allclose(preds.role_probs.sum(1), 1.0, atol=1e-4)
    # The shipped folder is the base and was left alone.
    assert (default_model_dir() / "student.json").read_text(encoding="utf-8") == json.dumps(
        base, indent=2
    ) + "\n"
