"""From filesystem events to note changes: which paths count, and how changes coalesce.

Pure functions over plain data; the watchdog handler and the scheduler call them. Paths are
vault-relative POSIX strings (`Meetings/Retro.md`), the form `pipeline.Session` takes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Literal

NOTE_SUFFIXES = (".md",)
# Folders the daemon never looks into: Obsidian's settings and trash, vaultkd's state, git.
IGNORED_DIRS = frozenset({".obsidian", ".trash", ".vaultkd", ".git"})
# Editor and sync-client scratch files; most are excluded by the suffix test already, these
# catch the ones that end in `.md` anyway.
_TEMP_PREFIXES = (".#", "~$", ".~")
_TEMP_MARKERS = (".vaultkd-tmp", ".sync-conflict", ".tmp.", "~")

Kind = Literal["changed", "deleted"]


@dataclass(frozen=True, slots=True)
class WatchRules:
    """What the daemon watches; `skip_dirs` holds the folders vaultkd generates into."""

    skip_dirs: tuple[str, ...] = ()

    def is_note(self, rel_path: str | None) -> bool:
        """True for a Markdown note the daemon should react to."""
        if not rel_path:
            return False
        path = PurePosixPath(rel_path)
        if path.is_absolute() or ".." in path.parts:
            return False
        name = path.name
        if not name.lower().endswith(NOTE_SUFFIXES):
            return False
        if name.startswith(_TEMP_PREFIXES) or any(m in name for m in _TEMP_MARKERS):
            return False
        # Obsidian itself hides dot-folders; the named ones are listed for clarity.
        folders = path.parts[:-1]
        if any(part in IGNORED_DIRS or part.startswith(".") for part in folders):
            return False
        if name.startswith("."):
            return False
        return not any(_under(rel_path, folder) for folder in self.skip_dirs)


def _under(rel_path: str, folder: str) -> bool:
    folder = folder.strip("/")
    return bool(folder) and (rel_path == folder or rel_path.startswith(folder + "/"))


def relative(vault_root: Path, path: str | bytes | None) -> str | None:
    """The vault-relative POSIX path of an event path, or None when it lies outside."""
    if path is None or path == "":
        return None
    text = os.fsdecode(path)
    try:
        rel = os.path.relpath(text, vault_root)
    except ValueError:  # another drive on Windows
        return None
    if rel == "." or rel.startswith(".." + os.sep) or rel == "..":
        return None
    return PurePosixPath(Path(rel).as_posix()).as_posix()


@dataclass(frozen=True, slots=True)
class Change:
    """A note to bring up to date: `changed` (created, edited, or moved here) or `deleted`."""

    path: str
    kind: Kind = "changed"
    moved_from: str | None = None  # the note's previous path when it was moved or renamed


def changes_from_event(
    event_type: str,
    src: str | None,
    dest: str | None,
    rules: WatchRules,
) -> list[Change]:
    """The note changes one watchdog event stands for (`src`/`dest` are vault-relative).

    Editors save by writing a temporary file and renaming it over the note, so a move whose
    destination is a note is a change of that note, whatever the source was.
    """
    if event_type in ("created", "modified", "closed"):
        return [Change(src)] if rules.is_note(src) else []
    if event_type == "deleted":
        return [Change(src, "deleted")] if rules.is_note(src) else []
    if event_type == "moved":
        src_note, dest_note = rules.is_note(src), rules.is_note(dest)
        if src_note and dest_note:
            return [Change(dest, moved_from=src)]  # type: ignore[arg-type]
        if dest_note:
            return [Change(dest)]  # type: ignore[arg-type]
        if src_note:  # moved to the trash, out of the vault, or renamed to a non-note
            return [Change(src, "deleted")]  # type: ignore[arg-type]
    return []


@dataclass(slots=True)
class Pending:
    """Changes waiting for their quiet period: one entry per path, whatever the event count.

    Memory is bounded by the number of distinct notes touched, never by the number of events.
    """

    entries: dict[str, tuple[Change, float]] = field(default_factory=dict)

    def add(self, change: Change, deadline: float) -> None:
        """Merge `change` into what is already waiting, and restart that path's quiet period."""
        entries = self.entries
        if change.moved_from is not None:
            # A move carries whatever was pending for the old path, and chains earlier moves.
            previous = entries.pop(change.moved_from, None)
            origin = change.moved_from
            if previous is not None and previous[0].moved_from is not None:
                origin = previous[0].moved_from
            moved_from = None if origin == change.path else origin
            entries[change.path] = (Change(change.path, "changed", moved_from), deadline)
            return
        previous = entries.get(change.path)
        if previous is not None and previous[0].moved_from is not None:
            old = previous[0].moved_from
            if change.kind == "deleted":
                # Moved then deleted: for the state database the old path was deleted.
                del entries[change.path]
                entries[old] = (Change(old, "deleted"), deadline)
                return
            entries[change.path] = (Change(change.path, "changed", old), deadline)
            return
        entries[change.path] = (change, deadline)

    def pop_due(self, now: float) -> list[Change]:
        """Remove and return the changes whose quiet period is over, oldest deadline first."""
        due = [(d, c.path, c) for c, d in self.entries.values() if d <= now]
        due.sort(key=lambda item: (item[0], item[1]))
        for _, path, _ in due:
            del self.entries[path]
        return [change for _, _, change in due]

    def next_deadline(self) -> float | None:
        return min((d for _, d in self.entries.values()), default=None)

    def __len__(self) -> int:
        return len(self.entries)
