"""Syntax cases in markdown-it fixture format (tests/fixtures/syntax/*.md)."""

from __future__ import annotations

from pathlib import Path

import pytest
from markdown_it.utils import read_fixture_file

from vaultkd.vault.note import Note
from vaultkd.vault.parse import parse_text

FIXTURES = Path(__file__).parent / "fixtures" / "syntax"


def _cases(name: str) -> list[tuple[int, str, str, str]]:
    return [tuple(c) for c in read_fixture_file(FIXTURES / name)]  # type: ignore[misc]


def _source(title: str, text: str) -> str:
    return text.replace("\n", "\r\n") if "CRLF" in title else text


def describe_links(note: Note) -> str:
    out = []
    for lk in note.links:
        fields = [lk.kind, f"target={lk.target}"]
        for name in ("heading", "block", "display"):
            value = getattr(lk, name)
            if value is not None:
                fields.append(f"{name}={value}")
        fields.append(f"line={lk.line}")
        fields.append(f"src={note.text[lk.start:lk.end]}")
        if lk.in_frontmatter:
            fields.append("frontmatter")
        out.append(" ".join(fields))
    return "".join(line + "\n" for line in out)


def describe_blocks(note: Note) -> str:
    out = []
    for b in note.blocks:
        line = f"{b.kind} L{b.line}-{b.end_line} depth={b.depth} section={b.section or '-'}"
        if b.block_id:
            line += f" id={b.block_id}"
        out.append(line + "\n")
    return "".join(out)


@pytest.mark.parametrize(
    "line,title,text,expected", _cases("wikilinks.md") + _cases("not_links.md")
)
def test_links(line: int, title: str, text: str, expected: str) -> None:
    note = parse_text("Folder/Source.md", _source(title, text))
    assert describe_links(note) == expected, f"fixture line {line}: {title}"


@pytest.mark.parametrize("line,title,text,expected", _cases("tags.md"))
def test_tags(line: int, title: str, text: str, expected: str) -> None:
    note = parse_text("Source.md", text)
    assert f"tags={','.join(note.tags)}\n" == expected, f"fixture line {line}: {title}"


@pytest.mark.parametrize("line,title,text,expected", _cases("blocks.md"))
def test_blocks(line: int, title: str, text: str, expected: str) -> None:
    note = parse_text("Source.md", text)
    assert describe_blocks(note) == expected, f"fixture line {line}: {title}"
    for b in note.blocks:
        assert note.text[b.start : b.end] == b.text


def test_no_tags_inside_not_link_cases() -> None:
    # Every negative link case also hides its #tag.
    for line, title, text, _ in _cases("not_links.md"):
        assert parse_text("S.md", text).tags == (), f"fixture line {line}: {title}"
