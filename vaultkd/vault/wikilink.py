"""Obsidian wikilinks and embeds: `[[Note]]`, `[[Note|alias]]`, `[[Note#H1#H2]]`, `[[#Heading]]`,
`[[Note#^block]]`, `![[embed]]`, `![[img.png|100x145]]` and the table escape `[[Note\\|alias]]`.

`split_wikilink` is the one place that understands the inside of the brackets; the markdown-it
inline rule, the frontmatter scan and the fast link scanner all call it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from markdown_it import MarkdownIt
from markdown_it.rules_inline import StateInline

# No newline and no bracket inside: Obsidian does not let a wikilink span lines, and a stray
# `[` or `]` would otherwise let one link swallow its neighbour.
WIKILINK_RE = re.compile(r"(!?)\[\[([^\[\]\n]+)\]\]")


@dataclass(frozen=True, slots=True)
class WikiParts:
    target: str
    heading: str | None
    block: str | None
    display: str | None


def split_wikilink(inner: str) -> WikiParts | None:
    """Split the text between `[[` and `]]`; None when it is not a link (empty, only `|`)."""
    display: str | None = None
    cut = inner.find("|")
    if cut >= 0:
        display = inner[cut + 1 :].strip() or None
        # In a table the pipe is written `\|`; the backslash belongs to the escape, not the path.
        inner = inner[: cut - 1] if cut > 0 and inner[cut - 1] == "\\" else inner[:cut]
    target, sep, sub = inner.partition("#")
    target = target.strip()
    heading: str | None = None
    block: str | None = None
    if sep:
        sub = sub.strip()
        if sub.startswith("^"):
            block = sub[1:].strip() or None
        else:
            # Nested heading links are kept as written ("H1#H2"), each part trimmed.
            heading = "#".join(p.strip() for p in sub.split("#") if p.strip()) or None
    if not target and heading is None and block is None:
        return None
    return WikiParts(target, heading, block, display)


def _wikilink_rule(state: StateInline, silent: bool) -> bool:
    src = state.src
    pos = state.pos
    ch = src[pos]
    if ch == "!":
        if not src.startswith("![[", pos):
            return False
    elif ch != "[" or not src.startswith("[[", pos):
        return False
    m = WIKILINK_RE.match(src, pos)
    if m is None:
        return False
    parts = split_wikilink(m.group(2))
    if parts is None:
        return False
    if not silent:
        token = state.push("wikilink", "", 0)
        token.content = m.group(2)
        token.markup = m.group(0)
        token.meta = {
            "kind": "embed" if m.group(1) else "link",
            "target": parts.target,
            "heading": parts.heading,
            "block": parts.block,
            "display": parts.display,
            "src_start": pos,
            "src_end": m.end(),
        }
    state.pos = m.end()
    return True


def wikilink_plugin(md: MarkdownIt) -> None:
    """Add the `wikilink` inline rule before markdown links, so `[[` never becomes a `[` link."""
    md.inline.ruler.before("link", "wikilink", _wikilink_rule)
