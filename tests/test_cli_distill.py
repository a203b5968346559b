"""`vaultkd distill / undo / status` end to end on copies of sample_vault/, with the shipped
ONNX model (click's CliRunner, real files, real SQLite)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from vaultkd.cli import main

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_vault"
RETRO = "Meetings/2026-03-16 Retro.md"


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".vaultkd" not in p.relative_to(root).parts
    }


@pytest.fixture
def vault(tmp_path: Path) -> Path:
    return Path(
        shutil.copytree(
            SAMPLE,
            tmp_path / "vault",
            ignore=shutil.ignore_patterns(".vaultkd", "Distilled", "Atomic"),
        )
    )


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_distill_all_twice_changes_no_byte(vault: Path) -> None:
    sources = {p: b for p, (b, _) in snapshot(vault).items()}
    code, out, err = run("distill", "--all", str(vault))
    assert code == 0, err
    after = snapshot(vault)
    assert any(p.startswith("Distilled/") for p in after)
    assert any(p.startswith("Atomic/") for p in after)
    for rel, data in sources.items():  # the default mode never touches a source
        assert after[rel][0] == data, rel
    assert "note(s) distilled" in out
    code, out, err = run("distill", "--all", str(vault))
    assert code == 0, err
    assert "0 note(s)" in out
    assert snapshot(vault) == after
    code, out, err = run("distill", "--all", "--force", str(vault))
    assert code == 0, err
    assert snapshot(vault) == after, "a forced re-run must reproduce the same bytes"


@pytest.mark.parametrize(("flag", "want"), [([], None), (["--jobs", "3"], 3)])
def test_distill_all_runs_as_many_model_threads_as_the_cores_unless_told(
    vault: Path, monkeypatch: pytest.MonkeyPatch, flag: list[str], want: int | None
) -> None:
    import vaultkd.model.runtime as runtime
    from vaultkd.pipeline import Session

    monkeypatch.setattr(runtime.os, "cpu_count", lambda: 2)  # two model threads of one each
    seen: list[int] = []
    real = Session.distill

    def distill(self: Session, todo: list[str], options=None, progress=None, jobs=1, **kw):  # type: ignore[no-untyped-def]
        seen.append(jobs)
        return real(self, todo, options, progress, jobs, **kw)

    monkeypatch.setattr(Session, "distill", distill)
    code, out, err = run("distill", "--all", *flag, str(vault))
    assert code == 0, err
    assert seen == [want or 2]


def test_one_note_prints_one_line_and_json_has_the_documented_keys(vault: Path) -> None:
    code, out, err = run("distill", str(vault / RETRO))  # vault found from .obsidian/
    assert code == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(RETRO), out
    code, out, err = run("distill", RETRO, "--vault", str(vault), "--json", "--force")
    assert code == 0, err
    report = json.loads(out)
    assert set(report) >= {
        "note", "sentences", "summary", "claims", "questions", "decisions", "actions",
        "atomic", "connections", "written", "kept",
    }
    assert report["note"] == RETRO
    s = report["sentences"][0]
    assert set(s) >= {"text", "role", "role_probs", "salience", "layer"}
    assert abs(sum(s["role_probs"].values()) - 1.0) < 1e-2
    for a in report["atomic"]:
        assert set(a) >= {"title", "path", "sentences"} and (vault / a["path"]).is_file()
    for c in report["connections"]:
        assert set(c) >= {"target", "score", "linked"} and (vault / c["target"]).is_file()


def test_dry_run_writes_nothing(vault: Path) -> None:
    before = snapshot(vault)
    code, out, err = run("distill", RETRO, "--vault", str(vault), "--dry-run", "--block-refs")
    assert code == 0, err
    assert "would write" in out
    assert snapshot(vault) == before


def test_usage_errors_exit_2(vault: Path, tmp_path: Path) -> None:
    assert run("distill")[0] == 2
    outside = tmp_path / "elsewhere.md"
    outside.write_text("x\n")
    code, _, err = run("distill", str(outside), "--vault", str(vault))
    assert code == 2 and "not inside the vault" in err
    # A folder given as a note: the error says how to distil all of it, and nothing is written.
    code, _, err = run("distill", str(vault))
    assert code == 2 and f"vaultkd distill --all {vault}" in err
    assert not (vault / "Distilled").exists()


def test_bad_notes_fail_with_one_line_naming_the_file(vault: Path) -> None:
    (vault / "Latin1.md").write_bytes("caf\xe9 au lait.\n".encode("latin-1"))
    code, out, err = run("distill", "Latin1.md", "Missing.md", "--vault", str(vault))
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("Latin1.md") and "UTF-8" in lines[0]
    assert lines[1].startswith("Missing.md") and "no such note" in lines[1]


def test_a_note_over_max_note_mb_is_refused_until_the_limit_is_raised(vault: Path) -> None:
    text = (vault / RETRO).read_text(encoding="utf-8")
    (vault / "Long.md").write_text(text * 4, encoding="utf-8")
    size = (vault / "Long.md").stat().st_size
    (vault / ".vaultkd.toml").write_text(f"max_note_mb = {size / 2e6}\n", encoding="utf-8")
    before = snapshot(vault)
    code, out, err = run("distill", "Long.md", "--vault", str(vault))
    assert code == 1
    [line] = err.strip().splitlines()
    assert line.startswith("Long.md: ") and "max_note_mb" in line and "split the note" in line
    assert snapshot(vault) == before
    (vault / ".vaultkd.toml").write_text(f"max_note_mb = {size / 1e6 + 0.01}\n", encoding="utf-8")
    code, out, err = run("distill", "Long.md", "--vault", str(vault))
    assert code == 0, err
    assert (vault / "Distilled" / "Long.md").is_file()


def test_invalid_yaml_source_is_distilled_and_never_rewritten(vault: Path) -> None:
    text = (vault / RETRO).read_text(encoding="utf-8")
    broken = "---\ntags: [unclosed\n---\n" + text.split("---\n", 2)[-1]
    (vault / "Broken.md").write_text(broken, encoding="utf-8")
    before = (vault / "Broken.md").read_bytes()
    code, out, err = run("distill", "Broken.md", "--vault", str(vault), "--block-refs")
    assert code == 0, err
    assert "not valid YAML" in out
    assert (vault / "Distilled" / "Broken.md").is_file()
    # Block ids are appended to cited paragraphs; the frontmatter bytes stay exactly as written.
    assert (vault / "Broken.md").read_bytes().startswith(before[: before.index(b"---\n", 4)])


def test_inline_then_undo_restores_bytes(vault: Path) -> None:
    original = (vault / RETRO).read_bytes()
    code, out, err = run("distill", RETRO, "--vault", str(vault), "--inline")
    assert code == 0, err
    assert (vault / RETRO).read_bytes() != original
    assert b"%% vaultkd:begin %%" in (vault / RETRO).read_bytes()
    code, out, err = run("undo", str(vault / RETRO))
    assert code == 0, err
    assert (vault / RETRO).read_bytes() == original
    code, out, err = run("undo", str(vault / RETRO))
    assert code == 1 and "nothing to undo" in err


def test_all_with_a_new_mode_redoes_notes_distilled_in_another(vault: Path) -> None:
    original = (vault / RETRO).read_bytes()
    code, out, err = run("distill", "--all", str(vault))
    assert code == 0, err
    assert (vault / RETRO).read_bytes() == original
    code, out, err = run("distill", "--all", "--inline", str(vault))
    assert code == 0, err
    assert "up to date" not in out
    assert b"%% vaultkd:begin %%" in (vault / RETRO).read_bytes()
    code, out, err = run("distill", "--all", "--inline", str(vault))
    assert code == 0 and "0 note(s)" in out, out


def test_status_reports_distilled_stale_and_kept(vault: Path) -> None:
    run("distill", RETRO, "--vault", str(vault))
    out_note = vault / "Distilled" / RETRO
    out_note.write_bytes(out_note.read_bytes() + b"\nmy thoughts\n")
    (vault / "Inbox.md").write_bytes((vault / "Inbox.md").read_bytes() + b"\nnew line.\n")
    code, out, err = run("status", str(vault), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert RETRO in report["distilled"]
    assert f"Distilled/{RETRO}" in report["kept"]
    assert "Inbox.md" in report["never"]
    code, out, err = run("status", str(vault))
    assert code == 0 and f"Distilled/{RETRO}" in out


def test_status_names_a_note_of_yours_that_blocks_a_distillation(vault: Path) -> None:
    own = vault / "Distilled" / "Meetings" / "2026-03-16 Retro.md"
    own.parent.mkdir(parents=True)
    own.write_bytes(b"# My own summary of the retro\n\nWritten by hand.\n")
    code, out, err = run("distill", RETRO, "--vault", str(vault))
    assert code == 0, err
    assert own.read_bytes() == b"# My own summary of the retro\n\nWritten by hand.\n"
    code, out, err = run("status", str(vault), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["blocked"] == [f"Distilled/{RETRO}"]
    code, out, err = run("status", str(vault))
    assert code == 0 and "blocked: 1" in out and "Move them" in out
    # Once the user's note is moved, the source is due again, and its distillation is written.
    own.unlink()
    assert RETRO in json.loads(run("status", str(vault), "--json")[1])["stale"]
    code, out, err = run("distill", RETRO, "--vault", str(vault))
    assert code == 0 and f"Distilled/{RETRO}" in out, out
    # vaultkd's own distillation, edited or not, is never "blocked".
    own.write_bytes(own.read_bytes() + b"\nmy thoughts\n")
    report = json.loads(run("status", str(vault), "--json")[1])
    assert report["blocked"] == []
    assert f"Distilled/{RETRO}" in report["kept"]


def test_new_tasks_false_lists_new_actions_without_making_them_tasks(vault: Path) -> None:
    from vaultkd.vault.parse import parse_text

    def tasks_in_distilled() -> int:
        return sum(
            len(parse_text(p.name, p.read_text(encoding="utf-8")).tasks)
            for p in (vault / "Distilled").rglob("*.md")
        )

    assert run("distill", "--all", str(vault))[0] == 0
    assert tasks_in_distilled() > 0  # the default: actions the notes imply become tasks
    (vault / ".vaultkd.toml").write_text("new_tasks = false\n", encoding="utf-8")
    # The setting changes what is written, so the notes are due again without --force.
    assert run("distill", "--all", str(vault))[0] == 0
    assert tasks_in_distilled() == 0
    planning = (vault / "Distilled/Meetings/2026-02-09 Planning.md").read_text(encoding="utf-8")
    assert "- ☐ Sam to run the queue load test this week" in planning
