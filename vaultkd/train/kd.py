"""Knowledge distillation: the loss and the training loop of the student.

Every knob sits in `KDConfig` (nanoGPT style); `override()` refuses unknown keys and changes of
type, and the resolved config is saved next to the weights. The role loss is exactly

    L_role = α·CE(y, s) + (1−α)·τ²·KL(softmax(t/τ) ‖ softmax(s/τ))

with CE only on rows that carry a hard label and KL only on rows that carry teacher logits; both
are summed per row and divided by the batch size, so a batch with few labels weighs them as
rows, not as a whole batch. Partial labels ("not a question") add −log(1 − p[not_role]).
Salience is regressed to its target with BCE (targets in [0, 1]); the embedding head is pulled
towards the teacher's embedding with 1 − cosine.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from vaultkd.train import require_train_extra

require_train_extra()

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402

from vaultkd.roles import ROLES  # noqa: E402
from vaultkd.train.student import Student, StudentConfig  # noqa: E402
from vaultkd.train.tokenizer import encode  # noqa: E402

log = logging.getLogger(__name__)


@dataclass
class KDConfig:
    # --- student shape (copied into StudentConfig) ---
    arch: str = "transformer"  # "transformer" or "cnn"; chosen on dev (see README "Model")
    dim: int = 128
    layers: int = 2
    heads: int = 4
    ffn: int = 512
    max_len: int = 64
    dropout: float = 0.1
    init_from_teacher: bool = True  # token table from PCA of MiniLM's token embeddings
    # --- loss ---
    # alpha, temperature and the shape above: chosen by `--stage sweep` (dev; model card).
    alpha: float = 0.5  # weight of the hard-label CE; 1 - alpha goes to the soft KL
    temperature: float = 1.0  # tau of the soft targets
    # 3.0, not 1.0: the one alternative tried, chosen on dev (seed dev macro-F1 78.4 vs 76.6,
    # SciTLDR held-out dev top-1 in context 47.0% vs 43.9%; README "Model").
    salience_weight: float = 3.0
    embedding_weight: float = 1.0
    not_role_weight: float = 0.5  # partial labels: "this is not a <role>"
    # --- augmentation (Tang et al. 2019): replace tokens with [MASK] at this rate ---
    mask_prob: float = 0.0
    # --- optimisation ---
    epochs: int = 6  # ~19 min on 150k transfer sentences, 2 threads
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 0.01
    warmup: float = 0.05  # share of steps with a linear warm-up, then cosine decay
    grad_clip: float = 1.0
    time_budget_s: float | None = None  # stop early (still keeping the best dev state)
    evals_per_epoch: int = 1
    seed: int = 0
    threads: int = 2

    def student_config(self, vocab_size: int) -> StudentConfig:
        return StudentConfig(
            arch=self.arch,
            vocab_size=vocab_size,
            max_len=self.max_len,
            dim=self.dim,
            layers=self.layers,
            heads=self.heads,
            ffn=self.ffn,
            dropout=self.dropout,
        )

    def digest(self) -> str:
        import hashlib

        blob = json.dumps(asdict(self), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def override(cfg: KDConfig, **changes: Any) -> KDConfig:
    """A copy of `cfg` with `changes`; unknown keys and changes of type are errors."""
    names = {f.name: f for f in dataclasses.fields(cfg)}
    resolved: dict[str, Any] = {}
    for key, value in changes.items():
        if key not in names:
            raise KeyError(f"unknown KDConfig key {key!r}; known: {', '.join(sorted(names))}")
        old = getattr(cfg, key)
        if old is not None and value is not None and not isinstance(value, type(old)):
            if not (isinstance(old, float) and isinstance(value, int)):
                raise TypeError(f"KDConfig.{key} is {type(old).__name__}, got {value!r}")
            value = float(value)
        resolved[key] = value
    return dataclasses.replace(cfg, **resolved)


@dataclass
class KDData:
    """Training rows; absent targets are -1 (labels) or NaN (floats)."""

    texts: list[str]
    hard_role: np.ndarray  # (n,) int64
    not_role: np.ndarray  # (n,) int64
    salience: np.ndarray  # (n,) float32 in [0, 1] or NaN
    teacher_logits: np.ndarray | None = None  # (n, 5) float32, NaN rows where absent
    embedding: np.ndarray | None = None  # (n, 384) float32, NaN rows where absent

    def __len__(self) -> int:
        return len(self.texts)

    def sizes(self) -> dict[str, int]:
        out = {
            "rows": len(self),
            "hard_role": int((self.hard_role >= 0).sum()),
            "not_role": int((self.not_role >= 0).sum()),
            "salience": int((~np.isnan(self.salience)).sum()),
        }
        if self.teacher_logits is not None:
            out["teacher_logits"] = int((~np.isnan(self.teacher_logits[:, 0])).sum())
        if self.embedding is not None:
            out["embedding"] = int((~np.isnan(self.embedding[:, 0])).sum())
        return out

    def subset(self, idx: np.ndarray) -> KDData:
        return KDData(
            [self.texts[i] for i in idx],
            self.hard_role[idx],
            self.not_role[idx],
            self.salience[idx],
            None if self.teacher_logits is None else self.teacher_logits[idx],
            None if self.embedding is None else self.embedding[idx],
        )

    @staticmethod
    def concat(parts: list[KDData], dim: int = 384) -> KDData:
        def stack(getter: Callable[[KDData], np.ndarray | None], width: int) -> np.ndarray:
            arrs = []
            for p in parts:
                a = getter(p)
                arrs.append(np.full((len(p), width), np.nan, np.float32) if a is None else a)
            return np.concatenate(arrs).astype(np.float32)

        return KDData(
            [t for p in parts for t in p.texts],
            np.concatenate([p.hard_role for p in parts]).astype(np.int64),
            np.concatenate([p.not_role for p in parts]).astype(np.int64),
            np.concatenate([p.salience for p in parts]).astype(np.float32),
            stack(lambda p: p.teacher_logits, len(ROLES)),
            stack(lambda p: p.embedding, dim),
        )


def kd_loss(
    s_logits: torch.Tensor,
    s_sal: torch.Tensor,
    s_emb: torch.Tensor,
    batch: dict[str, torch.Tensor],
    cfg: KDConfig,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Total loss and its parts for one batch (see the module docstring)."""
    n = s_logits.shape[0]
    zero = s_logits.new_zeros(())
    hard = batch["hard_role"]
    has_hard = hard >= 0
    ce = (
        F.cross_entropy(s_logits[has_hard], hard[has_hard], reduction="sum") / n
        if has_hard.any()
        else zero
    )
    kl = zero
    t_logits = batch.get("teacher_logits")
    if t_logits is not None:
        has_t = ~torch.isnan(t_logits[:, 0])
        if has_t.any():
            tau = cfg.temperature
            log_p_s = F.log_softmax(s_logits[has_t] / tau, dim=-1)
            p_t = F.softmax(t_logits[has_t] / tau, dim=-1)
            kl = F.kl_div(log_p_s, p_t, reduction="sum") / n * tau * tau
    # Without any teacher logits (the hard-label ablation) CE carries the full weight.
    alpha = cfg.alpha if t_logits is not None else 1.0
    role = alpha * ce + (1.0 - alpha) * kl

    not_role = batch["not_role"]
    has_not = not_role >= 0
    neg = zero
    if has_not.any():
        p = s_logits[has_not].softmax(dim=-1).gather(1, not_role[has_not, None]).squeeze(1)
        neg = -torch.log1p(-p.clamp(max=1 - 1e-6)).sum() / n

    sal_t = batch["salience"]
    has_sal = ~torch.isnan(sal_t)
    sal = (
        F.binary_cross_entropy_with_logits(s_sal[has_sal], sal_t[has_sal], reduction="sum") / n
        if has_sal.any()
        else zero
    )

    emb = zero
    t_emb = batch.get("embedding")
    if t_emb is not None:
        has_e = ~torch.isnan(t_emb[:, 0])
        if has_e.any():
            cos = F.cosine_similarity(s_emb[has_e], t_emb[has_e], dim=-1)
            emb = (1.0 - cos).sum() / n

    total = (
        role + cfg.not_role_weight * neg + cfg.salience_weight * sal + cfg.embedding_weight * emb
    )
    parts = {
        "ce": float(ce.detach()),
        "kl": float(kl.detach()),
        "not_role": float(neg.detach()),
        "salience": float(sal.detach()),
        "embedding": float(emb.detach()),
    }
    return total, parts


