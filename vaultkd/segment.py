"""Sentence splitting: the one splitter shared by the vault reader, distillation and training.

It works on plain prose (one paragraph, list item or transcript line at a time) and returns
spans with offsets into the text it was given, so callers can map a sentence back to the exact
place in a note. It is rule-based on purpose: no model, no downloaded data, deterministic.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

# Lower-cased abbreviations that end with a period but rarely end a sentence.
ABBREVIATIONS: frozenset[str] = frozenset(
    """
    mr mrs ms dr prof sr jr st vs etc e.g i.e cf al approx fig figs eq eqs no nos vol
    pp p ch sec ref refs dept univ inc ltd co corp jan feb mar apr jun jul aug sep sept
    oct nov dec mon tue wed thu fri sat sun est min max avg resp incl excl ca viz
    """.split()
)

# A candidate boundary: terminal punctuation, optional closing quotes/brackets, then whitespace.
_BOUNDARY = re.compile(r"""([.!?]+|\u2026)(["'\u201d\u2019)\]]*)(\s+)""")
# Characters that may open a sentence besides upper-case letters and digits.
_OPENERS = "\"'\u201c\u2018([*_=#>-~`"
_WORD_BEFORE = re.compile(r"([\w.]+)$")
# A parenthetical aside shorter than this is never split ("(or even yourself! -i.e. …)");
# a longer one (a paragraph in parentheses) is split as prose.
MAX_ASIDE = 200
# Tags that end a line after a sentence ("Shipped on Friday. #release #q3"): Obsidian users tag
# the sentence before them, so they stay with it instead of opening the next sentence.
# A letter somewhere in the tag, then the whole tag taken at once (possessive): written as
# `[\w/-]*[^\W\d_][\w/-]*`, a long tag-like word backtracked through every split point.
_TAG = r"#(?=[\w/-]*[^\W\d_])[\w/-]++"
_TRAILING_TAGS = re.compile(rf"{_TAG}(?:[ \t]+{_TAG})*(?=[ \t]*(?:\n|$))")


@dataclass(frozen=True, slots=True)
class Span:
    """A sentence: `text` equals `source[start:end]` with surrounding whitespace trimmed."""

    start: int
    end: int
    text: str


def _merged(ranges: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, non-overlapping ranges covering the same offsets (so a bisect finds any)."""
    out: list[tuple[int, int]] = []
    for a, b in sorted(r for r in ranges if r[0] < r[1]):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _word_before(text: str, start: int, at: int) -> re.Match[str] | None:
    """The run of word characters and dots that ends at `at` (not before `start`).

    Looked for in the last 64 characters first: the whole text since the sentence began
    made each candidate boundary cost the sentence's length (quadratic when boundaries keep
    being refused, e.g. after many abbreviations)."""
    lo = max(start, at - 64)
    m = _WORD_BEFORE.search(text, lo, at)
    if m is not None and m.start() == lo and lo > start:
        m = _WORD_BEFORE.search(text, start, at)  # the word runs past the window
    return m


def _is_abbreviation(text: str, start: int, at: int) -> bool:
    m = _word_before(text, start, at)
    if not m:
        return False
    word = m.group(1).lower().rstrip(".")
    if word in ABBREVIATIONS:
        return True
    # Single letters ("J. Smith", "p. 3") and dotted initialisms ("U.S.") rarely end a sentence.
    if len(word) == 1 and word.isalpha():
        return True
    parts = word.split(".")
    return len(parts) > 1 and all(len(p) <= 2 and p.isalpha() for p in parts)


def split_sentences(
    text: str, *, min_chars: int = 1, keep: Sequence[tuple[int, int]] = ()
) -> list[Span]:
    """Split prose into sentences with offsets into `text`.

    Line breaks inside a paragraph are treated as spaces, except a blank line, which always
    ends a sentence. Boundaries need terminal punctuation followed by whitespace and then an
    upper-case letter, digit, quote, bracket, markup character or symbol (emoji); that keeps
    "e.g. this", "3.5 ms" and "v1.2 is out" together. Tags that end a line after a sentence
    belong to that sentence. No sentence ends inside a `keep` range
    [start, end) (inline code: "the `?? ''` operator" is one sentence).
    """
    spans: list[Span] = []
    start = 0
    kept = _merged(keep)
    kept_starts = [a for a, _ in kept]
    pieces: list[tuple[int, int]] = []
    for para in re.finditer(r"(?:[^\n]|\n(?![ \t]*\n))+", text):
        pieces.append((para.start(), para.end()))
    for p_start, p_end in pieces:
        start = p_start
        chunk = text[p_start:p_end]
        asides = _asides(chunk, p_start) if "(" in chunk else []
        aside_starts = [a for a, _ in asides]
        for m in _BOUNDARY.finditer(chunk):
            punct = m.group(1)
            cut = p_start + m.end(2)  # after the closing quotes/brackets
            nxt = p_start + m.end(3)
            if nxt >= p_end:
                continue
            following = text[nxt]
            if not (
                following.isupper() or following.isdigit() or following in _OPENERS
                or unicodedata.category(following) == "So"  # an emoji or symbol: "✅ Done."
            ):
                continue
            at = p_start + m.start(1)
            if punct == "." and _is_abbreviation(text, start, at):
                continue
            i = bisect_right(kept_starts, at) - 1
            if i >= 0 and at < kept[i][1]:
                continue
            # Inside an aside whose ")" is not the one this boundary closes: "(finally! It
            # took a year)" is part of the sentence around it; "(see below.) Then" ends one.
            i = bisect_right(aside_starts, at) - 1
            if i >= 0 and cut <= asides[i][1]:
                continue
            if following == "#":
                tags = _TRAILING_TAGS.match(text, nxt, p_end)
                if tags is not None:
                    cut = nxt = tags.end()
                    if nxt >= p_end:
                        continue
            _emit(text, start, cut, spans, min_chars)
            start = nxt
        _emit(text, start, p_end, spans, min_chars)
    return spans


def _asides(chunk: str, offset: int) -> list[tuple[int, int]]:
    """(open, close) offsets of the outermost "(…)" pairs of a paragraph shorter than
    MAX_ASIDE, close at the ")"; one pass with a stack (an unclosed "(" pairs with nothing)."""
    out: list[tuple[int, int]] = []
    stack: list[int] = []
    for m in re.finditer(r"[()]", chunk):
        if m.group() == "(":
            stack.append(m.start())
        elif stack:
            open_at = stack.pop()
            if not stack and m.start() - open_at <= MAX_ASIDE:
                out.append((offset + open_at, offset + m.start()))
    return out


def _emit(text: str, start: int, end: int, spans: list[Span], min_chars: int) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end - start >= min_chars:
        spans.append(Span(start, end, text[start:end]))


def sentences(text: str) -> list[str]:
    """Plain list of sentence strings, with inner line breaks folded to spaces."""
    return [" ".join(s.text.split()) for s in split_sentences(text)]
