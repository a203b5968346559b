"""Inline tags: `#tag`, `#nested/tag`, `#tag-with_dash`; never `#1984`, `C#`, `foo#bar`, `/#anchor`.

Obsidian needs whitespace (or the start of the text) before `#`, and at least one character in
the tag that is not a digit. Frontmatter `tags:` is read by `frontmatter_tags`.
"""

from __future__ import annotations

import re
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.rules_inline import StateInline

TAG_RE = re.compile(r"#([\w/-]+)")
_ALL_DIGITS = re.compile(r"[\d/_-]*")


def is_tag_name(name: str) -> bool:
    return bool(name) and _ALL_DIGITS.fullmatch(name) is None


# Where Obsidian starts a tag: after whitespace or at the start, before a name with a letter.
_TAG_START = re.compile(r"(?<!\S)#(?=[\w/-]*[^\W\d_])")


def escape_tags(text: str) -> str:
    """`text` with each tag's `#` escaped (`\\#tag`): shown as written, read as no tag."""
    return _TAG_START.sub(r"\\#", text)


def strip_edge_tags(text: str, *, leading: bool = False) -> str:
    """`text` without the `#tag` words that end it (and, with `leading`, those that start it):
    the labels around a sentence ("#decision We ship on Friday. #release"); whitespace is
    folded where tags were taken off. A word at a time, so a line of thousands of tags costs
    its length (an anchored regex retried from every position cost its square)."""
    words = text.split()
    lo, hi = 0, len(words)
    while hi > lo and TAG_RE.fullmatch(words[hi - 1]):
        hi -= 1
    while leading and lo < hi and TAG_RE.fullmatch(words[lo]):
        lo += 1
    if (lo, hi) == (0, len(words)):
        return text
    return " ".join(words[lo:hi])


def _tag_rule(state: StateInline, silent: bool) -> bool:
    src = state.src
    pos = state.pos
    if src[pos] != "#" or (pos > 0 and not src[pos - 1].isspace()):
        return False
    m = TAG_RE.match(src, pos)
    if m is None or not is_tag_name(m.group(1)):
        return False
    if not silent:
        token = state.push("tag", "", 0)
        token.content = m.group(1)
        token.meta = {"src_start": pos, "src_end": m.end()}
    state.pos = m.end()
    return True


def tag_plugin(md: MarkdownIt) -> None:
    md.inline.ruler.before("link", "tag", _tag_rule)


def frontmatter_tags(value: Any) -> list[str]:
    """`tags:` as a list or a scalar separated by commas or spaces, with or without '#'."""
    items: list[Any]
    if value is None:
        return []
    if isinstance(value, str):
        items = re.split(r"[,\s]+", value)
    elif isinstance(value, list | tuple):
        items = []
        for v in value:
            items.extend(re.split(r"[,\s]+", v) if isinstance(v, str) else [v])
    else:
        items = [value]
    out: list[str] = []
    for item in items:
        if item is None or isinstance(item, dict | list):
            continue
        name = str(item).strip().lstrip("#")
        if name:
            out.append(name)
    return out