def _pad(seqs: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    t = max(len(s) for s in seqs)
    ids = np.zeros((len(seqs), t), dtype=np.int64)
    mask = np.zeros((len(seqs), t), dtype=np.int64)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = s
        mask[i, : len(s)] = 1
    return torch.from_numpy(ids), torch.from_numpy(mask)


def _batches(lengths: list[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Shuffled batches of similar length (sorted within pools of 50 batches) to cut padding."""
    idx = list(range(len(lengths)))
    rng.shuffle(idx)
    pool = batch_size * 50
    out: list[list[int]] = []
    for start in range(0, len(idx), pool):
        chunk = sorted(idx[start : start + pool], key=lambda i: lengths[i])
        out.extend(chunk[j : j + batch_size] for j in range(0, len(chunk), batch_size))
    rng.shuffle(out)
    return out


def _batch_tensors(data: KDData, rows: list[int]) -> dict[str, torch.Tensor]:
    b = {
        "hard_role": torch.from_numpy(data.hard_role[rows]),
        "not_role": torch.from_numpy(data.not_role[rows]),
        "salience": torch.from_numpy(data.salience[rows]),
    }
    if data.teacher_logits is not None:
        b["teacher_logits"] = torch.from_numpy(data.teacher_logits[rows])
    if data.embedding is not None:
        b["embedding"] = torch.from_numpy(data.embedding[rows])
    return b


@torch.no_grad()
def predict(
    model: Student, tokenizer: Tokenizer, texts: list[str], batch_size: int = 128
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PyTorch student -> (role probs (n,5), salience (n,), L2-normalised embedding (n,384))."""
    model.eval()
    ids = encode(tokenizer, texts, model.cfg.max_len)
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    probs = np.zeros((len(texts), model.cfg.n_roles), np.float32)
    sal = np.zeros(len(texts), np.float32)
    emb = np.zeros((len(texts), model.cfg.teacher_dim), np.float32)
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        x, m = _pad([ids[i] for i in rows])
        logits, s, e = model(x, m)
        probs[rows] = logits.softmax(-1).numpy()
        sal[rows] = torch.sigmoid(s).numpy()
        emb[rows] = F.normalize(e, dim=-1).numpy()
    return probs, sal, emb


def macro_f1(gold: np.ndarray, pred: np.ndarray, labels: list[int]) -> tuple[float, list[float]]:
    f1s = []
    for c in labels:
        tp = int(((pred == c) & (gold == c)).sum())
        fp = int(((pred == c) & (gold != c)).sum())
        fn = int(((pred != c) & (gold == c)).sum())
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return (float(np.mean(f1s)) if f1s else 0.0), f1s


def dev_metrics(model: Student, tokenizer: Tokenizer, dev: KDData) -> dict[str, float]:
    """Role macro-F1 over the classes present in dev's hard labels, plus salience/embedding fit."""
    probs, sal, emb = predict(model, tokenizer, dev.texts)
    out: dict[str, float] = {}
    has = dev.hard_role >= 0
    if has.any():
        labels = sorted(int(c) for c in np.unique(dev.hard_role[has]))
        out["role_macro_f1"], _ = macro_f1(dev.hard_role[has], probs[has].argmax(1), labels)
    if dev.teacher_logits is not None:
        has_t = ~np.isnan(dev.teacher_logits[:, 0])
        if has_t.any():
            agree = probs[has_t].argmax(1) == dev.teacher_logits[has_t].argmax(1)
            out["teacher_agreement"] = float(agree.mean())
    has_s = ~np.isnan(dev.salience)
    if has_s.any():
        out["salience_mae"] = float(np.abs(sal[has_s] - dev.salience[has_s]).mean())
    if dev.embedding is not None:
        has_e = ~np.isnan(dev.embedding[:, 0])
        if has_e.any():
            t = dev.embedding[has_e]
            t = t / np.linalg.norm(t, axis=1, keepdims=True)
            out["embedding_cos"] = float((emb[has_e] * t).sum(1).mean())
    return out


def dev_score(m: dict[str, float]) -> float:
    """One number to keep the best checkpoint by: role F1 first, then the embedding fit."""
    score = m.get("role_macro_f1", 0.0) + 0.5 * m.get("teacher_agreement", 0.0)
    return score + 0.25 * m.get("embedding_cos", 0.0) - 0.25 * m.get("salience_mae", 0.0)


@dataclass
class TrainResult:
    model: Student
    config: KDConfig
    best_dev: dict[str, float]
    history: list[dict[str, Any]] = field(default_factory=list)


def _mask_tokens(seq: list[int], p: float, rng: random.Random, mask_id: int) -> list[int]:
    if p <= 0:
        return seq
    # Keep [CLS] and [SEP] (first and last) in place.
    return [seq[0], *(mask_id if rng.random() < p else t for t in seq[1:-1]), seq[-1]]


def train_student(
    cfg: KDConfig,
    tokenizer: Tokenizer,
    train: KDData,
    dev: KDData,
    *,
    init_embeddings: np.ndarray | None = None,
    teacher_ids: np.ndarray | None = None,
    log_path: Path | None = None,
    init_state: dict[str, torch.Tensor] | None = None,
) -> TrainResult:
    """Train a student on `train`, keep the state that scores best on `dev`: a fresh one, or
    one that starts from `init_state` (a refinement of a shipped student, `train/refine.py`)."""
    from vaultkd.train.student import init_from_teacher

    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    torch.set_num_threads(cfg.threads)
    scfg = cfg.student_config(tokenizer.get_vocab_size())
    model = Student(scfg)
    logf = log_path.open("a", encoding="utf-8") if log_path else None

    def emit(rec: dict[str, Any]) -> None:
        rec = {"time": round(time.time(), 1), **rec}
        if logf:
            logf.write(json.dumps(rec) + "\n")
            logf.flush()
        log.info("%s", rec)

    kept = None
    if init_state is not None:
        model.load_state_dict(init_state)
    elif cfg.init_from_teacher and init_embeddings is not None and teacher_ids is not None:
        kept = init_from_teacher(model, init_embeddings, teacher_ids)
    emit(
        {
            "event": "start",
            "config": asdict(cfg),
            "params": model.n_params(),
            "train": train.sizes(),
            "dev": dev.sizes(),
            "pca_variance_kept": kept,
        }
    )
    ids = encode(tokenizer, train.texts, cfg.max_len)
    lengths = [len(s) for s in ids]
    mask_id = tokenizer.token_to_id("[MASK]") or 1
    steps_per_epoch = math.ceil(len(ids) / cfg.batch_size)
    total_steps = max(1, steps_per_epoch * cfg.epochs)
    warm = max(1, int(cfg.warmup * total_steps))
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt,
        lambda s: (
            min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / total_steps)))
        ),
    )
    eval_every = max(1, steps_per_epoch // max(1, cfg.evals_per_epoch))
    best_score, best_state, best_dev = -math.inf, None, {}
    history: list[dict[str, Any]] = []
    t0 = time.time()
    step = 0
    stop = False
    for epoch in range(cfg.epochs):
        sums: dict[str, float] = {}
        seen = 0
        for rows in _batches(lengths, cfg.batch_size, rng):
            model.train()
            x, m = _pad([_mask_tokens(ids[i], cfg.mask_prob, rng, mask_id) for i in rows])
            logits, sal, emb = model(x, m)
            loss, parts = kd_loss(logits, sal, emb, _batch_tensors(train, rows), cfg)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            sched.step()
            step += 1
            seen += 1
            for k, v in {"loss": float(loss.detach()), **parts}.items():
                sums[k] = sums.get(k, 0.0) + v
            over_time = cfg.time_budget_s is not None and time.time() - t0 > cfg.time_budget_s
            if step % eval_every == 0 or over_time:
                dm = dev_metrics(model, tokenizer, dev)
                score = dev_score(dm)
                rec = {
                    "event": "eval",
                    "epoch": epoch,
                    "step": step,
                    "elapsed_s": round(time.time() - t0, 1),
                    "train": {k: round(v / seen, 4) for k, v in sums.items()},
                    "dev": {k: round(v, 4) for k, v in dm.items()},
                    "score": round(score, 4),
                }
                history.append(rec)
                emit(rec)
                if score > best_score:
                    best_score, best_dev = score, dm
                    best_state = copy.deepcopy(model.state_dict())
            if over_time:
                emit({"event": "time_budget_reached", "step": step})
                stop = True
                break
        if stop:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    emit({"event": "done", "steps": step, "best_dev": best_dev, "elapsed_s": time.time() - t0})
    if logf:
        logf.close()
    return TrainResult(model, cfg, best_dev, history)


def save_checkpoint(result: TrainResult, path: Path) -> None:
    """Weights with the resolved config and best dev metrics (nanoGPT style)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {
            "state_dict": result.model.state_dict(),
            "student_config": result.model.cfg.to_dict(),
            "kd_config": asdict(result.config),
            "best_dev": result.best_dev,
        },
        path,
    )


def load_checkpoint(path: Path) -> TrainResult:
    ck = torch.load(path, map_location="cpu", weights_only=False)
    model = Student(StudentConfig(**ck["student_config"]))
    model.load_state_dict(ck["state_dict"])
    model.eval()
    return TrainResult(model, KDConfig(**ck["kd_config"]), ck.get("best_dev", {}))
