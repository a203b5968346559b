"""The Obsidian "Shell commands" hook: the printed command survives the plugin's own escaping.

`sh_escape` reproduces the plugin's escaper for bash/zsh/dash (Taitava/obsidian-shellcommands,
src/variables/escapers/ShEscaper.ts over AllSpecialCharactersEscaper.ts): every character that
JavaScript's `[^\\w\\d]` matches (anything but ASCII letters, digits and `_`, taken per code point
because of the `u` flag) gets a backslash, and an escaped CR/LF becomes a literal `\\r`/`\\n`.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from sample import pristine_sample_vault

from vaultkd.cli import main
from vaultkd.daemon.hook import shell_command
from vaultkd.daemon.service import vaultkd_command

ROOT = Path(__file__).resolve().parent.parent

NAMES = [
    "Plain.md",
    "Meeting notes 2026-03-14.md",
    'It\'s "quoted".md',
    "Costs $HOME $(id) ${x}.md",
    "Tom & Jerry; rm -rf x | y.md",
    "Tom & Jerry; it's fine.md",
    "`backticks` and * glob?.md",
    "`date` (copy) [draft] #1 {x}.md",
    "Ünïcödé — naïve café.md",
    "Launch 🚀 plan 🎉.md",
    "Folder with spaces/Sub 'dir'/Deep $note.md",
]


def sh_escape(value: str) -> str:
    escaped = re.sub(r"[^A-Za-z0-9_]", lambda m: "\\" + m.group(0), value)
    return escaped.replace("\\\r", "\\\\r").replace("\\\n", "\\\\n")


def expand(command: str, file_path: Path, vault_path: Path) -> str:
    """Substitute the plugin's variables the way it does for a POSIX shell."""
    values = {"file_path:absolute": str(file_path), "vault_path": str(vault_path)}
    return re.sub(r"\{\{([^}]+)\}\}", lambda m: sh_escape(values[m.group(1)]), command)


def test_escaper_matches_the_plugin_on_known_values() -> None:
    # Worked examples from the plugin's own comment ("Hello, world!" -> \"Hello\,\ world\!\").
    assert sh_escape('"Hello, world!"') == '\\"Hello\\,\\ world\\!\\"'
    assert sh_escape("a_b9") == "a_b9"
    assert sh_escape("é🚀") == "\\é\\🚀"  # one backslash per code point, emoji included
    assert sh_escape("a\nb") == "a\\\\nb"


def test_printed_settings_hold_the_exact_command() -> None:
    result = CliRunner().invoke(main, ["hook", "obsidian"])
    assert result.exit_code == 0
    assert "distill {{file_path:absolute}} --vault {{vault_path}}" in result.output
    assert "'{{" not in result.output and '"{{' not in result.output  # no quotes around them
    assert "Output channel for stdout" in result.output
    assert "Output channel for stderr" in result.output
    assert "File content modified" in result.output and "Cooldown duration" in result.output
    assert shell_command() in result.output


@pytest.fixture
def argv_stub(tmp_path: Path) -> Path:
    """A stand-in `vaultkd` in a folder with a space, printing its arguments as JSON."""
    stub = tmp_path / "bin dir" / "vaultkd"
    stub.parent.mkdir()
    stub.write_text(
        f"#!{sys.executable}\nimport json, sys\nprint(json.dumps(sys.argv[1:]))\n",
        encoding="utf-8",
    )
    stub.chmod(0o755)
    return stub


@pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX sh")
@pytest.mark.parametrize("name", NAMES)
def test_expanded_command_passes_hostile_paths_verbatim(
    tmp_path: Path, argv_stub: Path, name: str
) -> None:
    vault = tmp_path / "My Vault $x & 'y'"
    note = vault / name
    note.parent.mkdir(parents=True, exist_ok=True)
    note.write_text("x\n", encoding="utf-8")
    line = expand(shell_command([str(argv_stub)]), note, vault)
    done = subprocess.run(["sh", "-c", line], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == ["distill", str(note), "--vault", str(vault)]


SOURCE = pristine_sample_vault()
# Obsidian refuses these characters in file names (and vaultkd's writer refuses them as names
# that would fail on Windows), so the end-to-end run uses only names Obsidian can create; the
# argv test above covers the rest.
OBSIDIAN_FORBIDDEN = set('*"\\/<>:|?')
OBSIDIAN_NAMES = [n for n in NAMES if not OBSIDIAN_FORBIDDEN & set(Path(n).name)]


def _real_note_text() -> str:
    notes = sorted(SOURCE.rglob("*.md")) if SOURCE.is_dir() else []
    for path in notes:
        text = path.read_text(encoding="utf-8")
        if len(text) > 600 and "[[" in text:
            return text
    return ""


@pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX sh")
@pytest.mark.skipif("distill" not in main.commands, reason="`vaultkd distill` not available")
def test_real_distill_through_sh(tmp_path: Path) -> None:
    text = _real_note_text()
    if not text:
        pytest.skip("sample_vault/ has no note long enough to distill")
    vault = tmp_path / "My Vault $x & 'y'"
    (vault / ".obsidian").mkdir(parents=True)
    command = shell_command(vaultkd_command())
    assert len(OBSIDIAN_NAMES) >= 7
    for name in OBSIDIAN_NAMES:
        note = vault / name
        note.parent.mkdir(parents=True, exist_ok=True)
        note.write_text(text, encoding="utf-8")
        before = (
            set((vault / "Distilled").rglob("*.md")) if (vault / "Distilled").exists() else set()
        )
        line = expand(command, note, vault)
        done = subprocess.run(
            ["sh", "-c", line], capture_output=True, text=True, timeout=120, check=False
        )
        assert done.returncode == 0, (name, done.stderr)
        out = done.stdout.strip()
        assert out and "\n" not in out, f"{name}: not one line: {done.stdout!r}"
        after = set((vault / "Distilled").rglob("*.md"))
        new = after - before
        assert len(new) == 1, (name, sorted(map(str, new)))
        written = new.pop().read_text(encoding="utf-8")
        assert "vaultkd:" in written
        assert Path(name).stem in written or Path(name).stem in out
