"""One huge note distilled through a `Session`: time against size, to show it grows linearly.

    python bench/huge_note_bench.py [--sizes 0.1,0.4,1.6]   # MB of one paragraph each

Each note is a single line of distinct sentences (a pasted transcript or export), the shape
that once made segmentation quadratic (each sentence scanned its whole line: 61 s for 1.2 MB).
Prints wall time, sentences and seconds per MB for each size.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from vaultkd.pipeline import Session


def paragraph(megabytes: float) -> str:
    words = "queue release budget review cache index schema sync rollout pricing".split()
    out, size, i = [], 0, 0
    while size < megabytes * 1_000_000:
        s = (
            f"The {words[i % 10]} grew by {i} percent after the {words[(i * 7) % 10]} "
            f"went live in week {i // 10}."
        )
        out.append(s)
        size += len(s) + 1
        i += 1
    return " ".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="0.1,0.4,1.6", help="comma-separated sizes in MB")
    args = ap.parse_args()
    print(f"{'MB':>6} {'sentences':>10} {'wall s':>8} {'s per MB':>9}")
    for mb in (float(x) for x in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            vault = Path(tmp)
            (vault / ".obsidian").mkdir()
            (vault / "huge.md").write_text(f"# Huge\n\n{paragraph(mb)}\n", encoding="utf-8")
            with Session.open(vault) as session:
                t0 = time.perf_counter()
                [r] = session.distill(["huge.md"], reports=False)
                wall = time.perf_counter() - t0
            print(f"{mb:6.2f} {r.sentences:10d} {wall:8.2f} {wall / mb:9.2f}  ({r.status})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
