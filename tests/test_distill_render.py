"""Rendering: distillation note, atomic notes, inline layers and the --json report."""

from __future__ import annotations

import json
import re
from dataclasses import replace

from distill_helpers import make_note, make_sentences
from fake_predictor import FakePredictor

from vaultkd.config import Config
from vaultkd.distill.core import distill_note
from vaultkd.distill.render import (
    REGION_BEGIN,
    REGION_END,
    region_span,
    render_atomic,
    render_distillation,
    render_inline,
    to_report,
)
from vaultkd.distill.titles import is_safe_title
from vaultkd.distill.types import Connection

PARTS = [
    ("heading", "Retro"),
    (
        "paragraph",
        "We met in the small room after lunch. The key problem is that every release "
        "waits on the manual QA pass. Manual QA now takes two days per release.",
    ),
    (
        "paragraph",
        "Flaky end-to-end tests cause most of the re-runs. Caching makes builds fast. "
        "Unclear who owns staging after Sam leaves. We decided to automate the smoke suite.",
    ),
    ("heading", "Next"),
    ("list_item", "Email Priya about the CI budget."),
    ("task", "Priya to move the smoke tests into CI"),
    ("paragraph", "Important: the release train stays weekly. Dashboards lag by an hour."),
]
CONNS = [
    Connection("Projects/Release process.md", 0.91, True, "link"),
    Connection("Notes/Test pyramid.md", 0.8234, False, "embedding"),
    Connection("Categories/Meetings.md", 0.0, True, "link"),  # a category page: no prose
]
MODEL = "fake-predictor 1 (sha256:0000)"


def build(config: Config | None = None, parts=PARTS):  # type: ignore[no-untyped-def]
    config = config or Config()
    note = make_note("Meetings/2026-03-14 Retro.md", parts)
    sentences = make_sentences(note)
    preds = FakePredictor().predict([s.text for s in sentences])
    return note, config, distill_note(note, sentences, preds, config, CONNS)


def test_distillation_note_has_the_sections_and_links_back() -> None:
    note, config, d = build()
    r = render_distillation(d, note, config, MODEL)
    assert r.rel_path == "Distilled/Meetings/2026-03-14 Retro.md"
    assert r.frontmatter["vaultkd"] == {
        "kind": "distillation",
        "source": "[[Meetings/2026-03-14 Retro]]",
        "model": MODEL,
    }
    assert r.frontmatter["tags"] == ["distilled"]
    body = r.body
    assert body.startswith("> [!summary] 2026-03-14 Retro\n> ")
    for heading in ("Key claims", "Open questions", "Decisions", "Actions", "Atomic notes"):
        assert f"\n## {heading}\n" in body
    # The note's own task is listed with its state, not copied as a second task; the action
    # the model found is a new task.
    assert "- ☐ Priya to move the smoke tests into CI ([[Meetings/2026-03-14 Retro#Next]])" in body
    assert "- [ ] Email Priya about the CI budget. ([[Meetings/2026-03-14 Retro#Next]])" in body
    assert "- [ ] Priya to move" not in body
    assert (
        "- Unclear who owns staging after Sam leaves. ([[Meetings/2026-03-14 Retro#Retro]])" in body
    )
    assert "- [[Projects/Release process]] (linked, 0.91)" in body
    assert "- [[Notes/Test pyramid]] (suggested, 0.82)" in body
    assert "- [[Categories/Meetings]] (linked)\n" in body  # not "linked, 0.00"
    # Every claim line carries its layer's emphasis when it has one.
    for item in d.claims:
        layer = d.sentences[item.sentence_index].layer
        if layer >= 3:
            assert f"=={item.text}==" in body
        elif layer == 2:
            assert f"**{item.text}**" in body


def test_block_refs_link_to_the_new_ids() -> None:
    note, config, d = build(Config(block_refs=True))
    body = render_distillation(d, note, config, MODEL).body
    ids = [ident for _, ident in d.new_block_ids]
    assert ids
    for ident in ids:
        assert f"[[Meetings/2026-03-14 Retro#^{ident}]]" in body


def test_too_short_says_so() -> None:
    note, config, d = build(parts=[("paragraph", "Only this.")])
    body = render_distillation(d, note, config, MODEL).body
    assert "too short to distil" in body
    assert "## Key claims" not in body and "[!summary]" not in body


