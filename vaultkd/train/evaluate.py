"""Evaluation of teacher, student, hard-label student and rules; writes metrics.json + card.

Everything in `models/metrics.json` and `models/model-card.md` comes from here, never by hand.
All sets are held out: the teacher and the student never trained on them (see
`vaultkd.train.data.eval_sets`).

- role: seed test 5-class macro-F1 and per-class F1; MRDA test binary F1 for `question` and
  `action`, ClaimBuster test binary F1 for `claim` ("predicted role == r" against the gold);
- salience: SciTLDR test top-1 accuracy (the highest-salience sentence is the oracle one), AMI
  test precision@k with k = the number of sentences of the human extractive summary, and seed
  test top-1 accuracy (docs with a salience-2 sentence);
- embedding: Spearman correlation of all pairwise cosine similarities, student vs teacher, and
  the mean overlap of the top-10 neighbour sets, on held-out sentences;
- size and speed: parameters, MB on disk and sentences/s at batch 64 on 2 threads, measured one
  after another in the same process on the same sentences.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vaultkd.roles import ROLE_INDEX, ROLES

if TYPE_CHECKING:
    from vaultkd.train.data import EvalSet
    from vaultkd.train.pipeline import PipelineConfig

log = logging.getLogger(__name__)

# texts -> (role probabilities (n, 5), salience (n,), embedding (n, d) or None)
Scorer = Callable[[list[str]], tuple[np.ndarray, np.ndarray, np.ndarray | None]]
SPEED_SENTENCES = 2048
SPEED_BATCH = 64
SPEED_THREADS = 2
EMBED_SENTENCES = 1000


def f1_binary(pred: np.ndarray, gold: np.ndarray) -> float:
    tp = int((pred & gold).sum())
    fp = int((pred & ~gold).sum())
    fn = int((~pred & gold).sum())
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def role_metrics(sets: dict[str, EvalSet], probs: dict[str, np.ndarray]) -> dict[str, Any]:
    """Role F1s for one model; `probs[name]` are its role probabilities on `sets[name].texts`."""
    out: dict[str, Any] = {}
    seed = sets.get("seed_test")
    if seed is not None and seed.texts:
        gold = np.array(seed.roles)
        pred = probs["seed_test"].argmax(1)
        per = {}
        for c, name in enumerate(ROLES):
            per[name] = f1_binary(pred == c, gold == c)
        out["seed_test"] = {
            "macro_f1": float(np.mean(list(per.values()))),
            "accuracy": float((pred == gold).mean()),
            "per_class_f1": per,
            "n": len(gold),
        }
    for name in ("mrda_test", "claimbuster_test"):
        es = sets.get(name)
        if es is None:
            continue
        pred = probs[name].argmax(1)
        out[name] = {
            f"{role}_f1": f1_binary(pred == ROLE_INDEX[role], np.array(g, dtype=bool))
            for role, g in es.binary.items()
        }
        out[name]["n"] = len(es.texts)
    return out


def salience_metrics(sets: dict[str, EvalSet], sal: dict[str, list[np.ndarray]]) -> dict:
    """`sal[name][i]` is the salience of each sentence of doc i of `sets[name]`."""
    out: dict[str, Any] = {}
    for name in ("scitldr_test", "seed_test"):
        es = sets.get(name)
        if es is None or not es.docs:
            continue
        hits = [
            int(int(np.argmax(s)) in d.positives)
            for d, s in zip(es.docs, sal[name], strict=True)
            if d.positives and len(s)
        ]
        if hits:
            out[name] = {"top1_accuracy": float(np.mean(hits)), "docs": len(hits)}
    es = sets.get("ami_test")
    if es is not None and es.docs:
        precs = []
        for d, s in zip(es.docs, sal["ami_test"], strict=True):
            k = len(d.positives)
            top = np.argsort(-s, kind="stable")[:k]
            precs.append(len(set(top.tolist()) & d.positives) / k)
        base = float(np.mean([len(d.positives) / len(d.sentences) for d in es.docs]))
        out["ami_test"] = {
            "precision_at_k": float(np.mean(precs)),
            "random_baseline": base,
            "docs": len(precs),
        }
    return out


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


def embedding_metrics(student: np.ndarray, teacher: np.ndarray, k: int = 10) -> dict[str, float]:
    """Agreement of two embeddings of the same sentences (rows L2-normalised)."""
    s_sim = student @ student.T
    t_sim = teacher @ teacher.T
    iu = np.triu_indices(len(student), k=1)
    np.fill_diagonal(s_sim, -np.inf)
    np.fill_diagonal(t_sim, -np.inf)
    s_nn = np.argsort(-s_sim, axis=1)[:, :k]
    t_nn = np.argsort(-t_sim, axis=1)[:, :k]
    overlap = np.mean([len(set(a) & set(b)) / k for a, b in zip(s_nn, t_nn, strict=True)])
    return {
        "spearman_pairwise_cosine": _spearman(s_sim[iu], t_sim[iu]),
        "top10_neighbour_overlap": float(overlap),
        "sentences": len(student),
    }


def evaluate_scorer(
    scorer: Scorer,
    sets: dict[str, EvalSet],
    doc_salience: Callable[[list[str]], np.ndarray] | None = None,
) -> dict[str, Any]:
    """Role and salience metrics of one model on every set (one scoring pass per set).

    `doc_salience`, when given, scores one document at a time (the rule baseline's lead bias
    needs the document); models score sentences on their own.
    """
    probs: dict[str, np.ndarray] = {}
    sal: dict[str, list[np.ndarray]] = {}
    for name, es in sets.items():
        if es.texts:
            probs[name], _, _ = scorer(list(es.texts))
        if es.docs and doc_salience is not None:
            sal[name] = [doc_salience(list(d.sentences)) for d in es.docs]
        elif es.docs:
            flat = [s for d in es.docs for s in d.sentences]
            _, s_all, _ = scorer(flat)
            cuts = np.cumsum([len(d.sentences) for d in es.docs])[:-1]
            sal[name] = np.split(s_all, cuts)
    return {"role": role_metrics(sets, probs), "salience": salience_metrics(sets, sal)}


def limit_sets(sets: dict[str, EvalSet], limit: int | None, seed: int = 0) -> dict[str, EvalSet]:
    """Deterministic subsample (texts and docs) for smoke runs."""
    from dataclasses import replace

    if limit is None:
        return sets
    rng = np.random.default_rng(seed)
    out = {}
    for name, es in sets.items():
        idx = np.sort(rng.choice(len(es.texts), min(limit, len(es.texts)), False))
        docs = es.docs[: max(1, limit // 20)] if es.docs else es.docs
        out[name] = replace(
            es,
            texts=tuple(es.texts[i] for i in idx),
            roles=tuple(es.roles[i] for i in idx) if es.roles else (),
            binary={k: tuple(v[i] for i in idx) for k, v in es.binary.items()},
            docs=docs,
        )
    return out


def time_scorer(fn: Callable[[list[str]], object], texts: list[str]) -> float:
    """Sentences per second of `fn` on `texts` after one warm-up batch."""
    fn(texts[:SPEED_BATCH])
    t0 = time.perf_counter()
    fn(texts)
    return len(texts) / (time.perf_counter() - t0)


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def rule_scorer() -> tuple[Scorer, Callable[[list[str]], np.ndarray]] | None:
    """The rule baseline (`vaultkd.model.rules`): a role scorer and a per-document salience."""
    try:
        from vaultkd.model.rules import rule_role, rule_salience
    except ImportError:
        return None

    def score(texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        probs = np.zeros((len(texts), len(ROLES)), np.float32)
        for i, t in enumerate(texts):
            probs[i, ROLE_INDEX[rule_role(t)]] = 1.0
        return probs, np.full(len(texts), 0.5, np.float32), None

    def doc_salience(sentences: list[str]) -> np.ndarray:
        return np.asarray(rule_salience(sentences), np.float32)

    return score, doc_salience


def held_out_sample(sets: dict[str, EvalSet], n: int, seed: int = 0) -> list[str]:
    pool: list[str] = []
    for es in sets.values():
        pool.extend(es.all_texts())
    pool = sorted(set(pool))
    rng = np.random.default_rng(seed)
    return [pool[i] for i in rng.choice(len(pool), min(n, len(pool)), replace=False)]


def evaluate_run(cfg: PipelineConfig) -> dict[str, Any]:
    """Evaluate the run in `cfg.run_dir` and the model in `cfg.out`; write the reports there."""
    import torch
    from tokenizers import Tokenizer

    from vaultkd.model.runtime import OnnxPredictor
    from vaultkd.train.data import eval_sets
    from vaultkd.train.kd import load_checkpoint, predict
    from vaultkd.train.teacher import OnnxTeacher, load_teacher

    run = cfg.run_dir
    sets = limit_sets(eval_sets(), cfg.eval_limit, cfg.seed)
    teacher_onnx = OnnxTeacher(run / "teacher.onnx", threads=SPEED_THREADS)
    student = OnnxPredictor(cfg.out, threads=SPEED_THREADS)
    ablation = load_checkpoint(run / "ablation.pt")
    tok = Tokenizer.from_file(str(run / "tokenizer.json"))
    torch.set_num_threads(SPEED_THREADS)

    def teacher_sc(texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        out = teacher_onnx.label(texts)
        return _softmax(out.role_logits), out.salience, out.embedding

    def student_sc(texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        p = student.predict(texts)
        return p.role_probs, p.salience, p.embeddings

    def ablation_sc(texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        return predict(ablation.model, tok, texts)

    scorers: dict[str, Scorer] = {
        "teacher": teacher_sc,
        "student": student_sc,
        "student_hard_labels_only": ablation_sc,
    }
    quality = {}
    for name, sc in scorers.items():
        t0 = time.time()
        quality[name] = evaluate_scorer(sc, sets)
        log.info("evaluated %s in %.0f s", name, time.time() - t0)
    rules = rule_scorer()
    if rules is not None:
        quality["rules"] = evaluate_scorer(rules[0], sets, doc_salience=rules[1])

    emb_texts = held_out_sample(sets, 200 if cfg.smoke else EMBED_SENTENCES, cfg.seed)
    _, _, t_emb = teacher_sc(emb_texts)
    _, _, s_emb = student_sc(emb_texts)
    embedding = embedding_metrics(s_emb, t_emb)

    speed_texts = held_out_sample(sets, 256 if cfg.smoke else SPEED_SENTENCES, cfg.seed + 1)
    teacher_torch = load_teacher(run / "teacher")
    speed = {
        "teacher_pytorch": time_scorer(lambda t: teacher_torch.label(t, SPEED_BATCH), speed_texts),
        "teacher_onnx_fp32": time_scorer(lambda t: teacher_onnx.label(t, SPEED_BATCH), speed_texts),
        "student_onnx_int8": time_scorer(student.predict, speed_texts),
    }
    # The teacher runs two encoders (fine-tuned for role/salience, frozen MiniLM for the
    # embedding); one plain MiniLM encoder is the stricter speed reference, reported beside it.
    minilm_onnx = run / "minilm_embedding.onnx"
    if minilm_onnx.exists():
        one_encoder = OnnxTeacher(minilm_onnx, threads=SPEED_THREADS)
        speed["minilm_onnx_fp32"] = time_scorer(
            lambda t: one_encoder.label(t, SPEED_BATCH), speed_texts
        )
    teacher_params = sum(p.numel() for p in teacher_torch.net.parameters())
    teacher_mb = (run / "teacher.onnx").stat().st_size / 2**20
    student_mb = (cfg.out / "student.onnx").stat().st_size / 2**20
    size = {
        "teacher": {"params": teacher_params, "mb_on_disk": teacher_mb},
        "minilm_original": {"params": 22_713_216, "mb_on_disk": 90868376 / 2**20},
        "student": {"params": student.manifest["params"], "mb_on_disk": student_mb},
    }
    t_f1 = quality["teacher"]["role"].get("seed_test", {}).get("macro_f1")
    s_f1 = quality["student"]["role"].get("seed_test", {}).get("macro_f1")
    goals = {
        "f1_ratio_vs_teacher": (s_f1 / t_f1) if t_f1 and s_f1 is not None else None,
        "speedup_vs_teacher_onnx": speed["student_onnx_int8"] / speed["teacher_onnx_fp32"],
        "speedup_vs_one_minilm_onnx": (
            speed["student_onnx_int8"] / speed["minilm_onnx_fp32"]
            if "minilm_onnx_fp32" in speed
            else None
        ),
        "size_ratio_vs_minilm": size["minilm_original"]["mb_on_disk"] / student_mb,
        "size_ratio_vs_teacher_onnx": teacher_mb / student_mb,
        "embedding_spearman": embedding["spearman_pairwise_cosine"],
    }
    goals["met"] = {
        "f1_95pct_of_teacher": bool(
            goals["f1_ratio_vs_teacher"] is not None and goals["f1_ratio_vs_teacher"] >= 0.95
        ),
        "speed_30x": bool(goals["speedup_vs_teacher_onnx"] >= 30),
        "size_20x": bool(goals["size_ratio_vs_minilm"] >= 20),
        "spearman_0.8": bool(goals["embedding_spearman"] >= 0.8),
    }
    manifest = student.manifest
    sweep_path = run / "sweep.json"
    # Architecture comparison (same data and budget per variant), copied in by the operator
    # from its own sweep run dir; see README "Model".
    arch_path = run / "arch_sweep.json"
    metrics: dict[str, Any] = {
        "interim": bool(manifest.get("interim", False)),
        "smoke": cfg.smoke,
        "model": {k: manifest[k] for k in ("name", "version", "params", "onnx_bytes")},
        "parity": manifest["parity"],
        "salience_in_context": manifest.get("salience_in_context"),
        "dev": load_checkpoint(run / "student.pt").best_dev,
        "dev_hard_labels_only": ablation.best_dev,
        "quality": quality,
        "embedding": embedding,
        "speed_sentences_per_s": speed,
        "speed_setup": {
            "batch": SPEED_BATCH,
            "threads": SPEED_THREADS,
            "sentences": len(speed_texts),
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "load_avg": os.getloadavg()[0],
        },
        "size": size,
        "goals": goals,
        "training_config": manifest["training_config"],
        "sweep": json.loads(sweep_path.read_text()) if sweep_path.exists() else None,
        "arch_sweep": json.loads(arch_path.read_text()) if arch_path.exists() else None,
        "data": _data_sizes(run),
        "teacher": _teacher_summary(run),
    }
    write_reports(cfg.out, metrics)
    return metrics


def _data_sizes(run: Path) -> list[dict]:
    """Dataset sizes as the training log recorded them (one entry per training run)."""
    out = []
    log_path = run / "log.jsonl"
    if log_path.exists():
        for line in log_path.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            if rec.get("event") in ("start", "transfer", "teacher_data", "tokenizer"):
                out.append({k: v for k, v in rec.items() if k not in ("config", "time")})
    return out


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)


def render_card(metrics: dict[str, Any]) -> str:
    m = metrics["model"]
    lines = [f"# {m['name']} {m['version']}", ""]
    if metrics.get("interim"):
        lines += [
            "> **Interim model.** Trained quickly on the hard labels of the labelled sets present",
            "> at the time (seed train, MRDA, ClaimBuster; SciTLDR/AMI salience), with embedding",
            "> distillation from the original all-MiniLM-L6-v2 on a few thousand sentences only,",
            "> and without a fine-tuned teacher. It lets the rest of vaultkd integrate against the",
            "> real run time. Its embeddings are weak (dev cosine to MiniLM "
            f"{metrics.get('dev', {}).get('embedding_cos', float('nan')):.2f}). Replace it with",
            "> the distilled model from `vaultkd train`.",
            "",
        ]
    lines += [
        "## Model",
        "",
        f"- parameters: {m['params']:,}",
        f"- `student.onnx` (int8): {m['onnx_bytes'] / 2**20:.2f} MB",
        "- inputs `input_ids`, `attention_mask` (int64, dynamic batch and sequence);"
        " outputs `role_probs`, `salience`, `embedding` (384-d, L2-normalised)",
        "",
        "## Parity (PyTorch fp32 vs ONNX int8)",
        "",
        "| sentences | role argmax agreement | salience MAE | embedding cosine (mean / min) |",
        "|---|---|---|---|",
    ]
    p = metrics["parity"]
    lines.append(
        f"| {p['n']} | {p['role_agreement']:.4f} | {p['salience_mae']:.4f} | "
        f"{p['embedding_cos_mean']:.4f} / {p['embedding_cos_min']:.4f} |"
    )
    lines += [
        "",
        "MatMul and Gemm weights are stored as uint8 (zero point 128), so the integer products",
        "are exact on every CPU, AVX2-only x86 included (`unsigned_weights` in",
        "`vaultkd/train/export.py`).",
    ]
    ctx = metrics.get("salience_in_context")
    if ctx:
        w, rep = ctx["weights"], ctx.get("report", {})
        lines += [
            "",
            "## Salience in context",
            "",
            f"Distillation ranks sentences by logistic(salience_z x {w['salience']} + "
            f"centrality_z x {w['centrality']} + {ctx['bias']}), both z-scored within the note "
            f"(`vaultkd/distill/salience.py`); fitted on {ctx.get('fitted_on', '?')}: top-1 "
            f"{_fmt(rep.get('top1_sentence_only'))} with salience alone, "
            f"{_fmt(rep.get('top1_in_context'))} in context.",
        ]
    lines += _quality_section(metrics)
    lines += _teacher_section(metrics)
    lines += _sweep_section(metrics)
    if metrics.get("dev"):
        lines += ["", "## Dev (model selection)", "", "| metric | value |", "|---|---|"]
        lines += [f"| {k} | {_fmt(v)} |" for k, v in sorted(metrics["dev"].items())]
    lines += [
        "",
        "## Training config",
        "",
        "```json",
        json.dumps(metrics.get("training_config", {}), indent=2, sort_keys=True),
        "```",
        "",
        "Written by `vaultkd.train.evaluate`; regenerate with `vaultkd train`.",
        "",
    ]
    return "\n".join(lines)


def _cell(d: dict, *keys: str) -> str:
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return "–"
        d = d[k]
    return _fmt(d)


def _quality_section(metrics: dict[str, Any]) -> list[str]:
    q = metrics.get("quality")
    if not q:
        return []
    lines = [
        "",
        "## Quality on held-out sets",
        "",
        "Role: seed test 5-class macro-F1 and per-class F1; MRDA test and ClaimBuster test as",
        'binary F1 of "predicted role == r". Salience: SciTLDR test top-1 accuracy, AMI test',
        "precision@k (k = size of the human extractive summary), seed test top-1 accuracy.",
        "",
        "| model | seed macro-F1 | "
        + " | ".join(f"{r} F1" for r in ROLES)
        + " | MRDA question F1 | MRDA action F1 | ClaimBuster claim F1 "
        "| SciTLDR top-1 | AMI P@k | seed top-1 |",
        "|---" * (11 + len(ROLES) - 4) + "|",
    ]
    for name, m in q.items():
        r, s = m["role"], m["salience"]
        cells = [
            name,
            _cell(r, "seed_test", "macro_f1"),
            *(_cell(r, "seed_test", "per_class_f1", role) for role in ROLES),
            _cell(r, "mrda_test", "question_f1"),
            _cell(r, "mrda_test", "action_f1"),
            _cell(r, "claimbuster_test", "claim_f1"),
            _cell(s, "scitldr_test", "top1_accuracy"),
            _cell(s, "ami_test", "precision_at_k"),
            _cell(s, "seed_test", "top1_accuracy"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    e = metrics.get("embedding") or {}
    if e:
        lines += [
            "",
            f"Embedding (student vs teacher, {e['sentences']} held-out sentences): Spearman of "
            f"pairwise cosines {e['spearman_pairwise_cosine']:.3f}, top-10 neighbour overlap "
            f"{e['top10_neighbour_overlap']:.3f}.",
        ]
    sp, sz = metrics.get("speed_sentences_per_s"), metrics.get("size")
    if sp and sz:
        setup = metrics["speed_setup"]
        lines += [
            "",
            "## Size and speed (one run, batch "
            f"{setup['batch']}, {setup['threads']} threads, {setup['sentences']} sentences, "
            f"load average {setup['load_avg']:.1f})",
            "",
            "| model | params | MB on disk | sentences/s |",
            "|---|---|---|---|",
            f"| teacher, PyTorch | {sz['teacher']['params']:,} | "
            f"{sz['teacher']['mb_on_disk']:.1f} | {sp['teacher_pytorch']:.0f} |",
            f"| teacher, ONNX fp32 | {sz['teacher']['params']:,} | "
            f"{sz['teacher']['mb_on_disk']:.1f} | {sp['teacher_onnx_fp32']:.0f} |",
            *(
                [
                    f"| one MiniLM encoder, ONNX fp32 | "
                    f"{sz['minilm_original']['params']:,} | "
                    f"{sz['minilm_original']['mb_on_disk']:.1f} | {sp['minilm_onnx_fp32']:.0f} |"
                ]
                if "minilm_onnx_fp32" in sp
                else []
            ),
            f"| student, ONNX int8 | {sz['student']['params']:,} | "
            f"{sz['student']['mb_on_disk']:.2f} | {sp['student_onnx_int8']:.0f} |",
            "",
            "The teacher's parameters and file hold two MiniLM encoders: the fine-tuned one for",
            f"role and salience and the original one for the embedding (MiniLM alone: "
            f"{sz['minilm_original']['mb_on_disk']:.0f} MB).",
        ]
    g = metrics.get("goals")
    if g:
        met = g["met"]

        def yes(flag: bool) -> str:
            return "met" if flag else "NOT met"

        ratio = g["f1_ratio_vs_teacher"]
        lines += [
            "",
            "## Goals",
            "",
            f"- student role macro-F1 ≥ 95% of the teacher's (seed test): "
            f"{'–' if ratio is None else f'{ratio:.1%}'} — {yes(met['f1_95pct_of_teacher'])}",
            f"- ≥ 30× the fp32-ONNX teacher's sentences/s: {g['speedup_vs_teacher_onnx']:.1f}× — "
            f"{yes(met['speed_30x'])}"
            + (
                f" (vs one MiniLM encoder alone: {g['speedup_vs_one_minilm_onnx']:.1f}×)"
                if g.get("speedup_vs_one_minilm_onnx")
                else ""
            ),
            f"- ≥ 20× smaller than MiniLM (91 MB): {g['size_ratio_vs_minilm']:.1f}× — "
            f"{yes(met['size_20x'])} (vs the two-encoder teacher file: "
            f"{g['size_ratio_vs_teacher_onnx']:.1f}×)",
            f"- embedding Spearman ≥ 0.8: {g['embedding_spearman']:.3f} — "
            f"{yes(met['spearman_0.8'])}",
        ]
    return lines


def _teacher_summary(run: Path) -> dict[str, Any] | None:
    """What the teacher was trained on and how far, from the run dir's reports."""
    report = run / "teacher_report.json"
    if not report.exists():
        return None
    r = json.loads(report.read_text())
    probe = run / "probe_metrics.json"
    keys = (
        "train_sentences", "train_by_source", "dev_sentences", "transfer_sentences",
        "transfer_with_hard_role", "transfer_role_argmax_counts", "corpus_by_source",
        "teacher_config", "teacher_dev_metrics",
    )
    out = {k: r[k] for k in keys if k in r}
    out["frozen_probe_dev_metrics"] = (
        json.loads(probe.read_text()) if probe.exists() else r.get("frozen_probe_dev_metrics")
    )
    return out


