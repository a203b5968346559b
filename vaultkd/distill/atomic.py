"""Atomic ideas: one key claim each, with the sentences that support it.

Support is grouped by the note's structure first (same block, then same section) and the
student's embeddings second (a sentence must be about the same thing as the claim), so an idea
never pulls sentences from an unrelated part of the note.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np

from vaultkd.distill.titles import TitleKeys, make_title
from vaultkd.distill.types import AtomicIdea, Item, ScoredSentence, text_key

MAX_IDEAS = 5  # "a handful" per note: more would fragment it
MAX_SUPPORT = 4
# Cosine above which two claims state the same idea (one atomic note, not two).
SAME_IDEA = 0.85
# Cosine a sentence needs to support a claim from the same section (same block needs less).
SUPPORT_SECTION = 0.35
SUPPORT_BLOCK = 0.1
SUPPORT_ROLES = frozenset({"claim", "context"})


def _supports(
    j: int, claim: int, scored: Sequence[ScoredSentence], embeddings: np.ndarray
) -> float | None:
    """How well sentence j supports the claim (None: not at all); structure outranks similarity."""
    s, c = scored[j].sentence, scored[claim].sentence
    sim = float(embeddings[j] @ embeddings[claim])
    if s.block_index == c.block_index and sim >= SUPPORT_BLOCK:
        return 1.0 + sim
    if s.section == c.section and sim >= SUPPORT_SECTION:
        return sim
    return None


def atomic_ideas(
    scored: Sequence[ScoredSentence],
    claims: Sequence[Item],
    embeddings: np.ndarray,
    taken_titles: Collection[str] = (),
    related: Sequence[str] = (),
    max_ideas: int = MAX_IDEAS,
) -> tuple[AtomicIdea, ...]:
    """Up to `max_ideas` ideas from the key claims, most salient first, titles unique.

    A key claim in the same paragraph (or section, when close in meaning) as a more salient
    one supports it instead of becoming an idea of its own; other sentences of the note fill
    the remaining support.
    """
    order = sorted((it.sentence_index for it in claims), key=lambda i: (-scored[i].salience, i))
    chosen: list[int] = []
    support: dict[int, list[tuple[float, int]]] = {}
    owner: set[int] = set()
    for i in order:
        fits = [(f, c) for c in chosen if (f := _supports(i, c, scored, embeddings)) is not None]
        fits = [(f, c) for f, c in fits if len(support[c]) < MAX_SUPPORT]
        if fits:
            f, c = max(fits, key=lambda p: (p[0], -p[1]))
            support[c].append((f, i))
            owner.add(i)
            continue
        if len(chosen) >= max_ideas:
            continue
        if any(float(embeddings[i] @ embeddings[c]) >= SAME_IDEA for c in chosen):
            continue
        chosen.append(i)
        support[i] = []
        owner.add(i)
    for c in chosen:
        # A repeat of the claim, or of a sentence already supporting it, adds nothing.
        said = {text_key(scored[j].sentence.text) for j in (c, *(j for _, j in support[c]))}
        extra: list[tuple[float, int]] = []
        for j, s in enumerate(scored):
            if j in owner or s.role not in SUPPORT_ROLES or s.sentence.kind == "task":
                continue
            if text_key(s.sentence.text) in said:
                continue
            fit = _supports(j, c, scored, embeddings)
            if fit is not None:
                extra.append((fit, j))
        extra.sort(key=lambda p: (-p[0], p[1]))
        for fit, j in extra:
            if len(support[c]) >= MAX_SUPPORT:
                break
            key = text_key(scored[j].sentence.text)
            if key not in said:
                said.add(key)
                support[c].append((fit, j))
                owner.add(j)
    # A `TitleKeys` (e.g. the vault's, as a view) is used as it is and grows with our titles.
    taken = taken_titles if isinstance(taken_titles, TitleKeys) else TitleKeys.of(taken_titles)
    ideas: list[AtomicIdea] = []
    for i in chosen:
        title = make_title(scored[i].sentence.text, taken)
        taken.add_title(title)
        members = tuple(sorted(j for _, j in support[i]))
        ideas.append(AtomicIdea(title=title, claim=i, support=members, related=tuple(related)))
    return tuple(ideas)
