"""A note's sentences as the student sees them, each mapped back to its place in the note.

Prose paragraphs, list items, tasks, and the bodies of callouts and quotes are read; code,
math, tables, HTML, comments, embeds, headings and frontmatter never are (their blocks are
skipped), and neither are lines that hold only links or tags, or a label and links
("Related: [[A]], [[B]]"). vaultkd's own inline region (`%% vaultkd:begin %%` …
`%% vaultkd:end %%`) is skipped so an inline run never reads its own summary back. The one
sentence splitter (`vaultkd.segment`) does the splitting.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence

from vaultkd.distill.render import region_span
from vaultkd.distill.types import Sentence, SentenceKind
from vaultkd.segment import split_sentences
from vaultkd.vault.inline import LinkSpan, to_plain
from vaultkd.vault.note import Block, Note, Task

_PROSE_KINDS = {
    "paragraph": "prose",
    "callout": "prose",
    "quote": "prose",
    "list_item": "list_item",
}
_LIST_MARKER = re.compile(r"[ \t]*(?:[-*+]|\d+[.)])[ \t]+")
_TASK_MARKER = re.compile(r"[ \t]*(?:[-*+]|\d+[.)])[ \t]+\[.\][ \t]?")
_QUOTE_PREFIX = re.compile(r"[ \t]*(?:>[ \t]?)+")
_CALLOUT_HEAD = re.compile(r"[ \t]*(?:>[ \t]?)+\[![^\]\n]*\][+-]?[^\n]*")
_TRAILING_ID = re.compile(r"[ \t]+\^[A-Za-z0-9-]+[ \t]*$|^\^[A-Za-z0-9-]+[ \t]*$")
# What is left of a line once links, embeds, tags and punctuation are gone; no letters: no prose.
_NOISE = re.compile(r"!?\[\[[^\]]*\]\]|!?\[[^\]]*\]\([^)]*\)|(?<![\w/])#[\w/-]+|https?://\S+")
_LETTER = re.compile(r"[^\W\d_]")
MIN_WORDS = 2  # "Pros:" or "Notes" before a list is a label, not a sentence
# How far around a sentence `_widen` looks for the brackets of a link it starts or ends in. A
# link target is a path (at most a few hundred characters); without a bound, a note that is
# one long line made each sentence scan the whole line (a 1.2 MB paragraph: 61 s).
LINK_WINDOW = 4096


class _Content:
    """Text assembled from pieces of the note, with each character's offset in `Note.text`."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.offsets: list[int] = []

    def add(self, text: str, start: int) -> None:
        self.parts.append(text)
        self.offsets.extend(range(start, start + len(text)))

    def add_break(self, at: int) -> None:
        # A synthetic paragraph break, so a list line inside a callout is a sentence of its own.
        self.parts.append("\n\n")
        self.offsets.extend((at, at))

    @property
    def text(self) -> str:
        return "".join(self.parts)


def _lines(block: Block) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    pos = block.start
    for raw in block.text.split("\n"):
        out.append((pos, raw.rstrip("\r")))
        pos += len(raw) + 1
    return out


def _block_content(block: Block) -> _Content:
    content = _Content()
    lines = _lines(block)
    if block.kind == "callout":
        head = _CALLOUT_HEAD.match(lines[0][1])
        if head is not None and head.end() == len(lines[0][1]):
            lines = lines[1:]  # the callout's type and title are not prose
    for n, (pos, line) in enumerate(lines):
        if any(a <= pos + len(line) and pos < b for a, b in block.skip):
            # Code or a table inside a quote or callout: not prose, and it ends a sentence.
            if content.parts and content.parts[-1] != "\n\n":
                content.add_break(pos)
            continue
        cut = 0
        if block.kind in ("callout", "quote"):
            m = _QUOTE_PREFIX.match(line)
            cut = m.end() if m else 0
            marker = _LIST_MARKER.match(line, cut)
            if marker is not None:
                if n:
                    content.add_break(pos)
                cut = marker.end()
        elif block.kind == "list_item" and n == 0:
            m = _LIST_MARKER.match(line)
            cut = m.end() if m else 0
        rest = line[cut:]
        trailing = _TRAILING_ID.search(rest)
        if trailing is not None:
            rest = rest[: trailing.start()]
        if n and content.parts and content.parts[-1] != "\n\n":
            content.add("\n", pos - 1)
        content.add(rest, pos + cut)
    return content


