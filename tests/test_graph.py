"""VaultGraph: nodes, edges, unresolved targets, incremental updates, stats, export."""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx
import pytest

from vaultkd.vault.errors import VaultError
from vaultkd.vault.graph import VaultGraph
from vaultkd.vault.parse import parse_text
from vaultkd.vault.scan import read_note


def _vault(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, content in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content.encode() if isinstance(content, str) else content)
    return root


@pytest.fixture
def vault(tmp_path: Path) -> Path:
    return _vault(tmp_path, {
        "Home.md": "---\ntags: [index]\n---\n# Home\nSee [[Projects/Apollo|Apollo]], [[Missing#H]]"
                   " and [[Alice]].\n\n![[Diagram.png|200]] [doc](attachments/spec.pdf)\n",
        "Projects/Apollo.md": "---\naliases: [Moonshot]\n---\nBack to [[Home#Home]] ^a1\n"
                              "[[Missing]] and [[#Local]] and [[Home#^nope]]\n",
        "People/Alice Chen.md": "---\naliases: Alice\n---\nNobody links out.\n",
        "Lonely.md": "No links at all.\n",
        "attachments/Diagram.png": b"\x89PNG",
        "attachments/spec.pdf": b"%PDF",
        ".obsidian/app.json": "{}",
    })


def test_build_nodes_and_edges(vault: Path) -> None:
    vg = VaultGraph.build(vault)
    g = vg.g
    assert g.nodes["Home.md"] == {"kind": "note", "title": "Home", "aliases": [], "tags": ["index"]}
    assert g.nodes["Projects/Apollo.md"]["aliases"] == ["Moonshot"]
    assert g.nodes["attachments/Diagram.png"]["kind"] == "attachment"
    assert g.nodes["unresolved:Missing"] == {
        "kind": "unresolved", "title": "Missing", "aliases": [], "tags": []
    }
    edges = {(u, v, d["kind"], d["via"], d["line"], d["heading"], d["display"])
             for u, v, d in g.edges(data=True)}
    assert ("Home.md", "Projects/Apollo.md", "link", "path", 5, None, "Apollo") in edges
    assert ("Home.md", "unresolved:Missing", "link", None, 5, "H", None) in edges
    assert ("Home.md", "People/Alice Chen.md", "link", "alias", 5, None, None) in edges
    assert ("Home.md", "attachments/Diagram.png", "embed", "basename", 7, None, "200") in edges
    assert ("Home.md", "attachments/spec.pdf", "markdown", "path", 7, None, "doc") in edges
    assert ("Projects/Apollo.md", "Projects/Apollo.md", "link", "path", 5, "Local", None) in edges
    assert g.number_of_edges("Projects/Apollo.md", "Home.md") == 2  # one edge per occurrence
    assert not any(n.startswith(".obsidian") for n in g)


def test_full_and_fast_readers_build_the_same_graph(vault: Path) -> None:
    fast = VaultGraph.build(vault)
    full = VaultGraph.build(vault, reader=read_note)
    assert sorted(fast.g.nodes(data=True), key=str) == sorted(full.g.nodes(data=True), key=str)
    assert sorted(fast.g.edges(data=True), key=str) == sorted(full.g.edges(data=True), key=str)


def test_stats_orphans_unresolved(vault: Path) -> None:
    vg = VaultGraph.build(vault)
    s = vg.stats()
    assert (s["notes"], s["attachments"], s["embeds"], s["unresolved_targets"]) == (4, 2, 1, 1)
    assert s["links"] == 8 and s["unresolved_links"] == 2 and s["unreadable"] == 0
    assert vg.orphans() == ["Lonely.md"]
    assert vg.unresolved() == {"Missing": ["Home.md", "Projects/Apollo.md"]}
    assert s["top_hubs"][0] == {"path": "Home.md", "backlinks": 2}


def test_unreadable_note_is_a_node_and_reported(tmp_path: Path) -> None:
    _vault(tmp_path, {"Bin.md": b"\x00\x01binary", "A.md": "[[Bin]]\n"})
    vg = VaultGraph.build(tmp_path)
    assert vg.g.has_edge("A.md", "Bin.md")
    assert list(vg.errors) == ["Bin.md"] and "Bin.md: looks binary" in vg.errors["Bin.md"]


