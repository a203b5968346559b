"""Atomic-note titles: safe file names on every platform, unique in the vault."""

from __future__ import annotations

import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from vaultkd.distill.titles import MAX_TITLE, is_reserved, is_safe_title, make_title


def test_readable_title_from_a_claim() -> None:
    title = make_title("Manual QA is the release bottleneck.")
    assert title == "Manual QA is the release bottleneck"


def test_forbidden_characters_are_replaced() -> None:
    title = make_title('a/b\\c: d*e?"f"<g>|h #i ^j [k]')
    assert is_safe_title(title)
    assert title.startswith("A b c – d e")  # the colon joins, the rest become spaces


def test_long_claim_is_cut_at_a_boundary() -> None:
    claim = "Cold starts dominate our p99 latency, " + "not the database and not the cache " * 5
    title = make_title(claim)
    assert len(title) <= MAX_TITLE
    assert title == "Cold starts dominate our p99 latency"


def test_a_cut_title_does_not_end_on_a_dangling_word() -> None:
    claim = (
        "In the graph output hierarchical connections are notated with a solid line and "
        "references with a dashed one"
    )
    title = make_title(claim)
    assert title == "In the graph output hierarchical connections are notated with a solid line"
    assert len(title) <= MAX_TITLE
    # Question words, "like" and "would" end no title either (the Dendron and Tasks docs).
    assert make_title(
        "Other times, we need to track more complex attributes of our tasks like priority, "
        "dates and recurrence in one place."
    ) == "Other times, we need to track more complex attributes of our tasks"
    assert make_title(
        "This shows items that I (Clare Macrae) have prioritised and would like to do "
        "eventually, given enough free time."
    ) == "This shows items that I (Clare Macrae) have prioritised"


def test_reserved_windows_names_are_avoided() -> None:
    for name in ("CON", "con", "Nul.", "COM1", "lpt9", "aux.md"):
        title = make_title(name)
        assert not is_reserved(title), title
        assert is_safe_title(title)


def test_unique_case_insensitively() -> None:
    taken = {"manual qa is the release bottleneck"}
    title = make_title("Manual QA is the release bottleneck.", taken)
    assert title == "Manual QA is the release bottleneck 2"
    assert make_title("Manual QA is the release bottleneck", taken | {title.upper()}).endswith(" 3")


def test_empty_or_markup_only_claim_gets_a_fallback() -> None:
    assert make_title("") == "Untitled idea"
    assert make_title("  ...  ") == "Untitled idea"
    assert make_title("**==**") == "Untitled idea"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300), st.sets(st.text(max_size=40), max_size=5))
def test_any_text_gives_a_safe_unique_title(claim: str, taken: set[str]) -> None:
    title = make_title(claim, taken)
    assert is_safe_title(title), repr(title)
    assert title == unicodedata.normalize("NFC", title)
    keys = {unicodedata.normalize("NFC", t).casefold() for t in taken}
    assert title.casefold() not in keys


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=120))
def test_titles_are_deterministic(claim: str) -> None:
    assert make_title(claim) == make_title(claim)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(min_size=0, max_size=30), min_size=1, max_size=8))
def test_titles_stay_unique_when_taken_grows(claims: list[str]) -> None:
    taken: list[str] = []
    for claim in claims:
        taken.append(make_title(claim, taken))
    assert len({t.casefold() for t in taken}) == len(taken)


def test_tags_around_a_claim_are_not_part_of_its_title() -> None:
    assert make_title("#decision Redis adds a second store to run. #infra #q3") == (
        "Redis adds a second store to run"
    )
    assert make_title("We use #postgres for the queue.") == "We use postgres for the queue"


def test_edge_tags_are_stripped_a_word_at_a_time() -> None:
    from vaultkd.vault.tags import strip_edge_tags

    assert strip_edge_tags("#decision Redis adds a store. #infra", leading=True) == (
        "Redis adds a store."
    )
    assert strip_edge_tags("#decision Redis adds a store.") == "#decision Redis adds a store."
    assert strip_edge_tags("We use #postgres here.") == "We use #postgres here."
    # Thousands of tags, and a word after them: nothing to strip, and no quadratic retry.
    many = "Claim" + " #a" * 50_000
    assert strip_edge_tags(many + " x") == many + " x"
    assert strip_edge_tags(many) == "Claim"
    assert make_title(many + " x").startswith("Claim a a")


def test_a_colon_inside_a_claim_joins_its_parts_with_a_dash() -> None:
    # A file name cannot hold ":"; a bare space ran the two parts together ("a lot utilities").
    assert make_title("Longevity matters a lot: utilities keep records for thirty years.") == (
        "Longevity matters a lot – utilities keep records for thirty years"
    )
    assert make_title("Key finding: the cache is the bottleneck.") == "The cache is the bottleneck"
    assert make_title("Meet at 10:30 with Bob.") == "Meet at 10 30 with Bob"  # not a join
    # A colon inside inline code is part of the code, not a place to cut the title.
    assert make_title(
        "The Roadmap makes visible the Issues that are labelled `priority: high`, and puts "
        "them in the rough order that they might be done on."
    ) == "The Roadmap makes visible the Issues that are labelled priority high"


def test_inline_math_reads_as_its_formula_and_prices_stay() -> None:
    assert make_title("Each review increases $S$, so the curve flattens.") == (
        "Each review increases S, so the curve flattens"
    )
    assert make_title("It costs $5 and $6 each.") == "It costs $5 and $6 each"


def test_a_cut_title_does_not_end_inside_an_open_parenthesis() -> None:
    claim = (
        "In the Northfield data this happens to 0.4% of assets per day "
        "(2026-01-26 Sync Architecture Review), which is rare."
    )
    assert make_title(claim) == "In the Northfield data this happens to 0.4% of assets per day"
    # Balanced or early parentheses are left alone.
    assert make_title("Cold starts (not the database) dominate p99.") == (
        "Cold starts (not the database) dominate p99"
    )
