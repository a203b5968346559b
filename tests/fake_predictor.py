"""A small fixed predictor for unit tests of `distill/`: deterministic, no model, no I/O.

Roles come from surface cues, salience from cue words plus a stable hash, embeddings from hashed
bags of words, so tests exercise distillation logic, not a model.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from vaultkd.model.predictor import Predictions
from vaultkd.roles import ROLE_INDEX, ROLES

_WORD = re.compile(r"[a-z0-9]+")
_ACTION_VERBS = ("email", "book", "send", "ping", "call", "write", "ask", "renew", "buy", "fix")


def fake_role(text: str) -> str:
    low = text.lower().strip()
    if low.startswith(("- [ ]", "- [x]")):
        return "action"
    if low.endswith("?") or "unclear" in low:
        return "question"
    if any(cue in low for cue in ("decided", "agreed", "we'll go with", "going with")):
        return "decision"
    if low.startswith(_ACTION_VERBS) or " will " in low or "todo" in low:
        return "action"
    if any(cue in low for cue in ("we met", "attended", "the call ran")):
        return "context"
    return "claim"


def _stable(text: str) -> float:
    return int(hashlib.sha1(text.encode("utf-8")).hexdigest()[:8], 16) / 0xFFFFFFFF


def fake_salience(text: str) -> float:
    low = text.lower()
    if "key" in low or "important" in low:
        return 0.9 + 0.05 * _stable(text)
    if fake_role(text) == "context":
        return 0.05 * _stable(text)
    return 0.2 + 0.5 * _stable(text)


def fake_embedding(text: str, dim: int = 64) -> np.ndarray:
    vec = np.zeros(dim, dtype=np.float32)
    for word in _WORD.findall(text.lower()):
        h = int(hashlib.md5(word.encode("utf-8")).hexdigest()[:8], 16)
        vec[h % dim] += 1.0 if (h >> 8) & 1 else -1.0
    norm = float(np.linalg.norm(vec))
    if norm == 0.0:
        vec[0] = 1.0
        return vec
    return vec / norm


class FakePredictor:
    version = "fake-predictor 1 (sha256:0000)"

    def __init__(self, dim: int = 64) -> None:
        self._dim = dim
        self.calls = 0

    @property
    def dim(self) -> int:
        return self._dim

    def predict(self, sentences: Sequence[str]) -> Predictions:
        self.calls += 1
        n = len(sentences)
        # A confident model: its role clears every listing threshold (ROLE_THRESHOLDS).
        probs = np.full((n, len(ROLES)), 0.025, dtype=np.float32)
        for i, text in enumerate(sentences):
            probs[i, ROLE_INDEX[fake_role(text)]] = 0.9
        salience = np.array([fake_salience(t) for t in sentences], dtype=np.float32)
        emb = (
            np.stack([fake_embedding(t, self._dim) for t in sentences])
            if n
            else np.zeros((0, self._dim), dtype=np.float32)
        )
        return Predictions(role_probs=probs, salience=salience, embeddings=emb.astype(np.float32))
