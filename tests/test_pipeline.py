"""`pipeline.Session` on small real vaults in tmp_path, with the fixed fake predictor (the
shipped model is exercised by tests/test_cli_distill.py and tests/test_roundtrip.py)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from fake_predictor import FakePredictor

from vaultkd.model.predictor import Predictions
from vaultkd.pipeline import DistillOptions, Session, VaultNotFound, find_vault
from vaultkd.write.genfile import inspect

RETRO = """---
title: Retro
tags: [meeting]
---
# Retro

Deploys slowed down because every release waits for the manual QA pass. The key problem is
that the QA pass now takes two days. Flaky end-to-end tests cause most of the re-runs.

## Decisions

We decided to automate the smoke suite before the next sprint. Who owns staging after Sam
leaves? It is unclear whether the budget covers a second QA engineer.

- [ ] Priya to move the smoke tests into CI
- Email the vendor about the test runner licence.

Important: release notes are written by hand and take half a day each time.
"""

APOLLO = """# Apollo

Apollo depends on the [[Retro]] outcome. The key risk is the manual QA pass that blocks
releases. Cold starts dominate our p99 latency, not the database. We agreed to cache the
session tokens. Ask the platform team about the quota.
"""


def make_vault(root: Path) -> Path:
    (root / ".obsidian").mkdir(parents=True)
    (root / "Meetings").mkdir()
    (root / "Meetings" / "Retro.md").write_text(RETRO, encoding="utf-8", newline="")
    (root / "Projects").mkdir()
    (root / "Projects" / "Apollo.md").write_text(APOLLO, encoding="utf-8", newline="")
    (root / "Short.md").write_text("Just one line.\n", encoding="utf-8")
    crlf = "\ufeff" + APOLLO.replace("Apollo", "Hermes").replace("\n", "\r\n")
    (root / "Hermes.md").write_bytes(crlf.encode("utf-8"))
    bad = "---\ntitle: [unclosed\n---\n" + APOLLO.replace("Apollo", "Broken")
    (root / "Broken.md").write_text(bad, encoding="utf-8")
    return root


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".vaultkd" not in p.parts
    }


@pytest.fixture
def vault(tmp_path: Path) -> Path:
    return make_vault(tmp_path / "vault")


def open_session(root: Path) -> Session:
    return Session.open(root, predictor=FakePredictor())


def test_find_vault(vault: Path, tmp_path: Path) -> None:
    assert find_vault(vault / "Meetings" / "Retro.md") == vault.resolve()
    (tmp_path / "loose").mkdir()
    with pytest.raises(VaultNotFound, match="--vault"):
        find_vault(tmp_path / "loose")


def test_distill_writes_outputs_and_second_run_changes_no_byte(vault: Path) -> None:
    sources_before = {
        p: (vault / p).read_bytes()
        for p in ("Meetings/Retro.md", "Projects/Apollo.md", "Hermes.md", "Broken.md")
    }
    with open_session(vault) as s:
        todo = s.pending()
        assert sorted(todo) == sorted([*sources_before, "Short.md"])
        results = {r.note: r for r in s.distill(todo)}
    retro = results["Meetings/Retro.md"]
    assert retro.status == "written", retro.message
    assert "Distilled/Meetings/Retro.md" in retro.written
    assert results["Short.md"].status == "too_short"
    assert "too short" in results["Short.md"].message
    broken = results["Broken.md"]
    assert broken.status == "written" and "not valid YAML" in broken.message
    for rel, data in sources_before.items():  # default mode never touches a source
        assert (vault / rel).read_bytes() == data, rel
    out = (vault / "Distilled/Meetings/Retro.md").read_bytes()
    info = inspect(out)
    assert info is not None and info.intact and info.kind == "distillation"
    assert info.source == "[[Meetings/Retro]]"
    assert "> [!summary]" in out.decode()
    for path in retro.written:
        assert (vault / path).is_file()
    first = snapshot(vault)
    with open_session(vault) as s:
        assert s.pending() == []
        again = s.distill(sorted(sources_before))
        assert {r.status for r in again} == {"unchanged"}
        forced = s.distill(sorted(sources_before), DistillOptions(force=True))
        assert {r.status for r in forced} == {"unchanged"}, [r.message for r in forced]
    assert snapshot(vault) == first


def test_generated_notes_are_not_sources(vault: Path) -> None:
    with open_session(vault) as s:
        s.distill(["Meetings/Retro.md"])
        assert not any(p.startswith(("Distilled/", "Atomic/")) for p in s.pending())
        r = s.distill(["Distilled/Meetings/Retro.md"])[0]
    assert r.status == "error" and "distil its source" in r.message


def test_user_edit_of_generated_note_is_kept(vault: Path) -> None:
    with open_session(vault) as s:
        s.distill(["Meetings/Retro.md"])
    out = vault / "Distilled/Meetings/Retro.md"
    edited = out.read_bytes().replace(b"## Key claims", b"## Key claims\n- my own note")
    out.write_bytes(edited)
    src = vault / "Meetings/Retro.md"
    src.write_bytes(src.read_bytes() + b"\nThe key lesson is that QA must start earlier.\n")
    with open_session(vault) as s:
        r = s.distill(["Meetings/Retro.md"])[0]
        assert "Distilled/Meetings/Retro.md" in r.kept, r.message
        assert "kept" in r.message
        assert "Distilled/Meetings/Retro.md" in s.status()["kept"]
    assert out.read_bytes() == edited


def test_dry_run_writes_nothing(vault: Path) -> None:
    before = snapshot(vault)
    with open_session(vault) as s:
        r = s.distill(["Meetings/Retro.md"], DistillOptions(dry_run=True, block_refs=True))[0]
        assert r.written and "would write" in r.message
        assert s.pending()  # nothing recorded either
    assert snapshot(vault) == before


_ID = re.compile(r" \^vkd-[0-9a-f]{6}")


def test_block_refs_only_append_ids_and_undo_restores(vault: Path) -> None:
    src = vault / "Hermes.md"  # BOM + CRLF
    original = src.read_bytes()
    with open_session(vault) as s:
        r = s.distill(["Hermes.md"], DistillOptions(block_refs=True))[0]
        assert "Hermes.md" in r.written, r.message
        assert s.is_own_write("Hermes.md")
    edited = src.read_bytes()
    assert edited != original and edited.startswith(b"\xef\xbb\xbf")
    assert _ID.sub("", edited.decode("utf-8")).encode("utf-8") == original
    ids = _ID.findall(edited.decode())
    distilled = (vault / "Distilled/Hermes.md").read_text(encoding="utf-8")
    assert any(f"#^{i.strip()[1:]}" in distilled for i in ids)
    snap = snapshot(vault)
    with open_session(vault) as s:  # a second run: nothing pending, nothing changes
        assert "Hermes.md" not in s.pending(DistillOptions(block_refs=True))
        assert "Hermes.md" in s.pending()  # the config's mode (no block ids) differs
        r = s.distill(["Hermes.md"], DistillOptions(block_refs=True))[0]
        assert r.status == "unchanged", r.message
        r = s.distill(["Hermes.md"], DistillOptions(block_refs=True, force=True))[0]
        assert r.status == "unchanged", r.message
    assert snapshot(vault) == snap
    from vaultkd.pipeline import undo_note

    undo_note(vault, "Hermes.md")
    assert src.read_bytes() == original


def test_inline_mode_marks_region_and_undo_is_byte_exact(vault: Path) -> None:
    src = vault / "Meetings/Retro.md"
    original = src.read_bytes()
    with open_session(vault) as s:
        r = s.distill(["Meetings/Retro.md"], DistillOptions(inline=True))[0]
        assert "Meetings/Retro.md" in r.written, r.message
    text = src.read_text(encoding="utf-8")
    assert "%% vaultkd:begin %%" in text and "%% vaultkd:end %%" in text
    assert text.startswith("---\ntitle: Retro\ntags: [meeting]\n---\n")  # frontmatter as is
    snap = snapshot(vault)
    with open_session(vault) as s:
        r = s.distill(["Meetings/Retro.md"], DistillOptions(inline=True, force=True))[0]
        assert r.status == "unchanged", r.message
    assert snapshot(vault) == snap
    from vaultkd.pipeline import undo_note

    undo_note(vault, "Meetings/Retro.md")
    assert src.read_bytes() == original
    with open_session(vault) as s:  # undone: a catch-up in the config's mode leaves it alone
        assert not s.config.inline
        todo = s.pending()
        assert "Meetings/Retro.md" in todo  # its last distillation was inline
        s.distill(todo)
    assert src.read_bytes() == original
    with open_session(vault) as s:
        assert "Meetings/Retro.md" in s.pending(DistillOptions(inline=True))


class SavingPredictor(FakePredictor):
    """Simulates Obsidian saving the note while the model runs."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path

    def predict(self, sentences: list[str]) -> Predictions:  # type: ignore[override]
        self.path.write_bytes(self.path.read_bytes() + b"\nTyped while distilling.\n")
        return super().predict(sentences)


