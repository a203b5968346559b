"""Link resolution, the way Obsidian resolves a link target to a file.

The rule (`FileIndex.resolve`), in order; every comparison ignores case and Unicode
normalisation (NFC), as Obsidian does on every platform:

1. `[[#Heading]]` (empty target) is the source note itself.
2. Absolute targets (`/x`, `C:/x`, `~/x`) and targets whose `..` segments climb above the vault
   root are unresolved: nothing outside the vault is ever reached.
3. `./x` and `../x` are relative to the source note's folder; they resolve to that exact path
   (with or without `.md`) or not at all.
4. Exact vault path, with or without `.md`: `[[Projects/Apollo]]`, `[[Note.md]]`, `[[a/img.png]]`
   (via `path`). A markdown link `[t](x.md)` first tries the path relative to its note's folder,
   the way Markdown links are written, then the same rules as a wikilink.
5. Otherwise the file name, or for `[[folder/Note]]` every file whose path ends in
   `/folder/Note(.md)` (via `basename`). With several candidates, Obsidian's tie-break
   (`MetadataCache.getFirstLinkpathDest`, observed in Obsidian 1.x: a root path wins through
   rule 4, then the source note's own folder, then the shortest path string) picks one; equal
   lengths fall back to alphabetical order so the result is deterministic.
6. Otherwise a note whose frontmatter `aliases` holds the target (via `alias`), same tie-break.
   Obsidian itself uses aliases only to suggest links; vaultkd resolves them so the graph
   keeps the edge, and marks it so a caller can tell.

An attachment is only found with its extension (`[[Diagram]]` never means `Diagram.png`).
"""

from __future__ import annotations

import posixpath
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

Via = Literal["path", "basename", "alias"]

_MISS = object()
_ABSOLUTE = re.compile(r"^(?:/|\\|~|[A-Za-z]:[/\\])")


@dataclass(frozen=True, slots=True)
class Resolution:
    path: str  # the vault-relative path of the file the link reaches
    via: Via


@lru_cache(maxsize=1 << 16)
def fold(s: str) -> str:
    """The form every lookup compares: NFC, case-folded."""
    return unicodedata.normalize("NFC", s).casefold()


def _name_keys(path: str) -> tuple[str, ...]:
    name = fold(path.rsplit("/", 1)[-1])
    if name.endswith(".md"):
        return (name, name[:-3])
    return (name,)


@lru_cache(maxsize=1 << 16)
def link_key(target: str) -> str:
    """The key under which a target would find a file by name (its last segment, no .md)."""
    name = fold(target.replace("\\", "/").rsplit("/", 1)[-1]).strip()
    return name[:-3] if name.endswith(".md") else name


def pick(candidates: Iterable[str], source_path: str) -> str:
    """Obsidian's tie-break among files matching by name: own folder, then shortest path."""
    folder = source_path.rsplit("/", 1)[0] if "/" in source_path else ""
    best = sorted(candidates, key=lambda p: (_folder(p) != folder, len(p), p))
    return best[0]


def _folder(path: str) -> str:
    return path.rsplit("/", 1)[0] if "/" in path else ""


class FileIndex:
    """Every file of the vault by folded path, by folded file name and by alias."""

    def __init__(self) -> None:
        self.by_path: dict[str, str] = {}
        self.by_name: dict[str, set[str]] = {}
        self.by_alias: dict[str, set[str]] = {}
        self.aliases: dict[str, tuple[str, ...]] = {}
        self._memo: dict[tuple[str, bool], object] = {}  # cleared on every change

    def __contains__(self, path: str) -> bool:
        return fold(path) in self.by_path and self.by_path[fold(path)] == path

    def add(self, path: str, aliases: Iterable[str] = ()) -> None:
        self._memo.clear()
        self.by_path[fold(path)] = path
        for key in _name_keys(path):
            self.by_name.setdefault(key, set()).add(path)
        self.set_aliases(path, aliases)

    def remove(self, path: str) -> None:
        self._memo.clear()
        if self.by_path.get(fold(path)) == path:
            del self.by_path[fold(path)]
        for key in _name_keys(path):
            paths = self.by_name.get(key)
            if paths is not None:
                paths.discard(path)
                if not paths:
                    del self.by_name[key]
        self.set_aliases(path, ())

    def set_aliases(self, path: str, aliases: Iterable[str]) -> None:
        if not aliases and path not in self.aliases:
            return  # most notes have none, before and after: nothing to change
        if self._memo:
            self._memo.clear()
        for old in self.aliases.pop(path, ()):
            paths = self.by_alias.get(fold(old))
            if paths is not None:
                paths.discard(path)
                if not paths:
                    del self.by_alias[fold(old)]
        new = tuple(dict.fromkeys(a for a in aliases if a.strip()))
        if new:
            self.aliases[path] = new
            for a in new:
                self.by_alias.setdefault(fold(a.strip()), set()).add(path)

    def _exact(self, path: str) -> str | None:
        key = fold(path)
        return self.by_path.get(key) or self.by_path.get(key + ".md")

    def resolve(self, target: str, source_path: str, markdown: bool = False) -> Resolution | None:
        key = (target, markdown)
        hit = self._memo.get(key, _MISS)
        if hit is not _MISS:
            return hit  # type: ignore[return-value]
        res, folder_free = self._resolve(target, source_path, markdown)
        if folder_free:
            # Most targets resolve the same from every folder; remember those.
            self._memo[key] = res
        return res

    def _resolve(
        self, target: str, source_path: str, markdown: bool
    ) -> tuple[Resolution | None, bool]:
        """(resolution, whether the source's folder played no part in it)."""
        target = target.strip().replace("\\", "/")
        if not target:
            return Resolution(source_path, "path"), False
        if _ABSOLUTE.match(target) or "\x00" in target:
            return None, True
        source_folder = _folder(source_path)
        segments = target.split("/")
        if segments[0] in (".", ".."):
            joined = posixpath.normpath(posixpath.join(source_folder, target))
            if joined == ".." or joined.startswith("../"):
                return None, False
            found = self._exact(joined)
            return (Resolution(found, "path") if found else None), False
        if ".." in segments:
            joined = posixpath.normpath(target)
            if joined == ".." or joined.startswith("../"):
                return None, True
            target = joined
        if markdown and source_folder:
            found = self._exact(f"{source_folder}/{target}")
            if found:
                return Resolution(found, "path"), False
        found = self._exact(target)
        if found:
            return Resolution(found, "path"), not markdown
        key = fold(target)
        name = key.rsplit("/", 1)[-1]
        names = (name, name + ".md")
        candidates = {
            p for p in self.by_name.get(link_key(target), ()) if fold(p.rsplit("/", 1)[-1]) in names
        }
        if "/" in key:
            # `[[folder/Note]]` matches any file whose path ends in /folder/Note(.md).
            tails = ("/" + key, "/" + key + ".md")
            candidates = {p for p in candidates if fold(p).endswith(tails)}
        if candidates:
            one = len(candidates) == 1 and not markdown
            return Resolution(pick(candidates, source_path), "basename"), one
        by_alias = self.by_alias.get(key)
        if by_alias:
            return Resolution(pick(by_alias, source_path), "alias"), len(by_alias) == 1
        return None, not markdown
