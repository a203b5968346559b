"""Daemon benchmark: save-to-disk latency, catch-up time and memory on a synthetic vault.

1. Latency: a running daemon (real observer, real Session, the shipped model) on a small vault;
   a note is saved 100 times, each time waiting for its distillation. Reported: time from the
   end of the quiet period (save time + quiet period) to the new distillation on disk, median
   and p95. Goal: < 150 ms.
2. Catch-up: a fresh process starts the daemon on the synthetic vault (`bench/synth.py`), catches
   up (distils every note), and reports the wall time and its resident memory once caught up
   (VmRSS) and at peak (ru_maxrss). Goal: < 250 MB.

    nice -n 10 python bench/daemon_bench.py --notes 10000 --saves 100
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from vaultkd.config import Config  # noqa: E402
from vaultkd.daemon.watcher import Daemon  # noqa: E402

SENTENCES = [
    "We decided to move the launch to March.",
    "Priya will email the venue by Friday.",
    "Who owns the budget after Sam leaves?",
    "The smoke tests take two days to run by hand.",
    "Automating them would cut the release time in half.",
    "Customers asked for offline sync twice this month.",
]


def _rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _peak_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / (1024 if sys.platform == "darwin" else 1)


def _start(daemon: Daemon) -> threading.Thread:
    thread = threading.Thread(target=daemon.run, kwargs={"install_signals": False}, daemon=True)
    thread.start()
    if not daemon.ready.wait(timeout=3600):
        raise SystemExit("daemon did not become ready")
    return thread


def latency(saves: int, quiet: float) -> dict[str, object]:
    root = Path(tempfile.mkdtemp(prefix="vaultkd-daemon-bench-")) / "vault"
    (root / ".obsidian").mkdir(parents=True)
    for i in range(20):  # a few neighbours, so connections have something to find
        text = " ".join(SENTENCES[(i + k) % len(SENTENCES)] for k in range(4))
        (root / f"Other {i}.md").write_text(f"# Other {i}\n\n{text}\n", encoding="utf-8")
    note = root / "Meetings" / "Weekly.md"
    note.parent.mkdir()
    daemon = Daemon(root, config=Config(), quiet_period=quiet)
    thread = _start(daemon)
    out = root / daemon.config.distilled_folder / "Meetings" / "Weekly.md"
    samples: list[float] = []
    try:
        for i in range(saves):
            before = out.stat().st_mtime_ns if out.exists() else None
            body = " ".join(SENTENCES[(i + k) % len(SENTENCES)] for k in range(5))
            note.write_text(f"# Weekly {i}\n\nSave number {i}. {body}\n", encoding="utf-8")
            saved = time.monotonic()
            deadline = saved + 30
            while time.monotonic() < deadline:
                if out.exists() and out.stat().st_mtime_ns != before:
                    break
                time.sleep(0.001)
            else:
                raise SystemExit(f"save {i}: no distillation within 30 s")
            samples.append(time.monotonic() - saved - quiet)
    finally:
        daemon.stop()
        thread.join(timeout=30)
    ms = sorted(s * 1000 for s in samples)
    return {
        "saves": saves,
        "quiet_period_s": quiet,
        "median_ms": round(statistics.median(ms), 1),
        "p95_ms": round(ms[int(0.95 * (len(ms) - 1))], 1),
        "max_ms": round(ms[-1], 1),
        "statuses": dict(daemon.stats.statuses),
    }


def catch_up_child(vault: Path) -> None:
    """Run in a fresh process: start the daemon, wait until caught up, report time and memory."""
    start = time.monotonic()
    daemon = Daemon(vault, config=Config(), quiet_period=2.0, batch_size=64)
    thread = _start(daemon)
    elapsed = time.monotonic() - start
    rss = _rss_mb()
    daemon.stop()
    thread.join(timeout=60)
    result = {
        "caught_up": daemon.stats.caught_up,
        "catch_up_s": round(elapsed, 1),
        "notes_per_s": round(daemon.stats.caught_up / elapsed, 1) if elapsed else None,
        "rss_after_catch_up_mb": round(rss, 1),
        "peak_rss_mb": round(_peak_mb(), 1),
        "statuses": dict(daemon.stats.statuses),
    }
    print(json.dumps(result))


def catch_up(notes: int, seed: int) -> dict[str, object]:
    try:
        from synth import make_vault
    except ImportError:
        raise SystemExit("bench/synth.py is missing; run with --skip-catch-up") from None

    root = Path(tempfile.mkdtemp(prefix="vaultkd-daemon-bench-")) / "vault"
    made = time.monotonic()
    make_vault(root, notes, seed)
    made = time.monotonic() - made
    done = subprocess.run(
        [sys.executable, __file__, "--child-catch-up", str(root)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"catch-up child failed:\n{done.stderr}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result.update({"notes": notes, "seed": seed, "synth_s": round(made, 1)})
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--notes", type=int, default=10_000, help="synthetic vault size")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--saves", type=int, default=100, help="saves for the latency test")
    parser.add_argument("--quiet-period", type=float, default=0.5)
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-catch-up", action="store_true")
    parser.add_argument("--child-catch-up", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_catch_up:
        catch_up_child(args.child_catch_up)
        return
    report: dict[str, object] = {"cpus": os.cpu_count()}
    if not args.skip_latency:
        report["latency"] = latency(args.saves, args.quiet_period)
        print(json.dumps(report["latency"]), flush=True)
    if not args.skip_catch_up:
        report["catch_up"] = catch_up(args.notes, args.seed)
        print(json.dumps(report["catch_up"]), flush=True)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
