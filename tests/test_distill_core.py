"""distill_note: layers, summary, roles, tasks, too-short notes, determinism."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from distill_helpers import make_note, make_sentences
from fake_predictor import FakePredictor

from vaultkd.config import Config
from vaultkd.distill.core import distill_note, layer_counts, mmr_select
from vaultkd.distill.render import render_distillation, render_inline
from vaultkd.distill.types import LAYER_BOLD, LAYER_HIGHLIGHT, LAYER_NONE, LAYER_SUMMARY

RETRO = [
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


def distill(parts=RETRO, config: Config | None = None, **kw):  # type: ignore[no-untyped-def]
    note = make_note("Meetings/Retro.md", parts)
    sentences = make_sentences(note)
    preds = FakePredictor().predict([s.text for s in sentences])
    return note, sentences, preds, distill_note(note, sentences, preds, config or Config(), **kw)


def test_layer_counts_follow_the_fractions() -> None:
    cfg = Config(bold_fraction=0.33, highlight_fraction=0.1)
    assert layer_counts(0, cfg) == (0, 0)
    assert layer_counts(1, cfg) == (1, 1)
    assert layer_counts(30, cfg) == (10, 3)
    assert layer_counts(100, cfg) == (33, 10)


def test_layers_are_nested_by_salience() -> None:
    _, sentences, preds, d = distill()
    prose = [i for i, s in enumerate(sentences) if s.kind != "task"]
    assert len(prose) < len(sentences)  # the note has a task, which no layer marks
    layers = [s.layer for s in d.sentences]
    assert all(layers[i] == LAYER_NONE for i, s in enumerate(sentences) if s.kind == "task")
    n_bold, n_high = layer_counts(len(prose), Config())
    marked = [i for i, layer in enumerate(layers) if layer >= LAYER_BOLD]
    # Summary sentences may come from outside the bold layer, everything else is the top bold.
    top = sorted(prose, key=lambda i: (-float(preds.salience[i]), i))
    assert set(top[:n_bold]) <= set(marked)
    highlighted = [i for i, layer in enumerate(layers) if layer == LAYER_HIGHLIGHT]
    assert all(preds.salience[i] >= preds.salience[top[n_bold - 1]] for i in highlighted)
    assert set(top[:n_high]) <= {i for i, layer in enumerate(layers) if layer >= LAYER_HIGHLIGHT}
    assert all(
        layer in (LAYER_NONE, LAYER_BOLD, LAYER_HIGHLIGHT, LAYER_SUMMARY) for layer in layers
    )


def test_summary_is_in_note_order_without_tasks_or_context() -> None:
    _, sentences, _, d = distill()
    assert 1 <= len(d.summary) <= Config().summary_sentences
    assert list(d.summary) == sorted(d.summary)
    for i in d.summary:
        assert d.sentences[i].layer == LAYER_SUMMARY
        assert sentences[i].kind != "task"
        assert d.sentences[i].role != "context"


def test_a_note_of_tasks_alone_has_no_summary_and_says_so() -> None:
    parts = [("heading", "Chores")] + [
        ("task", t)
        for t in (
            "Take out the trash 📅 2024-03-04",
            "Feed the cat every morning before work",
            "Renew the passport before the summer trip",
            "Call the plumber about the leaking tap",
        )
    ]
    note, sentences, _, d = distill(parts, Config(min_sentences=3))
    assert not d.too_short and len(sentences) == 4
    assert d.summary == ()
    assert all(s.layer == LAYER_NONE for s in d.sentences)
    assert [a.text for a in d.actions] == [t.text for t in note.tasks]
    body = render_distillation(d, note, Config(), "test").body
    assert "> Tasks only: 4 open, 0 done; see Actions." in body
    assert "- [ ]" not in body.split("## Actions")[0]  # no task line strung into the summary
    assert render_inline(note, d) == note.text  # nothing to mark, no summary region


def test_mmr_avoids_repeating_the_same_sentence() -> None:
    emb = np.eye(4, dtype=np.float32)
    emb[1] = emb[0]  # sentence 1 repeats sentence 0
    salience = np.array([0.9, 0.89, 0.5, 0.1], dtype=np.float32)
    assert mmr_select(salience, emb, 2) == [0, 2]
    assert mmr_select(salience, emb, 2, lam=1.0) == [0, 1]


def test_roles_become_sections() -> None:
    _, _, _, d = distill()
    texts = lambda items: [it.text for it in items]  # noqa: E731
    assert texts(d.questions) == ["Unclear who owns staging after Sam leaves."]
    assert texts(d.decisions) == ["We decided to automate the smoke suite."]
    # Key claims: the claims of the bold layer, topped up by salience to three.
    claims = [i for i, s in enumerate(d.sentences) if s.role == "claim"]
    bold = [i for i in claims if d.sentences[i].layer >= LAYER_BOLD]
    rest = sorted((i for i in claims if i not in bold), key=lambda i: -d.sentences[i].salience)
    expected = sorted(bold + rest[: max(0, 3 - len(bold))])
    assert [it.sentence_index for it in d.claims] == expected
    assert all(d.sentences[it.sentence_index].role == "claim" for it in d.claims)
    assert "We met in the small room after lunch." not in texts(d.claims)


def test_existing_tasks_are_actions_verbatim_and_new_actions_are_added() -> None:
    _, _, _, d = distill()
    existing = [a for a in d.actions if a.existing_task]
    assert [a.text for a in existing] == ["Priya to move the smoke tests into CI"]
    new = [a for a in d.actions if not a.existing_task]
    assert [a.text for a in new] == ["Email Priya about the CI budget."]


def test_thresholds_filter_low_confidence_roles() -> None:
    strict = dict.fromkeys(("claim", "question", "decision", "action"), 0.95)
    _, _, _, d = distill(thresholds=strict)
    assert d.claims == d.questions == d.decisions == ()
    # Tasks are actions whatever the model's confidence.
    assert [a.text for a in d.actions] == ["Priya to move the smoke tests into CI"]


def test_too_short_note_invents_nothing() -> None:
    _, _, _, d = distill([("paragraph", "Just one line here.")])
    assert d.too_short
    assert "min_sentences=3" in d.reason
    assert d.summary == d.claims == d.actions == d.atomic == ()
    assert all(s.layer == LAYER_NONE for s in d.sentences)


def test_prediction_count_mismatch_is_an_error() -> None:
    note = make_note("a.md", RETRO)
    sentences = make_sentences(note)
    preds = FakePredictor().predict([s.text for s in sentences[:-1]])
    with pytest.raises(ValueError, match="a.md"):
        distill_note(note, sentences, preds, Config(), [])


def test_deterministic() -> None:
    assert distill()[3] == distill()[3]


def test_block_refs_propose_ids_only_for_cited_blocks_without_one() -> None:
    note, sentences, preds, _ = distill()
    blocks = list(note.blocks)
    blocks[1] = replace(blocks[1], block_id="mine")
    note = replace(note, blocks=tuple(blocks))
    sentences = [replace(s, block_id="mine") if s.block_index == 1 else s for s in sentences]
    d = distill_note(note, sentences, preds, Config(block_refs=True), [])
    ids = dict(d.new_block_ids)
    assert 1 not in ids
    assert ids and all(v.startswith("vkd-") for v in ids.values())
    assert len(set(ids.values())) == len(ids)
    assert all(note.blocks[b].kind in ("paragraph", "list_item", "task") for b in ids)
    for idea in d.atomic:
        assert idea.anchor is not None and idea.anchor.startswith("^")
    again = distill_note(note, sentences, preds, Config(block_refs=True), [])
    assert again.new_block_ids == d.new_block_ids


def test_lead_ins_and_fragments_are_not_listed_or_summarised() -> None:
    parts = [
        ("heading", "Setup"),
        ("paragraph", "We decided to keep the nightly build on the old runner."),
        ("paragraph", "To try this out, do the following:"),
        ("list_item", "default: false"),
        ("list_item", "Sounds good."),
        ("paragraph", "Email Priya about the runner budget before Friday."),
        ("task", "Ship"),  # an existing task is listed whatever its length
    ]
    note, sentences, _, d = distill(parts, Config(min_sentences=3, summary_sentences=5))
    listed = [it.text for group in (d.claims, d.questions, d.decisions, d.actions)
              for it in group]
    assert "Ship" in listed
    assert "We decided to keep the nightly build on the old runner." in listed
    for text in ("To try this out, do the following:", "default: false", "Sounds good."):
        assert any(s.text == text for s in sentences), text  # the model read it
        assert text not in listed
        assert text not in [sentences[i].text for i in d.summary]
    assert d.summary  # the other sentences still make one


def test_a_note_of_fragments_is_too_short_to_distil() -> None:
    parts = [
        ("heading", "seo.title"),
        ("list_item", "type: string"),
        ("list_item", "default: Dendron"),
        ("list_item", "required: false"),
        ("paragraph", "The title of the published site."),
    ]
    _, sentences, _, d = distill(parts, Config(min_sentences=3))
    assert len(sentences) == 4  # the model reads all of them
    assert d.too_short and d.summary == () and d.claims == ()
    assert d.reason.startswith("1 sentence(s) of prose")


def test_a_repeated_sentence_is_listed_summarised_and_supported_once() -> None:
    # Pasted twice (and once more in other case and spacing): a key point, a question and a
    # decision; the copies stay in the note, the lists and the summary say each once.
    key = "The key problem is that every release waits on the manual QA pass."
    parts = [
        ("paragraph", f"{key} Manual QA now takes two days per release. {key}"),
        ("paragraph", "Who owns staging after Sam leaves? We decided to automate the smoke "
                      "suite. Who owns staging after Sam leaves?"),
        ("paragraph", f"{key.upper().replace(' ', '  ')} We decided to automate the smoke suite."),
        ("paragraph", "Caching makes builds fast. Flaky end-to-end tests cause most re-runs."),
    ]
    config = Config(summary_sentences=3)
    _, sentences, _, d = distill(parts, config)
    texts = [s.text for s in sentences]
    assert texts.count(key) == 2  # the note's sentences are all read
    for group in (d.claims, d.questions, d.decisions):
        listed = [" ".join(it.text.casefold().split()) for it in group]
        assert len(listed) == len(set(listed)), listed
    assert [it.text for it in d.questions] == ["Who owns staging after Sam leaves?"]
    assert [it.text for it in d.decisions] == ["We decided to automate the smoke suite."]
    assert sum(it.text == key for it in d.claims) == 1
    summary = [" ".join(texts[i].casefold().split()) for i in d.summary]
    assert len(summary) == 3 and len(set(summary)) == 3, summary
    for idea in d.atomic:
        said = [" ".join(texts[j].casefold().split()) for j in (idea.claim, *idea.support)]
        assert len(said) == len(set(said)), said


def test_distinct_tasks_with_the_same_words_are_all_listed() -> None:
    # Existing tasks are the user's: two "- [ ] Call Bob" in two sections are two tasks.
    parts = [
        ("heading", "Monday"),
        ("task", "Call Bob about the contract"),
        ("paragraph", "The contract renewal is the main risk this quarter. Legal is slow."),
        ("heading", "Friday"),
        ("task", "Call Bob about the contract"),
        ("paragraph", "The budget review moved to next week. Caching makes builds fast."),
    ]
    _, _, _, d = distill(parts)
    assert [it.text for it in d.actions if it.existing_task] == ["Call Bob about the contract"] * 2
