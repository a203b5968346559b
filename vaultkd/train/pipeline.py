"""One command from data to `models/`: teacher -> transfer labels -> student -> ONNX -> report.

Stages (each writes into the run dir and is skipped when its output is already there, so a
run resumes where it stopped; `--stage X` runs only X):

    teacher    fine-tune MiniLM with role + salience heads          run/teacher/
    label      transfer corpus labelled by the teacher              run/transfer.txt, *_labels.npz
    tokenizer  teacher vocab pruned to the transfer corpus          run/tokenizer.json, *_ids.npy
    student    KD training on the transfer set (+ labelled train)   run/student.pt
    ablation   the same student on hard labels only                 run/ablation.pt
    export     ONNX fp32 + int8, parity, manifest                   run/student*.onnx, out/
    context    weights of salience in context, fitted on SciTLDR    out/student.json
    evaluate   teacher vs student vs ablation vs rules, size/speed  out/metrics.json, card

`interim` is a separate quick recipe (no fine-tuned teacher): hard labels plus embedding
distillation from the original MiniLM, used to ship a first model early.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from vaultkd.train import require_train_extra

require_train_extra()

import numpy as np  # noqa: E402
import torch  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402

from vaultkd.train import data as labelled  # noqa: E402
from vaultkd.train.kd import (  # noqa: E402
    KDConfig,
    KDData,
    TrainResult,
    load_checkpoint,
    override,
    save_checkpoint,
    train_student,
)
from vaultkd.train.student import teacher_word_embeddings  # noqa: E402
from vaultkd.train.tokenizer import prune_teacher_vocab  # noqa: E402

log = logging.getLogger(__name__)

STAGES: tuple[str, ...] = (
    "teacher",
    "label",
    "tokenizer",
    "student",
    "ablation",
    "export",
    "context",
    "evaluate",
)
# 2026.11.1: the network of 2026.11 plus salience in context (`train/context.py`);
# 2026.11.2: retrained with salience_weight 3 (see KDConfig). The shipped 2026.12.1 is this
# model with its role head refitted by `train/refine.py`; a full run here starts anew.
VERSION = "2026.11.2"
TRANSFER_SENTENCES = 150_000  # teacher-labelled transfer sentences sampled from the corpus


@dataclass
class PipelineConfig:
    run_dir: Path
    out: Path
    smoke: bool = False
    seed: int = 0
    threads: int = 2
    vocab_size: int = 12000
    corpus: Path | None = None  # transfer text folder; default run_dir/corpus
    transfer_limit: int | None = TRANSFER_SENTENCES
    kd: KDConfig = field(default_factory=KDConfig)
    ablation_overrides: dict = field(default_factory=dict)
    teacher_epochs: float = 2.0
    teacher_max_steps: int | None = None
    # The shipped teacher was stopped by this budget (step 861 of 1076 on a 2-core machine);
    # the step it stopped at is in runs/…/teacher/dev_metrics.json and the model card.
    teacher_max_minutes: float | None = 35.0
    eval_limit: int | None = None  # cap each evaluation set (smoke)


# --- data -----------------------------------------------------------------------------------


def labelled_to_kd(items: list[labelled.LabelledSentence]) -> KDData:
    return KDData(
        texts=[x.text for x in items],
        hard_role=np.array([x.role for x in items], np.int64),
        not_role=np.array([x.not_role for x in items], np.int64),
        salience=np.array([x.salience for x in items], np.float32),
    )


def minilm_embeddings(texts: list[str], batch_size: int = 64) -> np.ndarray:
    """Original all-MiniLM-L6-v2 sentence embeddings (mean-pooled, L2-normalised)."""
    from transformers import AutoModel

    from vaultkd.train.teacher import load_tokenizer, mean_pool, minilm_dir

    enc = AutoModel.from_pretrained(str(minilm_dir())).eval()
    tok = load_tokenizer(64)
    tok.no_padding()
    lengths = [len(e.ids) for e in tok.encode_batch(texts)]
    order = sorted(range(len(texts)), key=lambda i: lengths[i])
    out = np.zeros((len(texts), 384), np.float32)
    with torch.no_grad():
        for s in range(0, len(order), batch_size):
            rows = order[s : s + batch_size]
            encs = tok.encode_batch([texts[i] for i in rows])
            width = max(len(e.ids) for e in encs)
            ids = torch.zeros((len(rows), width), dtype=torch.long)
            mask = torch.zeros((len(rows), width), dtype=torch.long)
            for j, e in enumerate(encs):
                ids[j, : len(e.ids)] = torch.tensor(e.ids)
                mask[j, : len(e.ids)] = 1
            h = enc(input_ids=ids, attention_mask=mask).last_hidden_state
            out[rows] = torch.nn.functional.normalize(mean_pool(h, mask), dim=-1).numpy()
    return out


def _texts_key(texts: list[str]) -> str:
    import hashlib

    return hashlib.sha256("\n".join(texts).encode("utf-8")).hexdigest()


def _with_embeddings(data: KDData, idx: np.ndarray, emb: np.ndarray) -> KDData:
    full = np.full((len(data), 384), np.nan, np.float32)
    full[idx] = emb
    data.embedding = full
    return data


# --- tokenizer ------------------------------------------------------------------------------


def build_tokenizer(
    texts: list[str], run_dir: Path, vocab_size: int
) -> tuple[Tokenizer, np.ndarray]:
    tok_path, ids_path = run_dir / "tokenizer.json", run_dir / "tokenizer_teacher_ids.npy"
    if tok_path.exists() and ids_path.exists():
        return Tokenizer.from_file(str(tok_path)), np.load(ids_path)
    pv = prune_teacher_vocab(texts, vocab_size)
    run_dir.mkdir(parents=True, exist_ok=True)
    pv.tokenizer.save(str(tok_path))
    np.save(ids_path, pv.teacher_ids)
    log.info("tokenizer: %d pieces, corpus coverage %.4f", len(pv.teacher_ids), pv.coverage)
    _append_log(
        run_dir, {"event": "tokenizer", "vocab": len(pv.teacher_ids), "coverage": pv.coverage}
    )
    return pv.tokenizer, pv.teacher_ids


def _append_log(run_dir: Path, rec: dict) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    with (run_dir / "log.jsonl").open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({"time": round(time.time(), 1), **rec}) + "\n")


# --- interim recipe -------------------------------------------------------------------------


def run_interim(
    run_dir: Path,
    out: Path,
    *,
    n_embed: int = 4000,
    kd: KDConfig | None = None,
    seed: int = 0,
) -> dict:
    """Hard labels (whatever labelled sets exist) + MiniLM embedding distillation -> `out`."""
    train, dev = interim_data(run_dir, n_embed=n_embed, seed=seed)
    tokenizer, teacher_ids = build_tokenizer(train.texts, run_dir, 12000)
    cfg = kd or KDConfig()
    ck = run_dir / "interim.pt"
    if ck.exists():
        result = load_checkpoint(ck)
    else:
        result = train_student(
            cfg,
            tokenizer,
            train,
            dev,
            init_embeddings=teacher_word_embeddings(),
            teacher_ids=teacher_ids,
            log_path=run_dir / "log.jsonl",
        )
        save_checkpoint(result, ck)
    return _export_and_report(
        result, tokenizer, dev, run_dir, out, interim=True, calibration=train.texts
    )


def interim_data(run_dir: Path, *, n_embed: int = 4000, seed: int = 0) -> tuple[KDData, KDData]:
    """Labelled train/dev rows; MiniLM embeddings for a sample of them (cached by text)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    train_items = labelled.load_labelled("train", seed=seed)
    dev_items = labelled.load_labelled("dev", seed=seed)
    train, dev = labelled_to_kd(train_items), labelled_to_kd(dev_items)
    rng = np.random.default_rng(seed)
    tr_idx = np.sort(rng.choice(len(train), size=min(n_embed, len(train)), replace=False))
    dv_idx = np.sort(rng.choice(len(dev), size=min(n_embed // 4, len(dev)), replace=False))
    emb_path = run_dir / "interim_embeddings.npz"
    tr_texts = [train.texts[i] for i in tr_idx]
    dv_texts = [dev.texts[i] for i in dv_idx]
    key = _texts_key(tr_texts + dv_texts)
    z = np.load(emb_path) if emb_path.exists() else None
    if z is not None and "key" in z.files and str(z["key"]) == key:
        tr_emb, dv_emb = z["train"], z["dev"]
    else:
        # The cache is keyed by the exact texts: labelled sets may grow between runs.
        tr_emb = minilm_embeddings(tr_texts)
        dv_emb = minilm_embeddings(dv_texts)
        np.savez(emb_path, train=tr_emb, dev=dv_emb, key=np.array(key))
    return _with_embeddings(train, tr_idx, tr_emb), _with_embeddings(dev, dv_idx, dv_emb)


def _export_and_report(
    result: TrainResult,
    tokenizer: Tokenizer,
    dev: KDData,
    run_dir: Path,
    out: Path,
    *,
    interim: bool,
    calibration: Sequence[str],
) -> dict:
    from vaultkd.train.evaluate import write_reports
    from vaultkd.train.export import export_onnx, parity, quantize, write_model_dir

    fp32 = export_onnx(result.model, run_dir / "student.fp32.onnx")
    int8 = quantize(
        fp32, run_dir / "student.int8.onnx", tokenizer, calibration, result.model.cfg.max_len
    )
    rep = parity(result.model, tokenizer, int8, dev.texts[:2000])
    log.info("parity: %s", rep)
    manifest = write_model_dir(
        out,
        int8,
        tokenizer,
        result.model,
        result.config,
        version=VERSION + ("-interim" if interim else ""),
        interim=interim,
        parity_report=rep,
    )
    metrics = {
        "interim": interim,
        "model": {k: manifest[k] for k in ("name", "version", "params", "onnx_bytes")},
        "parity": rep.to_dict(),
        "dev": result.best_dev,
        "training_config": manifest["training_config"],
    }
    write_reports(out, metrics)
    return metrics


# --- the full pipeline ----------------------------------------------------------------------

SMOKE_KD = dict(dim=64, layers=1, heads=2, ffn=128, epochs=2, batch_size=32, evals_per_epoch=1)
SMOKE_SOURCES = ("vaults", "sample_vault", "meetings")
SMOKE_MIN_AGREEMENT = 0.9


def _labelled_sets(cfg: PipelineConfig) -> tuple[list, list]:
    train = labelled.load_labelled("train", seed=cfg.seed)
    dev = labelled.load_labelled("dev", seed=cfg.seed)
    if cfg.smoke:
        rng = np.random.default_rng(cfg.seed)
        train = [train[i] for i in sorted(rng.choice(len(train), min(300, len(train)), False))]
        dev = [dev[i] for i in sorted(rng.choice(len(dev), min(150, len(dev)), False))]
    return train, dev


def stage_teacher(cfg: PipelineConfig) -> Path:
    from vaultkd.train.teacher import export_teacher_onnx, finetune_teacher

    folder = cfg.run_dir / "teacher"
    if not (folder / "heads.pt").exists():
        train, dev = _labelled_sets(cfg)
        _append_log(cfg.run_dir, {"event": "teacher_data", "train": len(train), "dev": len(dev)})
        finetune_teacher(
            train,
            dev,
            folder,
            epochs=cfg.teacher_epochs,
            seed=cfg.seed,
            smoke=cfg.smoke,
            threads=cfg.threads,
            max_steps=cfg.teacher_max_steps,
            max_minutes=None if cfg.smoke else cfg.teacher_max_minutes,
        )
    onnx_path = cfg.run_dir / "teacher.onnx"
    if not onnx_path.exists():
        export_teacher_onnx(folder, onnx_path)
    return folder


def stage_label(cfg: PipelineConfig) -> Path:
    from vaultkd.train.corpus import build_corpus, load_transfer
    from vaultkd.train.teacher import label_and_report

    npz = cfg.run_dir / "transfer_labels.npz"
    if npz.exists() and (cfg.run_dir / "transfer.txt").exists():
        return npz
    corpus = cfg.corpus or cfg.run_dir / "corpus"
    if not corpus.is_dir():
        build_corpus(
            corpus,
            max_sentences=600 if cfg.smoke else None,
            seed=cfg.seed,
            sources=SMOKE_SOURCES if cfg.smoke else None,
            install=not cfg.smoke,
        )
    texts = load_transfer(corpus, 500 if cfg.smoke else cfg.transfer_limit, cfg.seed)
    train, _ = _labelled_sets(cfg)
    label_and_report(
        cfg.run_dir, texts, train, onnx_path=cfg.run_dir / "teacher.onnx", threads=cfg.threads
    )
    _append_log(cfg.run_dir, {"event": "transfer", "sentences": len(texts)})
    return npz


def load_transfer_kd(run_dir: Path) -> KDData:
    """The teacher-labelled transfer set as KD rows (soft targets everywhere)."""
    texts = (run_dir / "transfer.txt").read_text(encoding="utf-8").splitlines()
    z = np.load(run_dir / "transfer_labels.npz")
    n = len(texts)
    if z["role_logits"].shape[0] != n:
        raise ValueError(
            f"{run_dir / 'transfer_labels.npz'} has {z['role_logits'].shape[0]} rows but "
            f"transfer.txt has {n} lines; rerun the label stage"
        )
    hard = z["hard_role"].astype(np.int64) if "hard_role" in z else np.full(n, -1, np.int64)
    return KDData(
        texts=texts,
        hard_role=hard,
        not_role=np.full(n, -1, np.int64),
        # The teacher's salience is a soft target for every transfer sentence.
        salience=z["salience"].astype(np.float32),
        teacher_logits=z["role_logits"].astype(np.float32),
        embedding=z["embedding"].astype(np.float32),
    )


def _teacher_labelled(cfg: PipelineConfig, name: str, items: list) -> KDData:
    """Labelled rows plus the teacher's outputs on them (cached in the run dir)."""
    from vaultkd.train.teacher import OnnxTeacher

    data = labelled_to_kd(items)
    path = cfg.run_dir / f"{name}_teacher.npz"
    key = _texts_key(data.texts)
    z = np.load(path) if path.exists() else None
    if z is not None and "key" in z.files and str(z["key"]) == key:
        logits, emb = z["role_logits"], z["embedding"]
    else:
        # Label each distinct text once (the seed split is repeated in train).
        uniq = list(dict.fromkeys(data.texts))
        pos = {t: i for i, t in enumerate(uniq)}
        rows = np.array([pos[t] for t in data.texts], dtype=np.int64)
        out = OnnxTeacher(cfg.run_dir / "teacher.onnx", threads=cfg.threads).label(uniq)
        logits, emb = out.role_logits[rows], out.embedding[rows]
        np.savez(path, role_logits=logits, embedding=emb, key=np.array(key))
    data.teacher_logits = logits.astype(np.float32)
    data.embedding = emb.astype(np.float32)
    return data


def student_data(cfg: PipelineConfig) -> tuple[KDData, KDData]:
    """KD training rows and dev rows, both with the teacher's outputs.

    Training rows: the transfer set (soft targets everywhere, hard labels where a sentence is
    in a labelled set) plus the seed train split, which the transfer corpus does not hold; its
    rows keep the human role and salience and get the teacher's soft targets too. The public
    labelled sets are already in the transfer corpus (meetings, science, ClaimBuster).
    """
    train_items, dev_items = _labelled_sets(cfg)
    transfer = load_transfer_kd(cfg.run_dir)
    seed_items = [x for x in train_items if x.source == "seed"]
    parts = [transfer]
    if seed_items:
        parts.append(_teacher_labelled(cfg, "seed_train", seed_items))
    dev = _teacher_labelled(cfg, "dev", dev_items)
    return KDData.concat(parts), dev


def _kd_config(cfg: PipelineConfig) -> KDConfig:
    kd = cfg.kd
    if cfg.smoke:
        kd = override(kd, **SMOKE_KD)
    return override(kd, seed=cfg.seed, threads=cfg.threads)


def stage_tokenizer(cfg: PipelineConfig) -> tuple[Tokenizer, np.ndarray]:
    """Vocabulary from the transfer corpus folder (so it exists before the teacher labels it)."""
    from vaultkd.train.corpus import load_transfer

    corpus = cfg.corpus or cfg.run_dir / "corpus"
    if corpus.is_dir() and any(corpus.glob("*.txt")):
        texts = load_transfer(corpus, None, cfg.seed)
    else:
        texts = (cfg.run_dir / "transfer.txt").read_text(encoding="utf-8").splitlines()
    train_items, _ = _labelled_sets(cfg)
    vocab = 2000 if cfg.smoke else cfg.vocab_size
    return build_tokenizer(texts + [x.text for x in train_items], cfg.run_dir, vocab)


def stage_student(cfg: PipelineConfig) -> TrainResult:
    ck = cfg.run_dir / "student.pt"
    if ck.exists():
        return load_checkpoint(ck)
    tokenizer, teacher_ids = stage_tokenizer(cfg)
    train, dev = student_data(cfg)
    result = train_student(
        _kd_config(cfg),
        tokenizer,
        train,
        dev,
        init_embeddings=teacher_word_embeddings(),
        teacher_ids=teacher_ids,
        log_path=cfg.run_dir / "log.jsonl",
    )
    save_checkpoint(result, ck)
    return result


def stage_ablation(cfg: PipelineConfig) -> TrainResult:
    """The same student on the labelled sets' hard labels only: no teacher anywhere."""
    ck = cfg.run_dir / "ablation.pt"
    if ck.exists():
        return load_checkpoint(ck)
    tokenizer, teacher_ids = stage_tokenizer(cfg)
    train_items, dev_items = _labelled_sets(cfg)
    kd = override(_kd_config(cfg), **cfg.ablation_overrides)
    _append_log(cfg.run_dir, {"event": "ablation", "note": "hard labels only, no soft targets"})
    result = train_student(
        kd,
        tokenizer,
        labelled_to_kd(train_items),
        labelled_to_kd(dev_items),
        init_embeddings=teacher_word_embeddings(),
        teacher_ids=teacher_ids,
        log_path=cfg.run_dir / "log.jsonl",
    )
    save_checkpoint(result, ck)
    return result


def calibration_texts(run_dir: Path, seed: int = 0) -> list[str]:
    """Sentences that set the int8 model's fixed activation scales: a sample of the transfer
    set (what the student was distilled on; never a test sentence)."""
    from vaultkd.train.export import CALIBRATION_SENTENCES

    lines = (run_dir / "transfer.txt").read_text(encoding="utf-8").splitlines()
    lines = [t for t in lines if t.strip()]
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(lines), min(CALIBRATION_SENTENCES, len(lines)), replace=False)
    return [lines[i] for i in sorted(pick)]


def stage_export(cfg: PipelineConfig) -> dict:
    from vaultkd.train.export import (
        MIN_ROLE_AGREEMENT,
        export_onnx,
        parity,
        quantize,
        write_model_dir,
    )

    result = stage_student(cfg)
    tokenizer, _ = stage_tokenizer(cfg)
    fp32 = export_onnx(result.model, cfg.run_dir / "student.fp32.onnx")
    int8 = quantize(
        fp32, cfg.run_dir / "student.int8.onnx", tokenizer, calibration_texts(cfg.run_dir),
        result.model.cfg.max_len,
    )
    _, dev_items = _labelled_sets(cfg)
    transfer = (cfg.run_dir / "transfer.txt").read_text(encoding="utf-8").splitlines()
    rng = np.random.default_rng(cfg.seed)
    sample = [transfer[i] for i in rng.choice(len(transfer), min(2000, len(transfer)), False)]
    rep = parity(result.model, tokenizer, int8, [x.text for x in dev_items] + sample)
    _append_log(cfg.run_dir, {"event": "parity", **rep.to_dict()})
    manifest = write_model_dir(
        cfg.out,
        int8,
        tokenizer,
        result.model,
        result.config,
        version=VERSION,
        interim=False,
        parity_report=rep,
        # A smoke student barely trains, so many of its role logits are near ties that int8
        # rounding flips; the 99% bar is for real models.
        min_agreement=SMOKE_MIN_AGREEMENT if cfg.smoke else MIN_ROLE_AGREEMENT,
    )
    (cfg.run_dir / "parity.json").write_text(json.dumps(rep.to_dict(), indent=2) + "\n")
    return manifest


SMOKE_CONTEXT_DOCS = 40


def stage_context(cfg: PipelineConfig) -> dict:
    """Fit salience-in-context weights on the shipped student's outputs (SciTLDR-A dev, the
    abstracts no training read)."""
    from vaultkd.model.runtime import OnnxPredictor
    from vaultkd.train.context import fit_both, fitting_data, write_manifest

    docs, fitted_on = fitting_data(cfg.seed)
    if cfg.smoke:
        docs = docs[:SMOKE_CONTEXT_DOCS]
    predictor = OnnxPredictor(cfg.out, threads=cfg.threads)
    (weights, report), paper = fit_both(predictor, docs)
    _append_log(cfg.run_dir, {"event": "context", **weights.to_manifest(), **report})
    _append_log(cfg.run_dir, {"event": "context_paper", **paper[0].to_manifest(), **paper[1]})
    log.info("salience in context %s: %s; papers %s: %s", weights, report, *paper)
    return write_manifest(cfg.out, weights, report, fitted_on, VERSION, paper)


def stage_evaluate(cfg: PipelineConfig) -> dict:
    from vaultkd.train.evaluate import evaluate_run

    return evaluate_run(cfg)


def stage_card(cfg: PipelineConfig) -> dict:
    from vaultkd.train.evaluate import refresh_reports

    return refresh_reports(cfg)


def run(cfg: PipelineConfig, stages: tuple[str, ...] = STAGES) -> None:
    """Run the chosen stages in order; each skips work whose output is already in the run dir."""
    unknown = set(stages) - set(STAGES) - {"sweep", "card"}
    if unknown:
        raise ValueError(f"unknown stages {sorted(unknown)}; choose from {', '.join(STAGES)}")
    cfg.run_dir.mkdir(parents=True, exist_ok=True)
    _append_log(cfg.run_dir, {"event": "pipeline", "stages": list(stages), "smoke": cfg.smoke})
    steps = {
        "teacher": stage_teacher,
        "label": stage_label,
        "tokenizer": stage_tokenizer,
        "student": stage_student,
        "ablation": stage_ablation,
        "export": stage_export,
        "context": stage_context,
        "evaluate": stage_evaluate,
    }
    steps["sweep"] = stage_sweep
    steps["card"] = stage_card
    for name in (*STAGES[:3], "sweep", *STAGES[3:], "card"):
        if name in stages:
            t0 = time.time()
            log.info("stage %s", name)
            steps[name](cfg)
            _append_log(cfg.run_dir, {"event": "stage_done", "stage": name, "s": time.time() - t0})


def parse_overrides(pairs: list[str]) -> dict:
    """`key=value` strings -> KDConfig overrides (values parsed as JSON, else kept as text)."""
    out = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep:
            raise ValueError(f"--set expects key=value, got {pair!r}")
        try:
            out[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            out[key.strip()] = raw
    return out


def run_command(
    *,
    smoke: bool = False,
    run_dir: Path | None = None,
    out: Path | None = None,
    stages: tuple[str, ...] = (),
    seed: int = 0,
    threads: int = 2,
    corpus: Path | None = None,
    transfer_limit: int | None = TRANSFER_SENTENCES,
    sets: tuple[str, ...] = (),
) -> PipelineConfig:
    """What `vaultkd train` and `python -m vaultkd.train` do; returns the resolved config.

    `--smoke` without `--run-dir` works in a fresh temporary folder and, without `--out`,
    writes the model there too, so a smoke run never touches the shipped `models/`.
    """
    import tempfile

    if run_dir is None:
        run_dir = Path(tempfile.mkdtemp(prefix="vaultkd-smoke-")) if smoke else Path("runs/full")
    if out is None:
        out = run_dir / "models" if smoke else Path("models")
    kd = override(KDConfig(), **parse_overrides(list(sets)))
    cfg = PipelineConfig(
        run_dir=run_dir,
        out=out,
        smoke=smoke,
        seed=seed,
        threads=threads,
        corpus=corpus,
        transfer_limit=transfer_limit,
        kd=kd,
        teacher_epochs=1.0 if smoke else 2.0,
        eval_limit=60 if smoke else None,
    )
    run(cfg, tuple(stages) or STAGES)
    return cfg


# --- measured choices: architecture and loss knobs ------------------------------------------


def student_speed(result: TrainResult, tokenizer: Tokenizer, texts: list[str], tmp: Path) -> float:
    """int8 ONNX sentences/s of a trained student (batch 64, 2 threads), via the run time."""
    from vaultkd.model.runtime import OnnxSession
    from vaultkd.train.export import export_onnx, quantize

    fp32 = export_onnx(result.model, tmp / "sweep.fp32.onnx")
    int8 = quantize(
        fp32, tmp / "sweep.int8.onnx", tokenizer, texts[:512], result.model.cfg.max_len
    )
    sess = OnnxSession(int8, tokenizer, result.model.cfg.max_len, threads=2)
    sess.run(texts[:64])
    t0 = time.perf_counter()
    sess.run(texts)
    return len(texts) / (time.perf_counter() - t0)


def run_sweep(
    run_dir: Path,
    tokenizer: Tokenizer,
    teacher_ids: np.ndarray,
    train: KDData,
    dev: KDData,
    base: KDConfig,
    grid: list[dict],
    *,
    measure_speed: bool = True,
    name: str = "sweep.json",
) -> list[dict]:
    """Train one student per grid entry (same data and budget); record dev metrics and speed.

    Results are appended to run_dir/`name` as they arrive, so a long sweep can be read
    (and stopped) midway, and entries already there are not trained again.
    """
    path = run_dir / name
    results: list[dict] = json.loads(path.read_text()) if path.exists() else []
    done = {json.dumps(r["overrides"], sort_keys=True) for r in results}
    emb = teacher_word_embeddings()
    speed_texts = dev.texts[:1024]
    for changes in grid:
        key = json.dumps(changes, sort_keys=True)
        if key in done:
            continue
        cfg = override(base, **changes)
        t0 = time.time()
        res = train_student(
            cfg, tokenizer, train, dev, init_embeddings=emb, teacher_ids=teacher_ids
        )
        rec = {
            "overrides": changes,
            "params": res.model.n_params(),
            "dev": res.best_dev,
            "train_s": round(time.time() - t0, 1),
        }
        if measure_speed:
            rec["int8_sentences_per_s"] = round(
                student_speed(res, tokenizer, speed_texts, run_dir), 1
            )
        results.append(rec)
        path.write_text(json.dumps(results, indent=2) + "\n")
        log.info("sweep %s -> %s", changes, rec)
    return results


KD_GRID: tuple[dict, ...] = (
    {"alpha": 0.5, "temperature": 2.0},
    {"alpha": 0.2, "temperature": 2.0},
    {"alpha": 0.8, "temperature": 2.0},
    {"alpha": 0.5, "temperature": 1.0},
    {"alpha": 0.5, "temperature": 4.0},
    {"alpha": 0.5, "temperature": 2.0, "embedding_weight": 4.0},
)
# Student shapes under the 5M-parameter cap, compared on the same data and budget (with speed).
ARCH_GRID: tuple[dict, ...] = (
    {"arch": "transformer", "dim": 128, "layers": 2},
    {"arch": "transformer", "dim": 128, "layers": 1},
    {"arch": "cnn", "dim": 128},
    {"arch": "transformer", "dim": 192, "layers": 2, "ffn": 768},
)


def stage_sweep(
    cfg: PipelineConfig,
    rows: int = 30000,
    grid: tuple[dict, ...] = KD_GRID,
    arch_grid: tuple[dict, ...] = ARCH_GRID,
) -> list:
    """Architecture and α/τ sweeps on a subsample of the KD data, one epoch per variant.

    Results in run/arch_sweep.json and run/sweep.json, shown in the model card. Not part of
    the default stages: run it with `--stage sweep`, then pass the chosen values with
    `--set key=value` (the defaults of KDConfig are the choice this sweep made).
    """
    tokenizer, teacher_ids = stage_tokenizer(cfg)
    train, dev = student_data(cfg)
    rng = np.random.default_rng(cfg.seed)
    if len(train) > rows:
        train = train.subset(np.sort(rng.choice(len(train), rows, replace=False)))
    base = override(_kd_config(cfg), epochs=1, time_budget_s=None)
    args = (cfg.run_dir, tokenizer, teacher_ids, train, dev, base)
    arch = run_sweep(*args, list(arch_grid), measure_speed=True, name="arch_sweep.json")
    return arch + run_sweep(*args, list(grid), measure_speed=False)