def test_source_saved_during_run_is_retried_not_clobbered(vault: Path) -> None:
    src = vault / "Meetings/Retro.md"
    with Session.open(vault, predictor=SavingPredictor(src)) as s:
        r = s.distill(["Meetings/Retro.md"], DistillOptions(block_refs=True))[0]
    assert r.status == "retry" and not r.written
    assert src.read_bytes().endswith(b"Typed while distilling.\n")
    assert not (vault / "Distilled").exists()
    with open_session(vault) as s:
        assert "Meetings/Retro.md" in s.pending()


def test_move_and_delete_follow_the_source(vault: Path) -> None:
    with open_session(vault) as s:
        s.distill(["Meetings/Retro.md", "Projects/Apollo.md"])
        atomic_before = [o.path for o in s.db.outputs("Meetings/Retro.md") if o.kind == "atomic"]
        (vault / "Meetings/Retro.md").rename(vault / "Meetings/Retro 2026.md")
        written = s.source_moved("Meetings/Retro.md", "Meetings/Retro 2026.md")
        assert "Distilled/Meetings/Retro 2026.md" in written
        assert not (vault / "Distilled/Meetings/Retro.md").exists()
        for rel in atomic_before:
            if (vault / rel).exists():
                assert "[[Meetings/Retro 2026" in (vault / rel).read_text(encoding="utf-8")
        # An edited output survives deletion of its source; an unedited one goes.
        apollo_out = vault / "Distilled/Projects/Apollo.md"
        apollo_out.write_bytes(apollo_out.read_bytes() + b"\nmine\n")
        (vault / "Projects/Apollo.md").unlink()
        removed = s.source_deleted("Projects/Apollo.md")
        assert "Distilled/Projects/Apollo.md" not in removed
        assert apollo_out.exists()
        assert "Distilled/Projects/Apollo.md" in s.status()["orphaned"]


