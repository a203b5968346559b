"""The on-disk form of a generated note and the hash that tells whether the user edited it.

A generated file starts with YAML frontmatter whose first key is `vaultkd:`:

```yaml
---
vaultkd:
  kind: distillation          # or atomic
  source: "[[Meetings/Retro]]"
  model: vaultkd-student 0.1 (sha256:…)
  source_hash: 8c41…          # first 16 hex digits of sha256 of the source file's bytes
  output_hash: '19be…'
tags: [distilled]
---
```

`output_hash` is the first 16 hex digits of the sha256 of the file's UTF-8 bytes with the
output_hash value itself removed (the line reads `  output_hash: ''` while hashing). Every byte
of the file except those 16 digits is covered, so an edit anywhere — body, frontmatter, even
the hash — makes `verify` fail, and the file is then the user's and is never overwritten.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

HASH_CHARS = 16
_PLACEHOLDER = "vaultkdOutputHashPlaceholder"  # plain letters: emitted unquoted
_FRONTMATTER = re.compile(r"\A---\n(.*?\n)---\n", re.S)
_HASH_LINE = re.compile(r"^(  output_hash: ')([0-9a-f]*)'$", re.M)


def short_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:HASH_CHARS]


def full_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def source_link(rel_path: str) -> str:
    """`[[folder/Note]]` for a vault path, as Obsidian writes it (no `.md`)."""
    stem = rel_path[:-3] if rel_path.lower().endswith(".md") else rel_path
    return f"[[{stem}]]"


_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9 _.,()/+:-]*")
_YAML11_WORDS = frozenset("y n yes no on off true false null".split())


def _scalar(value: Any) -> str:
    """A YAML scalar: plain when unambiguous, else a JSON string (valid YAML)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return json.dumps(value)
    text = str(value)
    if (
        _PLAIN.fullmatch(text)
        and not text.endswith((" ", ":"))
        and ": " not in text
        and " #" not in text
        and text.lower() not in _YAML11_WORDS
    ):
        return text
    # JSON escapes control characters; YAML also wants DEL, C1 controls and the rest escaped.
    return _NON_PRINTABLE.sub(
        lambda m: f"\\u{ord(m.group()):04x}", json.dumps(text, ensure_ascii=False)
    )


_NON_PRINTABLE = re.compile("[\x7f-\x9f\ud800-\udfff\ufeff\ufffe\uffff]")


def emit_yaml(data: dict[str, Any], indent: str = "") -> str:
    """Block-style YAML for the plain dicts, lists and scalars of generated frontmatter.

    Hand-written so the bytes depend on nothing but this function (no library version can
    change a quote and make every generated note look edited).
    """
    lines: list[str] = []
    for key, value in data.items():
        name = _scalar(key)
        if isinstance(value, dict) and value:
            lines.append(f"{indent}{name}:")
            lines.append(emit_yaml(value, indent + "  ").rstrip("\n"))
        elif isinstance(value, list | tuple) and value:
            lines.append(f"{indent}{name}:")
            for item in value:
                if isinstance(item, dict | list | tuple):
                    raise TypeError(f"frontmatter list {key!r} holds a {type(item).__name__}")
                lines.append(f"{indent}- {_scalar(item)}")
        elif isinstance(value, dict | list | tuple):
            lines.append(f"{indent}{name}: {'{}' if isinstance(value, dict) else '[]'}")
        else:
            lines.append(f"{indent}{name}: {_scalar(value)}")
    return "\n".join(lines) + "\n"


def render_file(
    frontmatter: dict[str, Any],
    body: str,
    *,
    kind: str,
    source: str,
    model: str,
    source_hash: str,
) -> bytes:
    """The bytes of a generated note; `frontmatter` must not carry a `vaultkd` key of its own
    beyond extra fields, which are kept after the fixed ones."""
    extra = dict(frontmatter.get("vaultkd") or {})
    for key in ("kind", "source", "model", "source_hash", "output_hash"):
        extra.pop(key, None)
    block: dict[str, Any] = {
        "kind": kind,
        "source": source_link(source),
        "model": model,
        "source_hash": source_hash,
        "output_hash": _PLACEHOLDER,
        **extra,
    }
    rest = {k: v for k, v in frontmatter.items() if k != "vaultkd"}
    text = f"---\n{emit_yaml({'vaultkd': block, **rest})}---\n{body}"
    if not text.endswith("\n"):
        text += "\n"
    if text.count(_PLACEHOLDER) != 1:
        raise ValueError("the output-hash placeholder appears in rendered content")
    # Always quoted, so YAML never reads an all-digit hash as a number.
    hashed = text.replace(_PLACEHOLDER, "''", 1).encode("utf-8")
    return text.replace(_PLACEHOLDER, f"'{short_hash(hashed)}'", 1).encode("utf-8")


@dataclass(frozen=True, slots=True)
class Generated:
    """What a file on disk says about itself."""

    kind: str
    source: str  # the link as written, "[[Note]]"
    model: str
    source_hash: str
    output_hash: str
    intact: bool  # True when no byte changed since vaultkd wrote it


# How every file vaultkd generates begins (frontmatter whose first key is `vaultkd:`).
GENERATED_HEAD = b"---\nvaultkd:\n"


def looks_generated(path: Path) -> bool:
    """Whether the file at `path` begins as vaultkd's generated notes do (reads 13 bytes)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(len(GENERATED_HEAD)) == GENERATED_HEAD
    except OSError:
        return False


def inspect(data: bytes | None) -> Generated | None:
    """Read the `vaultkd:` block of a file; None when the file is not a generated note."""
    if data is None:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    fm = _FRONTMATTER.match(text)
    if not fm or not fm.group(1).startswith("vaultkd:\n"):
        return None
    block = fm.group(1)
    hash_match = _HASH_LINE.search(block)
    try:
        loaded = yaml.load(block, Loader=_LOADER)
        fields = loaded.get("vaultkd") if isinstance(loaded, dict) else None
    except Exception:  # noqa: BLE001 - an edited file may hold any YAML; it is just not ours
        fields = None
    if not isinstance(fields, dict):
        fields = {}
    recorded = hash_match.group(2) if hash_match else ""
    intact = False
    if hash_match and len(recorded) == HASH_CHARS:
        start = fm.start(1) + hash_match.start(2)
        hashed = (text[:start] + text[start + HASH_CHARS :]).encode("utf-8")
        intact = short_hash(hashed) == recorded
    return Generated(
        kind=str(fields.get("kind", "")),
        source=str(fields.get("source", "")),
        model=str(fields.get("model", "")),
        source_hash=str(fields.get("source_hash", "")),
        output_hash=recorded,
        intact=intact,
    )
