"""Atomic ideas: one key claim each, support from the same paragraph/section, at most a handful."""

from __future__ import annotations

import numpy as np

from vaultkd.distill.atomic import MAX_SUPPORT, atomic_ideas
from vaultkd.distill.types import Item, ScoredSentence, Sentence


def _scored(specs: list[tuple[int, str, str, float]]) -> list[ScoredSentence]:
    """specs: (block_index, section, role, salience)."""
    out = []
    for i, (block, section, role, sal) in enumerate(specs):
        s = Sentence(f"Sentence number {i} says something.", i, i + 1, 1, block, "prose", section)
        out.append(ScoredSentence(s, role, (0.2,) * 5, sal))
    return out


def test_claims_of_one_paragraph_form_one_idea_with_support() -> None:
    scored = _scored(
        [
            (0, "A", "claim", 0.9),
            (0, "A", "claim", 0.5),
            (0, "A", "context", 0.1),
            (1, "B", "claim", 0.8),
            (2, "B", "question", 0.7),
        ]
    )
    emb = np.eye(5, dtype=np.float32)
    emb[1] = emb[2] = (emb[0] + emb[1]) / np.sqrt(2)  # same-paragraph sentences are related
    claims = [Item(s.sentence.text, i, 0.8) for i, s in enumerate(scored) if s.role == "claim"]
    ideas = atomic_ideas(scored, claims, emb)
    assert [a.claim for a in ideas] == [0, 3]
    assert ideas[0].support == (1, 2)
    assert ideas[1].support == ()  # the question is not support, and block 2 is unrelated
    assert len({a.title for a in ideas}) == 2


def test_near_duplicate_claims_are_one_idea_and_count_is_capped() -> None:
    n = 12
    scored = _scored([(i, f"S{i}", "claim", 1.0 - i / 100) for i in range(n)])
    emb = np.eye(n, dtype=np.float32)
    emb[1] = emb[0]  # claim 1 restates claim 0 (different section, so not support)
    claims = [Item(s.sentence.text, i, 0.8) for i, s in enumerate(scored)]
    ideas = atomic_ideas(scored, claims, emb, max_ideas=5)
    assert [a.claim for a in ideas] == [0, 2, 3, 4, 5]
    assert all(len(a.support) <= MAX_SUPPORT for a in ideas)


def test_titles_avoid_taken_names() -> None:
    scored = _scored([(0, "A", "claim", 0.9)])
    claims = [Item(scored[0].sentence.text, 0, 0.9)]
    emb = np.eye(1, dtype=np.float32)
    taken = ["sentence number 0 says something"]
    (idea,) = atomic_ideas(scored, claims, emb, taken)
    assert idea.title == "Sentence number 0 says something 2"
