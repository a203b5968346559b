"""The shipped demo vault is what its hand-written expectations say it is.

Standard library only: these checks must not depend on vaultkd's own parser, because
tests/fixtures/sample_vault_expectations.json is the independent answer key that parser is
tested against. The link scanner below is deliberately crude and only has to be right for
this one vault, whose syntax we control.
"""

from __future__ import annotations

import json
import re
import struct
import zlib
from pathlib import Path
from urllib.parse import unquote

import pytest
from sample import pristine_sample_vault

ROOT = Path(__file__).resolve().parent.parent
VAULT = pristine_sample_vault()
EXPECT = json.loads(
    (ROOT / "tests" / "fixtures" / "sample_vault_expectations.json").read_text(encoding="utf-8")
)

WIKILINK = re.compile(r"(!?)\[\[(.+?)\]\]")
MDLINK = re.compile(r"\[([^\]]*)\]\(([^)\s]+)\)")
HEADING = re.compile(r"^(#{1,6}) +(.+?) *$", re.M)
BLOCK_ID = re.compile(r" \^([A-Za-z0-9-]+)$", re.M)
TASK = re.compile(r"^\s*[-*+] \[(.)\] ", re.M)


def _rel(path: Path) -> str:
    return path.relative_to(VAULT).as_posix()


def _notes() -> dict[str, str]:
    """Every note, decoded the way Note.text is: BOM removed, line endings normalised here."""
    out = {}
    for path in sorted(VAULT.rglob("*.md")):
        if ".obsidian" in path.relative_to(VAULT).parts:
            continue
        text = path.read_bytes().decode("utf-8-sig")
        out[_rel(path)] = text.replace("\r\n", "\n")
    return out


def _attachments() -> list[str]:
    return sorted(
        _rel(p)
        for p in VAULT.rglob("*")
        if p.is_file() and p.suffix != ".md" and ".obsidian" not in p.relative_to(VAULT).parts
    )


def _split_frontmatter(text: str) -> tuple[str, str]:
    if text.startswith("---\n"):
        end = text.find("\n---\n", 3)
        if end != -1:
            return text[4:end], text[end + 5 :]
    return "", text


