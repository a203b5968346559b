"""Golden files: what `vaultkd distill --all` writes for a few `sample_vault/` notes.

The run uses the shipped ONNX model on a copy of the sample vault (the whole vault is
distilled, so connections are the real ones). After a reviewed change to distillation,
rendering or the model, refresh them with

    python -m tests.golden.refresh

and review `git diff tests/golden/files` before committing.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_vault"
FILES = Path(__file__).resolve().parent / "files"
GOLDEN_NOTES = (
    "Meetings/2026-03-16 Retro.md",
    "Reading/Make It Stick.md",
    "Projects/Offline Mode Plan.md",
    "Journal/2026-02-15 Weekly Review.md",
    "Incidents/2026-02-11 Sync Queue Outage.md",
)


def copy_sample_vault(dest: Path) -> Path:
    """A clean copy: outputs of an earlier run in the working tree are left behind."""
    shutil.copytree(
        SAMPLE, dest, ignore=shutil.ignore_patterns(".vaultkd", "Distilled", "Atomic")
    )
    return dest


def golden_outputs(vault: Path) -> dict[str, bytes]:
    """Distill the whole vault, then return the files written for GOLDEN_NOTES by path."""
    from vaultkd.pipeline import Session

    with Session.open(vault) as session:
        results = session.distill(session.pending())
        failed = [r.message for r in results if r.status in ("error", "retry")]
        if failed:
            raise RuntimeError("golden run failed: " + "; ".join(failed))
        paths = sorted(
            o.path for note in GOLDEN_NOTES for o in session.db.outputs(note)
        )
    return {p: (vault / p).read_bytes() for p in paths}


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        outputs = golden_outputs(copy_sample_vault(Path(tmp) / "vault"))
    if FILES.exists():
        shutil.rmtree(FILES)
    for rel, data in outputs.items():
        target = FILES / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    print(f"wrote {len(outputs)} golden file(s) under {FILES.relative_to(ROOT)}; review the diff")
    return 0


if __name__ == "__main__":
    sys.exit(main())