def test_nothing_written_outside_the_vault(tmp_path: Path) -> None:
    root = make_vault(tmp_path / "v")
    hostile = (
        "# ../../escape\n\nThe key claim is ../../../etc/passwd CON <x> | y? * z.\n"
        "Another key claim: C:\\Windows\\system32 is important\x07 here.\n"
        "A third important claim about " + "very " * 80 + "long titles.\n"
    )
    (root / "Hostile.md").write_text(hostile, encoding="utf-8")
    outside_before = sorted(p.name for p in tmp_path.iterdir())
    with open_session(root) as s:
        r = s.distill(["Hostile.md"])[0]
    assert r.status in ("written", "too_short"), r.message
    assert sorted(p.name for p in tmp_path.iterdir()) == outside_before
    for p in root.rglob("*"):
        assert p.resolve().is_relative_to(root.resolve())
        assert len(p.name.encode()) <= 255


def test_session_connections_equal_a_plain_whole_vault_ranking(tmp_path: Path) -> None:
    # The session shares neighbour sets between notes (memo); the result must not change.
    from vaultkd.distill.connections import VectorIndex, find_connections

    root = tmp_path / "big"
    (root / ".obsidian").mkdir(parents=True)
    topics = ["cache latency", "sleep memory", "release QA", "pricing plan", "sync queue"]
    for i in range(140):
        t = topics[i % len(topics)]
        link = f" See [[N{(i * 7) % 50}]]." if i % 3 == 0 else ""
        (root / f"N{i}.md").write_text(
            f"The {t} finding {i} matters.{link} We decided the {t} plan {i % 4}. "
            f"Is the {t} result {i % 6} stable? The key {t} claim number {i % 9} holds.\n",
            encoding="utf-8",
        )
    with open_session(root) as s:
        s.distill(s.pending())
        index = VectorIndex(s._index)
        for rel in sorted(s._index)[:40]:
            got = s.distill([rel], DistillOptions(force=True, dry_run=True))[0].report
            assert got is not None
            full = find_connections(
                rel, s._index[rel], index, s.graph, s.config.connections,
                generated=("Distilled/", "Atomic/"),
            )
            want = [{"target": c.target, "score": c.score, "linked": c.linked} for c in full]
            assert got["connections"] == want, rel


