"""`python -m vaultkd.train --smoke`: the whole pipeline on tiny data, then resumed."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="the [train] extra (torch) is not installed")

from vaultkd.train.data import data_root  # noqa: E402

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (data_root() / "mrda").is_dir(),
        reason=f"the public data sets are not at {data_root()} (set VAULTKD_DATA)",
    ),
]


def _train(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "vaultkd.train", *args],
        capture_output=True,
        text=True,
        timeout=1500,
    )


@pytest.fixture(scope="module")
def smoke_run() -> Iterator[Path]:
    # Not under pytest's basetemp: concurrent pytest sessions prune old basetemp folders,
    # which could delete this run while it is still being read.
    run = Path(tempfile.mkdtemp(prefix="vaultkd-smoke-test-"))
    try:
        proc = _train("--smoke", "--run-dir", str(run), "--threads", "1")
        assert proc.returncode == 0, proc.stderr[-3000:]
        yield run
    finally:
        shutil.rmtree(run, ignore_errors=True)


def test_smoke_writes_a_loadable_model(smoke_run: Path) -> None:
    from vaultkd.model.runtime import OnnxPredictor

    out = smoke_run / "models"
    for name in ("student.onnx", "tokenizer.json", "student.json", "metrics.json", "model-card.md"):
        assert (out / name).is_file(), name
    predictor = OnnxPredictor(out, threads=1)
    preds = predictor.predict(["Who owns staging?", "Book the venue."])
    assert preds.role_probs.shape == (2, 5)
    # The context stage fitted salience-in-context weights on the exported student.
    from vaultkd.distill.salience import ContextWeights

    assert ContextWeights.from_manifest(predictor.manifest) is not None
    assert predictor.manifest["salience_in_context"]["report"]["docs"] > 0
    assert not (Path("models") / "smoke").exists()


def test_smoke_metrics_cover_every_model_and_goal(smoke_run: Path) -> None:
    m = json.loads((smoke_run / "models" / "metrics.json").read_text())
    assert m["smoke"] is True
    assert {"teacher", "student", "student_hard_labels_only"} <= set(m["quality"])
    for q in m["quality"].values():
        assert "claimbuster_test" in q["role"] and "scitldr_test" in q["salience"]
    assert {"teacher_pytorch", "teacher_onnx_fp32", "student_onnx_int8"} <= set(
        m["speed_sentences_per_s"]
    )
    assert all(v > 0 for v in m["speed_sentences_per_s"].values())
    assert -1.0 <= m["embedding"]["spearman_pairwise_cosine"] <= 1.0
    assert set(m["goals"]["met"]) == {
        "f1_95pct_of_teacher",
        "speed_30x",
        "size_20x",
        "spearman_0.8",
    }
    # A smoke student barely trains (near-tie logits), so the export gate is 0.9 there; the
    # shipped model's 0.99 gate is checked in test_packaging on models/metrics.json.
    assert m["parity"]["role_agreement"] >= 0.9
    card = (smoke_run / "models" / "model-card.md").read_text()
    assert "## Goals" in card and "student_hard_labels_only" in card


def test_run_log_records_dataset_sizes(smoke_run: Path) -> None:
    recs = [json.loads(line) for line in (smoke_run / "log.jsonl").read_text().splitlines()]
    starts = [r for r in recs if r["event"] == "start"]
    assert len(starts) == 2  # the student and the hard-label ablation
    assert starts[0]["train"]["teacher_logits"] > 0
    assert "teacher_logits" not in starts[1]["train"]
    assert any(r["event"] == "transfer" and r["sentences"] > 0 for r in recs)


def test_stages_resume_from_the_run_dir(smoke_run: Path) -> None:
    before = (smoke_run / "student.pt").stat().st_mtime_ns
    proc = _train(
        "--smoke",
        "--run-dir",
        str(smoke_run),
        "--threads",
        "1",
        "--stage",
        "student",
        "--stage",
        "tokenizer",
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (smoke_run / "student.pt").stat().st_mtime_ns == before


def test_unknown_stage_and_bad_knob_fail_cleanly(tmp_path: Path) -> None:
    proc = _train("--smoke", "--run-dir", str(tmp_path), "--stage", "polish")
    assert proc.returncode == 1 and "unknown stages ['polish']" in proc.stderr
    proc = _train("--smoke", "--run-dir", str(tmp_path), "--set", "alfa=0.3")
    assert proc.returncode == 1 and "unknown KDConfig key 'alfa'" in proc.stderr
