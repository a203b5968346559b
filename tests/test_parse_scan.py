"""scan_vault / read_note on real folders in tmp_path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vaultkd.vault.errors import NoteReadError, VaultError
from vaultkd.vault.scan import is_ignored, read_note, scan_vault


def _write(root: Path, rel: str, data: bytes = b"x\n") -> None:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)


def test_scan_sorts_notes_and_attachments_and_skips_dot_folders(tmp_path: Path) -> None:
    for rel in ["b.md", "A/a.MD", "A/img.png", ".obsidian/app.json", ".trash/old.md",
                ".vaultkd/state.db", ".git/HEAD", "A/.hidden.md", "Sub/.cache/x.md"]:
        _write(tmp_path, rel)
    files = scan_vault(tmp_path)
    assert [(f.path, f.kind) for f in files] == [
        ("A/a.MD", "note"), ("A/img.png", "attachment"), ("b.md", "note")
    ]
    assert all(f.size == 2 and f.mtime_ns > 0 for f in files)


def test_is_ignored() -> None:
    assert is_ignored(".obsidian/workspace.json") and is_ignored("a/.trash/x.md")
    assert not is_ignored("Notes/x.md") and not is_ignored("Notes/x.y.md")


def test_symlinks_never_leave_the_vault(tmp_path: Path) -> None:
    vault, outside = tmp_path / "vault", tmp_path / "outside"
    _write(vault, "in.md")
    _write(outside, "secret.md")
    os.symlink(outside, vault / "linked-out")
    os.symlink(outside / "secret.md", vault / "secret-link.md")
    os.symlink(vault / "in.md", vault / "alias-in.md")
    os.symlink(vault, vault / "loop")
    paths = [f.path for f in scan_vault(vault)]
    assert "in.md" in paths and "alias-in.md" in paths
    assert not any("secret" in p or p.startswith("linked-out") for p in paths)
    assert not any(p.startswith("loop/") for p in paths)


def test_not_a_folder(tmp_path: Path) -> None:
    with pytest.raises(VaultError, match="not a folder"):
        scan_vault(tmp_path / "missing")
    _write(tmp_path, "file.md")
    with pytest.raises(VaultError, match="not a folder"):
        scan_vault(tmp_path / "file.md")


def test_read_note(tmp_path: Path) -> None:
    _write(tmp_path, "Dir/N.md", b"# T\n[[X]]\n")
    note = read_note(tmp_path, "Dir/N.md")
    assert note.path == "Dir/N.md" and note.links[0].target == "X"
    with pytest.raises(NoteReadError, match="Dir/missing.md: cannot be read"):
        read_note(tmp_path, "Dir/missing.md")


FIXTURE_VAULT = Path(__file__).parent / "fixtures" / "vaults" / "crlf-bom"


def test_crlf_bom_fixture_vault() -> None:
    from vaultkd.vault.graph import VaultGraph

    note = read_note(FIXTURE_VAULT, "Windows.md")
    raw = (FIXTURE_VAULT / "Windows.md").read_bytes()
    assert note.bom and note.newline == "\r\n"
    assert ("\ufeff" + note.text).encode("utf-8") == raw  # nothing lost or normalised
    assert note.aliases == ("Windows note",) and note.tags == ("crlf", "todo")
    assert [note.text[lk.start : lk.end] for lk in note.links] == [
        "[[Plain]]", "[[Notes/Other#Part|other]]"
    ]
    assert note.block_ids[0].id == "w1" and note.tasks[0].line == 9
    vg = VaultGraph.build(FIXTURE_VAULT)
    assert vg.g.has_edge("Plain.md", "Windows.md")  # through the alias
    assert vg.g.has_edge("Windows.md", "Notes/Other.md")
    assert list(vg.errors) == ["Notes/Latin1.md"]
    assert "re-save it as UTF-8" in vg.errors["Notes/Latin1.md"]
