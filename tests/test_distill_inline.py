"""--inline on real parsed notes: only markers and vaultkd's region change; re-runs are no-ops."""

from __future__ import annotations

from fake_predictor import FakePredictor
from hypothesis import given, settings
from hypothesis import strategies as st

from vaultkd.config import Config
from vaultkd.distill.core import distill_note
from vaultkd.distill.render import REGION_BEGIN, region_span, render_inline
from vaultkd.distill.segment import sentences_of
from vaultkd.vault.parse import parse_text

NOTE = """---
title: x
---
# Retro

The key problem is that every release waits on the manual QA pass. Manual QA takes two days.
Flaky tests cause most re-runs, see [[Testing]]. We decided to automate the smoke suite.

- Important: the release train stays weekly.
- [ ] Priya to move the smoke tests into CI 📅 2026-03-20

> [!note] Aside
> Dashboards lag by an hour. Caching makes builds fast.
"""


def inline_once(text: str, path: str = "a.md") -> str:
    note = parse_text(path, text)
    sents = sentences_of(note)
    preds = FakePredictor().predict([s.text for s in sents])
    d = distill_note(note, sents, preds, Config(min_sentences=2), [])
    return render_inline(note, d)


def _strip(text: str) -> str:
    span = region_span(text)
    if span:
        text = text[: span[0]] + text[span[1] :]
        # the blank line that separates the region from the note
        nl = "\r\n" if text[span[0] : span[0] + 2] == "\r\n" else "\n"
        text = text[: span[0]] + text[span[0] + len(nl) :]
    return text.replace("**", "").replace("==", "")


def test_inline_is_reversible_and_idempotent() -> None:
    once = inline_once(NOTE)
    assert once != NOTE
    assert once.startswith("---\ntitle: x\n---\n" + REGION_BEGIN)
    assert _strip(once) == NOTE
    assert "📅 2026-03-20" in once and "**- [ ]" not in once
    assert inline_once(once) == once


def test_inline_keeps_crlf() -> None:
    crlf = NOTE.replace("\n", "\r\n")
    once = inline_once(crlf)
    assert _strip(once) == crlf
    assert once.count("\n") == once.count("\r\n")
    assert inline_once(once) == once


WORDS = st.sampled_from(
    "the cache key release tests [[Link]] #tag QA is fast slow because we decided".split()
)
SENTENCE = st.builds(
    lambda ws, end: " ".join(ws).capitalize() + end,
    st.lists(WORDS, min_size=2, max_size=8),
    st.sampled_from([".", "?", "!"]),
)
BLOCK = st.one_of(
    st.lists(SENTENCE, min_size=1, max_size=4).map(" ".join),
    SENTENCE.map(lambda s: "- " + s),
    SENTENCE.map(lambda s: "> " + s),
    st.just("```\ncode. More code.\n```"),
    st.just("## Heading"),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(BLOCK, min_size=1, max_size=8), st.sampled_from(["\n", "\r\n"]))
def test_text_outside_the_region_round_trips(blocks: list[str], nl: str) -> None:
    text = (nl + nl).join(b.replace("\n", nl) for b in blocks) + nl
    once = inline_once(text)
    assert _strip(once) == text
    assert inline_once(once) == once
