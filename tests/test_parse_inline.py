"""to_plain: what a reader sees, with every character mapped back to the markdown."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vaultkd.vault.inline import literal, to_plain


@pytest.mark.parametrize(
    "markdown,plain",
    [
        ("**bold** and __strong__", "bold and strong"),
        ("*em* and _em_ but snake_case and 2 * 3", "em and em but snake_case and 2 * 3"),
        ("==highlight== ~~gone~~", "highlight gone"),
        ("see [[Target|the alias]]", "see the alias"),
        ("see [[Folder/Target]] and [[Other.md]]", "see Target and Other"),
        ("see [[Target#Heading]] and [[#Local]]", "see Target and Local"),
        ("table [[Target\\|alias]]", "table alias"),
        ("read [the text](https://example.com \"t\") now", "read the text now"),
        ("[**bold link**](x.md)", "bold link"),
        ("claim worth keeping. ^block-1", "claim worth keeping."),
        ("a footnote[^1] here", "a footnote here"),
        ("line<br>break <span class='x'>in</span>", "line break in"),
        # A line break between words reads as a space, and adds none beside one.
        ("order,<br/>so we <BR />sort", "order, so we sort"),
        ("one <br>two<br> three<br>", "one two three"),
        # An autolink shows its address (it is no HTML tag).
        ("spec at <https://example.com/a?b=1> now", "spec at https://example.com/a?b=1 now"),
        ("mail <bob@example.com> and <b>x</b>", "mail bob@example.com and x"),
        ("use `a*b` code", "use a*b code"),
        ("keep \\*stars\\*", "keep *stars*"),
        ("x %% hidden [[L]] %% y <!-- gone --> z", "x  y  z"),
        ("![[Embedded]] ![alt](img.png) text", "  text"),
        ("- [ ] Email Dana", "Email Dana"),
        ("  - nested item", "nested item"),
        ("1. first", "first"),
        ("> [!tip] Title here\n> body", "Title here\nbody"),
        ("## A heading", "A heading"),
        ("#tag stays", "#tag stays"),
    ],
)
def test_to_plain(markdown: str, plain: str) -> None:
    assert to_plain(markdown).text == plain


def test_offsets_point_at_the_same_characters() -> None:
    md = "- [x] **Dana** to send [[Contracts/Draft|the draft]] by *Friday*. ^a1"
    p = to_plain(md)
    assert p.text == "Dana to send the draft by Friday."
    # A `<br>` between two words reads as a space, which stands at its "<".
    assert all(
        md[o] == c or (c == " " and md[o : o + 3].lower() == "<br")
        for o, c in zip(p.offsets, p.text, strict=True)
    )
    i = p.text.index("the draft")
    a, b = p.source_span(i, i + len("the draft"))
    assert md[a:b] == "the draft"
    a, b = p.source_span(0, len(p.text))
    # The smallest slice: it starts at "D", after the opening "**".
    assert md[a:b] == "Dana** to send [[Contracts/Draft|the draft]] by *Friday*."


def test_a_line_break_space_points_at_its_tag() -> None:
    md = "order,<br>so **we** sort"
    p = to_plain(md)
    assert p.text == "order, so we sort"
    assert p.offsets[6] == md.index("<br>")
    assert md[slice(*p.source_span(0, len(p.text)))] == md
    # Each side of the break is its own source slice, the tag between them.
    assert md[slice(*p.source_span(0, 6))] == "order,"
    assert md[slice(*p.source_span(7, 9))] == "so"


def test_empty() -> None:
    p = to_plain("")
    assert p.text == "" and p.offsets == [] and p.source_span(0, 0) == (0, 0)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="abr \n*_=~[]()!|#^%`<>-\\/.1x", max_size=120))
def test_every_plain_char_maps_to_itself(md: str) -> None:
    p = to_plain(md)
    assert len(p.offsets) == len(p.text)
    # A `<br>` between two words reads as a space, which stands at its "<".
    assert all(
        md[o] == c or (c == " " and md[o : o + 3].lower() == "<br")
        for o, c in zip(p.offsets, p.text, strict=True)
    )
    assert all(x < y for x, y in zip(p.offsets, p.offsets[1:], strict=False))


def test_unclosed_brackets_are_read_in_linear_time() -> None:
    # Unbounded link-text patterns rescanned the rest of the line from every unclosed "[":
    # 20,000 of them took 3.2 s, 200,000 about a hundred times that; now a few seconds.
    for piece in ("[", "[a](", "[^", "!["):
        text = piece * (200_000 // len(piece)) + " end"
        plain = to_plain(text)
        assert plain.text.endswith(" end") and not plain.links
    # Real links are still read whole, long URLs included.
    url = "https://example.com/" + "a" * 1500
    plain = to_plain(f"See [the docs]({url}) now.")
    assert plain.text == "See the docs now." and plain.links[0][3] == url


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="abr *_=~[]()!|#^%`<>-\\/.:1x", max_size=80))
def test_literal_text_reads_as_itself(text: str) -> None:
    # A line's leading blanks are no text (`to_plain` drops them; a sentence has none).
    assert to_plain(literal(text)).text == text.lstrip(" ")
    # After other text on the line, "- x" is no list marker to escape.
    assert to_plain("x" + literal(text, line_start=False)).text == "x" + text


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("Wikilinks like [[x]] stay text.", "Wikilinks like \\[\\[x]] stay text."),
        ("It is ==not== a highlight.", "It is \\=\\=not\\=\\= a highlight."),
        ("Two %%percent%% signs.", "Two \\%%percent\\%% signs."),
        ("The <b> tag.", "The \\<b> tag."),
        ("A <br> is no break.", "A \\<br> is no break."),
        ("1. is no list", "1\\. is no list"),
        # Nothing to escape: the characters open no syntax here.
        *[(t, t) for t in ("[note], snake_case, 5 * 3,", "100% and a < b.")],
    ],
)
def test_literal_escapes_only_what_would_open_syntax(text: str, written: str) -> None:
    assert literal(text) == written
