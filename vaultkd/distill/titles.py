"""Titles for atomic notes: short, readable, and safe as a file name on Windows, macOS and Linux.

A title is also a wikilink target, so it must avoid what Obsidian's link syntax reserves
(`# ^ [ ] |`) as well as what file systems reject.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Iterable, Mapping

from vaultkd.vault.tags import strip_edge_tags

MAX_TITLE = 80
# Windows rejects \ / : * ? " < > |, Obsidian links break on # ^ [ ] |, and a leading dot would
# hide the file on macOS/Linux; all are replaced by a space.
_FORBIDDEN = set('\\/:*?"<>|#^[]')
# Windows device names, reserved with or without an extension ("CON.md", "con.txt").
_RESERVED = (
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"COM{i}" for i in range(10)}
    | {f"LPT{i}" for i in range(10)}
    | {"COM¹", "COM²", "COM³", "LPT¹", "LPT²", "LPT³"}
)
# Leading filler that makes a title longer without saying more.
_FILLER = re.compile(
    r"^(?:(?:so|and|but|also|however|thus|therefore|in fact|note that|it seems that)[, ]+)+",
    re.IGNORECASE,
)
# "Key finding: X" -> "X": a short label before a colon says less than what follows it.
_LABEL = re.compile(r"^\W*(?:[\w'-]+ ){0,2}[\w'-]+\s*:\s+(?=(?:\S+\s+){2,}\S)")
FALLBACK = "Untitled idea"
# A colon inside a claim joins two parts ("Longevity matters a lot: utilities keep records for
# thirty years"); file names cannot hold it, and a bare space ran the parts together.
_COLON = re.compile(r"\s*:\s+(?=\S)")
JOIN = " – "
# Inline math reads as its formula in a title: "$S$" -> "S".
_MATH = re.compile(r"\$(?=[^\s$])([^$\n]{1,200}?)(?<=[^\s$])\$")


def _joined(text: str) -> str:
    """Colons between words become `JOIN`; one inside inline code is part of the code
    ("labelled `priority: high`"), and cutting the title at it left "… labelled priority"."""
    parts = re.split(r"(`[^`\n]*`)", text)
    return "".join(p if i % 2 else _COLON.sub(JOIN, p) for i, p in enumerate(parts))


def _clean(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    out: list[str] = []
    for ch in text:
        cat = unicodedata.category(ch)
        if ch in _FORBIDDEN or cat.startswith("C") or cat in ("Zl", "Zp"):
            out.append(" ")
        elif cat == "Zs":
            out.append(" ")
        else:
            out.append(ch)
    cleaned = " ".join("".join(out).split())
    # Markup left over from the source should not survive into a file name (nor "%%", which
    # would open a comment in the links to the note).
    cleaned = re.sub(r"(\*\*|==|__|~~|`|%%)", "", cleaned)
    return " ".join(cleaned.split())


# Words a title cut short should not end on ("… with a solid line and", "… a modifier that
# determines how", "… attributes of our tasks like").
_DANGLING = frozenset(
    """
    a an the and or but nor so yet of to in on at by for from with without into onto about as
    than that which who whom whose whether if when while because although though is are was
    were be been being has have had do does did can could will would shall should may might
    must not this these those its it their your our my his her you we they i
    how what where why like such also just only very more most over under between after
    before through during across per via including
    """.split()
)


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return _closed(_cut(text, limit), limit)


def _closed(title: str, limit: int) -> str:
    """A cut title without a "(" whose ")" was cut off: it ends before that "(" (when enough
    is left), so "… per day (2026-01-26 Sync" reads "… per day"."""
    depth = 0
    opened = -1
    for i, ch in enumerate(title):
        if ch == "(":
            if depth == 0:
                opened = i
            depth += 1
        elif ch == ")" and depth:
            depth -= 1
    if depth and opened >= limit // 3:
        return title[:opened].rstrip(" ,;–—-")
    return title


def _cut(text: str, limit: int) -> str:
    cut = text[: limit + 1]
    # Prefer ending at a clause boundary, then at a word boundary.
    # A colon follows a whole clause (English usage), so its join is the first choice.
    for sep in (JOIN, ", ", "; ", " - ", " — "):
        pos = cut.rfind(sep)
        if pos >= limit // 3:
            return text[:pos]
    pos = cut.rfind(" ")
    if pos < limit // 2:
        return text[:limit]
    words = text[:pos].split(" ")
    while len(words) > 1 and words[-1].casefold() in _DANGLING:
        if len(" ".join(words[:-1])) < limit // 2:
            break
        words.pop()
    return " ".join(words)


def _strip_ends(text: str) -> str:
    # Windows drops trailing dots and spaces silently; leading dots hide files elsewhere.
    return text.strip(" .").strip()


def is_reserved(stem: str) -> bool:
    base = stem.split(".", 1)[0].strip().upper()
    return base in _RESERVED


def title_key(title: str) -> str:
    """How titles are compared for uniqueness: NFC, case-folded (as on macOS and Windows)."""
    return unicodedata.normalize("NFC", title).casefold()


class TitleKeys(set[str]):
    """`title_key`s of taken titles, built once and grown as titles are handed out, so a
    caller making several titles does not re-fold the vault's titles for each one."""

    @classmethod
    def of(cls, titles: Iterable[str]) -> TitleKeys:
        return cls(title_key(t) for t in titles)

    def add_title(self, title: str) -> None:
        self.add(title_key(title))


