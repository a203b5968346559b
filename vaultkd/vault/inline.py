"""Markdown of one block or sentence -> the plain words a reader sees, mapped back to the source.

`to_plain` is what distillation feeds to the model: `**bold**` reads as `bold`,
`[[Target|alias]]` as `alias`, `[[Folder/Target]]` as `Target`, `[text](url)` as `text`,
`<https://…>` as its address;
list, task, quote, heading and callout markers at the start of a line are dropped, as are
embeds, images, footnote refs, inline HTML, `%% comments %%` and a trailing ` ^block-id`.
Inline code keeps its text; a `<br>` between two words reads as a space. Every character
of the result maps to its index in the input (a `<br>`'s space to its `<`),
so a sentence found in the plain text can be pointed to (and linked) in the note, and the
links and code spans it held are recorded, so a copy of it can show them again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from vaultkd.vault.wikilink import split_wikilink

# (start, end, kind, destination): text[start:end] was shown by a link. kind "wiki": the
# destination is what `[[…]]` held before its `|` ("Note#Heading"); kind "md": what the
# parentheses of `[text](…)` held. Plain tuples: a vault run pickles every sentence's.
LinkSpan = tuple[int, int, str, str]


@dataclass(frozen=True, slots=True)
class PlainText:
    text: str
    offsets: list[int]  # offsets[i] is the index in the markdown of text[i]
    # [start, end) of each inline code span's text in `text`: no sentence ends inside one
    code: list[tuple[int, int]] = field(default_factory=list)
    # Each link's shown text in `text` and where it goes, in order (`LinkSpan`)
    links: list[LinkSpan] = field(default_factory=list)

    def source_span(self, start: int, end: int) -> tuple[int, int]:
        """Plain slice [start, end) -> the smallest markdown slice that holds it."""
        if end <= start or not self.offsets:
            pos = self.offsets[start] if start < len(self.offsets) else (
                self.offsets[-1] + 1 if self.offsets else 0
            )
            return pos, pos
        return self.offsets[start], self.offsets[end - 1] + 1


# Link texts, destinations and footnote labels are bounded: an unbounded `[^\]\n]+` rescans the
# rest of the line from every "[" that is never closed (a 20,000-"[" paragraph: 3.2 s, growing
# with the square of its length); no real link text or URL is longer than these bounds.
_TOKEN = re.compile(
    r"""
    (?P<lead>^[ \t]*(?:>[ \t]?)*(?:(?:[-*+]|\d+[.)])[ \t]+)?(?:\[.\][ \t]+)?
        (?:\#{1,6}[ \t]+)?(?:\[![^\]\n]*\][+-]?[ \t]*)?)
  # Every other token opens with one of these characters. Said once up front, the engine
  # tests one character class where it would try each of a dozen alternatives, at every
  # character of plain prose: to_plain twice as fast on the shared vaults, same output.
  | (?=[`%<!\[\\*_=~ \t])(?:
    (?P<code>(?P<ticks>`+)(?P<codetext>.+?)(?P=ticks))
  | (?P<comment>%%.*?(?:%%|\Z)|<!--.*?(?:-->|\Z))
  | (?P<embed>!\[\[[^\[\]\n]+\]\])
  | (?P<wiki>\[\[(?P<inner>[^\[\]\n]+)\]\])
  | (?P<image>!\[[^\]\n]{0,1000}\]\([^)\n]{0,2000}\))
  | (?P<footnote>\[\^[^\]\s]{1,200}\])
  | (?P<link>\[(?P<ltext>[^\]\n]{1,1000})\]
        \((?:<[^>\n]{0,2000}>|[^)\s]{0,2000})(?:[ \t]+"[^"\n]{0,1000}")?\))
  | (?P<autolink><(?P<url>[A-Za-z][A-Za-z0-9+.-]{1,31}:[^<>\s]{1,2000}
        |[A-Za-z0-9.!\#$%&'*+/=?^_`{|}~-]{1,200}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,250}))>)
  | (?P<br><[bB][rR][ \t]*/?>)
  | (?P<html></?[A-Za-z][^<>\n]*>)
  | (?P<blockid>[ \t]+\^[A-Za-z0-9-]+[ \t]*$)
  | (?P<escape>\\(?P<escaped>[!-/:-@\[-`{-~]))
  | (?P<marker>\*\*|__|==|~~|(?<!\s)\*|\*(?!\s)|(?<!\w)_(?=\S)|(?<=\S)_(?!\w))
    )""",
    re.VERBOSE | re.MULTILINE | re.DOTALL,
)


def to_plain(markdown: str) -> PlainText:
    chars: list[str] = []
    offsets: list[int] = []
    code: list[tuple[int, int]] = []
    links: list[LinkSpan] = []
    _render(markdown, 0, len(markdown), chars, offsets, code, links)
    return PlainText("".join(chars), offsets, code, links)


def _copy(src: str, a: int, b: int, chars: list[str], offsets: list[int]) -> None:
    if b > a:
        chars.append(src[a:b])
        offsets.extend(range(a, b))


def _render(
    src: str, start: int, end: int, chars: list[str], offsets: list[int],
    code: list[tuple[int, int]], links: list[LinkSpan],
) -> None:
    pos = start
    for m in _TOKEN.finditer(src, start, end):
        if m.end() == m.start():
            continue
        _copy(src, pos, m.start(), chars, offsets)
        pos = m.end()
        kind = m.lastgroup
        if kind == "code":
            at = len(offsets)
            _copy(src, m.start("codetext"), m.end("codetext"), chars, offsets)
            code.append((at, len(offsets)))
        elif kind == "wiki":
            a, b = _wiki_display(src, m.start("inner"), m.end("inner"))
            at = len(offsets)
            _copy(src, a, b, chars, offsets)
            if b > a:
                inner = m.group("inner")
                cut = inner.find("|")
                # A table writes the pipe as `\|`; the backslash is not part of the target.
                if cut >= 0:
                    inner = inner[: cut - 1 if inner[cut - 1 : cut] == "\\" else cut]
                links.append((at, len(offsets), "wiki", inner))
        elif kind == "link":
            at = len(offsets)
            _render(src, m.start("ltext"), m.end("ltext"), chars, offsets, code, links)
            if len(offsets) > at:
                links.append((at, len(offsets), "md", src[m.end("ltext") + 2 : m.end() - 1]))
        elif kind == "autolink":
            # `<https://…>` and `<a@b.org>` show their address, and a copy keeps the link.
            at = len(offsets)
            _copy(src, m.start("url"), m.end("url"), chars, offsets)
            url = m.group("url")
            dest = url if ":" in url else f"mailto:{url}"
            links.append((at, len(offsets), "md", f"<{dest}>"))
        elif kind == "escape":
            _copy(src, m.start("escaped"), m.end("escaped"), chars, offsets)
        elif kind == "br":
            # A line break between two words reads as a space ("order,<br>so we" is not
            # "order,so we"); the space stands at the `<`, the only character it can map to.
            before = chars[-1][-1:] if chars else ""
            after = src[pos : pos + 1] if pos < end else ""
            if before and after and not before.isspace() and not after.isspace():
                chars.append(" ")
                offsets.append(m.start())
        # lead, comment, embed, image, footnote, html, blockid, marker: dropped
    _copy(src, pos, end, chars, offsets)


def _wiki_display(src: str, a: int, b: int) -> tuple[int, int]:
    """The slice of `[[...]]`'s inside that Obsidian shows: the alias, else the title."""
    inner = src[a:b]
    parts = split_wikilink(inner)
    if parts is None:
        return a, a
    cut = inner.find("|")
    if cut >= 0 and parts.display:
        lo = a + cut + 1
        while lo < b and src[lo].isspace():
            lo += 1
        hi = b
        while hi > lo and src[hi - 1].isspace():
            hi -= 1
        return lo, hi
    if parts.target:
        t_start = a + (len(inner) - len(inner.lstrip()))
        t_end = t_start + len(parts.target)
        slash = src.rfind("/", t_start, t_end)
        lo = slash + 1 if slash >= 0 else t_start
        hi = t_end - 3 if src[lo:t_end].lower().endswith(".md") and t_end - 3 > lo else t_end
        return lo, hi
    sub = parts.heading or ""
    h = src.find(sub, a, b) if sub else -1
    return (h, h + len(sub)) if h >= 0 else (a, a)


# Where each kind of syntax `_TOKEN` finds opens: the characters to escape so that it does not
# (relative to the match; "all" escapes each of a marker's characters).
_OPENERS: dict[str, tuple[int, ...] | str] = {
    "code": "ticks", "comment": (0,), "embed": (1, 2), "wiki": (0, 1), "image": (1,),
    "footnote": (0,), "link": (0,), "autolink": (0,), "br": (0,), "html": (0,),
    "marker": "all",
}
_MAX_PASSES = 8
# A character that some syntax of `_TOKEN` starts with (a line's lead: at its start).
_MAYBE_SYNTAX = re.compile(r"[\\`%<!\[*_=~^]|^[ \t]*[-+>#\d]")
_BACKSLASH = re.compile(r"\\(?=[!-/:-@\[-`{-~])")


def literal(text: str, *, line_start: bool = True) -> str:
    """Plain text (as `to_plain` gives it) written as Markdown that reads as itself:
    `to_plain(literal(t)).text == t`. Only characters that would open syntax are escaped
    ("\\[\\[x]]", "\\=\\=x\\=\\=", "a\\*b", "\\<b>"), so "[note]", "snake_case", "5 * 3" and
    "100%" stay as they are. A copy of a sentence needs it: a user's `\\[\\[x\\]\\]` reads as
    "[[x]]", and copied bare that would be a link to a note "x" (tags are `vault.tags`'s).
    Without `line_start`, `text` follows other text on its line: "- x" there is no list."""
    if not _MAYBE_SYNTAX.search(text):
        return text  # most sentences: nothing here can open syntax
    if not line_start:
        return literal("x" + text)[1:]
    out = text
    for n in range(_MAX_PASSES):
        # The text's own backslashes before punctuation, each (in "\\:" the second too); the
        # ones a pass writes escape what they precede and are left alone.
        at = {m.start() for m in _BACKSLASH.finditer(out)} if n == 0 else set()
        for m in _TOKEN.finditer(out):
            kind = m.lastgroup
            if kind == "escape":
                continue
            if kind == "lead":
                lead = m.group().lstrip(" \t")
                if lead:
                    # "1." is escaped at its dot: a digit cannot be.
                    digits = len(lead) - len(lead.lstrip("0123456789"))
                    at.add(m.end() - len(lead) + digits)
                continue
            if kind == "blockid":
                at.add(m.group().index("^") + m.start())
                continue
            where = _OPENERS.get(kind or "")
            if where == "ticks":
                at.update(range(m.start(), m.end("ticks")))
            elif where == "all":
                at.update(range(m.start(), m.end()))
            elif where:
                at.update(m.start() + i for i in where)  # type: ignore[union-attr]
        if not at:
            return out
        out = "".join("\\" + c if i in at else c for i, c in enumerate(out))
    # Syntax that each pass uncovers anew (not met in real text): every punctuation escaped.
    return re.sub(r"([!-/:-@\[-`{-~])", r"\\\1", text)
