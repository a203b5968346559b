"""Quality of distillation, measured: roles, salience and extractive summaries vs baselines.

    python bench/quality_bench.py                 # all sections, one table
    python bench/quality_bench.py --tune          # also tune layer fractions and role thresholds
    python bench/quality_bench.py --model DIR     # another student (default: the shipped one)

Data: the project's seed set (`data/seed/`, labelled note-style sentences) and public sets in
`../shared/data/` (AMI extractive summaries, CL-SciSumm 2018, SciTLDR-A); a missing folder
skips its section with a line saying so. Needs the `[bench]` extra (sumy, rouge-score).
sumy's default tokenizer downloads NLTK data, so sentences come from `vaultkd.segment` and
words from a regex: everything runs offline.

Systems:
- rules: `vaultkd.model.rules` (the teacher engineer's cue-based baseline) for roles;
- student: the ONNX student; "sentence" ranks by its per-sentence salience alone, "in context"
  by salience in the note's context (`vaultkd.distill.salience`, what the layers use), "+MMR"
  adds the MMR selection of the executive summary (`vaultkd.distill.core.mmr_order`); all are
  filled up to the word budget. A CL-SciSumm paper comes with its title and section headings,
  so "in context" reads it as a note of it would be read: with the paper weights when its
  headings are a paper's (`is_paper`). A second table puts the note and the paper weights
  side by side on CL-SciSumm and SciTLDR-A test;
- Lead, LexRank, TextRank (sumy 0.13).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from vaultkd.distill.core import ROLE_THRESHOLDS, mmr_order, rank_by_salience  # noqa: E402
from vaultkd.distill.salience import ContextWeights, in_context, is_paper  # noqa: E402
from vaultkd.distill.taskform import sentence_role  # noqa: E402
from vaultkd.roles import ROLE_INDEX, ROLES  # noqa: E402
from vaultkd.segment import sentences as split_text  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
SEED = ROOT / "data" / "seed"
_WORD = re.compile(r"[A-Za-z0-9]+(?:'[a-z]+)?")
# sentences (and, for a paper, its title and section headings) -> indices best first
Ranker = Callable[..., list[int]]


# --------------------------------------------------------------------------- data


def load_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def seed_docs(split: str) -> list[list[dict]]:
    rows = load_jsonl(SEED / f"{split}.jsonl")
    docs: dict[str, list[dict]] = {}
    for r in rows:
        docs.setdefault(r["doc"], []).append(r)
    return [sorted(d, key=lambda r: r["position"]) for d in docs.values()]


def ami_meetings(split: str) -> list[tuple[str, list[str], str, frozenset[int]]]:
    """AMI meetings of one split of the training code's own hash split (so "test" is held out
    from the student's training), with its extractive matcher's positive sentences."""
    from vaultkd.train.data import ami_split, read_ami

    base = DATA / "ami-summaries" / "extractive"
    return [
        (
            m.id,
            list(m.sentences),
            (base / f"{m.id}.extsumm.txt").read_text(encoding="utf-8"),
            m.positives,
        )
        for m in read_ami()
        if ami_split(m.id) == split and m.positives
    ]


def scisumm_papers() -> list[tuple[str, list[str], list[str], str, list[str]]]:
    """(id, body sentences, human summaries, title, section headings) per paper."""
    base = DATA / "cl-scisumm-2018-test"
    out = []
    for paper in load_jsonl(base / "reference_papers.jsonl"):
        pid = paper["paper_id"]
        # The abstract is left out: summarising a paper by copying its abstract is not the task
        # (this reproduces the reference Lead score, 15.4, measured here by others).
        body = [
            s for s in paper["sentences"]
            if s["text"].strip() and s["section"] and s["section"].upper() != "ABSTRACT"
        ]
        sents = [s["text"].strip() for s in body]
        headings = list(dict.fromkeys(s["section"] for s in body))
        # The sentence without a section is the paper's title, as a note would have it.
        title = next((s["text"].strip() for s in paper["sentences"] if not s["section"]), "")
        refs = [
            p.read_text(encoding="utf-8", errors="replace")
            for p in sorted((base / "gold_task2").glob(f"{pid}_*.human.txt"))
        ]
        if refs:
            out.append((pid, sents, refs, title, headings))
    return out


# --------------------------------------------------------------------------- rankers


class _Tok:
    """sumy's tokenizer interface, offline: vaultkd's splitter and a word regex."""

    language = "english"

    def to_sentences(self, text: str) -> list[str]:
        return split_text(text)

    def to_words(self, sentence: str) -> list[str]:
        return _WORD.findall(sentence)


def sumy_ranker(kind: str) -> Ranker:
    from sumy.models.dom import ObjectDocumentModel, Paragraph
    from sumy.models.dom import Sentence as SumySentence
    from sumy.nlp.stemmers import Stemmer
    from sumy.summarizers.lex_rank import LexRankSummarizer
    from sumy.summarizers.text_rank import TextRankSummarizer
    from sumy.utils import get_stop_words

    tok = _Tok()
    stemmer = Stemmer("english")
    summ = LexRankSummarizer(stemmer) if kind == "lexrank" else TextRankSummarizer(stemmer)
    summ.stop_words = get_stop_words("english")

    def rank(sents: list[str], **_: object) -> list[int]:
        objs = [SumySentence(s, tok) for s in sents]
        doc = ObjectDocumentModel([Paragraph(objs)])
        if kind == "textrank":
            ratings = summ.rate_sentences(doc)
        else:  # LexRank exposes no rate_sentences; these are the steps of its __call__
            words = [summ._to_words_set(s) for s in doc.sentences]
            tf = summ._compute_tf(words)
            idf = summ._compute_idf(words)
            matrix = summ._create_matrix(words, summ.threshold, tf, idf)
            scores = summ.power_method(matrix, summ.epsilon)
            ratings = dict(zip(doc.sentences, scores, strict=True))
        vals = [float(ratings[o]) for o in objs]
        return sorted(range(len(sents)), key=lambda i: (-vals[i], i))

    return rank


def lead_ranker(sents: list[str], **_: object) -> list[int]:
    return list(range(len(sents)))


class Student:
    def __init__(self, model_dir: Path | None) -> None:
        from vaultkd.model.runtime import load_predictor

        self.predictor = load_predictor(model_dir)
        self.context = ContextWeights.from_manifest(self.predictor.manifest)
        self.paper = ContextWeights.from_manifest(self.predictor.manifest, paper=True)
        self.cache: dict[str, tuple] = {}

    def predict(self, sents: list[str]):  # noqa: ANN201
        key = hashlib.sha1("\x00".join(sents).encode()).hexdigest()
        if key not in self.cache:
            p = self.predictor.predict(sents)
            self.cache[key] = p
        return self.cache[key]

    def in_context(  # noqa: ANN201
        self, sents: list[str], title: str = "", headings: Sequence[str] = (),
        as_paper: bool | None = None,
    ):
        """As `note_in_context` reads a note with this title and these headings (or, with
        `as_paper`, with the paper or the note weights regardless of headings)."""
        paper = is_paper(headings) if as_paper is None else as_paper
        if paper and self.paper is not None:
            return in_context(self.predict(sents), self.paper, sents, title)
        return in_context(self.predict(sents), self.context)

    def sentence_ranker(self, sents: list[str], **_: object) -> list[int]:
        """The student's per-sentence salience alone."""
        return rank_by_salience(self.predict(sents).salience)

    def salience_ranker(
        self, sents: list[str], title: str = "", headings: Sequence[str] = ()
    ) -> list[int]:
        """Salience in context: what the distillation's layers use."""
        return rank_by_salience(self.in_context(sents, title, headings).salience)

    def mmr_ranker(
        self, sents: list[str], title: str = "", headings: Sequence[str] = ()
    ) -> list[int]:
        # The greedy MMR order the summary layer uses, then the rest by salience.
        p = self.in_context(sents, title, headings)
        order = mmr_order(p.salience, p.embeddings, min(len(sents), 60))
        seen = set(order)
        return order + [i for i in rank_by_salience(p.salience) if i not in seen]


