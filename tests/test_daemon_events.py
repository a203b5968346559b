"""Pure parts of the daemon: which paths count, how events coalesce, the quiet-period wait."""

from __future__ import annotations

import errno
import threading
from pathlib import Path

import pytest

from vaultkd.daemon.events import Change, Pending, WatchRules, changes_from_event, relative
from vaultkd.daemon.scheduler import QuietScheduler
from vaultkd.daemon.watcher import inotify_limit_message

RULES = WatchRules(skip_dirs=("Distilled", "Atomic"))


@pytest.mark.parametrize(
    "path",
    ["Note.md", "Meetings/2026-03-14 Retro.md", "Ünïcode/🚀 launch.md", "UPPER.MD", "a b/c$d&e.md"],
)
def test_notes_are_watched(path: str) -> None:
    assert RULES.is_note(path)


@pytest.mark.parametrize(
    "path",
    [
        ".obsidian/workspace.md",
        ".trash/Old.md",
        ".vaultkd/state.md",
        ".git/COMMIT_EDITMSG.md",
        "Projects/.hidden/x.md",
        "image.png",
        "Note.md.tmp",
        "Note.md~",
        ".#Note.md",
        "~$Note.md",
        "Note.md.vaultkd-tmp",
        "Note.vaultkd-tmp.md",
        ".Note.md.swp",
        "Distilled/Note.md",
        "Atomic/Idea.md",
        "../outside.md",
        "",
        None,
    ],
)
def test_everything_else_is_ignored(path: str | None) -> None:
    assert not RULES.is_note(path)


def test_relative_paths(tmp_path: Path) -> None:
    assert relative(tmp_path, str(tmp_path / "a" / "b.md")) == "a/b.md"
    assert relative(tmp_path, str(tmp_path.parent / "x.md")) is None
    assert relative(tmp_path, str(tmp_path)) is None
    assert relative(tmp_path, None) is None
    assert relative(tmp_path, os_bytes(tmp_path / "é.md")) == "é.md"


def os_bytes(path: Path) -> bytes:
    return str(path).encode("utf-8")


def test_editor_save_by_rename_is_a_change_of_the_note() -> None:
    assert changes_from_event("moved", "Note.md.tmp", "Note.md", RULES) == [Change("Note.md")]
    assert changes_from_event("moved", "A.md", "B.md", RULES) == [Change("B.md", moved_from="A.md")]
    # To the trash or to a non-note: the note is gone.
    assert changes_from_event("moved", "A.md", ".trash/A.md", RULES) == [Change("A.md", "deleted")]
    assert changes_from_event("moved", "x.tmp", "y.tmp", RULES) == []
    assert changes_from_event("modified", "A.md", None, RULES) == [Change("A.md")]
    assert changes_from_event("deleted", "A.md", None, RULES) == [Change("A.md", "deleted")]
    assert changes_from_event("opened", "A.md", None, RULES) == []
    assert changes_from_event("modified", ".obsidian/app.md", None, RULES) == []


def test_pending_keeps_one_entry_per_path_and_restarts_the_quiet_period() -> None:
    pending = Pending()
    for i in range(1000):
        pending.add(Change("A.md"), deadline=float(i))
    assert len(pending) == 1
    assert pending.pop_due(998.0) == []  # the last save restarted the wait
    assert pending.pop_due(999.0) == [Change("A.md")]
    assert len(pending) == 0


def test_moves_chain_and_carry_pending_edits() -> None:
    pending = Pending()
    pending.add(Change("A.md"), 1.0)
    pending.add(Change("B.md", moved_from="A.md"), 2.0)
    pending.add(Change("C.md", moved_from="B.md"), 3.0)
    assert pending.pop_due(10.0) == [Change("C.md", moved_from="A.md")]
    # Moved back where it started: just a change.
    pending.add(Change("B.md", moved_from="A.md"), 1.0)
    pending.add(Change("A.md", moved_from="B.md"), 1.0)
    assert pending.pop_due(10.0) == [Change("A.md")]
    # Moved then deleted: the old path is what the state database knows.
    pending.add(Change("B.md", moved_from="A.md"), 1.0)
    pending.add(Change("B.md", "deleted"), 1.0)
    assert pending.pop_due(10.0) == [Change("A.md", "deleted")]
    # Moved then edited: still a move.
    pending.add(Change("B.md", moved_from="A.md"), 1.0)
    pending.add(Change("B.md"), 2.0)
    assert pending.pop_due(10.0) == [Change("B.md", moved_from="A.md")]


def test_due_changes_come_oldest_first() -> None:
    pending = Pending()
    pending.add(Change("late.md"), 5.0)
    pending.add(Change("early.md"), 1.0)
    pending.add(Change("never.md"), 50.0)
    assert [c.path for c in pending.pop_due(10.0)] == ["early.md", "late.md"]
    assert pending.next_deadline() == 50.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_scheduler_waits_for_quiet_period_with_injected_clock() -> None:
    clock = FakeClock()
    scheduler = QuietScheduler(2.0, clock=clock)
    scheduler.add(Change("A.md"))
    clock.now = 1.5
    scheduler.add(Change("A.md"))  # saved again: wait restarts
    clock.now = 3.0
    assert scheduler.take_due(0) == []
    clock.now = 3.5
    assert scheduler.take_due(0) == [Change("A.md")]
    assert len(scheduler) == 0


def test_scheduler_wakes_a_waiting_thread() -> None:
    scheduler = QuietScheduler(0.05)
    got: list[list[Change]] = []
    worker = threading.Thread(target=lambda: got.append(scheduler.take_due(5.0)))
    worker.start()
    scheduler.add_all([Change("A.md"), Change("B.md")])
    worker.join(timeout=5)
    assert got and sorted(c.path for c in got[0]) == ["A.md", "B.md"]


def test_inotify_messages_name_the_sysctl() -> None:
    watches = inotify_limit_message(OSError(errno.ENOSPC, "inotify watch limit reached"))
    assert "fs.inotify.max_user_watches" in watches and "sysctl" in watches
    assert "polling" in watches
    instances = inotify_limit_message(OSError(errno.EMFILE, "too many"))
    assert "fs.inotify.max_user_instances" in instances
