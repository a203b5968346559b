"""Build small `Note`s and their `Sentence`s by hand, so distill tests need no parser."""

from __future__ import annotations

import re

from vaultkd.distill.render import REGION_BEGIN, REGION_END
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


_ID = re.compile(r" \^vkd-[0-9a-f]{6}")
_MARKERS = ("**", "==")


def _is_marked_copy(before: str, after: str) -> bool:
    """Whether `after` is `before` with `**`/`==` markers inserted and nothing else
    (a search over (i, j) positions; markers in the user's own text make a plain diff
    ambiguous)."""
    seen: set[tuple[int, int]] = set()
    todo = [(0, 0)]
    while todo:
        i, j = todo.pop()
        if (i, j) in seen:
            continue
        seen.add((i, j))
        if i == len(before) and j == len(after):
            return True
        for m in _MARKERS:
            if after.startswith(m, j):
                todo.append((i, j + len(m)))
        if i < len(before) and j < len(after) and before[i] == after[j]:
            todo.append((i + 1, j + 1))
    return False


def only_vaultkd_insertions(before: str, after: str) -> None:
    """`after` is `before` plus ids, markers and the marked region, nothing else."""
    region = re.search(
        re.escape(REGION_BEGIN) + r".*?" + re.escape(REGION_END) + r"[^\n]*\n?\r?\n?", after, re.S
    )
    stripped = after if region is None else after[: region.start()] + after[region.end() :]
    stripped = _ID.sub("", stripped)
    assert _is_marked_copy(before, stripped), (before, after)