def test_title_index_sees_every_vault_title_but_lets_a_note_reuse_its_own() -> None:
    from vaultkd.distill.titles import make_title
    from vaultkd.pipeline import _TitleIndex

    long = "Spacing beats cramming for anything you want to remember for longer than a week"
    index = _TitleIndex(["Idea", "Idea 2", make_title(long), make_title(long, [make_title(long)])])
    taken = index.taken(own=[])
    assert make_title("Idea.", taken) == "Idea 3"
    assert make_title(long, taken).endswith(" 3")
    assert make_title("Something else entirely.", taken) == "Something else entirely"
    # Case and Unicode normalisation collide as on macOS and Windows file systems.
    assert make_title("IDEA.", index.taken(own=[])) == "IDEA 3"
    # A note's own earlier outputs are free for it to reuse; another note's copy is not.
    assert make_title("Idea.", index.taken(own=["Idea"])) == "Idea"
    index.add("Idea")
    assert make_title("Idea.", index.taken(own=["Idea"])) == "Idea 3"
    index.remove("Idea")
    index.remove("Idea")
    assert make_title("Idea.", index.taken(own=[])) == "Idea"


def test_a_note_gets_the_same_numbers_alone_or_in_a_vault_run(tmp_path: Path) -> None:
    # With the shipped int8 model, whose activation scales are fixed: notes share model calls,
    # and a note's numbers must not depend on which others share them (a run resumed after a
    # kill must write what an uninterrupted run writes).
    import shutil

    from sample import pristine_sample_vault

    root = tmp_path / "v"
    shutil.copytree(pristine_sample_vault(), root)
    notes = ["Meetings/2026-03-16 Retro.md", "Reading/Make It Stick.md", "Topics/Sleep.md"]
    dry = DistillOptions(force=True, dry_run=True)
    with Session.open(root) as s:
        together = {r.note: r.report for r in s.distill(s.sources(), dry)}
        for note in notes:
            alone = s.distill([note], dry)[0].report
            assert alone is not None and alone == together[note], note


def _sample_copy(dest: Path) -> Path:
    import shutil

    from sample import pristine_sample_vault

    shutil.copytree(pristine_sample_vault(), dest)
    return dest


def test_a_vault_sized_run_packs_notes_between_passes_and_writes_the_same_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import vaultkd.pipeline as pipeline

    small, packed = _sample_copy(tmp_path / "small"), _sample_copy(tmp_path / "packed")
    with open_session(small) as s:
        want = s.distill(s.sources())
    unpacked: list[str] = []
    real_unpack = pipeline._Prepared.unpack

    def counting_unpack(self: pipeline._Prepared, data: bytes, preds: Predictions) -> None:
        unpacked.append(self.rel)
        real_unpack(self, data, preds)

    monkeypatch.setattr(pipeline, "CHUNK_NOTES", 4)
    monkeypatch.setattr(pipeline._Prepared, "unpack", counting_unpack)
    with open_session(packed) as s:
        got = s.distill(s.sources())
    assert len(unpacked) > 20  # the packed path really ran
    assert [(r.note, r.status, r.written, r.report) for r in got] == [
        (r.note, r.status, r.written, r.report) for r in want
    ]
    assert {k: v[0] for k, v in snapshot(packed).items()} == {
        k: v[0] for k, v in snapshot(small).items()
    }


def test_a_distill_call_records_how_long_each_pass_took(vault: Path) -> None:
    import time

    with open_session(vault) as s:
        assert s.timings == {}
        t0 = time.perf_counter()
        s.distill(s.pending())
        wall = time.perf_counter() - t0
        t = dict(s.timings)
        assert set(t) == {
            f"pass{n}_{what}" for n in (1, 2) for what in ("s", "cpu_s", "workers_cpu_s")
        }
        assert all(v >= 0 for v in t.values())
        assert t["pass1_s"] > 0 and t["pass2_s"] > 0
        assert t["pass1_s"] + t["pass2_s"] <= wall + 0.01
        s.distill([])  # the next call's own numbers replace them
        assert s.timings["pass2_s"] < t["pass2_s"]


def test_model_threads_that_share_a_chunk_read_what_one_call_reads() -> None:
    from concurrent.futures import ThreadPoolExecutor

    from sample import pristine_sample_vault

    import vaultkd.pipeline as pipeline
    from vaultkd.model.runtime import load_predictor

    lines = [
        line.strip("-#>* ")
        for note in sorted(pristine_sample_vault().rglob("*.md"))
        for line in note.read_text(encoding="utf-8").splitlines()
        if len(line.strip("-#>* ")) > 3
    ]
    texts = list(dict.fromkeys(lines))[: 3 * pipeline.BATCH_ROWS + 17]
    assert len(texts) > 2 * pipeline.BATCH_ROWS  # enough to be shared out
    session = Session.__new__(Session)
    session.predictor = load_predictor()
    want = session.predictor.predict(texts)
    for jobs in (2, 3):
        with ThreadPoolExecutor(jobs) as pool:
            got = session._predict(texts, pool, jobs)
        for name in ("role_probs", "salience", "embeddings"):
            assert getattr(got, name).dtype == getattr(want, name).dtype
            assert np.array_equal(getattr(got, name), getattr(want, name)), (jobs, name)


