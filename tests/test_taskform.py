"""The task-form check: a statement the model reads as an action is not made a task."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from distill_helpers import make_note, make_sentences
from fake_predictor import FakePredictor

from vaultkd.config import Config
from vaultkd.distill.core import ROLE_THRESHOLDS, distill_note
from vaultkd.distill.taskform import (
    is_change,
    is_instruction,
    is_option,
    is_question_form,
    is_release_note,
    is_statement,
    sentence_role,
)
from vaultkd.distill.types import Distillation
from vaultkd.model.predictor import Predictions
from vaultkd.roles import ROLE_INDEX, ROLES

SEED = Path(__file__).resolve().parents[1] / "data" / "seed"

# Read as actions by the shipped student (p >= 0.85) in a clipping of life advice, the sample
# vault and the Tasks plugin's docs; none is a task anyone owes.
STATEMENTS = [
    "Different is better.",
    "Being able to listen well is a superpower.",
    "You just do it.",
    "You are what you do.",
    "Understanding this is the beginning of wisdom.",
    "To make mistakes is human.",
    "Experience is overrated.",
    "The more you are interested in others, the more interesting they find you.",
    "If you desperately need a job, you are just another problem for a boss.",
    "Perhaps the most useful thing is a short list.",
    "It made sense then and does not now.",
    "I'm not sure a quarter is the right unit.",
    "You can reverse this with `group by urgency reverse`.",
    "Latency is due to cold starts.",
    "Then, it does not help.",
    # "before" at the end of a clause looks back: no deadline.
    "This sounds obvious, but it can be hard to determine, especially if it's something you've "
    "never bought before.",
    "The build breaks before, during and after the merge.",
    # A general requirement is nobody's task.
    "A card should ask one thing, and a complex idea should be broken into many cards.",
    "You don’t need to agree with the idea for it to become an evergreen note.",
    "If you sync this vault to other devices, you must enable the setting on each device.",
    # Rules of conduct say how to be, for good; they owe nothing either.
    "Don’t be the best.",
    "Never accept the first offer.",
    "Be the only.",
    "To be interesting, be interested.",
    "When you sketch, don't inspect.",
    "To divide the tasks up with headings, you can add `group by` lines.",
    # A modal in the perfect is about the past: a regret or a claim.
    "I should have started the hiring plan in January.",
    "We could have shipped in May without the second pilot.",
    "She must have seen the email.",
    # A belief or a doubt about what will happen.
    "I don't think more runbooks alone will fix this.",
    "I'm not sure the team will keep doing this without someone checking.",
    "Not sure our PM will welcome yet another meeting.",
]
# Tasks by form: imperatives, an owner first, words of obligation, intention or time.
TASKS = [
    "Dana sends the draft before the launch.",  # "before" with something after it: a deadline
    "Book the venue for the March workshop.",
    "Dana to send the draft contract to legal.",
    "Ana: send the partner blogs a thank-you note",
    "Tomorrow: prep the slides for Thursday.",
    "Omar will benchmark the new index by Tuesday.",
    "The lead researcher will review the prompts when she's back on Monday.",
    "I need to send Ravi the rate limits table.",
    "We should email the city's data officer about the tree inventory.",
    "We'll run the same interviews outside the station.",
    "We also need a second person on the infra side before Sam leaves.",
    "The report is due Friday.",
    "Even better, find smart people who will disagree with you.",
    "Design spike on conflict resolution — Jonas, two weeks.",
    "Can someone find us three accountants to interview before April?",
    "TODO the release notes",
    "Don't forget to send the invoice.",
    "Don’t forget to email Dana about the invoice.",
    "Dee needs to confirm the lecture hall booking in writing.",
    "Someone from the data team needs to list which tables can move to cold storage.",
    "Be sure to replace the file name.",
    "Be at the station by 8.",
    # Asked of someone by name, or with a cue, "you" stays a task.
    "Priyanka, send me your laptop order.",
    "Send me your CV, Anna.",
    "You should send me your laptop order by Friday, Priyanka, so IT can ship it in time.",
    "Fix: the build",
    "To Do: book the hall",
    "We should have a retro after the beta.",
    "I should have the draft ready by Friday.",
]
# Written to whoever reads them (docs, how-tos, advice; the Tasks, Dendron and kepano vaults):
# the student read each as an action with p >= 0.9.
INSTRUCTIONS = [
    "If you want it in all your searches, add it to your Global Query.",
    "Attach the zip file to the bug report, by dragging the file from your file browser.",
    "Create a snapshot of your vault",
    "Upgrade the ones you use a lot.",
    "If you mess up, fess up.",
    "If you look for it, and you finally find it, when you're done, put it back.",
    "Click on the Template button and select Capture.",
    "Press Esc to close the dialog.",
    "Then, click the link in the preview view.",
    "To create a tag, enter a hashtag symbol (#) in the editor, followed by a keyword.",
    "To fix, run Dendron: Reload Index to manually sync.",
    "feat(views): create note button in tree view",
    "enhance: add fuzzy threshold configuration (#1811) @nickolay",
    "- fix(views): removes semicolon in preview (#3383) @sam",
]


def seed_texts(role: str) -> list[str]:
    """Every seed sentence (train, dev and test) labelled `role`."""
    return [
        row["text"]
        for split in ("train", "dev", "test")
        for row in map(json.loads, (SEED / f"{split}.jsonl").open(encoding="utf-8"))
        if row["role"] == role
    ]


@pytest.mark.parametrize("text", STATEMENTS)
def test_statements_owe_nothing(text: str) -> None:
    assert is_statement(text)


@pytest.mark.parametrize("text", TASKS)
def test_tasks_keep_the_models_reading(text: str) -> None:
    assert not is_statement(text)
    assert not is_instruction(text)


@pytest.mark.parametrize("text", INSTRUCTIONS)
def test_instructions_to_the_reader_owe_nothing(text: str) -> None:
    assert is_instruction(text)
    assert sentence_role(text, probs(action=0.95, claim=0.05), ROLE_THRESHOLDS) == "context"


@pytest.mark.parametrize("text", ["To the bank, then home.", "A thank-you card.", "Book it."])
def test_a_place_or_a_thank_you_is_no_instruction(text: str) -> None:
    assert not is_instruction(text)


def test_no_labelled_action_of_the_seed_set_is_called_a_statement() -> None:
    # The check may only drop what is not a task: every action of the seed set (238 in train
    # and dev, which the cues were written against, 40 in test) keeps its reading.
    actions = seed_texts("action")
    assert len(actions) > 250
    assert [t for t in actions if is_statement(t)] == []
    assert [t for t in actions if is_instruction(t)] == []


def probs(**p: float) -> np.ndarray:
    out = np.zeros(len(ROLES), dtype=np.float32)
    for role, v in p.items():
        out[ROLE_INDEX[role]] = v
    return out


# (sentence, the model's probabilities, the role it gets). A role its form rules out passes
# to the next role, which needs its listing threshold (claim 0.4, question 0.2); else context.
FALLBACKS = [
    ("Experience is overrated.", {"action": 0.55, "claim": 0.42, "context": 0.03}, "claim"),
    ("Different is better.", {"action": 0.93, "claim": 0.05, "context": 0.02}, "context"),
    (
        "You no longer know whether it works.",
        {"action": 0.6, "question": 0.3, "claim": 0.1},
        "question",
    ),
    ("server side features", {"question": 0.6, "claim": 0.3, "context": 0.1}, "context"),
    ("Cost per use matters most", {"question": 0.5, "claim": 0.45, "context": 0.05}, "claim"),
    # The next role is checked too: a statement is not made a task on the way.
    ("word order matters", {"question": 0.5, "action": 0.45, "claim": 0.05}, "context"),
    ("Cost per use, or not?", {"question": 0.5, "claim": 0.45, "context": 0.05}, "question"),
]


@pytest.mark.parametrize(("text", "p", "role"), FALLBACKS)
def test_a_role_the_form_rules_out_passes_on_only_when_the_model_is_sure(
    text: str, p: dict[str, float], role: str
) -> None:
    assert sentence_role(text, probs(**p), ROLE_THRESHOLDS) == role


def test_only_actions_are_checked() -> None:
    assert sentence_role("Book the venue.", probs(action=0.9, claim=0.1), ROLE_THRESHOLDS) == (
        "action"
    )
    assert sentence_role("You just do it.", probs(claim=0.6, action=0.4), ROLE_THRESHOLDS) == (
        "claim"
    )
    # A tie is broken as argmax breaks it: the earlier role.
    tie = probs(claim=0.5, action=0.5)
    assert sentence_role("Book it.", tie, ROLE_THRESHOLDS) == "claim"


class _OneReading(FakePredictor):
    """Reads every sentence with the same role probabilities (the fake's salience)."""

    def __init__(self, **p: float) -> None:
        super().__init__()
        self.p = probs(**p)

    def predict(self, sentences):  # type: ignore[no-untyped-def]
        base = super().predict(sentences)
        return Predictions(np.tile(self.p, (len(sentences), 1)), base.salience, base.embeddings)


def _distilled(path: str, parts: list[tuple[str, str]], predictor: FakePredictor) -> Distillation:
    note = make_note(path, parts)
    sentences = make_sentences(note)
    return distill_note(note, sentences, predictor.predict([s.text for s in sentences]), Config())


# Every sentence read as an action, as the student reads general advice.
_ACTIONS = dict(action=0.93, claim=0.05, context=0.02)


def test_a_distillation_lists_no_statement_as_a_new_task() -> None:
    d = _distilled(
        "Clippings/Advice.md",
        [
            ("paragraph", "Different is better. Being able to listen well is a superpower."),
            ("paragraph", "You are what you do. Book the venue for the March workshop."),
            ("task", "renew the domain"),
        ],
        _OneReading(**_ACTIONS),
    )
    assert [(a.text, a.existing_task) for a in d.actions] == [
        ("Book the venue for the March workshop.", False),
        ("renew the domain", True),
    ]
    roles = {s.sentence.text: s.role for s in d.sentences}
    assert roles["Different is better."] == "context"
    assert roles["You are what you do."] == "context"
    assert roles["- [ ] renew the domain"] == "action"


@pytest.mark.parametrize(
    "text",
    [
        "Do we need a second region before the EU launch?",
        "Still unclear whether the grant covers travel.",
        "Not sure the survey sample represents night-shift staff.",
        "Possibly the SSD is fine and only the motherboard died.",
        "Midterm format still not announced.",
        "How the staging certificates are renewed.",
        "Open: whether contractors can join the rotation.",
        "The cutover date depends on finance’s quarter close.",
    ],
)
def test_questions_have_a_question_mark_or_a_word_of_doubt(text: str) -> None:
    assert is_question_form(text)


@pytest.mark.parametrize(
    "text", ["server side features", "Cost per use", "1 tsp vanilla extract", "word order matters"]
)
def test_list_items_are_no_questions(text: str) -> None:
    assert not is_question_form(text)


def test_every_question_of_the_seed_set_has_the_form() -> None:
    questions = seed_texts("question")
    assert len(questions) > 250
    assert [t for t in questions if not is_question_form(t)] == []


def test_a_how_to_note_lists_its_steps_as_no_new_tasks() -> None:
    d = _distilled(
        "Reference/Router.md",
        [
            ("paragraph", "To reset the router, hold the button for ten seconds."),
            ("list_item", "Click Advanced and then Firmware."),
            ("list_item", "If you changed the password, write it on your label."),
            ("paragraph", "Ask Omar for the admin password before Friday."),
        ],
        _OneReading(**_ACTIONS),
    )
    assert [a.text for a in d.actions] == ["Ask Omar for the admin password before Friday."]


@pytest.mark.parametrize(
    ("text", "section", "option"),
    [
        ("Per-seat pricing with one tier and offline sync as a paid add-on.", "Options", True),
        ("Keep per-utility contracts.", "Alternatives considered", True),
        ("`in` is the default for date range searches.", "Date range options", True),
        ("We decided against option 3.", "Options", False),
        ("Going with option 1, two per-seat tiers.", "Outcome", False),
        ("Per-seat pricing with two tiers.", None, False),
    ],
)
def test_an_option_under_an_options_heading_is_no_decision(
    text: str, section: str | None, option: bool
) -> None:
    assert is_option(text, section) is option
    p = probs(decision=0.9, claim=0.1)
    assert sentence_role(text, p, ROLE_THRESHOLDS, section) == ("context" if option else "decision")


def test_a_meeting_lists_its_outcome_not_its_options_as_decisions() -> None:
    d = _distilled(
        "Meetings/Pricing.md",
        [
            ("heading", "Options"),
            ("list_item", "Per-seat pricing with two tiers, offline sync in the higher tier."),
            ("list_item", "Per-seat pricing with one tier and offline sync as a paid add-on."),
            ("heading", "Outcome"),
            ("paragraph", "Going with option 1, two per-seat tiers, for small utilities only."),
        ],
        _OneReading(decision=0.9, claim=0.1),
    )
    assert [x.text for x in d.decisions] == [
        "Going with option 1, two per-seat tiers, for small utilities only."
    ]


@pytest.mark.parametrize(
    ("text", "section", "change"),
    [
        ("Add support for cancelled dates.", "5.x releases", True),
        ("Add page Request a Feature.", "Changelog", True),
        ("Fix the sync icon on tablets.", "Release notes", True),
        ("Add support for cancelled dates.", "Ideas for the plugin", False),
        ("Dana to write the notes for 2.1.", "Releases", False),  # an owner keeps the task
        ("Write the release notes by Friday.", "Release plan", False),
    ],
)
def test_a_change_recorded_under_a_changelog_heading_is_no_task(
    text: str, section: str, change: bool
) -> None:
    assert is_change(text, section) is change
    p = probs(action=0.95, claim=0.05)
    assert sentence_role(text, p, ROLE_THRESHOLDS, section) == ("context" if change else "action")


@pytest.mark.parametrize(
    ("text", "section", "release"),
    [
        ("fix(workspace): consistent tree item sort order", "Everything Else", True),
        ("feat(views): create note button in tree view (#2931) @kaan", None, True),
        ("Vaults can now be configured with their own URL.", "Release notes", True),
        ("`Show Preview` is now deprecated.", "What's new", True),
        ("We decided to drop Python 3.8 in 2.0.", "Releases", False),  # a choice made
        ("Going with weekly releases from now on.", "Changelog", False),
        ("Vaults can now be configured with their own URL.", "Outcome", False),
        ("Fix: we ship the build without the beta flag.", None, False),  # no scope, no PR
    ],
)
def test_what_a_release_did_is_no_decision(text: str, section: str | None, release: bool) -> None:
    assert is_release_note(text, section) is release
    p = probs(decision=0.9, claim=0.1)
    want = "context" if release else "decision"
    assert sentence_role(text, p, ROLE_THRESHOLDS, section) == want
