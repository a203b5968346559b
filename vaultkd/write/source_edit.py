"""Edits vaultkd may make to a user's own note, as pure text transforms.

Only `--block-refs` and `--inline` change a source note, and only in the ways below; the
bytes are produced here and written by `VaultWriter.edit_source` (with an undo entry).
"""

from __future__ import annotations

from collections.abc import Sequence

from vaultkd.vault.note import Note

BOM = b"\xef\xbb\xbf"


def note_bytes(note: Note, text: str) -> bytes:
    """Encode `text` (a variant of `note.text`) the way the note's file was encoded."""
    return (BOM if note.bom else b"") + text.encode("utf-8")


def round_trips(note: Note, data: bytes) -> bool:
    """True when re-encoding the parsed text gives back exactly the file's bytes, the
    precondition for editing it without touching anything else."""
    return note_bytes(note, note.text) == data


def append_block_ids(note: Note, new_ids: Sequence[tuple[int, str]]) -> str:
    """`note.text` with ` ^id` appended at the end of each given block's last line.

    Nothing else changes: not the line endings, not trailing whitespace, not the frontmatter.
    Blocks that already carry an id are left alone.
    """
    text = note.text
    # From the end backwards, so earlier offsets stay valid.
    for index, ident in sorted(new_ids, key=lambda p: note.blocks[p[0]].end, reverse=True):
        block = note.blocks[index]
        if block.block_id:
            continue
        text = f"{text[: block.end]} ^{ident}{text[block.end :]}"
    return text
