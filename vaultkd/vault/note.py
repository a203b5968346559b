"""The domain core of the vault reader: plain dataclasses, no I/O.

Conventions (every stage relies on them):
- `path` is vault-relative POSIX (`Projects/Apollo.md`).
- `Note.text` is the decoded file content with a leading BOM removed and line endings exactly
  as in the file; every `start`/`end` offset is a `str` index into `Note.text`.
- Line numbers are 1-based, counted in `Note.text` (a frontmatter's `---` is line 1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

LinkKind = Literal["link", "embed", "markdown"]
BlockKind = Literal[
    "paragraph",  # prose
    "list_item",  # a bullet or numbered item that is not a task
    "task",  # - [ ] / - [x]
    "heading",
    "callout",  # > [!type] ...
    "quote",  # plain blockquote
    "code",  # fenced or indented code
    "math",  # $$ ... $$
    "table",
    "html",  # HTML block or comment
    "comment",  # %% ... %%
    "embed",  # a block that is only an embed ![[...]]
    "rule",  # thematic break
]


@dataclass(frozen=True, slots=True)
class Link:
    kind: LinkKind
    target: str  # as written, without #heading, #^block or |alias; "" for [[#Heading]]
    heading: str | None  # "H1#H2" for nested heading links
    block: str | None  # block id without the caret
    display: str | None  # alias text / markdown link text / embed size ("100x145")
    line: int
    start: int
    end: int
    in_frontmatter: bool = False  # a "[[Link]]" value of a frontmatter property


@dataclass(frozen=True, slots=True)
class Heading:
    level: int
    text: str
    line: int
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class BlockId:
    id: str  # without the caret
    line: int  # the line the `^id` is on
    start: int  # start of the paragraph/item/block it marks
    end: int  # end of that block (exclusive)


@dataclass(frozen=True, slots=True)
class Task:
    text: str  # the task text without the `- [ ]` marker
    status: str  # the character inside the brackets: " ", "x", "/", "-" ...
    line: int
    start: int
    end: int

    @property
    def done(self) -> bool:
        return self.status.lower() == "x"


@dataclass(frozen=True, slots=True)
class Block:
    """A top-level unit of the body, the granularity distillation and block refs work at."""

    kind: BlockKind
    start: int
    end: int  # exclusive, without the trailing newline
    line: int
    end_line: int
    text: str  # Note.text[start:end]
    section: str | None = None  # text of the nearest heading above, for [[Note#Heading]]
    block_id: str | None = None  # an existing ^id on this block
    depth: int = 0  # list nesting depth for list items / tasks
    # [start, end) offsets in Note.text of what a quote or callout holds that is not prose
    # (fenced or indented code, math, tables, HTML, comments): never read as sentences
    skip: tuple[tuple[int, int], ...] = ()


@dataclass(slots=True)
class Note:
    path: str
    text: str
    frontmatter: dict[str, Any] = field(default_factory=dict)
    frontmatter_error: str | None = None
    body_start: int = 0  # offset of the first character after the frontmatter
    aliases: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()  # without '#', in order of first appearance, deduplicated
    headings: tuple[Heading, ...] = ()
    block_ids: tuple[BlockId, ...] = ()
    tasks: tuple[Task, ...] = ()
    links: tuple[Link, ...] = ()
    blocks: tuple[Block, ...] = ()
    bom: bool = False
    newline: str = "\n"  # the file's dominant line ending

    @property
    def title(self) -> str:
        name = self.path.rsplit("/", 1)[-1]
        return name[:-3] if name.lower().endswith(".md") else name

    @property
    def body(self) -> str:
        return self.text[self.body_start :]
