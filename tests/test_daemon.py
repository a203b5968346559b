"""The daemon with a real watchdog observer on a temporary vault, over a fake Session.

The fake (tests/test_daemon_fakes.py) has `pipeline.Session`'s interface and really writes
files; tests/test_daemon_real.py runs the same scenarios over the real pipeline.
"""

from __future__ import annotations

import errno
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from test_daemon_fakes import FakeSession

from vaultkd.config import Config
from vaultkd.daemon import watcher
from vaultkd.daemon.logs import setup_logging
from vaultkd.daemon.watcher import Daemon
from vaultkd.write.lock import VaultLocked, write_lock

QUIET = 0.2


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


@contextmanager
def running(
    vault: Path, session: FakeSession, **kwargs: object
) -> Iterator[tuple[Daemon, FakeSession]]:
    daemon = Daemon(
        vault,
        config=Config(),
        quiet_period=QUIET,
        session_factory=lambda root, config: session,
        **kwargs,  # type: ignore[arg-type]
    )
    errors: list[BaseException] = []

    def run() -> None:
        try:
            daemon.run(install_signals=False)
        except BaseException as exc:  # surfaced in the test thread below
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert wait_for(lambda: daemon.ready.is_set() or bool(errors)), "daemon did not start"
    if errors:
        raise errors[0]
    try:
        yield daemon, session
    finally:
        daemon.stop()
        thread.join(timeout=10)
        assert not thread.is_alive(), "daemon did not stop"
        assert session.closed
        if errors:
            raise errors[0]


def settle(daemon: Daemon) -> None:
    """Wait until nothing is pending and a couple of quiet periods passed without work."""
    wait_for(lambda: len(daemon.scheduler) == 0)
    time.sleep(QUIET * 3)
    wait_for(lambda: len(daemon.scheduler) == 0)


@pytest.fixture
def vault(tmp_path: Path) -> Path:
    root = tmp_path / "vault"
    (root / ".obsidian").mkdir(parents=True)
    (root / "Meetings").mkdir()
    return root


def test_save_writes_distillation(vault: Path) -> None:
    with running(vault, FakeSession(vault)) as (daemon, session):
        note = vault / "Meetings" / "Retro.md"
        note.write_text("We decided to ship.\n", encoding="utf-8")
        out = vault / "Distilled" / "Meetings" / "Retro.md"
        assert wait_for(out.exists)
    assert session.distilled["Meetings/Retro.md"] == 1
    # The pipeline ran on the daemon's own thread (where the Session was opened).
    assert session.thread is not None and session.thread != threading.get_ident()


def test_rapid_saves_give_one_distillation(vault: Path) -> None:
    note = vault / "Note.md"
    with running(vault, FakeSession(vault)) as (daemon, session):
        for i in range(15):
            note.write_text(f"Draft {i}. It keeps changing.\n", encoding="utf-8")
            time.sleep(QUIET / 5)
        assert wait_for(lambda: session.distilled["Note.md"] >= 1)
        settle(daemon)
    assert session.distilled["Note.md"] == 1
    assert session.writes["Distilled/Note.md"] == 1
    assert "Draft 14" in note.read_text(encoding="utf-8")


def test_editor_save_by_temp_file_and_rename(vault: Path) -> None:
    with running(vault, FakeSession(vault)) as (daemon, session):
        tmp = vault / "Note.md.tmp"
        tmp.write_text("Saved the vim way.\n", encoding="utf-8")
        os.replace(tmp, vault / "Note.md")
        assert wait_for(lambda: (vault / "Distilled" / "Note.md").exists())
        settle(daemon)
    assert session.distilled == {"Note.md": 1}


