"""Distill the synthetic 10,000-note vault cold, then again unchanged.

    nice -n 10 python bench/distill_bench.py [--notes 10000] [--jobs N] [--seed 0]

Reports wall time, notes/s, sentences/s and peak RSS for the cold run (every note parsed,
predicted by the shipped model, distilled and written) and for a second run on the unchanged
vault, which must do next to no work (only hashing the files). Goal: cold < 60 s on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synth import make_vault  # noqa: E402

from vaultkd.model.runtime import model_jobs  # noqa: E402
from vaultkd.pipeline import Session  # noqa: E402


def peak_rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    # Linux reports kilobytes, macOS bytes.
    rss = resource.getrusage(who).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


def run(vault: Path, jobs: int) -> dict[str, float]:
    t0 = time.perf_counter()
    with Session.open(vault) as session:
        opened = time.perf_counter() - t0
        todo = session.pending()
        listed = time.perf_counter() - t0
        results = session.distill(todo, jobs=jobs, reports=False)
    wall = time.perf_counter() - t0
    sentences = sum(r.sentences for r in results)
    statuses: dict[str, int] = {}
    for r in results:
        statuses[r.status] = statuses.get(r.status, 0) + 1
    return {
        "wall_s": round(wall, 2),
        "open_s": round(opened, 2),
        "pending_s": round(listed - opened, 2),
        "notes": len(todo),
        "notes_per_s": round(len(todo) / wall, 1) if wall else 0.0,
        "sentences": sentences,
        "sentences_per_s": round(sentences / wall, 1) if wall else 0.0,
        "peak_rss_mb": round(peak_rss_mb(), 1),
        # The largest child so far: the graph's readers and pass 2's workers (forked, so
        # much of it is pages shared with this process).
        "peak_rss_child_mb": round(peak_rss_mb(resource.RUSAGE_CHILDREN), 1),
        "statuses": statuses,  # type: ignore[dict-item]
        # Pass 1 (parse, segment, model) and pass 2 (connections, distill, render, write):
        # wall and CPU seconds, the pass-2 workers' CPU apart.
        **session.timings,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--notes", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=None,
                    help="model threads (default: what `vaultkd distill --all` runs)")
    ap.add_argument("--json", action="store_true", help="print the numbers as JSON")
    args = ap.parse_args()
    args.jobs = args.jobs or model_jobs()
    with tempfile.TemporaryDirectory() as tmp:
        vault = Path(tmp) / "vault"
        t0 = time.perf_counter()
        make_vault(vault, args.notes, args.seed)
        made = time.perf_counter() - t0
        cold = run(vault, args.jobs)
        warm = run(vault, args.jobs)
    out = {"notes": args.notes, "jobs": args.jobs, "synth_s": round(made, 2), "cold": cold,
           "unchanged": warm}
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"synthetic vault: {args.notes} notes (seed {args.seed}), made in {made:.1f} s")
    for name, r in (("cold", cold), ("unchanged", warm)):
        print(
            f"{name:>9}: {r['wall_s']:7.1f} s wall ({r['open_s']:.1f} s open, "
            f"{r['pending_s']:.1f} s pending) | {r['notes']} notes, {r['notes_per_s']} notes/s"
            f" | {r['sentences']} sentences, {r['sentences_per_s']} sentences/s | peak RSS "
            f"{r['peak_rss_mb']} MB (largest worker {r['peak_rss_child_mb']} MB) | "
            f"{r['statuses']}"
        )
        print(
            f"{'':>11}pass 1 {r['pass1_s']:.1f} s ({r['pass1_cpu_s']:.1f} CPU-s), pass 2 "
            f"{r['pass2_s']:.1f} s ({r['pass2_cpu_s']:.1f} CPU-s here, "
            f"{r['pass2_workers_cpu_s']:.1f} in its workers)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
