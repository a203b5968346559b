"""Compare the test split's labels with the blind second labelling pass.

The second pass (`test_second_pass.tsv`: id, role) was made from a shuffled, text-only dump of
the test split, without the first pass's labels in view. Stdlib only:

    python data/seed/agreement.py
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROLES = ("claim", "question", "decision", "action", "context")


def cohen_kappa(pairs: list[tuple[str, str]]) -> float:
    n = len(pairs)
    observed = sum(a == b for a, b in pairs) / n
    first = Counter(a for a, _ in pairs)
    second = Counter(b for _, b in pairs)
    expected = sum(first[r] * second[r] for r in ROLES) / (n * n)
    return (observed - expected) / (1 - expected)


def main() -> int:
    with (HERE / "test.jsonl").open(encoding="utf-8") as fh:
        first = {r["id"]: r for r in map(json.loads, fh)}
    second: dict[str, str] = {}
    with (HERE / "test_second_pass.tsv").open(encoding="utf-8") as fh:
        next(fh)
        for line in fh:
            sid, role = line.rstrip("\n").split("\t")
            second[sid] = role
    missing = sorted(set(first) ^ set(second))
    if missing:
        print(f"error: ids in only one pass: {missing[:5]}; relabel them", file=sys.stderr)
        return 1
    pairs = [(first[i]["role"], second[i]) for i in first]
    agree = sum(a == b for a, b in pairs)
    print(
        f"sentences: {len(pairs)}, agreement: {agree}/{len(pairs)} = {agree / len(pairs):.1%}, "
        f"Cohen's kappa: {cohen_kappa(pairs):.3f}"
    )
    print()
    print("| first pass \\ second | " + " | ".join(ROLES) + " |")
    print("|---|" + "---:|" * len(ROLES))
    confusion = Counter(pairs)
    for a in ROLES:
        print(f"| {a} | " + " | ".join(str(confusion[a, b]) for b in ROLES) + " |")
    disagreements = [i for i in first if first[i]["role"] != second[i]]
    if disagreements:
        print()
    for sid in disagreements:
        print(f"- {sid}: first {first[sid]['role']}, second {second[sid]}: {first[sid]['text']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
