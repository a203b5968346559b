"""ONNX export, int8 quantisation, parity and the model folder the run time loads."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch", reason="the [train] extra (torch) is not installed")
onnx = pytest.importorskip("onnx", reason="the [train] extra (onnx) is not installed")

from vaultkd.model.runtime import OnnxPredictor  # noqa: E402
from vaultkd.roles import ROLES  # noqa: E402
from vaultkd.train.export import (  # noqa: E402
    OPSET,
    ParityError,
    ParityReport,
    export_onnx,
    parity,
    quantize,
    unsigned_weights,
    write_model_dir,
)
from vaultkd.train.kd import KDConfig, KDData, predict, train_student  # noqa: E402
from vaultkd.train.tokenizer import prune_teacher_vocab  # noqa: E402

TEXTS = [
    "Do we need a second region before launch?",
    "Dana to send the contract to legal by Friday.",
    "We decided to ship the beta without dark mode.",
    "Spaced repetition beats rereading for recall.",
    "Six of us met in the library annex.",
    "Is the grant covering travel?",
    "Book the venue for the March workshop.",
    "From now on every design doc gets a rollback section.",
]
ROLE_OF = [1, 3, 2, 0, 4, 1, 3, 2]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory):
    """A tiny student trained a little (so its argmax is not a coin toss), exported."""
    tmp = tmp_path_factory.mktemp("export")
    texts = TEXTS * 16
    roles = np.array(ROLE_OF * 16)
    pv = prune_teacher_vocab(texts, vocab_size=300)
    n = len(texts)
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(8, 384)).astype(np.float32)
    data = KDData(
        texts,
        roles,
        np.full(n, -1),
        np.tile(np.linspace(0, 1, 8, dtype=np.float32), 16),
        embedding=np.tile(emb, (16, 1)),
    )
    dev = KDData(TEXTS, np.array(ROLE_OF), np.full(8, -1), np.full(8, np.nan, np.float32))
    # A tiny model, pinned whole (salience weight too): its role logits must be decided enough
    # for the 99% int8 agreement bar, which a barely trained net's near-ties are not.
    cfg = KDConfig(
        dim=32, layers=1, heads=2, ffn=64, epochs=8, batch_size=16, lr=3e-3, salience_weight=1.0
    )
    result = train_student(cfg, pv.tokenizer, data, dev)
    fp32 = export_onnx(result.model, tmp / "s.fp32.onnx")
    int8 = quantize(fp32, tmp / "s.int8.onnx", pv.tokenizer, texts, result.model.cfg.max_len)
    return pv, result, fp32, int8, tmp


def test_graph_has_the_contract(exported) -> None:
    _, _, fp32, int8, _ = exported
    for path in (fp32, int8):
        m = onnx.load(str(path))
        assert max(o.version for o in m.opset_import if o.domain in ("", "ai.onnx")) >= OPSET
        ins = {i.name: i for i in m.graph.input}
        assert set(ins) == {"input_ids", "attention_mask"}
        for i in ins.values():
            assert i.type.tensor_type.elem_type == onnx.TensorProto.INT64
            dims = i.type.tensor_type.shape.dim
            assert dims[0].dim_param and dims[1].dim_param  # dynamic batch and sequence
        assert [o.name for o in m.graph.output] == ["role_probs", "salience", "embedding"]
    ops = {n.op_type for n in onnx.load(str(int8)).graph.node}
    # Static quantisation: fixed scales in QuantizeLinear/DequantizeLinear pairs, and no
    # activation scale computed per batch.
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    assert "DynamicQuantizeLinear" not in ops
    assert int8.stat().st_size < fp32.stat().st_size


def test_int8_outputs_do_not_depend_on_the_batch(exported) -> None:
    from vaultkd.model.runtime import OnnxSession

    pv, result, _, int8, _ = exported
    sess = OnnxSession(int8, pv.tokenizer, result.model.cfg.max_len, threads=2)
    texts = TEXTS + [f"{t} And a much longer tail of extra words {i}." for i, t in enumerate(TEXTS)]
    together = sess.run(texts)
    for i, t in enumerate(texts):
        alone = sess.run([t])
        for a, b in zip(alone, together, strict=True):
            assert np.array_equal(a[0], b[i]), t


def test_int8_parity_with_pytorch(exported) -> None:
    pv, result, _, int8, _ = exported
    more = [f"{t} Extra words {i} here." for i, t in enumerate(TEXTS * 4)]
    rep = parity(result.model, pv.tokenizer, int8, TEXTS + more)
    assert rep.n == len(TEXTS) + len(more)
    assert rep.role_agreement >= 0.99
    assert rep.salience_mae < 0.05
    assert rep.embedding_cos_mean > 0.98


def test_model_dir_round_trip_through_the_run_time(exported, tmp_path: Path) -> None:
    pv, result, _, int8, _ = exported
    rep = parity(result.model, pv.tokenizer, int8, TEXTS)
    manifest = write_model_dir(
        tmp_path,
        int8,
        pv.tokenizer,
        result.model,
        result.config,
        version="test",
        interim=True,
        parity_report=rep,
    )
    saved = json.loads((tmp_path / "student.json").read_text())
    assert saved == manifest
    assert saved["roles"] == list(ROLES) and saved["max_len"] == result.model.cfg.max_len
    assert saved["training_config"]["dim"] == 32
    p = OnnxPredictor(tmp_path, threads=1)
    preds = p.predict(TEXTS)
    probs, sal, emb = predict(result.model, pv.tokenizer, TEXTS)
    assert (preds.role_probs.argmax(1) == probs.argmax(1)).mean() >= 0.99
    np.testing.assert_allclose(preds.salience, sal, atol=0.05)
    assert p.version == f"vaultkd-student test (sha256:{saved['onnx_sha256'][:12]})"


def test_write_model_dir_refuses_bad_parity(exported, tmp_path: Path) -> None:
    pv, result, _, int8, _ = exported
    bad = ParityReport(
        n=10, role_agreement=0.9, salience_mae=0.0, embedding_cos_mean=1.0, embedding_cos_min=1.0
    )
    with pytest.raises(ParityError, match="role agreement 0.9000 < 0.99"):
        write_model_dir(
            tmp_path,
            int8,
            pv.tokenizer,
            result.model,
            result.config,
            version="x",
            interim=True,
            parity_report=bad,
        )
    assert not (tmp_path / "student.onnx").exists()


def _qdq_matmul(path: Path, w: np.ndarray) -> Path:
    """x (float) -> Q/DQ as uint8 -> MatMul with int8 weights `w`, scales 1: y = x @ w."""
    from onnx import TensorProto, helper, numpy_helper

    k, n = w.shape
    inits = [
        numpy_helper.from_array(np.array(1.0, np.float32), "one"),
        numpy_helper.from_array(np.array(0, np.uint8), "zp_x"),
        numpy_helper.from_array(w.astype(np.int8), "w_q"),
        numpy_helper.from_array(np.array(0, np.int8), "zp_w"),
    ]
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "one", "zp_x"], ["x_q"]),
        helper.make_node("DequantizeLinear", ["x_q", "one", "zp_x"], ["x_dq"]),
        helper.make_node("DequantizeLinear", ["w_q", "one", "zp_w"], ["w_dq"]),
        helper.make_node("MatMul", ["x_dq", "w_dq"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes, "qdq", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, k])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, n])], inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=8)
    onnx.save(model, str(path))
    return path


def test_unsigned_weights_give_exact_integer_products(tmp_path: Path) -> None:
    # 255 x 127 + 255 x 127 overflows int16: the u8 x s8 kernel of CPUs without VNNI saturates
    # it (half the exact sum on an AVX2 machine here); u8 x u8 is exact everywhere.
    import onnxruntime as ort

    w = np.full((64, 8), 127, np.int8)
    w[::3] = -90
    x = np.full((2, 64), 255.0, np.float32)
    path = _qdq_matmul(tmp_path / "m.onnx", w)
    assert unsigned_weights(path) == 1
    y = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    np.testing.assert_array_equal(y, x @ w.astype(np.float32))


def test_unsigned_weights_keep_the_dequantised_values(exported, tmp_path: Path) -> None:
    from onnx import TensorProto, numpy_helper

    def weights(path: Path) -> dict[str, tuple[int, np.ndarray]]:
        m = onnx.load(str(path))
        inits = {t.name: t for t in m.graph.initializer}
        out = {}
        for node in m.graph.node:
            if node.op_type == "DequantizeLinear" and node.input[0] in inits:
                q = inits[node.input[0]]
                scale = numpy_helper.to_array(inits[node.input[1]]).astype(np.float64)
                zp = numpy_helper.to_array(inits[node.input[2]]).astype(np.float64)
                out[q.name] = (q.data_type, (numpy_helper.to_array(q) - zp) * scale)
        return out

    int8 = exported[3]
    after = weights(int8)
    # quantize() already converted: every MatMul/Gemm weight is uint8 (biases stay int32).
    m = onnx.load(str(int8))
    consumers = {i: n.op_type for n in m.graph.node for i in n.input}
    dq_out = {n.input[0]: n.output[0] for n in m.graph.node if n.op_type == "DequantizeLinear"}
    matmul_weights = [
        k for k in after
        if consumers.get(dq_out[k]) in ("MatMul", "Gemm") and after[k][0] != TensorProto.INT32
    ]
    assert len(matmul_weights) >= 4
    assert all(after[k][0] == TensorProto.UINT8 for k in matmul_weights)
    # Converting again finds nothing; and a model with int8 weights converts to the same values.
    assert unsigned_weights(int8) == 0
    signed = tmp_path / "signed.onnx"
    m2 = onnx.load(str(int8))
    for t in m2.graph.initializer:
        if t.name in matmul_weights:
            t.CopyFrom(numpy_helper.from_array(
                (numpy_helper.to_array(t).astype(np.int16) - 128).astype(np.int8), t.name))
    for node in m2.graph.node:
        if node.op_type == "DequantizeLinear" and node.input[0] in matmul_weights:
            zp = next(t for t in m2.graph.initializer if t.name == node.input[2])
            zp.CopyFrom(numpy_helper.from_array(
                (numpy_helper.to_array(zp).astype(np.int16) - 128).astype(np.int8), zp.name))
    onnx.save(m2, str(signed))
    assert weights(signed)[matmul_weights[0]][0] == TensorProto.INT8
    assert unsigned_weights(signed) == len(matmul_weights)
    again = weights(signed)
    for k, (dtype, values) in after.items():
        assert again[k][0] == dtype
        np.testing.assert_array_equal(again[k][1], values)