class VaultTitleKeys(TitleKeys):
    """`TitleKeys` over a whole vault without copying it: a key is taken when more notes of
    the vault carry it (`counts`) than the caller itself owns (`own`: its earlier outputs,
    which it may reuse), or when it was handed out through `add_title`."""

    def __init__(self, counts: Mapping[str, int], own: Mapping[str, int]) -> None:
        super().__init__()
        self._counts = counts
        self._own = own

    def __contains__(self, key: object) -> bool:
        if super().__contains__(key):
            return True
        return isinstance(key, str) and self._counts.get(key, 0) > self._own.get(key, 0)


def make_title(claim: str, taken: Collection[str] = (), *, limit: int = MAX_TITLE) -> str:
    """A safe, unique title (file name stem, no `.md`) for an idea stated by `claim`.

    `taken` holds the titles already used in the vault; uniqueness is case-insensitive and
    after NFC normalisation, as on macOS and Windows file systems.
    """
    text = " ".join(unicodedata.normalize("NFC", claim).split())
    # Tags before or after a claim label it; they are not part of what it says.
    text = _LABEL.sub("", strip_edge_tags(text, leading=True) or text)
    text = _joined(_MATH.sub(r"\1", text))
    text = _clean(text)
    text = _FILLER.sub("", text)
    text = re.sub(r"[.!;,]+$", "", text).strip()
    text = _strip_ends(_shorten(text, limit))
    if text and len(text[0].upper()) == 1:
        text = unicodedata.normalize("NFC", text[0].upper() + text[1:])
    if not text or is_reserved(text):
        # "AUX.md idea" would still be a device name on Windows, so the prefix goes in front.
        text = f"Idea {text}" if text else FALLBACK
    taken_keys = taken if isinstance(taken, TitleKeys) else TitleKeys.of(taken)
    if text.casefold() not in taken_keys:
        return text
    for n in range(2, 10_000):
        suffix = f" {n}"
        candidate = _strip_ends(_shorten(text, limit - len(suffix))) + suffix
        if candidate.casefold() not in taken_keys:
            return candidate
    raise ValueError("no free title")  # 10,000 ideas with one title: a caller bug


def is_safe_title(title: str, *, limit: int = MAX_TITLE) -> bool:
    """What every title from `make_title` satisfies; tests and the writer can check it."""
    if not title or len(title) > limit or title != unicodedata.normalize("NFC", title):
        return False
    if title != _strip_ends(title) or is_reserved(title):
        return False
    return not any(ch in _FORBIDDEN or unicodedata.category(ch).startswith("C") for ch in title)
