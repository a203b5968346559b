"""Atomic file replacement with a compare-before-replace guard.

A file is written to a temporary sibling, flushed to disk, then renamed over the target with
`os.replace`, and the folder is flushed so the rename itself survives a crash. A `kill -9` at
any moment therefore leaves the old file or the new one, never half of either; at worst a
temporary sibling named `*.vaultkd-tmp` remains, which `remove_temp_files` sweeps away.

Before replacing (or deleting) a file, the caller says what it expects to find there; if the
file changed in the meantime (Obsidian saved it), `ChangedOnDisk` is raised and nothing is
written, so the run can retry instead of clobbering.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

TEMP_SUFFIX = ".vaultkd-tmp"


class _Any:
    """Sentinel: write without checking what is on disk (for files vaultkd alone creates)."""


ANY = _Any()


class ChangedOnDisk(Exception):
    """The file changed between reading and replacing it; retry later, never clobber."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"{path}: changed on disk while vaultkd was working; retry")
        self.path = path


def read_bytes(path: Path) -> bytes | None:
    """The file's bytes, or None when it does not exist."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _fsync_dir(folder: Path) -> None:
    # Flushing the folder makes the rename durable; not every platform allows opening folders.
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: Path, data: bytes, *, expected: bytes | None | _Any = ANY) -> None:
    """Replace `path` with `data` atomically.

    `expected` is what the caller last read (None: the file must not exist); when the file
    on disk differs, `ChangedOnDisk` is raised and the file is left as it is.
    """
    failed = atomic_write_many([(path, data, expected)])[0]
    if failed is not None:
        raise failed


def atomic_write_many(
    items: Sequence[tuple[Path, bytes, bytes | None | _Any]],
) -> list[ChangedOnDisk | None]:
    """`atomic_write` for several files, with the flushes done concurrently.

    Every temporary file is written first, all are fsynced in parallel (the file system then
    commits them together instead of one journal commit per file), then each target is
    compared with what the caller expects and replaced, and finally every folder touched is
    fsynced, again in parallel. The guarantee per file is exactly `atomic_write`'s. Returns,
    per item, None when written or the `ChangedOnDisk` that kept it from being written.
    """
    staged: list[tuple[Path, Path, int]] = []
    try:
        for path, data, _ in items:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(
                prefix=f".{path.name[:40]}.", suffix=TEMP_SUFFIX, dir=path.parent
            )
            staged.append((path, Path(tmp_name), fd))
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        _parallel(os.fsync, [fd for _, _, fd in staged])
    except BaseException:
        for _, tmp, fd in staged:
            with contextlib.suppress(OSError):
                os.close(fd)
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        raise
    for _, _, fd in staged:
        os.close(fd)
    results: list[ChangedOnDisk | None] = []
    folders: set[Path] = set()
    for (path, _, expected), (_, tmp, _) in zip(items, staged, strict=True):
        try:
            try:
                mode = stat.S_IMODE(path.stat().st_mode)  # keep the user's permissions
            except FileNotFoundError:
                mode = 0o666 & ~_umask()
            os.chmod(tmp, mode)
            # The window between this check and the rename is microseconds; Obsidian's own
            # saves are atomic renames too, so the worst case is two editors racing.
            if not isinstance(expected, _Any) and read_bytes(path) != expected:
                raise ChangedOnDisk(path)
            os.replace(tmp, path)
            folders.add(path.parent)
            results.append(None)
        except ChangedOnDisk as exc:
            tmp.unlink()
            results.append(exc)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise
    _parallel(_fsync_dir, sorted(folders))
    return results


_FLUSHERS: ThreadPoolExecutor | None = None
_FLUSHERS_PID = 0


def _parallel(func: Callable[[T], object], args: Sequence[T]) -> None:
    global _FLUSHERS, _FLUSHERS_PID
    if len(args) <= 1:
        for a in args:
            func(a)
        return
    # One pool for the process: a vault run flushes a few files per note, thousands of times,
    # and starting fresh threads each time cost more than the flushes. A forked child gets
    # its own pool (the parent's threads do not exist in it).
    if _FLUSHERS is None or _FLUSHERS_PID != os.getpid():
        _FLUSHERS = ThreadPoolExecutor(max_workers=16, thread_name_prefix="vaultkd-fsync")
        _FLUSHERS_PID = os.getpid()
    list(_FLUSHERS.map(func, args))


def atomic_delete(path: Path, *, expected: bytes) -> None:
    """Delete `path` if it still holds `expected`; raise `ChangedOnDisk` otherwise."""
    if read_bytes(path) != expected:
        raise ChangedOnDisk(path)
    path.unlink()
    _fsync_dir(path.parent)


def remove_empty_dirs(path: Path, stop: Path) -> None:
    """Remove now-empty folders from `path` up to (not including) `stop`."""
    current = path
    while current != stop and current.is_relative_to(stop):
        try:
            current.rmdir()
        except OSError:
            return
        current = current.parent


def remove_temp_files(root: Path) -> int:
    """Delete temporary siblings left by a killed run; returns how many were removed."""
    removed = 0
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in (".git", ".vaultkd")]
        for name in files:
            if name.endswith(TEMP_SUFFIX) and name.startswith("."):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(folder, name))
                    removed += 1
    return removed
