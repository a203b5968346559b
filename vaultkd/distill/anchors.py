"""Where a backlink points: `^block` id, else heading, else the note itself.

Under `--block-refs` cited blocks without an id get a deterministic `^vkd-…` id derived from
their text, so re-running on an unchanged note proposes the same id (idempotency).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

from vaultkd.vault.note import Block, Note

# Block kinds where Obsidian accepts an id appended at the end of the block's last line.
ID_KINDS = frozenset({"paragraph", "list_item", "task"})
# Characters Obsidian drops from heading links ([[Note#A: b]] resolves as "A b").
_HEADING_JUNK = re.compile(r"[#|^:\[\]]|%%")


def block_ref_id(text: str, salt: int = 0) -> str:
    """`vkd-` plus a short hash of the block's whitespace-normalised text."""
    norm = " ".join(text.split())
    if salt:
        norm = f"{norm}\x00{salt}"
    return "vkd-" + hashlib.sha1(norm.encode("utf-8")).hexdigest()[:6]


def assign_block_ids(note: Note, block_indices: Iterable[int]) -> dict[int, str]:
    """New ids for the given blocks that can carry one and have none yet; unique in the note."""
    used = {b.id for b in note.block_ids} | {b.block_id for b in note.blocks if b.block_id}
    out: dict[int, str] = {}
    for index in sorted(set(block_indices)):
        block = note.blocks[index]
        if block.block_id or block.kind not in ID_KINDS:
            continue
        salt = 0
        ident = block_ref_id(block.text)
        while ident in used:  # identical blocks (two "- TBD" items) need distinct ids
            salt += 1
            ident = block_ref_id(block.text, salt)
        used.add(ident)
        out[index] = ident
    return out


def heading_anchor(section: str) -> str:
    return " ".join(_HEADING_JUNK.sub(" ", section).split())


def anchor_for(block: Block, new_id: str | None = None) -> str | None:
    """The part after `#` in a wikilink to this block: `^id`, a heading, or None."""
    if block.block_id:
        return "^" + block.block_id
    if new_id:
        return "^" + new_id
    if block.section:
        return heading_anchor(block.section) or None
    return None


def link_target(note_path: str) -> str:
    """The wikilink target for a vault note: its path without `.md` (unambiguous in Obsidian)."""
    return note_path[:-3] if note_path.lower().endswith(".md") else note_path


def wikilink(note_path: str, anchor: str | None = None, alias: str | None = None) -> str:
    target = link_target(note_path)
    if anchor:
        target += "#" + anchor
    if alias:
        target += "|" + alias.replace("|", " ").replace("]", " ")
    return f"[[{target}]]"
