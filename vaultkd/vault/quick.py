"""The fast link reader behind `VaultGraph.build`: links, tags and aliases without markdown-it.

markdown-it-py reads about 2-3 MB/s, so a 10,000-note vault would take tens of seconds. This
module finds the same links with a handful of regular expressions: it blanks out (with spaces,
keeping every offset and line) what can never hold a link — fenced and indented code, math,
`%% %%` and HTML comments, inline code, backslash escapes — and then looks for wikilinks,
Markdown links and tags in what is left. Its answer is tested against `parse.parse_text` on
the syntax fixtures, the sample vault and the real vaults in `../shared/data`; where CommonMark
corner cases differ (lazy continuation lines, exotic list indentation) the full parser wins.

The `Note` it returns has `frontmatter`, `aliases`, `tags` and `links`, but no blocks,
headings, tasks or block ids: use `parse.parse_note` for those.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from vaultkd.vault.errors import NoteReadError
from vaultkd.vault.note import Link, LinkKind, Note
from vaultkd.vault.parse import (
    PLAIN_TEXT_LIMIT,
    _Lines,
    decode_note,
    dedupe_tags,
    frontmatter_aliases,
    frontmatter_links,
    load_frontmatter,
    split_frontmatter,
)
from vaultkd.vault.tags import TAG_RE, frontmatter_tags, is_tag_name
from vaultkd.vault.wikilink import WIKILINK_RE, split_wikilink

# One tokenizer where the leftmost match wins (a fence inside an HTML comment is no fence, a
# `%%` inside inline code opens no comment). Every alternative starts with a newline (block
# constructs: the text is given a leading "\n") or one of a few rare characters; the guard
# lets the regex engine skip every other position quickly.
_MASK = re.compile(
    r"""
    (?=[\n`$%<\\])
    (?:
      (?P<fence>\n[ \t>]{0,8}(?P<fchars>`{3,}|~{3,})[^\n]*\n(?:.*?\n)??
                 [ \t>]{0,8}(?P=fchars)[`~]*[ \t]*(?=\n|\Z)
               |\n[ \t>]{0,8}(?:`{3,}|~{3,})[^\n]*(?:\n.*)?\Z)
    | (?P<htmlblock>\n[ \t]{0,3}(?:<!--(?!.*?-->).*\Z
          |</?(?:address|article|aside|blockquote|body|center|details|dialog
          |dd|div|dl|dt|fieldset|figcaption|figure|footer|form|h[1-6]|header|hr|html|legend|li
          |main|menu|nav|ol|p|section|summary|table|tbody|td|tfoot|th|thead|tr|ul)(?=[\s/>])
          [^\n]*|</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>\n]*)?/?>[ \t]*(?=\n|\Z))
          (?:\n(?![ \t]*(?:\n|\Z))[^\n]*)*)
    | (?P<mathblock>\$\$.*?(?:\$\$|\Z))
    | (?P<comment>%%.*?(?:%%|\Z))
    | (?P<html><!--.*?-->)
    | (?P<code>(?<!`)(?P<ticks>`+)(?:(?!\n(?:[ \t>]*\n|[ \t>]*(?:[-*+]|\d+[.)])[ \t]|[ \t]*\#)).)+?
               (?<!`)(?P=ticks)(?!`))
    | (?P<math>(?<![\\$\d])\$(?=[^\s$])[^$\n]*?(?<=[^\s\\])\$(?![\d$]))
    | (?P<escape>\\[!-/:-@\[-`{-~])
    | (?P<htmltag></?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>)
    )
    """,
    re.VERBOSE | re.DOTALL,
)
_ANY_INDENT = re.compile(r"^(?: {4}|\t)", re.M)
_INDENTED = re.compile(r"^(?: {4}|\t)")
_LIST_OR_INDENTED = re.compile(r"^[ \t]*(?:[-*+]|\d+[.)])(?:[ \t]|$)|^(?: {4}|\t)")
_MD_LINK = re.compile(
    r"(!?)\[((?:[^\[\]\n]|\[[^\[\]\n]*\])*)\]"
    r"\((?:<([^>\n]*)>|((?:[^()\s]|\([^()\s]*\))+))(?:[ \t]+\"[^\"\n]*\")?\)"
)
# The same without the optional "!": a literal first character lets the regex engine jump.
_WIKI_SCAN = re.compile(r"\[\[([^\[\]\n]+)\]\]")
_MD_SCAN = re.compile(
    r"\[((?:[^\[\]\n]|\[[^\[\]\n]*\])*)\]"
    r"\((?:<([^>\n]*)>|((?:[^()\s]|\([^()\s]*\))+))(?:[ \t]+\"[^\"\n]*\")?\)"
)
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")


_FILL = "\x00"  # not a space: `\[#x` or `` `c`#x `` must not turn into a tag after masking


def _blank(text: str, start: int, end: int, out: list[str]) -> None:
    # Keep newlines so line numbers survive; everything else becomes filler.
    out.append(re.sub(r"[^\n]", _FILL, text[start:end]))


def mask(text: str) -> str:
    """`text` with every place that cannot hold a link or tag blanked out (same length)."""
    if _ANY_INDENT.search(text):
        text = _mask_indented(text)
    if any(c in text for c in "`~$%<\\"):
        text = _apply(_MASK, "\n" + text)[1:]
    return text


def _apply(pattern: re.Pattern[str], text: str) -> str:
    out: list[str] = []
    pos = 0
    for m in pattern.finditer(text):
        out.append(text[pos : m.start()])
        _blank(text, m.start(), m.end(), out)
        pos = m.end()
    if not out:
        return text
    out.append(text[pos:])
    return "".join(out)


def _mask_indented(text: str) -> str:
    """Indented code: 4 spaces or a tab after a blank line that does not continue a list."""
    lines = text.split("\n")
    prev_blank, in_code, context_ok = True, False, True
    for i, line in enumerate(lines):
        if not line.strip():
            prev_blank = True
            continue
        if _INDENTED.match(line) and (in_code or (prev_blank and context_ok)):
            lines[i] = _FILL * len(line)
            in_code = True
        else:
            in_code = False
            context_ok = not _LIST_OR_INDENTED.match(line)
        prev_blank = False
    return "\n".join(lines)


class _LineCounter(_Lines):
    """`_Lines.line_of` without the table of line starts: offsets mostly come in order, so
    counting newlines since the last one asked for is cheaper than indexing every line."""

    def __init__(self, text: str) -> None:  # noqa: D107 - no super(): no table wanted
        self.text = text
        self._pos = 0
        self._line = 1

    def line_of(self, offset: int) -> int:
        if offset < self._pos:
            self._pos, self._line = 0, 1
        self._line += self.text.count("\n", self._pos, offset)
        self._pos = offset
        return self._line


def scan_links(path: str, text: str, bom: bool = False) -> Note:
    if text.startswith("\ufeff"):
        text, bom = text[1:], True
    lines = _LineCounter(text)
    fm: dict[str, Any] = {}
    fm_error: str | None = None
    body_start = 0
    links: list[Link] = []
    split = split_frontmatter(text)
    if split is not None:
        yaml_start, yaml_end, body_start = split
        fm, fm_error = load_frontmatter(text[yaml_start:yaml_end], 2)
        if fm_error is None:
            links.extend(frontmatter_links(text, yaml_start, yaml_end, lines))
    tags = frontmatter_tags(fm.get("tags", fm.get("tag")))
    if len(text) - body_start <= PLAIN_TEXT_LIMIT:
        body = mask(text[body_start:].replace("\r", " "))
        found: list[tuple[int, Link]] = []
        for m in _WIKI_SCAN.finditer(body):
            inner = m.group(1)
            s, e = m.start(), m.end()
            if _FILL in inner:
                # Masked inside (`\|`, code): read the link from the real text.
                w = WIKILINK_RE.match(text, body_start + s - (body[s - 1 : s] == "!"))
                if w is not None and w.end() == body_start + e:
                    inner = w.group(2)
            parts = split_wikilink(inner)
            if parts is None:
                continue
            kind: LinkKind = "link"
            if s and body[s - 1] == "!":
                kind, s = "embed", s - 1
            s, e = s + body_start, e + body_start
            found.append((s, Link(kind, parts.target, parts.heading, parts.block, parts.display,
                                  lines.line_of(s), s, e)))
        if "](" in body:
            for m in _MD_SCAN.finditer(body):
                st = m.start() - 1 if m.start() and body[m.start() - 1] == "!" else m.start()
                md = _MD_LINK.match(body, st)
                link = _markdown_link(md, body_start, lines) if md is not None else None
                if link is not None:
                    found.append((link.start, link))
        if "](" in body:
            found.sort(key=lambda x: x[0])
        links.extend(lk for _, lk in found)
        if "#" in body:
            for m in TAG_RE.finditer(body):
                st = m.start()
                if (st == 0 or body[st - 1].isspace()) and is_tag_name(m.group(1)):
                    tags.append(m.group(1))
    return Note(
        path=path, text=text, frontmatter=fm, frontmatter_error=fm_error, body_start=body_start,
        aliases=frontmatter_aliases(fm), tags=dedupe_tags(tags), links=tuple(links), bom=bom,
    )


def _markdown_link(m: re.Match[str], base: int, lines: _Lines) -> Link | None:
    # Found in the masked text, read from the real one (`<My Note.md>` looks like HTML).
    m = _MD_LINK.match(lines.text, base + m.start()) or m
    if m.string is lines.text:
        base = 0
    href = m.group(3) if m.group(3) is not None else m.group(4)
    if not href or href.startswith(("#", "//")) or _SCHEME.match(href):
        return None
    if WIKILINK_RE.search(m.group(0)):
        return None  # `[[x]](...)`: the wikilink rule took the brackets first
    target, _, fragment = href.partition("#")
    fragment = unquote(fragment).strip()
    block = fragment[1:] if fragment.startswith("^") else None
    heading = fragment if fragment and block is None else None
    kind: LinkKind = "embed" if m.group(1) else "markdown"
    s, e = base + m.start(), base + m.end()
    label = lines.text[base + m.start(2) : base + m.end(2)]  # as written, not masked
    return Link(kind, unquote(target), heading, block, label or None, lines.line_of(s), s, e)


def read_links(root: Path, rel_path: str) -> Note:
    try:
        data = (Path(root) / rel_path).read_bytes()
    except OSError as e:
        raise NoteReadError(
            rel_path, f"cannot be read ({e.strerror})", "check its permissions"
        ) from None
    text, bom = decode_note(rel_path, data)
    return scan_links(rel_path, text, bom)
