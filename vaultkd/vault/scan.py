"""Walk a vault folder: which files are notes, which are attachments, which are ignored.

Skipped: every dot-folder and dot-file (`.obsidian/`, `.trash/`, `.vaultkd/`, `.git/` ...).
Symlinks are never followed out of the vault: a symlinked file or folder is kept only when it
resolves to a path inside the vault root (and a folder only once, so loops end).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from vaultkd.vault.errors import NoteReadError, VaultError
from vaultkd.vault.note import Note
from vaultkd.vault.parse import parse_note

FileKind = Literal["note", "attachment"]


@dataclass(frozen=True, slots=True)
class VaultFile:
    path: str  # vault-relative POSIX
    kind: FileKind
    size: int
    mtime_ns: int
    ctime_ns: int = 0  # inode change time: no tool sets it back, unlike mtime


def is_ignored(rel_path: str) -> bool:
    """True for anything inside a dot-folder or a dot-file (`.obsidian/app.json`, `.DS_Store`)."""
    return any(part.startswith(".") for part in rel_path.replace("\\", "/").split("/") if part)


def is_note_path(rel_path: str) -> bool:
    return rel_path.lower().endswith(".md")


def scan_vault(root: Path) -> list[VaultFile]:
    """All notes and attachments under `root`, sorted by path."""
    root = Path(root)
    if not root.is_dir():
        raise VaultError(f"{root}: not a folder; give the path of your vault's folder")
    real_root = os.path.realpath(root)
    out: list[VaultFile] = []
    seen_dirs: set[str] = {real_root}
    stack = [(str(root), "")]
    while stack:
        folder, rel = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError as e:
            if not rel:
                raise VaultError(
                    f"{root}: cannot list the folder ({e.strerror}); check its permissions"
                ) from None
            continue  # an unreadable subfolder is skipped, the rest of the vault still counts
        for entry in entries:
            if entry.name.startswith("."):
                continue
            rel_path = f"{rel}{entry.name}"
            try:
                if entry.is_symlink():
                    target = os.path.realpath(entry.path)
                    if not (target == real_root or target.startswith(real_root + os.sep)):
                        continue
                    if os.path.isdir(target):
                        if target in seen_dirs:
                            continue
                        seen_dirs.add(target)
                        stack.append((entry.path, rel_path + "/"))
                        continue
                elif entry.is_dir(follow_symlinks=False):
                    stack.append((entry.path, rel_path + "/"))
                    continue
                st = entry.stat()
            except OSError:
                continue
            kind: FileKind = "note" if is_note_path(entry.name) else "attachment"
            out.append(VaultFile(rel_path, kind, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
    out.sort(key=lambda f: f.path)
    return out


def read_note(root: Path, rel_path: str) -> Note:
    """Read and parse one note. Raises NoteReadError (one line) if it cannot be read as text."""
    try:
        data = (Path(root) / rel_path).read_bytes()
    except OSError as e:
        raise NoteReadError(
            rel_path, f"cannot be read ({e.strerror})", "check its permissions"
        ) from None
    return parse_note(rel_path, data)
