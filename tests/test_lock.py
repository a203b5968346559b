"""Vault locks: exclusive across processes, re-entrant per thread, robust to a killed holder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from vaultkd.write.lock import VaultLock, VaultLocked, instance_lock, read_holder, write_lock

_HOLDER = """
import sys, time
from pathlib import Path
from vaultkd.write.lock import VaultLock
lock = VaultLock(Path(sys.argv[1]), sys.argv[2], timeout=5).acquire()
print("locked", flush=True)
time.sleep(float(sys.argv[3]))
lock.release()
print("released", flush=True)
"""


def _hold(vault: Path, name: str, seconds: float) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(vault), name, str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_lock_file_records_pid_and_release_frees_it(tmp_path: Path) -> None:
    lock = write_lock(tmp_path)
    with lock:
        assert lock.held
        assert lock.path == tmp_path / ".vaultkd" / "write.lock"
        assert read_holder(lock.path) == os.getpid()
    assert not lock.held
    # Free again: another object takes it at once.
    with VaultLock(tmp_path, "write", timeout=0) as again:
        assert again.held


def test_second_process_is_refused_with_vault_and_pid(tmp_path: Path) -> None:
    proc = _hold(tmp_path, "instance", 30)
    try:
        with pytest.raises(VaultLocked) as info:
            instance_lock(tmp_path).acquire()
        message = str(info.value)
        assert str(tmp_path) in message
        assert f"pid {proc.pid}" in message
        assert "watching" in message
        assert info.value.pid == proc.pid
    finally:
        proc.kill()
        proc.wait()


def test_bounded_wait_succeeds_when_holder_finishes(tmp_path: Path) -> None:
    proc = _hold(tmp_path, "write", 0.5)
    try:
        start = time.monotonic()
        with write_lock(tmp_path, timeout=10) as lock:
            assert lock.held
            waited = time.monotonic() - start
        assert waited > 0.1  # it really waited for the other process
    finally:
        proc.wait()


def test_bounded_wait_fails_clearly_when_holder_stays(tmp_path: Path) -> None:
    proc = _hold(tmp_path, "write", 30)
    try:
        with pytest.raises(VaultLocked, match="writing to this vault"):
            write_lock(tmp_path, timeout=0.3).acquire()
    finally:
        proc.kill()
        proc.wait()


def test_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    proc = _hold(tmp_path, "instance", 30)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    # The pid text is stale but harmless: the kernel released the flock with the process.
    assert read_holder(tmp_path / ".vaultkd" / "instance.lock") == proc.pid
    with instance_lock(tmp_path) as lock:
        assert lock.held
        assert read_holder(lock.path) == os.getpid()


def test_reentrant_in_one_thread_exclusive_between_threads(tmp_path: Path) -> None:
    outer = write_lock(tmp_path)
    inner = write_lock(tmp_path, timeout=0)
    results: list[str] = []

    def other_thread() -> None:
        try:
            write_lock(tmp_path, timeout=0.2).acquire()
            results.append("acquired")
        except VaultLocked:
            results.append("refused")

    with outer:
        with inner:  # same thread: nested acquisition does not deadlock
            assert inner.held
        assert outer.held
        worker = threading.Thread(target=other_thread)
        worker.start()
        worker.join()
    assert results == ["refused"]
    # Fully released after the outer exit: a new holder gets it at once.
    with write_lock(tmp_path, timeout=0):
        pass


def test_instance_and_write_locks_are_independent(tmp_path: Path) -> None:
    with instance_lock(tmp_path), write_lock(tmp_path, timeout=0) as lock:
        assert lock.held


def test_a_waiter_is_visible_to_the_holder_only_while_it_waits(tmp_path: Path) -> None:
    from vaultkd.write.lock import others_waiting

    assert not others_waiting(tmp_path)
    holder = write_lock(tmp_path).acquire()
    outcome: list[str] = []

    def wait_briefly() -> None:
        try:
            write_lock(tmp_path, timeout=1.0).acquire()
        except VaultLocked:
            outcome.append("gave up")

    waiter = threading.Thread(target=wait_briefly)
    try:
        waiter.start()
        deadline = time.monotonic() + 5
        while not others_waiting(tmp_path) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert others_waiting(tmp_path)
        waiter.join(timeout=5)
        assert outcome == ["gave up"]
        assert not others_waiting(tmp_path)  # its marker went with it
        assert not list((tmp_path / ".vaultkd").glob("write.waiting.*"))
    finally:
        holder.release()


def test_a_dead_waiters_marker_goes_stale(tmp_path: Path) -> None:
    from vaultkd.write.lock import WAITING_FRESH, others_waiting

    marker = tmp_path / ".vaultkd" / "write.waiting.999999-1"
    marker.parent.mkdir()
    marker.touch()
    assert others_waiting(tmp_path)
    old = time.time() - WAITING_FRESH - 1
    os.utime(marker, (old, old))
    assert not others_waiting(tmp_path)
    assert not others_waiting(tmp_path, "instance")
