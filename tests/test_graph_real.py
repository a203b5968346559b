"""Integration: the sample vault's hand-written expectations and real third-party vaults.

Third-party vaults live in ../shared/data (never copied here); a test skips, saying so, only
when its folder is absent.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sample import pristine_sample_vault

from vaultkd.vault.graph import UNRESOLVED, VaultGraph
from vaultkd.vault.resolve import fold
from vaultkd.vault.scan import read_note, scan_vault

REPO = Path(__file__).resolve().parents[1]
SAMPLE = pristine_sample_vault()
EXPECT = REPO / "tests" / "fixtures" / "sample_vault_expectations.json"
DATA = REPO.parent / "shared" / "data"
TASKS = DATA / "vault-obsidian-tasks"
KEPANO = DATA / "vault-kepano"


def _need(path: Path) -> None:
    if not path.exists():
        pytest.skip(f"{path} is absent (third-party data lives in ../shared/data)")


# ------------------------------------------------------------------ sample_vault


@pytest.fixture(scope="module")
def expect() -> dict:  # type: ignore[type-arg]
    if not EXPECT.exists():
        pytest.skip("tests/fixtures/sample_vault_expectations.json not written yet")
    return json.loads(EXPECT.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def sample() -> VaultGraph:
    return VaultGraph.build(SAMPLE, reader=read_note)


def test_sample_counts(expect: dict, sample: VaultGraph) -> None:  # type: ignore[type-arg]
    assert len(sample.notes()) == expect["notes"]
    assert sample.attachments() == expect["attachment_files"]
    assert sample.errors == {}
    files = {f.path for f in scan_vault(SAMPLE)}
    assert not files & set(expect["ignored_files"])


def test_sample_unresolved(expect: dict, sample: VaultGraph) -> None:  # type: ignore[type-arg]
    assert sorted(sample.unresolved()) == sorted(expect["unresolved_targets"])
    got = sorted(
        (u, v[len(UNRESOLVED) :]) for u, v in sample.g.edges() if v.startswith(UNRESOLVED)
    )
    want = sorted(
        (x["source"], x["raw"].strip("[]").split("|")[0].split("#")[0])
        for x in expect["unresolved_links"]
    )
    assert got == want


def test_sample_duplicate_name_and_aliases(expect: dict, sample: VaultGraph) -> None:  # type: ignore[type-arg]
    dup = expect["duplicate_name"]
    for src in dup["linked_from"]:
        res = sample.resolve(dup["basename"], src)
        assert res is not None and res.path == dup["resolves_to"], src
        assert sample.g.has_edge(src, dup["resolves_to"])
    for target, path in dup["explicit_links"].items():
        res = sample.resolve(target, "Home.md")
        assert res is not None and res.path == path
    for alias, path in expect["alias_links"].items():
        if alias.startswith("_"):
            continue
        res = sample.resolve(alias, "Home.md")
        assert res is not None and (res.path, res.via) == (path, "alias")
        assert any(d["via"] == "alias" for _, _, d in sample.g.in_edges(path, data=True))
    assert sample.g.in_degree(expect["orphan_attachments"][0]) == 0


def test_sample_frontmatter_links(expect: dict) -> None:  # type: ignore[type-arg]
    for item in expect["frontmatter_links"]:
        note = read_note(SAMPLE, item["source"])
        targets = [lk.target for lk in note.links if lk.in_frontmatter]
        for t in item["targets"]:
            assert t in targets, (item["source"], t)


def test_sample_encodings(expect: dict) -> None:  # type: ignore[type-arg]
    for path in expect["crlf_notes"]:
        assert read_note(SAMPLE, path).newline == "\r\n"
    for path in expect["bom_notes"]:
        assert read_note(SAMPLE, path).bom
    for path in expect["frontmatter_only_notes"]:
        note = read_note(SAMPLE, path)
        assert note.frontmatter and not note.body.strip()
    sf = expect["scalar_frontmatter"]
    note = read_note(SAMPLE, sf["note"])
    assert sf["aliases"] in note.aliases and sf["tags"] in note.tags


def test_sample_note_details(expect: dict) -> None:  # type: ignore[type-arg]
    for path, want in expect["notes_detail"].items():
        note = read_note(SAMPLE, path)
        assert set(note.tags) == set(want["tags"]), path
        assert list(note.aliases) == want["aliases"], path
        assert [b.id for b in note.block_ids] == want["block_ids"], path
        done = sum(t.done for t in note.tasks)
        assert {"open": len(note.tasks) - done, "done": done} == want["tasks"], path
        assert [[h.level, h.text] for h in note.headings] == want["headings"], path


def test_sample_negatives(expect: dict, sample: VaultGraph) -> None:  # type: ignore[type-arg]
    neg = expect["negatives"]
    all_targets = {lk.target for p in sample.notes() for lk in read_note(SAMPLE, p).links}
    assert not all_targets & set(neg["link_targets"])
    all_tags = {t for p in sample.notes() for t in read_note(SAMPLE, p).tags}
    assert not all_tags & set(neg["not_tags"])
    for item in neg["not_tasks"]:
        note = read_note(SAMPLE, item["note"])
        assert not any(item["text"].endswith(t.text) for t in note.tasks)


def test_sample_link_forms(expect: dict) -> None:  # type: ignore[type-arg]
    for form, where in expect["link_forms"].items():
        if form.startswith("_") or form == "https:// link":
            continue
        path, raw = where
        note = read_note(SAMPLE, path)
        raws = [note.text[lk.start : lk.end] for lk in note.links]
        if form == "frontmatter link property":
            raw = raw.split('"')[1]
        assert raw in raws, (form, path, raw)


def test_sample_fast_and_full_graphs_agree(sample: VaultGraph) -> None:
    fast = VaultGraph.build(SAMPLE)
    assert sorted(fast.g.edges(data=True), key=str) == sorted(sample.g.edges(data=True), key=str)


# ------------------------------------------------------------------ obsidian-tasks docs


def test_tasks_docs_targets_resolve_like_upstream() -> None:
    _need(TASKS / "docs")
    listed = (TASKS / "docs.FILELIST.txt").read_text(encoding="utf-8").splitlines()
    # Images and other attachments were not copied; the upstream file list stands in for them.
    attachments = [p for p in listed if p and not p.lower().endswith(".md")]
    root = TASKS / "docs"
    notes = [read_note(root, f.path) for f in scan_vault(root) if f.kind == "note"]
    vg = VaultGraph.from_notes(notes, attachments)
    wikilinks = [
        (n.path, lk) for n in notes for lk in n.links
        if n.text.startswith(("[[", "![["), lk.start)
    ]
    # Unique as Obsidian sees them: case and Unicode form do not matter.
    targets = {fold(lk.target) for _, lk in wikilinks if lk.target}
    resolved = {
        fold(lk.target) for src, lk in wikilinks if lk.target and vg.resolve(lk.target, src)
    }
    # SOURCE.md: 109 unique link targets, 107 resolve to a file of the upstream tree.
    assert 105 <= len(targets) <= 115, len(targets)
    assert len(resolved) >= 107, sorted(targets - resolved)
    for src, lk in wikilinks:
        res = vg.resolve(lk.target, src)
        if res is not None:  # what resolves reaches a file of the upstream tree
            assert res.path in listed and res.via in ("path", "basename"), (src, lk.target)


def test_tasks_demo_block_links_reach_their_lines() -> None:
    _need(TASKS / "Tasks-Demo")
    root = TASKS / "Tasks-Demo"
    vg = VaultGraph.build(root, reader=read_note)
    block_edges = [(u, v, d) for u, v, d in vg.g.edges(data=True) if d["block"]]
    assert len(block_edges) >= 5  # SOURCE.md: 5 block links
    reached = 0
    for _, v, d in block_edges:
        if v.startswith(UNRESOLVED):
            continue
        note = read_note(root, v)
        ids = {b.id: b for b in note.block_ids}
        assert d["block"] in ids, (v, d["block"])
        bid = ids[d["block"]]
        line_text = note.text.splitlines()[bid.line - 1]
        assert line_text.rstrip().endswith("^" + d["block"])
        assert f"^{d['block']}" in note.text[bid.start : bid.end] or bid.line > note.text.count(
            "\n", 0, bid.end
        )
        reached += 1
    assert reached >= 5


# ------------------------------------------------------------------ kepano


def test_kepano_frontmatter_property_links() -> None:
    _need(KEPANO / "vault")
    root = KEPANO / "vault"
    vg = VaultGraph.build(root, reader=read_note)
    notes = [read_note(root, p) for p in vg.notes()]
    fm_links = [lk for n in notes for lk in n.links if lk.in_frontmatter]
    assert len(fm_links) >= 100  # most of the 209 wikilinks live in properties
    # `categories: ["[[Books]]"]` makes an edge to the category note.
    books = [n for n in notes if any(lk.target == "Books" and lk.in_frontmatter for lk in n.links)]
    assert books and all(vg.g.has_edge(n.path, "Categories/Books.md") for n in books)
    # SOURCE.md: 106 unique targets, many unresolved on purpose (stubs not in the template).
    assert len(vg.unresolved()) >= 40
