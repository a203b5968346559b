"""Connections: embedding neighbours + Adamic–Adar, linked vs suggested, exclusions."""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vaultkd.distill.connections import (
    MIN_SUGGESTION,
    VectorIndex,
    adamic_adar,
    find_connections,
    note_vector,
    ranking,
)
from vaultkd.distill.types import Connection


def unit(*xs: float) -> np.ndarray:
    v = np.array(xs, np.float32)
    return v / np.linalg.norm(v)


@pytest.fixture
def vault() -> nx.MultiDiGraph:
    g = nx.MultiDiGraph()
    for n in ("A.md", "B.md", "C.md", "D.md", "E.md", "F.md", "Distilled/A.md", "Atomic/X.md"):
        g.add_node(n, kind="note")
    g.add_node("Missing", kind="unresolved")
    for u, v in [
        ("A.md", "B.md"),
        ("A.md", "B.md"),
        ("C.md", "A.md"),
        ("B.md", "D.md"),
        ("C.md", "D.md"),
        ("E.md", "D.md"),
        ("A.md", "Missing"),
        ("Distilled/A.md", "A.md"),
        ("Atomic/X.md", "A.md"),
        ("E.md", "F.md"),
    ]:
        g.add_edge(u, v)
    return g


VECS = {
    "A.md": unit(1, 0, 0),
    "B.md": unit(0, 1, 0),
    "C.md": unit(1, 1, 0),
    "D.md": unit(0, 0, 1),
    "E.md": unit(1, 0.1, 0),
    "F.md": unit(-1, 0, 0),
    "Distilled/A.md": unit(1, 0, 0),
    "Atomic/X.md": unit(1, 0, 0),
}


def test_linked_and_suggested_are_separate_and_exclusions_hold(vault: nx.MultiDiGraph) -> None:
    conns = find_connections("A.md", VECS["A.md"], VECS, vault, k=5)
    targets = [c.target for c in conns]
    assert "A.md" not in targets
    assert not any(t.startswith(("Distilled/", "Atomic/")) or t == "Missing" for t in targets)
    linked = [c for c in conns if c.linked]
    assert {c.target for c in linked} == {"B.md", "C.md"}
    assert conns[: len(linked)] == linked  # linked come first
    suggested = [c for c in conns if not c.linked]
    # E is nearly the same direction as A; D shares two neighbours with A (graph only).
    assert [c.target for c in suggested] == ["E.md", "D.md"]
    assert suggested[0].via == "embedding"
    assert suggested[1].via == "graph"
    assert all(0 <= c.score <= 1 for c in conns)
    assert "F.md" not in targets  # opposite meaning, no shared neighbours


def test_k_limits_suggestions_only(vault: nx.MultiDiGraph) -> None:
    conns = find_connections("A.md", VECS["A.md"], VectorIndex(VECS), vault, k=1)
    assert [c.target for c in conns if not c.linked] == ["E.md"]
    assert len([c for c in conns if c.linked]) == 2


def test_adamic_adar_matches_networkx_on_the_note_graph(vault: nx.MultiDiGraph) -> None:
    notes = [n for n, a in vault.nodes(data=True) if a["kind"] == "note" and "/" not in n]
    simple = nx.Graph()
    simple.add_nodes_from(notes)
    simple.add_edges_from((u, v) for u, v in vault.edges() if u in notes and v in notes)
    for a, b in itertools.permutations(notes, 2):
        if simple.has_edge(a, b):
            continue
        ((_, _, expected),) = nx.adamic_adar_index(simple, [(a, b)])
        assert adamic_adar(vault, a).get(b, 0.0) == pytest.approx(expected)


def test_without_graph_or_vectors() -> None:
    conns = find_connections("A.md", VECS["A.md"], VECS, None, k=2)
    # Without a graph nothing is "linked"; generated notes are still excluded.
    assert [c.target for c in conns] == ["E.md", "C.md"]
    assert find_connections("A.md", None, {}, None, k=3) == []


def test_note_vector_is_normalised_and_weighted() -> None:
    emb = np.stack([unit(1, 0), unit(0, 1)])
    v = note_vector(emb, np.array([1.0, 0.0], np.float32))
    assert np.linalg.norm(v) == pytest.approx(1.0)
    assert v[0] > v[1] > 0
    assert note_vector(np.zeros((0, 4), np.float32)).shape == (4,)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from([0.0, 0.1, 0.15, 0.2, 0.3, 0.3, 0.5, 0.9]), max_size=60),
    st.integers(1, 6),
)
def test_ranking_is_the_full_stable_sort(values: list[float], top: int) -> None:
    scores = np.array(values, np.float64)
    expected = [int(i) for i in np.argsort(-scores, kind="stable") if scores[i] >= MIN_SUGGESTION]
    assert list(ranking(scores, top)) == expected


def _reference(path: str, vecs: dict[str, np.ndarray], g: nx.Graph, k: int) -> list[Connection]:
    """find_connections written plainly: every note scored, fully sorted."""
    def nbrs(n: str) -> set[str]:
        return {m for m in g.neighbors(n) if m != n}

    aa: dict[str, float] = {}
    for u in nbrs(path):
        if len(nbrs(u)) >= 2:
            for v in nbrs(u) - {path}:
                aa[v] = aa.get(v, 0.0) + 1.0 / np.log(len(nbrs(u)))

    def score(p: str) -> float:
        c = max(0.0, float(np.float32(vecs[p] @ vecs[path]))) if p in vecs and path in vecs else 0.0
        a = aa.get(p, 0.0)
        return 0.75 * c + 0.25 * (a / (1.0 + a))

    linked = nbrs(path)
    out = sorted(
        (Connection(p, round(score(p), 4), True, "link") for p in linked),
        key=lambda c: (-c.score, c.target),
    )
    ranked = sorted(
        (p for p in set(vecs) | set(aa) if p != path and p not in linked),
        key=lambda p: (-score(p), p),
    )
    ranked = [p for p in ranked if score(p) >= MIN_SUGGESTION]
    if len(ranked) > k:
        floor = round(score(ranked[k - 1]), 4) - 1e-4
        ranked = ranked[:k] + [p for p in ranked[k:] if score(p) >= floor]
    sugg = sorted(
        (Connection(p, round(score(p), 4), False, "") for p in ranked),
        key=lambda c: (-c.score, c.target),
    )
    return out + sugg[:k]


def test_connections_match_a_plain_full_sort_in_a_vault_with_hubs() -> None:
    rng = np.random.default_rng(7)
    g = nx.Graph()
    names = [f"n{i:03d}.md" for i in range(300)]
    g.add_nodes_from(names, kind="note")
    for n in names:
        hub = names[int(rng.integers(0, 5))]  # a few hubs: large two-hop neighbourhoods
        g.add_edge(n, hub)
        g.add_edge(n, names[int(rng.integers(0, 300))])
    # Coarse vectors: many notes tie, so the tie-break by path is exercised; near-equal
    # vectors: the graph's share decides the ranking.
    coarse = {n: unit(*rng.integers(0, 3, 4).astype(float) + 0.01) for n in names[:250]}
    close = {n: unit(*1.0 + 0.02 * rng.standard_normal(4)) for n in names[:250]}
    for vecs in (coarse, close):
        index = VectorIndex(vecs)
        for path in names[::7]:
            got = find_connections(path, vecs.get(path), index, g, 5)
            assert [(c.target, c.score, c.linked) for c in got] == [
                (c.target, c.score, c.linked) for c in _reference(path, vecs, g, 5)
            ], path
