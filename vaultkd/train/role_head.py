"""Refit only the role head of an exported student: the trunk, salience and embedding stay
bit for bit what they were.

The three heads of the student read one pooled sentence vector (`Student.pooled`). Refitting
just the 5 × dim role layer on the int8 model's own pooled vectors (read from the ONNX file,
so the head learns from exactly what it will see at run time) changes which role a sentence
gets and nothing else: summaries, layers, connections and the salience-in-context weights
keep their measured quality. The new head goes into the graph as float weights (640 numbers;
the quantised trunk still does all the heavy lifting).
"""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vaultkd.train import require_train_extra

require_train_extra()

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from onnx import helper, numpy_helper  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402

from vaultkd.model.runtime import padded  # noqa: E402

ROLE_GEMM = "/student/role/Gemm"


class HeadError(RuntimeError):
    pass


def _role_gemm(graph: onnx.GraphProto) -> onnx.NodeProto:
    for node in graph.node:
        if node.name == ROLE_GEMM and node.op_type == "Gemm":
            return node
    raise HeadError(f"no {ROLE_GEMM} node: not a vaultkd student export")


def pooled_features(onnx_path: Path, tokenizer: Tokenizer, texts: list[str], max_len: int,
                    batch_size: int = 256, threads: int = 2) -> np.ndarray:
    """The vector the role head reads, per text, as the (int8) ONNX model computes it."""
    model = onnx.load(str(onnx_path))
    pooled = _role_gemm(model.graph).input[0]
    model.graph.output.append(helper.make_tensor_value_info(pooled, onnx.TensorProto.FLOAT, None))
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.log_severity_level = 3
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "features.onnx"
        onnx.save(model, str(path))
        session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    tok = copy.deepcopy(tokenizer)
    tok.enable_truncation(max_len)
    tok.no_padding()
    ids = [e.ids for e in tok.encode_batch(list(texts))]
    order = np.argsort([len(s) for s in ids], kind="stable")
    out: np.ndarray | None = None
    for start in range(0, len(ids), batch_size):
        rows = order[start : start + batch_size]
        x, m = padded(ids, rows)
        (feats,) = session.run([pooled], {"input_ids": x, "attention_mask": m})
        if out is None:
            out = np.zeros((len(ids), feats.shape[1]), np.float32)
        out[rows] = feats
    return out if out is not None else np.zeros((0, 0), np.float32)


@dataclass
class HeadFit:
    weight: np.ndarray  # (n_roles, dim), torch Linear layout
    bias: np.ndarray  # (n_roles,)
    step: int  # the step kept (0: the base head)
    dev: float  # its dev score
    history: list[tuple[int, float]]


def fit_head(
    weight: np.ndarray,
    bias: np.ndarray,
    train_x: np.ndarray,
    hard: np.ndarray,
    soft: np.ndarray,
    dev_score: Callable[[np.ndarray, np.ndarray], float],
    *,
    alpha: float = 0.5,
    lr: float = 1e-2,
    steps: int = 300,
    eval_every: int = 10,
    seed: int = 0,
) -> HeadFit:
    """Full-batch Adam on `α·CE(hard) + (1−α)·KL(soft ‖ head)` per row, as `train/kd.py` weighs
    them (rows without a hard label: -1; without soft targets: NaN), from (weight, bias); keeps
    the step with the best `dev_score(weight, bias)`, the base head included."""
    torch.manual_seed(seed)
    x = torch.from_numpy(np.asarray(train_x, np.float32))
    y = torch.from_numpy(np.asarray(hard, np.int64))
    t = torch.from_numpy(np.asarray(soft, np.float32))
    has_y, has_t = y >= 0, ~torch.isnan(t[:, 0])
    n = len(x)
    w = torch.tensor(weight, dtype=torch.float32, requires_grad=True)
    b = torch.tensor(bias, dtype=torch.float32, requires_grad=True)
    opt = torch.optim.Adam([w, b], lr=lr)
    best = (dev_score(weight, bias), 0, weight.copy(), bias.copy())
    history = [(0, best[0])]
    for step in range(1, steps + 1):
        logits = x @ w.T + b
        ce = F.cross_entropy(logits[has_y], y[has_y], reduction="sum") / n
        kl = F.kl_div(F.log_softmax(logits[has_t], -1), t[has_t].softmax(-1), reduction="sum") / n
        loss = alpha * ce + (1 - alpha) * kl
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % eval_every == 0:
            ww, bb = w.detach().numpy().copy(), b.detach().numpy().copy()
            score = dev_score(ww, bb)
            history.append((step, score))
            if score > best[0]:
                best = (score, step, ww, bb)
    return HeadFit(best[2], best[3], best[1], best[0], history)


def patch_role_head(src: Path, dst: Path, weight: np.ndarray, bias: np.ndarray) -> Path:
    """`src` with the role Gemm reading float `weight` (n_roles, dim) and `bias`; every other
    node and initializer unchanged (the quantised weights it read are dropped)."""
    model = onnx.load(str(src))
    graph = model.graph
    gemm = _role_gemm(graph)
    trans_b = next((a.i for a in gemm.attribute if a.name == "transB"), 0)
    w = np.asarray(weight, np.float32)
    old = set(gemm.input[1:])
    w_name, b_name = "student.role.weight.refit", "student.role.bias.refit"
    # A head refitted before is replaced: its float weights carry these names already.
    for init in [i for i in graph.initializer if i.name in (w_name, b_name)]:
        graph.initializer.remove(init)
    old -= {w_name, b_name}
    graph.initializer.append(numpy_helper.from_array(w if trans_b else w.T.copy(), w_name))
    graph.initializer.append(numpy_helper.from_array(np.asarray(bias, np.float32), b_name))
    del gemm.input[1:]
    gemm.input.extend([w_name, b_name])
    # The logits' QuantizeLinear → DequantizeLinear pair was calibrated on the old head's
    # range; a new head's logits could clip there, so the softmax reads the Gemm directly.
    out = gemm.output[0]
    q = [n for n in graph.node if n.op_type == "QuantizeLinear" and n.input[0] == out]
    if len(q) == 1:
        dq = [n for n in graph.node if n.op_type == "DequantizeLinear"
              and n.input[0] == q[0].output[0]]
        if len(dq) == 1:
            for node in graph.node:
                for k, name in enumerate(node.input):
                    if name == dq[0].output[0]:
                        node.input[k] = out
            old |= set(q[0].input[1:]) | set(dq[0].input[1:])
            graph.node.remove(dq[0])
            graph.node.remove(q[0])
    # Drop what only fed the old weights: their DequantizeLinear nodes and initializers.
    used = {i for node in graph.node for i in node.input} | {o.name for o in graph.output}
    dead = [node for node in graph.node if set(node.output) <= old - used]
    fed = {i for node in dead for i in node.input}
    for node in dead:
        graph.node.remove(node)
    used = {i for node in graph.node for i in node.input}
    for init in [i for i in graph.initializer if i.name in fed | old and i.name not in used]:
        graph.initializer.remove(init)
    onnx.checker.check_model(model)
    onnx.save(model, str(dst))
    return dst