def budget_summary(sents: list[str], order: list[int], words: int) -> str:
    """Best sentences until the word budget is used, in document order, last one truncated."""
    chosen: list[int] = []
    used = 0
    for i in order:
        if used >= words:
            break
        chosen.append(i)
        used += len(sents[i].split())
    text_words = " ".join(sents[i] for i in sorted(chosen)).split()
    return " ".join(text_words[:words])


# --------------------------------------------------------------------------- scoring


def rouge(pairs: list[tuple[str, list[str]]], metric: str = "rouge2") -> float:
    """Mean F1 over documents; with several references, the mean over references."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer([metric], use_stemmer=True)
    vals = []
    for pred, refs in pairs:
        vals.append(np.mean([scorer.score(r, pred)[metric].fmeasure for r in refs]))
    return 100.0 * float(np.mean(vals)) if vals else float("nan")


def summaries_table(rankers: dict[str, Ranker], rows: list[list[str]]) -> None:
    if (DATA / "cl-scisumm-2018-test").is_dir():
        papers = scisumm_papers()
        line = ["CL-SciSumm 2018 test (body, no abstract), 250 words, ROUGE-2 F1 vs human"]
        for rank in rankers.values():
            pairs = [
                (budget_summary(s, rank(s, title=t, headings=h), 250), refs)
                for _, s, refs, t, h in papers
            ]
            line.append(f"{rouge(pairs):.2f}")
        rows.append(line)
        n = sum(is_paper(h) for *_, h in papers)
        print(f"CL-SciSumm: {n} of {len(papers)} papers have a paper's headings (paper weights)")
    else:
        print(f"skip CL-SciSumm: {DATA / 'cl-scisumm-2018-test'} not found")
    if (DATA / "ami-summaries").is_dir():
        meetings = ami_meetings("test")
        for metric in ("rouge2", "rouge1"):
            line = [f"AMI held-out ({len(meetings)} meetings), ref length, {metric} F1"]
            for rank in rankers.values():
                pairs = [
                    (budget_summary(s, rank(s), len(ref.split())), [ref])
                    for _, s, ref, _ in meetings
                ]
                line.append(f"{rouge(pairs, metric):.2f}")
            rows.append(line)
    else:
        print(f"skip AMI: {DATA / 'ami-summaries'} not found")
    if (DATA / "scitldr").is_dir():
        docs = load_jsonl(DATA / "scitldr" / "SciTLDR-A.test.jsonl")
        line = [f"SciTLDR-A test ({len(docs)}), top-1 salient sentence accuracy %"]
        for rank in rankers.values():
            hits = [d["source_labels"][rank(d["source"])[0]] == 1 for d in docs if d["source"]]
            line.append(f"{100.0 * float(np.mean(hits)):.1f}")
        rows.append(line)
    else:
        print(f"skip SciTLDR: {DATA / 'scitldr'} not found")


def paper_weights_table(student: Student) -> None:
    """The note weights and the paper weights on the same held-out documents, side by side:
    what reading a document as a paper (title overlap, lead prior) does on each set."""
    if student.paper is None:
        print("\nthe model has no paper weights")
        return
    print("\n| held-out, student in context | note weights | paper weights |\n|---|---:|---:|")
    if (DATA / "cl-scisumm-2018-test").is_dir():
        papers = scisumm_papers()
        vals = []
        for as_paper in (False, True):
            pairs = [
                (budget_summary(
                    s, rank_by_salience(student.in_context(s, t, as_paper=as_paper).salience),
                    250), refs)
                for _, s, refs, t, _ in papers
            ]
            vals.append(rouge(pairs))
        print(f"| CL-SciSumm 2018 test ({len(papers)}), 250 words, ROUGE-2 F1 | "
              f"{vals[0]:.2f} | {vals[1]:.2f} |")
    if (DATA / "scitldr").is_dir():
        docs = [d for d in load_jsonl(DATA / "scitldr" / "SciTLDR-A.test.jsonl") if d["source"]]
        vals = []
        for as_paper in (False, True):
            hits = [
                d["source_labels"][rank_by_salience(
                    student.in_context(d["source"], d["title"], as_paper=as_paper).salience
                )[0]] == 1
                for d in docs
            ]
            vals.append(100.0 * float(np.mean(hits)))
        print(f"| SciTLDR-A test ({len(docs)}), top-1 % | {vals[0]:.1f} | {vals[1]:.1f} |")


def macro_f1(gold: list[str], pred: list[str]) -> tuple[float, float]:
    f1s = []
    for role in ROLES:
        tp = sum(g == p == role for g, p in zip(gold, pred, strict=True))
        fp = sum(p == role != g for g, p in zip(gold, pred, strict=True))
        fn = sum(g == role != p for g, p in zip(gold, pred, strict=True))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    acc = sum(g == p for g, p in zip(gold, pred, strict=True)) / len(gold)
    return 100.0 * float(np.mean(f1s)), 100.0 * acc


def roles_rows(student: Student | None, rows: list[list[str]], names: list[str]) -> None:
    test = [r for d in seed_docs("test") for r in d]
    gold = [r["role"] for r in test]
    texts = [r["text"] for r in test]
    preds: dict[str, list[str]] = {}
    try:
        from vaultkd.model.rules import rule_role

        preds["rules"] = [rule_role(t) for t in texts]
    except ImportError as exc:
        print(f"skip rules baseline: vaultkd.model.rules not usable ({exc})")
    listed = None
    if student is not None:
        p = student.predict(texts)
        preds["student argmax"] = p.roles()
        # What distillations use: argmax, unless the sentence's form rules that role out (a
        # statement read as an action, a fragment read as a question: `distill/taskform.py`).
        preds["student"] = [
            sentence_role(t, row, ROLE_THRESHOLDS)
            for t, row in zip(texts, p.role_probs, strict=True)
        ]
        # What the distillation lists under each heading: that role with at least the
        # role's threshold (`ROLE_THRESHOLDS`), against argmax alone.
        listed = [
            "Seed test, listed items F1 % (argmax / argmax and p >= threshold / "
            "with the task form, as listed)"
        ]
        for role in ("claim", "question", "decision", "action"):
            col = ROLE_INDEX[role]
            gold_r = np.array([g == role for g in gold])
            arg = p.role_probs.argmax(1) == col
            sure = p.role_probs[:, col] >= ROLE_THRESHOLDS[role]
            used = np.array([r == role for r in preds["student"]])
            cells = []
            for pred in (arg, arg & sure, used & sure):
                tp = int((pred & gold_r).sum())
                cells.append(200.0 * tp / (int(pred.sum()) + int(gold_r.sum())) if tp else 0.0)
            listed.append(
                f"{role} {cells[0]:.1f} / {cells[1]:.1f} / {cells[2]:.1f} "
                f"(t={ROLE_THRESHOLDS[role]})"
            )
    f1 = [f"Seed test ({len(test)} sentences), role macro-F1 / accuracy %"]
    for name in names:
        if name in preds:
            m, a = macro_f1(gold, preds[name])
            f1.append(f"{m:.1f} / {a:.1f}")
        else:
            f1.append("-")
    rows.append(f1)
    if listed is not None:
        print("\n" + listed[0] + ": " + "; ".join(listed[1:]))


# --------------------------------------------------------------------------- tuning


def f1_at_fraction(order: list[int], gold: set[int], frac: float) -> float:
    n = len(order)
    k = max(1, int(np.ceil(frac * n - 1e-9)))
    top = set(order[:k])
    tp = len(top & gold)
    return 2 * tp / (k + len(gold)) if gold else 0.0


def tune(student: Student) -> None:
    grid = [round(x, 2) for x in np.arange(0.05, 0.71, 0.05)]
    print("\nTuning (student salience): mean F1 of top-fraction vs human labels, by fraction")
    sets: dict[str, list[tuple[list[int], set[int]]]] = {}
    dev = seed_docs("dev")
    sets["seed dev sal>=1 (bold)"] = [
        (
            student.salience_ranker([r["text"] for r in d]),
            {i for i, r in enumerate(d) if r["salience"] >= 1},
        )
        for d in dev
    ]
    sets["seed dev sal=2 (highlight)"] = [
        (
            student.salience_ranker([r["text"] for r in d]),
            {i for i, r in enumerate(d) if r["salience"] >= 2},
        )
        for d in dev
    ]
    if (DATA / "scitldr").is_dir():
        docs = load_jsonl(DATA / "scitldr" / "SciTLDR-A.dev.jsonl")
        sets["SciTLDR dev oracle (highlight)"] = [
            (
                student.salience_ranker(d["source"]),
                {i for i, v in enumerate(d["source_labels"]) if v},
            )
            for d in docs
            if d["source"]
        ]
    if (DATA / "ami-summaries").is_dir():
        sets["AMI train extractive (bold)"] = [
            (student.salience_ranker(sents), set(pos)) for _, sents, _, pos in ami_meetings("train")
        ]
    for name, docs in sets.items():
        rate = float(np.mean([len(g) / len(o) for o, g in docs if o]))
        scores = [float(np.mean([f1_at_fraction(o, g, f) for o, g in docs])) for f in grid]
        best = grid[int(np.argmax(scores))]
        print(
            f"  {name:34s} docs={len(docs):4d} label rate={rate:.3f} best fraction={best:.2f} "
            f"F1={max(scores):.3f}  (F1 at 0.33: {scores[grid.index(0.35)]:.3f})"
        )
    # A position prior on top of salience in context: papers open with their point, notes and
    # meetings need not. Chosen on dev data only; CL-SciSumm (test) is printed to show the
    # trade-off, not to choose.
    if (DATA / "scitldr").is_dir() and (DATA / "ami-summaries").is_dir():
        print(
            "\nPosition prior w in logit(salience in context) + w * exp(-i/10):\n"
            "  w    SciTLDR dev top-1 | AMI train F1@.35 | seed dev bold F1@.35 | CL-SciSumm R-2"
        )
        sci = [d for d in load_jsonl(DATA / "scitldr" / "SciTLDR-A.dev.jsonl") if d["source"]]
        ami_docs = ami_meetings("train")
        papers = scisumm_papers() if (DATA / "cl-scisumm-2018-test").is_dir() else []
        for w in (0.0, 0.5, 1.0, 2.0):

            def ranker(sents: list[str], w: float = w) -> list[int]:
                sal = student.in_context(sents).salience.astype(np.float64)
                logit = np.log(np.clip(sal, 1e-6, 1)) - np.log(np.clip(1 - sal, 1e-6, 1))
                return rank_by_salience(logit + w * np.exp(-np.arange(len(sents)) / 10))

            top1 = np.mean([d["source_labels"][ranker(d["source"])[0]] == 1 for d in sci])
            f1 = np.mean([f1_at_fraction(ranker(s), set(p), 0.35) for _, s, _, p in ami_docs])
            seed_f1 = np.mean([
                f1_at_fraction(
                    ranker([r["text"] for r in d]),
                    {i for i, r in enumerate(d) if r["salience"] >= 1},
                    0.35,
                )
                for d in dev
            ])
            r2 = rouge([(budget_summary(s, ranker(s), 250), refs) for _, s, refs, *_ in papers])
            print(f"  {w:.1f}  {100 * top1:5.1f}%  {f1:.3f}  {seed_f1:.3f}  {r2:.2f}")
    # Role thresholds: per role, the probability cut that maximises F1 on seed dev.
    rows = [r for d in dev for r in d]
    probs = student.predict([r["text"] for r in rows]).role_probs
    print("\nRole thresholds on seed dev (argmax role and p >= t), F1 by t:")
    for role in ("claim", "question", "decision", "action"):
        col = ROLE_INDEX[role]
        gold = np.array([r["role"] == role for r in rows])
        is_arg = probs.argmax(1) == col
        best = (0.0, 0.0)
        for t in np.arange(0.2, 0.95, 0.05):
            pred = is_arg & (probs[:, col] >= t)
            tp = int((pred & gold).sum())
            f1 = 2 * tp / (int(pred.sum()) + int(gold.sum())) if tp else 0.0
            best = max(best, (f1, -float(t)))
        print(
            f"  {role:9s} best t={-best[1]:.2f} F1={best[0]:.3f} (current {ROLE_THRESHOLDS[role]})"
        )


# --------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=None, help="student folder (default: shipped)")
    ap.add_argument("--tune", action="store_true", help="also tune fractions and thresholds")
    ap.add_argument(
        "--skip-summaries", action="store_true", help="skip the (slow) summary baselines"
    )
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    student: Student | None
    try:
        student = Student(args.model)
        print(f"student: {student.predictor.version}")
    except Exception as exc:  # noqa: BLE001 - any load failure just drops the student columns
        print(f"no student ({exc}); baselines only")
        student = None
    rankers: dict[str, Ranker] = {
        "Lead": lead_ranker,
        "LexRank": sumy_ranker("lexrank"),
        "TextRank": sumy_ranker("textrank"),
    }
    if student is not None:
        rankers["student sentence"] = student.sentence_ranker
        rankers["student in context"] = student.salience_ranker
        rankers["student +MMR"] = student.mmr_ranker
    rows: list[list[str]] = []
    if not args.skip_summaries:
        summaries_table(rankers, rows)
    role_rows: list[list[str]] = []
    roles_rows(student, role_rows, ["rules", "student argmax", "student"])
    header = ["measure", *rankers]
    widths = [max(len(r[0]) for r in [header, *rows])] + [max(9, len(h)) for h in header[1:]]
    print("\n| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |")
    print("\n| measure | rules | student argmax | student (with the task form) |")
    print("|---|---|---|---|")
    for r in role_rows:
        print("| " + " | ".join(r) + " |")
    if student is not None and not args.skip_summaries:
        paper_weights_table(student)
    if args.tune and student is not None:
        tune(student)
    print(f"\n({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