def test_a_vault_run_with_two_model_threads_writes_what_one_thread_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import vaultkd.pipeline as pipeline
    from vaultkd.model.runtime import load_predictor

    one, two = _sample_copy(tmp_path / "one"), _sample_copy(tmp_path / "two")
    monkeypatch.setattr(pipeline, "CHUNK_NOTES", 8)  # packed, several chunks
    monkeypatch.setattr(pipeline, "BATCH_ROWS", 4)  # every chunk's model work is shared out
    shared: list[int] = []
    real = pipeline.Session._predict

    def counting(self: Session, texts: list[str], pool: object, jobs: int) -> Predictions:
        shared.append(jobs if pool is not None and len(texts) >= 8 else 1)
        return real(self, texts, pool, jobs)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline.Session, "_predict", counting)
    results = {}
    for root, jobs in ((one, 1), (two, 2)):
        with Session.open(root, predictor=load_predictor()) as s:
            results[jobs] = s.distill(s.sources(), jobs=jobs)
    assert 2 in shared and 1 in shared
    assert [(r.note, r.status, r.written, r.report) for r in results[2]] == [
        (r.note, r.status, r.written, r.report) for r in results[1]
    ]
    assert _files(two) == _files(one)


def test_a_note_saved_between_the_passes_of_a_packed_run_is_retried_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import vaultkd.pipeline as pipeline

    root = _sample_copy(tmp_path / "v")
    monkeypatch.setattr(pipeline, "CHUNK_NOTES", 4)
    note = "Meetings/2026-03-16 Retro.md"
    edited = (root / note).read_bytes() + b"\nA line typed while vaultkd was reading.\n"

    def save_after_pass_one(done: int, total: int) -> None:
        if done == total // 2:  # every note predicted, none written yet
            (root / note).write_bytes(edited)

    with open_session(root) as s:
        sources = s.sources()
        results = {r.note: r for r in s.distill(sources, progress=save_after_pass_one)}
        assert results[note].status == "retry"
        assert (root / note).read_bytes() == edited
        assert not (root / "Distilled" / note).exists()
        assert sum(r.status == "written" for r in results.values()) > 20
        assert s.pending() == [note]  # the next run picks it up


def test_a_session_graph_keeps_generated_notes_as_nodes_without_reading_their_links(
    tmp_path: Path,
) -> None:
    root = _sample_copy(tmp_path / "v")
    with open_session(root) as s:
        first = {r.note: r for r in s.distill(s.sources())}
    atomic = next(p for r in first.values() for p in r.written if p.startswith("Atomic/"))
    # A user links to an atomic note from a source of their own.
    (root / "Mine.md").write_text(f"See [[{atomic[len('Atomic/'):-3]}]] for the idea.\n")
    with open_session(root) as s:
        g = s.graph.g
        assert atomic in g and g.nodes[atomic]["kind"] == "note"
        assert g.out_degree(atomic) == 0  # its links were not read
        assert g.out_degree("Distilled/Meetings/2026-03-16 Retro.md") == 0
        assert list(g.successors("Mine.md")) == [atomic]  # links to it still resolve
        again = {r.note: r for r in s.distill(sorted(first), DistillOptions(force=True))}
    outcome = ("status", "written", "kept", "removed")
    for note, r in first.items():  # connections never went through generated notes
        assert r.report is not None and again[note].report is not None, note
        want = {k: v for k, v in r.report.items() if k not in outcome}
        assert {k: v for k, v in again[note].report.items() if k not in outcome} == want, note
        assert again[note].status == ("too_short" if r.status == "too_short" else "unchanged")


def test_predict_alone_writes_nothing_and_leaves_errors_for_distill(vault: Path) -> None:
    (vault / "Binary.md").write_bytes(b"\xff\xfe\x00\x01 not text")
    before = snapshot(vault)
    with open_session(vault) as s:
        todo = s.pending()
        assert s.predict(todo) == 5  # every readable note (Short too); Binary cannot be read
        assert snapshot(vault) == before  # no vault file written
        results = {r.note: r for r in s.distill(todo)}
    assert results["Binary.md"].status == "error"  # reported by distill, not swallowed
    assert results["Meetings/Retro.md"].status == "written"


class _ContextPredictor(FakePredictor):
    """The fake model with salience-in-context weights in its manifest, as the shipped one."""

    manifest = {"salience_in_context": {"weights": {"salience": 0.2, "centrality": 3.0}}}