def _strip_non_links(text: str) -> str:
    """Drop every region where Obsidian does not see links or tags (for this vault's forms)."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)
    # indented code: a run of 4-space lines after a blank line (nested list items never
    # follow a blank line in this vault)
    text = re.sub(r"(?<=\n\n)((?: {4}.*\n)+)", "", text)
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    text = re.sub(r"%%.*?%%", "", text, flags=re.S)
    text = re.sub(r"\$\$.*?\$\$", "", text, flags=re.S)
    text = re.sub(r"`[^`\n]+`", "", text)
    text = re.sub(r"\$[^$\n]+\$", "", text)
    return re.sub(r"\\\[\\\[.*?\\\]\\\]", "", text)


def _aliases(frontmatter: str) -> list[str]:
    match = re.search(r"^aliases:(.*)$", frontmatter, re.M)
    if not match:
        return []
    value = match.group(1).strip()
    if value.startswith("["):
        return [a.strip().strip("\"'") for a in value.strip("[]").split(",") if a.strip()]
    if value:
        return [value.strip("\"'")]
    rest = frontmatter[match.end() :].split("\n")[1:]
    items = []
    for line in rest:
        if not line.startswith("  - "):
            break
        items.append(line[4:].strip().strip("\"'"))
    return items


def _targets(text: str) -> list[tuple[str, str | None, str]]:
    """(target without #/|, fragment after the first #, raw) for wikilinks and local md links."""
    found = []
    for m in WIKILINK.finditer(text):
        inner = m.group(2).replace("\\|", "|").split("|", 1)[0]
        target, _, fragment = inner.partition("#")
        found.append((target, fragment or None, m.group(0)))
    for m in MDLINK.finditer(text):
        href = m.group(2)
        if "://" in href or href.startswith(("#", "mailto:")):
            continue
        target, _, fragment = unquote(href).partition("#")
        found.append((target, fragment or None, m.group(0)))
    return found


class Resolver:
    """Exact path, then basename (root first, then shortest path), then alias; case-insensitive."""

    def __init__(self, notes: dict[str, str], attachments: list[str]) -> None:
        self.paths = {p.lower(): p for p in [*notes, *attachments]}
        self.by_name: dict[str, list[str]] = {}
        for path in [*notes, *attachments]:
            name = path.rsplit("/", 1)[-1]
            key = name[:-3] if name.endswith(".md") else name
            self.by_name.setdefault(key.lower(), []).append(path)
        self.aliases = {
            alias.lower(): path
            for path, text in notes.items()
            for alias in _aliases(_split_frontmatter(text)[0])
        }

    def resolve(self, target: str) -> str | None:
        key = target.lower()
        key = key[:-3] if key.endswith(".md") else key
        for candidate in (key + ".md", key):
            if candidate in self.paths:
                return self.paths[candidate]
        if "/" not in key and key in self.by_name:
            return min(self.by_name[key], key=lambda p: ("/" in p, len(p), p))
        return self.aliases.get(key)


NOTES = _notes()
RESOLVER = Resolver(NOTES, _attachments())


def _headings(text: str) -> list[tuple[int, str]]:
    body = _strip_non_links(_split_frontmatter(text)[1])
    return [(len(m.group(1)), m.group(2)) for m in HEADING.finditer(body)]


def test_note_and_attachment_counts() -> None:
    assert 40 <= len(NOTES) <= 60
    assert len(NOTES) == EXPECT["notes"]
    assert _attachments() == EXPECT["attachment_files"]
    assert len(_attachments()) == EXPECT["attachments"]


def test_folders_and_vault_marker() -> None:
    for folder in EXPECT["folders"]:
        assert (VAULT / folder).is_dir(), f"missing folder {folder}"
    assert json.loads((VAULT / ".obsidian" / "app.json").read_text()) == {}
    for generated in (".vaultkd", "Distilled", "Atomic"):
        assert not (VAULT / generated).exists(), f"{generated}/ is written by vaultkd, not shipped"


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"bad CRC in {kind!r}"
        chunks.append((kind, body))
        pos += 12 + length
    return chunks


@pytest.mark.parametrize("name", [a for a in EXPECT["attachment_files"] if a.endswith(".png")])
def test_png_attachments_are_valid(name: str) -> None:
    chunks = _png_chunks((VAULT / name).read_bytes())
    assert chunks[0][0] == b"IHDR" and chunks[-1][0] == b"IEND"
    width, height, depth, colour = struct.unpack(">IIBB", chunks[0][1][:10])
    assert (depth, colour) == (8, 2)  # 8-bit RGB, as written
    pixels = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    assert len(pixels) == height * (1 + width * 3)


def test_pdf_attachment_is_valid() -> None:
    data = (VAULT / "attachments" / "raft-lecture-slides.pdf").read_bytes()
    assert data.startswith(b"%PDF-1.") and data.rstrip().endswith(b"%%EOF")
    startxref = int(re.search(rb"startxref\s+(\d+)", data).group(1))
    assert data[startxref:].startswith(b"xref")
    offsets = [int(o) for o in re.findall(rb"^(\d{10}) 00000 n ", data, re.M)]
    for number, offset in enumerate(offsets, 1):
        assert data[offset:].startswith(b"%d 0 obj" % number), f"xref entry {number} is wrong"
    # the embed ![[raft-lecture-slides.pdf#page=3]] needs a third page
    assert re.search(rb"/Type /Pages /Kids \[[^\]]*\] /Count 3", data)


def test_expected_unresolved_targets_have_no_file_and_no_alias() -> None:
    for target in EXPECT["unresolved_targets"]:
        assert RESOLVER.resolve(target) is None, f"{target} should be unresolved"
        assert not list(VAULT.rglob(f"{target}.md"))


def test_scan_finds_exactly_the_expected_unresolved_links() -> None:
    unresolved = []
    for path, text in NOTES.items():
        for target, _, raw in _targets(_strip_non_links(text)):
            if target and RESOLVER.resolve(target) is None:
                unresolved.append({"source": path, "raw": raw})
    key = lambda d: (d["source"], d["raw"])  # noqa: E731
    assert sorted(unresolved, key=key) == sorted(EXPECT["unresolved_links"], key=key)
    assert {u["raw"].strip("[]").split("|")[0].split("#")[0] for u in unresolved} == set(
        EXPECT["unresolved_targets"]
    )


def test_every_block_and_heading_link_reaches_its_target() -> None:
    checked = 0
    for path, text in NOTES.items():
        for target, fragment, raw in _targets(_strip_non_links(text)):
            if fragment is None or fragment.startswith("page="):
                continue
            resolved = path if target == "" else RESOLVER.resolve(target)
            if resolved is None:
                continue  # unresolved targets have no headings to check
            target_text = NOTES[resolved]
            if fragment.startswith("^"):
                ids = BLOCK_ID.findall(_split_frontmatter(target_text)[1])
                assert fragment[1:] in ids, f"{path}: {raw} has no ^{fragment[1:]} in {resolved}"
            else:
                texts = [h for _, h in _headings(target_text)]
                for part in fragment.split("#"):  # nested [[Note#H1#H2]], in order
                    assert part in texts, f"{path}: {raw} has no heading {part!r} in {resolved}"
                    texts = texts[texts.index(part) + 1 :]
            checked += 1
    assert checked >= 20


def test_duplicate_name_pair_and_rule() -> None:
    dup = EXPECT["duplicate_name"]
    for candidate in dup["candidates"]:
        assert candidate in NOTES
    assert RESOLVER.by_name[dup["basename"].lower()] == sorted(dup["candidates"])
    assert RESOLVER.resolve(dup["basename"]) == dup["resolves_to"]
    for target, path in dup["explicit_links"].items():
        assert RESOLVER.resolve(target) == path
    for source in dup["linked_from"]:
        assert dup["link"] in NOTES[source]


def test_alias_links_resolve_only_through_aliases() -> None:
    for target, path in EXPECT["alias_links"].items():
        if target.startswith("_"):
            continue
        assert target.lower() not in RESOLVER.by_name
        assert RESOLVER.resolve(target) == path


def test_frontmatter_links_are_in_frontmatter() -> None:
    for entry in EXPECT["frontmatter_links"]:
        frontmatter, _ = _split_frontmatter(NOTES[entry["source"]])
        line = re.search(rf"^{entry['key']}:(.*)$", frontmatter, re.M).group(1)
        assert [t for t, _, _ in _targets(line)] == entry["targets"]


def test_crlf_and_bom_notes_have_those_bytes_and_no_others_do() -> None:
    for path in VAULT.rglob("*.md"):
        raw, rel = path.read_bytes(), _rel(path)
        if rel in EXPECT["crlf_notes"]:
            assert raw.count(b"\n") == raw.count(b"\r\n") > 10
        else:
            assert b"\r" not in raw, rel
        assert raw.startswith(b"\xef\xbb\xbf") == (rel in EXPECT["bom_notes"]), rel
        raw.decode("utf-8-sig")


def test_gitattributes_keeps_vault_bytes_exact() -> None:
    lines = (ROOT / ".gitattributes").read_text().splitlines()
    assert "sample_vault/** -text" in [line.strip() for line in lines]


def test_special_notes() -> None:
    for path in EXPECT["frontmatter_only_notes"]:
        frontmatter, body = _split_frontmatter(NOTES[path])
        assert frontmatter and body.strip() == ""
    for path in EXPECT["too_short_notes"]:
        assert NOTES[path].count("\n") == 1 and len(NOTES[path].split()) < 20
    scalar = EXPECT["scalar_frontmatter"]
    frontmatter, _ = _split_frontmatter(NOTES[scalar["note"]])
    assert f"aliases: {scalar['aliases']}\n" in frontmatter + "\n"
    assert f"tags: {scalar['tags']}\n" in frontmatter + "\n"


def test_prose_notes_have_distillable_length() -> None:
    exempt = set(EXPECT["frontmatter_only_notes"]) | set(EXPECT["too_short_notes"])
    for path, text in NOTES.items():
        if path not in exempt:
            words = len(_split_frontmatter(text)[1].split())
            assert 150 <= words <= 700, f"{path} has {words} words"


@pytest.mark.parametrize("path", sorted(EXPECT["notes_detail"]))
def test_note_details_match_the_text(path: str) -> None:
    detail, text = EXPECT["notes_detail"][path], NOTES[path]
    frontmatter, body = _split_frontmatter(text)
    visible = _strip_non_links(body)
    assert _aliases(frontmatter) == detail["aliases"]
    assert _headings(text) == [tuple(h) for h in detail["headings"]]
    assert BLOCK_ID.findall(body) == detail["block_ids"]
    marks = TASK.findall(visible)
    assert {"open": marks.count(" "), "done": marks.count("x")} == detail["tasks"]
    inline = re.findall(r"(?<![\w#/])#([A-Za-z_][\w/-]*)", visible)
    tags_line = re.search(r"^tags:(.*)$", frontmatter, re.M).group(1)
    listed = [t.strip() for t in tags_line.strip(" []").split(",")]
    assert list(dict.fromkeys(listed + inline)) == detail["tags"]


def test_negative_strings_are_there_but_only_where_they_do_not_count() -> None:
    for entry in EXPECT["negatives"]["links"] + EXPECT["negatives"]["not_tasks"]:
        text = NOTES[entry["note"]]
        assert entry["text"] in text, entry
        assert entry["text"] not in _strip_non_links(text), entry
    for entry in EXPECT["negatives"]["tags"]:
        assert entry["text"] in NOTES[entry["note"]], entry
    every_target = {t.lower() for text in NOTES.values() for t, _, _ in _targets(text)}
    kept = {t.lower() for text in NOTES.values() for t, _, _ in _targets(_strip_non_links(text))}
    for target in EXPECT["negatives"]["link_targets"]:
        assert target.lower() not in kept
        assert target.lower() in every_target or "escaped" in target


def test_every_syntax_form_is_present() -> None:
    for table in (EXPECT["link_forms"], EXPECT["other_syntax"]):
        for form, example in table.items():
            if form.startswith("_"):
                continue
            path, snippet = example
            assert snippet in NOTES[path], f"{form}: {snippet!r} not in {path}"