def _teacher_section(metrics: dict[str, Any]) -> list[str]:
    t = metrics.get("teacher")
    if not t:
        return []
    d = t.get("teacher_dev_metrics", {})
    lines = [
        "",
        "## Teacher",
        "",
        "all-MiniLM-L6-v2 fine-tuned end to end with role and salience heads on "
        f"{t.get('train_sentences', 0):,} labelled sentences "
        f"({', '.join(f'{k} {v:,}' for k, v in sorted(t.get('train_by_source', {}).items()))}); "
        f"{int(d.get('steps', 0))} of {int(d.get('planned_steps', 0))} planned steps "
        f"(batch {t.get('teacher_config', {}).get('batch_size')}, stopped by the time budget "
        "when fewer). Its embedding output is the original MiniLM's. It then labelled "
        f"{t.get('transfer_sentences', 0):,} transfer sentences (corpus: "
        f"{', '.join(f'{k} {v:,}' for k, v in sorted(t.get('corpus_by_source', {}).items()))}); "
        "teacher argmax roles there: "
        f"{', '.join(f'{k} {v:,}' for k, v in t.get('transfer_role_argmax_counts', {}).items())}.",
    ]
    p = t.get("frozen_probe_dev_metrics")
    rows = [
        ("seed dev macro-F1", "seed_macro_f1"),
        ("ClaimBuster dev claim F1", "claimbuster_claim_f1"),
        ("MRDA dev question F1", "mrda_question_f1"),
        ("MRDA dev action F1", "mrda_action_f1"),
    ]
    lines += [
        "",
        "| dev metric | fine-tuned teacher | linear probe on frozen MiniLM |",
        "|---|---|---|",
    ]
    for name, key in rows:
        lines.append(f"| {name} | {_fmt(d.get(key))} | {_fmt((p or {}).get(key))} |")
    return lines


