"""Errors of the vault reader. Every message is one line naming the file and what to do."""

from __future__ import annotations


class VaultError(Exception):
    """Something about the vault as a whole (not a folder, unreadable root)."""


class NoteReadError(VaultError):
    """One note could not be read as text; the rest of the vault still can."""

    def __init__(self, path: str, problem: str, hint: str) -> None:
        self.path = path
        self.problem = problem
        self.hint = hint
        super().__init__(f"{path}: {problem}; {hint}")
