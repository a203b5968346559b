"""The rule baseline follows LABELS.md's cues; these are LABELS.md's own fresh examples."""

from __future__ import annotations

import pytest

from vaultkd.model.rules import rule_role, rule_salience
from vaultkd.roles import ROLES


@pytest.mark.parametrize(
    ("text", "role"),
    [
        ("Do we need a second region before the EU launch?", "question"),
        ("Still unclear whether the grant covers travel.", "question"),
        ("Not sure the survey sample represents night-shift staff.", "question"),
        ("We'll ship the beta without dark mode.", "decision"),
        ("Sticking with the monthly plan for now.", "decision"),
        ("From now on, every design doc gets a rollback section.", "decision"),
        ("The team agreed to move to weekly releases.", "decision"),
        ("Book the venue for the March workshop.", "action"),
        ("Dana to send the draft contract to legal.", "action"),
        ("Omar will benchmark the new index by Tuesday.", "action"),
        ("- [ ] renew the domain", "action"),
        ("TODO: check the invoice numbers", "action"),
        ("Six of us met in the library annex.", "context"),
        ("Found this essay through a newsletter.", "context"),
        ("Cold starts dominate our p99 latency, not the database.", "claim"),
        ("Spaced repetition beats rereading for long-term recall.", "claim"),
    ],
)
def test_rule_role_on_labels_examples(text: str, role: str) -> None:
    assert rule_role(text) == role


def test_rule_role_always_returns_a_role() -> None:
    for text in ["", "   ", "?", "- ", "ok", "# heading"]:
        assert rule_role(text) in ROLES


def test_rule_salience_range_and_lead_bias() -> None:
    sents = [
        "We present a method that halves training time on three benchmarks.",
        "It builds on earlier work.",
        "Yes.",
        "The appendix lists the hyperparameters used in every run of the study.",
    ]
    scores = rule_salience(sents)
    assert len(scores) == len(sents)
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert scores[0] == max(scores)
    assert scores[2] == min(scores)


def test_rule_salience_edge_cases() -> None:
    assert rule_salience([]) == []
    assert rule_salience(["Only one sentence here."]) == [0.5]
