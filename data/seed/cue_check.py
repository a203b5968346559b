"""How far surface cues alone get on the seed set, per split (a data diagnostic, stdlib only).

If a handful of cue rules solved a split, that split would not test what the guide asks for
(implicit questions, rhetorical claims, "decided" in context, ...). This is not the project's
rule baseline for evaluation, only a check that the hard cases are spread over all splits:

    python data/seed/cue_check.py
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SPLITS = ("train", "dev", "test")
ROLES = ("claim", "question", "decision", "action", "context")

_QUESTION = re.compile(
    r"\b(unclear|not sure|unknown|wonder|still open|open question|undecided|not clear|"
    r"needs input)\b"
)
_DECISION = re.compile(
    r"\b(decided|agreed|going with|we'll|confirmed|from now on|going forward|is out|deferred|"
    r"locked)\b"
)
_IMPERATIVE = re.compile(
    r"^(email|book|ask|send|call|buy|order|check|write|find|add|set|run|rerun|read|draft|get|"
    r"move|print|cancel|tell|create|pull|make|share|interview|screenshot|reserve|collect|"
    r"update|register|type|implement|rewatch|propose|audit|draw|look|listen|try|talk|ping|"
    r"open|refresh|recruit|report|do|give|prepare|lend)\b"
)
_OWED = re.compile(r"\b\w+ (to|will|needs to) \w+")
_DUE = re.compile(r"\b(by|before|next)\b")
_CONTEXT = re.compile(r"\b(attended|met|joined|present:|read it|listened)\b")


def cue_role(text: str) -> str:
    low = text.lower()
    if text.startswith("- ["):
        return "action"
    if text.rstrip().endswith("?") or _QUESTION.search(low):
        return "question"
    if _DECISION.search(low):
        return "decision"
    if _IMPERATIVE.match(low) or (_OWED.search(low) and _DUE.search(low)):
        return "action"
    if _CONTEXT.search(low):
        return "context"
    return "claim"


def f1_per_role(gold: list[str], pred: list[str]) -> dict[str, float]:
    out = {}
    for role in ROLES:
        tp = sum(g == p == role for g, p in zip(gold, pred, strict=True))
        n_pred, n_gold = pred.count(role), gold.count(role)
        precision = tp / n_pred if n_pred else 0.0
        recall = tp / n_gold if n_gold else 0.0
        out[role] = 2 * precision * recall / (precision + recall) if tp else 0.0
    return out


def main() -> int:
    for split in SPLITS:
        with (HERE / f"{split}.jsonl").open(encoding="utf-8") as fh:
            rows = [json.loads(line) for line in fh if line.strip()]
        gold = [r["role"] for r in rows]
        pred = [cue_role(r["text"]) for r in rows]
        f1 = f1_per_role(gold, pred)
        acc = sum(g == p for g, p in zip(gold, pred, strict=True)) / len(rows)
        per_role = ", ".join(f"{r} {f1[r]:.2f}" for r in ROLES)
        print(f"{split}: accuracy {acc:.2f}, macro-F1 {sum(f1.values()) / 5:.2f} ({per_role})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
