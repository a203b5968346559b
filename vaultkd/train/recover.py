"""The shipped student back as a PyTorch `Student`, from `models/student.onnx` alone.

The int8 file keeps every weight as (quantised value, scale, zero point) behind a
DequantizeLinear node; dequantised, they are the numbers the shipped model computes with. Run
dirs (`runs/`) are not shipped, so this is how training can start again from the model users
have (`train/refine.py`) instead of from a teacher that would have to be fine-tuned first.

MatMul weights are found through the node that reads them (`/student/blocks.0/qkv/MatMul`
reads `blocks.0.qkv.weight`, stored transposed); Gather and Gemm weights keep their names.
"""

from __future__ import annotations

import json
from pathlib import Path

from vaultkd.train import require_train_extra

require_train_extra()

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import torch  # noqa: E402
from onnx import numpy_helper  # noqa: E402

from vaultkd.train.student import Student, StudentConfig  # noqa: E402

PREFIX = "student."


class RecoverError(RuntimeError):
    pass


def _dequantized(graph: onnx.GraphProto) -> dict[str, np.ndarray]:
    """Output name of every DequantizeLinear that reads an initializer -> its float values."""
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    out: dict[str, np.ndarray] = {}
    for node in graph.node:
        if node.op_type != "DequantizeLinear" or node.input[0] not in inits:
            continue
        q = inits[node.input[0]].astype(np.int64)
        scale = inits[node.input[1]].astype(np.float64)
        zero = inits[node.input[2]].astype(np.int64) if len(node.input) > 2 else 0
        out[node.output[0]] = ((q - zero) * scale).astype(np.float32)
    return out


def _module_of(node_name: str) -> str:
    """`/student/blocks.0/ff/ff.0/MatMul` -> `blocks.0.ff.0`: torch names a child's scope with
    its parent's name in front (`ff`, then `ff.0`), so such a segment replaces the one before."""
    parts: list[str] = []
    for seg in node_name.removeprefix("/student/").split("/")[:-1]:
        if parts and seg.startswith(parts[-1] + "."):
            parts[-1] = seg
        else:
            parts.append(seg)
    return ".".join(parts)


def onnx_state_dict(onnx_path: Path) -> dict[str, np.ndarray]:
    """Student parameter name -> float array, read from an exported (int8 or fp32) student."""
    model = onnx.load(str(onnx_path))
    graph = model.graph
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    deq = _dequantized(graph)

    def value(name: str) -> np.ndarray | None:
        if name in deq:
            return deq[name]
        if name in inits and inits[name].dtype == np.float32:
            return inits[name]
        return None

    state: dict[str, np.ndarray] = {}
    for name, arr in inits.items():  # float tensors exported under their own names
        if name.startswith(PREFIX) and arr.dtype == np.float32:
            state[name[len(PREFIX):]] = arr
    for node in graph.node:
        module = _module_of(node.name)
        if node.op_type == "MatMul":
            w = value(node.input[1])
            if w is not None and w.ndim == 2 and node.name.startswith("/student/"):
                state[f"{module}.weight"] = w.T  # torch keeps Linear weights as (out, in)
        elif node.op_type == "Gemm":
            trans_b = next((a.i for a in node.attribute if a.name == "transB"), 0)
            w = value(node.input[1])
            if w is not None:
                state[f"{module}.weight"] = w if trans_b else w.T
            if len(node.input) > 2 and (b := value(node.input[2])) is not None:
                state[f"{module}.bias"] = b
        elif node.op_type == "Gather":
            w = value(node.input[0])
            if w is not None and w.ndim == 2:
                state[f"{module}.weight"] = w
    return state


def recover_student(model_dir: Path) -> Student:
    """A `Student` (eval mode) with the weights of `model_dir/student.onnx` and the shape its
    manifest records; every parameter must be found, with the shape the network expects."""
    manifest = json.loads((Path(model_dir) / "student.json").read_text(encoding="utf-8"))
    cfg = StudentConfig(**manifest["student_config"])
    student = Student(cfg)
    found = onnx_state_dict(Path(model_dir) / "student.onnx")
    expected = student.state_dict()
    missing = sorted(set(expected) - set(found))
    if missing:
        raise RecoverError(f"{model_dir}: the ONNX file lacks {', '.join(missing)}")
    for name, tensor in expected.items():
        if tuple(found[name].shape) != tuple(tensor.shape):
            raise RecoverError(
                f"{model_dir}: {name} is {found[name].shape}, the network needs {tensor.shape}"
            )
    student.load_state_dict({k: torch.from_numpy(np.array(found[k], np.float32)) for k in expected})
    student.eval()
    return student
