"""Advisory locks on a vault, in `.vaultkd/<name>.lock`.

Two locks exist:

- `instance_lock(vault)`: held by `vaultkd watch` for its whole life, so one vault has at most
  one watcher; a second one fails at once with `VaultLocked`.
- `write_lock(vault)`: taken around each batch of writes by `vaultkd distill` and by the daemon,
  so the two never write the same file at the same moment. Callers (the CLI command, the
  daemon) take it; `pipeline.Session` itself does not.

The lock is `fcntl.flock` on the lock file (Linux, macOS, BSD; `msvcrt.locking` on Windows).
The kernel drops it when the holder dies, even by `kill -9`, so a stale lock cannot exist; the
pid written into the file only serves the error message and may be stale without harm.

Within one process the lock is re-entrant for the thread that holds it (a command that takes
the write lock may call code that takes it again) and exclusive between threads, because
`flock` alone would let two file descriptors of the same process block each other forever.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import EllipsisType, TracebackType

from vaultkd.config import STATE_DIR

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]
try:  # Windows
    import msvcrt
except ImportError:
    msvcrt = None  # type: ignore[assignment]

INSTANCE = "instance"
WRITE = "write"
WRITE_TIMEOUT = 30.0  # seconds `distill` waits for the daemon's current batch before failing
POLL_INTERVAL = 0.05  # seconds between tries while waiting
# A process waiting for a lock says so with a file `<name>.waiting.<pid>-<thread>` beside the
# lock, touched at least every WAITING_REFRESH seconds, so that a holder that takes the lock
# batch after batch (the daemon's catch-up) pauses only when someone is actually waiting. A
# file older than WAITING_FRESH is from a waiter that died; it is ignored.
WAITING_REFRESH = 1.0
WAITING_FRESH = 5.0


class VaultLocked(Exception):
    """Another process (or thread) holds the lock; the message names the vault and the pid."""

    def __init__(self, vault_root: Path, name: str, pid: int | None, waited: float) -> None:
        holder = f"pid {pid}" if pid else "another process"
        what = "watching" if name == INSTANCE else "writing to"
        waited_text = f" (waited {waited:.0f} s)" if waited >= 1 else ""
        super().__init__(
            f"{vault_root}: another vaultkd ({holder}) is already {what} this vault"
            f"{waited_text}; stop it or wait for it to finish, then retry"
        )
        self.vault_root = vault_root
        self.name = name
        self.pid = pid


@dataclass
class _Held:
    fd: int
    thread: int
    count: int


# Locks this process holds, by lock-file path: re-entrancy and exclusion between threads.
_held: dict[str, _Held] = {}
_held_guard = threading.Lock()


def _try_lock(fd: int) -> bool:
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True
    if msvcrt is not None:  # pragma: no cover - Windows
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    raise OSError("vaultkd needs fcntl (Linux/macOS) or msvcrt (Windows) to lock a vault")


def _unlock(fd: int) -> None:
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)
    elif msvcrt is not None:  # pragma: no cover - Windows
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)


def read_holder(path: Path) -> int | None:
    """The pid recorded in a lock file, or None; it may belong to a process long gone."""
    try:
        text = path.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


class VaultLock:
    """An exclusive lock named `name` on the vault at `vault_root`.

    `timeout` is how long `acquire()` and `with` wait: None waits for ever, 0 tries once.
    """

    def __init__(self, vault_root: Path, name: str, *, timeout: float | None = None) -> None:
        self.vault_root = Path(vault_root)
        self.name = name
        self.timeout = timeout
        self.path = self.vault_root / STATE_DIR / f"{name}.lock"
        self._key = os.path.realpath(self.path)
        self._acquired = 0  # how many times *this object* acquired (re-entrant)

    @property
    def held(self) -> bool:
        return self._acquired > 0

    def acquire(self, timeout: float | None | EllipsisType = ...) -> VaultLock:
        """Take the lock, waiting at most `timeout` seconds (default: the one given at
        construction); raise `VaultLocked` when it cannot be had in time."""
        wait = self.timeout if timeout is ... else timeout
        self.path.parent.mkdir(parents=True, exist_ok=True)
        waiting = _Waiting(self.path.parent / _waiting_name(self.name))
        try:
            return self._acquire(wait, waiting)
        finally:
            waiting.done()

    def _acquire(self, wait: float | None, waiting: _Waiting) -> VaultLock:
        me = threading.get_ident()
        start = time.monotonic()
        while True:
            with _held_guard:
                held = _held.get(self._key)
                if held is not None and held.thread == me:
                    held.count += 1
                    self._acquired += 1
                    return self
                if held is None:
                    fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
                    if _try_lock(fd):
                        self._record_pid(fd)
                        _held[self._key] = _Held(fd=fd, thread=me, count=1)
                        self._acquired += 1
                        return self
                    os.close(fd)
            waited = time.monotonic() - start
            if wait is not None and waited >= wait:
                pid = os.getpid() if held is not None else read_holder(self.path)
                raise VaultLocked(self.vault_root, self.name, pid, waited)
            waiting.touch()
            time.sleep(
                POLL_INTERVAL if wait is None else max(0.0, min(POLL_INTERVAL, wait - waited))
            )

    def _record_pid(self, fd: int) -> None:
        # Only for the message another process shows; failing to write it is harmless.
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)

    def release(self) -> None:
        if self._acquired == 0:
            return
        with _held_guard:
            held = _held.get(self._key)
            self._acquired -= 1
            if held is None:
                return
            held.count -= 1
            if held.count == 0:
                del _held[self._key]
                # The pid text stays: harmless, and truncating would race the next holder.
                try:
                    _unlock(held.fd)
                finally:
                    os.close(held.fd)

    def __enter__(self) -> VaultLock:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _waiting_name(name: str) -> str:
    return f"{name}.waiting.{os.getpid()}-{threading.get_ident()}"


class _Waiting:
    """This waiter's marker file (see WAITING_REFRESH); best effort, never an error."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.touched = -WAITING_REFRESH
        self.made = False

    def touch(self) -> None:
        now = time.monotonic()
        if now - self.touched < WAITING_REFRESH:
            return
        with contextlib.suppress(OSError):
            self.path.touch()
            self.made = True
        self.touched = now

    def done(self) -> None:
        if self.made:
            with contextlib.suppress(OSError):
                self.path.unlink()


def others_waiting(vault_root: Path, name: str = WRITE) -> bool:
    """Whether another process (or thread) is waiting for the lock `name` right now."""
    mine = _waiting_name(name)
    now = time.time()
    try:
        with os.scandir(Path(vault_root) / STATE_DIR) as it:
            entries = list(it)
    except OSError:
        return False
    for entry in entries:
        if entry.name.startswith(f"{name}.waiting.") and entry.name != mine:
            with contextlib.suppress(OSError):
                if now - entry.stat().st_mtime < WAITING_FRESH:
                    return True
    return False


def instance_lock(vault_root: Path) -> VaultLock:
    """The lock `vaultkd watch` holds for its whole life; a second watcher fails at once."""
    return VaultLock(vault_root, INSTANCE, timeout=0)


def write_lock(vault_root: Path, timeout: float | None = WRITE_TIMEOUT) -> VaultLock:
    """The lock around a batch of writes, shared by `distill` and the daemon."""
    return VaultLock(vault_root, WRITE, timeout=timeout)
