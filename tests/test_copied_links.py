"""Links in copied sentences: a distillation copies a sentence with the user's links in it, and
each such link reaches, from the copy, the file the user's link reaches from the source — with
`Distilled/` and `Atomic/` in the vault, as Obsidian sees it once they are written."""

from __future__ import annotations

import re
from pathlib import Path

from fake_predictor import FakePredictor

from vaultkd.distill.render import linker
from vaultkd.pipeline import DistillOptions, Session, note_sentences
from vaultkd.vault.graph import VaultGraph
from vaultkd.vault.inline import to_plain
from vaultkd.vault.parse import parse_note

# Every sentence is one the fake predictor calls a salient claim ("key"), so each is copied.
SOURCE = """# Plan review

## Where we are

The key point is that the [[Plan|plan]] still holds after the review of the budget.
The key risk sits in [[Roadmap]], which two teams share without an owner.
The key reading is [the sync design](../../Design/Sync%20design.md#Queue) for the queue part.
The key background is on [the vendor site](https://example.com/a?b=1) for everyone to read.
The key question of [[#Where we are|where we are]] is answered by the numbers below today.
The key idea is [[Someday Note]], which nobody has written yet but everyone refers to.
The key escape is [[../../outside]], a link that points out of the vault entirely here.
The key table link is [[Roadmap\\|the map]] as a table cell would have written it down.
The key trap is [a | pipe](../../Design/Sync%20design.md) in a link text that an alias cannot hold.
The key spec is at <https://example.com/spec?v=2>, and questions go to <sync@example.com> now.

- [ ] Review [[Plan|the plan]] with [design](../../Design/Sync%20design.md) and [[Roadmap]] #todo
"""


def make_vault(root: Path) -> Path:
    (root / ".obsidian").mkdir(parents=True)
    for rel, text in {
        "Projects/Plan.md": "# Plan\n\nThe plan.\n",
        "Archive/Old/Plan.md": "# Plan\n\nAnother note with the same name.\n",
        "Projects/Roadmap.md": "# Roadmap\n\nThe roadmap.\n",
        "Design/Sync design.md": "# Sync design\n\n## Queue\n\nThe queue.\n",
        "Projects/Review/Plan review.md": SOURCE,
        # Every sentence in the key passages, so each is copied into the distillation.
        ".vaultkd.toml": "bold_fraction = 1.0\n",
    }.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    return root


def _copied_links(text: str) -> list[str]:
    """Wikilinks and Markdown links in a generated note's copied sentences (not vaultkd's own
    links back to the source, to atomic notes, or to connections)."""
    out = []
    for line in text.splitlines():
        line = re.sub(r" \(\[\[[^\]]*\]\]\)$", "", line)  # the link back to the source
        if line.lstrip().startswith(("Source:", "source:", "Related:", "- [[")):
            continue
        out += re.findall(r"\[\[[^\]]+\]\]|\[[^\]]*\]\([^)]*\)", line)
    return out


def test_to_plain_records_each_link_where_its_text_is() -> None:
    p = to_plain(
        "See [[Team Offsite|the offsite]], [[Folder/Note#H]], [a `b` c](x.md \"t\") and "
        "| [[A\\|b]] |"
    )
    assert [(p.text[a:b], kind, dest) for a, b, kind, dest in p.links] == [
        ("the offsite", "wiki", "Team Offsite"),
        ("Note", "wiki", "Folder/Note#H"),
        ("a b c", "md", 'x.md "t"'),
        ("b", "wiki", "A"),  # the table's escaped pipe is not part of the target
    ]


def test_sentences_carry_their_links_and_no_sentence_ends_inside_one() -> None:
    note = parse_note(
        "n.md",
        b"We met [[Dr. Who. The Doctor|Dr. Who. The Doctor]] on Monday. Then [[Plan]] changed.\n",
    )
    sents = note_sentences(note)
    assert [s.text for s in sents] == [
        "We met Dr. Who. The Doctor on Monday.", "Then Plan changed."
    ]
    first, second = sents
    assert [(first.text[a:b], dest) for a, b, _, dest in first.links] == [
        ("Dr. Who. The Doctor", "Dr. Who. The Doctor")
    ]
    assert [(second.text[a:b], dest) for a, b, _, dest in second.links] == [("Plan", "Plan")]


def test_a_link_a_sentence_holds_only_part_of_is_left_out() -> None:
    # A blank line inside a link's text would split it; the pieces are plain text.
    note = parse_note("n.md", b"First words of [a long\n\nlink](x.md) go here and on.\n")
    assert all(not s.links for s in note_sentences(note))


