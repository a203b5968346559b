"""`vaultkd distill --all` on real third-party vaults, with the shipped model: the Tasks plugin's
docs and demo vault (tasks with emoji metadata, queries, callouts, tables) and Steph Ango's
template vault (links in frontmatter properties).

Whatever these notes look like, the default mode touches no byte of them and writes only under
Distilled/ and Atomic/; a second run changes nothing; `--inline --block-refs` only inserts
vaultkd's own pieces, is itself idempotent, and `vaultkd undo` restores every edited note byte
for byte. The vaults live in ../shared/data (never copied into the repo); a test skips, saying
so, only when its folder is absent.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from distill_helpers import only_vaultkd_insertions

from vaultkd.cli import main
from vaultkd.vault.errors import NoteReadError
from vaultkd.vault.note import Task
from vaultkd.vault.parse import parse_note
from vaultkd.write.genfile import inspect

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
VAULTS = {
    "tasks-docs": DATA / "vault-obsidian-tasks" / "docs",
    "tasks-demo": DATA / "vault-obsidian-tasks" / "Tasks-Demo",
    "kepano": DATA / "vault-kepano" / "vault",
}


def files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".vaultkd" not in p.relative_to(root).parts
    }


def _tasks(rel: str, data: bytes) -> list[Task]:
    try:
        return list(parse_note(rel, data).tasks)
    except NoteReadError:
        return []


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout + result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(VAULTS))
def test_real_vault_loses_no_byte(name: str, tmp_path: Path) -> None:
    src = VAULTS[name]
    if not src.is_dir():
        pytest.skip(f"{src} is absent (third-party data lives in ../shared/data)")
    vault = Path(shutil.copytree(src, tmp_path / "vault"))
    for p in vault.rglob("*"):  # the shared copy is read-only
        p.chmod(0o755 if p.is_dir() else 0o644)
    before = files(vault)

    code, out = run("distill", "--all", str(vault))
    assert code == 0, out
    after = files(vault)
    for rel, data in before.items():
        assert after[rel] == data, f"{rel} changed in the default mode"
    new = sorted(set(after) - set(before))
    assert any(rel.startswith("Distilled/") for rel in new), out
    for rel in new:
        assert rel.startswith(("Distilled/", "Atomic/")), rel
        assert inspect(after[rel]) is not None, f"{rel} is not marked as generated"
    # The vault's own tasks are listed, never copied as tasks: a copy would be a second task
    # in every Tasks plugin query (the demo vault has 893 task lines).
    own = {t.text for rel in before if rel.endswith(".md") for t in _tasks(rel, before[rel])}
    copied = [
        (rel, text) for rel in new for t in _tasks(rel, after[rel])
        if (text := re.sub(r" \(\[\[[^\]]*\]\]\)$", "", t.text)) in own
    ]
    assert not copied, copied[:5]
    code, out = run("distill", "--all", str(vault))
    assert code == 0, out
    assert files(vault) == after, "a second run changed bytes"

    code, out = run("distill", "--all", "--inline", "--block-refs", str(vault))
    assert code == 0, out
    edited = files(vault)
    changed = [rel for rel in before if edited[rel] != before[rel]]
    assert changed, "--inline marked no note"
    for rel in changed:
        assert rel.endswith(".md"), rel
        only_vaultkd_insertions(before[rel].decode("utf-8-sig"), edited[rel].decode("utf-8-sig"))
    code, out = run("distill", "--all", "--inline", "--block-refs", str(vault))
    assert code == 0, out
    assert files(vault) == edited, "a second --inline run changed bytes"

    for rel in changed:
        code, out = run("undo", str(vault / rel), "--vault", str(vault))
        assert code == 0, out
        assert (vault / rel).read_bytes() == before[rel], f"undo did not restore {rel}"
