"""The daemon as a separate process: SIGTERM shuts it down cleanly, kill -9 loses nothing.

Each scenario runs over the fake Session (tests/test_daemon_fakes.py) and over the real
`pipeline.Session` with the small fixed predictor (tests/fake_predictor.py), so the atomic
writes, the state database and the catch-up are the real ones; only the model is stubbed to
keep the test fast. `test_watch_cli_*` runs the real `vaultkd watch` with the shipped model.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vaultkd.write.lock import instance_lock

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
QUIET = 0.2

_RUNNER = """
import sys, threading
from pathlib import Path
sys.path.insert(0, sys.argv[3])
from vaultkd.config import Config
from vaultkd.daemon.logs import setup_logging
from vaultkd.daemon.watcher import Daemon

vault, kind = Path(sys.argv[1]), sys.argv[2]
if kind == "fake":
    from test_daemon_fakes import FakeSession
    factory = lambda root, config: FakeSession(root, config)
else:
    from fake_predictor import FakePredictor
    from vaultkd.pipeline import Session
    factory = lambda root, config: Session.open(root, config=config, predictor=FakePredictor())
setup_logging(vault, verbose=False)
daemon = Daemon(vault, config=Config(), quiet_period=float(sys.argv[4]), session_factory=factory)
def announce():
    daemon.ready.wait()
    print("ready", flush=True)