def test_links_in_copies_reach_what_the_source_reached(tmp_path: Path) -> None:
    root = make_vault(tmp_path / "v")
    source = "Projects/Review/Plan review.md"
    with Session.open(root, predictor=FakePredictor()) as s:
        [result] = s.distill([source])
    assert result.status == "written", result.message
    # Obsidian's view of the vault once the distillation exists: generated notes included, so a
    # bare [[Plan]] in Distilled/Projects/... could now reach a generated note of that name.
    notes = [parse_note(p.relative_to(root).as_posix(), p.read_bytes()) for p in root.rglob("*.md")]
    graph = VaultGraph.from_notes(notes)
    distilled = (root / "Distilled" / source).read_text(encoding="utf-8")
    copied = _copied_links(distilled)
    assert "[[Projects/Plan|plan]]" in copied  # two Plan.md: the one the source's link reaches
    assert "[[Projects/Roadmap|Roadmap]]" in copied
    assert "[[Design/Sync design#Queue|the sync design]]" in copied  # was relative
    assert "[the vendor site](https://example.com/a?b=1)" in copied
    assert "[[Projects/Review/Plan review#Where we are|where we are]]" in copied
    assert "[[Someday Note]]" in copied  # not written yet: kept, as in the source
    assert "[[Projects/Roadmap|the map]]" in copied
    assert not any("outside" in link or "pipe" in link for link in copied)
    assert "The key escape is outside, a link" in distilled  # its text stays
    assert "The key trap is a | pipe in a link text" in distilled
    # Autolinks are copied as the user wrote them (they once vanished as HTML tags).
    assert "spec is at <https://example.com/spec?v=2>, and questions go to <sync@example.com>" in (
        distilled
    )
    # A task keeps its own Markdown, its links written the same way.
    assert (
        "- ☐ Review [[Projects/Plan|the plan]] with [[Design/Sync design|design]] and "
        "[[Projects/Roadmap|Roadmap]] \\#todo ("
    ) in distilled
    for link in copied:
        if link.startswith("[["):
            inner = link[2:-2].split("|")[0]
            target = inner.split("#")[0]
            if target == "Someday Note":
                assert graph.resolve(target, "Distilled/" + source) is None
                continue
            found = graph.resolve(target, "Distilled/" + source)
            assert found is not None and not found.path.startswith(("Distilled/", "Atomic/")), link
    # Atomic notes copy their sentences the same way.
    atomic = [p for p in result.written if p.startswith("Atomic/")]
    assert atomic
    for rel in atomic:
        for link in _copied_links((root / rel).read_text(encoding="utf-8")):
            assert "|" in link or link == "[[Someday Note]]" or link.startswith("[the"), link
    # Idempotent: distilling again with the generated notes in the vault writes the same bytes.
    before = {p: p.read_bytes() for p in root.rglob("*.md")}
    with Session.open(root, predictor=FakePredictor()) as s:
        [again] = s.distill([source], DistillOptions(force=True))
    assert again.status == "unchanged", again.message
    assert {p: p.read_bytes() for p in root.rglob("*.md")} == before


def test_without_a_resolver_only_links_that_need_none_are_kept() -> None:
    link = linker("A/Note.md", "Distilled/A/Note.md", None)
    assert link("wiki", "Plan", "Plan") == "[[Plan]]"
    assert link("wiki", "Plan", "the plan") == "[[Plan|the plan]]"
    assert link("wiki", "#H", "H") == "[[A/Note#H|H]]"
    assert link("md", "https://e.com", "site") == "[site](https://e.com)"
    assert link("md", "#H", "here") == "[[A/Note#H|here]]"
    assert link("md", "b.md", "b") is None  # relative to the source: unknown without the vault
    # In the note itself (inline mode's summary), a link into the note stays in it.
    assert linker("A/Note.md", "A/Note.md", None)("wiki", "#H", "H") == "[[#H|H]]"


ESCAPED = """# Syntax notes

The key point is that \\[\\[Fake Target\\]\\] stays text when its brackets are escaped.
The key marker is \\==not a highlight\\== and \\%\\%not a comment\\%\\% in the middle here.
The key tag is \\<b\\> shown as text, and a\\*b\\*c is not emphasis in this sentence either.
"""


def test_what_the_user_escaped_stays_text_in_every_copy(tmp_path: Path) -> None:
    root = make_vault(tmp_path / "v")
    (root / "Notes").mkdir()
    (root / "Notes" / "Syntax notes.md").write_text(ESCAPED, encoding="utf-8")
    with Session.open(root, predictor=FakePredictor()) as s:
        [result] = s.distill(["Notes/Syntax notes.md"])
    assert result.status == "written", result.message
    source = parse_note("Notes/Syntax notes.md", ESCAPED.encode())
    plain = {s.text for s in note_sentences(source)}
    copies = 0
    for rel in result.written:
        text = (root / rel).read_text(encoding="utf-8")
        note = parse_note(rel, text.encode())
        # Copied bare, "[[Fake Target]]" would be a link to a note nobody wrote.
        assert not any("Fake Target" in link.target for link in note.links), rel
        assert "==not" not in text.replace("\\==", "") and "%%not" not in text.replace("\\%%", "")
        for line in text.splitlines():
            line = re.sub(r" \(\[\[[^\]]*\]\]\)$", "", line)
            # Sentences copied into lists, the summary and atomic notes; not the titles.
            if "The key" in line and "[[Atomic/" not in line and not line.startswith("#"):
                # A copy reads as the sentence the model read (what Obsidian shows).
                shown = to_plain(line.removeprefix("> ")).text.removeprefix("[!summary] ")
                assert any(p in shown for p in plain), (rel, line)
                copies += 1
    assert copies >= 6  # three sentences, in the lists, the summary and the atomic notes
