"""Obsidian comments `%% ... %%`, inline and as blocks; nothing inside them is a link or a tag.

As in Obsidian, a comment that is never closed runs to the end of the note (block) or of the
paragraph (inline).
"""

from __future__ import annotations

from markdown_it import MarkdownIt
from markdown_it.rules_block import StateBlock
from markdown_it.rules_inline import StateInline


def _comment_inline(state: StateInline, silent: bool) -> bool:
    src = state.src
    pos = state.pos
    if not src.startswith("%%", pos):
        return False
    close = src.find("%%", pos + 2)
    end = len(src) if close < 0 else close + 2
    if not silent:
        token = state.push("comment", "", 0)
        token.content = src[pos + 2 : close if close >= 0 else end]
        token.meta = {"src_start": pos, "src_end": end}
    state.pos = end
    return True


def _comment_block(state: StateBlock, start_line: int, end_line: int, silent: bool) -> bool:
    if state.sCount[start_line] - state.blkIndent >= 4:
        return False
    pos = state.bMarks[start_line] + state.tShift[start_line]
    first = state.src[pos : state.eMarks[start_line]]
    if not first.startswith("%%"):
        return False
    if silent:
        return True
    rest = first[2:].rstrip()
    if "%%" in rest and not (rest.endswith("%%") and rest.count("%%") == 1):
        # `%%a%% text`: an inline comment at the start of a paragraph, not a comment block.
        return False
    line = start_line
    closed = "%%" in rest
    while not closed and line + 1 < end_line:
        line += 1
        text = state.src[state.bMarks[line] + state.tShift[line] : state.eMarks[line]]
        closed = "%%" in text
    if not closed:
        line = end_line - 1
    # A comment closed mid-line on a later line swallows the rest of that line, as Obsidian shows.
    token = state.push("comment_block", "", 0)
    token.map = [start_line, line + 1]
    token.content = state.getLines(start_line, line + 1, state.blkIndent, False)
    state.line = line + 1
    return True


def comment_plugin(md: MarkdownIt) -> None:
    md.block.ruler.before(
        "fence", "comment_block", _comment_block, {"alt": ["paragraph", "reference", "blockquote"]}
    )
    md.inline.ruler.before("escape", "comment", _comment_inline)