threading.Thread(target=announce, daemon=True).start()
daemon.run()
print("stopped", daemon.stats.caught_up, flush=True)
"""


def _session_kinds() -> list[str]:
    return ["fake", "real"]


def require(kind: str, vault: Path) -> None:
    """Skip the real-Session variant only while a module it needs has not landed yet."""
    if kind != "real":
        return
    sys.path.insert(0, str(TESTS))
    try:
        from fake_predictor import FakePredictor

        from vaultkd.pipeline import Session

        Session.open(vault, predictor=FakePredictor()).close()
    except ImportError as exc:
        pytest.skip(f"the pipeline cannot run yet: {exc}")


def start(vault: Path, kind: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _RUNNER, str(vault), kind, str(TESTS), str(QUIET)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


def wait_ready(proc: subprocess.Popen[str]) -> None:
    """Block until the daemon caught up and watches (it prints "ready"), or fail with its stderr."""
    assert proc.stdout is not None and proc.stderr is not None
    line = proc.stdout.readline()  # "" when the process died
    if line.strip() != "ready":
        proc.kill()
        pytest.fail(f"daemon did not start: {line!r}\n{proc.stderr.read()}")


NOTE = (
    "We decided to move the launch to March. Priya will email the venue by Friday. "
    "Who owns the budget after Sam leaves? The smoke tests take two days to run by hand. "
    "Automating them would cut the release time in half.\n"
)


def make_vault(root: Path, n: int) -> Path:
    (root / ".obsidian").mkdir(parents=True)
    for i in range(n):
        folder = root / f"Area {i % 3}"
        folder.mkdir(exist_ok=True)
        (folder / f"Note {i}.md").write_text(f"# Note {i}\n\n{NOTE}", encoding="utf-8")
    return root


def generated_files(vault: Path) -> list[Path]:
    return sorted(p for p in (vault / "Distilled").rglob("*") if p.is_file())


def assert_whole(vault: Path, kind: str) -> None:
    """Every generated file is complete: never half of one."""
    for path in generated_files(vault):
        data = path.read_bytes()
        if path.name.endswith(".vaultkd-tmp"):
            continue  # an abandoned temp sibling; never a note, swept on the next start
        if kind == "fake":
            lines = data.decode("utf-8").splitlines()
            assert len(lines) == 2 and lines[1].startswith("source: "), path
            assert len(lines[1]) == len("source: ") + 64, path
        else:
            assert data.startswith(b"---\nvaultkd:\n"), path
            assert data.endswith(b"\n"), path


def up_to_date(vault: Path, kind: str) -> list[str]:
    """Notes whose distillation is missing or stale (empty when fully caught up)."""
    if kind == "fake":
        from test_daemon_fakes import FakeSession

        return FakeSession(vault).pending()
    from fake_predictor import FakePredictor

    from vaultkd.pipeline import Session

    with Session.open(vault, predictor=FakePredictor()) as session:
        return session.pending()


@pytest.mark.parametrize("kind", _session_kinds())
def test_sigterm_shuts_down_cleanly(tmp_path: Path, kind: str) -> None:
    vault = make_vault(tmp_path / "vault", 2)
    require(kind, vault)
    proc = start(vault, kind)
    try:
        wait_ready(proc)
        (vault / "Area 0" / "Note 0.md").write_text(f"# Changed\n\n{NOTE}{NOTE}", encoding="utf-8")
        time.sleep(QUIET + 0.1)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "stopped" in out
    assert_whole(vault, kind)
    # The instance lock is free again and the log says the daemon stopped.
    with instance_lock(vault):
        pass
    assert "stopped watching" in (vault / ".vaultkd" / "vaultkd.log").read_text(encoding="utf-8")


@pytest.mark.parametrize("kind", _session_kinds())
def test_kill_9_at_random_moments_loses_nothing(tmp_path: Path, kind: str) -> None:
    vault = make_vault(tmp_path / "vault", 24)
    require(kind, vault)
    rng = random.Random(5)
    notes = sorted(vault.rglob("Note *.md"))
    for round_ in range(5):
        # Edit a few notes while no daemon runs: the next start must catch up with them.
        for note in rng.sample(notes, 4):
            note.write_text(f"# Round {round_}\n\n{NOTE}", encoding="utf-8")
        proc = start(vault, kind)
        time.sleep(rng.uniform(0.3, 1.5))  # somewhere in start-up, catch-up or writing
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        assert_whole(vault, kind)
    # A last, uninterrupted start catches up with everything.
    proc = start(vault, kind)
    try:
        wait_ready(proc)
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert_whole(vault, kind)
    assert len([p for p in generated_files(vault) if p.suffix == ".md"]) == 24
    assert not [p for p in generated_files(vault) if p.name.endswith(".vaultkd-tmp")] or (
        kind == "fake"  # the fake does not sweep temp files; the real Session does on open
    )
    assert up_to_date(vault, kind) == []


def test_second_watch_process_exits_with_one_clear_line(tmp_path: Path) -> None:
    vault = make_vault(tmp_path / "vault", 1)
    proc = start(vault, "fake")
    try:
        wait_ready(proc)
        done = subprocess.run(
            [sys.executable, "-m", "vaultkd", "watch", str(vault)],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
            check=False,
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    assert done.returncode == 1
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert str(vault) in lines[0] and f"pid {proc.pid}" in lines[0]


# -- the real `vaultkd watch` with the shipped model ------------------------------------------


def _watch(vault: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "vaultkd", "watch", str(vault), "--quiet-period", str(QUIET)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


def _watching(vault: Path, times: int, timeout: float = 120) -> bool:
    """Wait until the log says the daemon started watching `times` times (after catching up)."""
    log = vault / ".vaultkd" / "vaultkd.log"
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if log.exists() and log.read_text(encoding="utf-8").count(": watching ") >= times:
            return True
        time.sleep(0.05)
    return False


def test_watch_cli_survives_kill_9_and_catches_up(tmp_path: Path) -> None:
    if not (ROOT / "models" / "student.onnx").is_file():
        pytest.skip("models/student.onnx is not there yet")
    vault = make_vault(tmp_path / "vault", 12)
    require("real", vault)
    rng = random.Random(9)
    for _ in range(2):
        proc = _watch(vault)
        time.sleep(rng.uniform(1.0, 3.0))  # model loading, catch-up or writing
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
        assert_whole(vault, "real")
    proc = _watch(vault)
    try:
        assert _watching(vault, 1), proc.stderr
        note = vault / "Area 0" / "Note 0.md"
        note.write_text(f"# Saved while watching\n\n{NOTE}", encoding="utf-8")
        out = vault / "Distilled" / "Area 0" / "Note 0.md"
        assert _wait(lambda: "Saved while watching" in out.read_text(encoding="utf-8"))
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert_whole(vault, "real")
    from vaultkd.model.runtime import load_predictor
    from vaultkd.pipeline import Session

    with Session.open(vault, predictor=load_predictor()) as session:
        assert session.pending() == []


def _wait(predicate: object, timeout: float = 60) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if predicate():  # type: ignore[operator]
                return True
        except FileNotFoundError:
            pass
        time.sleep(0.05)
    return False
