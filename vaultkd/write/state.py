"""`.vaultkd/state.db`: what vaultkd distilled, what it wrote, and how to undo it.

SQLite in WAL mode so the daemon and a CLI run can share it. The schema changes only through
named migrations, each applied in its own transaction and recorded in `migrations`, so an old
state file is upgraded in place and a half-applied upgrade is impossible.

Tables:
- `notes`: per source note, the hash of its bytes and the model version of the last
  distillation, its status, and the hash of the bytes vaultkd itself last wrote into it
  (block refs / inline mode), so the daemon can recognise its own writes.
- `outputs`: per generated file, its source, kind, the sha256 of the bytes written and a
  status: `current`, `kept` (the user edited it; vaultkd left it alone) or `orphaned` (its
  source is gone or no longer produces it, and it was edited, so it was not removed).
- `embeddings`: the cached predictions of each note (roles, salience, sentence embeddings)
  and its note-level embedding for connections, keyed by model and source hash.
- `undo`: the bytes of a source note before each vaultkd edit, newest last.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vaultkd.roles import ROLES

# (role_probs (n, len(ROLES)), salience (n,), embeddings (n, d)): a prediction as plain arrays,
# because write/ must not depend on model/.
Arrays = tuple[np.ndarray, np.ndarray, np.ndarray]

MIGRATIONS: tuple[tuple[str, str], ...] = (
    (
        "0001_initial",
        """
        CREATE TABLE notes (
            path TEXT PRIMARY KEY,
            source_hash TEXT NOT NULL,
            model TEXT NOT NULL,
            status TEXT NOT NULL,
            message TEXT NOT NULL DEFAULT '',
            written_hash TEXT,
            updated REAL NOT NULL
        );
        CREATE TABLE outputs (
            path TEXT PRIMARY KEY,
            source TEXT NOT NULL,
            kind TEXT NOT NULL,
            file_hash TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'current'
        );
        CREATE INDEX outputs_source ON outputs(source);
        CREATE TABLE embeddings (
            path TEXT PRIMARY KEY,
            model TEXT NOT NULL,
            source_hash TEXT NOT NULL,
            dim INTEGER NOT NULL,
            note BLOB NOT NULL,
            sentences BLOB NOT NULL
        );
        CREATE TABLE undo (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            path TEXT NOT NULL,
            created REAL NOT NULL,
            before BLOB NOT NULL,
            after_hash TEXT NOT NULL
        );
        CREATE INDEX undo_path ON undo(path);
        """,
    ),
    (
        # The whole prediction (roles, salience, embeddings) is cached, not just embeddings,
        # so a note whose neighbours changed is re-distilled without running the model again.
        "0002_prediction_cache",
        """
        ALTER TABLE embeddings ADD COLUMN role_probs BLOB;
        ALTER TABLE embeddings ADD COLUMN salience BLOB;
        """,
    ),
    (
        # Which source edits the last run made ("", "block_refs", "inline", both): asking for
        # another mode makes an otherwise unchanged note pending again.
        "0003_note_mode",
        """
        ALTER TABLE notes ADD COLUMN mode TEXT NOT NULL DEFAULT ''
        """,
    ),
    (
        # Each note's aliases, tags and link targets under its size/mtime/ctime stamp
        # (`vaultkd.vault.graph.LinkCache`): opening a session for one note then reads only the
        # notes that changed, not the whole vault.
        "0004_link_cache",
        """
        CREATE TABLE link_cache (
            path TEXT PRIMARY KEY,
            stamp TEXT NOT NULL,
            data TEXT NOT NULL
        )
        """,
    ),
)


@dataclass(frozen=True, slots=True)
class NoteState:
    path: str
    source_hash: str
    model: str
    status: str
    message: str
    written_hash: str | None
    mode: str = ""


@dataclass(frozen=True, slots=True)
class OutputState:
    path: str
    source: str
    kind: str
    file_hash: str
    status: str


@dataclass(frozen=True, slots=True)
class UndoEntry:
    id: int
    path: str
    created: float
    before: bytes
    after_hash: str


class StateDB:
    """A thin, typed wrapper over the state database; one connection per instance."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # isolation_level=None: transactions are explicit (`with self.transaction()`).
        self.conn = sqlite3.connect(path, isolation_level=None, timeout=30.0,
                                    check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.migrate()

    @classmethod
    def reader(cls, path: Path) -> StateDB:
        """A read-only connection to an existing state db (a worker process's)."""
        db = cls.__new__(cls)
        db.path = path
        db.conn = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None, timeout=30.0
        )
        return db

    # -- schema ---------------------------------------------------------------------------

    def migrate(self) -> list[str]:
        """Apply pending migrations, each in its own transaction; returns the names applied."""
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied REAL NOT NULL)"
        )
        applied: list[str] = []
        for name, sql in MIGRATIONS:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                done = self.conn.execute(
                    "SELECT 1 FROM migrations WHERE name = ?", (name,)
                ).fetchone()
                if not done:
                    for statement in sql.split(";"):
                        if statement.strip():
                            self.conn.execute(statement)
                    self.conn.execute(
                        "INSERT INTO migrations VALUES (?, ?)", (name, time.time())
                    )
                    applied.append(name)
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
        return applied

    def applied_migrations(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT name FROM migrations ORDER BY name")]

    class _Tx:
        def __init__(self, conn: sqlite3.Connection) -> None:
            self.conn = conn

        def __enter__(self) -> sqlite3.Connection:
            self.conn.execute("BEGIN IMMEDIATE")
            return self.conn

        def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
            self.conn.execute("COMMIT" if exc_type is None else "ROLLBACK")

    def transaction(self) -> StateDB._Tx:
        return StateDB._Tx(self.conn)

    def close(self) -> None:
        self.conn.close()

    # -- link cache (vaultkd.vault.graph.LinkCache) --------------------------------------

    def load_links(self) -> dict[str, tuple[str, str]]:
        return {
            p: (stamp, data)
            for p, stamp, data in self.conn.execute("SELECT path, stamp, data FROM link_cache")
        }

    def save_links(self, rows: Sequence[tuple[str, str, str]], drop: Collection[str]) -> None:
        with self.transaction():
            self.conn.executemany("INSERT OR REPLACE INTO link_cache VALUES (?, ?, ?)", rows)
            self.conn.executemany("DELETE FROM link_cache WHERE path = ?", [(p,) for p in drop])

    # -- notes ----------------------------------------------------------------------------

    def note(self, path: str) -> NoteState | None:
        row = self.conn.execute(
            "SELECT path, source_hash, model, status, message, written_hash, mode FROM notes"
            " WHERE path = ?",
            (path,),
        ).fetchone()
        return NoteState(*row) if row else None

    def notes(self) -> Iterator[NoteState]:
        for row in self.conn.execute(
            "SELECT path, source_hash, model, status, message, written_hash, mode FROM notes"
            " ORDER BY path"
        ):
            yield NoteState(*row)

    def set_note(self, state: NoteState) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO notes (path, source_hash, model, status, message,"
            " written_hash, updated, mode) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (state.path, state.source_hash, state.model, state.status, state.message,
             state.written_hash, time.time(), state.mode),
        )

    def delete_note(self, path: str) -> None:
        self.conn.execute("DELETE FROM notes WHERE path = ?", (path,))
        self.conn.execute("DELETE FROM embeddings WHERE path = ?", (path,))

    def rename_note(self, old: str, new: str) -> None:
        self.conn.execute("DELETE FROM notes WHERE path = ?", (new,))
        self.conn.execute("UPDATE notes SET path = ? WHERE path = ?", (new, old))
        self.conn.execute("DELETE FROM embeddings WHERE path = ?", (new,))
        self.conn.execute("UPDATE embeddings SET path = ? WHERE path = ?", (new, old))
        self.conn.execute("UPDATE outputs SET source = ? WHERE source = ?", (new, old))
        self.conn.execute("UPDATE undo SET path = ? WHERE path = ?", (new, old))

    # -- outputs --------------------------------------------------------------------------

    def output(self, path: str) -> OutputState | None:
        row = self.conn.execute(
            "SELECT path, source, kind, file_hash, status FROM outputs WHERE path = ?", (path,)
        ).fetchone()
        return OutputState(*row) if row else None

    def outputs(self, source: str | None = None) -> list[OutputState]:
        if source is None:
            rows = self.conn.execute(
                "SELECT path, source, kind, file_hash, status FROM outputs ORDER BY path"
            )
        else:
            rows = self.conn.execute(
                "SELECT path, source, kind, file_hash, status FROM outputs WHERE source = ?"
                " ORDER BY path",
                (source,),
            )
        return [OutputState(*r) for r in rows]

    def set_output(self, state: OutputState) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO outputs VALUES (?, ?, ?, ?, ?)",
            (state.path, state.source, state.kind, state.file_hash, state.status),
        )

    def delete_output(self, path: str) -> None:
        self.conn.execute("DELETE FROM outputs WHERE path = ?", (path,))

    # -- embeddings -----------------------------------------------------------------------

    def set_prediction(
        self, path: str, model: str, source_hash: str, note: np.ndarray, preds: Arrays
    ) -> None:
        """Cache a note's predictions and its note-level embedding (for connections)."""
        note32 = np.ascontiguousarray(note, dtype=np.float32)
        self.conn.execute(
            "INSERT OR REPLACE INTO embeddings (path, model, source_hash, dim, note, sentences,"
            " role_probs, salience) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                path,
                model,
                source_hash,
                int(note32.shape[-1]),
                note32.tobytes(),
                np.ascontiguousarray(preds[2], dtype=np.float32).tobytes(),
                np.ascontiguousarray(preds[0], dtype=np.float32).tobytes(),
                np.ascontiguousarray(preds[1], dtype=np.float32).tobytes(),
            ),
        )

    def note_embeddings(self, model: str) -> dict[str, np.ndarray]:
        """Note-level embeddings of every cached note predicted with `model`."""
        out: dict[str, np.ndarray] = {}
        for path, dim, blob in self.conn.execute(
            "SELECT path, dim, note FROM embeddings WHERE model = ?", (model,)
        ):
            out[path] = np.frombuffer(blob, dtype=np.float32).reshape(dim)
        return out

    def prediction(self, path: str, model: str, source_hash: str) -> Arrays | None:
        """The cached predictions of `path` if made by `model` on these exact bytes."""
        row = self.conn.execute(
            "SELECT dim, sentences, role_probs, salience FROM embeddings WHERE path = ?"
            " AND model = ? AND source_hash = ? AND role_probs IS NOT NULL",
            (path, model, source_hash),
        ).fetchone()
        if not row:
            return None
        dim, emb, probs, sal = row
        return (
            np.frombuffer(probs, dtype=np.float32).reshape(-1, len(ROLES)),
            np.frombuffer(sal, dtype=np.float32),
            np.frombuffer(emb, dtype=np.float32).reshape(-1, dim),
        )

    # -- undo -----------------------------------------------------------------------------

    def push_undo(self, path: str, before: bytes, after_hash: str) -> int:
        cur = self.conn.execute(
            "INSERT INTO undo (path, created, before, after_hash) VALUES (?, ?, ?, ?)",
            (path, time.time(), before, after_hash),
        )
        return int(cur.lastrowid or 0)

    def undo_entries(self, path: str) -> list[UndoEntry]:
        return [
            UndoEntry(*r)
            for r in self.conn.execute(
                "SELECT id, path, created, before, after_hash FROM undo WHERE path = ?"
                " ORDER BY id",
                (path,),
            )
        ]

    def drop_undo(self, entry_id: int) -> None:
        self.conn.execute("DELETE FROM undo WHERE id = ?", (entry_id,))