def test_incremental_updates_match_a_rebuild(vault: Path) -> None:
    vg = VaultGraph.build(vault)
    # A new note resolves targets that were unresolved.
    vg.update_note(parse_text("Missing.md", "I exist now. [[Lonely]]\n"))
    assert "unresolved:Missing" not in vg.g
    assert vg.g.has_edge("Home.md", "Missing.md") and vg.g.has_edge("Missing.md", "Lonely.md")
    # A root note with the same name takes over a basename link.
    vg.update_note(parse_text("Apollo.md", "root apollo\n"))
    vg.update_note(parse_text("Other.md", "[[Apollo]]\n"))
    assert vg.g.has_edge("Other.md", "Apollo.md")
    vg.remove_note("Apollo.md")
    assert vg.g.has_edge("Other.md", "Projects/Apollo.md")
    # Alias changes re-resolve links that used them.
    vg.update_note(parse_text("People/Alice Chen.md", "---\naliases: [Ally]\n---\n"))
    assert vg.g.has_edge("Home.md", "unresolved:Alice")
    # Removing a note turns links to it into unresolved ones.
    vg.remove_note("Lonely.md")
    assert vg.g.has_edge("Missing.md", "unresolved:Lonely")
    # Editing a note replaces its edges.
    vg.update_note(parse_text("Home.md", "Only [[Lonely]] now.\n"))
    assert sorted(v for _, v in vg.g.out_edges("Home.md")) == ["unresolved:Lonely"]
    assert "unresolved:Alice" not in vg.g  # its last link went away

    # The same end state built from scratch.
    fresh = VaultGraph.from_notes(
        [parse_text(p, (vault / p).read_text()) for p in ["Projects/Apollo.md"]]
        + [parse_text("Missing.md", "I exist now. [[Lonely]]\n"),
           parse_text("Other.md", "[[Apollo]]\n"),
           parse_text("People/Alice Chen.md", "---\naliases: [Ally]\n---\n"),
           parse_text("Home.md", "Only [[Lonely]] now.\n")],
        ["attachments/Diagram.png", "attachments/spec.pdf"],
    )
    assert sorted(vg.g.edges(data=True), key=str) == sorted(fresh.g.edges(data=True), key=str)
    assert sorted(vg.g.nodes(data=True), key=str) == sorted(fresh.g.nodes(data=True), key=str)


def test_resolve_method(vault: Path) -> None:
    vg = VaultGraph.build(vault)
    res = vg.resolve("Moonshot", "Home.md")
    assert res is not None and (res.path, res.via) == ("Projects/Apollo.md", "alias")
    assert vg.resolve("../../etc/passwd", "Home.md") is None


@pytest.mark.parametrize("suffix", [".graphml", ".gexf"])
def test_export_loads_back(vault: Path, tmp_path: Path, suffix: str) -> None:
    vg = VaultGraph.build(vault)
    out = tmp_path / f"g{suffix}"
    vg.export(out)
    back = nx.read_graphml(out) if suffix == ".graphml" else nx.read_gexf(out)
    assert back.number_of_nodes() == vg.g.number_of_nodes()
    assert back.number_of_edges() == vg.g.number_of_edges()
    assert back.nodes["unresolved:Missing"]["kind"] == "unresolved"


def test_export_json_node_link(vault: Path, tmp_path: Path) -> None:
    vg = VaultGraph.build(vault)
    out = tmp_path / "g.json"
    vg.export(out)
    data = json.loads(out.read_text())
    assert set(data) >= {"nodes", "edges"}
    edge = next(e for e in data["edges"] if e["target"] == "People/Alice Chen.md")
    assert edge["source"] == "Home.md" and edge["via"] == "alias" and edge["kind"] == "link"
    assert {"heading", "block", "display", "line"} <= set(edge)
    back = nx.node_link_graph(data, edges="edges")
    assert back.number_of_edges() == vg.g.number_of_edges()


def test_export_unknown_format(vault: Path, tmp_path: Path) -> None:
    with pytest.raises(VaultError, match="use .graphml, .gexf or .json"):
        VaultGraph.build(vault).export(tmp_path / "g.csv")


