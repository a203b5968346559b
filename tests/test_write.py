"""The write layer on real files in tmp_path: containment, atomic replace, edit detection,
stale outputs, source edits and undo."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vaultkd.write.atomic import ChangedOnDisk, atomic_write, remove_temp_files
from vaultkd.write.genfile import inspect, render_file
from vaultkd.write.paths import UnsafePath, check_rel_path, vault_path
from vaultkd.write.state import MIGRATIONS, StateDB
from vaultkd.write.writer import OutputFile, UndoError, VaultWriter

MODEL = "test-model 1 (sha256:0)"


@pytest.mark.parametrize(
    "bad",
    [
        "../evil.md",
        "a/../../evil.md",
        "/etc/passwd",
        "C:/x.md",
        "CON.md",
        "Atomic/nul.md",
        "Atomic/com1.txt.md",
        "Atomic/a\x00b.md",
        "Atomic/a\nb.md",
        "Atomic/tab\there.md",
        "Atomic/what?.md",
        "Atomic/trailing. ",
        "Atomic/" + "x" * 300 + ".md",
        ".obsidian/app.json",
        ".vaultkd/state.db",
        "a//b.md",
        "a\\..\\b.md",
    ],
)
def test_hostile_paths_are_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(UnsafePath):
        vault_path(tmp_path, bad)


def test_symlink_out_of_the_vault_is_refused(tmp_path: Path) -> None:
    vault, outside = tmp_path / "vault", tmp_path / "outside"
    vault.mkdir()
    outside.mkdir()
    (vault / "Atomic").symlink_to(outside, target_is_directory=True)
    with pytest.raises(UnsafePath):
        vault_path(vault, "Atomic/x.md")
    assert vault_path(vault, "Distilled/ok é.md") == vault / "Distilled" / "ok é.md"


@given(st.text(min_size=1, max_size=80))
@settings(max_examples=300, deadline=None)
def test_any_accepted_path_stays_inside(rel: str) -> None:
    root = Path("/tmp/vaultkd-hypothesis-root")
    try:
        check_rel_path(rel)
    except UnsafePath:
        return
    resolved = (root / rel).resolve()
    assert resolved.is_relative_to(root.resolve()) and resolved != root.resolve()


def test_atomic_write_refuses_when_file_changed(tmp_path: Path) -> None:
    path = tmp_path / "n.md"
    path.write_bytes(b"old")
    with pytest.raises(ChangedOnDisk):
        atomic_write(path, b"new", expected=b"something else")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["n.md"]  # no temp file left
    atomic_write(path, b"new", expected=b"old")
    assert path.read_bytes() == b"new"
    with pytest.raises(ChangedOnDisk):
        atomic_write(tmp_path / "m.md", b"x", expected=b"old")  # must exist but does not


def test_atomic_write_keeps_permissions_and_sweeps_temps(tmp_path: Path) -> None:
    path = tmp_path / "n.md"
    path.write_bytes(b"old")
    os.chmod(path, 0o640)
    atomic_write(path, b"new", expected=b"old")
    assert (path.stat().st_mode & 0o777) == 0o640
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / ".n.md.abc.vaultkd-tmp").write_bytes(b"half")
    assert remove_temp_files(tmp_path) == 1
    assert not (tmp_path / "sub" / ".n.md.abc.vaultkd-tmp").exists()


def test_output_hash_covers_every_byte() -> None:
    data = render_file(
        {"tags": ["distilled"]}, "# Body\ntext\n", kind="atomic", source="A/B.md", model=MODEL,
        source_hash="abc",
    )
    info = inspect(data)
    assert info is not None and info.intact
    assert info.source == "[[A/B]]" and info.kind == "atomic" and info.model == MODEL
    text = data.decode()
    assert text.startswith("---\nvaultkd:\n  kind: atomic\n")
    for i in range(len(data)):
        # Flip one byte anywhere (frontmatter, hash or body): the edit is always detected.
        edited = data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1 :]
        info = inspect(edited)
        assert info is None or not info.intact, (i, edited[max(0, i - 10) : i + 10])
    assert inspect(b"# plain user note\n") is None


def _writer(tmp_path: Path) -> tuple[VaultWriter, StateDB]:
    db = StateDB(tmp_path / ".vaultkd" / "state.db")
    return VaultWriter(tmp_path, db), db


def _out(rel: str, body: str, kind: str = "atomic") -> OutputFile:
    return OutputFile(rel, kind, {"tags": ["distilled"]}, body)


def test_outputs_written_then_unchanged_then_edited_kept(tmp_path: Path) -> None:
    w, db = _writer(tmp_path)
    r = w.write_outputs("N.md", [_out("Atomic/A.md", "a\n")], model=MODEL, source_hash="h1")
    assert r.written == ["Atomic/A.md"]
    before = (tmp_path / "Atomic/A.md").read_bytes()
    mtime = (tmp_path / "Atomic/A.md").stat().st_mtime_ns
    r = w.write_outputs("N.md", [_out("Atomic/A.md", "a\n")], model=MODEL, source_hash="h1")
    assert r.unchanged == ["Atomic/A.md"] and not r.written
    assert (tmp_path / "Atomic/A.md").stat().st_mtime_ns == mtime
    assert w.is_own_write("Atomic/A.md")
    # The user edits the generated note: a new run must keep their version.
    edited = before + b"my own thought\n"
    (tmp_path / "Atomic/A.md").write_bytes(edited)
    assert not w.is_own_write("Atomic/A.md")
    r = w.write_outputs("N.md", [_out("Atomic/A.md", "b\n")], model=MODEL, source_hash="h2")
    assert r.kept == ["Atomic/A.md"] and not r.written
    assert (tmp_path / "Atomic/A.md").read_bytes() == edited
    assert db.output("Atomic/A.md").status == "kept"  # type: ignore[union-attr]


def test_user_file_at_output_path_is_never_clobbered(tmp_path: Path) -> None:
    w, db = _writer(tmp_path)
    (tmp_path / "Atomic").mkdir()
    (tmp_path / "Atomic/A.md").write_bytes(b"user's own note\r\n")
    r = w.write_outputs("N.md", [_out("Atomic/A.md", "x\n")], model=MODEL, source_hash="h")
    assert r.kept == ["Atomic/A.md"]
    assert (tmp_path / "Atomic/A.md").read_bytes() == b"user's own note\r\n"
    assert db.output("Atomic/A.md") is None
    # Another source's intact output is not ours to replace either.
    w.write_outputs("Other.md", [_out("Atomic/B.md", "o\n")], model=MODEL, source_hash="h")
    theirs = (tmp_path / "Atomic/B.md").read_bytes()
    r = w.write_outputs("N.md", [_out("Atomic/B.md", "x\n")], model=MODEL, source_hash="h")
    assert r.kept == ["Atomic/B.md"] and (tmp_path / "Atomic/B.md").read_bytes() == theirs


def test_stale_outputs_removed_if_unedited_kept_if_edited(tmp_path: Path) -> None:
    w, db = _writer(tmp_path)
    files = [_out("Atomic/One.md", "1\n"), _out("Atomic/Sub/Two.md", "2\n")]
    w.write_outputs("N.md", files, model=MODEL, source_hash="h")
    two = tmp_path / "Atomic/Sub/Two.md"
    two.write_bytes(two.read_bytes().replace(b"2\n", b"2 and my edit\n"))
    r = w.write_outputs("N.md", [], model=MODEL, source_hash="h2")
    assert r.removed == ["Atomic/One.md"] and r.orphaned == ["Atomic/Sub/Two.md"]
    assert not (tmp_path / "Atomic/One.md").exists()
    assert b"my edit" in two.read_bytes()
    assert db.output("Atomic/Sub/Two.md").status == "orphaned"  # type: ignore[union-attr]
    assert db.output("Atomic/One.md") is None


def test_dry_run_writes_nothing(tmp_path: Path) -> None:
    db = StateDB(tmp_path / ".vaultkd" / "state.db")
    w = VaultWriter(tmp_path, db, dry_run=True)
    r = w.write_outputs("N.md", [_out("Atomic/A.md", "a\n")], model=MODEL, source_hash="h")
    assert r.written == ["Atomic/A.md"]
    assert not (tmp_path / "Atomic").exists() and db.outputs() == []


def test_refused_path_is_reported_not_written(tmp_path: Path) -> None:
    w, _ = _writer(tmp_path / "v")
    r = w.write_outputs("N.md", [_out("../escape.md", "x\n")], model=MODEL, source_hash="h")
    assert r.errors and not r.written
    assert not (tmp_path / "escape.md").exists()


def test_edit_source_and_undo_byte_for_byte(tmp_path: Path) -> None:
    w, db = _writer(tmp_path)
    original = b"\xef\xbb\xbf---\r\nb: 1\r\na: 2\r\n---\r\nText\r\nno newline at end"
    note = tmp_path / "N.md"
    note.write_bytes(original)
    assert w.edit_source("N.md", original, original + b" ^vkd-1")
    assert w.is_own_write("N.md") is False  # written_hash is recorded by the pipeline
    assert w.edit_source("N.md", original + b" ^vkd-1", original + b" ^vkd-1 ^vkd-2")
    msg = w.undo("N.md")
    assert note.read_bytes() == original + b" ^vkd-1" and "1 earlier" in msg
    w.undo("N.md")
    assert note.read_bytes() == original
    assert w.is_own_write("N.md")  # restored bytes are recorded, so the daemon ignores them
    with pytest.raises(UndoError, match="nothing to undo"):
        w.undo("N.md")
    assert db.undo_entries("N.md") == []


def test_undo_refuses_to_lose_a_later_user_edit(tmp_path: Path) -> None:
    w, _ = _writer(tmp_path)
    note = tmp_path / "N.md"
    note.write_bytes(b"mine\n")
    w.edit_source("N.md", b"mine\n", b"mine ^vkd-1\n")
    note.write_bytes(b"mine ^vkd-1\nmore of mine\n")
    with pytest.raises(UndoError, match="--force"):
        w.undo("N.md")
    assert note.read_bytes() == b"mine ^vkd-1\nmore of mine\n"
    w.undo("N.md", force=True)
    assert note.read_bytes() == b"mine\n"
    w.undo("N.md")  # the forced-over version was logged and comes back
    assert note.read_bytes() == b"mine ^vkd-1\nmore of mine\n"


def test_edit_source_refuses_when_changed(tmp_path: Path) -> None:
    w, db = _writer(tmp_path)
    (tmp_path / "N.md").write_bytes(b"saved by obsidian\n")
    with pytest.raises(ChangedOnDisk):
        w.edit_source("N.md", b"what we read\n", b"what we read ^vkd-1\n")
    assert (tmp_path / "N.md").read_bytes() == b"saved by obsidian\n"
    assert db.undo_entries("N.md") == []


def test_migrations_are_named_and_applied_once(tmp_path: Path) -> None:
    db = StateDB(tmp_path / "s.db")
    assert db.applied_migrations() == [name for name, _ in MIGRATIONS]
    db.close()
    db = StateDB(tmp_path / "s.db")
    assert db.migrate() == []


def test_prediction_cache_round_trips_and_is_keyed_by_model_and_hash(tmp_path: Path) -> None:
    import numpy as np

    db = StateDB(tmp_path / "s.db")
    rng = np.random.default_rng(0)
    probs = rng.random((3, 5), dtype=np.float32)
    sal = rng.random(3, dtype=np.float32)
    emb = rng.random((3, 8), dtype=np.float32)
    db.set_prediction("N.md", "m1", "h1", emb.mean(axis=0), (probs, sal, emb))
    got = db.prediction("N.md", "m1", "h1")
    assert got is not None
    for a, b in zip(got, (probs, sal, emb), strict=True):
        assert np.array_equal(a, b)
    assert db.prediction("N.md", "m2", "h1") is None
    assert db.prediction("N.md", "m1", "h2") is None
    assert set(db.note_embeddings("m1")) == {"N.md"}


_KEYS = st.text(min_size=1, max_size=12)
_SCALARS = st.one_of(st.text(max_size=40), st.integers(), st.booleans(), st.none())


@given(
    st.dictionaries(
        _KEYS,
        st.one_of(_SCALARS, st.lists(_SCALARS, max_size=4), st.dictionaries(_KEYS, _SCALARS)),
        max_size=6,
    )
)
@settings(max_examples=300, deadline=None)
def test_generated_frontmatter_is_yaml_that_reads_back_the_same(data: dict) -> None:
    import yaml

    from vaultkd.write.genfile import emit_yaml

    text = emit_yaml(data) if data else "{}\n"
    assert (yaml.safe_load(text) or {}) == data


def test_atomic_write_many_writes_all_but_the_changed_one(tmp_path: Path) -> None:
    from vaultkd.write.atomic import atomic_write_many

    (tmp_path / "b.md").write_bytes(b"saved meanwhile")
    (tmp_path / "c.md").write_bytes(b"old c")
    out = atomic_write_many(
        [
            (tmp_path / "sub" / "a.md", b"new a", None),
            (tmp_path / "b.md", b"new b", b"what we read"),
            (tmp_path / "c.md", b"new c", b"old c"),
        ]
    )
    assert out[0] is None and isinstance(out[1], ChangedOnDisk) and out[2] is None
    assert (tmp_path / "sub" / "a.md").read_bytes() == b"new a"
    assert (tmp_path / "b.md").read_bytes() == b"saved meanwhile"
    assert (tmp_path / "c.md").read_bytes() == b"new c"
    assert remove_temp_files(tmp_path) == 0


def test_link_cache_rows_round_trip_and_drop(tmp_path: Path) -> None:
    db = StateDB(tmp_path / "state.db")
    db.save_links([("A.md", "1:2:3", '{"x":1}'), ("B.md", "4:5:6", "{}")], drop=())
    db.save_links([("A.md", "7:8:9", '{"x":2}')], drop=["B.md"])
    db.close()
    again = StateDB(tmp_path / "state.db")
    assert again.load_links() == {"A.md": ("7:8:9", '{"x":2}')}
