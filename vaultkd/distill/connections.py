"""Connections: notes of the vault related to this one.

Two signals, combined into one score in [0, 1]:
- meaning: cosine of student note vectors (nearest neighbours over the vault);
- structure: Adamic–Adar on the undirected note graph (two notes that share rarely-linked
  neighbours are related), squashed to [0, 1) with aa / (1 + aa).
Existing links (either direction) are reported as `linked`; suggestions are the best other notes.
Never the note itself, never vaultkd's own generated notes, never unresolved targets.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import repeat
from typing import Any

import networkx as nx
import numpy as np

from vaultkd.distill.types import Connection

EMBEDDING_WEIGHT = 0.75  # meaning dominates; structure breaks ties and surfaces hidden hubs
MIN_SUGGESTION = 0.15  # below this a suggestion is noise; a strong graph-only one clears it
GENERATED = ("Distilled/", "Atomic/")
DIGITS = 4


def note_vector(embeddings: np.ndarray, salience: np.ndarray | None = None) -> np.ndarray:
    """One L2-normalised vector per note: the salience-weighted mean of its sentences."""
    if embeddings.shape[0] == 0:
        return np.zeros(embeddings.shape[1] if embeddings.ndim == 2 else 0, np.float32)
    if salience is None or float(np.sum(salience)) <= 0:
        weights = np.ones(embeddings.shape[0], np.float32)
    else:
        # A floor keeps low-salience sentences from vanishing entirely in short notes.
        weights = 0.1 + np.asarray(salience, np.float32)
    vec = (weights[:, None] * embeddings).sum(axis=0)
    norm = float(np.linalg.norm(vec))
    return (vec / norm).astype(np.float32) if norm > 0 else vec.astype(np.float32)


class VectorIndex:
    """Note vectors stacked once, so a vault-wide run does not re-stack them per note."""

    def __init__(self, vectors: Mapping[str, np.ndarray]) -> None:
        self.paths: list[str] = sorted(vectors)
        self.pos = {p: i for i, p in enumerate(self.paths)}
        dim = len(next(iter(vectors.values()))) if vectors else 0
        self.matrix = (
            np.stack([np.asarray(vectors[p], np.float32) for p in self.paths])
            if self.paths
            else np.zeros((0, dim), np.float32)
        )

    def cosines(self, vector: np.ndarray) -> np.ndarray:
        if self.matrix.shape[0] == 0:
            return np.zeros(0, np.float32)
        return self.matrix @ np.asarray(vector, np.float32)


def is_generated(path: str, prefixes: Sequence[str] = GENERATED) -> bool:
    return any(path.startswith(p) for p in prefixes)


def _graph_of(graph: Any) -> nx.Graph | nx.MultiDiGraph | None:
    if graph is None:
        return None
    return getattr(graph, "g", graph)


def _is_note(g: Any, node: str) -> bool:
    attrs = g.nodes[node]
    kind = attrs.get("kind")
    if kind is not None:
        return kind == "note"
    if attrs.get("unresolved"):
        return False
    return node.lower().endswith(".md")


Neighbours = dict[str, set[str]]  # memo of _note_neighbours for one unchanging graph


def _note_neighbours(
    g: Any, node: str, prefixes: Sequence[str], memo: Neighbours | None = None
) -> set[str]:
    if memo is not None:
        found = memo.get(node)
        if found is None:
            found = memo[node] = _note_neighbours(g, node, prefixes)
        return found
    if node not in g:
        return set()
    if g.is_directed():
        around: Iterable[str] = set(g.successors(node)) | set(g.predecessors(node))
    else:
        around = g.neighbors(node)
    return {n for n in around if n != node and _is_note(g, n) and not is_generated(n, prefixes)}


def adamic_adar(
    g: Any, node: str, prefixes: Sequence[str] = GENERATED, memo: Neighbours | None = None
) -> dict[str, float]:
    """Adamic–Adar index of `node` with every note two steps away on the undirected note graph.

    Same definition as `networkx.adamic_adar_index` on that graph, computed only around the
    node so a 10,000-note vault costs what the node's neighbourhood costs. `memo` shares
    neighbour sets between calls on the same unchanged graph (a vault-wide run).
    """
    scores: dict[str, float] = {}
    for u in _note_neighbours(g, node, prefixes, memo):
        around = _note_neighbours(g, u, prefixes, memo)
        if len(around) < 2:
            continue  # log(1) = 0: a neighbour that links only to us says nothing
        w = 1.0 / math.log(len(around))
        for v in around:
            if v != node:
                scores[v] = scores.get(v, 0.0) + w
    return scores


def ranking(scores: np.ndarray, top: int) -> Iterator[int]:
    """Row numbers of the notes scoring at least MIN_SUGGESTION, best first, ties in row
    order: the order `np.argsort(-scores, kind="stable")` gives them, without sorting every
    note of the vault for each one (a 10,000-note run did that 10,000 times). The best
    `top` (and all that tie the last of them) are sorted first; the rest only if the caller
    walks past them."""
    rows = np.flatnonzero(scores >= MIN_SUGGESTION)
    if len(rows) > 4 * top:
        values = scores[rows]
        cut = np.partition(values, len(values) - top)[len(values) - top]
        head = rows[values >= cut]
        yield from head[np.argsort(-scores[head], kind="stable")].tolist()
        rows = rows[values < cut]
    yield from rows[np.argsort(-scores[rows], kind="stable")].tolist()


def find_connections(
    path: str,
    vector: np.ndarray | None,
    vectors: Mapping[str, np.ndarray] | VectorIndex,
    graph: Any,
    k: int,
    *,
    generated: Sequence[str] = GENERATED,
    memo: Neighbours | None = None,
) -> list[Connection]:
    """Linked notes (all, best first) followed by up to k suggestions (best first).

    `graph` is a `VaultGraph` (its networkx graph at `.g`) or a networkx graph whose nodes are
    vault-relative paths; `vectors` maps note paths to `note_vector`s (or is a `VectorIndex`).
    """
    index = vectors if isinstance(vectors, VectorIndex) else VectorIndex(vectors)
    g = _graph_of(graph)
    sims = (
        index.cosines(vector) if vector is not None and index.paths else np.zeros(0, np.float32)
    )
    linked = set(_note_neighbours(g, path, generated, memo)) if g is not None else set()
    aa = adamic_adar(g, path, generated, memo) if g is not None else {}

    def cos_of(p: str) -> float:
        i = index.pos.get(p)
        return float(sims[i]) if i is not None and i < len(sims) else 0.0

    def combined(p: str) -> tuple[float, str]:
        c = max(0.0, cos_of(p))
        a = aa.get(p, 0.0)
        a = a / (1.0 + a)
        via = "+".join(name for name, v in (("embedding", c), ("graph", a)) if v > 0) or "none"
        return EMBEDDING_WEIGHT * c + (1.0 - EMBEDDING_WEIGHT) * a, via

    out: list[Connection] = []
    for p in linked:
        score, _ = combined(p)
        out.append(Connection(p, round(score, DIGITS), True, "link"))
    out.sort(key=lambda c: (-c.score, c.target))
    if k <= 0:
        return out

    def eligible(p: str) -> bool:
        if p == path or p in linked or is_generated(p, generated):
            return False
        return not (g is not None and p in g and not _is_note(g, p))

    # Scores of every indexed note at once; graph-only notes (no vector) are added after.
    scores = EMBEDDING_WEIGHT * np.maximum(sims.astype(np.float64), 0.0)
    graph_only: dict[str, float] = {}
    if aa:
        # One addition per note, as a loop over `aa` would do, but in numpy: a hub's two-hop
        # neighbourhood is thousands of notes in a large vault.
        names = list(aa)
        values = np.fromiter(aa.values(), np.float64, len(names))
        bonus = (1.0 - EMBEDDING_WEIGHT) * (values / (1.0 + values))
        rows = np.fromiter(map(index.pos.get, names, repeat(-1)), np.int64, len(names))
        indexed = (rows >= 0) & (rows < len(scores))
        scores[rows[indexed]] += bonus[indexed]
        graph_only = {
            names[j]: float(bonus[j]) for j in np.flatnonzero(~indexed).tolist()
        }
    # Walk down the ranking until k eligible notes are found, then keep going while a note
    # could still tie the k-th once scores are rounded (ties are broken by path).
    picked: dict[str, float] = {}
    floor = None
    for i in ranking(scores, k + len(linked) + 32):
        sc = float(scores[i])
        if sc < MIN_SUGGESTION or (floor is not None and sc < floor):
            break
        p = index.paths[i]
        if eligible(p):
            picked[p] = sc
            if floor is None and len(picked) >= k:
                floor = round(sc, DIGITS) - 10.0 ** -DIGITS
    picked.update({p: sc for p, sc in graph_only.items() if sc >= MIN_SUGGESTION and eligible(p)})
    suggestions: list[Connection] = []
    for p in picked:
        score, via = combined(p)
        if score >= MIN_SUGGESTION:
            suggestions.append(Connection(p, round(score, DIGITS), False, via))
    suggestions.sort(key=lambda c: (-c.score, c.target))
    return out + suggestions[:k]
