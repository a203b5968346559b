"""The shipped student at run time: onnxruntime + tokenizers + numpy, nothing else.

`models/` (packaged as `vaultkd.models`) holds `student.onnx` (int8), `tokenizer.json` and
`student.json`, the manifest naming the roles, the maximum length and the sha256 of the model.
A missing, truncated or corrupt file raises `ModelError` with one line that names the file and
says what to do. Sentences are batched in order of length so padding stays small.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from vaultkd.model.predictor import Predictions
from vaultkd.roles import ROLES

MANIFEST = "student.json"
ONNX_FILE = "student.onnx"
TOKENIZER_FILE = "tokenizer.json"
# Rows per onnxruntime call: 128 read as many sentences/s as 64, 256 and 512, or more, on both
# the sample vault's and the synthetic vault's sentences (`bench/model_bench.py --speed-only`).
BATCH_SIZE = 128
_FIX = "reinstall vaultkd or rebuild the model with `vaultkd train`"


class ModelError(Exception):
    """The model files are missing, truncated or corrupt; the message says which and what to do."""


def default_model_dir() -> Path:
    """The `models/` folder shipped inside the package (`vaultkd.models`)."""
    return Path(str(resources.files("vaultkd.models")))


def padded(ids: Sequence[Sequence[int]], rows: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """(input_ids, attention_mask) of the token lists `ids[rows]`, zero-padded to the longest."""
    width = max(len(ids[i]) for i in rows)
    x = np.zeros((len(rows), width), np.int64)
    m = np.zeros((len(rows), width), np.int64)
    for j, i in enumerate(rows):
        x[j, : len(ids[i])] = ids[i]
        m[j, : len(ids[i])] = 1
    return x, m


class OnnxSession:
    """An ONNX student and its tokenizer: texts in, (role_probs, salience, embedding) out."""

    def __init__(
        self,
        onnx_path: Path,
        tokenizer: Tokenizer,
        max_len: int,
        *,
        threads: int | None = None,
        batch_size: int = BATCH_SIZE,
        memory_arena: bool = True,
    ) -> None:
        opts = ort.SessionOptions()
        # The arena keeps the largest batch's buffers for reuse: faster, and more resident.
        opts.enable_cpu_mem_arena = memory_arena
        n = threads if threads is not None else model_threads()
        opts.intra_op_num_threads = n
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        # Idle intra-op threads spin by default, burning a core between calls; vaultkd calls
        # the model between parsing and writing, and the daemon between saves.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(
                str(onnx_path), sess_options=opts, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"{onnx_path}: cannot load the model ({first}); {_FIX}") from exc
        self.tokenizer = tokenizer
        self.tokenizer.enable_truncation(max_len)
        self.tokenizer.no_padding()
        self.max_len = max_len
        self.batch_size = batch_size
        outs = {o.name: o for o in self.session.get_outputs()}
        missing = {"role_probs", "salience", "embedding"} - set(outs)
        if missing:
            raise ModelError(f"{onnx_path}: the model lacks outputs {sorted(missing)}; {_FIX}")
        self.dim = int(outs["embedding"].shape[-1])

    def run(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n = len(texts)
        probs = np.zeros((n, len(ROLES)), np.float32)
        sal = np.zeros(n, np.float32)
        emb = np.zeros((n, self.dim), np.float32)
        if n == 0:
            return probs, sal, emb
        encs = self.tokenizer.encode_batch(list(texts))
        ids = [e.ids for e in encs]
        order = np.argsort([len(s) for s in ids], kind="stable")
        for start in range(0, n, self.batch_size):
            rows = order[start : start + self.batch_size]
            x, m = padded(ids, rows)
            p, s, e = self.session.run(
                ["role_probs", "salience", "embedding"], {"input_ids": x, "attention_mask": m}
            )
            probs[rows], sal[rows], emb[rows] = p, s.reshape(-1), e
        return probs, sal, emb


def model_threads() -> int:
    """Intra-op threads by default: one core fewer than the machine has, at most 4.

    In a vault-sized run the model reads one chunk while this process parses the next, so the
    parsing thread owns a core; a model thread given that core as well only contends for it.
    On 2 cores, 1 thread instead of 2: pass 1 of 2,000 synthetic notes in 20-26 s instead of
    22-31 s with ~15% less CPU (timed at the pass boundary, two alternating pairs); the whole
    run in bench/distill_bench.py, with the faster `to_plain` as well, 40.0-40.2 s instead of
    41.2-41.9 s. A single note waits a few milliseconds more, next to a second of start-up."""
    return max(1, min(4, (os.cpu_count() or 1) - 1))


def model_jobs() -> int:
    """Model threads for a vault run by default: the cores, counting each thread's intra-op
    threads (`model_threads`), so the model never asks for more cores than the machine has.

    On 2 cores that is two threads of one intra-op thread each, the second taking the core
    the parser leaves idle while it waits for the model: 3,000 synthetic notes cold in 28.8 /
    30.8 s, against 33.8 / 35.0 s with one (alternating)."""
    return max(1, (os.cpu_count() or 1) // model_threads())


class OnnxPredictor:
    """`vaultkd.model.predictor.Predictor` on the shipped int8 student."""

    def __init__(
        self, model_dir: Path | None = None, *, threads: int | None = None,
        low_memory: bool = False,
    ) -> None:
        self.model_dir = Path(model_dir) if model_dir is not None else default_model_dir()
        manifest_path = self.model_dir / MANIFEST
        onnx_path = self.model_dir / ONNX_FILE
        tok_path = self.model_dir / TOKENIZER_FILE
        for p in (manifest_path, onnx_path, tok_path):
            if not p.is_file():
                raise ModelError(f"{p} is missing; {_FIX}")
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            max_len = int(manifest["max_len"])
            roles = tuple(manifest["roles"])
            expected = str(manifest["onnx_sha256"])
            name, version = str(manifest["name"]), str(manifest["version"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelError(
                f"{manifest_path} is not a valid model manifest ({exc}); {_FIX}"
            ) from exc
        if roles != ROLES:
            raise ModelError(
                f"{manifest_path}: the model's roles {roles} differ from this vaultkd's {ROLES}; "
                f"{_FIX}"
            )
        blob = onnx_path.read_bytes()
        digest = hashlib.sha256(blob).hexdigest()
        if digest != expected:
            raise ModelError(
                f"{onnx_path} is truncated or corrupt (sha256 {digest[:12]}…, expected "
                f"{expected[:12]}…); {_FIX}"
            )
        try:
            tokenizer = Tokenizer.from_file(str(tok_path))
        except Exception as exc:  # tokenizers raises a bare Exception on bad JSON
            raise ModelError(f"{tok_path} is not a valid tokenizer ({exc}); {_FIX}") from exc
        self._session = OnnxSession(
            onnx_path, tokenizer, max_len, threads=threads, memory_arena=not low_memory
        )
        self.manifest = manifest
        self.version = f"{name} {version} (sha256:{digest[:12]})"

    @property
    def dim(self) -> int:
        return self._session.dim

    def predict(self, sentences: Sequence[str]) -> Predictions:
        probs, sal, emb = self._session.run(sentences)
        return Predictions(role_probs=probs, salience=sal, embeddings=emb)


@lru_cache(maxsize=4)
def _cached(model_dir: Path | None, low_memory: bool) -> OnnxPredictor:
    return OnnxPredictor(model_dir, low_memory=low_memory)


def load_predictor(model_dir: Path | None = None, *, low_memory: bool = False) -> OnnxPredictor:
    """The predictor for `model_dir` (default: the packaged model), loaded once per process.

    `low_memory` runs onnxruntime without its memory arena (for the long-lived daemon)."""
    return _cached(Path(model_dir).resolve() if model_dir is not None else None, low_memory)