def test_layers_follow_salience_in_context_when_the_model_ships_weights(vault: Path) -> None:
    from vaultkd.distill.salience import ContextWeights, in_context

    dry = DistillOptions(force=True, dry_run=True)
    note = "Meetings/Retro.md"
    with Session.open(vault, predictor=FakePredictor()) as s:
        raw = s.distill([note], dry)[0].report
    with Session.open(vault, predictor=_ContextPredictor()) as s:
        ctx = s.distill([note], dry)[0].report
    assert raw is not None and ctx is not None
    texts = [x["text"] for x in ctx["sentences"]]
    assert texts == [x["text"] for x in raw["sentences"]]
    preds = FakePredictor().predict(texts)
    weights = ContextWeights.from_manifest(_ContextPredictor.manifest)
    want = in_context(preds, weights).salience
    assert [x["salience"] for x in ctx["sentences"]] == [round(float(v), 4) for v in want]
    assert [x["salience"] for x in raw["sentences"]] == [
        round(float(v), 4) for v in preds.salience
    ]
    # Centrality weighs heavily here, so the bold layer is not the raw top third.
    assert [x["layer"] for x in ctx["sentences"]] != [x["layer"] for x in raw["sentences"]]


class _PaperPredictor(FakePredictor):
    """The fake model with note and paper weights; the paper weights read the title alone."""

    manifest = {
        "salience_in_context": {
            "weights": {"salience": 1.0, "centrality": 0.0},
            "paper": {"weights": {"salience": 0.0, "centrality": 0.0, "title": 3.0, "lead": 0.0}},
        }
    }


def test_a_paper_is_read_with_the_paper_weights_and_a_note_is_not(vault: Path) -> None:
    from vaultkd.distill.salience import ContextWeights, in_context

    body = (
        "Most systems read one tree at a time and stall on long inputs. The weather in the "
        "lab was fine all week. A tree parser can read a whole forest in one pass. Results "
        "hold for every treebank we tried. The code is free to use.\n"
    )
    (vault / "Paper.md").write_text(
        "# A Forest Parser\n\n## 1 Introduction\n\n" + body + "\n## 4 Conclusion\n\nDone.\n"
    )
    (vault / "Notes.md").write_text("# A Forest Parser\n\n## Agenda\n\n" + body)
    dry = DistillOptions(force=True, dry_run=True)
    with Session.open(vault, predictor=_PaperPredictor()) as s:
        paper, note = (r.report for r in s.distill(["Paper.md", "Notes.md"], dry))
    assert paper is not None and note is not None
    texts = [x["text"] for x in note["sentences"]]
    preds = FakePredictor().predict(texts)
    want = in_context(preds, ContextWeights.from_manifest(_PaperPredictor.manifest)).salience
    assert [x["salience"] for x in note["sentences"]] == [round(float(v), 4) for v in want]
    # In the paper, the sentence sharing the title's words ranks first.
    def best(report: dict) -> str:
        return max(report["sentences"], key=lambda x: x["salience"])["text"]

    assert [x["text"] for x in paper["sentences"]] == texts
    assert [x["salience"] for x in paper["sentences"]] != [x["salience"] for x in note["sentences"]]
    assert best(paper) == "A tree parser can read a whole forest in one pass."
    assert best(paper) in paper["summary"]


def test_a_dry_run_reports_the_titles_a_real_run_writes(tmp_path: Path) -> None:
    root = _sample_copy(tmp_path / "v")
    note = "Meetings/2026-03-16 Retro.md"
    (root / "Copies").mkdir()
    for copy in ("Copies/Retro again.md", "Copies/Retro third.md"):
        (root / copy).write_bytes((root / note).read_bytes())
    with open_session(root) as s:
        dry = s.distill(s.sources(), DistillOptions(dry_run=True))
        again = s.distill(s.sources(), DistillOptions(dry_run=True))
        real = s.distill(s.sources())
    assert [(r.note, r.written) for r in dry] == [(r.note, r.written) for r in real]
    # The dry runs left the session's title index as it was: the second one saw the same.
    assert [(r.note, r.written) for r in again] == [(r.note, r.written) for r in dry]
    written = [p for r in real for p in r.written]
    assert any(p.startswith("Atomic/") and p.endswith(" 3.md") for p in written)


