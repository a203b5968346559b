"""Atomic ideas: one key claim each, with the sentences that support it.

Support is grouped by the note's structure first (same block, then same section) and the
student's embeddings second (a sentence must be about the same thing as the claim), so an idea
never pulls sentences from an unrelated part of the note.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from vaultkd.distill.titles import make_title
from vaultkd.distill.types import AtomicIdea, Item, ScoredSentence

MAX_IDEAS = 5  # "a handful" per note: more would fragment it
MAX_SUPPORT = 4
# Cosine above which two claims state the same idea (one atomic note, not two).
SAME_IDEA = 0.85
# Cosine a sentence needs to support a claim from the same section (same block needs less).
SUPPORT_SECTION = 0.35
SUPPORT_BLOCK = 0.1
SUPPORT_ROLES = frozenset({"claim", "context"})


def _support_for(
    claim: int,
    scored: Sequence[ScoredSentence],
    embeddings: np.ndarray,
    owner: dict[int, int],
) -> list[int]:
    c = scored[claim].sentence
    scored_support: list[tuple[float, int]] = []
    for j, s in enumerate(scored):
        if j == claim or j in owner or s.role not in SUPPORT_ROLES or s.sentence.kind == "task":
            continue
        sim = float(embeddings[j] @ embeddings[claim])
        same_block = s.sentence.block_index == c.block_index
        same_section = s.sentence.section == c.section
        if (same_block and sim >= SUPPORT_BLOCK) or (same_section and sim >= SUPPORT_SECTION):
            # Structure first: a sentence of the same paragraph outranks a merely similar one.
            scored_support.append((sim + (1.0 if same_block else 0.0), j))
    scored_support.sort(key=lambda p: (-p[0], p[1]))
    return sorted(j for _, j in scored_support[:MAX_SUPPORT])


def atomic_ideas(
    scored: Sequence[ScoredSentence],
    claims: Sequence[Item],
    embeddings: np.ndarray,
    taken_titles: Sequence[str] = (),
    related: Sequence[str] = (),
    max_ideas: int = MAX_IDEAS,
) -> tuple[AtomicIdea, ...]:
    """Up to `max_ideas` ideas from the key claims, most salient first, titles unique."""
    order = sorted((it.sentence_index for it in claims), key=lambda i: (-scored[i].salience, i))
    chosen: list[int] = []
    owner: dict[int, int] = {}  # sentence index -> the idea's claim it already belongs to
    for i in order:
        if len(chosen) >= max_ideas:
            break
        if i in owner or any(float(embeddings[i] @ embeddings[j]) >= SAME_IDEA for j in chosen):
            continue
        chosen.append(i)
        owner[i] = i
    taken = list(taken_titles)
    ideas: list[AtomicIdea] = []
    for i in chosen:
        support = _support_for(i, scored, embeddings, owner)
        for j in support:
            owner[j] = i
        title = make_title(scored[i].sentence.text, taken)
        taken.append(title)
        ideas.append(
            AtomicIdea(title=title, claim=i, support=tuple(support), related=tuple(related))
        )
    return tuple(ideas)
