"""The only code that writes into a vault: generated notes, source edits, undo.

Rules it enforces, whatever the caller asks:
- every path is checked by `paths.vault_path` (nothing outside the vault);
- a file is replaced only when it is a vaultkd note of the same source that no one edited
  (its embedded `output_hash` still verifies) — anything else is kept and reported;
- the bytes on disk are compared with what was read just before replacing (`ChangedOnDisk`
  -> the note is retried later);
- a generated note that a run no longer produces is deleted when unedited, and kept (status
  `orphaned` in the state db, listed by `vaultkd status`) when the user edited it;
- a source note is only ever replaced through `edit_source`, which logs its previous bytes
  for `undo` first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vaultkd.write.atomic import (
    ChangedOnDisk,
    atomic_delete,
    atomic_write,
    atomic_write_many,
    read_bytes,
    remove_empty_dirs,
)
from vaultkd.write.genfile import full_hash, inspect, render_file, short_hash, source_link
from vaultkd.write.paths import UnsafePath, vault_path
from vaultkd.write.state import NoteState, OutputState, StateDB


@dataclass(frozen=True, slots=True)
class OutputFile:
    """A generated note to write: what `distill/` rendered plus its kind."""

    rel_path: str
    kind: str  # "distillation" | "atomic"
    frontmatter: dict[str, Any]
    body: str


@dataclass(slots=True)
class WriteReport:
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # the user's version won
    removed: list[str] = field(default_factory=list)  # stale and unedited
    orphaned: list[str] = field(default_factory=list)  # stale but edited: kept
    retry: list[str] = field(default_factory=list)  # changed while we worked
    errors: list[str] = field(default_factory=list)  # one line each


class UndoError(Exception):
    """`vaultkd undo` cannot restore the note; the message says why and what to do."""


class VaultWriter:
    def __init__(self, root: Path, db: StateDB, *, dry_run: bool = False) -> None:
        self.root = root.resolve()
        self.db = db
        self.dry_run = dry_run

    # -- generated notes ------------------------------------------------------------------

    def write_outputs(
        self,
        source: str,
        files: Sequence[OutputFile],
        *,
        model: str,
        source_hash: str,
        replace_all: bool = True,
    ) -> WriteReport:
        """Write the generated notes of `source`; with `replace_all`, outputs of `source`
        that are not in `files` are stale and removed (or kept when edited)."""
        report = WriteReport()
        states: list[OutputState] = []
        produced: set[str] = set()
        planned: list[tuple[Path, bytes, bytes | None, OutputState]] = []
        # Each path is checked once (it resolves symlinks: a tenth of a millisecond each).
        paths: dict[str, Path | UnsafePath] = {}
        for f in files:
            try:
                paths[f.rel_path] = vault_path(self.root, f.rel_path)
            except UnsafePath as exc:
                paths[f.rel_path] = exc
        if not self.dry_run:
            self._record_intent(source, files, paths)
        for f in files:
            produced.add(f.rel_path)
            path = paths[f.rel_path]
            if isinstance(path, UnsafePath):
                report.errors.append(f"refused to write {path}")
                continue
            data = render_file(
                f.frontmatter, f.body, kind=f.kind, source=source, model=model,
                source_hash=source_hash,
            )
            plan = self._plan_one(source, f, path, data, report)
            if isinstance(plan, tuple):
                planned.append(plan)
            elif plan is not None:
                states.append(plan)
        # All writes of this note at once: their flushes to disk overlap (atomic_write_many).
        outcomes = atomic_write_many([(path, data, cur) for path, data, cur, _ in planned])
        for (_, _, _, state), outcome in zip(planned, outcomes, strict=True):
            if outcome is None:
                report.written.append(state.path)
                states.append(state)
            else:
                report.retry.append(state.path)
        stale = [
            o for o in self.db.outputs(source) if replace_all and o.path not in produced
        ]
        drops: list[str] = []
        for o in stale:
            kept = self._remove_stale(o, report)
            if kept is None:
                drops.append(o.path)
            else:
                states.append(kept)
        if not self.dry_run:
            with self.db.transaction():
                for s in states:
                    self.db.set_output(s)
                for p in drops:
                    self.db.delete_output(p)
        return report

    def _record_intent(
        self, source: str, files: Sequence[OutputFile], paths: Mapping[str, Path | UnsafePath]
    ) -> None:
        """Record new output paths before writing them: a run killed half way then still
        knows which files on disk belong to `source` (their titles stay this note's)."""
        new = []
        for f in files:
            path = paths[f.rel_path]
            if isinstance(path, UnsafePath) or self.db.output(f.rel_path) is not None:
                continue
            if not path.exists():
                new.append(OutputState(f.rel_path, source, f.kind, "", "current"))
        if new:
            with self.db.transaction():
                for state in new:
                    self.db.set_output(state)

    def _owned(self, source: str, rel_path: str, current: bytes) -> tuple[bool, bool]:
        """(may replace, is this source's) for an existing file at an output path."""
        info = inspect(current)
        recorded = self.db.output(rel_path)
        mine = (recorded is not None and recorded.source == source) or (
            info is not None and info.source == source_link(source)
        )
        return (info is not None and info.intact and mine), mine

    def _plan_one(
        self, source: str, f: OutputFile, path: Path, data: bytes, report: WriteReport
    ) -> OutputState | tuple[Path, bytes, bytes | None, OutputState] | None:
        """Decide about one output: a state to record as is, a write to make, or None."""
        current = read_bytes(path)
        ok_state = OutputState(f.rel_path, source, f.kind, full_hash(data), "current")
        if current == data:
            report.unchanged.append(f.rel_path)
            return ok_state
        if current is not None:
            owned, mine = self._owned(source, f.rel_path, current)
            if not owned:
                report.kept.append(f.rel_path)
                # Track a generated note the user edited; a file that was never ours
                # (a user note, another source's note) is left out of the state entirely.
                if mine:
                    return OutputState(f.rel_path, source, f.kind, full_hash(current), "kept")
                return None
        if self.dry_run:
            report.written.append(f.rel_path)
            return None
        return path, data, current, ok_state

    def _remove_stale(self, o: OutputState, report: WriteReport) -> OutputState | None:
        """Delete an output no longer produced if unedited; returns its new state if kept."""
        try:
            path = vault_path(self.root, o.path)
        except UnsafePath:
            return None
        current = read_bytes(path)
        if current is None:
            return None
        info = inspect(current)
        if info is None or not info.intact:
            report.orphaned.append(o.path)
            return OutputState(o.path, o.source, o.kind, full_hash(current), "orphaned")
        if self.dry_run:
            report.removed.append(o.path)
            return o
        try:
            atomic_delete(path, expected=current)
        except ChangedOnDisk:
            report.retry.append(o.path)
            return o
        remove_empty_dirs(path.parent, self.root)
        report.removed.append(o.path)
        return None

    def drop_source(self, source: str) -> WriteReport:
        """The source is gone: remove its unedited outputs, keep edited ones as orphaned."""
        report = self.write_outputs(source, [], model="", source_hash="")
        if not self.dry_run:
            with self.db.transaction():
                self.db.delete_note(source)
        return report

    # -- source notes ---------------------------------------------------------------------

    def edit_source(self, rel_path: str, before: bytes, after: bytes) -> bool:
        """Replace a user's note (block refs, inline mode), logging `before` for undo first.

        Returns False when there is nothing to change; raises `ChangedOnDisk` when the
        file no longer holds `before`.
        """
        if before == after:
            return False
        path = vault_path(self.root, rel_path)
        if self.dry_run:
            return True
        # The undo entry is committed before the file is replaced: after a crash in between,
        # `undo` finds the file still equal to `before` and simply drops the entry.
        with self.db.transaction():
            entry = self.db.push_undo(rel_path, before, full_hash(after))
        try:
            atomic_write(path, after, expected=before)
        except BaseException:
            with self.db.transaction():
                self.db.drop_undo(entry)
            raise
        return True

    def undo(self, rel_path: str, *, force: bool = False) -> str:
        """Restore `rel_path` byte for byte to before vaultkd's last edit; returns a message."""
        path = vault_path(self.root, rel_path)
        while True:
            entries = self.db.undo_entries(rel_path)
            if not entries:
                raise UndoError(f"{rel_path}: vaultkd has not edited this note; nothing to undo")
            entry = entries[-1]
            current = read_bytes(path)
            if current is None:
                raise UndoError(
                    f"{rel_path}: the note no longer exists; its earlier versions stay in "
                    f"{self.db.path}"
                )
            if current == entry.before:
                # A run was killed between logging and writing: nothing to restore here.
                with self.db.transaction():
                    self.db.drop_undo(entry.id)
                continue
            if full_hash(current) != entry.after_hash and not force:
                raise UndoError(
                    f"{rel_path}: changed since vaultkd edited it, so undo would lose those "
                    f"changes; run `vaultkd undo --force` to restore it anyway (your current "
                    f"version is kept in the undo log)"
                )
            break
        edited_since = full_hash(current) != entry.after_hash
        atomic_write(path, entry.before, expected=current)
        with self.db.transaction():
            self.db.drop_undo(entry.id)
            if edited_since:
                # --force: keep the version we replaced, so a second undo brings it back.
                self.db.push_undo(rel_path, current, full_hash(entry.before))
            old = self.db.note(rel_path)
            # Mark the restored bytes as seen, so neither `--all` nor the daemon re-applies
            # the edit the user just undid; a later edit by the user makes it pending again.
            self.db.set_note(
                NoteState(
                    rel_path,
                    short_hash(entry.before),
                    old.model if old else "",
                    "undone",
                    "restored by vaultkd undo",
                    full_hash(entry.before),
                    old.mode if old else "",
                )
            )
        left = len(self.db.undo_entries(rel_path))
        more = f"; {left} earlier edit(s) can still be undone" if left else ""
        return f"{rel_path}: restored to its bytes before vaultkd's edit{more}"

    # -- own writes -----------------------------------------------------------------------

    def is_own_write(self, rel_path: str) -> bool:
        try:
            current = read_bytes(vault_path(self.root, rel_path))
        except UnsafePath:
            return False
        if current is None:
            return False
        digest = full_hash(current)
        out = self.db.output(rel_path)
        if out is not None and out.file_hash == digest and out.status == "current":
            return True
        note = self.db.note(rel_path)
        return note is not None and note.written_hash == digest
