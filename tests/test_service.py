"""Service files: systemd user units (checked with systemd-analyze where it exists), plists."""

from __future__ import annotations

import os
import plistlib
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from vaultkd.cli import main
from vaultkd.daemon import service as svc

HOSTILE = 'My "Notes" $HOME %h & `x` \\ é 🚀'


def test_systemd_quote_neutralises_specifiers_variables_and_quotes() -> None:
    assert svc.systemd_quote("/a b/c") == '"/a b/c"'
    assert svc.systemd_quote('$HOME %h "q" \\') == '"$$HOME %%h \\"q\\" \\\\"'
    assert svc.systemd_quote("tab\there") == '"tab\\x09here"'
    # systemd does not expand $ in the program's path, so it stays single there.
    assert svc.systemd_quote("/opt/$x %y/vaultkd", executable=True) == '"/opt/$x %%y/vaultkd"'
    with pytest.raises(svc.ServiceError, match="plainer path"):
        svc.systemd_quote('/opt/"odd"/vaultkd', executable=True)


def test_slug_is_stable_safe_and_distinct(tmp_path: Path) -> None:
    a, b = tmp_path / HOSTILE, tmp_path / "other" / HOSTILE
    assert svc.slug(a) == svc.slug(a)
    assert svc.slug(a) != svc.slug(b)
    assert all(c.isascii() and (c.isalnum() or c == "-") for c in svc.slug(a))
    assert svc.slug(tmp_path / "🚀").startswith("vault-")


def test_install_status_uninstall_with_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(svc.platform, "system", lambda: "Linux")
    vault = tmp_path / HOSTILE
    vault.mkdir()
    units = tmp_path / "units"
    runner = CliRunner()

    result = runner.invoke(main, ["service", "status", str(vault), "--dir", str(units)])
    assert result.exit_code == 0 and "not installed" in result.output

    result = runner.invoke(main, ["service", "install", str(vault), "--dir", str(units)])
    assert result.exit_code == 0, result.output
    unit = units / svc.unit_name(vault)
    assert unit.is_file()
    assert f"systemctl --user enable --now {unit.name}" in result.output
    text = unit.read_text(encoding="utf-8")
    exec_start = next(line for line in text.splitlines() if line.startswith("ExecStart="))
    assert exec_start.startswith('ExecStart="/')  # an absolute program path
    assert '"watch"' in exec_start and "$$HOME %%h" in exec_start

    result = runner.invoke(main, ["service", "status", str(vault), "--dir", str(units)])
    assert result.exit_code == 0 and f"installed: {unit}" in result.output

    result = runner.invoke(main, ["service", "uninstall", str(vault), "--dir", str(units)])
    assert result.exit_code == 0 and "removed" in result.output
    assert not unit.exists()


def test_dry_run_writes_nothing_and_xdg_config_home_is_honoured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(svc.platform, "system", lambda: "Linux")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    vault = tmp_path / "vault"
    vault.mkdir()
    result = CliRunner().invoke(main, ["service", "install", "--dry-run", str(vault)])
    assert result.exit_code == 0
    expected = tmp_path / "config" / "systemd" / "user" / svc.unit_name(vault)
    assert f"# would write {expected}" in result.output
    assert "[Service]" in result.output
    assert not expected.exists()
    result = CliRunner().invoke(main, ["service", "install", str(vault)])
    assert result.exit_code == 0 and expected.is_file()


def test_unsupported_system_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(svc.platform, "system", lambda: "Windows")
    vault = tmp_path / "vault"
    vault.mkdir()
    target = tmp_path / "out"
    result = CliRunner().invoke(main, ["service", "install", str(vault), "--dir", str(target)])
    assert result.exit_code == 1
    assert "nothing was written" in result.output and "watch" in result.output
    assert not target.exists()


def test_launchd_plist_round_trips(tmp_path: Path) -> None:
    vault = tmp_path / HOSTILE
    vault.mkdir()
    command = ["/Applications/My Tools/vaultkd"]
    found = svc.install(vault, system="Darwin", target_dir=tmp_path / "agents", command=command)
    assert found.path.parent == tmp_path / "agents"
    assert found.path.name == f"{svc.launchd_label(vault)}.plist"
    agent = plistlib.loads(found.path.read_bytes())
    # launchd runs no shell: each argument arrives exactly as written.
    assert agent["ProgramArguments"] == [*command, "watch", str(vault)]
    assert agent["Label"] == svc.launchd_label(vault)
    assert agent["RunAtLoad"] is True
    assert agent["KeepAlive"] == {"SuccessfulExit": False}
    assert "launchctl bootstrap gui/$(id -u)" in found.enable


# -- systemd-analyze verify -------------------------------------------------------------------


def _verify(unit: Path, runtime: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, XDG_RUNTIME_DIR=str(runtime))
    return subprocess.run(
        ["systemd-analyze", "--user", "verify", str(unit)],
        capture_output=True,
        text=True,
        env=env,
        cwd=unit.parent,
        timeout=60,
        check=False,
    )


@pytest.fixture
def verifier(tmp_path: Path):  # type: ignore[no-untyped-def]
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (apt-get install systemd provides it)")
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    control = tmp_path / "control"
    control.mkdir()
    good = control / "known-good.service"
    good.write_text("[Service]\nExecStart=/bin/true\n", encoding="utf-8")
    if _verify(good, runtime).returncode != 0:
        pytest.skip("systemd-analyze cannot verify user units in this environment")
    bad = control / "known-bad.service"
    bad.write_text("[Service]\nExecStart=relative/program\n", encoding="utf-8")
    assert _verify(bad, runtime).returncode != 0, "systemd-analyze accepts anything here"
    return lambda unit: _verify(unit, runtime)


def test_generated_unit_passes_systemd_analyze_verify(tmp_path: Path, verifier) -> None:  # type: ignore[no-untyped-def]
    vault = tmp_path / HOSTILE
    vault.mkdir()
    # A program whose path holds a space, `$` and `%`: verify checks it exists and is
    # executable, so a quoting mistake shows up as "not executable".
    program = tmp_path / "bin $dir 100%" / "vaultkd"
    program.parent.mkdir()
    program.write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
    program.chmod(0o755)
    found = svc.install(
        vault, system="Linux", target_dir=tmp_path / "units", command=[str(program)]
    )
    done = verifier(found.path)
    assert done.returncode == 0, done.stderr
    # And the real entry point this vaultkd runs from.
    found = svc.install(vault, system="Linux", target_dir=tmp_path / "units2")
    done = verifier(found.path)
    assert done.returncode == 0, done.stderr