def test_an_unchanged_note_is_answered_without_building_the_graph(
    vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_session(vault) as s:
        s.distill(s.pending())
    from vaultkd.vault.graph import VaultGraph

    builds = []
    real = VaultGraph.build

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        builds.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(VaultGraph, "build", counting)
    with open_session(vault) as s:
        assert [r.status for r in s.distill(["Meetings/Retro.md"])] == ["unchanged"]
    assert builds == []  # Obsidian's hotkey on an unchanged note reads no other note
    (vault / "Meetings" / "Retro.md").write_text(
        RETRO + "\nThe retro found one more flaky test in the login flow.\n", encoding="utf-8"
    )
    with open_session(vault) as s:
        (result,) = s.distill(["Meetings/Retro.md"])
    assert result.status == "written", result.message
    assert len(builds) == 1
    # Asking for the graph builds it, once.
    with open_session(vault) as s:
        assert "Meetings/Retro.md" in s.graph.notes() and s.graph is s.graph
        assert len(builds) == 2


# -- pass 2 in worker processes -------------------------------------------------------------


def _with_workers(monkeypatch: pytest.MonkeyPatch, workers: int, chunk: int = 4) -> list[str]:
    """Make a run of the sample vault packed and give pass 2 `workers` forked workers;
    returns the list the parent's own pass-2 work (`_finish`) is recorded in."""
    import sys

    import vaultkd.pipeline as pipeline

    if workers and not sys.platform.startswith("linux"):
        pytest.skip("pass-2 workers are forked on Linux only")
    monkeypatch.setattr(pipeline, "CHUNK_NOTES", 4)
    monkeypatch.setattr(pipeline, "_PARALLEL_MIN", 4)
    monkeypatch.setattr(pipeline, "_WORKER_CHUNK", chunk)
    monkeypatch.setattr(pipeline, "distill_workers", lambda: workers)
    here: list[str] = []
    real = pipeline.Session._finish

    def finish(self: Session, p: pipeline._Prepared, *args: object, **kw: object) -> object:
        here.append(p.rel)
        return real(self, p, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline.Session, "_finish", finish)
    return here


def _files(root: Path) -> dict[str, bytes]:
    return {k: v[0] for k, v in snapshot(root).items()}


def _outcome(results: list) -> list[tuple]:  # type: ignore[type-arg]
    return [(r.note, r.status, r.written, r.kept, r.message, r.report) for r in results]


def _one_process_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, Path, list]:  # type: ignore[type-arg]
    """Two copies of the sample vault, the first distilled without workers: (that copy, the
    untouched one, its results)."""
    one, two = _sample_copy(tmp_path / "one"), _sample_copy(tmp_path / "two")
    _with_workers(monkeypatch, 0)
    with open_session(one) as s:
        want = s.distill(s.sources())
    return one, two, want


def test_pass_two_workers_write_what_one_process_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    one, two, want = _one_process_run(tmp_path, monkeypatch)
    here = _with_workers(monkeypatch, 1)
    with open_session(two) as s:
        got = s.distill(s.sources())
        assert s.pending() == []
    assert len(here) < len(got) // 2, "the workers did not run"
    assert _outcome(got) == _outcome(want)
    assert _files(two) == _files(one)


def test_titles_two_workers_both_chose_are_chosen_again_by_the_writer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same key claim in six notes: "Cold starts …", "Cold starts … 2", … One note per
    # task and two workers, so each worker misses the titles the other handed out.
    def vault(root: Path) -> Path:
        (root / ".obsidian").mkdir(parents=True)
        for i in range(6):
            (root / f"n{i}.md").write_text(APOLLO.replace("Apollo", f"Note {i}"))
        return root

    one, two = vault(tmp_path / "one"), vault(tmp_path / "two")
    _with_workers(monkeypatch, 0)
    with open_session(one) as s:
        want = s.distill(s.sources())
    here = _with_workers(monkeypatch, 2, chunk=1)
    with open_session(two) as s:
        got = s.distill(s.sources())
    assert 0 < len(here) < 6  # some worked out again here, not all
    assert _outcome(got) == _outcome(want)
    assert _files(two) == _files(one)
    titles = sorted(p.name for p in (two / "Atomic").iterdir())
    assert len(titles) == len({t.casefold() for t in titles}) >= 6


