"""The shared sentence splitter: offsets, abbreviations, numbers, quotes, paragraphs."""

from hypothesis import given
from hypothesis import strategies as st

from vaultkd.segment import sentences, split_sentences


def test_offsets_point_back_into_the_source() -> None:
    text = "  First point here. Second one?\nIt continues! Last bit"
    for span in split_sentences(text):
        assert text[span.start : span.end] == span.text
    assert sentences(text) == ["First point here.", "Second one?", "It continues!", "Last bit"]


def test_abbreviations_numbers_and_versions_do_not_split() -> None:
    text = "Dr. Lee met us at 3 p.m. to review v1.2 and e.g. the 3.5% drop. The U.S. team agreed."
    assert sentences(text) == [
        "Dr. Lee met us at 3 p.m. to review v1.2 and e.g. the 3.5% drop.",
        "The U.S. team agreed.",
    ]


def test_version_number_at_sentence_end_still_splits() -> None:
    assert sentences("We shipped v1.2. Dr. Smith was happy.") == [
        "We shipped v1.2.",
        "Dr. Smith was happy.",
    ]


def test_quotes_ellipsis_and_lowercase_continuation() -> None:
    assert sentences('He said "stop." Then we left… Kim to draft it. and lower') == [
        'He said "stop."',
        "Then we left…",
        "Kim to draft it. and lower",
    ]


def test_blank_line_always_ends_a_sentence() -> None:
    assert sentences("no end here\n\nnext paragraph") == ["no end here", "next paragraph"]
    # A single line break inside a paragraph does not split.
    assert sentences("one line\ncontinues here.") == ["one line continues here."]


@given(st.text())
def test_never_raises_and_spans_are_ordered_slices(text: str) -> None:
    spans = split_sentences(text)
    last = 0
    for span in spans:
        assert last <= span.start < span.end <= len(text)
        assert text[span.start : span.end] == span.text
        assert span.text == span.text.strip()
        last = span.end


def test_keep_ranges_hold_no_boundary() -> None:
    text = "Type a?? B here. Then stop."
    assert [s.text for s in split_sentences(text)] == ["Type a??", "B here.", "Then stop."]
    kept = split_sentences(text, keep=[(5, 9)])  # "a?? " as if it were inline code
    assert [s.text for s in kept] == ["Type a?? B here.", "Then stop."]


def test_keep_ranges_may_come_unsorted_and_overlapping() -> None:
    text = "One `a. B` two. Three `c. D. E` four. Five six. Seven."
    c, a = text.index("c. D"), text.index("a. B")
    code = [(c, c + 4), (a, a + 4), (c + 2, text.index(" four"))]
    assert [s.text for s in split_sentences(text, keep=code)] == [
        "One `a. B` two.", "Three `c. D. E` four.", "Five six.", "Seven.",
    ]


def test_a_word_longer_than_the_look_back_window_is_read_whole() -> None:
    # "ab.ab.…" of 119 characters is a dotted initialism (every part <= 2 letters), "xab.ab.…"
    # is not, though its last 64 characters look like one; a run of 120 letters is not.
    dotted = ".".join(["ab"] * 40)
    assert len(split_sentences(f"See {dotted}. Next one here.")) == 1
    assert len(split_sentences(f"See x{dotted}. Next one here.")) == 2
    long_word = "x" * 120
    assert len(split_sentences(f"See {long_word}. Next one here.")) == 2
    assert len(split_sentences(f"See x{'y' * 62}.ab. Next one here.")) == 2


def test_a_sentence_may_open_with_an_emoji() -> None:
    text = "The release shipped. ✅ Checks passed on every phone. 🎉 Party at five."
    assert sentences(text) == [
        "The release shipped.", "✅ Checks passed on every phone.", "🎉 Party at five.",
    ]
    assert sentences("It costs 5 €. € prices are fixed.") == ["It costs 5 €. € prices are fixed."]


def test_tags_that_end_a_line_stay_with_the_sentence_before_them() -> None:
    text = (
        "We compared three queues. #project/sync\n"
        "We chose Postgres. #decision #db\n"
        "Redis adds a store."
    )
    assert sentences(text) == [
        "We compared three queues. #project/sync",
        "We chose Postgres. #decision #db",
        "Redis adds a store.",
    ]
    assert sentences("It works. #a\n\nNew para here.") == ["It works. #a", "New para here."]
    assert sentences("Shipped on Friday. #release") == ["Shipped on Friday. #release"]
    # A tag followed by more text on its line labels what follows; a number is not a tag.
    assert sentences("First one. #tag Second one here.") == ["First one.", "#tag Second one here."]
    assert sentences("See the chart. #1984\nNext one.") == ["See the chart.", "#1984 Next one."]


def test_a_hostile_tag_after_a_sentence_is_split_like_any_other_word() -> None:
    # A 200,000-letter "tag" once cost the splitter the square of its length (minutes).
    word = "#" + "a" * 200_000
    assert sentences(f"Ship it. {word} Next one.") == ["Ship it.", f"{word} Next one."]
    assert sentences(f"Ship it. {word}\nNext one.") == [f"Ship it. {word}", "Next one."]


def test_no_sentence_ends_inside_a_short_parenthetical_aside() -> None:
    assert sentences("Ask a friend (or even yourself! -i.e. future you) to read it. Then fix.") == [
        "Ask a friend (or even yourself! -i.e. future you) to read it.", "Then fix."
    ]
    assert sentences("We shipped (finally! It took a year) the sync. Next up.") == [
        "We shipped (finally! It took a year) the sync.", "Next up."
    ]
    # The aside's own ")" may close the sentence; an unclosed "(" pairs with nothing.
    assert sentences("It works (see below.) Then go.") == ["It works (see below.)", "Then go."]
    assert sentences("Open ( paren. Never closed. Ok.") == ["Open ( paren.", "Never closed.", "Ok."]
    assert sentences("A ) stray. Then (one. Two) here.") == ["A ) stray.", "Then (one. Two) here."]
    # A paragraph in parentheses is prose, split as such.
    long = "(" + "Words go here. Then " * 20 + "the end.)"
    assert len(sentences(long)) == 21


def test_hostile_parentheses_are_read_in_one_pass() -> None:
    text = "(" * 100_000 + "Word. Next " + ")" * 100_000 + " Done. Last one."
    assert sentences(text)[-1] == "Last one."
    text = "(a. B) " * 50_000
    assert len(sentences(text)) == 1
