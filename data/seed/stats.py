"""Print the seed set's counts: split x role, genre x role, salience and doc sizes.

Stdlib only and deterministic, so its output can be pasted into README.md as is:

    python data/seed/stats.py
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
SPLITS = ("train", "dev", "test")
ROLES = ("claim", "question", "decision", "action", "context")


def load(split: str) -> list[dict]:
    path = HERE / f"{split}.jsonl"
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def table(title: str, rows: dict[str, Counter], cols: tuple[str, ...]) -> list[str]:
    width = max(len(title), *(len(r) for r in rows))
    head = f"| {title:<{width}} | " + " | ".join(f"{c:>8}" for c in cols) + " |    total |"
    lines = [head, "|" + "-" * (width + 2) + "|" + "---------:|" * (len(cols) + 1)]
    total: Counter = Counter()
    for name, counts in rows.items():
        total.update(counts)
        cells = " | ".join(f"{counts[c]:>8}" for c in cols)
        lines.append(f"| {name:<{width}} | {cells} | {sum(counts.values()):>8} |")
    cells = " | ".join(f"{total[c]:>8}" for c in cols)
    lines.append(f"| {'all':<{width}} | {cells} | {sum(total.values()):>8} |")
    return lines


def main() -> int:
    data = {s: load(s) for s in SPLITS}
    everything = [row for s in SPLITS for row in data[s]]
    n = len(everything)
    by_split = {s: Counter(r["role"] for r in data[s]) for s in SPLITS}
    by_genre: dict[str, Counter] = {}
    for r in sorted(everything, key=lambda r: r["genre"]):
        by_genre.setdefault(r["genre"], Counter())[r["role"]] += 1
    docs: dict[str, list[dict]] = {}
    for r in everything:
        docs.setdefault(r["doc"], []).append(r)
    docs_per_split = {s: len({r["doc"] for r in data[s]}) for s in SPLITS}
    sizes = sorted(len(d) for d in docs.values())

    out = [f"sentences: {n}, docs: {len(docs)}, genres: {len(by_genre)}", ""]
    out += ["docs per split: " + ", ".join(f"{s} {docs_per_split[s]}" for s in SPLITS), ""]
    out += table("split", by_split, ROLES) + [""]
    role_total = Counter(r["role"] for r in everything)
    out.append("role share: " + ", ".join(f"{c} {100 * role_total[c] / n:.1f}%" for c in ROLES))
    out.append("")
    genre_docs = Counter(d[0]["genre"] for d in docs.values())
    rows = {f"{g} ({genre_docs[g]} docs)": c for g, c in by_genre.items()}
    out += table("genre", rows, ROLES) + [""]
    sal = {s: Counter(str(r["salience"]) for r in data[s]) for s in SPLITS}
    out += table("salience", sal, ("0", "1", "2")) + [""]
    out.append(f"doc length: min {sizes[0]}, median {sizes[len(sizes) // 2]}, max {sizes[-1]}")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