@pytest.mark.parametrize("how", ["raises", "dies"])
def test_a_note_a_worker_fails_on_or_dies_on_is_worked_out_by_the_writer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    import os

    import vaultkd.pipeline as pipeline

    one, two, want = _one_process_run(tmp_path, monkeypatch)
    sources = [r.note for r in want]  # the vault's sources, in the order distilled
    parent = os.getpid()
    real = pipeline.Session._compute
    target = sources[len(sources) // 2]

    def compute(self: Session, p: pipeline._Prepared, *args: object) -> object:
        if os.getpid() != parent and p.rel == target:
            if how == "dies":
                os._exit(9)  # as if the kernel killed it: the rest is the writer's
            raise RuntimeError("only in the worker")
        return real(self, p, *args)  # type: ignore[arg-type]

    here = _with_workers(monkeypatch, 1)
    monkeypatch.setattr(pipeline.Session, "_compute", compute)
    with open_session(two) as s:
        got = s.distill(sources)
    assert target in here and len(here) < len(sources)
    assert _outcome(got) == _outcome(want)
    assert _files(two) == _files(one)


def test_a_note_saved_before_a_worker_reads_it_is_retried_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _sample_copy(tmp_path / "v")
    here = _with_workers(monkeypatch, 1)
    note = "Meetings/2026-03-16 Retro.md"
    edited = (root / note).read_bytes() + b"\nA line typed while vaultkd was reading.\n"

    def save_after_pass_one(done: int, total: int) -> None:
        if done == total // 2:  # every note predicted, the workers not yet started
            (root / note).write_bytes(edited)

    with open_session(root) as s:
        results = {r.note: r for r in s.distill(s.sources(), progress=save_after_pass_one)}
        assert results[note].status == "retry"
        assert (root / note).read_bytes() == edited
        assert not (root / "Distilled" / note).exists()
        assert sum(r.status == "written" for r in results.values()) > 20
        assert s.pending() == [note]
    assert note not in here and len(here) < 5  # the worker found it changed


def test_a_note_saved_after_a_worker_read_it_is_retried_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import vaultkd.pipeline as pipeline

    root = _sample_copy(tmp_path / "v")
    here = _with_workers(monkeypatch, 1)
    note = "Meetings/2026-03-16 Retro.md"
    edited = (root / note).read_bytes() + b"\nA line typed while vaultkd was writing.\n"
    real = pipeline.Session._computed_elsewhere

    def elsewhere(self: Session, prepared: list, args: tuple) -> object:  # type: ignore[type-arg]
        for p, c in zip(prepared, real(self, prepared, args), strict=True):
            if p.rel == note:
                assert isinstance(c, pipeline._Computed)  # the worker distilled it …
                (root / note).write_bytes(edited)  # … and then the user saved it
            yield c

    monkeypatch.setattr(pipeline.Session, "_computed_elsewhere", elsewhere)
    with open_session(root) as s:
        results = {r.note: r for r in s.distill(s.sources())}
        assert results[note].status == "retry"
        assert (root / note).read_bytes() == edited
        assert not (root / "Distilled" / note).exists()
        assert s.pending() == [note]
    assert note not in here


def test_without_worker_processes_the_writer_does_it_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import vaultkd.pipeline as pipeline

    one, two, want = _one_process_run(tmp_path, monkeypatch)
    here = _with_workers(monkeypatch, 1)

    def no_processes(*args: object, **kw: object) -> None:
        raise OSError("no /dev/shm here")  # what a sandbox says

    monkeypatch.setattr(pipeline, "ProcessPoolExecutor", no_processes)
    with open_session(two) as s:
        got = s.distill(s.sources())
    assert len(here) == len(got)
    assert _outcome(got) == _outcome(want)
    assert _files(two) == _files(one)


@pytest.mark.parametrize(("cores", "workers"), [(None, 0), (1, 0), (2, 2), (3, 3), (16, 3)])
def test_pass_two_has_a_worker_per_core_beside_the_writer_but_not_on_one_core(
    monkeypatch: pytest.MonkeyPatch, cores: int | None, workers: int
) -> None:
    import vaultkd.pipeline as pipeline

    monkeypatch.setattr(pipeline.os, "cpu_count", lambda: cores)
    assert pipeline.distill_workers() == workers


def test_a_new_output_version_writes_every_note_again_without_the_model(
    vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import vaultkd.pipeline as pipeline

    predictor = FakePredictor()
    with Session.open(vault, predictor=predictor) as s:
        s.distill(s.pending())
        assert s.pending() == []
    calls = predictor.calls
    first = snapshot(vault)
    # An upgrade whose form checks or rendering write something else for the same predictions.
    monkeypatch.setattr(pipeline, "OUTPUT_VERSION", pipeline.OUTPUT_VERSION + 1)
    with Session.open(vault, predictor=predictor) as s:
        todo = s.pending()
        assert "Meetings/Retro.md" in todo and len(todo) == 5
        results = s.distill(todo)
        assert all(r.status in ("unchanged", "written", "too_short") for r in results), results
        assert s.pending() == []
    assert predictor.calls == calls  # every note's predictions came from the state db
    assert snapshot(vault) == first  # the same output here: nothing was rewritten
