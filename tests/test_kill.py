"""`kill -9` at random moments of `vaultkd distill --all --block-refs` (a real subprocess with
the shipped model) leaves every file either as it was or as a finished run writes it, and the
next run finishes the job."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sample import pristine_sample_vault

from vaultkd.write.atomic import TEMP_SUFFIX

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = pristine_sample_vault()
# A handful of notes keeps each run short while still writing dozens of files, sources included.
NOTES = (
    "Meetings/2026-03-16 Retro.md",
    "Meetings/2026-03-02 Pricing Discussion.md",
    "Reading/Make It Stick.md",
    "Projects/Offline Mode Plan.md",
    "Incidents/2026-02-11 Sync Queue Outage.md",
    "Journal/2026-02-15 Weekly Review.md",
)
EXTRA = ("Reading", "Lectures", "Research")
MAX_ROUNDS = 20  # stop early once WANTED rounds were killed half way through the writes
WANTED = 3


def small_vault(dest: Path) -> Path:
    (dest / ".obsidian").mkdir(parents=True)
    for rel in NOTES:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SAMPLE / rel, dest / rel)
    # A few more notes from the sample vault: the writes must last long enough for a random
    # kill to land among them (a run writes ~7 files per note in a few ms each).
    extra = sorted(p for p in SAMPLE.rglob("*.md") if p.relative_to(SAMPLE).parts[0] in EXTRA)
    for src in extra:
        rel = src.relative_to(SAMPLE)
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest / rel)
    return dest


def files(root: Path) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for p in root.rglob("*"):
        rel = p.relative_to(root)
        if ".vaultkd" in rel.parts or not p.is_file():
            continue
        try:
            out[rel.as_posix()] = p.read_bytes()
        except FileNotFoundError:
            continue  # a temporary file renamed into place while we listed the folder
    return out


def stamps(root: Path) -> dict[str, tuple[int, int]]:
    """(size, mtime) of every finished file: cheap enough to poll while a run writes."""
    out: dict[str, tuple[int, int]] = {}
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".vaultkd"]
        for name in names:
            if name.endswith(TEMP_SUFFIX):
                continue
            try:
                st = os.stat(os.path.join(folder, name))
            except FileNotFoundError:
                continue
            out[os.path.join(folder, name)] = (st.st_size, st.st_mtime_ns)
    return out


def written(root: Path, before: dict[str, tuple[int, int]]) -> int:
    return sum(before.get(k) != v for k, v in stamps(root).items())


def command(vault: Path) -> list[str]:
    return [sys.executable, "-m", "vaultkd", "distill", "--all", "--block-refs", str(vault)]


def run_to_end(vault: Path) -> None:
    done = subprocess.run(command(vault), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


def timed_reference(vault: Path) -> tuple[float, float]:
    """Run to the end, returning seconds to the first and to the last change of a file."""
    seen = files(vault)
    started = time.monotonic()
    proc = subprocess.Popen(command(vault), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    first = last = None
    while proc.poll() is None:
        now = files(vault)
        if now != seen:
            last = time.monotonic() - started
            first = first if first is not None else last
            seen = now
        time.sleep(0.005)
    end = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
    # After the last write the process only tidies up and exits: no point killing it there.
    return (first if first is not None else 0.0), (last if last is not None else end)


@pytest.mark.slow
def test_sigkill_leaves_old_or_new_and_next_run_finishes(tmp_path: Path) -> None:
    reference = small_vault(tmp_path / "reference")
    old = files(reference)
    before = stamps(reference)
    first_write, last_write = timed_reference(reference)
    new = files(reference)
    assert new != old
    total = written(reference, before)  # files a whole run writes (sources edited included)

    rng = random.Random(1234)
    partial = 0  # rounds killed with some files already new and some still old
    rounds = 0
    for round_ in range(MAX_ROUNDS):
        if partial >= WANTED:
            break
        rounds += 1
        vault = small_vault(tmp_path / f"vault{round_}")
        start = stamps(vault)
        proc = subprocess.Popen(
            command(vault), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        if round_ % 3 == 2:
            # Any moment from the first write to the last (start-up and the model come first).
            time.sleep(rng.uniform(first_write, last_write))
        else:
            # After a random number of finished files: lands among the writes however loaded
            # the machine is.
            target = rng.randint(1, max(1, total - total // 4))
            while proc.poll() is None and written(vault, start) < target:
                time.sleep(0.001)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        now = files(vault)
        for rel, data in now.items():
            if rel.endswith(TEMP_SUFFIX):
                continue  # a temp sibling: swept by the next run (checked below)
            assert data in (old.get(rel), new.get(rel)), f"{rel} is neither old nor new"
        for rel in old:
            assert rel in now, f"{rel} vanished"
        if any(d == new.get(r) != old.get(r) for r, d in now.items()) and now != new:
            partial += 1
        run_to_end(vault)
        assert files(vault) == new, "the run after a kill did not finish the job"
        shutil.rmtree(vault)
    print(f"{partial}/{rounds} rounds killed between writes")
    assert partial > 0, "no round was killed while writing; the test proved nothing"


WORKER_SCRIPT = """
import os, sys, time
from pathlib import Path
sys.path.insert(0, {tests!r})
from fake_predictor import FakePredictor
import vaultkd.pipeline as pipeline
pipeline.CHUNK_NOTES = 4
pipeline._PARALLEL_MIN = 4
pipeline.distill_workers = lambda: 1
parent = os.getpid()
real = pipeline.Session._compute

def compute(self, p, *args):
    if os.getpid() != parent:
        Path({pid_file!r}).write_text(str(os.getpid()))
        time.sleep(60)  # the writer is killed meanwhile
    return real(self, p, *args)

pipeline.Session._compute = compute
with pipeline.Session.open(Path({vault!r}), predictor=FakePredictor()) as s:
    s.distill(s.sources())
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone but for its exit status (nobody reaps an orphan's child at once).
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pass-2 workers: Linux only")
def test_pass_two_workers_leave_when_the_writer_is_killed(tmp_path: Path) -> None:
    vault = small_vault(tmp_path / "v")
    pid_file = tmp_path / "worker.pid"
    script = WORKER_SCRIPT.format(
        tests=str(ROOT / "tests"), pid_file=str(pid_file), vault=str(vault)
    )
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        while not pid_file.exists() or not pid_file.read_text():
            assert proc.poll() is None, "the run ended before its worker started"
            assert time.monotonic() < deadline, "no pass-2 worker started"
            time.sleep(0.05)
        worker = int(pid_file.read_text())
        assert _alive(worker)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        deadline = time.monotonic() + 10
        while _alive(worker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(worker), "the worker outlived its killed writer"
    finally:
        if proc.poll() is None:
            proc.kill()
        if pid_file.exists() and pid_file.read_text() and _alive(int(pid_file.read_text())):
            os.kill(int(pid_file.read_text()), signal.SIGKILL)