def test_burst_of_500_files_each_processed_once(vault: Path) -> None:
    with running(vault, FakeSession(vault), batch_size=64) as (daemon, session):
        for i in range(500):
            folder = vault / f"Sync{i % 10}"
            folder.mkdir(exist_ok=True)
            (folder / f"Note {i}.md").write_text(f"Note {i} says something.\n", encoding="utf-8")
        assert wait_for(lambda: sum(session.distilled.values()) >= 500, timeout=60)
        settle(daemon)
        # Bounded memory: the scheduler held one entry per path, and is empty now.
        assert len(daemon.scheduler) == 0
    assert len(session.distilled) == 500
    assert set(session.distilled.values()) == {1}
    assert sum(session.writes.values()) == 500  # one write per distillation, no more
    assert session.calls["distill"] <= 500 // 64 + 10  # batched, not one call per event


def test_own_writes_trigger_nothing(vault: Path) -> None:
    # inline=True: the fake also rewrites the source, as `--inline` does.
    with running(vault, FakeSession(vault, inline=True)) as (daemon, session):
        (vault / "Note.md").write_text("A claim worth keeping.\n", encoding="utf-8")
        assert wait_for(lambda: session.distilled["Note.md"] == 1)
        settle(daemon)
        time.sleep(QUIET * 3)
        assert daemon.stats.own_writes_ignored >= 1
    assert session.distilled == {"Note.md": 1}
    assert session.writes == {"Distilled/Note.md": 1, "Note.md": 1}


def test_edit_during_distillation_keeps_the_edit(vault: Path) -> None:
    session = FakeSession(vault)
    note = vault / "Note.md"

    def user_saves(rel: str) -> None:
        if session.distilled[rel] == 1:
            note.write_text("Second version, typed while vaultkd worked.\n", encoding="utf-8")

    session.before_write = user_saves
    with running(vault, session) as (daemon, _):
        note.write_text("First version.\n", encoding="utf-8")
        assert wait_for(lambda: session.distilled["Note.md"] >= 2)
        settle(daemon)
    assert note.read_text(encoding="utf-8") == "Second version, typed while vaultkd worked.\n"
    assert daemon.stats.statuses["retry"] == 1
    assert daemon.stats.statuses["written"] == 1
    out = (vault / "Distilled" / "Note.md").read_text(encoding="utf-8")
    assert session.state["Note.md"]["source"] in out  # describes the version the user kept


def test_ignored_folders_and_files(vault: Path) -> None:
    with running(vault, FakeSession(vault)) as (daemon, session):
        (vault / ".obsidian" / "workspace.md").write_text("x", encoding="utf-8")
        (vault / ".trash").mkdir()
        (vault / ".trash" / "Old.md").write_text("x", encoding="utf-8")
        (vault / "picture.png").write_bytes(b"\x89PNG")
        (vault / "Distilled").mkdir()
        (vault / "Distilled" / "Hand edit.md").write_text("x", encoding="utf-8")
        (vault / "Real.md").write_text("Counts.\n", encoding="utf-8")
        assert wait_for(lambda: session.distilled["Real.md"] == 1)
        settle(daemon)
    assert session.distilled == {"Real.md": 1}


def test_move_and_delete_reach_the_session(vault: Path) -> None:
    (vault / "Old name.md").write_text("Moved soon.\n", encoding="utf-8")
    (vault / "Doomed.md").write_text("Deleted soon.\n", encoding="utf-8")
    with running(vault, FakeSession(vault)) as (daemon, session):
        assert session.distilled == {"Old name.md": 1, "Doomed.md": 1}  # caught up at start
        os.replace(vault / "Old name.md", vault / "Meetings" / "New name.md")
        (vault / "Doomed.md").unlink()
        assert wait_for(lambda: session.deleted == ["Doomed.md"])
        assert wait_for(lambda: session.moved == [("Old name.md", "Meetings/New name.md")])
        settle(daemon)
    # Moved, content unchanged: the state moved with it, so distill had nothing to redo.
    assert session.distilled["Meetings/New name.md"] == 1
    assert "Meetings/New name.md" in session.state
    assert session.writes["Distilled/Meetings/New name.md"] == 0


