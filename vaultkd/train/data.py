"""Labelled training and evaluation data: the project's seed set plus public sets in shared/data.

Every source becomes `LabelledSentence`s with the same fields, so the teacher's training loop
never knows where a sentence came from. Pure Python (json, hashlib); no torch, so evaluation
and the corpus step can use it on a run-time install.

Label mapping (issue 3; LABELS.md gives the role definitions):
- seed set: role (5-class) and salience 0/1/2 -> 0.0/0.5/1.0;
- MRDA: basic DA `Q` -> question; full DA `co` (action-directive) or `cc` (commit) -> action;
  other statements (`S`) -> not_role=question (a partial label: "not a question");
  backchannels, floor holders and disruptions are dropped (no note has them);
- ClaimBuster: 1 -> claim, 0 -> not_role=claim;
- SciTLDR-A: salience = the sentence's ROUGE-1 with the TLDRs divided by the best in its
  abstract (the oracle sentence gets 1.0); dev.jsonl trains, test.jsonl is held out;
- AMI: salience 1.0 if the transcript sentence is in the human extractive summary, else 0.0
  (see `match_extractive`); meetings split by a hash of their id.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Literal

from vaultkd.roles import ROLE_INDEX
from vaultkd.segment import sentences as split_text

log = logging.getLogger(__name__)

Split = Literal["train", "dev", "test"]
SOURCES: tuple[str, ...] = ("seed", "mrda", "claimbuster", "scitldr", "ami")

REPO_ROOT = Path(__file__).resolve().parents[2]
SEED_DIR = REPO_ROOT / "data" / "seed"

QUESTION = ROLE_INDEX["question"]
ACTION = ROLE_INDEX["action"]
CLAIM = ROLE_INDEX["claim"]

SEED_SALIENCE = {0: 0.0, 1: 0.5, 2: 1.0}

# How many sentences each big source may contribute to train / dev. The seed set is small and
# in-domain, so it is repeated (`SEED_REPEAT`) instead of being drowned by 75k meeting turns.
# Sized so one teacher epoch (~16k sentences) fits in ~25 minutes on a shared 2-core CPU.
DEFAULT_CAPS: dict[str, int] = {
    "mrda_statement": 2500,
    "mrda_question": 3000,
    "claimbuster": 3000,
    "scitldr": 2500,
    "ami": 2500,
}
DEV_CAPS: dict[str, int] = {
    "mrda_statement": 600,
    "mrda_question": 600,
    "claimbuster": 600,
    "scitldr": 800,
    "ami": 800,
}
SEED_REPEAT = 3
MIN_WORDS = 3  # "yeah.", "okay so" and similar turns carry no role


def data_root() -> Path:
    """Folder of the public data sets: $VAULTKD_DATA, else ../shared/data next to the repo."""
    env = os.environ.get("VAULTKD_DATA")
    if env:
        return Path(env)
    return (REPO_ROOT.parent / "shared" / "data").resolve()


@dataclass(frozen=True, slots=True)
class LabelledSentence:
    """One sentence and whatever labels its source gives (missing labels: -1 / nan)."""

    text: str
    source: str
    split: str
    role: int = -1  # index into vaultkd.roles.ROLES
    not_role: int = -1  # a role this sentence is known NOT to have (partial label)
    salience: float = math.nan  # in [0, 1]
    doc: str | None = None
    position: int | None = None

    @property
    def has_salience(self) -> bool:
        return not math.isnan(self.salience)


@dataclass(frozen=True, slots=True)
class EvalDoc:
    """A document for salience evaluation: its sentences and the indices a human picked."""

    id: str
    sentences: tuple[str, ...]
    positives: frozenset[int]


@dataclass(frozen=True)
class EvalSet:
    """A held-out set. `roles`: 5-class gold per text (-1 unknown); `binary`: role name ->
    0/1 gold per text ("is this a question?"); `docs`: salience documents."""

    name: str
    texts: tuple[str, ...] = ()
    roles: tuple[int, ...] = ()
    binary: dict[str, tuple[int, ...]] = field(default_factory=dict)
    docs: tuple[EvalDoc, ...] = ()

    def all_texts(self) -> list[str]:
        out = list(self.texts)
        for d in self.docs:
            out.extend(d.sentences)
        return out


class DataError(RuntimeError):
    """A data file is missing or malformed; the message names the file and what to do."""


def normalise(text: str) -> str:
    """Key for exact-match filtering: case and whitespace folded."""
    return " ".join(text.lower().split())


def _bucket(key: str) -> int:
    """Stable 0..99 bucket of an id (not Python's salted hash)."""
    return int(hashlib.sha1(key.encode("utf-8")).hexdigest()[:8], 16) % 100


def _hash_split(key: str, *, test_pct: int = 20, dev_pct: int = 10) -> Split:
    b = _bucket(key)
    if b < test_pct:
        return "test"
    if b < test_pct + dev_pct:
        return "dev"
    return "train"


def _word_count(text: str) -> int:
    return len(text.split())


def _read_jsonl(path: Path) -> list[dict]:
    rows = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise DataError(
                    f"{path}:{lineno}: not valid JSON ({exc.msg}); fix that line"
                ) from exc
    return rows


# --- seed set -------------------------------------------------------------------------------


def load_seed(split: Split, seed_dir: Path | None = None) -> list[LabelledSentence]:
    path = (seed_dir or SEED_DIR) / f"{split}.jsonl"
    if not path.exists():
        log.warning("seed set %s is missing; continuing without it", path)
        return []
    out = []
    for i, row in enumerate(_read_jsonl(path)):
        try:
            role = ROLE_INDEX[row["role"]]
            sal = SEED_SALIENCE[int(row["salience"])]
            text = str(row["text"]).strip()
        except (KeyError, ValueError, TypeError) as exc:
            raise DataError(
                f"{path}: row {i + 1} needs text, role (one of {sorted(ROLE_INDEX)}) and "
                f"salience 0/1/2 ({exc!r}); fix that row"
            ) from exc
        out.append(
            LabelledSentence(
                text=text,
                source="seed",
                split=split,
                role=role,
                salience=sal,
                doc=str(row.get("doc")) if row.get("doc") is not None else None,
                position=int(row["position"]) if row.get("position") is not None else None,
            )
        )
    return out


# --- MRDA -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MrdaUtterance:
    meeting: str
    index: int
    speaker: str
    text: str
    basic: str
    general: str
    full: str

    @property
    def is_question(self) -> bool:
        return self.basic == "Q"

    @property
    def is_action(self) -> bool:
        return self.full in ("co", "cc")


def read_mrda(
    split: Literal["train", "val", "test"], root: Path | None = None
) -> list[MrdaUtterance]:
    folder = (root or data_root()) / "mrda" / split
    if not folder.is_dir():
        raise DataError(f"{folder} is missing; MRDA lives in shared/data/mrda (see its SOURCE.md)")
    out = []
    for path in sorted(folder.glob("*.txt")):
        with path.open(encoding="utf-8") as fh:
            for i, line in enumerate(fh):
                parts = line.rstrip("\n").split("|")
                if len(parts) != 5:
                    continue
                spk, text, basic, general, full = parts
                out.append(MrdaUtterance(path.stem, i, spk, text.strip(), basic, general, full))
    return out


def mrda_labelled(utt: MrdaUtterance, split: str) -> LabelledSentence | None:
    """Map one utterance to a labelled sentence, or None when it carries no usable label."""
    if _word_count(utt.text) < MIN_WORDS:
        return None
    common = dict(text=utt.text, source="mrda", split=split, doc=utt.meeting, position=utt.index)
    if utt.is_question:
        return LabelledSentence(role=QUESTION, **common)
    if utt.is_action:
        return LabelledSentence(role=ACTION, **common)
    if utt.basic == "S":
        return LabelledSentence(not_role=QUESTION, **common)
    return None  # backchannels (B), floor holders (F), disruptions (D)


def _load_mrda(split: Split, caps: dict[str, int], rng: random.Random) -> list[LabelledSentence]:
    raw = read_mrda({"train": "train", "dev": "val", "test": "test"}[split])
    items = [x for u in raw if (x := mrda_labelled(u, split)) is not None]
    pos = [x for x in items if x.role >= 0]
    stmts = [x for x in items if x.role < 0]
    if split != "test":
        rng.shuffle(stmts)
        stmts = stmts[: caps.get("mrda_statement", len(stmts))]
        if "mrda_question" in caps:
            qs = [x for x in pos if x.role == QUESTION]
            rng.shuffle(qs)
            pos = qs[: caps["mrda_question"]] + [x for x in pos if x.role != QUESTION]
    return pos + stmts


# --- ClaimBuster ----------------------------------------------------------------------------


def read_claimbuster(split: Literal["train", "test"], root: Path | None = None) -> list[dict]:
    path = (root or data_root()) / "claimbuster" / f"{split}.json"
    if not path.exists():
        raise DataError(f"{path} is missing; ClaimBuster lives in shared/data/claimbuster")
    with path.open(encoding="utf-8") as fh:
        return json.load(fh)


def claimbuster_labelled(row: dict, split: str) -> LabelledSentence:
    text = str(row["text"]).strip()
    if int(row["label"]) == 1:
        return LabelledSentence(text=text, source="claimbuster", split=split, role=CLAIM)
    return LabelledSentence(text=text, source="claimbuster", split=split, not_role=CLAIM)


def _load_claimbuster(
    split: Split, caps: dict[str, int], rng: random.Random
) -> list[LabelledSentence]:
    if split == "test":
        return [claimbuster_labelled(r, split) for r in read_claimbuster("test")]
    # No dev file upstream: 10% of train by a hash of the sentence id is our dev.
    rows = [
        r
        for r in read_claimbuster("train")
        if (_bucket(f"cb{r['sentence_id']}") < 10) == (split == "dev")
    ]
    items = [claimbuster_labelled(r, split) for r in rows]
    rng.shuffle(items)
    return items[: caps.get("claimbuster", len(items))]


# --- SciTLDR --------------------------------------------------------------------------------


def read_scitldr(split: Literal["dev", "test"], root: Path | None = None) -> list[dict]:
    path = (root or data_root()) / "scitldr" / f"SciTLDR-A.{split}.jsonl"
    if not path.exists():
        raise DataError(f"{path} is missing; SciTLDR lives in shared/data/scitldr")
    return _read_jsonl(path)


def scitldr_trained(seed: int = 0) -> frozenset[str]:
    """Paper ids of the SciTLDR-A dev abstracts whose oracle labels `load_labelled("train",
    seed=seed)` reads: the teacher, the student and every refinement trained on them.

    A model's salience is surer on those than on new text, so weights fitted on top of it
    (`train/context.py`) are fitted on the others."""
    # The sources before SciTLDR draw from the same rng, so they are loaded too, in order.
    upto = SOURCES[: SOURCES.index("scitldr") + 1]
    items = load_labelled("train", upto, seed=seed)
    return frozenset(x.doc for x in items if x.source == "scitldr" and x.doc is not None)


def scitldr_salience(rouge: Sequence[float], labels: Sequence[int]) -> list[float]:
    """Graded target in [0, 1]: ROUGE over the best ROUGE of the abstract; the oracle is 1."""
    top = max(rouge) if rouge else 0.0
    out = [(r / top) if top > 0 else 0.0 for r in rouge]
    return [1.0 if lab else min(v, 0.999) for v, lab in zip(out, labels, strict=True)]


def _load_scitldr(split: Split, caps: dict[str, int], rng: random.Random) -> list[LabelledSentence]:
    if split == "test":
        raise ValueError("SciTLDR test is an evaluation set; use eval_sets()")
    docs = read_scitldr("dev")
    out: list[LabelledSentence] = []
    for d in docs:
        # The upstream dev file trains; 10% of its abstracts (by paper id) are our dev.
        if (_bucket(f"st{d['paper_id']}") < 10) != (split == "dev"):
            continue
        if len(d["rouge_scores"]) != len(d["source"]):
            # 19 of 619 upstream dev abstracts have fewer ROUGE scores than sentences.
            continue
        sal = scitldr_salience(d["rouge_scores"], d["source_labels"])
        for i, (s, v) in enumerate(zip(d["source"], sal, strict=True)):
            out.append(
                LabelledSentence(
                    text=s.strip(),
                    source="scitldr",
                    split=split,
                    salience=v,
                    doc=str(d["paper_id"]),
                    position=i,
                )
            )
    return _cap_by_doc(out, caps.get("scitldr"), rng)


def _cap_by_doc(
    items: list[LabelledSentence], cap: int | None, rng: random.Random
) -> list[LabelledSentence]:
    """Keep whole documents (salience is relative within a document) up to about `cap`."""
    if cap is None or len(items) <= cap:
        return items
    by_doc: dict[str | None, list[LabelledSentence]] = {}
    for x in items:
        by_doc.setdefault(x.doc, []).append(x)
    keys = sorted(by_doc, key=str)
    rng.shuffle(keys)
    out: list[LabelledSentence] = []
    for k in keys:
        if len(out) >= cap:
            break
        out.extend(by_doc[k])
    return out


# --- AMI extractive -------------------------------------------------------------------------

_TOKEN = re.compile(r"[a-z0-9_']+")
NGRAM = 3
MATCH_THRESHOLD = 0.6


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def _ngrams(tokens: Sequence[str], n: int = NGRAM) -> list[tuple[str, ...]]:
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


@dataclass(frozen=True, slots=True)
class AmiMeeting:
    id: str
    sentences: tuple[str, ...]
    positives: frozenset[int]
    coverage: float  # share of the extractive summary's n-grams found in positive sentences


def match_extractive(sentences: Sequence[str], summary: str) -> tuple[frozenset[int], float]:
    """Which transcript sentences the extractive summary contains, and how much of it is found.

    The summary is a tokenised concatenation of dialogue acts while the transcript is grouped
    per speaker with its own punctuation, so exact matching fails; instead a sentence is
    positive when at least 60% of its word trigrams occur in the summary (sentences shorter
    than a trigram need all their words in one summary trigram run).
    """
    summ_tokens = _tokens(summary)
    summ_grams = set(_ngrams(summ_tokens))
    summ_text = " " + " ".join(summ_tokens) + " "
    positives: set[int] = set()
    found: set[tuple[str, ...]] = set()
    for i, s in enumerate(sentences):
        toks = _tokens(s)
        if not toks:
            continue
        grams = _ngrams(toks)
        if not grams:
            if len(toks) >= 2 and f" {' '.join(toks)} " in summ_text:
                positives.add(i)
            continue
        hits = [g for g in grams if g in summ_grams]
        if len(hits) / len(grams) >= MATCH_THRESHOLD:
            positives.add(i)
            found.update(hits)
    coverage = len(found) / len(summ_grams) if summ_grams else 0.0
    return frozenset(positives), coverage


def ami_split(meeting_id: str) -> Split:
    """Deterministic meeting split: 20% test, 10% dev, 70% train by a hash of the id."""
    return _hash_split(f"ami{meeting_id}")


@cache
def read_ami(root: Path | None = None) -> tuple[AmiMeeting, ...]:
    base = (root or data_root()) / "ami-summaries"
    ext_dir, tr_dir = base / "extractive", base / "ami-transcripts"
    if not ext_dir.is_dir() or not tr_dir.is_dir():
        raise DataError(f"{base} lacks extractive/ or ami-transcripts/; see its SOURCE.md")
    out = []
    for ext in sorted(ext_dir.glob("*.extsumm.txt")):
        mid = ext.name.split(".")[0]
        tr = tr_dir / f"{mid}.transcript.txt"
        if not tr.exists():
            continue
        sents: list[str] = []
        for line in tr.read_text(encoding="utf-8").splitlines():
            sents.extend(s for s in split_text(line) if _word_count(s) >= MIN_WORDS)
        pos, cov = match_extractive(sents, ext.read_text(encoding="utf-8"))
        out.append(AmiMeeting(mid, tuple(sents), pos, cov))
    return tuple(out)


def _load_ami(split: Split, caps: dict[str, int], rng: random.Random) -> list[LabelledSentence]:
    out = []
    for m in read_ami():
        if ami_split(m.id) != split:
            continue
        for i, s in enumerate(m.sentences):
            out.append(
                LabelledSentence(
                    text=s,
                    source="ami",
                    split=split,
                    salience=1.0 if i in m.positives else 0.0,
                    doc=m.id,
                    position=i,
                )
            )
    return _cap_by_doc(out, caps.get("ami"), rng)


# --- public API -----------------------------------------------------------------------------


def load_labelled(
    split: Split,
    sources: Iterable[str] = SOURCES,
    *,
    caps: dict[str, int] | None = None,
    seed_repeat: int | None = None,
    seed: int = 0,
    seed_dir: Path | None = None,
) -> list[LabelledSentence]:
    """Labelled sentences of one split from the chosen sources, capped and de-leaked.

    `train` and `dev` never contain a sentence (case/space-folded) of any evaluation test set.
    The seed set is repeated `seed_repeat` times in `train` (default SEED_REPEAT) so the small
    in-domain set keeps its weight next to the public sets. Deterministic for a given `seed`.
    """
    sources = tuple(sources)
    unknown = set(sources) - set(SOURCES)
    if unknown:
        raise ValueError(f"unknown sources {sorted(unknown)}; choose from {SOURCES}")
    if caps is None:
        caps = DEFAULT_CAPS if split == "train" else DEV_CAPS if split == "dev" else {}
    rng = random.Random(seed)
    out: list[LabelledSentence] = []
    for src in sources:
        if src == "seed":
            items = load_seed(split, seed_dir)
            if split == "train":
                items = items * (SEED_REPEAT if seed_repeat is None else seed_repeat)
        elif src == "mrda":
            items = _load_mrda(split, caps, rng)
        elif src == "claimbuster":
            items = _load_claimbuster(split, caps, rng)
        elif src == "scitldr":
            if split == "test":
                continue
            items = _load_scitldr(split, caps, rng)
        else:
            items = _load_ami(split, caps, rng)
        log.info("labelled %s/%s: %d sentences", split, src, len(items))
        out.extend(items)
    if split != "test":
        banned = held_out_texts(seed_dir, include_seed_dev=split == "train")
        before = len(out)
        out = [x for x in out if normalise(x.text) not in banned]
        if before != len(out):
            log.info("dropped %d %s sentences that occur in a test set", before - len(out), split)
    return out


def eval_sets(seed_dir: Path | None = None) -> dict[str, EvalSet]:
    """Held-out evaluation sets the teacher never trains on.

    `seed_test` (5-class roles; docs with salience-2 sentences as positives), `mrda_test`
    (binary question / action), `claimbuster_test` (binary claim), `scitldr_test` (docs with the
    oracle sentence), `ami_test` (meetings with the extractive-summary sentences).
    """
    sets: dict[str, EvalSet] = {}
    seed_rows = load_seed("test", seed_dir)
    if seed_rows:
        by_doc: dict[str, list[LabelledSentence]] = {}
        for x in seed_rows:
            by_doc.setdefault(x.doc or "", []).append(x)
        docs = []
        for doc_id, rows in by_doc.items():
            rows = sorted(rows, key=lambda r: r.position if r.position is not None else 0)
            docs.append(
                EvalDoc(
                    doc_id,
                    tuple(r.text for r in rows),
                    frozenset(i for i, r in enumerate(rows) if r.salience >= 1.0),
                )
            )
        sets["seed_test"] = EvalSet(
            "seed_test",
            texts=tuple(x.text for x in seed_rows),
            roles=tuple(x.role for x in seed_rows),
            docs=tuple(docs),
        )
    root = data_root()
    if (root / "mrda").is_dir():
        utts = [u for u in read_mrda("test") if _word_count(u.text) >= MIN_WORDS]
        sets["mrda_test"] = EvalSet(
            "mrda_test",
            texts=tuple(u.text for u in utts),
            binary={
                "question": tuple(int(u.is_question) for u in utts),
                "action": tuple(int(u.is_action) for u in utts),
            },
        )
    if (root / "claimbuster").is_dir():
        rows = read_claimbuster("test")
        sets["claimbuster_test"] = EvalSet(
            "claimbuster_test",
            texts=tuple(str(r["text"]).strip() for r in rows),
            binary={"claim": tuple(int(r["label"]) for r in rows)},
        )
    if (root / "scitldr").is_dir():
        docs = [
            EvalDoc(
                str(d["paper_id"]),
                tuple(s.strip() for s in d["source"]),
                frozenset(i for i, lab in enumerate(d["source_labels"]) if lab),
            )
            for d in read_scitldr("test")
        ]
        sets["scitldr_test"] = EvalSet("scitldr_test", docs=tuple(docs))
    if (root / "ami-summaries").is_dir():
        docs = [
            EvalDoc(m.id, m.sentences, m.positives)
            for m in read_ami()
            if ami_split(m.id) == "test" and m.positives
        ]
        sets["ami_test"] = EvalSet("ami_test", docs=tuple(docs))
    return sets


def held_out_texts(
    seed_dir: Path | None = None, *, include_seed_dev: bool = True
) -> frozenset[str]:
    """Normalised text of every evaluation test sentence (and of the seed dev split).

    Training data and the transfer corpus must contain none of these.
    """
    return _held_out(seed_dir or SEED_DIR, data_root(), include_seed_dev)


@cache
def _held_out(seed_dir: Path, root: Path, include_seed_dev: bool) -> frozenset[str]:
    texts: set[str] = set()
    for split in ("dev", "test") if include_seed_dev else ("test",):
        texts.update(normalise(x.text) for x in load_seed(split, seed_dir))
    try:
        for es in eval_sets(seed_dir).values():
            texts.update(normalise(t) for t in es.all_texts())
    except DataError as exc:
        log.warning("%s", exc)
    return frozenset(texts)


def ami_coverage() -> dict[str, float]:
    """How well `match_extractive` recovers the AMI summaries (reported in the run log)."""
    ms = read_ami()
    covs = [m.coverage for m in ms]
    n_pos = sum(len(m.positives) for m in ms)
    n = sum(len(m.sentences) for m in ms)
    return {
        "meetings": float(len(ms)),
        "mean_coverage": sum(covs) / len(covs) if covs else 0.0,
        "min_coverage": min(covs) if covs else 0.0,
        "positive_rate": n_pos / n if n else 0.0,
    }