def test_atomic_notes_one_idea_each_with_backlink() -> None:
    note, config, d = build()
    files = render_atomic(d, note, config, MODEL)
    assert len(files) == len(d.atomic) >= 1
    for idea, r in zip(d.atomic, files, strict=True):
        assert is_safe_title(idea.title)
        assert r.rel_path == f"Atomic/{idea.title}.md"
        assert r.frontmatter["vaultkd"]["kind"] == "atomic"
        assert r.body.startswith(d.sentences[idea.claim].sentence.text)
        assert "Source: [[Meetings/2026-03-14 Retro" in r.body
        assert "[[Projects/Release process]]" in r.body
    assert len({r.rel_path.lower() for r in files}) == len(files)


def _strip_inline(text: str) -> str:
    span = region_span(text)
    if span:
        text = text[: span[0]] + text[span[1] :]
        text = text.replace("\n", "", 1) if span[0] == 0 else text
    return text.replace("**", "").replace("==", "")


def test_inline_marks_layers_and_changes_nothing_else() -> None:
    note, _, d = build()
    out = render_inline(note, d)
    assert out.startswith(REGION_BEGIN + "\n> [!summary]")
    assert REGION_END in out
    assert _strip_inline(out) == note.text
    bold = [s.sentence.text for s in d.sentences if s.layer == 2 and s.sentence.kind != "task"]
    assert any(f"**{t}**" in out for t in bold)


def test_inline_uses_the_note_line_endings_and_replaces_its_own_region() -> None:
    note, _, d = build()
    crlf = replace(note, newline="\r\n")
    out = render_inline(crlf, d)
    region = out[: region_span(out)[1]]  # type: ignore[index]
    assert "\r\n" in region and re.search(r"[^\r]\n", region) is None
    # A second render over a note that already has the region replaces it, never adds one.
    again = replace(note, text=render_inline(note, d))
    # Offsets moved; the region is what matters here, so render with no layered sentences.
    plain = replace(d, sentences=tuple(replace(s, layer=0) for s in d.sentences))
    twice = render_inline(again, plain)
    assert twice.count(REGION_BEGIN) == 1
    assert twice == again.text


def test_report_is_json_and_complete() -> None:
    note, config, d = build()
    report = to_report(d, config)
    json.dumps(report)
    assert report["note"] == "Meetings/2026-03-14 Retro.md"
    assert set(report) >= {
        "note",
        "sentences",
        "summary",
        "claims",
        "questions",
        "decisions",
        "actions",
        "atomic",
        "connections",
    }
    s0 = report["sentences"][0]
    assert set(s0) == {"text", "role", "role_probs", "salience", "layer"}
    assert abs(sum(s0["role_probs"].values()) - 1.0) < 1e-3
    assert report["actions"][0] == "Email Priya about the CI budget."
    assert report["atomic"][0]["path"].startswith("Atomic/")
    assert report["connections"][1] == {
        "target": "Notes/Test pyramid.md",
        "score": 0.8234,
        "linked": False,
    }


def test_rendering_is_deterministic() -> None:
    a = build()
    b = build()
    assert render_distillation(a[2], a[0], a[1], MODEL) == render_distillation(
        b[2], b[0], b[1], MODEL
    )
    assert render_inline(a[0], a[2]) == render_inline(b[0], b[2])


def test_summary_ends_each_sentence_that_lacks_a_full_stop() -> None:
    parts = [
        ("heading", "Migration"),
        ("list_item", "The comments do show up when content blockers are off"),
        ("list_item", "Some files changed only by capitalisation, such as Grouping"),
        ("list_item", 'The old site keeps working until the redirects are "done"'),
        ("paragraph", "We lose the history if the docs move to a new folder. Is it worth it?"),
    ]
    note, config, d = build(Config(summary_sentences=5), parts)
    assert len(d.summary) == 5
    body = render_distillation(d, note, config, MODEL).body
    line = next(x for x in body.splitlines() if x.startswith("> ") and "!summary" not in x)
    assert "blockers are off. Some files" in line
    assert "such as Grouping. The old site" in line
    assert 'are "done". We lose' in line  # a closing quote is not the end of a sentence
    assert "folder. Is it worth it?" in line and "?." not in line
    assert "blockers are off." in render_inline(note, d)
    # The --json report keeps the sentences as the note has them.
    assert to_report(d, config)["summary"][0] == parts[1][1]


