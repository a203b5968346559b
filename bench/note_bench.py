"""One note distilled the way Obsidian's Shell commands plugin runs it: a fresh `vaultkd
distill NOTE` process in an already distilled vault, after the note was edited.

    python bench/note_bench.py [--notes 10000] [--runs 5]

Prints the median and worst wall time of the whole process (start-up, session open, distill,
write) over `--runs` edits, and the same for an unchanged note.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synth import make_vault  # noqa: E402

from vaultkd.pipeline import Session  # noqa: E402


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--notes", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    exe = str(Path(sys.executable).with_name("vaultkd"))
    with tempfile.TemporaryDirectory() as tmp:
        vault = Path(tmp) / "vault"
        make_vault(vault, args.notes, 0)
        (vault / ".obsidian").mkdir(exist_ok=True)
        with Session.open(vault) as session:
            session.distill(session.pending(), reports=False)
        time.sleep(2.5)  # older than the link cache's racy window, as in a lived-in vault
        timed([exe, "distill", "--all", str(vault)])  # fills the link cache
        note = sorted((vault / "Meetings").glob("*.md"))[0]
        edited, unchanged = [], []
        for i in range(args.runs):
            with note.open("a", encoding="utf-8") as fh:
                fh.write(f"\nAdded line {i}: the sync queue needs a second worker.\n")
            edited.append(timed([exe, "distill", str(note)]))
            unchanged.append(timed([exe, "distill", str(note)]))
    print(f"{args.notes} notes; `vaultkd distill NOTE`, whole process, {args.runs} runs:")
    for name, xs in (("edited", edited), ("unchanged", unchanged)):
        print(f"  {name:>9}: median {statistics.median(xs):.2f} s, worst {max(xs):.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
