"""parse_note / parse_text: decoding, frontmatter, tasks, block ids, headings, big notes."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vaultkd.vault.errors import NoteReadError
from vaultkd.vault.parse import PLAIN_TEXT_LIMIT, parse_note, parse_text


def test_bom_is_stripped_and_recorded() -> None:
    note = parse_note("a.md", b"\xef\xbb\xbf# Hi\n\n[[X]]\n")
    assert note.bom and note.text == "# Hi\n\n[[X]]\n"
    assert note.text[note.links[0].start : note.links[0].end] == "[[X]]"
    assert note.headings[0].text == "Hi"


def test_crlf_is_kept_and_offsets_point_into_the_text() -> None:
    data = b"---\r\ntags: [a]\r\n---\r\nLine one [[A]]\r\n\r\n- [ ] task [[B]] ^t1\r\n"
    note = parse_note("n.md", data)
    assert note.newline == "\r\n"
    assert note.text == data.decode()
    assert [note.text[lk.start : lk.end] for lk in note.links] == ["[[A]]", "[[B]]"]
    assert [lk.line for lk in note.links] == [4, 6]
    assert note.tasks[0].text == "task [[B]]" and note.tasks[0].line == 6
    assert note.block_ids[0].id == "t1" and note.block_ids[0].line == 6
    assert all("\r" not in b.text[-1:] for b in note.blocks)


def test_lf_note_reports_lf() -> None:
    assert parse_note("n.md", b"a\nb\n").newline == "\n"


@pytest.mark.parametrize(
    "data,needle",
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        (b"caf\xe9 au lait\n", "not valid UTF-8"),
        (b"\xff\xfeh\x00i\x00", "UTF-16"),
    ],
)
def test_unreadable_bytes_raise_one_clear_line(data: bytes, needle: str) -> None:
    with pytest.raises(NoteReadError) as err:
        parse_note("Folder/Bad.md", data)
    msg = str(err.value)
    assert msg.startswith("Folder/Bad.md: ") and needle in msg and "\n" not in msg


def test_empty_file() -> None:
    note = parse_note("e.md", b"")
    assert note.text == "" and note.blocks == () and note.links == () and note.frontmatter == {}


def test_only_frontmatter() -> None:
    note = parse_text("f.md", "---\naliases: [One, Two]\ntags: x\n---\n")
    assert note.aliases == ("One", "Two") and note.tags == ("x",)
    assert note.body == "" and note.blocks == ()


def test_frontmatter_without_trailing_newline() -> None:
    note = parse_text("f.md", "---\ntitle: T\n---")
    assert note.frontmatter == {"title": "T"} and note.body == ""


def test_invalid_yaml_is_reported_and_the_note_still_read() -> None:
    text = "---\ntitle: [unclosed\ntags: a\n---\nBody with [[Link]] and #tag\n"
    note = parse_text("bad.md", text)
    assert note.frontmatter == {}
    assert note.frontmatter_error is not None and "line" in note.frontmatter_error
    assert "\n" not in note.frontmatter_error
    assert [lk.target for lk in note.links] == ["Link"]
    assert note.tags == ("tag",)
    assert note.text == text  # nothing is rewritten


def test_frontmatter_that_is_not_a_mapping() -> None:
    note = parse_text("l.md", "---\n- a\n- b\n---\ntext\n")
    assert note.frontmatter == {} and "not a mapping" in (note.frontmatter_error or "")


def test_unclosed_frontmatter_is_body_text() -> None:
    note = parse_text("u.md", "---\ntitle: x\nno closing line [[L]]\n")
    assert note.body_start == 0 and note.frontmatter == {}
    assert [lk.target for lk in note.links] == ["L"]


def test_aliases_forms() -> None:
    assert parse_text("a.md", "---\naliases: One, Two\n---\n").aliases == ("One", "Two")
    assert parse_text("a.md", "---\nalias: Solo\n---\n").aliases == ("Solo",)
    assert parse_text("a.md", "---\naliases:\n  - X\n  -\n---\n").aliases == ("X",)


def test_tasks_with_any_status_and_in_callouts() -> None:
    text = (
        "- [ ] open\n- [x] done\n- [/] doing\n* [-] cancelled\n1. [ ] numbered\n\n"
        "> - [ ] quoted\n"
    )
    note = parse_text("t.md", text)
    assert [(t.status, t.text) for t in note.tasks] == [
        (" ", "open"), ("x", "done"), ("/", "doing"), ("-", "cancelled"), (" ", "numbered"),
        (" ", "quoted"),
    ]
    assert [t.done for t in note.tasks] == [False, True, False, False, False, False]
    assert [t.line for t in note.tasks] == [1, 2, 3, 4, 5, 7]


def test_not_tasks() -> None:
    note = parse_text("t.md", "- [link](x)\n- [ab] no\n- []\nText [ ] no\n")
    assert note.tasks == ()


def test_block_id_marks_its_paragraph() -> None:
    text = "Intro.\n\nFirst line\nsecond line ^para-1\n\nAfter.\n"
    note = parse_text("b.md", text)
    (bid,) = note.block_ids
    assert bid.id == "para-1" and bid.line == 4
    assert text[bid.start : bid.end] == "First line\nsecond line ^para-1"


def test_caret_in_the_middle_is_not_a_block_id() -> None:
    assert parse_text("b.md", "x^2 is ^not an id here\n").block_ids == ()


def test_headings_levels_and_setext() -> None:
    note = parse_text("h.md", "# One\n\nTwo\n===\n\n### Three ###\n")
    assert [(h.level, h.text, h.line) for h in note.headings] == [
        (1, "One", 1), (1, "Two", 3), (3, "Three", 6)
    ]


def test_title_and_body() -> None:
    note = parse_text("Folder/My Note.md", "---\na: 1\n---\nbody\n")
    assert note.title == "My Note" and note.body == "body\n"


def test_huge_note_is_read_as_plain_text() -> None:
    para = "A sentence about [[Something]] and #tag that repeats.\n\n"
    text = "---\ntags: [big]\n---\n" + para * (PLAIN_TEXT_LIMIT // len(para) + 10)
    note = parse_note("big.md", text.encode())
    assert note.tags == ("big",) and note.links == ()
    assert note.blocks[0].text == para.strip() and note.blocks[-1].line == note.text.count("\n") - 1
    assert len(note.blocks) == PLAIN_TEXT_LIMIT // len(para) + 10


def test_twenty_megabyte_note() -> None:
    para = ("word " * 40 + "\n") * 3 + "\n"
    data = (para * (20_000_000 // len(para) + 1)).encode()
    note = parse_note("huge.md", data)
    assert len(note.text) >= 20_000_000 and len(note.blocks) > 1000


def test_offsets_of_every_link_match_their_source_text() -> None:
    text = (
        "> [!info] [[A|x]]\n> - [ ] [[B#H]]\n\n| [[C]] | `[[no]]` | [[D\\|d]] |\n|--|--|--|\n\n"
        "1. [[E]]\n   2. ![[F.png|10]]\n\n\tTabbed [[G]]\n"
    )
    note = parse_text("o.md", text)
    for lk in note.links:
        raw = text[lk.start : lk.end]
        assert raw.startswith(("[[", "![[")) and raw.endswith("]]"), raw
        assert lk.line == text.count("\n", 0, lk.start) + 1


_md_alphabet = string.ascii_letters[:6] + " \n\t#[]!|^%$`*_-=>:\\/.<>0123\r\ufeff"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=_md_alphabet, max_size=200))
def test_parser_never_raises_and_offsets_are_consistent(text: str) -> None:
    note = parse_text("p.md", text)
    for b in note.blocks:
        assert note.text[b.start : b.end] == b.text
        assert 1 <= b.line <= b.end_line
    for lk in note.links:
        assert 0 <= lk.start < lk.end <= len(note.text)
        assert lk.line == note.text.count("\n", 0, lk.start) + 1


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_parse_note_raises_only_note_read_error(data: bytes) -> None:
    try:
        parse_note("x.md", data)
    except NoteReadError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_unicode_never_raises(text: str) -> None:
    parse_text("u.md", text)
