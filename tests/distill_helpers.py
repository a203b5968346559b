"""Build small `Note`s and their `Sentence`s by hand, so distill tests need no parser."""

from __future__ import annotations

from vaultkd.distill.types import Sentence
from vaultkd.segment import split_sentences
from vaultkd.vault.note import Block, Note, Task


def make_note(path: str, parts: list[tuple[str, str]], section: str | None = None) -> Note:
    """parts: (kind, text) with kind paragraph / list_item / task / heading; "\n\n" between."""
    text = ""
    blocks: list[Block] = []
    tasks: list[Task] = []
    current = section
    for kind, body in parts:
        if text:
            text += "\n\n"
        start = text.count("\n") + 1
        if kind == "heading":
            current = body
            src = "## " + body
        elif kind == "task":
            src = "- [ ] " + body
        elif kind == "list_item":
            src = "- " + body
        else:
            src = body
        offset = len(text)
        text += src
        blocks.append(
            Block(
                kind=kind,  # type: ignore[arg-type]
                start=offset,
                end=offset + len(src),
                line=start,
                end_line=start + src.count("\n"),
                text=src,
                section=None if kind == "heading" else current,
            )
        )
        if kind == "task":
            tasks.append(Task(body, " ", start, offset, offset + len(src)))
    return Note(path=path, text=text + "\n", blocks=tuple(blocks), tasks=tuple(tasks))


def make_sentences(note: Note) -> list[Sentence]:
    out: list[Sentence] = []
    for bi, block in enumerate(note.blocks):
        if block.kind == "heading":
            continue
        if block.kind == "task":
            task = next(t for t in note.tasks if t.start == block.start)
            out.append(
                Sentence(
                    "- [ ] " + task.text,
                    block.start,
                    block.end,
                    block.line,
                    bi,
                    "task",
                    block.section,
                    block.block_id,
                    task,
                )
            )
            continue
        skip = 2 if block.kind == "list_item" else 0
        kind = "list_item" if block.kind == "list_item" else "prose"
        for span in split_sentences(block.text[skip:]):
            start = block.start + skip + span.start
            out.append(
                Sentence(
                    span.text,
                    start,
                    block.start + skip + span.end,
                    note.text.count("\n", 0, start) + 1,
                    bi,
                    kind,
                    block.section,
                    block.block_id,
                )
            )
    return out
