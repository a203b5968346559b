"""Distill the synthetic 10,000-note vault cold, then again unchanged.

    nice -n 10 python bench/distill_bench.py [--notes 10000] [--jobs N] [--seed 0]

Reports wall time, notes/s, sentences/s and peak RSS for the cold run (every note parsed,
predicted by the shipped model, distilled and written) and for a second run on the unchanged
vault, which must do next to no work (only hashing the files). Goal: cold < 60 s on 2 cores.

`--model-free` adds a third run: a fresh copy of the same vault, distilled cold with the cold
run's predictions already in its state db, so it does everything but the model and the
caching of its predictions (the graph, parsing, distilling, writing). It measures how far the
rest of the pipeline alone is from the goal.
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

from vaultkd.model.predictor import Predictions  # noqa: E402
from vaultkd.model.runtime import model_jobs  # noqa: E402
from vaultkd.pipeline import Session, note_embedding  # noqa: E402
from vaultkd.write.genfile import short_hash  # noqa: E402
from vaultkd.write.state import StateDB  # noqa: E402


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


def seed_predictions(done: Path, fresh: Path) -> int:
    """Copy every prediction cached in `done`'s state db into `fresh`'s (the same notes,
    byte for byte), through the state db's own API; returns how many notes were copied."""
    with Session.open(fresh) as session:
        model = session.predictor.version
        db = session.db
        old = StateDB.reader(done / ".vaultkd" / "state.db")
        copied = 0
        try:
            with db.transaction():
                for rel in session.sources():
                    source_hash = short_hash((fresh / rel).read_bytes())
                    arrays = old.prediction(rel, model, source_hash)
                    if arrays is None:
                        continue
                    emb = note_embedding(Predictions(*arrays), session.predictor.dim)
                    db.set_prediction(rel, model, source_hash, emb, arrays)
                    copied += 1
        finally:
            old.close()
    return copied


def same_files(a: Path, b: Path) -> bool:
    """Whether the two vaults hold the same notes, byte for byte (the state db aside)."""

    def files(root: Path) -> dict[str, Path]:
        return {
            p.relative_to(root).as_posix(): p
            for p in root.rglob("*")
            if p.is_file() and ".vaultkd" not in p.relative_to(root).parts
        }

    fa, fb = files(a), files(b)
    return fa.keys() == fb.keys() and all(fa[k].read_bytes() == fb[k].read_bytes() for k in fa)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--notes", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=None,
                    help="model threads (default: what `vaultkd distill --all` runs)")
    ap.add_argument("--json", action="store_true", help="print the numbers as JSON")
    ap.add_argument("--model-free", action="store_true",
                    help="also distil a fresh copy cold with the predictions cached (all but "
                    "the model)")
    args = ap.parse_args()
    args.jobs = args.jobs or model_jobs()
    with tempfile.TemporaryDirectory() as tmp:
        vault = Path(tmp) / "vault"
        t0 = time.perf_counter()
        make_vault(vault, args.notes, args.seed)
        made = time.perf_counter() - t0
        cold = run(vault, args.jobs)
        warm = run(vault, args.jobs)
        runs = {"cold": cold, "unchanged": warm}
        if args.model_free:
            fresh = Path(tmp) / "fresh"
            make_vault(fresh, args.notes, args.seed)
            seeded = seed_predictions(vault, fresh)
            runs["model-free"] = free = run(fresh, args.jobs)
            free["seeded"] = seeded
            free["same_files"] = same_files(vault, fresh)
    out = {"notes": args.notes, "jobs": args.jobs, "synth_s": round(made, 2), **runs}
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"synthetic vault: {args.notes} notes (seed {args.seed}), made in {made:.1f} s")
    for name, r in runs.items():
        print(
            f"{name:>10}: {r['wall_s']:7.1f} s wall ({r['open_s']:.1f} s open, "
            f"{r['pending_s']:.1f} s pending) | {r['notes']} notes, {r['notes_per_s']} notes/s"
            f" | {r['sentences']} sentences, {r['sentences_per_s']} sentences/s | peak RSS "
            f"{r['peak_rss_mb']} MB (largest worker {r['peak_rss_child_mb']} MB) | "
            f"{r['statuses']}"
        )
        if "seeded" in r:
            print(f"{'':>12}{r['seeded']} notes' predictions cached; it wrote the cold run's "
                  f"files byte for byte: {r['same_files']}")
        print(
            f"{'':>12}pass 1 {r['pass1_s']:.1f} s ({r['pass1_cpu_s']:.1f} CPU-s), pass 2 "
            f"{r['pass2_s']:.1f} s ({r['pass2_cpu_s']:.1f} CPU-s here, "
            f"{r['pass2_workers_cpu_s']:.1f} in its workers)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
