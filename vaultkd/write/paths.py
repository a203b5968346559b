"""Containment: the last line of defence that keeps every write inside the vault.

`distill/` already sanitises titles; this module does not trust it. Every path the writer
touches goes through `vault_path`, which rejects anything that could land outside the vault,
clash with a reserved name on Windows, or fail on one of the three desktop file systems.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path, PurePosixPath

# Windows refuses these as file names, with or without an extension ("CON.md").
_RESERVED = frozenset(
    ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"]
    + [f"{p}{i}" for p in ("COM", "LPT") for i in range(10)]
    + [f"{p}{c}" for p in ("COM", "LPT") for c in "¹²³"]
)
# Characters Windows forbids in names, plus every control character.
_BAD_CHARS = re.compile(r'[<>:"\\|?*\x00-\x1f\x7f]')
# Folders vaultkd must never write into, whatever a rendered path says.
_PROTECTED_TOP = frozenset({".vaultkd", ".obsidian", ".git", ".trash"})
MAX_COMPONENT_BYTES = 255  # ext4, APFS and NTFS all stop at 255 (bytes or UTF-16 units)
MAX_PATH_CHARS = 1024


class UnsafePath(ValueError):
    """A path vaultkd refuses to write; the message says which and why."""


def check_rel_path(rel_path: str) -> str:
    """Validate a vault-relative POSIX path and return it unchanged; raise `UnsafePath`."""
    if not rel_path or rel_path != rel_path.strip("\n\r"):
        raise UnsafePath(f"{rel_path!r}: empty path or line break in path")
    if len(rel_path) > MAX_PATH_CHARS:
        raise UnsafePath(f"{rel_path[:60]!r}…: path longer than {MAX_PATH_CHARS} characters")
    if rel_path.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", rel_path):
        raise UnsafePath(f"{rel_path!r}: absolute paths are not allowed")
    parts = PurePosixPath(rel_path).parts
    if parts and parts[0] in _PROTECTED_TOP:
        raise UnsafePath(f"{rel_path!r}: vaultkd never writes into {parts[0]}/")
    for part in rel_path.split("/"):
        if part in ("", ".", ".."):
            raise UnsafePath(f"{rel_path!r}: empty, '.' or '..' path component")
        if _BAD_CHARS.search(part):
            raise UnsafePath(f"{rel_path!r}: control or reserved character in {part!r}")
        if part != part.rstrip(" ."):
            raise UnsafePath(f"{rel_path!r}: {part!r} ends with a space or dot (Windows)")
        if part.split(".", 1)[0].upper().rstrip(" ") in _RESERVED:
            raise UnsafePath(f"{rel_path!r}: {part!r} is a reserved name on Windows")
        if len(part.encode("utf-8")) > MAX_COMPONENT_BYTES:
            raise UnsafePath(f"{rel_path[:60]!r}…: a name is longer than 255 bytes")
    return rel_path


def vault_path(root: Path, rel_path: str) -> Path:
    """The absolute path of `rel_path` in the vault, after checking it cannot escape it.

    Symlinks are resolved: a link inside the vault that points outside is refused too.
    """
    check_rel_path(rel_path)
    base = _resolved_root(os.fspath(root))
    target = os.path.join(base, *rel_path.split("/"))
    # realpath follows any symlinked folder (or file) on the way and allows new files.
    resolved = os.path.realpath(target)
    if not resolved.startswith(base.rstrip(os.sep) + os.sep):
        raise UnsafePath(f"{rel_path!r}: resolves outside the vault ({resolved})")
    return Path(target)


@lru_cache(maxsize=64)
def _resolved_root(root: str) -> str:
    # A vault run checks tens of thousands of paths under one root; resolve the root once.
    return os.path.realpath(root)