def test_parallel_read_builds_the_same_graph(tmp_path: Path) -> None:
    # Enough notes for the worker processes to start (graph._PARALLEL_MIN), with links,
    # aliases, a same-name pair and a note that cannot be read.
    from vaultkd.vault import graph as graph_mod

    n = graph_mod._PARALLEL_MIN + 100
    for i in range(n):
        folder = tmp_path / f"f{i % 7}"
        folder.mkdir(exist_ok=True)
        links = f"[[N{(i + 1) % n}]] [[A{(i * 3) % n}]] #t{i % 5}"
        body = f"---\naliases: [A{i}]\n---\n# N{i}\n{links}\n"
        (folder / f"N{i}.md").write_text(body, encoding="utf-8")
    (tmp_path / "N1.md").write_text("root copy [[missing]]\n", encoding="utf-8")
    (tmp_path / "bad.md").write_bytes(b"\xff\xfe\x00bad")
    one = VaultGraph.build(tmp_path)
    two = VaultGraph.build(tmp_path, jobs=2)
    assert sorted(one.g.nodes(data=True)) == sorted(two.g.nodes(data=True))
    edges = lambda g: sorted((u, v, sorted(d.items())) for u, v, d in g.edges(data=True))  # noqa: E731
    assert edges(one.g) == edges(two.g) and one.g.number_of_edges() >= 2 * n
    # The same edges in the same order with the same keys (links settled early or late).
    assert list(one.g.edges(keys=True, data=True)) == list(two.g.edges(keys=True, data=True))
    assert sum(via == "alias" for *_, via in two.g.edges(data="via")) >= n
    assert one.errors == two.errors and "bad.md" in two.errors


def test_spawned_workers_do_not_rerun_the_cli() -> None:
    # Spawned reader processes import the parent's main module as "__mp_main__"; for
    # `python -m vaultkd` that module must not start a CLI run of its own.
    import runpy

    runpy.run_module("vaultkd.__main__", run_name="__mp_main__")


def test_parallel_read_falls_back_when_no_worker_can_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import concurrent.futures

    from vaultkd.vault import graph as graph_mod

    for i in range(graph_mod._PARALLEL_MIN + 1):
        (tmp_path / f"N{i}.md").write_text(f"[[N{i + 1}]]\n", encoding="utf-8")

    def no_workers(*args: object, **kwargs: object) -> None:
        raise OSError(38, "Function not implemented")

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", no_workers)
    g = VaultGraph.build(tmp_path, jobs=2)
    assert g.g.number_of_edges() == graph_mod._PARALLEL_MIN + 1


def test_a_links_only_graph_has_the_same_nodes_and_neighbours(tmp_path: Path) -> None:
    from sample import pristine_sample_vault

    def pairs(vg: VaultGraph) -> set[tuple[str, str]]:
        return set(vg.g.edges())

    full = VaultGraph.build(pristine_sample_vault())
    lite = VaultGraph.build(pristine_sample_vault(), links_only=True)
    assert list(full.g.nodes(data=True)) == list(lite.g.nodes(data=True))
    assert pairs(full) == pairs(lite) and len(pairs(full)) > 100
    assert lite.g.number_of_edges() < full.g.number_of_edges()  # one edge per linked pair
    assert all(d == {} for *_, d in lite.g.edges(data=True))
    # Incremental updates keep them in step: a note gains an alias and new links, one goes.
    note = parse_text(
        "Topics/Sleep.md",
        "---\naliases: [Rest]\n---\nSee [[Home]], [[Home#Top]], [[Nowhere]] and [[Rest]].\n",
    )
    for vg in (full, lite):
        vg.update_note(note)
        vg.remove_note("Home.md")
    assert list(full.g.nodes(data=True)) == list(lite.g.nodes(data=True))
    assert pairs(full) == pairs(lite)
    assert ("Topics/Sleep.md", "unresolved:Nowhere") in pairs(lite)


class _DictCache:
    """A LinkCache in memory, counting what the build asks of it."""

    def __init__(self) -> None:
        self.rows: dict[str, tuple[str, str]] = {}
        self.saved: list[str] = []

    def load_links(self) -> dict[str, tuple[str, str]]:
        return dict(self.rows)

    def save_links(self, rows, drop) -> None:  # type: ignore[no-untyped-def]
        for path, stamp, data in rows:
            self.rows[path] = (stamp, data)
            self.saved.append(path)
        for path in drop:
            self.rows.pop(path, None)


@pytest.fixture
def racy_50ms(monkeypatch: pytest.MonkeyPatch) -> None:
    # Files count as settled 50 ms after their last change instead of 2 s (no test sleeps 2 s).
    import vaultkd.vault.graph as graph_module

    monkeypatch.setattr(graph_module, "RACY_NS", 50_000_000)


def _settle() -> None:
    import time

    time.sleep(0.1)