def _sweep_section(metrics: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for key, title in (
        ("arch_sweep", "Architecture comparison (same data and epochs, dev)"),
        ("sweep", "α/τ sweep (one epoch on a KD subsample, dev)"),
    ):
        rows = metrics.get(key)
        if not rows:
            continue
        lines += [
            "",
            f"## {title}",
            "",
            "| variant | params | role macro-F1 | teacher agreement | embedding cos "
            "| int8 sent/s |",
            "|---|---|---|---|---|---|",
        ]
        for r in rows:
            d = r["dev"]
            name = ", ".join(f"{k}={v}" for k, v in r["overrides"].items())
            lines.append(
                f"| {name} | {r['params']:,} | {_cell(d, 'role_macro_f1')} | "
                f"{_cell(d, 'teacher_agreement')} | {_cell(d, 'embedding_cos')} | "
                f"{_cell(r, 'int8_sentences_per_s')} |"
            )
    return lines


def refresh_reports(cfg: Any) -> dict[str, Any]:
    """Re-read the run dir's reports (teacher, probe, sweeps) into the last evaluation's
    metrics and re-render the card, without re-measuring anything (`--stage card`)."""
    run = cfg.run_dir
    metrics = json.loads((cfg.out / "metrics.json").read_text(encoding="utf-8"))
    metrics["teacher"] = _teacher_summary(run)
    for key, name in (("sweep", "sweep.json"), ("arch_sweep", "arch_sweep.json")):
        if (run / name).exists():
            metrics[key] = json.loads((run / name).read_text())
    write_reports(cfg.out, metrics)
    return metrics


def write_reports(out: Path, metrics: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(
        json.dumps(metrics, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    (out / "model-card.md").write_text(render_card(metrics), encoding="utf-8")
