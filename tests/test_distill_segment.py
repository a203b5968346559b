"""sentences_of: what the student reads from a real parsed note, mapped back to the source."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vaultkd.distill.segment import _all_code, sentences_of
from vaultkd.vault.parse import parse_text

NOTE = """---
tags: [a]
summary: "A frontmatter sentence. Never read."
---
# Title

First claim here, with **bold** and a [[Link|alias]]. Second sentence follows! ^para1

- A list item that says something. Another sentence in the item.
- [ ] Email [[Priya]] about the budget 📅 2026-03-01 ^t1
- [x] done thing here
- [[Only Link]] [[Other]]
- #tag #other

## Notes

> [!note] Callout title
> Callout body sentence one. Callout two is here.
> - list in callout item

```python
code = "Not a sentence. Really not."
```

| a | b |
|---|---|
| table cell text is here | x |

%% a comment sentence here. %%

![[embed.png]]

$$
x = y
$$

<div>Some html text here.</div>

Pros:

[[Link]] is where this starts.
"""


def _sentences():  # type: ignore[no-untyped-def]
    note = parse_text("Folder/a.md", NOTE)
    return note, sentences_of(note)


def test_reads_prose_lists_tasks_and_callouts_only() -> None:
    _, sents = _sentences()
    assert [s.text for s in sents] == [
        "First claim here, with bold and a alias.",
        "Second sentence follows!",
        "A list item that says something.",
        "Another sentence in the item.",
        "- [ ] Email Priya about the budget 📅 2026-03-01",
        "- [x] done thing here",
        "Callout body sentence one.",
        "Callout two is here.",
        "list in callout item",
        "Link is where this starts.",
    ]
    kinds = [s.kind for s in sents]
    assert kinds[:2] == ["prose", "prose"] and kinds[2:4] == ["list_item"] * 2
    assert kinds[4:6] == ["task", "task"] and set(kinds[6:]) == {"prose"}


def test_offsets_point_at_the_source() -> None:
    note, sents = _sentences()
    src = [note.text[s.source_start : s.source_end] for s in sents]
    assert src[0] == "First claim here, with **bold** and a [[Link|alias]]."
    assert src[4] == "Email [[Priya]] about the budget 📅 2026-03-01"
    assert src[-1] == "[[Link]] is where this starts."
    for s in sents:
        assert note.text.count("\n", 0, s.source_start) + 1 == s.line


def test_structure_travels_with_each_sentence() -> None:
    note, sents = _sentences()
    assert sents[0].block_id == "para1" and sents[0].section == "Title"
    assert sents[4].task is not None and sents[4].task.text.startswith("Email")
    assert sents[4].block_id == "t1"
    assert sents[5].task is not None and sents[5].task.done
    assert sents[6].section == "Notes"
    assert note.blocks[sents[6].block_index].kind == "callout"


def test_crlf_and_the_inline_region_are_handled() -> None:
    text = (
        "%% vaultkd:begin %%\n> [!summary] vaultkd summary\n> Old summary sentence here.\n\n"
        "%% vaultkd:end %%\n\nReal sentence one here. Real sentence two here.\n"
    ).replace("\n", "\r\n")
    note = parse_text("b.md", text)
    sents = sentences_of(note)
    assert [s.text for s in sents] == ["Real sentence one here.", "Real sentence two here."]
    assert all("\r" not in s.text for s in sents)
    assert note.text[sents[1].source_start : sents[1].source_end] == "Real sentence two here."


def test_empty_and_code_only_notes_have_no_sentences() -> None:
    assert sentences_of(parse_text("c.md", "")) == []
    assert sentences_of(parse_text("d.md", "```\nSome code. More code.\n```\n")) == []


def test_no_sentence_ends_inside_inline_code() -> None:
    note = parse_text(
        "Code.md",
        "The `?? ''` text ensures that if the property is not set, the instruction is ignored. "
        "Run `make test. Then lint` before you push. Then ask for a review.\n",
    )
    texts = [s.text for s in sentences_of(note)]
    assert texts == [
        "The ?? '' text ensures that if the property is not set, the instruction is ignored.",
        "Run make test. Then lint before you push.",
        "Then ask for a review.",
    ]
    first = sentences_of(note)[0]
    assert note.text[first.source_start : first.source_end].startswith("The `?? ''` text")


@pytest.mark.parametrize(
    ("text", "want"),
    [
        pytest.param(
            "> [!error] Broken query\n"
            ">\n"
            "> The query below fails on every vault.\n"
            "> ```text\n"
            "> (filter by function task.tags.includes('#XX')) AND \\\n"
            "> (filter by function task.tags.includes('#YY'))\n"
            "> ```\n"
            "> Use one delimiter type per line instead.\n"
            ">\n"
            "> | Option | Effect of the choice |\n"
            "> | --- | --- |\n"
            "> | Square brackets work. | They keep the query valid. |\n"
            "\n"
            "> Quoted advice stays a sentence too.\n"
            ">\n"
            ">     indented code is not prose either\n",
            [
                "The query below fails on every vault.",
                "Use one delimiter type per line instead.",
                "Quoted advice stays a sentence too.",
            ],
            id="callouts",
        ),
        pytest.param(
            "- Install the plugin first.\n\n"
            "  ```bash\n  npm install. Then run it\n  ```\n\n"
            "  | Column | Other |\n  |---|---|\n  | Cell one here. | Two. |\n"
            "- Second item here.\n"
            "  - Nested item is here.\n",
            ["Install the plugin first.", "Second item here.", "Nested item is here."],
            id="list-items",
        ),
    ],
)
def test_code_and_tables_inside_callouts_and_list_items_are_not_prose(
    text: str, want: list[str]
) -> None:
    assert [s.text for s in sentences_of(parse_text("Nested.md", text))] == want


def test_a_list_item_that_is_all_inline_code_is_not_a_sentence() -> None:
    note = parse_text(
        "Syntax.md",
        "- `status.type (is|is not) (TODO|DONE|IN_PROGRESS)`\n"
        "- Use `status.type` to filter by the type of a status.\n"
        "- `done` and `due` are the two dates it reads.\n",
    )
    assert [s.text for s in sentences_of(note)] == [
        "Use status.type to filter by the type of a status.",
        "done and due are the two dates it reads.",
    ]


def _naive_all_code(text: str, code: list[tuple[int, int]], start: int, end: int) -> bool:
    return not any(
        text[i].isalpha() and not any(a <= i < b for a, b in code) for i in range(start, end)
    )


@given(
    st.text(alphabet="ab1 .", max_size=40),
    st.lists(st.tuples(st.integers(0, 40), st.integers(0, 8)), max_size=6),
    st.integers(0, 40),
    st.integers(0, 40),
)
def test_all_code_agrees_with_its_definition(
    text: str, raw: list[tuple[int, int]], start: int, end: int
) -> None:
    # Sorted, non-overlapping spans, as to_plain records them.
    start, end = min(start, len(text)), min(end, len(text))
    code: list[tuple[int, int]] = []
    for a, n in sorted(raw):
        a = max(a, code[-1][1] if code else 0)
        code.append((a, a + n))
    assert _all_code(text, code, start, end) == _naive_all_code(text, code, start, end)


def test_one_long_line_keeps_links_whole_and_lines_right() -> None:
    # A note that is one paragraph of thousands of sentences (a pasted transcript): each
    # sentence is read, numbered on its line, and a sentence that starts or ends with a
    # link's display text still covers the whole link.
    filler = " ".join(f"Sentence number {i} says something new." for i in range(3000))
    text = (
        f"# Transcript\n\n{filler} [[Projects/Roadmap|The roadmap]] is late again. "
        f"We should ask [[People/Dana|Dana]]. {filler}\n\nLast line has its own claim here.\n"
    )
    sentences = sentences_of(parse_text("t.md", text))
    assert len(sentences) == 6003
    assert {s.line for s in sentences[:-1]} == {3}
    assert sentences[-1].line == 5
    late = next(s for s in sentences if s.text.startswith("The roadmap"))
    assert text[late.source_start : late.source_end].startswith("[[Projects/Roadmap|")
    ask = next(s for s in sentences if s.text.startswith("We should ask"))
    assert text[ask.source_start : ask.source_end].endswith("[[People/Dana|Dana]].")


def test_inline_code_offsets_hold_in_a_long_note_of_code_spans() -> None:
    # Each sentence looks only at the code spans near it (a note of thousands of both made
    # every sentence scan all of them).
    body = " ".join(f"Sentence {i} uses `code{i}`  and\n`more {i}`." for i in range(3000))
    sentences = sentences_of(parse_text("c.md", f"# Code\n\n{body}\n"))
    assert len(sentences) == 3000
    for i in (0, 1234, 2999):
        s = sentences[i]
        assert s.text == f"Sentence {i} uses code{i} and more {i}."
        assert [s.text[a:b] for a, b in s.code] == [f"code{i}", f"more {i}"]
    assert sentences_of(parse_text("p.md", "No code in this sentence at all.\n"))[0].code == ()


def test_a_label_and_links_is_a_way_to_other_notes_not_a_sentence() -> None:
    text = (
        "# Lena\n\nLena leads the mobile team and owns the release train.\n\n"
        "Related: [[Offline Mode Plan]], [[Offline-first]], [[Tidepool Sync]].\n\n"
        "Up: [[People]]\n\nCalled [[Bob]] about it.\n\n"
        "See also [[Local-First Software]] for the background reading.\n\n"
        "See [[Topics/Writing|Writing]] and the [[Workshop]].\n\n"
        "For details, see [the guide](https://example.org/guide).\n\n"
        "See [[Bob]] about the invoice before Friday.\n\n"
        "See also the notes.\n"
    )
    got = [s.text for s in sentences_of(parse_text("Lena.md", text))]
    # "See …" lines of links alone point the way too (the student read them as new tasks);
    # one that says more than where to look, or has no link, is still a sentence.
    assert got == [
        "Lena leads the mobile team and owns the release train.",
        "Called Bob about it.",
        "See Bob about the invoice before Friday.",
        "See also the notes.",
    ]
