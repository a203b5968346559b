"""The vault reader: files -> `Note`s -> `VaultGraph`. It never writes to the vault."""

from vaultkd.vault.errors import NoteReadError, VaultError
from vaultkd.vault.graph import VaultGraph
from vaultkd.vault.inline import PlainText, to_plain
from vaultkd.vault.note import Block, BlockId, Heading, Link, Note, Task
from vaultkd.vault.parse import parse_note, parse_text
from vaultkd.vault.resolve import Resolution
from vaultkd.vault.scan import VaultFile, is_ignored, read_note, scan_vault

__all__ = [
    "Block",
    "BlockId",
    "Heading",
    "Link",
    "Note",
    "NoteReadError",
    "PlainText",
    "Resolution",
    "Task",
    "VaultError",
    "VaultFile",
    "VaultGraph",
    "is_ignored",
    "parse_note",
    "parse_text",
    "read_note",
    "scan_vault",
    "to_plain",
]
