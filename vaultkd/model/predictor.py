"""What distillation needs from a model: text in, numpy arrays out.

`distill/` depends on this protocol only; `model/runtime.py` implements it with onnxruntime
on the shipped student, and tests may implement it with a small fixed predictor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from vaultkd.roles import ROLES


@dataclass(frozen=True, slots=True)
class Predictions:
    role_probs: np.ndarray  # (n, len(ROLES)) float32, rows sum to 1, columns in ROLES order
    salience: np.ndarray  # (n,) float32 in [0, 1]
    embeddings: np.ndarray  # (n, d) float32, L2-normalised, d >= 64

    def __len__(self) -> int:
        return int(self.salience.shape[0])

    def roles(self) -> list[str]:
        return [ROLES[i] for i in self.role_probs.argmax(axis=1)]


class Predictor(Protocol):
    """A sentence model; `version` names model and weights (`vaultkd-student 0.1 (sha256:…)`)."""

    version: str

    @property
    def dim(self) -> int: ...

    def predict(self, sentences: Sequence[str]) -> Predictions: ...