def _all_code(text: str, code: list[tuple[int, int]], start: int, end: int) -> bool:
    """Whether every letter of text[start:end] is inside inline code: a list item that is all
    code ("- `status.type (is|is not) DONE`") is syntax, not a sentence. `code` is sorted and
    its spans do not overlap (`to_plain` records them in order)."""
    pos = start
    for a, b in code[max(0, bisect_right(code, (start, start)) - 1) :]:
        if b <= pos:
            continue
        if a >= end:
            break
        if any(c.isalpha() for c in text[pos:a]):
            return False
        pos = max(pos, b)
    return not any(c.isalpha() for c in text[pos:end])


# The words of a pointer to other notes: "See also [[A]] and [[B]] for related notes."
_POINTER = frozenset(
    "see also and or cf cf. compare the a for more on in of related notes note background "
    "reading details context example examples e.g. i.e. next previous up".split()
)


def _is_prose(source: str) -> bool:
    stripped = _NOISE.sub(" ", source)
    words = [w for w in stripped.split() if _LETTER.search(w)]
    # "Related: [[A]], [[B]]." or "Up: [[Index]]": a label and links, a way to other notes,
    # not a sentence ("Called [[Bob]]." is one).
    if not words or (len(words) == 1 and words[0].endswith(":")):
        return False
    # "See [[X]]." and "See also [[A]] and [[B]].": a way to other notes too (the student read
    # such lines as tasks: 9 of the sample vault's 26 new tasks were "See …" lines).
    return stripped == source or not all(
        w.strip(".,;:!?()").lower() in _POINTER for w in words
    )


def _task_sentence(note: Note, bi: int, block: Block, task: Task) -> Sentence | None:
    first = block.text.split("\n", 1)[0]
    m = _TASK_MARKER.match(first)
    start = block.start + (m.end() if m else 0)
    text = task.text.strip()
    if not text:
        return None
    plain = " ".join(to_plain(text).text.split()) or text
    box = "[x]" if task.done else "[ ]"
    return Sentence(
        text=f"- {box} {plain}",
        source_start=start,
        source_end=min(block.end, start + len(text)) if text in first else block.end,
        line=block.line,
        block_index=bi,
        kind="task",
        section=block.section,
        block_id=block.block_id,
        task=task,
    )


def sentences_of(note: Note) -> list[Sentence]:
    """Every sentence of the note the student should read, in note order."""
    skip = region_span(note.text)
    tasks = {t.start: t for t in note.tasks}
    newlines = [m.start() for m in re.finditer("\n", note.text)]
    out: list[Sentence] = []
    for bi, block in enumerate(note.blocks):
        if skip is not None and skip[0] <= block.start < skip[1]:
            continue
        if block.kind == "task":
            task = tasks.get(block.start)
            if task is not None:
                s = _task_sentence(note, bi, block, task)
                if s is not None:
                    out.append(s)
            continue
        kind: SentenceKind | None = _PROSE_KINDS.get(block.kind)  # type: ignore[assignment]
        if kind is None:
            continue
        content = _block_content(block)
        raw = content.text
        if not raw.strip():
            continue
        plain = to_plain(raw)
        links = _links_in_order(plain.links) if plain.links else []
        keep = plain.code + [(a, b) for a, b, _, _ in links] if links else plain.code
        for span in split_sentences(plain.text, keep=keep):
            a = _source_offset(content, plain.offsets, span.start)
            b = _source_offset(content, plain.offsets, span.end - 1) + 1
            a, b = _widen(note.text, a, b)
            text, code, held = _folded(plain.text, span.start, span.end, plain.code, links)
            if len(text.split()) < MIN_WORDS or not _is_prose(note.text[a:b]):
                continue
            if plain.code and _all_code(plain.text, plain.code, span.start, span.end):
                continue
            out.append(
                Sentence(
                    text=text,
                    source_start=a,
                    source_end=b,
                    line=bisect_left(newlines, a) + 1,
                    block_index=bi,
                    kind=kind,
                    section=block.section,
                    block_id=block.block_id,
                    code=code,
                    links=held,
                )
            )
    return out