def _snapshot(vg: VaultGraph) -> tuple[list, list]:
    return (sorted(vg.g.nodes(data=True), key=str), sorted(vg.g.edges(), key=str))


def test_a_link_cache_rereads_only_changed_notes(tmp_path: Path, racy_50ms: None) -> None:
    import os
    import shutil

    from sample import pristine_sample_vault

    vault = Path(shutil.copytree(pristine_sample_vault(), tmp_path / "vault"))
    _settle()
    reads: list[str] = []

    def reader(root: Path, rel: str):  # type: ignore[no-untyped-def]
        from vaultkd.vault.quick import read_links

        reads.append(rel)
        return read_links(root, rel)

    cache = _DictCache()
    first = VaultGraph.build(vault, reader=reader, links_only=True, cache=cache)
    n = len(first.notes())
    assert len(reads) == n and len(cache.rows) == n
    reads.clear()
    again = VaultGraph.build(vault, reader=reader, links_only=True, cache=cache)
    assert reads == [] and _snapshot(again) == _snapshot(first)
    # Same size, new links and alias, old mtime put back (a sync tool): the ctime still moves.
    home = vault / "Home.md"
    st = home.stat()
    text = home.read_text(encoding="utf-8")
    assert "[[Roadmap]]" in text
    home.write_text(text.replace("[[Roadmap]]", "[[Nowhere]]"), encoding="utf-8")
    os.utime(home, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert home.stat().st_size == st.st_size and home.stat().st_mtime_ns == st.st_mtime_ns
    (vault / "Lonely.md").unlink(missing_ok=True)
    (vault / "Topics" / "Sleep.md").unlink()
    cache.saved.clear()
    third = VaultGraph.build(vault, reader=reader, links_only=True, cache=cache)
    assert reads == ["Home.md"]
    assert "Topics/Sleep.md" not in cache.rows
    fresh = VaultGraph.build(vault, links_only=True)
    assert _snapshot(third) == _snapshot(fresh)
    assert ("Home.md", "unresolved:Nowhere") in set(third.g.edges())
    # Just written (its ctime is now): read, but not cached, since its stamp could still
    # change within the clock's tick; once older than that, cached.
    assert cache.saved == []
    _settle()
    reads.clear()
    VaultGraph.build(vault, reader=reader, links_only=True, cache=cache)
    assert reads == ["Home.md"] and cache.saved == ["Home.md"]


def test_a_damaged_cache_row_is_a_miss(tmp_path: Path, racy_50ms: None) -> None:
    vault = _vault(tmp_path, {"A.md": "See [[B]].\n", "B.md": "Back to [[A]].\n"})
    _settle()
    cache = _DictCache()
    good = VaultGraph.build(vault, links_only=True, cache=cache)
    stamp, _ = cache.rows["A.md"]
    for bad in ("not json", '{"aliases": []}', '{"aliases":[],"tags":[],"links":[["evil","C"]]}'):
        cache.rows["A.md"] = (stamp, bad)
        assert _snapshot(VaultGraph.build(vault, links_only=True, cache=cache)) == _snapshot(good)
    # A well-formed row under the file's stamp is trusted (that is what saves the reading).
    cache.rows["A.md"] = (stamp, '{"aliases":[],"tags":[],"links":[["link","C"]]}')
    trusted = VaultGraph.build(vault, links_only=True, cache=cache)
    assert ("A.md", "unresolved:C") in set(trusted.g.edges())
    # The full graph (with edge attributes) never uses the cache.
    cache.rows.clear()
    VaultGraph.build(vault, cache=cache)
    assert cache.rows == {}


def test_a_build_pauses_the_cyclic_collector_and_restores_it(
    vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gc

    seen: list[bool] = []
    real = VaultGraph._connect_all

    def spy(self: VaultGraph) -> None:
        seen.append(gc.isenabled())
        real(self)

    monkeypatch.setattr(VaultGraph, "_connect_all", spy)
    assert gc.isenabled()
    g = VaultGraph.build(vault)
    assert seen == [False] and gc.isenabled()
    assert g.stats()["notes"] > 0
    gc.disable()
    try:
        VaultGraph.build(vault)
        assert not gc.isenabled()  # a caller that paused it keeps it paused
    finally:
        gc.enable()
    # An error inside the build leaves the collector as it found it.
    monkeypatch.setattr(VaultGraph, "_connect_all", lambda self: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        VaultGraph.build(vault)
    assert gc.isenabled()
