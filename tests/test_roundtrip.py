"""Property tests: whatever a note looks like, `--block-refs` and `--inline` only insert
vaultkd's own pieces (` ^vkd-…` ids, `**`/`==` markers, the marked summary region); every other
byte of the note is kept, and `vaultkd undo` restores the file byte for byte.

The fixed fake predictor stands in for the model here: the property is about the writer.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from distill_helpers import only_vaultkd_insertions
from fake_predictor import FakePredictor
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vaultkd.pipeline import DistillOptions, Session, undo_note

WORDS = st.sampled_from(
    "the key result is that cache QA release we decided to ship Priya will email vendor "
    "unclear whether budget important sprint tests flaky because latency database".split()
)
SENTENCE = st.builds(
    lambda ws, end: " ".join(ws).capitalize() + end,
    st.lists(WORDS, min_size=3, max_size=9),
    st.sampled_from([".", "?", "!", ".", "."]),
)
PARAGRAPH = st.builds(" ".join, st.lists(SENTENCE, min_size=1, max_size=4))
BLOCK = st.one_of(
    PARAGRAPH,
    st.builds(lambda s: "- " + s, SENTENCE),
    st.builds(lambda s: "- [ ] " + s, SENTENCE),
    st.builds(lambda s: "## " + s.rstrip(".?!"), SENTENCE),
    st.builds(lambda s: "> " + s, SENTENCE),
    st.just("```python\nx = 1  # not prose.\n```"),
    st.builds(lambda s: s + " ^own-id", SENTENCE),
    st.builds(lambda s: "Some **bold** and ==marked== text: " + s, SENTENCE),
)


@st.composite
def notes(draw: st.DrawFn) -> bytes:
    blocks = draw(st.lists(BLOCK, min_size=1, max_size=8))
    nl = draw(st.sampled_from(["\n", "\r\n"]))
    text = (nl + nl).join(b.replace("\n", nl) for b in blocks)
    if draw(st.booleans()):
        text = nl.join(["---", "zeta: 1", "alpha: [b, a]", "---", ""]) + text
    if draw(st.booleans()):
        text += nl
    data = text.encode("utf-8")
    return (b"\xef\xbb\xbf" + data) if draw(st.booleans()) else data


def _distill(data: bytes, options: DistillOptions) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / ".obsidian").mkdir()
        note = root / "Note.md"
        note.write_bytes(data)
        with Session.open(root, predictor=FakePredictor()) as session:
            result = session.distill(["Note.md"], options)[0]
        assert result.status in ("written", "too_short", "unchanged"), result.message
        after = note.read_bytes()
        if after != data:
            bom = b"\xef\xbb\xbf"
            assert after.startswith(bom) == data.startswith(bom)
            only_vaultkd_insertions(data.decode("utf-8-sig"), after.decode("utf-8-sig"))
            undo_note(root, "Note.md")
            assert note.read_bytes() == data


@given(notes())
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_block_refs_only_append_ids(data: bytes) -> None:
    _distill(data, DistillOptions(block_refs=True))


@given(notes())
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_inline_only_adds_markers_and_region(data: bytes) -> None:
    _distill(data, DistillOptions(inline=True, block_refs=True))