def test_the_notes_own_tasks_keep_their_state_and_are_not_tasks_again() -> None:
    from vaultkd.distill.segment import sentences_of
    from vaultkd.vault.parse import parse_text

    text = (
        "# Plan\n\nThe migration is the main risk for the launch. Backups are slow. "
        "The queue grew after the release.\n\n"
        "- [ ] Email Priya about the budget 📅 2026-03-01\n- [x] Book the venue\n"
        "- [-] Order the old laptops\n- [/] Draft the FAQ\n"
    )
    note = parse_text("Plan.md", text)
    sentences = sentences_of(note)
    preds = FakePredictor().predict([s.text for s in sentences])
    d = distill_note(note, sentences, preds, Config())
    body = render_distillation(d, note, Config(), "m").body
    actions = body.split("## Actions\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert actions == [
        "- ☐ Email Priya about the budget 📅 2026-03-01 ([[Plan#Plan]])",
        "- ☑ Book the venue ([[Plan#Plan]])",
        "- ☒ Order the old laptops ([[Plan#Plan]])",
        "- ☐ Draft the FAQ ([[Plan#Plan]])",
    ]
    # None of them is a task to Obsidian or the Tasks plugin.
    assert parse_text("Distilled/Plan.md", body).tasks == ()
    # A note of tasks alone counts them by state.
    chores = parse_text(
        "Chores.md",
        "- [ ] Take out the trash\n- [x] Feed the cat\n- [-] Order the old laptops\n"
        "- [/] Draft the FAQ for the fair\n",
    )
    sentences = sentences_of(chores)
    preds = FakePredictor().predict([s.text for s in sentences])
    d = distill_note(chores, sentences, preds, Config())
    body = render_distillation(d, chores, Config(), "m").body
    assert "> Tasks only: 2 open, 1 done, 1 cancelled; see Actions." in body


def test_copied_tags_are_escaped_and_left_out_of_the_summary() -> None:
    from vaultkd.distill.segment import sentences_of
    from vaultkd.vault.parse import parse_text

    text = (
        "# Queue\n\nThe queue is the main risk for the launch. #project/sync\n"
        "Backups take four hours on the old disks. #infra\n"
        "The `#fff` colour fails the contrast check on the dashboard.\n\n"
        "- [ ] Email Priya about the budget #todo\n"
    )
    note = parse_text("Queue.md", text)
    sentences = sentences_of(note)
    assert sentences[0].text == "The queue is the main risk for the launch. #project/sync"
    preds = FakePredictor().predict([s.text for s in sentences])
    config = Config(summary_sentences=3)
    d = distill_note(note, sentences, preds, config)
    body = render_distillation(d, note, config, "m").body
    # The user's tags are shown, escaped: the generated note carries none of them.
    assert parse_text("Distilled/Queue.md", body).tags == ()
    assert "\\#project/sync" in body and "\\#todo" in body
    assert "#project/sync" not in body.replace("\\#", "")
    # Inline code is code again, not a tag.
    assert "The `#fff` colour" in body and "\\#fff" not in body
    summary = next(x for x in body.splitlines() if x.startswith("> ") and "!summary" not in x)
    assert "launch. Backups" in summary and "\\#infra" not in summary
    for r in render_atomic(d, note, config, "m"):
        assert parse_text(r.rel_path, r.body).tags == ()


def test_inline_code_is_copied_as_code_so_it_never_becomes_a_link_embed_or_tag() -> None:
    from vaultkd.distill.segment import sentences_of
    from vaultkd.vault.parse import parse_text

    text = (
        "# Bases\n\nMost links live in properties such as `categories: [\"[[Books]]\"]` and "
        "embeds like `![[X.base]]` in the template. The ``a ` b`` form keeps a backtick.\n"
        "Retries pile up under the key `queue#retry` on the jobs table.\n\n"
        "- [ ] Fix the `#fff` colour of [[Dashboard]] #todo\n"
    )
    note = parse_text("Bases.md", text)
    sentences = sentences_of(note)
    first = sentences[0]
    assert [first.text[a:b] for a, b in first.code] == ['categories: ["[[Books]]"]', "![[X.base]]"]
    preds = FakePredictor().predict([s.text for s in sentences])
    config = Config(summary_sentences=3)
    d = distill_note(note, sentences, preds, config)
    files = [render_distillation(d, note, config, "m"), *render_atomic(d, note, config, "m")]
    for r in files:
        parsed = parse_text(r.rel_path, r.body)
        # No link, embed or tag of the generated note comes from inside the source's code.
        assert not {x.target for x in parsed.links} & {"Books", "X.base"}, r.body
        assert "queue#retry" not in parsed.tags and "fff" not in parsed.tags
    body = files[0].body
    assert '`categories: ["[[Books]]"]`' in body and "`![[X.base]]`" in body
    assert "``a ` b``" in body
    # A task keeps the user's Markdown: its code as written, its link live, its tag escaped.
    assert "Fix the `#fff` colour of [[Dashboard]] \\#todo" in body
