"""`python -m vaultkd.train`: the whole training pipeline (same options as `vaultkd train`)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from vaultkd.train import MissingTrainExtra

    ap = argparse.ArgumentParser(prog="python -m vaultkd.train", description=__doc__)
    ap.add_argument("--smoke", action="store_true", help="tiny data, a few minutes, tmp dir")
    ap.add_argument("--run-dir", type=Path, default=None, help="default runs/full")
    ap.add_argument("--out", type=Path, default=None, help="model folder (default models/)")
    ap.add_argument("--stage", action="append", default=[], help="run only this stage")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--corpus", type=Path, default=None, help="folder of .txt transfer text")
    ap.add_argument("--transfer-limit", type=int, default=150_000)
    ap.add_argument("--set", action="append", default=[], help="KDConfig key=value")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    try:
        from vaultkd.train.pipeline import run_command

        cfg = run_command(
            smoke=args.smoke,
            run_dir=args.run_dir,
            out=args.out,
            stages=tuple(args.stage),
            seed=args.seed,
            threads=args.threads,
            corpus=args.corpus,
            transfer_limit=args.transfer_limit,
            sets=tuple(args.set),
        )
    except MissingTrainExtra as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (FileNotFoundError, ValueError, KeyError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"done; run dir {cfg.run_dir}, model folder {cfg.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