def _near(
    ranges: Sequence[tuple[int, int]], start: int, end: int
) -> list[tuple[int, int, int]]:
    """(index, lo, hi) of the sorted, non-overlapping `ranges` that meet [start, end), clipped;
    found by bisection, so a note with thousands of spans costs each sentence only its own."""
    out: list[tuple[int, int, int]] = []
    first = max(0, bisect_right(ranges, (start, start)) - 1)
    for i in range(first, len(ranges)):
        c0, c1 = ranges[i][0], ranges[i][1]
        if c0 >= end:
            break
        if c1 > start:
            out.append((i, max(c0, start), min(c1, end)))
    return out


def _folded(
    text: str, start: int, end: int, code: list[tuple[int, int]],
    links: Sequence[LinkSpan] = (),
) -> tuple[str, tuple[tuple[int, int], ...], tuple[LinkSpan, ...]]:
    """text[start:end] with whitespace folded (`" ".join(split())`, what the model reads), and
    the inline code ranges and links that fall in it as offsets into the folded text (a link
    the sentence holds only part of is left out). `code` and `links` are sorted and do not
    overlap (`_links_in_order`), so only the few near the sentence are looked at: a long
    note has thousands of sentences and code spans."""
    near = [(a, b) for _, a, b in _near(code, start, end)]
    near_links = [
        (i, a, b) for i, a, b in _near(links, start, end)
        if (a, b) == (links[i][0], links[i][1])
    ]
    if not near and not near_links:
        return " ".join(text[start:end].split()), (), ()
    cuts = sorted({start, end, *(x for r in near for x in r), *(x for _, a, b in near_links
                                                                 for x in (a, b))})
    out: list[str] = []
    length = 0
    ranges: list[tuple[int, int]] = []
    link_at: dict[int, list[int]] = {}
    for a, b in zip(cuts, cuts[1:], strict=False):
        piece = text[a:b]
        words = piece.split()
        if not words:
            if piece and out and out[-1] != " ":
                out.append(" ")
                length += 1
            continue
        if piece[:1].isspace() and out and out[-1] != " ":
            out.append(" ")
            length += 1
        folded_piece = " ".join(words)
        if any(c0 <= a and b <= c1 for c0, c1 in near):
            ranges.append((length, length + len(folded_piece)))
        for i, l0, l1 in near_links:
            if l0 <= a and b <= l1:
                link_at.setdefault(i, [length, 0])[1] = length + len(folded_piece)
        out.append(folded_piece)
        length += len(folded_piece)
        if piece[-1:].isspace():
            out.append(" ")
            length += 1
    folded = "".join(out).rstrip(" ")
    return (
        folded,
        tuple((a, min(b, len(folded))) for a, b in ranges if a < len(folded)),
        tuple(
            (lo, hi, links[i][2], links[i][3])
            for i, (lo, hi) in sorted(link_at.items(), key=lambda kv: kv[1])
            if hi <= len(folded)
        ),
    )


def _links_in_order(links: Sequence[LinkSpan]) -> list[LinkSpan]:
    """The links sorted by start, without any inside another (`to_plain` records a link found
    in a Markdown link's text before the link around it)."""
    out: list[LinkSpan] = []
    for link in sorted(links, key=lambda x: (x[0], -x[1])):
        if not out or link[0] >= out[-1][1]:
            out.append(link)
    return out


def _widen(text: str, a: int, b: int) -> tuple[int, int]:
    """Grow [a, b) so a link whose display text starts or ends the sentence is included whole."""
    lo = max(0, a - LINK_WINDOW)
    line_start = max(lo, text.rfind("\n", lo, a) + 1)
    line_end = text.find("\n", b, b + LINK_WINDOW)
    line_end = min(len(text), b + LINK_WINDOW) if line_end < 0 else line_end
    prefix = text[line_start:a]
    if prefix.count("[[") > prefix.count("]]"):
        a = line_start + prefix.rfind("[[")
    elif prefix.count("[") > prefix.count("]"):
        a = line_start + prefix.rfind("[")
    suffix = text[b:line_end]
    if suffix.count("]]") > suffix.count("[["):
        b += suffix.find("]]") + 2
    elif suffix.startswith("]("):
        close = suffix.find(")")
        b += close + 1 if close > 0 else 0
    return a, b


def _source_offset(content: _Content, plain_offsets: list[int], i: int) -> int:
    return content.offsets[plain_offsets[i]]