def test_catch_up_on_start_with_progress(vault: Path) -> None:
    for i in range(5):
        (vault / f"N{i}.md").write_text(f"Note {i}.\n", encoding="utf-8")
    seen: list[tuple[int, int]] = []
    with running(
        vault, FakeSession(vault), progress=lambda d, t: seen.append((d, t)), batch_size=2
    ):
        pass
    assert seen[0] == (0, 5) and seen[-1] == (5, 5)
    # A second start finds nothing to do.
    again = FakeSession(vault)
    with running(vault, again) as (daemon, _):
        pass
    assert daemon.stats.caught_up == 0 and not again.distilled


def test_second_watcher_is_refused(vault: Path) -> None:
    with running(vault, FakeSession(vault)):
        second = Daemon(vault, config=Config(), session_factory=lambda r, c: FakeSession(r))
        with pytest.raises(VaultLocked, match="already watching"):
            second.run(install_signals=False)


def test_inotify_limit_falls_back_to_polling(
    vault: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    class ExhaustedObserver(watcher.PollingObserver):
        def start(self) -> None:
            raise OSError(errno.ENOSPC, "inotify watch limit reached")

    monkeypatch.setattr(watcher, "Observer", ExhaustedObserver)
    caplog.set_level(logging.WARNING, logger="vaultkd")
    with running(vault, FakeSession(vault), poll_interval=0.1) as (daemon, session):
        assert daemon.stats.observer == "PollingObserver"
        (vault / "Note.md").write_text("Seen by polling.\n", encoding="utf-8")
        assert wait_for(lambda: session.distilled["Note.md"] == 1)
    assert "fs.inotify.max_user_watches" in caplog.text


def test_forced_polling(vault: Path) -> None:
    with running(vault, FakeSession(vault), polling=True, poll_interval=0.1) as (daemon, session):
        assert daemon.stats.observer == "PollingObserver"
        (vault / "Note.md").write_text("Seen by polling.\n", encoding="utf-8")
        assert wait_for(lambda: session.distilled["Note.md"] == 1)


def test_log_file_is_written(vault: Path) -> None:
    detach = setup_logging(vault, verbose=False)
    try:
        with running(vault, FakeSession(vault)) as (_, session):
            (vault / "Note.md").write_text("Logged.\n", encoding="utf-8")
            assert wait_for(lambda: session.distilled["Note.md"] == 1)
    finally:
        detach()
    text = (vault / ".vaultkd" / "vaultkd.log").read_text(encoding="utf-8")
    assert "watching" in text and "Note.md: written" in text


def test_folder_moved_out_of_the_vault_deletes_its_notes(vault: Path, tmp_path: Path) -> None:
    folder = vault / "Projects"
    (folder / "Sub").mkdir(parents=True)
    for rel in ("A.md", "B.md", "Sub/C.md"):
        (folder / rel).write_text(f"{rel} has a point.\n", encoding="utf-8")
    (vault / "Stays.md").write_text("Not in the folder.\n", encoding="utf-8")
    with running(vault, FakeSession(vault)) as (daemon, session):
        assert len(session.distilled) == 4  # caught up at start
        # To the system trash, say: inotify reports one folder event, nothing per file.
        os.rename(folder, tmp_path / "Trash-Projects")
        expected = {"Projects/A.md", "Projects/B.md", "Projects/Sub/C.md"}
        assert wait_for(lambda: set(session.deleted) == expected)
        settle(daemon)
    assert sorted(session.deleted) == sorted(expected)


def test_a_failing_note_does_not_hold_its_batch_hostage(vault: Path) -> None:
    session = FakeSession(vault)
    session.explode = {"Bad.md"}
    with running(vault, session) as (daemon, _):
        for name in ("Good 1.md", "Bad.md", "Good 2.md"):
            (vault / name).write_text(f"{name} says something.\n", encoding="utf-8")
        assert wait_for(lambda: {"Good 1.md", "Good 2.md"} <= set(session.state))
        settle(daemon)
    assert "Bad.md" not in session.state
    assert daemon.stats.statuses["error"] == 1
    assert daemon.stats.statuses["written"] == 2


def test_second_signal_stops_at_once(vault: Path) -> None:
    daemon = Daemon(vault, config=Config(), session_factory=lambda r, c: FakeSession(r))
    daemon.stop(signal.SIGTERM, None)  # first: finish the batch, then stop
    assert daemon.stopping
    with pytest.raises(KeyboardInterrupt):
        daemon.stop(signal.SIGTERM, None)


def test_distill_gets_the_write_lock_during_a_long_catch_up(vault: Path) -> None:
    for i in range(40):
        (vault / f"N{i}.md").write_text(f"Note {i}.\n", encoding="utf-8")
    session = FakeSession(vault)
    session.before_write = lambda rel: time.sleep(0.05)  # a slow model: ~2 s of catch-up
    daemon = Daemon(vault, config=Config(), batch_size=4, session_factory=lambda r, c: session)
    thread = threading.Thread(target=daemon.run, kwargs={"install_signals": False})
    thread.start()
    try:
        assert wait_for(lambda: sum(session.distilled.values()) > 0)
        # What `vaultkd distill` does while the daemon catches up: it must get a turn.
        with write_lock(vault, timeout=5):
            done_when_locked = sum(session.distilled.values())
        assert wait_for(daemon.ready.is_set)
    finally:
        daemon.stop()
        thread.join(timeout=30)
    assert done_when_locked < 40
    assert sum(session.distilled.values()) == 40


def test_a_catch_up_pauses_between_batches_only_for_a_waiter(
    vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import vaultkd.daemon.watcher as watcher

    pauses: list[float] = []
    real_sleep = time.sleep
    monkeypatch.setattr(watcher, "_YIELD", 0.0123)
    monkeypatch.setattr(
        watcher.time, "sleep", lambda s: pauses.append(s) if s == 0.0123 else real_sleep(s)
    )
    for i in range(12):
        (vault / f"N{i}.md").write_text(f"Note {i}.\n", encoding="utf-8")
    session = FakeSession(vault)
    daemon = Daemon(vault, config=Config(), batch_size=4, session_factory=lambda r, c: session)
    daemon._catch_up(session)
    assert sum(session.distilled.values()) >= 12
    assert pauses == []  # nobody waited: no batch paused
    marker = vault / ".vaultkd" / "write.waiting.999999-1"  # a `vaultkd distill` waiting
    marker.parent.mkdir(exist_ok=True)
    marker.touch()
    for i in range(12):
        (vault / f"N{i}.md").write_text(f"Note {i}, edited.\n", encoding="utf-8")
    daemon._catch_up(session)
    assert len(pauses) >= 2


def test_memory_is_handed_back_after_a_catch_up(
    vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import platform

    import vaultkd.daemon.watcher as watcher
    from vaultkd.daemon.memory import release_free_memory

    # On Linux with glibc the trim really runs (elsewhere it is a documented no-op).
    glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
    assert release_free_memory() is glibc
    calls: list[int] = []
    monkeypatch.setattr(watcher, "release_free_memory", lambda: calls.append(1) or True)
    for i in range(3):
        (vault / f"N{i}.md").write_text(f"Note {i}.\n", encoding="utf-8")
    session = FakeSession(vault)
    daemon = Daemon(vault, config=Config(), session_factory=lambda r, c: session)
    thread = threading.Thread(target=daemon.run, kwargs={"install_signals": False})
    thread.start()
    try:
        assert wait_for(daemon.ready.is_set)
        assert calls and sum(session.distilled.values()) == 3
        assert session.calls["predict"] == 1  # the catch-up predicted before writing
    finally:
        daemon.stop()
        thread.join(timeout=10)
