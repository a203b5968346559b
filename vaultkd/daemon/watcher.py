"""`vaultkd watch`: a watchdog observer feeding the quiet-period scheduler, over `Session`.

The daemon is a thin loop over the pipeline (`pipeline.Session`), the same calls `vaultkd
distill` makes: catch up with `Session.pending()`, then for each note whose quiet period ended,
`source_moved` / `source_deleted` / `distill`. It writes nothing itself.

Threads: watchdog's observer threads only translate events into `Change`s for the scheduler.
All pipeline work runs on the thread that called `Daemon.run` (SQLite connections belong to the
thread that opened them), so a signal only sets a flag that the loop checks between batches: the
current batch finishes (its writes are atomic anyway) and the daemon exits cleanly.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

from vaultkd.config import Config
from vaultkd.daemon.events import Change, WatchRules, changes_from_event, relative
from vaultkd.daemon.memory import release_free_memory
from vaultkd.daemon.scheduler import QuietScheduler
from vaultkd.write.lock import (
    POLL_INTERVAL,
    VaultLocked,
    instance_lock,
    others_waiting,
    write_lock,
)

log = logging.getLogger("vaultkd.daemon")

Progress = Callable[[int, int], None]  # (done, total)
# After a batch the daemon pauses a little longer than a waiting `vaultkd distill` polls the
# write lock (flock is not fair), so a distill run during a long catch-up gets its turn; it
# pauses only when someone says it is waiting (`lock.others_waiting`).
_YIELD = 2 * POLL_INTERVAL
_TRIM_AFTER = 64  # notes in one round of work after which freed memory is handed back
_PREDICT_BATCH = 256  # notes per prediction step of a catch-up (a stop is honoured between)


class SessionLike(Protocol):
    """The part of `pipeline.Session` the daemon uses."""

    def distill(self, rel_paths: Sequence[str]) -> list[Any]: ...
    def predict(self, rel_paths: Sequence[str]) -> int: ...
    def pending(self) -> list[str]: ...
    def source_moved(self, old: str, new: str) -> list[str]: ...
    def source_deleted(self, rel_path: str) -> list[str]: ...
    def is_own_write(self, rel_path: str) -> bool: ...
    def close(self) -> None: ...


def open_session(vault_root: Path, config: Config) -> SessionLike:
    # Imported here so the daemon module loads (and its unit tests run) without the model.
    from vaultkd.model.runtime import load_predictor
    from vaultkd.pipeline import Session

    # Without onnxruntime's memory arena: ~35 MB less for a process that lives for days, at
    # ~12% of model throughput (measured), which a daemon distilling one note at a time
    # does not feel.
    session = Session.open(vault_root, config=config, predictor=load_predictor(low_memory=True))
    # A session builds the link graph when a note first needs it; a daemon builds it now, at
    # start, so that the first save after a quiet start is as quick as every other.
    try:
        session.graph  # noqa: B018 - built for its side effect
    except BaseException:
        session.close()
        raise
    return session


@dataclass
class DaemonStats:
    """What the daemon did, for logs and tests."""

    caught_up: int = 0  # notes distilled by the start-up catch-up
    distilled: Counter[str] = field(default_factory=Counter)  # note -> times passed to distill
    statuses: Counter[str] = field(default_factory=Counter)  # NoteResult.status -> count
    own_writes_ignored: int = 0
    moved: int = 0
    deleted: int = 0
    batches: int = 0
    observer: str = ""  # "inotify", "polling", ...


def inotify_limit_message(exc: OSError) -> str:
    """One line that says which kernel limit was hit and the sysctl that raises it."""
    if exc.errno == errno.EMFILE:
        name, value = "fs.inotify.max_user_instances", 512
    else:
        name, value = "fs.inotify.max_user_watches", 524288
    return (
        f"inotify limit reached ({name}); raise it with `sudo sysctl {name}={value}` "
        f"(add `{name}={value}` to /etc/sysctl.d/90-vaultkd.conf to keep it); "
        "falling back to polling, which is slower"
    )


def scan_notes(root: Path, rules: WatchRules) -> set[str]:
    """The vault-relative paths of the notes the daemon watches, as they are on disk now."""
    found: set[str] = set()
    for folder, dirs, files in os.walk(root):
        rel_folder = relative(root, folder) or ""
        # Prune ignored folders early: `.git` or a large `.trash` can hold many files.
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            rel = f"{rel_folder}/{name}" if rel_folder else name
            if rules.is_note(rel):
                found.add(rel)
    return found


class _Handler(FileSystemEventHandler):
    """Turns watchdog events into `Change`s; runs on the observer's single dispatch thread."""

    def __init__(
        self, root: Path, rules: WatchRules, scheduler: QuietScheduler, known: set[str]
    ) -> None:
        self.root = root
        self.rules = rules
        self.scheduler = scheduler
        # Notes on disk, kept current from events: a folder moved out of the vault (to the
        # system trash, say) arrives as one folder event, and this says which notes went with it.
        self.known = known

    def on_any_event(self, event: FileSystemEvent) -> None:
        try:
            self._handle(event)
        except Exception:  # an exception here would end watchdog's dispatch thread for good
            log.exception("could not handle %r", event)

    def _handle(self, event: FileSystemEvent) -> None:
        src = relative(self.root, event.src_path)
        if event.is_directory:
            # Folder moves and creations arrive with one event per file inside as well.
            if event.event_type == "deleted" and src is not None:
                prefix = src + "/"
                gone = [p for p in self.known if p.startswith(prefix)]
                self.known.difference_update(gone)
                self.scheduler.add_all(Change(p, "deleted") for p in gone)
            return
        dest = relative(self.root, getattr(event, "dest_path", None) or None)
        changes = changes_from_event(event.event_type, src, dest, self.rules)
        for change in changes:
            if change.kind == "deleted":
                self.known.discard(change.path)
            else:
                self.known.add(change.path)
                if change.moved_from is not None:
                    self.known.discard(change.moved_from)
        if changes:
            self.scheduler.add_all(changes)


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Daemon:
    """Watch one vault and keep its distillations current until `stop()` or a signal."""

    def __init__(
        self,
        vault_root: Path,
        *,
        config: Config | None = None,
        quiet_period: float | None = None,
        polling: bool | None = None,
        poll_interval: float = 1.0,
        batch_size: int = 32,
        write_timeout: float = 60.0,
        session_factory: Callable[[Path, Config], SessionLike] = open_session,
        progress: Progress | None = None,
    ) -> None:
        self.root = Path(vault_root).resolve()
        self.config = config if config is not None else Config.load(self.root)
        self.quiet_period = self.config.quiet_period if quiet_period is None else quiet_period
        self.polling = self.config.polling if polling is None else polling
        self.poll_interval = poll_interval
        self.batch_size = batch_size
        self.write_timeout = write_timeout
        self.session_factory = session_factory
        self.progress = progress
        self.rules = WatchRules(skip_dirs=(self.config.distilled_folder, self.config.atomic_folder))
        self.scheduler = QuietScheduler(self.quiet_period)
        self.stats = DaemonStats()
        self.ready = threading.Event()  # set once caught up and watching
        self._stopping = False

    # -- life cycle ---------------------------------------------------------------------------

    def stop(self, signum: int | None = None, frame: object = None) -> None:
        """Ask the loop to end after the current batch; safe from a signal handler.

        A second signal while the batch finishes stops at once (KeyboardInterrupt): the
        writes are atomic, so that leaves every file whole, and the next start catches up.
        """
        if self._stopping and signum is not None:
            raise KeyboardInterrupt
        self._stopping = True  # a plain flag: taking a lock inside a signal handler can deadlock

    @property
    def stopping(self) -> bool:
        return self._stopping

    def run(self, *, install_signals: bool = True) -> None:
        """Hold the instance lock, catch up, then watch until stopped.

        Raises `VaultLocked` at once when another watcher holds this vault.
        """
        with instance_lock(self.root):
            restore = self._install_signals() if install_signals else {}
            observer: BaseObserver | None = None
            session = self.session_factory(self.root, self.config)
            try:
                # Watch first, then catch up: saves made during the catch-up are not missed.
                observer = self._start_observer()
                self._catch_up(session)
                release_free_memory()
                self.ready.set()
                log.info("watching %s (quiet period %.2f s)", self.root, self.quiet_period)
                while not self._stopping:
                    due = self.scheduler.take_due(0.2)
                    if due and not self._stopping:
                        self._process(session, due)
                        if len(due) >= _TRIM_AFTER:
                            release_free_memory()  # after a burst (a pull, a sync)
            finally:
                if observer is not None:
                    observer.stop()
                    observer.join(timeout=5)
                session.close()
                for signum, handler in restore.items():
                    signal.signal(signum, handler)
                log.info("stopped watching %s", self.root)

    def _install_signals(self) -> dict[int, Any]:
        if threading.current_thread() is not threading.main_thread():
            return {}
        previous = {}
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, self.stop)
        return previous

    def _start_observer(self) -> BaseObserver:
        handler = _Handler(self.root, self.rules, self.scheduler, scan_notes(self.root, self.rules))
        if not self.polling:
            observer = Observer()
            try:
                observer.schedule(handler, str(self.root), recursive=True)
                observer.start()
                self.stats.observer = type(observer).__name__
                return observer
            except OSError as exc:
                if exc.errno not in (errno.ENOSPC, errno.EMFILE):
                    raise
                with contextlib.suppress(Exception):
                    observer.stop()
                log.warning("%s", inotify_limit_message(exc))
        observer = PollingObserver(timeout=self.poll_interval)
        observer.schedule(handler, str(self.root), recursive=True)
        observer.start()
        self.stats.observer = type(observer).__name__
        return observer

    # -- work ---------------------------------------------------------------------------------

    def _catch_up(self, session: SessionLike) -> None:
        todo = [p for p in session.pending() if self.rules.is_note(p)]
        total = len(todo)
        log.info("catching up: %d note(s) changed while vaultkd was not watching", total)
        if self.progress is not None:
            self.progress(0, total)
        # Predict every changed note before writing any: then each batch below sees the whole
        # vault's vectors, and a first catch-up finds the connections one `vaultkd distill
        # --all` would (not only those among the notes of earlier batches).
        for chunk in _chunks(todo, _PREDICT_BATCH):
            if self._stopping:
                return
            try:
                session.predict(chunk)
            except Exception:  # the batches below predict what is still missing
                log.exception("predicting %d note(s) failed", len(chunk))
        done = 0
        for chunk in self._batches(todo):
            self._distill(session, chunk)
            done += len(chunk)
            self.stats.caught_up += len(chunk)
            if self.progress is not None:
                self.progress(done, total)

    def _batches(self, paths: Sequence[str]) -> Iterator[Sequence[str]]:
        """`paths` in batches, until a stop is asked; what is left is caught up next start."""
        for i, chunk in enumerate(_chunks(paths, self.batch_size)):
            if self._stopping:
                return
            if i and others_waiting(self.root):
                # Let a waiting `vaultkd distill` take the write lock between batches.
                time.sleep(_YIELD)
            yield chunk

    def _process(self, session: SessionLike, changes: list[Change]) -> None:
        """Bring the notes behind `changes` up to date; never raises for one bad note."""
        try:
            with self._writing():
                to_distill = self._moves_and_deletions(session, changes)
        except VaultLocked as exc:
            log.warning("%s; will try again", exc)
            self.scheduler.add_all(changes)
            return
        for chunk in self._batches(to_distill):
            self._distill(session, chunk)

    def _moves_and_deletions(self, session: SessionLike, changes: list[Change]) -> list[str]:
        to_distill: list[str] = []
        for change in changes:
            if change.moved_from is not None:
                self._guarded(session.source_moved, change.moved_from, change.path)
                self.stats.moved += 1
                log.info("moved %s -> %s", change.moved_from, change.path)
            # What is on disk now decides: a delete followed by a save is a save.
            if not (self.root / change.path).is_file():
                self._guarded(session.source_deleted, change.path)
                self.stats.deleted += 1
                log.info("deleted %s", change.path)
            elif session.is_own_write(change.path):
                # Our own write (e.g. an --inline summary): reacting to it would loop.
                self.stats.own_writes_ignored += 1
                log.debug("ignored own write %s", change.path)
            else:
                to_distill.append(change.path)
        return to_distill

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """The vault's write lock, waited for in short steps so a signal is not kept waiting."""
        lock = write_lock(self.root, timeout=0.5)
        start = time.monotonic()
        while True:
            try:
                lock.acquire()
                break
            except VaultLocked:
                if self._stopping or time.monotonic() - start >= self.write_timeout:
                    raise
        try:
            yield
        finally:
            lock.release()

    def _guarded(self, call: Callable[..., object], *args: str) -> None:
        try:
            call(*args)
        except Exception:  # one bad note must not stop the daemon
            log.exception("%s%r failed", getattr(call, "__name__", "call"), args)

    def _distill(self, session: SessionLike, paths: Sequence[str]) -> None:
        try:
            with self._writing():
                results = session.distill(list(paths))
        except VaultLocked as exc:
            log.warning("%s; will try again", exc)
            self.scheduler.add_all(Change(p) for p in paths)
            return
        except Exception:
            if len(paths) > 1:
                # Find the note that fails, and do not hold the rest of the batch hostage.
                for path in paths:
                    self._distill(session, [path])
                return
            log.exception("distilling %s failed", paths[0])
            self.stats.statuses["error"] += 1
            return
        self.stats.batches += 1
        self.stats.distilled.update(paths)
        for result in results:
            status = getattr(result, "status", "?")
            note = getattr(result, "note", "?")
            self.stats.statuses[status] += 1
            message = getattr(result, "message", "")
            if status == "retry":
                # The note changed on disk while it was being distilled: the user's edit wins,
                # and the new version gets its own quiet period.
                self.scheduler.add(Change(note))
                log.info("%s changed while distilling; will retry", note)
            elif status == "error":
                log.error("%s", message if note in message else f"{note}: {message}")
            else:
                # The pipeline's message is the one-line report `vaultkd distill` prints.
                log.info("%s", message if message else f"{note}: {status}")
