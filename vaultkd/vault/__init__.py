"""The vault reader: files -> `Note`s -> `VaultGraph`. It never writes to the vault."""

from vaultkd.vault.errors import NoteReadError, VaultError
from vaultkd.vault.note import Block, BlockId, Heading, Link, Note, Task
from vaultkd.vault.parse import parse_note, parse_text
from vaultkd.vault.scan import VaultFile, is_ignored, read_note, scan_vault

__all__ = [
    "Block",
    "BlockId",
    "Heading",
    "Link",
    "Note",
    "NoteReadError",
    "Task",
    "VaultError",
    "VaultFile",
    "is_ignored",
    "parse_note",
    "parse_text",
    "read_note",
    "scan_vault",
]
